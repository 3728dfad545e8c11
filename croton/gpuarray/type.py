"""``theano.gpuarray.type`` on croton: GPU contexts, ``GpuArrayType`` and the GPU shared
variables.

croton places data by *function* (``device='cuda'`` compiles the whole function for the CUDA
target) and by *storage* (a shared variable created with ``device='cuda'`` lives in device
memory), not by graph type. So a ``GpuArrayType`` is a ``TensorType`` that also names its
context: it equals the ``TensorType`` of the same dtype and pattern (Theano's two types differ),
and every op takes its variables. The one context is the default one, ``None``, registered when
``theano.gpuarray`` initialises a CUDA device (``device=cuda``); without it, making a
``GpuArrayType`` raises ``ContextNotDefined``, as Theano does.

Example (no device initialised)::

    >>> from croton.gpuarray.type import GpuArrayType, ContextNotDefined
    >>> try:
    ...     GpuArrayType("float32", (False, False))
    ... except ContextNotDefined as exc:
    ...     print(exc)
    context name None not defined
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from croton.types import _PATTERN_NAMES, COMPLEX_DTYPES, TensorType

_context_reg: dict[Any, CudaContext] = {}


class ContextNotDefined(ValueError):
    """A context name that no device was registered under (Theano's exception)."""


class CudaContext:
    """The context of a CUDA device, as ``pygpu``'s ``GpuContext`` describes it: ``dev``
    (``'cuda'``, ``'cuda0'``), ``kind`` (``b'cuda'``), ``devname`` (the device's name) and
    ``bin_id`` (``'sm_90'``)."""

    kind = b"cuda"

    def __init__(self, dev: str) -> None:
        from croton.cuda import runtime

        self.dev = dev
        index = runtime.cuda_index(dev)
        self.devname = runtime.device_name(index) or f"CUDA device {index}"
        self.bin_id = "sm_" + (runtime.device_architecture(index) or "00")

    def __repr__(self) -> str:
        return f"<CudaContext {self.dev}: {self.devname} ({self.bin_id})>"


def reg_context(name: Any, ctx: CudaContext) -> None:
    """Register ``ctx`` under ``name`` (once per name, as Theano)."""
    if name in _context_reg:
        raise ValueError(f"context name {name} is already defined")
    if not isinstance(ctx, CudaContext):
        raise TypeError("context is not GpuContext")
    _context_reg[name] = ctx


def get_context(name: Any) -> CudaContext:
    """The context registered under ``name``; ``ContextNotDefined`` if none is."""
    if name not in _context_reg:
        raise ContextNotDefined(f"context name {name} not defined")
    return _context_reg[name]


def list_contexts():
    """The registered context names."""
    return _context_reg.keys()


def _unreg_context(name: Any) -> None:
    """Forget a context (Theano's helper for tests)."""
    del _context_reg[name]


def gpu_supported(data: Any) -> bool:
    """Whether values of ``data``'s dtype can live on the GPU (every dtype but complex)."""
    return str(data.dtype) not in COMPLEX_DTYPES


def move_to_gpu(data: Any) -> bool:
    """Whether Theano moves ``data`` to the GPU by default: not complex, not a scalar."""
    return gpu_supported(data) and data.ndim != 0


class GpuArrayType(TensorType):
    """Theano's ``GpuArrayType(dtype, broadcastable, context_name=None, name=None)``: a tensor
    type on a context, which must be registered. Equal (and hashing equal) to the
    ``TensorType`` of the same dtype and broadcast pattern, since croton keeps the device out
    of graph types; prints as Theano's (``GpuArrayType<None>(float32, matrix)``)."""

    def __init__(self, dtype: str, broadcastable: Sequence[bool], context_name: Any = None,
                 name: str | None = None) -> None:
        object.__setattr__(self, "dtype", str(dtype))
        object.__setattr__(self, "broadcastable", tuple(bool(b) for b in broadcastable))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "context_name", context_name)
        get_context(context_name)  # a registered context, or ContextNotDefined
        if self.dtype in COMPLEX_DTYPES:
            raise TypeError(f"Unsupported dtype for GpuArrayType: {self.dtype}")
        self.__post_init__()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TensorType):
            return (self.dtype, self.broadcastable) == (other.dtype, other.broadcastable)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.dtype, self.broadcastable))  # as the TensorType it equals

    def __str__(self) -> str:
        if self.name:
            return self.name
        kind = _PATTERN_NAMES.get(self.broadcastable)
        if kind is None:
            kind = f"{self.ndim}D" if not any(self.broadcastable) else str(self.broadcastable)
        return f"GpuArrayType<{self.context_name}>({self.dtype}, {kind})"

    __repr__ = __str__

    def __reduce__(self):
        return (GpuArrayType, (self.dtype, self.broadcastable, self.context_name, self.name))

    @property
    def context(self) -> CudaContext:
        """The context registered under ``context_name``."""
        return get_context(self.context_name)

    def clone(self, dtype: str | None = None,
              broadcastable: Sequence[bool] | None = None) -> GpuArrayType:
        """This type with another dtype or pattern, on the same context."""
        return GpuArrayType(dtype or self.dtype,
                            self.broadcastable if broadcastable is None else broadcastable,
                            self.context_name, self.name)

    def value_zeros(self, shape: Sequence[int]):
        """A device array of zeros of this dtype (a ``croton.cuda.array.DeviceArray``)."""
        from croton.cuda.array import DeviceArray

        return DeviceArray.from_numpy(np.zeros(shape, self.dtype))


