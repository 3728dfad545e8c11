"""conv2d (croton.tensor.nnet) and pool_2d (croton.tensor.signal.pool): values against SciPy and
a direct loop reference in every border mode, stride, flip and padding; gradients (and the
gradients of the gradient ops) against central differences; non-contiguous and empty inputs;
shape errors at graph-build and call time."""

import os

import numpy as np
import pytest
import scipy.signal

import croton
import croton.tensor as T
from croton.gradient import numeric_grad
from croton.graph import ancestors_toposort
from croton.tensor.signal.pool import pool_2d

RNG = np.random.default_rng(11)
HERE = os.path.basename(__file__)

CONV_CONFIGS = [  # border_mode, subsample, filter_flip
    ("valid", (1, 1), True), ("valid", (2, 1), False), ("full", (1, 1), True),
    ("full", (2, 3), False), ("half", (1, 1), True), ("half", (2, 2), False),
    (1, (1, 2), True), ((2, 1), (3, 1), False),
]


def ref_conv(x, w, border, sub, flip):
    kh, kw = w.shape[2:]
    pads = {"valid": (0, 0), "full": (kh - 1, kw - 1), "half": (kh // 2, kw // 2)}
    ph, pw = pads[border] if isinstance(border, str) else \
        (border, border) if isinstance(border, int) else border
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    fn = scipy.signal.convolve2d if flip else scipy.signal.correlate2d
    rows = [[sum(fn(xp[n, c], w[o, c], mode="valid") for c in range(x.shape[1]))
             [::sub[0], ::sub[1]] for o in range(w.shape[0])] for n in range(x.shape[0])]
    return np.array(rows)


def conv_outputs(x, w):
    return [T.nnet.conv2d(x, w, border_mode=b, subsample=s, filter_flip=f)
            for b, s, f in CONV_CONFIGS]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_values_every_border_stride_and_flip(dtype):
    x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
    outs = conv_outputs(x, w)
    f = croton.function([x, w], outs)
    f_np = croton.function([x, w], outs, mode="NUMPY")
    tol = 1e-4 if dtype == "float32" else 1e-12
    xa = RNG.standard_normal((2, 3, 7, 6)).astype(dtype)
    wa = RNG.standard_normal((4, 3, 3, 2)).astype(dtype)
    big = RNG.standard_normal((2, 3, 14, 7)).astype(dtype)
    cases = [(xa, wa),
             # non-contiguous: step slice + negative stride, transposed filters
             (big[:, :, ::2, ::-1], RNG.standard_normal((4, 3, 2, 3)).astype(dtype)
              .transpose(0, 1, 3, 2)),
             (xa[:, ::-1], wa[::-1, :, ::-1]),
             # 1x1 filters, single channel
             (xa[:, :1], wa[:, :1, :1, :1])]
    for a, b in cases:
        for got, got_np, cfg in zip(f(a, b), f_np(a, b), CONV_CONFIGS):
            want = ref_conv(a.astype("float64"), b.astype("float64"), *cfg)
            assert got.dtype == dtype and got.shape == want.shape, cfg
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=str(cfg))
            np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol, err_msg=str(cfg))
    empty = f(np.zeros((0, 3, 7, 6), dtype), wa)
    assert [e.shape[:2] for e in empty] == [(0, 4)] * len(CONV_CONFIGS)


def op_names(outputs):
    return {node.op.name for node in ancestors_toposort(outputs)}


def check_grads(inputs, outs, args, extra=(), wrt=None):
    """Weighted sum of ``outs``; compiled gradient vs central differences in float64."""
    ws = [T.tensor("float64", o.broadcastable, name=f"w{k}") for k, o in enumerate(outs)]
    cost = sum((o * w).sum() for o, w in zip(outs, ws))
    wrt = inputs if wrt is None else wrt
    f_cost = croton.function(list(inputs) + ws, cost)
    f_grad = croton.function(list(inputs) + ws, T.grad(cost, list(wrt)))
    shapes = [o.shape for o in croton.function(list(inputs), outs, mode="NUMPY")(*args)]
    weights = [RNG.standard_normal(s) for s in shapes]
    got = f_grad(*args, *weights)
    n = len(wrt)
    want = numeric_grad(lambda *a: f_cost(*a, *args[n:], *weights), list(args[:n]))
    for g, num in zip(got, want):
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


