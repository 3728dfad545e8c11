"""croton.function: inputs, defaults, keywords, updates in place, givens, copy, errors."""

import re

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.function_module import MissingInputError, UnusedInputError


def test_outputs_single_list_and_empty():
    x = T.dvector("x")
    f = croton.function([x], [x + 1, x * 2])
    a, b = f([1.0, 2.0])
    np.testing.assert_array_equal(a, [2, 3])
    np.testing.assert_array_equal(b, [2, 4])
    g = croton.function([x], x + 1)
    assert isinstance(g([1.0]), np.ndarray)
    acc = croton.shared(0.0)
    h = croton.function([], [], updates=[(acc, acc + 1)])
    assert h() == []
    h()
    assert acc.get_value() == 2.0


def test_defaults_and_keywords():
    x, y = T.dscalars("x", "y")
    f = croton.function([x, croton.In(y, value=1.0, name="rate")], x * y)
    assert float(f(3.0)) == 3.0
    assert float(f(3.0, 2.0)) == 6.0
    assert float(f(3.0, rate=4.0)) == 12.0
    assert float(f(x=2.0, rate=5.0)) == 10.0
    with pytest.raises(TypeError, match="unexpected keyword"):
        f(3.0, speed=1.0)
    with pytest.raises(TypeError, match="missing argument 0"):
        f()
    with pytest.raises(TypeError, match="at most 2"):
        f(1.0, 2.0, 3.0)


def test_updates_are_simultaneous_and_in_place():
    a = croton.shared(np.array([1.0, 2.0]), "a")
    b = croton.shared(np.array([10.0, 20.0]), "b")
    storage = a.get_value(borrow=True)
    f = croton.function([], a + b, updates=[(a, b), (b, a)])
    out = f()
    np.testing.assert_array_equal(out, [11, 22])
    np.testing.assert_array_equal(a.get_value(), [10, 20])
    np.testing.assert_array_equal(b.get_value(), [1, 2])
    # written into the same memory, not a new array
    assert a.get_value(borrow=True) is storage
    np.testing.assert_array_equal(storage, [10, 20])


