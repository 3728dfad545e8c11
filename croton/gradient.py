"""Reverse-mode differentiation (``grad``) from the VJP rules in the op table.

Example::

    >>> import croton.tensor as T
    >>> x = T.dscalar('x')
    >>> T.grad(x ** 2, x).owner is not None
    True
"""

from __future__ import annotations

from collections.abc import Sequence

from croton.config import config
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
    single = not isinstance(wrt, list | tuple)
    wrt_vars = [_as_variable(w) for w in ([wrt] if single else wrt)]
    constants = {id(_as_variable(c)) for c in (consider_constant or ())}
    if cost is not None and not known_grads and not constants and all(
            w.owner is None for w in wrt_vars):
        # differentiate the numerically stable form (log(sigmoid) -> -softplus(-x), ...), so
        # the gradient is as stable as the value the compiled function computes
        from croton.stability import stabilize_expression

        cost = stabilize_expression([cost])[0]

    roots = [cost] if cost is not None else []
    grads: dict[int, Variable] = {}
    if cost is not None:
        # an integer cost is seeded with floatX ones, as in Theano (its gradients are zeros)
        grads[id(cost)] = T.ones_like(cost, dtype=config.floatX if cost.dtype in
                                      DISCRETE_DTYPES else None)
    for var, g in (known_grads or {}).items():
        var = _as_variable(var)
        roots.append(var)
        grads[id(var)] = _unbroadcast(_as_variable(g), var) if var.ndim else T.cast(g, var.dtype)

    nodes = ancestors_toposort(roots)
    ancestors = {id(v) for node in nodes for v in node.inputs} | {id(r) for r in roots}
    # only nodes on a path from some wrt to the cost contribute: skip the rest
    depends = {id(w) for w in wrt_vars}
    for node in nodes:
        if any(id(i) in depends for i in node.inputs):
            depends.update(id(o) for o in node.outputs)

    for node in reversed(nodes):
        if not any(id(o) in depends for o in node.outputs):
            continue
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
        if w.dtype in DISCRETE_DTYPES:
            # As Theano: the gradient with respect to an integer variable is floatX zeros
            g = T.zeros_like(w, dtype=config.floatX)
        results.append(g)
    return results[0] if single else results


def _as_list(x) -> tuple[list, bool]:
    single = not isinstance(x, list | tuple)
    return ([x] if single else list(x)), single


def Lop(f, wrt, eval_points, consider_constant: Sequence | None = None,
        disconnected_inputs: str = "raise"):
    """Vector-Jacobian product ``eval_points^T . d f / d wrt`` (reverse mode).

    ``f`` and ``eval_points`` are a variable or matching lists; one result per ``wrt``.

    Example::

        >>> import croton.tensor as T
        >>> x, v = T.dvector('x'), T.dvector('v')
        >>> Lop(x ** 2, x, v).type
        TensorType(float64, vector)
    """
    fs, _ = _as_list(f)
    points, _ = _as_list(eval_points)
    if len(fs) != len(points):
        raise ValueError(f"Lop: {len(fs)} expressions but {len(points)} eval_points")
    known = {}
    for fi, p in zip(fs, points):
        fi, p = _as_variable(fi), _as_variable(p)
        if p.ndim != fi.ndim:
            raise TypeError(f"Lop: eval point of ndim {p.ndim} for an expression of ndim {fi.ndim}")
        known[fi] = p
    return grad(None, wrt, consider_constant=consider_constant,
                disconnected_inputs=disconnected_inputs, known_grads=known)


