"""Reductions beyond ``sum``/``max`` (which live in ``croton.tensor.math``): ``argmax``,
``argmin``, ``max_and_argmax``, ``all``, ``any``, ``var``, ``std``, ``norm``, ``cumsum``,
``cumprod``. ``axis`` is an int (negative counts from the end), a tuple, or None for all axes.

Example::

    >>> import croton.tensor as T
    >>> m = T.dmatrix('m')
    >>> T.argmax(m, axis=-1).type, T.any(m, axis=0).dtype, T.var(m, ddof=1).ndim
    (TensorType(int64, vector), 'bool', 0)
"""

from __future__ import annotations

from croton.graph import Variable, user_source_line
from croton.ops.table import OPS, make_output
from croton.tensor.basic import as_tensor_variable, constant
from croton.tensor.math import (
    _normalize_axis,
    abs,
    cast,
    max,
    mean,
    neq,
    pow,
    restore_reduced_axes,
    shape_i,
    sqr,
    sqrt,
    sub,
    sum,
    true_div,
)
from croton.types import DISCRETE_DTYPES


def _arg_reduce(name: str, x, axis, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim, name)
    out = make_output(OPS[name], [x], axis=axes)
    return restore_reduced_axes(out, axes, x.ndim) if keepdims else out


def argmax(x, axis=None, keepdims: bool = False) -> Variable:
    """Index (int64) of the first maximum over ``axis``; NaN counts as the maximum, as NumPy.

    Over several axes the index is into their C-order flattening (``axis=None``: the flat index).

    >>> import croton.tensor as T
    >>> T.argmax(T.dmatrix('m'), axis=1).dtype
    'int64'
    """
    return _arg_reduce("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims: bool = False) -> Variable:
    """Index (int64) of the first minimum over ``axis``; NaN counts as the minimum, as NumPy.

    >>> import croton.tensor as T
    >>> T.argmin(T.ivector('v')).ndim
    0
    """
    return _arg_reduce("argmin", x, axis, keepdims)


def max_and_argmax(x, axis=None, keepdims: bool = False) -> tuple[Variable, Variable]:
    """``(max(x, axis), argmax(x, axis))``, as Theano's ``max_and_argmax``.

    >>> import croton.tensor as T
    >>> [v.dtype for v in T.max_and_argmax(T.fvector('v'))]
    ['float32', 'int64']
    """
    return max(x, axis=axis, keepdims=keepdims), argmax(x, axis=axis, keepdims=keepdims)


def _logical(name: str, x, axis, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    if x.dtype.startswith("complex"):
        x = neq(x, constant(0, dtype=x.dtype))
    axes = _normalize_axis(axis, x.ndim, name)
    out = make_output(OPS[name], [x], axis=axes)
    return restore_reduced_axes(out, axes, x.ndim) if keepdims else out


def all(x, axis=None, keepdims: bool = False) -> Variable:
    """True (bool) where every element over ``axis`` is nonzero; empty -> True.

    >>> import croton.tensor as T
    >>> T.all(T.dmatrix('m'), axis=0).dtype
    'bool'
    """
    return _logical("all", x, axis, keepdims)


def any(x, axis=None, keepdims: bool = False) -> Variable:
    """True (bool) where some element over ``axis`` is nonzero; empty -> False.

    >>> import croton.tensor as T
    >>> T.any(T.ivector('v')).ndim
    0
    """
    return _logical("any", x, axis, keepdims)


def _count(x: Variable, axes: tuple[int, ...], dtype: str) -> Variable:
    count = None
    for a in axes:
        n = shape_i(x, a)
        count = n if count is None else count * n
    return cast(count if count is not None else constant(1, dtype="int64"), dtype)


def var(x, axis=None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Variable:
    """Variance over ``axis``: the sum of squared deviations from the mean over ``N - ddof``
    (Theano's ``var(input, axis, ddof, keepdims, corrected)``; ``corrected`` subtracts the
    rounding error of the mean, the corrected two-pass algorithm). Integers give float64.

    >>> import croton.tensor as T
    >>> T.var(T.fmatrix('m'), axis=0).type
    TensorType(float32, vector)
    """
    if isinstance(ddof, bool):
        raise ValueError("var: ddof must be an int; keepdims is the fourth parameter "
                         f"(at {user_source_line()})")
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim, "var")
    dtype = "float64" if x.dtype in DISCRETE_DTYPES else x.dtype
    centered = sub(x, mean(x, axis=axes, keepdims=True))
    squares = sum(sqr(centered), axis=axes, keepdims=keepdims)
    denominator = sub(_count(x, axes, dtype), constant(ddof, dtype=dtype))
    v = true_div(squares, denominator)
    if corrected:
        n = _count(x, axes, dtype)
        error = sqr(sum(centered, axis=axes, keepdims=keepdims))
        v = sub(v, true_div(error, n * denominator))
    return v


def std(x, axis=None, ddof: int = 0, keepdims: bool = False,
        corrected: bool = False) -> Variable:
    """Standard deviation: ``sqrt(var(x, axis, ddof, keepdims, corrected))``.

    >>> import croton.tensor as T
    >>> T.std(T.dvector('v'), ddof=1).ndim
    0
    """
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def norm(x, L=2, axis=None, keepdims: bool = False) -> Variable:
    """The ``L``-norm over ``axis`` (Theano's ``x.norm(L, axis)``): ``sum(|x|**L) ** (1/L)``;
    ``L=0`` counts the nonzero elements.

    >>> import croton.tensor as T
    >>> T.norm(T.dmatrix('m'), 1, axis=0).ndim
    1
    """
    x = as_tensor_variable(x)
    if L == 0:
        return sum(neq(x, constant(0, dtype=x.dtype)), axis=axis, keepdims=keepdims)
    if L == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if L == 2:
        return sqrt(sum(sqr(x), axis=axis, keepdims=keepdims))
    total = sum(pow(abs(x), L), axis=axis, keepdims=keepdims)
    return pow(total, 1.0 / L)


def _cumulative(name: str, x, axis) -> Variable:
    x = as_tensor_variable(x)
    if axis is None and x.ndim == 1:
        axis = 0
    if axis is not None:
        (axis,) = _normalize_axis(int(axis), x.ndim, name)
    return make_output(OPS[name], [x], axis=axis, reverse=False)


def cumsum(x, axis=None) -> Variable:
    """Running sum along ``axis``; ``axis=None`` runs over the C-order flattening (1-d result).
    Integers and bools accumulate in int64, as NumPy.

    >>> import croton.tensor as T
    >>> T.cumsum(T.dmatrix('m')).ndim, T.cumsum(T.dmatrix('m'), axis=-1).ndim
    (1, 2)
    """
    return _cumulative("cumsum", x, axis)


def cumprod(x, axis=None) -> Variable:
    """Running product along ``axis`` (``None``: the C-order flattening).

    >>> import croton.tensor as T
    >>> T.cumprod(T.fvector('v')).dtype
    'float32'
    """
    return _cumulative("cumprod", x, axis)


__all__ = ["argmax", "argmin", "max_and_argmax", "all", "any", "var", "std", "norm",
           "cumsum", "cumprod"]
