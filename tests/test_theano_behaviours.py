"""Behaviours real Theano programs rely on (issue 11, section 3), with the values Theano 1.0.5
gives: plural constructors, truthiness, NumPy arrays on the left of an operator, stacking lists
of shapes, softmax of a vector, non-root function inputs, scan(strict=True), integer gradients,
pickling and copying of graphs, shared variables and compiled functions."""

import copy
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T

ROOT = Path(__file__).resolve().parent.parent


# --- constructors, truthiness, operators -------------------------------------------------------
def test_plural_constructors_split_one_string_into_characters():
    p, t = T.matrices("pt")
    assert (p.name, t.name) == ("p", "t") and p.type == T.matrix().type
    a, b, c = T.dvectors("abc")
    assert [v.name for v in (a, b, c)] == ["a", "b", "c"] and a.dtype == "float64"
    one = T.imatrices("x")  # Theano: a one-character string gives the variable itself
    assert isinstance(one, T.TensorVariable) and one.name == "x" and one.dtype == "int32"
    assert [v.name for v in T.fscalars("u", "v")] == ["u", "v"]
    assert len(T.tensor3s(3)) == 3


def test_variables_are_truthy_and_only_order_comparisons_refuse_bool():
    W = T.dmatrix("W")
    assert bool(W) and bool(W + 1) and bool(T.eq(W, 1)) and not (not W)
    x, y = T.dscalars("x", "y")
    for cmp in (x < y, x <= y, x > y, x >= y):
        with pytest.raises(TypeError, match="truth value"):
            bool(cmp)
    with pytest.raises(TypeError):
        x < y < 3  # noqa: B015  (Python runs this as (x < y) and (y < 3))


def test_numpy_array_on_the_left_defers_to_the_variable():
    v = croton.shared(np.array([1.0, 2.0, 3.0]), "v")
    x = T.dvector("x")
    exprs = [np.zeros((2, 3)) + v, np.full(3, 2.0) * x, np.arange(3.0) - x,
             np.ones(3) / (x + 1), np.ones(3) < x, np.full(3, 2.0) ** x]
    for e in exprs:
        assert isinstance(e, T.TensorVariable), type(e)
    assert exprs[0].type == T.dmatrix().type
    f = croton.function([x], exprs)
    xv = np.array([0.5, 1.5, 2.5])
    got = f(xv)
    want = [np.zeros((2, 3)) + [1.0, 2.0, 3.0], 2.0 * xv, np.arange(3.0) - xv, 1 / (xv + 1),
            np.ones(3) < xv, 2.0 ** xv]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)


def test_relu_of_a_numpy_value_is_a_numpy_value():
    # Theano's relu is the expression 0.5 * (x + abs(x)): Lasagne's tests compute expected
    # values with rectify(ndarray) and compare them with np.allclose
    got = T.nnet.relu(np.array([-1.5, 0.0, 2.0]))
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [0.0, 0.0, 2.0])
    assert isinstance(T.nnet.relu(T.dvector()), T.TensorVariable)


def test_shape_unpacks_and_a_list_of_shapes_stacks():
    a, b = T.tensor4("a"), T.tensor4("b")
    n, c, h, w = a.shape  # Lasagne's `b, c, h, w = x.shape`
    hh, ww = b.shape[2:]  # a constant slice of a shape has a known length too (Lasagne's SPP)
    (odd,) = b.shape[1:-1:2]
    stacked = T.as_tensor_variable([a.shape, b.shape])
    assert stacked.type == T.lmatrix().type
    mixed = T.as_tensor_variable([n, 7, h * w])  # scalars and Python ints: a vector
    assert mixed.type == T.lvector().type
    with pytest.raises(TypeError, match="statically known length"):
        list(T.dvector("v"))
    f = croton.function([a, b], [stacked, mixed, c, hh, ww, odd])
    s, m, cc, hv, wv, ov = f(np.zeros((2, 3, 4, 5)), np.zeros((6, 7, 8, 9)))
    assert (hv, wv, ov) == (8, 9, 7)
    np.testing.assert_array_equal(s, [[2, 3, 4, 5], [6, 7, 8, 9]])
    np.testing.assert_array_equal(m, [2, 7, 20])
    assert cc == 3


def test_softmax_of_a_vector_is_a_row_as_in_theano_1_0_5():
    v = T.dvector("v")
    sm, lsm = T.nnet.softmax(v), T.nnet.log_softmax(v)
    assert sm.type == T.drow().type and lsm.type == T.drow().type
    assert T.nnet.softmax(v, axis=0).ndim == 1  # an explicit axis keeps the vector
    f = croton.function([v], [sm, lsm])
    x = np.array([1.0, 2.0, 3.0])
    s, ls = f(x)
    e = np.exp(x - 3.0)
    np.testing.assert_allclose(s, [e / e.sum()], rtol=1e-15)
    np.testing.assert_allclose(ls, [np.log(e / e.sum())], rtol=1e-14)


