"""LAPACK ops on the CUDA target (runtime/cuda/kernels/lapack.cuh: the CPU's kernels on host
copies of the device operands). Results are checked under the emulation
(tests/test_cuda_indexing_emulated.py); here nvcc builds the module, and its export links the
CPU's LAPACK (scipy-openblas) beside cudart."""

from __future__ import annotations

import subprocess

import pytest

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc

needs_nvcc = pytest.mark.skipif(not find_nvcc(), reason="nvcc not found (CUDA toolkit)")


@needs_nvcc
def test_lapack_ops_build_with_nvcc_and_export_links_lapack(tmp_path):
    from test_export import _build

    from croton.build_tools.cuda import configure_args
    from croton.build_tools.toolchain import discover

    a, b = T.fmatrices("a", "b")
    c = T.cholesky(a.dot(a.T) + 3 * T.eye(a.shape[0], dtype="float32"))
    f = croton.function([a, b], [T.det(a), T.matrix_inverse(a), T.solve(a, b), c,
                                 T.grad(c.sum(), a)], device="cuda")
    for fn in ("det", "matrix_inverse", "solve", "cholesky", "cholesky_grad"):
        assert f"croton::cuda::{fn}<float>(" in f.source, fn
    log = (f.build.entry_dir / "build.log").read_text()
    assert "warning" not in log.lower()
    project = f.export(tmp_path / "lin", name="lin")
    lists = (project / "CMakeLists.txt").read_text()
    assert "CROTON_BLAS_LIBRARY" in lists and "its LAPACK ops run on the host" in lists
    build = tmp_path / "build"
    _build(project, build, *configure_args(discover()))
    dynamic = subprocess.run(["readelf", "-d", str(build / "liblin.so")], capture_output=True,
                             text=True, check=True).stdout
    assert "libcudart.so" in dynamic and "libscipy_openblas.so" in dynamic
