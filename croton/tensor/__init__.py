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
from croton.graph import Constant as TensorConstant
from croton.graph import Variable
from croton.graph import Variable as TensorVariable
from croton.shared import SharedVariable as TensorSharedVariable
from croton.tensor import extra_ops, nnet
from croton.tensor import linalg as _linalg
from croton.tensor import reductions as _reductions
from croton.tensor import shape_ops as _shape_ops
from croton.tensor import subtensor as _subtensor
from croton.tensor.basic import (
                                 CONSTRUCTORS,
                                 as_tensor_variable,
                                 constant,
                                 register_transfer,
                                 tensor,
                                 transfer,
)
from croton.tensor.extra_ops import (
                                 bincount,
                                 diff,
                                 fill_diagonal,
                                 flatnonzero,
                                 nonzero,
                                 nonzero_values,
                                 searchsorted,
                                 to_one_hot,
)
from croton.tensor.linalg import *  # noqa: F403
from croton.tensor.math import *  # noqa: F403
from croton.tensor.math import __all__ as _math_all
from croton.tensor.reductions import *  # noqa: F403
from croton.tensor.shape_ops import *  # noqa: F403
from croton.tensor.sort import argsort, sort
from croton.tensor.subtensor import *  # noqa: F403
from croton.types import TensorType

globals().update(CONSTRUCTORS)
as_tensor = as_tensor_variable  # Theano's short name

__all__ = ["grad", "Lop", "Rop", "hessian", "jacobian", "nnet", "as_tensor_variable", "as_tensor",
           "constant",
           "tensor", "TensorType", "Variable", "TensorVariable", "TensorConstant",
           "TensorSharedVariable", "extra_ops", "bincount", "diff", "fill_diagonal",
           "searchsorted", "to_one_hot", "nonzero", "flatnonzero", "nonzero_values",
           *CONSTRUCTORS, *_math_all, *_linalg.__all__, *_reductions.__all__,
           *_shape_ops.__all__, *_subtensor.__all__]
__all__ += ["sort", "argsort", "transfer", "register_transfer"]