def Rop(f, wrt, eval_points, disconnected_outputs: str = "raise",
        return_disconnected: str = "zero"):
    """Jacobian-vector product ``d f / d wrt . eval_points`` (forward mode).

    Built from two reverse passes: ``Lop(f, wrt, u)`` is linear in the seed ``u``, and its
    gradient with respect to ``u`` after a dot with ``eval_points`` is the Jacobian-vector
    product. One result per ``f`` (a list when ``f`` is a list).

    Example::

        >>> import croton.tensor as T
        >>> x, v = T.dvector('x'), T.dvector('v')
        >>> Rop(T.exp(x), x, v).type
        TensorType(float64, vector)
    """
    import croton.tensor as T

    fs, single = _as_list(f)
    fs = [_as_variable(fi) for fi in fs]
    wrts, _ = _as_list(wrt)
    wrts = [_as_variable(w) for w in wrts]
    points, _ = _as_list(eval_points)
    points = [_as_variable(p) for p in points]
    if len(wrts) != len(points):
        raise ValueError(f"Rop: {len(wrts)} wrt variables but {len(points)} eval_points")
    for w, p in zip(wrts, points):
        if w.ndim != p.ndim:
            raise TypeError(f"Rop: eval point of ndim {p.ndim} for {w!r} of ndim {w.ndim}")
    differentiable = [fi for fi in fs if fi.dtype not in DISCRETE_DTYPES]
    seeds = {id(fi): T.zeros_like(fi) for fi in differentiable}  # value unused: L is linear
    results = [None] * len(fs)
    if differentiable:
        lops = Lop(differentiable, wrts, [seeds[id(fi)] for fi in differentiable],
                   disconnected_inputs="ignore")
        total = None
        for lop, p in zip(lops, points):
            term = T.sum(lop * T.cast(p, lop.dtype))
            total = term if total is None else total + term
        jvps = grad(total, [seeds[id(fi)] for fi in differentiable], disconnected_inputs="ignore")
        by_id = {id(fi): j for fi, j in zip(differentiable, jvps)}
        results = [by_id.get(id(fi)) for fi in fs]
    for k, fi in enumerate(fs):
        if results[k] is None:
            if return_disconnected == "none":
                continue
            results[k] = T.zeros_like(fi)
    return results[0] if single else results


def _scan_function():
    try:
        import importlib

        module = importlib.import_module("croton.scan")
    except ImportError:
        module = None
    fn = getattr(module, "scan", module) if module is not None else None
    if not callable(fn):
        raise NotImplementedError(
            "jacobian and hessian loop over the rows of the expression with croton.scan, which "
            "is not available in this build yet; use grad of each scalar output, or Lop/Rop "
            "for Jacobian-vector products")
    return fn


def jacobian(expression, wrt, consider_constant: Sequence | None = None,
             disconnected_inputs: str = "raise"):
    """The Jacobian of the vector ``expression`` with respect to ``wrt`` (one or a list).

    Row ``i`` is ``grad(expression[i], wrt)``, computed in a loop with ``croton.scan`` as
    Theano does; a scalar ``expression`` gives its gradient.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dvector('x')
        >>> jacobian(T.sum(x ** 2), x).type
        TensorType(float64, vector)
    """
    import croton.tensor as T

    expression = _as_variable(expression)
    wrts, single = _as_list(wrt)
    wrts = [_as_variable(w) for w in wrts]
    if expression.ndim == 0:
        out = grad(expression, wrts, consider_constant=consider_constant,
                   disconnected_inputs=disconnected_inputs)
        return out[0] if single else out
    if expression.ndim != 1:
        raise TypeError("jacobian expects a 1-dimensional expression (use flatten() first), "
                        f"got ndim {expression.ndim}")
    scan = _scan_function()

    def row(i):  # expression and wrt are free variables of the step: scan passes them in
        return grad(expression[i], wrts, consider_constant=consider_constant,
                    disconnected_inputs=disconnected_inputs)

    try:
        indices = T.arange(T.shape_i(expression, 0))
    except (AttributeError, TypeError) as exc:
        raise NotImplementedError(f"jacobian needs arange and x.shape: {exc}") from None
    rows, _updates = scan(row, sequences=indices, return_list=True)
    rows = list(rows)
    return rows[0] if single else rows


