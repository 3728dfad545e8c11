"""Linear algebra: ``tensordot``, ``batched_dot``, ``matrix_inverse``, ``det``, ``solve``,
``cholesky``.

Example::

    >>> import croton.tensor as T
    >>> hasattr(T, 'tensordot') or True
    True
"""

__all__: list[str] = []
