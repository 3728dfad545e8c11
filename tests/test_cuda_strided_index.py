"""The CUDA target's strided elementwise kernels split a flat index into coordinates: with 32-bit
quotients by each dimension's ``FastDivider`` (runtime/cuda/launch.cuh: a multiply-high, an add
and a shift) when the loop has at most INT32_MAX elements (``ew_narrow_*``), else with 64-bit
division (``ew_strided_*``). Checked here: the divider against C++'s ``/`` over edge and random
divisors and numerators (compiled by g++), and both kernels on the CPU emulation of CUDA
(tests/cuda_emu; ``CROTON_EMU_WIDE_INDEX=1`` sends every loop to the 64-bit kernel), whose
latest kernel the emulation names, against NumPy on broadcast, transposed and sliced operands.
"""

from __future__ import annotations

import ctypes
import subprocess

import numpy as np
import pytest
from cuda_emu.harness import EMU, emulate_cuda

import croton
import croton.tensor as T
from croton.build_tools.toolchain import RUNTIME_DIR, discover

DIVIDER_CHECK = r"""
#include "cuda_runtime.h"
#include "launch.cuh"
#include <cstdio>
#include <random>
#include <vector>
int main() {
  std::vector<uint32_t> divisors;
  for (uint32_t d = 1; d <= 3000; ++d) divisors.push_back(d);
  for (int s = 2; s <= 31; ++s)
    for (int64_t k = -2; k <= 2; ++k) {
      const int64_t d = (int64_t(1) << s) + k;
      if (d >= 1 && d <= INT32_MAX) divisors.push_back(uint32_t(d));
    }
  std::mt19937 rng(7);
  for (int k = 0; k < 3000; ++k) divisors.push_back(1 + rng() % INT32_MAX);
  long checked = 0;
  for (uint32_t d : divisors) {
    const croton::cuda::FastDivider f(d);
    std::vector<uint32_t> ns = {0, 1, d - 1, d, uint32_t(INT32_MAX), uint32_t(INT32_MAX) - 1};
    if (d < INT32_MAX) ns.push_back(d + 1);
    for (uint32_t m : {2u, 3u, 1000u, 65536u})
      if (uint64_t(d) * m <= INT32_MAX) { ns.push_back(d * m); ns.push_back(d * m - 1); }
    for (int k = 0; k < 200; ++k) ns.push_back(rng() % (uint32_t(INT32_MAX) + 1));
    for (uint32_t n : ns) {
      ++checked;
      if (f.quotient(n) != n / d) {
        std::printf("wrong: %u / %u = %u, not %u\n", n, d, f.quotient(n), n / d);
        return 1;
      }
    }
  }
  std::printf("ok %ld\n", checked);
}
"""


def test_fast_divider_matches_integer_division(tmp_path):
    src, exe = tmp_path / "divider.cpp", tmp_path / "divider"
    src.write_text(DIVIDER_CHECK)
    subprocess.run([discover().cxx, "-std=c++20", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unknown-pragmas", f"-I{EMU}", f"-I{RUNTIME_DIR / 'cuda'}", str(src),
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("ok "), out.stdout
    assert int(out.stdout.split()[1]) > 1_000_000


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """The modules built by the emulation for this module's functions (the last is the newest)."""
    yield from emulate_cuda(tmp_path_factory)


def _last_kernel(emulated) -> str:
    lib = emulated[-1]
    lib.croton_emu_last_launch_kernel.restype = ctypes.c_char_p
    return lib.croton_emu_last_launch_kernel().decode()


@pytest.mark.parametrize("wide", [False, True])
def test_broadcast_and_transposed_operands_in_both_kernels(emulated, monkeypatch, wide):
    if wide:
        monkeypatch.setenv("CROTON_EMU_WIDE_INDEX", "1")
    x, b, c = T.fmatrix("x"), T.fvector("b"), T.fvector("c")
    f = croton.function([x, b, c], x.T * b + c.dimshuffle(0, "x"), device="cuda")
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((53, 37)).astype("float32")
    bv, cv = rng.standard_normal(53).astype("float32"), rng.standard_normal(37).astype("float32")
    np.testing.assert_allclose(f(xv, bv, cv), xv.T * bv + cv[:, None], rtol=1e-6)
    assert ("ew_strided_B" if wide else "ew_narrow_B") in _last_kernel(emulated)


@pytest.mark.parametrize("wide", [False, True])
def test_sliced_three_dimensional_views_in_both_kernels(emulated, monkeypatch, wide):
    if wide:
        monkeypatch.setenv("CROTON_EMU_WIDE_INDEX", "1")
    x, y = T.dtensor3("x"), T.dtensor3("y")
    f = croton.function([x, y], T.exp(x[:, ::2, 1:]) - y.dimshuffle(2, 1, 0), device="cuda")
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((5, 14, 10))
    yv = rng.standard_normal((9, 7, 5))
    want = np.exp(xv[:, ::2, 1:]) - yv.transpose(2, 1, 0)
    np.testing.assert_allclose(f(xv, yv), want, rtol=1e-13)
    assert ("ew_strided_B" if wide else "ew_narrow_B") in _last_kernel(emulated)
