"""BLAS-shaped ops, each one BLAS call, made by the specialize_blas pass from ``dot`` + scale +
add (users write ``T.dot(x, W) + b``):

- ``gemm``: ``out = beta * C + alpha * (A @ B)``, ``C`` broadcast to the output (a bias row, a
  column, or a full matrix);
- ``gemv``: ``out = beta * y + alpha * (A @ x)`` (``A.T @ x`` with ``trans``: ``dot(x, A)``),
  ``y`` a vector broadcast to the output (a bias or a scalar);
- ``ger``: ``out = A + alpha * outer(x, y)``, ``A`` broadcast to the output.

Example::

    >>> import numpy as np
    >>> from croton.ops.blas import GEMM, GEMV, GER
    >>> c, a, b = np.ones((1, 2)), np.eye(2), np.full((2, 2), 3.0)
    >>> GEMM.perform([c, a, b], {"alpha": 2.0, "beta": -1.0})[0].tolist()
    [[5.0, 5.0], [5.0, 5.0]]
    >>> x = np.array([1.0, 2.0])
    >>> GEMV.perform([np.ones(1), b, x], {"alpha": 0.5, "beta": 1.0, "trans": True})[0].tolist()
    [5.5, 5.5]
    >>> GER.perform([np.eye(2), x, x], {"alpha": -1.0})[0].tolist()
    [[0.0, -2.0], [-2.0, -3.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.ops.table import InPlace, OpRecord, register
from croton.types import TensorType


def _gemm_rule(types: Sequence[TensorType], params: dict) -> list[TensorType]:
    c, a, b = types
    if a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        raise TypeError(f"gemm needs matrices, got {c}, {a}, {b}")
    if not (a.dtype == b.dtype == c.dtype) or a.dtype not in ("float32", "float64"):
        raise TypeError(f"gemm needs one float dtype, got {c.dtype}, {a.dtype}, {b.dtype}")
    pattern = (a.broadcastable[0] and c.broadcastable[0], b.broadcastable[1] and c.broadcastable[1])
    return [TensorType(a.dtype, pattern)]


def _gemm_perform(values: Sequence[np.ndarray], params: dict) -> list[np.ndarray]:
    c, a, b = values
    out = params["alpha"] * (a @ b)
    if params["beta"] != 0:
        out = out + params["beta"] * c
    return [np.asarray(out, dtype=a.dtype)]


GEMM = register(OpRecord(
    "gemm", "gemm", _gemm_rule, _gemm_perform, None, nin=3, can_fail=False, inplace=InPlace(0),
    shape=lambda params, ins: [[ins.dim(1, 0), ins.dim(2, 1)]],
    doc="beta * C + alpha * (A @ B) in one BLAS call (C broadcast); made by specialize_blas"))


# --- gemv: out = beta * y + alpha * (A @ x), or A.T @ x with trans ------------------------------
def _gemv_rule(types: Sequence[TensorType], params: dict) -> list[TensorType]:
    y, a, x = types
    if a.ndim != 2 or x.ndim != 1 or y.ndim != 1:
        raise TypeError(f"gemv needs a vector, a matrix and a vector, got {y}, {a}, {x}")
    if not (a.dtype == x.dtype == y.dtype) or a.dtype not in ("float32", "float64"):
        raise TypeError(f"gemv needs one float dtype, got {y.dtype}, {a.dtype}, {x.dtype}")
    rows = a.broadcastable[1 if params.get("trans") else 0]
    return [TensorType(a.dtype, (rows and y.broadcastable[0],))]


def _gemv_perform(values: Sequence[np.ndarray], params: dict) -> list[np.ndarray]:
    y, a, x = values
    out = params["alpha"] * ((a.T if params.get("trans") else a) @ x)
    if params["beta"] != 0:
        out = out + params["beta"] * y
    return [np.asarray(out, dtype=a.dtype)]


GEMV = register(OpRecord(
    "gemv", "gemv", _gemv_rule, _gemv_perform, None, nin=3, can_fail=False, inplace=InPlace(0),
    shape=lambda params, ins: [[ins.dim(1, 1 if params.get("trans") else 0)]],
    doc="beta * y + alpha * (A @ x) (A.T @ x with trans) in one BLAS call (y broadcast); "
        "made by specialize_blas"))


# --- ger: out = A + alpha * outer(x, y) ---------------------------------------------------------
def _ger_rule(types: Sequence[TensorType], params: dict) -> list[TensorType]:
    a, x, y = types
    if a.ndim != 2 or x.ndim != 1 or y.ndim != 1:
        raise TypeError(f"ger needs a matrix and two vectors, got {a}, {x}, {y}")
    if not (a.dtype == x.dtype == y.dtype) or a.dtype not in ("float32", "float64"):
        raise TypeError(f"ger needs one float dtype, got {a.dtype}, {x.dtype}, {y.dtype}")
    pattern = (x.broadcastable[0] and a.broadcastable[0], y.broadcastable[0] and a.broadcastable[1])
    return [TensorType(a.dtype, pattern)]


def _ger_perform(values: Sequence[np.ndarray], params: dict) -> list[np.ndarray]:
    a, x, y = values
    out = a + params["alpha"] * np.outer(x, y)
    return [np.asarray(out, dtype=a.dtype)]


GER = register(OpRecord(
    "ger", "ger", _ger_rule, _ger_perform, None, nin=3, can_fail=False, inplace=InPlace(0),
    shape=lambda params, ins: [[ins.dim(1, 0), ins.dim(2, 0)]],
    doc="A + alpha * outer(x, y) in one BLAS call (A broadcast); made by specialize_blas"))
