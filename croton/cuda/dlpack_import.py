"""Device arrays from libraries that speak only DLPack (``__dlpack__`` and ``__dlpack_device__``,
no ``__cuda_array_interface__``): read in place by a CUDA function, as DLPack asks of a
consumer. The capsule is taken with ``stream=1`` (croton runs on the legacy default stream: the
producer makes that stream wait for its own work), renamed "used_dltensor", and its deleter is
called once croton no longer needs the memory (after the call that read it).

Example::

    >>> import numpy as np
    >>> from croton.cuda.dlpack_import import cuda_device_of
    >>> cuda_device_of(np.zeros(2)) is None  # host memory is not a device array
    True
"""

from __future__ import annotations

import ctypes

import numpy as np

from croton.cuda.dlpack_export import DLManagedTensor, capi
from croton.cuda.function import KDL_CUDA, np_dtype

_NAME, _USED = b"dltensor", b"used_dltensor"
_is_valid = capi("PyCapsule_IsValid", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)
_pointer = capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)
_rename = capi("PyCapsule_SetName", ctypes.c_int, ctypes.py_object, ctypes.c_char_p)


def cuda_device_of(value: object) -> int | None:
    """The CUDA device id of an array that exports DLPack from a CUDA device, else None."""
    device_of = getattr(value, "__dlpack_device__", None)
    if device_of is None or not hasattr(type(value), "__dlpack__"):
        return None
    try:
        device_type, device_id = (int(v) for v in device_of())
    except (TypeError, ValueError, RuntimeError):
        return None
    return device_id if device_type == KDL_CUDA else None


class ImportedTensor:
    """A consumed capsule's tensor: its deleter runs when this is collected (DLPack's
    contract: the consumer calls it once, when done with the memory)."""

    __slots__ = ("_managed", "_source")

    def __init__(self, managed: ctypes.POINTER(DLManagedTensor), source: object) -> None:
        self._managed, self._source = managed, source

    @property
    def tensor(self):
        return self._managed.contents.dl_tensor

    def __del__(self) -> None:
        managed, self._managed = self._managed, None
        if managed and managed.contents.deleter:
            managed.contents.deleter(managed)


def import_device_array(value: object, what: str, device: int):
    """``(address, shape, element strides or None, dtype, keeper)`` of a DLPack array on
    CUDA device ``device``; ``TypeError`` naming ``what`` for another device, a used capsule or
    a dtype croton has no type for. Keep ``keeper`` alive while the memory is read."""
    device_id = cuda_device_of(value)
    if device_id != device:
        raise TypeError(f"{what}: the array ({type(value).__name__}) is on cuda:{device_id}; "
                        f"this function runs on cuda:{device}, so copy it there first")
    try:
        capsule = value.__dlpack__(stream=1)
    except TypeError:  # a producer from before the stream argument
        capsule = value.__dlpack__()
    if not _is_valid(capsule, _NAME):
        raise TypeError(f"{what}: {type(value).__name__}.__dlpack__() did not return an unused "
                        f"'dltensor' capsule")
    managed = ctypes.cast(_pointer(capsule, _NAME), ctypes.POINTER(DLManagedTensor))
    _rename(capsule, _USED)  # ours now: the capsule's destructor leaves it alone
    keeper = ImportedTensor(managed, value)
    t = keeper.tensor
    try:
        if t.dtype.lanes != 1:
            raise KeyError(t.dtype.code)
        dtype = np_dtype(t.dtype)
    except KeyError:
        raise TypeError(f"{what}: DLPack dtype (code {t.dtype.code}, {t.dtype.bits} bits, "
                        f"{t.dtype.lanes} lanes) has no croton type") from None
    if t.device.device_type != KDL_CUDA or t.device.device_id != device:
        raise TypeError(f"{what}: the capsule's tensor is on device ({t.device.device_type}, "
                        f"{t.device.device_id}), not cuda:{device}")
    shape = tuple(int(t.shape[i]) for i in range(t.ndim))
    strides = None if not t.strides else tuple(int(t.strides[i]) for i in range(t.ndim))
    address = (t.data or 0) + int(t.byte_offset)
    return address, shape, strides, np.dtype(dtype), keeper
