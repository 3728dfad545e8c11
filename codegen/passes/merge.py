"""merge: share identical subgraphs (same op, parameters and inputs) and equal constants.

Before::  a = exp(x); b = exp(x); out = a + b;  c1 = 2.0; c2 = 2.0
After::   a = exp(x); out = a + a;              c1 used for both
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Constant, Variable


def merge(graph: Graph) -> Graph:
    """Common-subexpression elimination by structural hashing, in one topological sweep."""
    seen_nodes: dict[tuple, list[Variable]] = {}
    seen_constants: dict[tuple, Constant] = {}

    def replace_leaf(v: Variable) -> Variable:
        if isinstance(v, Constant):
            return seen_constants.setdefault(v.signature(), v)
        return v

    def transform(node, inputs):
        key = (node.op.name, node.params, tuple(id(i) for i in inputs))
        if key in seen_nodes:
            return seen_nodes[key]
        outs = None
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            from croton.fgraph import clone_node

            outs = clone_node(node, inputs)
        seen_nodes[key] = outs if outs is not None else list(node.outputs)
        return seen_nodes[key]

    return graph.rebuild(transform, replace_leaf)
