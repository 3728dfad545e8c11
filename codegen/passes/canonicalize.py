"""canonicalize: algebraic identities to a fixed point, so later passes see one form.

``x*1 → x``, ``x+0 → x``, ``x-0 → x``, ``x-x → 0``, ``--x → x``, ``x*x → sqr(x)``,
``x**2 → sqr(x)``, ``x**0.5 → sqrt(x)``, ``x**1 → x``, ``x**-1 → 1/x``, ``x**3 → x*sqr(x)``,
``x**4 → sqr(sqr(x))``, ``log(exp(x)) → x``, a cast to the same dtype → x, nested dimshuffles
composed and identity ones removed, ``shape_i`` through a dimshuffle, and chains of scalar
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


def shape_through_dimshuffle(node: Apply, inputs: list[Variable]):
    """``shape_i`` of an op whose record knows where that dim comes from (``dim_source``: a
    dimshuffle's kept or new dims) reads it from there."""
    if node.op.name != "shape_i" or inputs[0].owner is None:
        return None
    producer = inputs[0].owner
    if producer.op.dim_source is None or producer.outputs[0] is not inputs[0]:
        return None
    source = producer.op.dim_source(producer, dict(node.params)["i"])
    if source is None:
        return None
    if isinstance(source, int):
        return [Constant(node.outputs[0].type, np.asarray(source, dtype="int64"))]
    k, d = source
    return [_t().shape_i(producer.inputs[k], d)]


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
         useless_cast, compose_dimshuffles, shape_through_dimshuffle, collect_constants]


def canonicalize(graph: Graph) -> Graph:
    """Run the canonical rewrites to a fixed point."""
    return rewrite_to_fixed_point(graph, RULES)
