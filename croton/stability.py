"""The numerical-stability rewrites, as rules for ``croton.rewrite``'s engine: shared by the
``stabilize`` pass (``codegen/passes/stabilize.py``) and by ``croton.gradient.grad``, which
differentiates the stable form of the cost.

- ``1 / (1 + exp(-x)) → sigmoid(x)`` (the logistic written out, as Theano's tutorial does)
- ``log(sigmoid(x)) → -softplus(-x)``, ``log(1 - sigmoid(x)) → -softplus(x)``
- ``log(1 + x) → log1p(x)``, ``exp(x) - 1 → expm1(x)``
- ``log(exp(z) / s) → z - log(s)`` (a log of softmax becomes log_softmax)
- ``log(sum(exp(x))) → log(sum(exp(x - max(x)))) + max(x)`` (logsumexp)

Example::

    >>> import croton.tensor as T
    >>> x = T.dvector('x')
    >>> stabilize_expression([T.log(T.nnet.sigmoid(x))])[0].owner.op.name
    'neg'
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.rewrite import op_name, rewrite_to_fixed_point, single_value
from croton.types import FLOAT_DTYPES


def _t():
    import croton.tensor as T

    return T


def _float(v: Variable) -> bool:
    return v.dtype in FLOAT_DTYPES


def logistic_to_sigmoid(node: Apply, inputs: list[Variable]):
    """1 / (1 + exp(z)) → sigmoid(-z): the logistic written out (as Theano's tutorial does) is
    recognized, so the log rules below apply to it."""
    if node.op.name != "true_div" or single_value(inputs[0]) != 1 or not _float(inputs[1]):
        return None
    if op_name(inputs[1]) != "add":
        return None
    a, b = inputs[1].owner.inputs
    if single_value(a) != 1:
        a, b = b, a
    if single_value(a) != 1 or op_name(b) != "exp":
        return None
    z = b.owner.inputs[0]
    T = _t()
    arg = z.owner.inputs[0] if op_name(z) == "neg" else -z
    return [T.sigmoid(arg)]  # (the engine drops it if broadcasting changed the type)


def log_sigmoid(node: Apply, inputs: list[Variable]):
    if node.op.name != "log" or not _float(inputs[0]):
        return None
    (a,) = inputs
    T = _t()
    if op_name(a) == "sigmoid":
        return [-T.softplus(-a.owner.inputs[0])]
    if op_name(a) == "sub" and single_value(a.owner.inputs[0]) == 1 \
            and op_name(a.owner.inputs[1]) == "sigmoid":
        return [-T.softplus(a.owner.inputs[1].owner.inputs[0])]
    return None


def log_one_plus(node: Apply, inputs: list[Variable]):
    if node.op.name != "log" or op_name(inputs[0]) != "add" or not _float(inputs[0]):
        return None
    a, b = inputs[0].owner.inputs
    if single_value(a) == 1:
        return [_t().log1p(b)]
    if single_value(b) == 1:
        return [_t().log1p(a)]
    return None


def exp_minus_one(node: Apply, inputs: list[Variable]):
    if node.op.name != "sub" or op_name(inputs[0]) != "exp" or single_value(inputs[1]) != 1:
        return None
    return [_t().expm1(inputs[0].owner.inputs[0])]


def log_of_exp_ratio(node: Apply, inputs: list[Variable]):
    """log(exp(z) / s) → z - log(s): with z = x - max(x) and s = sum(exp(z)), log_softmax."""
    if node.op.name != "log" or op_name(inputs[0]) != "true_div" or not _float(inputs[0]):
        return None
    num, den = inputs[0].owner.inputs
    if op_name(num) != "exp":
        return None
    return [num.owner.inputs[0] - _t().log(den)]


def _is_shifted_by_max(x: Variable) -> bool:
    """True for ``y - max(y, ...)`` (the already-stable form), through dimshuffles."""
    if op_name(x) != "sub":
        return False
    m = x.owner.inputs[1]
    while op_name(m) == "dimshuffle":
        m = m.owner.inputs[0]
    return op_name(m) in ("max", "fused_reduce")


def log_sum_exp(node: Apply, inputs: list[Variable]):
    if node.op.name != "log" or op_name(inputs[0]) != "sum" or not _float(inputs[0]):
        return None
    s = inputs[0]
    e = s.owner.inputs[0]
    if op_name(e) != "exp":
        return None
    x = e.owner.inputs[0]
    if _is_shifted_by_max(x):
        return None
    axis = dict(s.owner.params)["axis"]
    T = _t()
    m = T.max(x, axis=axis)
    m_keep = T.max(x, axis=axis, keepdims=True)
    return [T.log(T.sum(T.exp(x - m_keep), axis=axis)) + m]


RULES = [logistic_to_sigmoid, log_sigmoid, log_one_plus, exp_minus_one, log_of_exp_ratio,
         log_sum_exp]


def stabilize_expression(outputs: list[Variable]) -> list[Variable]:
    """The same rewrites on free-standing expressions (used by ``grad`` on the cost)."""
    from croton.graph import graph_inputs

    graph = Graph.make([v for v in graph_inputs(outputs) if not _is_constant(v)], outputs)
    return list(rewrite_to_fixed_point(graph, RULES).outputs)


def _is_constant(v: Variable) -> bool:
    from croton.graph import Constant
    from croton.shared import SharedVariable

    return isinstance(v, Constant | SharedVariable)
