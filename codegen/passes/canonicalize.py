"""canonicalize: algebraic identities to a fixed point, so later passes see one form.

``x*1 → x``, ``x+0 → x``, ``x-0 → x``, ``x-x → 0``, ``--x → x``, ``x*x → sqr(x)``,
``x**2 → sqr(x)``, ``x**0.5 → sqrt(x)``, ``x**1 → x``, ``x**-1 → 1/x``, ``x**3 → x*sqr(x)``,
``x**4 → sqr(sqr(x))``, ``log(exp(x)) → x``, a cast to the same dtype → x, nested dimshuffles
composed and identity ones removed, ``shape_i`` of an op's output folded to its input dims when
the op's shape fact says the dim is a function of them alone (``shape_i(join(0, a, b), 0) →
shape_i(a, 0) + shape_i(b, 0)``, ``shape_i(exp(x), 1) → shape_i(x, 1)``), and chains of scalar
constants collected: ``(x + 1) + 2 → x + 3``, ``(x * 2) * 3 → x * 6``. No rule changes a
variable's type (the engine checks).

Before::  out = log(exp(x)) * 1 + (y ** 2 + 0)
After::   out = x + sqr(y)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> canonicalize(Graph.make([x], [x ** 2])).outputs[0].owner.op.name
    'sqr'
"""

from __future__ import annotations

import numpy as np

from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable
from croton.ops.shapes import ShapeUnknown
from croton.rewrite import op_name, rewrite_to_fixed_point, single_value
from croton.types import FLOAT_DTYPES


def _t():
    import croton.tensor as T

    return T


def _other_if_constant(inputs: list[Variable], value) -> Variable | None:
    a, b = inputs
    if single_value(b) == value:
        return a
    if single_value(a) == value:
        return b
    return None


def neutral_elements(node: Apply, inputs: list[Variable]):
    name = node.op.name
    if name in ("mul", "add") and len(inputs) == 2:
        other = _other_if_constant(inputs, 1 if name == "mul" else 0)
        if other is not None:
            return [other]
    if name in ("sub", "true_div"):
        a, b = inputs
        if single_value(b) == (0 if name == "sub" else 1):
            return [a]
        if name == "sub" and a is b:
            return [_t().zeros_like(a)]
    return None


def double_negation(node: Apply, inputs: list[Variable]):
    if node.op.name == "neg" and op_name(inputs[0]) == "neg":
        return [inputs[0].owner.inputs[0]]
    return None


def square_of_self(node: Apply, inputs: list[Variable]):
    if node.op.name == "mul" and len(inputs) == 2 and inputs[0] is inputs[1]:
        return [_t().sqr(inputs[0])]
    return None


def small_powers(node: Apply, inputs: list[Variable]):
    if node.op.name != "pow":
        return None
    x, e = inputs
    c = single_value(e)
    if c is None:
        return None
    T = _t()
    if c == 1:
        return [x]
    if c == 2:
        return [T.sqr(x)]
    if c == 3:
        return [x * T.sqr(x)]
    if c == 4:
        return [T.sqr(T.sqr(x))]
    if x.dtype in FLOAT_DTYPES:
        if c == 0.5:
            return [T.sqrt(x)]
        if c == -1:
            return [1.0 / x]
        if c == -2:
            return [1.0 / T.sqr(x)]
    return None


def log_of_exp(node: Apply, inputs: list[Variable]):
    if node.op.name == "log" and op_name(inputs[0]) == "exp":
        return [inputs[0].owner.inputs[0]]
    return None


def useless_cast(node: Apply, inputs: list[Variable]):
    if node.op.name == "cast" and inputs[0].type == node.outputs[0].type:
        return [inputs[0]]
    return None


def compose_dimshuffles(node: Apply, inputs: list[Variable]):
    if node.op.name != "dimshuffle":
        return None
    (x,) = inputs
    order = tuple(dict(node.params)["order"])
    if order == tuple(range(x.ndim)):
        return [x]
    if op_name(x) == "dimshuffle":
        inner = tuple(dict(x.owner.params)["order"])
        composed = tuple("x" if d == "x" else inner[d] for d in order)
        return [_t().dimshuffle(x.owner.inputs[0], composed)]
    return None


class _Sym:
    """A symbolic dim of ``_GraphIns``: ``("dim", k, d)`` (input k's dim d), ``(op, a, b)`` for
    ``+ - * //`` over syms and ints, or ``("opaque",)`` (it reads a value or a runtime helper:
    not foldable; arithmetic keeps it so)."""

    def __init__(self, *term) -> None:
        self.term = term

    def _bin(self, op: str, a, b) -> _Sym:
        if any(isinstance(x, _Sym) and x.term[0] == "opaque" for x in (a, b)):
            return _OPAQUE
        return _Sym(op, a, b)

    def __add__(self, o):
        return self._bin("+", self, o)

    def __radd__(self, o):
        return self._bin("+", o, self)

    def __sub__(self, o):
        return self._bin("-", self, o)

    def __rsub__(self, o):
        return self._bin("-", o, self)

    def __mul__(self, o):
        return self._bin("*", self, o)

    def __rmul__(self, o):
        return self._bin("*", o, self)

    def __floordiv__(self, o):
        return self._bin("//", self, o)

    def __rfloordiv__(self, o):
        return self._bin("//", o, self)

    def __getitem__(self, i):  # an opaque list of dims (reshape's resolved dims)
        return _OPAQUE


