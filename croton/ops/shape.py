"""Shape ops: ``dimshuffle`` (a strided view: permute, drop or add broadcastable dims) and
``shape_i`` (one dimension's length as an int64 scalar). One record each.

Example::

    >>> import croton.tensor as T
    >>> T.dmatrix('m').dimshuffle(1, 'x', 0).broadcastable
    (False, True, False)
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OpRecord, register
from croton.types import TensorType


def _t():
    import croton.tensor as T

    return T


def _dimshuffle_rule(types, params):
    (t,) = types
    order = params["order"]
    kept = [d for d in order if d != "x"]
    if sorted(kept) != sorted(set(kept)) or any(not 0 <= d < t.ndim for d in kept):
        raise ValueError(f"dimshuffle{order}: invalid pattern for {t}")
    for d in range(t.ndim):
        if d not in kept and not t.broadcastable[d]:
            raise ValueError(
                f"dimshuffle{order}: dimension {d} of {t} is dropped but is not broadcastable"
            )
    pattern = tuple(True if d == "x" else t.broadcastable[d] for d in order)
    return [TensorType(t.dtype, pattern)]


def _dimshuffle_perform(values, params):
    (x,) = values
    order = params["order"]
    kept = [d for d in order if d != "x"]
    dropped = tuple(d for d in range(x.ndim) if d not in kept)
    y = x.reshape([s for i, s in enumerate(x.shape) if i not in dropped]) if dropped else x
    remaining = [d for d in range(x.ndim) if d not in dropped]
    y = y.transpose([remaining.index(d) for d in kept])
    shape = []
    it = iter(y.shape)
    for d in order:
        shape.append(1 if d == "x" else next(it))
    return [y.reshape(shape)]


def _dimshuffle_vjp(node, g):
    (x,) = node.inputs
    order = dict(node.params)["order"]
    # g has the output's pattern; drop its added 'x' dims, restore x's dropped ones.
    back = []
    for d in range(x.ndim):
        back.append(order.index(d) if d in order else "x")
    return [_t().dimshuffle(g[0], tuple(back))]


def _shape_i_rule(types, params):
    (t,) = types
    if not 0 <= params["i"] < t.ndim:
        raise ValueError(f"shape_i: dimension {params['i']} out of range for {t}")
    return [TensorType("int64", ())]


def _dimshuffle_shape(params, ins):
    """A new broadcastable dim (1), or the input dim it keeps."""
    return [[1 if d == "x" else ins.dim(0, d) for d in params["order"]]]


register(OpRecord("dimshuffle", "dimshuffle", _dimshuffle_rule, _dimshuffle_perform,
                  _dimshuffle_vjp, nin=1, views=(0,), can_fail=False, arithmetic=False,
                  shape=_dimshuffle_shape))
register(OpRecord("shape_i", "shape_i", _shape_i_rule,
                  lambda values, params: [np.asarray(values[0].shape[params["i"]], "int64")],
                  lambda node, g: [None], nin=1, can_fail=False, arithmetic=False,
                  shape=lambda params, ins: [[]]))
