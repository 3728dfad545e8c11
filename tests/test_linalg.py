"""Linear algebra against NumPy: ``dot`` for every ndim pair, ``tensordot``, ``batched_dot``,
``matrix_inverse``, ``det``, ``solve``, ``cholesky`` (float32 and float64, non-contiguous
inputs, the NumPy mode), gradients against central differences, and the errors: singular or
non-square matrices and misaligned shapes name the op and the user's line."""

import inspect

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.gradient import numeric_grad as _numeric_grad
from croton.tensor import nlinalg, slinalg

RNG = np.random.default_rng(11)


def _strided(a):
    """A non-contiguous copy of ``a`` (every other element of a reversed, larger array)."""
    if a.ndim == 0:
        return np.asarray(a)
    big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
    view = big[tuple(slice(None, None, -2) for _ in a.shape)]
    view[...] = a
    return view


def _sample(shape, dtype="float64"):
    if dtype.startswith("int"):
        return RNG.integers(-3, 4, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def _close(got, want, dtype):
    want = np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                 got.dtype, want.dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# (a shape, b shape): every ndim pair numpy.dot accepts, with 0-d
DOT_SHAPES = [((), (3,)), ((2, 3), ()), ((4,), (4,)), ((2, 4), (4,)), ((4,), (4, 3)),
              ((2, 4), (4, 3)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)),
              ((5, 4), (2, 4, 3)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (4, 2)),
              ((3, 0), (0, 2)), ((2, 0, 4), (4, 3))]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_dot_every_ndim_pair_on_non_contiguous_inputs(dtype):
    xs, outs, args = [], [], []
    for k, (sa, sb) in enumerate(DOT_SHAPES):
        a = T.tensor(dtype, (False,) * len(sa), name=f"a{k}")
        b = T.tensor(dtype, (False,) * len(sb), name=f"b{k}")
        xs += [a, b]
        outs.append(T.dot(a, b) if k % 2 else a.dot(b))
        args += [_strided(_sample(sa, dtype)), _strided(_sample(sb, dtype))]
    f = croton.function(xs, outs)
    got = f(*args)
    for k, g in enumerate(got):
        _close(g, np.dot(args[2 * k], args[2 * k + 1]), dtype)
    ref = croton.function(xs, outs, mode="NUMPY")(*args)
    for g, r in zip(got, ref):
        _close(g, r, dtype)


def test_tensordot_batched_dot_outer_and_matrix_dot():
    a3, b3 = T.dtensor3("a3"), T.dtensor3("b3")
    m, v = T.dmatrix("m"), T.dvector("v")
    outs = [T.tensordot(a3, b3, axes=0), T.tensordot(a3, b3.dimshuffle(1, 0, 2), axes=1),
            T.tensordot(a3, b3), T.tensordot(a3, b3, axes=[[0, 2], [2, 1]]),
            T.tensordot(a3, m, axes=([-1], [1])), T.tensordot(m, v, axes=[[1], [0]]),
            T.batched_dot(a3, b3.dimshuffle(2, 1, 0)), T.batched_dot(a3, m),
            T.batched_dot(m, b3.dimshuffle(2, 1, 0)), T.batched_dot(m, m),
            T.outer(v, v), T.matrix_dot(m.T, m, v), nlinalg.matrix_dot(v, m.T)]
    f = croton.function([a3, b3, m, v], outs)
    A = _strided(_sample((2, 3, 4)))
    B = _sample((4, 3, 2)).transpose(1, 0, 2)  # (3, 4, 2)
    M = _sample((4, 2)).T  # (2, 4), Fortran order
    V = _sample((4,))[::-1]
    got = f(A, B, M, V)
    Bt = B.transpose(2, 1, 0)
    want = [np.tensordot(A, B, 0), np.tensordot(A, B.transpose(1, 0, 2), 1),
            np.tensordot(A, B, 2), np.tensordot(A, B, [[0, 2], [2, 1]]),
            np.tensordot(A, M, ([-1], [1])), M @ V,
            np.matmul(A, Bt), np.einsum("bmk,bk->bm", A, M),
            np.einsum("bk,bkn->bn", M, Bt), np.einsum("bk,bk->b", M, M),
            np.outer(V, V), M.T @ M @ V, V @ M.T]
    for g, w in zip(got, want):
        _close(g, w, "float64")


