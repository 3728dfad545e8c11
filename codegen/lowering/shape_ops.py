"""Kernel generators of the shape and construction ops (``croton/ops/shape_ops.py``); the loops
are in ``runtime/cpu/kernels/shape.hpp``.

A symbolic dimension becomes a C++ int64 expression: a literal for a constant, ``B3.shape[1]``
when it is ``shape_i`` of a lowered tensor (so it is known before any kernel runs), else the
computed value, ``croton::value<int64_t>(B5)`` (element ``i`` of a vector:
``croton::value<int64_t>(B5, i)``); shape lines that read values stay in place.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x, n = T.dvector('x'), T.lscalar('n')
    >>> plan = lower(Graph.make([x, n], [T.reshape(x, (n, -1))])).plan
    >>> [s.kind for s in plan.steps][-1], 'croton::value<int64_t>(B1)' in str(plan.steps)
    ('elementwise', True)
"""

from __future__ import annotations

from croton.codegen.lower import CheckInfo, Lowerer, c_literal, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep, ShapeLine, ViewStep
from croton.graph import Apply, Constant, Variable
from croton.types import CXX_TYPE, FLOAT_DTYPES

HEADER = "kernels/shape.hpp"


def scalar_expr(lw: Lowerer, var: Variable, ctype: str = "int64_t") -> str:
    """C++ for the value of the scalar ``var``: a literal, a known shape, or a computed value."""
    if isinstance(var, Constant):
        value = var.data.reshape(()).item()
        return f"int64_t({int(value)})" if ctype == "int64_t" else c_literal(value, "float64")
    owner = var.owner
    if owner is not None and owner.op.name == "shape_i":
        return f"{shape_of(lw.buffer_of(owner.inputs[0]))}[{dict(owner.params)['i']}]"
    return f"croton::value<{ctype}>(B{lw.buffer_of(var)})"


def dim_exprs(lw: Lowerer, node: Apply, layout: tuple, src_shape: str | None = None,
              ndim: int = 0) -> list[str]:
    """One C++ int64 expression per layout entry; checks that shape vectors have the right
    length (``src_shape``/``ndim`` name the tensor for the error message)."""
    exprs: list[str] = []
    counts: dict[int, int] = {}
    for d, entry in enumerate(layout):
        if entry[0] == "c":
            exprs.append(f"int64_t({int(entry[1])})")
        elif entry[0] == "s":
            exprs.append(scalar_expr(lw, node.inputs[entry[1]]))
        elif entry[0] == "v":
            var, i = node.inputs[entry[1]], entry[2]
            counts[entry[1]] = counts.get(entry[1], 0) + 1
            if isinstance(var, Constant):
                exprs.append(f"int64_t({int(var.data[i])})")
            elif var.owner is not None and var.owner.op.name == "shape":
                exprs.append(f"{shape_of(lw.buffer_of(var.owner.inputs[0]))}[{i}]")
            else:
                lw.need_header(HEADER)  # croton::value(buffer, i)
                exprs.append(f"croton::value<int64_t>(B{lw.buffer_of(var)}, {i})")
        else:
            exprs.append(f"{src_shape}[{d}]")
    for j, n in counts.items():
        var = node.inputs[j]
        if isinstance(var, Constant) or (var.owner is not None and var.owner.op.name == "shape"):
            continue
        vb = lw.buffer_of(var)
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 f"the shape vector (second) must have {n} elements"))
        lw.shape(ShapeLine("", f"{shape_of(vb)}[0] == {n}", cid, src_shape or "", ndim,
                           shape_of(vb), 1))
    return exprs


def _shape_array(lw: Lowerer, owner_buf: int, exprs: list[str]) -> str:
    """An int64 array ``F<owner_buf>_0`` holding ``exprs`` (for checks that print it)."""
    name = f"F{owner_buf}_0"
    lw.shape_arrays.append((name, len(exprs)))
    for d, e in enumerate(exprs):
        lw.shape(ShapeLine(f"{name}[{d}]", e))
    return name


@lowering("reshape")
def lower_reshape(lw: Lowerer, node: Apply) -> None:
    x, out = node.inputs[0], node.outputs[0]
    src = lw.buffer_of(x)
    layout = dict(node.params)["layout"]
    exprs = dim_exprs(lw, node, layout, shape_of(src), x.ndim)
    dst = lw.alias(out, out.type, node.op_label())
    requested = _shape_array(lw, dst, exprs)
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "cannot reshape an array of the first shape into the second"))
    lw.shape(ShapeLine("", f"croton::infer_reshape(croton::numel({x.ndim}, {shape_of(src)}), "
                           f"{requested}, {out.ndim})", cid,
                       shape_of(src), x.ndim, requested, out.ndim))
    lw.set_shape(dst, [f"{requested}[{d}]" for d in range(out.ndim)])
    lw.need_header(HEADER)
    lw.emit(CallStep((f"if (int rc = croton::reshape_into<{CXX_TYPE[x.dtype]}>(B{src}, B{dst}, "
                      f"scratch, err)) return rc;",), node.op_label()))


