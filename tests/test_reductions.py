"""Reductions against NumPy: sum prod mean var std max min argmax argmin all any cumsum cumprod,
with every axis form, keepdims, 0-d and empty inputs, non-contiguous inputs, NaN, the NumPy mode,
gradients against central differences, and the errors (bad axis at build time, empty argmax at
call time) naming the user's line."""

import inspect

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.gradient import numeric_grad as _numeric_grad

RNG = np.random.default_rng(7)


def _numpy_mode_agrees(inputs, outputs, args, got):
    ref = croton.function(inputs, outputs, mode="NUMPY")(*args)
    for g, r in zip(got, ref):
        assert g.dtype == r.dtype and g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-5, equal_nan=True)


def _check(got, want, rtol):
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)


def _sample(dtype, shape):
    if dtype == "bool":
        return RNG.random(shape) > 0.4
    if dtype.startswith(("int", "uint")):
        low = 0 if dtype.startswith("uint") else -3
        return RNG.integers(low, 4, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


# (name, croton builder, numpy reference)
CASES = [
    ("sum_all", lambda x: T.sum(x), lambda a: np.sum(a)),
    ("sum_0", lambda x: x.sum(axis=0), lambda a: np.sum(a, axis=0)),
    ("sum_-1_keep", lambda x: x.sum(axis=-1, keepdims=True), lambda a: a.sum(-1, keepdims=True)),
    ("sum_02", lambda x: T.sum(x, axis=(0, 2)), lambda a: np.sum(a, axis=(0, 2))),
    ("prod_1", lambda x: x.prod(axis=1), lambda a: np.prod(a, axis=1)),
    ("prod_all_keep", lambda x: T.prod(x, keepdims=True), lambda a: np.prod(a, keepdims=True)),
    ("mean_-2", lambda x: x.mean(axis=-2), lambda a: np.mean(a, axis=-2)),
    ("max_1", lambda x: x.max(axis=1), lambda a: np.max(a, axis=1)),
    ("min_all", lambda x: T.min(x), lambda a: np.min(a)),
    ("min_12_keep", lambda x: T.min(x, axis=(1, 2), keepdims=True),
     lambda a: np.min(a, axis=(1, 2), keepdims=True)),
    ("argmax_all", lambda x: x.argmax(), lambda a: np.argmax(a)),
    ("argmax_-1", lambda x: T.argmax(x, axis=-1), lambda a: np.argmax(a, axis=-1)),
    ("argmax_1_keep", lambda x: T.argmax(x, axis=1, keepdims=True),
     lambda a: np.argmax(a, axis=1, keepdims=True)),
    ("argmin_0", lambda x: x.argmin(axis=0), lambda a: np.argmin(a, axis=0)),
    ("argmin_12", lambda x: T.argmin(x, axis=(1, 2)),
     lambda a: np.argmin(a.reshape(a.shape[0], -1), axis=1)),
    ("all_all", lambda x: x.all(), lambda a: np.all(a)),
    ("all_1", lambda x: T.all(x, axis=1), lambda a: np.all(a, axis=1)),
    ("any_-1_keep", lambda x: x.any(axis=-1, keepdims=True),
     lambda a: np.any(a, axis=-1, keepdims=True)),
    ("any_02", lambda x: T.any(x, axis=(0, 2)), lambda a: np.any(a, axis=(0, 2))),
    ("cumsum_none", lambda x: x.cumsum(), lambda a: np.cumsum(a)),
    ("cumsum_1", lambda x: T.cumsum(x, axis=1), lambda a: np.cumsum(a, axis=1)),
    ("cumprod_-1", lambda x: x.cumprod(axis=-1), lambda a: np.cumprod(a, axis=-1)),
    ("cumprod_none", lambda x: T.cumprod(x), lambda a: np.cumprod(a)),
]
NUMERIC_ONLY = [
    ("var_all", lambda x: x.var(), lambda a: np.var(a)),
    ("var_1_ddof", lambda x: T.var(x, axis=1, ddof=1), lambda a: np.var(a, axis=1, ddof=1)),
    ("var_02_keep", lambda x: T.var(x, axis=(0, 2), keepdims=True),
     lambda a: np.var(a, axis=(0, 2), keepdims=True)),
    ("std_-1", lambda x: x.std(axis=-1), lambda a: np.std(a, axis=-1)),
    ("std_0_ddof", lambda x: T.std(x, axis=0, ddof=1), lambda a: np.std(a, axis=0, ddof=1)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "int8", "bool"])
def test_reductions_match_numpy_on_a_non_contiguous_input(dtype):
    cases = CASES + (NUMERIC_ONLY if dtype != "bool" else [])
    x = T.tensor(dtype, (False, False, False), name="x")
    outputs = [build(x) for _, build, _ in cases]
    f = croton.function([x], outputs)
    base = _sample(dtype, (4, 3, 5))
    a = base.transpose(2, 1, 0)[::-1, :, ::2]  # (5, 3, 2), negative and step strides
    assert not a.flags.c_contiguous
    got = f(a)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    for (name, _, ref), g in zip(cases, got):
        want = ref(a)
        if dtype == "float32" and name.startswith(("var", "std", "mean")):
            want = want.astype("float32")
        _check(g, want, rtol)
    _numpy_mode_agrees([x], outputs, [a], got)


def test_argmax_ties_take_the_first_index_and_nan_wins():
    x = T.dmatrix("x")
    outputs = [T.argmax(x, axis=1), T.argmin(x, axis=1), T.max(x, axis=1), T.min(x, axis=1),
               T.argmax(x), T.argmin(x, axis=0)]
    f = croton.function([x], outputs)
    a = np.array([[1.0, 3.0, 3.0, 0.0],
                  [2.0, np.nan, 5.0, np.nan],
                  [-1.0, -1.0, -1.0, -1.0]])
    got = f(a)
    want = [np.argmax(a, 1), np.argmin(a, 1), np.max(a, 1), np.min(a, 1), np.argmax(a),
            np.argmin(a, 0)]
    for g, w in zip(got, want):
        _check(g, w, 0)
    _numpy_mode_agrees([x], outputs, [a], got)


def test_zero_d_and_empty_inputs():
    s = T.dscalar("s")
    e = T.dmatrix("e")
    outputs = [T.sum(s), T.argmax(s), T.all(s), T.any(s, keepdims=True), T.cumsum(s),
               T.var(s), T.max(s), T.prod(s, axis=None),
               T.sum(e, axis=0), T.prod(e), T.all(e), T.any(e, axis=1), T.cumsum(e),
               T.cumprod(e, axis=0), T.max(e, axis=1), T.argmax(e, axis=1)]
    f = croton.function([s, e], outputs)
    sv, ev = np.float64(2.5), np.zeros((0, 3))
    got = f(sv, ev)
    want = [np.sum(sv), np.argmax(sv), np.all(sv), np.any(sv, keepdims=True), np.cumsum(sv),
            np.var(sv), np.max(sv), np.prod(sv), np.sum(ev, 0), np.prod(ev), np.all(ev),
            np.any(ev, 1), np.cumsum(ev), np.cumprod(ev, 0), np.max(ev, 1), np.argmax(ev, 1)]
    for g, w in zip(got, want):
        _check(g, w, 1e-12)
    _numpy_mode_agrees([s, e], outputs, [sv, ev], got)


def test_max_and_argmax_of_an_empty_axis_raise_naming_the_op_and_line():
    x = T.dmatrix("x")
    line = inspect.currentframe().f_lineno
    f_argmax = croton.function([x], T.argmax(x, axis=0))
    f_max = croton.function([x], T.max(x, axis=0))
    with pytest.raises(ValueError, match=rf"argmax.*test_reductions\.py:{line + 1}\b"):
        f_argmax(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=rf"max.*test_reductions\.py:{line + 2}\b"):
        f_max(np.zeros((0, 3)))
    np.testing.assert_array_equal(f_argmax(np.eye(3)[:, ::-1]), [2, 1, 0])


@pytest.mark.parametrize("build", [
    lambda x: T.sum(x, axis=2), lambda x: x.argmax(axis=-3), lambda x: T.var(x, axis=(0, 0)),
    lambda x: T.cumsum(x, axis=5), lambda x: x.any(axis=(0, 7)), lambda x: T.mean(x, axis=2),
])
def test_invalid_axis_raises_at_build_time_naming_the_line(build):
    x = T.dmatrix("x")
    with pytest.raises(ValueError, match=r"axis.*test_reductions\.py:\d+"):
        build(x)


def test_sum_dtype_and_acc_dtype():
    i8 = T.tensor("int8", (False,), name="i8")
    f32 = T.fvector("f32")
    outputs = [i8.sum(dtype="float32"), i8.sum(dtype="int8"), T.sum(i8, acc_dtype="int16"),
               f32.sum(dtype="float64"), T.prod(i8, dtype="float64"),
               i8.mean(dtype="float32"), f32.mean(acc_dtype="float64")]
    f = croton.function([i8, f32], outputs)
    a = np.array([100, 100, 100, -7], dtype="int8")
    b = RNG.standard_normal(5).astype("float32")
    got = f(a, b)
    want = [np.sum(a, dtype="float32"), np.sum(a, dtype="int8"), np.sum(a.astype("int16")),
            np.sum(b, dtype="float64"), np.prod(a, dtype="float64"),
            np.mean(a, dtype="float32"), np.mean(b.astype("float64"))]
    for g, w in zip(got, want):
        _check(g, w, 1e-6)


def test_norm_and_max_and_argmax():
    x = T.dmatrix("x")
    mx, amx = T.max_and_argmax(x, axis=1)
    outputs = [x.norm(2), x.norm(1, axis=0), T.norm(x, 3, axis=1, keepdims=True), T.norm(x, 0),
               mx, amx]
    f = croton.function([x], outputs)
    a = RNG.standard_normal((3, 4))
    a[0, 1] = 0.0
    got = f(a)
    want = [np.sqrt((a * a).sum()), np.abs(a).sum(0),
            (np.abs(a) ** 3).sum(1, keepdims=True) ** (1 / 3), np.count_nonzero(a),
            a.max(1), a.argmax(1)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


# --- gradients ---------------------------------------------------------------------------------
def verify_grads(builds, shape, away_from_zero=False):
    """One compiled function: cost = sum_k sum(build_k(x_k) * w_k) and its gradients."""
    xs = [T.dtensor3(f"x{k}") for k in range(len(builds))]
    outs = [b(x) for b, x in zip(builds, xs)]
    ws = [T.tensor("float64", o.broadcastable, name=f"w{k}") for k, o in enumerate(outs)]
    cost = sum((o * w).sum() for o, w in zip(outs, ws))
    f = croton.function(xs + ws, [cost] + T.grad(cost, xs))
    args = []
    for _ in builds:
        a = RNG.standard_normal(shape)
        if away_from_zero:
            a = np.where(np.abs(a) < 0.3, 0.7, a)
        args.append(a)
    out_shapes = croton.function(xs, outs, mode="NUMPY")(*args)
    weights = [RNG.standard_normal(o.shape) for o in out_shapes]
    got = f(*args, *weights)[1:]
    want = _numeric_grad(lambda *a: f(*a, *weights)[0], args)
    for k, (g, n) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6, err_msg=f"gradient {k}")


def test_gradients_of_sums_means_extrema_and_variances():
    verify_grads([
        lambda x: T.sum(x, axis=(0, 2)),
        lambda x: x.mean(axis=-1, keepdims=True),
        lambda x: T.max(x, axis=1),
        lambda x: T.min(x, axis=(0, 2), keepdims=True),
        lambda x: x.max(),
        lambda x: T.var(x, axis=1, ddof=1),
        lambda x: x.std(axis=(0, 2), keepdims=True),
        lambda x: T.var(x, corrected=True),
        lambda x: x.norm(2, axis=0),
    ], (2, 3, 4))


def test_gradients_of_products_and_cumulative_ops():
    verify_grads([
        lambda x: T.prod(x, axis=1),
        lambda x: x.prod(),
        lambda x: T.cumsum(x, axis=1),
        lambda x: x.cumsum(),
        lambda x: T.cumprod(x, axis=-1),
        lambda x: x.cumprod(),
    ], (2, 3, 2), away_from_zero=True)


def test_argmax_argmin_all_any_have_no_gradient():
    x = T.dvector("x")
    cost = (x * T.cast(T.argmax(x), "float64")).sum() + T.cast(T.any(x > 0), "float64") \
        + T.cast(T.argmin(x), "float64") * T.cast(T.all(x), "float64")
    g = croton.function([x], T.grad(cost, x), mode="NUMPY")
    np.testing.assert_allclose(g(np.array([1.0, 5.0, 2.0])), [1.0, 1.0, 1.0])