def test_conv2d_gradients_match_finite_differences():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    check_grads([x, w], conv_outputs(x, w),
                [RNG.standard_normal((2, 2, 6, 5)), RNG.standard_normal((3, 2, 3, 2))])


def test_conv2d_second_order_gradients():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(x, w, border_mode=(1, 0), subsample=(2, 1))
    v = T.dtensor4("v")
    gx, gw = T.grad((y * v).sum(), [x, w])
    assert op_names([gx, gw]) >= {"conv2d_grad_input", "conv2d_grad_filters"}
    assert "conv2d" in op_names(T.grad((gx * gx).sum(), [v]))
    # d/dx and d/dw of functions of the gradient ops (conv2d_grad_input / _grad_filters)
    check_grads([x, w, v], [T.sqr(gx), gw * gw * w], [
        RNG.standard_normal((1, 2, 5, 4)), RNG.standard_normal((2, 2, 2, 2)),
        RNG.standard_normal((1, 2, 3, 3))], wrt=[x, w])


def test_conv2d_shape_errors():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    W = croton.shared(RNG.standard_normal((2, 3, 2, 2)), "W")
    y = T.nnet.conv2d(x, W)  # the line the errors name
    line = f"{HERE}:{y.owner.source.rsplit(':', 1)[1]}"
    cost = (y ** 2).sum()
    f = croton.function([x], cost, updates=[(W, W - 0.1 * T.grad(cost, W))])
    before = W.get_value().copy()
    with pytest.raises(ValueError, match=rf"conv2d.*{line}.*channels.*\(1, 2, 5, 5\).*"
                                         rf"\(2, 3, 2, 2\)"):
        f(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=rf"conv2d.*{line}.*larger than the padded input"):
        f(np.zeros((1, 3, 1, 5)))
    np.testing.assert_array_equal(W.get_value(), before)
    f(np.ones((1, 3, 4, 4)))
    assert not np.array_equal(W.get_value(), before)
    g = croton.function([x, w], T.nnet.conv2d(x, w, filter_shape=(2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"declared filter_shape \(2, 3, 2, 2\)"):
        g(np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 2)))
    with pytest.raises(ValueError, match=rf"channels.*{HERE}:\d+"):
        T.nnet.conv2d(x, w, input_shape=(4, 3, 8, 8), filter_shape=(2, 5, 3, 3))
    with pytest.raises(TypeError, match=rf"4-d.*{HERE}:\d+"):
        T.nnet.conv2d(T.dmatrix("m"), w)
    with pytest.raises(ValueError, match="border_mode"):
        T.nnet.conv2d(x, w, border_mode="same")
    with pytest.raises(ValueError, match="subsample"):
        T.nnet.conv2d(x, w, subsample=(0, 1))


