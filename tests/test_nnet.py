"""croton.tensor.nnet: activations, softmax, the cross-entropies and the per-row gather, compiled
and in NUMPY mode, against NumPy/SciPy; gradients against central differences; numerical
stability at extreme logits; a small MLP trained with SGD against a NumPy implementation."""

import os

import numpy as np
import pytest
import scipy.special

import croton
import croton.tensor as T
from croton.gradient import numeric_grad
from croton.graph import ancestors_toposort

RNG = np.random.default_rng(7)
HERE = os.path.basename(__file__)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def activation_outputs(x, t3):
    nn = T.nnet
    return [nn.softmax(x), nn.softmax(x, axis=0), nn.softmax(t3, axis=1), nn.log_softmax(x),
            nn.log_softmax(t3, axis=0), nn.relu(x), nn.relu(x, 0.3), nn.softplus(x),
            nn.sigmoid(x)]


def activation_refs(a, b):
    return [np_softmax(a), np_softmax(a, 0), np_softmax(b, 1), np.log(np_softmax(a)),
            scipy.special.log_softmax(b, axis=0), np.maximum(a, 0), np.where(a > 0, a, 0.3 * a),
            np.logaddexp(0, a), scipy.special.expit(a)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_values_compiled_and_numpy_mode(dtype):
    x = T.matrix("x", dtype=dtype)
    t3 = T.tensor3("t3", dtype=dtype)
    outs = activation_outputs(x, t3)
    assert all(o.dtype == dtype for o in outs)
    f = croton.function([x, t3], outs)
    f_np = croton.function([x, t3], outs, mode="NUMPY")
    tol = 2e-6 if dtype == "float32" else 1e-12
    base = RNG.standard_normal((5, 8)) * 3
    cases = [
        (base[:4, :6].astype(dtype), RNG.standard_normal((2, 3, 4)).astype(dtype)),
        # non-contiguous: transposed, step slices, negative strides
        (base.astype(dtype).T[::-2, ::2], RNG.standard_normal((4, 3, 4)).astype(dtype)[::-2]),
    ]
    for a, b in cases:
        got, got_np = f(a, b), f_np(a, b)
        for g, n, want in zip(got, got_np, activation_refs(a.astype("float64"),
                                                           b.astype("float64"))):
            assert g.dtype == dtype and g.shape == want.shape
            np.testing.assert_allclose(g, want, rtol=tol, atol=tol)
            np.testing.assert_allclose(n, want, rtol=tol, atol=tol)


def test_activation_gradients_match_finite_differences():
    x = T.dmatrix("x")
    t3 = T.dtensor3("t3")
    outs = activation_outputs(x, t3)
    ws = [T.tensor("float64", o.broadcastable, name=f"w{k}") for k, o in enumerate(outs)]
    cost = sum((o * w).sum() for o, w in zip(outs, ws))
    f_cost = croton.function([x, t3, *ws], cost)
    f_grad = croton.function([x, t3, *ws], T.grad(cost, [x, t3]))
    a = RNG.standard_normal((3, 4))
    a = np.where(np.abs(a) < 0.1, 0.5, a)  # keep relu away from its kink
    b = RNG.standard_normal((2, 3, 2))
    weights = [RNG.standard_normal(r.shape) for r in activation_refs(a, b)]
    got = f_grad(a, b, *weights)
    want = numeric_grad(lambda p, q: f_cost(p, q, *weights), [a, b])
    for g, n in zip(got, want):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_stay_finite(dtype):
    x = T.matrix("x", dtype=dtype)
    v = T.vector("v", dtype=dtype)
    sm = T.nnet.softmax(x)
    lsm = T.nnet.log_softmax(v)
    sbce = T.nnet.sigmoid_binary_crossentropy(v, T.ones_like(v))
    cost = T.log(sm + 1).sum() + lsm.sum() + T.nnet.softplus(v).sum() + sbce.sum()
    gx, gv = T.grad(cost, [x, v])
    f = croton.function([x, v], [sm, lsm, T.nnet.softplus(v), sbce, gx, gv])
    logits = (1e4 + RNG.standard_normal((3, 5)) * 10).astype(dtype)
    wide = np.linspace(-1000, 1000, 7).astype(dtype)
    s, ls, sp, bce, g1, g2 = f(logits, wide)
    for arr in (s, ls, sp, bce, g1, g2):
        assert np.all(np.isfinite(arr))
    empty = f(np.zeros((0, 5), dtype), wide)
    assert empty[0].shape == empty[4].shape == (0, 5)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(s, np_softmax(logits.astype("float64")), rtol=tol, atol=tol)
    assert ls.shape == (1, wide.size)  # a vector's log_softmax is a row, as in Theano 1.0.5
    np.testing.assert_allclose(ls[0], scipy.special.log_softmax(wide.astype("float64")),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(sp, np.logaddexp(0, wide.astype("float64")), rtol=tol, atol=tol)
    np.testing.assert_allclose(bce, np.logaddexp(0, -wide.astype("float64")), rtol=tol,
                               atol=tol)
    # d/dx of sum(log_softmax) = 1 - n * softmax: exact at these logits
    want_gv = 1 - wide.size * scipy.special.softmax(wide.astype("float64"))
    want_gv += scipy.special.expit(wide.astype("float64"))  # softplus'
    want_gv += scipy.special.expit(wide.astype("float64")) - 1  # sigmoid_bce' with target 1
    np.testing.assert_allclose(g2, want_gv, rtol=tol, atol=tol)


def test_crossentropy_values_and_numpy_mode():
    p = T.dmatrix("p")
    q = T.dmatrix("q")
    y32, y64, y8 = T.ivector("y32"), T.lvector("y64"), T.vector("y8", dtype="uint8")
    o, t = T.dvector("o"), T.dvector("t")
    nn = T.nnet
    outs = [nn.categorical_crossentropy(p, q), nn.categorical_crossentropy(p, y32),
            nn.categorical_crossentropy(p, y64), nn.categorical_crossentropy(p, y8),
            nn.binary_crossentropy(o, t), nn.sigmoid_binary_crossentropy(o, t),
            nn.take_along_last(p, y32)]
    f = croton.function([p, q, y32, y64, y8, o, t], outs)
    f_np = croton.function([p, q, y32, y64, y8, o, t], outs, mode="NUMPY")
    pa = np_softmax(RNG.standard_normal((5, 4)))
    qa = np_softmax(RNG.standard_normal((5, 4)))
    ya = np.array([0, 3, 1, 1, 2])
    oa = np.array([1e-300, 0.3, 0.5, 0.9, 1 - 1e-15, 1e-12])
    ta = np.array([1.0, 0.0, 1.0, 0.25, 0.0, 1.0])
    # non-contiguous: a Fortran-ordered matrix, an index vector with a negative stride
    args = (np.asfortranarray(pa), qa, ya[::-1].astype("int32")[::-1], ya.astype("int64"),
            ya.astype("uint8"), oa, ta)
    hot = -np.log(pa[np.arange(5), ya])
    want = [-(qa * np.log(pa)).sum(axis=1), hot, hot, hot,
            -(ta * np.log(oa) + (1 - ta) * np.log1p(-oa)),
            ta * np.logaddexp(0, -oa) + (1 - ta) * np.logaddexp(0, oa), pa[np.arange(5), ya]]
    for got in (f(*args), f_np(*args)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)
        assert np.all(np.isfinite(got[4])) and got[4][0] == pytest.approx(690.7755, rel=1e-6)


def test_crossentropy_gradients_match_finite_differences():
    p, q = T.dmatrices("p", "q")
    y = T.ivector("y")
    o, t = T.dvectors("o", "t")
    nn = T.nnet
    cost = nn.categorical_crossentropy(p, q).sum() \
        + (nn.categorical_crossentropy(p, y) * np.arange(1.0, 6.0)).sum()
    cost = cost + (nn.binary_crossentropy(o, t) * 1.5).sum() \
        + (nn.sigmoid_binary_crossentropy(o - 0.5, t) * 0.7).sum() \
        + (nn.take_along_last(p * p, y) * 2.0).sum()
    f_cost = croton.function([p, q, y, o, t], cost)
    grads = T.grad(cost, [p, q, o, t])
    assert "take_along_last_grad" in {n.op.name for n in ancestors_toposort(grads)}
    f_grad = croton.function([p, q, y, o, t], grads)
    pa = np_softmax(RNG.standard_normal((5, 4)))
    qa = np_softmax(RNG.standard_normal((5, 4)))
    ya = np.array([0, 3, 1, 1, 2], "int32")
    oa = np.array([0.1, 0.3, 0.5, 0.9, 0.7])
    ta = np.array([1.0, 0.0, 1.0, 0.25, 0.0])
    got = f_grad(pa, qa, ya, oa, ta)
    want = numeric_grad(lambda a, b, c, d: f_cost(a, b, ya, c, d), [pa, qa, oa, ta])
    for g, n in zip(got, want):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


def test_crossentropy_near_zero_and_one_is_finite_with_finite_gradients():
    o, t = T.dvectors("o", "t")
    bce = T.nnet.binary_crossentropy(o, t).sum()
    p = T.dmatrix("p")
    y = T.ivector("y")
    cce = T.nnet.categorical_crossentropy(p, y).sum()
    f = croton.function([o, t, p, y], [bce, cce, *T.grad(bce + cce, [o, p])])
    oa = np.array([1e-300, 1e-300, 1 - 1e-15, 1 - 1e-15, 1e-12])
    ta = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    pa = np.array([[1e-300, 1.0], [1 - 1e-15, 1e-15]])
    outs = f(oa, ta, pa, np.array([0, 1], "int32"))
    for arr in outs:
        assert np.all(np.isfinite(arr))
    assert outs[1] == pytest.approx(690.7755 + 34.5388, rel=1e-5)
    empty = f(oa, ta, np.zeros((0, 2)), np.zeros(0, "int32"))
    assert empty[1] == 0 and empty[3].shape == (0, 2)


def test_take_along_last_errors_name_the_line_and_leave_shared_unchanged():
    p = T.dmatrix("p")
    y = T.ivector("y")
    acc = croton.shared(np.zeros(3), "acc")
    picked = T.nnet.take_along_last(p, y)  # the line the errors name
    line = f"{HERE}:{picked.owner.source.rsplit(':', 1)[1]}"
    f = croton.function([p, y], picked, updates=[(acc, acc + picked)])
    pa = RNG.standard_normal((3, 4))
    with pytest.raises(IndexError, match=rf"index 4 is out of bounds.*size 4.*{line}"):
        f(pa, np.array([0, 4, 1], "int32"))
    with pytest.raises(IndexError, match=rf"index -1 .*{line}"):
        f(pa, np.array([0, -1, 1], "int32"))
    with pytest.raises(ValueError, match=rf"take_along_last.*{line}.*\(3, 4\).*\(2,\)"):
        f(pa, np.array([0, 1], "int32"))
    np.testing.assert_array_equal(acc.get_value(), np.zeros(3))
    f(pa, np.array([0, 3, 1], "int32"))
    np.testing.assert_array_equal(acc.get_value(), pa[[0, 1, 2], [0, 3, 1]])
    with pytest.raises(IndexError):
        croton.function([p, y], picked, mode="NUMPY")(pa, np.array([5, 0, 0], "int32"))
    with pytest.raises(TypeError, match="integer"):
        T.nnet.categorical_crossentropy(p, T.dvector("yf"))
    with pytest.raises(TypeError, match="integer"):
        T.nnet.take_along_last(p, T.dvector("yf"))
    with pytest.raises(TypeError, match="true_dist"):
        T.nnet.categorical_crossentropy(p, T.itensor3("y3"))
    with pytest.raises(ValueError, match="axis"):
        T.nnet.softmax(p, axis=2)


def np_mlp_steps(params, xs, ys, lr, steps):
    params = [p.copy() for p in params]
    losses = []
    for _ in range(steps):
        acts = [xs]
        h = xs
        n_layers = len(params) // 2
        for i in range(n_layers):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < n_layers - 1:
                h = np.tanh(h)
            acts.append(h)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        prob = e / e.sum(axis=1, keepdims=True)
        losses.append(-np.mean(np.log(prob[np.arange(len(ys)), ys])))
        d = prob.copy()
        d[np.arange(len(ys)), ys] -= 1
        d /= len(ys)
        grads = [None] * len(params)
        for i in reversed(range(n_layers)):
            grads[2 * i] = acts[i].T @ d
            grads[2 * i + 1] = d.sum(axis=0)
            if i:
                d = (d @ params[2 * i].T) * (1 - acts[i] ** 2)
        params = [p - lr * g for p, g in zip(params, grads)]
    return losses, params


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_mlp_sgd_training_matches_numpy(dtype, tol):
    sizes, batch, lr = (20, 16, 16, 3), 8, 0.5
    rng = np.random.default_rng(3)
    init = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        init += [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype),
                 np.zeros(b, dtype)]
    shared = [croton.shared(v.copy(), f"p{k}") for k, v in enumerate(init)]
    X = T.matrix("X", dtype=dtype)
    y = T.ivector("y")
    h = X
    for i in range(len(sizes) - 1):
        h = T.dot(h, shared[2 * i]) + shared[2 * i + 1]
        if i < len(sizes) - 2:
            h = T.tanh(h)
    loss = T.mean(T.nnet.categorical_crossentropy(T.nnet.softmax(h), y))
    grads = T.grad(loss, shared)
    step = croton.function([X, y], loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads)])
    xs = rng.standard_normal((batch, sizes[0])).astype(dtype)
    ys = rng.integers(0, sizes[-1], batch).astype("int32")
    got = [float(step(xs, ys)) for _ in range(20)]
    want, want_params = np_mlp_steps(init, xs, ys, np.asarray(lr, dtype), 20)
    assert got[-1] < got[0] * 0.5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    for s, w in zip(shared, want_params):
        np.testing.assert_allclose(s.get_value(), w, rtol=tol, atol=tol)
