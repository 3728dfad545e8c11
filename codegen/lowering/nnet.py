"""Kernel generators for the neural-network primitives (``croton/ops/nnet.py``): per-row gather
and scatter, pooling and its gradients. Each emits its shape checks and output shapes (hoisted
before every kernel) and one call into ``runtime/cpu/kernels/nnet.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x, i = T.dmatrix('x'), T.ivector('i')
    >>> [s.kind for s in lower(Graph.make([x, i], [T.nnet.take_along_last(x, i)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine
from croton.graph import Apply
from croton.ops.nnet import POOL_MODES
from croton.types import CXX_TYPE


def _shape_check(lw: Lowerer, node: Apply, cond: str, detail: str, a: int, b: int | None = None,
                 ) -> None:
    """A call-time check ``cond`` whose failure names the op, the user's line and the shapes of
    buffers ``a`` and ``b``."""
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source, detail))
    nb = lw.buffers[b].ndim if b is not None else 0
    lw.shape(ShapeLine("", cond, cid, shape_of(a), lw.buffers[a].ndim,
                       shape_of(b) if b is not None else "", nb))


def _call(lw: Lowerer, node: Apply, header: str, call: str) -> None:
    lw.need_header(header)
    lw.emit(CallStep((f"if (int rc = {call}) return rc;",), node.op_label()))


# --- gather / scatter ------------------------------------------------------------------------
@lowering("take_along_last")
def lower_take(lw: Lowerer, node: Apply) -> None:
    x, idx = node.inputs
    xb, ib = lw.buffer_of(x), lw.buffer_of(idx)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    _shape_check(lw, node, f"{shape_of(xb)}[0] == {shape_of(ib)}[0]",
                 "the matrix and the index vector differ in length", xb, ib)
    lw.set_shape(ob, [f"{shape_of(ib)}[0]"])
    cid = lw.check(CheckInfo("index", node.op_label(), node.source, "axis 1"))
    ct, it = CXX_TYPE[x.dtype], CXX_TYPE[idx.dtype]
    _call(lw, node, "kernels/nnet.hpp",
          f"croton::take_along_last<{ct}, {it}>(B{xb}, B{ib}, B{ob}, err, {cid})")


@lowering("take_along_last_grad")
def lower_take_grad(lw: Lowerer, node: Apply) -> None:
    g, idx, x = node.inputs
    gb, ib, xb = lw.buffer_of(g), lw.buffer_of(idx), lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    _shape_check(lw, node, f"{shape_of(gb)}[0] == {shape_of(ib)}[0] && "
                 f"{shape_of(xb)}[0] == {shape_of(ib)}[0]",
                 "the gradient, the index vector and the matrix differ in length", gb, xb)
    lw.set_shape(ob, [f"{shape_of(xb)}[0]", f"{shape_of(xb)}[1]"])
    cid = lw.check(CheckInfo("index", node.op_label(), node.source, "axis 1"))
    ct, it = CXX_TYPE[g.dtype], CXX_TYPE[idx.dtype]
    _call(lw, node, "kernels/nnet.hpp",
          f"croton::take_along_last_grad<{ct}, {it}>(B{gb}, B{ib}, B{ob}, err, {cid})")


# --- pooling -------------------------------------------------------------------------------------
def _pool_params(node: Apply) -> str:
    p = dict(node.params)
    (ws0, ws1), (st0, st1), (pd0, pd1) = p["ws"], p["stride"], p["pad"]
    return (f"croton::PoolParams{{{ws0}, {ws1}, {st0}, {st1}, {pd0}, {pd1}, "
            f"{POOL_MODES.index(p['mode'])}}}")


def _pooled_dims(node: Apply, xb: int) -> list[str]:
    p = dict(node.params)
    nd = node.inputs[0].ndim
    ib = "true" if p["ignore_border"] else "false"
    return [f"croton::pool_out_size({shape_of(xb)}[{nd - 2 + k}], {p['ws'][k]}, "
            f"{p['stride'][k]}, {p['pad'][k]}, {ib})" for k in range(2)]


@lowering("pool_2d")
def lower_pool(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    xb = lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.need_header("kernels/nnet.hpp")
    lw.set_shape(ob, [f"{shape_of(xb)}[{d}]" for d in range(x.ndim - 2)] + _pooled_dims(node, xb))
    _call(lw, node, "kernels/nnet.hpp",
          f"croton::pool2d_forward<{CXX_TYPE[x.dtype]}>(B{xb}, B{ob}, {_pool_params(node)})")


@lowering("pool_2d_grad")
def lower_pool_grad(lw: Lowerer, node: Apply) -> None:
    bufs = [lw.buffer_of(v) for v in node.inputs]
    xb, gb = bufs[0], bufs[-1]
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    nd = node.inputs[0].ndim
    lw.need_header("kernels/nnet.hpp")
    pooled = [f"{shape_of(xb)}[{d}]" for d in range(nd - 2)] + _pooled_dims(node, xb)
    ct = CXX_TYPE[node.outputs[0].dtype]
    name = node.op.name
    if name == "pool_2d_avg_grad":
        expect = (gb, pooled)
        out_ref = xb
        call = f"croton::pool2d_avg_grad<{ct}>(B{gb}, B{ob}, {_pool_params(node)})"
    else:
        zb = bufs[1]
        grad_grad = name == "pool_2d_max_grad_grad"
        _shape_check(lw, node, " && ".join(f"{shape_of(zb)}[{d}] == {e}"
                                            for d, e in enumerate(pooled)),
                     "the pooled output does not have the pooled shape", zb, xb)
        expect = (gb, [f"{shape_of(xb)}[{d}]" for d in range(nd)] if grad_grad else pooled)
        out_ref = zb if grad_grad else xb
        call = (f"croton::pool2d_max_grad<{ct}>(B{xb}, B{zb}, B{gb}, B{ob}, "
                f"{_pool_params(node)}, {'true' if grad_grad else 'false'})")
    gbuf, dims = expect
    _shape_check(lw, node, " && ".join(f"{shape_of(gbuf)}[{d}] == {e}" for d, e in enumerate(dims)),
                 "the gradient does not have the expected shape", gbuf, xb)
    lw.set_shape(ob, [f"{shape_of(out_ref)}[{d}]" for d in range(nd)])
    _call(lw, node, "kernels/nnet.hpp", call)
