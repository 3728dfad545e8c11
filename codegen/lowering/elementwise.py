"""Elementwise kernels: one op, or a fused program of ops, in one loop with broadcasting.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.fvector('x')
    >>> step = lower(Graph.make([x], [x * 2])).plan.steps[-1]
    >>> step.kind, step.body[-1]
    ('elementwise', 'result = v0;')
"""

from __future__ import annotations

from croton.codegen.lower import CheckInfo, Lowerer, c_literal, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import Operand, ShapeLine
from croton.graph import Apply, Constant, Variable
from croton.ops.table import OPS
from croton.types import CXX_TYPE, TensorType


@lowering("elemwise")
def lower_single(lw: Lowerer, node: Apply) -> None:
    program = ((node.op.name, node.params,
                tuple(("in", k) for k in range(len(node.inputs))), node.source),)
    lower_program(lw, node, list(node.inputs), program)


@lowering("fused")
def lower_fused(lw: Lowerer, node: Apply) -> None:
    lower_program(lw, node, list(node.inputs), dict(node.params)["program"])


def lower_program(lw: Lowerer, node: Apply, leaves: list[Variable], program) -> None:
    """One loop computing ``program`` (``(op, params, args, source)`` steps) over ``leaves``."""
    out_var = node.outputs[0]
    out_buf = lw.result_buffer(out_var, node.op_label())
    operands, body = compile_program(lw, leaves, program, out_var.type, shape_of(out_buf))
    lw.emit_elementwise(out_buf, out_var.type, operands, body)


def compile_program(lw: Lowerer, leaves: list[Variable], program, out_type: TensorType,
                    target_shape: str) -> tuple[list[Operand], tuple[str, ...]]:
    """The operands and loop body of an elementwise ``program``; the last step's value is
    ``result`` (of ``out_type``), and its shape (the loop's iteration space) is written to the
    int64 array ``target_shape`` with a broadcast check for each pair of operands."""
    nd = out_type.ndim
    operands: list[Operand] = []
    leaf_expr: list[str] = []
    leaf_shape: list[str | None] = []  # None: a size-1 literal
    leaf_type: list[TensorType] = []
    for leaf in leaves:
        leaf_type.append(leaf.type)
        if isinstance(leaf, Constant) and leaf.data.size == 1:
            leaf_expr.append(c_literal(leaf.data.reshape(()).item(), leaf.dtype))
            leaf_shape.append(None)
            continue
        bid = lw.buffer_of(leaf)
        name = f"x{len(operands)}"
        flat = "0" if all(leaf.broadcastable) and nd else "i"
        operands.append(Operand(bid, CXX_TYPE[leaf.dtype], name, flat))
        leaf_expr.append(name)
        leaf_shape.append(shape_of(bid))
    step_expr: list[str] = []
    step_shape: list[str] = []
    step_type: list[TensorType] = []
    body: list[str] = []
    for j, (op_name, params, args, source) in enumerate(program):
        rec = OPS[op_name]
        arg_types = [leaf_type[k] if kind == "in" else step_type[k] for kind, k in args]
        (out_t,) = rec.type_rule(arg_types, dict(params))
        if j == len(program) - 1:
            out_t = out_type
        compute = rec.compute_dtype([t.dtype for t in arg_types]) if rec.compute_dtype \
            else out_t.dtype
        cty = CXX_TYPE[compute]
        exprs = [leaf_expr[k] if kind == "in" else step_expr[k] for kind, k in args]
        cexpr = rec.cpp.format(*[f"static_cast<{cty}>({e})" for e in exprs],
                               T=CXX_TYPE[out_t.dtype])
        tname = f"v{j}"
        body.append(f"[[maybe_unused]] const {CXX_TYPE[out_t.dtype]} {tname} = "
                    f"static_cast<{CXX_TYPE[out_t.dtype]}>({cexpr});")
        step_expr.append(tname)
        step_type.append(out_t)
        # shapes: the step's dims follow its non-broadcastable operands, which must agree
        if j == len(program) - 1:
            target = target_shape
        else:
            target = f"{target_shape.split('.')[0]}_{j}".replace("B", "F", 1)
            lw.shape_arrays.append((target, nd))
        step_shape.append(target)
        arg_shapes = [(leaf_shape[k] if kind == "in" else step_shape[k],
                       arg_types[n]) for n, (kind, k) in enumerate(args)]
        label = OPS[op_name].label(params)
        for d in range(nd):
            full = [s for s, t in arg_shapes if s is not None and not t.broadcastable[d]]
            if not full:
                lw.shape(ShapeLine(f"{target}[{d}]", "1"))
                continue
            lw.shape(ShapeLine(f"{target}[{d}]", f"{full[0]}[{d}]"))
            for other in full[1:]:
                cid = lw.check(CheckInfo("broadcast", label, source, f"dimension {d}"))
                lw.shape(ShapeLine("", f"{other}[{d}] == {target}[{d}]", cid,
                                   full[0], nd, other, nd))
    body.append(f"result = {step_expr[-1]};")
    return operands, tuple(body)
