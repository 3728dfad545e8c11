"""The CPU emulation of CUDA for tests (``tests/cuda_emu``): a CUDA translation unit built by g++
against the emulated ``cuda_runtime.h``, and croton's CUDA runtime and builds replaced by the
emulation so that ``croton.function(..., device='cuda')`` runs end to end on the CPU.
Used by tests/test_cuda_emulated.py and the CUDA tests of other areas (test_cuda_conv.py).

Example (a fixture of a test module)::

    @pytest.fixture(scope="module")
    def emulated_device(tmp_path_factory):
        yield from emulate_cuda(tmp_path_factory)
"""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import pytest

from croton.build_tools.toolchain import RUNTIME_DIR, discover

EMU = Path(__file__).parent
_CAPSULE_NAME = b"croton_function"


def compile_emulated(source: str, d: Path) -> ctypes.CDLL:
    """``source`` (the CUDA target's translation unit) built by g++ against the emulation."""
    source = re.sub(r"([A-Za-z_][\w:]*(?:<[\w:]+>)?)<<<", r"croton_emu::Launch(\1, ", source)
    source = source.replace(">>>(", ").run(")
    (d / "fn.cpp").write_text(source)
    lib = d / "fn_emulated.so"
    subprocess.run([discover().cxx, "-std=c++20", "-O1", "-fPIC", "-shared", "-Wl,-Bsymbolic",
                    "-pthread", "-fopenmp", f"-I{EMU}", f"-I{RUNTIME_DIR / 'cuda'}",
                    f"-I{RUNTIME_DIR / 'cpu'}", str(d / "fn.cpp"), "-o", str(lib)],
                   check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def emulate_cuda(tmp_path_factory):
    """Generator for a module fixture: croton's CUDA runtime (libcudart's calls, from
    cudart_emu.cpp) and CUDA builds (compile_emulated) replaced by the emulation until the
    fixture ends; yields the list of modules built so far."""
    from types import SimpleNamespace

    import croton.build_tools.build as build
    from croton.cuda import runtime

    d = tmp_path_factory.mktemp("cudart_emu")
    cudart = d / "libcudart_emu.so"
    subprocess.run([discover().cxx, "-O1", "-fPIC", "-shared", str(EMU / "cudart_emu.cpp"),
                    "-o", str(cudart)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(cudart))
    lib.cudaGetErrorName.restype = lib.cudaGetErrorString.restype = ctypes.c_char_p
    builds, real_build = [], build.build_function

    def build_emulated(source, label="", target="cpu"):
        if target != "cuda":
            return real_build(source, label, target)
        module = compile_emulated(source, Path(tmp_path_factory.mktemp("fn")))
        module.croton_function_get.restype = ctypes.c_void_p
        new = ctypes.pythonapi["PyCapsule_New"]
        new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                       ctypes.c_void_p]
        builds.append(module)
        capsule = new(module.croton_function_get(), _CAPSULE_NAME, None)
        return SimpleNamespace(module=SimpleNamespace(function=capsule, lib=module),
                               timings={}, cached=False, entry_dir=None)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "library", lambda: (lib, str(cudart)))
        mp.setattr(build, "build_function", build_emulated)
        runtime._count.cache_clear()
        try:
            yield builds
        finally:
            runtime._count.cache_clear()
