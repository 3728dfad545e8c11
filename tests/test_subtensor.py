"""Indexing: basic views, advanced (integer array and boolean mask) gathers, take,
set_subtensor / inc_subtensor, their gradients, and their errors; compiled against NumPy and
against mode='NUMPY'."""

import inspect
import os

import numpy as np
import pytest

import croton
import croton.tensor as T

RNG = np.random.default_rng(7)
HERE = os.path.basename(__file__)


def _line() -> str:
    """``test_subtensor.py:<line of the caller>``, as error messages cite the user's line."""
    return f"{HERE}:{inspect.currentframe().f_back.f_lineno}"


def both(inputs, outputs, *args, **kwargs):
    """Compile ``outputs`` and run them on ``args``; also run mode='NUMPY' and check agreement."""
    got = croton.function(inputs, outputs, **kwargs)(*args)
    ref = croton.function(inputs, outputs, mode="NUMPY", **kwargs)(*args)
    for g, r in zip(got if isinstance(got, list) else [got], ref if isinstance(ref, list) else
                    [ref]):
        assert g.dtype == r.dtype and g.shape == r.shape
        np.testing.assert_array_equal(g, r)
    return got


# --- basic indexing -------------------------------------------------------------------------------
def test_basic_slices_with_symbolic_bounds_match_numpy():
    x = T.dtensor3("x")
    a, b, c = T.lscalars("a", "b", "c")
    exprs = {
        "x[1:]": x[1:], "x[::-1]": x[::-1], "x[a:b:c]": x[a:b:c], "x[-1]": x[-1],
        "x[a]": x[a], "x[:, None, 1]": x[:, None, 1], "x[..., 0]": x[..., 0],
        "x[None, ..., None]": x[None, ..., None], "x[-100:100]": x[-100:100],
        "x[3:1]": x[3:1], "x[::c, a:]": x[::c, a:], "x[b, ::-2, 1:c]": x[b, ::-2, 1:c],
        "x[1][::-1][1:]": x[1][::-1][1:], "x[::-1][::-1]": x[::-1][::-1],
        "x[a:, 1, :b]": x[a:, 1, :b],
    }
    f = croton.function([x, a, b, c], list(exprs.values()))
    g = croton.function([x, a, b, c], list(exprs.values()), mode="NUMPY")
    xv = RNG.standard_normal((4, 3, 5))
    for av, bv, cv in [(0, 2, 1), (-2, -1, 2), (1, -4, -1), (3, 0, -2), (-4, 2, 3), (2, 2, 1)]:
        env = {"x": xv, "a": av, "b": bv, "c": cv, "None": None}
        for key, got, ref in zip(exprs, f(xv, av, bv, cv), g(xv, av, bv, cv)):
            want = eval(key, {}, env)
            assert got.shape == want.shape, key
            np.testing.assert_array_equal(got, want, err_msg=key)
            np.testing.assert_array_equal(ref, want, err_msg=key)


def test_basic_index_types_and_broadcast_patterns():
    x = T.dmatrix("x")
    assert x[0].type == T.TensorType("float64", (False,))
    assert x[None, 0].broadcastable == (True, False)
    assert x[:, :].broadcastable == (False, False)
    r = T.drow("r")
    assert r[:, 1:].broadcastable == (True, False)
    assert r[1:].broadcastable == (False, False)  # may be empty: no longer broadcastable
    assert x.shape[0].owner.op.name == "shape_i"


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int64", "float32", "bool", "complex128"])
def test_basic_and_advanced_indexing_of_each_dtype(dtype):
    x = T.tensor(dtype, (False, False), "x")
    i = T.ivector("i")
    xv = (RNG.standard_normal((3, 4)) * 10).astype(dtype)
    if dtype == "complex128":
        xv = xv + 1j * RNG.standard_normal((3, 4))
    iv = np.array([2, 0, -1], dtype="int32")
    y = T.tensor(dtype, (True, False), "y")
    yv = xv[:1]
    outs = both([x, i, y], [x[::-1, 1:3], x[i], x[1, i], T.set_subtensor(x[1:, ::2], y[:, :2]),
                            T.inc_subtensor(x[i], y)], xv, iv, yv)
    assert outs[0].dtype == dtype
    np.testing.assert_array_equal(outs[0], xv[::-1, 1:3])
    np.testing.assert_array_equal(outs[1], xv[iv])
    np.testing.assert_array_equal(outs[2], xv[1, iv])
    want = xv.copy()
    want[1:, ::2] = yv[:, :2]
    np.testing.assert_array_equal(outs[3], want)
    want = xv.copy()
    np.add.at(want, iv, yv)  # bool: logical or
    np.testing.assert_array_equal(outs[4], want)


