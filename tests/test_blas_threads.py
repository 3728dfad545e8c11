"""Products large enough that the BLAS bridge splits them across croton's OpenMP threads
(runtime/cpu/blas.hpp: gemm by blocks of columns or by rows, gemv by parts of y, ger by rows,
one-row and one-column products as gemv), against NumPy, over operand layouts BLAS takes
directly and ones it needs copied, in place into shared storage too."""

import numpy as np
import pytest

import croton
import croton.tensor as T

RNG = np.random.default_rng(7)


def _layouts(a: np.ndarray) -> list[np.ndarray]:
    """``a`` C-ordered, Fortran-ordered and strided (no unit stride) with the same values."""
    m, n = a.shape
    big = np.zeros((2 * m, 2 * n), a.dtype)
    big[::2, ::2] = a
    return [a, np.asfortranarray(a), big[::2, ::2]]


def _tol(dtype: str) -> float:
    return 2e-4 if dtype == "float32" else 1e-11


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n", [(300, 120, 170),  # split by blocks of 16 columns
                                   (2100, 40, 24)])   # few columns: split by rows
def test_split_gemm_and_dot(dtype, m, k, n):
    A, B, C = (T.matrix(s, dtype=dtype) for s in "ABC")
    f = croton.function([A, B, C], [C - 0.5 * T.dot(A, B), T.dot(B.T, A.T)])
    ops = [nd.op.name for nd in f.maker.fgraph.nodes()]
    assert "gemm" in ops and "dot" in ops
    a0, b0, c0 = (RNG.standard_normal(s).astype(dtype) for s in ((m, k), (k, n), (m, n)))
    tol = _tol(dtype)
    for a in _layouts(a0):
        for b in _layouts(b0):
            got = f(a, b, c0)
            want = [c0 - np.asarray(0.5, dtype) * (a0 @ b0), (a0 @ b0).T]
            for g_, w_ in zip(got, want):
                np.testing.assert_allclose(g_, w_, rtol=tol, atol=tol * k)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_split_gemv_ger_and_one_row_products(dtype):
    A, C = T.matrix("A", dtype=dtype), T.matrix("C", dtype=dtype)
    x, y, z = (T.vector(s, dtype=dtype) for s in "xyz")
    r = T.matrix("r", dtype=dtype)  # (1, k): a one-row matrix product
    outs = [z + 2.0 * T.dot(A, x), T.dot(y, A), C - T.outer(y, x), T.dot(A, x),
            T.dot(r, A.T), T.dot(A, r.T)]
    f = croton.function([A, C, x, y, z, r], outs)
    m, k = 3000, 90
    a0, c0 = RNG.standard_normal((m, k)).astype(dtype), RNG.standard_normal((m, k)).astype(dtype)
    x0, y0, z0 = (RNG.standard_normal(s).astype(dtype) for s in (k, m, m))
    r0 = RNG.standard_normal((1, k)).astype(dtype)
    tol = _tol(dtype)
    for a in _layouts(a0):
        got = f(a, c0, x0, y0, z0, r0)
        want = [z0 + 2 * (a0 @ x0), y0 @ a0, c0 - np.outer(y0, x0), a0 @ x0, r0 @ a0.T,
                a0 @ r0.T]
        for g_, w_ in zip(got, want):
            assert g_.shape == w_.shape
            np.testing.assert_allclose(g_, w_, rtol=tol, atol=tol * m)


