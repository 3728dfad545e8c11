"""The CUDA target's indexing, scatter-add, cross-entropy, argmax, cumulative and construction
kernels (issue 15, docs/cuda.md; runtime/cuda/kernels/{indexing,structured,shape}.cuh).

Compile-only here (one nvcc build of one function covering every op: basic views with computed
bounds and negative steps, gathers, scatters with repeated indices, softmax and log-softmax with
cross-entropy and its gradient, argmax/argmin, cumsum/cumprod, concatenate, split, alloc, eye,
arange, diagonals, repeat and its gradient, boolean masks, at float32, float64 and int32); on a
GPU the same function is compared with the CPU's. The kernels' logic runs in CI under the CPU
emulation of CUDA: tests/test_cuda_indexing_emulated.py (the same graph).
"""

from __future__ import annotations

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc
from croton.cuda import device_count, no_device_reason

ROWS, COLS = 7, 13  # odd sizes


def graph():
    """Inputs and outputs covering every kernel of this area."""
    x, d, m = T.fmatrix("x"), T.dmatrix("d"), T.imatrix("m")
    i, y, n = T.ivector("i"), T.ivector("y"), T.lscalar("n")
    z, s, r = T.fmatrix("z"), T.fscalar("s"), T.lvector("r")
    sm = T.nnet.softmax(x)
    cost = T.nnet.categorical_crossentropy(sm, y).sum()
    outputs = [
        x[n * 2:(n + 1) * 2], x[::-2, 3], d[-1:0:-3, ::2],  # views (computed bounds, steps < 0)
        x[i], x[i, 1:], x[:, i], d[i[:3], y[:3]], m[i],  # gathers (rows, columns, two arrays)
        T.inc_subtensor(x[i], z), T.set_subtensor(x[i], z),  # repeated indices
        T.inc_subtensor(d[i], 1.5), T.inc_subtensor(m[:, i[:4]], 7),
        T.set_subtensor(x[1:3], s), T.inc_subtensor(x[:, 2], 1.0),  # basic regions
        cost, T.grad(cost, x), T.nnet.log_softmax(x), T.grad(T.nnet.log_softmax(x)[:, 0].sum(), x),
        T.argmax(x, axis=1), T.argmin(x, axis=0), T.argmax(d), T.argmin(m, axis=1),
        T.cumsum(x, axis=0), T.cumprod(d * 0.1 + 1, axis=1), T.cumsum(m), T.cumsum(x[:, ::-1],
                                                                                 axis=1),
        T.concatenate([x, z[:2]], axis=0), T.concatenate([m, m[:, :2]], axis=1),
        T.split(x, [3, 4], 2, axis=0)[1], T.alloc(s, x.shape[0], 3), T.eye(x.shape[0], COLS, 2),
        T.arange(n), T.arange(n, 2 * n + 5, 2, dtype="float32"),
        T.diag(x[0]), T.diag(d), T.repeat(x, 2, axis=0)[::3],
        T.repeat(d, r, axis=0), T.grad((T.repeat(d, r, axis=0) ** 2).sum(), d),
        T.repeat(m[:, ::-2], r[:1], axis=1), T.shape(x[i]),
        x[x > 0.5], d[d[:, 0] > 0], T.set_subtensor(x[x < -1], 0.0),  # boolean masks
        # repeated pairs (2, 2): a scatter whose targets have owners (x), and one over a space of
        # 90000 targets for 6 positions, too sparse for them (a thread per non-indexed element)
        T.inc_subtensor(x[i, i], z[:, 0]), T.inc_subtensor(T.alloc(s, 300, 300)[i, i], z[:, 0]),
    ]
    return [x, d, m, i, y, n, z, s, r], outputs


