"""croton.gradient beyond grad: jacobian, hessian, Rop, Lop, verify_grad and the
gradient-shaping identities (zero_grad, disconnected_grad, grad_clip)."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.gradient import (
    DisconnectedInputError,
    GradientError,
    Lop,
    Rop,
    disconnected_grad,
    grad_clip,
    hessian,
    jacobian,
    numeric_grad,
    verify_grad,
    zero_grad,
)

RNG = np.random.default_rng(11)


def test_jacobian_and_hessian_match_closed_forms():
    x, w = T.dvector("x"), T.dvector("w")
    a = T.dmatrix("a")
    y = T.dot(a, x) + x ** 2
    j_y = T.jacobian(y, x)
    j_x, j_w = jacobian(T.exp(x) * w, [x, w])
    h_cube = T.hessian(T.sum(x ** 3), x)
    h_quad = hessian(T.dot(x, T.dot(a, x)), [x])[0]
    j_scalar = jacobian(T.sum(T.sin(x)), x)
    outs = [j_y, j_x, j_w, h_cube, h_quad, j_scalar]
    f = croton.function([x, w, a], outs)
    xv, wv, av = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal((3, 3))
    got = f(xv, wv, av)
    want = [av + np.diag(2 * xv), np.diag(np.exp(xv) * wv), np.diag(np.exp(xv)),
            np.diag(6 * xv), av + av.T, np.cos(xv)]
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    for g, e in zip(croton.function([x, w, a], outs, mode="NUMPY")(xv, wv, av), want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    # a length-0 expression gives a (0, n) Jacobian
    assert f(np.zeros(0), np.zeros(0), np.zeros((0, 0)))[0].shape == (0, 0)


def test_jacobian_and_hessian_reject_bad_ranks():
    m = T.dmatrix("m")
    with pytest.raises(TypeError, match="1-dimensional"):
        jacobian(m * 2, m)
    with pytest.raises(TypeError, match="scalar"):
        hessian(m, m)
    with pytest.raises(TypeError, match="vectors"):
        hessian(T.sum(m), m)


def test_rop_and_lop_against_finite_differences():
    x, v, u = T.dvector("x"), T.dvector("v"), T.dvector("u")
    W, V = T.dmatrix("W"), T.dmatrix("V")

    def f_expr(x_, W_):
        return T.exp(x_) * T.sum(x_) + T.tanh(T.dot(W_, x_))

    y = f_expr(x, W)
    jvp = Rop(y, [x, W], [v, V])
    vjp_x, vjp_W = Lop(y, [x, W], u)
    rop_list = Rop([y, T.sum(y)], x, v)
    f = croton.function([x, W, v, V, u], [y, jvp, vjp_x, vjp_W, *rop_list])
    xv, vv, uv = RNG.standard_normal(4), RNG.standard_normal(4), RNG.standard_normal(4)
    Wv, Vv = RNG.standard_normal((4, 4)), RNG.standard_normal((4, 4))
    yv, jvp_v, lx, lW, r0, r1 = f(xv, Wv, vv, Vv, uv)
    f_num = croton.function([x, W], y, mode="NUMPY")
    eps = 1e-6
    fd = (f_num(xv + eps * vv, Wv + eps * Vv) - f_num(xv - eps * vv, Wv - eps * Vv)) / (2 * eps)
    np.testing.assert_allclose(jvp_v, fd, rtol=1e-6, atol=1e-8)
    fd_x = (f_num(xv + eps * vv, Wv) - f_num(xv - eps * vv, Wv)) / (2 * eps)
    np.testing.assert_allclose(r0, fd_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r1, fd_x.sum(), rtol=1e-6, atol=1e-8)
    # Lop: u^T J, checked through the scalar u . f
    num_x, num_W = numeric_grad(lambda a, b: float(f_num(a, b) @ uv), [xv, Wv])
    np.testing.assert_allclose(lx, num_x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(lW, num_W, rtol=1e-6, atol=1e-8)


def test_rop_lop_argument_errors():
    x, v = T.dvector("x"), T.dmatrix("v")
    with pytest.raises(TypeError, match="ndim"):
        Rop(x * 2, x, v)
    with pytest.raises(ValueError, match="eval_points"):
        Lop([x, x], x, [x])


def test_zero_grad_disconnected_grad_and_grad_clip():
    x = T.dvector("x")
    g_zero = T.grad(T.sum(zero_grad(x) * x), x)  # only the direct path: x
    g_disc = T.grad(T.sum(disconnected_grad(x) ** 2 + x), x)  # 1
    g_clip_hi = T.grad(T.sum(grad_clip(x, -1.0, 1.0) * 5), x)  # 5 clipped to 1
    g_clip_lo = T.grad(T.sum(grad_clip(x, -2.0, 1.0) * -5), x)  # -5 clipped to -2
    g_clip_in = T.grad(T.sum(grad_clip(x, -1.0, 1.0) * x * 0.25), x)  # clipped path + direct
    values = [zero_grad(x), disconnected_grad(x), grad_clip(x, -1.0, 1.0)]
    f = croton.function([x], [g_zero, g_disc, g_clip_hi, g_clip_lo, g_clip_in, *values])
    xv = np.array([0.5, -1.5, 3.0])
    gz, gd, ghi, glo, gin, *vals = f(xv)
    np.testing.assert_allclose(gz, xv)
    np.testing.assert_allclose(gd, np.ones(3))
    np.testing.assert_allclose(ghi, np.ones(3))
    np.testing.assert_allclose(glo, np.full(3, -2.0))
    np.testing.assert_allclose(gin, np.clip(0.25 * xv, -1, 1) + 0.25 * xv)
    for v in vals:  # identity forward
        np.testing.assert_array_equal(v, xv)
    with pytest.raises(ValueError, match="lower bound"):
        grad_clip(x, 1.0, -1.0)


def test_disconnected_input_is_reported():
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(DisconnectedInputError):
        T.grad(T.sum(x), y)
    assert T.grad(T.sum(x), y, disconnected_inputs="ignore").type == y.type


def test_verify_grad_accepts_correct_gradients():
    pts = [RNG.standard_normal((2, 3)), RNG.uniform(1, 2, (1, 3))]  # second broadcasts
    verify_grad(lambda a, b: T.exp(a) / b + T.sum(a * b, axis=0), pts, n_tests=3)
    verify_grad(lambda a: T.tanh(a) * 2, [RNG.standard_normal(4).astype("float32")],
                rng=np.random.RandomState(0))


def test_verify_grad_detects_wrong_gradients():
    x = RNG.uniform(0.5, 1.5, 3)
    with pytest.raises(GradientError, match="input 0") as info:
        verify_grad(lambda a: grad_clip(a, -0.1, 0.1) * 10, [x])  # true gradient is 10
    assert info.value.arg == 0 and abs(info.value.numeric) > 5
    with pytest.raises(GradientError, match="input 1"):
        verify_grad(lambda a, b: a * zero_grad(b) * b, [x, x + 1])  # gradient misses a path


def test_verify_grad_rejects_bad_arguments():
    with pytest.raises(TypeError, match="float"):
        verify_grad(lambda a: a * 2, [np.arange(3)])
    with pytest.raises(TypeError, match="single variable"):
        verify_grad(lambda a: [a, a], [np.ones(2)])
    with pytest.raises(TypeError, match="list"):
        verify_grad(lambda a: a, np.ones(2))
