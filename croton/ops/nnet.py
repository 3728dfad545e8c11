"""Structured neural-network primitives: per-row gather (for cross-entropy with class indices)
and pooling (2-d and 3-d), each with its gradient primitives; the convolutions are in
``croton/ops/conv.py``. Composites (softmax, log_softmax, the cross-entropies) are written in
elementwise ops and reductions in ``croton/tensor/nnet``; only what cannot be written that way
lives here.

Kernels: ``runtime/cpu/kernels/nnet.hpp`` (pooling, gather, scatter); lowering:
``codegen/lowering/nnet.py``.

Pooling works on the last two (``pool_2d``) or three (``pool_3d``) dimensions; its window,
stride and padding are int vector inputs (so they may be symbolic, as in Theano); ``mode`` is
``max | sum | average_inc_pad | average_exc_pad``; max pooling's gradient goes to every position
equal to the window's maximum (Theano's ``MaxPoolGrad``).

Example::

    >>> import croton.tensor as T
    >>> from croton.tensor.signal.pool import pool_2d
    >>> pool_2d(T.dtensor4('x'), (2, 2), ignore_border=True).owner.op.name
    'pool_2d'
"""

from __future__ import annotations

import numpy as np

from croton.ops.shapes import POOL_OUT_SIZE, same_as
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
    shape=lambda params, ins: [[ins.dim(1, 0)]],
    doc="take_along_last(x, idx): out[i] = x[i, idx[i]] for a matrix x and integer vector idx;"
        " IndexError outside [0, x.shape[1])."))
OPS_TAKE_GRAD = register(OpRecord(
    "take_along_last_grad", "take_along_last_grad", _take_grad_rule, _take_grad_perform,
    _take_grad_vjp, nin=3, shape=same_as(2),
    doc="take_along_last_grad(g, idx, x): zeros shaped like x with out[i, idx[i]] = g[i]."))


# --- pooling -------------------------------------------------------------------------------------
# Inputs: x (and z, a gradient) then the int vectors ws, stride, pad (constants when static); the
# pooled dims are the last nd (2: pool_2d, 3: pool_3d).
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


def _geometry(values, nd: int, ignore_border: bool):
    ws, st, pad = (tuple(int(v) for v in np.asarray(a).reshape(-1)) for a in values)
    if not len(ws) == len(st) == len(pad) == nd:
        raise ValueError(f"pool: ws, stride and pad must have {nd} entries, got {ws}, {st}, {pad}")
    if min(ws) < 1 or min(st) < 1 or min(pad) < 0 or any(p >= w for p, w in zip(pad, ws)) \
            or (not ignore_border and max(pad) > 0):
        raise ValueError(f"pool: need ws >= 1, stride >= 1, 0 <= pad < ws (pad only with "
                         f"ignore_border=True), got ws={ws}, stride={st}, pad={pad}")
    return ws, st, pad


def pool_windows(shape, geometry, ignore_border: bool):
    """Yield ``(out_index, window_slices, count_inc_pad)`` for each output position: the window's
    slices in image coordinates (clipped to the image) and the divisor of ``average_inc_pad``."""
    ws, st, pad = geometry
    nd = len(ws)
    dims = shape[-nd:]
    outs = [pool_out_size(n, w, s, p, ignore_border) for n, w, s, p in zip(dims, ws, st, pad)]
    for pos in np.ndindex(*outs):
        starts = [i * s - p for i, s, p in zip(pos, st, pad)]
        count = 1
        for s0, w, n, p in zip(starts, ws, dims, pad):
            count *= min(s0 + w, n + p) - s0
        yield (pos, tuple(slice(max(s0, 0), min(s0 + w, n)) for s0, w, n in zip(starts, ws, dims)),
               count)


def _nd_of(node) -> int:
    return node.op.extra["nd"]


def _pool_rule(nd: int, name: str):
    def rule(types, params):
        x, *geo = types
        if x.ndim < nd:
            raise TypeError(f"{name} needs an input of ndim >= {nd}, got {x}")
        _need_float(name, x)
        _need_int_vectors(name, geo)
        return [TensorType(x.dtype, x.broadcastable[:-nd] + (False,) * nd)]

    return rule


def _need_int_vectors(name, geo):
    for t in geo:
        if t.ndim != 1 or t.dtype not in INT_DTYPES:
            raise TypeError(f"{name}: ws, stride and pad must be integer vectors, got {t}")


def _axes(nd: int) -> tuple[int, ...]:
    return tuple(range(-nd, 0))


def _pool_perform(nd: int):
    def perform(values, params):
        x, *geo = values
        ib, mode = params["ignore_border"], params["mode"]
        geometry = _geometry(geo, nd, ib)
        outs = [pool_out_size(n, w, s, p, ib) for n, w, s, p in zip(x.shape[-nd:], *geometry)]
        z = np.zeros(x.shape[:-nd] + tuple(outs), x.dtype)
        for pos, sl, count in pool_windows(x.shape, geometry, ib):
            win = x[(Ellipsis,) + sl]
            if mode == "max":
                z[(Ellipsis,) + pos] = win.max(axis=_axes(nd))
            else:
                total = win.sum(axis=_axes(nd))
                if mode == "average_inc_pad":
                    total = total / count
                elif mode == "average_exc_pad":
                    total = total / np.prod([s.stop - s.start for s in sl])
                z[(Ellipsis,) + pos] = total
        return [z]

    return perform


def _family(node):
    return POOL_FAMILY[_nd_of(node)]


