"""``theano.gpuarray`` on croton's CUDA target (docs/compatibility.md, "Theano's GPU API").

Importing it initialises the device the way Theano 1.0.5's import does: with the ``device``
flag ``cuda``/``cudaN`` (``THEANO_FLAGS`` or ``CROTON_FLAGS``) it calls ``use(config.device)``,
which registers the default context ``None`` on that CUDA device and sets ``pygpu_activated``;
functions then compile for the CUDA target and new float32 shared variables live in device
memory. When the device cannot be initialised (no GPU, no driver), it logs Theano's error
``Could not initialize pygpu, support disabled`` with CUDA's reason on the ``theano.gpuarray``
logger and falls back to the CPU, as Theano does (``config.device`` becomes ``'cpu'``), unless
``force_device=True``, which makes it an error. Under ``CROTON_AS_THEANO=1`` ``import theano``
imports this module whenever the flag asks for a GPU. With ``device=cpu`` nothing happens:
``pygpu_activated`` is False and libraries take their CPU paths.

``pygpu`` itself does not exist (``pygpu`` is None): device arrays are
``croton.cuda.array.DeviceArray``.

Example (``device=cpu``)::

    >>> from croton import gpuarray
    >>> gpuarray.pygpu_activated, gpuarray.dnn.dnn_present()
    (False, False)
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from croton.config import config
from croton.gpuarray import blas, dnn
from croton.gpuarray.basic_ops import (
    GpuContiguous,
    GpuFromHost,
    HostFromGpu,
    as_gpuarray_variable,
    gpu_contiguous,
    host_from_gpu,
    infer_context_name,
)
from croton.gpuarray.type import (
    ContextNotDefined,
    CudaContext,
    GpuArrayConstant,
    GpuArraySharedVariable,
    GpuArrayType,
    GpuArrayVariable,
    get_context,
    gpuarray_shared_constructor,
    list_contexts,
    reg_context,
)

_logger = logging.getLogger("theano.gpuarray")

pygpu = None
pygpu_activated = False


def transfer(x: Any, target: Any):
    """``x.transfer(target)`` for a GPU context name: ``x`` on that context, or None when no
    context has that name (``croton.tensor.transfer`` then refuses the target); for ``'cpu'``
    a GPU variable's ``host_from_gpu`` (None for others)."""
    if target == "cpu":
        return host_from_gpu(x) if isinstance(x, GpuArrayVariable) else None
    try:
        get_context(target)
    except ContextNotDefined:
        return None
    return as_gpuarray_variable(x, target)


def init_dev(dev: str, name: Any = None, preallocate: Any = None) -> None:
    """Initialise CUDA device ``dev`` (``'cuda'`` is ``'cuda0'``; ``'cudaN'`` device N) and
    register its context as ``name``. Raises ``croton.cuda.CudaUnavailableError`` (a
    RuntimeError, with CUDA's reason) without that device."""
    global pygpu_activated
    from croton.cuda import runtime

    if dev.startswith("opencl"):
        raise ValueError(f"croton has no OpenCL target: device {dev!r} (use cuda)")
    index = runtime.cuda_index(dev)
    key = f"cuda{index}"  # 'cuda' and 'cuda0' are one device: one context
    if key not in init_dev.devmap:
        runtime.require_device(f"device={dev}", index)
        context = CudaContext(dev)
        init_dev.devmap[key] = context
        reg_context(name, context)
        pygpu_activated = True
        if config.print_active_device:
            print(f"Mapped name {name} to device {dev}: {context.devname} ({context.bin_id})",
                  file=sys.stderr)
            if not dnn.dnn_available(name):
                print(f"Can not use cuDNN on context {name}: {dnn.dnn_available.msg}",
                      file=sys.stderr)
    pygpu_activated = True


#: 'cudaN' -> the context of device N, once initialised
init_dev.devmap = {}


def use(device: str, force: bool = False, default_to_move_computation_to_gpu: bool = True,
        move_shared_to_gpu: bool = True, preallocate: Any = None) -> None:
    """Theano's ``theano.gpuarray.use``: initialise ``device`` (``''``: none) and, unless both
    ``default_to_move_computation_to_gpu`` and ``move_shared_to_gpu`` are False, make it the
    default: croton's ``device`` flag becomes ``cuda``, so functions compile for the CUDA target
    and new float32 shared variables live in device memory (croton ties the two together).
    ``preallocate`` is accepted and ignored (croton's device memory is a caching pool)."""
    if force:
        if not (device.startswith("cuda") or device.startswith("opencl")):
            raise Exception("forced the init and bad device provided: " + device)
        assert not init_dev.devmap, "the device is already initialised"
    if device:
        init_dev(device, preallocate=preallocate)
    if (default_to_move_computation_to_gpu or move_shared_to_gpu) and None in list_contexts():
        config.device = get_context(None).dev


def _deactivate() -> None:
    """Forget the initialised device and go back to ``device=cpu`` (for tests)."""
    global pygpu_activated
    from croton.gpuarray import type as _type

    _type._context_reg.clear()
    init_dev.devmap.clear()
    pygpu_activated = False
    config.device = "cpu"


def _init_from_config() -> None:
    """What Theano does when ``theano.gpuarray`` is imported: use the ``device`` flag's GPU
    (or only initialise ``init_gpu_device``), logging an error and running on the CPU when
    that fails, or raising when ``force_device`` is set."""
    try:
        if config.device.startswith(("cuda", "opencl")):
            use(config.device)
        elif config.init_gpu_device.startswith(("cuda", "opencl")):
            init_dev(config.init_gpu_device)
    except Exception as exc:
        if config.force_device:
            raise
        asked = config.device if config.device != "cpu" else config.init_gpu_device
        config.device = "cpu"
        _logger.error("Could not initialize pygpu, support disabled: %s: %s. Running on the "
                      "CPU (theano.config.device is now 'cpu'); set force_device=True to make "
                      "this an error.", f"device={asked}", exc)


def _register() -> None:
    from croton.tensor.basic import register_transfer

    register_transfer(transfer)


_register()
_init_from_config()

__all__ = ["ContextNotDefined", "GpuArrayConstant", "GpuArraySharedVariable", "GpuArrayType",
           "GpuArrayVariable", "GpuContiguous", "GpuFromHost", "HostFromGpu",
           "as_gpuarray_variable", "blas", "dnn", "get_context", "gpu_contiguous",
           "gpuarray_shared_constructor", "host_from_gpu", "infer_context_name", "init_dev",
           "list_contexts", "pygpu", "pygpu_activated", "reg_context", "transfer", "use"]
