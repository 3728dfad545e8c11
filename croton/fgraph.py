"""``Graph``: what a function computes (inputs, shared state, outputs, updates), the unit
every pass in ``codegen/passes`` consumes and returns. Passes never mutate it; ``rebuild``
makes a new one.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> g = Graph.make([x], [T.exp(x) * 2])
    >>> [n.op.name for n in g.nodes()]
    ['exp', 'dimshuffle', 'mul']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from croton.graph import Apply, Constant, Variable, ancestors_toposort
from croton.shared import SharedVariable

# transform(node, new_inputs) -> new outputs, or None to keep the node (re-applied to new inputs)
Transform = Callable[[Apply, list[Variable]], Sequence[Variable] | None]


def clone_node(node: Apply, inputs: Sequence[Variable]) -> list[Variable]:
    """``node`` applied to ``inputs``: the same outputs if the inputs did not change."""
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return list(node.outputs)
    new = Apply(node.op, node.params, inputs, [o.type for o in node.outputs], node.source)
    for old, out in zip(node.outputs, new.outputs):
        out.name = old.name
    return new.outputs


@dataclass(frozen=True)
class Graph:
    inputs: tuple[Variable, ...]
    outputs: tuple[Variable, ...]
    updates: tuple[tuple[SharedVariable, Variable], ...] = ()
    # indices of updates whose value is computed straight into the shared variable's storage
    # (decided by the plan_inplace pass; rebuild() drops it, so that pass runs last)
    inplace_updates: tuple[int, ...] = ()
    # scratch buffers live in a workspace kept between calls, shared by buffers whose
    # lifetimes do not overlap (decided by the plan_memory pass; rebuild() drops it too)
    reuse_memory: bool = False

    @staticmethod
    def make(inputs: Sequence[Variable], outputs: Sequence[Variable],
             updates: Sequence[tuple[SharedVariable, Variable]] = ()) -> Graph:
        return Graph(tuple(inputs), tuple(outputs), tuple((s, v) for s, v in updates))

    @property
    def roots(self) -> list[Variable]:
        """Every variable the function must produce: outputs, then update values."""
        return list(self.outputs) + [v for _, v in self.updates]

    def nodes(self) -> list[Apply]:
        return ancestors_toposort(self.roots)

    def shared_variables(self) -> list[SharedVariable]:
        """Shared variables read or written, in a stable order (updated first, then read)."""
        found: dict[int, SharedVariable] = {}
        for s, _ in self.updates:
            found.setdefault(id(s), s)
        for v in self.roots:
            if isinstance(v, SharedVariable):
                found.setdefault(id(v), v)
        for node in self.nodes():
            for inp in node.inputs:
                if isinstance(inp, SharedVariable):
                    found.setdefault(id(inp), inp)
        return list(found.values())

    def constants(self) -> list[Constant]:
        found: dict[int, Constant] = {}
        for v in self.roots:
            if isinstance(v, Constant):
                found.setdefault(id(v), v)
        for node in self.nodes():
            for inp in node.inputs:
                if isinstance(inp, Constant):
                    found.setdefault(id(inp), inp)
        return list(found.values())

    def clients(self) -> dict[int, list[Apply | None]]:
        """For each variable id, the nodes that read it; ``None`` marks an output or update."""
        uses: dict[int, list[Apply | None]] = {}
        for node in self.nodes():
            for inp in node.inputs:
                uses.setdefault(id(inp), []).append(node)
        for v in self.roots:
            uses.setdefault(id(v), []).append(None)
        return uses

    def rebuild(self, transform: Transform,
                replace_leaf: Callable[[Variable], Variable] | None = None) -> Graph:
        """A new graph: each node (in order) is given to ``transform`` with its new inputs."""
        mapping: dict[int, Variable] = {}

        def get(v: Variable) -> Variable:
            if id(v) in mapping:
                return mapping[id(v)]
            if v.owner is None and replace_leaf is not None:
                new = replace_leaf(v)
                mapping[id(v)] = new
                return new
            return v

        for node in self.nodes():
            new_inputs = [get(i) for i in node.inputs]
            result = transform(node, new_inputs)
            outs = clone_node(node, new_inputs) if result is None else list(result)
            for old, new in zip(node.outputs, outs):
                mapping[id(old)] = new
        return Graph(
            self.inputs,
            tuple(get(o) for o in self.outputs),
            tuple((s, get(v)) for s, v in self.updates),
        )
