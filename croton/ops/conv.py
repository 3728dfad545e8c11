"""Convolution primitives (Theano's ``AbstractConv2d`` / ``AbstractConv3d`` and their two
gradients): ``conv2d`` / ``conv3d``, ``conv{2,3}d_grad_input`` (also the transposed convolution)
and ``conv{2,3}d_grad_filters``.

Conventions (Theano's): input ``(batch, channels, [depth,] rows, cols)``, filters
``(out_channels, channels // groups, [depth,] rows, cols)``. Parameters: ``border`` is ``'full'``,
``'half'`` (both measured on the dilated filter) or one ``(before, after)`` zero padding per
spatial dimension; ``subsample`` strides the output; ``dilation`` spaces the filter taps;
``groups`` splits input and output channels into that many independent convolutions;
``filter_flip=True`` is a true convolution, ``False`` a cross-correlation.

The gradient wrt the input takes the input's shape as an int64 vector (``x.shape`` in the VJP,
the requested output size for a transposed convolution), the gradient wrt the filters the
filters' shape. Kernels: ``runtime/cpu/kernels/conv.hpp`` (im2col + one GEMM per group and chunk
of images); lowering: ``codegen/lowering/conv.py``.

Example::

    >>> import croton.tensor as T
    >>> T.nnet.conv2d(T.dtensor4('x'), T.dtensor4('w')).owner.op.name
    'conv2d'
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OpRecord, make_output, register
from croton.types import FLOAT_DTYPES, INT_DTYPES, TensorType


def _t():
    import croton.tensor as T

    return T


def conv_pads(border, kshape, dilation=None) -> tuple[tuple[int, int], ...]:
    """Explicit ``(before, after)`` padding per spatial dimension of a border mode, for filters of
    spatial shape ``kshape``: ``conv_pads('half', (3, 5)) == ((1, 1), (2, 2))``."""
    dilation = dilation or (1,) * len(kshape)
    dil = [(k - 1) * d + 1 for k, d in zip(kshape, dilation)]
    if border == "full":
        return tuple((k - 1, k - 1) for k in dil)
    if border == "half":
        return tuple((k // 2, k // 2) for k in dil)
    return tuple((int(a), int(b)) for a, b in border)


def conv_out_len(n: int, k: int, pad: tuple[int, int], st: int, dil: int) -> int:
    """Output length of one axis: ``conv_out_len(7, 3, (1, 1), 2, 1) == 4``."""
    return (n + pad[0] + pad[1] - ((k - 1) * dil + 1)) // st + 1


def _nd(params) -> int:
    return len(params["subsample"])


def _need_float(name: str, *types: TensorType) -> None:
    for t in types:
        if t.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected float32 or float64 inputs, got {t}")
    if len({t.dtype for t in types}) != 1:
        raise TypeError(f"{name}: inputs must share a dtype, got {[str(t) for t in types]}")


def _need_ndim(name: str, nd: int, *types: TensorType) -> None:
    if any(t.ndim != nd + 2 for t in types):
        raise TypeError(f"{name}: expected {nd + 2}-d tensors, got {[str(t) for t in types]}")


def _need_shape_vector(name: str, t: TensorType, nd: int) -> None:
    if t.ndim != 1 or t.dtype not in INT_DTYPES:
        raise TypeError(f"{name}: the shape must be an integer vector of {nd + 2} entries, got {t}")


# --- NumPy references ----------------------------------------------------------------------------
def _flip(w: np.ndarray, params) -> np.ndarray:
    nd = _nd(params)
    return w[(Ellipsis,) + (slice(None, None, -1),) * nd] if params["filter_flip"] else w


def _layout(xshape, kshape, params):
    """Padding, output spatial shape, and the slice of the padded input read by tap ``t``."""
    nd = _nd(params)
    sub, dil = params["subsample"], params["dilation"]
    pads = conv_pads(params["border"], kshape, dil)
    out = tuple(conv_out_len(xshape[2 + i], kshape[i], pads[i], sub[i], dil[i]) for i in range(nd))

    def taps():
        for t in np.ndindex(*kshape):
            yield t, tuple(slice(t[i] * dil[i], t[i] * dil[i] + (out[i] - 1) * sub[i] + 1, sub[i])
                           for i in range(nd))

    return pads, out, taps


def _grouped(a: np.ndarray, groups: int) -> np.ndarray:
    """(n, c, ...) -> (n, groups, c // groups, ...)."""
    return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])


