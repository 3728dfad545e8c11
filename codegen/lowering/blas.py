"""The kernel generators of ``gemm``, ``gemv`` and ``ger`` (made by specialize_blas): shape
checks, then one call to ``croton::gemm`` (runtime/cpu/kernels/gemm.hpp) or ``croton::gemv`` /
``croton::ger`` (runtime/cpu/kernels/gemv.hpp), which fold transposes and strides into BLAS
flags and leading dimensions. The output buffer may be a shared variable's storage (an update
computed in place, the addend being that same storage): the kernels then skip the addend's copy.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.expr import cpp
    >>> from croton.codegen.passes.specialize_blas import specialize_blas
    >>> x, w = T.dmatrices('x', 'w')
    >>> b = T.dvector('b')
    >>> g = specialize_blas(Graph.make([x, w, b], [T.dot(x, w) + b]))
    >>> call = lower(g).plan.steps[-1].code[0]
    >>> call.fn, call.targs, call.writes, call.can_fail
    ('croton::gemm', ('double',), (4,), False)
    >>> v = T.dvector('v')
    >>> g = specialize_blas(Graph.make([x, v, b], [b - 0.5 * T.dot(x, v)]))
    >>> cpp(lower(g).plan.steps[-1].code[0]).startswith('croton::gemv<double>(B2, ')
    True
"""

from __future__ import annotations

from croton.codegen.expr import Buf, Dim, KernelCall, Lit
from croton.codegen.lower import CheckInfo, Lowerer, c_literal, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("gemm")
def lower_gemm(lw: Lowerer, node: Apply) -> None:
    cb, ab, bb, ob = gemm_checks(lw, node)
    lw.need_header("kernels/gemm.hpp")
    ct, alpha, beta = blas_scalars(node)
    lw.emit(CallStep((KernelCall("croton::gemm", (ct,), (
        Buf(cb), Lit(alpha), Buf(ab), Buf(bb), Lit(beta), Buf(ob)), (cb, ab, bb), (ob,)),),
        node.op_label()))


def blas_scalars(node: Apply) -> tuple[str, str, str]:
    """The output's C++ type and the node's alpha and beta (0 when it has none) as literals."""
    params, dtype = dict(node.params), node.outputs[0].dtype
    return (CXX_TYPE[dtype], c_literal(params["alpha"], dtype),
            c_literal(params.get("beta", 0), dtype))


def gemm_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int, int]:
    """A gemm node's shape checks and output shape (every target's): its buffers
    (addend, a, b, out)."""
    c, a, b = node.inputs
    cb, ab, bb = lw.buffer_of(c), lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    cid = lw.check(CheckInfo("dot", "dot", node.source, "inner dimensions"))
    lw.require(Dim(ab, 1).eq(Dim(bb, 0)), cid, shape_of(ab), 2, shape_of(bb), 2)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _broadcast_checks(lw, node, cb, ob, 2)
    return cb, ab, bb, ob


def _broadcast_checks(lw: Lowerer, node: Apply, addend: int, out: int, ndim: int) -> None:
    """The addend's non-broadcastable dimensions must equal the output's."""
    pattern = node.inputs[0].broadcastable
    for d in range(ndim):
        if not pattern[d]:
            bid = lw.check(CheckInfo("broadcast", "add", node.source, f"dimension {d}"))
            lw.require(Dim(addend, d).eq(Dim(out, d)), bid, shape_of(out), ndim,
                       shape_of(addend), ndim)


@lowering("gemv")
def lower_gemv(lw: Lowerer, node: Apply) -> None:
    yb, ab, xb, ob, trans = gemv_checks(lw, node)
    lw.need_header("kernels/gemv.hpp")
    ct, alpha, beta = blas_scalars(node)
    lw.emit(CallStep((KernelCall("croton::gemv", (ct,), (
        Buf(yb), Lit(alpha), Buf(ab), Lit("true" if trans else "false"), Buf(xb), Lit(beta),
        Buf(ob)), (yb, ab, xb), (ob,)),), node.op_label()))


def gemv_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int, int, bool]:
    """A gemv node's shape checks and output shape: its buffers (addend, a, x, out) and
    whether ``a`` is transposed."""
    y, a, x = node.inputs
    trans = bool(dict(node.params).get("trans", False))
    yb, ab, xb = lw.buffer_of(y), lw.buffer_of(a), lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    inner = 0 if trans else 1
    cid = lw.check(CheckInfo("dot", "dot", node.source, "inner dimensions"))
    lw.require(Dim(ab, inner).eq(Dim(xb, 0)), cid, shape_of(ab), 2, shape_of(xb), 1)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _broadcast_checks(lw, node, yb, ob, 1)
    return yb, ab, xb, ob, trans


@lowering("ger")
def lower_ger(lw: Lowerer, node: Apply) -> None:
    ab, xb, yb, ob = ger_checks(lw, node)
    lw.need_header("kernels/gemv.hpp")
    ct, alpha, _ = blas_scalars(node)
    lw.emit(CallStep((KernelCall("croton::ger", (ct,), (
        Buf(ab), Lit(alpha), Buf(xb), Buf(yb), Buf(ob)), (ab, xb, yb), (ob,)),), node.op_label()))


def ger_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int, int]:
    """A ger node's output shape and addend check: its buffers (addend, x, y, out)."""
    a, x, y = node.inputs
    ab, xb, yb = lw.buffer_of(a), lw.buffer_of(x), lw.buffer_of(y)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _broadcast_checks(lw, node, ab, ob, 2)
    return ab, xb, yb, ob