def test_constants_of_python_numbers_take_theano_dtypes(monkeypatch):
    """Theano 1.0.5's ``cast_policy='custom'``: ``T.constant(1)`` is int8 (the smallest int
    that holds it), a float float32 when that holds it exactly, and every Python float floatX
    under ``floatX=float32``; NumPy scalars keep their dtype. Lasagne's rmsprop, adadelta and
    adam updates build ``one = T.constant(1)`` and ``(one - rho) * grad ** 2``: under floatX=float32
    that stays float32 (an int64 ``one`` made it float64, and the update was refused)."""
    assert [T.constant(v).dtype for v in (1, -128, 300, 70000, 2**40, True)] == \
        ["int8", "int8", "int16", "int32", "int64", "bool"]
    assert [T.constant(v).dtype for v in (0.5, 0.9, float("inf"), float("nan"))] == \
        ["float32", "float64", "float32", "float64"]
    assert T.constant(np.float64(0.5)).dtype == "float64" and T.constant([1, 2]).dtype == "int64"
    monkeypatch.setattr(croton.config, "floatX", "float32")
    assert T.constant(0.9).dtype == "float32"
    one, rho, grad = T.constant(1), 0.9, T.fvector("grad")
    accu = croton.shared(np.zeros(3, "float32"), "accu")
    accu_new = rho * accu + (one - rho) * grad ** 2
    assert accu_new.dtype == "float32"
    f = croton.function([grad], [], updates=[(accu, accu_new)])
    f(np.array([1.0, 2.0, 3.0], "float32"))
    np.testing.assert_allclose(accu.get_value(), np.float32(0.1) * np.array([1.0, 4.0, 9.0]),
                               rtol=1e-6)


def test_python_ints_next_to_integer_tensors_upcast_as_theano():
    """Theano wraps the number first (int8 for 2, int16 for 300), then upcasts with the tensor:
    an int8 vector times 2 stays int8 (and wraps, as Theano's compiled code), a uint8 vector
    times 2 is int16 (uint8 with int8), a uint32 one int64."""
    i8, u8 = T.bvector("i8"), T.vector("u8", dtype="uint8")
    cases = [(i8 * 2, "int8"), (i8 * 300, "int16"), (i8 * -1, "int8"), (u8 * 2, "int16"),
             (T.vector("u32", dtype="uint32") * 2, "int64"), (T.ivector("i32") + 1, "int32")]
    assert [e.dtype for e, _ in cases] == [d for _, d in cases]
    f = croton.function([i8, u8], [i8 * 2, u8 * 2])
    a, b = f(np.array([100, -3], "int8"), np.array([200, 7], "uint8"))
    assert a.dtype == np.int8 and b.dtype == np.int16
    np.testing.assert_array_equal(a, [-56, -6])  # 200 wraps to -56 in int8
    np.testing.assert_array_equal(b, [400, 14])


def test_set_subtensor_rounds_wider_floats_and_refuses_what_would_wrap():
    """Theano (and NumPy) write any dtype into an array: float64 values into a floatX=float32
    ``T.zeros`` (Lasagne's PadLayer over a float64 shared variable) are rounded to float32.
    croton refuses the writes that would truncate or wrap: floats or wider ints into ints."""
    d = T.dvector("d")
    out = T.set_subtensor(T.zeros((5,), dtype="float32")[1:4], d)
    assert out.dtype == "float32"
    f = croton.function([d], out)
    got = f(np.array([0.1, 1e-50, 3.0]))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array([0.0, 0.1, 1e-50, 3.0, 0.0]).astype("float32"))
    for target, value in ((T.ivector("i"), T.dscalar("s")), (T.bvector("b"), T.iscalar("j"))):
        with pytest.raises(TypeError, match="without loss"):
            T.set_subtensor(target[0], value)


def test_function_input_inside_the_graph_cuts_it_there():
    x = T.dvector("x")
    y = T.exp(x)  # a non-root variable
    z = (y * 2).sum() + y[0]
    f = croton.function([y], z)  # x is not needed: the graph is cut at y
    assert f(np.array([1.0, 2.0])) == 7.0
    assert z.eval({z: np.array(5.0)}) == 5.0  # Lasagne: layer_output.eval({layer_output: v})
    np.testing.assert_allclose((y + 1).eval({y: np.array([1.0])}), [2.0])
    with pytest.raises(croton.function_module.MissingInputError):
        croton.function([y], z + x.sum())  # x is still needed elsewhere


