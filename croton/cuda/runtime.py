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


def require_device(what: str = "this call", device: int = 0) -> None:
    """Raise CudaUnavailableError ("no CUDA device: ...: <what> needs one") without a device,
    or without device number ``device``."""
    reason = no_device_reason()
    if reason:
        raise CudaUnavailableError(f"{reason}; {what} needs a CUDA device (compiling for "
                                   f"the CUDA target works without one)")
    if device >= device_count():
        raise CudaUnavailableError(f"no CUDA device {device}: this process sees "
                                   f"{device_count()} (cuda:0 to cuda:{device_count() - 1}; "
                                   f"CUDA_VISIBLE_DEVICES chooses which); {what} needs it")


def cuda_index(device: str) -> int:
    """The device number a device name means: ``cuda`` is device 0, ``cudaN`` (Theano's
    spelling) and ``cuda:N`` (PyTorch's) device N.

    >>> cuda_index("cuda"), cuda_index("cuda1"), cuda_index("cuda:2")
    (0, 1, 2)
    """
    rest = device[4:] if device.startswith("cuda") else None
    if rest is not None and rest.startswith(":"):
        rest = rest[1:] or None  # "cuda:" names no device
    if rest is None or (rest and not rest.isdigit()):
        raise ValueError(f"not a CUDA device name: {device!r} (cuda, cudaN or cuda:N)")
    return int(rest) if rest else 0


def device_name_of(index: int) -> str:
    """The canonical name of device ``index``: ``cuda`` for device 0 (the default), else
    ``cuda:N``.

    >>> device_name_of(0), device_name_of(3)
    ('cuda', 'cuda:3')
    """
    return "cuda" if index == 0 else f"cuda:{index}"


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


class on_device:  # noqa: N801 - a context manager, named as what it says
    """``with on_device(n):`` device ``n`` is the calling thread's current device inside, and
    the former one again after (a device call on memory of device ``n`` runs there)."""

    __slots__ = ("device", "previous")

    def __init__(self, device: int) -> None:
        self.device, self.previous = device, -1

    def __enter__(self) -> None:
        lib = _lib()
        current = c_int(0)
        check(lib.cudaGetDevice(ctypes.byref(current)), "cudaGetDevice")
        if current.value != self.device:
            check(lib.cudaSetDevice(c_int(self.device)), f"cudaSetDevice({self.device})")
            self.previous = current.value

    def __exit__(self, *exc) -> None:
        if self.previous >= 0:
            _lib().cudaSetDevice(c_int(self.previous))
            self.previous = -1


class _PointerAttributes(ctypes.Structure):
    _fields_ = [("type", c_int), ("device", c_int), ("devicePointer", c_void_p),
                ("hostPointer", c_void_p)]


def pointer_device(ptr: int) -> int | None:
    """The device whose memory ``ptr`` is (cudaPointerGetAttributes), None when it is not
    device memory CUDA knows."""
    attrs = _PointerAttributes()
    lib = _lib()
    if lib.cudaPointerGetAttributes(ctypes.byref(attrs), c_void_p(ptr)) != 0:
        lib.cudaGetLastError()
        return None
    return attrs.device if attrs.type in (2, 3) and attrs.device >= 0 else None


def malloc(nbytes: int, device: int = 0) -> int:
    """``cudaMalloc`` on ``device``: the address of ``nbytes`` (at least 1) of its memory."""
    ptr = c_void_p()
    with on_device(device):
        status = _lib().cudaMalloc(ctypes.byref(ptr), c_size_t(max(1, nbytes)))
    if status == 2:  # cudaErrorMemoryAllocation
        _lib().cudaGetLastError()
        raise MemoryError(f"out of CUDA device memory allocating {nbytes} bytes on "
                          f"{device_name_of(device)}")
    check(status, f"cudaMalloc({nbytes})")
    return int(ptr.value)


def free(ptr: int, device: int = 0) -> None:
    """``cudaFree`` of ``ptr`` (memory of ``device``); errors are ignored (this runs when
    arrays are collected, at exit too)."""
    lib, _ = library()
    if lib is not None and ptr:
        try:
            with on_device(device):
                lib.cudaFree(c_void_p(ptr))
        except (CudaError, CudaUnavailableError):
            pass


def memcpy(dst: int, src: int, nbytes: int, kind: int, device: int = 0) -> None:
    """``cudaMemcpy`` (synchronous) of ``nbytes``, issued on ``device`` (whose memory it
    reads or writes)."""
    if nbytes:
        with on_device(device):
            check(_lib().cudaMemcpy(c_void_p(dst), c_void_p(src), c_size_t(nbytes),
                                    c_int(kind)), "cudaMemcpy")
