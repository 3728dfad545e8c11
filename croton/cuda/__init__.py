"""croton on NVIDIA GPUs (issue 15; docs/cuda.md): the CUDA runtime seen from Python
(``runtime``: is there a device, its architecture, device memory), arrays in device memory
(``array.DeviceArray``) and the caller of functions compiled for the CUDA target
(``function.CudaFunction``).

Example::

    >>> from croton import cuda
    >>> isinstance(cuda.device_count(), int)
    True
"""

from croton.cuda.runtime import (
    CudaUnavailableError,
    device_architecture,
    device_count,
    no_device_reason,
    require_device,
)

__all__ = ["CudaUnavailableError", "device_architecture", "device_count", "no_device_reason",
           "require_device"]
