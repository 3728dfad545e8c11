"""Theano's ``theano.tensor.extra_ops``: ``repeat``, ``cumsum``, ``to_one_hot``, ``bincount``,
``diff``, ``fill_diagonal``, ``searchsorted``... Each is croton's own function (the same object as
``croton.tensor.repeat``) or a composition of croton's primitives, so it compiles, fuses and
differentiates like any other graph.

Example::

    >>> import numpy as np, croton, croton.tensor as T
    >>> from croton.tensor import extra_ops
    >>> y = T.lvector('y')
    >>> f = croton.function([y], extra_ops.to_one_hot(y, 3))
    >>> f(np.array([0, 2]))
    array([[1., 0., 0.],
           [0., 0., 1.]])
"""

from __future__ import annotations

from croton.config import config
from croton.graph import Variable
from croton.tensor.basic import as_tensor_variable
from croton.tensor.math import cast, eq, le, lt, maximum, neq, switch
from croton.tensor.reductions import cumprod, cumsum
from croton.tensor.shape_ops import arange, eye, repeat, squeeze, zeros
from croton.tensor.subtensor import inc_subtensor
from croton.types import INT_DTYPES

__all__ = ["repeat", "cumsum", "cumprod", "squeeze", "to_one_hot", "bincount", "diff",
           "fill_diagonal", "fill_diagonal_offset", "searchsorted", "nonzero", "flatnonzero",
           "nonzero_values", "compress", "unique"]


def to_one_hot(y, nb_class: int, dtype: str | None = None) -> Variable:
    """An ``(n, nb_class)`` matrix with a one in row i at column ``y[i]`` (``dtype``, default
    floatX), as Theano's ``to_one_hot``.

    >>> import croton.tensor as T
    >>> to_one_hot(T.ivector('y'), 4).type
    TensorType(float64, matrix)
    """
    y = as_tensor_variable(y)
    if y.ndim != 1 or y.dtype not in INT_DTYPES:
        raise TypeError(f"to_one_hot: y must be an integer vector, got {y.type}")
    hit = eq(y.dimshuffle(0, "x"), arange(nb_class).dimshuffle("x", 0))
    return cast(hit, dtype or config.floatX)


def bincount(x, weights=None, minlength=None, assert_nonneg: bool = False) -> Variable:
    """How often each value ``0..max(x)`` occurs in the integer vector ``x`` (summing
    ``weights`` instead of ones when given), at least ``minlength`` long: ``numpy.bincount``.
    The result has ``x``'s dtype (``weights``' with weights), as in Theano.

    >>> import croton.tensor as T
    >>> bincount(T.lvector('x')).type
    TensorType(int64, vector)
    """
    x = as_tensor_variable(x)
    if x.ndim != 1 or x.dtype not in INT_DTYPES:
        raise TypeError(f"bincount: x must be an integer vector, got {x.type}")
    if assert_nonneg:
        raise NotImplementedError("bincount(assert_nonneg=True): croton has no run-time assert "
                                  "op; negative values are an error of the indexing instead")
    length = cast(x.max() + 1, "int64")
    if minlength is not None:
        length = maximum(length, minlength)
    if weights is None:
        return inc_subtensor(zeros([length], dtype=x.dtype)[x], 1)
    weights = as_tensor_variable(weights)
    return inc_subtensor(zeros([length], dtype=weights.dtype)[x], weights)


def diff(x, n: int = 1, axis: int = -1) -> Variable:
    """The ``n``-th discrete difference along ``axis``: ``numpy.diff``.

    >>> import croton.tensor as T
    >>> diff(T.dmatrix('x'), axis=0).ndim
    2
    """
    x = as_tensor_variable(x)
    axis = axis % x.ndim
    for _ in range(n):
        hi = [slice(None)] * x.ndim
        lo = [slice(None)] * x.ndim
        hi[axis], lo[axis] = slice(1, None), slice(None, -1)
        x = x[tuple(hi)] - x[tuple(lo)]
    return x


def fill_diagonal_offset(a, val, offset) -> Variable:
    """``a`` (a matrix) with diagonal ``offset`` (above the main one when positive) set to
    the scalar ``val``, as Theano's ``fill_diagonal_offset``."""
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise TypeError(f"fill_diagonal_offset: a must be a matrix, got {a.type}")
    val = as_tensor_variable(val, like=[a])
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal_offset: val must be a scalar, got {val.type}")
    mask = eye(a.shape[0], a.shape[1], k=offset, dtype="bool")
    return switch(mask, cast(val, a.dtype), a)


def fill_diagonal(a, val) -> Variable:
    """``a`` with its main diagonal set to the scalar ``val``: ``numpy.fill_diagonal`` without
    the in-place write (a matrix; for more dimensions every dimension must be equal)."""
    a = as_tensor_variable(a)
    if a.ndim == 2:
        return fill_diagonal_offset(a, val, 0)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: a needs at least 2 dimensions, got {a.type}")
    val = as_tensor_variable(val, like=[a])
    idx = arange(a.shape[0])
    mask = eq(idx.dimshuffle(0, *["x"] * (a.ndim - 1)), idx.dimshuffle("x", 0,
                                                                        *["x"] * (a.ndim - 2)))
    for d in range(2, a.ndim):
        mask = mask & eq(idx.dimshuffle(*["x"] * d, 0, *["x"] * (a.ndim - d - 1)),
                         idx.dimshuffle(0, *["x"] * (a.ndim - 1)))
    return switch(mask, cast(val, a.dtype), a)


