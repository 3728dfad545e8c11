"""Sorting along one axis (Theano's ``SortOp`` and ``ArgSortOp``): ``sort`` (same type as the
input) and ``argsort`` (int64 indices). ``params['axis']`` is a non-negative axis (``axis=None``
is a flatten first, in ``croton/tensor/sort.py``). NaNs sort last, as in NumPy; ``argsort`` is
stable. The gradient of ``sort`` routes the output gradient back through the inverse permutation
(``argsort(argsort(x))``, as Theano); ``argsort`` has none (integer output).

Kernel: ``croton::sort_along`` in ``runtime/cpu/kernels/sort.hpp``; lowering:
``codegen/lowering/sort.py``.

Example::

    >>> import croton.tensor as T
    >>> T.argsort(T.fmatrix('m')).type
    TensorType(int64, matrix)
"""

from __future__ import annotations

import numpy as np

from croton.ops.shapes import same_as
from croton.ops.table import OpRecord, make_output, register
from croton.types import COMPLEX_DTYPES, TensorType


def _rule(arg: bool):
    def rule(types, params):
        (t,) = types
        if t.dtype in COMPLEX_DTYPES:
            raise TypeError(f"{'argsort' if arg else 'sort'}: complex input {t} is not supported")
        axis = params["axis"]
        if not 0 <= axis < t.ndim:
            raise ValueError(f"sort axis {axis} is out of range for {t} (ndim {t.ndim})")
        return [TensorType("int64" if arg else t.dtype, t.broadcastable)]

    return rule


def _sort_perform(values, params):
    return [np.sort(values[0], axis=params["axis"])]


def _argsort_perform(values, params):
    return [np.argsort(values[0], axis=params["axis"], kind="stable").astype("int64")]


def _sort_vjp(node, g):
    import croton.tensor as T

    (x,) = node.inputs
    axis = dict(node.params)["axis"]
    rev = make_output(ARGSORT, [make_output(ARGSORT, [x], axis=axis)], axis=axis)
    index = []
    for d in range(x.ndim):
        if d == axis:
            index.append(rev)
            continue
        pattern = ["x"] * x.ndim
        pattern[d] = 0
        index.append(T.arange(x.shape[d]).dimshuffle(*pattern))
    return [T.cast(g[0], x.dtype)[tuple(index)]]


def _argsort_vjp(node, g):
    return [None]


SORT = register(OpRecord(
    "sort", "sort", _rule(False), _sort_perform, _sort_vjp, nin=1, shape=same_as(0),
    doc="sort(x): x sorted along params axis (NaNs last, as NumPy)."))
ARGSORT = register(OpRecord(
    "argsort", "sort", _rule(True), _argsort_perform, _argsort_vjp, nin=1, shape=same_as(0),
    doc="argsort(x): int64 indices that sort x along params axis (stable; NaNs last)."))
