"""Shape and construction ops: reshape, join, split, repeat, shape, arange, alloc, eye, the
diagonals, rebroadcast and specify_shape. One record each.

Shapes that may be symbolic are a ``layout`` parameter with one entry per dimension:
``("c", k)`` a constant, ``("s", j)`` the int scalar ``node.inputs[j]``, ``("v", j, i)`` element
``i`` of the int vector ``node.inputs[j]``. ``resolve_dims`` turns it into ints for the NumPy
references; the lowering turns it into C++ expressions.

Example::

    >>> import croton.tensor as T
    >>> m = T.dmatrix('m')
    >>> y = T.reshape(m, (-1,))
    >>> y.owner.op.name, dict(y.owner.params)['layout']
    ('reshape', (-1,))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.ops.shapes import (
    ARANGE_LENGTH,
    DIAG_LENGTH,
    REPEAT_TOTAL,
    layout_dims,
    same_as,
)
from croton.ops.table import OpRecord, register
from croton.types import DISCRETE_DTYPES, FLOAT_DTYPES, INT_DTYPES, TensorType, upcast


class Layout(tuple):
    """A shape parameter: entries ``("c", k) | ("s", j) | ("v", j, i) | ("n",)`` (``"n"``:
    unchecked, for specify_shape). Hashable; prints as ``(in1, -1)``.

    >>> Layout([("s", 1), ("c", -1), ("v", 2, 0)])
    (in1, -1, in2[0])
    """

    __slots__ = ()

    def __repr__(self) -> str:
        names = []
        for e in self:
            if e[0] == "c":
                names.append(str(e[1]))
            elif e[0] == "s":
                names.append(f"in{e[1]}")
            elif e[0] == "v":
                names.append(f"in{e[1]}[{e[2]}]")
            else:
                names.append("None")
        return f"({', '.join(names)}{',' if len(names) == 1 else ''})"


def _t():
    import croton.tensor as T

    return T


def check_dim_inputs(types: Sequence[TensorType], layout: Layout, what: str) -> None:
    """Raise TypeError unless every input the layout reads is an int scalar/vector."""
    for entry in layout:
        if entry[0] in ("s", "v"):
            t = types[entry[1]]
            want = 0 if entry[0] == "s" else 1
            if t.ndim != want or t.dtype not in INT_DTYPES:
                kind = "scalar" if want == 0 else "vector"
                raise TypeError(f"{what}: a shape entry must be an integer {kind}, got {t}")


def resolve_dims(layout: Layout, values: Sequence[np.ndarray], what: str) -> list[int | None]:
    """The ints a layout means for input ``values`` (``None`` for unchecked entries)."""
    out: list[int | None] = []
    counts: dict[int, int] = {}
    for entry in layout:
        if entry[0] == "c":
            out.append(int(entry[1]))
        elif entry[0] == "s":
            out.append(int(np.asarray(values[entry[1]]).reshape(())))
        elif entry[0] == "v":
            counts[entry[1]] = counts.get(entry[1], 0) + 1
            out.append(int(values[entry[1]][entry[2]]) if entry[2] < len(values[entry[1]])
                       else 0)
        else:
            out.append(None)
    for j, n in counts.items():
        if len(values[j]) != n:
            raise ValueError(f"{what}: the shape vector has {len(values[j])} elements, "
                             f"expected {n}")
    return out


def _layout_pattern(layout: Layout) -> tuple[bool, ...]:
    return tuple(e == ("c", 1) for e in layout)


# --- reshape --------------------------------------------------------------------------------
def _reshape_rule(types, params):
    t = types[0]
    layout = params["layout"]
    check_dim_inputs(types, layout, "reshape")
    consts = [e[1] for e in layout if e[0] == "c"]
    if sum(1 for k in consts if k == -1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension (-1), got {layout}")
    if any(k < -1 for k in consts):
        raise ValueError(f"reshape: invalid dimension {min(consts)} in the requested shape")
    if all(t.broadcastable) and len(consts) == len(layout) and -1 not in consts \
            and int(np.prod(consts)) != 1:
        raise ValueError(f"reshape: cannot reshape {t} (one element) into shape "
                         f"{tuple(consts)}")
    return [TensorType(t.dtype, _layout_pattern(layout))]


def _reshape_perform(values, params):
    return [np.reshape(values[0], resolve_dims(params["layout"], values, "reshape"))]


def _reshape_vjp(node, g):
    x = node.inputs[0]
    T = _t()
    back = T.reshape(g[0], [T.shape_i(x, d) for d in range(x.ndim)])
    return [back] + [None] * (len(node.inputs) - 1)


# --- join / split ---------------------------------------------------------------------------
def _join_rule(types, params):
    axis = params["axis"]
    nd = types[0].ndim
    if any(t.ndim != nd for t in types):
        raise ValueError(f"join: all tensors must have the same ndim, got "
                         f"{[t.ndim for t in types]}")
    if not 0 <= axis < nd:
        raise ValueError(f"join: axis {axis} is out of range for tensors of ndim {nd}")
    pattern = tuple(False if d == axis else any(t.broadcastable[d] for t in types)
                    for d in range(nd))
    return [TensorType(upcast(*[t.dtype for t in types]), pattern)]


def _join_vjp(node, g):
    T = _t()
    axis = dict(node.params)["axis"]
    sizes = [T.shape_i(x, axis) for x in node.inputs]
    parts = T.split(g[0], sizes, len(sizes), axis)
    return list(parts)


def _split_rule(types, params):
    t = types[0]
    axis, layout = params["axis"], params["layout"]
    check_dim_inputs(types, layout, "split")
    if not 0 <= axis < t.ndim:
        raise ValueError(f"split: axis {axis} is out of range for {t}")
    if any(e[0] == "c" and e[1] < 0 for e in layout):
        raise ValueError(f"split: negative split size in {layout}")
    outs = []
    for e in layout:
        pattern = list(t.broadcastable)
        pattern[axis] = e == ("c", 1)
        outs.append(TensorType(t.dtype, tuple(pattern)))
    return outs


def _split_perform(values, params):
    x, axis = values[0], params["axis"]
    sizes = resolve_dims(params["layout"], values, "split")
    if any(s < 0 for s in sizes) or sum(sizes) != x.shape[axis]:
        raise ValueError(f"split: sizes {sizes} do not add up to the length {x.shape[axis]} "
                         f"of axis {axis}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def _split_vjp(node, g):
    axis = dict(node.params)["axis"]
    return [_t().join(axis, *g)] + [None] * (len(node.inputs) - 1)


# --- repeat ---------------------------------------------------------------------------------
def _repeat_rule(types, params):
    t, r = types[0], types[1]
    axis = params["axis"]
    if not 0 <= axis < t.ndim:
        raise ValueError(f"repeat: axis {axis} is out of range for {t}")
    if r.ndim != 1 or r.dtype not in INT_DTYPES:
        raise TypeError(f"repeat: repeats must be an integer vector, got {r}")
    pattern = tuple(False if d == axis else b for d, b in enumerate(t.broadcastable))
    return [TensorType(t.dtype, pattern)]


def _repeat_vjp(node, g):
    from croton.ops.table import make_output

    x, r = node.inputs
    axis = dict(node.params)["axis"]
    n = _t().shape_i(x, axis)
    return [make_output(OPS_REPEAT_SUM, [g[0], r, n], axis=axis), None]


def _repeat_sum_rule(types, params):
    t = types[0]
    pattern = tuple(False if d == params["axis"] else b for d, b in enumerate(t.broadcastable))
    return [TensorType(t.dtype, pattern)]


def _repeat_sum_perform(values, params):
    g, r, n = values
    axis = params["axis"]
    counts = np.broadcast_to(np.asarray(r, "int64"), (int(n),))
    ends = np.cumsum(counts)
    gm = np.moveaxis(g, axis, 0)
    out = np.stack([gm[e - c:e].sum(axis=0) for c, e in zip(counts, ends)]) if int(n) else \
        np.zeros((0,) + gm.shape[1:], g.dtype)
    return [np.moveaxis(out, 0, axis)]


def _repeat_sum_vjp(node, g):
    from croton.ops.table import make_output

    axis = dict(node.params)["axis"]
    return [make_output(OPS_REPEAT, [g[0], node.inputs[1]], axis=axis), None, None]


# --- shape, arange, alloc, eye --------------------------------------------------------------
def _arange_rule(types, params):
    if any(t.ndim != 0 for t in types):
        raise TypeError(f"arange: start, stop and step must be scalars, got {list(types)}")
    return [TensorType(params["dtype"], (False,))]


def _arange_perform(values, params):
    start, stop, step = (np.asarray(v).item() for v in values)
    if step == 0:
        raise ValueError("arange: step must not be zero")
    return [np.arange(start, stop, step, dtype=params["dtype"])]


def _arange_vjp(node, g):
    T = _t()
    out = node.outputs[0]
    if out.dtype in DISCRETE_DTYPES:
        return [None, None, None]
    index = T.cast(T.arange(T.shape_i(out, 0)), out.dtype)
    return [T.sum(g[0]), None, T.sum(g[0] * index)]


def _alloc_rule(types, params):
    v, layout = types[0], params["layout"]
    check_dim_inputs(types, layout, "alloc")
    if v.ndim > len(layout):
        raise ValueError(f"alloc: the value ({v}) has more dimensions than the shape "
                         f"({len(layout)})")
    if any(e[0] == "c" and e[1] < 0 for e in layout):
        raise ValueError(f"alloc: negative dimensions are not allowed: {layout}")
    return [TensorType(v.dtype, _layout_pattern(layout))]


def _alloc_perform(values, params):
    v = np.asarray(values[0])
    dims = resolve_dims(params["layout"], values, "alloc")
    if any(d < 0 for d in dims):
        raise ValueError(f"alloc: negative dimensions are not allowed: {dims}")
    lead = len(dims) - v.ndim
    for j, s in enumerate(v.shape):
        if s != 1 and s != dims[lead + j]:
            raise ValueError(f"alloc: cannot broadcast a value of shape {v.shape} to {dims}")
    return [np.array(np.broadcast_to(v, dims))]


def _alloc_vjp(node, g):
    v, out = node.inputs[0], node.outputs[0]
    lead = out.ndim - v.ndim
    gv = _t().sum(g[0], axis=tuple(range(lead))) if lead else g[0]
    return [gv] + [None] * (len(node.inputs) - 1)


def _eye_rule(types, params):
    for t in types:
        if t.ndim != 0 or t.dtype not in INT_DTYPES:
            raise TypeError(f"eye: n, m and k must be integer scalars, got {t}")
    return [TensorType(params["dtype"], (False, False))]


def _eye_perform(values, params):
    n, m, k = (int(np.asarray(v).item()) for v in values)
    if n < 0 or m < 0:
        raise ValueError(f"eye: negative dimensions are not allowed: ({n}, {m})")
    return [np.eye(n, m, k, dtype=params["dtype"])]


# --- diagonals ------------------------------------------------------------------------------
def _alloc_diag_rule(types, params):
    v = types[0]
    if v.ndim != 1:
        raise ValueError(f"alloc_diag: expected a vector, got {v}")
    for t in types[1:]:
        if t.ndim != 0 or t.dtype not in INT_DTYPES:
            raise TypeError(f"alloc_diag: rows and cols must be integer scalars, got {t}")
    return [TensorType(v.dtype, (False, False))]


def _alloc_diag_perform(values, params):
    v, k = values[0], params["k"]
    if len(values) == 1:
        return [np.diag(v, k)]
    rows, cols = int(values[1]), int(values[2])
    out = np.zeros((rows, cols), v.dtype)
    d = np.diagonal(out, k)
    n = min(len(d), len(v))
    idx = np.arange(n)
    out[idx + max(0, -k), idx + max(0, k)] = v[:n]
    return [out]


def _alloc_diag_vjp(node, g):
    from croton.ops.table import make_output

    k = dict(node.params)["k"]
    return [make_output(OPS_EXTRACT_DIAG, [g[0]], k=k)] + [None] * (len(node.inputs) - 1)


def _extract_diag_rule(types, params):
    (t,) = types
    if t.ndim != 2:
        raise ValueError(f"extract_diag: expected a matrix, got {t}")
    return [TensorType(t.dtype, (False,))]


def _extract_diag_vjp(node, g):
    from croton.ops.table import make_output

    T = _t()
    x = node.inputs[0]
    k = dict(node.params)["k"]
    return [make_output(OPS_ALLOC_DIAG, [g[0], T.shape_i(x, 0), T.shape_i(x, 1)], k=k)]


# --- broadcast pattern and shape assertions -------------------------------------------------
def _rebroadcast_rule(types, params):
    (t,) = types
    pattern = params["pattern"]
    if len(pattern) != t.ndim:
        raise ValueError(f"patternbroadcast: pattern {pattern} does not match {t}")
    return [TensorType(t.dtype, pattern)]


def _rebroadcast_perform(values, params):
    x = values[0]
    for d, b in enumerate(params["pattern"]):
        if b and x.shape[d] != 1:
            raise ValueError(f"rebroadcast: dimension {d} is declared broadcastable but has "
                             f"length {x.shape[d]} (shape {x.shape})")
    return [x]


def _specify_shape_rule(types, params):
    t, layout = types[0], params["layout"]
    check_dim_inputs(types, layout, "specify_shape")
    if len(layout) != t.ndim:
        raise ValueError(f"specify_shape: {len(layout)} dimensions given for {t}")
    return [t]


def _specify_shape_perform(values, params):
    x = values[0]
    want = resolve_dims(params["layout"], values, "specify_shape")
    if any(w is not None and w != s for w, s in zip(want, x.shape)):
        raise ValueError(f"specify_shape: expected shape {tuple(want)}, got {x.shape}")
    return [x]


# --- shape facts (croton/ops/shapes.py) -------------------------------------------------------
def _resolve_unknown(numel: int, dims: list[int]) -> list[int]:
    """``dims`` with a -1 entry replaced by what makes ``numel`` elements."""
    known = 1
    for d in dims:
        known *= d if d != -1 else 1
    return [numel // known if d == -1 and known else d for d in dims]


def _reshape_shape(params, ins):
    """The requested dims, the -1 resolved (by croton::infer_reshape in generated code)."""
    requested = layout_dims(params["layout"], ins)
    return [ins.computed("reshape", _resolve_unknown, ins.prod(ins.shape(0)), requested)]


def _join_shape(params, ins):
    axis, n = params["axis"], len(ins.types)
    return [[ins.sum(ins.dim(k, d) for k in range(n)) if d == axis else ins.dim(0, d)
             for d in range(ins.types[0].ndim)]]


def _split_shape(params, ins):
    axis = params["axis"]
    sizes = layout_dims(params["layout"], ins)
    return [[size if d == axis else ins.dim(0, d) for d in range(ins.types[0].ndim)]
            for size in sizes]


def _repeat_shape(params, ins):
    axis = params["axis"]
    total = ins.call(REPEAT_TOTAL, ins.array(1), ins.dim(0, axis))
    return [[total if d == axis else ins.dim(0, d) for d in range(ins.types[0].ndim)]]


def _repeat_sum_shape(params, ins):
    axis = params["axis"]
    return [[ins.value(2) if d == axis else ins.dim(0, d) for d in range(ins.types[0].ndim)]]


def _arange_shape(params, ins):
    real = any(t.dtype in FLOAT_DTYPES for t in ins.types)
    bounds = [ins.value(k, real=real) for k in range(3)]
    return [[ins.call(ARANGE_LENGTH, *bounds, targs=("double" if real else "int64_t",))]]


def _alloc_diag_shape(params, ins):
    if len(ins.types) == 3:
        return [[ins.value(1), ins.value(2)]]
    side = ins.dim(0, 0) + abs(params["k"])
    return [[side, side]]


def _rest_none(node, g):
    return [g[0]] + [None] * (len(node.inputs) - 1)


register(OpRecord("reshape", "reshape", _reshape_rule, _reshape_perform, _reshape_vjp,
                  views=(0,), arithmetic=False, shape=_reshape_shape,
                  doc="x with a new shape (one entry may be -1); a view when x is contiguous"))
register(OpRecord("join", "join", _join_rule,
                  lambda values, params: [np.concatenate(values, axis=params["axis"])],
                  _join_vjp, shape=_join_shape,
                  doc="tensors concatenated along axis (dtypes upcast)"))
register(OpRecord("split", "split", _split_rule, _split_perform, _split_vjp,
                  views=(0,), arithmetic=False, shape=_split_shape,
                  doc="x cut along axis into pieces of the given sizes (views)"))
OPS_REPEAT = register(OpRecord(
    "repeat", "repeat", _repeat_rule,
    lambda values, params: [np.repeat(values[0], values[1], axis=params["axis"])],
    _repeat_vjp, nin=2, shape=_repeat_shape,
    doc="each element along axis repeated repeats[i] times"))
OPS_REPEAT_SUM = register(OpRecord(
    "repeat_sum", "repeat_sum", _repeat_sum_rule, _repeat_sum_perform, _repeat_sum_vjp, nin=3,
    shape=_repeat_sum_shape,
    doc="gradient of repeat: the sums of the runs of repeated slices"))
register(OpRecord("shape", "shape", lambda types, params: [TensorType("int64", (False,))],
                  lambda values, params: [np.asarray(values[0].shape, "int64")],
                  lambda node, g: [None], nin=1, arithmetic=False,
                  shape=lambda params, ins: [[len(ins.types[0].broadcastable)]],
                  doc="the shape of x as an int64 vector"))
register(OpRecord("arange", "arange", _arange_rule, _arange_perform, _arange_vjp, nin=3,
                  shape=_arange_shape,
                  doc="numpy.arange(start, stop, step) with symbolic bounds"))
register(OpRecord("alloc", "alloc", _alloc_rule, _alloc_perform, _alloc_vjp,
                  shape=lambda params, ins: [layout_dims(params["layout"], ins)],
                  doc="value broadcast to a (symbolic) shape, in new memory"))
register(OpRecord("eye", "eye", _eye_rule, _eye_perform, lambda node, g: [None] * 3, nin=3,
                  shape=lambda params, ins: [[ins.value(0), ins.value(1)]],
                  doc="an (n, m) matrix with ones on diagonal k"))
OPS_ALLOC_DIAG = register(OpRecord(
    "alloc_diag", "alloc_diag", _alloc_diag_rule, _alloc_diag_perform, _alloc_diag_vjp,
    shape=_alloc_diag_shape, doc="a matrix of zeros with the vector on diagonal k"))
OPS_EXTRACT_DIAG = register(OpRecord(
    "extract_diag", "extract_diag", _extract_diag_rule,
    lambda values, params: [np.diagonal(values[0], params["k"]).copy()],
    _extract_diag_vjp, nin=1, views=(0,), arithmetic=False,
    shape=lambda params, ins: [[ins.call(DIAG_LENGTH, ins.dim(0, 0), ins.dim(0, 1),
                                         params["k"])]],
    doc="diagonal k of a matrix (a strided view)"))
register(OpRecord("rebroadcast", "rebroadcast", _rebroadcast_rule, _rebroadcast_perform,
                  lambda node, g: [_t().patternbroadcast(g[0], node.inputs[0].broadcastable)],
                  nin=1, views=(0,), arithmetic=False, shape=same_as(0),
                  doc="x with another broadcast pattern (checked at run time)"))
register(OpRecord("specify_shape", "specify_shape", _specify_shape_rule, _specify_shape_perform,
                  _rest_none, views=(0,), arithmetic=False, shape=same_as(0),
                  doc="x, after checking at run time that it has the given shape"))
