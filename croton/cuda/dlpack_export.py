"""``DeviceArray.__dlpack__``: a DLPack capsule over device memory, built with ctypes.

The capsule (named "dltensor") holds a ``DLManagedTensor`` whose ``manager_ctx`` keys a table
of what keeps the array alive (the DeviceArray, the struct, its shape); the consumer renames the
capsule "used_dltensor" and calls the deleter when it no longer needs the memory, which drops
the entry. A capsule never consumed calls the deleter itself when it is collected.

Example::

    >>> from croton.cuda.dlpack_export import DLManagedTensor
    >>> import ctypes
    >>> ctypes.sizeof(DLManagedTensor) > ctypes.sizeof(ctypes.c_void_p) * 2
    True
"""

from __future__ import annotations

import ctypes
import itertools
import threading

from croton.cuda.function import DLDevice, DLTensor, dl_dtype


class DLManagedTensor(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                            ("deleter", DELETER)]
# the capsule destructor gets the dying capsule as a raw pointer: wrapping it in a py_object
# would take a reference to an object being freed
CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

_LIVE: dict[int, tuple] = {}  # manager_ctx -> (array, managed tensor, shape)
_LOCK = threading.Lock()
_IDS = itertools.count(1)
_NAME = b"dltensor"


def capi(name: str, restype, *argtypes):
    """A private handle on a CPython API function (its own argtypes; ``pythonapi.X`` is
    shared)."""
    fn = ctypes.pythonapi[name]
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


_new = capi("PyCapsule_New", ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
_is_valid = capi("PyCapsule_IsValid", ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)
_pointer = capi("PyCapsule_GetPointer", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)


def _delete(managed) -> None:
    with _LOCK:
        _LIVE.pop(managed.contents.manager_ctx or 0, None)


def _destroy(capsule: int) -> None:
    """A capsule collected unconsumed (still named "dltensor") frees its tensor."""
    if _is_valid(capsule, _NAME):
        _delete(ctypes.cast(_pointer(capsule, _NAME), ctypes.POINTER(DLManagedTensor)))


_DELETER = DELETER(_delete)
_DESTRUCTOR = CAPSULE_DESTRUCTOR(_destroy)


def export_capsule(array):
    """The "dltensor" capsule of ``array`` (a DeviceArray)."""
    managed = DLManagedTensor()
    shape = (ctypes.c_int64 * max(1, array.ndim))(*array.shape)
    t = managed.dl_tensor
    t.data, t.device, t.ndim = array.ptr or None, DLDevice(2, array.device), array.ndim
    t.dtype, t.shape, t.strides, t.byte_offset = dl_dtype(array.dtype), shape, None, 0
    key = next(_IDS)
    managed.manager_ctx = key
    managed.deleter = _DELETER
    with _LOCK:
        _LIVE[key] = (array, managed, shape)
    return _new(ctypes.addressof(managed), _NAME, ctypes.cast(_DESTRUCTOR, ctypes.c_void_p))
