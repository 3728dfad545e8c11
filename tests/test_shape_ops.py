"""Shape and construction ops, compiled, against NumPy and mode='NUMPY': reshape (symbolic
shapes read from inputs, shape arithmetic and shared variables), concatenate/stack/split,
repeat/tile, arange/alloc/eye/diag, broadcast patterns, specify_shape; build-time and call-time
errors; gradients against central differences. Several checks share one compiled function."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.gradient import numeric_grad

RNG = np.random.default_rng(7)
LINE = r"test_shape_ops\.py:\d+"


def compile_both(inputs, outputs, **kw):
    """The compiled function and its NumPy-mode twin."""
    return croton.function(inputs, outputs, **kw), croton.function(inputs, outputs,
                                                                   mode="NUMPY", **kw)


def run_both(fs, *args):
    """Call both; they must agree exactly in dtype, shape and value. Returns the compiled
    results."""
    f, g = fs
    got, ref = f(*args), g(*args)
    if not isinstance(got, list):
        got, ref = [got], [ref]
    for k, (a, b) in enumerate(zip(got, ref)):
        assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=f"output {k}")
    return got


def same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# --- reshape, flatten -------------------------------------------------------------------------
def test_reshape_symbolic_shapes():
    x = T.dmatrix("x")
    n = T.lscalar("n")
    v = T.lvector("v")
    s = croton.shared(np.int64(3), "s")
    outs = [
        T.reshape(x, (n, -1)),                    # shape from an input scalar
        T.reshape(x.T, (-1,)),                    # non-contiguous input: a copy
        T.reshape(x, (x.shape[0] // 2, -1)),      # shape arithmetic on x.shape[0]
        T.reshape(x, (s, -1)),                    # a shared variable
        x.reshape(v, ndim=2),                     # a symbolic shape vector
        T.flatten(x),
        x.flatten(2),
        x.reshape((1, -1, 1)),
        T.reshape(x, x.shape),                    # x.shape: no value is read
    ]
    assert outs[7].broadcastable == (True, False, True)
    fs = compile_both([x, n, v], outs)
    a = np.arange(12.0).reshape(4, 3)
    got = run_both(fs, a, 6, [2, 6])
    for g, w in zip(got, [a.reshape(6, -1), a.T.reshape(-1), a.reshape(2, -1), a.reshape(3, -1),
                          a.reshape(2, 6), a.reshape(-1), a, a.reshape(1, -1, 1), a]):
        same(g, w)
    b = np.arange(60.0).reshape(6, 10)[::-2, 1::3]  # negative and step strides: the copy path
    got = run_both(fs, b, 3, [9, 1])
    for g, w in zip(got, [b.reshape(3, -1), b.T.reshape(-1), b.reshape(1, -1), b.reshape(3, -1),
                          b.reshape(9, 1), b.reshape(-1), b, b.reshape(1, -1, 1), b]):
        same(g, w)
    s.set_value(np.int64(2))
    e = np.zeros((2, 0))
    got = run_both(fs, e, 3, [0, 7])
    for g, w in zip(got, [e.reshape(3, -1), e.T.reshape(-1), e.reshape(1, -1), e.reshape(2, -1),
                          e.reshape(0, 7), e.reshape(-1), e, np.zeros((1, 0, 1)), e]):
        same(g, w)


def test_reshape_dtypes_and_0d():
    iv = T.ivector("iv")
    sc = T.fscalar("sc")
    bm = T.tensor("bool", (False, False), "bm")
    first = T.split(iv, [1, 3], 2)[0]
    outs = [T.reshape(iv, (2, 2)), T.reshape(first, ()), T.reshape(sc, (1, 1)),
            T.flatten(sc), bm.reshape((-1,)), T.reshape(iv, (-1, 1))]
    assert outs[1].ndim == 0 and outs[2].broadcastable == (True, True)
    assert outs[5].broadcastable == (False, True)
    fs = compile_both([iv, sc, bm], outs)
    a = np.array([5, -1, 2, 7], "int32")
    m = np.array([[True, False], [False, True]])
    got = run_both(fs, a, np.float32(1.5), m.T)
    for g, w in zip(got, [a.reshape(2, 2), a[:1].reshape(()), np.full((1, 1), 1.5, "float32"),
                          np.full((1,), 1.5, "float32"), m.T.reshape(-1), a.reshape(-1, 1)]):
        same(g, w)


def test_reshape_errors():
    x = T.dmatrix("x")
    n = T.lscalar("n")
    acc = croton.shared(np.zeros(3), "acc")
    y = T.reshape(x, (n, -1))
    f = croton.function([x, n], y.sum(), updates=[(acc, acc + 1.0)])
    with pytest.raises(ValueError, match=r"reshape.*" + LINE + r".*\(2, 3\) and \(4, -1\)"):
        f(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="reshape"):
        f(np.ones((2, 3)), -2)
    assert np.array_equal(acc.get_value(), np.zeros(3))  # nothing written
    assert f(np.ones((2, 3)), 3) == 6.0
    with pytest.raises(ValueError, match="one unknown dimension.*" + LINE):
        T.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="ndim.*" + LINE):
        T.reshape(x, T.lvector("v"))
    with pytest.raises(ValueError, match=LINE):
        T.reshape(x, (2, 3), ndim=3)
    with pytest.raises(TypeError, match=LINE):
        T.reshape(x, (T.dscalar("d"), -1))
    with pytest.raises(ValueError, match="one element.*" + LINE):
        T.reshape(T.tensor("float64", (True, True)), (2, 3))
    with pytest.raises(ValueError, match=LINE):
        T.flatten(x, 3)


# --- concatenate, join, stack, split ----------------------------------------------------------
def test_concatenate_stack_values():
    a = T.imatrix("a")
    b = T.fmatrix("b")
    u, w = T.dvectors("u", "w")
    n = T.lscalar("n")
    outs = [T.concatenate([a, b], axis=0), T.concatenate([a, b], axis=-1), T.join(1, a, b, a),
            T.stack([u, w]), T.stack(u, w, axis=1), T.stack([n, a.shape[0], 7]),
            T.concatenate([u]), T.stack([u])]
    assert outs[0].dtype == "float64" and outs[5].dtype == "int64"
    fs = compile_both([a, b, u, w, n], outs)
    av = np.arange(6, dtype="int32").reshape(2, 3)
    bv = RNG.standard_normal((3, 2)).astype("float32").T  # transposed
    uv, wv = np.arange(4.0), np.arange(8.0)[::-2]
    got = run_both(fs, av, bv, uv, wv, 5)
    want = [np.concatenate([av, bv]), np.concatenate([av, bv], -1),
            np.concatenate([av, bv, av], 1), np.stack([uv, wv]), np.stack([uv, wv], 1),
            np.array([5, 2, 7]), uv, uv[None]]
    for g, x in zip(got, want):
        same(g, x)
    av, bv, uv, wv = av[:0, :2], np.zeros((0, 2), "float32"), uv[:0], wv[:0]  # empty
    got = run_both(fs, av, bv, uv, wv, 1)
    want = [np.concatenate([av, bv]), np.concatenate([av, bv], -1),
            np.concatenate([av, bv, av], 1), np.stack([uv, wv]), np.stack([uv, wv], 1),
            np.array([1, 0, 7]), uv, uv[None]]
    for g, x in zip(got, want):
        same(g, x)


def test_concatenate_errors():
    a, b = T.dmatrices("a", "b")
    acc = croton.shared(np.zeros(2), "acc")
    f = croton.function([a, b], T.concatenate([a, b]), updates=[(acc, acc + 1.0)])
    with pytest.raises(ValueError, match=r"join.*" + LINE + r".*\(2, 3\) and \(2, 4\)"):
        f(np.ones((2, 3)), np.ones((2, 4)))
    assert np.array_equal(acc.get_value(), np.zeros(2))
    with pytest.raises(ValueError, match="same ndim.*" + LINE):
        T.concatenate([a, T.dvector("v")])
    with pytest.raises(ValueError, match="axis 2.*" + LINE):
        T.concatenate([a, b], axis=2)
    with pytest.raises(ValueError, match=LINE):
        T.stack([a, b], axis=3)
    with pytest.raises(ValueError, match=LINE):
        T.concatenate([T.dscalar(), T.dscalar()])


def test_split():
    x = T.dmatrix("x")
    n = T.lscalar("n")
    sizes = T.lvector("sizes")
    p0, p1, p2 = T.split(x, [2, n, 1], 3, axis=1)
    q0, q1 = T.split(x, sizes, 2)
    fs = compile_both([x, n, sizes], [p0, p1, p2, q0, q1, p1 * 2])
    a = np.arange(24.0).reshape(4, 6)
    got = run_both(fs, a, 3, [1, 3])
    for g, w in zip(got, [a[:, :2], a[:, 2:5], a[:, 5:], a[:1], a[1:], a[:, 2:5] * 2]):
        same(g, w)
    with pytest.raises(ValueError, match="split.*" + LINE):
        fs[0](a, 2, [1, 3])
    with pytest.raises(ValueError, match="split.*" + LINE):
        fs[0](a, 3, [1, 2, 1])  # three sizes for two pieces
    with pytest.raises(ValueError, match="split.*" + LINE):
        fs[0](a, 3, [5, -1])
    with pytest.raises(ValueError, match="axis.*" + LINE):
        T.split(x, [1, 1], 2, axis=2)
    with pytest.raises(ValueError, match=LINE):
        T.split(x, [1, 1], 3)


# --- repeat, tile -------------------------------------------------------------------------------
def test_repeat_tile():
    x = T.imatrix("x")
    n = T.lscalar("n")
    r = T.lvector("r")
    reps = T.lvector("reps")
    outs = [T.repeat(x, 2, axis=0), x.repeat(n, axis=1), T.repeat(x, [1, 0, 2], axis=1),
            T.repeat(x, r, axis=0), T.repeat(x, 2), T.tile(x, (2, 3)), T.tile(x, (2, 1, 2)),
            T.tile(x, (n, 1)), T.tile(x, reps, ndim=2)]
    fs = compile_both([x, n, r, reps], outs)
    a = np.arange(6, dtype="int32").reshape(2, 3)
    got = run_both(fs, a, 3, [2, 1], [2, 1])
    want = [np.repeat(a, 2, 0), np.repeat(a, 3, 1), np.repeat(a, [1, 0, 2], 1),
            np.repeat(a, [2, 1], 0), np.repeat(a, 2), np.tile(a, (2, 3)), np.tile(a, (2, 1, 2)),
            np.tile(a, (3, 1)), np.tile(a, (2, 1))]
    for g, w in zip(got, want):
        same(g, w)
    b = np.asfortranarray(a * 3)  # column-major input; one count for every element
    got = run_both(fs, b, 0, [3], [1, 2])
    want = [np.repeat(b, 2, 0), np.repeat(b, 0, 1), np.repeat(b, [1, 0, 2], 1),
            np.repeat(b, [3], 0), np.repeat(b, 2), np.tile(b, (2, 3)), np.tile(b, (2, 1, 2)),
            np.tile(b, (0, 1)), np.tile(b, (1, 2))]
    for g, w in zip(got, want):
        same(g, w)
    with pytest.raises(ValueError, match="repeat.*" + LINE):
        fs[0](a, 1, [1, 2, 3], [1, 1])
    with pytest.raises(ValueError, match="repeat.*" + LINE):
        fs[0](a, 1, [1, -1], [1, 1])
    with pytest.raises(ValueError, match="axis.*" + LINE):
        T.repeat(x, 2, axis=-3)


# --- arange, alloc, zeros, ones, eye, diag ----------------------------------------------------
def test_arange():
    n = T.lscalar("n")
    i = T.iscalar("i")
    f = T.dscalar("f")
    x = T.dvector("x")
    s = croton.shared(np.int64(4), "s")
    outs = [T.arange(n), T.arange(1, n, 2), T.arange(n, 0, -3), T.arange(0.5, f, 0.25),
            T.arange(s), T.arange(x.shape[0] * 2), T.arange(5, i), T.arange(i, dtype="float32"),
            T.arange(n) + T.arange(n)]
    assert outs[6].dtype == "int32" and outs[3].dtype == "float64"
    fs = compile_both([n, i, f, x], outs)
    got = run_both(fs, 10, 3, 2.3, np.ones(3))
    want = [np.arange(10), np.arange(1, 10, 2), np.arange(10, 0, -3), np.arange(0.5, 2.3, 0.25),
            np.arange(4), np.arange(6), np.arange(5, 3, dtype="int32"),
            np.arange(3, dtype="float32"), np.arange(10) * 2]
    for g, w in zip(got, want):
        same(g, w)
    step = T.lscalar("step")
    acc = croton.shared(np.zeros(2), "acc")
    grow = croton.shared(np.zeros(1, "int64"), "grow")  # an update whose shape reads values
    g = croton.function([n, step], T.arange(0, n, step),
                        updates=[(acc, acc + 1.0), (grow, T.arange(0, n, step) * 2)])
    same(g(7, 2), np.arange(0, 7, 2))
    same(grow.get_value(), np.arange(0, 7, 2) * 2)
    same(g(7, -1), np.arange(0, 7, -1))
    same(grow.get_value(), np.zeros(0, "int64"))
    with pytest.raises(ValueError, match="arange.*" + LINE + ".*zero"):
        g(7, 0)
    assert np.array_equal(acc.get_value(), np.full(2, 2.0))  # failed call: nothing written
    same(grow.get_value(), np.zeros(0, "int64"))
    with pytest.raises(ValueError, match="zero.*" + LINE):
        T.arange(0, 5, 0)


def test_alloc_zeros_ones_eye_diag():
    v = T.dvector("v")
    x = T.dmatrix("x")
    n = T.lscalar("n")
    d = T.dscalar("d")
    f64 = "float64"
    outs = [T.alloc(v, n, v.shape[0]), T.alloc(np.float64(0.5), 2, 3), T.zeros((n, 2), "int32"),
            T.ones(x.shape, f64), T.zeros((), f64), T.zeros_like(x), T.ones_like(v, dtype="int8"),
            T.fill(x, 3.0), T.eye(n, dtype=f64), T.eye(n, 3, 1, f64), T.eye(3, k=-1, dtype="int32"),
            T.diag(v), T.diag(v, 1), T.diag(x), T.diag(x, -1), T.diag(x, 2), T.alloc(d, n)]
    assert outs[1].broadcastable == (False, False) and outs[4].ndim == 0
    fs = compile_both([v, x, n, d], outs)
    vv = np.array([1.0, -2.0, 3.0])
    xv = np.arange(12.0).reshape(3, 4)
    for xa in (xv, np.arange(24.0).reshape(4, 6)[::-1, ::2].T[::-1]):
        got = run_both(fs, vv, xa, 2, 1.0)
        want = [np.tile(vv, (2, 1)), np.full((2, 3), 0.5), np.zeros((2, 2), "int32"),
                np.ones(xa.shape), np.zeros(()), np.zeros_like(xa), np.ones(3, "int8"),
                np.full(xa.shape, 3.0), np.eye(2), np.eye(2, 3, 1), np.eye(3, k=-1, dtype="int32"),
                np.diag(vv), np.diag(vv, 1), np.diag(xa), np.diag(xa, -1), np.diag(xa, 2),
                np.full(2, 1.0)]
        for g, w in zip(got, want):
            same(g, w)
    acc = croton.shared(np.zeros(2), "acc")
    f = croton.function([v, n], T.alloc(v, n, 4), updates=[(acc, acc + 1.0)])
    with pytest.raises(ValueError, match="alloc.*" + LINE):
        f(vv, 2)
    with pytest.raises(ValueError, match="alloc.*" + LINE + ".*negative"):
        f(np.ones(4), -1)
    assert np.array_equal(acc.get_value(), np.zeros(2))
    with pytest.raises(ValueError, match=LINE):
        T.alloc(x, 3)
    with pytest.raises(ValueError, match=LINE):
        T.diag(T.dtensor3())


# --- broadcast patterns, squeeze, specify_shape, swapaxes, shape --------------------------------
def test_broadcast_patterns_and_specify_shape():
    x = T.dmatrix("x")
    n = T.lscalar("n")
    row = T.drow("row")
    t3 = T.dtensor3("t3")
    acc = croton.shared(np.zeros(2), "acc")
    ab = T.addbroadcast(x, 0)
    assert ab.broadcastable == (True, False)
    assert T.unbroadcast(row, 0).broadcastable == (False, False)
    assert T.patternbroadcast(x, (False, False)) is x
    outs = [ab + 1.0, T.unbroadcast(row, 0), T.squeeze(row), T.squeeze(x, 0), row.squeeze(),
            T.specify_shape(x, (1, n)) * 2, T.specify_shape(row, (None, 3)), T.swapaxes(t3, 0, 2),
            t3.swapaxes(-1, 1), T.shape(n), t3.shape, t3.size, x.shape[-1],
            x.copy(), T.shape_padleft(row), T.shape_padright(row, 2), T.shape_padaxis(row, 1)]
    fs = compile_both([x, n, row, t3], outs, updates=[(acc, acc + 1.0)])
    xv = np.array([[1.0, 2.0, 3.0]])
    rv = np.array([[4.0, 5.0, 6.0]])
    tv = np.arange(24.0).reshape(2, 3, 4)
    f = fs[0]
    got = run_both(fs, xv, 3, rv, tv)
    want = [xv + 1, rv, rv[0], xv[0], rv[0], xv * 2, rv, tv.swapaxes(0, 2), tv.swapaxes(-1, 1),
            np.zeros(0, "int64"), np.array([2, 3, 4]), np.array(24), np.array(3), xv,
            rv[None], rv[:, :, None, None], rv[:, None]]
    for g, w in zip(got, want):
        same(g, w)
    assert np.array_equal(acc.get_value(), np.full(2, 2.0))  # compiled and NumPy mode
    with pytest.raises(ValueError, match=r"rebroadcast.*" + LINE):
        f(np.ones((2, 3)), 3, rv, tv)
    with pytest.raises(ValueError, match=r"specify_shape.*" + LINE + r".*\(1, 3\) and \(1, 4\)"):
        f(xv, 4, rv, tv)
    with pytest.raises(ValueError, match="specify_shape"):
        fs[1](xv, 4, rv, tv)
    assert np.array_equal(acc.get_value(), np.full(2, 2.0))  # failed calls changed nothing
    with pytest.raises(ValueError, match="axis.*" + LINE):
        T.swapaxes(t3, 0, 3)
    with pytest.raises(ValueError, match=LINE):
        T.specify_shape(x, (1, 2, 3))
    with pytest.raises(ValueError, match="axis.*" + LINE):
        T.addbroadcast(x, 2)


# --- gradients ------------------------------------------------------------------------------------
GRADS = {
    "reshape": (lambda x: T.reshape(x.T, (2, -1)), [(3, 4)]),
    "reshape_symbolic": (lambda x: T.reshape(x, (x.shape[0] // 2, -1)), [(4, 3)]),
    "flatten": (lambda x: T.flatten(x.dimshuffle(2, 0, 1), 2), [(2, 3, 2)]),
    "concatenate": (lambda a, b, c: T.concatenate([a, b, c], axis=1), [(2, 3), (2, 1), (2, 2)]),
    "stack": (lambda a, b: T.stack([a, b], axis=1), [(3,), (3,)]),
    "split": (lambda x: T.concatenate([p * (k + 1) for k, p in enumerate(
        T.split(x, [1, 3, 0, 2], 4, axis=1))], axis=1) ** 2, [(2, 6)]),
    "repeat_scalar": (lambda x: T.repeat(x, 3, axis=1), [(2, 3)]),
    "repeat_vector": (lambda x: T.repeat(x, [2, 0, 3], axis=0), [(3, 2)]),
    "tile": (lambda x: T.tile(x, (2, 1, 3)), [(2, 3)]),
    "alloc": (lambda v: T.alloc(v, 4, 3), [(3,)]),
    "diag_vector": (lambda v: T.diag(v, -1), [(3,)]),
    "diag_matrix": (lambda x: T.diag(x, 1), [(3, 4)]),
    "specify_swap_squeeze": (lambda x: T.swapaxes(T.specify_shape(x, (2, None, 1)), 0, 1)
                             .squeeze(), [(2, 3, 1)]),
    "arange": (lambda a, s: T.arange(a.sum(), 5.0, s.sum() + 0.7) ** 2, [(1,), (1,)]),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_grad(name):
    build, shapes = GRADS[name]
    xs = [T.tensor("float64", (False,) * len(s), name=f"x{k}") for k, s in enumerate(shapes)]
    out = build(*xs)
    w = T.tensor("float64", out.broadcastable, name="w")
    cost = (out * w).sum()
    grads = T.grad(cost, xs)
    f = croton.function(xs + [w], [cost] + grads)
    args = [RNG.standard_normal(s) * 0.1 for s in shapes]
    out_shape = croton.function(xs, out, mode="NUMPY")(*args).shape
    weights = RNG.standard_normal(out_shape)
    got = f(*args, weights)[1:]
    want = numeric_grad(lambda *a: f(*a, weights)[0], args)
    ref = croton.function(xs + [w], grads, mode="NUMPY")(*args, weights)
    for g, nm, r in zip(got, want, ref):
        assert g.shape == nm.shape
        np.testing.assert_allclose(g, nm, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


def test_reshape_minus_one_of_a_computed_shape_is_resolved_before_use():
    # Lasagne's _meshgrid: the -1 of reshape((1, -1)) over a tensor whose shape is computed (an
    # alloc of a symbolic size) must be filled in before the reshaped shape is read (it read -1)
    h = T.lscalar("h")
    w = T.dvector("w")
    r = T.dot(T.ones((h, 1)), w.dimshuffle("x", 0)).reshape((1, -1))
    grid = T.concatenate([r, r * 2, T.ones_like(r)], axis=0)
    f = croton.function([h, w], [r.shape, grid.shape, grid])
    rs, gs, g = f(4, np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(rs, [1, 20])
    np.testing.assert_array_equal(gs, [3, 20])
    want = np.tile([1.0, 2.0, 3.0, 4.0, 5.0], 4)
    np.testing.assert_array_equal(g, [want, 2 * want, np.ones(20)])
