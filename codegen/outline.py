"""Loop steps as functions of their own: which ones, and what each takes.

A target with ``Target.outline_loops`` prints each of its loop steps (``Target.step_macros``:
elementwise loops, fused reductions, small matrix products) as a static function outside the
host driver, and the host driver calls it. The host driver (shapes, checks, allocations, views,
kernel calls) then compiles at -O1 (``Target.cold_host``: ``CROTON_COLD_BEGIN`` in
``runtime/cpu/cold.hpp``) while the loops keep the flags' -O3: in g++ a lambda inherits its
enclosing function's optimization level, so loops written inline in the driver could not.
Identical loop steps (the same record in two scan bodies) share one function.

A function's parameters are the names its loop reads from the driver's scope, found from the
step's record (its buffers, the shape arrays its conditions name), never from the printed
text: buffers by ``const croton_buffer&`` (a loop writes through ``data``, never the struct),
shape arrays by pointer, and the call's scratch arena and error record.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x, y = T.dvector('x'), T.dvector('y')
    >>> plan = lower(Graph.make([x, y], [T.exp(x), T.exp(y)])).plan
    >>> outline = outline_loops(plan)  # one function, called for x and for y
    >>> [f.name for f in outline.functions], [c.args for c in outline.calls.values()]
    (['loop_0'], [('B0', 'B2'), ('B1', 'B3')])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from croton.codegen.expr import BufferRef, Node
from croton.codegen.memory_plan import BUFFER_FIELDS, mentioned
from croton.codegen.plan import FunctionPlan


@dataclass(frozen=True)
class LoopFunction:
    """One loop step printed as ``int <name>(<buffers>, <arrays>, scratch, err)``; ``step`` is
    in canonical form (its buffers ``B0``, ``B1``..., its arrays ``A0``...)."""

    name: str
    step: object
    params: tuple[str, ...]  # its buffer parameters (B0, B1, ...), in order
    arrays: tuple[str, ...] = ()  # its int64 shape array parameters (A0, ...)
    part: int = 0  # the build part that compiles it (``assign_parts``)


@dataclass(frozen=True)
class LoopCall:
    """Where a plan's loop step runs: ``function``, called with buffers ``args`` and shape
    arrays ``arrays`` of the caller's scope."""

    function: LoopFunction
    args: tuple[str, ...]
    arrays: tuple[str, ...] = ()


def _nested(step) -> Iterator:
    yield step
    for field in ("then_steps", "else_steps", "setup", "each_step", "finish"):
        for inner in getattr(step, field, ()):
            yield from _nested(inner)


def _all_steps(plan: FunctionPlan) -> Iterator:
    for f in plan.subfunctions:
        yield from _all_steps(f.plan)
    for step in (*plan.shape_lines, *plan.steps, *plan.commits):
        yield from _nested(step)


def _arrays(step) -> set[str]:
    """The int64 shape arrays a loop step's record names: its iteration space (``it``) and
    those its conditions read."""
    arrays: set[str] = set()
    for f in dataclasses.fields(step):
        value = getattr(step, f.name)
        if isinstance(value, Node):
            arrays.update(value.arrays())
    it = getattr(step, "it", None)
    if isinstance(it, str) and it:
        arrays.add(it)
    return arrays


