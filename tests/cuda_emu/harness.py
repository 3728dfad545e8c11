"""The CPU emulation of CUDA (cuda_runtime.h, cudart_emu.cpp beside this file) as the tests use
it: ``compile_emulated`` builds a CUDA translation unit with g++ against the emulation (its
launches rewritten to the emulator's), ``emulated_module`` a plan's module and its function
table, ``call`` calls that table on NumPy arrays labelled as device memory (``tensor``), and
``emulate_cuda`` (a module fixture's body) replaces
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
import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from croton.build_tools.toolchain import RUNTIME_DIR, discover
from croton.cuda.function import (
    ALLOC_FN,
    CrotonError,
    CrotonFunction,
    DLDevice,
    DLTensor,
    dl_dtype,
    np_dtype,
)

EMU = Path(__file__).parent
_CAPSULE_NAME = b"croton_function"
_LAUNCH = re.compile(r"([A-Za-z_][\w:]*(?:<[\w:, ]+>)?)<<<")


def emulated_source(source: str) -> str:
    """``source`` with each launch ``k<<<g, b>>>(args)`` as
    ``croton_emu::Launch(croton_emu::Named{"k"}, k, g, b).run(args)`` (the only edit of the
    code; the name is what ``croton_emu_last_launch_kernel`` reports)."""
    return _LAUNCH.sub(r'croton_emu::Launch(croton_emu::Named{"\1"}, \1, ',
                       source).replace(">>>(", ").run(")


def compile_emulated(source: str, d: Path, warnings: bool = False) -> ctypes.CDLL:
    """``source`` (the CUDA target's translation unit) built by g++ against the emulation;
    ``warnings``: with -Wall -Wextra, the command and g++'s output written to ``d/build.log``
    (as a real build's log), less two warnings that are the emulation's, not the code's: the
    fibers' setjmp (-Wclobbered) and nvcc's ``#pragma nv_diag_*`` (-Wunknown-pragmas)."""
    (d / "fn.cpp").write_text(emulated_source(source))
    lib = d / "fn_emulated.so"
    cmd = [discover().cxx, "-std=c++20", "-O1", "-fPIC", "-shared", "-Wl,-Bsymbolic",
           "-pthread", "-fopenmp", f"-I{EMU}", f"-I{RUNTIME_DIR / 'cuda'}",
           f"-I{RUNTIME_DIR / 'cpu'}", str(d / "fn.cpp"), "-o", str(lib)]
    if warnings:
        cmd[2:2] = ["-Wall", "-Wextra", "-Wno-clobbered", "-Wno-unknown-pragmas"]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    if warnings:
        (d / "build.log").write_text(" ".join(cmd) + "\n" + done.stdout + done.stderr)
    return ctypes.CDLL(str(lib))


def emulated_module(plan, d: Path) -> tuple[ctypes.CDLL, CrotonFunction]:
    """The emulated module of a CUDA plan (``lower(graph, target=CUDA).plan``), built in
    ``d``, and its function table."""
    from croton.codegen.render import render_function

    module = compile_emulated(render_function(plan), d)
    module.croton_function_get.restype = ctypes.POINTER(CrotonFunction)
    return module, module.croton_function_get().contents


def tensor(t: DLTensor, arr: np.ndarray, keep: list) -> None:
    """``t`` over ``arr``'s memory, labelled as CUDA device memory (the emulator's is the
    host's)."""
    shape = (ctypes.c_int64 * max(1, arr.ndim))(*arr.shape)
    strides = (ctypes.c_int64 * max(1, arr.ndim))(*(n // arr.itemsize for n in arr.strides))
    keep += [arr, shape, strides]
    t.data, t.device, t.ndim = arr.ctypes.data or None, DLDevice(2, 0), arr.ndim
    t.dtype, t.shape, t.byte_offset = dl_dtype(arr.dtype), shape, 0
    t.strides = None if arr.flags.c_contiguous else strides


def call(table: CrotonFunction, inputs: list, shared: list[np.ndarray]):
    """Call an emulated function's table on NumPy ``inputs`` and ``shared`` values (updated in
    place when the plan writes them in place); (return code, error, outputs, updates
    allocated)."""
    keep: list = []
    tin, tsh = (DLTensor * max(1, len(inputs)))(), (DLTensor * max(1, len(shared)))()
    for t, arr in zip(tin, inputs):
        tensor(t, np.asarray(arr), keep)
    for t, arr in zip(tsh, shared):
        tensor(t, arr, keep)
    outs, upds = {}, {}

    def alloc(_ctx, kind, index, ndim, shape, out):
        if kind == 2:
            return 0
        dtype = np_dtype(table.outputs[index].dtype) if kind == 0 else shared[index].dtype
        arr = np.empty(tuple(shape[d] for d in range(ndim)), dtype)
        (outs if kind == 0 else upds)[index] = arr
        tensor(out.contents, arr, keep)
        return 0

    err = CrotonError()
    rc = table.call(tin, tsh, ALLOC_FN(alloc), None, (DLTensor * max(1, table.n_outputs))(),
                    (DLTensor * max(1, table.n_updates))(), ctypes.byref(err))
    return rc, err, [outs.get(k) for k in range(table.n_outputs)], upds


def emulate_cuda(tmp_path_factory, reuse: bool = False):
    """Generator (a fixture's body): croton's CUDA runtime and builds replaced by the emulation
    while it is suspended; yields the list of modules built so far (the last is the newest).
    ``reuse``: a translation unit already built in this session is loaded again, not rebuilt
    (the suite run under ``CROTON_TEST_DEVICE=cuda-emulated``, tests/conftest.py)."""
    from types import SimpleNamespace

    import croton.build_tools.build as build
    from croton.cuda import runtime

    d = tmp_path_factory.mktemp("cudart_emu")
    cudart = d / "libcudart_emu.so"
    subprocess.run([discover().cxx, "-O1", "-fPIC", "-shared", str(EMU / "cudart_emu.cpp"),
                    "-o", str(cudart)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(cudart))
    lib.cudaGetErrorName.restype = lib.cudaGetErrorString.restype = ctypes.c_char_p
    builds, real_build, built = [], build.build_function, {}

    def build_emulated(source, label="", target="cpu"):
        if target != "cuda":
            return real_build(source, label, target)
        key = hashlib.sha256(source.encode()).hexdigest()
        module = built.get(key) if reuse else None
        if module is None:
            d = Path(tmp_path_factory.mktemp("fn"))
            module = built[key] = compile_emulated(source, d, warnings=reuse)
            module.entry_dir = d if reuse else None
        module.croton_function_get.restype = ctypes.c_void_p
        new = ctypes.pythonapi["PyCapsule_New"]
        new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                       ctypes.c_void_p]
        builds.append(module)
        capsule = new(module.croton_function_get(), _CAPSULE_NAME, None)
        python_module = SimpleNamespace(function=capsule, lib=module)
        try:  # profile=True: the table, as runtime/python/module_init.cpp adds it
            table = module.croton_profile_table
        except AttributeError:
            pass
        else:
            table.restype = ctypes.c_void_p
            python_module.profile = new(table(), b"croton_profile", None)
        return SimpleNamespace(module=python_module, timings={}, cached=False,
                               entry_dir=module.entry_dir)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runtime, "library", lambda: (lib, str(cudart)))
        mp.setattr(build, "build_function", build_emulated)
        runtime._count.cache_clear()
        try:
            yield builds
        finally:
            runtime._count.cache_clear()
