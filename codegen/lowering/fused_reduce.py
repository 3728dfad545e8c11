"""The kernel generator of ``fused_reduce``: a reduction of an elementwise program in one loop
nest (``sum(x ** 2)`` reads x once and writes one number). Contiguous inputs whose kept axes
lead get a vectorized, OpenMP-threaded path; anything else a general strided loop nest.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.passes.fuse_reductions import fuse_reductions
    >>> x = T.fvector('x')
    >>> g = fuse_reductions(Graph.make([x], [T.sum(x * x)]))
    >>> step = lower(g).plan.steps[-1]
    >>> step.kind, step.omp_op, step.acc_ctype
    ('fused_reduce', '+', 'double')
"""

from __future__ import annotations

from croton.codegen.expr import ArrayRef, all_of
from croton.codegen.lower import Lowerer, is_contiguous
from croton.codegen.lowering import lowering
from croton.codegen.lowering.elementwise import compile_program, program_cost
from croton.codegen.lowering.structured import check_not_empty, reduced_shape
from croton.codegen.plan import FusedReduceStep
from croton.codegen.reduction import reduction_code
from croton.graph import Apply
from croton.ops.table import OPS
from croton.types import CXX_TYPE


@lowering("fused_reduce", "reduce")
def lower_fused_reduce(lw: Lowerer, node: Apply) -> None:
    """Every reduction takes this one path: a ``fused_reduce`` node (a reduction of an
    elementwise program), or a plain ``reduce`` node (FAST_COMPILE, which fuses nothing), whose
    program is its input."""
    params = dict(node.params)
    if node.op.kind == "reduce":
        in_type, axes, reduce, program = node.inputs[0].type, params["axis"], node.op.name, None
    else:
        in_type, axes, reduce = params["in_type"], params["axis"], params["reduce"]
        program = params["program"]
    out = node.outputs[0]
    ob = lw.result_buffer(out, node.op_label())
    it = ArrayRef(f"F{ob}_it")
    lw.shape_arrays.append((it.array, in_type.ndim))
    program = program or (("identity", (), (("in", 0),), node.source),)
    operands, body = compile_program(lw, list(node.inputs), program, in_type, it)
    kept = reduced_shape(lw, ob, it, in_type, reduce, axes)
    code = reduction_code(OPS[reduce], in_type.dtype, out.dtype)
    if code.check_empty:
        label = node.op_label() if node.op.kind == "reduce" else f"{reduce}{{axis={axes}}}"
        check_not_empty(lw, label, node.source, it, in_type.ndim, axes,
                        "zero-size array to a reduction with no identity")
    acc, identity, combine, omp = (code.acc_ctype, code.identity, code.combine("result"),
                                   code.operator)
    conds = [is_contiguous(ob)]
    for op in operands:
        pattern = lw.pattern(op.buffer)
        if all(pattern) and in_type.ndim:
            continue
        if tuple(pattern) != tuple(in_type.broadcastable):
            conds = []
            break
        conds.append(is_contiguous(op.buffer))
    contiguous = all_of(conds) if conds else ""
    # kept axes leading (a row-wise reduction) or trailing (sum over the batch axis: rows are
    # accumulated into a vector, vectorized along it)
    fast = contiguous if kept == tuple(range(len(kept))) else ""
    leading = contiguous if kept and axes == tuple(range(len(axes))) else ""
    # a float32 sum adds in float within each vectorized block and in double across blocks
    # (runtime/cpu/parallel.hpp: accumulate); every other reduction in its accumulator type
    float_blocks = omp == "+" and in_type.dtype == out.dtype == "float32"
    block = "float" if float_blocks else acc
    lw.emit(FusedReduceStep(ob, CXX_TYPE[out.dtype], CXX_TYPE[in_type.dtype], acc,
                            in_type.ndim, kept, axes, tuple(operands), body, identity,
                            combine, omp, it.array, fast, leading, program_cost(program), block,
                            lw.target.loop_policy()))
