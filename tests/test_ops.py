"""Every op of the slice, compiled, against NumPy: dtypes, broadcasting, 0-d, empty and
non-contiguous inputs. One compiled function per (op, dtype) keeps the build count low."""

import numpy as np
import pytest

import croton
import croton.tensor as T

RNG = np.random.default_rng(0)

UNARY = {
    "neg": (T.neg, np.negative),
    "abs": (T.abs, np.abs),
    "exp": (T.exp, np.exp),
    "log": (T.log, np.log),
    "sqr": (T.sqr, np.square),
    "sqrt": (T.sqrt, np.sqrt),
    "tanh": (T.tanh, np.tanh),
    "sigmoid": (T.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "true_div": (lambda a, b: a / b, np.true_divide),
    "int_div": (lambda a, b: a // b, np.floor_divide),
    "mod": (lambda a, b: a % b, np.mod),
    "pow": (lambda a, b: a ** b, np.power),
    "maximum": (T.maximum, np.maximum),
    "minimum": (T.minimum, np.minimum),
    "lt": (T.lt, np.less),
    "gt": (T.gt, np.greater),
    "le": (T.le, np.less_equal),
    "ge": (T.ge, np.greater_equal),
    "eq": (T.eq, np.equal),
    "neq": (T.neq, np.not_equal),
}


def values(dtype, shape, positive=False):
    if np.dtype(dtype).kind == "f":
        v = RNG.standard_normal(shape) * 3
        if positive:
            v = np.abs(v) + 0.1
    else:
        v = RNG.integers(1 if positive else -9, 10, size=shape)
    return v.astype(dtype)


def check(got, want, dtype):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if np.dtype(dtype).kind == "f":
        rtol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float(name, dtype):
    sym, ref = UNARY[name]
    x = T.matrix("x", dtype=dtype)
    f = croton.function([x], sym(x))
    positive = name in ("log", "sqrt")
    a = values(dtype, (5, 7), positive)
    with np.errstate(all="ignore"):
        check(f(a), ref(a).astype(f(a).dtype), dtype)
        check(f(a.T), ref(a.T).astype(dtype), dtype)  # transposed: the strided path
        check(f(a[::-2, 1::3]), ref(a[::-2, 1::3]).astype(dtype), dtype)  # negative steps
        check(f(np.zeros((0, 3), dtype)), ref(np.zeros((0, 3), dtype)), dtype)


@pytest.mark.parametrize("name", ["neg", "abs", "sqr"])
def test_unary_int(name):
    sym, ref = UNARY[name]
    x = T.ivector("x")
    f = croton.function([x], sym(x))
    a = values("int32", (9,))
    check(f(a), ref(a), "int32")


def test_transcendental_of_ints_gives_floats():
    x = T.ivector("x")
    b = T.bvector("b")
    assert T.exp(x).dtype == "float64" and T.exp(b).dtype == "float32"
    f = croton.function([x], T.exp(x))
    np.testing.assert_allclose(f(np.arange(4, dtype="int32")), np.exp(np.arange(4)))


def binary_inputs(name, dtype):
    positive = name == "pow" or (name in ("true_div", "int_div", "mod")
                                 and np.dtype(dtype).kind == "i")
    a = values(dtype, (4, 6))
    b = values(dtype, (1, 6), positive)
    if name == "pow":
        a = np.abs(a) % 4 + 1 if np.dtype(dtype).kind == "i" else np.abs(a)
        b = (b % 3).astype(dtype)
    if name in ("true_div", "int_div", "mod") and np.dtype(dtype).kind == "f":
        b = np.where(b == 0, 1, b).astype(dtype)
    return a.astype(dtype), b.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
def test_binary(dtype):
    """Every binary op in one function per dtype; each op with a row that broadcasts."""
    names = sorted(BINARY)
    inputs, outputs = [], []
    for name in names:
        x, r = T.matrix(f"x_{name}", dtype=dtype), T.row(f"r_{name}", dtype=dtype)
        inputs += [x, r]
        outputs.append(BINARY[name][0](x, r))
    f = croton.function(inputs, outputs)
    args = [v for name in names for v in binary_inputs(name, dtype)]
    fortran = [np.asfortranarray(v) for v in args]
    for call_args in (args, fortran):
        for name, got, k in zip(names, f(*call_args), range(0, len(args), 2)):
            with np.errstate(all="ignore"):
                want = BINARY[name][1](args[k], args[k + 1])
            try:
                check(got, want, dtype)
            except AssertionError as exc:
                raise AssertionError(f"{name} {dtype}: {exc}") from None


def test_int_division_and_modulo_follow_python_signs():
    x, y = T.lvectors("x", "y")
    f = croton.function([x, y], [x // y, x % y])
    a = np.array([7, -7, 7, -7, 0, 5], dtype="int64")
    b = np.array([2, 2, -2, -2, 3, -3], dtype="int64")
    q, r = f(a, b)
    np.testing.assert_array_equal(q, a // b)
    np.testing.assert_array_equal(r, a % b)
    fx, fy = T.dvectors("fx", "fy")
    g = croton.function([fx, fy], [fx // fy, fx % fy])
    q, r = g(a.astype(float) + 0.5, b.astype(float))
    np.testing.assert_array_equal(q, (a + 0.5) // b)
    np.testing.assert_allclose(r, (a + 0.5) % b)


def test_switch_and_comparisons():
    x, y = T.dvectors("x", "y")
    f = croton.function([x, y], T.switch(T.lt(x, y), x * 2, y - 1))
    a, b = values("float64", (50,)), values("float64", (50,))
    np.testing.assert_allclose(f(a, b), np.where(a < b, a * 2, b - 1))
    assert T.lt(x, y).dtype == "bool"


def test_nan_and_inf_behave_as_numpy():
    x = T.dvector("x")
    f = croton.function([x], [T.maximum(x, 0.0), T.exp(x), T.log(x), T.sigmoid(x)])
    a = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 800.0, -800.0])
    with np.errstate(all="ignore"):
        want = [np.maximum(a, 0.0), np.exp(a), np.log(a), 1 / (1 + np.exp(-a))]
    for got, w in zip(f(a), want):
        # NaN and Inf exactly where NumPy has them; finite values within a few ulp (the
        # vectorized libm and NumPy's own SIMD exp/log may round the last bit differently)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(w))
        np.testing.assert_array_equal(got[np.isinf(w)], w[np.isinf(w)])
        np.testing.assert_allclose(got, w, rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_reductions_with_axis(dtype):
    x = T.tensor3("x", dtype=dtype)
    outs = [x.sum(), x.sum(axis=0), x.sum(axis=(0, 2)), x.sum(axis=-1, keepdims=True),
            x.max(axis=1), x.max(), x.min(axis=2), T.mean(x, axis=1), T.mean(x)]
    f = croton.function([x], outs)
    a = values(dtype, (3, 4, 5))
    for arr in (a, a.transpose(2, 0, 1).copy().transpose(1, 2, 0), a[:, ::-1]):
        want = [arr.sum(), arr.sum(axis=0), arr.sum(axis=(0, 2)), arr.sum(axis=-1, keepdims=True),
                arr.max(axis=1), arr.max(), arr.min(axis=2), arr.mean(axis=1), arr.mean()]
        for got, w in zip(f(arr), want):
            w = np.asarray(w)
            assert got.shape == w.shape
            # float32: croton accumulates in double, NumPy pairwise in float32, so a sum that
            # cancels to near zero differs in relative terms; bound the error by the data scale
            np.testing.assert_allclose(got, w, rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=1e-4 if dtype == "float32" else 0)


def test_sum_of_bools_and_small_ints_upcasts_like_numpy():
    b = T.bvector("b")
    assert b.sum().dtype == "int64"
    f = croton.function([b], b.sum())
    assert int(f(np.full(200, 100, dtype="int8"))) == 20000


def test_max_of_empty_raises_and_sum_of_empty_is_zero():
    x = T.dmatrix("x")
    f = croton.function([x], x.sum(axis=0))
    np.testing.assert_array_equal(f(np.zeros((0, 3))), np.zeros(3))
    g = croton.function([x], x.max(axis=0))
    with pytest.raises(ValueError, match="zero-size"):
        g(np.zeros((0, 3)))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_dot_every_ndim_pair(dtype):
    m, n = T.matrix("m", dtype=dtype), T.matrix("n", dtype=dtype)
    v, w = T.vector("v", dtype=dtype), T.vector("w", dtype=dtype)
    f = croton.function([m, n, v, w], [T.dot(m, n), T.dot(m, v), T.dot(w, m), T.dot(v, v),
                                       T.dot(m.T, w)])
    A, B = values(dtype, (3, 4)), values(dtype, (4, 5))
    V, W = values(dtype, (4,)), values(dtype, (3,))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for a in (A, np.asfortranarray(A)):
        want = [a @ B, a @ V, W @ a, V @ V, a.T @ W]
        for got, w_ in zip(f(a, B, V, W), want):
            assert got.shape == np.shape(w_)
            np.testing.assert_allclose(got, w_, rtol=rtol)
    with pytest.raises(ValueError, match="dot"):
        f(A, B, values(dtype, (5,)), W)


def test_dot_of_transposed_and_strided_views():
    a, b = T.dmatrices("a", "b")
    f = croton.function([a, b], T.dot(a.T, b))
    A = values("float64", (6, 4))
    B = values("float64", (12, 5))[::2]
    np.testing.assert_allclose(f(A, B), A.T @ B, rtol=1e-12)
    np.testing.assert_allclose(f(A[::-1], B[::-1]), A[::-1].T @ B[::-1], rtol=1e-12)
    np.testing.assert_allclose(f(np.zeros((0, 4)), np.zeros((0, 5))), np.zeros((4, 5)))


def test_dimshuffle_and_transpose():
    x = T.dmatrix("x")
    f = croton.function([x], [x.T, x.dimshuffle(1, "x", 0), x.dimshuffle("x", 0, 1) + 1])
    a = values("float64", (2, 3))
    t, d, e = f(a)
    np.testing.assert_array_equal(t, a.T)
    np.testing.assert_array_equal(d, a.T[:, None, :])
    np.testing.assert_array_equal(e, a[None] + 1)


def test_zero_dim_and_python_scalar_constants_keep_dtype():
    x = T.fvector("x")
    assert (x * 0.5).dtype == "float32"
    assert (x * 2).dtype == "float32"
    i = T.ivector("i")
    assert (i + 1).dtype == "int32" and (i * 0.5).dtype == croton.config.floatX
    s = T.fscalar("s")
    f = croton.function([x, s], x * 0.5 + s)
    got = f(np.arange(3, dtype="float32"), 1.0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.arange(3, dtype="float32") * 0.5 + 1)


def test_integer_overflow_wraps_like_numpy():
    a, b = T.lvectors("a", "b")
    f = croton.function([a, b], [-a, a + b, a * b, abs(a)])
    x = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 2**40], dtype="int64")
    y = np.array([1, 1, 2**40], dtype="int64")
    with np.errstate(over="ignore"):
        want = [-x, x + y, x * y, np.abs(x)]
    for got, w in zip(f(x, y), want):
        np.testing.assert_array_equal(got, w)
