"""Tensor functions users call: arithmetic, reductions, ``dot``, dimshuffle. Each builds nodes of
the op table; composite functions (``mean``, ``outer``…) are written in primitives.

Example::

    >>> import croton.tensor as T
    >>> x = T.fvector('x')
    >>> (x * 0.5).dtype, T.mean(x).dtype
    ('float32', 'float32')
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from croton.graph import Variable
from croton.ops.table import OPS, make_output
from croton.tensor.basic import as_tensor_variable, constant
from croton.types import DISCRETE_DTYPES, upcast


def _as_vars(values) -> list[Variable]:
    like = [v for v in values if isinstance(v, Variable)]
    return [as_tensor_variable(v, like=like) for v in values]


def _align(inputs: list[Variable]) -> list[Variable]:
    """Left-pad lower-ndim inputs with broadcastable dims, as NumPy and Theano do."""
    ndim = builtins.max(v.ndim for v in inputs)
    out = []
    for v in inputs:
        if v.ndim < ndim:
            v = dimshuffle(v, ("x",) * (ndim - v.ndim) + tuple(range(v.ndim)))
        out.append(v)
    return out


def _elemwise(name: str, *values) -> Variable:
    return make_output(OPS[name], _align(_as_vars(values)))


def _binary(name: str):
    def fn(a, b) -> Variable:
        return _elemwise(name, a, b)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with broadcasting: ``T.{name}(x, y)``."
    return fn


def _unary(name: str):
    def fn(a) -> Variable:
        return _elemwise(name, a)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}``: ``T.{name}(x)``."
    return fn


sub = _binary("sub")
true_div = _binary("true_div")
int_div = _binary("int_div")
mod = _binary("mod")
pow = _binary("pow")
maximum = _binary("maximum")
minimum = _binary("minimum")
lt = _binary("lt")
gt = _binary("gt")
le = _binary("le")
ge = _binary("ge")
eq = _binary("eq")
neq = _binary("neq")
neg = _unary("neg")
abs = _unary("abs")
sgn = _unary("sgn")
exp = _unary("exp")
log = _unary("log")
sqr = _unary("sqr")
sqrt = _unary("sqrt")
tanh = _unary("tanh")
sigmoid = _unary("sigmoid")
identity = _unary("identity")
abs_ = abs
div = true_div
floor_div = int_div
less, greater, less_equal, greater_equal, equal, not_equal = lt, gt, le, ge, eq, neq
square = sqr


def add(*terms) -> Variable:
    """Elementwise sum of two or more terms: ``T.add(x, y, z)``."""
    out = _elemwise("add", terms[0], terms[1])
    for t in terms[2:]:
        out = _elemwise("add", out, t)
    return out


def mul(*terms) -> Variable:
    """Elementwise product of two or more terms: ``T.mul(x, y, z)``."""
    out = _elemwise("mul", terms[0], terms[1])
    for t in terms[2:]:
        out = _elemwise("mul", out, t)
    return out


def switch(cond, if_true, if_false) -> Variable:
    """``if_true`` where ``cond`` is nonzero, else ``if_false`` (NumPy's ``where``)."""
    return _elemwise("switch", cond, if_true, if_false)


where = switch


def fill(ref, value) -> Variable:
    """``value`` broadcast to the shape of ``ref`` (Theano's ``fill``/``second``)."""
    return _elemwise("fill", ref, value)


second = fill


def cast(x, dtype: str) -> Variable:
    """``x`` converted to ``dtype``: ``T.cast(x, 'float32')``."""
    x = as_tensor_variable(x)
    if x.dtype == dtype:
        return x
    return make_output(OPS["cast"], [x], dtype=str(dtype))


def zeros_like(x, dtype: str | None = None) -> Variable:
    """Zeros with the shape and (by default) the dtype of ``x``."""
    x = as_tensor_variable(x)
    return fill(x, constant(0, dtype=dtype or x.dtype))


def ones_like(x, dtype: str | None = None) -> Variable:
    """Ones with the shape and (by default) the dtype of ``x``."""
    x = as_tensor_variable(x)
    return fill(x, constant(1, dtype=dtype or x.dtype))


# --- reductions -----------------------------------------------------------------------------
def _normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | Variable) or hasattr(axis, "__index__"):
        axis = (axis,)
    out = []
    for a in axis:
        if isinstance(a, Variable):
            raise TypeError("axis must be a Python int or a tuple of ints, not a variable")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor of ndim {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def restore_reduced_axes(reduced: Variable, axis: tuple[int, ...], ndim: int) -> Variable:
    """Put reduced axes back as broadcastable dims: sum over axis 1 of (3, 4) -> (3, 1)."""
    pattern, k = [], 0
    for i in range(ndim):
        if i in axis:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(reduced, tuple(pattern))


def _reduce(name: str, x, axis, keepdims: bool) -> Variable:
    x = as_tensor_variable(x)
    axis = _normalize_axis(axis, x.ndim)
    out = make_output(OPS[name], [x], axis=axis)
    return restore_reduced_axes(out, axis, x.ndim) if keepdims else out


def sum(x, axis=None, keepdims: bool = False, dtype: str | None = None) -> Variable:
    """Sum over ``axis`` (int, tuple or None for all): ``T.sum(x, axis=0)``."""
    out = _reduce("sum", x, axis, keepdims)
    return cast(out, dtype) if dtype else out


def prod(x, axis=None, keepdims: bool = False) -> Variable:
    """Product over ``axis``."""
    return _reduce("prod", x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Variable:
    """Maximum over ``axis`` (NaN propagates, as in NumPy)."""
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Variable:
    """Minimum over ``axis`` (NaN propagates, as in NumPy)."""
    return _reduce("min", x, axis, keepdims)


def shape_i(x, i: int) -> Variable:
    """The length of dimension ``i`` of ``x`` as an int64 scalar."""
    return make_output(OPS["shape_i"], [as_tensor_variable(x)], i=int(i))


def mean(x, axis=None, keepdims: bool = False, dtype: str | None = None) -> Variable:
    """Arithmetic mean over ``axis``; integers average in float64 as in NumPy."""
    x = as_tensor_variable(x)
    axes = _normalize_axis(axis, x.ndim)
    total = sum(x, axis=axes, keepdims=keepdims)
    out_dtype = dtype or ("float64" if x.dtype in DISCRETE_DTYPES else x.dtype)
    total = cast(total, out_dtype)
    count = None
    for a in axes:
        n = shape_i(x, a)
        count = n if count is None else count * n
    if count is None:
        return total
    return true_div(total, cast(count, out_dtype))


# --- shapes and linear algebra ------------------------------------------------------------
def dimshuffle(x, order: Sequence) -> Variable:
    """Permute, drop (broadcastable) or add (``'x'``) dimensions: ``x.dimshuffle(1, 'x', 0)``."""
    x = as_tensor_variable(x)
    order = tuple(d if d == "x" else int(d) for d in order)
    if order == tuple(range(x.ndim)):
        return x
    return make_output(OPS["dimshuffle"], [x], order=order)


def transpose(x, axes: Sequence[int] | None = None) -> Variable:
    """Reverse (or permute by ``axes``) the dimensions of ``x``."""
    x = as_tensor_variable(x)
    return dimshuffle(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def dot(a, b) -> Variable:
    """Matrix/vector product; scalars multiply elementwise, as in Theano."""
    a, b = _as_vars([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    dtype = upcast(a.dtype, b.dtype)
    if dtype == "bool":
        dtype = "int64"
    return make_output(OPS["dot"], [cast(a, dtype), cast(b, dtype)])


def outer(a, b) -> Variable:
    """Outer product of two vectors, as a (n, 1) x (1, m) product."""
    a, b = _as_vars([a, b])
    return dot(dimshuffle(a, (0, "x")), dimshuffle(b, ("x", 0)))


__all__ = [
    "add", "sub", "mul", "true_div", "int_div", "mod", "pow", "maximum", "minimum",
    "lt", "gt", "le", "ge", "eq", "neq", "neg", "abs", "abs_", "sgn", "exp", "log", "sqr",
    "sqrt", "tanh", "sigmoid", "identity", "switch", "where", "fill", "second", "cast",
    "zeros_like", "ones_like", "sum", "prod", "max", "min", "mean", "shape_i", "dimshuffle",
    "transpose", "dot", "outer", "div", "floor_div", "square", "less", "greater",
    "less_equal", "greater_equal", "equal", "not_equal",
]