def test_split_update_in_place_into_shared_weights():
    """An SGD step whose weight update (a gemm computed in place) is split across threads."""
    W0 = RNG.standard_normal((400, 300)).astype("float32")
    W = croton.shared(W0.copy(), "W")
    X, G = T.fmatrices("X", "G")
    f = croton.function([X, G], [], updates=[(W, W - np.float32(0.01) * T.dot(X.T, G))])
    xa = RNG.standard_normal((128, 400)).astype("float32")
    ga = RNG.standard_normal((128, 300)).astype("float32")
    f(xa, ga)
    np.testing.assert_allclose(W.get_value(), W0 - np.float32(0.01) * (xa.T @ ga),
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("m,k,n", [(520, 1024, 520),   # >= 2^28 multiply-adds, by columns
                                   (2100, 2200, 60)])  # the same, by rows (n < 64)
def test_large_products_split_one_chunk_per_thread(m, k, n):
    """From 2^28 multiply-adds a product is split into one chunk per thread (blas.hpp's
    kGemmOneChunkPerThread): the same values as NumPy, in place into a shared variable too."""
    A, B = T.dmatrix("A"), T.dmatrix("B")
    C = croton.shared(np.ones((m, n)), "C")
    f = croton.function([A, B], T.dot(A, B), updates=[(C, C + T.dot(A, B))])
    a, b = RNG.standard_normal((m, k)), RNG.standard_normal((k, n))
    np.testing.assert_allclose(f(a, b), a @ b, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(C.get_value(), 1 + a @ b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("adaptive", ["1", "0"])
def test_threaded_steps_beside_busy_processes(tmp_path, adaptive):
    """Beside two busy processes the pool's workers are descheduled holding chunks, so the
    caller runs loops alone for spells (thread_pool.hpp, ``stalled``); with
    CROTON_ADAPTIVE_THREADS=0 it always shares them. Either way every step of a threaded
    training loop (products split across threads, elementwise loops, in-place updates) gives
    NumPy's values."""
    import subprocess
    import sys

    program = tmp_path / "steps.py"
    program.write_text(
        "import numpy as np, croton, croton.tensor as T\n"
        "rng = np.random.default_rng(3)\n"
        "x = T.dmatrix('x'); w0 = rng.standard_normal((300, 200)) * 0.05\n"
        "W = croton.shared(w0.copy(), 'W')\n"
        "h = T.tanh(T.dot(x, W)); cost = (h ** 2).sum()\n"
        "f = croton.function([x], cost, updates=[(W, W - 1e-4 * T.grad(cost, W))])\n"
        "w = w0.copy()\n"
        "for step in range(300):\n"
        "    xv = rng.standard_normal((400, 300))\n"
        "    hv = np.tanh(xv @ w); want = (hv ** 2).sum()\n"
        "    w = w - 1e-4 * (xv.T @ (2 * hv * (1 - hv ** 2)))\n"
        "    got = f(xv)\n"
        "    assert abs(got - want) <= 1e-9 * abs(want), (step, got, want)\n"
        "np.testing.assert_allclose(W.get_value(), w, rtol=1e-9, atol=1e-12)\n"
        "print('ok')\n")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        env = {**__import__("os").environ, "CROTON_ADAPTIVE_THREADS": adaptive,
               "CROTON_NUM_THREADS": "2"}
        done = subprocess.run([sys.executable, str(program)], env=env, capture_output=True,
                              text=True, timeout=600)
    finally:
        for p in busy:
            p.kill()
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("skew", [1, 3, 4, 7])
def test_column_blocks_start_on_cache_lines_of_a_skewed_target(dtype, skew):
    """A gemm written in place into a shared matrix whose data start ``skew`` elements past a
    64-byte line (rows a multiple of a line): the blocks of columns threads take are shifted to
    start on lines (blas.hpp, ``offset``), and every column is still computed exactly once."""
    m, k, n = 200, 96, 256
    base = np.zeros(m * n + 64, dtype)
    start = (-(base.ctypes.data // base.itemsize) % (64 // base.itemsize)) + skew
    w0 = RNG.standard_normal((m, n)).astype(dtype)
    storage = base[start:start + m * n].reshape(m, n)
    storage[...] = w0
    assert storage.ctypes.data % 64 == skew * base.itemsize % 64
    W = croton.shared(storage, "W", borrow=True)
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    f = croton.function([x, y], [], updates=[(W, W - np.asarray(0.5, dtype) * T.dot(x, y))])
    xv, yv = RNG.standard_normal((m, k)).astype(dtype), RNG.standard_normal((k, n)).astype(dtype)
    f(xv, yv)
    np.testing.assert_allclose(W.get_value(), w0 - np.asarray(0.5, dtype) * (xv @ yv),
                               rtol=_tol(dtype), atol=_tol(dtype))


_CORENAME = """
import ctypes, os, numpy as np, croton, croton.tensor as T
from croton.build_tools.toolchain import discover
x = T.fmatrix("x")
f = croton.function([x], T.dot(x, x))
a = np.arange(4, dtype="float32").reshape(2, 2)
assert np.allclose(f(a), a @ a)
lib = ctypes.CDLL(discover().blas_library)
lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
print(lib.scipy_openblas_get_corename().decode(), os.environ.get("OPENBLAS_CORETYPE"))
"""


@pytest.mark.parametrize("user_choice", [None, "SandyBridge"])
def test_openblas_kernels_follow_the_cpu_choice_unless_the_user_chose(user_choice):
    """A fresh process: OpenBLAS runs openblas_coretype's kernels for this CPU (Zen on AMD Zen
    4, else its own choice), or the user's OPENBLAS_CORETYPE; the variable croton sets for the
    load is gone afterwards (the user's stays)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from croton.build_tools.toolchain import openblas_coretype

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if user_choice:
        env["OPENBLAS_CORETYPE"] = user_choice
    out = subprocess.run([sys.executable, "-c", _CORENAME], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    ours = openblas_coretype(Path("/proc/cpuinfo").read_text())
    if user_choice:
        assert out == ["Sandybridge", user_choice]
    elif ours == "ZEN":
        assert out == ["Haswell", "None"]  # OpenBLAS's Zen target runs its Haswell kernels
    else:
        assert out[1] == "None"
