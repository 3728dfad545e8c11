"""``croton.tensor.nnet.abstract_conv`` (Theano's ``theano.tensor.nnet.abstract_conv``): 2-d and
3-d convolutions with padding, subsampling, filter dilation and groups, the transposed
convolution (``conv2d_grad_wrt_inputs``, ``AbstractConv2d_gradInputs``), the gradient wrt the
filters (``conv2d_grad_wrt_weights``, ``AbstractConv2d_gradWeights``), and Theano's shape helpers
(``get_conv_output_shape``, ``get_conv_shape_1axis``, ...).

Every function builds one compiled primitive of ``croton/ops/conv.py``; the classes are callables
with Theano's constructor arguments, so code written against Theano's ops (Lasagne's
``TransposedConv2DLayer`` and ``DilatedConv2DLayer``) runs unchanged.

Example::

    >>> import croton, numpy, croton.tensor as T
    >>> from croton.tensor.nnet import abstract_conv
    >>> w, g = T.dtensor4('w'), T.dtensor4('g')
    >>> up = abstract_conv.conv2d_grad_wrt_inputs(g, w, (1, 1, 3, 3), subsample=(2, 2))
    >>> f = croton.function([w, g], up, mode='NUMPY')
    >>> f(numpy.ones((1, 1, 1, 1)), numpy.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 0., 1.],
           [0., 0., 0.],
           [1., 0., 1.]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.graph import Constant, Variable, user_source_line
from croton.ops.conv import FAMILY
from croton.ops.table import make_output
from croton.tensor import math as _math
from croton.tensor.basic import as_tensor_variable
from croton.types import FLOAT_DTYPES, upcast, upgrade_to_float


# --- Theano's shape helpers ---------------------------------------------------------------------
def get_conv_shape_1axis(image_shape, kernel_shape, border_mode, subsample, dilation=1):
    """Output length of one axis (None when any argument is None), as Theano computes it:
    ``get_conv_shape_1axis(7, 3, 'half', 2) == 4``. Works on symbolic sizes too."""
    if None in (image_shape, kernel_shape, border_mode, subsample, dilation):
        return None
    dil_k = (kernel_shape - 1) * dilation + 1
    if isinstance(border_mode, str):
        pad_l = pad_r = {"half": dil_k // 2, "full": dil_k - 1, "valid": 0}[border_mode]
    else:
        pad_l, pad_r = border_mode if isinstance(border_mode, tuple) else (border_mode,) * 2
        if _known(pad_l) and _known(pad_r) and (pad_l < 0 or pad_r < 0):
            raise ValueError("border_mode must be >= 0")
    if _known(pad_l) and _known(pad_r) and pad_l == 0 and pad_r == 0:
        out = image_shape - dil_k
    else:
        out = image_shape + pad_l + pad_r - dil_k
    if not (isinstance(subsample, int) and subsample == 1):
        out = out // subsample
    return out + 1


def _known(v) -> bool:
    return isinstance(v, int | np.integer)


def _per_axis(border_mode, i):
    return border_mode[i] if isinstance(border_mode, tuple) else border_mode


def get_conv_output_shape(image_shape, kernel_shape, border_mode, subsample,
                          filter_dilation=None) -> tuple:
    """Theano's output shape of a convolution: ``(batch, out channels, *spatial)``;
    ``get_conv_output_shape((2, 3, 7, 7), (4, 3, 3, 3), 'valid', (1, 1)) == (2, 4, 5, 5)``."""
    nd = len(subsample)
    dil = filter_dilation if filter_dilation is not None else (1,) * nd
    return (image_shape[0], kernel_shape[0]) + tuple(
        get_conv_shape_1axis(image_shape[2 + i], kernel_shape[-nd + i], _per_axis(border_mode, i),
                             subsample[i], dil[i]) for i in range(nd))


def get_conv_gradweights_shape_1axis(image_shape, top_shape, border_mode, subsample, dilation):
    """Filter length of one axis from the image and output lengths (None when not exact)."""
    if None in (image_shape, top_shape, border_mode, subsample, dilation):
        return None
    if subsample != 1 or border_mode == "half":
        return None
    if border_mode == "full":
        k = top_shape - image_shape
    elif border_mode == "valid":
        k = image_shape - top_shape
    else:
        pad_l, pad_r = border_mode if isinstance(border_mode, tuple) else (border_mode,) * 2
        k = image_shape + pad_l + pad_r - top_shape
    k = k + 1
    return (k - 1) // dilation + 1 if dilation > 1 else k


def get_conv_gradweights_shape(image_shape, top_shape, border_mode, subsample,
                               filter_dilation=None, num_groups=1) -> tuple:
    """Theano's filter shape of a gradient wrt the weights (None where not exact)."""
    nd = len(subsample)
    dil = filter_dilation if filter_dilation is not None else (1,) * nd
    nchan = image_shape[1] // num_groups if image_shape[1] is not None else None
    return (top_shape[1], nchan) + tuple(
        get_conv_gradweights_shape_1axis(image_shape[2 + i], top_shape[2 + i],
                                         _per_axis(border_mode, i), subsample[i], dil[i])
        for i in range(nd))


