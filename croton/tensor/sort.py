"""``croton.tensor.sort`` (Theano's ``theano.tensor.sort``): ``sort`` and ``argsort`` along an
axis, ``axis=None`` sorting the flattened tensor, as in Theano and NumPy.

Example::

    >>> import croton, numpy, croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> croton.function([x], T.sort(x, axis=None))(numpy.array([[3.0, 1.0], [2.0, 0.0]]))
    array([0., 1., 2., 3.])
"""

from __future__ import annotations

import numpy as np

from croton.graph import Constant, Variable, user_source_line
from croton.ops.sort import ARGSORT, SORT
from croton.ops.table import make_output
from croton.tensor.basic import as_tensor_variable

KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _prepare(a, axis, kind, order, who: str) -> tuple[Variable, int]:
    a = as_tensor_variable(a)
    if kind not in KINDS:
        raise ValueError(f"{who}: kind must be one of {KINDS}, got {kind!r}")
    if order is not None:
        raise NotImplementedError(f"{who}: order (structured arrays) is not supported")
    if axis is None:
        return a.flatten(), 0
    if isinstance(axis, Constant):
        axis = axis.data.item()
    if isinstance(axis, Variable) or not isinstance(axis, int | np.integer):
        raise TypeError(f"{who}: axis must be an int or None, got {axis!r} "
                        f"(at {user_source_line()})")
    if not -a.ndim <= axis < max(a.ndim, 1):
        raise ValueError(f"{who}: axis {axis} is out of range for {a.type} "
                         f"(at {user_source_line()})")
    if a.ndim == 0:
        raise ValueError(f"{who}: cannot sort a 0-d tensor along an axis "
                         f"(at {user_source_line()})")
    return a, int(axis) % a.ndim


def sort(a, axis: int | None = -1, kind: str = "quicksort", order=None) -> Variable:
    """``a`` sorted along ``axis`` (None: the flattened tensor); NaNs last. Differentiable: the
    gradient goes back to each element's original position.

    >>> import croton, numpy, croton.tensor as T
    >>> v = T.dvector('v')
    >>> croton.function([v], T.sort(v))([2.0, float('nan'), -1.0])
    array([-1.,  2., nan])
    """
    a, axis = _prepare(a, axis, kind, order, "sort")
    return make_output(SORT, [a], axis=axis)


def argsort(a, axis: int | None = -1, kind: str = "quicksort", order=None) -> Variable:
    """int64 indices that sort ``a`` along ``axis`` (None: the flattened tensor); ties keep
    their order (a stable sort, whatever ``kind``).

    >>> import croton, numpy, croton.tensor as T
    >>> v = T.dvector('v')
    >>> croton.function([v], T.argsort(v))([2.0, 0.5, 1.0])
    array([1, 2, 0])
    """
    a, axis = _prepare(a, axis, kind, order, "argsort")
    return make_output(ARGSORT, [a], axis=axis)


__all__ = ["sort", "argsort"]