def test_batched_dot_of_a_vector_scales_batches():
    v, m = T.dvector("v"), T.dmatrix("m")
    f = croton.function([v, m], [T.batched_dot(v, m), T.batched_dot(m, v)])
    V, M = _sample((3,)), _sample((3, 4))
    got = f(V, M)
    _close(got[0], V[:, None] * M, "float64")
    _close(got[1], M * V[:, None], "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lapack_ops_match_numpy(dtype):
    a, b, v = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype), T.vector("v", dtype=dtype)
    spd = T.dot(a, a.T)
    outs = [T.matrix_inverse(a), nlinalg.det(a), T.solve(a, v), slinalg.solve(a, b),
            T.cholesky(spd), slinalg.cholesky(spd, lower=False), nlinalg.inv(a.T),
            T.solve(a, b, assume_a="gen")]
    f = croton.function([a, b, v], outs)
    A = _strided((RNG.standard_normal((4, 4)) + 3 * np.eye(4)).astype(dtype)).T
    B, V = _strided(_sample((4, 3), dtype)), _sample((4,), dtype)[::-1]
    got = f(A, B, V)
    S = A @ A.T
    want = [np.linalg.inv(A), np.linalg.det(A).astype(dtype), np.linalg.solve(A, V),
            np.linalg.solve(A, B), np.linalg.cholesky(S), np.linalg.cholesky(S).T,
            np.linalg.inv(A.T), np.linalg.solve(A, B)]
    for g, w in zip(got, want):
        _close(g, w, dtype)
    ref = croton.function([a, b, v], outs, mode="NUMPY")(A, B, V)
    for g, r in zip(got, ref):
        _close(g, r, dtype)


def test_integer_matrices_are_converted_and_empty_matrices_work():
    i = T.imatrix("i")
    e = T.dmatrix("e")
    f = croton.function([i, e], [T.det(i), T.matrix_inverse(i), T.det(e),
                                 T.matrix_inverse(e), T.cholesky(e)])
    I = np.array([[2, 1], [1, 3]], dtype="int32")
    got = f(I, np.zeros((0, 0)))
    _close(got[0], np.linalg.det(I.astype("float64")), "float64")
    _close(got[1], np.linalg.inv(I.astype("float64")), "float64")
    assert got[2] == 1.0 and got[3].shape == (0, 0) and got[4].shape == (0, 0)


# --- errors ------------------------------------------------------------------------------------
def test_singular_and_non_square_matrices_raise_naming_the_op_and_line():
    a, v = T.dmatrix("a"), T.dvector("v")
    counter = croton.shared(np.float64(0.0), name="counter")
    line = inspect.currentframe().f_lineno
    inverse = T.matrix_inverse(a)
    solved = T.solve(a, v)
    factor = T.cholesky(a)
    f = croton.function([a, v], [inverse, solved, factor, T.det(a)],
                        updates=[(counter, counter + 1)])
    ok = np.array([[4.0, 1.0], [1.0, 3.0]])
    f(ok, np.ones(2))
    assert counter.get_value() == 1.0
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(ValueError, match=rf"matrix_inverse.*_linalg\.py:{line + 1}\b.*singular"):
        f(singular, np.ones(2))
    g = croton.function([a, v], [solved, factor])
    with pytest.raises(ValueError, match=rf"solve.*test_linalg\.py:{line + 2}\b.*singular"):
        g(singular, np.ones(2))
    h = croton.function([a], factor)
    with pytest.raises(ValueError, match=rf"cholesky.*:{line + 3}\b.*not positive definite"):
        h(-ok)
    with pytest.raises(ValueError, match=rf"matrix_inverse.*:{line + 1}\b.*square"):
        f(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=rf"solve.*:{line + 2}\b"):
        g(ok, np.ones(3))
    assert counter.get_value() == 1.0  # failed calls leave shared state unchanged
    np.testing.assert_allclose(croton.function([a], T.det(a))(singular), 0.0)


