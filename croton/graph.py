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

    __slots__ = ("type", "owner", "index", "name", "_no_truth", "_fn_cache", "__weakref__")

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
        self._no_truth = False  # set on the results of < <= > >= (Theano's _is_nonzero)
        self._fn_cache = None

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
        # As Theano: variables are truthy (``if not W:``), except the results of < <= > >=,
        # so that ``a < b < c`` (which Python runs as ``(a < b) and (b < c)``) fails loudly.
        if self._no_truth:
            raise TypeError("a symbolic comparison has no truth value; use "
                            "croton.tensor.switch, and_/or_, or ifelse")
        return True

    def eval(self, inputs_to_values: dict | None = None):
        """Compute this variable's value, as Theano's ``Variable.eval``: ``inputs_to_values``
        maps the variables it depends on to values. The compiled function is kept, keyed by the
        inputs, for the next call.

        Example::

            >>> import croton.tensor as T
            >>> x = T.dvector('x')
            >>> (x * 2).eval({x: [1.0, 2.0]})
            array([2., 4.])
        """
        from croton.function_module import function

        inputs_to_values = dict(inputs_to_values or {})
        if not all(isinstance(k, Variable) for k in inputs_to_values):
            raise TypeError("eval: the keys of inputs_to_values must be variables, got "
                            f"{[type(k).__name__ for k in inputs_to_values]}")
        keys = list(inputs_to_values)
        cache_key = tuple(id(k) for k in keys)
        if self._fn_cache is None:
            self._fn_cache = {}
        if cache_key not in self._fn_cache:
            self._fn_cache[cache_key] = (keys, function(keys, self))
        return self._fn_cache[cache_key][1](*[inputs_to_values[k] for k in keys])

    def __getstate__(self):
        state = {k: getattr(self, k) for k in _all_slots(type(self)) if hasattr(self, k)}
        state["_fn_cache"] = None  # compiled helpers of eval() are rebuilt on demand
        return state

    def __setstate__(self, state) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        for k in ("_no_truth", "_fn_cache"):
            if k not in state:
                object.__setattr__(self, k, False if k == "_no_truth" else None)


def _all_slots(cls: type) -> list[str]:
    return [n for c in cls.__mro__ for n in getattr(c, "__slots__", ()) if n != "__weakref__"]


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


# Theano's names (``theano.tensor.var.TensorVariable``, ``TensorConstant``)
TensorVariable = Variable
TensorConstant = Constant


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


def inputs(variables: Iterable[Variable], blockers: Iterable[Variable] | None = None
           ) -> list[Variable]:
    """Theano's ``theano.gof.graph.inputs``: the variables without an owner (or in
    ``blockers``) that ``variables`` depend on, in depth-first order.

    Example::

        >>> import croton.tensor as T
        >>> x, y = T.dvectors('x', 'y')
        >>> inputs([x * 2 + y]), inputs([x, y])
        ([x, 2.0, y], [y, x])
    """
    return [v for v in ancestors(variables, blockers)
            if v.owner is None or id(v) in {id(b) for b in blockers or ()}]


def ancestors(variables: Iterable[Variable], blockers: Iterable[Variable] | None = None
              ) -> list[Variable]:
    """Every variable ``variables`` depend on, themselves included, in Theano's order: a
    depth-first search that starts from the LAST of ``variables`` and visits each node's
    inputs left to right (so Lasagne's ``inputs(reversed(exprs))`` lists the first first)."""
    blocked = {id(b) for b in blockers or ()}
    found: list[Variable] = []
    seen: set[int] = set()
    stack = list(variables)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        found.append(v)
        if v.owner is not None and id(v) not in blocked:
            stack.extend(reversed(v.owner.inputs))
    return found


