"""fuse_reductions: a reduction absorbs the elementwise work that feeds it (one loop nest, no
temporary), and every reduction (an op whose record has ``reduction``: sum, prod, max, min, all,
any) becomes a ``fused_reduce`` node, whose kernel vectorizes and threads.

The producer is absorbed when it is elementwise (or a single-output fused node), has the
reduction as its only reader, and is not itself an output.

Before::  t = sqr(x); out = sum{axis=(0,)}(t)           (two loops, a temporary the size of x)
After::   out = fused_reduce{sum, axis=(0,)}[sqr](x)       (one loop)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.fvector('x')
    >>> g = fuse_reductions(Graph.make([x], [T.sum(x * x)]))
    >>> g.outputs[0].owner.op.name, [s[0] for s in dict(g.outputs[0].owner.params)['program']]
    ('fused_reduce', ['mul'])
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.ops.fused import FUSED_REDUCE
from croton.ops.table import make_output


def _is_reduction(node: Apply) -> bool:
    return node.op.reduction is not None


def fuse_reductions(graph: Graph) -> Graph:
    """Replace each reduction (and its single-use elementwise producer) by ``fused_reduce``."""
    clients = graph.clients()

    def transform(node: Apply, inputs: list[Variable]):
        if not _is_reduction(node):
            return None
        (x,) = inputs
        producer = x.owner
        users = clients.get(id(node.inputs[0]), [])
        absorb = (producer is not None and producer.op.kind in ("elemwise", "fused")
                  and len(producer.outputs) == 1 and len(users) == 1 and users[0] is node)
        if absorb and producer.op.kind == "fused":
            leaves = list(producer.inputs)
            program = dict(producer.params)["program"]
        elif absorb:
            leaves = list(producer.inputs)
            program = ((producer.op.name, producer.params,
                        tuple(("in", k) for k in range(len(leaves))), producer.source),)
        else:
            leaves, program = [x], ()
        out = make_output(FUSED_REDUCE, leaves, program=program, reduce=node.op.name,
                          axis=dict(node.params)["axis"], out_type=node.outputs[0].type,
                          in_type=x.type)
        out.owner.source = node.source
        out.name = node.outputs[0].name
        return [out]

    return graph.rebuild(transform)