def test_dot_shape_mismatch_names_the_op_and_line_at_call_time():
    a3, m, a, b = T.dtensor3("a3"), T.dmatrix("m"), T.dmatrix("a"), T.dmatrix("b")
    line = inspect.currentframe().f_lineno
    nd = T.dot(a3, m)
    mm = T.dot(a, b)
    bd = T.batched_dot(a3, a3)
    f = croton.function([a3, m, a, b], [nd, mm, bd])
    A3 = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match=rf"dot.*test_linalg\.py:{line + 1}\b"):
        f(A3, np.zeros((4, 2)), np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=rf"dot.*test_linalg\.py:{line + 2}\b"):
        f(A3, np.zeros((3, 2)), np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=rf"batched_dot.*test_linalg\.py:{line + 3}\b"):
        f(np.zeros((2, 3, 4)), np.zeros((4, 2)), np.zeros((2, 2)), np.zeros((2, 2)))


def test_bad_arguments_raise_at_build_time_naming_the_line():
    a3, m, v = T.dtensor3("a3"), T.dmatrix("m"), T.dvector("v")
    here = r"test_linalg\.py:\d+"
    with pytest.raises(ValueError, match=here):
        T.tensordot(a3, m, axes=[[0, 3], [0, 1]])
    with pytest.raises(ValueError, match=here):
        T.tensordot(a3, m, axes=[[0, 1], [0]])
    with pytest.raises(ValueError, match=here):
        T.tensordot(v, m, axes=3)
    with pytest.raises(ValueError, match=here):
        T.matrix_inverse(v)
    with pytest.raises(ValueError, match=here):
        T.det(T.tensor("float64", (True, False), name="row"))
    with pytest.raises(TypeError, match=here):
        T.batched_dot(T.dscalar("s"), v)


# --- gradients ---------------------------------------------------------------------------------
def verify_grads(cases):
    """cases: (build(*xs), [input shapes], make_values or None). One compiled function for all:
    cost = sum_k sum(build_k(...) * w_k) and its gradient for every input."""
    xs, outs, args = [], [], []
    for k, (build, shapes, make) in enumerate(cases):
        vars_k = [T.tensor("float64", (False,) * len(s), name=f"x{k}_{j}")
                  for j, s in enumerate(shapes)]
        xs += vars_k
        outs.append(build(*vars_k))
        args += make() if make else [RNG.standard_normal(s) for s in shapes]
    ws = [T.tensor("float64", o.broadcastable, name=f"w{k}") for k, o in enumerate(outs)]
    cost = sum((o * w).sum() for o, w in zip(outs, ws))
    f = croton.function(xs + ws, [cost] + T.grad(cost, xs))
    out_values = croton.function(xs, outs, mode="NUMPY")(*args)
    weights = [RNG.standard_normal(o.shape) for o in out_values]
    got = f(*args, *weights)[1:]
    want = _numeric_grad(lambda *a: f(*a, *weights)[0], args)
    for x, g, n in zip(xs, got, want):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6, err_msg=f"gradient of {x.name}")


def _well_conditioned(n=3):
    return lambda: [RNG.standard_normal((n, n)) + 3 * np.eye(n)]


def test_gradients_of_products():
    verify_grads([
        (T.dot, [(2, 3, 4), (4, 2)], None),
        (T.dot, [(3,), (2, 3, 2)], None),
        (T.dot, [(2, 2, 3), (2, 3, 2)], None),
        (lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]), [(2, 3, 4), (4, 2)], None),
        (lambda a, b: T.tensordot(a, b, 0), [(2,), (3,)], None),
        (T.batched_dot, [(2, 3, 4), (2, 4, 2)], None),
        (T.batched_dot, [(2, 4), (2, 4, 3)], None),
        (T.batched_dot, [(2, 3, 4), (2, 4)], None),
        (T.batched_dot, [(2, 4), (2, 4)], None),
    ])


def test_gradients_of_lapack_ops():
    def spd():
        m = RNG.standard_normal((3, 3))
        return [m @ m.T + 3 * np.eye(3)]

    verify_grads([
        (T.matrix_inverse, [(3, 3)], _well_conditioned()),
        (T.det, [(3, 3)], _well_conditioned()),
        (T.solve, [(3, 3), (3,)], lambda: _well_conditioned()() + [RNG.standard_normal(3)]),
        (T.solve, [(3, 3), (3, 2)], lambda: _well_conditioned()() + [RNG.standard_normal((3, 2))]),
        (T.cholesky, [(3, 3)], spd),
        (lambda a: T.cholesky(a, lower=False), [(3, 3)], spd),
    ])
