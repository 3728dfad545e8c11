"""Reductions over a set of axes: ``sum``, ``max``, ``min``, ``prod``, ``all``, ``any``,
``argmax``, ``argmin``. One record each.

``params['axis']`` is a sorted tuple of the reduced axes; the output drops them (``keepdims`` is
a dimshuffle added by ``croton.tensor``). ``reduction`` says what each computes (identity,
combine, accumulator; ``croton.ops.table.Reduction``), read by both lowerings of reductions
(``reduce`` and ``fused_reduce``, through ``codegen/reduction.py``).
``argmax``/``argmin`` (kind ``arg_reduce``) return the int64 index of the first extremum in the
C-order flattening of the reduced axes (NaN wins, as in NumPy); their kernel is in
``runtime/cpu/kernels/reduce.hpp``.

Example::

    >>> import croton.tensor as T
    >>> T.dmatrix('m').sum(axis=0).owner.op_label()
    'sum{axis=(0,)}'
    >>> MIN.identity("float32"), ALL.accumulator("float64", "bool"), SUM.reassociate
    (inf, 'bool', True)
"""

from __future__ import annotations

import numpy as np

from croton.ops.shapes import reduce_shape
from croton.ops.table import OpRecord, Reduction, register
from croton.types import FLOAT_DTYPES, TensorType


def _t():
    import croton.tensor as T

    return T


def _sum_dtype(dtype: str) -> str:
    if dtype == "bool" or dtype.startswith("int"):
        return "int64"
    if dtype.startswith("uint"):
        return "uint64"
    return dtype


def _reduce_rule(out_dtype):
    def rule(types, params):
        (t,) = types
        axis = params["axis"]
        for a in axis:
            if not 0 <= a < t.ndim:
                raise ValueError(f"reduction axis {a} is out of range for {t} (ndim {t.ndim})")
        pattern = tuple(bc for i, bc in enumerate(t.broadcastable) if i not in axis)
        return [TensorType(out_dtype(t.dtype), pattern)]

    return rule


def _ordered_rule(name):
    """max, min: the dtype is kept; complex values have no order (as argmax/argmin)."""
    base = _reduce_rule(lambda d: d)

    def rule(types, params):
        if types[0].dtype.startswith("complex"):
            raise TypeError(f"{name}: complex input {types[0]} has no order")
        return base(types, params)

    return rule


def _expand(var, axis, ndim):
    from croton.tensor.math import restore_reduced_axes

    return restore_reduced_axes(var, axis, ndim)


def _vjp_sum(node, g):
    (x,) = node.inputs
    axis = dict(node.params)["axis"]
    return [_t().fill(x, _expand(g[0], axis, x.ndim))]


def _vjp_extremum(node, g):
    T = _t()
    (x,) = node.inputs
    axis = dict(node.params)["axis"]
    out = _expand(node.outputs[0], axis, x.ndim)
    mask = T.cast(T.eq(x, out), g[0].dtype)
    return [mask * _expand(g[0], axis, x.ndim)]


def _vjp_prod(node, g):
    (x,) = node.inputs
    axis = dict(node.params)["axis"]
    return [_expand(g[0] * node.outputs[0], axis, x.ndim) / x]


def _perform(fn):
    def perform(values, params):
        (x,) = values
        axis = params["axis"]
        with np.errstate(all="ignore"):
            return [fn(x, axis=axis)]

    return perform


def _np_max(x, axis):
    if x.size == 0 and any(x.shape[a] == 0 for a in axis):
        raise ValueError("max of an empty array has no identity")
    return np.max(x, axis=axis)


def _np_min(x, axis):
    if x.size == 0 and any(x.shape[a] == 0 for a in axis):
        raise ValueError("min of an empty array has no identity")
    return np.min(x, axis=axis)


def _wide_accumulator(value_dtype: str, out_dtype: str) -> str:
    """sum, prod: floats accumulate in float64, complex and integers in the output dtype."""
    return "float64" if out_dtype in FLOAT_DTYPES else out_dtype


def _value_accumulator(value_dtype: str, out_dtype: str) -> str:
    return value_dtype


def _bool_accumulator(value_dtype: str, out_dtype: str) -> str:
    return "bool"


