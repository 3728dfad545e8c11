"""Convolutions and pooling on the CUDA target (issue 15; runtime/cuda/kernels/conv.cuh and
pool.cuh, codegen/lowering/cuda_conv.py): direct kernels.

Three halves, on the same graphs:
- compile-only: one nvcc module holding a LeNet-style training step in float32 (conv, tanh,
  max-pool and their gradients, device shared parameters updated in place) and every
  convolution/pooling parameter the kernels support in float64 (border modes, explicit and
  asymmetric pads, strides, dilation, groups, flip on and off, conv3d, every pooling mode,
  padding, ignore_border either way, the max-pool gradient's gradient) builds warning-free;
  the run-time comparison on a GPU skips with the reason "no CUDA device" without one;
- under the CPU emulation of CUDA (tests/cuda_emu): the same graphs, at odd sizes and big
  enough that the grid-stride loops run more than once, equal the graph compiled for the CPU
  and the NumPy/SciPy references of the CPU tests (test_conv_abstract.py, test_conv_pool.py,
  test_pool_nd.py), in float32 and float64, non-contiguous inputs included;
- an emulated LeNet training step updates device shared variables as the CPU's does.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda
from test_conv_abstract import CONFIGS_2D, pads_of, ref_conv
from test_conv_abstract import CONFIGS_3D as CONV_3D
from test_conv_pool import POOL_CONFIGS as POOL_2D
from test_conv_pool import op_names, pool_outputs
from test_conv_pool import ref_pool as ref_pool_2d
from test_pool_nd import CONFIGS_3D as POOL_3D
from test_pool_nd import ref_pool as ref_pool_nd

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc
from croton.cuda import device_count, no_device_reason
from croton.tensor.signal.pool import pool_2d, pool_3d

needs_nvcc = pytest.mark.skipif(not find_nvcc(), reason="nvcc not found (CUDA toolkit)")
needs_device = pytest.mark.skipif(device_count() == 0, reason=no_device_reason() or
                                  "no CUDA device")
RNG = np.random.default_rng(15)
# the CPU tests' 2-d configurations, and strides whose input patch is too large for the tiled
# forward kernel (runtime/cuda/kernels/conv.cuh: the direct kernel runs)
CONV_2D = CONFIGS_2D + [("valid", (5, 4), (1, 1), 1, True), ("half", (4, 5), (1, 2), 3, False)]
CONV_3D_USED = CONV_3D[1:3]  # dilation, groups, asymmetric explicit pads, strides in 3-d
POOL_3D_USED = POOL_3D[1:4]
GRAD_GRAD = ((2, 3), (1, 2), (1, 1), True, "max")  # the max-pool gradient's own gradient
# conv1: 36864 outputs in 48 tiled blocks (the emulator runs at most 32 blocks of 256 threads)
LENET = dict(batch=24, image=20, k1=5, c1=6, k2=3, c2=8, classes=10)


# -- the graphs ---------------------------------------------------------------------------------
def _convs(x, filters, configs, conv):
    """``conv`` of x for each config, with the filters of its group count (the CPU tests slice
    one filter array, ``conv_outs``; here each group count has its own input: slicing on the
    device is another area's)."""
    return [conv(x, filters[g], border_mode=b, subsample=s, filter_dilation=d, num_groups=g,
                 filter_flip=f) for b, s, d, g, f in configs]


def ops_graph(dtype):
    """Every supported convolution and pooling, their gradients, and the max-pool gradient's
    gradient: (inputs, outputs, how many forward outputs lead the list)."""
    t4, t5 = (lambda n: T.tensor4(n, dtype=dtype)), (lambda n: T.tensor5(n, dtype=dtype))
    x, w, w3, x5, w5, w52 = t4("x"), t4("w"), t4("w3"), t5("x5"), t5("w5"), t5("w52")
    p, p5, v = t4("p"), t5("p5"), t4("v")
    fwd = (_convs(x, {1: w, 3: w3}, CONV_2D, T.nnet.conv2d)
           + _convs(x5, {1: w5, 2: w52}, CONV_3D_USED, T.nnet.conv3d)
           + pool_outputs(p)
           + [pool_3d(p5, ws, ignore_border=ib, stride=st, pad=pd, mode=m)
              for ws, st, pd, ib, m in POOL_3D_USED])
    cost = sum((T.cos(o) * (k + 1)).sum() for k, o in enumerate(fwd))  # varied upstream grads
    ins = [x, w, w3, x5, w5, w52, p, p5]
    grads = T.grad(cost, ins)
    ws, st, pd, ib, mode = GRAD_GRAD
    y = pool_2d(p, ws, ignore_border=ib, stride=st, pad=pd, mode=mode)
    gp = T.grad((y * v).sum(), p)
    grad_grad = T.grad((gp * gp).sum(), v)
    return ins + [v], fwd + grads + [grad_grad], len(fwd)


def ops_data(dtype, strided=False):
    """Odd sizes; ``strided``: non-contiguous views of larger arrays."""
    def rnd(*shape):
        return RNG.standard_normal(shape).astype(dtype)

    if strided:
        x, w = rnd(3, 6, 18, 9)[:, :, ::2, ::-1], rnd(6, 6, 2, 3).transpose(0, 1, 3, 2)[::-1]
        x5 = rnd(2, 6, 5, 6, 7)[:, :, :, ::-1]
        p = rnd(3, 4, 14, 9)[::-1, :, ::2, 1:]
    else:
        x, w, x5, p = rnd(3, 6, 9, 8), rnd(6, 6, 3, 2), rnd(2, 6, 5, 6, 7), rnd(3, 4, 7, 8)
    w5 = rnd(6, 6, 2, 3, 2)
    p5 = rnd(2, 3, 5, 6, 7)
    ws, st, pd, ib, mode = GRAD_GRAD
    vshape = ref_pool_2d(p, ws, st, pd, ib, mode).shape
    # ties in the max-pool gradient's gradient: values on a coarse grid
    return [x, w, w[:, :2], x5, w5, w5[:, :3], p, p5, np.round(rnd(*vshape) * 2) / 2]


def references(dtype, data):
    """The forward outputs' NumPy/SciPy references (the CPU tests' own)."""
    x, w, w3, x5, w5, w52, p, p5, _ = (a.astype("float64") for a in data)
    refs = []
    for x_, ws_, cfgs in ((x, {1: w, 3: w3}, CONV_2D), (x5, {1: w5, 2: w52}, CONV_3D_USED)):
        for border, sub, dil, g, flip in cfgs:
            wg = ws_[g]
            refs.append(ref_conv(x_, wg, pads_of(border, wg.shape[2:], dil), sub, dil, g, flip))
    refs += [ref_pool_2d(p, *cfg) for cfg in POOL_2D]
    refs += [ref_pool_nd(p5, *cfg) for cfg in POOL_3D_USED]
    return refs


def lenet(params, dtype="float32"):
    """A LeNet training step: conv 5x5, tanh, max-pool 2x2, conv 3x3, tanh, max-pool, a
    classifier as elementwise product and sum (no dot), softmax cross-entropy against one-hot
    targets; SGD updates of the shared ``params``. (inputs, outputs, updates)."""
    W1, b1, W2, b2, Wc = params
    x, t = T.tensor4("images", dtype=dtype), T.matrix("targets", dtype=dtype)
    h1 = pool_2d(T.tanh(T.nnet.conv2d(x, W1) + b1.dimshuffle("x", 0, "x", "x")), (2, 2),
                 ignore_border=True)
    h2 = pool_2d(T.tanh(T.nnet.conv2d(h1, W2, border_mode="half")
                        + b2.dimshuffle("x", 0, "x", "x")), (2, 2), ignore_border=True)
    logits = (h2.dimshuffle(0, "x", 1, 2, 3) * Wc.dimshuffle("x", 0, 1, 2, 3)).sum(axis=(2, 3, 4))
    e = T.exp(logits - logits.max(axis=1, keepdims=True))
    logp = T.log(e / e.sum(axis=1, keepdims=True))
    cost = -(t * logp).sum(axis=1).mean()
    grads = T.grad(cost, list(params))
    updates = [(q, q - np.asarray(0.1, dtype) * g) for q, g in zip(params, grads)]
    return [x, t], [cost, h2] + grads, updates


def lenet_values(dtype="float32"):
    L = LENET
    side = ((L["image"] - L["k1"] + 1) // 2) // 2
    return [(RNG.standard_normal((L["c1"], 1, L["k1"], L["k1"])) * 0.3).astype(dtype),
            (RNG.standard_normal(L["c1"]) * 0.1).astype(dtype),
            (RNG.standard_normal((L["c2"], L["c1"], L["k2"], L["k2"])) * 0.2).astype(dtype),
            (RNG.standard_normal(L["c2"]) * 0.1).astype(dtype),
            (RNG.standard_normal((L["classes"], L["c2"], side, side)) * 0.2).astype(dtype)]


def lenet_data(dtype="float32"):
    L = LENET
    x = RNG.standard_normal((L["batch"], 1, L["image"], L["image"])).astype(dtype)
    t = np.eye(L["classes"], dtype=dtype)[RNG.integers(0, L["classes"], L["batch"])]
    return [x, t]


def shared_params(values, device, tag):
    names = ["W1", "b1", "W2", "b2", "Wc"]
    return [croton.shared(v.copy(), f"{n}_{tag}", **({"device": device} if device else {}))
            for n, v in zip(names, values)]


def assert_close(got, want, dtype, what):
    tol = 2e-4 if dtype == "float32" else 1e-10
    for k, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (what, k, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{what}: output {k}")


def test_graphs_hold_every_kernel_kind():
    _, outs, _ = ops_graph("float64")
    names = op_names(outs)
    assert {"conv2d", "conv2d_grad_input", "conv2d_grad_filters", "conv3d_grad_input",
            "pool_2d", "pool_3d", "pool_2d_max_grad", "pool_2d_avg_grad", "pool_3d_max_grad",
            "pool_3d_avg_grad", "pool_2d_max_grad_grad"} <= names, names


# -- compile-only (nvcc) and the run-time half on a GPU ------------------------------------------
@pytest.fixture(scope="module")
def cuda_fns():
    """The one nvcc module of this file: the float32 LeNet step and the float64 op graph."""
    if not find_nvcc():
        pytest.skip("nvcc not found (CUDA toolkit)")
    params = shared_params(lenet_values(), "cuda", "gpu")
    ins, outs, updates = lenet(params)
    ops_ins, ops_outs, _ = ops_graph("float64")
    f = croton.function(ins + ops_ins, outs + ops_outs, updates=updates, device="cuda")
    return f, params


@needs_nvcc
def test_cuda_conv_pool_module_builds_warning_free(cuda_fns):
    f, _ = cuda_fns
    src = f.source
    for kernel in ("conv_forward<float>", "conv_grad_input<float>", "conv_grad_filters<float>",
                   "pool_forward<float>", "pool_max_grad<float>", "conv_forward<double>",
                   "conv_grad_input<double>", "conv_grad_filters<double>",
                   "pool_forward<double>", "pool_avg_grad<double>", "pool_max_grad<double>"):
        assert f"croton::cuda::{kernel}(" in src, kernel
    assert '#include "kernels/conv.cuh"' in src and '#include "kernels/pool.cuh"' in src
    assert "croton::conv_forward" not in src and "croton::pool_forward" not in src  # CPU's
    log = (f.build.entry_dir / "build.log").read_text()
    assert "nvcc" in log and "warning" not in log.lower(), log


@needs_nvcc
@needs_device
def test_cuda_conv_pool_match_the_cpu_on_a_gpu(cuda_fns):
    f, params = cuda_fns
    values = lenet_values()
    for q, v in zip(params, values):
        q.set_value(v)
    cpu_params = shared_params(values, None, "gpu_ref")
    ins, outs, updates = lenet(cpu_params)
    ops_ins, ops_outs, nfwd = ops_graph("float64")
    cpu = croton.function(ins + ops_ins, outs + ops_outs, updates=updates)
    data = lenet_data() + ops_data("float64")
    got, want = f(*data), cpu(*data)
    nlenet = len(outs)
    assert_close(got[:nlenet], want[:nlenet], "float32", "lenet")
    assert_close(got[nlenet:], want[nlenet:], "float64", "ops")
    assert_close(got[nlenet:nlenet + nfwd], references("float64", data[2:]), "float64", "refs")
    for q, c in zip(params, cpu_params):
        np.testing.assert_allclose(q.get_value(), c.get_value(), rtol=2e-4, atol=2e-5)


# -- under the CPU emulation of CUDA ----------------------------------------------------------
@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    yield from emulate_cuda(tmp_path_factory)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_emulated_conv_pool_and_gradients_match_cpu_and_references(emulated_device, dtype):
    ins, outs, nfwd = ops_graph(dtype)
    f = croton.function(ins, outs, device="cuda")
    cpu = croton.function(ins, outs)
    assert "croton::cuda::conv_grad_filters" in f.source
    for strided in (False, True):
        data = ops_data(dtype, strided)
        got = f(*data)
        assert_close(got, cpu(*data), dtype, f"cpu, strided={strided}")
        assert_close(got[:nfwd], [r.astype(dtype) for r in references(dtype, data)], dtype,
                     f"references, strided={strided}")
    # an empty batch, images smaller than the pooling windows (some pooled outputs empty)
    data = ops_data(dtype)
    data[0], data[6] = data[0][:0], data[6][:2, :3, :2, :1]
    data[8] = np.ones(ref_pool_2d(data[6], *GRAD_GRAD).shape, dtype)
    assert_close(f(*data), cpu(*data), dtype, "empty and tiny")


def test_emulated_filter_gradient_of_a_single_filter_as_the_cpu(emulated_device):
    # one filter of one channel: too few channel pairs to fill a device, so a block per filter
    # element (the other kernel of conv.cuh); the LeNet and op graphs take the per-channel one
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(x, w, border_mode=1, subsample=(2, 1), filter_dilation=(1, 2))
    outs = T.grad((T.sin(y) * 3).sum(), [w, x])
    f, cpu = croton.function([x, w], outs, device="cuda"), croton.function([x, w], outs)
    data = [RNG.standard_normal((7, 1, 11, 10)), RNG.standard_normal((1, 1, 3, 3))]
    assert_close(f(*data), cpu(*data), "float64", "one filter")


def test_emulated_conv_shape_error_names_the_op_and_updates_nothing(emulated_device):
    W = croton.shared(np.ones((4, 3, 3, 3), "float32"), "W_err", device="cuda")
    x = T.ftensor4("x")
    cost = T.nnet.conv2d(x, W, subsample=(2, 2)).sum()
    f = croton.function([x], cost, updates=[(W, W - T.grad(cost, W))], device="cuda")
    with pytest.raises(ValueError, match=r"conv2d.*test_cuda_conv.py:\d+\): input channels"):
        f(np.ones((2, 2, 7, 7), "float32"))  # 2 channels, the filters have 3
    np.testing.assert_array_equal(W.get_value(), 1)
    f(np.ones((2, 3, 7, 7), "float32"))
    np.testing.assert_array_equal(W.get_value(), 1 - 2 * 3 * 3)  # 2 images x 3x3 positions


def test_emulated_max_pool_gradient_goes_to_every_tie_as_the_cpu(emulated_device):
    x = T.dtensor4("x")
    outs = [T.grad(pool_2d(x, (2, 2), ignore_border=True, stride=(1, 1)).sum(), x),
            T.grad((pool_2d(x, (3, 2), ignore_border=False, stride=(2, 2)) ** 2).sum(), x)]
    f, cpu = croton.function([x], outs, device="cuda"), croton.function([x], outs)
    m = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    ties = RNG.integers(0, 3, (2, 3, 7, 9)).astype("float64")  # many tied maxima
    np.testing.assert_array_equal(f(m[None, None])[0][0, 0],
                                  [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # Theano's MaxPoolGrad
    for a, b in zip(f(ties), cpu(ties)):
        np.testing.assert_array_equal(a, b)


def test_emulated_lenet_training_step_updates_device_shared_variables(emulated_device):
    from croton.cuda.array import DeviceArray

    values = lenet_values()
    params = shared_params(values, "cuda", "emu")
    storage = [q.get_value(borrow=True, return_internal_type=True) for q in params]
    assert all(isinstance(s, DeviceArray) for s in storage)
    ins, outs, updates = lenet(params)
    f = croton.function(ins, outs, updates=updates, device="cuda")
    cpu_params = shared_params(values, None, "emu_ref")
    cins, couts, cupdates = lenet(cpu_params)
    cpu = croton.function(cins, couts, updates=cupdates)
    costs = []
    for step in range(2):
        data = lenet_data()
        got = f(*data)
        assert_close(got, cpu(*data), "float32", f"step {step}")
        costs.append(float(got[0]))
        for q, c, s in zip(params, cpu_params, storage):
            assert q.get_value(borrow=True, return_internal_type=True).ptr == s.ptr  # in place
            np.testing.assert_allclose(q.get_value(), c.get_value(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(params[0].get_value(), values[0])  # the filters were trained
