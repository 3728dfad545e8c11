"""Kernel generators for the neural-network primitives (``croton/ops/nnet.py``): per-row gather
and scatter, pooling (2-d and 3-d) and its gradients. Each emits its shape checks and output
shapes (hoisted before every kernel) and one call into ``runtime/cpu/kernels/nnet.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x, i = T.dmatrix('x'), T.ivector('i')
    >>> [s.kind for s in lower(Graph.make([x, i], [T.nnet.take_along_last(x, i)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from dataclasses import dataclass

from croton.codegen.expr import (
    ArrayRef,
    Braced,
    Buf,
    Dim,
    Int,
    KernelCall,
    Lit,
    Local,
    Node,
    Slot,
    all_of,
    as_node,
)
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.lowering.shape_ops import dim_exprs
from croton.codegen.plan import CallStep, ShapeLine
from croton.codegen.shape_facts import LoweredIns, out_shapes
from croton.graph import Apply
from croton.ops.nnet import POOL_MODES, pool_shape
from croton.types import CXX_TYPE


def _shape_check(lw: Lowerer, node: Apply, cond: Node, detail: str, a: int,
                 b: int | None = None) -> None:
    """A call-time check ``cond`` whose failure names the op, the user's line and the shapes of
    buffers ``a`` and ``b``."""
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source, detail))
    nb = lw.buffers[b].ndim if b is not None else 0
    lw.require(cond, cid, shape_of(a), lw.buffers[a].ndim, shape_of(b) if b is not None else None,
               nb)


def _call(lw: Lowerer, node: Apply, fn: str, targs: tuple, args: tuple, reads: tuple,
          out: int, header: str = "kernels/nnet.hpp") -> None:
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(fn, targs, args, reads, (out,), "rc"),), node.op_label()))


# --- gather / scatter ------------------------------------------------------------------------
@lowering("take_along_last")
def lower_take(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = "kernels/nnet.hpp",
               extra: tuple = ()) -> None:
    """``ns`` + ``take_along_last`` from ``header``, with ``extra`` arguments last (a target's
    own kernel)."""
    x, idx = node.inputs
    xb, ib = lw.buffer_of(x), lw.buffer_of(idx)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    _shape_check(lw, node, Dim(xb, 0).eq(Dim(ib, 0)),
                 "the matrix and the index vector differ in length", xb, ib)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    cid = lw.check(CheckInfo("index", node.op_label(), node.source, "axis 1"))
    _call(lw, node, f"{ns}take_along_last", (CXX_TYPE[x.dtype], CXX_TYPE[idx.dtype]),
          (Buf(xb), Buf(ib), Buf(ob), Local("err"), Int(cid), *extra), (xb, ib), ob, header)


@lowering("take_along_last_grad")
def lower_take_grad(lw: Lowerer, node: Apply, ns: str = "croton::",
                    header: str = "kernels/nnet.hpp", extra: tuple = ()) -> None:
    """As ``lower_take``."""
    g, idx, x = node.inputs
    gb, ib, xb = lw.buffer_of(g), lw.buffer_of(idx), lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    _shape_check(lw, node, Dim(gb, 0).eq(Dim(ib, 0)) & Dim(xb, 0).eq(Dim(ib, 0)),
                 "the gradient, the index vector and the matrix differ in length", gb, xb)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    cid = lw.check(CheckInfo("index", node.op_label(), node.source, "axis 1"))
    _call(lw, node, f"{ns}take_along_last_grad", (CXX_TYPE[g.dtype], CXX_TYPE[idx.dtype]),
          (Buf(gb), Buf(ib), Buf(ob), Local("err"), Int(cid), *extra), (gb, ib), ob, header)


# --- pooling -------------------------------------------------------------------------------------
def _pool_setup(lw: Lowerer, node: Apply, xb: int, first_geo: int) -> tuple[Node, list[Node]]:
    """The ``croton::PoolParams`` literal of a pooling node (window, stride and padding read from
    its int-vector inputs, constants or run-time values, checked here) and its pooled dims."""
    p = dict(node.params)
    nd = node.op.extra["nd"]
    x = node.inputs[0]
    entries = tuple(("v", first_geo + k, i) for k in range(3) for i in range(nd))
    exprs = dim_exprs(lw, node, entries, shape_of(xb), x.ndim)
    name = f"F{xb}_pool{len(lw.shape_arrays)}"
    lw.shape_arrays.append((name, 3 * nd))
    for i, e in enumerate(exprs):
        lw.shape(ShapeLine(Slot(name, i), e))
    ws = [Slot(name, i) for i in range(nd)]
    st = [Slot(name, nd + i) for i in range(nd)]
    pd = [Slot(name, 2 * nd + i) for i in range(nd)]
    ib = bool(p["ignore_border"])
    conds = []
    for w, s, q in zip(ws, st, pd):
        conds += [w.ge(1), s.ge(1), q.ge(0), q.lt(w)] + ([] if ib else [q.eq(0)])
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "need ws >= 1, stride >= 1 and 0 <= pad < ws (pad only with "
                             "ignore_border=True); input shape and (ws, stride, pad)"))
    lw.require(all_of(conds), cid, shape_of(xb), x.ndim, ArrayRef(name), 3 * nd)
    lead = 3 - nd
    params = Braced("croton::PoolParams", (
        Int(nd), Braced("", tuple([Int(1)] * lead + ws)), Braced("", tuple([Int(1)] * lead + st)),
        Braced("", tuple([Int(0)] * lead + pd)), Int(POOL_MODES.index(p["mode"]))))
    # the pooled dims: the forward op's shape fact, its window, stride and padding read from
    # the array above
    slots = {(first_geo + g, i): Slot(name, g * nd + i) for g in range(3) for i in range(nd)}
    ins = LoweredIns(lw, node, values=slots)
    pooled = [as_node(e) for e in pool_shape(p, ins, nd, first_geo)]
    return params, pooled


@dataclass(frozen=True)
class PoolKernels:
    """Where a target's pooling kernels are: their namespace, header, and the arguments every
    call ends with (the CPU's kernels cannot fail; the CUDA target's report launch errors)."""

    ns: str = "croton::"
    header: str = "kernels/nnet.hpp"
    tail: tuple = ()


CPU_POOL = PoolKernels()


def pool_steps(lw: Lowerer, node: Apply, k: PoolKernels = CPU_POOL) -> None:
    """The checks and the kernel call of a pooling node, with ``k``'s kernels."""
    x = node.inputs[0]
    xb = lw.buffer_of(x)
    params, dims = _pool_setup(lw, node, xb, 1)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.set_shape(ob, dims)  # the fact's dims (pool_shape), over the array of window values
    _call(lw, node, f"{k.ns}pool_forward", (CXX_TYPE[x.dtype],),
          (Buf(xb), Buf(ob), params) + k.tail, (xb,), ob, k.header)


