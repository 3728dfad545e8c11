"""The host's part of a CUDA function call, without a GPU: the binding layer's DeviceFunction
(runtime/python/device_call.cpp) calling a function table that runs no kernel (it only asks
for its output), under the tests' CPU emulation of the CUDA runtime (tests/cuda_emu: device
memory is host memory, so malloc and copies are host calls). A device adds its launches and
the final wait; ``python -m bench.gpu --only overhead`` measures the whole call on a GPU.

    python -m bench.cuda_host_overhead      # µs per call, medians of 7 rounds of 3000 calls

Example:
    >>> from bench.cuda_host_overhead import NOOP_TABLE
    >>> "croton_function_get" in NOOP_TABLE
    True
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# One float32 vector input, six float32 vector shared variables updated in place, one 0-d
# output: the shape of a small training step's call (what the call path handles per array).
NOOP_TABLE = r"""
#include "abi.h"
static croton_arg ins[1] = {{"x", {2, 32, 1}, 1, 0}};
static croton_arg sh[6] = {{"w0", {2, 32, 1}, 1, 0}, {"w1", {2, 32, 1}, 1, 0},
                           {"w2", {2, 32, 1}, 1, 0}, {"w3", {2, 32, 1}, 1, 0},
                           {"w4", {2, 32, 1}, 1, 0}, {"w5", {2, 32, 1}, 1, 0}};
static croton_arg outs[1] = {{"y", {2, 32, 1}, 0, 0}};
static int32_t targets[6] = {0, 1, 2, 3, 4, 5};
static int call(const DLTensor* in, const DLTensor* s, croton_alloc_fn alloc, void* ctx,
                DLTensor* out, DLTensor* upd, croton_error* err) {
  (void)in; (void)s; (void)upd; (void)err;
  if (alloc(ctx, 0, 0, 0, 0, &out[0])) return CROTON_ERR_ALLOC;
  return alloc(ctx, CROTON_COMMIT_POINT, 0, 0, 0, 0) ? CROTON_ERR_INTERRUPTED : 0;
}
static croton_function table = {CROTON_ABI_VERSION, 1, 6, 1, 6, 0, ins, sh, outs, targets, 0,
                                call};
const croton_function* croton_function_get(void) { return &table; }
"""


class _Temp:
    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name))


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from cuda_emu.harness import emulate_cuda

    from croton.build_tools.toolchain import RUNTIME_DIR, discover

    emulation = emulate_cuda(_Temp())
    next(emulation)
    import croton
    import croton.tensor as T
    from croton.cuda.array import DeviceArray

    d = Path(tempfile.mkdtemp(prefix="croton-noop-"))
    (d / "noop.c").write_text(NOOP_TABLE)
    subprocess.run([discover().cxx, "-x", "c", "-O2", "-shared", "-fPIC",
                    f"-I{RUNTIME_DIR / 'cpu'}", str(d / "noop.c"), "-o", str(d / "noop.so")],
                   check=True)
    lib = ctypes.CDLL(str(d / "noop.so"))
    lib.croton_function_get.restype = ctypes.c_void_p
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p,
                                                   ctypes.c_void_p]
    module = types.SimpleNamespace(function=new(lib.croton_function_get(), b"croton_function",
                                                None), lib=lib)
    # a real function of the same signature gives the Python side its graph and spec
    x = T.fvector("x")
    ws = [croton.shared(np.ones(4, np.float32), f"w{i}", device="cuda") for i in range(6)]
    y = x
    for w in ws:
        y = y * w
    f = croton.function([x], y.sum(), updates=[(w, w + x) for w in ws], device="cuda")
    fn = type(f)(module, f._shared, f._spec, f._single, f.graph, f.maker.fgraph, f.source,
                 f.build, {})
    fn.return_device_arrays = True
    args = {"device array in": DeviceArray.from_numpy(np.ones(4, np.float32)),
            "NumPy array in (converted, uploaded)": np.ones(4, np.float32)}
    times: dict[str, list[float]] = {k: [] for k in args}
    for _ in range(7):
        for name, arg in args.items():
            t0 = time.perf_counter()
            for _ in range(3000):
                fn(arg)
            times[name].append((time.perf_counter() - t0) / 3000 * 1e6)
    for name, ts in times.items():
        print(f"{name}: {np.median(ts):.2f} µs per call (device arrays out, 6 shared variables)")


if __name__ == "__main__":
    main()