def searchsorted(x, v, side: str = "left", sorter=None) -> Variable:
    """Where each element of ``v`` would go in the sorted vector ``x`` to keep it sorted
    (``numpy.searchsorted``; int64 indices, ``v``'s shape). ``sorter`` sorts ``x`` first.

    >>> import croton.tensor as T
    >>> searchsorted(T.dvector('x'), T.dmatrix('v')).type
    TensorType(int64, matrix)
    """
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    x = as_tensor_variable(x)
    v = as_tensor_variable(v, like=[x])
    if x.ndim != 1:
        raise TypeError(f"searchsorted: x must be a vector, got {x.type}")
    if sorter is not None:
        x = x[as_tensor_variable(sorter)]
    xs = x.dimshuffle(*["x"] * v.ndim, 0)
    vs = v.dimshuffle(*range(v.ndim), "x")
    before = lt(xs, vs) if side == "left" else le(xs, vs)
    return cast(before, "int64").sum(axis=-1)


def flatnonzero(a) -> Variable:
    """The int64 indices of the nonzero elements of ``a`` flattened: ``numpy.flatnonzero``
    (the length depends on the values)."""
    a = as_tensor_variable(a)
    if a.ndim == 0:
        raise ValueError("flatnonzero: a must have at least one dimension")
    flat = a.flatten()
    return arange(flat.shape[0])[neq(flat, 0)]


def nonzero(a, return_matrix: bool = False):
    """The indices of the nonzero elements of ``a``: a tuple of int64 vectors, one per
    dimension (``numpy.nonzero``), or with ``return_matrix`` one ``(ndim, n)`` matrix, as in
    Theano. ``x[mask.nonzero()]`` picks the elements where ``mask`` is nonzero.

    >>> import croton.tensor as T
    >>> rows, cols = nonzero(T.dmatrix('m'))
    >>> rows.type
    TensorType(int64, vector)
    """
    a = as_tensor_variable(a)
    flat = flatnonzero(a)
    index = []
    for d in range(a.ndim):
        stride = 1
        for k in range(d + 1, a.ndim):
            stride = stride * a.shape[k]
        index.append((flat // stride) % a.shape[d] if d else flat // stride)
    if return_matrix:
        from croton.tensor.shape_ops import stack

        return stack(index)
    return tuple(index)


def nonzero_values(a) -> Variable:
    """The nonzero elements of ``a``, flattened in C order (Theano's ``nonzero_values``)."""
    a = as_tensor_variable(a)
    return a.flatten()[flatnonzero(a)]


def compress(condition, x, axis: int | None = None) -> Variable:
    """The slices of ``x`` along ``axis`` (of ``x`` flattened when None) where ``condition`` is
    nonzero: ``numpy.compress``, as Theano writes it (``x.take(flatnonzero(condition))``)."""
    from croton.tensor.subtensor import take

    return take(as_tensor_variable(x), flatnonzero(condition), axis=axis)


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None):
    """The sorted distinct values of ``ar`` flattened (``numpy.unique``, Theano's ``Unique``),
    with, when asked, the index of each one's first occurrence, the index into them of every
    element of ``ar`` (flattened), and how many times each occurs; a tuple in that order when
    more than the values are asked for. Built from a stable ``argsort`` and mask indexing.

    >>> import numpy as np, croton, croton.tensor as T
    >>> v = T.lvector('v')
    >>> f = croton.function([v], list(unique(v, True, True, True)))
    >>> [a.tolist() for a in f(np.array([3, 1, 3, 2, 1, 3]))]
    [[1, 2, 3], [1, 3, 0], [2, 0, 2, 1, 0, 2], [2, 1, 3]]
    """
    from croton.tensor.shape_ops import concatenate, ones
    from croton.tensor.sort import argsort
    from croton.tensor.subtensor import set_subtensor

    if axis is not None:
        raise NotImplementedError("unique(axis=...): croton's unique flattens its input "
                                  "(axis=None)")
    flat = as_tensor_variable(ar).flatten()
    order = argsort(flat, kind="stable")
    ordered = flat[order]
    n = flat.shape[0]
    first = concatenate([ones((1,), "bool"), neq(ordered[1:], ordered[:-1])])
    first = first[:n]  # an empty input has no first element
    values = ordered[first]
    extra = []
    if return_index:
        extra.append(order[first])
    if return_inverse:
        rank = cumsum(cast(first, "int64")) - 1
        extra.append(set_subtensor(zeros((n,), "int64")[order], rank))
    if return_counts:
        starts = arange(n)[first]
        extra.append(diff(concatenate([starts, n.reshape((1,))])))
    return values if not extra else (values, *extra)
