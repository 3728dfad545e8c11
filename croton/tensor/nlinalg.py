"""Theano's ``theano.tensor.nlinalg`` path: the NumPy-style linear algebra of
``croton.tensor.linalg``.

Example::

    >>> from croton.tensor import nlinalg
    >>> import croton.tensor as T
    >>> nlinalg.matrix_inverse(T.dmatrix('a')).ndim
    2
"""

from croton.tensor.linalg import det, matrix_dot, matrix_inverse

inv = matrix_inverse

__all__ = ["matrix_inverse", "det", "matrix_dot", "inv"]
