"""Theano's ``theano.tensor.slinalg`` path: the SciPy-style linear algebra of
``croton.tensor.linalg``.

Example::

    >>> from croton.tensor import slinalg
    >>> import croton.tensor as T
    >>> slinalg.cholesky(T.dmatrix('a')).ndim
    2
"""

from croton.tensor.linalg import cholesky, solve

__all__ = ["solve", "cholesky"]
