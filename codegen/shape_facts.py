"""The shape fact in the lowering: ``out_shapes(lw, node)`` runs the node's
``OpRecord.shape`` rule (``croton/ops/shapes.py``) over expression nodes (``codegen/expr.py``),
so every kernel generator sets its outputs' shapes from the op table instead of computing them.

An input dim is ``Dim(buffer, d)``; an input value is a literal for a constant, the dim it is
when the value is ``shape_i``/``shape`` of a lowered tensor (known before any kernel runs), else
the computed value ``Value(buffer)`` (whose shape lines stay after the kernel that writes it).
A generator may bind what it already built: ``values={(k, i): expr}`` (an entry of input ``k``
it copied into a shape array that its checks print) and ``computed={name: expr}`` (a length its
kernel leaves in a buffer: mask_nonzero's count; reshape's dims resolved by
``croton::infer_reshape``).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import Lowerer
    >>> from croton.codegen.expr import cpp
    >>> a, b = T.dmatrix('a'), T.dmatrix('b')
    >>> y = T.join(0, a, b)
    >>> lw = Lowerer(Graph.make([a, b], [y]))
    >>> for v in (a, b):
    ...     lw.var_buffer[id(v)] = lw.new_buffer(v.type, "input", 0, "v")
    >>> [cpp(e) for e in out_shapes(lw, y.owner)[0]]
    ['B0.shape[0] + B1.shape[0]', 'B0.shape[1]']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from croton.codegen.expr import Buf, Call, Cond, Dim, Int, Lit, Node, Value, as_node, chain, entry
from croton.graph import Apply, Constant, Variable
from croton.ops.shapes import DimFn, ShapeUnknown
from croton.types import TensorType

SHAPE_HEADER = "kernels/shape.hpp"  # croton::value(buffer, i)


def scalar_expr(lw, var: Variable, ctype: str = "int64_t") -> Node:
    """The value of the scalar ``var``: a literal, a known shape, or a computed value."""
    from croton.codegen.lower import c_literal

    if isinstance(var, Constant):
        value = var.data.reshape(()).item()
        return Int(int(value), typed=True) if ctype == "int64_t" else Lit(
            c_literal(value, "float64"))
    owner = var.owner
    if owner is not None and owner.op.name == "shape_i":
        return Dim(lw.buffer_of(owner.inputs[0]), dict(owner.params)["i"])
    return Value(lw.buffer_of(var), ctype)


def vector_entry(lw, var: Variable, i: int) -> Node:
    """Element ``i`` of the int vector ``var``: a literal, a dim of a tensor whose ``shape``
    it is, or a computed value."""
    if isinstance(var, Constant):
        return Int(int(var.data[i]), typed=True)
    if var.owner is not None and var.owner.op.name == "shape":
        return Dim(lw.buffer_of(var.owner.inputs[0]), i)
    lw.need_header(SHAPE_HEADER)
    return Value(lw.buffer_of(var), "int64_t", Int(i))


class LoweredIns:
    """``ins`` (``croton/ops/shapes.py``) over expression nodes, for one node being lowered.

    ``shapes`` (the int64 shape array of each input: ``ShapeOf``/``ArrayRef``, or None for a
    size-1 literal) and ``types`` replace the node's own inputs for one step of a fused
    elementwise program."""

    def __init__(self, lw, node: Apply | None, types: Sequence[TensorType] | None = None,
                 shapes: Sequence[Node | None] | None = None,
                 values: dict | None = None, computed: dict | None = None) -> None:
        self.lw, self.node = lw, node
        self.types = list(types) if types is not None else [v.type for v in node.inputs]
        self._shapes = shapes
        self._values = values or {}
        self._computed = computed or {}

    def dim(self, k: int, d: int) -> Node:
        if self._shapes is not None:
            shape = self._shapes[k]
            return Int(1) if shape is None else entry(shape, d)
        return Dim(self.lw.buffer_of(self.node.inputs[k]), d)

    def shape(self, k: int) -> list[Node]:
        return [self.dim(k, d) for d in range(self.types[k].ndim)]

    def int(self, v: int) -> Node:
        return Int(int(v), typed=True)

    def prod(self, dims) -> Node:
        return chain("*", (as_node(d) for d in dims), Int(1))

    def sum(self, dims) -> Node:
        return chain("+", (as_node(d) for d in dims), Int(0))

    def call(self, fn: DimFn, *args, targs: tuple = ()) -> Node:
        return Call(fn.cpp, tuple(as_node(a) for a in args), targs)

    def _input(self, k: int) -> Variable:
        if self.node is None:
            raise ShapeUnknown("an elementwise step reads no values")
        return self.node.inputs[k]

    def value(self, k: int, i: int | None = None, real: bool = False) -> Node:
        if (k, i) in self._values:
            return self._values[(k, i)]
        var = self._input(k)
        if i is None:
            return scalar_expr(self.lw, var, "double" if real else "int64_t")
        return vector_entry(self.lw, var, i)

    def array(self, k: int) -> Node:
        return Buf(self.lw.buffer_of(self._input(k)))

    def computed(self, name: str, fn: Callable, *args):
        if name not in self._computed:
            raise AssertionError(f"{self.node.op.name}: the lowering must bind the computed "
                                 f"length {name!r} (out_shapes(..., computed=...))")
        return self._computed[name]

    def where(self, c, a, b) -> Node:
        return Cond(as_node(c), as_node(a), as_node(b))

    def unknown(self, why: str):
        raise ShapeUnknown(why)


def out_shapes(lw, node: Apply, values: dict | None = None,
               computed: dict | None = None) -> list[list[Node]]:
    """The fact's dims of each output of ``node`` as expressions (``values``/``computed``: what
    the generator already built, see the module docstring)."""
    ins = LoweredIns(lw, node, values=values, computed=computed)
    return [[as_node(d) for d in dims] for dims in node.op.shape(dict(node.params), ins)]
