"""Calling a function compiled for the CUDA target (``croton.function(..., device='cuda')``).

The compiled module is the same kind as the CPU's (a ``croton_function`` table in a capsule,
``runtime/cpu/abi.h``), but its arrays are device memory (DLPack ``kDLCUDA``), so the call goes
through the binding layer's ``DeviceFunction`` (runtime/python/device_call.cpp) instead of its
NumPy ``NativeFunction``: inputs are uploaded (or taken as they are when already on the
device), shared variables created with ``device='cuda'`` are read and updated in their device
memory, outputs are allocated from the device pool (``croton/cuda/array.py``) and copied back
to NumPy arrays (``return_device_arrays=True`` keeps them on the device as ``DeviceArray``).
The ctypes structures below describe the same ABI for the tests' CPU emulation of CUDA.

Without a CUDA device the function is still compiled (render and nvcc build), and calling it
raises ``CudaUnavailableError`` ("no CUDA device: ...").

Example::

    >>> import croton.tensor as T, croton
    >>> from croton.build_tools.toolchain import find_nvcc
    >>> from croton.cuda import device_count
    >>> x = T.fvector('x')
    >>> if find_nvcc():  # compiles without a device
    ...     f = croton.function([x], T.exp(x), device='cuda')
    ...     if device_count():
    ...         assert abs(f([0.0])[0] - 1.0) < 1e-6
"""

from __future__ import annotations

import ctypes
import functools
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

import numpy as np

from croton.cuda import runtime
from croton.cuda.array import DeviceArray

MAX_NDIM = 8
ABI_VERSION = 4  # runtime/cpu/abi.h's CROTON_ABI_VERSION (these structs are its version 4)
KDL_CUDA = 2
ERR_ARGUMENT, ERR_DEVICE = 7, 8


