"""Arrays from other libraries through DLPack: any object with ``__dlpack__`` (a PyTorch CPU
tensor, a JAX or CuPy array, ...) is imported zero-copy as an ndarray with ``np.from_dlpack``
and then follows the same casting and validation rules as an ndarray (``TensorType.filter``).
The compiled code runs on the CPU: an array on another device is refused, naming it.

Example::

    >>> import numpy as np
    >>> from croton.dlpack import from_dlpack, is_dlpack_array
    >>> class Foreign:  # a non-NumPy array that only speaks DLPack
    ...     def __init__(self, a): self.a = a
    ...     def __dlpack__(self, **kw): return self.a.__dlpack__(**kw)
    ...     def __dlpack_device__(self): return self.a.__dlpack_device__()
    >>> base = np.arange(3.0)
    >>> x = from_dlpack(Foreign(base), "argument 0")
    >>> is_dlpack_array(Foreign(base)), x.tolist(), np.shares_memory(x, base)
    (True, [0.0, 1.0, 2.0], True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEVICE_NAMES", "from_dlpack", "is_dlpack_array"]

# DLPack's DLDeviceType values (runtime/cpu/dlpack.h) and their usual names.
DEVICE_NAMES = {1: "cpu", 2: "cuda", 3: "cuda_host", 4: "opencl", 7: "vulkan", 8: "metal",
                9: "vpi", 10: "rocm", 11: "rocm_host", 12: "ext_dev", 13: "cuda_managed",
                14: "oneapi", 15: "webgpu", 16: "hexagon", 17: "maia"}
# Memory the CPU reads directly (what np.from_dlpack accepts): host memory, pinned or managed.
_CPU_READABLE = (1, 3, 11, 13)


def is_dlpack_array(value: object) -> bool:
    """True for an object that exports DLPack and is not already an ndarray or NumPy scalar."""
    return hasattr(type(value), "__dlpack__") and not isinstance(value, np.ndarray | np.generic)


def from_dlpack(value: object, what: str = "value") -> np.ndarray:
    """``value`` (with ``__dlpack__``) as an ndarray over the same memory (no copy), or
    ``TypeError`` naming ``what``, the device and what to do when the CPU cannot read it."""
    device_of = getattr(value, "__dlpack_device__", None)
    if device_of is not None:
        device_type, device_id = (int(v) for v in device_of())
        if device_type not in _CPU_READABLE:
            name = DEVICE_NAMES.get(device_type, f"DLPack device type {device_type}")
            raise TypeError(
                f"{what}: the array ({type(value).__name__}) is on device {name}:{device_id}; "
                f"croton's compiled functions run on the CPU, so copy it there first (for a "
                f"PyTorch tensor: t.cpu()) and pass that")
    try:
        return np.from_dlpack(value)
    except (BufferError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise TypeError(f"{what}: cannot read the {type(value).__name__} through DLPack: "
                        f"{exc}") from None
