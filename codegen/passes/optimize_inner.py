"""optimize_inner: the inner graphs of ops that hold one (a scan's step, through the record's
``map_inner``) are optimized by the same mode's passes, inside the pipeline, so that lowering
receives already-optimized bodies. ``codegen/pipeline.py`` makes one such pass per mode
(``inner_graphs(optimize)``, with ``optimize`` running that mode's pipeline); nested scans are
optimized by the nested run.

Before::  scan{fn=step}(...) whose step computes x * 1 + 0
After::   the same scan whose step computes x

Example::

    >>> import croton, croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.pipeline import run_pipeline
    >>> x = T.dvector('x')
    >>> ys, _ = croton.scan(lambda v: v * 1 + 0, sequences=[x])
    >>> g = inner_graphs(run_pipeline)(Graph.make([x], [ys]))
    >>> step = [n for n in g.nodes() if n.op.name == 'scan'][0]
    >>> [n.op.name for n in dict(step.params)['fn'].inner.nodes()]
    []
"""

from __future__ import annotations

from collections.abc import Callable

from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.ops.table import apply_op


def inner_graphs(optimize: Callable[[Graph], Graph]) -> Callable[[Graph], Graph]:
    """The pass that replaces every inner graph ``g`` of the graph's nodes by ``optimize(g)``."""

    def optimize_inner(graph: Graph) -> Graph:
        if not any(n.op.map_inner is not None for n in graph.nodes()):
            return graph

        def transform(node: Apply, inputs: list[Variable]):
            if node.op.map_inner is None:
                return None
            params = node.op.map_inner(dict(node.params), optimize)
            new = apply_op(node.op, inputs, node.source, **params)
            for old, out in zip(node.outputs, new.outputs):
                out.name = old.name
            return new.outputs

        return graph.rebuild(transform)

    return optimize_inner