def test_zero_dim_empty_and_noncontiguous_inputs():
    s = T.dscalar("s")
    x = T.dmatrix("x")
    n = T.lscalar("n")
    f = croton.function([s, x, n], [s[()], s[None], x[n:n], x[:, 2:], x[::-1, ::2][1:], x[..., n],
                                    x[x > 0], T.set_subtensor(x[n:], 1.0)])
    g = croton.function([s, x, n], [s[()], s[None], x[n:n], x[:, 2:], x[::-1, ::2][1:],
                                    x[..., n], x[x > 0], T.set_subtensor(x[n:], 1.0)], mode="NUMPY")
    big = RNG.standard_normal((6, 8))
    for xv in (big.T, big[::2, ::-3], big[:0, :3], np.asfortranarray(big[:3, :4])):
        want_last = xv.copy()
        want_last[1:] = 1.0
        want = [np.asarray(1.5), np.array([1.5]), xv[1:1], xv[:, 2:], xv[::-1, ::2][1:],
                xv[..., 1], xv[xv > 0], want_last]
        for got, ref, w in zip(f(1.5, xv, 1), g(1.5, xv, 1), want):
            assert got.shape == w.shape
            np.testing.assert_array_equal(got, w)
            np.testing.assert_array_equal(ref, w)
    got = f(1.5, big[:0, :3], 0)
    assert got[3].shape == (0, 1) and got[6].shape == (0,) and got[7].shape == (0, 3)


def test_basic_index_errors_name_the_op_and_line():
    x = T.dvector("x")
    k, c = T.lscalars("k", "c")
    out = x[k]; where_k = _line()  # noqa: E702
    out2 = x[::c]; where_c = _line()  # noqa: E702
    f = croton.function([x, k, c], [out, out2])
    np.testing.assert_array_equal(f(np.arange(3.0), -3, 2)[0], 0.0)
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 0 of size 3") as e:
        f(np.arange(3.0), 3, 1)
    assert where_k in str(e.value) and "subtensor" in str(e.value)
    with pytest.raises(IndexError, match="index -4"):
        f(np.arange(3.0), -4, 1)
    with pytest.raises(ValueError, match="slice step cannot be zero") as e:
        f(np.arange(3.0), 0, 0)
    assert where_c in str(e.value)
    with pytest.raises(IndexError):
        croton.function([x, k, c], [out, out2], mode="NUMPY")(np.arange(3.0), 3, 1)
    with pytest.raises(IndexError, match="too many indices") as e:
        where = _line(); x[0, 1]  # noqa: E702
    assert where in str(e.value)
    with pytest.raises(TypeError, match="integers") as e:
        where = _line(); x[T.dscalar("f")]  # noqa: E702
    assert where in str(e.value)
    with pytest.raises(TypeError):
        x[1.5]
    with pytest.raises(TypeError):
        x[0:T.dscalar("f")]
    with pytest.raises(ValueError, match="slice step cannot be zero") as e:
        where = _line(); x[::0]  # noqa: E702
    assert where in str(e.value)
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


def test_constant_index_out_of_bounds_raises_at_call_time():
    c = T.constant(np.arange(3.0))
    x = T.dvector("x")
    f = croton.function([x], x + c[5])
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros(1))


# --- views as outputs and updates ---------------------------------------------------------------
def test_view_outputs_and_updates_of_shared_variables():
    W = croton.shared(np.arange(12.0).reshape(3, 4), "W_view")
    V = croton.shared(np.arange(5.0), "V_view")
    x = T.dvector("x")
    f = croton.function([x], [x[::-1], x[1:], W[1]],
                        updates=[(W, T.set_subtensor(W[0], 0.0)), (V, V[::-1])])
    xv = np.arange(4.0)
    out = f(xv)
    np.testing.assert_array_equal(out[0], xv[::-1])
    np.testing.assert_array_equal(out[1], xv[1:])
    np.testing.assert_array_equal(out[2], np.arange(4.0, 8.0))  # read before the update
    want = np.arange(12.0).reshape(3, 4)
    want[0] = 0
    np.testing.assert_array_equal(W.get_value(), want)
    np.testing.assert_array_equal(V.get_value(), np.arange(5.0)[::-1])
    out[0][0] = 100.0  # outputs are copies, not views of the caller's input
    assert xv[3] == 3.0


