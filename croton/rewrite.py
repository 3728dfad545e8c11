"""The fixed-point engine for local rewrites. A rule is ``rule(node, inputs) -> outputs | None``:
it looks at one node (its op and params, and its already-rewritten ``inputs``) and returns
replacement variables of the same types, built with croton.tensor functions, or None. Passes
such as canonicalize and stabilize are a list of rules run to a fixed point. A replacement made
by the rule takes the name of the variable it replaces; a variable that was already in the graph
(the user's own, returned as is) keeps its name: passes never change the user's variables.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> def drop_double_neg(node, inputs):
    ...     x = inputs[0]
    ...     if node.op.name == 'neg' and x.owner is not None and x.owner.op.name == 'neg':
    ...         return [x.owner.inputs[0]]
    ...     return None
    >>> x = T.dvector('x')
    >>> g = rewrite_to_fixed_point(Graph.make([x], [-(-x)]), [drop_double_neg])
    >>> g.outputs[0] is x
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable, source_override

Rule = Callable[[Apply, list[Variable]], Sequence[Variable] | None]


def rewrite_to_fixed_point(graph: Graph, rules: Sequence[Rule], max_sweeps: int = 12) -> Graph:
    """Apply ``rules`` (first match wins, per node) in sweeps until none fires."""
    for _ in range(max_sweeps):
        fired = False
        # every variable of the graph before this sweep: a rule may return one of them as is
        # (``x * 1 -> x``); only variables the rule made are named after what they replace
        existing = {id(v) for n in graph.nodes() for v in (*n.inputs, *n.outputs)}

        def transform(node: Apply, inputs: list[Variable], existing: set[int] = existing):
            nonlocal fired
            for rule in rules:
                with source_override(node.source):
                    out = rule(node, inputs)
                if out is None:
                    continue
                out = list(out)
                if len(out) != len(node.outputs) or any(
                        n.type != o.type for n, o in zip(out, node.outputs)):
                    continue  # a rule may not change a type; skip it here
                for n, o in zip(out, node.outputs):
                    if n.name is None and o.name is not None and n.owner is not None \
                            and id(n) not in existing:
                        n.name = o.name
                fired = True
                return out
            return None

        graph = graph.rebuild(transform)
        if not fired:
            break
    return graph


def scalar_constant(v: Variable) -> float | int | complex | None:
    """The value of a constant whose elements are all equal, else None."""
    if not isinstance(v, Constant):
        return None
    data = v.data
    if data.size == 0:
        return None
    first = data.reshape(-1)[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return first.item()


def op_name(v: Variable) -> str | None:
    """The op name of the node computing ``v`` (None for inputs and constants)."""
    return v.owner.op.name if v.owner is not None else None


def single_value(v: Variable) -> float | int | complex | bool | None:
    """The value of a one-element constant, looking through dimshuffles that only add
    broadcastable dimensions (how ``x * 2`` aligns its ``2``); else None."""
    while v.owner is not None and v.owner.op.name == "dimshuffle":
        v = v.owner.inputs[0]
    if isinstance(v, Constant) and v.data.size == 1:
        return v.data.reshape(-1)[0].item()
    return None
