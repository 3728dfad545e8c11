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

from croton.codegen.lower import CheckInfo, Lowerer, shape_of, value_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine
from croton.graph import Apply
from croton.ops.subtensor import IndexSpec, adjacent, array_axes, is_ref, ref_index, view_type
from croton.types import CXX_TYPE, TensorType

HEADER = "kernels/subtensor.hpp"


class _Index:
    """The C++ pieces of one node's index: bound expressions, the view's shape and code."""

    def __init__(self, lw: Lowerer, node: Apply, spec: IndexSpec, extra_bufs: list[int]) -> None:
        self.lw, self.node, self.spec, self.extra_bufs = lw, node, spec, extra_bufs

    def bound(self, b, default: str = "0") -> tuple[str, str]:
        """(has, value) C++ expressions of a bound."""
        if b is None:
            return "false", default
        if is_ref(b):
            return "true", value_of(self.extra_bufs[ref_index(b)])
        return "true", f"INT64_C({b})"

    def step(self, b) -> str:
        return "1" if b is None else self.bound(b)[1]

    def view_shape(self, src: int) -> list[str]:
        """One C++ expression per dimension of the basic view of buffer ``src``."""
        exprs, d = [], 0
        for t in self.spec:
            if t[0] == "newaxis":
                exprs.append("1")
                continue
            if t[0] == "slice":
                hs, s = self.bound(t[1])
                he, e = self.bound(t[2])
                exprs.append(f"croton::subtensor::slice_length({shape_of(src)}[{d}], {hs}, {s}, "
                             f"{he}, {e}, {self.step(t[3])})")
            elif t[0] == "array":
                exprs.append(f"{shape_of(src)}[{d}]")
            d += 1
        return exprs

    def view_code(self, src: int, dst: int) -> list[str]:
        """Statements that point buffer ``dst`` at the basic view of ``src`` (checking ints)."""
        node, lines, d = self.node, [f"croton::subtensor::View v(B{src});"], 0
        step_check = -1
        for t in self.spec:
            if t[0] == "newaxis":
                lines.append("v.newaxis();")
                continue
            if t[0] == "slice":
                if is_ref(t[3]) and step_check < 0:
                    step_check = self.lw.check(CheckInfo("value", node.op_label(), node.source,
                                                         "slice step cannot be zero"))
                hs, s = self.bound(t[1])
                he, e = self.bound(t[2])
                lines.append(f"if (int rc = v.slice(err, {step_check}, {hs}, {s}, {he}, {e}, "
                             f"{self.step(t[3])})) return rc;")
            elif t[0] == "int":
                cid = self.lw.check(CheckInfo("index", node.op_label(), node.source, f"axis {d}"))
                lines.append(f"if (int rc = v.index(err, {cid}, {self.bound(t[1])[1]})) "
                             f"return rc;")
            else:
                lines.append("v.keep();")
            d += 1
        lines.append(f"v.store(B{dst});")
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

    def region_shape(self, view: int, view_ndim: int) -> list[str]:
        """The shape of ``view[arrays]`` (NumPy's advanced indexing), with broadcast checks."""
        lw, node = self.lw, self.node
        arrays = [self.extra_bufs[j] for j in self.spec.arrays()]
        ndims = [lw.buffers[b].ndim for b in arrays]
        nb = max(ndims)
        bshape = []
        for d in range(nb):
            dims = [f"{shape_of(b)}[{d - (nb - n)}]" for b, n in zip(arrays, ndims)
                    if d >= nb - n]
            bshape.append(f"croton::subtensor::broadcast_length({', '.join(dims)})")
            if len(dims) > 1:
                cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                         f"index arrays could not be broadcast together "
                                         f"(broadcast dim {d})"))
                for b, n in zip(arrays, ndims):
                    if d >= nb - n:
                        dim = f"{shape_of(b)}[{d - (nb - n)}]"
                        lw.shape(ShapeLine("", f"{dim} == 1 || {dim} == {bshape[-1]}", cid,
                                           shape_of(arrays[0]), ndims[0], shape_of(b), n))
        axes = array_axes(self.spec)
        whole = [f"{shape_of(view)}[{d}]" for d in range(view_ndim)]
        if adjacent(axes):
            return whole[:axes[0]] + bshape + whole[axes[-1] + 1:]
        return bshape + [w for d, w in enumerate(whole) if d not in axes]

    def advanced_args(self) -> list[str]:
        """Declarations of ``idx``, ``axes`` and ``checks`` for the gather/scatter kernels."""
        lw, node = self.lw, self.node
        arrays = [self.extra_bufs[j] for j in self.spec.arrays()]
        axes = array_axes(self.spec)
        x_axis = self.x_axis_of()
        cids = [lw.check(CheckInfo("index", node.op_label(), node.source, f"axis {x_axis[a]}"))
                for a in axes]
        return [
            f"const croton_buffer* const idx[] = {{{', '.join(f'&B{b}' for b in arrays)}}};",
            f"const int32_t axes[] = {{{', '.join(map(str, axes))}}};",
            f"const int32_t checks[] = {{{', '.join(map(str, cids))}}};",
        ]