def test_update_that_changes_shape_replaces_the_storage():
    s = croton.shared(np.zeros(3), "s")
    x = T.dvector("x")
    f = croton.function([x], [], updates=[(s, x * 2)])
    f([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(s.get_value(), [2, 4, 6, 8, 10])


def test_shared_get_set_borrow_and_python_scalars():
    s = croton.shared(1.5)
    assert s.dtype == "float64" and s.ndim == 0
    assert croton.shared(3).dtype == "int64"
    v = np.arange(3.0)
    w = croton.shared(v)
    v[0] = 99
    assert w.get_value()[0] == 0  # copied unless borrow=True
    got = w.get_value()
    got[1] = 42
    assert w.get_value()[1] == 1  # get_value copies unless borrow=True
    w.set_value([7, 8, 9])
    assert w.get_value().dtype == np.float64
    with pytest.raises(TypeError):
        w.set_value(np.zeros((2, 2)))


def test_givens_replace_a_variable():
    x = T.dscalar("x")
    state = croton.shared(0.0, "state")
    inc = T.dscalar("inc")
    foo = T.dscalar("foo")
    fn_of_state = state * 2 + inc
    f = croton.function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert float(f(1.0, 3.0)) == 7.0
    assert state.get_value() == 0.0
    g = croton.function([x], x * 3, givens={x: x + 1})
    assert float(g(1.0)) == 6.0


def test_copy_swaps_shared_variables_without_recompiling():
    state = croton.shared(0.0, "state")
    inc = T.dscalar("inc")
    acc = croton.function([inc], state, updates=[(state, state + inc)])
    acc(2.0)
    new_state = croton.shared(100.0, "new_state")
    acc2 = acc.copy(swap={state: new_state})
    acc2(5.0)
    assert state.get_value() == 2.0 and new_state.get_value() == 105.0
    assert acc2.build is acc.build


def test_wrong_dtype_array_names_input_dtypes_and_allow_input_downcast():
    x = T.fvector("x")
    f = croton.function([x], x * 2)
    with pytest.raises(TypeError) as info:
        f(np.ones(3, dtype="float64"))
    msg = str(info.value)
    assert "'x'" in msg and "float64" in msg and "float32" in msg
    assert "allow_input_downcast" in msg and "test_function.py" in msg
    g = croton.function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_array_equal(g(np.ones(3)), [2, 2, 2])
    # safe upcasts are accepted, as Theano did
    d = T.dvector("d")
    h = croton.function([d], d + 1)
    np.testing.assert_array_equal(h(np.arange(3, dtype="int32")), [1, 2, 3])


def test_python_lists_convert_only_when_exact():
    x = T.fvector("x")
    f = croton.function([x], x + 1)
    np.testing.assert_array_equal(f([1.0, 2.5]), [2.0, 3.5])
    with pytest.raises(TypeError, match="exactly"):
        f([0.1])
    i = T.ivector("i")
    g = croton.function([i], i + 1)
    np.testing.assert_array_equal(g([1, 2]), [2, 3])
    with pytest.raises(TypeError):
        g([1.5])


def test_wrong_ndim():
    x = T.dmatrix("x")
    f = croton.function([x], x.sum())
    with pytest.raises(TypeError, match=r"2 dimension\(s\).*got 1"):
        f(np.ones(3))


def test_shape_mismatch_names_op_shapes_and_line_and_changes_nothing():
    x, y = T.dvectors("x", "y")
    W = croton.shared(np.ones(3), "W")
    z = x * y  # this line is named in the error
    line = re.escape(f"test_function.py:{z.owner.source.rsplit(':', 1)[1]}")
    f = croton.function([x, y], z.sum(), updates=[(W, W + z)])
    before = W.get_value()
    with pytest.raises(ValueError) as info:
        f(np.ones(3), np.ones(4))
    msg = str(info.value)
    assert "mul" in msg and "(3,)" in msg and "(4,)" in msg
    assert re.search(line, msg), msg
    np.testing.assert_array_equal(W.get_value(), before)
    f(np.ones(3), np.ones(3))
    np.testing.assert_array_equal(W.get_value(), before + 1)


def test_broadcastable_input_must_have_length_one():
    r = T.drow("r")
    f = croton.function([r], r * 2)
    with pytest.raises(ValueError, match="broadcastable"):
        f(np.ones((2, 3)))


def test_unused_and_missing_inputs():
    x, y = T.dvectors("x", "y")
    with pytest.raises(UnusedInputError):
        croton.function([x, y], x * 2)
    f = croton.function([x, y], x * 2, on_unused_input="ignore")
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])
    with pytest.raises(MissingInputError, match="y"):
        croton.function([x], x * y)
    with pytest.raises(TypeError, match="same type"):
        s = croton.shared(np.zeros(2, dtype="float32"))
        croton.function([x], [], updates=[(s, x)])


def test_modes_agree():
    x = T.dmatrix("x")
    W = croton.shared(np.arange(6.0).reshape(3, 2), "W")
    cost = T.sqr(T.dot(x, W) - 1).mean() + T.tanh(x).sum()
    outs = [cost, T.grad(cost, W)]
    a = np.random.default_rng(1).standard_normal((4, 3))
    results = [croton.function([x], outs, mode=m)(a) for m in ("FAST_RUN", "FAST_COMPILE",
                                                                "NUMPY")]
    for other in results[1:]:
        for got, want in zip(results[0], other):
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_compiled_function_handles_any_shape_without_rebuilding():
    x = T.dmatrix("x")
    f = croton.function([x], T.exp(x).sum(axis=1))
    for shape in [(1, 1), (5, 3), (0, 4), (100, 7)]:
        a = np.random.default_rng(0).standard_normal(shape)
        np.testing.assert_allclose(f(a), np.exp(a).sum(axis=1))


def test_out_wrapper_returns_the_variable():
    x = T.dvector("x")
    f = croton.function([x], croton.Out(x * 2, borrow=True))
    np.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
