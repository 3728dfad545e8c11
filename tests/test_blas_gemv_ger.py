"""specialize_blas: ``y ± k * dot(A, x)`` becomes one ``gemv`` and ``A ± k * outer(x, y)`` one
``ger``; values against NumPy for float32 and float64, both transposes, strided, reversed and
transposed operands, broadcast addends, empty dimensions, alpha and beta; in-place shared
updates (also into non-contiguous shared storage) and failed calls that change nothing."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.specialize_blas import specialize_blas
from croton.fgraph import Graph
from croton.ops.blas import GEMM, GEMV, GER
from croton.ops.table import make_output

RNG = np.random.default_rng(23)
DTYPES = ["float32", "float64"]


def _tol(dtype: str) -> float:
    return 1e-5 if dtype == "float32" else 1e-12


def _ops(f) -> list[str]:
    return [n.op.name for n in f.maker.fgraph.nodes()]


def _inplace(f) -> list[str]:
    """Buffer declarations of in-place update values in the generated source."""
    return [line for line in f.source.splitlines()
            if "(in place)" in line and "croton_buffer" in line]


def _rand(shape, dtype: str) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _layouts(a: np.ndarray) -> list[np.ndarray]:
    """``a`` as C-, Fortran-ordered, strided (no unit stride: BLAS cannot take it) and reversed
    views with the same values."""
    m, n = a.shape
    big = np.zeros((3 * m, 2 * n), a.dtype)
    big[::3, ::2] = a
    rev = np.zeros((m, n), a.dtype)[::-1, ::-1]
    rev[...] = a
    return [a, np.asfortranarray(a), big[::3, ::2], rev, np.ascontiguousarray(a.T).T]


def _vec_layouts(v: np.ndarray) -> list[np.ndarray]:
    big = np.zeros(3 * len(v), v.dtype)
    big[::3] = v
    return [v, big[::3], np.ascontiguousarray(v[::-1])[::-1]]


def test_patterns_become_gemv_and_ger():
    A, C = T.dmatrices("A", "C")
    x, y, b = T.dvectors("x", "y", "b")
    s = T.dscalar("s")
    row = T.drow("row")
    expected = {
        "gemv": [b - 0.1 * T.dot(A, x), b + T.dot(A, x) * 3.0, T.dot(A, x) + b, b + T.dot(A, x),
                 b - T.dot(x, A), T.dot(x, A) + b, b + 2 * T.dot(A.T, x), s + T.dot(A, x),
                 T.dot(A, x) - s],
        "ger": [C - T.outer(x, y), C + 0.5 * T.outer(x, y), T.outer(x, y) + C,
                C - T.outer(x, y) * 2.0, row + T.outer(x, y)],
        "gemm": [T.dot(A, C) + b, C - 0.5 * T.dot(A, C)],
    }
    for name, exprs in expected.items():
        for expr in exprs:
            g = specialize_blas(Graph.make([A, C, x, y, b, s, row], [expr]))
            assert g.outputs[0].owner.op.name == name, expr
    g = specialize_blas(Graph.make([A, x, b], [b - T.dot(x, A)]))
    assert dict(g.outputs[0].owner.params) == {"alpha": -1.0, "beta": 1.0, "trans": True}
    g = specialize_blas(Graph.make([A, x, b], [b - 0.25 * T.dot(A, x)]))
    assert dict(g.outputs[0].owner.params) == {"alpha": -0.25, "beta": 1.0, "trans": False}
    g = specialize_blas(Graph.make([A, x, s], [2.0 * T.dot(A, x) - s]))
    assert dict(g.outputs[0].owner.params) == {"alpha": 2.0, "beta": -1.0, "trans": False}
    g = specialize_blas(Graph.make([C, x, y], [T.outer(x, y) - C]))
    assert g.outputs[0].owner.op.name == "sub"  # ger has no beta
    d = T.dot(A, x)  # a product with another reader stays a product
    g = specialize_blas(Graph.make([A, x, b], [b + d, d]))
    assert g.outputs[0].owner.op.name == "add"
    ab, xb = T.dmatrix("Ab"), T.dvector("xb")  # y = dot of vectors: no matrix, no gemv
    g = specialize_blas(Graph.make([ab, xb, s], [s + T.dot(xb, xb)]))
    assert g.outputs[0].owner.op.name == "add"


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemv_values_every_layout_and_transpose(dtype):
    A = T.matrix("A", dtype=dtype)
    x, z, b, v = (T.vector(n, dtype=dtype) for n in ("x", "z", "b", "v"))
    s = T.scalar("s", dtype=dtype)
    outs = [b - 0.25 * T.dot(A, x), T.dot(z, A) * 3.0 + x, T.dot(A.T, b) - v, s + T.dot(A, v),
            z + T.dot(A[::-1], x[::-1])]
    f = croton.function([A, x, z, b, v, s], outs)
    assert _ops(f).count("gemv") == 5 and "dot" not in _ops(f)
    a0, x0, z0, b0 = _rand((5, 4), dtype), _rand(4, dtype), _rand(5, dtype), _rand(5, dtype)
    v0, s0 = _rand(4, dtype), np.asarray(0.5, dtype)
    tol = _tol(dtype)
    for a in _layouts(a0):
        for xv, zv, bv, vv in zip(*(_vec_layouts(u) for u in (x0, z0, b0, v0))):
            got = f(a, xv, zv, bv, vv, s0)
            want = [b0 - np.asarray(0.25, dtype) * (a0 @ x0), (z0 @ a0) * 3 + x0,
                    a0.T @ b0 - v0, s0 + a0 @ v0, z0 + a0[::-1] @ x0[::-1]]
            for g_, w_ in zip(got, want):
                assert g_.dtype == dtype
                np.testing.assert_allclose(g_, w_, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ger_values_every_layout_and_broadcast(dtype):
    C = T.matrix("C", dtype=dtype)
    xs = [T.vector(f"x{k}", dtype=dtype) for k in range(5)]  # distinct products (no merging)
    y = T.vector("y", dtype=dtype)
    row, col = T.row("row", dtype=dtype), T.col("col", dtype=dtype)
    outs = [C - T.outer(xs[0], y), C + 0.5 * T.outer(xs[1], y), row + T.outer(xs[2], y),
            col - 2.0 * T.outer(xs[3], y), T.outer(xs[4][::-1], y) + C]
    f = croton.function([C, *xs, y, row, col], outs)
    assert _ops(f).count("ger") == 5 and "dot" not in _ops(f)
    c0, y0, r0, k0 = _rand((5, 4), dtype), _rand(4, dtype), _rand((1, 4), dtype), _rand((5, 1),
                                                                                      dtype)
    x0 = [_rand(5, dtype) for _ in range(5)]
    tol = _tol(dtype)
    for c in _layouts(c0):
        for xv, yv in zip(zip(*(_vec_layouts(u) for u in x0)), _vec_layouts(y0)):
            got = f(c, *xv, yv, r0, k0)
            o = [np.outer(u, y0) for u in x0[:4]] + [np.outer(x0[4][::-1], y0)]
            want = [c0 - o[0], c0 + np.asarray(0.5, dtype) * o[1], r0 + o[2], k0 - 2 * o[3],
                    o[4] + c0]
            for g_, w_ in zip(got, want):
                assert g_.dtype == dtype
                np.testing.assert_allclose(g_, w_, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_alpha_beta_variants_against_numpy(dtype):
    """gemv/ger/gemm nodes built directly (the pass only makes beta = 1): beta 0 ignores NaN in
    y, any beta scales y, alpha 0 leaves the addend."""
    A = T.matrix("A", dtype=dtype)
    x, y = (T.vector(n, dtype=dtype) for n in ("x", "y"))
    a0, x0, y0 = _rand((3, 4), dtype), _rand(4, dtype), _rand(3, dtype)
    tol = _tol(dtype)
    for alpha, beta in ((1.0, 0.0), (-2.0, 0.5), (0.0, 1.0), (0.75, -1.5)):
        for trans in (False, True):
            vec = y if trans else x
            out = make_output(GEMV, [x if trans else y, A, vec], alpha=alpha, beta=beta,
                              trans=trans)
            f = croton.function([A, x, y], out)
            yv = x0.copy() if trans else y0.copy()
            if beta == 0:
                yv[:] = np.nan
            v0 = y0 if trans else x0
            want = alpha * ((a0.T if trans else a0) @ v0) + (0 if beta == 0 else beta * yv)
            got = f(a0, yv if trans else x0, y0 if trans else yv)
            np.testing.assert_allclose(got, want.astype(dtype), rtol=tol, atol=tol)
            np.testing.assert_allclose(GEMV.perform([yv, a0, v0], {
                "alpha": alpha, "beta": beta, "trans": trans})[0], want, rtol=tol, atol=tol)
        f = croton.function([A, x, y], make_output(GER, [A, y, x], alpha=alpha))
        want = a0 + alpha * np.outer(y0, x0)
        np.testing.assert_allclose(f(a0, x0, y0), want, rtol=tol, atol=tol)
        np.testing.assert_allclose(GER.perform([a0, y0, x0], {"alpha": alpha})[0], want,
                                   rtol=tol, atol=tol)
        B = T.matrix("B", dtype=dtype)
        f = croton.function([A, B], make_output(GEMM, [A, A, B], alpha=alpha, beta=beta))
        b0 = _rand((4, 4), dtype)
        want = alpha * (a0 @ b0) + beta * a0
        np.testing.assert_allclose(f(a0, b0), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_dimensions(dtype):
    A, C = (T.matrix(n, dtype=dtype) for n in ("A", "C"))
    x, y, b = (T.vector(n, dtype=dtype) for n in ("x", "y", "b"))
    f = croton.function([A, x, y, b, C], [b - 2.0 * T.dot(A, x), T.dot(y, A) + x,
                                          C + T.outer(b, y)])
    assert _ops(f).count("gemv") == 2 and "ger" in _ops(f)
    for m, n in ((0, 3), (3, 0), (0, 0)):
        a0, x0, y0, b0 = _rand((m, n), dtype), _rand(n, dtype), _rand(m, dtype), _rand(m, dtype)
        c0 = _rand((m, m), dtype)
        got = f(a0, x0, y0, b0, c0)
        want = [b0 - 2 * (a0 @ x0), y0 @ a0 + x0, c0 + np.outer(b0, y0)]
        for g_, w_ in zip(got, want):
            assert g_.shape == w_.shape and g_.dtype == dtype
            np.testing.assert_allclose(g_, w_, rtol=_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_shared_updates_match_numpy(dtype):
    A = T.matrix("A", dtype=dtype)
    x, y = (T.vector(n, dtype=dtype) for n in ("x", "y"))
    b = croton.shared(np.zeros(3, dtype), "b")
    W = croton.shared(np.zeros((3, 4), dtype), "W")
    f = croton.function([A, x, y], [], updates=[(b, b - 0.1 * T.dot(A, x)),
                                                (W, W + 0.5 * T.outer(y, x))])
    assert sorted(_ops(f)) == ["gemv", "ger"]
    assert f.maker.fgraph.inplace_updates == (0, 1) and len(_inplace(f)) == 2
    a0, x0, y0 = _rand((3, 4), dtype), _rand(4, dtype), _rand(3, dtype)
    tol = _tol(dtype)
    b0, w0 = _rand(3, dtype), _rand((3, 4), dtype)
    for bs, ws in zip(_vec_layouts(b0.copy()) * 2, _layouts(w0.copy())):
        b.set_value(bs, borrow=True)
        W.set_value(ws, borrow=True)
        f(a0, x0, y0)
        np.testing.assert_allclose(b.get_value(), b0 - np.asarray(0.1, dtype) * (a0 @ x0),
                                   rtol=tol, atol=tol)
        np.testing.assert_allclose(W.get_value(), w0 + np.asarray(0.5, dtype) * np.outer(y0, x0),
                                   rtol=tol, atol=tol)
        if getattr(b, "device", "cpu") == "cpu":  # under device=cuda the value is device memory
            assert b.get_value(borrow=True) is bs and W.get_value(borrow=True) is ws
        bs[...] = b0  # the same storage again, for the next layout
        ws[...] = w0


def test_inplace_gemm_into_non_contiguous_storage():
    x, g = T.dmatrices("x", "g")
    W = croton.shared(np.zeros((4, 3)), "W")
    f = croton.function([x, g], [], updates=[(W, W - 0.1 * T.dot(x.T, g))])
    assert f.maker.fgraph.inplace_updates == (0,) and "gemm" in _ops(f) and _inplace(f)
    xa, ga = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 3))
    for ws in _layouts(RNG.standard_normal((4, 3))):
        want = ws - 0.1 * xa.T @ ga
        W.set_value(ws, borrow=True)
        f(xa, ga)
        np.testing.assert_allclose(W.get_value(), want, rtol=1e-12)
        assert W.get_value(borrow=True) is ws


def test_sgd_on_one_example_uses_ger_and_gemv_in_place():
    """A one-example logistic layer: the weight gradient is an outer product (ger into W),
    the backpropagated input gradient a transposed product (gemv)."""
    x = T.dvector("x")
    t = T.dvector("t")
    W = croton.shared(RNG.standard_normal((3, 4)), "W")
    b = croton.shared(RNG.standard_normal(3), "b")
    h = T.tanh(T.dot(W, x) + b)
    cost = T.sum((h - t) ** 2)
    gW, gb, gx = T.grad(cost, [W, b, x])
    f = croton.function([x, t], [cost, gx], updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
    ops = _ops(f)
    assert "ger" in ops and "gemv" in ops
    assert 0 in f.maker.fgraph.inplace_updates and _inplace(f)
    for _ in range(3):
        xa, ta = RNG.standard_normal(4), RNG.standard_normal(3)
        w0, b0 = W.get_value(), b.get_value()
        hh = np.tanh(w0 @ xa + b0)
        gh = 2 * (hh - ta) * (1 - hh ** 2)
        cost_v, gx_v = f(xa, ta)
        np.testing.assert_allclose(cost_v, np.sum((hh - ta) ** 2), rtol=1e-12)
        np.testing.assert_allclose(gx_v, w0.T @ gh, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(W.get_value(), w0 - 0.1 * np.outer(gh, xa), rtol=1e-12)
        np.testing.assert_allclose(b.get_value(), b0 - 0.1 * gh, rtol=1e-12)


def test_failed_calls_leave_shared_variables_unchanged():
    A = T.dmatrix("A")
    x, y = T.dvectors("x", "y")
    i = T.lscalar("i")
    b = croton.shared(np.arange(3.0), "b")
    W = croton.shared(np.ones((3, 4)), "W")
    f = croton.function([A, x, y], [], updates=[(b, b - 0.5 * T.dot(A, x)),
                                                (W, W + 2.0 * T.outer(y, x))])
    assert f.maker.fgraph.inplace_updates == (0, 1) and len(_inplace(f)) == 2
    for args in ((np.ones((3, 5)), np.ones(4), np.ones(3)),   # inner dimensions differ
                 (np.ones((2, 4)), np.ones(4), np.ones(3)),   # A's rows differ from b's
                 (np.ones((3, 4)), np.ones(4), np.ones(2))):  # the outer product's rows
        with pytest.raises(ValueError, match="test_blas_gemv_ger.py"):
            f(*args)
        np.testing.assert_array_equal(b.get_value(), np.arange(3.0))
        np.testing.assert_array_equal(W.get_value(), np.ones((3, 4)))
    # a step after gemv that can fail (an index into the new value) keeps b's update out of
    # place (W's ger comes after the index and stays in place): a failed call changes nothing
    new_b = b - 0.5 * T.dot(A, x)
    g = croton.function([A, x, y, i], new_b[i], updates=[(b, new_b),
                                                         (W, W + 2.0 * T.outer(y, x))])
    assert "gemv" in _ops(g) and 0 not in g.maker.fgraph.inplace_updates
    with pytest.raises(IndexError):
        g(np.ones((3, 4)), np.ones(4), np.ones(3), 9)
    np.testing.assert_array_equal(b.get_value(), np.arange(3.0))
    np.testing.assert_array_equal(W.get_value(), np.ones((3, 4)))
    f(np.ones((3, 4)), np.ones(4), np.ones(3))
    np.testing.assert_allclose(b.get_value(), np.arange(3.0) - 2.0)
    np.testing.assert_allclose(W.get_value(), np.full((3, 4), 3.0))
