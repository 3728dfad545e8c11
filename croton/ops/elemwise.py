"""Elementwise ops: one record each, with a scalar C++ expression and a NumPy reference.

The generators (``codegen/lower.py``) write the loops; a record only says what happens to one
element. ``{0}``, ``{1}``… are the operands, already cast to the record's compute dtype; ``{T}``
is the C++ type of the output. Helpers such as ``croton::floor_div`` live in
``runtime/cpu/scalar.hpp``.

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["sigmoid"].cpp
    'croton::sigmoid({0})'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from croton.ops.shapes import elementwise_shape
from croton.ops.table import InPlace, OpRecord, register
from croton.types import (
    COMPLEX_DTYPES,
    DISCRETE_DTYPES,
    FLOAT_DTYPES,
    TensorType,
    upcast,
    upgrade_to_float,
)

LIBM = 10  # the cost of a call into the math library (exp, tanh, ...), in adds


def _t():
    import croton.tensor as T

    return T


def elemwise_type_rule(out_dtype: Callable[[Sequence[str], dict], str], name: str = "",
                       domain: str = "any"):
    """Type rule: equal ndims, a dim is broadcastable only where every input's is.

    ``domain`` restricts the input dtypes: 'any', 'real' (no complex) or 'discrete' (bool and
    integers, for the bitwise ops); a bad dtype raises ``TypeError`` when the graph is built.
    """

    def rule(types: Sequence[TensorType], params: dict) -> list[TensorType]:
        ndims = {t.ndim for t in types}
        if len(ndims) != 1:
            raise TypeError(f"elementwise inputs need equal ndim, got {[t.ndim for t in types]}")
        dtypes = [t.dtype for t in types]
        if domain == "real" and any(d in COMPLEX_DTYPES for d in dtypes):
            raise TypeError(f"{name} is not defined for complex inputs, got {dtypes}")
        if domain == "discrete" and any(d not in DISCRETE_DTYPES for d in dtypes):
            raise TypeError(f"{name} needs bool or integer inputs, got {dtypes}")
        pattern = tuple(all(bc) for bc in zip(*(t.broadcastable for t in types)))
        if not types[0].broadcastable:
            pattern = ()
        return [TensorType(out_dtype(dtypes, params), pattern)]

    return rule


def _same(dtypes, params):
    return upcast(*dtypes)


def _to_float(dtypes, params):
    return upgrade_to_float(upcast(*dtypes))


def _to_bool(dtypes, params):
    return "bool"


def _part_dtype(dtypes, params):
    """complex64 -> float32, complex128 -> float64; real dtypes unchanged."""
    dtype = upcast(*dtypes)
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


def _last(dtypes, params):
    return dtypes[-1]


def _param_dtype(dtypes, params):
    return params["dtype"]


def _compute_upcast(dtypes: Sequence[str]) -> str:
    return upcast(*dtypes)


def _np_perform(fn, out_dtype, compute_dtype):
    """NumPy reference that computes in the dtype the C++ code computes in: a float result of
    integer inputs (``exp(int8)``) is computed in that float dtype, not in NumPy's float16."""

    def perform(values, params):
        dtypes = [str(v.dtype) for v in values]
        if compute_dtype is not None:
            target = compute_dtype(dtypes)
        else:
            target = out_dtype(dtypes, params)
            if target not in FLOAT_DTYPES and target not in COMPLEX_DTYPES:
                target = None
        if target is not None:
            values = [v if str(v.dtype) == target else v.astype(target) for v in values]
        return [fn(*values)]

    return perform


def elemwise(name: str, nin: int, cpp: str, numpy_fn, vjp=None, out_dtype=_same,
             compute_dtype=None, doc: str = "", domain: str = "real",
             cost: int = 1) -> OpRecord:
    """Register an elementwise op (``domain``: which input dtypes it accepts, see
    ``elemwise_type_rule``; ``cost``: work per element, 1 for an add, ``LIBM`` for a call
    into the math library)."""
    return register(OpRecord(
        name=name, kind="elemwise", nin=nin, cpp=cpp, vjp=vjp, doc=doc, cost=cost,
        can_fail=False, inplace=InPlace(),
        type_rule=elemwise_type_rule(out_dtype, name, domain),
        perform=_np_perform(numpy_fn, out_dtype, compute_dtype),
        compute_dtype=compute_dtype, shape=elementwise_shape,
    ))


def _discrete(var) -> bool:
    return var.dtype in DISCRETE_DTYPES


# --- reverse-mode rules (vjp: node, output grads -> input grads) -----------------------------
def _vjp_add(node, g):
    return [g[0], g[0]]


