"""The op table: one ``OpRecord`` per primitive, registered by name in ``OPS``.

A record holds everything croton knows about an op: its type rule, its NumPy reference
(``perform``), its code (a scalar C++ expression for elementwise ops, or the name of a structured
kernel the lowering knows), and its reverse-mode rule (``vjp``).

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["exp"].cpp
    'std::exp({0})'
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
