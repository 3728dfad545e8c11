"""Kernel generators for indexing: ``subtensor`` (a view: data pointer, shape and strides set by
a ``CallStep``), ``advanced_subtensor`` (a gather), ``set_subtensor``/``inc_subtensor`` (a copy
of ``x``, then a scatter into it) and ``mask_nonzero`` (count, then fill: its output length is a
computed value). The C++ lives in ``runtime/cpu/kernels/subtensor.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.dmatrix('x')
    >>> [s.kind for s in lower(Graph.make([x], [T.exp(x[1:, 0])])).plan.steps]
    ['call', 'elementwise']
"""

from __future__ import annotations

from croton.codegen.expr import (
    Braced,
    Buf,
    Call,
    Declare,
    Dim,
    Int,
    KernelCall,
    Lit,
    Local,
    Node,
    ShapeOf,
    as_node,
)
from croton.codegen.lower import CheckInfo, Lowerer, shape_of, value_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import LoweredIns, out_shapes
from croton.graph import Apply
from croton.ops.subtensor import (
    IndexSpec,
    adjacent,
    array_axes,
    is_ref,
    ref_index,
    region_dims,
    view_dims,
    view_type,
)
from croton.types import CXX_TYPE, TensorType

HEADER = "kernels/subtensor.hpp"
ERR, SCRATCH = Local("err"), Local("scratch")
TRUE, FALSE = Lit("true"), Lit("false")


def _view_call(method: str, *args: Node, fails: str = "", writes: tuple = ()) -> KernelCall:
    """A method of the ``croton::subtensor::View v`` the view code builds."""
    return KernelCall(f"v.{method}", (), args, (), writes, fails)


class _Index:
    """The pieces of one node's index: bound expressions, the view's shape and code."""

    def __init__(self, lw: Lowerer, node: Apply, spec: IndexSpec, extra_bufs: list[int]) -> None:
        self.lw, self.node, self.spec, self.extra_bufs = lw, node, spec, extra_bufs

    def bound(self, b) -> tuple[Node, Node]:
        """(has, value) expressions of a bound."""
        if b is None:
            return FALSE, Int(0)
        if is_ref(b):
            return TRUE, value_of(self.extra_bufs[ref_index(b)])
        return TRUE, Int(int(b), typed=True)

    def step(self, b) -> Node:
        return Int(1) if b is None else self.bound(b)[1]

    def view_code(self, src: int, dst: int) -> list[Node]:
        """Statements that point buffer ``dst`` at the basic view of ``src`` (checking ints)."""
        node, d = self.node, 0
        lines: list[Node] = [Declare("croton::subtensor::View v", ctor=(Buf(src),))]
        step_check = -1
        for t in self.spec:
            if t[0] == "newaxis":
                lines.append(_view_call("newaxis"))
                continue
            if t[0] == "slice":
                if is_ref(t[3]) and step_check < 0:
                    step_check = self.lw.check(CheckInfo("value", node.op_label(), node.source,
                                                         "slice step cannot be zero"))
                hs, s = self.bound(t[1])
                he, e = self.bound(t[2])
                lines.append(_view_call("slice", ERR, Int(step_check), hs, s, he, e,
                                        self.step(t[3]), fails="rc"))
            elif t[0] == "int":
                cid = self.lw.check(CheckInfo("index", node.op_label(), node.source, f"axis {d}"))
                lines.append(_view_call("index", ERR, Int(cid), self.bound(t[1])[1],
                                        fails="rc"))
            else:
                lines.append(_view_call("keep"))
            d += 1
        lines.append(_view_call("store", Buf(dst), writes=(dst,)))
        return lines

    def x_axis_of(self) -> dict[int, int]:
        """View dimension of each array token -> the dimension of x it indexes."""
        out, v, d = {}, 0, 0
        for t in self.spec:
            if t[0] == "newaxis":
                v += 1
                continue
            if t[0] == "array":
                out[v] = d
            if t[0] != "int":
                v += 1
            d += 1
        return out

    def check_broadcast(self) -> None:
        """Checks that the index arrays broadcast together (NumPy's rule)."""
        lw, node = self.lw, self.node
        arrays = [self.extra_bufs[j] for j in self.spec.arrays()]
        ndims = [lw.buffers[b].ndim for b in arrays]
        nb = max(ndims)
        for d in range(nb):
            dims = [Dim(b, d - (nb - n)) for b, n in zip(arrays, ndims) if d >= nb - n]
            if len(dims) < 2:
                continue
            length = Call("croton::subtensor::broadcast_length", tuple(dims))
            cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                     f"index arrays could not be broadcast together "
                                     f"(broadcast dim {d})"))
            for b, n in zip(arrays, ndims):
                if d >= nb - n:
                    dim = Dim(b, d - (nb - n))
                    lw.require(dim.eq(1) | dim.eq(length), cid,
                               shape_of(arrays[0]), ndims[0], shape_of(b), n)

    def advanced_args(self) -> list[Node]:
        """Declarations of ``idx``, ``axes`` and ``checks`` for the gather/scatter kernels."""
        lw, node = self.lw, self.node
        arrays = [self.extra_bufs[j] for j in self.spec.arrays()]
        axes = array_axes(self.spec)
        x_axis = self.x_axis_of()
        cids = [lw.check(CheckInfo("index", node.op_label(), node.source, f"axis {x_axis[a]}"))
                for a in axes]
        return [
            Declare("const croton_buffer* const idx[]",
                    Braced("", tuple(Buf(b, address=True) for b in arrays))),
            Declare("const int32_t axes[]", Braced("", tuple(Int(a) for a in axes))),
            Declare("const int32_t checks[]", Braced("", tuple(Int(c) for c in cids))),
        ]

    def array_buffers(self) -> tuple[int, ...]:
        return tuple(self.extra_bufs[j] for j in self.spec.arrays())


