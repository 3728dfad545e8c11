"""The shape fact of the op table: ``OpRecord.shape(params, ins)`` returns one list of dims per
output, written once over *duck-typed dims*, so the same rule runs at three levels:

- the NumPy level (``NumpyIns``: dims are Python ints, given the input values): tests compare
  it with ``perform``'s output shapes (``numpy_shapes``);
- the lowering (``codegen/shape_facts.py``: dims are ``codegen/expr.py`` nodes such as
  ``Dim(3, 0)``, printed as C++ at render time); every kernel generator sets its outputs' shapes
  from the fact (its checks on the inputs stay in the generator);
- the graph (``codegen/passes/canonicalize.py``: dims are int64 scalar variables), where
  ``shape_i`` of an output whose dim is a pure function of input dims is folded at compile time.

A rule reads its inputs only through ``ins`` (``croton/ops`` imports nothing from codegen):

=====================================  ===========================================================
``ins.types``                          the input ``TensorType``s (ndim, broadcastable, dtype)
``ins.dim(k, d)``, ``ins.shape(k)``    input ``k``'s length along ``d``; all its lengths
``ins.int(v)``                         the int64 constant ``v`` (a plain int also works)
``ins.prod(ds)``, ``ins.sum(ds)``      product (1 when empty), sum (0 when empty)
``ins.call(fn, *args, targs=())``      a ``DimFn``: a runtime helper (C++) with its Python twin
``ins.value(k, i=None, real=False)``   *value*: scalar input ``k`` (element ``i`` of a vector)
``ins.array(k)``                       *value*: the whole input ``k`` (passed to a ``DimFn``)
``ins.computed(name, fn, *args)``      *value*: a length the generated code computes at run time
                                       (the NumPy level: ``fn(*args)``; a lowering binds
                                       ``name`` to the expression holding it)
``ins.where(c, a, b)``                 *value*: ``a`` if ``c`` else ``b``
``ins.unknown(why)``                   raises ``ShapeUnknown``: known only by running the op
=====================================  ===========================================================

Dims are combined with ``+ - * //`` and ints. A rule that uses one of the *value* accessors is
value-dependent (for that node): its dims are not known from the input shapes alone, so
``canonicalize`` leaves them alone and the lowering keeps their shape lines in place (after the
kernels they read). ``VALUE_DEPENDENT`` lists the ops whose rule can read values.

Example::

    >>> import numpy as np
    >>> from croton.ops.table import OPS
    >>> OPS["dot"].shape((), NumpyIns.of([np.ones((2, 3)), np.ones((3, 4))]))
    [[2, 4]]
    >>> import croton.tensor as T
    >>> y = T.join(0, T.dmatrix(), T.dmatrix())
    >>> numpy_shapes(y.owner, [np.ones((2, 3)), np.ones((5, 3))])
    [(7, 3)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from croton.types import TensorType

# the ops whose shape rule reads input values (for some params): reshape's and alloc's shape
# vectors, arange, repeat, mask_nonzero... (tests/test_shape_facts.py checks this list)
VALUE_DEPENDENT = frozenset({
    "reshape", "split", "alloc", "arange", "eye", "alloc_diag", "repeat", "repeat_sum",
    "subtensor", "advanced_subtensor", "mask_nonzero", "conv2d_grad_input",
    "conv2d_grad_filters", "conv3d_grad_input", "conv3d_grad_filters", "pool_2d", "pool_3d",
    "random_uniform", "random_normal", "random_binomial", "random_permutation",
    "random_choice", "ifelse", "scan",
})


class ShapeUnknown(Exception):
    """The dims are known only by running the op (e.g. a scan step whose shape reads values)."""


@dataclass(frozen=True)
class DimFn:
    """A dim computed by a runtime helper: ``cpp`` is its C++ name (the lowering prints a call),
    ``py`` the same function in Python (the NumPy level)."""

    cpp: str
    py: Callable[..., int]


def _slice_length(n, has_start, start, has_stop, stop, step) -> int:
    return len(range(n)[slice(start if has_start else None, stop if has_stop else None, step)])


def _arange_length(start, stop, step) -> int:
    return 0 if step == 0 else max(0, math.ceil((stop - start) / step))


def _diag_length(rows, cols, k) -> int:
    return max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))


def _pool_out_size(n, ws, st, pad, ignore_border) -> int:
    if n == 0:
        return 0
    n += 2 * pad
    if ignore_border:
        return (n - ws) // st + 1 if n >= ws else 0
    if st >= ws:
        return (n - 1) // st + 1
    return ((n - 1 - ws) // st + 1 if n - 1 - ws >= 0 else 0) + 1


def _broadcast_length(*dims) -> int:
    out = dims[-1]
    for n in reversed(dims[:-1]):
        out = out if n == 1 else n
    return out


def _repeat_total(repeats, n) -> int:
    r = np.asarray(repeats).reshape(-1)
    return int(r[0]) * n if r.size == 1 else int(r.sum())


SLICE_LENGTH = DimFn("croton::subtensor::slice_length", _slice_length)
BROADCAST_LENGTH = DimFn("croton::subtensor::broadcast_length", _broadcast_length)
ARANGE_LENGTH = DimFn("croton::arange_length", _arange_length)
DIAG_LENGTH = DimFn("croton::diag_length", _diag_length)
POOL_OUT_SIZE = DimFn("croton::pool_out_size", _pool_out_size)
REPEAT_TOTAL = DimFn("croton::value_repeat_total", _repeat_total)


class NumpyIns:
    """``ins`` at the NumPy level: dims are ints, read from concrete input ``values``."""

    def __init__(self, types: Sequence[TensorType], values: Sequence[Any]) -> None:
        self.types = list(types)
        self.values = [np.asarray(v) for v in values]

    @classmethod
    def of(cls, values: Sequence[Any]) -> NumpyIns:
        """From values alone (types with nothing broadcastable)."""
        arrs = [np.asarray(v) for v in values]
        return cls([TensorType(a.dtype.name, (False,) * a.ndim) for a in arrs], arrs)

    def dim(self, k: int, d: int) -> int:
        return int(self.values[k].shape[d])

    def shape(self, k: int) -> list[int]:
        return [int(s) for s in self.values[k].shape]

    def int(self, v: int) -> int:
        return int(v)

    def prod(self, dims) -> int:
        return math.prod(dims)

    def sum(self, dims) -> int:
        return sum(dims)

    def call(self, fn: DimFn, *args, targs: tuple = ()) -> int:
        return int(fn.py(*args))

    def value(self, k: int, i: int | None = None, real: bool = False):
        v = self.values[k]
        x = v.reshape(()) if i is None else v.reshape(-1)[i]
        return float(x) if real else int(x)

    def array(self, k: int) -> np.ndarray:
        return self.values[k]

    def computed(self, name: str, fn: Callable, *args):
        return fn(*args)

    def where(self, c, a, b):
        return a if c else b

    def unknown(self, why: str):
        raise ShapeUnknown(why)


def numpy_shapes(node, values: Sequence[Any]) -> list[tuple[int, ...]]:
    """The shapes the fact gives ``node``'s outputs for input ``values``."""
    ins = NumpyIns([v.type for v in node.inputs], values)
    return [tuple(int(d) for d in dims) for dims in node.op.shape(dict(node.params), ins)]


