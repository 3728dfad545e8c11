"""The CUDA target's indexing, scatter-add, cross-entropy, argmax, cumulative and construction
kernels run end to end (``croton.function(..., device='cuda')``) under the CPU emulation of CUDA
(tests/cuda_emu/harness.py), compared with the
same graph compiled for the CPU and with NumPy: the graph of tests/test_cuda_indexing.py at
float32, float64 and int32, odd sizes, strided inputs, repeated and negative indices; index
errors that name the op and the index and write no shared variable; and a logistic-regression
training step on a device dataset sliced by an index input.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda
from test_cuda_indexing import COLS, ROWS, data, graph, numpy_reference

import croton
import croton.tensor as T


@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    yield from emulate_cuda(tmp_path_factory)


@pytest.fixture(scope="module")
def functions(emulated_device):
    ins, outs = graph()
    return croton.function(ins, outs, device="cuda"), croton.function(ins, outs)


def _compare(got, want, xs):
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape, (k, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=f"output {k}")
    for k, v in numpy_reference(xs).items():
        np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")


def test_indexing_kernels_match_the_cpu_and_numpy(functions):
    dev, cpu = functions
    for seed in (0, 1):
        xs = data(seed)
        _compare(dev(*xs), cpu(*xs), xs)


def test_scatter_add_with_repeated_indices_sums_them_in_order(functions):
    dev, _ = functions
    xs = data(2)
    xs[3] = np.array([4, 4, 4, -3, 4, 0], "int32")
    got = dev(*xs)
    x, z = xs[0], xs[6]
    want = x.copy()
    np.add.at(want, xs[3], z)
    np.testing.assert_array_equal(got[8], want)  # the CPU's order: bit for bit
    last = x.copy()
    last[4], last[0] = z[4], z[5]  # set: the last write wins
    np.testing.assert_array_equal(got[9], last)


def test_strided_inputs(functions):
    dev, cpu = functions
    xs = data(3)
    wide = np.zeros((ROWS, 3 * COLS), "float32")
    wide[:, ::3] = xs[0]
    xs[0] = wide[:, ::3]
    xs[1] = np.asfortranarray(xs[1])
    xs[3] = np.repeat(xs[3], 2)[::2]
    assert not xs[0].flags.c_contiguous and not xs[3].flags.c_contiguous
    _compare(dev(*xs), cpu(*[np.ascontiguousarray(v) if np.ndim(v) else v for v in xs]), xs)


def test_index_out_of_bounds_names_the_op_and_the_index_and_writes_nothing(emulated_device):
    x, i, y = T.fmatrix("x"), T.ivector("i"), T.ivector("y")
    W = croton.shared(np.ones((5, 3), "float32"), "W", device="cuda")
    f = croton.function([x, i, y], [T.nnet.categorical_crossentropy(T.nnet.softmax(x), y)],
                        updates=[(W, T.inc_subtensor(W[i], x[:, :3]))], device="cuda")
    xv = np.ones((2, 4), "float32")
    f(xv, np.array([1, 1], "int32"), np.array([0, 3], "int32"))
    np.testing.assert_array_equal(W.get_value()[1], [3, 3, 3])
    before = W.get_value()
    with pytest.raises(IndexError, match=r"^index -6 is out of bounds for axis 0 of size 5 in "
                                         r"inc_subtensor"):
        f(xv, np.array([0, -6], "int32"), np.array([0, 3], "int32"))
    with pytest.raises(IndexError, match=r"^index 4 is out of bounds for axis 1 of size 4 in "
                                         r"take_along_last"):
        f(xv, np.array([0, 1], "int32"), np.array([4, 0], "int32"))
    np.testing.assert_array_equal(W.get_value(), before)  # a failed call wrote nothing
    g = croton.function([x, i], x[i], device="cuda")
    with pytest.raises(IndexError, match=r"^index 7 is out of bounds for axis 0 of size 2 in "
                                         r"advanced_subtensor"):
        g(xv, np.array([1, 7, -9, 2], "int32"))  # the first bad index, in order


def test_training_step_slices_a_device_dataset_by_an_index_input(emulated_device):
    rng = np.random.default_rng(7)
    n_in, n_out, batch, n = 9, 5, 6, 30
    X = rng.standard_normal((n, n_in)).astype("float32")
    Y = rng.integers(0, n_out, n).astype("int32")

    def step(device):
        kw = {"device": device} if device else {}
        data_x = croton.shared(X, "data_x", **kw)
        data_y = croton.shared(Y, "data_y", **kw)
        W = croton.shared(np.zeros((n_in, n_out), "float32"), "W", **kw)
        b = croton.shared(np.zeros(n_out, "float32"), "b", **kw)
        index, x, y = T.lscalar("index"), T.fmatrix("x"), T.ivector("y")
        p = T.nnet.softmax((x[:, :, None] * W).sum(axis=1) + b)  # dot without BLAS
        # the deeplearning.net tutorial's negative log-likelihood (a gather by two index
        # arrays; its gradient a scatter-add), and the cross-entropy op
        cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
        xent = T.nnet.categorical_crossentropy(p, y).mean()
        errors = T.mean(T.neq(T.argmax(p, axis=1), y))
        gW, gb = T.grad(cost, [W, b])
        gWx = T.grad(xent, W)
        f = croton.function(
            [index], [cost, xent, errors, gWx],
            updates=[(W, W - 0.5 * gW), (b, b - 0.5 * gb)],
            givens={x: data_x[index * batch:(index + 1) * batch],  # Theano's minibatches
                    y: data_y[index * batch:(index + 1) * batch]}, **kw)
        return f, W, b

    dev, Wd, bd = step("cuda")
    cpu, Wc, bc = step(None)
    for _epoch in range(2):
        for k in range(n // batch):
            got, want = dev(k), cpu(k)
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(got[0], got[1], rtol=1e-5)  # the same loss
    np.testing.assert_allclose(Wd.get_value(), Wc.get_value(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bd.get_value(), bc.get_value(), rtol=1e-5, atol=1e-6)
    assert float(dev(0)[0]) < float(np.log(n_out))  # it learned


def test_indexing_inside_scan_gradients_and_run_time_pool_windows(emulated_device):
    """Two users of this area's mechanisms: a scan's gradient through ``hs[-1]`` and
    ``h[:, None]`` (views), and a pooling window given as an input (its pooled shape read from
    device memory by the host)."""
    from croton.tensor.signal import pool

    x, W, h0 = T.fmatrix("x"), T.fmatrix("W"), T.fvector("h0")
    hs, _ = croton.scan(lambda xt, h: T.tanh(xt + (h[:, None] * W).sum(axis=0)), sequences=x,
                        outputs_info=h0)
    outs = [hs[-1], T.grad(hs[-1].sum(), W)]
    rng = np.random.default_rng(5)
    args = [rng.standard_normal((5, 3)).astype("float32"),
            rng.standard_normal((3, 3)).astype("float32"), np.zeros(3, "float32")]
    dev, cpu = (croton.function([x, W, h0], outs, device=d) for d in ("cuda", "cpu"))
    for a, b in zip(dev(*args), cpu(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    xi, ws = T.ftensor4("xi"), T.ivector("ws")
    out = pool.pool_2d(xi, ws=ws, ignore_border=True)
    dev, cpu = (croton.function([xi, ws], out, device=d) for d in ("cuda", "cpu"))
    a = rng.standard_normal((1, 2, 5, 7)).astype("float32")
    for w in ([2, 3], [5, 1]):
        got = dev(a, np.array(w, "int32"))
        assert got.shape == (1, 2, 5 // w[0], 7 // w[1])
        np.testing.assert_array_equal(got, cpu(a, np.array(w, "int32")))


def test_sort_and_argsort_on_the_device_match_numpy_and_the_cpu(emulated_device):
    """runtime/cuda/kernels/sort.cuh: NaNs last; argsort stable (ties in index order, the
    CPU's std::stable_sort order); strided and reversed inputs; both axes; integers."""
    x, i = T.fmatrix("x"), T.ivector("i")
    outs = [T.sort(x), T.sort(x, axis=0), T.argsort(x), T.argsort(x[:, ::-1], axis=0),
            T.sort(i), T.argsort(i), T.sort(x, axis=None)]
    f = croton.function([x, i], outs, device="cuda")
    cpu = croton.function([x, i], outs)
    rng = np.random.default_rng(3)
    xa = rng.integers(-3, 4, (7, 33)).astype("float32")  # many ties
    xa[2, 5] = xa[0, 0] = xa[6, 32] = np.nan
    xa[4, 7] = -np.inf
    ia = rng.integers(-5, 5, 40).astype("int32")
    got, want = f(xa, ia), cpu(xa, ia)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype, k
        np.testing.assert_array_equal(a, b, err_msg=f"output {k}")
    np.testing.assert_array_equal(got[0], np.sort(xa, axis=1))
    np.testing.assert_array_equal(got[1], np.sort(xa, axis=0))
    np.testing.assert_array_equal(got[2], np.argsort(xa, axis=1, kind="stable"))
    np.testing.assert_array_equal(got[3], np.argsort(xa[:, ::-1], axis=0, kind="stable"))
    np.testing.assert_array_equal(got[4], np.sort(ia))
    np.testing.assert_array_equal(got[5], np.argsort(ia, kind="stable"))
    np.testing.assert_array_equal(got[6], np.sort(xa, axis=None))


def test_lapack_ops_on_host_copies_match_the_cpu(emulated_device):
    """runtime/cuda/kernels/lapack.cuh: the CPU's LAPACK kernels on host copies of device
    operands (strided ones too), results back on the device; a singular matrix is the same
    error naming the op, and the call changes no shared variable."""
    a, b = T.dmatrix("a"), T.dmatrix("b")
    spd = a.dot(a.T) + 3 * T.eye(a.shape[0])
    c = T.cholesky(spd)
    outs = [T.det(a), T.matrix_inverse(a.T), T.solve(a, b[:, ::2]), c, T.grad(c.sum(), a)]
    W = croton.shared(np.zeros(3), "W", device="cuda")
    f = croton.function([a, b], outs, updates=[(W, W + 1)], device="cuda")
    cpu = croton.function([a, b], outs)
    rng = np.random.default_rng(5)
    aa, bb = rng.standard_normal((4, 4)), rng.standard_normal((4, 6))
    got, want = f(aa, bb), cpu(aa, bb)
    for k, (x, y) in enumerate(zip(got, want)):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, err_msg=f"output {k}")
    np.testing.assert_allclose(got[0], np.linalg.det(aa), rtol=1e-12)
    np.testing.assert_allclose(got[1], np.linalg.inv(aa.T), rtol=1e-10)
    np.testing.assert_allclose(got[2], np.linalg.solve(aa, bb[:, ::2]), rtol=1e-10)
    np.testing.assert_allclose(got[3], np.linalg.cholesky(aa @ aa.T + 3 * np.eye(4)), rtol=1e-12)
    before = W.get_value()
    with pytest.raises(ValueError, match=r"^matrix_inverse \(built at .*\): cannot invert: "
                                         r"singular matrix"):  # the CPU's words
        f(np.ones((4, 4)), bb)
    np.testing.assert_array_equal(W.get_value(), before)
