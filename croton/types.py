"""Tensor types: a dtype and a static broadcast pattern, as in Theano.

Example::

    >>> from croton.types import TensorType
    >>> t = TensorType("float32", (False,))
    >>> str(t), t.ndim
    ('TensorType(float32, vector)', 1)
    >>> t.filter([1.0, 2.0]).dtype
    dtype('float32')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from croton.config import config
from croton.dlpack import from_dlpack, is_dlpack_array

# The dtype codes of the compiled code (runtime/cpu/buffer.hpp keeps the same order).
DTYPES: tuple[str, ...] = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128", "float16",
)
DTYPE_CODE: dict[str, int] = {name: i for i, name in enumerate(DTYPES)}
CXX_TYPE: dict[str, str] = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "float32": "float", "float64": "double",
    "complex64": "std::complex<float>", "complex128": "std::complex<double>",
    "float16": "_Float16",  # storage only: ops compute in float32 (codegen/passes/float16.py)
}
FLOAT_DTYPES = ("float32", "float64", "float16")
COMPLEX_DTYPES = ("complex64", "complex128")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
DISCRETE_DTYPES = ("bool",) + INT_DTYPES

_PATTERN_NAMES = {
    (): "scalar", (False,): "vector", (False, False): "matrix",
    (True, False): "row", (False, True): "col",
}


def upcast(*dtypes: str) -> str:
    """The NumPy promotion of several dtypes: ``upcast('int32', 'float32') == 'float64'``."""
    return str(np.result_type(*[np.dtype(d) for d in dtypes]))


def upgrade_to_float(dtype: str) -> str:
    """Theano's rule for transcendental functions of integers: small ints give float32."""
    if dtype in FLOAT_DTYPES or dtype in COMPLEX_DTYPES:
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return "float32"
    return "float64"


def _round_trips(original: np.ndarray, converted: np.ndarray) -> bool:
    """True when ``converted`` holds exactly the values of ``original``: equal, and for
    numbers equal again once converted back (``2**53 + 1 == float(2**53 + 1)`` under NumPy's
    comparison, which compares in float64, but the float does not come back to the int).
    NaNs match NaNs."""
    with np.errstate(invalid="ignore", over="ignore"):
        if original.dtype.kind in "fc" and converted.dtype.kind in "fc":
            same = (original == converted) | (np.isnan(original) & np.isnan(converted))
        else:
            same = original == converted
        if original.dtype.kind in "biuf" and converted.dtype.kind in "biufc":
            back = converted.real.astype(original.dtype) if converted.dtype.kind == "c" \
                else converted.astype(original.dtype)
            same = same & ((original == back) | (np.isnan(original) & np.isnan(back))
                           if original.dtype.kind == "f" else original == back)
    return bool(np.all(same))


def native_dtype(dtype) -> np.dtype:
    """``dtype`` in the machine's byte order (``>f8`` -> ``float64``): croton's types name
    native dtypes only, and values of another byte order are converted."""
    dtype = np.dtype(dtype)
    return dtype if dtype.isnative else dtype.newbyteorder("=")


@dataclass(frozen=True)
class TensorType:
    """A tensor's static type: ``dtype`` and one ``broadcastable`` flag per dimension."""

    dtype: str
    broadcastable: tuple[bool, ...]
    #: Theano's optional type name (``TensorType('float32', (False,), name='fvec')``); it does
    #: not take part in equality, hashing or printing.
    name: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_CODE:
            raise TypeError(f"unsupported dtype {self.dtype!r}; expected one of {DTYPES}")
        object.__setattr__(self, "broadcastable", tuple(bool(b) for b in self.broadcastable))

    @property
    def ndim(self) -> int:
        return len(self.broadcastable)

    def __call__(self, name: str | None = None):
        """Make a fresh symbolic variable of this type: ``TensorType('float64', ())('x')``."""
        from croton.graph import Variable

        return Variable(self, name=name)

    def __str__(self) -> str:
        kind = _PATTERN_NAMES.get(self.broadcastable)
        if kind is None:
            kind = f"{self.ndim}D" if not any(self.broadcastable) else str(self.broadcastable)
        return f"TensorType({self.dtype}, {kind})"

    __repr__ = __str__

    def with_broadcastable(self, pattern: tuple[bool, ...]) -> TensorType:
        return TensorType(self.dtype, pattern)

    def filter(self, value, allow_downcast: bool | None = None, what: str = "value") -> np.ndarray:
        """Convert ``value`` to an ndarray of this type, or raise as Theano did.

        NumPy arrays of this dtype pass through; safe upcasts are allowed; Python numbers and
        lists convert when the conversion is exact (a Python float always converts to floatX);
        anything else needs ``allow_downcast=True``. Any other array with ``__dlpack__`` (a
        PyTorch CPU tensor...) is read through DLPack without a copy, then treated as an ndarray.
        """
        if is_dlpack_array(value):
            value = from_dlpack(value, what)
        if isinstance(value, np.ndarray) and value.dtype == self.dtype:
            data = value
        elif isinstance(value, np.ndarray | np.generic):
            src = str(value.dtype)
            if allow_downcast or np.can_cast(src, self.dtype, "safe"):
                data = np.asarray(value, dtype=self.dtype)
            else:
                raise TypeError(
                    f"{what}: expected {self} but got an array of dtype {src}, which cannot be "
                    f"converted to {self.dtype} without risking loss of precision. Cast it "
                    f"explicitly (x.astype('{self.dtype}')) or pass allow_input_downcast=True "
                    f"to croton.function."
                )
        else:
            data = self._filter_python(value, allow_downcast, what)
        if data.ndim != self.ndim:
            raise TypeError(
                f"{what}: expected {self} ({self.ndim} dimension(s)) but got {data.ndim} "
                f"dimension(s), shape {data.shape}"
            )
        for axis, (bc, size) in enumerate(zip(self.broadcastable, data.shape)):
            if bc and size != 1:
                raise ValueError(
                    f"{what}: dimension {axis} of {self} is broadcastable and must have length 1, "
                    f"got shape {data.shape}"
                )
        return data

    def _filter_python(self, value, allow_downcast: bool | None, what: str) -> np.ndarray:
        try:
            converted = np.asarray(value, dtype=self.dtype)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"{what}: cannot convert {value!r} to {self}: {exc}") from None
        if allow_downcast or (type(value) is float and self.dtype == config.floatX):
            return converted
        original = np.asarray(value)
        if original.dtype == object:
            raise TypeError(f"{what}: cannot convert {value!r} to {self}")
        exact = original.shape == converted.shape and _round_trips(original, converted)
        if exact and isinstance(value, list | tuple) and converted.size:
            # np.asarray rounds a list mixing floats and large ints before any comparison:
            # compare element by element in Python, whose int/float comparison is exact
            items = np.array(value, dtype=object)
            exact = items.shape == converted.shape and all(
                a == b or (a != a and b != b)
                for a, b in zip(items.flat, converted.astype(object).flat))
        if not exact:
            raise TypeError(
                f"{what}: {value!r} cannot be converted to {self} exactly (dtype "
                f"{original.dtype} -> {self.dtype} loses information). Pass an array of dtype "
                f"{self.dtype} or allow_input_downcast=True to croton.function."
            )
        return converted

    def value_zeros(self, shape) -> np.ndarray:
        return np.zeros(shape, dtype=self.dtype)
