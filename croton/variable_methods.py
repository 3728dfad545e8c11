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


def _comparison(out: Any) -> Any:
    out._no_truth = True  # bool(a < b) raises, as in Theano
    return out


class TensorOperators:
    """Mixed into ``croton.graph.Variable``; holds no state."""

    __slots__ = ()

    # A NumPy array on the left of an operator defers to the variable: ``ndarray + x`` calls
    # ``x.__radd__`` (one variable), not an object array of variables.
    __array_ufunc__ = None
    __array_priority__ = 1000

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
        return _comparison(_tensor().lt(self, other))

    def __le__(self, other: Any) -> Any:
        return _comparison(_tensor().le(self, other))

    def __gt__(self, other: Any) -> Any:
        return _comparison(_tensor().gt(self, other))

    def __ge__(self, other: Any) -> Any:
        return _comparison(_tensor().ge(self, other))

    __hash__ = object.__hash__

    # --- methods as in Theano -----------------------------------------------------------------
    def sum(self, axis=None, dtype: str | None = None, keepdims: bool = False,
            acc_dtype: str | None = None) -> Any:
        return _tensor().sum(self, axis=axis, dtype=dtype, keepdims=keepdims,
                             acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype: str | None = None, keepdims: bool = False,
             acc_dtype: str | None = None) -> Any:
        return _tensor().mean(self, axis=axis, dtype=dtype, keepdims=keepdims,
                              acc_dtype=acc_dtype)

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
    def reshape(self, shape, ndim: int | None = None) -> Any:
        return _tensor().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim: int = 1, outdim: int | None = None) -> Any:
        return _tensor().flatten(self, ndim=ndim, outdim=outdim)

    def swapaxes(self, axis1: int, axis2: int) -> Any:
        return _tensor().swapaxes(self, axis1, axis2)

    def squeeze(self, axis=None) -> Any:
        return _tensor().squeeze(self, axis=axis)

    def repeat(self, repeats, axis: int | None = None) -> Any:
        return _tensor().repeat(self, repeats, axis=axis)

    def copy(self, name: str | None = None) -> Any:
        out = _tensor().tensor_copy(self)
        out.name = name
        return out

    def transfer(self, target: Any) -> Any:
        """This variable on ``target``: ``'cpu'`` or a GPU context name (``T.transfer``)."""
        return _tensor().transfer(self, target)

    @property
    def shape(self) -> Any:
        """The symbolic shape (an int64 vector); ``x.shape[i]`` is ``shape_i(x, i)``."""
        return _tensor().shape(self)

    @property
    def size(self) -> Any:
        """The number of elements, an int64 scalar."""
        t = _tensor()
        out = t.constant(1, dtype="int64")
        for d in range(self.ndim):  # type: ignore[attr-defined]
            out = out * t.shape_i(self, d)
        return out

    # --- indexing (__getitem__) ---------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        owner = getattr(self, "owner", None)
        if owner is not None and owner.op.name == "shape" and isinstance(key, int) \
                and not isinstance(key, bool):
            try:
                from croton.tensor.shape_ops import shape_index
            except ImportError:
                shape_index = None
            if shape_index is not None:
                found = shape_index(self, key)
                if found is not None:
                    return found
        from croton.tensor.subtensor import getitem

        return getitem(self, key)


    # --- reductions (argmax, argmin, var, std, all, any, cumsum, ...) -------------------------
    def prod(self, axis=None, dtype: str | None = None, keepdims: bool = False,
             acc_dtype: str | None = None) -> Any:
        return _tensor().prod(self, axis=axis, dtype=dtype, keepdims=keepdims,
                              acc_dtype=acc_dtype)

    def argmax(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().argmin(self, axis=axis, keepdims=keepdims)

    def sort(self, axis: int | None = -1, kind: str = "quicksort", order=None) -> Any:
        return _tensor().sort(self, axis=axis, kind=kind, order=order)

    def argsort(self, axis: int | None = -1, kind: str = "quicksort", order=None) -> Any:
        return _tensor().argsort(self, axis=axis, kind=kind, order=order)

    def var(self, axis=None, ddof: int = 0, keepdims: bool = False,
            corrected: bool = False) -> Any:
        return _tensor().var(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def std(self, axis=None, ddof: int = 0, keepdims: bool = False,
            corrected: bool = False) -> Any:
        return _tensor().std(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def all(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims: bool = False) -> Any:
        return _tensor().any(self, axis=axis, keepdims=keepdims)

    def nonzero(self, return_matrix: bool = False) -> Any:
        from croton.tensor.extra_ops import nonzero

        return nonzero(self, return_matrix=return_matrix)

    def nonzero_values(self) -> Any:
        from croton.tensor.extra_ops import nonzero_values

        return nonzero_values(self)

    def cumsum(self, axis=None) -> Any:
        return _tensor().cumsum(self, axis=axis)

    def cumprod(self, axis=None) -> Any:
        return _tensor().cumprod(self, axis=axis)

    def norm(self, L, axis=None, keepdims: bool = False) -> Any:
        return _tensor().norm(self, L, axis=axis, keepdims=keepdims)

    # --- elementwise methods (astype, clip, round, conj, real, imag, ...) ---------------------
    def astype(self, dtype: str) -> Any:
        return _tensor().cast(self, str(dtype))

    def clip(self, a_min: Any, a_max: Any) -> Any:
        return _tensor().clip(self, a_min, a_max)

    def round(self, mode: str | None = None) -> Any:
        return _tensor().round(self, mode=mode)

    def conj(self) -> Any:
        return _tensor().conj(self)

    conjugate = conj

    @property
    def real(self) -> Any:
        return _tensor().real(self)

    @property
    def imag(self) -> Any:
        return _tensor().imag(self)

    def __and__(self, other: Any) -> Any:
        return _tensor().and_(self, other)

    def __rand__(self, other: Any) -> Any:
        return _tensor().and_(other, self)

    def __or__(self, other: Any) -> Any:
        return _tensor().or_(self, other)

    def __ror__(self, other: Any) -> Any:
        return _tensor().or_(other, self)

    def __xor__(self, other: Any) -> Any:
        return _tensor().xor(self, other)

    def __rxor__(self, other: Any) -> Any:
        return _tensor().xor(other, self)

    def __invert__(self) -> Any:
        return _tensor().invert(self)

    def __iter__(self):
        # As Theano: a vector of statically known length (a shape, a stacked list, a
        # constant) iterates over its elements: ``b, c, h, w = x.shape``.
        from croton.tensor.shape_ops import get_vector_length

        try:
            n = get_vector_length(self)
        except ValueError:
            raise TypeError("a symbolic variable can be iterated over only when it is a vector "
                            "of statically known length (such as x.shape)") from None
        for i in range(n):
            yield self[i]
