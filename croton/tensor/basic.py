"""Typed variable constructors and conversion of Python values to graph variables.

Example::

    >>> import croton.tensor as T
    >>> x, y = T.fmatrices('x', 'y')
    >>> x.type, T.as_tensor_variable(0.5, like=[x]).dtype
    (TensorType(float32, matrix), 'float32')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.config import config
from croton.graph import Constant, Variable
from croton.types import COMPLEX_DTYPES, DTYPE_CODE, FLOAT_DTYPES, TensorType, upcast

_PREFIX_DTYPE = {"b": "int8", "w": "int16", "i": "int32", "l": "int64",
                 "f": "float32", "d": "float64", "c": "complex64", "z": "complex128"}
_KIND_PATTERN = {
    "scalar": (), "vector": (False,), "matrix": (False, False),
    "row": (True, False), "col": (False, True),
    **{f"tensor{n}": (False,) * n for n in range(3, 8)},
}


def tensor(dtype: str | None = None, broadcastable: Sequence[bool] = (),
           name: str | None = None, shape: Sequence[int | None] | None = None) -> Variable:
    """A symbolic tensor: ``tensor('float32', (False, True), 'x')`` (or ``shape=(None, 1)``)."""
    if shape is not None:
        broadcastable = tuple(s == 1 for s in shape)
    return Variable(TensorType(dtype or config.floatX, tuple(broadcastable)), name=name)


def _generic(kind: str):
    pattern = _KIND_PATTERN[kind]

    def make(name: str | None = None, dtype: str | None = None) -> Variable:
        return Variable(TensorType(dtype or config.floatX, pattern), name=name)

    make.__name__ = kind
    make.__doc__ = f"A symbolic {kind} of dtype ``dtype`` (default ``config.floatX``)."
    return make


def _typed(prefix: str, kind: str):
    dtype, pattern = _PREFIX_DTYPE[prefix], _KIND_PATTERN[kind]

    def make(name: str | None = None) -> Variable:
        return Variable(TensorType(dtype, pattern), name=name)

    make.__name__ = prefix + kind
    make.__doc__ = f"A symbolic {kind} of dtype {dtype}: ``{prefix}{kind}('x')``."
    return make


def _plural_name(kind: str) -> str:
    return kind[:-2] + "ices" if kind.endswith("matrix") else kind + "s"


def _plural(single, name: str):
    def make(*names) -> list[Variable] | Variable:
        # Theano 1.0.5's rules: an int n gives n unnamed variables; one string of several
        # characters names one variable per character (``p, t = matrices('pt')``), and a
        # one-character string gives that one variable. croton also splits one string at commas.
        if len(names) == 1 and isinstance(names[0], int):
            return [single() for _ in range(names[0])]
        if len(names) == 1 and isinstance(names[0], str):
            text = names[0]
            if "," in text:
                return [single(n.strip()) for n in text.split(",")]
            if len(text) == 1:
                return single(text)
            return [single(c) for c in text]
        return [single(n) for n in names]

    make.__name__ = name
    make.__doc__ = f"Several ``{single.__name__}`` variables: ``{name}('x', 'y')``."
    return make


def _build_constructors() -> dict[str, object]:
    found: dict[str, object] = {}
    for kind in _KIND_PATTERN:
        found[kind] = _generic(kind)
        for prefix in _PREFIX_DTYPE:
            single = _typed(prefix, kind)
            found[single.__name__] = single
            found[_plural_name(single.__name__)] = _plural(single, _plural_name(single.__name__))
    for kind in _KIND_PATTERN:
        found[_plural_name(kind)] = _plural(found[kind], _plural_name(kind))
    return found


CONSTRUCTORS = _build_constructors()


def constant(value, name: str | None = None, dtype: str | None = None) -> Constant:
    """A constant node; broadcastable where a dimension has length 1. A Python number given
    without ``dtype`` takes Theano's dtype for it (``_autocast_dtype``): ``constant(1)`` is
    int8, ``constant(0.9)`` float32 under ``floatX=float32``.

    >>> constant(1).dtype, constant(300).dtype, constant(0.5).dtype, constant([1, 2]).dtype
    ('int8', 'int16', 'float32', 'int64')
    """
    if dtype is None:
        dtype = _autocast_dtype(value)
    data = np.asarray(value, dtype=dtype)
    if not data.dtype.isnative:  # '>f8' -> float64, converted
        data = data.astype(data.dtype.newbyteorder("="))
    if str(data.dtype) not in DTYPE_CODE:
        raise TypeError(f"cannot make a constant of {value!r} (dtype {data.dtype})")
    pattern = tuple(s == 1 for s in data.shape)
    return Constant(TensorType(str(data.dtype), pattern), data, name)


def _autocast_dtype(value) -> str | None:
    """Theano's dtype for a Python number made a constant on its own (its ``cast_policy``
    'custom'): an int takes the smallest of int8..int64 that holds it; a float takes ``floatX``
    when that is float32 (Theano's deliberate downcast), else float32 when that holds it
    exactly and float64 otherwise. None (NumPy's dtype) for anything else, NumPy scalars
    included (Theano passes them through: they are typed on purpose)."""
    if isinstance(value, bool) or isinstance(value, np.generic):
        return None
    if isinstance(value, int):
        for dtype in ("int8", "int16", "int32", "int64"):
            info = np.iinfo(dtype)
            if info.min <= value <= info.max:
                return dtype
        return None
    if isinstance(value, float):
        if config.floatX in ("float32", "float16"):
            return config.floatX
        return "float32" if float(np.float32(value)) == value else "float64"  # NaN: float64
    return None


def _weak_dtype(value, like: Sequence[Variable]) -> str:
    """The dtype a Python number takes next to tensors ``like`` (Theano's autocasting)."""
    tensor_dtypes = [v.dtype for v in like]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if not tensor_dtypes:
            return "int64" if -2**63 <= value < 2**63 else "float64"
        base = upcast(*tensor_dtypes)
        if base == "bool":
            base = "int8"
        if base in FLOAT_DTYPES or base in COMPLEX_DTYPES:
            return base
        # Theano wraps the number first (the smallest signed int that holds it, int8 for 2),
        # then upcasts: int8 * 2 is int8, uint8 * 2 is int16 (NumPy 1's value-based casting
        # would say int8 and uint8)
        return upcast(base, _autocast_dtype(value) or str(np.min_scalar_type(value)))
    if isinstance(value, float):
        if tensor_dtypes:
            base = upcast(*tensor_dtypes)
            if base in FLOAT_DTYPES or base in COMPLEX_DTYPES:
                return base
        return config.floatX
    if isinstance(value, complex):
        if tensor_dtypes and upcast(*tensor_dtypes) == "complex64":
            return "complex64"
        return "complex128"
    raise TypeError(f"cannot convert {type(value).__name__} to a tensor variable")


def as_tensor_variable(value, like: Sequence[Variable] = (), name: str | None = None) -> Variable:
    """``value`` as a graph variable. Python numbers adopt the dtype of the tensors ``like``
    (so ``fvector * 0.5`` stays float32); NumPy values keep their own dtype."""
    if isinstance(value, Variable):
        return value
    if isinstance(value, bool | int | float | complex) and not isinstance(value, np.generic):
        return constant(value, name=name, dtype=_weak_dtype(value, like))
    if isinstance(value, list | tuple) and any(isinstance(v, Variable) for v in value):
        # As Theano: a list holding variables is stacked (``[a.shape, b.shape]`` is a matrix)
        from croton.tensor.shape_ops import stack

        symbolic = [v for v in value if isinstance(v, Variable)]
        out = stack([as_tensor_variable(v, like=symbolic) for v in value])
        if name is not None:
            out.name = name
        return out
    return constant(value, name=name)


# --- transfers between devices (Theano's ``tensor.transfer``) -----------------------------
_TRANSFERS: list = []


def register_transfer(fn) -> None:
    """Add ``fn(var, target)`` (a variable, or None when ``target`` is not its) to the
    functions ``transfer`` asks, in order (Theano's ``register_transfer``)."""
    if fn not in _TRANSFERS:
        _TRANSFERS.append(fn)


def transfer(var, target) -> Variable:
    """``var`` transferred to ``target``: ``'cpu'`` (a tensor variable; a GPU variable's
    ``host_from_gpu``) or a GPU context name (``None``, the default one, exists once
    ``theano.gpuarray`` has initialised a CUDA device); any other target is a ValueError.

    >>> import croton.tensor as T
    >>> x = T.fvector('x')
    >>> x.transfer('cpu') is x
    True
    """
    if target != "cpu":
        import croton.gpuarray  # noqa: F401 - registers the GPU contexts' transfer
    for fn in _TRANSFERS:
        result = fn(var, target)
        if result is not None:
            return result
    if target == "cpu":
        return as_tensor_variable(var)
    raise ValueError(f"Can't transfer to target {target}")
