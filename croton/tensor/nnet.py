"""``croton.tensor.nnet`` (Theano's ``theano.tensor.nnet``): activations, softmax, the
cross-entropies and ``conv2d``.

The composites (softmax, log_softmax, the cross-entropies, relu) are written in primitives so
the passes can stabilize and fuse them; they are numerically stable by construction (softmax
subtracts the row maximum). ``conv2d`` and the per-row gather ``take_along_last`` are structured
primitives (``croton/ops/nnet.py``) with C++ kernels.

Example::

    >>> import croton.tensor as T
    >>> T.nnet.sigmoid(T.dvector('x')).owner.op.name
    'sigmoid'
    >>> T.nnet.softmax(T.fmatrix('x')).type
    TensorType(float32, matrix)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.graph import Variable, user_source_line
from croton.ops.table import OPS, make_output
from croton.tensor import math as _math
from croton.tensor.basic import as_tensor_variable
from croton.tensor.math import sigmoid
from croton.types import DISCRETE_DTYPES, FLOAT_DTYPES, INT_DTYPES, upcast, upgrade_to_float


def _float_input(x, name: str) -> Variable:
    x = as_tensor_variable(x)
    if x.dtype in DISCRETE_DTYPES:
        x = _math.cast(x, upgrade_to_float(x.dtype))
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a real tensor, got {x.type}")
    return x


def _axis(x: Variable, axis: int) -> int:
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for a tensor of ndim {x.ndim}")
    return axis % x.ndim


def _row_if_vector(x: Variable, axis: int) -> Variable:
    # Theano 1.0.5's Softmax and LogSoftmax take a vector as a (1, n) row (and give a row); an
    # explicit axis (a croton extension) keeps the vector
    if x.ndim == 1 and axis == -1:
        return _math.dimshuffle(x, ("x", 0))
    return x


def softmax(x, axis: int = -1) -> Variable:
    """``exp(x) / sum(exp(x))`` along ``axis`` (the last by default), computed as
    ``exp(x - max) / sum(exp(x - max))`` so large logits do not overflow. A vector gives a
    ``(1, n)`` row, as in Theano 1.0.5 (unless ``axis`` is given).

    >>> import croton, numpy, croton.tensor as T
    >>> x = T.dmatrix('x')
    >>> croton.function([x], T.nnet.softmax(x), mode='NUMPY')([[0.0, 0.0]])
    array([[0.5, 0.5]])
    """
    x = _row_if_vector(_float_input(x, "softmax"), axis)
    axis = _axis(x, axis)
    e = _math.exp(x - _math.max(x, axis=axis, keepdims=True))
    return e / _math.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis: int = -1) -> Variable:
    """``log(softmax(x))`` along ``axis``, as ``x - max - log(sum(exp(x - max)))`` (finite for
    any finite logits).

    >>> import croton, croton.tensor as T
    >>> x = T.dvector('x')
    >>> croton.function([x], T.nnet.log_softmax(x), mode='NUMPY')([-1000.0, 1000.0])
    array([[-2000.,     0.]])
    """
    x = _row_if_vector(_float_input(x, "log_softmax"), axis)
    axis = _axis(x, axis)
    shifted = x - _math.max(x, axis=axis, keepdims=True)
    return shifted - _math.log(_math.sum(_math.exp(shifted), axis=axis, keepdims=True))


def relu(x, alpha=0) -> Variable:
    """Rectifier ``max(x, alpha * x)``, written as Theano does (``0.5 * (x + abs(x))`` for
    ``alpha == 0``), so its gradient at 0 is 0.5 as in Theano; with ``alpha == 0`` a NumPy
    array gives a NumPy array, as in Theano.

    >>> import croton, croton.tensor as T
    >>> x = T.dvector('x')
    >>> croton.function([x], T.nnet.relu(x, 0.1), mode='NUMPY')([-2.0, 3.0])
    array([-0.2,  3. ])
    """
    if isinstance(alpha, int | float) and alpha == 0:
        if not isinstance(x, Variable):
            # as Theano, whose relu is this expression: a NumPy value gives a NumPy value
            # (Lasagne's tests compute expected values with rectify(ndarray))
            x = np.asarray(x)
            return 0.5 * (x + abs(x))
        return 0.5 * (x + _math.abs(x))
    x = as_tensor_variable(x)
    alpha = as_tensor_variable(alpha, like=[x])
    f1 = 0.5 * (1 + alpha)
    f2 = 0.5 * (1 - alpha)
    return f1 * x + f2 * _math.abs(x)


def softplus(x) -> Variable:
    """``log(1 + exp(x))``, stable for any x: the elementwise op of ``croton.tensor`` where
    there is one, else ``relu(x) + log1p(exp(-|x|))`` (gradient 0.5 at 0, as sigmoid).

    >>> import croton, croton.tensor as T
    >>> x = T.dvector('x')
    >>> croton.function([x], T.nnet.softplus(x), mode='NUMPY')([-800.0, 800.0])
    array([  0., 800.])
    """
    x = _float_input(x, "softplus")
    op = getattr(_math, "softplus", None)
    if op is not None:
        return op(x)
    log1p = getattr(_math, "log1p", None) or (lambda v: _math.log(1 + v))
    return relu(x) + log1p(_math.exp(-_math.abs(x)))


def take_along_last(x, idx) -> Variable:
    """``out[i] = x[i, idx[i]]`` for a matrix ``x`` and an integer vector ``idx``; an index
    outside ``[0, x.shape[1])`` raises IndexError naming the line that built it.

    >>> import croton, numpy, croton.tensor as T
    >>> x, i = T.dmatrix('x'), T.ivector('i')
    >>> croton.function([x, i], T.nnet.take_along_last(x, i), mode='NUMPY')(
    ...     [[1.0, 2.0], [3.0, 4.0]], numpy.array([1, 0], 'int32'))
    array([2., 3.])
    """
    x, idx = as_tensor_variable(x), as_tensor_variable(idx)
    if idx.dtype not in INT_DTYPES:
        raise TypeError(f"take_along_last: indices must be integers, got {idx.type} "
                        f"(at {user_source_line()})")
    return make_output(OPS["take_along_last"], [x, idx])


def categorical_crossentropy(coding_dist, true_dist) -> Variable:
    """Cross-entropy between predicted distributions (rows of ``coding_dist``) and targets:
    ``-sum(true_dist * log(coding_dist), axis=-1)`` for probability targets, or
    ``-log(coding_dist[i, true_dist[i]])`` for an integer vector of class indices (Theano's
    ``crossentropy_categorical_1hot``).

    >>> import croton, numpy, croton.tensor as T
    >>> p, y = T.dmatrix('p'), T.ivector('y')
    >>> f = croton.function([p, y], T.nnet.categorical_crossentropy(p, y), mode='NUMPY')
    >>> f([[0.5, 0.5], [0.25, 0.75]], numpy.array([0, 1], 'int32')).round(4)
    array([0.6931, 0.2877])
    """
    coding_dist = _float_input(coding_dist, "categorical_crossentropy")
    true_dist = as_tensor_variable(true_dist, like=[coding_dist])
    if true_dist.ndim == coding_dist.ndim:
        return -_math.sum(true_dist * _math.log(coding_dist), axis=coding_dist.ndim - 1)
    if true_dist.ndim == coding_dist.ndim - 1 == 1:
        if true_dist.dtype not in INT_DTYPES:
            raise TypeError("categorical_crossentropy: class-index targets must be an integer "
                            f"vector, got {true_dist.type} (at {user_source_line()})")
        return -_math.log(take_along_last(coding_dist, true_dist))
    raise TypeError("categorical_crossentropy: true_dist must be a distribution of the shape of "
                    f"coding_dist ({coding_dist.type}) or a vector of class indices for a "
                    f"matrix, got {true_dist.type} (at {user_source_line()})")


def binary_crossentropy(output, target) -> Variable:
    """``-(target * log(output) + (1 - target) * log(1 - output))`` (Theano's formula: infinite
    at output exactly 0 or 1 against the opposite target).

    >>> import croton, croton.tensor as T
    >>> o, t = T.dvectors('o', 't')
    >>> croton.function([o, t], T.nnet.binary_crossentropy(o, t), mode='NUMPY')(
    ...     [0.5, 0.9], [1.0, 1.0]).round(4)
    array([0.6931, 0.1054])
    """
    output = _float_input(output, "binary_crossentropy")
    target = as_tensor_variable(target, like=[output])
    return -(target * _math.log(output) + (1.0 - target) * _math.log(1.0 - output))


def sigmoid_binary_crossentropy(output, target) -> Variable:
    """``binary_crossentropy(sigmoid(output), target)`` computed from the logits ``output`` as
    ``relu(output) - output * target + softplus(-|output|)`` (Theano's
    ``softplus(-|output|) + output * ((output > 0) - target)``, with a gradient that is
    ``sigmoid(output) - target`` at 0 too): finite for any finite logits.

    >>> import croton, croton.tensor as T
    >>> o, t = T.dvectors('o', 't')
    >>> croton.function([o, t], T.nnet.sigmoid_binary_crossentropy(o, t), mode='NUMPY')(
    ...     [-1000.0, 0.0], [1.0, 0.0]).round(3).tolist()
    [1000.0, 0.693]
    """
    output = _float_input(output, "sigmoid_binary_crossentropy")
    target = as_tensor_variable(target, like=[output])
    return relu(output) - output * target + softplus(-_math.abs(output))


# --- conv2d --------------------------------------------------------------------------------------
def _pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return pair


def _shape_hint(hint, what: str) -> tuple | None:
    if hint is None:
        return None
    hint = tuple(None if s is None else int(s) for s in hint)
    if len(hint) != 4:
        raise ValueError(f"conv2d: {what} must have 4 entries, got {hint} "
                         f"(at {user_source_line()})")
    return hint


def _border(border_mode) -> str | tuple[int, int]:
    if border_mode == "valid":
        return (0, 0)
    if border_mode in ("full", "half"):
        return border_mode
    if isinstance(border_mode, str):
        raise ValueError(f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a pair "
                         f"of ints, got {border_mode!r}")
    pads = _pair(border_mode, "border_mode")
    if min(pads) < 0:
        raise ValueError(f"conv2d: negative padding {pads}")
    return pads


def conv2d(input, filters, input_shape: Sequence | None = None,
           filter_shape: Sequence | None = None, border_mode="valid",
           subsample: Sequence[int] = (1, 1), filter_flip: bool = True,
           image_shape: Sequence | None = None, filter_dilation: Sequence[int] = (1, 1),
           num_groups: int = 1, **kwargs) -> Variable:
    """Theano's ``conv2d``: ``input`` (batch, channels, rows, cols) convolved with ``filters``
    (out channels, channels, rows, cols). ``border_mode`` is ``'valid'``, ``'full'``,
    ``'half'``, an int or a pair of ints (zero padding); ``subsample`` strides the output;
    ``filter_flip=True`` is a true convolution, ``False`` a cross-correlation. ``input_shape`` /
    ``filter_shape`` (entries may be None) are checked against each other when the graph is
    built and against the arguments when the function is called.

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
    if tuple(filter_dilation) != (1, 1) or num_groups != 1:
        raise NotImplementedError("conv2d: filter_dilation and num_groups are not supported yet")
    if image_shape is not None:
        input_shape = image_shape if input_shape is None else input_shape
    input, filters = as_tensor_variable(input), as_tensor_variable(filters)
    if input.ndim != 4 or filters.ndim != 4:
        raise TypeError(f"conv2d: input and filters must be 4-d tensors, got {input.type} and "
                        f"{filters.type} (at {user_source_line()})")
    input_shape = _shape_hint(input_shape, "input_shape")
    filter_shape = _shape_hint(filter_shape, "filter_shape")
    if input_shape and filter_shape and None not in (input_shape[1], filter_shape[1]) \
            and input_shape[1] != filter_shape[1]:
        raise ValueError(f"conv2d: input_shape {input_shape} has {input_shape[1]} channels but "
                         f"filter_shape {filter_shape} expects {filter_shape[1]} "
                         f"(at {user_source_line()})")
    border = _border(border_mode)
    sub = _pair(subsample, "subsample")
    if min(sub) < 1:
        raise ValueError(f"conv2d: subsample must be positive, got {sub}")
    dtype = upcast(input.dtype, filters.dtype)
    if dtype not in FLOAT_DTYPES:
        dtype = upgrade_to_float(dtype)
    hints = {k: v for k, v in (("input_shape", input_shape), ("filter_shape", filter_shape))
             if v is not None}
    return make_output(OPS["conv2d"], [_math.cast(input, dtype), _math.cast(filters, dtype)],
                       border=border, subsample=sub, filter_flip=bool(filter_flip), **hints)


__all__ = ["sigmoid", "softmax", "log_softmax", "relu", "softplus", "take_along_last",
           "categorical_crossentropy", "binary_crossentropy", "sigmoid_binary_crossentropy",
           "conv2d"]
