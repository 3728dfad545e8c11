"""constant_fold: compute at compile time every node whose inputs are all constants.

Before::  out = x * (2.0 * 3.0)
After::   out = x * 6.0
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Constant
from croton.ops.table import node_perform

# Folding must not turn a small graph into a huge constant embedded in the source: a result
# larger than its inputs (alloc, arange, eye, outer...) is folded only while it stays small.
MAX_FOLDED_ELEMENTS = 1 << 16
MAX_EXPANDED_ELEMENTS = 256


def constant_fold(graph: Graph) -> Graph:
    """Replace constant-only nodes by their NumPy-computed values."""

    def transform(node, inputs):
        if not all(isinstance(i, Constant) for i in inputs):
            return None
        try:
            values = node_perform(node, [i.data for i in inputs])
        except (ValueError, ArithmeticError, IndexError):
            return None  # let the call report it with the user's line
        in_size = sum(i.data.size for i in inputs)
        if any(v.size > MAX_FOLDED_ELEMENTS
               or (v.size > in_size and v.size > MAX_EXPANDED_ELEMENTS) for v in values):
            return None
        return [Constant(o.type, v, o.name) for o, v in zip(node.outputs, values)]

    return graph.rebuild(transform)
