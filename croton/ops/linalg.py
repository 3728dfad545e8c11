"""Products lowered to BLAS: ``dot`` for vectors and matrices (``runtime/cpu/blas.hpp``),
``tensordot`` (a's last ``naxes`` dims contracted with b's first: N-d ``dot`` and
``tensordot`` are built on it) and ``batched_dot`` (``runtime/cpu/kernels/dot.hpp``).

Inputs always share one dtype (``croton.tensor`` casts them first).

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


def _dot_shape(params, ins):
    a, b = ins.types
    return [([ins.dim(0, 0)] if a.ndim == 2 else []) + ([ins.dim(1, 1)] if b.ndim == 2 else [])]


def _tensordot_shape(params, ins):
    n = params["naxes"]
    a, b = ins.types
    return [ins.shape(0)[:a.ndim - n] + ins.shape(1)[n:]]


def _batched_shape(params, ins):
    a, b = ins.types
    return [[ins.dim(0, 0)] + ([ins.dim(0, 1)] if a.ndim == 3 else [])
            + ([ins.dim(1, 2)] if b.ndim == 3 else [])]


register(OpRecord("dot", "dot", _dot_rule,
                  lambda values, params: [np.dot(values[0], values[1])], _dot_vjp, nin=2,
                  shape=_dot_shape,
                  doc="Vector/matrix product (BLAS gemm)."))


# --- tensordot: a's last `naxes` dims contracted with b's first `naxes` (any ndim) -------------
def _tensordot_rule(types, params):
    a, b = types
    n = params["naxes"]
    if a.dtype != b.dtype:
        raise TypeError(f"tensordot: inputs must share a dtype, got {a.dtype} and {b.dtype}")
    if a.dtype.startswith("complex"):
        raise TypeError("tensordot: complex inputs are not supported")
    if not 0 <= n <= min(a.ndim, b.ndim):
        raise ValueError(f"tensordot: cannot contract {n} axes of {a} and {b}")
    pattern = a.broadcastable[:a.ndim - n] + b.broadcastable[n:]
    if len(pattern) > 8:
        raise ValueError(f"tensordot: the result would have {len(pattern)} dims (at most 8)")
    return [TensorType(a.dtype, pattern)]


def _tensordot_perform(values, params):
    a, b = values
    return [np.tensordot(a, b, axes=params["naxes"])]


def _tensordot_vjp(node, g):
    """out[F_a, F_b] = sum_K a[F_a, K] b[K, F_b]; each gradient is another contraction."""
    T = _t()
    a, b = node.inputs
    n = dict(node.params)["naxes"]
    fa, fb = a.ndim - n, b.ndim - n
    b_moved = T.dimshuffle(b, tuple(range(n, b.ndim)) + tuple(range(n)))  # (F_b, K)
    a_moved = T.dimshuffle(a, tuple(range(fa, a.ndim)) + tuple(range(fa)))  # (K, F_a)
    return [contract(g[0], b_moved, fb), contract(a_moved, g[0], fa)]


def contract(a, b, naxes: int):
    """The ``tensordot`` node for inputs of one dtype (``croton.tensor.tensordot`` prepares them).

    >>> import croton.tensor as T
    >>> contract(T.dtensor3('a'), T.dmatrix('b'), 1).ndim
    3
    """
    from croton.ops.table import OPS, make_output

    return make_output(OPS["tensordot"], [a, b], naxes=int(naxes))


# --- batched_dot: a batch of matrix (or vector) products, 2-d/3-d operands ---------------------
def _batched_rule(types, params):
    a, b = types
    if a.dtype != b.dtype:
        raise TypeError(f"batched_dot: inputs must share a dtype, got {a.dtype} and {b.dtype}")
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise TypeError(f"batched_dot: expected 2-d or 3-d operands, got {a} and {b}")
    batch = a.broadcastable[0] and b.broadcastable[0]
    pattern = (batch,) + a.broadcastable[1:-1] + b.broadcastable[2:]
    return [TensorType(a.dtype, pattern)]


def _batched_perform(values, params):
    a, b = values
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"batched_dot: batch sizes differ: {a.shape} and {b.shape}")
    a3 = a if a.ndim == 3 else a[:, None, :]
    b3 = b if b.ndim == 3 else b[:, :, None]
    out = np.matmul(a3, b3)
    if a.ndim == 2:
        out = out[:, 0]
    if b.ndim == 2:
        out = out[..., 0]
    return [out]


def _batched_vjp(node, g):
    T = _t()
    a, b = node.inputs
    gz = g[0]
    if a.ndim == 3 and b.ndim == 3:  # (B,M,K) (B,K,N) -> (B,M,N)
        return [batched(gz, b.dimshuffle(0, 2, 1)), batched(a.dimshuffle(0, 2, 1), gz)]
    if a.ndim == 2 and b.ndim == 3:  # (B,K) (B,K,N) -> (B,N)
        return [batched(b, gz), a.dimshuffle(0, 1, "x") * gz.dimshuffle(0, "x", 1)]
    if a.ndim == 3:  # (B,M,K) (B,K) -> (B,M)
        return [gz.dimshuffle(0, 1, "x") * b.dimshuffle(0, "x", 1), batched(gz, a)]
    return [T.mul(gz.dimshuffle(0, "x"), b), T.mul(gz.dimshuffle(0, "x"), a)]  # (B,K) (B,K)


def batched(a, b):
    """The ``batched_dot`` node for 2-d/3-d inputs of one dtype.

    >>> import croton.tensor as T
    >>> batched(T.dtensor3('a'), T.dmatrix('b')).ndim
    2
    """
    from croton.ops.table import OPS, make_output

    return make_output(OPS["batched_dot"], [a, b])


register(OpRecord("tensordot", "contract", _tensordot_rule, _tensordot_perform, _tensordot_vjp,
                  nin=2, shape=_tensordot_shape,
                  doc="Contract a's last naxes dims with b's first naxes (BLAS gemm)."))
register(OpRecord("batched_dot", "batched_dot", _batched_rule, _batched_perform, _batched_vjp,
                  nin=2, shape=_batched_shape,
                  doc="Per-batch matrix/vector products of 2-d or 3-d operands."))
