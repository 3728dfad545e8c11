"""The CUDA runtime (libcudart) from Python through ctypes: whether a device is present, its
architecture, versions, and device memory (malloc, free, copies). The library is the toolkit's
that nvcc belongs to (the compiled modules link the same file through their RPATH, so one
runtime serves both), else the ``nvidia-cuda-runtime`` wheel's, else the system's.

Without a device every question has an answer: ``device_count()`` is 0 and
``no_device_reason()`` says why, in CUDA's words ("no CUDA device: cudaGetDeviceCount:
cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version)").

Example::

    >>> from croton.cuda import runtime
    >>> runtime.device_count() >= 0
    True
    >>> runtime.device_count() > 0 or runtime.no_device_reason().startswith("no CUDA device")
    True
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

c_int, c_size_t, c_void_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
MEMCPY_HOST_TO_DEVICE, MEMCPY_DEVICE_TO_HOST, MEMCPY_DEVICE_TO_DEVICE = 1, 2, 3
ATTR_COMPUTE_MAJOR, ATTR_COMPUTE_MINOR = 75, 76  # cudaDevAttrComputeCapabilityMajor/Minor


class CudaUnavailableError(RuntimeError):
    """No CUDA device (or no CUDA runtime) for a call that needs one; the message says why."""


class CudaError(RuntimeError):
    """A CUDA runtime call failed; the message names the call and CUDA's error."""


def _candidates() -> list[str]:
    """Where libcudart may be, most specific first."""
    from croton.build_tools.cuda import cudart_dir
    from croton.build_tools.toolchain import find_nvcc

    out: list[str] = []
    nvcc = find_nvcc()
    if nvcc:
        out += sorted(glob.glob(os.path.join(cudart_dir(nvcc), "libcudart.so.*[0-9]")),
                      key=len)
    import importlib.util

    spec = importlib.util.find_spec("nvidia")
    for base in (spec.submodule_search_locations or []) if spec else []:
        out += sorted(glob.glob(os.path.join(base, "cuda_runtime", "lib", "libcudart.so*")))
    return out + ["libcudart.so"]


@functools.lru_cache(maxsize=1)
def library() -> tuple[ctypes.CDLL | None, str]:
    """(libcudart, its path) or (None, why not)."""
    problems = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            problems.append(str(exc))
            continue
        lib.cudaGetErrorName.restype = ctypes.c_char_p
        lib.cudaGetErrorString.restype = ctypes.c_char_p
        return lib, path
    return None, "the CUDA runtime library libcudart was not found (" + "; ".join(
        problems[-2:]) + ")"


def error_text(status: int) -> str:
    """``cudaErrorNoDevice (no CUDA-capable device is detected)`` for a status code."""
    lib, _ = library()
    if lib is None:
        return f"CUDA error {status}"
    return (f"{lib.cudaGetErrorName(status).decode()} "
            f"({lib.cudaGetErrorString(status).decode()})")


def check(status: int, call: str) -> None:
    """Raise CudaError naming ``call`` unless ``status`` is cudaSuccess."""
    if status != 0:
        raise CudaError(f"{call} failed: {error_text(status)}")


@functools.lru_cache(maxsize=1)
def _count() -> tuple[int, str]:
    lib, where = library()
    if lib is None:
        return 0, f"no CUDA device: {where}"
    n = c_int(0)
    status = lib.cudaGetDeviceCount(ctypes.byref(n))
    if status != 0:
        lib.cudaGetLastError()
        return 0, f"no CUDA device: cudaGetDeviceCount: {error_text(status)}"
    if n.value == 0:
        return 0, "no CUDA device: cudaGetDeviceCount reports 0 devices"
    return n.value, ""


def device_count() -> int:
    """How many CUDA devices this process sees (0 without a driver, a runtime or a GPU)."""
    return _count()[0]


def no_device_reason() -> str:
    """Why there is no device ("no CUDA device: ..."), or "" when there is one."""
    return _count()[1]


def require_device(what: str = "this call") -> None:
    """Raise CudaUnavailableError ("no CUDA device: ...: <what> needs one") without a device."""
    reason = no_device_reason()
    if reason:
        raise CudaUnavailableError(f"{reason}; {what} needs a CUDA device (compiling for "
                                   f"the CUDA target works without one)")


def device_architecture(device: int = 0) -> str:
    """The compute capability of ``device`` as CMake spells it ("90"), "" without a device."""
    if device_count() <= device:
        return ""
    lib, _ = library()
    major, minor = c_int(0), c_int(0)
    if lib.cudaDeviceGetAttribute(ctypes.byref(major), ATTR_COMPUTE_MAJOR, device) or \
            lib.cudaDeviceGetAttribute(ctypes.byref(minor), ATTR_COMPUTE_MINOR, device):
        return ""
    return f"{major.value}{minor.value}"


def device_name(device: int = 0) -> str:
    """The device's name ("NVIDIA H100 80GB HBM3"), from cudaGetDeviceProperties."""
    if device_count() <= device:
        return ""
    lib, _ = library()
    props = ctypes.create_string_buffer(4096)  # cudaDeviceProp starts with char name[256]
    if lib.cudaGetDeviceProperties(props, device) != 0:
        return ""
    return props.raw[:256].split(b"\0", 1)[0].decode(errors="replace")


def versions() -> dict[str, str]:
    """The runtime's version and the driver's ("13.0"; "none" without a driver)."""
    lib, where = library()
    if lib is None:
        return {"runtime": f"none ({where})", "driver": "unknown"}
    out = {}
    for key, call in (("runtime", lib.cudaRuntimeGetVersion), ("driver", lib.cudaDriverGetVersion)):
        v = c_int(0)
        status = call(ctypes.byref(v))
        out[key] = "none" if status or v.value == 0 else f"{v.value // 1000}.{v.value % 1000 // 10}"
    return out


# -- device memory ------------------------------------------------------------------------------
def _lib() -> ctypes.CDLL:
    require_device("device memory")
    return library()[0]


def malloc(nbytes: int) -> int:
    """``cudaMalloc``: the address of ``nbytes`` (at least 1) of device memory."""
    ptr = c_void_p()
    status = _lib().cudaMalloc(ctypes.byref(ptr), c_size_t(max(1, nbytes)))
    if status == 2:  # cudaErrorMemoryAllocation
        _lib().cudaGetLastError()
        raise MemoryError(f"out of CUDA device memory allocating {nbytes} bytes")
    check(status, f"cudaMalloc({nbytes})")
    return int(ptr.value)


def free(ptr: int) -> None:
    lib, _ = library()
    if lib is not None and ptr:
        lib.cudaFree(c_void_p(ptr))


def memcpy(dst: int, src: int, nbytes: int, kind: int) -> None:
    """``cudaMemcpy`` (synchronous) of ``nbytes``."""
    if nbytes:
        check(_lib().cudaMemcpy(c_void_p(dst), c_void_p(src), c_size_t(nbytes), c_int(kind)),
              "cudaMemcpy")
