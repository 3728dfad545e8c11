"""fuse_elementwise: a chain of elementwise ops becomes one ``fused`` node (one loop).

A producer is absorbed into its consumer when it is elementwise, has the same ndim, and the
consumer is its only reader (and it is not itself an output).

Before::  t1 = exp(x); t2 = t1 * y; out = t2 + 1      (three loops, two temporaries)
After::   out = fused{exp, mul, add}(x, y, 1)          (one loop)
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.ops.fused import FUSED
from croton.ops.table import make_output


def _is_elemwise(node: Apply | None) -> bool:
    return node is not None and node.op.kind == "elemwise"


def _groups(graph: Graph) -> dict[int, Apply]:
    """Map each absorbable producer node id to the consumer that absorbs it."""
    clients = graph.clients()
    absorbed_by: dict[int, Apply] = {}
    for node in graph.nodes():
        if not _is_elemwise(node):
            continue
        users = clients.get(id(node.outputs[0]), [])
        if len(users) != 1 or users[0] is None:
            continue
        consumer = users[0]
        if _is_elemwise(consumer) and consumer.outputs[0].ndim == node.outputs[0].ndim:
            absorbed_by[id(node)] = consumer
    return absorbed_by


def fuse_elementwise(graph: Graph) -> Graph:
    """Replace each maximal elementwise tree by one ``fused`` node."""
    absorbed_by = _groups(graph)

    def build_program(root: Apply, inputs_of: dict[int, list[Variable]]):
        leaves: list[Variable] = []
        leaf_index: dict[int, int] = {}
        steps: list[tuple] = []

        def visit(node: Apply) -> tuple[str, int]:
            args = []
            for old, new in zip(node.inputs, inputs_of[id(node)]):
                producer = old.owner
                if producer is not None and absorbed_by.get(id(producer)) is node:
                    args.append(visit(producer))
                else:
                    if id(new) not in leaf_index:
                        leaf_index[id(new)] = len(leaves)
                        leaves.append(new)
                    args.append(("in", leaf_index[id(new)]))
            steps.append((node.op.name, node.params, tuple(args), node.source))
            return ("step", len(steps) - 1)

        visit(root)
        return leaves, tuple(steps)

    new_inputs_of: dict[int, list[Variable]] = {}

    def transform(node, inputs):
        new_inputs_of[id(node)] = inputs
        if id(node) in absorbed_by or not _is_elemwise(node):
            return None
        if not any(i.owner is not None and id(i.owner) in absorbed_by for i in node.inputs):
            return None  # nothing to absorb: keep the single op
        leaves, program = build_program(node, new_inputs_of)
        out = make_output(FUSED, leaves, out_type=node.outputs[0].type, program=program)
        out.owner.source = node.source
        out.name = node.outputs[0].name
        return [out]

    return graph.rebuild(transform)
