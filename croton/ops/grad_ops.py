"""Gradient-shaping identities: the value passes through unchanged, only the reverse-mode rule
differs. They lower as an elementwise copy (``cpp = "{0}"``), which fusion absorbs.

- ``zero_grad``: the gradient through it is zero (the input is still connected).
- ``disconnected_grad``: no gradient flows through it (Theano's ``disconnected_grad``).
- ``grad_clip{lower, upper}``: the gradient is clipped to ``[lower, upper]``.

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["grad_clip"].cpp, OPS["zero_grad"].kind
    ('{0}', 'elemwise')
"""

from __future__ import annotations

from croton.ops.elemwise import elemwise


def _t():
    import croton.tensor as T

    return T


def _vjp_zero_grad(node, g):
    return [_t().zeros_like(node.inputs[0])]


def _vjp_disconnected_grad(node, g):
    return [None]


def _vjp_grad_clip(node, g):
    T = _t()
    params = dict(node.params)
    return [T.clip(g[0], params["lower"], params["upper"])]


elemwise("zero_grad", 1, "{0}", lambda a: a.copy(), _vjp_zero_grad,
         doc="zero_grad(x): x; its gradient is zero.")
elemwise("disconnected_grad", 1, "{0}", lambda a: a.copy(), _vjp_disconnected_grad,
         doc="disconnected_grad(x): x; no gradient flows back through it.")
elemwise("grad_clip", 1, "{0}", lambda a: a.copy(), _vjp_grad_clip,
         doc="grad_clip{lower, upper}(x): x; its gradient is clipped to [lower, upper].")
