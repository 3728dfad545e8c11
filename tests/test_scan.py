"""``scan``: Theano's tutorial programs unchanged, taps, symbolic ``n_steps``, ``go_backwards``,
shared-variable updates, gradients (finite differences, ``truncate_gradient``), errors inside
the step naming scan and the user's line, and agreement with ``mode='NUMPY'``."""

import numpy as np
import pytest

import croton
import croton as theano
import croton.tensor as T
from croton.gradient import numeric_grad
from croton.ifelse import ifelse

RNG = np.random.default_rng(7)


def both(inputs, outputs, **kwargs):
    """The compiled function and its NumPy-mode twin."""
    return (croton.function(inputs, outputs, **kwargs),
            croton.function(inputs, outputs, mode="NUMPY", **kwargs))


def test_tutorial_a_to_the_k():
    A = T.vector("A")
    k = T.iscalar("k")
    result, updates = theano.scan(fn=lambda prior_result, A: prior_result * A,
                                  outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    final_result = result[-1]
    power = theano.function(inputs=[A, k], outputs=final_result, updates=updates)
    a = np.arange(10, dtype=theano.config.floatX)
    np.testing.assert_allclose(power(a, 2), a ** 2)
    np.testing.assert_allclose(power(a, 5), a ** 5, rtol=1e-6)
    every, numpy_every = both([A, k], result)
    np.testing.assert_allclose(every(a[:3], 3), [a[:3] ** i for i in (1, 2, 3)])
    np.testing.assert_allclose(numpy_every(a[:3], 3), every(a[:3], 3))
    assert every(a[:3], 0).shape[0] == 0


def test_tutorial_polynomial():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    components, updates = theano.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
        outputs_info=None,
        sequences=[coefficients, T.arange(max_coefficients_supported)],
        non_sequences=x)
    polynomial = components.sum()
    calculate_polynomial = theano.function(inputs=[coefficients, x], outputs=polynomial)
    test_coefficients = np.asarray([1, 0, 2], dtype=np.float32)
    assert float(calculate_polynomial(test_coefficients, 3)) == pytest.approx(19.0)


def test_accumulating_sum_and_symbolic_n_steps():
    s = T.dvector("s")
    n = T.iscalar("n")
    total, _ = theano.scan(lambda v, acc: acc + v, sequences=s,
                           outputs_info=T.constant(0.0, dtype="float64"), n_steps=n)
    f, g = both([s, n], [total, total[-1]])
    v = np.arange(1.0, 8.0)
    got = f(v, 4)  # n_steps shorter than the sequence: the first 4 rows
    np.testing.assert_allclose(got[0], np.cumsum(v[:4]))
    assert float(got[1]) == 10.0
    np.testing.assert_allclose(f(v, 100)[0], np.cumsum(v))  # min(n_steps, len) as Theano
    for a, b in zip(g(v, 4), got):
        np.testing.assert_allclose(a, b)


def test_fibonacci_with_taps():
    x0 = T.lvector("x0")
    fib, _ = theano.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]),
                         n_steps=10)
    f, g = both([x0], fib)
    want = [2, 3, 5, 8, 13, 21, 34, 55, 89, 144]
    np.testing.assert_array_equal(f([1, 1]), want)
    np.testing.assert_array_equal(g([1, 1]), want)
    assert f([1, 1]).dtype == np.int64


def test_sequence_taps_and_go_backwards():
    s = T.dvector("s")
    second, _ = theano.scan(lambda xm1, x, xp1: xm1 - 2 * x + xp1,
                            sequences=dict(input=s, taps=[-1, 0, 1]))
    backwards, _ = theano.scan(lambda x, prev: prev * 10 + x, sequences=s,
                               outputs_info=T.constant(0.0, dtype="float64"),
                               go_backwards=True)
    f, g = both([s], [second, backwards])
    v = np.arange(5.0) ** 2
    want = [np.full(3, 2.0), np.array([16.0, 169.0, 1694.0, 16941.0, 169410.0])]
    for got in (f(v), g(v)):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b)


def test_several_outputs_over_the_rows_of_a_matrix():
    M = T.dmatrix("M")
    x = T.dvector("x")

    def step(row, prev, x):
        return [prev * row + x, (row * x).sum()]

    (states, sums), _ = theano.scan(step, sequences=M, outputs_info=[x, None],
                                    non_sequences=x)
    f, g = both([M, x], [states, sums])
    mv, xv = RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    prev, want_states = xv, []
    for row in mv:
        prev = prev * row + xv
        want_states.append(prev)
    for got in (f(mv, xv), g(mv, xv)):
        np.testing.assert_allclose(got[0], want_states)
        np.testing.assert_allclose(got[1], mv @ xv)


def test_updates_returned_by_fn_apply_the_last_step():
    count = theano.shared(np.float64(0.0), "count")
    s = T.dvector("s")
    doubled, updates = theano.scan(lambda v: (v * 2, {count: count + v}), sequences=s)
    f = theano.function([s], doubled, updates=updates)
    np.testing.assert_allclose(f(np.arange(4.0)), [0.0, 2.0, 4.0, 6.0])
    assert float(count.get_value()) == 6.0
    f(np.ones(3))
    assert float(count.get_value()) == 9.0
    with pytest.raises(TypeError):
        f(np.ones((2, 2)))
    assert float(count.get_value()) == 9.0
    g = theano.function([s], doubled, updates=updates, mode="NUMPY")
    g(np.ones(2))
    assert float(count.get_value()) == 11.0


