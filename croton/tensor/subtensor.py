"""Indexing: basic and advanced ``x[...]``, ``take``, ``set_subtensor``, ``inc_subtensor``.

``x[key]`` follows NumPy: slices (with symbolic bounds), integers, ``None`` and ``...`` give a
strided view (``subtensor``); integer arrays and boolean masks give a gather
(``advanced_subtensor``). ``set_subtensor(x[key], y)`` and ``inc_subtensor(x[key], y)`` look at
the indexing node to find ``x`` and the index, and return a new variable (``x`` is not changed).

Example::

    >>> import croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> x[1:, 0].type
    TensorType(float64, vector)
    >>> T.set_subtensor(x[:, 0], 0.0).owner.op.name
    'set_subtensor'
"""

from __future__ import annotations

import numpy as np

from croton.graph import Constant, Variable, user_source_line
from croton.ops.subtensor import IndexSpec
from croton.ops.table import OPS, apply_op, make_output
from croton.tensor.basic import as_tensor_variable, constant
from croton.types import FLOAT_DTYPES, INT_DTYPES, upcast

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _index_error(message: str) -> IndexError:
    return IndexError(f"{message} (at {user_source_line()})")


def _type_error(message: str) -> TypeError:
    return TypeError(f"{message} (at {user_source_line()})")


class _Key:
    """The parsed entries of one index: tokens plus the extra inputs they reference."""

    def __init__(self) -> None:
        self.extras: list[Variable] = []

    def extra(self, var: Variable) -> int:
        for j, e in enumerate(self.extras):
            if e is var:
                return j
        self.extras.append(var)
        return len(self.extras) - 1


