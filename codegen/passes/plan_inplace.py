"""plan_inplace: compute an update's new value directly into the shared variable's storage
when nothing after that kernel reads the old value, instead of into scratch memory and then
copying (``W = W - lr * g`` becomes one kernel writing W; with ``gemm``, ``gemv`` or ``ger``,
one BLAS call accumulating into W or b).

An update qualifies when its value is made by an elementwise kernel (the shared variable read
as a plain operand, element i before element i is written) or by ``gemm``, ``gemv`` or ``ger``
(the shared variable as the addend only: C, y or A), no other node reads the shared variable
or a view of it after that kernel, neither it nor its value is also an output, and every later
node is of a kind that cannot fail at run time (a failed call must leave shared variables
unchanged; the lowering checks this again on the finished plan). The decision is recorded as
``Graph.inplace_updates``.

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

VIEW_KINDS = {"dimshuffle", "subtensor", "reshape", "split", "extract_diag", "rebroadcast",
              "specify_shape"}
# kinds whose kernels have no run-time check that could fail after the in-place write
CANNOT_FAIL = {"elemwise", "fused", "fused_reduce", "reduce", "dimshuffle", "shape_i", "gemm",
               "gemv", "ger"}


def _aliases(graph: Graph, s: Variable, nodes: list[Apply]) -> set[int]:
    """Ids of ``s`` and of every view of it."""
    alias = {id(s)}
    for node in nodes:
        if node.op.kind in VIEW_KINDS and any(id(i) in alias for i in node.inputs):
            alias.update(id(o) for o in node.outputs)
    return alias


def _writes_safely(node: Apply, s: Variable, alias: set[int]) -> bool:
    kind = node.op.kind
    if kind in ("elemwise", "fused"):
        # every read of s is s itself (same layout as the output), never a view of it
        return all(i is s or id(i) not in alias for i in node.inputs)
    if kind in ("gemm", "gemv", "ger"):
        # the addend (C, y or A: always the first input) is s; the factors never read s
        addend, *factors = node.inputs
        return addend is s and all(id(f) not in alias for f in factors)
    return False


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
        if any(n.op.kind not in CANNOT_FAIL for n in later):
            continue
        if sum(1 for _, u in graph.updates if u is v) > 1:
            continue
        chosen.append(k)
    return dataclasses.replace(graph, inplace_updates=tuple(chosen))
