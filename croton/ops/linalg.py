"""``dot`` for vectors and matrices, lowered to BLAS (``runtime/cpu/blas.hpp``).

Inputs always share one dtype (``croton.tensor.dot`` casts them first).

Example::

    >>> import croton.tensor as T
    >>> T.dot(T.dmatrix('a'), T.dvector('v')).type
    TensorType(float64, vector)
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OpRecord, register
from croton.types import TensorType


def _t():
    import croton.tensor as T

    return T


def _dot_rule(types, params):
    a, b = types
    if a.dtype != b.dtype:
        raise TypeError(f"dot: inputs must share a dtype, got {a.dtype} and {b.dtype}")
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise TypeError(f"dot: expected vectors or matrices, got {a} and {b}")
    pattern = a.broadcastable[:-1] + b.broadcastable[:-2] + b.broadcastable[-1:] \
        if b.ndim == 2 else a.broadcastable[:-1]
    return [TensorType(a.dtype, pattern)]


def _dot_vjp(node, g):
    T = _t()
    a, b = node.inputs
    gz = g[0]
    if a.ndim == 1 and b.ndim == 1:
        return [gz * b, gz * a]
    if a.ndim == 2 and b.ndim == 2:
        return [T.dot(gz, b.T), T.dot(a.T, gz)]
    if a.ndim == 2:  # matrix @ vector
        return [T.outer(gz, b), T.dot(a.T, gz)]
    return [T.dot(b, gz), T.outer(a, gz)]  # vector @ matrix


register(OpRecord("dot", "dot", _dot_rule,
                  lambda values, params: [np.dot(values[0], values[1])], _dot_vjp, nin=2))
