"""``croton.tensor.signal.pool`` (Theano's ``theano.tensor.signal.pool``): ``pool_2d`` and
``pool_3d``. Window, stride and padding may be ints or symbolic ints (a tuple of int scalars or
an int vector), as in Theano; they are checked when the function runs.

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

import numpy as np

from croton.graph import Constant, Variable, user_source_line
from croton.ops.nnet import POOL_FAMILY, POOL_MODES
from croton.ops.table import make_output
from croton.tensor import math as _math
from croton.tensor.basic import as_tensor_variable
from croton.types import INT_DTYPES


def _vector(value, nd: int, what: str, who: str) -> tuple[Variable, tuple[int, ...] | None]:
    """``value`` as an int64 vector of ``nd`` entries, and its ints when it is constant."""
    if isinstance(value, Variable) and not (isinstance(value, Constant) and value.ndim == 1):
        if value.ndim != 1 or value.dtype not in INT_DTYPES:
            raise TypeError(f"{who}: {what} must be {nd} ints or an int vector, got {value.type} "
                            f"(at {user_source_line()})")
        return _math.cast(value, "int64"), None
    if isinstance(value, Constant):
        value = [int(v) for v in value.data]
    items = list(value)
    if len(items) != nd:
        raise ValueError(f"{who}: {what} must have {nd} entries, got {value!r} "
                         f"(at {user_source_line()})")
    ints = []
    for v in items:
        if isinstance(v, Constant) and v.ndim == 0:
            v = v.data.item()
        if isinstance(v, bool | float | np.floating) or (isinstance(v, Variable)
                                                          and v.dtype not in INT_DTYPES):
            raise TypeError(f"{who}: {what} must hold ints, got {value!r} "
                            f"(at {user_source_line()})")
        ints.append(v)
    if all(isinstance(v, int | np.integer) for v in ints):
        ints = tuple(int(v) for v in ints)
        return as_tensor_variable(np.array(ints, dtype="int64")), ints
    from croton.tensor.shape_ops import stack

    return stack([_math.cast(as_tensor_variable(v), "int64") for v in ints]), None


def _pool(nd: int, who: str, input, ws, ignore_border, stride, pad, mode, kwargs) -> Variable:
    old = {"ds": "ws", "st": "stride", "padding": "pad"}
    for key in kwargs:
        if key not in old:
            raise TypeError(f"{who}() got an unexpected keyword argument {key!r}")
    if "ds" in kwargs:
        if ws is not None:
            raise ValueError(f"{who}: you can't provide a value to both 'ws' and 'ds'")
        ws = kwargs["ds"]
    if ws is None:
        raise ValueError(f"{who}: ws (the window shape) is required")
    if "st" in kwargs:
        if stride is not None:
            raise ValueError(f"{who}: you can't provide a value to both 'stride' and 'st'")
        stride = kwargs["st"]
    if "padding" in kwargs:
        pad = kwargs["padding"]
    if ignore_border is None:
        warnings.warn(f"{who}: ignore_border is unset; it defaults to False as in Theano. "
                      "Pass ignore_border=True for the behaviour of every other library.",
                      stacklevel=3)
        ignore_border = False
    if mode in ("average", "max_deterministic"):
        mode = {"average": "average_inc_pad", "max_deterministic": "max"}[mode]
    if mode not in POOL_MODES:
        raise ValueError(f"{who}: mode must be one of {POOL_MODES}, got {mode!r}")
    input = as_tensor_variable(input)
    if input.ndim < nd:
        raise TypeError(f"{who} requires an input of ndim >= {nd}, got {input.type} "
                        f"(at {user_source_line()})")
    ws_v, ws_i = _vector(ws, nd, "ws", who)
    st_v, st_i = (ws_v, ws_i) if stride is None else _vector(stride, nd, "stride", who)
    pd_v, pd_i = _vector((0,) * nd if pad is None else pad, nd, "pad", who)
    if (ws_i and min(ws_i) < 1) or (st_i and min(st_i) < 1) or (pd_i and min(pd_i) < 0):
        raise ValueError(f"{who}: ws and stride must be positive and pad non-negative, got "
                         f"ws={ws}, stride={stride}, pad={pad} (at {user_source_line()})")
    if pd_i and max(pd_i) > 0 and not ignore_border:
        raise NotImplementedError(f"{who}: padding works only with ignore_border=True")
    if pd_i and ws_i and any(p >= w for p, w in zip(pd_i, ws_i)):
        raise NotImplementedError(f"{who}: padding {pd_i} must be smaller than the window {ws_i}")
    return make_output(POOL_FAMILY[nd]["pool"], [input, ws_v, st_v, pd_v],
                       ignore_border=bool(ignore_border), mode=mode)


def pool_2d(input, ws: Sequence | Variable | None = None, ignore_border: bool | None = None,
            stride: Sequence | Variable | None = None, pad: Sequence | Variable | None = (0, 0),
            mode: str = "max", **kwargs) -> Variable:
    """Pool the last two dimensions of ``input`` (ndim >= 2) with windows ``ws``, ``stride``
    (default ``ws``) and zero padding ``pad`` (None: no padding); each an int pair, a tuple of
    int scalars or an int vector. ``mode``: ``'max'``, ``'sum'``, ``'average_inc_pad'``
    (padding counts in the divisor) or ``'average_exc_pad'``. ``ignore_border=False`` keeps
    partial windows at the bottom and right edges; as in Theano, leaving it unset warns and means
    False, and padding needs ``ignore_border=True``. ``ds``, ``st`` and ``padding`` are Theano's
    old names for ``ws``, ``stride`` and ``pad``.

    >>> import croton, numpy, croton.tensor as T
    >>> x, w = T.dmatrix('x'), T.lvector('w')
    >>> f = croton.function([x, w], pool_2d(x, w, ignore_border=True, pad=None))
    >>> f(numpy.arange(16.0).reshape(4, 4), [2, 4])
    array([[ 7.],
           [15.]])
    """
    return _pool(2, "pool_2d", input, ws, ignore_border, stride, pad, mode, kwargs)


def pool_3d(input, ws: Sequence | Variable | None = None, ignore_border: bool | None = None,
            stride: Sequence | Variable | None = None,
            pad: Sequence | Variable | None = (0, 0, 0), mode: str = "max",
            **kwargs) -> Variable:
    """``pool_2d`` over the last three dimensions of ``input`` (ndim >= 3).

    >>> import croton, numpy, croton.tensor as T
    >>> x = T.dtensor3('x')
    >>> f = croton.function([x], pool_3d(x, (2, 2, 2), ignore_border=True, mode='sum'))
    >>> f(numpy.ones((2, 4, 3)))
    array([[[8.],
            [8.]]])
    """
    return _pool(3, "pool_3d", input, ws, ignore_border, stride, pad, mode, kwargs)


__all__ = ["pool_2d", "pool_3d"]