def clone_replace(outputs, replace=None, strict: bool = True, share_inputs: bool = True):
    """Theano's ``theano.clone``: ``outputs`` (a variable or a list) rebuilt with the variables
    in ``replace`` (a dict or pairs) substituted, each by a variable of the same type.

    Example::

        >>> import croton.tensor as T
        >>> x, y = T.dscalars('x', 'y')
        >>> z = clone_replace(x * 2, replace={x: y})
        >>> z.owner.inputs[0] is y
        True
    """
    from croton.tensor.basic import as_tensor_variable

    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    pairs = list(replace.items()) if isinstance(replace, dict) else list(replace or [])
    table: dict[int, Variable] = {}
    for old, new in pairs:
        new = as_tensor_variable(new, like=[old])
        if strict and (new.type.dtype != old.type.dtype or new.ndim != old.ndim):
            raise TypeError(f"clone: {old!r} ({old.type}) cannot be replaced by {new!r} "
                            f"({new.type}) with strict=True")
        table[id(old)] = new
    memo: dict[int, Variable] = dict(table)

    def get(v: Variable) -> Variable:
        return memo.get(id(v), v)

    for node in ancestors_toposort(outs):
        if any(id(o) in table for o in node.outputs):
            continue
        new_inputs = [get(i) for i in node.inputs]
        if not share_inputs or any(a is not b for a, b in zip(new_inputs, node.inputs)):
            new = Apply(node.op, node.params, new_inputs, [o.type for o in node.outputs],
                        node.source)
            for old, out in zip(node.outputs, new.outputs):
                out.name = old.name
                memo[id(old)] = out
    result = [get(o) for o in outs]
    return result[0] if single else result


def equal_computations(xs: Sequence[Variable], ys: Sequence[Variable],
                       in_xs: Sequence[Variable] | None = None,
                       in_ys: Sequence[Variable] | None = None) -> bool:
    """Theano's ``scan_utils.equal_computations``: whether ``xs`` and ``ys`` compute the same
    thing: the same ops with the same parameters over the same leaves (``in_xs[i]`` standing
    for ``in_ys[i]``; equal constants are equal).

    Example::

        >>> import croton.tensor as T
        >>> x, y = T.dvectors('x', 'y')
        >>> equal_computations([x + 1], [x + 1]), equal_computations([x + 1], [y + 1])
        (True, False)
        >>> equal_computations([x + 1], [y + 1], [x], [y])
        True
    """
    xs, ys = list(xs), list(ys)
    if len(xs) != len(ys):
        return False
    pairs: dict[int, int] = {id(a): id(b) for a, b in zip(in_xs or (), in_ys or ())}

    def same(a: Variable, b: Variable) -> bool:
        if id(a) in pairs:
            return pairs[id(a)] == id(b)
        if a is b:
            return True
        if a.type != b.type:
            return False
        if isinstance(a, Constant) and isinstance(b, Constant):
            return a.data.shape == b.data.shape and bool(np.array_equal(a.data, b.data))
        if a.owner is None or b.owner is None or a.index != b.index:
            return False
        na, nb = a.owner, b.owner
        if na.op is not nb.op or na.params != nb.params or len(na.inputs) != len(nb.inputs):
            return False
        ok = all(same(i, j) for i, j in zip(na.inputs, nb.inputs))
        if ok:
            pairs[id(a)] = id(b)
        return ok

    return all(same(a, b) for a, b in zip(xs, ys))


def is_same_graph(var1: Variable, var2: Variable, givens: dict | None = None) -> bool:
    """Theano's ``theano.gof.graph.is_same_graph``: whether two variables compute the same
    thing, ``givens`` mapping leaves of ``var1``'s graph to leaves of ``var2``'s.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dmatrix('x')
        >>> is_same_graph(x.sum(axis=0), x.sum(axis=0)), is_same_graph(x.sum(), x.max())
        (True, False)
    """
    pairs = list((givens or {}).items())
    return equal_computations([var1], [var2], [a for a, _ in pairs], [b for _, b in pairs])
