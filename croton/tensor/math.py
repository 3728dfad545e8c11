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

from croton.graph import Variable, user_source_line
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

# --- elementwise math: rounding, transcendental and special functions, logic, complex -------
floor = _unary("floor")
ceil = _unary("ceil")
trunc = _unary("trunc")
round_half_to_even = _unary("round_half_to_even")
round_half_away_from_zero = _unary("round_half_away_from_zero")
exp2 = _unary("exp2")
expm1 = _unary("expm1")
log2 = _unary("log2")
log10 = _unary("log10")
log1p = _unary("log1p")
sin = _unary("sin")
cos = _unary("cos")
tan = _unary("tan")
arcsin = _unary("arcsin")
arccos = _unary("arccos")
arctan = _unary("arctan")
sinh = _unary("sinh")
cosh = _unary("cosh")
arcsinh = _unary("arcsinh")
arccosh = _unary("arccosh")
arctanh = _unary("arctanh")
erf = _unary("erf")
erfc = _unary("erfc")
erfinv = _unary("erfinv")
gamma = _unary("gamma")
gammaln = _unary("gammaln")
psi = _unary("psi")
tri_gamma = _unary("tri_gamma")
softplus = _unary("softplus")
arctan2 = _binary("arctan2")
and_ = _binary("and_")
or_ = _binary("or_")
xor = _binary("xor")
invert = _unary("invert")
isnan = _unary("isnan")
isinf = _unary("isinf")
real = _unary("real")
imag = _unary("imag")
conj = _unary("conj")
angle = _unary("angle")
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
conjugate = conj
digamma = psi
lgamma = gammaln

_ROUND_MODES = {"half_away_from_zero": round_half_away_from_zero,
                "half_to_even": round_half_to_even}


def round(a, mode: str | None = None) -> Variable:
    """Round to the nearest integer (float result): ``mode`` 'half_away_from_zero' (Theano's
    default, C's ``round``) or 'half_to_even' (NumPy's ``round``).

    Example::

        >>> import croton.tensor as T
        >>> T.round(T.dvector('x'), mode='half_to_even').owner.op.name
        'round_half_to_even'
    """
    mode = mode or "half_away_from_zero"
    if mode not in _ROUND_MODES:
        raise ValueError(f"round: mode must be one of {sorted(_ROUND_MODES)}, got {mode!r}")
    return _ROUND_MODES[mode](a)


def iround(a, mode: str | None = None) -> Variable:
    """``round(a, mode)`` as int64."""
    return cast(round(a, mode), "int64")


def clip(x, min, max) -> Variable:
    """``x`` limited to ``[min, max]`` elementwise (``numpy.clip``); NaN propagates.

    Example::

        >>> import croton.tensor as T
        >>> T.clip(T.fvector('x'), 0, 1).dtype
        'float32'
    """
    return _elemwise("clip", x, min, max)


