"""Kernel generators of the shape and construction ops (``croton/ops/shape_ops.py``); the loops
are in ``runtime/cpu/kernels/shape.hpp``.

A symbolic dimension becomes an int64 expression (``codegen/expr.py``): a literal for a
constant, ``Dim(3, 1)`` when it is ``shape_i`` of a lowered tensor (so it is known before any
kernel runs), else the computed value, ``Value(5)`` (element ``i`` of a vector:
``Value(5, 'int64_t', Int(i))``); shape lines that read values stay in place.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.expr import cpp
    >>> x, n = T.dvector('x'), T.lscalar('n')
    >>> plan = lower(Graph.make([x, n], [T.reshape(x, (n, -1))])).plan
    >>> [s.kind for s in plan.steps][-1], cpp(plan.steps[0].expr)
    ('elementwise', 'croton::value<int64_t>(B1)')
"""

from __future__ import annotations

from croton.codegen.expr import (
    ArrayRef,
    Assign,
    Buf,
    Call,
    Cast,
    Declare,
    Dim,
    Int,
    KernelCall,
    Local,
    Member,
    Node,
    Slot,
    all_of,
    chain,
    entry,
)
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine, ViewStep
from croton.codegen.shape_facts import out_shapes, scalar_expr, vector_entry
from croton.graph import Apply, Constant
from croton.types import CXX_TYPE, FLOAT_DTYPES

HEADER = "kernels/shape.hpp"
SCRATCH, ERR = Local("scratch"), Local("err")


def dim_exprs(lw: Lowerer, node: Apply, layout: tuple, src_shape: Node | None = None,
              ndim: int = 0) -> list[Node]:
    """One int64 expression per layout entry; checks that shape vectors have the right
    length (``src_shape``/``ndim`` name the tensor for the error message)."""
    exprs: list[Node] = []
    counts: dict[int, int] = {}
    for d, entry_ in enumerate(layout):
        if entry_[0] == "c":
            exprs.append(Int(int(entry_[1]), typed=True))
        elif entry_[0] == "s":
            exprs.append(scalar_expr(lw, node.inputs[entry_[1]]))
        elif entry_[0] == "v":
            counts[entry_[1]] = counts.get(entry_[1], 0) + 1
            exprs.append(vector_entry(lw, node.inputs[entry_[1]], entry_[2]))
        else:
            exprs.append(entry(src_shape, d))
    for j, n in counts.items():
        var = node.inputs[j]
        if isinstance(var, Constant) or (var.owner is not None and var.owner.op.name == "shape"):
            continue
        vb = lw.buffer_of(var)
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 f"the shape vector (second) must have {n} elements"))
        lw.require(Dim(vb, 0).eq(n), cid, src_shape, ndim, shape_of(vb), 1)
    return exprs


def _shape_array(lw: Lowerer, owner_buf: int, exprs: list[Node]) -> ArrayRef:
    """An int64 array ``F<owner_buf>_0`` holding ``exprs`` (for checks that print it)."""
    name = f"F{owner_buf}_0"
    lw.shape_arrays.append((name, len(exprs)))
    for d, e in enumerate(exprs):
        lw.shape(ShapeLine(Slot(name, d), e))
    return ArrayRef(name)


def _call(lw: Lowerer, node: Apply, fn: str, targs: tuple, args: tuple, reads: tuple,
          writes: tuple, fails: str = "", header: str = HEADER) -> None:
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(fn, targs, args, reads, writes, fails),), node.op_label()))


