"""``croton.tensor`` (Theano's ``theano.tensor``): variable constructors and tensor functions.

Example::

    >>> import croton.tensor as T
    >>> x = T.dvector('x')
    >>> cost = T.sqr(x).sum()
    >>> g = T.grad(cost, x)
    >>> g.type
    TensorType(float64, vector)
"""

from croton.gradient import Lop, Rop, grad, hessian, jacobian
from croton.tensor import linalg as _linalg
from croton.tensor import nnet
from croton.tensor import reductions as _reductions
from croton.tensor import shape_ops as _shape_ops
from croton.tensor import subtensor as _subtensor
from croton.tensor.basic import CONSTRUCTORS, as_tensor_variable, constant, tensor
from croton.tensor.linalg import *  # noqa: F403
from croton.tensor.math import *  # noqa: F403
from croton.tensor.math import __all__ as _math_all
from croton.tensor.reductions import *  # noqa: F403
from croton.tensor.shape_ops import *  # noqa: F403
from croton.tensor.sort import argsort, sort
from croton.tensor.subtensor import *  # noqa: F403
from croton.types import TensorType

globals().update(CONSTRUCTORS)

__all__ = ["grad", "Lop", "Rop", "hessian", "jacobian", "nnet", "as_tensor_variable", "constant",
           "tensor", "TensorType",
           *CONSTRUCTORS, *_math_all, *_linalg.__all__, *_reductions.__all__,
           *_shape_ops.__all__, *_subtensor.__all__]
__all__ += ["sort", "argsort"]
