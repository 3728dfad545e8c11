"""``croton.tensor.nnet``: the neural-network helpers of Theano's namespace available so far.

Example::

    >>> import croton.tensor as T
    >>> T.nnet.sigmoid(T.dvector('x')).owner.op.name
    'sigmoid'
"""

from croton.tensor.math import sigmoid

__all__ = ["sigmoid"]
