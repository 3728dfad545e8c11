"""Where each node of a graph runs when it holds ``ifelse`` nodes: a node that only one branch
needs runs inside that branch (so the untaken branch costs nothing and cannot fail). Read by the
fusion passes (fusion only joins nodes with the same home) and by the ``ifelse`` lowering. Which
inputs belong to a branch is the op record's ``branch_of``.

Example::

    >>> import croton.tensor as T
    >>> from croton.ifelse import ifelse
    >>> from croton.fgraph import Graph
    >>> a, b = T.dscalars('a', 'b')
    >>> g = Graph.make([a, b], [ifelse(a < b, T.exp(a), b)])
    >>> homes = branch_homes(g.nodes(), g.roots)
    >>> [(n.op.name, homes[id(n)] and homes[id(n)][1]) for n in g.nodes()]
    [('lt', None), ('exp', 'then'), ('ifelse', None)]
"""

from __future__ import annotations

from collections.abc import Sequence

from croton.graph import Apply, Variable

Location = tuple[int, str] | None  # (id of a branching node, its side), None: top level


def branch_homes(nodes: list[Apply], roots: Sequence[Variable]) -> dict[int, Location]:
    """For each node: the innermost branch that contains every use of its outputs."""
    uses: dict[int, list[tuple[Apply | None, int]]] = {}
    for node in nodes:
        for pos, inp in enumerate(node.inputs):
            uses.setdefault(id(inp), []).append((node, pos))
    for v in roots:
        uses.setdefault(id(v), []).append((None, 0))
    home: dict[int, Location] = {}

    def chain(loc: Location) -> list[Location]:
        out = [loc]
        while loc is not None:
            loc = home[loc[0]]
            out.append(loc)
        return out

    for node in reversed(nodes):
        locs: list[Location] = []
        for out in node.outputs:
            for client, pos in uses.get(id(out), []):
                if client is None:
                    locs.append(None)
                    continue
                side = None if client.op.branch_of is None else client.op.branch_of(
                    dict(client.params), pos)
                locs.append(home[id(client)] if side is None else (id(client), side))
        common = chain(locs[0]) if locs else [None]
        for loc in locs[1:]:
            others = set(chain(loc))
            common = [c for c in common if c in others]
        home[id(node)] = common[0]
    return home
