"""Random draws inside ``scan`` (Theano's semantics): every step draws fresh numbers from the
stream, the state is carried from step to step and its final value is returned in scan's
updates; and ``multinomial``/``choice`` of both stream classes."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.sandbox.rng_mrg import MRG_RandomStreams
from croton.tensor.shared_randomstreams import RandomStreams

STREAMS = [RandomStreams, MRG_RandomStreams]


@pytest.mark.parametrize("Streams", STREAMS)
def test_each_step_draws_the_next_numbers_of_the_stream(Streams):
    rng = Streams(1)
    h0 = T.dvector("h0")
    hs, upd = croton.scan(lambda h: rng.uniform(size=(3,)), outputs_info=[h0], n_steps=3)
    assert len(upd) == 1
    f = croton.function([h0], hs, updates=upd)
    # The same stream drawn at top level, one call per step (same seed, first variable).
    top = Streams(1).uniform(size=(3,))
    g = croton.function([], top)
    expected = np.stack([g() for _ in range(6)])
    np.testing.assert_array_equal(f(np.zeros(3)), expected[:3])
    np.testing.assert_array_equal(f(np.zeros(3)), expected[3:])  # the state was updated
    (state,) = upd
    np.testing.assert_array_equal(state.get_value(), top.rng.get_value())


@pytest.mark.parametrize("Streams", STREAMS)
def test_function_without_scan_updates_still_advances_the_state(Streams):
    rng = Streams(7)
    hs, _ = croton.scan(lambda: rng.normal(size=(2,)), n_steps=4)
    f = croton.function([], hs)
    a, b = f(), f()
    assert not np.array_equal(a, b)
    g = croton.function([], Streams(7).normal(size=(2,)))
    np.testing.assert_array_equal(np.concatenate([a, b]), np.stack([g() for _ in range(8)]))


@pytest.mark.parametrize("Streams", STREAMS)
def test_gibbs_chain_draw_depends_on_the_loop_state(Streams):
    W = croton.shared(np.random.RandomState(0).randn(4, 4) * 0.8, "W")

    def gibbs(h, srng):
        p = T.nnet.sigmoid(T.dot(h, W))
        return srng.binomial(size=h.shape, n=1, p=p, dtype="float64")

    rng = Streams(3)
    v0 = T.dvector("v0")
    vs, upd = croton.scan(lambda h: gibbs(h, rng), outputs_info=[v0], n_steps=6)
    chain = croton.function([v0], vs, updates=upd)(np.ones(4))
    # The same chain stepped from Python, one top-level draw per call.
    h = T.dvector("h")
    step = croton.function([h], gibbs(h, Streams(3)))
    expected, v = [], np.ones(4)
    for _ in range(6):
        v = step(v)
        expected.append(v)
    np.testing.assert_array_equal(chain, np.stack(expected))
    assert set(np.unique(chain)) <= {0.0, 1.0}


def test_scan_draws_match_the_numpy_reference():
    def build():
        rng = RandomStreams(11)
        x = T.dmatrix("x")
        hs, upd = croton.scan(lambda xt, h: h + xt * rng.uniform(size=(3,)),
                              sequences=x, outputs_info=T.zeros((3,), "float64"))
        return x, hs, upd

    xv = np.random.RandomState(1).randn(5, 3)
    x, hs, upd = build()
    compiled = croton.function([x], hs, updates=upd)(xv)
    x, hs, upd = build()
    reference = croton.function([x], hs, updates=upd, mode="NUMPY")(xv)
    np.testing.assert_allclose(compiled, reference, rtol=1e-12)


def test_gradient_through_a_step_with_a_dropout_mask():
    rng = MRG_RandomStreams(3)
    x = T.dmatrix("x")
    W = croton.shared(np.random.RandomState(1).randn(3, 3) * 0.3, "W")

    def step(xt, h):
        mask = rng.binomial(size=h.shape, p=0.7, dtype="float64")
        return T.tanh(T.dot(h * mask, W) + xt)

    hs, upd = croton.scan(step, sequences=x, outputs_info=T.zeros((3,), "float64"))
    cost = (hs ** 2).sum()
    # no_default_updates: the masks stay the same between calls, so the cost is a function of W.
    f_cost = croton.function([x], cost, no_default_updates=True)
    f_grad = croton.function([x], T.grad(cost, W), no_default_updates=True)
    xv = np.random.RandomState(2).randn(5, 3)
    w0, eps = W.get_value(), 1e-6
    numeric = np.zeros_like(w0)
    for i in np.ndindex(*w0.shape):
        for sign in (1, -1):
            w = w0.copy()
            w[i] += sign * eps
            W.set_value(w)
            numeric[i] += sign * f_cost(xv) / (2 * eps)
    W.set_value(w0)
    np.testing.assert_allclose(f_grad(xv), numeric, atol=1e-7)
    train = croton.function([x], cost, updates=list(upd.items()))
    assert train(xv) != train(xv)  # fresh masks each call


def test_multinomial_counts_and_frequencies():
    rng = RandomStreams(5)
    pvals = [0.2, 0.3, 0.5]
    counts = croton.function([], rng.multinomial(size=(20000,), n=3, pvals=pvals))()
    assert counts.shape == (20000, 3) and counts.dtype == np.int64
    assert (counts.sum(axis=1) == 3).all()
    np.testing.assert_allclose(counts.mean(axis=0) / 3, pvals, atol=0.01)


def test_mrg_multinomial_is_shaped_like_pvals():
    rng = MRG_RandomStreams(5)
    pvals = np.array([[0.2, 0.3, 0.5], [0.98, 0.01, 0.01]] * 5000)
    counts = croton.function([], rng.multinomial(n=2, pvals=pvals, dtype="float32"))()
    assert counts.shape == pvals.shape and counts.dtype == np.float32
    assert (counts.sum(axis=1) == 2).all()
    np.testing.assert_allclose(counts[0::2].mean(axis=0) / 2, pvals[0], atol=0.015)
    np.testing.assert_allclose(counts[1::2].mean(axis=0) / 2, pvals[1], atol=0.01)
    with pytest.raises(NotImplementedError, match="matrix"):
        rng.multinomial(pvals=[0.5, 0.5])


def test_mrg_choice_without_replacement():
    rng = MRG_RandomStreams(9)
    p = np.array([[0.5, 0.25, 0.25, 0.0]] * 20000)
    picks = croton.function([], rng.choice(size=2, replace=False, p=p))()
    assert picks.shape == (20000, 2)
    assert (picks[:, 0] != picks[:, 1]).all() and (picks != 3).all()
    np.testing.assert_allclose(np.bincount(picks[:, 0]) / 20000, [0.5, 0.25, 0.25], atol=0.01)
    # second draw from what remains: P(0) = P(1) = P(2) = 1/3 for these weights
    np.testing.assert_allclose(np.bincount(picks[:, 1]) / 20000, [1 / 3] * 3, atol=0.01)
    with pytest.raises(NotImplementedError, match="without replacement"):
        rng.choice(size=2, p=p)
