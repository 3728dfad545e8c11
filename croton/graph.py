"""The symbolic graph: variables, constants and the Apply nodes that connect them.

Example::

    >>> import croton.tensor as T
    >>> x = T.dvector('x')
    >>> y = (x * 2).sum()
    >>> y.owner.op.name, y.owner.inputs[0].owner.op.name
    ('sum', 'mul')
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from croton.types import TensorType
from croton.variable_methods import TensorOperators

if TYPE_CHECKING:
    from croton.ops.table import OpRecord

_CROTON_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_ROOT = os.path.dirname(_CROTON_DIR)
_INTERNAL_DIRS = tuple(
    os.path.join(_PACKAGE_ROOT, d) + os.sep for d in ("croton", "codegen", "build_tools")
)


_SOURCE_OVERRIDE: list[str] = []


@contextmanager
def source_override(source: str):
    """Attribute nodes built inside the block to ``source`` (the gradient of a node points at the
    line that built the node, not at the ``grad`` call)."""
    _SOURCE_OVERRIDE.append(source)
    try:
        yield
    finally:
        _SOURCE_OVERRIDE.pop()


def user_source_line() -> str:
    """``file:line`` of the first frame outside croton: where the user built a node."""
    if _SOURCE_OVERRIDE:
        return _SOURCE_OVERRIDE[-1]
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_INTERNAL_DIRS):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


class Variable(TensorOperators):
    """A symbolic tensor: a type, maybe a name, and the Apply node that computes it (if any)."""

    __slots__ = ("type", "owner", "index", "name", "__weakref__")

    def __init__(
        self,
        type: TensorType,
        owner: Apply | None = None,
        index: int | None = None,
        name: str | None = None,
    ) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name

    # --- type shortcuts -------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.owner is not None:
            op = self.owner.op_label()
            return f"{op}.{self.index}" if len(self.owner.outputs) > 1 else f"{op}.0"
        return f"<{self.type}>"

    def __str__(self) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "a symbolic variable has no truth value; use croton.tensor.switch or ifelse"
        )


class Constant(Variable):
    """A variable with a fixed value, e.g. the ``2`` in ``x * 2``."""

    __slots__ = ("data",)

    def __init__(self, type: TensorType, data: np.ndarray, name: str | None = None) -> None:
        super().__init__(type, None, None, name)
        self.data = data

    def signature(self) -> tuple:
        """What makes two constants interchangeable (used by the merge pass)."""
        return (self.type, self.data.shape, self.data.tobytes())

    def __repr__(self) -> str:
        if self.name:
            return self.name
        if self.data.size <= 8:
            return np.array2string(self.data, separator=", ") if self.data.ndim else str(
                self.data.item()
            )
        return f"Constant{{{self.type}, shape={self.data.shape}}}"


class Apply:
    """One application of an op to input variables, producing output variables."""

    __slots__ = ("op", "params", "inputs", "outputs", "source")

    def __init__(
        self,
        op: OpRecord,
        params: tuple,
        inputs: Sequence[Variable],
        output_types: Sequence[TensorType],
        source: str | None = None,
    ) -> None:
        self.op = op
        self.params = params
        self.inputs = list(inputs)
        self.outputs = [Variable(t, self, i) for i, t in enumerate(output_types)]
        self.source = source if source is not None else user_source_line()

    def op_label(self) -> str:
        """The op name with its parameters, e.g. ``sum{axis=(0,)}``."""
        return self.op.label(self.params)

    def __repr__(self) -> str:
        return f"{self.op_label()}({', '.join(map(repr, self.inputs))})"


def ancestors_toposort(outputs: Iterable[Variable]) -> list[Apply]:
    """Apply nodes needed to compute ``outputs``, each after the nodes it reads."""
    order: list[Apply] = []
    seen: set[int] = set()
    stack: list[tuple[Apply, bool]] = []
    for out in outputs:
        if out.owner is not None and id(out.owner) not in seen:
            stack.append((out.owner, False))
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and id(inp.owner) not in seen:
                    stack.append((inp.owner, False))
    return order


def graph_inputs(outputs: Iterable[Variable]) -> list[Variable]:
    """Variables without an owner that ``outputs`` depend on (constants included)."""
    found: dict[int, Variable] = {}
    outputs = list(outputs)
    for node in ancestors_toposort(outputs):
        for inp in node.inputs:
            if inp.owner is None:
                found.setdefault(id(inp), inp)
    for out in outputs:
        if out.owner is None:
            found.setdefault(id(out), out)
    return list(found.values())