def _vjp_sub(node, g):
    return [g[0], -g[0]]


def _vjp_mul(node, g):
    a, b = node.inputs
    return [g[0] * b, g[0] * a]


def _vjp_true_div(node, g):
    a, b = node.inputs
    return [g[0] / b, -g[0] * node.outputs[0] / b]


def _vjp_pow(node, g):
    T = _t()
    a, b = node.inputs
    out = node.outputs[0]
    ga = g[0] * b * T.pow(a, b - 1)
    gb = None if _discrete(b) else g[0] * out * T.log(a)
    return [ga, gb]


def _vjp_neg(node, g):
    return [-g[0]]


def _vjp_abs(node, g):
    T = _t()
    x = node.inputs[0]
    if x.dtype in COMPLEX_DTYPES:  # d|z| = Re(conj(z) dz) / |z|
        return [g[0] * x / node.outputs[0]]
    return [g[0] * T.sgn(x)]


def _vjp_exp(node, g):
    return [g[0] * node.outputs[0]]


def _vjp_log(node, g):
    return [g[0] / node.inputs[0]]


def _vjp_sqr(node, g):
    return [g[0] * 2 * node.inputs[0]]


def _vjp_sqrt(node, g):
    return [g[0] * 0.5 / node.outputs[0]]


def _vjp_tanh(node, g):
    out = node.outputs[0]
    return [g[0] * (1 - out * out)]


def _vjp_sigmoid(node, g):
    out = node.outputs[0]
    return [g[0] * out * (1 - out)]


def _vjp_maximum(node, g):
    T = _t()
    a, b = node.inputs
    pick_a = T.cast(T.ge(a, b), g[0].dtype)
    return [g[0] * pick_a, g[0] * (1 - pick_a)]


def _vjp_minimum(node, g):
    T = _t()
    a, b = node.inputs
    pick_a = T.cast(T.le(a, b), g[0].dtype)
    return [g[0] * pick_a, g[0] * (1 - pick_a)]


def _vjp_switch(node, g):
    T = _t()
    cond = node.inputs[0]
    zero = T.zeros_like(g[0])
    return [None, T.switch(cond, g[0], zero), T.switch(cond, zero, g[0])]


def _vjp_fill(node, g):
    return [None, g[0]]


def _vjp_cast(node, g):
    if _discrete(node.inputs[0]):
        return [None]
    return [_t().cast(g[0], node.inputs[0].dtype)]


def _vjp_identity(node, g):
    return [g[0]]


def _no_grad(node, g):
    return [None] * len(node.inputs)


def _vjp_zeros(node, g):
    """Piecewise-constant ops (sgn, floor, round...): zero gradient, as Theano."""
    T = _t()
    return [None if _discrete(i) else T.zeros_like(i) for i in node.inputs]


def _vjp_int_div(node, g):
    return _vjp_zeros(node, g)


def _vjp_mod(node, g):
    a, b = node.inputs
    return [g[0], -g[0] * _t().int_div(a, b)]


def _np_floor_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor_divide(a, b)


def _np_mod(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.mod(a, b)


def _np_true_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


def _np_pow(a, b):
    with np.errstate(all="ignore"):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu":
            # NumPy refuses negative integer powers; the compiled code gives 0 (or +-1), as C.
            b = np.asarray(b)
            safe = np.where(b < 0, 0, b)
            res = np.power(a, safe)
            neg = b < 0
            if np.any(neg):
                one = np.abs(a) == 1
                res = np.where(neg, np.where(one, np.where(a == 1, 1, np.where(b % 2 == 0, 1, -1)),
                                             0), res)
            return res
        return np.power(a, b)


def _np_log(a):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a)


def _np_sqrt(a):
    with np.errstate(invalid="ignore"):
        return np.sqrt(a)


def _np_sigmoid(a):
    with np.errstate(over="ignore"):
        return np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))),
                        np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))


def _np_exp(a):
    with np.errstate(over="ignore"):
        return np.exp(a)


def _np_fill(ref, value):
    return np.broadcast_to(value, np.broadcast_shapes(ref.shape, value.shape)).copy()


def _np_cast_param(values, params):
    value, dtype = values[0], params["dtype"]
    if value.dtype.kind == "c" and dtype not in COMPLEX_DTYPES and dtype != "bool":
        value = value.real  # as numpy.astype, without its ComplexWarning
    return [value.astype(dtype)]


