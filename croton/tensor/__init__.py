"""``croton.tensor`` (Theano's ``theano.tensor``): variable constructors and tensor functions.

Example::

    >>> import croton.tensor as T
    >>> x = T.dvector('x')
    >>> cost = T.sqr(x).sum()
    >>> g = T.grad(cost, x)
    >>> g.type
    TensorType(float64, vector)
"""

from croton.gradient import grad
from croton.tensor import nnet
from croton.tensor.basic import CONSTRUCTORS, as_tensor_variable, constant, tensor
from croton.tensor.math import *  # noqa: F403
from croton.tensor.math import __all__ as _math_all
from croton.types import TensorType

globals().update(CONSTRUCTORS)

__all__ = ["grad", "nnet", "as_tensor_variable", "constant", "tensor", "TensorType",
           *CONSTRUCTORS, *_math_all]
