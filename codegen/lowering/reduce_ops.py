"""Kernel generators for ``argmax``/``argmin`` (kind ``arg_reduce``) and ``cumsum``/``cumprod``
(kind ``cumulative``): calls into ``runtime/cpu/kernels/reduce.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> m = T.dmatrix('m')
    >>> [s.kind for s in lower(Graph.make([m], [T.argmax(m, axis=0)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from croton.codegen.expr import Braced, Buf, Declare, Dim, Int, KernelCall, Lit, Local, chain
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.lowering.structured import check_not_empty
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.types import CXX_TYPE


def _int_array(name: str, values: tuple[int, ...]) -> Declare:
    return Declare(f"const int32_t {name}[]", Braced("", tuple(Int(v) for v in values or (0,))))


@lowering("arg_reduce")
def lower_arg_reduce(lw: Lowerer, node: Apply, ns: str = "croton::",
                     header: str = "kernels/reduce.hpp", first: tuple = ()) -> None:
    """``ns`` + ``arg_reduce`` from ``header``, with arguments ``first`` (a target's own
    kernel)."""
    (x,) = node.inputs
    out = node.outputs[0]
    axes = dict(node.params)["axis"]
    ib = lw.buffer_of(x)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    kept = tuple(d for d in range(x.ndim) if d not in axes)
    check_not_empty(lw, node.op_label(), node.source, shape_of(ib), x.ndim, axes,
                    f"attempt to get {node.op.name} of an empty sequence")
    lw.need_header(header)
    is_max = node.op.name == "argmax"
    lw.emit(CallStep((
        _int_array("kept", kept),
        _int_array("red", axes),
        KernelCall(f"{ns}arg_reduce", (CXX_TYPE[x.dtype], is_max), (
            *first, Buf(ib), Buf(ob), Int(len(kept)), Local("kept"), Int(len(axes)),
            Local("red")), (ib,), (ob,), "rc" if first else ""),
    ), node.op_label()))


@lowering("cumulative")
def lower_cumulative(lw: Lowerer, node: Apply, ns: str = "croton::",
                     header: str = "kernels/reduce.hpp", first: tuple = ()) -> None:
    """As ``lower_arg_reduce``, for ``cumulate``."""
    x = node.inputs[0]
    out = node.outputs[0]
    params = dict(node.params)
    axis = params["axis"]
    ib = lw.buffer_of(x)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    if axis is None and len(node.inputs) == 2:  # the flat walk laid out in the shape of input 1
        like = node.inputs[1]
        lb = lw.buffer_of(like)
        n_like = chain("*", (Dim(lb, d) for d in range(like.ndim)), Int(1))
        n_x = chain("*", (Dim(ib, d) for d in range(x.ndim)), Int(1))
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "the flat input and the output shape differ in size"))
        lw.require(n_x.eq(n_like), cid, shape_of(ib), x.ndim, shape_of(lb), like.ndim)
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(
        f"{ns}cumulate", (CXX_TYPE[x.dtype], CXX_TYPE[out.dtype], node.op.name == "cumprod"),
        (*first, Buf(ib), Buf(ob), Int(-1 if axis is None else axis),
         Lit("true" if params["reverse"] else "false")), (ib,), (ob,), "rc" if first else ""),),
        node.op_label()))