def _start(lw: Lowerer, node: Apply, first_extra: int, header: str = HEADER) -> _Index:
    lw.need_header(HEADER)  # the View (host arithmetic, every target)
    lw.need_header(header)
    extra_bufs = [lw.buffer_of(e) for e in node.inputs[first_extra:]]
    return _Index(lw, node, dict(node.params)["idx"], extra_bufs)


@lowering("subtensor")
def lower_subtensor(lw: Lowerer, node: Apply) -> None:
    index = _start(lw, node, 1)
    src = lw.buffer_of(node.inputs[0])
    out = node.outputs[0]
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, out_shapes(lw, node)[0])
    lw.emit(CallStep(tuple(index.view_code(src, dst)), node.op_label()))


def _view_buffer(lw: Lowerer, node: Apply, index: _Index, src: int, x_type: TensorType,
                 first_extra: int) -> int:
    """A view buffer for the basic part of the index of ``src`` (which has ``x_type``); its
    dims are the fact's (``croton.ops.subtensor.view_dims``)."""
    vtype = view_type(x_type, index.spec)
    view = lw.new_buffer(vtype, "view", -1, f"{node.op_label()} view")
    ins = LoweredIns(lw, node, [x_type] + [v.type for v in node.inputs[1:]],
                     [ShapeOf(src)] + [ShapeOf(lw.buffer_of(v)) for v in node.inputs[1:]])
    lw.set_shape(view, [as_node(e) for e in view_dims(index.spec, ins, 0, first_extra)])
    return view


@lowering("advanced_subtensor")
def lower_advanced_subtensor(lw: Lowerer, node: Apply, gather: str = "croton::subtensor::gather",
                             header: str = HEADER) -> None:
    """A gather through ``gather`` (a target's own, with the CPU kernel's arguments)."""
    index = _start(lw, node, 1, header)
    x, out = node.inputs[0], node.outputs[0]
    src = lw.buffer_of(x)
    view = _view_buffer(lw, node, index, src, x.type, 1)
    index.check_broadcast()
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    adj = TRUE if adjacent(array_axes(index.spec)) else FALSE
    k = len(index.spec.arrays())
    call = KernelCall(gather, (CXX_TYPE[x.dtype],), (
        ERR, Buf(view), Int(k), Local("idx"), Local("axes"), Local("checks"), adj, Buf(ob),
        SCRATCH), (view, *index.array_buffers()), (ob,), "rc")
    lw.emit(CallStep(tuple(index.view_code(src, view) + index.advanced_args() + [call]),
                     node.op_label()))