def test_nested_scan_and_ifelse_inside_scan():
    M = T.dmatrix("M")
    v = T.dvector("v")

    def row_cumsum(row):
        c, _ = theano.scan(lambda x, acc: acc + x, sequences=row,
                           outputs_info=T.constant(0.0, dtype="float64"))
        return c

    cums, _ = theano.scan(row_cumsum, sequences=M)
    clipped, _ = theano.scan(lambda x: ifelse(x > 2, x * 10, -x), sequences=v)
    f, g = both([M, v], [cums, clipped])
    mv = np.arange(6.0).reshape(2, 3)
    for got in (f(mv, np.arange(5.0)), g(mv, np.arange(5.0))):
        np.testing.assert_allclose(got[0], np.cumsum(mv, axis=1))
        np.testing.assert_allclose(got[1], [0.0, -1.0, -2.0, 30.0, 40.0])


def test_errors_in_the_step_name_scan_and_the_line():
    m = T.dmatrix("m")
    w = T.dvector("w")
    products, _ = theano.scan(lambda row, w: row * w, sequences=m, non_sequences=w)
    f = croton.function([m, w], products)
    with pytest.raises(ValueError, match=r"mul inside scan\{fn=<lambda>\}.*test_scan.py"):
        f(np.ones((3, 2)), np.ones(3))
    h0 = T.dvector("h0")
    W = T.dmatrix("W")
    grows, _ = theano.scan(lambda h, W: T.dot(h, W), outputs_info=h0, non_sequences=W,
                           n_steps=3)  # the state changes shape: (3,) -> (4,)
    g = croton.function([h0, W], grows)
    np.testing.assert_allclose(g(np.ones(3), np.eye(3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"scan\{fn=<lambda>\}.*test_scan.py.*same shape"):
        g(np.ones(3), np.ones((3, 4)))


def rnn(truncate_gradient=-1, inputs=None):
    X, W, U, b, h0 = inputs or [T.dmatrix("X"), T.dmatrix("W"), T.dmatrix("U"),
                                T.dvector("b"), T.dvector("h0")]
    h, _ = theano.scan(lambda x, hp, W, U, b: T.tanh(T.dot(x, W) + T.dot(hp, U) + b),
                       sequences=X, outputs_info=h0, non_sequences=[W, U, b],
                       truncate_gradient=truncate_gradient)
    return [X, W, U, b, h0], h.sum()


def rnn_args():
    rng = np.random.default_rng(11)
    return [rng.standard_normal((5, 3)), rng.standard_normal((3, 4)) * 0.5,
            rng.standard_normal((4, 4)) * 0.5, rng.standard_normal(4), rng.standard_normal(4)]


def test_rnn_gradient_matches_finite_differences():
    inputs, cost = rnn()
    f_cost = croton.function(inputs, cost, mode="NUMPY")  # forward values: tested above
    grads = T.grad(cost, inputs)
    f_grad, numpy_grad = both(inputs, grads)
    args = rnn_args()
    got = f_grad(*args)
    want = numeric_grad(f_cost, args)
    for g, w, n in zip(got, want, numpy_grad(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g, n, rtol=1e-10, atol=1e-12)


def truncated_bptt(args, k):
    """The reference: backpropagate through the last k steps only."""
    X, W, U, b, h0 = args
    hs = [h0]
    for x in X:
        hs.append(np.tanh(x @ W + hs[-1] @ U + b))
    grads = [np.zeros_like(a) for a in args]
    pending = np.zeros_like(h0)
    n = len(X)
    for t in range(n - 1, max(n - k, 0) - 1, -1):
        d = (1.0 + pending) * (1 - hs[t + 1] ** 2)
        grads[0][t] = W @ d
        grads[1] += np.outer(X[t], d)
        grads[2] += np.outer(hs[t], d)
        grads[3] += d
        pending = U @ d
    if k >= n:
        grads[4] = pending
    return grads


def test_truncate_gradient():
    inputs, cost_2 = rnn(truncate_gradient=2)
    _, cost_5 = rnn(truncate_gradient=5, inputs=inputs)  # 5 steps: the whole gradient
    f_grad, numpy_grad = both(inputs, T.grad(cost_2, inputs) + T.grad(cost_5, inputs))
    args = rnn_args()
    want = truncated_bptt(args, 2) + truncated_bptt(args, 5)
    for got in (f_grad(*args), numpy_grad(*args)):
        for a, w in zip(got, want):
            np.testing.assert_allclose(a, w, rtol=1e-10, atol=1e-12)


def test_gradients_through_taps_go_backwards_and_last_value():
    x0, s = T.dvectors("x0", "s")
    c = T.dscalar("c")
    fib, _ = theano.scan(lambda a, b, c: a * c + b * b * 0.5,
                         outputs_info=dict(initial=x0, taps=[-2, -1]), non_sequences=c,
                         n_steps=4)
    smooth, _ = theano.scan(lambda xm1, x, xp1, c: xm1 * x * c + xp1,
                            sequences=dict(input=s, taps=[-1, 0, 1]), non_sequences=c)
    back, _ = theano.scan(lambda x, hp: T.tanh(x + hp * 0.5), sequences=s, outputs_info=c,
                          go_backwards=True)
    cost = (fib * T.arange(4)).sum() + (smooth ** 2).sum() + back[-1] + (back * s).sum()
    inputs = [x0, s, c]
    f_cost = croton.function(inputs, cost, mode="NUMPY")
    f_grad = croton.function(inputs, T.grad(cost, inputs))
    args = [RNG.standard_normal(2) * 0.5, RNG.standard_normal(6), np.array(0.7)]
    for g, w in zip(f_grad(*args), numeric_grad(f_cost, args)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_theano_names():
    import croton.scan as scan_module

    assert callable(theano.scan) and callable(scan_module)
    assert theano.ifelse.ifelse is ifelse
    with pytest.raises(ValueError, match="n_steps"):
        theano.scan(lambda: T.constant(1.0))
