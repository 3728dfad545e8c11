"""Theano's old import path: ``from croton.tensor.shared_randomstreams import RandomStreams``.

Example::

    >>> from croton.tensor.shared_randomstreams import RandomStreams
    >>> RandomStreams(seed=234).uniform((2, 2)).ndim
    2
"""

from croton.tensor.random import RandomStreams, RandomVariable

__all__ = ["RandomStreams", "RandomVariable"]
