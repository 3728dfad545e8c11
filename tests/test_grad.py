"""Gradients of every op in the slice against central finite differences (float64)."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.gradient import DisconnectedInputError, numeric_grad

RNG = np.random.default_rng(42)


def verify(build, shapes, positive=False, away_from_zero=False):
    """Compile cost = sum(build(*xs) * weights) and its gradients; compare with differences."""
    xs = [T.tensor("float64", (False,) * len(s), name=f"x{k}") for k, s in enumerate(shapes)]
    out = build(*xs)
    w = T.tensor("float64", out.broadcastable, name="w")
    cost = (out * w).sum()
    f_cost = croton.function(xs + [w], cost)
    f_grad = croton.function(xs + [w], T.grad(cost, xs))
    args = []
    for s in shapes:
        a = RNG.standard_normal(s)
        if positive:
            a = np.abs(a) + 0.5
        if away_from_zero:
            a = np.where(np.abs(a) < 0.2, 0.5, a)
        args.append(a)
    out_shape = croton.function(xs, out, mode="NUMPY")(*args).shape  # no compile needed
    weights = RNG.standard_normal(out_shape)
    got = f_grad(*args, weights)
    want = numeric_grad(lambda *a: f_cost(*a, weights), args)
    for g, n in zip(got, want):
        assert g.shape == n.shape
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


UNARY = {
    "neg": (lambda x: -x, {}), "abs": (T.abs, {"away_from_zero": True}),
    "exp": (T.exp, {}), "log": (T.log, {"positive": True}), "sqr": (T.sqr, {}),
    "sqrt": (T.sqrt, {"positive": True}), "tanh": (T.tanh, {}), "sigmoid": (T.sigmoid, {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_grad(name):
    fn, opts = UNARY[name]
    verify(fn, [(3, 4)], **opts)


BINARY = {
    "add": (lambda a, b: a + b, {}), "sub": (lambda a, b: a - b, {}),
    "mul": (lambda a, b: a * b, {}), "true_div": (lambda a, b: a / b, {"positive": True}),
    "pow": (lambda a, b: a ** b, {"positive": True}),
    "maximum": (T.maximum, {}), "minimum": (T.minimum, {}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_grad_with_broadcasting(name):
    fn, opts = BINARY[name]
    verify(lambda a, b: fn(a, b.dimshuffle("x", 0)), [(3, 4), (4,)], **opts)


def test_switch_and_comparison_grad():
    verify(lambda a, b: T.switch(T.gt(a, b), a * a, b * 3), [(5,), (5,)])


def test_reduction_grads():
    verify(lambda x: x.sum(axis=0), [(3, 4)])
    verify(lambda x: x.sum(), [(3, 4)])
    verify(lambda x: T.mean(x, axis=1), [(3, 4)])
    verify(lambda x: x.max(axis=1), [(3, 4)])


def test_dot_grads_every_ndim_pair():
    verify(lambda a, b: T.dot(a, b), [(3, 4), (4, 2)])
    verify(lambda a, b: T.dot(a, b), [(3, 4), (4,)])
    verify(lambda a, b: T.dot(a, b), [(4,), (4, 2)])
    verify(lambda a, b: T.dot(a, b), [(4,), (4,)])


def test_dimshuffle_grad():
    verify(lambda x: x.T * 2 + x.dimshuffle(1, "x", 0).sum(axis=1), [(3, 4)])


def test_grad_of_seed_cost_has_closed_form():
    x = T.dvector("x")
    W = croton.shared(np.array([0.2, 0.7]), "W")
    y = (x * W).sum()
    cost = T.sqr(20.0 - y)
    (g,) = T.grad(cost, [W])
    f = croton.function([x], g)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(xv), -2 * (20 - xv @ W.get_value()) * xv)


def test_grad_errors():
    x, y = T.dvectors("x", "y")
    with pytest.raises(TypeError, match="scalar"):
        T.grad(x * 2, x)
    with pytest.raises(DisconnectedInputError, match="not part"):
        T.grad(x.sum(), y)
    z = T.grad(x.sum(), y, disconnected_inputs="ignore")
    np.testing.assert_array_equal(croton.function([y], z)(np.ones(3)), np.zeros(3))
    single = T.grad(x.sum(), x)
    assert not isinstance(single, list)
    assert isinstance(T.grad(x.sum(), [x]), list)