def test_failed_index_leaves_shared_variables_unchanged():
    W = croton.shared(np.ones((3, 2)), "W_fail")
    k = T.lscalar("k")
    i = T.lvector("i")
    f = croton.function([k, i], W.sum(),
                        updates=[(W, T.inc_subtensor(T.set_subtensor(W[k], 5.0)[i], 1.0))])
    f(0, np.array([1, 1]))
    want = np.ones((3, 2))
    want[0] = 5.0
    want[1] += 2.0
    np.testing.assert_array_equal(W.get_value(), want)
    for bad in [(3, np.array([0])), (0, np.array([0, -4]))]:
        with pytest.raises(IndexError):
            f(*bad)
        np.testing.assert_array_equal(W.get_value(), want)


# --- advanced indexing --------------------------------------------------------------------------
def test_advanced_integer_arrays_match_numpy():
    x = T.dtensor3("x")
    i = T.lvector("i")
    j = T.bvector("j")
    m = T.imatrix("m")
    s = T.lscalar("s")
    exprs = {
        "x[i]": x[i], "x[i, j]": x[i, j], "x[:, i]": x[:, i], "x[i, :, j]": x[i, :, j],
        "x[m]": x[m], "x[1:, m, ::-1]": x[1:, m, ::-1], "x[0, :, i]": x[0, :, i],
        "x[:, 0, i]": x[:, 0, i], "x[s, i]": x[s, i], "x[None, i]": x[None, i],
        "x[i, None, j]": x[i, None, j], "x[..., i]": x[..., i], "x[m, i[:1]]": x[m, i[:1]],
        "x[[1, -1]]": x[[1, -1]], "x[np.arange(2), i[:2]]": x[np.arange(2), i[:2]],
        "x[i][::-1, 1]": x[i][::-1, 1],
    }
    f = croton.function([x, i, j, m, s], list(exprs.values()))
    g = croton.function([x, i, j, m, s], list(exprs.values()), mode="NUMPY")
    xv = RNG.standard_normal((3, 4, 5))
    iv = np.array([2, -1, 0])
    jv = np.array([1, 0, -2], dtype="int8")
    mv = np.array([[0, 1], [2, -3]], dtype="int32")
    env = {"x": xv, "i": iv, "j": jv, "m": mv, "s": 1, "np": np, "None": None}
    for key, got, ref in zip(exprs, f(xv, iv, jv, mv, 1), g(xv, iv, jv, mv, 1)):
        want = eval(key, {}, env)
        assert got.shape == want.shape, key
        np.testing.assert_array_equal(got, want, err_msg=key)
        np.testing.assert_array_equal(ref, want, err_msg=key)
    empty = croton.function([x, i, m], [x[i], x[i, i], x[m], x[m, i]])(
        xv, np.zeros(0, "int64"), mv[:1, :0])
    assert [e.shape for e in empty] == [(0, 4, 5), (0, 5), (1, 0, 4, 5), (1, 0, 5)]


def test_advanced_index_errors():
    x = T.dmatrix("x")
    i, j = T.lvectors("i", "j")
    where = _line(); out = x[i, j]  # noqa: E702
    f = croton.function([x, i, j], out)
    xv = np.zeros((2, 3))
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 1 of size 3") as e:
        f(xv, np.array([0, 1]), np.array([0, 3]))
    assert where in str(e.value) and "advanced_subtensor" in str(e.value)
    with pytest.raises(IndexError, match=r"index -3 is out of bounds for axis 0 of size 2"):
        f(xv, np.array([-3, 1]), np.array([0, 0]))
    with pytest.raises(ValueError, match="could not be broadcast together"):
        f(xv, np.array([0, 1, 1]), np.array([0, 0]))
    with pytest.raises(TypeError):
        x[T.dvector("f")]
    with pytest.raises(TypeError):
        x[[0.5, 1.5]]