@lowering("reshape")
def lower_reshape(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER) -> None:
    """``ns + reshape_into`` from ``header`` (a target's own kernel, the same arguments)."""
    x, out = node.inputs[0], node.outputs[0]
    src = lw.buffer_of(x)
    layout = dict(node.params)["layout"]
    exprs = dim_exprs(lw, node, layout, shape_of(src), x.ndim)
    dst = lw.alias(out, out.type, node.op_label())
    requested = _shape_array(lw, dst, exprs)
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "cannot reshape an array of the first shape into the second"))
    numel = Call("croton::numel", (Int(x.ndim), shape_of(src)))
    lw.require(Call("croton::infer_reshape", (numel, requested, Int(out.ndim))), cid,
               shape_of(src), x.ndim, requested, out.ndim)
    # the fact's dims: the requested array, its -1 resolved in place by infer_reshape
    resolved = [entry(requested, d) for d in range(out.ndim)]
    lw.set_shape(dst, out_shapes(lw, node, computed={"reshape": resolved})[0])
    lw.need_header(HEADER)  # infer_reshape
    _call(lw, node, f"{ns}reshape_into", (CXX_TYPE[x.dtype],),
          (Buf(src), Buf(dst), SCRATCH, ERR), (src,), (dst,), "rc", header)


@lowering("join")
def lower_join(lw: Lowerer, node: Apply, ns: str = "", header: str = HEADER) -> None:
    """Each input copied into its slice of the output; with ``ns`` (a target's namespace) by
    ``ns + broadcast_copy(err, input, croton::slice_axis(output, ...))`` from ``header``."""
    out = node.outputs[0]
    axis = dict(node.params)["axis"]
    bufs = [lw.buffer_of(x) for x in node.inputs]
    first = bufs[0]
    for k, b in enumerate(bufs[1:], start=1):
        for d in range(out.ndim):
            if d == axis:
                continue
            cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                     f"input {k} (second shape) differs from input 0 (first) "
                                     f"in dimension {d}"))
            lw.require(Dim(b, d).eq(Dim(first, d)), cid, shape_of(first), out.ndim,
                       shape_of(b), out.ndim)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    lw.need_header(HEADER)
    lw.need_header(header)
    dt = CXX_TYPE[out.dtype]
    start = Local("start")
    code: list[Node] = [Declare("[[maybe_unused]] int64_t start", Int(0))]
    for x, b in zip(node.inputs, bufs):
        if not ns:
            code.append(KernelCall("croton::copy_into_slice", (CXX_TYPE[x.dtype], dt),
                                   (Buf(b), Buf(ob), Int(axis), start), (b,), (ob,),
                                   result=start))
            continue
        part = Call("croton::slice_axis", (Buf(ob), Int(axis), start, Dim(b, axis)), (dt,))
        code += [KernelCall(f"{ns}broadcast_copy", (CXX_TYPE[x.dtype], dt), (ERR, Buf(b), part),
                            (b,), (ob,), "rc"), Assign(start, start + Dim(b, axis))]
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("split")
def lower_split(lw: Lowerer, node: Apply) -> None:
    x = node.inputs[0]
    params = dict(node.params)
    axis, layout = params["axis"], params["layout"]
    src = lw.buffer_of(x)
    sizes = dim_exprs(lw, node, layout, shape_of(src), x.ndim)
    outs = [lw.alias(o, o.type, f"{node.op_label()}.{k}") for k, o in enumerate(node.outputs)]
    total = chain("+", sizes, Int(0))
    cond = all_of([s.ge(0) for s in sizes] + [total.eq(Dim(src, axis))])
    listed = len(sizes) <= 8
    arr = _shape_array(lw, outs[0], sizes) if listed else None
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             f"the split sizes{' (second)' if listed else ''} must be "
                             f"non-negative and add up to the length of axis {axis} of the "
                             f"input (first)"))
    lw.require(cond, cid, shape_of(src), x.ndim, arr, len(sizes) if listed else 0)
    for ob, dims in zip(outs, out_shapes(lw, node)):
        lw.set_shape(ob, dims)
    lw.need_header(HEADER)
    ct = CXX_TYPE[x.dtype]
    start = Local("start")
    code: list[Node] = [Declare("[[maybe_unused]] int64_t start", Int(0))]
    for ob in outs:
        code.append(KernelCall("croton::slice_axis", (ct,),
                               (Buf(src), Int(axis), start, Dim(ob, axis)), (src,), (ob,),
                               result=Buf(ob)))
        code.append(Assign(start, start + Dim(ob, axis)))
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("repeat")
def lower_repeat(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER,
                 first: tuple = (), last: tuple = ()) -> None:
    """``ns + repeat_along`` from ``header``, with arguments ``first`` and ``last`` around the
    CPU kernel's (a target's own kernel, which then returns an error code)."""
    x, r = node.inputs
    out = node.outputs[0]
    axis = dict(node.params)["axis"]
    xb, rb = lw.buffer_of(x), lw.buffer_of(r)
    n = Dim(xb, axis)
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             f"repeats (second shape) must be non-negative counts, one per "
                             f"element along axis {axis} of the input (first) or a single one"))
    lw.require(Call("croton::value_repeats_ok", (Buf(rb), n)), cid, shape_of(xb), x.ndim,
               shape_of(rb), 1)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _call(lw, node, f"{ns}repeat_along", (CXX_TYPE[x.dtype],),
          (*first, Buf(xb), Buf(rb), Int(axis), Buf(ob), *last), (xb, rb), (ob,),
          "rc" if first else "", header)


