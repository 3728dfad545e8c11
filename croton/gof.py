"""Theano's ``theano.gof`` names: the graph classes, and ``graph`` (``theano.gof.graph`` is
``croton.graph``).

Example::

    >>> import croton.tensor as T
    >>> from croton import gof
    >>> isinstance(T.dmatrix('x'), gof.Variable), gof.graph.inputs([T.dmatrix('y') * 2])
    (True, [y, 2.0])
"""

from croton import graph
from croton.graph import Apply, Constant, Variable
from croton.graph import clone_replace as clone
from croton.graph import inputs as graph_inputs  # noqa: F401  (Theano code reads this name too)

__all__ = ["graph", "Apply", "Constant", "Variable", "clone"]