def _check_values(name, x_shape, w_shape, params):
    groups = params["groups"]
    if x_shape[1] != w_shape[1] * groups:
        raise ValueError(f"{name}: input channels {x_shape[1]} != filter channels {w_shape[1]} "
                         f"x groups {groups}")
    if w_shape[0] % groups:
        raise ValueError(f"{name}: {w_shape[0]} output channels are not divisible by {groups} "
                         "groups")
    pads, out, _ = _layout(x_shape, w_shape[2:], params)
    if min(out, default=1) < 1 or min(w_shape[2:]) < 1:
        raise ValueError(f"{name}: the filters {w_shape} are empty or larger than the padded input "
                         f"{x_shape}")


def _conv_perform(values, params):
    x, w = values
    groups = params["groups"]
    _check_values("conv", x.shape, w.shape, params)
    pads, out, taps = _layout(x.shape, w.shape[2:], params)
    xp = _grouped(np.pad(x, ((0, 0), (0, 0)) + pads), groups)
    wg = _flip(w, params).reshape((groups, w.shape[0] // groups) + w.shape[1:])
    y = np.zeros((x.shape[0], groups, w.shape[0] // groups) + out, np.result_type(x, w))
    for t, sl in taps():
        patch = xp[(slice(None),) * 3 + sl]
        y += np.einsum("ngc...,goc->ngo...", patch, wg[(Ellipsis,) + t])
    return [y.reshape((x.shape[0], w.shape[0]) + out)]


def _grad_input_perform(values, params):
    w, gz, shape = values
    groups = params["groups"]
    xshape = tuple(int(s) for s in shape)
    _check_values("conv_grad_input", xshape, w.shape, params)
    pads, out, taps = _layout(xshape, w.shape[2:], params)
    _check_gz(gz.shape, (xshape[0], w.shape[0]) + out)
    padded = xshape[:2] + tuple(xshape[2 + i] + sum(p) for i, p in enumerate(pads))
    gxp = _grouped(np.zeros(padded, gz.dtype), groups)
    wg = _flip(w, params).reshape((groups, w.shape[0] // groups) + w.shape[1:])
    gzg = _grouped(gz, groups)
    for t, sl in taps():
        gxp[(slice(None),) * 3 + sl] += np.einsum("ngo...,goc->ngc...", gzg, wg[(Ellipsis,) + t])
    crop = tuple(slice(p[0], p[0] + xshape[2 + i]) for i, p in enumerate(pads))
    return [gxp.reshape(padded)[(slice(None), slice(None)) + crop]]


def _check_gz(got, want):
    if tuple(got) != tuple(want):
        raise ValueError(f"conv gradient: the output gradient has shape {tuple(got)} but the "
                         f"convolution's output has shape {tuple(want)}")


def _grad_filters_perform(values, params):
    x, gz, shape = values
    groups = params["groups"]
    wshape = tuple(int(s) for s in shape)
    _check_values("conv_grad_filters", x.shape, wshape, params)
    pads, out, taps = _layout(x.shape, wshape[2:], params)
    _check_gz(gz.shape, (x.shape[0], wshape[0]) + out)
    xp = _grouped(np.pad(x, ((0, 0), (0, 0)) + pads), groups)
    gzg = _grouped(gz, groups)
    gw = np.zeros((groups, wshape[0] // groups) + wshape[1:], gz.dtype)
    for t, sl in taps():
        patch = xp[(slice(None),) * 3 + sl]
        gw[(Ellipsis,) + t] = np.einsum("ngop,ngcp->goc", gzg.reshape(gzg.shape[:3] + (-1,)),
                                        patch.reshape(patch.shape[:3] + (-1,)))
    return [_flip(gw.reshape(wshape), params)]


# --- type rules and gradients --------------------------------------------------------------------
def _conv_rule(name):
    def rule(types, params):
        x, w = types
        nd = _nd(params)
        _need_ndim(name, nd, x, w)
        _need_float(name, x, w)
        out_bc = w.broadcastable[0] if params["groups"] == 1 else False
        return [TensorType(x.dtype, (x.broadcastable[0], out_bc) + (False,) * nd)]

    return rule


def _grad_input_rule(name):
    def rule(types, params):
        w, gz, shape = types
        nd = _nd(params)
        _need_ndim(name, nd, w, gz)
        _need_shape_vector(name, shape, nd)
        _need_float(name, w, gz)
        return [TensorType(gz.dtype, (gz.broadcastable[0],) + (False,) * (nd + 1))]

    return rule


def _grad_filters_rule(name):
    def rule(types, params):
        x, gz, shape = types
        nd = _nd(params)
        _need_ndim(name, nd, x, gz)
        _need_shape_vector(name, shape, nd)
        _need_float(name, x, gz)
        return [TensorType(gz.dtype, (gz.broadcastable[1],) + (False,) * (nd + 1))]

    return rule


def _like(v, ref):
    """``v`` cast to ``ref``'s dtype with ``ref``'s broadcast pattern."""
    T = _t()
    return T.patternbroadcast(T.cast(v, ref.dtype), ref.broadcastable)


def _records(node):
    return FAMILY[_nd(dict(node.params))]


def _conv_vjp(node, g):
    x, w = node.inputs
    fwd, gin, gfil = _records(node)
    gz = _t().cast(g[0], x.dtype)
    params = dict(node.params)
    return [_like(make_output(gin, [w, gz, x.shape], **params), x),
            _like(make_output(gfil, [x, gz, w.shape], **params), w)]


def _grad_input_vjp(node, g):
    w, gz, shape = node.inputs
    fwd, gin, gfil = _records(node)
    params = dict(node.params)
    gg = _t().cast(g[0], gz.dtype)
    return [_like(make_output(gfil, [gg, gz, w.shape], **params), w),
            _like(make_output(fwd, [gg, w], **params), gz), None]


def _grad_filters_vjp(node, g):
    x, gz, shape = node.inputs
    fwd, gin, gfil = _records(node)
    params = dict(node.params)
    gg = _t().cast(g[0], gz.dtype)
    return [_like(make_output(gin, [gg, gz, x.shape], **params), x),
            _like(make_output(fwd, [x, gg], **params), gz), None]


# --- shape facts (croton/ops/shapes.py) -------------------------------------------------------
def conv_geometry(params: dict, xdims: list, wdims: list) -> tuple[list, list, list]:
    """(dilated filter sizes, (before, after) padding, output sizes) of each spatial dim, for
    input dims ``xdims`` and filter dims ``wdims`` (ints or expressions)."""
    nd = len(params["subsample"])
    dil_k = [(wdims[2 + i] - 1) * int(params["dilation"][i]) + 1 for i in range(nd)]
    border = params["border"]
    if border == "full":
        pads = [(k - 1,) * 2 for k in dil_k]
    elif border == "half":
        pads = [(k // 2,) * 2 for k in dil_k]
    else:
        pads = [(int(a), int(b)) for a, b in border]
    out = [(xdims[2 + i] + lo + hi - dil_k[i]) // int(params["subsample"][i]) + 1
           for i, (lo, hi) in enumerate(pads)]
    return dil_k, pads, out


def _conv_shape(params, ins):
    xd, wd = ins.shape(0), ins.shape(1)
    return [[xd[0], wd[0], *conv_geometry(params, xd, wd)[2]]]


def _shape_from_vector(params, ins):
    """A gradient's shape: the shape vector (input 2)."""
    return [[ins.value(2, d) for d in range(ins.types[0].ndim)]]


def _register(nd: int) -> tuple[OpRecord, OpRecord, OpRecord]:
    name = f"conv{nd}d"
    fwd = register(OpRecord(
        name, "conv", _conv_rule(name), _conv_perform, _conv_vjp, nin=2, shape=_conv_shape,
        doc=f"{name}(input, filters): Theano's {nd}-d convolution (padding, subsampling, filter "
            "dilation, groups, optional filter flip); im2col + one GEMM per group and chunk."))
    gin = register(OpRecord(
        f"{name}_grad_input", "conv_grad_input", _grad_input_rule(f"{name}_grad_input"),
        _grad_input_perform, _grad_input_vjp, nin=3, shape=_shape_from_vector,
        doc=f"{name}_grad_input(filters, gz, input_shape): gradient of {name} wrt its input; "
            "also the transposed convolution (Theano's AbstractConv_gradInputs)."))
    gfil = register(OpRecord(
        f"{name}_grad_filters", "conv_grad_filters", _grad_filters_rule(f"{name}_grad_filters"),
        _grad_filters_perform, _grad_filters_vjp, nin=3, shape=_shape_from_vector,
        doc=f"{name}_grad_filters(input, gz, filter_shape): gradient of {name} wrt its filters "
            "(Theano's AbstractConv_gradWeights)."))
    return fwd, gin, gfil


FAMILY = {2: _register(2), 3: _register(3)}
