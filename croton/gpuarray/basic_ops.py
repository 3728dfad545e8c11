"""``theano.gpuarray.basic_ops`` on croton: the transfers (``GpuFromHost``, ``HostFromGpu``,
``host_from_gpu``), ``gpu_contiguous``, ``as_gpuarray_variable`` and ``infer_context_name``.

In croton a function runs wholly on one device and its kernels take strided arrays, so these
ops move and copy nothing: each is a graph node whose output views its input (the
``rebroadcast`` op with the input's own pattern, lowered to a view and no kernel), typed
``GpuArrayType`` on the GPU side. They keep what Theano programs rely on: the types
(``host_from_gpu(x).type`` is a ``TensorType``), the errors, and
``as_gpuarray_variable`` seeing through earlier transfers.

Example (a context exists only once a CUDA device is initialised, so without one)::

    >>> import croton.tensor as T
    >>> from croton.gpuarray.basic_ops import as_gpuarray_variable
    >>> try:
    ...     as_gpuarray_variable(T.fmatrix("x"), None)
    ... except ValueError as exc:
    ...     print(exc)
    context name None not defined
"""

from __future__ import annotations

from typing import Any

import numpy as np

from croton.gpuarray.type import ContextNotDefined, GpuArrayType, get_context, gpu_supported
from croton.graph import Constant, Variable
from croton.types import COMPLEX_DTYPES, TensorType


def _view(x: Variable, out_type: TensorType) -> Variable:
    """A node whose output is ``x`` itself (a view, no kernel), of type ``out_type``."""
    from croton.ops.table import OPS, make_output

    out = make_output(OPS["rebroadcast"], [x], pattern=x.broadcastable)
    out.type = out_type
    return out


def _transfer_source(v: Variable) -> Variable | None:
    """The input of the transfer that made ``v`` (``GpuFromHost`` or ``HostFromGpu``)."""
    node = v.owner
    if node is None or node.op.name != "rebroadcast" or len(node.inputs) != 1:
        return None
    (x,) = node.inputs
    if x.broadcastable != v.broadcastable:
        return None
    if isinstance(v.type, GpuArrayType) != isinstance(x.type, GpuArrayType):
        return x
    return None


class HostFromGpu:
    """Theano's transfer to the host: a ``GpuArrayType`` variable as a ``TensorType`` one."""

    __props__ = ()

    def __str__(self) -> str:
        return "HostFromGpu(gpuarray)"

    def __call__(self, x: Variable) -> Variable:
        if not isinstance(x, Variable) or not isinstance(x.type, GpuArrayType):
            raise TypeError(x)
        return _view(x, TensorType(x.dtype, x.broadcastable))


host_from_gpu = HostFromGpu()


class GpuFromHost:
    """Theano's transfer to the GPU context ``context_name``: a ``TensorType`` variable as a
    ``GpuArrayType`` one."""

    __props__ = ("context_name",)

    def __init__(self, context_name: Any) -> None:
        self.context_name = context_name

    def __str__(self) -> str:
        return f"GpuFromHost<{self.context_name}>"

    def __call__(self, x: Variable) -> Variable:
        if not isinstance(x, Variable) or isinstance(x.type, GpuArrayType):
            raise TypeError(x)
        if x.dtype in COMPLEX_DTYPES:
            raise TypeError("complex not supported in the new gpuarray back-end.", x)
        return _view(x, GpuArrayType(x.dtype, x.broadcastable, self.context_name))


class GpuContiguous:
    """Theano's ``gpu_contiguous``: its input on the GPU, C-contiguous. croton's kernels read
    strided arrays, so no copy is made: a view typed ``GpuArrayType``."""

    __props__ = ()

    def __call__(self, x: Any) -> Variable:
        context_name = infer_context_name(*([x] if isinstance(x, Variable) else []))
        x = as_gpuarray_variable(x, context_name)
        return _view(x, x.type)


gpu_contiguous = GpuContiguous()


class GpuAllocEmpty:
    """Theano's ``GpuAllocEmpty(dtype, context_name)(*shape)``: an array of that shape whose
    values must not be read (croton fills it with zeros). Programs use it for an output shape,
    as the ``output`` of ``GpuDnnConvGradI``; croton then folds the shape and builds no array."""

    __props__ = ("dtype", "context_name")

    def __init__(self, dtype: str, context_name: Any) -> None:
        self.dtype, self.context_name = str(dtype), context_name

    def __call__(self, *shape: Any) -> Variable:
        import croton.tensor as T

        get_context(self.context_name)
        out = T.alloc(np.zeros((), self.dtype), *shape)
        return as_gpuarray_variable(out, self.context_name)


def as_gpuarray_variable(x: Any, context_name: Any) -> Variable:
    """``x`` as a variable on the GPU context ``context_name``: itself when it already is one,
    the GPU variable behind a ``host_from_gpu``, a ``GpuFromHost`` of a tensor variable, or a
    constant of a value (a NumPy array, a number, a device array)."""
    if isinstance(x, Variable):
        while True:
            if isinstance(x.type, GpuArrayType) and x.type.context_name == context_name:
                return x
            source = _transfer_source(x)
            if source is None:
                break
            x = source
        if isinstance(x.type, GpuArrayType):  # another context: croton has one
            get_context(context_name)
            return _view(x, GpuArrayType(x.dtype, x.broadcastable, context_name))
        return GpuFromHost(context_name)(x)
    get_context(context_name)
    data = np.asarray(x)
    if not gpu_supported(data):
        raise TypeError(f"complex not supported in the new gpuarray back-end: {x!r}")
    bcast = tuple(s == 1 for s in data.shape)
    return Constant(GpuArrayType(str(data.dtype), bcast, context_name), data)


def infer_context_name(*vars: Variable) -> Any:
    """The context of the nearest GPU variable among ``vars`` and, through single-input nodes,
    their ancestors; else the default context ``None`` if it exists (``ValueError`` if not)."""
    todo = list(reversed(vars))
    while todo:
        v = todo.pop()
        if isinstance(v.type, GpuArrayType):
            return v.type.context_name
        if v.owner is not None:
            source = _transfer_source(v)
            if source is not None and isinstance(source.type, GpuArrayType):
                return source.type.context_name
            if len(v.owner.inputs) == 1:
                todo[:0] = v.owner.inputs
    try:
        get_context(None)
        return None
    except ContextNotDefined:
        raise ValueError("Could not infer context from inputs") from None


__all__ = ["GpuAllocEmpty", "GpuContiguous", "GpuFromHost", "HostFromGpu", "as_gpuarray_variable",
           "gpu_contiguous", "host_from_gpu", "infer_context_name"]