def _start(lw: Lowerer, node: Apply, first_extra: int) -> _Index:
    lw.need_header(HEADER)
    extra_bufs = [lw.buffer_of(e) for e in node.inputs[first_extra:]]
    return _Index(lw, node, dict(node.params)["idx"], extra_bufs)


@lowering("subtensor")
def lower_subtensor(lw: Lowerer, node: Apply) -> None:
    index = _start(lw, node, 1)
    src = lw.buffer_of(node.inputs[0])
    out = node.outputs[0]
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, index.view_shape(src))
    lw.emit(CallStep(tuple(index.view_code(src, dst)), node.op_label()))


def _view_buffer(lw: Lowerer, node: Apply, index: _Index, src: int, x_type: TensorType) -> int:
    vtype = view_type(x_type, index.spec)
    view = lw.new_buffer(vtype, "view", -1, f"{node.op_label()} view")
    lw.set_shape(view, index.view_shape(src))
    return view


@lowering("advanced_subtensor")
def lower_advanced_subtensor(lw: Lowerer, node: Apply) -> None:
    index = _start(lw, node, 1)
    x, out = node.inputs[0], node.outputs[0]
    src = lw.buffer_of(x)
    view = _view_buffer(lw, node, index, src, x.type)
    shape = index.region_shape(view, view_type(x.type, index.spec).ndim)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, shape)
    adj = "true" if adjacent(array_axes(index.spec)) else "false"
    k = len(index.spec.arrays())
    lw.emit(CallStep(tuple(index.view_code(src, view) + index.advanced_args() + [
        f"if (int rc = croton::subtensor::gather<{CXX_TYPE[x.dtype]}>(err, B{view}, {k}, idx, "
        f"axes, checks, {adj}, B{ob}, scratch)) return rc;"]), node.op_label()))


@lowering("inc_subtensor")
def lower_inc_subtensor(lw: Lowerer, node: Apply) -> None:
    index = _start(lw, node, 2)
    x, y, out = node.inputs[0], node.inputs[1], node.outputs[0]
    xb, yb = lw.buffer_of(x), lw.buffer_of(y)
    ob = lw.result_buffer(out, node.op_label())
    lw.copy_into(xb, ob, x.type)
    view = _view_buffer(lw, node, index, ob, x.type)
    vtype = view_type(x.type, index.spec)
    k = len(index.spec.arrays())
    region = view
    if k:
        region = lw.new_buffer(y.type, "view", -1, f"{node.op_label()} region")
        lw.set_shape(region, index.region_shape(view, vtype.ndim))
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "the value's shape does not match the indexed region"))
    for d in range(y.ndim):
        if not y.broadcastable[d]:
            lw.shape(ShapeLine("", f"{shape_of(yb)}[{d}] == {shape_of(region)}[{d}]", cid,
                               shape_of(yb), y.ndim, shape_of(region), y.ndim))
    code = index.view_code(ob, view)
    if k:
        code += index.advanced_args()
    else:
        code += ["const croton_buffer* const* idx = nullptr;", "const int32_t* axes = nullptr;",
                 "const int32_t* checks = nullptr;"]
    is_set = "true" if node.op.name == "set_subtensor" else "false"
    adj = "true" if k and adjacent(array_axes(index.spec)) else "false"
    code.append(f"if (int rc = croton::subtensor::scatter<{CXX_TYPE[x.dtype]}, {is_set}>(err, "
                f"B{view}, {k}, idx, axes, checks, {adj}, B{yb}, scratch)) return rc;")
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("mask_nonzero")
def lower_mask_nonzero(lw: Lowerer, node: Apply) -> None:
    lw.need_header(HEADER)
    mask, x = node.inputs
    axis = dict(node.params)["axis"]
    mb, xb = lw.buffer_of(mask), lw.buffer_of(x)
    count = lw.new_buffer(TensorType("int64", ()), "scratch", -1, "mask count")
    cid = lw.check(CheckInfo("index", node.op_label(), node.source,
                             f"the axes from {axis} (a boolean mask must match their shape; the "
                             f"mask's length is given as the index)"))
    lw.emit(CallStep((f"if (int rc = croton::subtensor::mask_count(err, {cid}, B{mb}, B{xb}, "
                      f"{axis}, B{count})) return rc;",), "count of mask_nonzero"))
    outs = [lw.result_buffer(o, node.op_label()) for o in node.outputs]
    for ob in outs:
        lw.set_shape(ob, [value_of(count)])
    lw.emit(CallStep((
        f"croton_buffer* const coords[] = {{{', '.join(f'&B{b}' for b in outs)}}};",
        f"croton::subtensor::mask_coordinates(B{mb}, coords);"), node.op_label()))
