"""plan_inplace: updates computed straight into the shared storage when nothing later reads the
old value — same results as without, the old value never read after it is overwritten, and a
failing call still leaves every shared variable unchanged."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.plan_inplace import plan_inplace
from croton.fgraph import Graph

RNG = np.random.default_rng(5)


def _inplace(f):
    """Buffer declarations of in-place update values in the generated source."""
    return [line for line in f.source.splitlines()
            if "(in place)" in line and "croton_buffer" in line]


def test_sgd_updates_are_computed_in_place_and_match_numpy():
    x = T.dmatrix("x")
    W = croton.shared(RNG.standard_normal((4, 3)), "W")
    b = croton.shared(np.zeros(3), "b")
    h = T.tanh(T.dot(x, W) + b)
    cost = T.sum(h ** 2)
    gW, gb = T.grad(cost, [W, b])
    f = croton.function([x], cost, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
    assert len(_inplace(f)) == 2  # gemm into W, the bias kernel into b
    w0, b0 = W.get_value(), b.get_value()
    storage = W.get_value(borrow=True)
    xa = RNG.standard_normal((5, 4))
    f(xa)
    hh = np.tanh(xa @ w0 + b0)
    gh = 2 * hh * (1 - hh ** 2)
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * xa.T @ gh, rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), b0 - 0.1 * gh.sum(axis=0), rtol=1e-12)
    assert W.get_value(borrow=True) is storage  # the same array, updated in place


def test_no_inplace_when_the_old_value_is_read_later():
    v = T.dvector("v")
    S = croton.shared(np.arange(3.0), "S")
    new = S + v
    g = plan_inplace(Graph.make([v], [new * S], [(S, new)]))
    assert g.inplace_updates == ()  # the output reads the old S after the update's kernel
    f = croton.function([v], new * S, updates=[(S, new)])
    np.testing.assert_allclose(f(np.ones(3)), (np.arange(3.0) + 1) * np.arange(3.0))
    np.testing.assert_allclose(S.get_value(), [1, 2, 3])
    # read before the update's kernel: in place is safe, and the output sees the old value
    f2 = croton.function([v], S * 2, updates=[(S, S + v)])
    np.testing.assert_allclose(f2(np.ones(3)), [2, 4, 6])
    np.testing.assert_allclose(S.get_value(), [2, 3, 4])
    g = plan_inplace(Graph.make([v], [], [(S, S[::-1] + v)]))
    assert g.inplace_updates == ()  # read through a view by the writing kernel itself


def test_swapping_updates_stay_simultaneous():
    a = croton.shared(np.array([1.0, 2.0]), "a")
    b = croton.shared(np.array([3.0, 4.0]), "b")
    f = croton.function([], [], updates=[(a, b * 1.0), (b, a * 1.0)])
    f()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])


def test_a_later_failing_step_disables_inplace_and_leaves_state_unchanged():
    v = T.dvector("v")
    i = T.lscalar("i")
    S = croton.shared(np.arange(3.0), "S")
    f = croton.function([v, i], v[i], updates=[(S, S + v)])
    with pytest.raises(IndexError):
        f(np.ones(3), 7)
    np.testing.assert_array_equal(S.get_value(), np.arange(3.0))
    assert float(f(np.ones(3), 1)) == 1.0
    np.testing.assert_array_equal(S.get_value(), np.arange(3.0) + 1)