@lowering("repeat_sum")
def lower_repeat_sum(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER,
                     first: tuple = (), last: tuple = ()) -> None:
    """As ``lower_repeat``, for ``repeat_sum``."""
    g, r, n = node.inputs
    out = node.outputs[0]
    axis = dict(node.params)["axis"]
    gb, rb = lw.buffer_of(g), lw.buffer_of(r)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _call(lw, node, f"{ns}repeat_sum", (CXX_TYPE[out.dtype],),
          (*first, Buf(gb), Buf(rb), Int(axis), Buf(ob), *last), (gb, rb), (ob,),
          "rc" if first else "", header)


@lowering("shape")
def lower_shape(lw: Lowerer, node: Apply, store: str = "") -> None:
    """The shape vector written by the host; with ``store`` (a target's ``fn(err, x, out)``,
    for memory the host cannot write) by that kernel."""
    (x,) = node.inputs
    xb = lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    if store:
        lw.emit(CallStep((KernelCall(store, (), (ERR, Buf(xb), Buf(ob)), (), (ob,), "rc"),),
                         node.op_label()))
        return
    code: list[Node] = [Declare("[[maybe_unused]] int64_t* const p",
                                Cast("int64_t*", Member(ob, "data")))]
    code += [Assign(Local(f"p[{d}]"), Dim(xb, d)) for d in range(x.ndim)]
    lw.emit(CallStep(tuple(code), node.op_label(), glue_writes=(ob,)))


@lowering("arange")
def lower_arange(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER) -> None:
    """``ns + arange_fill`` from ``header`` (a target's own kernel, the same arguments)."""
    out = node.outputs[0]
    floating = any(v.dtype in FLOAT_DTYPES for v in node.inputs)
    vt = "double" if floating else "int64_t"
    start, stop, step = (scalar_expr(lw, v, vt) for v in node.inputs)
    ob = lw.result_buffer(out, node.op_label())
    lw.need_header(HEADER)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    cid = lw.check(CheckInfo("value", node.op_label(), node.source, "invalid step"))
    _call(lw, node, f"{ns}arange_fill", (CXX_TYPE[out.dtype], vt),
          (start, step, Buf(ob), ERR, Int(cid)), (), (ob,), "rc", header)


def _check_non_negative(lw: Lowerer, node: Apply, ob: int, ndim: int) -> None:
    if ndim == 0:
        return
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "negative dimensions are not allowed"))
    lw.require(all_of(Dim(ob, d).ge(0) for d in range(ndim)), cid, shape_of(ob), ndim)