def _pool_vjp(node, g):
    x, *geo = node.inputs
    params = dict(node.params)
    fam = _family(node)
    gz = _t().cast(g[0], x.dtype)
    if params["mode"] == "max":
        return [make_output(fam["max_grad"], [x, node.outputs[0], gz, *geo], **params),
                None, None, None]
    return [make_output(fam["avg_grad"], [x, gz, *geo], **params), None, None, None]


def _grad_rule(name: str, nd: int, ntensors: int, out_index: int = 0):
    def rule(types, params):
        tensors, geo = types[:ntensors], types[ntensors:]
        if any(t.ndim != tensors[0].ndim or t.ndim < nd for t in tensors):
            raise TypeError(f"{name}: expected {ntensors} inputs of one ndim >= {nd}, got "
                            f"{[str(t) for t in tensors]}")
        _need_float(name, *tensors)
        _need_int_vectors(name, geo)
        return [tensors[out_index]]

    return rule


def _max_grad_perform(nd: int, grad_grad: bool):
    def perform(values, params):
        x, z, g, *geo = values
        geometry = _geometry(geo, nd, params["ignore_border"])
        out = np.zeros((z if grad_grad else x).shape, g.dtype)
        for pos, sl, _ in pool_windows(x.shape, geometry, params["ignore_border"]):
            hit = x[(Ellipsis,) + sl] == z[(Ellipsis,) + pos][(Ellipsis,) + (None,) * nd]
            if grad_grad:
                out[(Ellipsis,) + pos] = (hit * g[(Ellipsis,) + sl]).sum(axis=_axes(nd))
            else:
                out[(Ellipsis,) + sl] += hit * g[(Ellipsis,) + pos][(Ellipsis,) + (None,) * nd]
        return [out]

    return perform


def _avg_grad_perform(nd: int):
    def perform(values, params):
        x, gz, *geo = values
        mode = params["mode"]
        geometry = _geometry(geo, nd, params["ignore_border"])
        gx = np.zeros(x.shape, gz.dtype)
        for pos, sl, count in pool_windows(x.shape, geometry, params["ignore_border"]):
            val = gz[(Ellipsis,) + pos]
            if mode == "average_inc_pad":
                val = val / count
            elif mode == "average_exc_pad":
                val = val / np.prod([s.stop - s.start for s in sl])
            gx[(Ellipsis,) + sl] += val[(Ellipsis,) + (None,) * nd]
        return [gx]

    return perform


def _max_grad_vjp(node, g):
    x, z, _, *geo = node.inputs
    return [None, None, make_output(_family(node)["max_grad_grad"], [x, z, g[0], *geo],
                                    **dict(node.params)), None, None, None]


def _max_grad_grad_vjp(node, g):
    x, z, _, *geo = node.inputs
    return [None, None, make_output(_family(node)["max_grad"], [x, z, g[0], *geo],
                                    **dict(node.params)), None, None, None]


def _avg_grad_vjp(node, g):
    _, _, *geo = node.inputs
    return [None, make_output(_family(node)["pool"], [g[0], *geo], **dict(node.params)),
            None, None, None]


def pool_shape(params, ins, nd: int, first_geo: int = 1) -> list:
    """The pooled dims of input 0: window, stride and padding are the int vectors at
    ``first_geo``, ``first_geo + 1``, ``first_geo + 2`` (values)."""
    x = ins.types[0]
    lead = [ins.dim(0, d) for d in range(x.ndim - nd)]
    return lead + [ins.call(POOL_OUT_SIZE, ins.dim(0, x.ndim - nd + k), ins.value(first_geo, k),
                            ins.value(first_geo + 1, k), ins.value(first_geo + 2, k),
                            bool(params["ignore_border"])) for k in range(nd)]


def _register_pool(nd: int) -> dict[str, OpRecord]:
    name = f"pool_{nd}d"
    extra = {"nd": nd}
    return {
        "pool": register(OpRecord(
            name, "pool", _pool_rule(nd, name), _pool_perform(nd), _pool_vjp, nin=4, extra=extra,
            shape=lambda params, ins: [pool_shape(params, ins, nd)],
            doc=f"{name}(x, ws, stride, pad): Theano's pooling over the last {nd} dims "
                "(ignore_border, mode); ws, stride and pad may be computed at run time.")),
        "max_grad": register(OpRecord(
            f"{name}_max_grad", "pool_grad", _grad_rule(f"{name}_max_grad", nd, 3),
            _max_grad_perform(nd, False), _max_grad_vjp, nin=6, extra=extra, shape=same_as(0),
            doc=f"{name}_max_grad(x, z, gz, ws, stride, pad): gz routed to every position of a "
                "window equal to its max.")),
        "max_grad_grad": register(OpRecord(
            f"{name}_max_grad_grad", "pool_grad", _grad_rule(f"{name}_max_grad_grad", nd, 3, 1),
            _max_grad_perform(nd, True), _max_grad_grad_vjp, nin=6, extra=extra, shape=same_as(1),
            doc=f"{name}_max_grad_grad(x, z, ggx, ws, stride, pad): per window, the sum of ggx "
                "where x equals the max.")),
        "avg_grad": register(OpRecord(
            f"{name}_avg_grad", "pool_grad", _grad_rule(f"{name}_avg_grad", nd, 2),
            _avg_grad_perform(nd), _avg_grad_vjp, nin=5, extra=extra, shape=same_as(0),
            doc=f"{name}_avg_grad(x, gz, ws, stride, pad): gz spread over each window (sum and "
                "average modes).")),
    }


POOL_FAMILY = {2: _register_pool(2), 3: _register_pool(3)}