# --- pooling -------------------------------------------------------------------------------------
POOL_CONFIGS = [  # ws, stride, pad, ignore_border, mode
    ((2, 2), None, (0, 0), True, "max"), ((2, 2), None, (0, 0), False, "max"),
    ((3, 2), (1, 2), (0, 0), False, "max"), ((3, 3), (2, 2), (1, 2), True, "max"),
    ((2, 3), (3, 1), (0, 0), False, "sum"), ((3, 3), (2, 2), (1, 1), True, "sum"),
    ((2, 2), (1, 1), (1, 1), True, "average_inc_pad"), ((3, 2), None, (0, 0), False,
                                                        "average_inc_pad"),
    ((3, 3), (2, 1), (2, 1), True, "average_exc_pad"), ((2, 3), (2, 2), (0, 0), False,
                                                        "average_exc_pad"),
]


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """Theano's Pool.perform, written as direct loops over a zero-padded image."""
    stride = stride or ws
    h, w = x.shape[-2:]
    rows, cols = h + 2 * pad[0], w + 2 * pad[1]

    def out_len(n, k, s):
        if ignore_border:
            return max((n - k) // s + 1, 0)
        return (n - 1) // s + 1 if s >= k else max(0, (n - 1 - k) // s + 1) + 1

    oh, ow = out_len(rows, ws[0], stride[0]), out_len(cols, ws[1], stride[1])
    y = np.zeros(x.shape[:-2] + (rows, cols))
    y[..., pad[0]:pad[0] + h, pad[1]:pad[1] + w] = x
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for lead in np.ndindex(x.shape[:-2]):
        for i in range(oh):
            r0, r1 = i * stride[0], min(i * stride[0] + ws[0], rows)
            if mode != "average_inc_pad":
                r0, r1 = max(r0, pad[0]), min(r1, h + pad[0])
            for j in range(ow):
                c0, c1 = j * stride[1], min(j * stride[1] + ws[1], cols)
                if mode != "average_inc_pad":
                    c0, c1 = max(c0, pad[1]), min(c1, w + pad[1])
                win = y[lead + (slice(r0, r1), slice(c0, c1))]
                out[lead + (i, j)] = {"max": np.max, "sum": np.sum}.get(mode, np.mean)(win)
    return out


def pool_outputs(x):
    return [pool_2d(x, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
            for ws, st, pad, ib, mode in POOL_CONFIGS]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pool_2d_values_every_mode_stride_and_padding(dtype):
    x4 = T.tensor4("x4", dtype=dtype)
    x3 = T.tensor3("x3", dtype=dtype)
    m = T.matrix("m", dtype=dtype)
    outs = pool_outputs(x4) + pool_outputs(x3) + pool_outputs(m)
    f = croton.function([x4, x3, m], outs)
    f_np = croton.function([x4, x3, m], outs, mode="NUMPY")
    tol = 1e-5 if dtype == "float32" else 1e-12
    big = RNG.standard_normal((3, 4, 14, 9)).astype(dtype)
    cases = [(RNG.standard_normal((2, 3, 7, 8)).astype(dtype),
              RNG.standard_normal((3, 5, 6)).astype(dtype),
              RNG.standard_normal((9, 7)).astype(dtype)),
             # non-contiguous views
             (big[::2, ::-1, ::2, 1:], big[0, :, ::-3].transpose(0, 2, 1), big[1, 2].T),
             # empty batch; tiny image smaller than the windows
             (np.zeros((0, 3, 7, 8), dtype), RNG.standard_normal((2, 1, 1)).astype(dtype),
              RNG.standard_normal((2, 2)).astype(dtype))]
    configs = POOL_CONFIGS * 3
    for args in cases:
        refs = [args[0]] * len(POOL_CONFIGS) + [args[1]] * len(POOL_CONFIGS) \
            + [args[2]] * len(POOL_CONFIGS)
        for got, got_np, src, cfg in zip(f(*args), f_np(*args), refs, configs):
            want = ref_pool(src.astype("float64"), *cfg)
            assert got.dtype == dtype and got.shape == want.shape, cfg
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=str(cfg))
            np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol, err_msg=str(cfg))


def test_pool_2d_gradients_match_finite_differences():
    x = T.dtensor4("x")
    xa = RNG.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) / 10.0  # distinct: no max ties
    check_grads([x], pool_outputs(x), [xa])


