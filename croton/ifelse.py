"""``ifelse``: Theano's lazy conditional. Only the taken branch is computed: the nodes that only
one branch needs run inside a C++ ``if``/``else`` (see ``codegen/lowering/control.py``).

Example::

    >>> import croton, croton.tensor as T
    >>> from croton.ifelse import ifelse
    >>> a, b = T.dscalars('a', 'b')
    >>> f = croton.function([a, b], ifelse(T.lt(a, b), a * 10, b * 100))
    >>> float(f(1.0, 2.0)), float(f(3.0, 2.0))
    (10.0, 200.0)
"""

from __future__ import annotations

from collections.abc import Sequence

from croton.graph import Variable
from croton.ops.table import OPS, apply_op


def ifelse(condition, then_branch, else_branch, name: str | None = None):
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch``.

    The branches may be one variable each or lists of the same length (then a list is
    returned); paired outputs need the same dtype and ndim, but may differ in shape.
    """
    import croton.tensor as T

    single = not isinstance(then_branch, list | tuple)
    thens = [then_branch] if single else list(then_branch)
    elses = [else_branch] if not isinstance(else_branch, list | tuple) else list(else_branch)
    if len(thens) != len(elses):
        raise ValueError(f"ifelse: {len(thens)} then-outputs but {len(elses)} else-outputs")
    cond = T.as_tensor_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond.type}")
    thens_v: list[Variable] = []
    elses_v: list[Variable] = []
    for k, (t, e) in enumerate(zip(thens, elses)):
        if isinstance(t, Variable) or not isinstance(e, Variable):
            t = T.as_tensor_variable(t)
            e = T.as_tensor_variable(e, like=[t])
        else:  # a Python number in the then-branch takes the else-branch's dtype
            e = T.as_tensor_variable(e)
            t = T.as_tensor_variable(t, like=[e])
        if t.dtype != e.dtype:
            raise TypeError(f"ifelse: output {k} is {t.type} in the then-branch but {e.type} "
                            f"in the else-branch; cast one of them (T.cast)")
        thens_v.append(t)
        elses_v.append(e)
    params = {"n_outs": len(thens_v)}
    if name:
        params["name"] = name
    node = apply_op(OPS["ifelse"], [cond, *thens_v, *elses_v], **params)
    outs: Sequence[Variable] = node.outputs
    return outs[0] if single else list(outs)


__all__ = ["ifelse"]