def _lowest(dtype: str):
    """The identity of max: -inf, the dtype's lowest integer, or False."""
    if dtype == "bool":
        return False
    if dtype in FLOAT_DTYPES:
        return -np.inf
    return int(np.iinfo(dtype).min)


def _highest(dtype: str):
    """The identity of min: inf, the dtype's largest integer, or True."""
    if dtype == "bool":
        return True
    if dtype in FLOAT_DTYPES:
        return np.inf
    return int(np.iinfo(dtype).max)


SUM = Reduction("{acc} + {v}", lambda dtype: 0, _wide_accumulator, operator="+")
PROD = Reduction("{acc} * {v}", lambda dtype: 1, _wide_accumulator, operator="*")
MAX = Reduction("croton::maximum({acc}, {v})", _lowest, _value_accumulator, empty_ok=False)
MIN = Reduction("croton::minimum({acc}, {v})", _highest, _value_accumulator, empty_ok=False)
ALL = Reduction("{acc} && {v}", lambda dtype: True, _bool_accumulator)
ANY = Reduction("{acc} || {v}", lambda dtype: False, _bool_accumulator)

register(OpRecord("sum", "reduce", _reduce_rule(_sum_dtype),
                  _perform(lambda x, axis: np.sum(x, axis=axis, dtype=_sum_dtype(str(x.dtype)))),
                  _vjp_sum, reduction=SUM, can_fail=False,
                  shape=reduce_shape, nin=1, doc="Sum over axes (ints accumulate in 64 bits)."))
register(OpRecord("prod", "reduce", _reduce_rule(_sum_dtype),
                  _perform(lambda x, axis: np.prod(x, axis=axis, dtype=_sum_dtype(str(x.dtype)))),
                  _vjp_prod, reduction=PROD, can_fail=False,
                  shape=reduce_shape, nin=1, doc="Product over axes."))
register(OpRecord("max", "reduce", _ordered_rule("max"), _perform(_np_max),
                  _vjp_extremum, reduction=MAX, can_fail=False,
                  shape=reduce_shape, nin=1, doc="Maximum over axes (NaN propagates)."))
register(OpRecord("min", "reduce", _ordered_rule("min"), _perform(_np_min),
                  _vjp_extremum, reduction=MIN, can_fail=False,
                  shape=reduce_shape, nin=1, doc="Minimum over axes (NaN propagates)."))


def _np_arg(fn, name):
    def perform(values, params):
        (x,) = values
        axis = params["axis"]
        if any(x.shape[a] == 0 for a in axis):
            raise ValueError(f"attempt to get {name} of an empty sequence")
        kept = [d for d in range(x.ndim) if d not in axis]
        moved = np.transpose(x, kept + list(axis))
        count = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
        flat = moved.reshape(moved.shape[:len(kept)] + (count,))
        return [np.asarray(fn(flat, axis=-1), dtype=np.int64)]

    return perform


def _arg_rule(types, params):
    (t,) = types
    if t.dtype.startswith("complex"):
        raise TypeError(f"argmax/argmin: complex input {t} has no order")
    return _reduce_rule(lambda d: "int64")(types, params)


def _no_grad(node, g):
    return [None]


register(OpRecord("argmax", "arg_reduce", _arg_rule, _np_arg(np.argmax, "argmax"), _no_grad,
                  shape=reduce_shape, nin=1,
                  doc="Index of the first maximum over axes (NaN wins)."))
register(OpRecord("argmin", "arg_reduce", _arg_rule, _np_arg(np.argmin, "argmin"), _no_grad,
                  shape=reduce_shape, nin=1,
                  doc="Index of the first minimum over axes (NaN wins)."))
register(OpRecord("all", "reduce", _reduce_rule(lambda d: "bool"),
                  _perform(lambda x, axis: np.all(x, axis=axis)), _no_grad,
                  reduction=ALL, can_fail=False, shape=reduce_shape, nin=1,
                  doc="True where every element over the axes is nonzero."))
register(OpRecord("any", "reduce", _reduce_rule(lambda d: "bool"),
                  _perform(lambda x, axis: np.any(x, axis=axis)), _no_grad,
                  reduction=ANY, can_fail=False, shape=reduce_shape, nin=1,
                  doc="True where some element over the axes is nonzero."))
