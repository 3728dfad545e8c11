"""Kernel generators for ``tensordot`` (kind ``contract``), ``batched_dot`` and the LAPACK ops
(kind ``lapack``): shape checks here, loops in ``runtime/cpu/kernels/dot.hpp`` and
``runtime/cpu/kernels/lapack.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> a = T.dmatrix('a')
    >>> [s.kind for s in lower(Graph.make([a], [T.det(a)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from croton.codegen.expr import Buf, Dim, Int, KernelCall, Lit, Local, all_of
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("contract")
def lower_contract(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob, n = contract_checks(lw, node)
    lw.need_header("kernels/dot.hpp")
    ct = CXX_TYPE[node.outputs[0].dtype]
    lw.emit(CallStep((KernelCall("croton::contract", (ct,), (
        Buf(ab), Buf(bb), Buf(ob), Int(n), Local("scratch")), (ab, bb), (ob,), "alloc"),),
        node.op_label()))


def contract_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int, int]:
    """A contract node's check of the contracted dimensions and its output shape (every
    target's): its buffers (a, b, out) and how many axes it contracts."""
    a, b = node.inputs
    n = dict(node.params)["naxes"]
    ab, bb = lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    fa = a.ndim - n
    if n:
        same = all_of(Dim(ab, fa + k).eq(Dim(bb, k)) for k in range(n))
        cid = lw.check(CheckInfo("dot", node.op_label(), node.source, "contracted dimensions"))
        lw.require(same, cid, shape_of(ab), a.ndim, shape_of(bb), b.ndim)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    return ab, bb, ob, n


@lowering("batched_dot")
def lower_batched_dot(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob = batched_dot_checks(lw, node)
    lw.need_header("kernels/dot.hpp")
    lw.emit(CallStep((KernelCall("croton::batched_matmul", (CXX_TYPE[node.outputs[0].dtype],),
                                 (Buf(ab), Buf(bb), Buf(ob)), (ab, bb), (ob,)),),
                     node.op_label()))


def batched_dot_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int]:
    """A batched_dot node's shape check and output shape (every target's): its buffers
    (a, b, out)."""
    a, b = node.inputs
    ab, bb = lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    cond = Dim(ab, 0).eq(Dim(bb, 0)) & Dim(ab, a.ndim - 1).eq(Dim(bb, 1))
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "batch sizes or inner dimensions differ"))
    lw.require(cond, cid, shape_of(ab), a.ndim, shape_of(bb), b.ndim)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    return ab, bb, ob


def _square_check(lw: Lowerer, node: Apply, bid: int) -> None:
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source, "expected a square matrix"))
    lw.require(Dim(bid, 0).eq(Dim(bid, 1)), cid, shape_of(bid), 2)


@lowering("lapack")
def lower_lapack(lw: Lowerer, node: Apply, ns: str = "croton::",
                 header: str = "kernels/lapack.hpp") -> None:
    """``ns`` + the op's kernel from ``header`` (a target's own)."""
    name = node.op.name
    out = node.outputs[0]
    ins = [lw.buffer_of(v) for v in node.inputs]
    a = ins[0]
    ob = lw.result_buffer(out, node.op_label())
    ct = CXX_TYPE[out.dtype]
    _square_check(lw, node, a)
    lw.need_header(header)
    action = {"solve": "cannot solve", "cholesky": "cannot factor"}.get(name, "cannot invert")
    value_cid = lw.check(CheckInfo("value", node.op_label(), node.source, action))
    lower = Lit("true" if dict(node.params).get("lower", True) else "false")
    scratch, err, value_check = Local("scratch"), Local("err"), Int(value_cid)
    reads = tuple(ins)
    if name == "det":
        fn, args = f"{ns}det", (Buf(a), Buf(ob), scratch, err)
    elif name == "solve":
        b = ins[1]
        bvar = node.inputs[1]
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "a and b have different numbers of rows"))
        lw.require(Dim(a, 0).eq(Dim(b, 0)), cid, shape_of(a), 2, shape_of(b), bvar.ndim)
        fn, args = f"{ns}solve", (Buf(a), Buf(b), Buf(ob), scratch, err, value_check)
    elif name == "cholesky_grad":
        g = ins[1]
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "the factor and its gradient differ in shape"))
        lw.require(Dim(a, 0).eq(Dim(g, 0)) & Dim(a, 1).eq(Dim(g, 1)), cid, shape_of(a), 2,
                   shape_of(g), 2)
        fn, args = f"{ns}cholesky_grad", (Buf(a), Buf(g), Buf(ob), lower, scratch, err)
    else:
        if name == "cholesky":
            fn, args = f"{ns}cholesky", (Buf(a), Buf(ob), lower, scratch, err, value_check)
        else:
            fn, args = f"{ns}matrix_inverse", (Buf(a), Buf(ob), scratch, err, value_check)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    lw.emit(CallStep((KernelCall(fn, (ct,), args, reads, (ob,), "rc"),), node.op_label()))
