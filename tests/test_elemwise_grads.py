"""Gradients of every differentiable elementwise op, checked with verify_grad in float64.

Each group gives every op its own input and returns the sum of the ops' outputs, so one compiled
function checks the whole group and a failure names the input, hence the op."""

import numpy as np
import pytest
from scipy.special import expit as sp_expit

import croton
import croton.tensor as T
from croton.gradient import GradientError, NullTypeGradError, verify_grad

RNG = np.random.default_rng(3)


def domain(kind: str, shape=(3, 4)) -> np.ndarray:
    """Points where the op is smooth: a any, p positive, u (-0.9, 0.9), g > 1, n away from 0,
    f fractional parts in (0.2, 0.8) (away from the jumps of floor, round, mod...)."""
    if kind == "a":
        return RNG.uniform(-2, 2, shape)
    if kind == "p":
        return RNG.uniform(0.3, 3, shape)
    if kind == "u":
        return RNG.uniform(-0.85, 0.85, shape)
    if kind == "g":
        return RNG.uniform(1.2, 3, shape)
    if kind == "n":
        return RNG.choice([-1, 1], shape) * RNG.uniform(0.3, 2, shape)
    if kind == "f":
        return RNG.integers(-3, 3, shape) + RNG.uniform(0.2, 0.4, shape)
    raise ValueError(kind)


UNARY = {
    "neg": (T.neg, "a"), "abs": (T.abs, "n"), "sgn": (T.sgn, "n"), "sqr": (T.sqr, "a"),
    "sqrt": (T.sqrt, "p"), "exp": (T.exp, "a"), "exp2": (T.exp2, "a"), "expm1": (T.expm1, "a"),
    "log": (T.log, "p"), "log2": (T.log2, "p"), "log10": (T.log10, "p"),
    "log1p": (T.log1p, "p"), "sin": (T.sin, "a"), "cos": (T.cos, "a"), "tan": (T.tan, "u"),
    "arcsin": (T.arcsin, "u"), "arccos": (T.arccos, "u"), "arctan": (T.arctan, "a"),
    "sinh": (T.sinh, "a"), "cosh": (T.cosh, "a"), "tanh": (T.tanh, "a"),
    "arcsinh": (T.arcsinh, "a"), "arccosh": (T.arccosh, "g"), "arctanh": (T.arctanh, "u"),
    "erf": (T.erf, "a"), "erfc": (T.erfc, "a"), "erfinv": (T.erfinv, "u"),
    "gamma": (T.gamma, "p"), "gammaln": (T.gammaln, "p"), "psi": (T.psi, "p"),
    "sigmoid": (T.sigmoid, "a"), "softplus": (T.softplus, "a"), "floor": (T.floor, "f"),
    "ceil": (T.ceil, "f"), "trunc": (T.trunc, "f"),
    "round_half_to_even": (T.round_half_to_even, "f"),
    "round_half_away_from_zero": (T.round_half_away_from_zero, "f"),
    "identity": (T.identity, "a"),
    "cast": (lambda x: T.cast(x.astype("complex128"), "float64"), "a"),
    "real": (T.real, "a"), "conj": (T.conj, "a"), "clip_method": (lambda x: x.clip(-1, 1), "a"),
}
# binary ops: (function, domain of a, domain of b); b is a broadcast row
BINARY = {
    "add": (T.add, "a", "a"), "sub": (T.sub, "a", "a"), "mul": (T.mul, "a", "a"),
    "true_div": (T.true_div, "a", "n"), "pow": (T.pow, "p", "a"),
    "arctan2": (T.arctan2, "a", "n"), "mod": (T.mod, "f", "g"), "int_div": (T.int_div, "f", "g"),
    "maximum": (T.maximum, "n", "a"), "minimum": (T.minimum, "n", "a"),
}


def check_group(ops: dict, inputs_per_op: int) -> None:
    names = list(ops)
    points = []
    for name in names:
        spec = ops[name]
        points.append(domain(spec[1]))
        if inputs_per_op == 2:
            points.append(domain(spec[2], (1, 4)))

    def fun(*xs):
        total = 0
        for k, name in enumerate(names):
            args = xs[k * inputs_per_op:(k + 1) * inputs_per_op]
            total = total + T.cast(ops[name][0](*args), "float64")
        return total

    if inputs_per_op == 2:  # keep max/min/mod away from their kinks and jumps
        for k, name in enumerate(names):
            a, b = points[2 * k], points[2 * k + 1]
            if name in ("maximum", "minimum"):
                points[2 * k] = np.where(np.abs(a - b) < 0.2, b + 0.5, a)
            if name in ("mod", "int_div"):
                frac = np.abs(a / b - np.round(a / b))
                points[2 * k] = np.where(frac < 0.1, a + 0.3 * b, a)
    try:
        verify_grad(fun, points, n_tests=1, rng=np.random.default_rng(0))
    except GradientError as err:
        raise AssertionError(f"wrong gradient for {names[err.arg // inputs_per_op]}: "
                             f"{err}") from None


def test_unary_grads():
    check_group(UNARY, 1)


def test_binary_grads_with_broadcasting():
    check_group(BINARY, 2)


def test_ternary_and_complex_grads():
    x0, lo, hi = domain("a"), np.full((1, 4), -0.5), np.full((1, 4), 0.7)
    x0 = np.where(np.abs(x0 - 0.7) < 0.05, 0.0, x0)
    x0 = np.where(np.abs(x0 + 0.5) < 0.05, 0.0, x0)
    cond = domain("a")

    def fun(x, low, high, c, a, b, re, im, re2, im2):
        z, w = T.complex(re, im), T.complex(re2, im2)
        return (T.clip(x, low, high) + T.switch(T.gt(c, 0), a, b) + T.abs(z) + T.angle(z)
                + T.real(z * 1) * T.imag(w) + T.real(T.conj(w)) + w.imag)

    verify_grad(fun, [x0, lo, hi, cond, domain("a"), domain("a"), domain("n"), domain("n"),
                      domain("a"), domain("a")], n_tests=1, rng=np.random.default_rng(1))


def test_float32_grads_within_float32_tolerance():
    pts = [domain("a").astype("float32"), domain("p").astype("float32")]
    verify_grad(lambda x, y: T.sin(x) * T.log(y) + T.softplus(x) / y + T.erf(x), pts)


def test_stable_softplus_and_sigmoid_grads_at_extremes():
    x = T.dvector("x")
    g_sp, g_sig = T.grad(T.softplus(x).sum(), x), T.grad(T.sigmoid(x).sum(), x)
    f = croton.function([x], [T.softplus(x), g_sp, g_sig])
    v = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    sp, gsp, gsig = f(v)
    assert np.all(np.isfinite(sp)) and np.all(np.isfinite(gsp)) and np.all(np.isfinite(gsig))
    np.testing.assert_allclose(sp, np.logaddexp(0, v), rtol=1e-15)
    np.testing.assert_allclose(gsp, sp_expit(v), rtol=1e-15)


def test_piecewise_constant_ops_give_zero_gradients():
    x = T.dvector("x")
    outs = [T.grad(op(x).sum(), x) for op in (T.floor, T.ceil, T.sgn, T.trunc, T.round,
                                               lambda v: T.iround(v).astype("float64"))]
    for g in croton.function([x], outs)(np.array([0.3, -1.7, 2.5])):
        np.testing.assert_array_equal(g, 0.0)


def test_op_without_gradient_raises():
    x = T.dvector("x")
    with pytest.raises(NullTypeGradError, match="tri_gamma"):
        T.grad(T.psi(x).sum() + T.grad(T.psi(x).sum(), x).sum(), x)
