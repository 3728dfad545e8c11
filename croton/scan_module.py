"""Theano's ``theano.scan_module``: ``scan``, and ``scan_utils`` (graph comparison:
``theano.scan_module.scan_utils`` is ``croton.graph``, which holds ``equal_computations``).

Example::

    >>> import croton.tensor as T
    >>> from croton import scan_module
    >>> x = T.dvector('x')
    >>> scan_module.scan_utils.equal_computations([x * 2], [x * 2])
    True
"""

from croton import graph as scan_utils
from croton.scan import scan

__all__ = ["scan", "scan_utils"]
