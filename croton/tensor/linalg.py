"""Linear algebra: ``tensordot``, ``batched_dot``, ``matrix_dot`` and, through LAPACK,
``matrix_inverse``, ``det``, ``solve``, ``cholesky`` (Theano's ``nlinalg``/``slinalg`` paths
re-export them). Integer operands are converted to float64 (small ones to float32).

Example::

    >>> import croton.tensor as T
    >>> T.tensordot(T.dtensor3('a'), T.dmatrix('b'), axes=[[2], [0]]).ndim
    3
"""

from __future__ import annotations

from croton.graph import Variable, user_source_line
from croton.ops.lapack import matrix_inverse_node, solve_node
from croton.ops.linalg import batched, contract
from croton.ops.table import OPS, make_output
from croton.tensor.basic import as_tensor_variable
from croton.tensor.math import _as_vars, cast, dimshuffle, dot, mul
from croton.types import upcast, upgrade_to_float


def _common(a, b, name: str) -> tuple[Variable, Variable]:
    a, b = _as_vars([a, b])
    dtype = upcast(a.dtype, b.dtype)
    if dtype == "bool":
        dtype = "int64"
    if dtype.startswith("complex"):
        raise TypeError(f"{name}: complex operands are not supported (at {user_source_line()})")
    return cast(a, dtype), cast(b, dtype)


def _axis_list(axes, ndim: int, which: str) -> list[int]:
    axes = [axes] if isinstance(axes, int) else [int(x) for x in axes]
    out = []
    for x in axes:
        if not -ndim <= x < ndim:
            raise ValueError(f"tensordot: axis {x} of {which} is out of range for ndim {ndim} "
                             f"(at {user_source_line()})")
        out.append(x % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"tensordot: repeated axis in {axes} of {which} "
                         f"(at {user_source_line()})")
    return out


def tensordot(a, b, axes=2) -> Variable:
    """Sum products over the given axes, as ``numpy.tensordot``: ``axes`` is an int ``n`` (a's
    last ``n`` axes with b's first ``n``) or a pair ``([a axes], [b axes])``. The result has a's
    remaining axes, then b's.

    >>> import croton.tensor as T
    >>> T.tensordot(T.dtensor3('a'), T.dtensor3('b'), axes=2).ndim
    2
    """
    a, b = _common(a, b, "tensordot")
    if isinstance(axes, int):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: cannot contract {axes} axes of tensors of ndim "
                             f"{a.ndim} and {b.ndim} (at {user_source_line()})")
        return contract(a, b, axes)
    if len(axes) != 2:
        raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r} "
                         f"(at {user_source_line()})")
    ax_a = _axis_list(axes[0], a.ndim, "a")
    ax_b = _axis_list(axes[1], b.ndim, "b")
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: {len(ax_a)} axes of a but {len(ax_b)} of b "
                         f"(at {user_source_line()})")
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    a = dimshuffle(a, tuple(free_a + ax_a))
    b = dimshuffle(b, tuple(ax_b + free_b))
    return contract(a, b, len(ax_a))


def batched_dot(a, b) -> Variable:
    """``out[i] = dot(a[i], b[i])`` over the first (batch) axis, as Theano's ``batched_dot``:
    3-d x 3-d gives a batch of matrix products, 3-d x 2-d a batch of matrix-vector products;
    1-d operands scale the other operand's batches.

    >>> import croton.tensor as T
    >>> T.batched_dot(T.dtensor3('a'), T.dtensor3('b')).ndim
    3
    """
    a, b = _common(a, b, "batched_dot")
    if a.ndim == 0 or b.ndim == 0:
        raise TypeError(f"batched_dot: operands need a batch axis (at {user_source_line()})")
    if a.ndim == 1:
        return mul(dimshuffle(a, (0,) + ("x",) * (b.ndim - 1)), b)
    if b.ndim == 1:
        return mul(a, dimshuffle(b, (0,) + ("x",) * (a.ndim - 1)))
    if a.ndim > 3 or b.ndim > 3:
        raise NotImplementedError(f"batched_dot of {a.ndim}-d and {b.ndim}-d operands "
                                  f"(at {user_source_line()})")
    return batched(a, b)


def matrix_dot(*args) -> Variable:
    """``dot(dot(a, b), c)...``, as Theano's ``nlinalg.matrix_dot``.

    >>> import croton.tensor as T
    >>> T.matrix_dot(T.dmatrix('a'), T.dmatrix('b'), T.dvector('c')).ndim
    1
    """
    out = args[0]
    for x in args[1:]:
        out = dot(out, x)
    return out


def _float_matrix(x, name: str) -> Variable:
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a matrix, got {x.type} (at {user_source_line()})")
    if x.dtype.startswith("complex"):
        raise TypeError(f"{name}: complex matrices are not supported (at {user_source_line()})")
    if x.broadcastable[0] != x.broadcastable[1]:
        raise ValueError(f"{name}: expected a square matrix, got {x.type} "
                         f"(at {user_source_line()})")
    return cast(x, upgrade_to_float(x.dtype))


def matrix_inverse(a) -> Variable:
    """The inverse of a square matrix; a singular matrix raises ``ValueError`` when called.

    >>> import croton.tensor as T
    >>> T.matrix_inverse(T.fmatrix('a')).dtype
    'float32'
    """
    return matrix_inverse_node(_float_matrix(a, "matrix_inverse"))


def det(a) -> Variable:
    """The determinant of a square matrix (a 0-d result).

    >>> import croton.tensor as T
    >>> T.det(T.dmatrix('a')).ndim
    0
    """
    return make_output(OPS["det"], [_float_matrix(a, "det")])


def solve(a, b, assume_a: str = "gen", lower: bool = False,
          check_finite: bool = True) -> Variable:
    """``x`` with ``dot(a, x) == b`` for a square ``a``; ``b`` is a vector or a matrix of
    right-hand sides. ``assume_a`` ('gen', 'sym', 'her', 'pos'), ``lower`` and ``check_finite``
    are accepted for SciPy/Theano compatibility; every case uses the general LU solver (LAPACK
    gesv), which reads the whole of ``a``.

    >>> import croton.tensor as T
    >>> T.solve(T.dmatrix('a'), T.dmatrix('b')).ndim
    2
    """
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise ValueError(f"solve: unknown assume_a {assume_a!r} (at {user_source_line()})")
    a = _float_matrix(a, "solve")
    b = as_tensor_variable(b)
    if b.ndim not in (1, 2):
        raise ValueError(f"solve: b must be a vector or a matrix, got {b.type} "
                         f"(at {user_source_line()})")
    dtype = upcast(a.dtype, upgrade_to_float(b.dtype))
    return solve_node(cast(a, dtype), cast(b, dtype))


def cholesky(a, lower: bool = True) -> Variable:
    """The Cholesky factor of a symmetric positive definite matrix: lower ``L`` with
    ``a = L L^T`` (reading only a's lower triangle), or upper ``U`` with ``a = U^T U`` when
    ``lower=False``. A matrix that is not positive definite raises ``ValueError`` when called.

    >>> import croton.tensor as T
    >>> T.cholesky(T.dmatrix('a')).ndim
    2
    """
    return make_output(OPS["cholesky"], [_float_matrix(a, "cholesky")], lower=bool(lower))


inv = matrix_inverse


__all__ = ["tensordot", "batched_dot", "matrix_dot", "matrix_inverse", "det", "solve",
           "cholesky"]