def complex(real, imag) -> Variable:
    """The complex tensor ``real + 1j * imag`` (complex64 from float32 parts, else complex128).

    Example::

        >>> import croton.tensor as T
        >>> T.complex(T.fvector('a'), T.fvector('b')).dtype
        'complex64'
    """
    return _elemwise("complex", real, imag)
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
    cond = as_tensor_variable(cond)
    if cond.dtype != "bool":
        cond = neq(cond, 0)  # truth in cond's own dtype: 0.5 is true even for int branches
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
def _normalize_axis(axis, ndim: int, op: str = "reduction") -> tuple[int, ...]:
    """Sorted non-negative axes; a bad axis raises naming ``op`` and the user's line."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | Variable) or hasattr(axis, "__index__"):
        axis = (axis,)
    out = []
    for a in axis:
        if isinstance(a, Variable):
            raise TypeError(f"{op}: axis must be a Python int or a tuple of ints, not a variable "
                            f"(at {user_source_line()})")
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of ndim {ndim} "
                             f"(at {user_source_line()})")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis} (at {user_source_line()})")
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
    axis = _normalize_axis(axis, x.ndim, name)
    out = make_output(OPS[name], [x], axis=axis)
    return restore_reduced_axes(out, axis, x.ndim) if keepdims else out


def sum(x, axis=None, dtype: str | None = None, keepdims: bool = False,
        acc_dtype: str | None = None) -> Variable:
    """Sum over ``axis`` (int, tuple or None for all): ``T.sum(x, axis=0)``.

    Integers accumulate in 64 bits, floats in double. ``dtype`` is the result's dtype (a float
    ``dtype`` converts the input first, as NumPy); ``acc_dtype`` converts the input first.
    """
    x = as_tensor_variable(x)
    if acc_dtype:
        x = cast(x, acc_dtype)
    if dtype and dtype not in DISCRETE_DTYPES:
        x = cast(x, dtype)
    out = _reduce("sum", x, axis, keepdims)
    return cast(out, dtype) if dtype else out


def prod(x, axis=None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None) -> Variable:
    """Product over ``axis``; ``dtype``/``acc_dtype`` as in ``sum``."""
    x = as_tensor_variable(x)
    if acc_dtype:
        x = cast(x, acc_dtype)
    if dtype and dtype not in DISCRETE_DTYPES:
        x = cast(x, dtype)
    out = _reduce("prod", x, axis, keepdims)
    return cast(out, dtype) if dtype else out


def max(x, axis=None, keepdims: bool = False) -> Variable:
    """Maximum over ``axis`` (NaN propagates, as in NumPy)."""
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Variable:
    """Minimum over ``axis`` (NaN propagates, as in NumPy)."""
    return _reduce("min", x, axis, keepdims)


def shape_i(x, i: int) -> Variable:
    """The length of dimension ``i`` of ``x`` as an int64 scalar."""
    return make_output(OPS["shape_i"], [as_tensor_variable(x)], i=int(i))


def mean(x, axis=None, dtype: str | None = None, keepdims: bool = False,
         acc_dtype: str | None = None) -> Variable:
    """Arithmetic mean over ``axis``; integers average in float64 as in NumPy."""
    x = as_tensor_variable(x)
    if acc_dtype:
        x = cast(x, acc_dtype)
    axes = _normalize_axis(axis, x.ndim, "mean")
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
    """NumPy's ``dot`` (as Theano's): matrix/vector products; for N-d operands the sum over a's
    last axis and b's second-to-last (or only) axis; scalars multiply elementwise."""
    a, b = _as_vars([a, b])
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    dtype = upcast(a.dtype, b.dtype)
    if dtype == "bool":
        dtype = "int64"
    a, b = cast(a, dtype), cast(b, dtype)
    if a.ndim <= 2 and b.ndim <= 2:
        return make_output(OPS["dot"], [a, b])
    from croton.ops.linalg import contract

    if b.ndim >= 2:  # bring b's contracted (second-to-last) axis to the front
        b = dimshuffle(b, (b.ndim - 2,) + tuple(range(b.ndim - 2)) + (b.ndim - 1,))
    return contract(a, b, 1)


def inv(x) -> Variable:
    """``1 / x`` elementwise (Theano's ``inv``; integers give floats as in Theano).

    >>> import croton.tensor as T
    >>> inv(T.fvector('x')).dtype, inv(T.ivector('i')).dtype
    ('float32', 'float64')
    """
    x = _as_vars([x])[0]
    from croton.tensor.basic import constant
    from croton.types import upgrade_to_float

    return true_div(constant(1, dtype=upgrade_to_float(x.dtype)), x)


reciprocal = inv


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
    "floor", "ceil", "trunc", "round", "iround", "round_half_to_even",
    "round_half_away_from_zero", "exp2", "expm1", "log2", "log10", "log1p", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "arctan2",
    "erf", "erfc", "erfinv", "gamma", "gammaln", "psi", "tri_gamma", "digamma", "lgamma",
    "softplus", "clip", "and_", "or_", "xor", "invert", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "isnan", "isinf", "real", "imag", "conj", "conjugate",
    "angle", "complex", "inv", "reciprocal",
]
