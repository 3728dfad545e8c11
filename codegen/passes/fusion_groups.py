"""Shared machinery of the elementwise fusion passes (not a pass itself): ``FusionGroups``
partitions a graph's nodes into groups that become one loop each, keeping the graph of groups
acyclic, and ``build_fused`` rebuilds the graph with one ``fused`` node per group of two or more
nodes (several outputs when several of its values are read outside it).

Example (``h`` is read by the consumer and returned: one loop, two outputs)::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> h = T.tanh(x)
    >>> g = Graph.make([x], [h * 2, h])
    >>> groups = FusionGroups(g)
    >>> a, b = (groups.group_of(v.owner) for v in g.outputs)
    >>> groups.can_merge(a, b)
    True
    >>> _ = groups.merge(a, b)
    >>> node = build_fused(g, groups).outputs[0].owner
    >>> node.op.name, dict(node.params)['outputs']
    ('fused', (0, 1))
"""

from __future__ import annotations

from croton.codegen.branches import branch_homes
from croton.fgraph import Graph, clone_node
from croton.graph import Apply, Constant, Variable
from croton.ops.fused import FUSED
from croton.ops.table import apply_op

ELEMENTWISE_KINDS = ("elemwise", "fused")


def node_homes(graph: Graph, nodes: list[Apply]) -> dict[int, object]:
    """For each node id, the ``ifelse`` branch it is lowered in (``None``: the function body).
    Fusion only joins nodes with the same home, so a branch's work stays lazy."""
    if not any(n.op.branch_of is not None for n in nodes):
        return {id(n): None for n in nodes}
    return branch_homes(nodes, graph.roots)


