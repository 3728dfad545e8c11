"""Arrays in CUDA device memory: what a shared variable created with ``device='cuda'`` holds,
what CUDA functions allocate for their outputs and updates, and what they accept as inputs
(besides NumPy arrays, uploaded per call, and any array exposing
``__cuda_array_interface__``: CuPy, PyTorch, Numba). Other libraries read a DeviceArray without
a copy through ``__cuda_array_interface__`` or ``__dlpack__``.

Memory comes from a caching pool (freed blocks are kept by size and handed out again, as
PyTorch's and CuPy's allocators do: ``cudaFree`` synchronizes the device); ``empty_cache()``
returns it to the driver.

Example (needs a CUDA device)::

    >>> import numpy as np
    >>> from croton.cuda import device_count
    >>> from croton.cuda.array import DeviceArray
    >>> if device_count():
    ...     d = DeviceArray.from_numpy(np.arange(3.0))
    ...     assert d.to_numpy().tolist() == [0.0, 1.0, 2.0]
"""

from __future__ import annotations

import math
import threading

import numpy as np

from croton.cuda import runtime

_POOL: dict[tuple[int, int], list[int]] = {}  # (device, rounded size) -> free addresses
_POOL_LOCK = threading.Lock()


def _rounded(nbytes: int) -> int:
    """Pool size classes: multiples of 512 bytes up to 1 MiB, then of 1 MiB."""
    unit = 512 if nbytes <= 1 << 20 else 1 << 20
    return max(unit, -(-nbytes // unit) * unit)


class _Block:
    """One pooled allocation on one device; back to the pool when the last array over it is
    gone."""

    __slots__ = ("ptr", "size", "device")

    def __init__(self, nbytes: int, device: int = 0) -> None:
        self.ptr, self.size, self.device = 0, _rounded(nbytes), device
        with _POOL_LOCK:
            free = _POOL.get((device, self.size))
            self.ptr = free.pop() if free else 0
        if not self.ptr:
            try:
                self.ptr = runtime.malloc(self.size, device)
            except MemoryError:  # the pool's blocks may be what is missing: give them back
                empty_cache()
                self.ptr = runtime.malloc(self.size, device)

    def __del__(self) -> None:
        if self.ptr:
            try:
                with _POOL_LOCK:
                    _POOL.setdefault((self.device, self.size), []).append(self.ptr)
            except (TypeError, AttributeError):  # interpreter shutdown: the process frees it
                pass
            self.ptr = 0


def empty_cache() -> None:
    """Free every pooled block that no array uses."""
    with _POOL_LOCK:
        blocks = [(device, p) for (device, _), ptrs in _POOL.items() for p in ptrs]
        _POOL.clear()
    for device, p in blocks:
        runtime.free(p, device)


class DeviceArray:
    """A C-contiguous array in the memory of CUDA device ``device`` (0 by default):
    ``shape``, ``dtype``, ``ptr``.

    ``to_numpy()`` copies it to the host; ``__cuda_array_interface__`` lets CuPy, PyTorch and
    Numba read it without a copy."""

    __slots__ = ("shape", "dtype", "device", "_block", "__weakref__")

    def __init__(self, shape, dtype, device: int = 0) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.device = device
        self._block = _Block(self.nbytes, device)

    @property
    def ptr(self) -> int:
        return self._block.ptr

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @classmethod
    def from_numpy(cls, value: np.ndarray, device: int = 0) -> DeviceArray:
        """A new array on ``device`` holding a copy of ``value``."""
        host = np.asarray(value, order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        out = cls(host.shape, host.dtype, device)
        out.upload(host)
        return out

    def upload(self, value: np.ndarray) -> None:
        """Copy ``value`` (this shape and dtype) into this array's memory."""
        host = np.asarray(value, dtype=self.dtype, order="C")
        if host.shape != self.shape:
            raise ValueError(f"upload: shape {host.shape} into a device array of {self.shape}")
        runtime.memcpy(self.ptr, host.ctypes.data, self.nbytes, runtime.MEMCPY_HOST_TO_DEVICE,
                       self.device)

    def to_numpy(self) -> np.ndarray:
        """A host copy."""
        host = np.empty(self.shape, self.dtype)
        runtime.memcpy(host.ctypes.data, self.ptr, self.nbytes, runtime.MEMCPY_DEVICE_TO_HOST,
                       self.device)
        return host

    def copy(self) -> DeviceArray:
        """A new device array with the same contents (a device-to-device copy)."""
        out = DeviceArray(self.shape, self.dtype, self.device)
        runtime.memcpy(out.ptr, self.ptr, self.nbytes, runtime.MEMCPY_DEVICE_TO_DEVICE,
                       self.device)
        return out

    def __array__(self, dtype=None, copy=None):
        host = self.to_numpy()
        return host if dtype is None else host.astype(dtype)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, False),
                "strides": None, "version": 3}

    def __dlpack_device__(self) -> tuple[int, int]:
        return (2, self.device)  # kDLCUDA

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule ("dltensor", a legacy DLManagedTensor) over this array's memory,
        kept alive until the consumer calls its deleter (JAX, PyTorch and CuPy read it without
        a copy). The data is ready: croton's calls wait for their kernels before returning."""
        if dl_device is not None and tuple(dl_device) != self.__dlpack_device__():
            raise BufferError(f"__dlpack__: this array is on cuda:{self.device}, not "
                              f"{tuple(dl_device)}")
        if copy:
            return self.copy().__dlpack__(stream=stream)
        from croton.cuda.dlpack_export import export_capsule

        return export_capsule(self)

    def __reduce__(self):  # pickles (and deep copies) hold the values, not the address
        return (DeviceArray.from_numpy, (self.to_numpy(), self.device))

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}, device=cuda:{self.device})"
