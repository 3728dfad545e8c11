"""``gemm``: ``out = beta * C + alpha * (A @ B)`` in one BLAS call, with ``C`` broadcast to the
output (a bias row, a column, or a full matrix). Made by the specialize_blas pass from
``dot`` + scale + add; users write ``T.dot(x, W) + b``.

Example::

    >>> import numpy as np
    >>> from croton.ops.blas import GEMM
    >>> c, a, b = np.ones((1, 2)), np.eye(2), np.full((2, 2), 3.0)
    >>> GEMM.perform([c, a, b], {"alpha": 2.0, "beta": -1.0})[0].tolist()
    [[5.0, 5.0], [5.0, 5.0]]
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OpRecord, register
from croton.types import TensorType


def _gemm_rule(types, params):
    c, a, b = types
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        raise TypeError(f"gemm needs matrices, got {c}, {a}, {b}")
    if not (a.dtype == b.dtype == c.dtype) or a.dtype not in ("float32", "float64"):
        raise TypeError(f"gemm needs one float dtype, got {c.dtype}, {a.dtype}, {b.dtype}")
    pattern = (a.broadcastable[0] and c.broadcastable[0], b.broadcastable[1] and c.broadcastable[1])
    return [TensorType(a.dtype, pattern)]


def _gemm_perform(values, params):
    c, a, b = values
    out = params["alpha"] * (a @ b)
    if params["beta"] != 0:
        out = out + params["beta"] * c
    return [np.asarray(out, dtype=a.dtype)]


GEMM = register(OpRecord(
    "gemm", "gemm", _gemm_rule, _gemm_perform, None, nin=3,
    doc="beta * C + alpha * (A @ B) in one BLAS call (C broadcast); made by specialize_blas"))
