"""Theano's ``theano.scalar`` names that libraries read: ``upcast`` (NumPy's promotion of dtype
names).

Example::

    >>> from croton import scalar
    >>> scalar.upcast('int32', 'float32'), scalar.upcast('int8', 'uint8')
    ('float64', 'int16')
"""

from croton.types import upcast

__all__ = ["upcast"]
