"""``ifelse``: values, laziness (the untaken branch never runs), branch-dependent shapes,
lists of outputs, nesting, gradients against finite differences, and the NumPy mode."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.fgraph import Graph
from croton.gradient import numeric_grad
from croton.ifelse import ifelse


def test_values_and_numpy_mode_agree():
    a, b = T.dscalars("a", "b")
    x = T.dvector("x")
    out = ifelse(T.lt(a, b), T.exp(x).sum(), (x * b).max())
    f = croton.function([a, b, x], out)
    g = croton.function([a, b, x], out, mode="NUMPY")
    v = np.array([0.5, -1.0, 2.0])
    for args in [(1.0, 2.0, v), (3.0, 2.0, v)]:
        want = np.exp(v).sum() if args[0] < args[1] else (v * args[1]).max()
        assert float(f(*args)) == pytest.approx(want)
        assert float(g(*args)) == pytest.approx(want)


def test_untaken_branch_is_not_computed():
    # the else-branch indexes out of bounds (IndexError) and the then-branch adds vectors of
    # different lengths (ValueError): each fails only when its branch is taken
    a = T.dscalar("a")
    x, y = T.dvectors("x", "y")
    f = croton.function([a, x, y], ifelse(a > 0, (x + y).sum(), x[5]))
    short, longer = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])
    assert float(f(1.0, short, short)) == 12.0
    with pytest.raises(IndexError, match="test_ifelse.py"):
        f(-1.0, short, short)
    with pytest.raises(ValueError, match=r"add.*test_ifelse.py"):
        f(1.0, short, longer)
    g = croton.function([a, x, y], ifelse(a > 0, x[0], (x + y).sum()))
    assert float(g(1.0, short, longer)) == 1.0  # the else-branch's mismatch is never checked


def test_nodes_used_by_one_branch_run_inside_it():
    a = T.dscalar("a")
    x = T.dvector("x")
    shared_part = T.exp(x)
    out = ifelse(a > 0, (shared_part * 2).sum(), shared_part.sum() + T.log(x).sum())
    steps = lower(Graph.make([a, x], [out])).plan.steps
    kinds = [s.kind for s in steps]
    assert "branch" in kinds
    branch = steps[kinds.index("branch")]
    assert branch.then_steps and branch.else_steps
    # exp(x) is needed by both branches: it runs before the branch, once
    assert kinds.index("elementwise") < kinds.index("branch")


def test_branches_with_different_shapes_and_lists():
    c = T.iscalar("c")
    x, y = T.dvectors("x", "y")
    m = T.dmatrix("m")
    first, second = ifelse(c, [x * 2, m.sum(axis=0)], [y + 1, m.sum(axis=1)])
    f = croton.function([c, x, y, m], [first * 3, second])
    xv, yv, mv = np.arange(2.0), np.arange(5.0), np.arange(6.0).reshape(2, 3)
    r = f(1, xv, yv, mv)
    np.testing.assert_allclose(r[0], xv * 6)
    np.testing.assert_allclose(r[1], mv.sum(axis=0))
    r = f(0, xv, yv, mv)
    np.testing.assert_allclose(r[0], (yv + 1) * 3)
    np.testing.assert_allclose(r[1], mv.sum(axis=1))


def test_nested_ifelse():
    a, b = T.dscalars("a", "b")
    out = ifelse(a > 0, ifelse(b > 0, a * b, a - b), ifelse(b > 0, -a, b * 10))
    f = croton.function([a, b], out)
    for av, bv in [(2.0, 3.0), (2.0, -3.0), (-2.0, 3.0), (-2.0, -3.0)]:
        want = (av * bv if bv > 0 else av - bv) if av > 0 else (-av if bv > 0 else bv * 10)
        assert float(f(av, bv)) == pytest.approx(want)


def test_python_numbers_take_the_other_branch_dtype():
    a = T.fscalar("a")
    f = croton.function([a], ifelse(a > 0, a * 2, 0))
    assert f(np.float32(2.0)).dtype == np.float32
    assert float(f(np.float32(-1.0))) == 0.0
    with pytest.raises(TypeError, match="ifelse"):
        ifelse(a > 0, T.dvector("v"), T.dmatrix("m"))


def test_gradient_matches_finite_differences():
    c = T.dscalar("c")
    x, y = T.dvectors("x", "y")
    cost = ifelse(c > 0, (T.exp(x) * y).sum(), (x * x).sum() * 3).sum() + (y * y).sum()
    f_cost = croton.function([c, x, y], cost, mode="NUMPY")
    f_grad = croton.function([c, x, y], T.grad(cost, [x, y]))
    rng = np.random.default_rng(3)
    xv, yv = rng.standard_normal(4), rng.standard_normal(4)
    for cv in (1.0, -1.0):
        got = f_grad(cv, xv, yv)
        want = numeric_grad(lambda a, b, cv=cv: f_cost(cv, a, b), [xv, yv])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