# --- rules shared by several ops ------------------------------------------------------------
def same_as(k: int = 0, nout: int = 1) -> Callable:
    """Every output has input ``k``'s shape."""

    def rule(params, ins):
        return [ins.shape(k) for _ in range(nout)]

    return rule


def broadcast_dims(ins, positions: Sequence[int] | None = None, ndim: int | None = None,
                   pattern: Sequence[bool] | None = None) -> list:
    """The broadcast shape of inputs ``positions`` (right-aligned): dim ``d`` is that of the
    first input not broadcastable along it, else 1 (Theano broadcasts only declared
    dims; the lowering checks the others agree). ``pattern``: dims known to be 1."""
    positions = range(len(ins.types)) if positions is None else positions
    nd = max((ins.types[k].ndim for k in positions), default=0) if ndim is None else ndim
    out = []
    for d in range(nd):
        full = [(k, d - nd + ins.types[k].ndim) for k in positions
                if d - nd + ins.types[k].ndim >= 0
                and not ins.types[k].broadcastable[d - nd + ins.types[k].ndim]]
        known_one = pattern is not None and pattern[d]
        out.append(ins.dim(*full[0]) if full and not known_one else 1)
    return out


def elementwise_shape(params, ins) -> list[list]:
    """An elementwise op: one output of the inputs' broadcast shape."""
    return [broadcast_dims(ins)]


