"""Shared variables: state that lives between calls and that compiled functions update in place.

Example::

    >>> import numpy, croton
    >>> W = croton.shared(numpy.asarray([0.1, 0.25]), 'W')
    >>> W.type, W.get_value()
    (TensorType(float64, vector), array([0.1 , 0.25]))
    >>> W.set_value([0.5, 0.2]); W.get_value()
    array([0.5, 0.2])
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from croton.dlpack import from_dlpack, is_dlpack_array
from croton.graph import Variable
from croton.types import TensorType, native_dtype


class SharedVariable(Variable):
    """A variable with a value. Compiled functions read its storage and write updates into it.

    ``default_update`` (Theano's): an expression every function that uses this variable applies
    as its update, unless the function updates it explicitly or has ``no_default_updates``.
    """

    __slots__ = ("storage", "strict", "allow_downcast", "default_update", "device")

    def __init__(self, type: TensorType, value: np.ndarray, name: str | None = None,
                 strict: bool = False, allow_downcast: bool | None = None,
                 device: str = "cpu") -> None:
        super().__init__(type, None, None, name)
        # A one-element list: compiled functions read and replace ``storage[0]`` directly.
        # device 'cuda': a croton.cuda.array.DeviceArray once a device has been seen (until
        # then the ndarray, uploaded by the first call of a CUDA function)
        self.storage: list = [value]
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.default_update: Variable | None = None
        self.device = device  # "cpu", "cuda" (device 0) or "cuda:N"
        if device.startswith("cuda"):
            self._to_device()

    def _to_device(self) -> None:
        """Move the value into device memory when there is a device (else it stays here)."""
        from croton.cuda import device_count
        from croton.cuda.array import DeviceArray
        from croton.cuda.runtime import cuda_index

        if device_count() and not isinstance(self.storage[0], DeviceArray):
            self.storage[0] = DeviceArray.from_numpy(self.storage[0], cuda_index(self.device))

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> np.ndarray:
        """The current value: a copy, or the storage itself with ``borrow=True``. A value in
        device memory is copied to a NumPy array (``return_internal_type=True`` with
        ``borrow=True``: the ``DeviceArray`` itself)."""
        value = self.storage[0]
        if not isinstance(value, np.ndarray):  # a DeviceArray
            return value if borrow and return_internal_type else value.to_numpy()
        return value if borrow else value.copy()

    def set_value(self, value, borrow: bool = False) -> None:
        """Replace the value (converted to this variable's dtype; the shape may change)."""
        what = f"set_value of shared variable {self.name or '<unnamed>'}"
        if self.strict and not (isinstance(value, np.ndarray) and value.dtype == self.dtype):
            raise TypeError(f"{what}: strict shared variable needs an ndarray of {self.dtype}")
        data = self.type.filter(value, allow_downcast=self.allow_downcast, what=what)
        current = self.storage[0]
        if not isinstance(current, np.ndarray):  # in device memory: uploaded, in place when
            if current.shape == data.shape:     # the shape is unchanged
                current.upload(data)
            else:
                self.storage[0] = type(current).from_numpy(data, current.device)
            return
        self.storage[0] = _own(data, copy=not borrow or data is not value)
        if getattr(self, "device", "cpu").startswith("cuda"):  # (absent from older pickles)
            self._to_device()

    @property
    def value(self) -> np.ndarray:
        return self.get_value()

    @value.setter
    def value(self, v) -> None:
        self.set_value(v)

    def clone(self) -> SharedVariable:
        return SharedVariable(self.type, self.storage[0].copy(), self.name, self.strict,
                              self.allow_downcast, getattr(self, "device", "cpu"))


#: Theano's name (``theano.tensor.sharedvar.TensorSharedVariable``)
TensorSharedVariable = SharedVariable


def _own(data: np.ndarray, copy: bool) -> np.ndarray:
    if copy or not data.flags.writeable or not data.flags.aligned:
        return np.array(data, copy=True, order="C")
    return data


def shared(value, name: str | None = None, strict: bool = False,
           allow_downcast: bool | None = None, borrow: bool = False,
           broadcastable: Sequence[bool] | None = None,
           device: str | None = None) -> SharedVariable:
    """Make a shared variable. Python ints and floats become 0-d int64 and float64 (as Theano);
    arrays keep their dtype (any array with ``__dlpack__`` too), and no dimension is
    broadcastable unless ``broadcastable`` says so. ``device='cuda'`` keeps the value in CUDA
    device memory for functions compiled with ``device='cuda'`` (``'cuda1'`` or ``'cuda:1'``:
    on device 1, for functions compiled for it); default: ``cpu``, or the ``device`` flag for
    float32 values, as Theano's ``device=cuda`` did; docs/cuda.md."""
    if isinstance(value, SharedVariable):
        raise TypeError("shared() of a shared variable; use its get_value()")
    if isinstance(value, Variable):
        raise TypeError("shared() needs a value, not a symbolic variable")
    if isinstance(value, bool):
        data = np.asarray(value, dtype="bool")
    elif isinstance(value, int):
        data = np.asarray(value, dtype="int64")
    elif isinstance(value, float):
        data = np.asarray(value, dtype="float64")
    elif is_dlpack_array(value):  # another library's array: read through DLPack, then copied
        data = from_dlpack(value, f"shared variable {name or '<unnamed>'}")
    else:
        data = np.asarray(value)
        if data.dtype == object:
            raise TypeError(f"shared() cannot hold {type(value).__name__} values")
    pattern = tuple(broadcastable) if broadcastable is not None else (False,) * data.ndim
    ttype = TensorType(str(native_dtype(data.dtype)), pattern)  # '>f8' becomes float64
    data = ttype.filter(data, allow_downcast=True, what=f"shared variable {name or '<unnamed>'}")
    if device is None:  # Theano kept float32 shared variables on the GPU under device=cuda
        from croton.config import config

        device = config.device if config.device.startswith("cuda") and ttype.dtype == "float32" \
            else "cpu"
    if device.startswith("cuda"):
        from croton.cuda.runtime import cuda_index, device_name_of

        device = device_name_of(cuda_index(device))  # cuda0 -> cuda, cuda1 -> cuda:1
        gpu = sys.modules.get("croton.gpuarray")  # Theano's GPU API, once it has a device
        if gpu is not None and gpu.pygpu_activated:
            ttype = gpu.GpuArrayType(ttype.dtype, ttype.broadcastable)
    elif device != "cpu":
        raise ValueError(f"shared variable {name or '<unnamed>'}: device must be 'cpu', "
                         f"'cuda', 'cudaN' or 'cuda:N', not {device!r}")
    return SharedVariable(ttype, _own(data, copy=not borrow or data is not value), name, strict,
                          allow_downcast, device)