def _renamed(value, field: str, buffers: dict[int, int], arrays: dict[str, str]):
    """``value`` (a field of a plan record named ``field``) with buffer ids and shape array
    names replaced: the same fields ``memory_plan.mentioned`` reads buffers from."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return buffers[value] if field in BUFFER_FIELDS else value
    if isinstance(value, str):
        return arrays.get(value, value) if field in ("it", "array") else value
    if isinstance(value, tuple):
        return tuple(_renamed(v, "", buffers, arrays) for v in value)
    if dataclasses.is_dataclass(value):
        changes = {f.name: _renamed(getattr(value, f.name), f.name, buffers, arrays)
                   for f in dataclasses.fields(value)}
        if isinstance(value, BufferRef):
            changes["buf"] = buffers[value.buf]
        return dataclasses.replace(value, **changes)
    return value


def canonical(step, buffers: dict[int, int], arrays: dict[str, str]):
    """``step`` with its buffers renumbered and its shape arrays renamed (``A0``, ``A1``...): two
    loops that differ only in which buffers they run over become one record."""
    return _renamed(step, "", buffers, arrays)


def _weight(step) -> int:
    """A rough count of the code a loop step prints: its body and loads, once per loop variant
    (flat, strided, row-wise; a reduction's paths)."""
    per_variant = len(getattr(step, "body", ())) + 2 * len(getattr(step, "operands", ())) + 4
    if step.kind == "elementwise":
        check = step.contiguous_check
        variants = 1 if check == "always" else (2 if check else 1) + (
            1 if step.ndim >= 2 and not check else 0)
    elif step.kind == "fused_reduce":
        variants = 1 + (2 if step.omp_op else 1) * bool(step.fast) + bool(step.leading)
    else:
        variants = 1
    return per_variant * variants


# The host driver's compile time in ``_weight`` units: a fixed part (the headers only part 0
# includes, the runtime templates its kernel calls instantiate) and a little per step it prints
# (shape lines and allocations included, at -O1). Fitted to the parts' compile times of the
# model steps in bench/ (an MLP, LeNet, an RNN and a 2-layer LSTM: 230 to 1600 host steps).
HOST_BASE_WEIGHT = 120
HOST_STEPS_PER_WEIGHT = 7


def _host_weight(plan: FunctionPlan) -> int:
    return HOST_BASE_WEIGHT + sum(1 for _ in _all_steps(plan)) // HOST_STEPS_PER_WEIGHT


def assign_parts(plan: FunctionPlan, functions: dict) -> dict:
    """The loop functions (canonical step -> ``LoopFunction``) spread over
    ``plan.target.build_parts`` parts compiled in parallel, the heaviest first onto the
    lightest part; part 0 also holds the host driver."""
    parts = max(1, plan.target.build_parts)
    load = [0] * parts
    load[0] = _host_weight(plan)
    out = {}
    order = sorted(functions.items(), key=lambda kv: (-_weight(kv[0]), kv[1].name))
    for step, fn in order:
        k = min(range(parts), key=lambda p: (load[p], p))
        load[k] += _weight(step)
        out[step] = dataclasses.replace(fn, part=k)
    return {step: out[step] for step in functions}


@dataclass(frozen=True)
class Outline:
    """The loop functions of a plan, in order, and the call that stands for each loop step."""

    functions: tuple[LoopFunction, ...] = ()
    calls: dict = dataclasses.field(default_factory=dict)  # plan step -> LoopCall


def outline_loops(plan: FunctionPlan) -> Outline:
    """Each loop step of ``plan`` (its scan bodies and branches included) mapped to a call of
    the ``LoopFunction`` that prints it; nothing when the target keeps loops inline. A function
    prints its step in canonical form (``canonical``), so steps that differ only in their
    buffers share one function."""
    target = plan.target
    if not target.outline_loops:
        return Outline()
    calls: dict = {}
    functions: dict = {}  # canonical step -> LoopFunction (params in canonical order)
    for step in _all_steps(plan):
        kind = getattr(step, "kind", None)
        if kind is None or target.step_macro(kind) is None or step in calls:
            continue
        buffers, arrays = mentioned(step), _arrays(step)
        buffer_ids = {b: k for k, b in enumerate(sorted(buffers))}
        array_names = {a: f"A{k}" for k, a in enumerate(sorted(arrays))}
        body = canonical(step, buffer_ids, array_names)
        if body not in functions:
            functions[body] = LoopFunction(f"loop_{len(functions)}", body,
                                           tuple(f"B{k}" for k in range(len(buffer_ids))),
                                           tuple(array_names.values()))
        fn = functions[body]
        calls[step] = (fn, tuple(f"B{b}" for b in sorted(buffers)), tuple(sorted(arrays)))
    parts = assign_parts(plan, functions)
    return Outline(tuple(parts.values()),
                   {step: LoopCall(parts[fn.step], args, arrays)
                    for step, (fn, args, arrays) in calls.items()})