def get_conv_gradinputs_shape_1axis(kernel_shape, top_shape, border_mode, subsample, dilation):
    """Image length of one axis from the filter and output lengths (None unless subsample is 1)."""
    if None in (kernel_shape, top_shape, border_mode, subsample, dilation) or subsample != 1:
        return None
    dil_k = (kernel_shape - 1) * dilation + 1
    if isinstance(border_mode, str):
        pad_l = pad_r = {"half": dil_k // 2, "full": dil_k - 1, "valid": 0}[border_mode]
    else:
        pad_l, pad_r = border_mode if isinstance(border_mode, tuple) else (border_mode,) * 2
    return top_shape + dil_k - 1 - pad_l - pad_r


def get_conv_gradinputs_shape(kernel_shape, top_shape, border_mode, subsample,
                              filter_dilation=None, num_groups=1) -> tuple:
    """Theano's input shape of a gradient wrt the inputs (None where not exact)."""
    nd = len(top_shape) - 2
    dil = filter_dilation if filter_dilation is not None else (1,) * nd
    nkern = kernel_shape[1]
    if num_groups > 1 and nkern is not None:
        nkern = nkern * num_groups
    return (top_shape[0], nkern) + tuple(
        get_conv_gradinputs_shape_1axis(kernel_shape[-nd + i], top_shape[2 + i],
                                        _per_axis(border_mode, i), subsample[i], dil[i])
        for i in range(nd))


def check_conv_gradinputs_shape(image_shape, kernel_shape, output_shape, border_mode, subsample,
                                filter_dilation=None) -> bool:
    """False when a convolution of ``image_shape`` cannot give ``output_shape`` (unknown
    entries are accepted), as Theano's helper."""
    image_shape, kernel_shape, output_shape = map(tuple, (image_shape, kernel_shape, output_shape))
    if not len(image_shape) == len(kernel_shape) == len(output_shape) == len(subsample) + 2:
        return False
    computed = get_conv_output_shape(image_shape, kernel_shape, border_mode, subsample,
                                     filter_dilation)
    return all(not (_known(a) and _known(b)) or int(a) == int(b)
               for a, b in zip(output_shape, computed))


def border_mode_to_pad(mode, convdim: int, kshp) -> tuple:
    """Theano's explicit ``((before, after), ...)`` padding of a border mode."""
    return _border(mode, convdim, "border_mode_to_pad", kshp)


def _border(mode, nd: int, who: str, kshp=None):
    """'full' / 'half', or one (before, after) pair per axis; with ``kshp`` always pairs."""
    if isinstance(mode, str):
        if mode == "valid":
            return ((0, 0),) * nd
        if mode not in ("full", "half"):
            raise ValueError(f"{who}: border_mode must be 'valid', 'full', 'half', an int or a "
                             f"tuple of {nd} ints or pairs, got {mode!r} (at {user_source_line()})")
        if kshp is None:
            return mode
        return tuple(((k - 1),) * 2 if mode == "full" else ((k // 2),) * 2 for k in kshp)
    if isinstance(mode, int | np.integer):
        mode = (int(mode),) * nd
    mode = tuple(mode)
    if len(mode) != nd:
        raise ValueError(f"{who}: border_mode {mode!r} must have {nd} entries "
                         f"(at {user_source_line()})")
    pads = []
    for m in mode:
        pair = (m, m) if isinstance(m, int | np.integer) else tuple(m)
        if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair) \
                or min(pair) < 0:
            raise ValueError(f"{who}: invalid border_mode {mode!r}: entries must be non-negative "
                             f"ints or pairs of them (at {user_source_line()})")
        pads.append((int(pair[0]), int(pair[1])))
    return tuple(pads)


def _ints(value, nd: int, what: str, who: str) -> tuple[int, ...]:
    if isinstance(value, int | np.integer):
        value = (value,) * nd
    out = tuple(int(v) for v in value)
    if len(out) != nd or min(out) < 1:
        raise ValueError(f"{who}: {what} must be {nd} positive ints, got {value!r} "
                         f"(at {user_source_line()})")
    return out


def _hint(hint, n: int, what: str, who: str):
    if hint is None:
        return None
    out = tuple(None if s is None or isinstance(s, Variable) else int(s) for s in hint)
    if len(out) != n:
        raise ValueError(f"{who}: {what} must have {n} entries, got {tuple(hint)} "
                         f"(at {user_source_line()})")
    return out


class _Spec:
    """The validated parameters of one convolution (Theano's BaseAbstractConv arguments)."""

    def __init__(self, nd: int, who: str, border_mode="valid", subsample=None, filter_flip=True,
                 filter_dilation=None, num_groups: int = 1, unshared: bool = False,
                 imshp=None, kshp=None) -> None:
        if unshared:
            raise NotImplementedError(f"{who}: unshared convolution is not supported")
        if int(num_groups) < 1:
            raise ValueError(f"{who}: num_groups must be >= 1, got {num_groups}")
        self.nd, self.who = nd, who
        self.border = _border(border_mode, nd, who)
        self.subsample = _ints(subsample if subsample is not None else 1, nd, "subsample", who)
        self.dilation = _ints(filter_dilation if filter_dilation is not None else 1, nd,
                              "filter_dilation", who)
        self.groups = int(num_groups)
        self.flip = bool(filter_flip)
        self.imshp = _hint(imshp, nd + 2, "input_shape", who)
        self.kshp = _hint(kshp, nd + 2, "filter_shape", who)
        if self.imshp and self.kshp and None not in (self.imshp[1], self.kshp[1]) \
                and self.imshp[1] != self.kshp[1] * self.groups:
            raise ValueError(f"{who}: input_shape {self.imshp} has {self.imshp[1]} channels but "
                             f"filter_shape {self.kshp} expects {self.kshp[1] * self.groups} "
                             f"(at {user_source_line()})")

    def params(self) -> dict:
        return dict(border=self.border, subsample=self.subsample, dilation=self.dilation,
                    groups=self.groups, filter_flip=self.flip)

    def tensors(self, *values) -> list[Variable]:
        vs = [as_tensor_variable(v) for v in values]
        for v in vs:
            if v.ndim != self.nd + 2:
                raise TypeError(f"{self.who}: expected {self.nd + 2}-d tensors, got "
                                f"{[str(t.type) for t in vs]} (at {user_source_line()})")
        dtype = upcast(*[v.dtype for v in vs])
        if dtype not in FLOAT_DTYPES:
            dtype = upgrade_to_float(dtype)
        return [_math.cast(v, dtype) for v in vs]

    def forward(self, input, filters) -> Variable:
        x, w = self.tensors(input, filters)
        hints = {k: v for k, v in (("input_shape", self.imshp), ("filter_shape", self.kshp))
                 if v is not None and any(s is not None for s in v)}
        return make_output(FAMILY[self.nd][0], [x, w], **self.params(), **hints)

    def grad_inputs(self, filters, output_grad, spatial) -> Variable:
        w, gz = self.tensors(filters, output_grad)
        w = _specified(w, self.kshp)
        first = [gz.shape[0], w.shape[1] * self.groups]
        if self.imshp is not None:
            first = [f if h is None else h for f, h in zip(first, self.imshp[:2])]
        shape = _shape_vector(first + _spatial(spatial, self.nd, self.who))
        return make_output(FAMILY[self.nd][1], [w, gz, shape], **self.params())

    def grad_weights(self, input, output_grad, spatial) -> Variable:
        x, gz = self.tensors(input, output_grad)
        x = _specified(x, self.imshp)
        first = [gz.shape[1], x.shape[1] // self.groups]
        if self.kshp is not None:
            first = [f if h is None else h for f, h in zip(first, self.kshp[:2])]
        shape = _shape_vector(first + _spatial(spatial, self.nd, self.who))
        return make_output(FAMILY[self.nd][2], [x, gz, shape], **self.params())


def _specified(x: Variable, hint) -> Variable:
    if hint is None or all(s is None for s in hint):
        return x
    from croton.tensor.shape_ops import specify_shape

    return specify_shape(x, list(hint))


def _spatial(shape, nd: int, who: str) -> list:
    """The ``nd`` spatial sizes of ``shape``: a sequence of ints / int scalars, or an int vector."""
    if isinstance(shape, Variable):
        if shape.ndim != 1:
            raise TypeError(f"{who}: the output shape must be a vector of {nd} ints, got "
                            f"{shape.type} (at {user_source_line()})")
        return [shape[i] for i in range(nd)]
    shape = list(shape)
    if len(shape) != nd:
        raise ValueError(f"{who}: the output shape must have {nd} entries, got {shape} "
                         f"(at {user_source_line()})")
    return shape


def _shape_vector(entries: Sequence) -> Variable:
    """An int64 vector of ``entries`` (ints or int scalars); a constant when all are ints."""
    if all(isinstance(e, int | np.integer) or (isinstance(e, Constant) and e.ndim == 0)
           for e in entries):
        values = [int(e.data) if isinstance(e, Constant) else int(e) for e in entries]
        return as_tensor_variable(np.array(values, dtype="int64"))
    from croton.tensor.shape_ops import stack

    return stack([_math.cast(as_tensor_variable(e), "int64") for e in entries])


# --- the functions --------------------------------------------------------------------------------
def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip: bool = True, image_shape=None,
           filter_dilation=(1, 1), num_groups: int = 1, unshared: bool = False,
           **kwargs) -> Variable:
    """Theano's ``conv2d``: ``input`` (batch, channels, rows, cols) convolved with ``filters``
    (out channels, channels // num_groups, rows, cols). ``border_mode``: ``'valid'``,
    ``'full'``, ``'half'``, an int, or per axis an int or a ``(before, after)`` pair;
    ``subsample`` strides the output; ``filter_dilation`` spaces the taps; ``num_groups`` splits
    the channels into independent convolutions; ``filter_flip=False`` is a cross-correlation.
    ``input_shape`` / ``filter_shape`` (entries may be None) are checked when the graph is built
    and when the function is called.

    >>> import croton, numpy, croton.tensor as T
    >>> x, w = T.dtensor4('x'), T.dtensor4('w')
    >>> f = croton.function([x, w], T.nnet.conv2d(x, w, border_mode='full'), mode='NUMPY')
    >>> f(numpy.ones((1, 1, 2, 2)), numpy.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    if kwargs:
        raise TypeError(f"conv2d: unexpected arguments {sorted(kwargs)}")
    if image_shape is not None and input_shape is None:
        input_shape = image_shape
    return _Spec(2, "conv2d", border_mode, subsample, filter_flip, filter_dilation, num_groups,
                 unshared, input_shape, filter_shape).forward(input, filters)


def conv3d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1, 1), filter_flip: bool = True, filter_dilation=(1, 1, 1),
           num_groups: int = 1) -> Variable:
    """Theano's ``conv3d``: ``input`` (batch, channels, depth, rows, cols) convolved with
    ``filters`` (out channels, channels // num_groups, depth, rows, cols); arguments as
    ``conv2d``'s, with three spatial axes.

    >>> import croton, numpy, croton.tensor as T
    >>> x, w = T.dtensor5('x'), T.dtensor5('w')
    >>> f = croton.function([x, w], T.nnet.conv3d(x, w), mode='NUMPY')
    >>> f(numpy.ones((1, 1, 3, 3, 3)), numpy.ones((1, 1, 2, 2, 2))).shape
    (1, 1, 2, 2, 2)
    """
    return _Spec(3, "conv3d", border_mode, subsample, filter_flip, filter_dilation, num_groups,
                 False, input_shape, filter_shape).forward(input, filters)


def _grad_wrt_inputs(nd, who, output_grad, filters, input_shape, filter_shape, border_mode,
                     subsample, filter_flip, filter_dilation, num_groups, unshared):
    input_shape = list(input_shape)
    if len(input_shape) != nd + 2:
        raise ValueError(f"{who}: input_shape must have {nd + 2} entries, got {input_shape} "
                         f"(at {user_source_line()})")
    imshp = [None if isinstance(s, Variable) and not isinstance(s, Constant) else s
             for s in input_shape]
    spec = _Spec(nd, who, border_mode, subsample, filter_flip, filter_dilation, num_groups,
                 unshared, imshp, filter_shape)
    return spec.grad_inputs(filters, output_grad, input_shape[2:])


def conv2d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None,
                           border_mode="valid", subsample=(1, 1), filter_flip: bool = True,
                           filter_dilation=(1, 1), num_groups: int = 1,
                           unshared: bool = False) -> Variable:
    """The gradient of ``conv2d`` wrt its input, for the output gradient ``output_grad``: the
    transposed convolution, upsampling ``output_grad`` to ``input_shape`` (4 entries; the last
    two may be symbolic; needed because with ``subsample`` several input sizes give one output
    size). Arguments as ``conv2d``'s forward pass."""
    return _grad_wrt_inputs(2, "conv2d_grad_wrt_inputs", output_grad, filters, input_shape,
                            filter_shape, border_mode, subsample, filter_flip, filter_dilation,
                            num_groups, unshared)


def conv3d_grad_wrt_inputs(output_grad, filters, input_shape, filter_shape=None,
                           border_mode="valid", subsample=(1, 1, 1), filter_flip: bool = True,
                           filter_dilation=(1, 1, 1), num_groups: int = 1) -> Variable:
    """``conv2d_grad_wrt_inputs`` for ``conv3d`` (5-d tensors, 3 spatial axes)."""
    return _grad_wrt_inputs(3, "conv3d_grad_wrt_inputs", output_grad, filters, input_shape,
                            filter_shape, border_mode, subsample, filter_flip, filter_dilation,
                            num_groups, False)


def _grad_wrt_weights(nd, who, input, output_grad, filter_shape, input_shape, border_mode,
                      subsample, filter_flip, filter_dilation, num_groups, unshared):
    filter_shape = list(filter_shape)
    if len(filter_shape) != nd + 2:
        raise ValueError(f"{who}: filter_shape must have {nd + 2} entries, got {filter_shape} "
                         f"(at {user_source_line()})")
    kshp = [None if isinstance(s, Variable) and not isinstance(s, Constant) else s
            for s in filter_shape]
    spec = _Spec(nd, who, border_mode, subsample, filter_flip, filter_dilation, num_groups,
                 unshared, input_shape, kshp)
    return spec.grad_weights(input, output_grad, filter_shape[2:])


def conv2d_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None,
                            border_mode="valid", subsample=(1, 1), filter_flip: bool = True,
                            filter_dilation=(1, 1), num_groups: int = 1,
                            unshared: bool = False) -> Variable:
    """The gradient of ``conv2d`` wrt its filters, of shape ``filter_shape`` (4 entries; the
    last two may be symbolic), for the input ``input`` and the output gradient ``output_grad``."""
    return _grad_wrt_weights(2, "conv2d_grad_wrt_weights", input, output_grad, filter_shape,
                             input_shape, border_mode, subsample, filter_flip, filter_dilation,
                             num_groups, unshared)


def conv3d_grad_wrt_weights(input, output_grad, filter_shape, input_shape=None,
                            border_mode="valid", subsample=(1, 1, 1), filter_flip: bool = True,
                            filter_dilation=(1, 1, 1), num_groups: int = 1) -> Variable:
    """``conv2d_grad_wrt_weights`` for ``conv3d``."""
    return _grad_wrt_weights(3, "conv3d_grad_wrt_weights", input, output_grad, filter_shape,
                             input_shape, border_mode, subsample, filter_flip, filter_dilation,
                             num_groups, False)


# --- Theano's op classes, as callables ------------------------------------------------------------
class BaseAbstractConv:
    """Theano's abstract convolution op, as a callable that builds croton's compiled primitive:
    ``AbstractConv2d_gradInputs(imshp=..., kshp=..., subsample=(2, 2))(W, topgrad, (7, 7))``."""

    nd = 2
    direction = "forward"

    def __init__(self, imshp=None, kshp=None, border_mode="valid", subsample=None,
                 filter_flip: bool = True, filter_dilation=None, num_groups: int = 1,
                 unshared: bool = False) -> None:
        who = type(self).__name__
        self.spec = _Spec(self.nd, who, border_mode, subsample, filter_flip, filter_dilation,
                          num_groups, unshared, imshp, kshp)
        self.imshp, self.kshp = self.spec.imshp, self.spec.kshp
        self.border_mode, self.subsample = border_mode, self.spec.subsample
        self.filter_flip, self.filter_dilation = self.spec.flip, self.spec.dilation
        self.num_groups = self.spec.groups

    def __call__(self, *args) -> Variable:
        if self.direction == "forward":
            return self.spec.forward(*args)
        if len(args) != 3:
            raise TypeError(f"{type(self).__name__} takes 3 inputs, got {len(args)}")
        if self.direction == "inputs":
            return self.spec.grad_inputs(*args)
        return self.spec.grad_weights(*args)

    def make_node(self, *args):
        return self(*args).owner


class AbstractConv2d(BaseAbstractConv):
    """``AbstractConv2d(...)(input, filters)``: ``conv2d``."""


class AbstractConv3d(BaseAbstractConv):
    """``AbstractConv3d(...)(input, filters)``: ``conv3d``."""

    nd = 3


class AbstractConv2d_gradInputs(BaseAbstractConv):  # noqa: N801 (Theano's name)
    """``AbstractConv2d_gradInputs(...)(filters, output_grad, input_spatial_shape)``: the
    transposed convolution."""

    direction = "inputs"


class AbstractConv3d_gradInputs(BaseAbstractConv):  # noqa: N801
    """``AbstractConv3d_gradInputs(...)(filters, output_grad, input_spatial_shape)``."""

    nd = 3
    direction = "inputs"


class AbstractConv2d_gradWeights(BaseAbstractConv):  # noqa: N801
    """``AbstractConv2d_gradWeights(...)(input, output_grad, filter_spatial_shape)``."""

    direction = "weights"


class AbstractConv3d_gradWeights(BaseAbstractConv):  # noqa: N801
    """``AbstractConv3d_gradWeights(...)(input, output_grad, filter_spatial_shape)``."""

    nd = 3
    direction = "weights"


__all__ = ["get_conv_output_shape", "get_conv_shape_1axis", "get_conv_gradweights_shape",
           "get_conv_gradweights_shape_1axis", "get_conv_gradinputs_shape",
           "get_conv_gradinputs_shape_1axis", "check_conv_gradinputs_shape",
           "border_mode_to_pad", "conv2d", "conv3d", "conv2d_grad_wrt_inputs",
           "conv3d_grad_wrt_inputs", "conv2d_grad_wrt_weights", "conv3d_grad_wrt_weights",
           "BaseAbstractConv", "AbstractConv2d", "AbstractConv3d", "AbstractConv2d_gradInputs",
           "AbstractConv3d_gradInputs", "AbstractConv2d_gradWeights",
           "AbstractConv3d_gradWeights"]
