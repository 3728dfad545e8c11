"""The kernel generator of ``gemm`` (made by specialize_blas): shape checks, then one call to
``croton::gemm`` (runtime/cpu/kernels/gemm.hpp), which folds transposes into BLAS flags.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.passes.specialize_blas import specialize_blas
    >>> x, w = T.dmatrices('x', 'w')
    >>> b = T.dvector('b')
    >>> g = specialize_blas(Graph.make([x, w, b], [T.dot(x, w) + b]))
    >>> lower(g).plan.steps[-1].code[0].startswith('croton::gemm<double>')
    True
"""

from __future__ import annotations

from croton.codegen.lower import CheckInfo, Lowerer, c_literal, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("gemm")
def lower_gemm(lw: Lowerer, node: Apply) -> None:
    c, a, b = node.inputs
    out = node.outputs[0]
    params = dict(node.params)
    cb, ab, bb = lw.buffer_of(c), lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(out, node.op_label())
    cid = lw.check(CheckInfo("dot", "dot", node.source, "inner dimensions"))
    lw.shape(ShapeLine("", f"{shape_of(ab)}[1] == {shape_of(bb)}[0]", cid,
                       shape_of(ab), 2, shape_of(bb), 2))
    lw.set_shape(ob, [f"{shape_of(ab)}[0]", f"{shape_of(bb)}[1]"])
    for d in range(2):
        if not c.broadcastable[d]:
            bid = lw.check(CheckInfo("broadcast", "add", node.source, f"dimension {d}"))
            lw.shape(ShapeLine("", f"{shape_of(cb)}[{d}] == {shape_of(ob)}[{d}]", bid,
                               shape_of(ob), 2, shape_of(cb), 2))
    lw.need_header("kernels/gemm.hpp")
    ct = CXX_TYPE[out.dtype]
    alpha, beta = c_literal(params["alpha"], out.dtype), c_literal(params["beta"], out.dtype)
    lw.emit(CallStep((f"croton::gemm<{ct}>(B{cb}, {alpha}, B{ab}, B{bb}, {beta}, B{ob});",),
                     node.op_label()))
