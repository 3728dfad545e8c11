"""Elementwise math beyond arithmetic: rounding, exponentials and logarithms, trigonometric and
hyperbolic functions, special functions (erf, gamma, psi...), softplus, clip and arctan2.

NumPy (and ``scipy.special``) give the references; ``runtime/cpu/scalar.hpp`` and
``runtime/cpu/special.hpp`` the C++ helpers. Functions of integers compute in floating point
(Theano's rule: small ints give float32, others float64).

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["erfinv"].cpp, OPS["log1p"].doc
    ('croton::erfinv({0})', 'log(1 + a), accurate for small a')
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special

from croton.ops.elemwise import LIBM, _to_float, _vjp_zeros, elemwise


def _t():
    import croton.tensor as T

    return T


def _quiet(fn):
    """NumPy function with its floating-point warnings silenced (the C++ code raises none)."""

    def run(*args):
        with np.errstate(all="ignore"):
            return fn(*args)

    run.__name__ = getattr(fn, "__name__", "fn")
    return run


# --- reverse-mode rules ------------------------------------------------------------------------
def _unary_rule(derivative):
    """vjp of ``out = f(x)`` from ``derivative(x, out) = f'(x)``."""

    def vjp(node, g):
        return [g[0] * derivative(node.inputs[0], node.outputs[0])]

    return vjp


def _vjp_arctan2(node, g):
    y, x = node.inputs
    denom = x * x + y * y
    return [g[0] * x / denom, -g[0] * y / denom]


def _vjp_clip(node, g):
    T = _t()
    x, lo, hi = node.inputs
    dtype = g[0].dtype
    inside = T.cast(T.ge(x, lo), dtype) * T.cast(T.le(x, hi), dtype)
    return [g[0] * inside, g[0] * T.cast(T.lt(x, lo), dtype), g[0] * T.cast(T.gt(x, hi), dtype)]


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0


def _derivatives():
    T = _t()
    return {
        "exp2": lambda x, out: out * _LN2,
        "expm1": lambda x, out: out + 1,
        "log2": lambda x, out: 1 / (x * _LN2),
        "log10": lambda x, out: 1 / (x * _LN10),
        "log1p": lambda x, out: 1 / (x + 1),
        "sin": lambda x, out: T.cos(x),
        "cos": lambda x, out: -T.sin(x),
        "tan": lambda x, out: 1 + out * out,
        "arcsin": lambda x, out: 1 / T.sqrt(1 - x * x),
        "arccos": lambda x, out: -1 / T.sqrt(1 - x * x),
        "arctan": lambda x, out: 1 / (1 + x * x),
        "sinh": lambda x, out: T.cosh(x),
        "cosh": lambda x, out: T.sinh(x),
        "arcsinh": lambda x, out: 1 / T.sqrt(x * x + 1),
        "arccosh": lambda x, out: 1 / T.sqrt(x * x - 1),
        "arctanh": lambda x, out: 1 / (1 - x * x),
        "erf": lambda x, out: _TWO_OVER_SQRT_PI * T.exp(-x * x),
        "erfc": lambda x, out: -_TWO_OVER_SQRT_PI * T.exp(-x * x),
        "erfinv": lambda x, out: _SQRT_PI_OVER_TWO * T.exp(out * out),
        "gamma": lambda x, out: out * T.psi(x),
        "gammaln": lambda x, out: T.psi(x),
        "psi": lambda x, out: T.tri_gamma(x),
        "softplus": lambda x, out: T.sigmoid(x),
    }


def _lazy_rule(name: str):
    """The derivative table needs croton.tensor, which imports this module: look it up late."""

    def vjp(node, g):
        return _unary_rule(_derivatives()[name])(node, g)

    return vjp


def _np_softplus(a):
    return np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0)


def _np_round_half_away(a):
    with np.errstate(invalid="ignore"):
        whole = np.trunc(a)
        return np.where(np.abs(a - whole) >= 0.5, whole + np.sign(a), whole)


# --- the records -------------------------------------------------------------------------------
_FLOAT = {"out_dtype": _to_float}
_ANY_FLOAT = {"out_dtype": _to_float, "domain": "any"}