def hessian(cost, wrt, consider_constant: Sequence | None = None,
            disconnected_inputs: str = "raise"):
    """The Hessian of the scalar ``cost`` with respect to each vector in ``wrt``:
    ``jacobian(grad(cost, w), w)``.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dvector('x')
        >>> callable(hessian)
        True
    """
    cost = _as_variable(cost)
    if cost.ndim != 0:
        raise TypeError(f"hessian: cost must be a scalar, got ndim {cost.ndim}")
    wrts, single = _as_list(wrt)
    out = []
    for w in wrts:
        w = _as_variable(w)
        if w.ndim != 1:
            raise TypeError(f"hessian: wrt must be vectors, got {w!r} of ndim {w.ndim}")
        g = grad(cost, w, consider_constant=consider_constant,
                 disconnected_inputs=disconnected_inputs)
        out.append(jacobian(g, w, consider_constant=consider_constant,
                            disconnected_inputs=disconnected_inputs))
    return out[0] if single else out


# --- gradient-shaping identities ----------------------------------------------------------
def zero_grad(x) -> Variable:
    """``x`` whose gradient is zero (still connected): ``T.grad(zero_grad(x) * y, x) == 0``."""
    from croton.ops.table import OPS, make_output

    return make_output(OPS["zero_grad"], [_as_variable(x)])


def disconnected_grad(x) -> Variable:
    """``x`` through which no gradient flows (treated as a constant by ``grad``)."""
    from croton.ops.table import OPS, make_output

    return make_output(OPS["disconnected_grad"], [_as_variable(x)])


def grad_clip(x, lower_bound: float, upper_bound: float) -> Variable:
    """``x`` whose incoming gradient is clipped elementwise to ``[lower_bound, upper_bound]``.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dscalar('x')
        >>> T.grad(grad_clip(x, -1.0, 1.0) * 5, x).dtype
        'float64'
    """
    from croton.ops.table import OPS, make_output

    lower, upper = float(lower_bound), float(upper_bound)
    if lower > upper:
        raise ValueError(f"grad_clip: lower bound {lower} is above upper bound {upper}")
    return make_output(OPS["grad_clip"], [_as_variable(x)], lower=lower, upper=upper)


# --- checking a gradient against finite differences ---------------------------------------
_DEFAULT_EPS = {"float64": 1e-6, "float32": 1e-3}
_DEFAULT_TOL = {"float64": 1e-4, "float32": 1e-2}


class GradientError(AssertionError):
    """``verify_grad`` found an analytic gradient that disagrees with finite differences."""

    def __init__(self, arg: int, index: tuple, analytic: float, numeric: float,
                 abs_err: float, rel_err: float, abs_tol: float, rel_tol: float) -> None:
        self.arg, self.index = arg, index
        self.analytic, self.numeric = analytic, numeric
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        super().__init__(
            f"verify_grad: the gradient with respect to input {arg} disagrees with central "
            f"finite differences at index {index}: analytic {analytic!r}, numeric {numeric!r} "
            f"(abs error {abs_err:.3g} > abs_tol {abs_tol:.3g} and rel error {rel_err:.3g} > "
            f"rel_tol {rel_tol:.3g})")


def numeric_grad(f, points: Sequence, eps: float | Sequence[float] = 1e-6) -> list:
    """Central differences of the scalar function ``f(*points)`` at ``points`` (float64 sums).

    Each element is moved by ``+-eps`` in its own dtype; the step actually taken (after rounding
    to that dtype) is the divisor, so float32 points lose no accuracy to the rounding.

    Example::

        >>> import numpy as np
        >>> g, = numeric_grad(lambda x: float((x ** 2).sum()), [np.array([1.0, 2.0])])
        >>> np.round(g, 6).tolist()
        [2.0, 4.0]
    """
    import numpy as np

    points = [np.array(p, copy=True) for p in points]
    eps_list = list(eps) if isinstance(eps, list | tuple) else [eps] * len(points)
    grads = []
    for k, p in enumerate(points):
        g = np.zeros(p.shape, dtype="float64")
        for idx in np.ndindex(p.shape):
            orig = p[idx]
            p[idx] = orig + eps_list[k]
            up, step_up = float(f(*points)), float(p[idx])
            p[idx] = orig - eps_list[k]
            down, step_down = float(f(*points)), float(p[idx])
            p[idx] = orig
            g[idx] = (up - down) / (step_up - step_down)
        grads.append(g)
    return grads


