"""``theano.gpuarray.blas``'s correlation ops on croton: ``GpuCorrMM`` and ``GpuCorr3dMM``
(what Lasagne's ``Conv2DMMLayer`` calls) build croton's ``conv2d``/``conv3d`` without the
filter flip, on the inputs' GPU context. The BLAS ops (``GpuGemm``...) are not provided: croton
chooses its own kernels for ``T.dot``.

Example::

    >>> from croton.gpuarray.blas import GpuCorrMM
    >>> GpuCorrMM(border_mode="half", subsample=(2, 2)).subsample
    (2, 2)
"""

from __future__ import annotations

from typing import Any

from croton.gpuarray.basic_ops import as_gpuarray_variable, infer_context_name
from croton.graph import Variable


class GpuCorrMM:
    """Theano's ``GpuCorrMM(border_mode, subsample, filter_dilation, num_groups, unshared)``:
    called on (img, kern), the 2-d correlation (no filter flip) of 4-d inputs."""

    ndim = 2
    __props__ = ("border_mode", "subsample", "filter_dilation", "num_groups", "unshared")

    def __init__(self, border_mode: Any = "valid", subsample=(1, 1), filter_dilation=(1, 1),
                 num_groups: int = 1, unshared: bool = False) -> None:
        if unshared:
            raise NotImplementedError(f"{type(self).__name__}: unshared correlation is not "
                                      f"supported by croton")
        if len(tuple(subsample)) != self.ndim or len(tuple(filter_dilation)) != self.ndim:
            raise ValueError(f"subsample and filter_dilation must have {self.ndim} elements")
        self.border_mode, self.subsample = border_mode, tuple(subsample)
        self.filter_dilation, self.num_groups, self.unshared = tuple(filter_dilation), \
            num_groups, unshared

    def __call__(self, img: Any, kern: Any) -> Variable:
        from croton.tensor.nnet import conv2d, conv3d

        ctx = infer_context_name(*[v for v in (img, kern) if isinstance(v, Variable)])
        img, kern = as_gpuarray_variable(img, ctx), as_gpuarray_variable(kern, ctx)
        if img.ndim != self.ndim + 2:
            raise TypeError(f"img must be {self.ndim + 2}D tensor")
        if kern.ndim != self.ndim + 2:
            raise TypeError(f"kern must be {self.ndim + 2}D tensor")
        conv = conv2d if self.ndim == 2 else conv3d
        out = conv(img, kern, border_mode=self.border_mode, subsample=self.subsample,
                   filter_flip=False, filter_dilation=self.filter_dilation,
                   num_groups=self.num_groups)
        return as_gpuarray_variable(out, ctx)


class GpuCorr3dMM(GpuCorrMM):
    """``GpuCorrMM`` over three spatial dimensions (5-d inputs)."""

    ndim = 3

    def __init__(self, border_mode: Any = "valid", subsample=(1, 1, 1),
                 filter_dilation=(1, 1, 1), num_groups: int = 1, unshared: bool = False) -> None:
        super().__init__(border_mode, subsample, filter_dilation, num_groups, unshared)


__all__ = ["GpuCorr3dMM", "GpuCorrMM"]