for _name, _cpp, _ref in (("floor", "std::floor", np.floor), ("ceil", "std::ceil", np.ceil),
                          ("trunc", "std::trunc", np.trunc)):
    elemwise(_name, 1, f"{_cpp}({{0}})", _ref, _vjp_zeros, doc=f"{_name} of a (float result)",
             **_FLOAT)
elemwise("round_half_to_even", 1, "croton::round_half_even({0})", np.round, _vjp_zeros,
         doc="round to nearest, ties to even (numpy.round)", **_FLOAT)
elemwise("round_half_away_from_zero", 1, "croton::round_half_away({0})",
         _np_round_half_away, _vjp_zeros, doc="round to nearest, ties away from zero (C's round)",
         **_FLOAT)

_UNARY = (
    # name, C++ expression, NumPy reference, doc, accepts complex
    ("exp2", "std::exp2({0})", np.exp2, "2 ** a", False),
    ("expm1", "std::expm1({0})", np.expm1, "exp(a) - 1, accurate for small a", False),
    ("log2", "std::log2({0})", np.log2, "base-2 logarithm", False),
    ("log10", "std::log10({0})", np.log10, "base-10 logarithm", True),
    ("log1p", "std::log1p({0})", np.log1p, "log(1 + a), accurate for small a", False),
    ("sin", "std::sin({0})", np.sin, "sine", True),
    ("cos", "std::cos({0})", np.cos, "cosine", True),
    ("tan", "std::tan({0})", np.tan, "tangent", True),
    ("arcsin", "std::asin({0})", np.arcsin, "inverse sine", True),
    ("arccos", "std::acos({0})", np.arccos, "inverse cosine", True),
    ("arctan", "std::atan({0})", np.arctan, "inverse tangent", True),
    ("sinh", "std::sinh({0})", np.sinh, "hyperbolic sine", True),
    ("cosh", "std::cosh({0})", np.cosh, "hyperbolic cosine", True),
    ("arcsinh", "std::asinh({0})", np.arcsinh, "inverse hyperbolic sine", True),
    ("arccosh", "std::acosh({0})", np.arccosh, "inverse hyperbolic cosine", True),
    ("arctanh", "std::atanh({0})", np.arctanh, "inverse hyperbolic tangent", True),
    ("erf", "std::erf({0})", scipy.special.erf, "error function", False),
    ("erfc", "std::erfc({0})", scipy.special.erfc, "complementary error function 1 - erf(a)",
     False),
    ("erfinv", "croton::erfinv({0})", scipy.special.erfinv, "inverse error function", False),
    ("gamma", "std::tgamma({0})", scipy.special.gamma, "gamma function", False),
    ("gammaln", "croton::log_gamma({0})", scipy.special.gammaln, "log |gamma(a)|", False),
    ("psi", "croton::digamma({0})", scipy.special.psi, "digamma: d/da log gamma(a)", False),
    ("softplus", "croton::softplus({0})", _np_softplus,
     "log(1 + exp(a)), stable: log1p(exp(-|a|)) + max(a, 0)", False),
)
for _name, _cpp, _ref, _doc, _complex in _UNARY:
    elemwise(_name, 1, _cpp, _quiet(_ref), _lazy_rule(_name), doc=_doc, cost=LIBM,
             **(_ANY_FLOAT if _complex else _FLOAT))
elemwise("tri_gamma", 1, "croton::trigamma({0})", _quiet(lambda a: scipy.special.polygamma(1, a)),
         None, doc="trigamma: the derivative of psi (no gradient)", cost=LIBM, **_FLOAT)
elemwise("arctan2", 2, "std::atan2({0}, {1})", _quiet(np.arctan2), _vjp_arctan2,
         doc="arctan2(y, x): the angle of the point (x, y)", cost=LIBM, **_FLOAT)
elemwise("clip", 3, "croton::clip({0}, {1}, {2})", _quiet(np.clip), _vjp_clip,
         doc="clip(a, lo, hi) = minimum(maximum(a, lo), hi); NaN propagates")
