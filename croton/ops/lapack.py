"""Dense linear algebra through LAPACK (``runtime/cpu/kernels/lapack.hpp``, kind ``lapack``):
``matrix_inverse``, ``det``, ``solve``, ``cholesky`` and ``cholesky_grad`` (the reverse-mode rule
of ``cholesky``, Murray 2016 as in Theano). float32 and float64; ``croton.tensor.linalg`` converts
integers first. A singular (or, for ``cholesky``, not positive definite) matrix raises
``ValueError`` naming the op and the user's line; so does a non-square matrix.

Example::

    >>> import croton.tensor as T
    >>> T.det(T.dmatrix('a')).type
    TensorType(float64, scalar)
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OPS, OpRecord, make_output, register
from croton.types import FLOAT_DTYPES, TensorType


def _t():
    import croton.tensor as T

    return T


def _need_float_matrix(name: str, t: TensorType) -> None:
    if t.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {t.dtype}")
    if t.ndim != 2:
        raise TypeError(f"{name}: expected a matrix, got {t}")


def _square_rule(name: str, scalar: bool = False):
    def rule(types, params):
        _need_float_matrix(name, types[0])
        for t in types[1:]:
            _need_float_matrix(name, t)
            if t.dtype != types[0].dtype:
                raise TypeError(f"{name}: inputs must share a dtype")
        if scalar:
            return [TensorType(types[0].dtype, ())]
        return [TensorType(types[0].dtype, (False, False))]

    return rule


def _solve_rule(types, params):
    a, b = types
    _need_float_matrix("solve", a)
    if b.dtype != a.dtype:
        raise TypeError(f"solve: inputs must share a dtype, got {a.dtype} and {b.dtype}")
    if b.ndim not in (1, 2):
        raise TypeError(f"solve: b must be a vector or a matrix, got {b}")
    return [TensorType(a.dtype, (False,) * b.ndim)]


def _check_square(name: str, a: np.ndarray) -> None:
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {a.shape}")


def _perform_inverse(values, params):
    (a,) = values
    _check_square("matrix_inverse", a)
    return [np.linalg.inv(a)]


def _perform_det(values, params):
    (a,) = values
    _check_square("det", a)
    return [np.asarray(np.linalg.det(a), dtype=a.dtype)]


def _perform_solve(values, params):
    a, b = values
    _check_square("solve", a)
    return [np.linalg.solve(a, b[:, None])[:, 0] if b.ndim == 1 else np.linalg.solve(a, b)]


def _perform_cholesky(values, params):
    (a,) = values
    _check_square("cholesky", a)
    if params["lower"]:
        return [np.linalg.cholesky(a)]  # reads the lower triangle
    return [np.linalg.cholesky(a.T).T]  # reads the upper triangle


def _perform_cholesky_grad(values, params):
    chol, g = values
    lower = params["lower"]
    low, gl = (chol, g) if lower else (chol.T, g.T)
    phi = np.tril(low.T @ gl)
    phi[np.diag_indices_from(phi)] *= 0.5
    inv = np.linalg.inv(low)
    s = inv.T @ phi @ inv
    grad = np.tril(s + s.T) - np.diag(np.diag(s))
    return [grad if lower else grad.T]


def _vjp_inverse(node, g):
    T = _t()
    x_inv = node.outputs[0]
    return [-T.dot(T.dot(x_inv.T, g[0]), x_inv.T)]


def _vjp_det(node, g):
    (a,) = node.inputs
    return [g[0] * node.outputs[0] * matrix_inverse_node(a).T]


def _vjp_solve(node, g):
    T = _t()
    a, b = node.inputs
    x = node.outputs[0]
    gb = solve_node(a.T, g[0])
    ga = -T.outer(gb, x) if x.ndim == 1 else -T.dot(gb, x.T)
    return [ga, gb]


def _vjp_cholesky(node, g):
    lower = dict(node.params)["lower"]
    return [make_output(OPS["cholesky_grad"], [node.outputs[0], g[0]], lower=lower)]


def matrix_inverse_node(a):
    """The ``matrix_inverse`` node for a float matrix.

    >>> import croton.tensor as T
    >>> matrix_inverse_node(T.dmatrix('a')).ndim
    2
    """
    return make_output(OPS["matrix_inverse"], [a])


def solve_node(a, b):
    """The ``solve`` node for float operands of one dtype.

    >>> import croton.tensor as T
    >>> solve_node(T.dmatrix('a'), T.dvector('b')).ndim
    1
    """
    return make_output(OPS["solve"], [a, b])


def _square_shape(params, ins):
    return [[ins.dim(0, 0), ins.dim(0, 1)]]


register(OpRecord("matrix_inverse", "lapack", _square_rule("matrix_inverse"), _perform_inverse,
                  _vjp_inverse, nin=1, shape=_square_shape,
                  doc="Inverse of a square matrix (LAPACK gesv)."))
register(OpRecord("det", "lapack", _square_rule("det", scalar=True), _perform_det, _vjp_det,
                  nin=1, shape=lambda params, ins: [[]],
                  doc="Determinant of a square matrix (LAPACK getrf)."))
register(OpRecord("solve", "lapack", _solve_rule, _perform_solve, _vjp_solve, nin=2,
                  shape=lambda params, ins: [ins.shape(1)],
                  doc="x with a @ x = b for a square a (LAPACK gesv)."))
register(OpRecord("cholesky", "lapack", _square_rule("cholesky"), _perform_cholesky,
                  _vjp_cholesky, nin=1, shape=_square_shape,
                  doc="Cholesky factor (lower: a = L L^T, reads that triangle; LAPACK potrf)."))
register(OpRecord("cholesky_grad", "lapack", _square_rule("cholesky_grad"),
                  _perform_cholesky_grad, None, nin=2, shape=_square_shape,
                  doc="Reverse-mode rule of cholesky from the factor and its output gradient."))