@lowering("pool")
def lower_pool(lw: Lowerer, node: Apply) -> None:
    pool_steps(lw, node)


def pool_grad_steps(lw: Lowerer, node: Apply, k: PoolKernels = CPU_POOL) -> None:
    """The checks and the kernel call of a pooling gradient node, with ``k``'s kernels."""
    avg = node.op.name.endswith("avg_grad")
    ntensors = 2 if avg else 3
    bufs = [lw.buffer_of(v) for v in node.inputs[:ntensors]]
    xb, gb = bufs[0], bufs[-1]
    params, pooled = _pool_setup(lw, node, xb, ntensors)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    ndim = node.inputs[0].ndim
    ct = CXX_TYPE[node.outputs[0].dtype]
    if avg:
        expect = pooled
        fn, args, reads = "pool_avg_grad", (Buf(gb), Buf(ob), params), (gb,)
    else:
        zb = bufs[1]
        grad_grad = node.op.name.endswith("max_grad_grad")
        _shape_check(lw, node, all_of(Dim(zb, d).eq(e) for d, e in enumerate(pooled)),
                     "the pooled output does not have the pooled shape", zb, xb)
        expect = [Dim(xb, d) for d in range(ndim)] if grad_grad else pooled
        fn, reads = "pool_max_grad", (xb, zb, gb)
        args = (Buf(xb), Buf(zb), Buf(gb), Buf(ob), params, Lit("true" if grad_grad else "false"))
    _shape_check(lw, node, all_of(Dim(gb, d).eq(e) for d, e in enumerate(expect)),
                 "the gradient does not have the expected shape", gb, xb)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _call(lw, node, k.ns + fn, (ct,), args + k.tail, reads, ob, k.header)


@lowering("pool_grad")
def lower_pool_grad(lw: Lowerer, node: Apply) -> None:
    pool_grad_steps(lw, node)
