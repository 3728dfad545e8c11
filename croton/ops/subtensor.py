"""Indexing ops: ``subtensor`` (basic slicing, a strided view), ``advanced_subtensor`` (integer
arrays, a gather), ``set_subtensor`` / ``inc_subtensor`` (a copy of ``x`` with a region written)
and ``mask_nonzero`` (the coordinates of a boolean mask's true elements, for ``x[mask]``).

The index is the parameter ``idx``, an ``IndexSpec``: one token per entry, after ``Ellipsis`` was
expanded (every dimension of ``x`` has a token; ``newaxis`` adds one)::

    ("slice", start, stop, step)   # each bound: None, a Python int, or "$j" (extra input j)
    ("int", i)                     # i: a Python int or "$j"; the dimension is dropped
    ("newaxis",)                   # a new broadcastable dimension of length 1
    ("array", j)                   # extra input j: an integer array (advanced indexing)

Extra inputs follow ``x`` (and ``y`` for the set/inc ops). An index with an ``array`` has no
``int`` token: as in NumPy, integers among arrays are 0-d arrays (they broadcast with them).

Example::

    >>> import croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> x[1:, ::-1].owner.op_label()
    'subtensor{idx=[1:, ::-1]}'
    >>> x[0, None].broadcastable
    (True, False)
"""

from __future__ import annotations

import numpy as np

from croton.ops.shapes import BROADCAST_LENGTH, SLICE_LENGTH, same_as
from croton.ops.table import OpRecord, register
from croton.types import INT_DTYPES, TensorType, upcast


