"""The operators and methods of symbolic variables (``x + y``, ``x.sum()``, ``x[1:]``, ``x.T``),
as Theano's ``_tensor_py_operators``: each builds nodes through ``croton.tensor``.

Example::

    >>> import croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> (x.T + 1).sum(axis=0).ndim
    1
"""

from __future__ import annotations

from typing import Any


def _tensor():
    import croton.tensor as tensor_module

    return tensor_module


class TensorOperators:
    """Mixed into ``croton.graph.Variable``; holds no state."""

    __slots__ = ()

    # --- arithmetic: each operator builds a node through croton.tensor -------------------------
    def __add__(self, other: Any) -> Any:
        return _tensor().add(self, other)

    def __radd__(self, other: Any) -> Any:
        return _tensor().add(other, self)

    def __sub__(self, other: Any) -> Any:
        return _tensor().sub(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _tensor().sub(other, self)

    def __mul__(self, other: Any) -> Any:
        return _tensor().mul(self, other)

    def __rmul__(self, other: Any) -> Any:
        return _tensor().mul(other, self)

    def __truediv__(self, other: Any) -> Any:
        return _tensor().true_div(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _tensor().true_div(other, self)

    def __floordiv__(self, other: Any) -> Any:
        return _tensor().int_div(self, other)

    def __rfloordiv__(self, other: Any) -> Any:
        return _tensor().int_div(other, self)

    def __mod__(self, other: Any) -> Any:
        return _tensor().mod(self, other)

    def __rmod__(self, other: Any) -> Any:
        return _tensor().mod(other, self)

    def __pow__(self, other: Any) -> Any:
        return _tensor().pow(self, other)

    def __rpow__(self, other: Any) -> Any:
        return _tensor().pow(other, self)

    def __neg__(self) -> Any:
        return _tensor().neg(self)

    def __abs__(self) -> Any:
        return _tensor().abs(self)

    def __lt__(self, other: Any) -> Any:
        return _tensor().lt(self, other)

    def __le__(self, other: Any) -> Any:
        return _tensor().le(self, other)

    def __gt__(self, other: Any) -> Any:
        return _tensor().gt(self, other)

    def __ge__(self, other: Any) -> Any:
        return _tensor().ge(self, other)

    __hash__ = object.__hash__

    # --- methods as in Theano -----------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().min(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> Any:
        return _tensor().dot(self, other)

    def __matmul__(self, other: Any) -> Any:
        return _tensor().dot(self, other)

    def __rmatmul__(self, other: Any) -> Any:
        return _tensor().dot(other, self)

    def dimshuffle(self, *pattern) -> Any:
        if len(pattern) == 1 and isinstance(pattern[0], list | tuple):
            pattern = tuple(pattern[0])
        return _tensor().dimshuffle(self, pattern)

    def transpose(self, *axes) -> Any:
        return _tensor().transpose(self, axes or None)

    @property
    def T(self) -> Any:
        return _tensor().transpose(self)

    # --- shape methods (reshape, flatten, squeeze, swapaxes, repeat, ...) ----------------------

    # --- indexing (__getitem__) ---------------------------------------------------------------

    # --- reductions (argmax, argmin, var, std, all, any, cumsum, ...) -------------------------

    # --- elementwise methods (astype, clip, round, conj, real, imag, ...) ---------------------

    def __iter__(self):
        raise TypeError("a symbolic variable cannot be iterated over")
