"""The op table: one ``OpRecord`` per primitive, registered by name in ``OPS``.

A record holds everything croton knows about an op: its type rule, its NumPy reference
(``perform``), its scalar C++ expression (elementwise ops; ``kind`` names the lowering of every
other op), its reverse-mode rule (``vjp``), and the facts the passes and lowerings read: which
inputs its outputs may view (``views``), whether its kernel can fail once earlier kernels ran
(``can_fail``), how its output may take an update's storage (``inplace``), its reduction
semantics (``reduction``), whether it computes with element values (``arithmetic``), its
outputs' shapes (``shape``), how to reach its inner graphs (``map_inner``) and which inputs only
one branch needs (``branch_of``).

The shape fact ``shape(params, ins) -> [[dim, ...], ...]`` (one list per output) is required:
``register`` refuses a record without it. It is written once over duck-typed dims and runs over
ints given input values (the NumPy level), over ``codegen/expr.py`` nodes in the lowering (every
kernel generator sets its outputs' shapes from it) and over int64 scalar variables in
``canonicalize`` (``shape_i`` of an output folded to its input dims at compile time). ``ins``
gives input dims (``ins.dim(k, d)``, ``ins.shape(k)``) and, for value-dependent ops (reshape's
shape vector, arange, repeat, mask_nonzero...), input values (``ins.value(k)``); the full
protocol, the shared rules and ``VALUE_DEPENDENT`` are in ``croton/ops/shapes.py``.

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["exp"].cpp
    'std::exp({0})'
    >>> OPS["dimshuffle"].views, OPS["exp"].can_fail, OPS["gemm"].inplace.into_input
    ((0,), False, 0)
    >>> OPS["sum"].reduction.combine.format(acc="acc", v="v"), OPS["max"].reduction.identity("int8")
    ('acc + v', -128)
    >>> from croton.ops.shapes import NumpyIns
    >>> import numpy as np
    >>> OPS["sum"].shape({"axis": (0,)}, NumpyIns.of([np.ones((2, 3))]))
    [[3]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from croton.graph import Apply, Variable
from croton.types import TensorType

Params = tuple  # tuple of (name, value) pairs, hashable and printable
TypeRule = Callable[[Sequence[TensorType], dict], Sequence[TensorType]]
Perform = Callable[[Sequence[np.ndarray], dict], Sequence[np.ndarray]]
VJP = Callable[[Apply, Sequence[Variable | None]], Sequence[Variable | None]]
# shape(params, ins): one list of dims per output (croton/ops/shapes.py: the ``ins`` protocol)
ShapeRule = Callable[[dict, Any], list[list[Any]]]


@dataclass(frozen=True)
class InPlace:
    """How an op's output may be written into an update's shared storage ``s`` (plan_inplace).

    ``into_input=None``: the output may be any storage of its type; an operand that is ``s``
    must be read as a plain operand (element i read before element i is written), never through
    a view. ``into_input=k``: the kernel accumulates into its k-th input's storage, so that
    input must be ``s`` itself, and no other input may read ``s``."""

    into_input: int | None = None


@dataclass(frozen=True)
class Reduction:
    """What a reduction computes, read by both reduction lowerings (``reduce`` and
    ``fused_reduce``) through ``codegen/reduction.py``.

    ``combine`` is a C++ expression over ``{acc}`` (the accumulator) and ``{v}`` (the next
    value, already in the accumulator's type); ``identity(value_dtype)`` the accumulator's start
    value as a Python number (NumPy's result for an empty reduction when ``empty_ok``);
    ``accumulator(value_dtype, out_dtype)`` the accumulator's dtype; ``operator`` the C++
    binary operator equal to ``combine`` when there is one ('+', '*'): partial results may then
    be reassociated (vectorized blocks, threads); ``empty_ok=False``: reducing no element is a
    run-time error (max, min)."""

    combine: str
    identity: Callable[[str], Any]
    accumulator: Callable[[str, str], str]
    operator: str = ""
    empty_ok: bool = True

    @property
    def reassociate(self) -> bool:
        """Whether partial results may be combined in any order (vectorized, threaded)."""
        return bool(self.operator)


@dataclass(frozen=True, eq=False)
class OpRecord:
    """Everything about one primitive. ``kind`` says which kernel generator lowers it."""

    name: str
    kind: str  # "elemwise" | "reduce" | "dot" | "dimshuffle" | "shape_i" | "fused"
    type_rule: TypeRule
    perform: Perform
    vjp: VJP | None = None
    cpp: str | None = None  # elemwise: scalar expression over {0}, {1}, ...; {T} = output type
    compute_dtype: Callable[[Sequence[str]], str] | None = None  # elemwise: operands cast to it
    nin: int | None = None
    doc: str = ""
    # elemwise: work per element relative to an add (a libm function such as exp or tanh is
    # about 10); a loop is threaded when elements x the program's summed cost is large enough
    cost: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    # inputs (positions, or a slice of them) whose memory the outputs may share: a view, no copy
    views: tuple[int, ...] | slice = ()
    # True when the kernel can fail at run time after earlier kernels ran (a check on values,
    # or on shapes computed from values); checks on the inputs' shapes, which run before any
    # kernel, do not count. A failed call must leave shared variables unchanged (plan_inplace)
    can_fail: bool = True
    inplace: InPlace | None = None  # None: the output never takes an update's storage
    reduction: Reduction | None = None
    # False: the kernel only views, measures or routes values (no arithmetic on them), so a
    # float16 value needs no float32 round trip (the float16 pass)
    arithmetic: bool = True
    # shape(params, ins): the outputs' shapes, one list of dims per output (required; see the
    # module docstring and croton/ops/shapes.py)
    shape: ShapeRule | None = None
    # map_inner(params, f): the params with every inner graph g replaced by f(g) (scan)
    map_inner: Callable[[dict, Callable[[Any], Any]], dict] | None = None
    # branch_of(params, position): the lazily computed branch ("then", "else") an input at that
    # position belongs to, None for an input always computed (ifelse); nodes only one branch
    # reads run inside it (codegen/branches.py)
    branch_of: Callable[[dict, int], str | None] | None = None
    # elemwise: the C++ expression for particular targets (target name -> expression as ``cpp``),
    # read through ``cpp_for``; a target without an entry (nor its bases) uses ``cpp``
    cpp_targets: dict[str, str] = field(default_factory=dict)

    def cpp_for(self, target: Any) -> str | None:
        """The elementwise C++ expression for ``target`` (a ``codegen.target.Target``): its own
        (or its nearest base's) from ``cpp_targets``, else ``cpp``.

        Example::

            >>> from croton.codegen.target import CPU
            >>> OPS["exp"].cpp_for(CPU) == OPS["exp"].cpp
            True
        """
        for name in target.lineage():
            if name in self.cpp_targets:
                return self.cpp_targets[name]
        return self.cpp

    def viewed(self, inputs: Sequence[Variable]) -> list[Variable]:
        """The inputs whose memory the outputs may share."""
        if isinstance(self.views, slice):
            return list(inputs[self.views])
        return [inputs[k] for k in self.views]

    def label(self, params: Params) -> str:
        if "label" in self.extra:
            return self.extra["label"](dict(params))
        if not params:
            return self.name
        inner = ", ".join(f"{k}={v}" for k, v in params if k not in ("program", "out_type"))
        return f"{self.name}{{{inner}}}" if inner else self.name

    def __repr__(self) -> str:
        return f"OpRecord({self.name})"

    def __reduce__(self):
        # pickled by name: a graph loads in a new process against that process's op table
        if OPS.get(self.name) is not self:
            raise TypeError(f"op {self.name!r} is not in the op table and cannot be pickled")
        return (op_by_name, (self.name,))


OPS: dict[str, OpRecord] = {}


def op_by_name(name: str) -> OpRecord:
    """The registered op record called ``name`` (how pickled graphs find their ops)."""
    import croton.ops  # noqa: F401  (registers every op)

    return OPS[name]


def register(record: OpRecord) -> OpRecord:
    """Add ``record`` to the table; names are unique."""
    if record.name in OPS:
        raise ValueError(f"op {record.name!r} registered twice")
    if record.shape is None:
        raise TypeError(f"op {record.name!r} has no shape fact: give its OpRecord "
                        f"shape=rule(params, ins) (croton/ops/shapes.py)")
    OPS[record.name] = record
    return record


def apply_op(record: OpRecord, inputs: Sequence[Variable], source: str | None = None,
             **params: Any) -> Apply:
    """Type-check ``inputs`` with the record's rule and build the Apply node."""
    if record.nin is not None and len(inputs) != record.nin:
        raise TypeError(f"{record.name} takes {record.nin} inputs, got {len(inputs)}")
    param_tuple = tuple(sorted(params.items()))
    out_types = record.type_rule([v.type for v in inputs], dict(param_tuple))
    return Apply(record, param_tuple, inputs, out_types, source)


def make_output(record: OpRecord, inputs: Sequence[Variable], **params: Any) -> Variable:
    """``apply_op`` for single-output ops: returns the output variable."""
    return apply_op(record, inputs, **params).outputs[0]


def node_perform(node: Apply, values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the NumPy reference of ``node`` and cast outputs to their declared dtypes."""
    results = node.op.perform(values, dict(node.params))
    out = []
    for var, value in zip(node.outputs, results):
        arr = np.asarray(value)
        if arr.dtype != var.type.dtype:
            arr = arr.astype(var.type.dtype)
        out.append(arr)
    return out
