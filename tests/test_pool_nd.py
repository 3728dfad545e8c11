"""pool_3d, and pooling with symbolic window / stride / padding (Theano's ``pool_2d(x,
ws=T.ivector(), stride=..., pad=None)``, as Lasagne's SpatialPyramidPoolingLayer uses it): values
against a direct loop reference, gradients against central differences, bad run-time values."""

import numpy as np
import pytest
from test_conv_pool import check_grads

import croton
import croton.tensor as T
from croton.tensor.signal.pool import pool_2d, pool_3d

RNG = np.random.default_rng(17)


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """Theano's Pool.perform for any number of pooled dims, as direct loops on a padded copy."""
    nd = len(ws)
    stride = stride or ws
    dims = x.shape[-nd:]
    padded = [n + 2 * p for n, p in zip(dims, pad)]

    def out_len(n, k, s):
        if ignore_border:
            return max((n - k) // s + 1, 0)
        return (n - 1) // s + 1 if s >= k else max(0, (n - 1 - k) // s + 1) + 1

    outs = [out_len(n, k, s) for n, k, s in zip(padded, ws, stride)]
    y = np.zeros(x.shape[:-nd] + tuple(padded))
    y[(Ellipsis,) + tuple(slice(p, p + n) for p, n in zip(pad, dims))] = x
    out = np.zeros(x.shape[:-nd] + tuple(outs))
    for pos in np.ndindex(*outs):
        sl = []
        for i, k, s, p, n, m in zip(pos, ws, stride, pad, dims, padded):
            lo, hi = i * s, min(i * s + k, m)
            if mode != "average_inc_pad":
                lo, hi = max(lo, p), min(hi, n + p)
            sl.append(slice(lo, hi))
        win = y[(Ellipsis,) + tuple(sl)]
        axes = tuple(range(-nd, 0))
        out[(Ellipsis,) + pos] = {"max": np.max, "sum": np.sum}.get(mode, np.mean)(win, axis=axes)
    return out


CONFIGS_3D = [((2, 2, 2), None, (0, 0, 0), True, "max"), ((2, 3, 2), (1, 2, 2), (0, 0, 0), False,
                                                            "max"),
              ((3, 2, 2), (2, 1, 2), (1, 1, 0), True, "sum"),
              ((2, 2, 3), (1, 1, 1), (1, 0, 1), True, "average_inc_pad"),
              ((3, 3, 2), (2, 2, 1), (2, 1, 1), True, "average_exc_pad")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pool_3d_values(dtype):
    x5, x3 = T.tensor5("x5", dtype=dtype), T.tensor3("x3", dtype=dtype)
    outs = [pool_3d(v, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
            for v in (x5, x3) for ws, st, pad, ib, mode in CONFIGS_3D]
    f = croton.function([x5, x3], outs)
    f_np = croton.function([x5, x3], outs, mode="NUMPY")
    a5 = RNG.standard_normal((2, 3, 8, 5, 14)).astype(dtype)[:, ::-1, :, :, ::2]
    a3 = RNG.standard_normal((5, 6, 4)).astype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    srcs = [a5] * len(CONFIGS_3D) + [a3] * len(CONFIGS_3D)
    for got, got_np, src, cfg in zip(f(a5, a3), f_np(a5, a3), srcs, CONFIGS_3D * 2):
        want = ref_pool(src.astype("float64"), *cfg)
        assert got.dtype == dtype and got.shape == want.shape, cfg
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=str(cfg))
        np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol, err_msg=str(cfg))


def test_pool_3d_gradients():
    x = T.dtensor4("x")
    xa = RNG.permutation(2 * 5 * 4 * 5).reshape(2, 5, 4, 5) / 10.0  # distinct: no max ties
    check_grads([x], [pool_3d(x, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
                      for ws, st, pad, ib, mode in CONFIGS_3D], [xa])


def test_pool_2d_symbolic_window_stride_and_padding():
    x = T.dtensor4("x")
    ws, st = T.ivector("ws"), T.ivector("st")
    n = T.iscalar("n")
    # Lasagne's SpatialPyramidPoolingLayer: window and stride computed from the input's shape
    size = x.shape[2:]
    outs = [pool_2d(x, ws=ws, stride=st, ignore_border=True, pad=None),
            pool_2d(x, ws=((size[0] + 1) // 2, (size[1] + 1) // 2),
                    stride=(size[0] // 2, size[1] // 2), ignore_border=True, pad=None,
                    mode="average_exc_pad"),
            pool_2d(x, ws=(n, 2), stride=(1, n), pad=(n - 1, 0), ignore_border=True,
                    mode="sum")]
    f = croton.function([x, ws, st, n], outs)
    xa = RNG.standard_normal((2, 3, 7, 6))
    got = f(xa, np.array([3, 2], "int32"), np.array([2, 2], "int32"), 2)
    wants = [ref_pool(xa, (3, 2), (2, 2), (0, 0), True, "max"),
             ref_pool(xa, (4, 3), (3, 3), (0, 0), True, "average_exc_pad"),
             ref_pool(xa, (2, 2), (1, 2), (1, 0), True, "sum")]
    for g, w in zip(got, wants):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    check_grads([x, ws, st, n], outs, [xa, np.array([3, 2], "int32"), np.array([2, 2], "int32"),
                            np.array(2, "int32")], wrt=[x])
    for bad_ws, bad_st, bad_n in (([0, 2], [1, 1], 2), ([2, 2], [1, -1], 2), ([2, 2], [1, 1], 0),
                                  ([2, 2, 2], [1, 1], 2)):
        with pytest.raises(ValueError, match="pool_2d"):
            f(xa, np.array(bad_ws, "int32"), np.array(bad_st, "int32"), bad_n)


def test_pool_argument_forms_as_theano():
    x = T.dtensor4("x")
    with pytest.raises(TypeError, match="ws"):
        pool_2d(x, ws=T.dvector("w"), ignore_border=True)
    with pytest.raises(ValueError, match="2 entries"):
        pool_2d(x, ws=(2, 2, 2), ignore_border=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        pool_2d(x, ws=(2, 2), ignore_border=True, window=3)
    with pytest.raises(ValueError, match="both 'ws' and 'ds'"):
        pool_2d(x, ws=(2, 2), ds=(2, 2), ignore_border=True)
    with pytest.raises(TypeError, match="ndim >= 3"):
        pool_3d(T.dmatrix("m"), (2, 2, 2), ignore_border=True)
    y = pool_2d(x, (2, 2), ignore_border=True, pad=None, mode="max_deterministic")
    assert dict(y.owner.params)["mode"] == "max"


def test_pool_3d_second_order_max():
    x, v = T.dtensor3("x"), T.dtensor3("v")
    y = pool_3d(x, (2, 2, 2), ignore_border=True, stride=(1, 1, 2), pad=(1, 0, 1))
    gx = T.grad((y * v).sum(), x)
    ggv = T.grad((gx * gx).sum(), v)
    from croton.graph import ancestors_toposort

    assert "pool_3d_max_grad_grad" in {n.op.name for n in ancestors_toposort([ggv])}
    xa = RNG.permutation(60).reshape(3, 4, 5) / 10.0
    va = RNG.standard_normal((4, 3, 3))
    check_grads([v, x], [gx * gx], [va, xa], wrt=[v])


def test_pool_window_from_an_int64_vector_input():
    # regression: the vector is read directly (no cast), so the generated code needs the header
    # that reads vector elements
    x, w = T.dmatrix("x"), T.lvector("w")
    f = croton.function([x, w], pool_2d(x, w, ignore_border=True, pad=None))
    xa = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(f(xa, [2, 4]), ref_pool(xa, (2, 4), None, (0, 0), True, "max"))
