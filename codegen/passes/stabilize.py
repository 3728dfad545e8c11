"""stabilize: rewrite numerically fragile forms into stable equivalents.

- ``1 / (1 + exp(-x)) → sigmoid(x)`` (the logistic written out, as Theano's tutorial does)
- ``log(sigmoid(x)) → -softplus(-x)``, ``log(1 - sigmoid(x)) → -softplus(x)``
- ``log(1 + x) → log1p(x)``, ``exp(x) - 1 → expm1(x)``
- ``log(exp(z) / s) → z - log(s)`` (a log of softmax becomes log_softmax)
- ``log(sum(exp(x))) → log(sum(exp(x - max(x)))) + max(x)`` (logsumexp)

The rules live in ``croton/stability.py``: ``croton.gradient.grad`` applies the same rules to the
cost before differentiating, so the gradients of these forms are stable too.

Before::  out = log(sigmoid(x))          (-inf for x = -1000)
After::   out = -softplus(-x)            (-1000)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> stabilize(Graph.make([x], [T.log(T.sigmoid(x))])).outputs[0].owner.op.name
    'neg'
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.rewrite import rewrite_to_fixed_point
from croton.stability import RULES


def stabilize(graph: Graph) -> Graph:
    """Run the stability rewrites (``croton.stability.RULES``) to a fixed point."""
    return rewrite_to_fixed_point(graph, RULES)