# --- the records ------------------------------------------------------------------------------
_ANY = {"domain": "any"}  # also complex
_LIBM = {"cost": LIBM}
elemwise("add", 2, "({0} + {1})", np.add, _vjp_add, doc="a + b", **_ANY)
elemwise("sub", 2, "({0} - {1})", np.subtract, _vjp_sub, doc="a - b", **_ANY)
elemwise("mul", 2, "croton::multiply({0}, {1})", np.multiply, _vjp_mul, doc="a * b", **_ANY)
elemwise("true_div", 2, "({0} / {1})", _np_true_div, _vjp_true_div, out_dtype=_to_float,
         doc="a / b; integers divide in floating point", **_ANY)
elemwise("int_div", 2, "croton::floor_div({0}, {1})", _np_floor_div, _vjp_int_div,
         doc="a // b, rounding toward -inf as Python; integer x // 0 is 0")
elemwise("mod", 2, "croton::py_mod({0}, {1})", _np_mod, _vjp_mod,
         doc="a % b with the sign of b, as Python; integer x % 0 is 0")
elemwise("pow", 2, "croton::power({0}, {1})", _np_pow, _vjp_pow, doc="a ** b", **_ANY, **_LIBM)
elemwise("maximum", 2, "croton::maximum({0}, {1})", np.maximum, _vjp_maximum,
         doc="elementwise maximum; NaN propagates")
elemwise("minimum", 2, "croton::minimum({0}, {1})", np.minimum, _vjp_minimum,
         doc="elementwise minimum; NaN propagates")
elemwise("neg", 1, "(-{0})", np.negative, _vjp_neg, doc="-a", **_ANY)
elemwise("abs", 1, "croton::absolute({0})", np.abs, _vjp_abs, out_dtype=_part_dtype,
         compute_dtype=_compute_upcast, doc="|a|; the modulus (a real) for complex a", **_ANY)
elemwise("sgn", 1, "croton::sign({0})", np.sign, _vjp_zeros, doc="sign of a: -1, 0 or 1")
elemwise("exp", 1, "std::exp({0})", _np_exp, _vjp_exp, out_dtype=_to_float, doc="e ** a",
         **_ANY, **_LIBM)
elemwise("log", 1, "std::log({0})", _np_log, _vjp_log, out_dtype=_to_float,
         doc="natural logarithm", **_ANY, **_LIBM)
elemwise("sqr", 1, "croton::multiply({0}, {0})", np.square, _vjp_sqr, doc="a * a", **_ANY)
elemwise("sqrt", 1, "std::sqrt({0})", _np_sqrt, _vjp_sqrt, out_dtype=_to_float,
         doc="square root", **_ANY)
elemwise("tanh", 1, "std::tanh({0})", np.tanh, _vjp_tanh, out_dtype=_to_float,
         doc="hyperbolic tangent", **_ANY, **_LIBM)
elemwise("sigmoid", 1, "croton::sigmoid({0})", _np_sigmoid, _vjp_sigmoid, out_dtype=_to_float,
         doc="logistic function 1 / (1 + exp(-a)), stable for large |a|", **_LIBM)
for _name, _sym, _fn in (("lt", "<", np.less), ("gt", ">", np.greater), ("le", "<=", np.less_equal),
                         ("ge", ">=", np.greater_equal), ("eq", "==", np.equal),
                         ("neq", "!=", np.not_equal)):
    elemwise(_name, 2, f"({{0}} {_sym} {{1}})", _fn, _no_grad, out_dtype=_to_bool,
             compute_dtype=_compute_upcast, doc=f"a {_sym} b (bool)",
             domain="any" if _name in ("eq", "neq") else "real")
elemwise("switch", 3, "(({0}) != {T}(0) ? {1} : {2})",
         lambda c, a, b: np.where(c.astype(bool), a, b), _vjp_switch,
         out_dtype=lambda dtypes, params: upcast(*dtypes[1:]),
         doc="switch(cond, a, b): a where cond is nonzero, else b (numpy.where)", **_ANY)
elemwise("fill", 2, "{1}", _np_fill, _vjp_fill, out_dtype=_last,
         doc="fill(ref, value): value broadcast to ref's shape (Theano's `second`)", **_ANY)
elemwise("identity", 1, "{0}", lambda a: a.copy(), _vjp_identity, doc="a copy of a", **_ANY)
register(OpRecord(
    name="cast", kind="elemwise", nin=1, cpp="croton::convert<{T}>({0})", vjp=_vjp_cast,
    can_fail=False, inplace=InPlace(),
    type_rule=elemwise_type_rule(_param_dtype, "cast"), perform=_np_cast_param,
    compute_dtype=_compute_upcast, shape=elementwise_shape,
    doc="cast(x, dtype): convert to another dtype as numpy.astype (complex -> real keeps the "
        "real part).",
))
