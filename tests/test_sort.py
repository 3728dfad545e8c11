"""T.sort / T.argsort against NumPy (every axis, axis=None, NaNs, ties, strided inputs, integer
and float dtypes) and the gradient of sort against central differences."""

import numpy as np
import pytest
from test_conv_pool import check_grads

import croton
import croton.tensor as T

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_sort_and_argsort_match_numpy(dtype):
    x = T.tensor3("x", dtype=dtype)
    outs = [T.sort(x), T.sort(x, axis=0), T.sort(x, axis=1), T.sort(x, axis=None),
            T.argsort(x), T.argsort(x, axis=0), T.argsort(x, axis=-2), T.argsort(x, axis=None)]
    f = croton.function([x], outs)
    f_np = croton.function([x], outs, mode="NUMPY")
    big = (RNG.standard_normal((6, 5, 14)) * 50).astype(dtype)
    for a in (big[:3], big[::2, ::-1, ::3], big[:0], (big[:2] % 3).astype(dtype)):  # ties
        want = [np.sort(a), np.sort(a, 0), np.sort(a, 1), np.sort(a, None),
                np.argsort(a, kind="stable"), np.argsort(a, 0, kind="stable"),
                np.argsort(a, -2, kind="stable"), np.argsort(a, None, kind="stable")]
        for got, got_np, w in zip(f(a), f_np(a), want):
            assert got.dtype == w.dtype
            np.testing.assert_array_equal(got, w)
            np.testing.assert_array_equal(got_np, w)
    assert outs[4].dtype == "int64" and outs[0].dtype == dtype


def test_nan_sorts_last_as_numpy():
    v = T.dvector("v")
    a = np.array([3.0, np.nan, -1.0, np.inf, np.nan, -np.inf, 0.0])
    got_sort, got_arg = croton.function([v], [T.sort(v), T.argsort(v)])(a)
    np.testing.assert_array_equal(got_sort, np.sort(a))
    np.testing.assert_array_equal(got_arg, np.argsort(a, kind="stable"))


def test_sort_gradient():
    x = T.dmatrix("x")
    xa = RNG.permutation(30).reshape(5, 6) / 7.0
    check_grads([x], [T.sort(x), T.sort(x, axis=0), T.sort(x, axis=None)], [xa])
    # Theano's example: the gradient of the sorted values reaches each original position
    g = croton.function([x], T.grad((T.sort(x) * np.arange(6.0)).sum(), x))(xa)
    np.testing.assert_array_equal(g, np.argsort(np.argsort(xa, axis=1), axis=1))
    # argsort is piecewise constant: no gradient flows through it (Theano: zeros)
    h = croton.function([x], T.grad((T.argsort(x) * x).sum(), x))(xa)
    np.testing.assert_array_equal(h, np.argsort(xa, axis=1))


def test_sort_argument_errors():
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match="axis 2"):
        T.sort(x, axis=2)
    with pytest.raises(ValueError, match="kind"):
        T.argsort(x, kind="bogo")
    with pytest.raises(TypeError, match="axis"):
        T.sort(x, axis=T.iscalar("a"))
    with pytest.raises(NotImplementedError, match="order"):
        T.sort(x, order=["a"])


def test_variable_methods_as_theano():
    x = T.dmatrix("x")
    xa = RNG.standard_normal((3, 4))
    f = croton.function([x], [x.sort(), x.sort(axis=0), x.argsort(axis=None)])
    got = f(xa)
    np.testing.assert_array_equal(got[0], np.sort(xa))
    np.testing.assert_array_equal(got[1], np.sort(xa, axis=0))
    np.testing.assert_array_equal(got[2], np.argsort(xa, axis=None, kind="stable"))
