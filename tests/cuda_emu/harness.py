"""The CPU emulation of CUDA (cuda_runtime.h, cudart_emu.cpp beside this file) as the tests use
it: ``compile_emulated`` builds a CUDA translation unit with g++ against the emulation (its
launches rewritten to the emulator's), and ``emulate_cuda`` (a module fixture's body) replaces
croton's CUDA runtime and builds by the emulation, so ``croton.function(..., device='cuda')``
runs end to end. Runtime headers launch through ``CROTON_LAUNCH`` (runtime/cuda/launch.cuh),
which cuda_runtime.h defines as the emulator's launch.

Example (a test module)::

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
_LAUNCH = re.compile(r"([A-Za-z_][\w:]*(?:<[\w:, ]+>)?)<<<")


def emulated_source(source: str) -> str:
    """``source`` with each launch ``k<<<g, b>>>(args)`` as
    ``croton_emu::Launch(k, g, b).run(args)`` (the only edit of the code)."""
    return _LAUNCH.sub(r"croton_emu::Launch(\1, ", source).replace(">>>(", ").run(")


def compile_emulated(source: str, d: Path) -> ctypes.CDLL:
    """``source`` (the CUDA target's translation unit) built by g++ against the emulation."""
    (d / "fn.cpp").write_text(emulated_source(source))
    lib = d / "fn_emulated.so"
    subprocess.run([discover().cxx, "-std=c++20", "-O1", "-fPIC", "-shared", "-Wl,-Bsymbolic",
                    "-pthread", "-fopenmp", f"-I{EMU}", f"-I{RUNTIME_DIR / 'cuda'}",
                    f"-I{RUNTIME_DIR / 'cpu'}", str(d / "fn.cpp"), "-o", str(lib)],
                   check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def emulate_cuda(tmp_path_factory):
    """Generator (a fixture's body): croton's CUDA runtime and builds replaced by the emulation
    while it is suspended; yields the list of modules built so far (the last is the newest)."""
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