class DLDevice(Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [("data", c_void_p), ("device", DLDevice), ("ndim", c_int32),
                ("dtype", DLDataType), ("shape", POINTER(c_int64)),
                ("strides", POINTER(c_int64)), ("byte_offset", c_uint64)]


class CrotonArg(Structure):
    _fields_ = [("name", c_char_p), ("dtype", DLDataType), ("ndim", c_int32),
                ("broadcastable", c_uint32)]


class CrotonCheck(Structure):
    _fields_ = [("kind", c_char_p), ("op", c_char_p), ("detail", c_char_p),
                ("arguments", c_char_p)]


class CrotonError(Structure):
    _fields_ = [("code", c_int32), ("check", c_int32), ("ndim_a", c_int32), ("ndim_b", c_int32),
                ("shape_a", c_int64 * MAX_NDIM), ("shape_b", c_int64 * MAX_NDIM),
                ("reason", c_char * 128), ("message", c_char * 512)]


ALLOC_FN = CFUNCTYPE(c_int, c_void_p, c_int32, c_int32, c_int32, POINTER(c_int64),
                     POINTER(DLTensor))
CALL_FN = CFUNCTYPE(c_int, POINTER(DLTensor), POINTER(DLTensor), ALLOC_FN, c_void_p,
                    POINTER(DLTensor), POINTER(DLTensor), POINTER(CrotonError))


class CrotonFunction(Structure):
    _fields_ = [("abi_version", c_int32), ("n_inputs", c_int32), ("n_shared", c_int32),
                ("n_outputs", c_int32), ("n_updates", c_int32), ("n_checks", c_int32),
                ("inputs", POINTER(CrotonArg)), ("shared", POINTER(CrotonArg)),
                ("outputs", POINTER(CrotonArg)), ("update_target", POINTER(c_int32)),
                ("checks", POINTER(CrotonCheck)), ("call", CALL_FN)]


_DL_CODES = {"b": 6, "i": 0, "u": 1, "f": 2, "c": 5}  # kDLBool, kDLInt, kDLUInt, kDLFloat...
_NP_KINDS = {6: "b", 0: "i", 1: "u", 2: "f", 5: "c"}


def dl_dtype(dtype: np.dtype) -> DLDataType:
    return DLDataType(_DL_CODES[dtype.kind], dtype.itemsize * 8, 1)


def np_dtype(t: DLDataType) -> np.dtype:
    return np.dtype("bool") if t.code == 6 else np.dtype(f"{_NP_KINDS[t.code]}{t.bits // 8}")


def function_table(capsule) -> CrotonFunction:
    """The ``croton_function`` a compiled module's capsule points to."""
    get = ctypes.pythonapi["PyCapsule_GetPointer"]  # a handle of its own (argtypes)
    get.restype, get.argtypes = c_void_p, [ctypes.py_object, c_char_p]
    return ctypes.cast(get(capsule, b"croton_function"), POINTER(CrotonFunction)).contents


class _Device:
    """A device array croton did not allocate, as the binding layer reads it: a device
    address, shape, element strides (None: C order), dtype and device number, plus whatever
    keeps its memory alive (a DeviceArray is read directly)."""

    __slots__ = ("ptr", "shape", "strides", "dtype", "keep", "device")

    def __init__(self, ptr: int, shape, strides, dtype: np.dtype, keep, device: int) -> None:
        self.ptr, self.shape, self.strides, self.dtype = ptr, shape, strides, dtype
        self.keep, self.device = keep, device

    @classmethod
    def of(cls, value, device: int = 0,
           what=lambda: "argument") -> DeviceArray | _Device | None:
        """``value`` as device memory when it is (a DeviceArray, an array with
        ``__cuda_array_interface__``, or one that exports DLPack from a CUDA device), else
        None. ``device``: where the function runs; an error names ``what()``."""
        if isinstance(value, DeviceArray):
            return value
        cai = getattr(value, "__cuda_array_interface__", None)
        if cai is None:
            from croton.cuda.dlpack_import import cuda_device_of, import_device_array

            if cuda_device_of(value) is None:
                return None
            return cls(*import_device_array(value, what(), device), device)
        dtype = np.dtype(cai["typestr"])
        strides = cai.get("strides")
        if strides is not None:
            strides = tuple(s // dtype.itemsize for s in strides)
        ptr = int(cai["data"][0])
        on = runtime.pointer_device(ptr) if ptr else None  # CAI itself does not say
        return cls(ptr, tuple(cai["shape"]), strides, dtype, value, device if on is None else on)


def _prepare_input(spec, device: int, i: int, value):
    """Input ``i`` as memory of ``device``: a foreign device array as it is, host data
    converted as the CPU's functions convert it (errors name the argument) and uploaded."""
    from croton.function_module import _function_label, convert_input

    if isinstance(value, np.ndarray):  # the common case: host data
        return DeviceArray.from_numpy(convert_input(spec, i, value), device)
    dev = _Device.of(value, device, lambda: f"{_function_label(spec)}: input {i}")
    return dev if dev is not None else DeviceArray.from_numpy(convert_input(spec, i, value),
                                                              device)


def _prepare_shared(shared: list, device: int, j: int) -> DeviceArray:
    """Shared variable ``j``'s value in the memory of ``device`` for a call: a variable
    created with ``device='cuda'`` before a device was seen moves there now; a host variable is
    uploaded for this call (staged: ``_finish_staged`` writes its new value back)."""
    s = shared[j]
    value = DeviceArray.from_numpy(s.storage[0], device)
    if getattr(s, "device", "cpu").startswith("cuda"):
        s.storage[0] = value
    return value


def _finish_staged(shared: list, j: int, new: DeviceArray) -> None:
    """A host shared variable gets its new value back into its array (in place, as on the
    CPU), or a new array when the shape or dtype changed, the array is read-only, or it
    overlaps another shared variable of the function (which keeps its value, as on the CPU)."""
    s = shared[j]
    value = new.to_numpy()
    host = s.storage[0]
    if (host.shape == value.shape and host.dtype == value.dtype and host.flags.writeable
            and not any(k != j and isinstance(o.storage[0], np.ndarray)
                        and np.may_share_memory(host, o.storage[0])
                        for k, o in enumerate(shared))):
        np.copyto(host, value)
    else:
        s.storage[0] = value


def _first_call_checks(spec, built, device: int) -> None:
    """What a function's first call checks: its device is present and runs the build."""
    from croton.function_module import _function_label

    label = _function_label(spec)
    runtime.require_device(f"calling {label}", device)
    check_architecture(label, built, device)


def check_architecture(label: str, built, device: int = 0) -> None:
    """Device ``device`` must run one of the ``built`` architectures: its own SASS, or the PTX
    of an older one (compiled by the driver); an older device runs neither."""
    arch = runtime.device_architecture(device)
    if arch and arch not in built and int(arch) < min(int(a) for a in built):
        raise runtime.CudaError(
            f"{label} was built for {', '.join('sm_' + a for a in built)} (SASS "
            f"and PTX), which the device (sm_{arch}, {runtime.device_name(device)}) cannot "
            f"run: set CROTON_FLAGS=cuda_arch={arch}, or leave cuda_arch empty to build "
            f"for the present GPU")


def _raise_call_error(spec, code: int, check: int, shape_a: tuple, shape_b: tuple,
                      reason: bytes, message: bytes) -> None:
    """The exception for a failed call's error report (the binding layer's callback)."""
    from croton.function_module import _function_label, raise_call_error

    message, reason = message.decode(errors="replace"), reason.decode(errors="replace")
    if code == ERR_DEVICE:
        raise runtime.CudaError(f"{_function_label(spec)}: {message or reason}")
    if code == ERR_ARGUMENT:
        raise TypeError(f"{_function_label(spec)}: {message}")
    raise_call_error(spec, code, check, shape_a, shape_b, reason, message)


def _gpu_typed_outputs(graph) -> frozenset[int]:
    """The outputs typed ``GpuArrayType`` (Theano's ``x.transfer(None)``, ``gpu_from_host``):
    returned as device arrays, as Theano returns them as GPU arrays."""
    import sys

    gpu_types = sys.modules.get("croton.gpuarray.type")  # no GPU types before it is imported
    if gpu_types is None:
        return frozenset()
    return frozenset(k for k, v in enumerate(graph.outputs)
                     if isinstance(v.type, gpu_types.GpuArrayType))


class CudaFunction:
    """A compiled CUDA function: ``f(*args, **kwargs)`` as a CPU function (Theano's API:
    defaults, keywords, ``name``, ``maker``, ``source``), on device memory.
    ``return_device_arrays``: outputs stay on the device (``DeviceArray``). The call itself is
    the binding layer's ``DeviceFunction`` (runtime/python/device_call.cpp): ``device_function``
    makes the class over it."""

    def __init__(self, module, shared, spec, single: bool, graph, optimized, source: str,
                 build, timings: dict, device: int = 0) -> None:
        from croton.build_tools.cuda import architectures
        from croton.function_module import _function_label, _Maker, resolve_arguments

        table = function_table(module.function)
        if table.abi_version != ABI_VERSION:
            raise RuntimeError(f"croton: compiled CUDA function has ABI version "
                               f"{table.abi_version}, this croton speaks {ABI_VERSION}: "
                               f"clear croton's cache")
        shared = list(shared)
        built = architectures()  # what it was built for (part of its cache key)
        out_dtypes = [np_dtype(table.outputs[k].dtype) for k in range(table.n_outputs)]
        upd_dtypes = [np.dtype(shared[table.update_target[k]].dtype)
                      for k in range(table.n_updates)]
        device_outputs = _gpu_typed_outputs(graph)
        # the callbacks hold no reference to self: the binding layer's object is not tracked
        # by the garbage collector, so a cycle through it would never be freed
        super().__init__(
            module.function, [s.storage for s in shared], DeviceArray, device,
            _function_label(spec), out_dtypes, upd_dtypes,
            [k in device_outputs for k in range(table.n_outputs)],
            functools.partial(_prepare_input, spec, device),
            functools.partial(_prepare_shared, shared, device),
            functools.partial(_finish_staged, shared), functools.partial(resolve_arguments, spec),
            functools.partial(_raise_call_error, spec),
            functools.partial(_first_call_checks, spec, built, device), single)
        self.architectures, self.device = built, device
        self._module = module  # keeps the code (and the table) loaded
        self._shared, self._spec, self._single = shared, spec, single
        self.graph, self.maker = graph, _Maker(optimized, spec.inputs)
        self.source, self.build, self.compile_report = source, build, timings
        self.name = spec.name
        self.profile = None

    @property
    def input_storage(self):
        return self._spec.inputs

    def __repr__(self) -> str:
        return f"<croton.Function {self.name} ({runtime.device_name_of(self.device)})>"

    def __reduce__(self):
        """Pickled as the CPU's functions are: rebuilt from its graph (a cache hit)."""
        from croton.function_module import _unpickle_function

        if getattr(self, "_origin", None) is None:
            raise TypeError("this CUDA function cannot be pickled: it was not built by "
                            "croton.function")
        return (_unpickle_function, (self._origin,))

    def copy(self, share_memory: bool = False, swap: dict | None = None,
             delete_updates: bool = False, name: str | None = None):
        """The same compiled code over other shared variables (``swap={old: new}``), as a
        CPU function's ``copy``."""
        from croton.codegen.target import CUDA
        from croton.function_module import _check_shared_devices, copy_arguments

        shared, spec = copy_arguments(self._shared, self._spec, swap, delete_updates, name)
        _check_shared_devices(shared, CUDA, spec, self.device)
        new = type(self)(self._module, shared, spec, self._single, self.graph,
                         self.maker.fgraph, self.source, self.build, dict(self.compile_report),
                         self.device)
        new.return_device_arrays = self.return_device_arrays
        if not swap:
            new._origin = getattr(self, "_origin", None)
        return new

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo: dict):
        # its own shared variables (deep copies, values included), the same compiled code
        import copy

        new = self.copy(swap={s: copy.deepcopy(s, memo) for s in self._shared})
        new._origin = copy.deepcopy(getattr(self, "_origin", None), memo)
        return new

    def export(self, directory, name: str = "train_step", example_inputs=None,
               state: str = "embed", check_calls: int = 1):
        """Write this function as a standalone C library built with nvcc (a CMake project,
        the same C API as a CPU function's): see build_tools/export.py and docs/export.md."""
        from croton.build_tools.export import export_function

        return export_function(self, directory, name, example_inputs, state, check_calls)

    def _label(self) -> str:
        from croton.function_module import _function_label

        return _function_label(self._spec)


@functools.cache
def device_function(native_base: type) -> type:
    """``CudaFunction`` over the binding layer's ``DeviceFunction`` (built per toolchain)."""
    return type("CudaFunction", (CudaFunction, native_base), {"__module__": __name__})
