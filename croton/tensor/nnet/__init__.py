"""``croton.tensor.nnet`` (Theano's ``theano.tensor.nnet``): activations, softmax, the
cross-entropies, ``conv2d`` and ``conv3d`` (from ``croton.tensor.nnet.abstract_conv``, which
also holds the transposed convolution).

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

import numpy as np

from croton.graph import Variable, user_source_line
from croton.ops.table import OPS, make_output
from croton.tensor import math as _math
from croton.tensor.basic import as_tensor_variable
from croton.tensor.math import sigmoid
from croton.types import DISCRETE_DTYPES, FLOAT_DTYPES, INT_DTYPES, upgrade_to_float


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


from croton.tensor.nnet import abstract_conv  # noqa: E402
from croton.tensor.nnet.abstract_conv import conv2d, conv3d  # noqa: E402

__all__ = ["sigmoid", "softmax", "log_softmax", "relu", "softplus", "take_along_last",
           "categorical_crossentropy", "binary_crossentropy", "sigmoid_binary_crossentropy",
           "conv2d", "conv3d", "abstract_conv"]