def data(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((ROWS, COLS)).astype("float32"),
            rng.standard_normal((ROWS, COLS)),
            rng.integers(-20, 20, (ROWS, COLS)).astype("int32"),
            np.array([2, 0, -1, 2, 6, 2], "int32"),  # repeated and negative
            rng.integers(0, COLS, ROWS).astype("int32"), np.int64(1),
            rng.standard_normal((6, COLS)).astype("float32"), np.float32(0.25),
            np.array([0, 3, 1, 0, 2, 1, 4])]  # repeat counts, per row of d


def numpy_reference(xs: list) -> dict:
    """NumPy's answers for some outputs (index -> value)."""
    x, d, m, i, y, n, z, s, r = xs

    def pairs(a):
        a = a.copy()
        np.add.at(a, (i, i), z[:, 0])
        return a

    acc = x.copy()
    np.add.at(acc, i, z)
    sx = np.exp(x - x.max(axis=1, keepdims=True))
    sx /= sx.sum(axis=1, keepdims=True)
    return {0: x[n * 2:(n + 1) * 2], 1: x[::-2, 3], 3: x[i], 5: x[:, i], 6: d[i[:3], y[:3]], 8: acc,
            14: -np.log(sx[np.arange(ROWS), y]).sum(), 18: x.argmax(axis=1),
            22: x.cumsum(axis=0), 24: m.cumsum(), 29: np.full((ROWS, 3), s),
            30: np.eye(ROWS, COLS, 2, dtype="float32"), 31: np.arange(n),
            32: np.arange(n, 2 * n + 5, 2, dtype="float32"), 33: np.diag(x[0]),
            35: np.repeat(x, 2, axis=0)[::3], 36: np.repeat(d, r, axis=0), 37: 2 * d * r[:, None],
            38: np.repeat(m[:, ::-2], r[:1], axis=1), 39: [len(i), COLS], 40: x[x > 0.5],
            41: d[d[:, 0] > 0], 42: np.where(x < -1, np.float32(0), x), 43: pairs(x),
            44: pairs(np.full((300, 300), s))}


@pytest.fixture(scope="module")
def cuda_fn():
    if not find_nvcc():
        pytest.skip("nvcc not found (CUDA toolkit)")
    ins, outs = graph()
    return croton.function(ins, outs, device="cuda")


def test_indexing_kernels_build_with_nvcc_warning_free(cuda_fn):
    src = cuda_fn.source
    for kernel in ("croton::cuda::gather<", "croton::cuda::repeat_along<",
                   "croton::cuda::repeat_sum<", "croton::cuda::store_shape(",
                   "croton::cuda::scatter<", "croton::cuda::take_along_last<",
                   "croton::cuda::take_along_last_grad<",
                   "croton::cuda::arg_reduce<", "croton::cuda::cumulate<",
                   "croton::cuda::broadcast_copy<", "croton::cuda::eye_fill<",
                   "croton::cuda::arange_fill<", "croton::cuda::alloc_diag<", "v.slice(",
                   "croton::cuda::mask_count(", "croton::cuda::mask_coordinates("):
        assert kernel in src, kernel
    assert "croton::subtensor::gather" not in src and "croton::take_along_last<" not in src
    log = (cuda_fn.build.entry_dir / "build.log").read_text()
    assert "nvcc" in log and "warning" not in log.lower(), log


@pytest.mark.skipif(device_count() == 0, reason=no_device_reason() or "no CUDA device")
def test_indexing_kernels_on_a_gpu_match_the_cpu(cuda_fn):
    ins, outs = graph()
    cpu = croton.function(ins, outs)
    xs = data()
    got, want = cuda_fn(*xs), cpu(*xs)
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"output {k}")
    for k, v in numpy_reference(xs).items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-6, err_msg=f"output {k}")
    bad = xs[:3] + [np.array([0, ROWS], "int32")] + xs[4:]
    with pytest.raises(IndexError, match=f"^index {ROWS} is out of bounds for axis 0 of size "
                                         f"{ROWS} in (advanced|inc|set)_subtensor"):
        cuda_fn(*bad)