def test_scan_strict_concerns_shared_variables_only():
    free = T.dmatrix("free")  # a free non-shared variable: an implicit non-sequence
    W = croton.shared(np.eye(2) * 2.0, "W")
    seq = T.dmatrix("seq")
    out, _ = croton.scan(lambda s, h: T.dot(h, free) + s, sequences=[seq],
                         outputs_info=[T.zeros((2,))], strict=True)
    f = croton.function([seq, free], out[-1])
    np.testing.assert_allclose(f(np.ones((3, 2)), np.eye(2)), [3.0, 3.0])
    with pytest.raises(ValueError, match="strict=True.*shared variable W"):
        croton.scan(lambda s: T.dot(s, W), sequences=[seq], strict=True)
    out2, _ = croton.scan(lambda s, w: T.dot(s, w), sequences=[seq], non_sequences=[W],
                          strict=True)
    np.testing.assert_allclose(croton.function([seq], out2)(np.ones((2, 2))), 2 * np.ones((2, 2)))


def test_grad_with_respect_to_integers_is_floatx_zeros():
    A, B = croton.shared(1), croton.shared(1)  # int64 shared values (Lasagne's test_updates)
    gA, gB = croton.grad(A + B, [A, B])
    assert gA.dtype == croton.config.floatX
    i = T.ivector("i")
    w = T.dvector("w")
    gi, gw = T.grad((i * w).sum(), [i, w])
    assert gi.type == T.vector(dtype=croton.config.floatX).type
    f = croton.function([i, w], [gA, gB, gi, gw])
    ga, gb, g_i, g_w = f(np.array([1, 2, 3], "int32"), np.array([0.5, 1.0, 2.0]))
    assert ga == 0.0 and gb == 0.0
    np.testing.assert_array_equal(g_i, np.zeros(3))
    np.testing.assert_array_equal(g_w, [1.0, 2.0, 3.0])


# --- pickling and copying ----------------------------------------------------------------------
def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_graphs_shared_variables_and_functions_pickle_into_a_new_process(tmp_path):
    x = T.dvector("x")
    w = croton.shared(np.array([1.0, 2.0]), "w")
    h, _ = croton.scan(lambda a, acc: acc + a * w, sequences=[x], outputs_info=[T.zeros((2,))])
    cost = h[-1].sum() + T.nnet.sigmoid(x).sum()
    f = croton.function([x], cost, updates=[(w, w * 2)])
    assert f(np.array([1.0, 3.0])) == pytest.approx(12.0 + 1 / (1 + np.exp(-1))
                                                    + 1 / (1 + np.exp(-3)), rel=1e-15)
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps({"cost": cost, "x": x, "w": w, "f": f}))
    out = _run(f"""
        import pickle, numpy as np, croton
        d = pickle.loads(open({str(path)!r}, 'rb').read())
        x, w, f = d['x'], d['w'], d['f']
        assert d['cost'].owner.inputs[0].owner is not None
        print(w.get_value().tolist())
        print(repr(float(f(np.array([1.0, 3.0])))), w.get_value().tolist())
        g = croton.function([x], d['cost'])
        print(repr(float(g(np.array([1.0, 3.0])))))
        print(f.graph.updates[0][0] is w)
    """).split("\n")
    sig = 1 / (1 + np.exp(-1.0)) + 1 / (1 + np.exp(-3.0))
    assert out[0] == "[2.0, 4.0]"  # the value when pickled (after one update)
    assert float(out[1].split()[0]) == pytest.approx(24.0 + sig, rel=1e-15)
    assert out[1].split(" ", 1)[1] == "[4.0, 8.0]"  # the loaded function updates its state
    assert float(out[2]) == pytest.approx(48.0 + sig, rel=1e-15)
    assert out[3] == "True"


def test_copy_shares_and_deepcopy_owns_the_shared_values():
    x = T.dscalar("x")
    acc = croton.shared(np.array(0.0), "acc")
    f = croton.function([x], acc + x, updates=[(acc, acc + x)])
    shallow = copy.copy(f)
    deep = copy.deepcopy(f)
    assert f(1.0) == 1.0 and shallow(2.0) == 3.0  # the copy updates the same acc
    assert acc.get_value() == 3.0
    assert deep(5.0) == 5.0 and deep(1.0) == 6.0  # its own acc, starting from the value at copy
    assert acc.get_value() == 3.0
    again = pickle.loads(pickle.dumps(deep))
    assert again(1.0) == 7.0 and deep(0.0) == 6.0
