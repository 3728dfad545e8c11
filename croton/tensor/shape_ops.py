"""Shape functions: ``reshape``, ``flatten``, ``concatenate``, ``stack``, ``split``, ``repeat``,
``tile``, ``arange``, ``alloc``, ``zeros``, ``ones``, ``eye``, ``diag``, broadcast patterns...

Shapes may mix Python ints and symbolic int scalars (``x.shape[0] // 2``), or be a symbolic int
vector; the compiled code reads computed values when a shape depends on them.

Example::

    >>> import croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> T.reshape(x, (x.shape[1], -1)).ndim
    2
    >>> T.concatenate([x, x], axis=1).broadcastable
    (False, False)
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from croton.config import config
from croton.graph import Constant, Variable, user_source_line
from croton.ops.shape_ops import Layout
from croton.ops.table import OPS, apply_op, make_output
from croton.tensor.basic import as_tensor_variable, constant
from croton.tensor.math import dimshuffle, shape_i
from croton.types import INT_DTYPES, upcast

__all__ = [
    "reshape", "flatten", "swapaxes", "concatenate", "stack", "join", "split", "repeat",
    "tile", "squeeze", "shape", "shape_index", "arange", "alloc", "zeros", "ones", "eye",
    "diag", "addbroadcast", "unbroadcast", "patternbroadcast", "specify_shape",
    "shape_padleft", "shape_padright", "shape_padaxis", "tensor_copy", "get_vector_length",
]


def _build(name: str, inputs: Sequence[Variable], **params) -> Variable:
    """One-output node; a type-rule error names the user's line."""
    return _build_node(name, inputs, **params).outputs[0]


def _build_node(name: str, inputs: Sequence[Variable], **params):
    try:
        return apply_op(OPS[name], list(inputs), **params)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{exc} (at {user_source_line()})") from None


def _error(cls: type, message: str) -> Exception:
    return cls(f"{message} (at {user_source_line()})")


def _axis(axis, ndim: int, what: str) -> int:
    if isinstance(axis, Variable):
        if not isinstance(axis, Constant):
            raise _error(TypeError, f"{what}: axis must be a Python int, not a variable")
        axis = axis.data.item()
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise _error(ValueError, f"{what}: axis {axis} is out of range for ndim {ndim}")
    return axis % ndim


def _dims(shape, first: int, what: str, ndim: int | None = None,
          allow_none: bool = False) -> tuple[list[Variable], tuple]:
    """The extra inputs and the ``layout`` parameter of a shape argument (see
    ``croton/ops/shape_ops.py``); inputs are numbered from ``first``."""
    inputs: list[Variable] = []
    layout: list[tuple] = []

    def add(v) -> None:
        if v is None and allow_none:
            layout.append(("n",))
            return
        if not isinstance(v, Variable):
            try:
                layout.append(("c", operator.index(v)))
            except TypeError:
                raise _error(TypeError, f"{what}: shape entries must be integers or integer "
                                        f"scalars, got {v!r}") from None
            return
        if v.ndim != 0 or v.dtype not in INT_DTYPES:
            raise _error(TypeError, f"{what}: a shape entry must be an integer scalar, got "
                                    f"{v.type}")
        if isinstance(v, Constant):
            layout.append(("c", int(v.data)))
            return
        if v.owner is not None and v.owner.op.name == "shape_i":
            src, i = v.owner.inputs[0], dict(v.owner.params)["i"]
            if src.broadcastable[i]:
                layout.append(("c", 1))
                return
        layout.append(("s", first + len(inputs)))
        inputs.append(v)

    if isinstance(shape, Variable) and shape.ndim == 1:
        if shape.dtype not in INT_DTYPES:
            raise _error(TypeError, f"{what}: the shape must be an integer vector, got "
                                    f"{shape.type}")
        if isinstance(shape, Constant):
            for k in shape.data:
                add(int(k))
        elif shape.owner is not None and shape.owner.op.name == "shape":
            src = shape.owner.inputs[0]
            for d in range(src.ndim):
                add(shape_i(src, d))
        else:
            if ndim is None:
                raise _error(ValueError, f"{what}: the length of the symbolic shape vector "
                                         f"cannot be determined; pass ndim=")
            j = first + len(inputs)
            inputs.append(shape)
            layout.extend(("v", j, i) for i in range(ndim))
    elif isinstance(shape, Variable) and shape.ndim > 1:
        raise _error(TypeError, f"{what}: the shape must be a list or a vector, got {shape.type}")
    elif isinstance(shape, list | tuple | np.ndarray):
        for v in shape:
            add(v)
    else:
        add(shape)
    if ndim is not None and ndim != len(layout):
        raise _error(ValueError, f"{what}: ndim={ndim} but the shape has {len(layout)} entries")
    return inputs, Layout(layout)


