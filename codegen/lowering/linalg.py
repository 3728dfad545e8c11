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

from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("contract")
def lower_contract(lw: Lowerer, node: Apply) -> None:
    a, b = node.inputs
    out = node.outputs[0]
    n = dict(node.params)["naxes"]
    ab, bb = lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(out, node.op_label())
    fa = a.ndim - n
    if n:
        same = " && ".join(f"{shape_of(ab)}[{fa + k}] == {shape_of(bb)}[{k}]" for k in range(n))
        cid = lw.check(CheckInfo("dot", node.op_label(), node.source, "contracted dimensions"))
        lw.shape(ShapeLine("", same, cid, shape_of(ab), a.ndim, shape_of(bb), b.ndim))
    lw.set_shape(ob, [f"{shape_of(ab)}[{d}]" for d in range(fa)]
                 + [f"{shape_of(bb)}[{d}]" for d in range(n, b.ndim)])
    lw.need_header("kernels/dot.hpp")
    ct = CXX_TYPE[out.dtype]
    lw.emit(CallStep((
        f"if (!croton::contract<{ct}>(B{ab}, B{bb}, B{ob}, {n}, scratch)) "
        f"return croton::fail_alloc(err);",
    ), node.op_label()))


@lowering("batched_dot")
def lower_batched_dot(lw: Lowerer, node: Apply) -> None:
    a, b = node.inputs
    out = node.outputs[0]
    ab, bb = lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(out, node.op_label())
    inner_b = f"{shape_of(bb)}[1]"
    cond = (f"{shape_of(ab)}[0] == {shape_of(bb)}[0] && "
            f"{shape_of(ab)}[{a.ndim - 1}] == {inner_b}")
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "batch sizes or inner dimensions differ"))
    lw.shape(ShapeLine("", cond, cid, shape_of(ab), a.ndim, shape_of(bb), b.ndim))
    lw.set_shape(ob, [f"{shape_of(ab)}[0]"] + ([f"{shape_of(ab)}[1]"] if a.ndim == 3 else [])
                 + ([f"{shape_of(bb)}[2]"] if b.ndim == 3 else []))
    lw.need_header("kernels/dot.hpp")
    lw.emit(CallStep((f"croton::batched_matmul<{CXX_TYPE[out.dtype]}>(B{ab}, B{bb}, B{ob});",),
                     node.op_label()))


def _square_check(lw: Lowerer, node: Apply, bid: int) -> None:
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source, "expected a square matrix"))
    lw.shape(ShapeLine("", f"{shape_of(bid)}[0] == {shape_of(bid)}[1]", cid, shape_of(bid), 2))


@lowering("lapack")
def lower_lapack(lw: Lowerer, node: Apply) -> None:
    name = node.op.name
    out = node.outputs[0]
    ins = [lw.buffer_of(v) for v in node.inputs]
    a = ins[0]
    ob = lw.result_buffer(out, node.op_label())
    ct = CXX_TYPE[out.dtype]
    _square_check(lw, node, a)
    lw.need_header("kernels/lapack.hpp")
    action = {"solve": "cannot solve", "cholesky": "cannot factor"}.get(name, "cannot invert")
    value_cid = lw.check(CheckInfo("value", node.op_label(), node.source, action))
    lower = "true" if dict(node.params).get("lower", True) else "false"
    if name == "det":
        lw.set_shape(ob, [])
        call = f"croton::det<{ct}>(B{a}, B{ob}, scratch, err)"
    elif name == "solve":
        b = ins[1]
        bvar = node.inputs[1]
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "a and b have different numbers of rows"))
        lw.shape(ShapeLine("", f"{shape_of(a)}[0] == {shape_of(b)}[0]", cid, shape_of(a), 2,
                           shape_of(b), bvar.ndim))
        lw.set_shape(ob, [f"{shape_of(b)}[{d}]" for d in range(bvar.ndim)])
        call = f"croton::solve<{ct}>(B{a}, B{b}, B{ob}, scratch, err, {value_cid})"
    elif name == "cholesky_grad":
        g = ins[1]
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "the factor and its gradient differ in shape"))
        lw.shape(ShapeLine("", f"{shape_of(a)}[0] == {shape_of(g)}[0] && "
                           f"{shape_of(a)}[1] == {shape_of(g)}[1]", cid, shape_of(a), 2,
                           shape_of(g), 2))
        lw.set_shape(ob, [f"{shape_of(a)}[0]", f"{shape_of(a)}[1]"])
        call = f"croton::cholesky_grad<{ct}>(B{a}, B{g}, B{ob}, {lower}, scratch, err)"
    else:
        lw.set_shape(ob, [f"{shape_of(a)}[0]", f"{shape_of(a)}[1]"])
        if name == "cholesky":
            call = f"croton::cholesky<{ct}>(B{a}, B{ob}, {lower}, scratch, err, {value_cid})"
        else:
            call = f"croton::matrix_inverse<{ct}>(B{a}, B{ob}, scratch, err, {value_cid})"
    lw.emit(CallStep((f"if (int rc = {call}) return rc;",), node.op_label()))