@lowering("join")
def lower_join(lw: Lowerer, node: Apply) -> None:
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
            lw.shape(ShapeLine("", f"{shape_of(b)}[{d}] == {shape_of(first)}[{d}]", cid,
                               shape_of(first), out.ndim, shape_of(b), out.ndim))
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, [" + ".join(f"{shape_of(b)}[{d}]" for b in bufs) if d == axis
                      else f"{shape_of(first)}[{d}]" for d in range(out.ndim)])
    lw.need_header(HEADER)
    dt = CXX_TYPE[out.dtype]
    code = ["int64_t start = 0;"]
    for x, b in zip(node.inputs, bufs):
        code.append(f"start = croton::copy_into_slice<{CXX_TYPE[x.dtype]}, {dt}>(B{b}, B{ob}, "
                    f"{axis}, start);")
    code.append("(void)start;")
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("split")
def lower_split(lw: Lowerer, node: Apply) -> None:
    x = node.inputs[0]
    params = dict(node.params)
    axis, layout = params["axis"], params["layout"]
    src = lw.buffer_of(x)
    sizes = dim_exprs(lw, node, layout, shape_of(src), x.ndim)
    outs = [lw.alias(o, o.type, f"{node.op_label()}.{k}") for k, o in enumerate(node.outputs)]
    total = " + ".join(f"({s})" for s in sizes) or "0"
    cond = " && ".join([f"({s}) >= 0" for s in sizes] + [f"{total} == {shape_of(src)}[{axis}]"])
    listed = len(sizes) <= 8
    arr = _shape_array(lw, outs[0], sizes) if listed else ""
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             f"the split sizes{' (second)' if listed else ''} must be "
                             f"non-negative and add up to the length of axis {axis} of the "
                             f"input (first)"))
    lw.shape(ShapeLine("", cond, cid, shape_of(src), x.ndim, arr, len(sizes) if listed else 0))
    for ob, size in zip(outs, sizes):
        lw.set_shape(ob, [size if d == axis else f"{shape_of(src)}[{d}]"
                          for d in range(x.ndim)])
    lw.need_header(HEADER)
    ct = CXX_TYPE[x.dtype]
    code = ["int64_t start = 0;"]
    for ob in outs:
        code.append(f"B{ob} = croton::slice_axis<{ct}>(B{src}, {axis}, start, "
                    f"B{ob}.shape[{axis}]);")
        code.append(f"start += B{ob}.shape[{axis}];")
    code.append("(void)start;")
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("repeat")
def lower_repeat(lw: Lowerer, node: Apply) -> None:
    x, r = node.inputs
    out = node.outputs[0]
    axis = dict(node.params)["axis"]
    xb, rb = lw.buffer_of(x), lw.buffer_of(r)
    n = f"{shape_of(xb)}[{axis}]"
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             f"repeats (second shape) must be non-negative counts, one per "
                             f"element along axis {axis} of the input (first) or a single one"))
    lw.shape(ShapeLine("", f"croton::value_repeats_ok(B{rb}, {n})", cid, shape_of(xb), x.ndim,
                       shape_of(rb), 1))
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, [f"croton::value_repeat_total(B{rb}, {n})" if d == axis
                      else f"{shape_of(xb)}[{d}]" for d in range(x.ndim)])
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::repeat_along<{CXX_TYPE[x.dtype]}>(B{xb}, B{rb}, {axis}, "
                      f"B{ob});",), node.op_label()))


@lowering("repeat_sum")
def lower_repeat_sum(lw: Lowerer, node: Apply) -> None:
    g, r, n = node.inputs
    out = node.outputs[0]
    axis = dict(node.params)["axis"]
    gb, rb = lw.buffer_of(g), lw.buffer_of(r)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, [scalar_expr(lw, n) if d == axis else f"{shape_of(gb)}[{d}]"
                      for d in range(g.ndim)])
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::repeat_sum<{CXX_TYPE[out.dtype]}>(B{gb}, B{rb}, {axis}, "
                      f"B{ob});",), node.op_label()))


