"""``theano.gpuarray.dnn`` on croton: the availability checks, ``dnn_conv`` / ``dnn_conv3d`` /
``dnn_pool``, which build croton's own convolution and pooling ops (the CUDA target lowers them
to its kernels; cuDNN is not required), and ``dnn_batch_normalization_train`` / ``_test``, built
from elementwise ops and reductions as Theano documents them. Like Theano's, each needs a GPU
context (a ``ValueError`` without one). The convolution op classes ``GpuDnnConvDesc``,
``GpuDnnConv``, ``GpuDnnConvGradW`` and ``GpuDnnConvGradI`` (with ``GpuAllocEmpty``: the
transposed convolution of GAN code) build the same ops; other cuDNN ops are not provided.

``dnn_present()`` is True when a CUDA device is initialised (``pygpu_activated``) and croton's
CUDA target has kernels for convolution and pooling and their gradients; its ``msg`` says why
not. Libraries (Lasagne) use it to choose their cuDNN layers.

Example (no device initialised)::

    >>> from croton.gpuarray import dnn
    >>> dnn.dnn_present(), dnn.version(raises=False)
    (False, -1)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from croton.gpuarray.basic_ops import as_gpuarray_variable, gpu_contiguous, infer_context_name
from croton.gpuarray.type import get_context
from croton.graph import Variable

#: The op kinds a Theano program's cuDNN layers need on the CUDA target.
KINDS = ("conv", "conv_grad_input", "conv_grad_filters", "pool", "pool_grad")


def _missing_kinds() -> list[str]:
    """The op kinds of ``KINDS`` that the CUDA target has no kernel generator of its own for."""
    from croton.codegen.lowering import TARGET_LOWERINGS
    from croton.codegen.target import CUDA

    return [k for k in KINDS if not any((name, k) in TARGET_LOWERINGS for name in CUDA.lineage())]


def dnn_present() -> bool:
    """Whether convolution and pooling can run on the initialised CUDA device (see
    ``dnn_present.msg``)."""
    from croton import gpuarray

    if not gpuarray.pygpu_activated:
        dnn_present.msg = "PyGPU not available: no CUDA device initialised (device=cuda)"
        return False
    missing = _missing_kinds()
    if missing:
        dnn_present.msg = (f"croton's CUDA target has no kernels for {', '.join(missing)} yet "
                           f"(docs/cuda.md)")
        return False
    dnn_present.msg = None
    return True


dnn_present.msg = None


def dnn_available(context_name: Any) -> bool:
    """``dnn_present()`` for the context ``context_name`` (which must exist if present)."""
    if not dnn_present():
        dnn_available.msg = dnn_present.msg
        return False
    get_context(context_name)
    dnn_available.msg = None
    return True


dnn_available.msg = None


def version(raises: bool = True) -> int:
    """-1 when convolution is present: croton's kernels are its own, not cuDNN, so there is no
    cuDNN version to report (programs comparing it, ``version() >= 5000``, take their paths
    without cuDNN, which croton runs too). Not present: ``RuntimeError``, or -1 with
    ``raises=False`` (Theano's contract)."""
    if not dnn_present() and raises:
        raise RuntimeError("We can't determine the cudnn version as it is not available",
                           dnn_present.msg)
    return -1


def _common(img: Any, kerns: Any | None, workmem: Any, algo: Any) -> Any:
    if workmem is not None:
        if algo is not None:
            raise ValueError("You can't use both algo and workmem")
        warnings.warn("workmem is deprecated, use algo instead", stacklevel=3)
    return infer_context_name(*[v for v in (img, kerns) if isinstance(v, Variable)])


def dnn_conv(img, kerns, border_mode="valid", subsample=(1, 1), dilation=(1, 1),
             conv_mode: str = "conv", direction_hint=None, workmem=None, algo=None,
             precision=None, num_groups: int = 1) -> Variable:
    """Theano's cuDNN 2-d convolution of ``img`` (batch, channels, rows, cols) by ``kerns``:
    croton's ``conv2d`` with ``filter_flip = conv_mode == 'conv'`` ('cross': a correlation),
    on the images' GPU context. ``direction_hint``, ``algo`` and ``precision`` choose among
    cuDNN's algorithms and are accepted and ignored (croton chooses its kernels)."""
    from croton.tensor.nnet import conv2d

    return _conv(conv2d, img, kerns, border_mode, subsample, dilation, conv_mode, workmem,
                 algo, num_groups)


def dnn_conv3d(img, kerns, border_mode="valid", subsample=(1, 1, 1), dilation=(1, 1, 1),
               conv_mode: str = "conv", direction_hint=None, workmem=None, algo=None,
               precision=None, num_groups: int = 1) -> Variable:
    """``dnn_conv`` over three spatial dimensions (croton's ``conv3d``)."""
    from croton.tensor.nnet import conv3d

    return _conv(conv3d, img, kerns, border_mode, subsample, dilation, conv_mode, workmem,
                 algo, num_groups)


def _conv(conv, img, kerns, border_mode, subsample, dilation, conv_mode, workmem, algo,
          num_groups) -> Variable:
    ctx = _common(img, kerns, workmem, algo)
    if conv_mode not in ("conv", "cross"):
        raise ValueError(f"conv_mode must be 'conv' or 'cross', not {conv_mode!r}")
    img = gpu_contiguous(as_gpuarray_variable(img, ctx))
    kerns = gpu_contiguous(as_gpuarray_variable(kerns, ctx))
    out = conv(img, kerns, border_mode=border_mode, subsample=tuple(subsample),
               filter_flip=conv_mode == "conv", filter_dilation=tuple(dilation),
               num_groups=num_groups)
    return as_gpuarray_variable(out, ctx)


def dnn_pool(img, ws: Sequence[int], stride: Sequence[int] | None = None, mode: str = "max",
             pad: Sequence[int] | None = None) -> Variable:
    """Theano's cuDNN pooling over the last 2 or 3 dimensions (``len(ws)``), borders ignored:
    croton's ``pool_2d``/``pool_3d`` with ``ignore_border=True``. ``stride`` defaults to ones
    (Theano's default here, unlike ``pool_2d``'s), ``pad`` to zeros; ``mode`` is ``'max'``,
    ``'max_deterministic'`` (the same: croton's max pooling is deterministic),
    ``'average_inc_pad'``, ``'average_exc_pad'`` or ``'sum'``."""
    from croton.tensor.signal.pool import pool_2d, pool_3d

    ctx = _common(img, None, None, None)
    ws = tuple(ws)
    if len(ws) not in (2, 3):
        raise ValueError(f"dnn_pool: ws must have 2 or 3 entries, got {ws}")
    stride = (1,) * len(ws) if stride is None else tuple(stride)
    pad = (0,) * len(ws) if pad is None else tuple(pad)
    if mode == "max_deterministic":
        mode = "max"
    img = gpu_contiguous(as_gpuarray_variable(img, ctx))
    pool = pool_2d if len(ws) == 2 else pool_3d
    out = pool(img, ws=ws, ignore_border=True, stride=stride, pad=pad, mode=mode)
    return as_gpuarray_variable(out, ctx)


class ConvDescriptor:
    """What ``GpuDnnConvDesc(...)(kern_shape)`` gives: the convolution's parameters, read by
    ``GpuDnnConv``, ``GpuDnnConvGradW`` and ``GpuDnnConvGradI`` (not a graph variable)."""

    def __init__(self, desc: GpuDnnConvDesc, kern_shape: Any) -> None:
        self.border_mode, self.subsample, self.dilation = desc.border_mode, desc.subsample, \
            desc.dilation
        self.conv_mode, self.num_groups, self.kern_shape = desc.conv_mode, desc.num_groups, \
            kern_shape


class GpuDnnConvDesc:
    """Theano's convolution descriptor: ``GpuDnnConvDesc(border_mode, subsample, dilation,
    conv_mode, precision, num_groups)(kern_shape)``, with Theano's checks of its arguments."""

    __props__ = ("border_mode", "subsample", "dilation", "conv_mode", "precision", "num_groups")

    def __init__(self, border_mode: Any, subsample=(1, 1), dilation=(1, 1),
                 conv_mode: str = "conv", precision: str = "float32", num_groups: int = 1) -> None:
        subsample, dilation = tuple(subsample), tuple(dilation)
        if len(subsample) not in (2, 3) or len(dilation) != len(subsample):
            raise ValueError(f"subsample and dilation must have 2 or 3 equal numbers of "
                             f"elements, got {subsample} and {dilation}")
        if isinstance(border_mode, int):
            border_mode = (border_mode,) * len(subsample)
        if isinstance(border_mode, tuple | list):
            border_mode = tuple(int(b) for b in border_mode)
        if not ((isinstance(border_mode, tuple) and len(border_mode) == len(subsample)
                 and min(border_mode) >= 0) or border_mode in ("valid", "full", "half")):
            raise ValueError(f'invalid border_mode {border_mode}, which must be either "valid", '
                             f'"full", "half", an integer or a pair of integers')
        if conv_mode not in ("conv", "cross"):
            raise ValueError(f"conv_mode must be 'conv' or 'cross', not {conv_mode!r}")
        self.border_mode, self.subsample, self.dilation = border_mode, subsample, dilation
        self.conv_mode, self.precision, self.num_groups = conv_mode, precision, num_groups

    def __call__(self, kern_shape: Any) -> ConvDescriptor:
        return ConvDescriptor(self, kern_shape)


class _DnnConvOp:
    """The cuDNN convolution ops' common call: ``(a, b, output, desc, alpha=None, beta=None)``
    gives ``alpha * result + beta * output`` (alpha 1, beta 0: ``output`` gives only a
    shape)."""

    def __init__(self, algo: Any = None, inplace: bool = False, num_groups: int = 1) -> None:
        self.algo, self.inplace, self.num_groups = algo, inplace, num_groups

    def __call__(self, a, b, output, desc: ConvDescriptor, alpha=None, beta=None) -> Variable:
        import croton.tensor as T

        if not isinstance(desc, ConvDescriptor):
            raise TypeError(f"desc must be what GpuDnnConvDesc(...)(kern_shape) returns, not "
                            f"{type(desc).__name__}")
        ctx = infer_context_name(*[v for v in (a, b, output) if isinstance(v, Variable)])
        a, b, output = (as_gpuarray_variable(v, ctx) for v in (a, b, output))
        if a.ndim not in (4, 5) or b.ndim != a.ndim or output.ndim != a.ndim:
            raise TypeError(f"{type(self).__name__}: inputs must be 4D or 5D tensors of one "
                            f"rank, got {a.ndim}, {b.ndim} and {output.ndim}")
        args = dict(border_mode=desc.border_mode, subsample=desc.subsample,
                    filter_flip=desc.conv_mode == "conv", filter_dilation=desc.dilation,
                    num_groups=desc.num_groups)
        out = self._compute(a, b, output, a.ndim - 2, args)
        if alpha is not None:
            out = out * alpha
        if beta is not None:
            out = out + T.cast(beta, out.dtype) * output
        return as_gpuarray_variable(out, ctx)


class GpuDnnConv(_DnnConvOp):
    """``GpuDnnConv(...)(img, kerns, output, desc)``: the forward convolution."""

    def _compute(self, img, kerns, output, nd, args):
        from croton.tensor.nnet import conv2d, conv3d

        return (conv2d if nd == 2 else conv3d)(img, kerns, **args)


class GpuDnnConvGradW(_DnnConvOp):
    """``GpuDnnConvGradW(...)(img, topgrad, output, desc)``: the gradient wrt the filters, of
    ``output``'s shape."""

    def _compute(self, img, topgrad, output, nd, args):
        from croton.tensor.nnet.abstract_conv import (
            conv2d_grad_wrt_weights,
            conv3d_grad_wrt_weights,
        )

        grad = conv2d_grad_wrt_weights if nd == 2 else conv3d_grad_wrt_weights
        return grad(img, topgrad, [output.shape[i] for i in range(nd + 2)], **args)


class GpuDnnConvGradI(_DnnConvOp):
    """``GpuDnnConvGradI(...)(kerns, topgrad, output, desc)``: the gradient wrt the input, of
    ``output``'s shape (the transposed convolution of GAN generators)."""

    def _compute(self, kerns, topgrad, output, nd, args):
        from croton.tensor.nnet.abstract_conv import conv2d_grad_wrt_inputs, conv3d_grad_wrt_inputs

        grad = conv2d_grad_wrt_inputs if nd == 2 else conv3d_grad_wrt_inputs
        return grad(topgrad, kerns, [output.shape[i] for i in range(nd + 2)], **args)


def _bn_axes(inputs: Variable, mode: str) -> tuple[int, ...]:
    if mode == "per-activation":
        return (0,)
    if mode == "spatial":
        return (0, *range(2, inputs.ndim))
    raise ValueError(f"mode must be 'per-activation' or 'spatial', not {mode!r}")


def _bn_check(epsilon: float, inputs: Variable, **others: Variable | None) -> None:
    for name, v in others.items():
        if v is not None and v.ndim != inputs.ndim:
            raise ValueError(f"{name} must be of the same dimensionality as inputs; got "
                             f"{v.ndim} instead of {inputs.ndim}")
    if epsilon < 1e-5:
        raise ValueError(f"epsilon must be at least 1e-5, got {epsilon:f}")


def dnn_batch_normalization_train(inputs, gamma, beta, mode: str = "per-activation",
                                  epsilon: float = 1e-4, running_average_factor: float = 0.1,
                                  running_mean=None, running_var=None) -> tuple:
    """Theano's cuDNN batch normalization in training: ``(out, mean, invstd)``, plus the new
    running mean and variance when both are given, over axis 0 (``'per-activation'``) or
    axes 0, 2, 3... (``'spatial'``), computed as Theano documents it (elementwise ops and
    reductions: ``out = (inputs - mean) * gamma * invstd + beta``, ``invstd = 1 /
    sqrt(var + epsilon)``, the running variance updated with the unbiased ``m / (m - 1) *
    var``)."""
    import croton.tensor as T

    ctx = _common(inputs, None, None, None)
    _bn_check(epsilon, inputs, gamma=gamma, beta=beta, running_mean=running_mean,
              running_var=running_var)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be given or both "
                         "be None")
    axes = _bn_axes(inputs, mode)
    mean = inputs.mean(axis=axes, keepdims=True)
    var = T.sqr(inputs - mean).mean(axis=axes, keepdims=True)
    invstd = 1 / T.sqrt(var + epsilon)
    out = (inputs - mean) * gamma * invstd + beta
    outs = [out, mean, invstd]
    if running_mean is not None:
        m = T.cast(T.prod([inputs.shape[a] for a in axes]), inputs.dtype)
        f = running_average_factor
        outs += [running_mean * (1 - f) + mean * f,
                 running_var * (1 - f) + (m / (m - 1)) * var * f]
    return tuple(as_gpuarray_variable(v, ctx) for v in outs)


def dnn_batch_normalization_test(inputs, gamma, beta, mean, var, mode: str = "per-activation",
                                 epsilon: float = 1e-4) -> Variable:
    """Theano's cuDNN batch normalization at inference:
    ``(inputs - mean) * gamma / sqrt(var + epsilon) + beta``."""
    import croton.tensor as T

    ctx = _common(inputs, None, None, None)
    _bn_check(epsilon, inputs, gamma=gamma, beta=beta, mean=mean, var=var)
    _bn_axes(inputs, mode)
    return as_gpuarray_variable((inputs - mean) * gamma / T.sqrt(var + epsilon) + beta, ctx)


__all__ = ["ConvDescriptor", "GpuDnnConv", "GpuDnnConvDesc", "GpuDnnConvGradI", "GpuDnnConvGradW",
           "dnn_available", "dnn_batch_normalization_test", "dnn_batch_normalization_train",
           "dnn_conv", "dnn_conv3d", "dnn_pool", "dnn_present", "version"]