class IndexSpec(tuple):
    """The hashable index tokens of one indexing op; printed as Python would write the index."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "[" + ", ".join(_token_text(t) for t in self) + "]"

    def arrays(self) -> list[int]:
        """Extra-input numbers of the integer-array tokens, in order."""
        return [t[1] for t in self if t[0] == "array"]


def _bound_text(b) -> str:
    return "" if b is None else str(b)


def _token_text(t: tuple) -> str:
    if t[0] == "slice":
        start, stop, step = t[1:]
        text = f"{_bound_text(start)}:{_bound_text(stop)}"
        return text + (f":{_bound_text(step)}" if step is not None else "")
    if t[0] == "int":
        return str(t[1])
    if t[0] == "newaxis":
        return "None"
    return f"${t[1]}"


def is_ref(b) -> bool:
    """True for a bound that names an extra input (``"$2"``)."""
    return isinstance(b, str)


def ref_index(b: str) -> int:
    return int(b[1:])


def is_full_slice(t: tuple) -> bool:
    return t[0] == "slice" and t[1] in (None, 0) and t[2] is None and t[3] in (None, 1)


def view_type(x: TensorType, spec: IndexSpec) -> TensorType:
    """The type of the basic part of ``spec`` applied to ``x``: slices, dropped ints, new axes;
    array tokens keep their dimension whole."""
    pattern = []
    d = 0
    for t in spec:
        if t[0] == "newaxis":
            pattern.append(True)
            continue
        if t[0] == "slice":
            pattern.append(x.broadcastable[d] and is_full_slice(t))
        elif t[0] == "array":
            pattern.append(x.broadcastable[d])
        d += 1
    return TensorType(x.dtype, tuple(pattern))


def array_axes(spec: IndexSpec) -> tuple[int, ...]:
    """The dimensions of the basic view (``view_type``) that the array tokens index."""
    axes = []
    v = 0
    for t in spec:
        if t[0] == "int":
            continue
        if t[0] == "array":
            axes.append(v)
        v += 1
    return tuple(axes)


def broadcast_pattern(types: list[TensorType]) -> tuple[bool, ...]:
    """The broadcast pattern of index arrays broadcast together (right-aligned, NumPy's rule)."""
    nb = max((t.ndim for t in types), default=0)
    out = []
    for d in range(nb):
        flags = [t.broadcastable[d - (nb - t.ndim)] for t in types if d >= nb - t.ndim]
        out.append(all(flags))
    return tuple(out)


def adjacent(axes: tuple[int, ...]) -> bool:
    """NumPy keeps the broadcast dims in place when the indexed dims are consecutive."""
    return all(b == a + 1 for a, b in zip(axes, axes[1:]))


def index_result_type(x: TensorType, spec: IndexSpec, extras: list[TensorType]) -> TensorType:
    """The type of ``x[spec]``; checks the tokens against ``x`` and the extra inputs."""
    used = sum(1 for t in spec if t[0] != "newaxis")
    if used != x.ndim:
        raise IndexError(f"index {spec!r} has {used} entries for a {x.ndim}-d tensor")
    has_array = any(t[0] == "array" for t in spec)
    for t in spec:
        bounds = t[1:] if t[0] in ("slice", "int") else ()
        for b in bounds:
            if is_ref(b):
                et = extras[ref_index(b)]
                if et.ndim != 0 or et.dtype not in INT_DTYPES:
                    raise TypeError(f"index bound {b} must be an integer scalar, got {et}")
        if t[0] == "int" and has_array:
            raise ValueError("an advanced index holds integers as 0-d arrays, not int tokens")
        if t[0] == "array" and extras[t[1]].dtype not in INT_DTYPES:
            raise TypeError(f"index array ${t[1]} must have an integer dtype, got {extras[t[1]]}")
    view = view_type(x, spec)
    if not has_array:
        return view
    axes = array_axes(spec)
    bpat = broadcast_pattern([extras[j] for j in spec.arrays()])
    rest = [view.broadcastable[d] for d in range(view.ndim) if d not in axes]
    if adjacent(axes):
        first = axes[0]
        pattern = (tuple(view.broadcastable[:first]) + bpat
                   + tuple(view.broadcastable[axes[-1] + 1:]))
    else:
        pattern = bpat + tuple(rest)
    return TensorType(x.dtype, pattern)


def numpy_key(spec: IndexSpec, extras: list[np.ndarray]) -> tuple:
    """The NumPy index equivalent to ``spec`` given the extra inputs' values."""

    def bound(b):
        return int(extras[ref_index(b)]) if is_ref(b) else b

    key: list = []
    for t in spec:
        if t[0] == "slice":
            key.append(slice(bound(t[1]), bound(t[2]), bound(t[3])))
        elif t[0] == "int":
            key.append(bound(t[1]))
        elif t[0] == "newaxis":
            key.append(None)
        else:
            key.append(np.asarray(extras[t[1]]).astype(np.intp))
    return tuple(key)


# --- records ------------------------------------------------------------------------------------
def _index_rule(types, params):
    return [index_result_type(types[0], params["idx"], list(types[1:]))]


def _index_perform(values, params):
    x, extras = values[0], list(values[1:])
    return [x[numpy_key(params["idx"], extras)]]


def _index_vjp(node, g):
    from croton.tensor.subtensor import build_inc

    x, extras = node.inputs[0], node.inputs[1:]
    spec = dict(node.params)["idx"]
    zeros = _t().zeros_like(x)
    return [build_inc(zeros, g[0], spec, extras, set_instead=False)] + [None] * len(extras)


def _inc_rule(types, params):
    x, y, extras = types[0], types[1], list(types[2:])
    region = index_result_type(x, params["idx"], extras)
    if y.ndim != region.ndim:
        raise ValueError(f"the value written has {y.ndim} dims; the region {region} has "
                         f"{region.ndim}")
    if upcast(x.dtype, y.dtype) != x.dtype:
        raise TypeError(f"cannot write {y.dtype} values into a {x.dtype} tensor")
    return [x]


def _inc_perform(set_instead: bool):
    def perform(values, params):
        x, y, extras = values[0], values[1], list(values[2:])
        key = numpy_key(params["idx"], extras)
        out = np.array(x, copy=True)
        region_shape = out[key].shape
        y = np.asarray(y, dtype=out.dtype)
        if set_instead:
            out[key] = y
        elif params["idx"].arrays():
            np.add.at(out, key, np.broadcast_to(y, region_shape))
        else:
            out[key] += y
        return [out]

    return perform


def _inc_vjp(set_instead: bool):
    def vjp(node, g):
        from croton.tensor.subtensor import build_inc, build_index

        y, extras = node.inputs[1], node.inputs[2:]
        spec = dict(node.params)["idx"]
        gx = g[0]
        if set_instead:
            gx = build_inc(gx, _t().zeros_like(y), spec, extras, set_instead=True)
        gy = build_index(g[0], spec, extras)
        return [gx, gy] + [None] * len(extras)

    return vjp


def _nonzero_rule(types, params):
    mask, x = types
    axis = params["axis"]
    if mask.dtype != "bool" or mask.ndim == 0:
        raise TypeError(f"a boolean mask must be a bool tensor of ndim >= 1, got {mask}")
    if axis + mask.ndim > x.ndim:
        raise IndexError(f"a {mask.ndim}-d boolean mask at axis {axis} does not fit {x}")
    return [TensorType("int64", (False,))] * mask.ndim


def _nonzero_perform(values, params):
    mask, x = values
    axis = params["axis"]
    for d, n in enumerate(mask.shape):
        if n != x.shape[axis + d]:
            raise IndexError(f"boolean index did not match indexed array along axis "
                             f"{axis + d}; size of axis is {x.shape[axis + d]} but size of "
                             f"corresponding boolean axis is {n}")
    return [c.astype("int64") for c in np.nonzero(mask)]


# --- shape facts (croton/ops/shapes.py) -------------------------------------------------------
def view_dims(spec: IndexSpec, ins, x: int, first_extra: int) -> list:
    """The dims of the basic view of input ``x`` (``view_type``): slice lengths, new axes,
    array-indexed dims whole; a bound ``"$j"`` is the value of input ``first_extra + j``."""

    def bound(b):
        if b is None:
            return False, 0
        return True, ins.value(first_extra + ref_index(b)) if is_ref(b) else ins.int(int(b))

    out, d = [], 0
    for t in spec:
        if t[0] == "newaxis":
            out.append(1)
            continue
        if t[0] == "slice":
            step = 1 if t[3] is None else bound(t[3])[1]
            out.append(ins.call(SLICE_LENGTH, ins.dim(x, d), *bound(t[1]), *bound(t[2]), step))
        elif t[0] == "array":
            out.append(ins.dim(x, d))
        d += 1
    return out


def region_dims(spec: IndexSpec, ins, view: list, first_extra: int) -> list:
    """The dims of ``view[arrays]`` (NumPy's advanced indexing of the basic view's dims
    ``view``): the index arrays' broadcast dims, in place when the indexed dims are adjacent,
    else first."""
    arrays = [first_extra + j for j in spec.arrays()]
    ndims = [ins.types[k].ndim for k in arrays]
    nb = max(ndims)
    bshape = [ins.call(BROADCAST_LENGTH, *[ins.dim(k, d - (nb - n))
                                           for k, n in zip(arrays, ndims) if d >= nb - n])
              for d in range(nb)]
    axes = array_axes(spec)
    if adjacent(axes):
        return view[:axes[0]] + bshape + view[axes[-1] + 1:]
    return bshape + [w for d, w in enumerate(view) if d not in axes]


def _index_shape(params, ins):
    spec = params["idx"]
    view = view_dims(spec, ins, 0, 1)
    return [region_dims(spec, ins, view, 1) if spec.arrays() else view]


def _nonzero_shape(params, ins):
    """Each coordinate vector has one entry per true element: a count the kernel computes."""
    count = ins.computed("count", np.count_nonzero, ins.array(0))
    return [[count] for _ in range(ins.types[0].ndim)]


def _t():
    import croton.tensor as T

    return T


register(OpRecord("subtensor", "subtensor", _index_rule, _index_perform, _index_vjp,
                  views=(0,), arithmetic=False, shape=_index_shape,
                  doc="x[idx] with slices, integers and new axes: a strided view of x"))
register(OpRecord("advanced_subtensor", "advanced_subtensor", _index_rule, _index_perform,
                  _index_vjp, shape=_index_shape,
                  doc="x[idx] with integer arrays (NumPy's advanced indexing): a "
                      "gather into a new array"))
register(OpRecord("set_subtensor", "inc_subtensor", _inc_rule, _inc_perform(True),
                  _inc_vjp(True), shape=same_as(0),
                  doc="a copy of x with x[idx] = y (y broadcasts to the region; "
                      "repeated indices: the last write wins)"))
register(OpRecord("inc_subtensor", "inc_subtensor", _inc_rule, _inc_perform(False),
                  _inc_vjp(False), shape=same_as(0),
                  doc="a copy of x with x[idx] += y (repeated indices "
                      "accumulate, as numpy.add.at)"))
register(OpRecord("mask_nonzero", "mask_nonzero", _nonzero_rule, _nonzero_perform,
                  lambda node, g: [None, None], nin=2, shape=_nonzero_shape,
                  doc="the coordinates of mask's true elements, one int64 vector per mask dim; "
                      "x (indexed from axis) checks the mask's shape"))
