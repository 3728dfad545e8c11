"""Structured neural-network primitives: per-row gather (for cross-entropy with class indices)
and pooling, each with its gradient primitives (the convolutions are in ``croton/ops/conv.py``). Composites (softmax,
log_softmax, the cross-entropies) are written in elementwise ops and reductions in
``croton/tensor/nnet.py``; only what cannot be written that way lives here.

Kernels: ``runtime/cpu/kernels/conv.hpp`` (im2col + BLAS) and ``runtime/cpu/kernels/nnet.hpp``
(pooling, gather, scatter); lowering: ``codegen/lowering/nnet.py``.

Conventions (Theano's): convolution input ``(batch, channels, rows, cols)``, filters
``(out_channels, in_channels, rows, cols)``; ``border`` is ``'full'``, ``'half'`` or a pair of
explicit paddings (``'valid'`` is ``(0, 0)``); ``filter_flip=True`` is a true convolution.
Pooling works on the last two dimensions; ``mode`` is ``max | sum | average_inc_pad |
average_exc_pad``; max pooling's gradient goes to every position equal to the window's maximum
(Theano's ``MaxPoolGrad``).

Example::

    >>> import croton.tensor as T
    >>> T.nnet.conv2d(T.dtensor4('x'), T.dtensor4('w')).owner.op.name
    'conv2d'
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from croton.ops.table import OpRecord, make_output, register
from croton.types import FLOAT_DTYPES, INT_DTYPES, TensorType

POOL_MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _t():
    import croton.tensor as T

    return T


def _need_float(name: str, *types: TensorType) -> None:
    for t in types:
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected float32 or float64 inputs, got {t}")
    if len({t.dtype for t in types}) != 1:
        raise TypeError(f"{name}: inputs must share a dtype, got {[str(t) for t in types]}")


# --- per-row gather: out[i] = x[i, idx[i]] ------------------------------------------------------
def _check_rows(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    if x.shape[0] != idx.shape[0]:
        raise ValueError(f"take_along_last: {x.shape[0]} rows but {idx.shape[0]} indices")
    cols = idx.astype("int64")
    bad = (cols < 0) | (cols >= x.shape[1])
    if np.any(bad):
        raise IndexError(f"index {cols[bad][0]} is out of bounds for axis 1 of size {x.shape[1]}")
    return cols


def _take_rule(types, params):
    x, idx = types
    if x.ndim != 2 or idx.ndim != 1:
        raise TypeError(f"take_along_last: expected a matrix and an index vector, got {x} and "
                        f"{idx}")
    if idx.dtype not in INT_DTYPES:
        raise TypeError(f"take_along_last: indices must be integers, got {idx.dtype}")
    return [TensorType(x.dtype, (x.broadcastable[0] and idx.broadcastable[0],))]


def _take_perform(values, params):
    x, idx = values
    cols = _check_rows(x, idx)
    return [x[np.arange(x.shape[0]), cols]]


def _take_vjp(node, g):
    x, idx = node.inputs
    return [make_output(OPS_TAKE_GRAD, [_t().cast(g[0], x.dtype), idx, x]), None]


def _take_grad_rule(types, params):
    g, idx, x = types
    if g.ndim != 1 or idx.ndim != 1 or x.ndim != 2 or idx.dtype not in INT_DTYPES:
        raise TypeError(f"take_along_last_grad: bad input types {g}, {idx}, {x}")
    return [TensorType(g.dtype, x.broadcastable)]


def _take_grad_perform(values, params):
    g, idx, x = values
    cols = _check_rows(x, idx)
    out = np.zeros(x.shape, dtype=g.dtype)
    out[np.arange(x.shape[0]), cols] = g
    return [out]


def _take_grad_vjp(node, g):
    _, idx, _ = node.inputs
    return [make_output(OPS_TAKE, [g[0], idx]), None, None]


OPS_TAKE = register(OpRecord(
    "take_along_last", "take_along_last", _take_rule, _take_perform, _take_vjp, nin=2,
    doc="take_along_last(x, idx): out[i] = x[i, idx[i]] for a matrix x and integer vector idx;"
        " IndexError outside [0, x.shape[1])."))
OPS_TAKE_GRAD = register(OpRecord(
    "take_along_last_grad", "take_along_last_grad", _take_grad_rule, _take_grad_perform,
    _take_grad_vjp, nin=3,
    doc="take_along_last_grad(g, idx, x): zeros shaped like x with out[i, idx[i]] = g[i]."))


# --- pool_2d -----------------------------------------------------------------------------------
def pool_out_size(n: int, ws: int, st: int, pad: int, ignore_border: bool) -> int:
    """Theano's pooled length of one axis: ``pool_out_size(5, 2, 2, 0, False) == 3``."""
    if n == 0:
        return 0
    n += 2 * pad
    if ignore_border:
        return max((n - ws) // st + 1, 0)
    if st >= ws:
        return (n - 1) // st + 1
    return max(0, (n - 1 - ws) // st + 1) + 1


def pool_windows(shape, params):
    """Yield ``(i, j, rows, cols, count_inc_pad)`` for each output position: the window's slices
    in image coordinates (clipped to the image) and the divisor of ``average_inc_pad``."""
    h, w = shape[-2:]
    (ws0, ws1), (st0, st1), (pd0, pd1) = params["ws"], params["stride"], params["pad"]
    ib = params["ignore_border"]
    for i in range(pool_out_size(h, ws0, st0, pd0, ib)):
        r0 = i * st0 - pd0
        for j in range(pool_out_size(w, ws1, st1, pd1, ib)):
            c0 = j * st1 - pd1
            count = (min(r0 + ws0, h + pd0) - r0) * (min(c0 + ws1, w + pd1) - c0)
            yield (i, j, slice(max(r0, 0), min(r0 + ws0, h)), slice(max(c0, 0), min(c0 + ws1, w)),
                   count)


def _pool_rule(types, params):
    (x,) = types
    if x.ndim < 2:
        raise TypeError(f"pool_2d needs an input of ndim >= 2, got {x}")
    _need_float("pool_2d", x)
    return [TensorType(x.dtype, x.broadcastable[:-2] + (False, False))]


def _pool_shape(shape, params):
    (ws0, ws1), (st0, st1), (pd0, pd1) = params["ws"], params["stride"], params["pad"]
    ib = params["ignore_border"]
    return tuple(shape[:-2]) + (pool_out_size(shape[-2], ws0, st0, pd0, ib),
                                pool_out_size(shape[-1], ws1, st1, pd1, ib))


def _pool_perform(values, params):
    (x,) = values
    mode = params["mode"]
    z = np.zeros(_pool_shape(x.shape, params), x.dtype)
    for i, j, rows, cols, count in pool_windows(x.shape, params):
        win = x[..., rows, cols]
        if mode == "max":
            z[..., i, j] = win.max(axis=(-2, -1))
        else:
            total = win.sum(axis=(-2, -1))
            if mode == "average_inc_pad":
                total = total / count
            elif mode == "average_exc_pad":
                total = total / (win.shape[-2] * win.shape[-1])
            z[..., i, j] = total
    return [z]


def _pool_params(node) -> dict:
    return dict(node.params)


def _pool_vjp(node, g):
    (x,) = node.inputs
    params = _pool_params(node)
    gz = _t().cast(g[0], x.dtype)
    if params["mode"] == "max":
        return [make_output(OPS_POOL_MAX_GRAD, [x, node.outputs[0], gz], **params)]
    return [make_output(OPS_POOL_AVG_GRAD, [x, gz], **params)]


def _same_as_first_rule(name: str, nin: int, out_index: int = 0):
    def rule(types, params):
        if len(types) != nin or any(t.ndim != types[0].ndim or t.ndim < 2 for t in types):
            raise TypeError(f"{name}: expected {nin} inputs of one ndim >= 2, got "
                            f"{[str(t) for t in types]}")
        _need_float(name, *types)
        return [types[out_index]]

    return rule


def _max_grad_perform(values, params):
    x, z, gz = values
    gx = np.zeros(x.shape, gz.dtype)
    for i, j, rows, cols, _ in pool_windows(x.shape, params):
        hit = x[..., rows, cols] == z[..., i, j][..., None, None]
        gx[..., rows, cols] += hit * gz[..., i, j][..., None, None]
    return [gx]


def _max_grad_grad_perform(values, params):
    x, z, ggx = values
    ggz = np.zeros(z.shape, ggx.dtype)
    for i, j, rows, cols, _ in pool_windows(x.shape, params):
        hit = x[..., rows, cols] == z[..., i, j][..., None, None]
        ggz[..., i, j] = (hit * ggx[..., rows, cols]).sum(axis=(-2, -1))
    return [ggz]


def _avg_grad_perform(values, params):
    x, gz = values
    mode = params["mode"]
    gx = np.zeros(x.shape, gz.dtype)
    for i, j, rows, cols, count in pool_windows(x.shape, params):
        val = gz[..., i, j]
        if mode == "average_inc_pad":
            val = val / count
        elif mode == "average_exc_pad":
            val = val / ((rows.stop - rows.start) * (cols.stop - cols.start))
        gx[..., rows, cols] += val[..., None, None]
    return [gx]


def _max_grad_vjp(node, g):
    x, z, _ = node.inputs
    return [None, None, make_output(OPS_POOL_MAX_GRAD_GRAD, [x, z, g[0]], **_pool_params(node))]


def _max_grad_grad_vjp(node, g):
    x, z, _ = node.inputs
    return [None, None, make_output(OPS_POOL_MAX_GRAD, [x, z, g[0]], **_pool_params(node))]


def _avg_grad_vjp(node, g):
    return [None, make_output(OPS_POOL, [g[0]], **_pool_params(node))]


OPS_POOL = register(OpRecord(
    "pool_2d", "pool_2d", _pool_rule, _pool_perform, _pool_vjp, nin=1,
    doc="pool_2d(x): Theano's pooling over the last two dims (ws, stride, pad, ignore_border, "
        "mode)."))
OPS_POOL_MAX_GRAD = register(OpRecord(
    "pool_2d_max_grad", "pool_2d_grad", _same_as_first_rule("pool_2d_max_grad", 3),
    _max_grad_perform, _max_grad_vjp, nin=3,
    doc="pool_2d_max_grad(x, z, gz): gz routed to every position of a window equal to its max."))
OPS_POOL_MAX_GRAD_GRAD = register(OpRecord(
    "pool_2d_max_grad_grad", "pool_2d_grad", _same_as_first_rule("pool_2d_max_grad_grad", 3, 1),
    _max_grad_grad_perform, _max_grad_grad_vjp, nin=3,
    doc="pool_2d_max_grad_grad(x, z, ggx): per window, the sum of ggx where x equals the max."))
OPS_POOL_AVG_GRAD = register(OpRecord(
    "pool_2d_avg_grad", "pool_2d_grad", _same_as_first_rule("pool_2d_avg_grad", 2),
    _avg_grad_perform, _avg_grad_vjp, nin=2,
    doc="pool_2d_avg_grad(x, gz): gz spread over each window (sum and average modes)."))
