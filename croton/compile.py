"""Theano's ``theano.compile`` names: shared variables, ``function``, ``In``/``Out``, modes.

Example::

    >>> import numpy, croton
    >>> from croton import compile
    >>> isinstance(croton.shared(numpy.zeros(2)), compile.SharedVariable)
    True
"""

from croton.function_module import In, Out, function
from croton.mode import Mode
from croton.shared import SharedVariable, shared

__all__ = ["SharedVariable", "shared", "function", "In", "Out", "Mode"]