@lowering("alloc")
def lower_alloc(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER,
                first: tuple = ()) -> None:
    """``ns + broadcast_copy`` from ``header``, with arguments ``first`` (``err``: a
    target's own kernel, which returns an error code)."""
    v, out = node.inputs[0], node.outputs[0]
    vb = lw.buffer_of(v)
    dim_exprs(lw, node, dict(node.params)["layout"])  # checks the shape vectors' lengths
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _check_non_negative(lw, node, ob, out.ndim)
    lead = out.ndim - v.ndim
    for j in range(v.ndim):
        if v.broadcastable[j]:
            continue
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 f"the value (first shape) does not match the requested shape "
                                 f"(second) in dimension {lead + j}"))
        lw.require(Dim(vb, j).eq(Dim(ob, lead + j)), cid, shape_of(vb), v.ndim, shape_of(ob),
                   out.ndim)
    _call(lw, node, f"{ns}broadcast_copy", (CXX_TYPE[v.dtype], CXX_TYPE[out.dtype]),
          (*first, Buf(vb), Buf(ob)), (vb,), (ob,), "rc" if first else "", header)


@lowering("eye")
def lower_eye(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER,
              first: tuple = ()) -> None:
    """As ``lower_alloc``, for ``eye_fill``."""
    k = scalar_expr(lw, node.inputs[2])
    out = node.outputs[0]
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _check_non_negative(lw, node, ob, 2)
    _call(lw, node, f"{ns}eye_fill", (CXX_TYPE[out.dtype],), (*first, Buf(ob), k), (), (ob,),
          "rc" if first else "", header)


@lowering("alloc_diag")
def lower_alloc_diag(lw: Lowerer, node: Apply, ns: str = "croton::", header: str = HEADER,
                     first: tuple = ()) -> None:
    """As ``lower_alloc``, for ``alloc_diag``."""
    v, out = node.inputs[0], node.outputs[0]
    k = dict(node.params)["k"]
    vb = lw.buffer_of(v)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    _call(lw, node, f"{ns}alloc_diag", (CXX_TYPE[out.dtype],), (*first, Buf(vb), Buf(ob), Int(k)),
          (vb,), (ob,), "rc" if first else "", header)


@lowering("extract_diag")
def lower_extract_diag(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    out = node.outputs[0]
    k = dict(node.params)["k"]
    xb = lw.buffer_of(x)
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, out_shapes(lw, node)[0])
    _call(lw, node, "croton::diag_view", (CXX_TYPE[x.dtype],), (Buf(xb), Buf(dst), Int(k)),
          (xb,), (dst,))


@lowering("rebroadcast")
def lower_rebroadcast(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    out = node.outputs[0]
    src = lw.buffer_of(x)
    for d, (was, now) in enumerate(zip(x.broadcastable, out.broadcastable)):
        if now and not was:
            cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                     f"dimension {d} is declared broadcastable and must have "
                                     f"length 1"))
            lw.require(Dim(src, d).eq(1), cid, shape_of(src), x.ndim)
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, out_shapes(lw, node)[0])
    lw.emit(ViewStep(src, dst, tuple(range(x.ndim))))


@lowering("specify_shape")
def lower_specify_shape(lw: Lowerer, node: Apply) -> None:
    x, out = node.inputs[0], node.outputs[0]
    src = lw.buffer_of(x)
    layout = dict(node.params)["layout"]
    exprs = dim_exprs(lw, node, layout, shape_of(src), x.ndim)
    dst = lw.alias(out, out.type, node.op_label())
    if any(e[0] != "n" for e in layout):
        want = _shape_array(lw, dst, exprs)
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 "the input's shape (first) differs from the specified shape "
                                 "(second)"))
        cond = all_of(Dim(src, d).eq(entry(want, d)) for d, e in enumerate(layout) if e[0] != "n")
        lw.require(cond, cid, shape_of(src), x.ndim, want, x.ndim)
    lw.set_shape(dst, out_shapes(lw, node)[0])
    lw.emit(ViewStep(src, dst, tuple(range(x.ndim))))