# --- shape ------------------------------------------------------------------------------------
def shape(x) -> Variable:
    """The shape of ``x`` as an int64 vector (``x.shape``); ``x.shape[0]`` is ``shape_i``."""
    return make_output(OPS["shape"], [as_tensor_variable(x)])


def get_vector_length(v) -> int:
    """The statically known length of a vector (Theano's ``get_vector_length``): of a shape,
    a constant, a broadcastable vector, a constant slice or a concatenation of those.
    ValueError otherwise.

    >>> import croton.tensor as T
    >>> get_vector_length(T.tensor4('x').shape)
    4
    """
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise ValueError(f"get_vector_length: {v!r} is not a vector ({v.type})")
    if v.broadcastable[0]:
        return 1
    if isinstance(v, Constant):
        return len(v.data)
    owner = v.owner
    if owner is not None and owner.op.name == "shape":
        return owner.inputs[0].ndim
    if owner is not None and owner.op.name == "join":
        return sum(get_vector_length(i) for i in owner.inputs)
    if owner is not None and owner.op.name == "subtensor":  # x.shape[2:]: a constant slice
        tokens = list(dict(owner.params)["idx"])
        if len(tokens) == 1 and tokens[0][0] == "slice" and all(
                b is None or (isinstance(b, int) and not isinstance(b, bool))
                for b in tokens[0][1:]):
            n = get_vector_length(owner.inputs[0])
            return len(range(n)[slice(*tokens[0][1:])])
    raise ValueError(f"get_vector_length: the length of {v!r} is not known statically")


def shape_index(var: Variable, i) -> Variable | None:
    """``shape_i(x, i)`` when ``var`` is ``shape(x)`` and ``i`` a Python int, else None (for
    the indexing code: ``x.shape[0]`` needs no vector at run time).

    >>> import croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> shape_index(x.shape, -1).owner.op.name
    'shape_i'
    """
    if not (isinstance(var, Variable) and var.owner is not None
            and var.owner.op.name == "shape") or isinstance(i, bool):
        return None
    try:
        i = operator.index(i)
    except TypeError:
        return None
    src = var.owner.inputs[0]
    if not -src.ndim <= i < src.ndim:
        # as Theano, not an error while building: indexing the shape vector checks its bounds
        # when the function runs (code may test the rank after taking x.shape[1])
        return None
    return shape_i(src, i % src.ndim)


# --- reshape, flatten ---------------------------------------------------------------------------
def reshape(x, newshape, ndim: int | None = None) -> Variable:
    """``x`` with shape ``newshape`` (ints, int scalars, or an int vector; one entry may be
    -1). A view when ``x`` is contiguous at run time, else a copy.

    >>> import croton.tensor as T
    >>> T.reshape(T.dvector('v'), (2, -1)).broadcastable
    (False, False)
    """
    x = as_tensor_variable(x)
    inputs, layout = _dims(newshape, 1, "reshape", ndim)
    if _same_shape(x, inputs, layout):
        return x
    return _build("reshape", [x, *inputs], layout=layout)


def _same_shape(x: Variable, inputs: list[Variable], layout: tuple) -> bool:
    """True when ``layout`` is exactly ``x.shape`` (the reshape would change nothing)."""
    if len(layout) != x.ndim:
        return False
    for d, entry in enumerate(layout):
        if entry == ("c", 1) and x.broadcastable[d]:
            continue
        if entry[0] != "s":
            return False
        owner = inputs[entry[1] - 1].owner
        if owner is None or owner.op.name != "shape_i" or owner.inputs[0] is not x \
                or dict(owner.params)["i"] != d:
            return False
    return True