def kept_dims(dims: Sequence, axes: Sequence[int]) -> list:
    """``dims`` without the reduced ``axes``."""
    return [s for d, s in enumerate(dims) if d not in axes]


def reduce_shape(params, ins) -> list[list]:
    """A reduction over ``params['axis']``: the input's kept dims."""
    return [kept_dims(ins.shape(0), params["axis"])]


def layout_dims(layout, ins) -> list:
    """The dims a shape ``layout`` (``croton/ops/shape_ops.py``) means: constants, scalar
    inputs, vector-input entries (``("n",)``: None)."""
    out = []
    for e in layout:
        if e[0] == "c":
            out.append(ins.int(int(e[1])))
        elif e[0] == "s":
            out.append(ins.value(e[1]))
        elif e[0] == "v":
            out.append(ins.value(e[1], e[2]))
        else:
            out.append(None)
    return out


class _InnerIns:
    """``ins`` for a node of an inner graph (a scan's step), in the algebra of ``outer``: its
    input dims are given; a value it reads is known only when that input is a constant."""

    def __init__(self, outer, node, dims: list) -> None:
        self.outer, self.types, self._dims = outer, [v.type for v in node.inputs], dims
        self._consts = [getattr(v, "data", None) for v in node.inputs]

    def dim(self, k: int, d: int):
        return self._dims[k][d]

    def shape(self, k: int) -> list:
        return list(self._dims[k])

    def int(self, v: int):
        return self.outer.int(v)

    def prod(self, dims):
        return self.outer.prod(dims)

    def sum(self, dims):
        return self.outer.sum(dims)

    def call(self, fn: DimFn, *args, targs: tuple = ()):
        return self.outer.call(fn, *args, targs=targs)

    def value(self, k: int, i: int | None = None, real: bool = False):
        c = self._consts[k]
        if c is None:
            return self.unknown("the step's shape reads a value computed in the step")
        x = np.asarray(c).reshape(()) if i is None else np.asarray(c).reshape(-1)[i]
        return self.outer.int(int(x)) if not real else float(x)

    def array(self, k: int):
        return self.unknown("the step's shape reads a value computed in the step")

    def computed(self, name: str, fn: Callable, *args):
        return self.unknown("the step's shape is computed at run time")

    def where(self, c, a, b):
        return self.unknown("the step's shape depends on a value")

    def unknown(self, why: str):
        return self.outer.unknown(why)


def graph_dims(graph, input_dims: Sequence[Sequence], ins) -> list[list]:
    """The dims of ``graph``'s outputs (an inner graph: a scan's step) given its inputs' dims,
    by running each node's shape fact in ``ins``'s algebra."""
    dims: dict[int, list] = {id(v): list(d) for v, d in zip(graph.inputs, input_dims)}

    def dims_of(v) -> list:
        if id(v) in dims:
            return dims[id(v)]
        if getattr(v, "data", None) is not None:  # a constant
            return [ins.int(s) for s in np.shape(v.data)]
        return [ins.unknown(f"the step reads {v!r}, whose shape is not an input's")]

    for node in graph.nodes():
        sub = _InnerIns(ins, node, [dims_of(v) for v in node.inputs])
        for out, d in zip(node.outputs, node.op.shape(dict(node.params), sub)):
            dims[id(out)] = list(d)
    return [dims_of(v) for v in graph.outputs]