class FusionGroups:
    """A partition of ``graph.nodes()`` into groups (union-find over node positions), with the
    nodes that reach each group (``anc``, a bitset over positions) kept exact under merges, so
    that ``can_merge`` refuses any merge that would close a cycle through another group."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes = graph.nodes()
        self.pos = {id(n): k for k, n in enumerate(self.nodes)}
        self.clients = graph.clients()
        self.homes = node_homes(graph, self.nodes)
        n = len(self.nodes)
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {k: [k] for k in range(n)}
        self.mask: dict[int, int] = {k: 1 << k for k in range(n)}
        self.preds: list[list[int]] = []
        self.anc: dict[int, int] = {}
        for k, node in enumerate(self.nodes):
            preds = sorted({self.pos[id(i.owner)] for i in node.inputs if i.owner is not None})
            self.preds.append(preds)
            bits = 0
            for p in preds:
                bits |= self.anc[p] | (1 << p)
            self.anc[k] = bits
        # the loop's broadcast pattern of each group (that of its outputs)
        self.pattern: dict[int, tuple[bool, ...]] = {
            k: tuple(node.outputs[0].broadcastable) for k, node in enumerate(self.nodes)
            if node.outputs}

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def group_of(self, node: Apply) -> int:
        return self.find(self.pos[id(node)])

    def home(self, g: int) -> object:
        return self.homes[id(self.nodes[g])]

    def member_nodes(self, g: int) -> list[Apply]:
        return [self.nodes[k] for k in sorted(self.members[self.find(g)])]

    def readers(self, var: Variable) -> list[Apply | None]:
        """The nodes reading ``var``; ``None`` when it is an output or an update value."""
        return self.clients.get(id(var), [])

    def _path_around(self, a: int, b: int) -> bool:
        """True when a path leads from group ``a`` to group ``b`` through another group."""
        for k in self.members[b]:
            for p in self.preds[k]:
                r = self.find(p)
                if r != a and r != b and self.anc[r] & self.mask[a]:
                    return True
        return False

    def can_merge(self, a: int, b: int) -> bool:
        """Whether groups ``a`` and ``b`` can become one node without making a cycle."""
        a, b = self.find(a), self.find(b)
        return a != b and not self._path_around(a, b) and not self._path_around(b, a)

    def merge(self, a: int, b: int, exact: bool = True) -> int:
        """Join groups ``a`` and ``b`` (the pattern of ``a`` stays the loop's). ``exact=False``
        is allowed when every reader of ``b`` is in ``a`` (nothing else learns a new path)."""
        a, b = self.find(a), self.find(b)
        self.parent[b] = a
        self.members[a] += self.members.pop(b)
        self.mask[a] |= self.mask.pop(b)
        self.anc[a] |= self.anc.pop(b)
        if exact:  # whatever reaches a member now reaches the whole group, and its ancestors
            mask, anc, parent = self.mask[a], self.anc, self.parent
            reach = anc[a] | mask
            seen = {a}
            for k in range(min(self.members[a]) + 1, len(self.nodes)):  # descendants come later
                r = parent[k]
                if parent[r] != r:
                    r = self.find(k)
                if r not in seen:
                    seen.add(r)
                    if anc[r] & mask:
                        anc[r] |= reach
        return a


def is_literal(v: Variable) -> bool:
    """A size-1 constant: the kernel prints it as a literal (no memory is read)."""
    return isinstance(v, Constant) and v.data.size == 1


def _group_order(groups: FusionGroups) -> list[int]:
    """The groups in an order where each comes after every group it reads (iterative DFS)."""
    order: list[int] = []
    done: set[int] = set()
    for start in range(len(groups.nodes)):
        root = groups.find(start)
        if root in done:
            continue
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            g, expanded = stack.pop()
            if expanded:
                order.append(g)
                continue
            if g in done:
                continue
            done.add(g)
            stack.append((g, True))
            for k in groups.members[g]:
                for p in groups.preds[k]:
                    r = groups.find(p)
                    if r != g and r not in done:
                        stack.append((r, False))
    return order


def _fused_node(groups: FusionGroups, g: int, get) -> list[tuple[Variable, Variable]]:
    """One ``fused`` node for group ``g``: returns (old variable, new output) pairs."""
    members = groups.member_nodes(g)
    member_ids = {id(n) for n in members}
    leaves: list[Variable] = []
    leaf_index: dict[int, int] = {}
    step_of: dict[int, int] = {}  # id of a member's output -> its step
    program: list[tuple] = []

    def arg(old: Variable) -> tuple[str, int]:
        if id(old) in step_of:
            return ("step", step_of[id(old)])
        new = get(old)
        if id(new) not in leaf_index:
            leaf_index[id(new)] = len(leaves)
            leaves.append(new)
        return ("in", leaf_index[id(new)])

    for node in members:
        if node.op.kind == "elemwise":
            program.append((node.op.name, node.params, tuple(arg(i) for i in node.inputs),
                            node.source))
            step_of[id(node.outputs[0])] = len(program) - 1
            continue
        params = dict(node.params)  # a fused node: its program, renumbered
        inner = [arg(i) for i in node.inputs]
        offset = len(program)
        for op_name, op_params, args, source in params["program"]:
            args = tuple(inner[k] if kind == "in" else ("step", k + offset) for kind, k in args)
            program.append((op_name, op_params, args, source))
        for out, j in zip(node.outputs, params["outputs"]):
            step_of[id(out)] = j + offset
    exported = [o for n in members for o in n.outputs
                if any(r is None or id(r) not in member_ids for r in groups.readers(o))]
    exported.sort(key=lambda o: step_of[id(o)])
    source = exported[-1].owner.source
    node = apply_op(FUSED, leaves, source, program=tuple(program),
                    outputs=tuple(step_of[id(o)] for o in exported),
                    out_types=tuple(o.type for o in exported))
    for old, new in zip(exported, node.outputs):
        new.name = old.name
    return list(zip(exported, node.outputs))


def build_fused(graph: Graph, groups: FusionGroups) -> Graph:
    """``graph`` with every group of two or more nodes replaced by one ``fused`` node."""
    mapping: dict[int, Variable] = {}

    def get(v: Variable) -> Variable:
        return mapping.get(id(v), v)

    for g in _group_order(groups):
        members = groups.members[g]
        if len(members) == 1:
            node = groups.nodes[members[0]]
            outs = clone_node(node, [get(i) for i in node.inputs])
            pairs = list(zip(node.outputs, outs))
        else:
            pairs = _fused_node(groups, g, get)
        for old, new in pairs:
            mapping[id(old)] = new
    return Graph(graph.inputs, tuple(get(o) for o in graph.outputs),
                 tuple((s, get(v)) for s, v in graph.updates))