def verify_grad(fun, pt: Sequence, n_tests: int = 2, rng=None, eps: float | None = None,
                abs_tol: float | None = None, rel_tol: float | None = None,
                mode: str | None = None) -> None:
    """Check ``grad`` of ``fun`` at ``pt`` against central finite differences (Theano's API).

    ``fun`` takes one symbolic variable per array of ``pt`` and returns one variable. The cost
    ``sum(r * fun(*inputs))`` for a random projection ``r`` is compiled with its gradient;
    ``n_tests`` projections are tried. The numeric cost is summed in float64. Raises
    ``GradientError`` naming the input and index where the gradients differ by more than both
    ``abs_tol`` and ``rel_tol`` (relative error ``|a - n| / (|a| + |n|)``).

    Example::

        >>> import numpy as np
        >>> import croton.tensor as T
        >>> verify_grad(lambda x: T.exp(x), [np.array([0.1, 0.2])], mode='NUMPY')
    """
    import numpy as np

    import croton
    import croton.tensor as T
    from croton.types import FLOAT_DTYPES, TensorType

    if not isinstance(pt, list | tuple):
        raise TypeError("verify_grad: pt must be a list of numpy arrays")
    points = [np.array(p) for p in pt]
    for k, p in enumerate(points):
        if str(p.dtype) not in FLOAT_DTYPES:
            raise TypeError(f"verify_grad works only with float32/float64 inputs; input {k} "
                            f"has dtype {p.dtype}")
    if rng is None:
        rng = np.random.default_rng(0)
    uniform = rng.uniform if hasattr(rng, "uniform") else rng.random_sample
    inputs = [TensorType(str(p.dtype), tuple(s == 1 for s in p.shape))(f"input{k}")
              for k, p in enumerate(points)]
    out = fun(*inputs)
    if isinstance(out, list | tuple):
        raise TypeError("verify_grad: fun must return a single variable, got a list")
    out = _as_variable(out)
    if out.dtype not in FLOAT_DTYPES:
        raise TypeError(f"verify_grad: fun must return a float tensor, got {out.dtype}")
    proj = TensorType("float64", out.broadcastable)("projection")
    cost = T.sum(T.cast(out, "float64") * proj)
    grads = grad(cost, inputs, disconnected_inputs="ignore")
    compiled = croton.function(inputs + [proj], [out] + grads, on_unused_input="ignore",
                               mode=mode)
    dtypes = [str(p.dtype) for p in points]
    widest = "float32" if all(d == "float32" for d in dtypes + [out.dtype]) else "float64"
    eps_list = [eps if eps is not None else _DEFAULT_EPS[d] for d in dtypes]
    abs_tol = _DEFAULT_TOL[widest] if abs_tol is None else abs_tol
    rel_tol = _DEFAULT_TOL[widest] if rel_tol is None else rel_tol
    out_shape = np.shape(croton.function(inputs, out, on_unused_input="ignore",
                                         mode="NUMPY")(*points))
    for _ in range(n_tests):
        r = np.asarray(uniform(size=out_shape), dtype="float64") + 0.5
        analytic = [np.asarray(g, dtype="float64") for g in compiled(*points, r)[1:]]

        def projected(*args, r=r):
            return float(np.sum(np.asarray(compiled(*args, r)[0], dtype="float64") * r))

        numeric = numeric_grad(projected, points, eps_list)
        for k, (a, n) in enumerate(zip(analytic, numeric)):
            if a.shape != n.shape:
                raise GradientError(k, (), float("nan"), float("nan"), float("inf"),
                                    float("inf"), abs_tol, rel_tol)
            abs_err = np.abs(a - n)
            denom = np.abs(a) + np.abs(n)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel_err = np.where(denom > 0, abs_err / denom, 0.0)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol) | ~np.isfinite(abs_err)
            if np.any(bad):
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise GradientError(k, idx, float(a[idx]), float(n[idx]), float(abs_err[idx]),
                                    float(rel_err[idx]), abs_tol, rel_tol)

__all__ = ["grad", "DisconnectedInputError", "NullTypeGradError", "Lop", "Rop", "jacobian",
           "hessian", "zero_grad", "disconnected_grad", "grad_clip", "verify_grad",
           "GradientError", "numeric_grad"]
