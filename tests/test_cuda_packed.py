"""The CUDA target's packed elementwise kernels (``ew_pack_*``, codegen/templates/cuda/loops.j2):
where every output and full-size operand of a loop is contiguous and aligned to its pack
(launch.cuh: ``pack_width``: 16 bytes of the widest type, at most 8 elements: 4 float32, 2
float64, 8 float16, 8 int8), a thread
loads and stores a pack at once, and the last ``n % V`` elements go one per thread; otherwise the
kernel of one element per thread runs. Run on the CPU emulation of CUDA (tests/cuda_emu), whose
one multiprocessor caps a grid at 32 blocks of 256 threads, so the grid of the last launch says
which kernel ran: ``ceil(n / V / 256)`` blocks packed, ``ceil(n / 256)`` not. Every result is
compared with NumPy. Nothing here is timed (no GPU).
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc

N = 4099  # not a multiple of any pack: the tail runs one element per thread


def blocks(n: int) -> int:
    return -(-n // 256)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """The modules built by the emulation for this module's functions (the last is the newest)."""
    yield from emulate_cuda(tmp_path_factory)


def _run(emulated, inputs, outputs, *values):
    f = croton.function(inputs, outputs, device="cuda")
    got = f(*values)
    return got, emulated[-1].croton_emu_last_launch_grid()


def test_float32_aligned_loop_runs_packed_and_a_misaligned_view_does_not(emulated):
    x, y = T.fvector("x"), T.fvector("y")
    xv = np.random.default_rng(0).standard_normal(N + 1).astype("float32")
    yv = np.random.default_rng(1).standard_normal(N).astype("float32")
    got, grid = _run(emulated, [x, y], x[:-1] * 2 + y, xv, yv)
    np.testing.assert_allclose(got, xv[:-1] * 2 + yv, rtol=1e-6)
    assert grid == blocks(N // 4)  # four float32 a thread
    got, grid = _run(emulated, [x, y], x[1:] * 2 + y, xv, yv)  # 4 bytes past a pack
    np.testing.assert_allclose(got, xv[1:] * 2 + yv, rtol=1e-6)
    assert grid == blocks(N)


def test_float64_with_a_broadcast_scalar_packs_two(emulated):
    x, s = T.dvector("x"), T.dscalar("s")
    xv = np.linspace(-3, 3, N)
    got, grid = _run(emulated, [x, s], T.exp(x) * s + 1, xv, 0.25)
    np.testing.assert_allclose(got, np.exp(xv) * 0.25 + 1, rtol=1e-14)
    assert grid == blocks(N // 2)


def test_comparison_to_bool_packs_by_the_widest_type(emulated):
    x, y = T.fvector("x"), T.fvector("y")
    rng = np.random.default_rng(2)
    xv, yv = rng.standard_normal(N).astype("float32"), rng.standard_normal(N).astype("float32")
    got, grid = _run(emulated, [x, y], x > y, xv, yv)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, xv > yv)
    assert grid == blocks(N // 4)


def test_int8_and_float16_pack_eight(emulated):
    i, j = T.bvector("i"), T.bvector("j")
    rng = np.random.default_rng(3)
    iv = rng.integers(-60, 60, N).astype("int8")
    jv = rng.integers(-60, 60, N).astype("int8")
    got, grid = _run(emulated, [i, j], i + j * 2, iv, jv)
    np.testing.assert_array_equal(got, iv + jv * np.int8(2))  # wraps as int8, as NumPy
    assert grid == blocks(N // 8)
    h = T.vector("h", dtype="float16")
    hv = rng.standard_normal(N).astype("float16")
    got, grid = _run(emulated, [h], h * 2 - 1, hv)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, hv * np.float16(2) - np.float16(1))
    assert grid == blocks(N // 8)


def test_loop_with_two_outputs_packs_both(emulated):
    x = T.fvector("x")
    xv = np.random.default_rng(4).standard_normal(N).astype("float32")
    (a, b), grid = _run(emulated, [x], [T.tanh(x) + 1, T.tanh(x) * x], xv)
    np.testing.assert_allclose(a, np.tanh(xv) + 1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b, np.tanh(xv) * xv, rtol=1e-6, atol=1e-7)
    assert grid == blocks(N // 4)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 257])
def test_short_loops_pack_what_fits_and_finish_one_at_a_time(emulated, n):
    x = T.fvector("x")
    xv = np.arange(n, dtype="float32") - 2
    got, _ = _run(emulated, [x], abs(x) * 3, xv)
    np.testing.assert_array_equal(got, np.abs(xv) * 3)


@pytest.mark.skipif(not find_nvcc(), reason="nvcc not found (CUDA toolkit)")
def test_nvcc_emits_vector_loads_and_stores_for_packs(tmp_path):
    """The packed kernels' PTX (nvcc -ptx, sm_80): 16-byte loads and stores of float32 x 4,
    float64 x 2 and float16 x 8, the accesses the packs exist for; warning-free."""
    import subprocess

    from croton.build_tools.cuda import toolkit_nvcc
    from croton.build_tools.toolchain import RUNTIME_DIR
    from croton.codegen.lower import lower
    from croton.codegen.pipeline import run_pipeline
    from croton.codegen.render import render_function
    from croton.codegen.target import CUDA
    from croton.fgraph import Graph

    x, d, h = T.fvector("x"), T.dvector("d"), T.vector("h", dtype="float16")
    graph = run_pipeline(Graph.make([x, d, h], [x * 2 + 1, T.exp(d), h * 3], []), "FAST_RUN")
    source = render_function(lower(graph, target=CUDA).plan)
    assert source.count("ew_pack_B") >= 6  # three kernels, each defined and launched
    (tmp_path / "fn.cu").write_text(source)
    proc = subprocess.run([toolkit_nvcc(find_nvcc()), "-std=c++17", "--expt-relaxed-constexpr",
                           "-arch=sm_80", "-Xcompiler", "-Wall,-Wextra",
                           f"-I{RUNTIME_DIR / 'cuda'}", f"-I{RUNTIME_DIR / 'cpu'}", "-ptx",
                           str(tmp_path / "fn.cu"), "-o", str(tmp_path / "fn.ptx")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "warning" not in (proc.stdout + proc.stderr).lower(), \
        proc.stderr
    ptx = (tmp_path / "fn.ptx").read_text()
    for access in ("ld.global.v4.f32", "st.global.v4.f32", "ld.global.v2.f64",
                   "st.global.v2.f64", "ld.global.v4.u32", "st.global.v4.u32"):
        assert access in ptx.replace(".nc", ""), access
