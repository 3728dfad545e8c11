"""plan_memory: scratch buffers with disjoint lifetimes share workspace slots, and the function
keeps its scratch memory between calls, so the steady state allocates nothing but outputs.
Values are checked against NumPy (and FAST_COMPILE, which plans nothing) across calls whose
shapes grow, shrink and change order, with views, branches and loops in the graph."""

import numpy as np
from helpers import run_in_threads

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.memory_plan import assign_slots
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.ifelse import ifelse

RNG = np.random.default_rng(11)


def _plan(inputs, outputs, updates=()):
    return lower(run_pipeline(Graph.make(inputs, outputs, updates))).plan


def _scratch_count(plan) -> int:
    return sum(1 for b in plan.buffers if b.role == "scratch")


def test_first_fit_reuses_a_slot_only_after_its_last_use():
    spans = {1: (0, 2), 2: (1, 3), 3: (3, 4), 4: (4, 6), 5: (5, 5)}
    assert assign_slots(spans) == [[1, 3, 5], [2, 4]]  # 3 starts after 1 ends, 5 after 3
    assert assign_slots({1: (0, 0)}) == [[1]]
    assert assign_slots({1: (0, 1), 2: (1, 2)}) == [[1], [2]]  # touching at 1: no sharing


def test_chain_of_products_shares_slots_and_matches_numpy():
    a, b = T.dmatrices("a", "b")
    c = T.dot(T.dot(T.dot(T.dot(a, b), b), b), b)
    out = T.exp(c / 1e3) + 1
    plan = _plan([a, b], [out])
    assert 0 < plan.workspace_slots < _scratch_count(plan)
    f = croton.function([a, b], out)
    g = croton.function([a, b], out, mode="FAST_COMPILE")
    for n in (5, 40, 3, 40, 64, 1, 0):  # grow, shrink, grow past every earlier size, empty
        xa, xb = RNG.standard_normal((n, 7)), RNG.standard_normal((7, 7))
        want = np.exp((xa @ xb @ xb @ xb @ xb) / 1e3) + 1
        np.testing.assert_allclose(f(xa, xb), want, rtol=1e-12)
        np.testing.assert_allclose(g(xa, xb), want, rtol=1e-12)


def test_a_view_keeps_its_source_alive():
    """t.T is a view of t's memory: later products must not land in t's slot while it is read."""
    a, b = T.dmatrices("a", "b")
    t = T.dot(a, b)
    tv = t.T[::-1]  # views of a scratch buffer, read at the very end
    u = T.dot(T.dot(b, b), b)  # scratch made and dropped while tv is alive
    w = T.dot(u, b)
    out = T.dot(tv, w) + T.sum(u)
    f = croton.function([a, b], out)
    for n in (4, 9):
        xa, xb = RNG.standard_normal((n, n)), RNG.standard_normal((n, n))
        uu = xb @ xb @ xb
        want = (xa @ xb).T[::-1] @ (uu @ xb) + uu.sum()
        np.testing.assert_allclose(f(xa, xb), want, rtol=1e-10)


def test_branches_loops_and_updates_keep_values_across_calls():
    x = T.dvector("x")
    c = T.lscalar("c")
    W = croton.shared(RNG.standard_normal((6, 6)), "W")
    h = T.tanh(T.dot(W, x))
    branch = ifelse(T.gt(c, 0), T.dot(W, h) * 2, T.exp(h) - x)
    steps, _ = croton.scan(lambda v, M: T.tanh(T.dot(M, v)), outputs_info=[branch],
                           non_sequences=[W], n_steps=3)
    cost = T.sum(steps[-1] ** 2)
    new_W = W - 0.01 * T.grad(cost, W)
    f = croton.function([x, c], [cost, steps], updates=[(W, new_W)])
    w = W.get_value()
    for k in range(6):
        xa = RNG.standard_normal(6)
        cc = k % 2
        hh = np.tanh(w @ xa)
        v = w @ hh * 2 if cc > 0 else np.exp(hh) - xa
        rows = []
        for _ in range(3):
            v = np.tanh(w @ v)
            rows.append(v)
        got_cost, got_steps = f(xa, cc)
        np.testing.assert_allclose(got_steps, np.array(rows), rtol=1e-10)
        np.testing.assert_allclose(got_cost, np.sum(rows[-1] ** 2), rtol=1e-10)
        w = W.get_value()  # the gradient step itself is checked in test_scan / test_inplace


def test_steady_state_allocates_no_scratch():
    x = T.fmatrix("x")
    W1 = croton.shared(RNG.standard_normal((20, 16)).astype("float32"), "W1")
    W2 = croton.shared(RNG.standard_normal((16, 4)).astype("float32"), "W2")
    h = T.tanh(T.dot(x, W1))
    cost = T.nnet.softmax(T.dot(h, W2)).max(axis=1).sum() + T.dot(h.T, h).sum()
    gW1, gW2 = T.grad(cost, [W1, W2])
    f = croton.function([x], cost, updates=[(W1, W1 - 0.01 * gW1), (W2, W2 - 0.01 * gW2)],
                        profile=True)
    xa = RNG.standard_normal((32, 20)).astype("float32")
    f(xa)
    blocks, nbytes = f.profile.first_call_scratch
    assert blocks > 0 and nbytes >= 32 * 16 * 4  # the first call allocates, at least h
    for _ in range(5):
        f(xa)
    assert f.profile.scratch_allocations() == (0, 0)
    f(RNG.standard_normal((8, 20)).astype("float32"))  # smaller: fits in what is kept
    assert f.profile.scratch_allocations() == (0, 0)
    f(RNG.standard_normal((64, 20)).astype("float32"))  # larger: some blocks grow once
    grown = f.profile.scratch_allocations()
    assert grown[0] > 0
    f(RNG.standard_normal((64, 20)).astype("float32"))
    assert f.profile.scratch_allocations() == grown
    assert "allocated since" in f.profile.summary(file=None)


def test_reentrant_and_threaded_calls_get_their_own_scratch():
    x = T.dmatrix("x")
    y = T.dot(T.dot(x, x.T), x)
    f = croton.function([x], T.tanh(y) + y)
    inputs = [RNG.standard_normal((n, 5)) for n in (3, 30, 12, 7)]
    want = [np.tanh(a @ a.T @ a) + a @ a.T @ a for a in inputs]
    errors = []

    def work(k):
        for _ in range(50):
            if not np.allclose(f(inputs[k]), want[k], rtol=1e-12):
                errors.append(k)

    run_in_threads(work)
    assert errors == []