@lowering("inc_subtensor")
def lower_inc_subtensor(lw: Lowerer, node: Apply, scatter: str = "croton::subtensor::scatter",
                        header: str = HEADER) -> None:
    """A copy of x, then a scatter through ``scatter`` (a target's own, with the CPU kernel's
    arguments)."""
    index = _start(lw, node, 2, header)
    x, y, out = node.inputs[0], node.inputs[1], node.outputs[0]
    xb, yb = lw.buffer_of(x), lw.buffer_of(y)
    ob = lw.result_buffer(out, node.op_label())
    lw.copy_into(xb, ob, x.type, shape=out_shapes(lw, node)[0])  # the fact: x's shape
    view = _view_buffer(lw, node, index, ob, x.type, 2)
    vtype = view_type(x.type, index.spec)
    k = len(index.spec.arrays())
    region = view
    if k:
        region = lw.new_buffer(y.type, "view", -1, f"{node.op_label()} region")
        index.check_broadcast()
        ins = LoweredIns(lw, node)
        view_shape = [Dim(view, d) for d in range(vtype.ndim)]
        lw.set_shape(region, [as_node(e) for e in region_dims(index.spec, ins, view_shape, 2)])
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "the value's shape does not match the indexed region"))
    for d in range(y.ndim):
        if not y.broadcastable[d]:
            lw.require(Dim(yb, d).eq(Dim(region, d)), cid, shape_of(yb), y.ndim,
                       shape_of(region), y.ndim)
    code = index.view_code(ob, view)
    if k:
        code += index.advanced_args()
    else:
        code += [Declare("const croton_buffer* const* idx", Lit("nullptr")),
                 Declare("const int32_t* axes", Lit("nullptr")),
                 Declare("const int32_t* checks", Lit("nullptr"))]
    is_set = node.op.name == "set_subtensor"
    adj = TRUE if k and adjacent(array_axes(index.spec)) else FALSE
    code.append(KernelCall(scatter, (CXX_TYPE[x.dtype], is_set), (
        ERR, Buf(view), Int(k), Local("idx"), Local("axes"), Local("checks"), adj, Buf(yb),
        SCRATCH), (yb, *index.array_buffers()), (view, ob), "rc"))
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("mask_nonzero")
def lower_mask_nonzero(lw: Lowerer, node: Apply, ns: str = "croton::subtensor::",
                       header: str = HEADER, first: tuple = ()) -> None:
    """``ns + mask_count`` and ``ns + mask_coordinates`` from ``header``; the coordinates' call
    takes arguments ``first`` first (a target's own kernel, which then returns an error code)."""
    lw.need_header(header)
    mask, x = node.inputs
    axis = dict(node.params)["axis"]
    mb, xb = lw.buffer_of(mask), lw.buffer_of(x)
    count = lw.new_buffer(TensorType("int64", ()), "scratch", -1, "mask count")
    cid = lw.check(CheckInfo("index", node.op_label(), node.source,
                             f"the axes from {axis} (a boolean mask must match their shape; the "
                             f"mask's length is given as the index)"))
    lw.emit(CallStep((KernelCall(f"{ns}mask_count", (), (
        ERR, Int(cid), Buf(mb), Buf(xb), Int(axis), Buf(count)), (mb, xb), (count,), "rc"),),
        "count of mask_nonzero"))
    outs = [lw.result_buffer(o, node.op_label()) for o in node.outputs]
    for ob, dims in zip(outs, out_shapes(lw, node, computed={"count": value_of(count)})):
        lw.set_shape(ob, dims)
    lw.emit(CallStep((
        Declare("croton_buffer* const coords[]", Braced("", tuple(Buf(b, address=True)
                                                                  for b in outs))),
        KernelCall(f"{ns}mask_coordinates", (), (*first, Buf(mb), Local("coords")),
                   (mb,), tuple(outs), "rc" if first else "")), node.op_label()))
