"""plan_inplace: compute an update's new value directly into the shared variable's storage
when nothing after that kernel reads the old value, instead of into scratch memory and then
copying (``W = W - lr * g`` becomes one kernel writing W; with ``gemm``, ``gemv`` or ``ger``,
one BLAS call accumulating into W or b).

Everything it knows about ops comes from their records (``croton/ops/table.py``): an update
qualifies when its value's op says how its output may take the storage (``inplace``: an
elementwise kernel, the shared variable read as a plain operand, element i before element i is
written; or ``gemm``, ``gemv``, ``ger``, accumulating into their first input, which must be the
shared variable), no other node reads the shared variable or a view of it (``views``) after
that kernel, neither it nor its value is also an output, and no later node can fail at run time
(``can_fail``: a failed call must leave shared variables unchanged; the lowering checks this
again on the finished plan). The decision is recorded as ``Graph.inplace_updates``.

Before::  W_new = fused{(i0 - (i1 * i2))}(W, 0.1, g) ; commit: copy W_new into W
After::   the same kernel with W's storage as its output ; no copy

Example::

    >>> import numpy as np, croton, croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> W = croton.shared(np.zeros(3), 'W')
    >>> plan_inplace(Graph.make([x], [], [(W, W - 0.1 * x)])).inplace_updates
    (0,)
"""

from __future__ import annotations

import dataclasses

from croton.fgraph import Graph
from croton.graph import Apply, Variable


def _aliases(graph: Graph, s: Variable, nodes: list[Apply]) -> set[int]:
    """Ids of ``s`` and of every view of it."""
    alias = {id(s)}
    for node in nodes:
        if any(id(i) in alias for i in node.op.viewed(node.inputs)):
            alias.update(id(o) for o in node.outputs)
    return alias


def _writes_safely(node: Apply, s: Variable, alias: set[int]) -> bool:
    inplace = node.op.inplace
    if inplace is None:
        return False
    k = inplace.into_input
    if k is None:
        # every read of s is s itself (same layout as the output), never a view of it
        return all(i is s or id(i) not in alias for i in node.inputs)
    # the kernel accumulates into input k, which is s; no other input reads s
    return node.inputs[k] is s and all(id(f) not in alias for j, f in enumerate(node.inputs)
                                       if j != k)


def plan_inplace(graph: Graph) -> Graph:
    """Mark the updates that can be computed in place (``Graph.inplace_updates``)."""
    nodes = graph.nodes()
    position = {id(n): k for k, n in enumerate(nodes)}
    output_ids = {id(o) for o in graph.outputs}
    chosen: list[int] = []
    for k, (s, v) in enumerate(graph.updates):
        node = v.owner
        if node is None or v.type != s.type or id(v) in output_ids:
            continue
        alias = _aliases(graph, s, nodes)
        if alias & output_ids or any(id(u) in alias for j, (_, u) in enumerate(graph.updates)
                                     if j != k):
            continue
        if not _writes_safely(node, s, alias):
            continue
        here = position[id(node)]
        later = nodes[here + 1:]
        if any(id(i) in alias for n in later for i in n.inputs):
            continue
        if any(n.op.can_fail for n in later):
            continue
        if sum(1 for _, u in graph.updates if u is v) > 1:
            continue
        chosen.append(k)
    return dataclasses.replace(graph, inplace_updates=tuple(chosen))
