"""Memory planning on the lowered plan: scratch buffers whose lifetimes do not overlap share one
slot of a workspace the function keeps from call to call, so a call in the steady state
allocates nothing but its outputs.

Runs on the ``FunctionPlan`` (not the graph) because only there are the buffers known: fusion
has removed intermediates, views alias their sources, and some kernels need buffers that no
graph variable names. The ``plan_memory`` pass (``codegen/passes/plan_memory.py``) decides
that a function uses it; FAST_COMPILE lowers without it (fresh scratch on every call).

A buffer's lifetime is the span of steps (then commits) that mention it or any view aliasing
it. Only scratch allocated in the prologue (shapes known from the inputs alone) is planned;
scratch whose shape depends on computed values, or that a branch or loop allocates, keeps the
per-call allocator. Slots are given first-fit in order of first use.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.passes.plan_memory import plan_memory
    >>> a, b = T.dmatrices('a', 'b')
    >>> c = T.dot(T.dot(T.dot(a, b), b), b)
    >>> plan = lower(plan_memory(Graph.make([a, b], [T.dot(c, b) + 1]))).plan
    >>> plan.workspace_slots, plan.shape_lines[-1].kind
    (2, 'workspace')
"""

from __future__ import annotations

import dataclasses

from croton.codegen.expr import Node
from croton.codegen.plan import AllocStep, FunctionPlan, WorkspaceSlot, WorkspaceStep

# the int fields of plan records that hold a buffer id (read by codegen/outline.py too)
BUFFER_FIELDS = frozenset({"out", "inp", "a", "b", "src", "dst", "cond", "buffer"})
_BUFFER_LISTS = {"defines", "glue_reads", "glue_writes"}


def mentioned(step) -> set[int]:
    """Every buffer a step reads, writes or names (nested steps included): int fields that
    hold buffer ids, the buffers its expressions and statements name (``Node.buffers``), ``defines``
    of branches and loops and the buffers a call's glue lines name."""
    found: set[int] = set()

    def visit(value, field: str = "") -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            if field in BUFFER_FIELDS:
                found.add(value)
        elif isinstance(value, Node):
            found.update(value.buffers())
        elif isinstance(value, tuple | list):
            for v in value:
                visit(v, field if field in _BUFFER_LISTS else "")
            if field in _BUFFER_LISTS:
                found.update(v for v in value if isinstance(v, int))
        elif dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                if f.name != "plan":  # a subfunction's buffers are its own
                    visit(getattr(value, f.name), f.name)

    visit(step)
    return found


def lifetimes(plan: FunctionPlan, planned: set[int]) -> dict[int, tuple[int, int]]:
    """For each planned scratch buffer: (first, last) position among the steps and commits
    that mention it or a view of it. A view may alias every buffer named by a kernel step
    that names it (shape lines only size views, so they never make an alias)."""
    sequence = list(plan.steps) + list(plan.commits)
    views = {b.id for b in plan.buffers if b.role == "view"}
    aliases: dict[int, set[int]] = {}  # view -> planned buffers it may point into
    span: dict[int, list[int]] = {}
    for pos, step in enumerate(sequence):
        names = mentioned(step)
        if step.kind != "shape":  # a kernel naming a view may point it into what it names
            reach = set(names & planned)
            for w in names & views:
                reach |= aliases.get(w, set())
            for v in names & views:
                aliases[v] = aliases.get(v, set()) | reach
        touched = set(names & planned)
        for v in names & views:
            touched |= aliases.get(v, set())
        for b in touched:
            first, _ = span.get(b, [pos, pos])
            span[b] = [first, pos]
    return {b: (first, last) for b, (first, last) in span.items()}


def assign_slots(spans: dict[int, tuple[int, int]]) -> list[list[int]]:
    """First-fit: each buffer, in order of first use, joins the first slot free by then."""
    slots: list[list[int]] = []
    free_after: list[int] = []
    for b in sorted(spans, key=lambda b: (spans[b][0], b)):
        first, last = spans[b]
        for k, end in enumerate(free_after):
            if end < first:
                slots[k].append(b)
                free_after[k] = last
                break
        else:
            slots.append([b])
            free_after.append(last)
    return slots


def assign_workspace(plan: FunctionPlan) -> FunctionPlan:
    """``plan`` with its prologue's scratch allocations replaced by one ``WorkspaceStep``."""
    scratch = [s for s in plan.shape_lines if isinstance(s, AllocStep) and s.role == "scratch"]
    if not scratch:
        return plan
    planned = {s.buffer for s in scratch}
    spans = lifetimes(plan, planned)
    unused = sorted(planned - set(spans))  # allocated but never touched: still gets memory
    slots = assign_slots(spans) + [[b] for b in unused]
    buffers = plan.buffers
    step = WorkspaceStep(tuple(
        WorkspaceSlot(k, tuple((b, buffers[b].ndim, buffers[b].ctype) for b in members))
        for k, members in enumerate(slots)))
    prologue = tuple(s for s in plan.shape_lines
                     if not (isinstance(s, AllocStep) and s.role == "scratch")) + (step,)
    return dataclasses.replace(plan, shape_lines=prologue, workspace_slots=len(slots))