def flatten(x, ndim: int = 1, outdim: int | None = None) -> Variable:
    """``x`` with its trailing dimensions merged so that it has ``ndim`` dimensions."""
    x = as_tensor_variable(x)
    ndim = outdim if outdim is not None else ndim
    if ndim < 1 or (ndim > 1 and ndim > x.ndim):
        raise _error(ValueError, f"flatten: ndim={ndim} is invalid for a tensor of ndim "
                                 f"{x.ndim}")
    lead = [shape_i(x, d) for d in range(ndim - 1)]
    rest = x.broadcastable[ndim - 1:]
    return reshape(x, lead + [1 if all(rest) else -1])


# --- dimshuffle-based -------------------------------------------------------------------------
def swapaxes(x, axis1: int, axis2: int) -> Variable:
    """``x`` with two axes exchanged (a view)."""
    x = as_tensor_variable(x)
    a, b = _axis(axis1, x.ndim, "swapaxes"), _axis(axis2, x.ndim, "swapaxes")
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return dimshuffle(x, order)


def squeeze(x, axis=None) -> Variable:
    """``x`` without its broadcastable dimensions (or the given ones, checked to be 1)."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [d for d in range(x.ndim) if x.broadcastable[d]]
    else:
        axes = axis if isinstance(axis, list | tuple) else [axis]
        drop = sorted({_axis(a, x.ndim, "squeeze") for a in axes})
        x = addbroadcast(x, *drop)
    return dimshuffle(x, [d for d in range(x.ndim) if d not in drop])


def shape_padleft(t, n_ones: int = 1) -> Variable:
    """``t`` with ``n_ones`` broadcastable dimensions in front."""
    t = as_tensor_variable(t)
    return dimshuffle(t, ["x"] * n_ones + list(range(t.ndim)))


def shape_padright(t, n_ones: int = 1) -> Variable:
    """``t`` with ``n_ones`` broadcastable dimensions at the end."""
    t = as_tensor_variable(t)
    return dimshuffle(t, list(range(t.ndim)) + ["x"] * n_ones)


def shape_padaxis(t, axis: int) -> Variable:
    """``t`` with a broadcastable dimension inserted at ``axis``."""
    t = as_tensor_variable(t)
    axis = _axis(axis, t.ndim + 1, "shape_padaxis")
    order: list = list(range(t.ndim))
    order.insert(axis, "x")
    return dimshuffle(t, order)


# --- join, stack, split -----------------------------------------------------------------------
def _as_tensors(values) -> list[Variable]:
    like = [v for v in values if isinstance(v, Variable)]
    return [as_tensor_variable(v, like=like) for v in values]


def concatenate(tensor_list: Sequence, axis: int = 0) -> Variable:
    """The tensors joined along ``axis`` (same ndim; dtypes upcast as NumPy does)."""
    tensors = _as_tensors(list(tensor_list))
    if not tensors:
        raise _error(ValueError, "concatenate: need at least one tensor")
    if any(t.ndim != tensors[0].ndim for t in tensors):
        raise _error(ValueError, f"concatenate: all tensors must have the same ndim, got "
                                 f"{[t.ndim for t in tensors]}")
    if tensors[0].ndim == 0:
        raise _error(ValueError, "concatenate: zero-dimensional tensors cannot be "
                                 "concatenated; use stack")
    axis = _axis(axis, tensors[0].ndim, "concatenate")
    if len(tensors) == 1:
        return tensors[0]
    return _build("join", tensors, axis=axis)


def join(axis: int, *tensors) -> Variable:
    """Theano's ``join(axis, *tensors)``: ``concatenate(tensors, axis)``."""
    return concatenate(tensors, axis)