def _python_int(value) -> int | None:
    """``value`` as a Python int when it is a concrete integer (int, NumPy int, 0-d constant)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, Constant) and value.ndim == 0 and value.dtype in INT_DTYPES:
        return int(value.data)
    return None


def _bound(value, key: _Key, what: str):
    """A slice bound or an integer index: None, a clamped Python int, or ``"$j"``."""
    if value is None:
        return None
    concrete = _python_int(value)
    if concrete is not None:
        return min(max(concrete, _INT64_MIN + 1), _INT64_MAX)
    if isinstance(value, Variable):
        if value.ndim != 0 or value.dtype not in INT_DTYPES:
            raise _type_error(f"{what} must be an integer scalar, got {value!r} of type "
                              f"{value.type}")
        return f"${key.extra(value)}"
    raise _type_error(f"{what} must be an integer or a symbolic integer scalar, got "
                      f"{type(value).__name__} {value!r}")


def _classify(item):
    """('ellipsis'|'newaxis'|'slice'|'int'|'array'|'mask', value) for one entry of a key."""
    if item is Ellipsis:
        return "ellipsis", item
    if item is None:
        return "newaxis", item
    if isinstance(item, slice):
        return "slice", item
    if isinstance(item, bool | np.bool_):
        raise _type_error("a Python bool is not a valid index; use a boolean tensor mask")
    if _python_int(item) is not None:
        return "int", _python_int(item)
    if isinstance(item, list | tuple | np.ndarray):
        data = np.asarray(item)
        if data.size == 0 and data.dtype.kind == "f":
            data = data.astype("int64")
        item = constant(data)
    if isinstance(item, Variable):
        if item.dtype == "bool":
            if item.ndim == 0:
                raise _type_error("a 0-d boolean index is not supported")
            return "mask", item
        if item.dtype not in INT_DTYPES:
            raise _type_error(f"index {item!r} has dtype {item.dtype}; indices must be "
                              f"integers (or a boolean mask)")
        return ("int" if item.ndim == 0 else "array"), item
    raise _type_error(f"{type(item).__name__} {item!r} is not a valid index")


def _expand(x: Variable, key) -> list[tuple[str, object]]:
    """Classify each entry, check the count against ``x.ndim``, and expand ``...``."""
    items = [_classify(k) for k in (key if isinstance(key, tuple) else (key,))]
    used = sum(v.ndim if kind == "mask" else 1 for kind, v in items
               if kind not in ("ellipsis", "newaxis"))
    if sum(kind == "ellipsis" for kind, _ in items) > 1:
        raise _index_error("an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise _index_error(f"too many indices for a tensor of {x.ndim} dimension(s): "
                           f"{used} were indexed")
    full = ("slice", slice(None))
    out: list[tuple[str, object]] = []
    for kind, v in items:
        if kind == "ellipsis":
            out.extend([full] * (x.ndim - used))
        else:
            out.append((kind, v))
    if not any(kind == "ellipsis" for kind, _ in items):
        out.extend([full] * (x.ndim - used))
    return out


def _slice_token(s: slice, key: _Key) -> tuple:
    if isinstance(s.step, int | np.integer) and not isinstance(s.step, bool) and s.step == 0:
        raise ValueError(f"slice step cannot be zero (at {user_source_line()})")
    return ("slice", _bound(s.start, key, "a slice start"), _bound(s.stop, key, "a slice stop"),
            _bound(s.step, key, "a slice step"))


def getitem(x: Variable, key) -> Variable:
    """``x[key]`` with NumPy's semantics (``Variable.__getitem__`` calls this).

    Example::

        >>> import croton.tensor as T
        >>> x = T.dtensor3('x')
        >>> x[..., None, ::2].broadcastable
        (False, False, True, False)
        >>> x[T.lvector('i'), 0].ndim
        2
    """
    x = as_tensor_variable(x)
    if isinstance(key, list) and any(isinstance(k, slice) for k in key):
        key = tuple(key)  # as Theano (and old NumPy): a list holding slices is a tuple of indices
    entries = _expand(x, key)
    parsed = _Key()
    advanced = any(kind in ("array", "mask") for kind, _ in entries)
    tokens: list[tuple] = []
    x_dim = 0
    for kind, v in entries:
        if kind == "newaxis":
            tokens.append(("newaxis",))
            continue
        if kind == "slice":
            tokens.append(_slice_token(v, parsed))
        elif kind == "int" and not advanced:
            tokens.append(("int", _bound(v, parsed, "an integer index")))
        elif kind == "int":
            index = v if isinstance(v, Variable) else constant(np.int64(v))
            tokens.append(("array", parsed.extra(index)))
        elif kind == "array":
            tokens.append(("array", parsed.extra(v)))
        else:  # a boolean mask: the coordinates of its true elements, one array per mask dim
            node = apply_op(OPS["mask_nonzero"], [v, x], axis=x_dim)
            tokens.extend(("array", parsed.extra(c)) for c in node.outputs)
            x_dim += v.ndim
            continue
        x_dim += 1
    return build_index(x, IndexSpec(tokens), parsed.extras)


def build_index(x: Variable, spec: IndexSpec, extras) -> Variable:
    """The node for ``x[spec]`` (``subtensor`` or ``advanced_subtensor``), given parsed tokens."""
    name = "advanced_subtensor" if spec.arrays() else "subtensor"
    return make_output(OPS[name], [x, *extras], idx=IndexSpec(spec))


def build_inc(x: Variable, y, spec: IndexSpec, extras, set_instead: bool) -> Variable:
    """``x`` with ``x[spec]`` set to (or incremented by) ``y``, which broadcasts to the region."""
    import croton.tensor as T

    region = build_index(x, spec, extras).type
    y = as_tensor_variable(y, like=[x])
    if y.ndim > region.ndim:
        raise ValueError(f"cannot write a {y.ndim}-d value into a {region.ndim}-d region of "
                         f"{x!r} (at {user_source_line()})")
    if y.dtype != x.dtype:
        # Theano and NumPy write any dtype (cast as by ``astype``). croton does the same for a
        # float into a narrower float (rounding: float64 values into a floatX=float32 array,
        # Lasagne's PadLayer), and refuses what would wrap or truncate (ints, floats into ints).
        narrower_float = x.dtype in FLOAT_DTYPES and y.dtype in FLOAT_DTYPES
        if upcast(x.dtype, y.dtype) != x.dtype and not narrower_float:
            raise _type_error(f"cannot write {y.dtype} values into {x!r} of dtype {x.dtype} "
                              f"without loss; cast them first")
        y = T.cast(y, x.dtype)
    if y.ndim < region.ndim:
        y = T.dimshuffle(y, ("x",) * (region.ndim - y.ndim) + tuple(range(y.ndim)))
    name = "set_subtensor" if set_instead else "inc_subtensor"
    return make_output(OPS[name], [x, y, *extras], idx=IndexSpec(spec))


def _indexed(x: Variable, fn: str):
    node = getattr(x, "owner", None)
    if node is None or node.op.name not in ("subtensor", "advanced_subtensor"):
        raise _type_error(f"{fn}: the first argument must be an indexed variable such as "
                          f"x[1:3] or x[idx], got {x!r}")
    return node.inputs[0], dict(node.params)["idx"], node.inputs[1:]


def set_subtensor(x: Variable, y, inplace: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """A copy of the indexed tensor with the region ``x`` selects replaced by ``y``.

    Example::

        >>> import croton, croton.tensor as T
        >>> v = T.dvector('v')
        >>> f = croton.function([v], T.set_subtensor(v[1:], 5.0), mode='NUMPY')
        >>> f([1.0, 2.0, 3.0]).tolist()
        [1.0, 5.0, 5.0]
    """
    base, spec, extras = _indexed(x, "set_subtensor")
    return build_inc(base, y, spec, extras, set_instead=True)


def inc_subtensor(x: Variable, y, inplace: bool = False, set_instead_of_inc: bool = False,
                  tolerate_inplace_aliasing: bool = False) -> Variable:
    """A copy of the indexed tensor with ``y`` added to the region ``x`` selects; repeated
    integer-array indices accumulate (``numpy.add.at``).

    Example::

        >>> import croton, croton.tensor as T
        >>> v = T.dvector('v')
        >>> f = croton.function([v], T.inc_subtensor(v[[0, 0]], 1.0), mode='NUMPY')
        >>> f([1.0, 2.0]).tolist()
        [3.0, 2.0]
    """
    base, spec, extras = _indexed(x, "inc_subtensor")
    return build_inc(base, y, spec, extras, set_instead=set_instead_of_inc)


def take(a, indices, axis: int | None = None, mode: str = "raise") -> Variable:
    """Elements of ``a`` at ``indices`` along ``axis`` (the flattened ``a`` when None).

    Example::

        >>> import croton.tensor as T
        >>> T.take(T.dmatrix('m'), T.lvector('i'), axis=1).ndim
        2
    """
    import croton.tensor as T

    if mode != "raise":
        raise NotImplementedError(f"take: mode={mode!r} is not supported, only 'raise'")
    a = as_tensor_variable(a)
    if not isinstance(indices, Variable):
        indices = constant(np.asarray(indices) if np.asarray(indices).size else
                           np.asarray(indices, dtype="int64"))
    if axis is None:
        if a.ndim != 1:
            flatten = getattr(T, "flatten", None)
            if flatten is not None:
                a = flatten(a)
            else:
                a = _flat(a)
        return getitem(a, indices)
    if not -a.ndim <= axis < a.ndim:
        raise _index_error(f"take: axis {axis} is out of range for a {a.ndim}-d tensor")
    axis %= a.ndim
    return getitem(a, (slice(None),) * axis + (indices,))


def _flat(a: Variable) -> Variable:
    """``a`` flattened in C order, without a reshape op: the elements under an all-true mask."""
    import croton.tensor as T

    return getitem(a, T.ones_like(a, dtype="bool"))


__all__ = ["set_subtensor", "inc_subtensor", "take"]
