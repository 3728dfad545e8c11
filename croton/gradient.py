"""Reverse-mode differentiation (``grad``) from the VJP rules in the op table.

Example::

    >>> import croton.tensor as T
    >>> x = T.dscalar('x')
    >>> T.grad(x ** 2, x).owner is not None
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from croton.graph import Variable, ancestors_toposort, source_override
from croton.types import DISCRETE_DTYPES


class DisconnectedInputError(ValueError):
    """``grad`` was asked for a variable the cost does not depend on."""


class NullTypeGradError(TypeError):
    """The cost is not a real scalar, or an op on the path has no gradient."""


def _unbroadcast(g: Variable, like: Variable) -> Variable:
    """Sum ``g`` over the dims where ``like`` broadcast, and give it ``like``'s dtype."""
    import croton.tensor as T

    if g.ndim != like.ndim:
        raise NullTypeGradError(f"gradient of ndim {g.ndim} for a variable of ndim {like.ndim}")
    axes = tuple(i for i, (gb, lb) in enumerate(zip(g.broadcastable, like.broadcastable))
                 if lb and not gb)
    if axes:
        g = T.sum(g, axis=axes, keepdims=True)
    if g.broadcastable != like.broadcastable:
        # g may be broadcastable where like is not (e.g. fill of a scalar): that is fine for
        # elementwise use, but the gradient must have like's full shape.
        g = T.fill(like, g)
    return T.cast(g, like.dtype)


def _as_variable(v) -> Variable:
    import croton.tensor as T

    return T.as_tensor_variable(v)


def grad(cost, wrt, consider_constant: Sequence | None = None,
         disconnected_inputs: str = "raise", known_grads: dict | None = None):
    """Gradient of the scalar ``cost`` with respect to ``wrt`` (a variable or a list of them).

    Returns one variable per entry of ``wrt`` (a list if ``wrt`` is a list). ``disconnected_inputs``
    ('raise', 'warn' or 'ignore') says what to do when ``cost`` does not depend on a ``wrt``.
    """
    import croton.tensor as T

    cost = _as_variable(cost) if cost is not None else None
    if known_grads is None and cost is None:
        raise TypeError("grad needs a cost or known_grads")
    if cost is not None and cost.ndim != 0:
        raise TypeError(f"cost must be a scalar, got {cost.type} (ndim {cost.ndim})")
    if cost is not None and cost.dtype in DISCRETE_DTYPES:
        raise TypeError(f"cost must be of a float dtype to be differentiated, got {cost.dtype}")
    single = not isinstance(wrt, list | tuple)
    wrt_vars = [_as_variable(w) for w in ([wrt] if single else wrt)]
    constants = {id(_as_variable(c)) for c in (consider_constant or ())}

    roots = [cost] if cost is not None else []
    grads: dict[int, Variable] = {}
    if cost is not None:
        grads[id(cost)] = T.ones_like(cost)
    for var, g in (known_grads or {}).items():
        var = _as_variable(var)
        roots.append(var)
        grads[id(var)] = _unbroadcast(_as_variable(g), var) if var.ndim else T.cast(g, var.dtype)

    nodes = ancestors_toposort(roots)
    ancestors = {id(v) for node in nodes for v in node.inputs} | {id(r) for r in roots}

    for node in reversed(nodes):
        out_grads = [grads.get(id(o)) for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        if any(id(o) in constants for o in node.outputs):
            continue
        if node.op.vjp is None:
            raise NullTypeGradError(f"op {node.op.name} (built at {node.source}) has no gradient")
        out_grads = [T.zeros_like(o) if g is None else g for o, g in zip(node.outputs, out_grads)]
        with source_override(node.source):
            in_grads = node.op.vjp(node, out_grads)
            for inp, g in zip(node.inputs, in_grads):
                if g is None or inp.dtype in DISCRETE_DTYPES or id(inp) in constants:
                    continue
                g = _unbroadcast(_as_variable(g), inp)
                prev = grads.get(id(inp))
                grads[id(inp)] = g if prev is None else prev + g

    results = []
    for w in wrt_vars:
        g = grads.get(id(w))
        if g is None:
            if id(w) not in ancestors:
                msg = (f"grad was asked for the gradient with respect to {w!r}, which is not part "
                       f"of the computational graph of the cost")
                if disconnected_inputs == "raise":
                    raise DisconnectedInputError(msg)
                if disconnected_inputs == "warn":
                    import warnings

                    warnings.warn(msg, stacklevel=2)
            g = T.zeros_like(w)
        results.append(g)
    return results[0] if single else results


__all__ = ["grad", "DisconnectedInputError", "NullTypeGradError"]
