"""What is done to a lowered plan once its steps are made: the shapes and allocations that
depend only on the inputs' shapes move to the prologue (``hoist_static_shapes``), the in-place
safety check (``nothing_can_fail_after_inplace``), the commit point (``with_commit_point``), and
profiling slots (``with_profiling``).

Example::

    >>> from croton.codegen.expr import Dim, Value
    >>> from croton.codegen.plan import ShapeLine
    >>> static = ShapeLine(Dim(1, 0), Dim(0, 0))
    >>> computed = ShapeLine(Dim(2, 0), Value(1))
    >>> after = ShapeLine(Dim(3, 0), Dim(2, 0) + 1)
    >>> prologue, rest = hoist_static_shapes([static, computed, after])
    >>> [s.target for s in prologue], [s.target.buf for s in rest]
    ([Dim(buf=1, d=0)], [2, 3])
"""

from __future__ import annotations

import dataclasses

from croton.codegen.expr import Dim, Slot
from croton.codegen.plan import AllocStep, FunctionPlan, ShapeLine


def written_buffers(step) -> set[int]:
    """The buffers a kernel step writes: ``out``, and each extra output's ``buffer``."""
    out = getattr(step, "out", None)
    written = {out} if isinstance(out, int) else set()
    written.update(e.buffer for e in getattr(step, "extra_outputs", ()))
    return written


def _inplace_buffers(plan: FunctionPlan) -> set[int]:
    return {u.buffer for u in plan.updates if plan.buffers[u.buffer].inplace}


def _writes_inplace(step, inplace: set[int]) -> bool:
    return bool(written_buffers(step) & inplace) or (
        step.kind == "call" and bool(step.writes & inplace))


def with_commit_point(plan: FunctionPlan) -> FunctionPlan:
    """``plan`` with its commit point set before its first write into a shared variable's
    storage (the first in-place update kernel, else the commits): an interrupt found there
    stops the call with nothing written.

    Example::

        >>> import numpy as np, croton, croton.tensor as T
        >>> from croton.fgraph import Graph
        >>> from croton.codegen.lower import lower
        >>> from croton.codegen.pipeline import run_pipeline
        >>> x = T.dvector('x')
        >>> W = croton.shared(np.zeros(3), 'W')
        >>> graph = Graph.make([x], [T.exp(x)], [(W, W - x)])
        >>> plan = lower(graph).plan  # W - x into scratch, then copied into W by a commit
        >>> [s.kind for s in plan.steps], plan.commit_point, len(plan.commits)
        (['elementwise', 'elementwise'], 2, 1)
        >>> plan = lower(run_pipeline(graph)).plan  # one kernel: exp(x) out, W - x into W
        >>> [s.kind for s in plan.steps], plan.commit_point, len(plan.commits)
        (['elementwise'], 0, 0)
    """
    inplace = _inplace_buffers(plan)
    at = next((k for k, s in enumerate(plan.steps) if _writes_inplace(s, inplace)),
              len(plan.steps))
    return dataclasses.replace(plan, commit_point=at)


def nothing_can_fail_after_inplace(plan: FunctionPlan) -> bool:
    """True when no step after the first in-place update kernel has a run-time check: a call
    that fails must leave the shared variables as they were."""
    inplace = _inplace_buffers(plan)
    started = False
    for s in plan.steps:
        if not started:
            started = _writes_inplace(s, inplace)
            continue
        if s.can_fail:  # each step record says whether it has a run-time check
            return False
    return True


UNTIMED_STEPS = ("shape", "alloc", "view")


def with_profiling(plan: FunctionPlan) -> FunctionPlan:
    """The plan with a timing slot for every kernel (labelled by the node it came from)."""
    labels: list[str] = []

    def slots(steps) -> tuple[int, ...]:
        out = []
        for s in steps:
            if s.kind in UNTIMED_STEPS:
                out.append(-1)
                continue
            bid = getattr(s, "out", None)
            label = plan.buffers[bid].label if isinstance(bid, int) else \
                getattr(s, "comment", s.kind)
            out.append(len(labels))
            labels.append(f"{s.kind}: {label}")
        return tuple(out)

    step_slots = slots(plan.steps)
    commit_slots = slots(plan.commits)
    return dataclasses.replace(plan, profile_labels=tuple(labels), profile_slots=step_slots,
                               commit_profile_slots=commit_slots,
                               headers=plan.headers + ("profile.hpp",))


def _reads(s: ShapeLine) -> set:
    """The buffers (ids) and shape arrays (names) whose shapes a shape line reads."""
    out: set = set()
    for e in (s.expr, s.a, s.b):
        if e is not None:
            out |= e.buffers() | e.arrays()
    return out


def hoist_static_shapes(steps: list, dynamic: set | None = None) -> tuple[list, list]:
    """Split ``steps`` into the shape lines and allocations that depend only on input shapes
    (run first, in order) and the rest (kernels, and shapes that read computed values).
    ``dynamic`` (updated in place) holds the buffers (ids) and shape arrays (names) already
    known to have such shapes."""
    dynamic = set() if dynamic is None else dynamic
    prologue: list = []
    rest: list = []
    for s in steps:
        if isinstance(s, ShapeLine):
            if s.expr.reads_values() or _reads(s) & dynamic:
                if isinstance(s.target, Dim):
                    dynamic.add(s.target.buf)
                elif isinstance(s.target, Slot):
                    dynamic.add(s.target.array)
                else:
                    # a check may complete the shape arrays it is given (infer_reshape fills
                    # the -1 of a requested shape): lines that read them run after it
                    dynamic.update(s.expr.arrays())
                rest.append(s)
            else:
                prologue.append(s)
        elif isinstance(s, AllocStep):
            (rest if s.buffer in dynamic else prologue).append(s)
        else:
            rest.append(s)
            dynamic.update(getattr(s, "defines", ()))  # branch / loop outputs
    return prologue, rest