@lowering("shape")
def lower_shape(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    xb = lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.set_shape(ob, [str(x.ndim)])
    code = [f"int64_t* const p = static_cast<int64_t*>(B{ob}.data);"]
    code += [f"p[{d}] = {shape_of(xb)}[{d}];" for d in range(x.ndim)]
    code.append("(void)p;")
    lw.emit(CallStep(tuple(code), node.op_label()))


@lowering("arange")
def lower_arange(lw: Lowerer, node: Apply) -> None:
    out = node.outputs[0]
    floating = any(v.dtype in FLOAT_DTYPES for v in node.inputs)
    vt = "double" if floating else "int64_t"
    start, stop, step = (scalar_expr(lw, v, vt) for v in node.inputs)
    ob = lw.result_buffer(out, node.op_label())
    lw.need_header(HEADER)
    lw.set_shape(ob, [f"croton::arange_length<{vt}>({start}, {stop}, {step})"])
    cid = lw.check(CheckInfo("value", node.op_label(), node.source, "invalid step"))
    lw.emit(CallStep((f"if (int rc = croton::arange_fill<{CXX_TYPE[out.dtype]}, {vt}>({start}, "
                      f"{step}, B{ob}, err, {cid})) return rc;",), node.op_label()))


def _check_non_negative(lw: Lowerer, node: Apply, ob: int, ndim: int) -> None:
    if ndim == 0:
        return
    cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                             "negative dimensions are not allowed"))
    cond = " && ".join(f"{shape_of(ob)}[{d}] >= 0" for d in range(ndim))
    lw.shape(ShapeLine("", cond, cid, shape_of(ob), ndim))


@lowering("alloc")
def lower_alloc(lw: Lowerer, node: Apply) -> None:
    v, out = node.inputs[0], node.outputs[0]
    vb = lw.buffer_of(v)
    exprs = dim_exprs(lw, node, dict(node.params)["layout"])
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, exprs)
    _check_non_negative(lw, node, ob, out.ndim)
    lead = out.ndim - v.ndim
    for j in range(v.ndim):
        if v.broadcastable[j]:
            continue
        cid = lw.check(CheckInfo("shape", node.op_label(), node.source,
                                 f"the value (first shape) does not match the requested shape "
                                 f"(second) in dimension {lead + j}"))
        lw.shape(ShapeLine("", f"{shape_of(vb)}[{j}] == {shape_of(ob)}[{lead + j}]", cid,
                           shape_of(vb), v.ndim, shape_of(ob), out.ndim))
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::broadcast_copy<{CXX_TYPE[v.dtype]}, {CXX_TYPE[out.dtype]}>("
                      f"B{vb}, B{ob});",), node.op_label()))


@lowering("eye")
def lower_eye(lw: Lowerer, node: Apply) -> None:
    n, m, k = (scalar_expr(lw, v) for v in node.inputs)
    out = node.outputs[0]
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, [n, m])
    _check_non_negative(lw, node, ob, 2)
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::eye_fill<{CXX_TYPE[out.dtype]}>(B{ob}, {k});",),
                     node.op_label()))


@lowering("alloc_diag")
def lower_alloc_diag(lw: Lowerer, node: Apply) -> None:
    v, out = node.inputs[0], node.outputs[0]
    k = dict(node.params)["k"]
    vb = lw.buffer_of(v)
    ob = lw.result_buffer(out, node.op_label())
    if len(node.inputs) == 3:
        lw.set_shape(ob, [scalar_expr(lw, node.inputs[1]), scalar_expr(lw, node.inputs[2])])
    else:
        side = f"{shape_of(vb)}[0] + {abs(k)}"
        lw.set_shape(ob, [side, side])
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::alloc_diag<{CXX_TYPE[out.dtype]}>(B{vb}, B{ob}, {k});",),
                     node.op_label()))


@lowering("extract_diag")
def lower_extract_diag(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    out = node.outputs[0]
    k = dict(node.params)["k"]
    xb = lw.buffer_of(x)
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, [f"croton::diag_length({shape_of(xb)}[0], {shape_of(xb)}[1], {k})"])
    lw.need_header(HEADER)
    lw.emit(CallStep((f"croton::diag_view<{CXX_TYPE[x.dtype]}>(B{xb}, B{dst}, {k});",),
                     node.op_label()))


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
            lw.shape(ShapeLine("", f"{shape_of(src)}[{d}] == 1", cid, shape_of(src), x.ndim))
    dst = lw.alias(out, out.type, node.op_label())
    lw.set_shape(dst, [f"{shape_of(src)}[{d}]" for d in range(x.ndim)])
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
        cond = " && ".join(f"{shape_of(src)}[{d}] == {want}[{d}]"
                           for d, e in enumerate(layout) if e[0] != "n")
        lw.shape(ShapeLine("", cond, cid, shape_of(src), x.ndim, want, x.ndim))
    lw.set_shape(dst, [f"{shape_of(src)}[{d}]" for d in range(x.ndim)])
    lw.emit(ViewStep(src, dst, tuple(range(x.ndim))))
