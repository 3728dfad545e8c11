"""Elementwise loops over a partial broadcast (a bias row, a channel vector, a column): with
unit stride along the last axis they run row by row (the vectorized path), otherwise through
the general strided nest. Both paths, every operand layout, against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import croton
import croton.tensor as T

rng = np.random.default_rng(7)


def _check(f, args, want):
    got = f(*args)
    for g, w in zip(got if isinstance(got, list) else [got], want if isinstance(want, list)
                    else [want]):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced", "reversed"])
def test_matrix_plus_row_then_tanh(layout):
    x, b = T.dmatrix("x"), T.dvector("b")
    f = croton.function([x, b], T.tanh(x + b))
    base = rng.standard_normal((13, 17))
    xv = {"contiguous": base, "transposed": rng.standard_normal((17, 13)).T,
          "sliced": base[:, ::2], "reversed": base[::-1]}[layout]
    bv = rng.standard_normal(xv.shape[1])
    _check(f, (xv, bv), np.tanh(xv + bv))
    _check(f, (xv, bv[::-1]), np.tanh(xv + bv[::-1]))  # a strided row: the general nest


def test_column_broadcast_stays_on_the_last_axis():
    x, c = T.fmatrix("x"), T.fcol("c")
    f = croton.function([x, c], T.exp(x) * c - x)
    xv = rng.standard_normal((9, 31)).astype("float32")
    cv = rng.standard_normal((9, 1)).astype("float32")
    _check(f, (xv, cv), np.exp(xv) * cv - xv)


def test_channel_vector_in_four_dimensions_and_two_outputs():
    x, b = T.ftensor4("x"), T.fvector("b")
    bias = b.dimshuffle("x", 0, "x", "x")
    y = T.tanh(x + bias)
    f = croton.function([x, b], [y, y * 2 + x])
    xv = rng.standard_normal((2, 3, 5, 7)).astype("float32")
    bv = rng.standard_normal(3).astype("float32")
    want = np.tanh(xv + bv[None, :, None, None])
    _check(f, (xv, bv), [want, want * 2 + xv])
    xt = np.ascontiguousarray(xv.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # strided rows
    want = np.tanh(xt + bv[None, :, None, None])
    _check(f, (xt, bv), [want, want * 2 + xt])


def test_empty_rows_and_single_column():
    x, b = T.dmatrix("x"), T.dvector("b")
    f = croton.function([x, b], x * b)
    _check(f, (np.zeros((4, 0)), np.zeros(0)), np.zeros((4, 0)))
    xv = rng.standard_normal((6, 1))
    _check(f, (xv, np.array([3.0])), xv * 3.0)
