"""fuse_siblings: elementwise loops that read a common input become one loop with several
outputs, so the input is read from memory once.

Two elementwise or ``fused`` nodes are merged when they read a common variable (not a literal)
that has exactly their outputs' broadcast pattern (so their run-time shapes are equal: each
equals that input's; the kernel still checks it), neither depends on the other through any path,
and both run in the same place (not in different ``ifelse`` branches). Runs after
fuse_elementwise and fuse_reductions, so a reduction's feeder is absorbed first.

Before::  m2 = fused{b1*m + (1-b1)*g}(m, g); v2 = fused{b2*v + (1-b2)*g*g}(v, g)   (g read twice)
After::   (m2, v2) = fused{...}(m, g, v)                                          (one loop)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.passes.fuse_elementwise import fuse_elementwise
    >>> g, m, v = T.dvectors('g', 'm', 'v')
    >>> two_loops = fuse_elementwise(Graph.make([g, m, v], [m * 0.9 + g, v * 0.99 + g * g]))
    >>> out = fuse_siblings(two_loops)
    >>> node = out.outputs[0].owner
    >>> node.op.name, node is out.outputs[1].owner, dict(node.params)['outputs']
    ('fused', True, (1, 4))
"""

from __future__ import annotations

from croton.codegen.passes.fusion_groups import (
    ELEMENTWISE_KINDS,
    FusionGroups,
    build_fused,
    is_literal,
)
from croton.fgraph import Graph
from croton.graph import Variable


def _common_inputs(groups: FusionGroups) -> list[Variable]:
    """The variables elementwise nodes read (size-1 constants excepted), in graph order."""
    seen: dict[int, Variable] = {}
    for node in groups.nodes:
        if node.op.kind in ELEMENTWISE_KINDS:
            for v in node.inputs:
                seen.setdefault(id(v), v)
    return [v for v in seen.values() if not is_literal(v)]


def fuse_siblings(graph: Graph) -> Graph:
    """Merge elementwise siblings (same pattern, a common input of that pattern, independent)."""
    groups = FusionGroups(graph)
    merged_any = False
    for v in _common_inputs(groups):
        pattern = tuple(v.broadcastable)
        readers = [r for r in groups.readers(v) if r is not None
                   and r.op.kind in ELEMENTWISE_KINDS and len(r.outputs) > 0
                   and tuple(r.outputs[0].broadcastable) == pattern]
        if len(readers) < 2:
            continue
        loops: list[int] = []
        for r in readers:
            g = groups.group_of(r)
            for h in loops:
                h = groups.find(h)
                if h == g:
                    break
                if groups.home(h) == groups.home(g) and groups.can_merge(h, g):
                    groups.merge(h, g)
                    merged_any = True
                    break
            else:
                loops.append(g)
    return build_fused(graph, groups) if merged_any else graph
