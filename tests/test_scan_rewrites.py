"""Scan's gradient reads the forward scan's stored outputs instead of recomputing them, and
prune_scan drops accumulators nobody reads; the gradients stay equal to finite differences."""

import numpy as np

import croton
import croton.tensor as T
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.gradient import numeric_grad


def _rnn():
    X, h0 = T.dtensor3("X"), T.dmatrix("h0")
    rng = np.random.RandomState(0)
    Wx = croton.shared(rng.randn(3, 4) * 0.5, "Wx")
    Wh = croton.shared(rng.randn(4, 4) * 0.5, "Wh")

    def step(x_t, h_prev, Wx, Wh):
        return T.tanh(T.dot(x_t, Wx) + T.dot(h_prev, Wh))

    hs, _ = croton.scan(step, sequences=X, outputs_info=h0, non_sequences=[Wx, Wh])
    return X, h0, Wx, Wh, hs


def _scans(graph):
    return [dict(n.params)["fn"] for n in graph.nodes() if n.op.name == "scan"]


def _ops_in(spec):
    return [n.op.name for n in spec.inner.nodes()]


def _backward(graph):
    return [s for s in _scans(graph) if s.name.startswith("grad_of_")]


def test_backward_step_reads_stored_states_and_hoists_weight_gradients():
    X, h0, Wx, Wh, hs = _rnn()
    cost = (hs[-1] ** 2).sum()
    gWx, gWh = T.grad(cost, [Wx, Wh])
    graph = Graph.make([X, h0], [gWx, gWh])
    (backward,) = _backward(graph)
    # the forward products (tanh's input) are not recomputed from the step's inputs
    assert "tanh" not in _ops_in(backward)
    # Wx's and Wh's gradients, sum over steps of x_t^T g_t and h_t-1^T g_t, are one product
    # each after the loop: the step stacks g_t once (an output) and accumulates only X's rows
    assert backward.n_nitsot == 1 and len(backward.accums) == 1
    (pruned,) = _backward(run_pipeline(graph))
    assert len(pruned.accums) == 0  # X's gradient is not asked for
    products = [op for op in _ops_in(pruned) if op == "dot" or op.startswith("gemm")]
    assert len(products) == 1  # g_t . Wh^T, the recurrence itself


def test_rnn_gradients_match_finite_differences():
    X, h0, Wx, Wh, hs = _rnn()
    cost = (hs ** 2).sum() + hs[-1].sum()
    f_grad = croton.function([X, h0], T.grad(cost, [Wx, Wh, h0]))
    xv = np.random.RandomState(1).randn(6, 2, 3)
    hv = np.random.RandomState(2).randn(2, 4) * 0.1
    f_cost = croton.function([X, h0], cost)
    g_wx, g_wh, g_h0 = f_grad(xv, hv)

    def at(shared, value):
        old = shared.get_value()
        shared.set_value(value)
        try:
            return float(f_cost(xv, hv))
        finally:
            shared.set_value(old)

    np.testing.assert_allclose(g_wx, numeric_grad(lambda w: at(Wx, w), [Wx.get_value()])[0],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_wh, numeric_grad(lambda w: at(Wh, w), [Wh.get_value()])[0],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_h0, numeric_grad(lambda h: float(f_cost(xv, h)), [hv])[0],
                               rtol=1e-5, atol=1e-7)
    # and the same numbers from the NumPy reference evaluator
    ref = croton.function([X, h0], T.grad(cost, [Wx, Wh, h0]), mode="NUMPY")(xv, hv)
    for a, b in zip(f_grad(xv, hv), ref):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_nitsot_output_reused_by_the_gradient():
    x = T.dmatrix("x")
    w = croton.shared(np.array([0.3, -0.2]), "w")
    ys, _ = croton.scan(lambda xt, w: T.exp(xt * w), sequences=x, non_sequences=w)
    g = T.grad(ys.sum(), w)
    backward = [s for s in _scans(Graph.make([x], [g])) if s.accums]
    assert "exp" not in _ops_in(backward[0])  # exp's gradient reads the stored output
    xv = np.random.RandomState(3).randn(5, 2)
    np.testing.assert_allclose(croton.function([x], g)(xv),
                               (xv * np.exp(xv * w.get_value())).sum(axis=0), rtol=1e-12)


def test_input_projection_is_one_product_before_the_loop():
    X, h0, Wx, Wh, hs = _rnn()
    graph = run_pipeline(Graph.make([X, h0], [hs]))
    (forward,) = _scans(graph)
    products = [op for op in _ops_in(forward) if op == "dot" or op.startswith("gemm")]
    assert len(products) == 1  # h_t-1 . Wh only; x_t . Wx is read from the hoisted product
    xv = np.random.RandomState(4).randn(5, 2, 3)
    hv = np.random.RandomState(5).randn(2, 4)
    got = croton.function([X, h0], hs)(xv, hv)
    h, expected = hv, []
    for x in xv:
        h = np.tanh(x @ Wx.get_value() + h @ Wh.get_value())
        expected.append(h)
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-12)


def test_projection_of_a_backwards_sequence_with_taps_and_fewer_steps():
    X = T.dtensor3("X")
    W = croton.shared(np.random.RandomState(6).randn(3, 2), "W")
    ys, _ = croton.scan(lambda a, b, W: T.dot(a, W) - T.dot(b, W.T.T),
                        sequences=dict(input=X, taps=[-1, 1]), non_sequences=W,
                        go_backwards=True, n_steps=3)
    xv = np.random.RandomState(7).randn(6, 2, 3)
    got = croton.function([X], ys)(xv)
    rev, w = xv[::-1], W.get_value()
    expected = np.stack([rev[u] @ w - rev[u + 2] @ w for u in range(3)])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    graph = run_pipeline(Graph.make([X], [ys]))
    assert not any(op == "dot" or op.startswith("gemm") for op in _ops_in(_scans(graph)[0]))