def stack(*tensors, axis: int = 0) -> Variable:
    """The tensors (same ndim) stacked along a new ``axis``: ``stack([a, b], axis=1)``; scalars
    give a vector. ``stack(a, b)`` also works, as in old Theano."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    items = _as_tensors(list(tensors))
    if not items:
        raise _error(ValueError, "stack: need at least one tensor")
    if any(t.ndim != items[0].ndim for t in items):
        raise _error(ValueError, f"stack: all tensors must have the same ndim, got "
                                 f"{[t.ndim for t in items]}")
    nd = items[0].ndim
    axis = _axis(axis, nd + 1, "stack")
    padded = [shape_padaxis(t, axis) for t in items]
    if len(padded) == 1:
        return padded[0]
    return _build("join", padded, axis=axis)


def split(x, splits_size, n_splits: int, axis: int = 0) -> list[Variable]:
    """``x`` cut along ``axis`` into ``n_splits`` pieces of sizes ``splits_size`` (a list of
    ints/int scalars, or an int vector); the sizes must add up to the axis length."""
    x = as_tensor_variable(x)
    axis = _axis(axis, x.ndim, "split")
    inputs, layout = _dims(splits_size, 1, "split", int(n_splits))
    return list(_build_node("split", [x, *inputs], axis=axis, layout=layout).outputs)


# --- repeat, tile -------------------------------------------------------------------------------
def repeat(x, repeats, axis: int | None = None) -> Variable:
    """NumPy's ``repeat``: ``repeats`` an int (or int scalar) or an int vector (one count per
    element); ``axis=None`` repeats the flattened ``x``."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = flatten(x), 0
    axis = _axis(axis, x.ndim, "repeat")
    if isinstance(repeats, list | tuple | np.ndarray):
        repeats = constant(np.asarray(repeats, dtype="int64"))
    if isinstance(repeats, Variable) and repeats.ndim == 1:
        return _build("repeat", [x, repeats], axis=axis)
    if isinstance(repeats, Variable) and (repeats.ndim != 0 or repeats.dtype not in INT_DTYPES):
        raise _error(TypeError, f"repeat: repeats must be an integer scalar or vector, got "
                                f"{repeats.type}")
    # a scalar count: broadcast a new axis after `axis` to the count, then merge the two
    order: list = list(range(x.ndim))
    order.insert(axis + 1, "x")
    dims: list = [shape_i(x, d) for d in range(x.ndim)]
    grown = alloc(dimshuffle(x, order), *dims[:axis + 1], repeats, *dims[axis + 1:])
    return reshape(grown, dims[:axis] + [dims[axis] * repeats] + dims[axis + 1:])


def _vector_entries(v: Variable, n: int) -> list[Variable]:
    return [reshape(p, ()) for p in split(v, [1] * n, n)]


def tile(x, reps, ndim: int | None = None) -> Variable:
    """``x`` repeated ``reps[d]`` times along each dimension (reps: ints, int scalars, or an
    int vector with ``ndim``); the result has ``max(x.ndim, len(reps))`` dimensions."""
    x = as_tensor_variable(x)
    if isinstance(reps, Variable) and reps.ndim == 1 and not isinstance(reps, Constant):
        if ndim is None:
            raise _error(ValueError, "tile: reps is a symbolic vector; pass ndim=")
        reps = _vector_entries(reps, ndim)
    elif isinstance(reps, Constant):
        reps = [int(r) for r in np.atleast_1d(reps.data)]
    elif not isinstance(reps, list | tuple | np.ndarray):
        reps = [reps]
    reps = list(reps)
    nd = max(x.ndim, len(reps), ndim or 0)
    reps = [1] * (nd - len(reps)) + reps
    x = shape_padleft(x, nd - x.ndim) if nd > x.ndim else x
    order: list = []
    for d in range(nd):
        order += ["x", d]
    dims = [shape_i(x, d) for d in range(nd)]
    grown = alloc(dimshuffle(x, order), *[v for d in range(nd) for v in (reps[d], dims[d])])
    return reshape(grown, [dims[d] if isinstance(reps[d], int) and reps[d] == 1
                           else reps[d] * dims[d] for d in range(nd)])


# --- construction -------------------------------------------------------------------------------
def alloc(value, *shape) -> Variable:
    """``value`` broadcast to ``shape`` (ints and int scalars) in new memory: ``alloc(0.0, n,
    m)``."""
    value = as_tensor_variable(value)
    inputs, layout = _dims(list(shape), 1, "alloc")
    return _build("alloc", [value, *inputs], layout=layout)


def _filled(fill_value: int, shape, dtype: str | None) -> Variable:
    dtype = dtype or config.floatX
    if not isinstance(shape, list | tuple | np.ndarray):
        shape = [shape] if not isinstance(shape, Variable) or shape.ndim == 0 else shape
    if isinstance(shape, Variable):
        inputs, layout = _dims(shape, 1, "alloc")
        return _build("alloc", [constant(fill_value, dtype=dtype), *inputs], layout=layout)
    return alloc(constant(fill_value, dtype=dtype), *shape)


