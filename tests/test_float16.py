"""float16 storage computed in float32, as Theano did: float16 tensors and shared variables build,
cast and compute; every op computes in float32 between conversions, and results are stored as
float16. Checked against NumPy doing the same float32 computation rounded to float16."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.tensor.random import RandomStreams
from croton.tensor.signal.pool import pool_2d

RNG = np.random.default_rng(16)


def f16(a):
    return np.asarray(a, dtype="float16")


def close16(got, want32, rtol=2e-3, atol=1e-3):
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype("float32"), want32, rtol=rtol, atol=atol)


def test_types_follow_numpy_promotion_as_theano():
    h = T.matrix("h", dtype="float16")
    assert h.type == T.TensorType("float16", (False, False))
    assert (h * 2).dtype == "float16" and (h * np.float16(2)).dtype == "float16"
    assert (h + T.fmatrix("f")).dtype == "float32"
    assert (h * T.bmatrix("b")).dtype == "float16"
    assert T.nnet.sigmoid(h).dtype == "float16" and T.exp(h).dtype == "float16"
    assert T.cast(T.dmatrix("d"), "float16").dtype == "float16"
    assert croton.shared(np.ones(3, "float16")).dtype == "float16"
    assert T.as_tensor_variable(np.float16(0.5)).dtype == "float16"


def test_elementwise_chain_computes_in_float32_and_stores_float16():
    x, y = T.matrix("x", dtype="float16"), T.vector("y", dtype="float16")
    out = T.tanh(x * 3 + y) / (1 + T.exp(-x)) - T.sqrt(T.abs(y))
    f = croton.function([x, y], [out, x.sum(), x.max(axis=0), T.cast(x, "float64")])
    xa = f16(RNG.standard_normal((5, 4)) * 2)
    ya = f16(RNG.standard_normal(4))
    got, s, m, d = f(xa, ya)
    x32, y32 = xa.astype("float32"), ya.astype("float32")
    close16(got, np.tanh(x32 * 3 + y32) / (1 + np.exp(-x32)) - np.sqrt(np.abs(y32)))
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d, xa.astype("float64"))
    np.testing.assert_array_equal(m, xa.max(axis=0))
    close16(s, x32.sum())


def test_sum_accumulates_in_float32():
    v = T.vector("v", dtype="float16")
    a = f16(np.full(20000, 0.1))
    got = croton.function([v], v.sum())(a)
    assert got.dtype == np.float16
    assert got == np.float16(a.astype("float32").sum())  # float16 running sums stall at 256


def test_shared_float16_training_step_and_gradient():
    x = T.matrix("x", dtype="float16")
    W = croton.shared(f16(RNG.standard_normal((3, 2))), "W")
    cost = T.sqr(T.nnet.sigmoid(T.dot(x, W))).mean()
    gW = T.grad(cost, W)
    assert gW.dtype == "float16"
    f = croton.function([x], cost, updates=[(W, W - np.float16(0.5) * gW)])
    xa = f16(RNG.standard_normal((4, 3)))
    W0 = W.get_value().astype("float32")
    c = f(xa)
    x32 = xa.astype("float32")
    s = 1 / (1 + np.exp(-(x32 @ W0)))
    close16(c, (s ** 2).mean())
    g32 = x32.T @ (2 * s * s * (1 - s)) / s.size
    assert W.get_value().dtype == np.float16
    close16(W.get_value(), W0 - 0.5 * g32)


def test_structured_ops_on_float16():
    x, w = T.tensor4("x", dtype="float16"), T.tensor4("w", dtype="float16")
    outs = [T.nnet.conv2d(x, w, border_mode="half"), pool_2d(x, (2, 2), ignore_border=True),
            T.sort(x, axis=None), x[:, 0, ::2].T, T.nnet.softmax(x.flatten(2))]
    f = croton.function([x, w], outs)
    xa, wa = f16(RNG.standard_normal((2, 3, 4, 4))), f16(RNG.standard_normal((2, 3, 3, 3)))
    f32 = croton.function([x, w], outs, mode="NUMPY")
    got = f(xa, wa)
    want = [o.astype("float32") for o in f32(xa, wa)]
    for g, ww in zip(got, want):
        close16(g, ww, rtol=1e-2, atol=1e-2)
    np.testing.assert_array_equal(got[2], np.sort(xa, axis=None))
    np.testing.assert_array_equal(got[3], xa[:, 0, ::2].T)


def test_random_draws_in_float16():
    rng = RandomStreams(7)
    u = rng.uniform((1000,), dtype="float16")
    b = rng.binomial((1000,), p=np.float16(0.25), dtype="float16")
    assert u.dtype == "float16" and b.dtype == "float16"
    ua, ba = croton.function([], [u, b])()
    assert ua.dtype == np.float16 and 0.4 < ua.mean() < 0.6 and 0 <= ua.min() and ua.max() <= 1
    assert set(np.unique(ba)) <= {0, 1} and 0.15 < ba.mean() < 0.35


def test_float32_input_needs_downcast_for_a_float16_input():
    x = T.vector("x", dtype="float16")
    f = croton.function([x], x * 2)
    with pytest.raises(TypeError):
        f(np.ones(3, "float32"))
    g = croton.function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_array_equal(g(np.ones(3, "float32")), f16([2, 2, 2]))


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_scan_and_ifelse_carry_float16(mode):
    from croton.ifelse import ifelse

    x, h0, c = (T.vector("x", dtype="float16"), T.scalar("h0", dtype="float16"),
                T.scalar("c", dtype="float16"))
    hs, _ = croton.scan(lambda xt, h: T.tanh(h * np.float16(0.5) + xt), sequences=[x],
                        outputs_info=[h0])
    z = ifelse(T.gt(c, 0), x * 2, x)
    f = croton.function([x, h0, c], [hs, z, T.grad(hs.sum(), x)], mode=mode)
    xa = f16(np.linspace(-1, 1, 5))
    got_h, got_z, got_g = f(xa, np.float16(0.1), np.float16(1))
    h, want = np.float32(0.1), []
    for v in xa.astype("float32"):  # each step stores its state as float16
        h = np.float32(np.float16(np.tanh(h * 0.5 + v)))
        want.append(h)
    close16(got_h, want)
    np.testing.assert_array_equal(got_z, xa * 2)
    assert got_g.dtype == np.float16 and np.all(np.isfinite(got_g))
