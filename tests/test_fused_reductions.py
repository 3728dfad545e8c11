"""Reductions fused with the elementwise work feeding them (the fuse_reductions pass and the
``fused_reduce`` kernel): values against NumPy on the vectorized/threaded contiguous path and
on the strided path, for every reduction, axis layout and dtype."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.fuse_reductions import fuse_reductions
from croton.fgraph import Graph

RNG = np.random.default_rng(7)


def test_the_pass_absorbs_a_single_use_producer_only():
    x = T.dvector("x")
    sq = x * x
    g = fuse_reductions(Graph.make([x], [T.sum(sq)]))
    node = g.outputs[0].owner
    assert node.op.name == "fused_reduce"
    assert [s[0] for s in dict(node.params)["program"]] == ["mul"]
    shared_use = fuse_reductions(Graph.make([x], [T.sum(sq), sq]))
    assert dict(shared_use.outputs[0].owner.params)["program"] == ()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_full_and_row_reductions_use_the_threaded_path(dtype):
    x = T.matrix("x", dtype=dtype)
    y = T.matrix("y", dtype=dtype)
    outs = [T.sum(x ** 2), T.sum(x * y, axis=1), T.max(T.exp(x) - y, axis=1),
            T.min(x, axis=1), T.prod(1 + 0.001 * x, axis=1), T.mean(x * 3)]
    f = croton.function([x, y], outs)
    a = RNG.standard_normal((300, 700)).astype(dtype)
    b = RNG.standard_normal((300, 700)).astype(dtype)
    want = [np.sum(a.astype("float64") ** 2), np.sum(a * b, axis=1), np.max(np.exp(a) - b, axis=1),
            np.min(a, axis=1), np.prod(1 + np.asarray(0.001, dtype) * a, axis=1), np.mean(a * 3)]
    rtol = 2e-5 if dtype == "float32" else 1e-11
    for got, w in zip(f(a, b), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, w, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "negative_steps"])
def test_strided_and_leading_axis_reductions(layout):
    x = T.dtensor3("x")
    r = T.drow("r")
    outs = [T.sum(x * 2, axis=0), T.max(x, axis=(0, 2)), T.sum(x, axis=(1, 2)),
            T.min(x, axis=2), T.sum(T.tanh(x).sum(axis=2) * r)]
    f = croton.function([x, r], outs)
    base = RNG.standard_normal((4, 6, 5))
    if layout == "transposed":
        base = np.ascontiguousarray(base.transpose(2, 1, 0)).transpose(2, 1, 0)
    elif layout == "negative_steps":
        base = RNG.standard_normal((8, 6, 10))[::-2, :, ::2]
    rv = RNG.standard_normal((1, 6))
    want = [np.sum(base * 2, axis=0), np.max(base, axis=(0, 2)), np.sum(base, axis=(1, 2)),
            np.min(base, axis=2), np.sum(np.tanh(base).sum(axis=2) * rv)]
    for got, w in zip(f(base, rv), want):
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-12)


def test_integer_bool_and_empty_reductions():
    i = T.ivector("i")
    b = T.bvector("b")
    m = T.dmatrix("m")
    f = croton.function([i, b, m], [T.sum(i * 3), T.max(i), T.sum(T.gt(i, 0)),
                                    T.prod(b), T.sum(m, axis=0), T.sum(m)])
    ia = RNG.integers(-1000, 1000, 100_000).astype("int32")
    ba = RNG.integers(1, 3, 5).astype("int8")
    got = f(ia, ba, np.zeros((0, 3)))
    want = [np.sum(ia * 3, dtype="int64"), ia.max(), np.sum(ia > 0), np.prod(ba, dtype="int64"),
            np.zeros(3), 0.0]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == np.asarray(w).dtype or g.dtype == "int64"
    g_max = croton.function([m], T.max(m * 2, axis=0))
    with pytest.raises(ValueError, match="zero-size"):
        g_max(np.zeros((0, 3)))


def test_nan_propagates_through_fused_max_and_sum():
    x = T.dvector("x")
    f = croton.function([x], [T.max(x * 1), T.sum(x * 1), T.min(x + 0)])
    a = RNG.standard_normal(100_000)
    a[12345] = np.nan
    for got in f(a):
        assert np.isnan(got)


def test_all_modes_agree():
    x = T.fmatrix("x")
    out = T.sum(T.sqr(x - T.mean(x, axis=1, keepdims=True)), axis=1)
    a = RNG.standard_normal((64, 1000)).astype("float32")
    want = croton.function([x], out, mode="NUMPY")(a)
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        np.testing.assert_allclose(croton.function([x], out, mode=mode)(a), want, rtol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_reductions_over_leading_axes_accumulate_rows(dtype):
    # reduced axes first, kept axes last: the row-accumulating path (threaded when large)
    x = T.tensor3("x", dtype=dtype)
    outs = [T.sum(x * 2, axis=0), T.max(x, axis=(0, 1)), T.min(x + 1, axis=0),
            T.prod(T.ones_like(x) + 0, axis=(0, 1)), T.sum(x, axis=(0, 1))]
    f = croton.function([x], outs)
    for shape in ((3, 4, 5), (40, 30, 300), (0, 2, 3)):
        if np.dtype(dtype).kind == "f":
            a = RNG.standard_normal(shape).astype(dtype)
        else:
            a = RNG.integers(-50, 50, shape).astype(dtype)
        if shape[0] == 0:  # max/min over an empty axis raise, naming the op
            with pytest.raises(ValueError, match="zero-size"):
                f(a)
            continue
        want = [np.sum(a * 2, axis=0), np.max(a, axis=(0, 1)), np.min(a + 1, axis=0),
                np.prod(np.ones_like(a), axis=(0, 1)), np.sum(a, axis=(0, 1))]
        rtol = 2e-5 if dtype == "float32" else 1e-12
        for g, w in zip(f(a), want):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * 10)
    if dtype == "float64":
        a = RNG.standard_normal((6, 7, 8))
        a[2, 3, 4] = np.nan
        got = f(a)
        assert np.isnan(got[0][3, 4]) and np.isnan(got[1][4]) and np.isnan(got[2][3, 4])


@pytest.mark.parametrize("n", [4095, 4096 * 3 + 17, 3_000_007])
def test_long_sums_count_every_element_once_and_keep_float64_accuracy(n):
    """Integer-valued float32 data: every partial sum is exact in float32, so a lost, doubled or
    misplaced element (a lane, a block, a chunk boundary) changes the result; random data: the
    float32 sum stays within a few float32 roundings of the float64 sum."""
    x = T.fvector("x")
    f = croton.function([x], [T.sum(x), T.sum(x * x), T.prod(1 + x * 1e-7)])
    ints = (np.arange(n) % 97).astype("float32")
    exact = int((np.arange(n) % 97).sum())
    assert f(ints)[0] == np.float32(exact)
    a = RNG.random(n).astype("float32")
    total, squares, prod = f(a)
    wide = a.astype("float64")
    np.testing.assert_allclose(total, wide.sum(), rtol=2e-6)
    np.testing.assert_allclose(squares, (wide * wide).sum(), rtol=2e-6)
    terms = (1 + a * np.float32(1e-7)).astype("float64")  # each factor rounded in float32
    np.testing.assert_allclose(prod, np.prod(terms), rtol=2e-6)
