"""The CUDA target's matrix products through cuBLAS (runtime/cuda/kernels/blas.cuh), built by
nvcc: one module (the graph of tests/test_cuda_blas_emulated.py: an MLP training step with
softmax, a logistic unit, dots in float32, float64 and int32 over transposed operands, updates
of shared variables in place) renders, compiles without a warning against the nvidia-cublas
wheel's headers and links its libcublas. Its run-time half compares it with the CPU and skips
with the reason "no CUDA device" unless there is one. The logic of the products is tested
without a GPU by tests/test_cuda_blas_emulated.py.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from test_cuda_blas_emulated import (
    SHAPES,
    assert_matches,
    blas_model,
    cpu_function,
    inputs,
    shared_values,
)

import croton
import croton.tensor as T
from croton.build_tools import cuda as cuda_build
from croton.build_tools.toolchain import ToolchainError, find_nvcc
from croton.cuda import device_count, no_device_reason

needs_nvcc = pytest.mark.skipif(not find_nvcc(), reason="nvcc not found (CUDA toolkit)")
needs_cublas = pytest.mark.skipif(not cuda_build.cublas()[1], reason="cuBLAS not installed "
                                  "(pip install croton[cuda])")
needs_device = pytest.mark.skipif(device_count() == 0, reason=no_device_reason() or
                                  "no CUDA device")


@pytest.fixture(scope="module")
def blas_fn():
    """The one nvcc module of this file, built with or without a GPU."""
    if not find_nvcc() or not cuda_build.cublas()[1]:
        pytest.skip("needs nvcc and cuBLAS")
    shared = [croton.shared(v, n, device="cuda") for (n, _), v in zip(SHAPES, shared_values())]
    ins, outs, updates = blas_model(shared)
    return croton.function(ins, outs, updates=updates, device="cuda"), shared


@needs_nvcc
@needs_cublas
def test_products_compile_with_nvcc_and_link_cublas(blas_fn):
    f, _ = blas_fn
    src = f.source
    assert '#include "kernels/blas.cuh"' in src
    for fn in ("gemm<float>", "gemv<float>", "ger<float>", "dot<float>", "dot<double>",
               "dot<int32_t>", "batched_matmul<float>", "batched_matmul<int32_t>",
               "contract<float>"):
        assert f"croton::cuda::{fn}(" in src, fn
    log = (f.build.entry_dir / "build.log").read_text()
    include, library, _ = cuda_build.cublas()
    assert include in log and library in log and "--as-needed" in log
    assert "warning" not in log.lower(), log
    module = next(f.build.entry_dir.glob("*.so"))
    dynamic = subprocess.run(["readelf", "-d", str(module)], capture_output=True, text=True,
                             check=True).stdout
    assert "[libcublas.so.13]" in dynamic  # linked, found through the RPATH
    assert str(library).rsplit("/", 1)[0] in dynamic


def test_a_product_without_cublas_says_how_to_install_it(monkeypatch):
    from croton.cli import cublas_check

    installed = cuda_build.cublas()
    if installed[1]:
        assert cublas_check() == f"{installed[2]} ({installed[1]})"  # croton doctor's line
    a, b = T.fmatrices("a", "b")
    monkeypatch.setattr(cuda_build, "cublas", lambda: ("", "", ""))
    assert cublas_check().endswith("pip install croton[cuda])")
    with pytest.raises(ToolchainError, match=r"need cuBLAS, which is not installed: pip "
                                             r"install croton\[cuda\]"):
        croton.function([a, b], T.dot(a, b), device="cuda")


@needs_device
def test_products_on_the_device_match_the_cpu(blas_fn):
    f, shared = blas_fn
    cpu, cpu_shared = cpu_function([s.get_value() for s in shared])
    for step in range(3):
        data = inputs(20 + step)
        if step == 1:  # strided and transposed inputs
            data[0] = np.repeat(data[0], 2, axis=1)[:, ::2]
            data[4] = np.asfortranarray(data[4])
        assert_matches(f(*data), cpu(*data), f"step {step}", rtol=1e-4)
        assert_matches([s.get_value() for s in shared], [s.get_value() for s in cpu_shared],
                       f"update after step {step}", rtol=1e-4)


C_DRIVER = r"""
#include <stdio.h>
#include "step.h"

int main(void) {
  step_context* ctx = step_create();
  if (ctx == NULL) {
    fprintf(stderr, "step_create failed\n");
    return 1;
  }
  printf("%s\n", step_state_name(0));
  step_destroy(ctx);
  return 0;
}
"""


@needs_nvcc
@needs_cublas
def test_cuda_export_builds_with_nvcc_and_links_cudart_and_cublas(blas_fn, tmp_path):
    """f.export of the CUDA function: its CMake project builds the .cu with CMake's CUDA
    language (nvcc), the library links cudart and cuBLAS, and a C program links it (run on a
    GPU only)."""
    from test_export import _build, _cc, _run

    f, _ = blas_fn
    project = f.export(tmp_path / "step_lib", name="step")
    assert (project / "src" / "step_function.cu").read_text() == f.source
    assert (project / "src" / "runtime_cuda" / "kernels" / "blas.cuh").exists()
    assert not (project / "src" / "step_kernels.cpp").exists()  # no CPU kernel library
    lists = (project / "CMakeLists.txt").read_text()
    assert "LANGUAGES CXX CUDA" in lists and "CUDAToolkit" in lists
    assert "kDLCUDA" in (project / "include" / "step.h").read_text()
    build = tmp_path / "build"
    from croton.build_tools.cuda import configure_args
    from croton.build_tools.toolchain import discover

    _build(project, build, *configure_args(discover()))
    library, example = build / "libstep.so", build / "step_example"
    assert library.exists() and example.exists()
    dynamic = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True,
                             check=True).stdout
    assert "[libcudart.so.13]" in dynamic and "[libcublas.so.13]" in dynamic
    exported = subprocess.run(["nm", "-D", "--defined-only", str(library)], capture_output=True,
                              text=True, check=True).stdout
    assert " T step_run" in exported and "call_through_abi" not in exported
    driver = tmp_path / "driver"
    (tmp_path / "main.c").write_text(C_DRIVER)
    _run([_cc(), "-std=c99", "-Wall", "-Wextra", "-Werror", str(tmp_path / "main.c"),
          f"-I{project / 'include'}", f"-L{build}", "-lstep", f"-Wl,-rpath,{build}", "-o",
          str(driver)], "linking a C program")
    if device_count() > 0:  # on a GPU: both programs run
        assert subprocess.run([str(driver)], capture_output=True, text=True).stdout == "W1\n"
        _run([str(example)], "the example")