_OPAQUE = _Sym("opaque")


class _GraphIns:
    """``ins`` (``croton/ops/shapes.py``) for ``shape_from_fact``: input dims are symbols (1 for
    a broadcastable dim); values, runtime helpers, run-time lengths and branches are opaque."""

    def __init__(self, node: Apply) -> None:
        self.node, self.types = node, [v.type for v in node.inputs]

    def dim(self, k: int, d: int):
        return 1 if self.types[k].broadcastable[d] else _Sym("dim", k, d)

    def shape(self, k: int) -> list:
        return [self.dim(k, d) for d in range(self.types[k].ndim)]

    def int(self, v: int) -> int:
        return int(v)

    def prod(self, dims):
        out = 1
        for d in dims:
            out = d if isinstance(out, int) and out == 1 else out * d
        return out

    def sum(self, dims):
        out = 0
        for d in dims:
            out = d if isinstance(out, int) and out == 0 else out + d
        return out

    def call(self, fn, *args, targs=()):
        return _OPAQUE

    def value(self, k, i=None, real=False):
        return _OPAQUE

    def array(self, k):
        return _OPAQUE

    def computed(self, name, fn, *args):
        return _OPAQUE

    def where(self, c, a, b):
        return _OPAQUE

    def unknown(self, why):
        raise ShapeUnknown(why)


def _to_graph(dim, node: Apply):
    """The int64 scalar graph of a symbolic dim, or None when it is opaque."""
    T = _t()
    if isinstance(dim, (int, np.integer)) and not isinstance(dim, bool):
        return T.constant(np.asarray(int(dim), dtype="int64"))
    if not isinstance(dim, _Sym) or dim.term[0] == "opaque":
        return None
    if dim.term[0] == "dim":
        return T.shape_i(node.inputs[dim.term[1]], dim.term[2])
    op, a, b = dim.term
    ga, gb = _to_graph(a, node), _to_graph(b, node)
    if ga is None or gb is None:
        return None
    return {"+": T.add, "-": T.sub, "*": T.mul, "//": T.int_div}[op](ga, gb)


def shape_from_fact(node: Apply, inputs: list[Variable]):
    """``shape_i`` of an op's output whose dim the op's shape fact gives as a function of its
    input dims alone (a constant, an input dim, their sum...): folded at compile time to that
    function of ``shape_i`` of the inputs, so the op need not run to know it."""
    if node.op.name != "shape_i" or inputs[0].owner is None:
        return None
    producer = inputs[0].owner
    j = next(k for k, o in enumerate(producer.outputs) if o is inputs[0])
    try:
        dim = producer.op.shape(dict(producer.params), _GraphIns(producer))[j][
            dict(node.params)["i"]]
    except ShapeUnknown:
        return None
    out = _to_graph(dim, producer)
    if out is None:
        return None
    if isinstance(out, Constant):
        return [Constant(node.outputs[0].type, np.asarray(out.data, dtype="int64"))]
    return [out if out.type == node.outputs[0].type else _t().cast(out, "int64")]


def _split_constant(a: Variable, b: Variable) -> tuple[Variable, Variable] | None:
    """(other operand, one-element constant operand) of a binary op's operands, or None."""
    if single_value(b) is not None:
        return a, b
    if single_value(a) is not None:
        return b, a
    return None


def collect_constants(node: Apply, inputs: list[Variable]):
    name = node.op.name
    if name not in ("add", "mul") or len(inputs) != 2 or any(
            i.dtype.startswith("complex") for i in inputs):
        return None
    outer = _split_constant(*inputs)
    if outer is None:
        return None
    a, c_outer = outer
    if op_name(a) != name or len(a.owner.inputs) != 2:
        return None
    inner = _split_constant(*a.owner.inputs)
    if inner is None:
        return None
    x, c_inner = inner
    dtype = node.outputs[0].dtype
    with np.errstate(all="ignore"):
        u, w = np.asarray(single_value(c_outer)), np.asarray(single_value(c_inner))
        value = (u + w) if name == "add" else (u * w)
    T = _t()
    folded = T.constant(np.asarray(value).astype(dtype))
    return [T.add(x, folded) if name == "add" else T.mul(x, folded)]


RULES = [neutral_elements, double_negation, square_of_self, small_powers, log_of_exp,
         useless_cast, compose_dimshuffles, shape_from_fact, collect_constants]


def canonicalize(graph: Graph) -> Graph:
    """Run the canonical rewrites to a fixed point."""
    return rewrite_to_fixed_point(graph, RULES)