def test_pool_2d_second_order_gradients():
    x, v = T.dtensor4("x"), T.dtensor4("v")
    outs = []
    for mode in ("max", "average_exc_pad", "sum"):
        y = pool_2d(x, (2, 3), ignore_border=True, stride=(1, 2), pad=(1, 1), mode=mode)
        gx = T.grad((y * v).sum(), x)
        # d/dv of functions of the gradient ops, and d/dx through them (zero for max)
        outs += [gx * gx, pool_2d(gx * x, (2, 2), ignore_border=True, mode=mode)]
    assert op_names(outs) >= {"pool_2d_max_grad", "pool_2d_avg_grad"}
    assert "pool_2d_max_grad_grad" in op_names(T.grad(outs[0].sum(), [v]))
    xa = RNG.permutation(40).reshape(1, 2, 5, 4) / 10.0
    check_grads([x, v], outs, [xa, RNG.standard_normal((1, 2, 6, 2))])


def test_max_pool_gradient_goes_to_every_tied_maximum_as_theano():
    x = T.dmatrix("x")
    y = pool_2d(x, (2, 2), ignore_border=True, stride=(1, 1))
    f = croton.function([x], T.grad(y.sum(), x))
    got = f(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0]]))
    # window (0,0): three tied maxima of 1; window (0,1): the 2
    np.testing.assert_array_equal(got, [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])


def test_pool_2d_argument_errors():
    x = T.dtensor4("x")
    with pytest.raises(NotImplementedError, match="ignore_border=True"):
        pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1))
    with pytest.raises(NotImplementedError, match="smaller than the window"):
        pool_2d(x, (2, 2), ignore_border=True, pad=(2, 0))
    with pytest.raises(ValueError, match="mode"):
        pool_2d(x, (2, 2), ignore_border=True, mode="median")
    with pytest.raises(ValueError, match=rf"positive.*{HERE}:\d+"):
        pool_2d(x, (0, 2), ignore_border=True)
    with pytest.raises(TypeError, match=rf"ndim >= 2.*{HERE}:\d+"):
        pool_2d(T.dvector("v"), (2, 2), ignore_border=True)
    with pytest.warns(UserWarning, match="ignore_border"):
        y = pool_2d(x, (2, 2))
    assert dict(y.owner.params)["ignore_border"] is False
    old = pool_2d(x, ds=(3, 2), st=(1, 1), padding=(1, 0), ignore_border=True)
    ws, stride, pad = (list(v.data) for v in old.owner.inputs[1:])
    assert ws == [3, 2] and stride == [1, 1] and pad == [1, 0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_fast_path_large_threaded_with_ties(dtype):
    # C-contiguous, no padding, non-overlapping windows: the threaded fast kernels
    # (runtime/cpu/kernels/pool_fast.hpp), checked against the direct loops; rounded values
    # make ties, which all receive the gradient (Theano's MaxPoolGrad).
    x = T.tensor4("x", dtype=dtype)
    outs = []
    for ws, st, ib in (((2, 2), None, True), ((2, 2), None, False), ((3, 2), (3, 3), False)):
        y = pool_2d(x, ws, ignore_border=ib, stride=st)
        outs += [y, T.grad((y * y).sum(), x)]
    f = croton.function([x], outs)
    xa = np.round(RNG.standard_normal((6, 20, 25, 24)), 1).astype(dtype)
    got = f(xa)
    for k, (ws, st, ib) in enumerate((((2, 2), None, True), ((2, 2), None, False),
                                      ((3, 2), (3, 3), False))):
        want = ref_pool(xa.astype("float64"), ws, st, (0, 0), ib, "max")
        np.testing.assert_allclose(got[2 * k], want, rtol=1e-6)
        stride = st or ws
        grad = np.zeros(xa.shape)
        for idx in np.ndindex(want.shape):
            *lead, i, j = idx
            r0, c0 = i * stride[0], j * stride[1]
            win = (*lead, slice(r0, r0 + ws[0]), slice(c0, c0 + ws[1]))
            grad[win] += np.where(xa[win] == want[idx], 2 * want[idx], 0.0)
        np.testing.assert_allclose(got[2 * k + 1], grad, rtol=1e-6, atol=1e-6)