def test_boolean_masks():
    x = T.dmatrix("x")
    v = T.bvector("v")
    mv = T.tensor("bool", (False,), "mv")
    f = croton.function([x, mv], [x[x > 0], x[mv], x[:, T.gt(x[0], 0)], x[mv, 1:],
                                  x[x > 100]])
    xv = RNG.standard_normal((4, 3))
    maskv = np.array([True, False, True, True])
    got = f(xv, maskv)
    want = [xv[xv > 0], xv[maskv], xv[:, xv[0] > 0], xv[maskv, 1:], xv[xv > 100]]
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)
    ref = croton.function([x, mv], x[mv], mode="NUMPY")(xv, maskv)
    np.testing.assert_array_equal(ref, want[1])
    with pytest.raises(IndexError, match="boolean mask"):
        f(xv, maskv[:3])
    assert v[T.gt(v, 0)].ndim == 1


def test_take():
    x = T.dmatrix("x")
    i = T.lvector("i")
    xv = RNG.standard_normal((3, 4))
    iv = np.array([2, 0, -1])
    outs = both([x, i], [T.take(x, i), T.take(x, i, axis=1), T.take(x, i, axis=-2),
                         T.take(x, [0, 2], axis=1), T.take(x, i[0], axis=1)], xv, iv)
    want = [np.take(xv, iv), np.take(xv, iv, axis=1), np.take(xv, iv, axis=-2),
            np.take(xv, [0, 2], axis=1), np.take(xv, iv[0], axis=1)]
    for got, w in zip(outs, want):
        assert got.shape == w.shape
        np.testing.assert_array_equal(got, w)
    with pytest.raises(IndexError):
        T.take(x, i, axis=2)


def test_arange_row_picking_as_in_the_mlp_benchmark():
    p = T.dmatrix("p")
    y = T.lvector("y")
    nll = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    f = croton.function([p, y], [nll, T.grad(nll, p)])
    pv = RNG.uniform(0.1, 1.0, (5, 3))
    yv = np.array([0, 2, 1, 1, 0])
    cost, gp = f(pv, yv)
    np.testing.assert_allclose(cost, -np.mean(np.log(pv[np.arange(5), yv])), rtol=1e-12)
    want = np.zeros_like(pv)
    want[np.arange(5), yv] = -1.0 / (5 * pv[np.arange(5), yv])
    np.testing.assert_allclose(gp, want, rtol=1e-12)


# --- set_subtensor / inc_subtensor --------------------------------------------------------------
def test_set_and_inc_subtensor_semantics():
    x = T.dmatrix("x")
    y = T.dvector("y")
    i = T.lvector("i")
    k = T.iscalar("k")
    outs = both([x, y, i, k], [
        T.set_subtensor(x[1:, ::2], 7.0), T.inc_subtensor(x[k], y), T.set_subtensor(x[:, k], 0),
        T.inc_subtensor(x[i], y), T.set_subtensor(x[i], y), T.inc_subtensor(x[i, 0], 1.0),
        T.set_subtensor(x[x > 0], 0.0), T.inc_subtensor(x[:, i][1:], y),
        T.inc_subtensor(x[1], y, set_instead_of_inc=True),
    ], np.arange(12.0).reshape(3, 4), np.array([1.0, 2.0, 3.0, 4.0]), np.array([2, 0, 2, -1]), 1)
    xv = np.arange(12.0).reshape(3, 4)
    yv = np.array([1.0, 2.0, 3.0, 4.0])
    iv = np.array([2, 0, 2, -1])
    w = [xv.copy() for _ in range(9)]
    w[0][1:, ::2] = 7.0
    w[1][1] += yv
    w[2][:, 1] = 0
    np.add.at(w[3], iv, yv)
    w[4][iv] = yv  # repeated rows: the last write wins
    np.add.at(w[5], (iv, 0), 1.0)
    w[6][xv > 0] = 0.0
    w[7] = xv.copy()  # x[:, i][1:] is a copy of a gather: inc writes into that copy
    region = xv[:, iv]
    region[1:] += yv
    w[8][1] = yv
    np.testing.assert_array_equal(outs[7], region)
    del w[7], outs[7]
    for got, want in zip(outs, w):
        np.testing.assert_array_equal(got, want)