def zeros(shape, dtype: str | None = None) -> Variable:
    """Zeros of ``shape`` (ints, int scalars or an int vector), default dtype floatX."""
    return _filled(0, shape, dtype)


def ones(shape, dtype: str | None = None) -> Variable:
    """Ones of ``shape`` (ints, int scalars or an int vector), default dtype floatX."""
    return _filled(1, shape, dtype)


def _int_scalar(v, what: str) -> Variable:
    v = as_tensor_variable(v) if isinstance(v, Variable) else constant(operator.index(v),
                                                                       dtype="int64")
    if v.ndim != 0 or v.dtype not in INT_DTYPES:
        raise _error(TypeError, f"{what} must be an integer scalar, got {v.type}")
    return v


def arange(start, stop=None, step=1, dtype: str | None = None) -> Variable:
    """NumPy's ``arange`` with symbolic (scalar) bounds; the dtype is the upcast of the
    bounds' dtypes unless given."""
    if stop is None:
        start, stop = 0, start
    start, stop, step = _as_tensors([start, stop, step])
    for v in (start, stop, step):
        if v.ndim != 0:
            raise _error(TypeError, f"arange: bounds must be scalars, got {v.type}")
    if isinstance(step, Constant) and step.data.item() == 0:
        raise _error(ValueError, "arange: step must not be zero")
    dtype = dtype or upcast(start.dtype, stop.dtype, step.dtype)
    return _build("arange", [start, stop, step], dtype=str(dtype))


def eye(n, m=None, k=0, dtype: str | None = None) -> Variable:
    """An ``(n, m)`` matrix with ones on diagonal ``k`` (n, m, k: ints or int scalars)."""
    n = _int_scalar(n, "eye: n")
    m = n if m is None else _int_scalar(m, "eye: m")
    return _build("eye", [n, m, _int_scalar(k, "eye: k")], dtype=dtype or config.floatX)


def diag(v, k: int = 0) -> Variable:
    """A vector becomes a square matrix with it on diagonal ``k``; a matrix gives its
    diagonal ``k`` (a view)."""
    v = as_tensor_variable(v)
    k = operator.index(k)
    if v.ndim == 1:
        return _build("alloc_diag", [v], k=k)
    if v.ndim == 2:
        return _build("extract_diag", [v], k=k)
    raise _error(ValueError, f"diag: expected a vector or a matrix, got {v.type}")


# --- broadcast patterns and shape assertions --------------------------------------------------
def patternbroadcast(x, broadcastable: Sequence[bool]) -> Variable:
    """``x`` with the broadcast pattern ``broadcastable`` (new broadcastable dims are checked
    to have length 1 at run time)."""
    x = as_tensor_variable(x)
    pattern = tuple(bool(b) for b in broadcastable)
    if pattern == x.broadcastable:
        return x
    return _build("rebroadcast", [x], pattern=pattern)


def addbroadcast(x, *axes: int) -> Variable:
    """``x`` with ``axes`` declared broadcastable (checked to have length 1 at run time)."""
    x = as_tensor_variable(x)
    axes_set = {_axis(a, x.ndim, "addbroadcast") for a in axes}
    return patternbroadcast(x, [b or d in axes_set for d, b in enumerate(x.broadcastable)])


def unbroadcast(x, *axes: int) -> Variable:
    """``x`` with ``axes`` no longer broadcastable."""
    x = as_tensor_variable(x)
    axes_set = {_axis(a, x.ndim, "unbroadcast") for a in axes}
    return patternbroadcast(x, [b and d not in axes_set for d, b in enumerate(x.broadcastable)])


def specify_shape(x, shape) -> Variable:
    """``x``, checked at run time to have ``shape`` (ints, int scalars or None for any)."""
    x = as_tensor_variable(x)
    inputs, layout = _dims(shape, 1, "specify_shape", x.ndim, allow_none=True)
    return _build("specify_shape", [x, *inputs], layout=layout)


def tensor_copy(x) -> Variable:
    """A copy of ``x`` (``x.copy()``)."""
    from croton.tensor.math import identity

    return identity(as_tensor_variable(x))
