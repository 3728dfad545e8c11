"""``croton.tensor.signal.pool`` (Theano's ``theano.tensor.signal.pool``): ``pool_2d``.

Example::

    >>> import croton, numpy, croton.tensor as T
    >>> from croton.tensor.signal.pool import pool_2d
    >>> x = T.dmatrix('x')
    >>> f = croton.function([x], pool_2d(x, (2, 2), ignore_border=True), mode='NUMPY')
    >>> f(numpy.arange(16.0).reshape(4, 4))
    array([[ 5.,  7.],
           [13., 15.]])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from croton.graph import Variable, user_source_line
from croton.ops.nnet import POOL_MODES
from croton.ops.table import OPS, make_output
from croton.tensor.basic import as_tensor_variable


def _pair(value, what: str) -> tuple[int, int]:
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"pool_2d: {what} must be a pair of ints, got {value!r}")
    return pair


def pool_2d(input, ws: Sequence[int] | None = None, ignore_border: bool | None = None,
            stride: Sequence[int] | None = None, pad: Sequence[int] = (0, 0), mode: str = "max",
            ds: Sequence[int] | None = None, st: Sequence[int] | None = None,
            padding: Sequence[int] | None = None) -> Variable:
    """Pool the last two dimensions of ``input`` (ndim >= 2) with windows ``ws``, ``stride``
    (default ``ws``) and zero padding ``pad``. ``mode``: ``'max'``, ``'sum'``,
    ``'average_inc_pad'`` (padding counts in the divisor) or ``'average_exc_pad'``.
    ``ignore_border=False`` keeps partial windows at the bottom and right edges; as in Theano,
    leaving it unset warns and means False, and padding needs ``ignore_border=True``. ``ds``,
    ``st`` and ``padding`` are Theano's old names for ``ws``, ``stride`` and ``pad``.
    """
    ws = ws if ws is not None else ds
    if ws is None:
        raise ValueError("pool_2d: ws (the window shape) is required")
    stride = stride if stride is not None else st
    pad = padding if padding is not None else pad
    if ignore_border is None:
        warnings.warn("pool_2d: ignore_border is unset; it defaults to False as in Theano. "
                      "Pass ignore_border=True for the behaviour of every other library.",
                      stacklevel=2)
        ignore_border = False
    if mode == "average":
        mode = "average_inc_pad"
    if mode not in POOL_MODES:
        raise ValueError(f"pool_2d: mode must be one of {POOL_MODES}, got {mode!r}")
    ws = _pair(ws, "ws")
    stride = ws if stride is None else _pair(stride, "stride")
    pad = _pair(pad, "pad")
    if min(ws) < 1 or min(stride) < 1 or min(pad) < 0:
        raise ValueError(f"pool_2d: ws and stride must be positive and pad non-negative, got "
                         f"ws={ws}, stride={stride}, pad={pad} (at {user_source_line()})")
    if pad != (0, 0) and not ignore_border:
        raise NotImplementedError("pool_2d: padding works only with ignore_border=True")
    if pad[0] >= ws[0] or pad[1] >= ws[1]:
        raise NotImplementedError(f"pool_2d: padding {pad} must be smaller than the window {ws}")
    input = as_tensor_variable(input)
    if input.ndim < 2:
        raise TypeError(f"pool_2d requires an input of ndim >= 2, got {input.type} "
                        f"(at {user_source_line()})")
    return make_output(OPS["pool_2d"], [input], ws=ws, stride=stride, pad=pad,
                       ignore_border=bool(ignore_border), mode=mode)


__all__ = ["pool_2d"]