def test_set_subtensor_errors():
    x = T.dmatrix("x")
    y = T.dvector("y")
    where = _line(); out = T.set_subtensor(x[0], y)  # noqa: E702
    f = croton.function([x, y], out)
    with pytest.raises(ValueError, match="does not match the indexed region") as e:
        f(np.zeros((2, 3)), np.zeros(2))
    assert where in str(e.value)
    with pytest.raises(TypeError, match="set_subtensor"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="without loss"):
        T.set_subtensor(T.ivector("iv")[0], T.dscalar("d"))
    with pytest.raises(ValueError):
        T.set_subtensor(x[0], x)
    f_int = croton.function([x], T.set_subtensor(x[0], T.constant(np.int32(3))))
    np.testing.assert_array_equal(f_int(np.zeros((2, 2))), [[3, 3], [0, 0]])


# --- gradients ----------------------------------------------------------------------------------
def numeric_grad(f, args, eps=1e-6):
    grads = []
    for k, a in enumerate(args):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [v.copy() for v in args]
            minus = [v.copy() for v in args]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (float(f(*plus)) - float(f(*minus))) / (2 * eps)
        grads.append(g)
    return grads


def test_gradients_against_finite_differences():
    x = T.dtensor3("x")
    y = T.dmatrix("y")
    r = T.drow("r")
    i = T.lvector("i")
    s = T.lscalar("s")
    terms = [
        x[1:, ::-1, s], x[i], x[:, i, 0], x[i, :, i], x[x > 0.3], T.take(x, i, axis=2),
        T.set_subtensor(x[0], y), T.inc_subtensor(x[1:, 0], y[:2]),
        T.set_subtensor(x[[0, 2], 1], y[0]), T.inc_subtensor(x[:, 2][i], y[0, :]),
        T.set_subtensor(x[2, ::2], r), x[0, None] * y, T.inc_subtensor(x[::-1, 1:], r),
    ]
    weights = [T.tensor("float64", t.broadcastable, f"w{k}") for k, t in enumerate(terms)]
    cost = sum((t * w).sum() for t, w in zip(terms, weights))
    inputs = [x, y, r, i, s] + weights
    f = croton.function(inputs, [cost] + T.grad(cost, [x, y, r]))
    xv = RNG.standard_normal((3, 4, 5))
    yv = RNG.standard_normal((4, 5))
    rv = RNG.standard_normal((1, 5))
    iv = np.array([1, -1, 1])  # repeated: gathers' gradients accumulate
    shapes = croton.function([x, y, r, i, s], terms, mode="NUMPY")(xv, yv, rv, iv, 2)
    wv = [RNG.standard_normal(t.shape) for t in shapes]
    _, gx, gy, gr = f(xv, yv, rv, iv, 2, *wv)
    nx, ny, nr = numeric_grad(lambda a, b, c: f(a, b, c, iv, 2, *wv)[0], [xv, yv, rv])
    np.testing.assert_allclose(gx, nx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gy, ny, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gr, nr, rtol=1e-5, atol=1e-6)
    ref = croton.function(inputs, T.grad(cost, [x, y, r]), mode="NUMPY")(xv, yv, rv, iv, 2, *wv)
    for got, want in zip((gx, gy, gr), ref):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_set_subtensor_gradient_wrt_shared_weights_trains():
    W = croton.shared(np.ones((3, 2)), "W_train")
    i = T.lvector("i")
    cost = T.sqr(W[i]).sum()
    f = croton.function([i], cost, updates=[(W, W - 0.25 * T.grad(cost, W))])
    f(np.array([0, 0, 2]))
    want = np.ones((3, 2))
    want[0] -= 0.25 * 2 * 2  # row 0 gathered twice: its gradient accumulates
    want[2] -= 0.25 * 2
    np.testing.assert_array_equal(W.get_value(), want)


def test_generated_indexing_code_builds_without_warnings():
    x = T.fmatrix("x")
    i = T.wvector("i")
    k = T.lscalar("k")
    f = croton.function([x, i, k], [x[k:, ::-1][0], x[i, k], x[x > 0],
                                    T.inc_subtensor(x[i], 1.0), T.set_subtensor(x[1:k], 2.0)])
    log = (f.build.entry_dir / "build.log").read_text()
    assert "-Wall" in log and "-Wextra" in log
    assert "warning" not in log.lower(), log