class _Kind(type):
    """Classes whose ``isinstance`` answers from a predicate: croton's variables are one class,
    and Theano's GPU variable classes are views of it."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return cls._is(obj)


class GpuArrayVariable(metaclass=_Kind):
    """``isinstance(v, GpuArrayVariable)``: ``v`` is a croton variable of a ``GpuArrayType``."""

    @staticmethod
    def _is(obj: Any) -> bool:
        from croton.graph import Variable

        return isinstance(obj, Variable) and isinstance(obj.type, GpuArrayType)


class GpuArrayConstant(metaclass=_Kind):
    """``isinstance(v, GpuArrayConstant)``: a croton constant of a ``GpuArrayType``."""

    @staticmethod
    def _is(obj: Any) -> bool:
        from croton.graph import Constant

        return isinstance(obj, Constant) and isinstance(obj.type, GpuArrayType)


class GpuArraySharedVariable(metaclass=_Kind):
    """``isinstance(v, GpuArraySharedVariable)``: a croton shared variable whose value lives in
    CUDA device memory (``croton.shared(value, device='cuda')``, or any float32 one under
    ``device=cuda``)."""

    @staticmethod
    def _is(obj: Any) -> bool:
        from croton.shared import SharedVariable

        return isinstance(obj, SharedVariable) and obj.device.startswith("cuda")


notset = object()


def gpuarray_shared_constructor(value, name: str | None = None, strict: bool = False,
                                allow_downcast: bool | None = None, borrow: bool = False,
                                broadcastable: Sequence[bool] | None = None, target: Any = notset):
    """Theano's shared constructor for the GPU: ``value`` (an ndarray) in device memory, typed
    ``GpuArrayType`` on ``target`` (default: the default context, ``None``). Refuses as Theano:
    ``target='cpu'``, values that are not arrays, complex or 0-d values without a ``target``,
    and a missing context (``TypeError`` without a default one, ``ContextNotDefined`` for a
    named one)."""
    from croton.shared import shared

    if target == "cpu":
        raise TypeError("not for me")
    from croton.cuda.array import DeviceArray

    if isinstance(value, DeviceArray):
        value = value.to_numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError("ndarray or GpuArray required")
    if target is notset:
        target = None
        if not gpu_supported(value):
            raise TypeError("The GPU do not support that value.")
        if not move_to_gpu(value):
            raise TypeError("We do not move that data by default to the GPU")
    try:
        context = get_context(target)
    except ContextNotDefined:
        if target is None:
            raise TypeError("No default context and no context specified") from None
        raise
    if broadcastable is None:
        broadcastable = (False,) * value.ndim
    var = shared(value, name, strict, allow_downcast, borrow, broadcastable,
                 device=context.dev)  # the context's device (cuda, cudaN)
    var.type = GpuArrayType(var.type.dtype, var.type.broadcastable, target)
    return var


__all__ = ["ContextNotDefined", "CudaContext", "GpuArrayConstant", "GpuArraySharedVariable",
           "GpuArrayType", "GpuArrayVariable", "get_context", "gpu_supported",
           "gpuarray_shared_constructor", "list_contexts", "move_to_gpu", "reg_context"]
