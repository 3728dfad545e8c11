"""Cumulative sums and products along one axis: ``cumsum``, ``cumprod`` (kind ``cumulative``).

``params['axis']`` is a non-negative axis, or ``None`` to walk the input in C order and write a
1-d result (NumPy's ``axis=None``). ``reverse=True`` accumulates from the end (the gradient of
``cumsum`` is the reverse cumsum of the output gradient). With ``axis=None`` an optional second
input gives the output shape: the flat walk is laid out in that shape (the gradient of a
flattening cumsum has the input's shape). The kernel is ``croton::cumulate`` in
``runtime/cpu/kernels/reduce.hpp``.

Example::

    >>> import croton.tensor as T
    >>> T.cumsum(T.imatrix('m'), axis=1).type
    TensorType(int64, matrix)
"""

from __future__ import annotations

import numpy as np

from croton.ops.reduce import _sum_dtype
from croton.ops.table import OpRecord, register
from croton.types import TensorType


def _t():
    import croton.tensor as T

    return T


def _cum_rule(types, params):
    t = types[0]
    if t.dtype.startswith("complex"):
        raise TypeError(f"cumsum/cumprod: complex input {t} is not supported")
    axis = params["axis"]
    dtype = _sum_dtype(t.dtype)
    if axis is None:
        if len(types) == 2:
            return [TensorType(dtype, (False,) * types[1].ndim)]
        return [TensorType(dtype, (False,))]
    if not 0 <= axis < t.ndim:
        raise ValueError(f"cumulative axis {axis} is out of range for {t} (ndim {t.ndim})")
    return [TensorType(dtype, t.broadcastable)]


def _cum_perform(fn):
    def perform(values, params):
        x = values[0]
        axis, reverse = params["axis"], params["reverse"]
        dtype = _sum_dtype(str(x.dtype))
        if axis is None:
            flat = x.reshape(-1)
            out = fn(flat[::-1], dtype=dtype)[::-1] if reverse else fn(flat, dtype=dtype)
            return [out.reshape(values[1].shape) if len(values) == 2 else out]
        if reverse:
            rev = np.flip(x, axis)
            return [np.flip(fn(rev, axis=axis, dtype=dtype), axis)]
        return [fn(x, axis=axis, dtype=dtype)]

    return perform


def _reverse_cumsum(g, x, axis, reverse):
    """The cumsum of ``g`` in the other direction, laid out like ``x``."""
    from croton.ops.table import OPS, make_output

    inputs = [g, x] if axis is None else [g]
    return make_output(OPS["cumsum"], inputs, axis=axis, reverse=not reverse)


def _vjp_cumsum(node, g):
    x = node.inputs[0]
    params = dict(node.params)
    gx = _reverse_cumsum(g[0], x, params["axis"], params["reverse"])
    return [gx] + [None] * (len(node.inputs) - 1)


def _vjp_cumprod(node, g):
    # Theano's formula (no zeros in x): reverse_cumsum(out * g) / x
    x = node.inputs[0]
    params = dict(node.params)
    gx = _reverse_cumsum(node.outputs[0] * g[0], x, params["axis"], params["reverse"])
    return [_t().true_div(gx, x)] + [None] * (len(node.inputs) - 1)


def _cum_shape(params, ins):
    """The input's shape; with axis=None the flat length (or the second input's shape)."""
    if params["axis"] is not None:
        return [ins.shape(0)]
    return [ins.shape(1) if len(ins.types) == 2 else [ins.prod(ins.shape(0))]]


register(OpRecord("cumsum", "cumulative", _cum_rule, _cum_perform(np.cumsum), _vjp_cumsum,
                  shape=_cum_shape,
                  doc="Running sum along an axis (or over the C-order flattening)."))
register(OpRecord("cumprod", "cumulative", _cum_rule, _cum_perform(np.cumprod), _vjp_cumprod,
                  shape=_cum_shape,
                  doc="Running product along an axis (or the C-order flattening)."))
