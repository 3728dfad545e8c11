"""fuse_elementwise: chains of elementwise ops become one ``fused`` node (one loop), with
several outputs when an absorbed value is also needed elsewhere.

Visiting producers from the outputs back, an elementwise producer of the consumer's ndim joins
its consumer's group when:

- every reader of its value is in that one group (the value stays inside the loop), or
- it has other readers (a dot, a reduction, a function output, an update) but has exactly the
  loop's broadcast pattern, so the loop can write it as one more output (its run-time shape is
  then the loop's); other elementwise readers with that pattern join the same loop too.

No merge may make the graph cyclic (a value leaving the loop and coming back through another
node), and nodes in different ``ifelse`` branches are never fused (a branch stays lazy).

Before::  t1 = exp(x); t2 = t1 * y; out = t2 + 1      (three loops, two temporaries)
After::   out = fused{exp, mul, add}(x, y, 1)          (one loop)

Before::  h = tanh(z); out = h * 2; d = dot(h, W)       (h is read twice)
After::   (out, h) = fused{tanh, mul}(z, 2); d = dot(h, W)   (one loop, two outputs)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> h = T.tanh(x)
    >>> node = fuse_elementwise(Graph.make([x], [h * 2, h])).outputs[0].owner
    >>> [s[0] for s in dict(node.params)['program']], dict(node.params)['outputs']
    (['tanh', 'mul'], (0, 1))
"""

from __future__ import annotations

from croton.codegen.passes.fusion_groups import FusionGroups, build_fused
from croton.fgraph import Graph
from croton.graph import Apply


def _fusable_reader(groups: FusionGroups, producer: Apply, reader: Apply | None) -> bool:
    return (reader is not None and reader.op.kind == "elemwise"
            and reader.outputs[0].ndim == producer.outputs[0].ndim
            and groups.homes[id(reader)] == groups.homes[id(producer)])


def _absorb(groups: FusionGroups, node: Apply) -> None:
    """Join ``node`` (still alone in its group) to the group of a reader, if one fits."""
    p = groups.group_of(node)
    readers = groups.readers(node.outputs[0])
    targets: list[int] = []
    for r in readers:
        if _fusable_reader(groups, node, r):
            g = groups.group_of(r)
            if g not in targets:
                targets.append(g)
    if not targets:
        return
    if len(targets) == 1 and all(_fusable_reader(groups, node, r) for r in readers):
        groups.merge(targets[0], p, exact=False)  # read only inside the loop
        return
    pattern = tuple(node.outputs[0].broadcastable)
    merged = None
    for g in targets:  # the value leaves the loop: it must have the loop's own shape
        if groups.pattern[g] != pattern:
            continue
        if merged is None and groups.can_merge(g, p):
            merged = groups.merge(g, p)
        elif merged is not None and groups.can_merge(merged, g):
            merged = groups.merge(merged, g)


def fuse_elementwise(graph: Graph) -> Graph:
    """Replace each group of elementwise nodes by one ``fused`` node."""
    groups = FusionGroups(graph)
    for node in reversed(groups.nodes):
        if node.op.kind == "elemwise":
            _absorb(groups, node)
    return build_fused(graph, groups)
