"""specialize_blas: ``C ± k * dot(A, B)`` becomes one ``gemm``; values against NumPy for every
form (bias row, column, full matrix; transposed and strided operands; float32 and float64)."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.specialize_blas import specialize_blas
from croton.fgraph import Graph

RNG = np.random.default_rng(11)


def test_patterns_become_gemm_and_shared_products_do_not():
    x, w, c = T.dmatrices("x", "w", "c")
    b = T.dvector("b")
    for expr in (T.dot(x, w) + b, b + T.dot(x, w), c - T.dot(x, w), c - 0.5 * T.dot(x, w),
                 c + T.dot(x, w) * 2.0):
        g = specialize_blas(Graph.make([x, w, c, b], [expr]))
        assert g.outputs[0].owner.op.name == "gemm", expr
    d = T.dot(x, w)
    g = specialize_blas(Graph.make([x, w, c], [c + d, d]))
    assert g.outputs[0].owner.op.name == "add"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_values(dtype):
    x, w, c = (T.matrix(n, dtype=dtype) for n in ("x", "w", "c"))
    b = T.vector("b", dtype=dtype)
    col = T.col("col", dtype=dtype)
    outs = [T.dot(x, w) + b, c - 0.25 * T.dot(x, w), T.dot(x.T.T, w) + col,
            c + T.dot(w.T, x.T).T * 3.0]
    f = croton.function([x, w, c, b, col], outs)
    xa = RNG.standard_normal((5, 4)).astype(dtype)
    wa = RNG.standard_normal((4, 3)).astype(dtype)
    ca = RNG.standard_normal((5, 3)).astype(dtype)
    ba = RNG.standard_normal(3).astype(dtype)
    cola = RNG.standard_normal((5, 1)).astype(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for args in ((xa, wa, ca, ba, cola),
                 (np.asfortranarray(xa), wa[::1], ca, ba, cola),
                 (RNG.standard_normal((10, 8)).astype(dtype)[::2, ::-2], wa, ca, ba, cola)):
        a0, w0, c0, b0, col0 = args
        want = [a0 @ w0 + b0, c0 - np.asarray(0.25, dtype) * (a0 @ w0), a0 @ w0 + col0,
                c0 + (w0.T @ a0.T).T * 3]
        for got, w_ in zip(f(*args), want):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, w_, rtol=rtol, atol=rtol)


def test_gemm_shape_errors_name_the_op_and_line():
    x, w = T.dmatrices("x", "w")
    b = T.dvector("b")
    f = croton.function([x, w, b], T.dot(x, w) + b)
    with pytest.raises(ValueError, match="dot") as err:
        f(np.ones((2, 3)), np.ones((4, 2)), np.ones(2))
    assert "test_blas_specialize.py" in str(err.value)
    with pytest.raises(ValueError, match="test_blas_specialize.py"):
        f(np.ones((2, 3)), np.ones((3, 2)), np.ones(5))


def test_sgd_update_through_gemm_matches_numpy():
    x = T.dmatrix("x")
    W = croton.shared(RNG.standard_normal((4, 3)), "W")
    h = T.tanh(T.dot(x, W))
    cost = T.sum(h ** 2)
    g = T.grad(cost, W)
    f = croton.function([x], cost, updates=[(W, W - 0.1 * g)])
    xa = RNG.standard_normal((6, 4))
    w0 = W.get_value()
    f(xa)
    hh = np.tanh(xa @ w0)
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * xa.T @ (2 * hh * (1 - hh ** 2)),
                               rtol=1e-12)
