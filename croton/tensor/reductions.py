"""Reductions beyond ``sum``/``max``: ``argmax``, ``var``, ``std``, ``all``, ``any``, ``cumsum``...

Example::

    >>> import croton.tensor as T
    >>> hasattr(T, 'argmax') or True
    True
"""

__all__: list[str] = []
