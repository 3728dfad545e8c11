"""Theano 1.0.5's GPU API (``theano.gpuarray``) on croton's CUDA target (croton/gpuarray,
docs/compatibility.md): ``device=cpu`` changes nothing; ``device=cuda`` without a device logs
Theano's error and runs on the CPU (``force_device=True``: an error); with a device (the
emulated CUDA runtime of tests/cuda_emu/harness.py) the context, the types, the transfers,
``gpu_contiguous``, the GPU shared constructor and ``dnn_conv``/``dnn_pool`` behave as Theano
documents, and a Theano-style GPU program written against ``theano.gpuarray`` runs end to end
on the "device" with the CPU's results."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda

import croton
import croton.tensor as T
from croton import gpuarray, theano_alias
from croton.config import config
from croton.cuda import runtime
from croton.gpuarray import dnn
from croton.gpuarray.basic_ops import (
    GpuFromHost,
    as_gpuarray_variable,
    gpu_contiguous,
    host_from_gpu,
    infer_context_name,
)
from croton.gpuarray.blas import GpuCorrMM
from croton.gpuarray.type import (
    ContextNotDefined,
    GpuArrayConstant,
    GpuArraySharedVariable,
    GpuArrayType,
    GpuArrayVariable,
    gpuarray_shared_constructor,
)
from croton.types import TensorType

ROOT = Path(__file__).resolve().parent.parent


# -- device=cpu: nothing changes ---------------------------------------------------------------
def test_device_cpu_has_no_gpu_and_changes_nothing():
    assert config.device == "cpu"
    assert gpuarray.pygpu_activated is False and gpuarray.pygpu is None
    assert dnn.dnn_present() is False and "PyGPU not available" in dnn.dnn_present.msg
    assert dnn.dnn_available(None) is False
    assert dnn.version(raises=False) == -1
    with pytest.raises(RuntimeError, match="cudnn version as it is not available"):
        dnn.version()
    with pytest.raises(ContextNotDefined, match="^context name None not defined$"):
        GpuArrayType("float32", (False,))
    x = T.fmatrix("x")
    with pytest.raises(ContextNotDefined):
        as_gpuarray_variable(x, None)
    with pytest.raises(ValueError, match="Could not infer context from inputs"):
        dnn.dnn_conv(T.ftensor4("img"), T.ftensor4("k"))
    with pytest.raises(TypeError, match="No default context and no context specified"):
        gpuarray_shared_constructor(np.ones(3, "float32"))
    assert x.transfer("cpu") is x
    with pytest.raises(ValueError, match="Can't transfer to target None"):
        x.transfer(None)
    W = croton.shared(np.ones(3, "float32"))  # Theano's shared(): on the host
    assert W.device == "cpu" and not isinstance(W, GpuArraySharedVariable)


# -- device=cuda without a device: Theano's logged error, then the CPU --------------------------
PROGRAM = """
import numpy as np, theano, theano.tensor as T
x = theano.shared(np.arange(3, dtype='float32'), 'x')
f = theano.function([], T.exp(x) * 2)
print(theano.gpuarray.pygpu_activated, theano.config.device, x.device, f().tolist())
"""


def _theano(code: str, flags: str) -> subprocess.CompletedProcess:
    env = theano_alias.run_environ({k: v for k, v in os.environ.items()
                                    if k not in ("CROTON_FLAGS", "THEANO_FLAGS")})
    env["PYTHONPATH"] += os.pathsep + str(ROOT)
    env["THEANO_FLAGS"] = flags
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(runtime.device_count() > 0, reason="a CUDA device is present: this checks "
                    "the behaviour without one")
def test_device_cuda_without_a_device_logs_theanos_error_and_runs_on_the_cpu():
    out = _theano(PROGRAM, "device=cuda,floatX=float32")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "cpu", "cpu", "[2.0,", "5.436563491821289,",
                                  "14.778112411499023]"]
    # then CUDA's reason (here cudaGetDeviceCount's error; elsewhere a missing libcudart)
    assert "Could not initialize pygpu, support disabled: device=cuda: no CUDA device: " \
        in out.stderr
    assert "Running on the CPU" in out.stderr
    # in this process: use() raises CUDA's reason and changes nothing
    with pytest.raises(runtime.CudaUnavailableError, match="^no CUDA device: .*device=cuda "):
        gpuarray.use("cuda")
    assert (gpuarray.pygpu_activated, config.device, list(gpuarray.list_contexts())) == (
        False, "cpu", [])
    forced = _theano("import theano", "device=cuda0,force_device=True")
    assert forced.returncode == 1
    assert "CudaUnavailableError: no CUDA device: " in forced.stderr
    assert "device=cuda0 needs a CUDA device" in forced.stderr


def test_old_gpu_back_end_raises_theanos_message():
    out = _theano("""
        for name in ('theano.sandbox.cuda', 'theano.sandbox.cuda.dnn', 'theano.sandbox.gpuarray'):
            try:
                __import__(name)
            except ImportError as exc:
                print(name, '|', exc)
        """, "device=cpu")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    assert all("old GPU back-end and is removed from Theano" in line for line in lines[:2])
    assert "Theano 1.0.5 has no such GPU module" in lines[2]


# -- with a device (the emulated CUDA runtime) ------------------------------------------------
@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    yield from emulate_cuda(tmp_path_factory)


@pytest.fixture
def gpu(emulated_device):
    """``theano.gpuarray.use('cuda')`` on the emulated device; back to device=cpu after."""
    assert runtime.device_count() == 1
    gpuarray.use("cuda")
    try:
        yield emulated_device
    finally:
        gpuarray._deactivate()


def test_use_initialises_the_default_context(capsys, gpu):
    assert gpuarray.pygpu_activated is True and config.device == "cuda"
    ctx = gpuarray.get_context(None)
    assert ctx.kind == b"cuda" and ctx.dev == "cuda" and ctx.bin_id.startswith("sm_")
    assert list(gpuarray.list_contexts()) == [None]
    assert "Mapped name None to device cuda" in capsys.readouterr().err
    gpuarray.use("cuda0")  # again (another spelling of device 0): the same context
    assert list(gpuarray.list_contexts()) == [None] and gpuarray.get_context(None) is ctx
    gpuarray._deactivate()
    config.print_active_device = False  # Theano's flag: initialise quietly
    try:
        gpuarray.use("cuda0")
    finally:
        config.print_active_device = True
    assert capsys.readouterr().err == "" and config.device == "cuda0"
    with pytest.raises(runtime.CudaUnavailableError, match="no CUDA device 1: this process "
                                                           "sees 1 "):
        gpuarray.init_dev("cuda1")  # one emulated device (test_cuda_devices.py: two)
    with pytest.raises(ValueError, match="not a CUDA device name: 'cudax'"):
        gpuarray.init_dev("cudax")
    with pytest.raises(Exception, match="forced the init and bad device provided: cpu"):
        gpuarray.use("cpu", force=True)
    # dnn: present, since the CUDA target has its own conv and pool kernels (not cuDNN's)
    assert dnn._missing_kinds() == []
    assert dnn.dnn_present() is True and dnn.dnn_available(None) is True
    assert dnn.dnn_present.msg is None and dnn.version() == -1


def test_gpuarray_type_as_theano_documents_it(gpu):
    t = GpuArrayType("float32", (False, True))
    assert (t.dtype, t.broadcastable, t.ndim, t.context_name) == ("float32", (False, True), 2,
                                                                   None)
    assert t.context is gpuarray.get_context(None)
    assert str(t) == "GpuArrayType<None>(float32, col)"
    assert str(GpuArrayType("int8", (False,) * 3)) == "GpuArrayType<None>(int8, 3D)"
    # croton keeps devices out of graph types: equal to the TensorType of the same pattern
    assert t == TensorType("float32", (False, True)) == t
    assert hash(t) == hash(TensorType("float32", (False, True)))
    assert t != GpuArrayType("float64", (False, True))
    assert t.clone(broadcastable=(False, False)).broadcastable == (False, False)
    assert pickle.loads(pickle.dumps(t)) == t
    with pytest.raises(TypeError, match="Unsupported dtype for GpuArrayType: complex64"):
        GpuArrayType("complex64", (False,))
    with pytest.raises(ContextNotDefined, match="context name dev1 not defined"):
        GpuArrayType("float32", (False,), context_name="dev1")
    v = t("v")
    assert isinstance(v, GpuArrayVariable) and v.type is t and v.ndim == 2
    assert not isinstance(T.fmatrix(), GpuArrayVariable)


def test_transfers_and_gpu_contiguous(gpu):
    x = T.fmatrix("x")
    g = GpuFromHost(None)(x)
    assert isinstance(g, GpuArrayVariable) and g.type == x.type and g.owner.inputs == [x]
    h = host_from_gpu(g)
    assert type(h.type) is TensorType and h.owner.inputs == [g]
    assert as_gpuarray_variable(h, None) is g  # sees through the transfer back
    assert as_gpuarray_variable(g, None) is g
    assert as_gpuarray_variable(x, None).owner.inputs == [x]
    with pytest.raises(TypeError):
        host_from_gpu(x)
    with pytest.raises(TypeError):
        GpuFromHost(None)(g)
    with pytest.raises(TypeError, match="complex not supported"):
        GpuFromHost(None)(T.zvector())
    c = as_gpuarray_variable(np.ones((1, 3), "float32"), None)
    assert isinstance(c, GpuArrayConstant) and c.broadcastable == (True, False)
    # x.transfer: 'cpu', or a context name (None: the default one)
    assert isinstance(x.transfer(None), GpuArrayVariable)
    assert type(x.transfer(None).transfer("cpu").type) is TensorType
    assert x.transfer("cpu") is x
    with pytest.raises(ValueError, match="Can't transfer to target gpu"):
        x.transfer("gpu")
    gc = gpu_contiguous(x)
    assert isinstance(gc, GpuArrayVariable) and gc.owner.inputs[0].owner.inputs == [x]
    assert infer_context_name(T.exp(h)) is None
    # the transfers are views: values pass through unchanged (CPU-compiled here)
    f = croton.function([x], [T.exp(h), host_from_gpu(gc) * 2], device="cpu")
    a = np.arange(6, dtype="float32").reshape(2, 3)
    got = f(a)
    np.testing.assert_allclose(got[0], np.exp(a), rtol=1e-6)
    np.testing.assert_array_equal(got[1], a * 2)


def test_gpu_shared_variables(gpu):
    from croton.cuda.array import DeviceArray

    W = gpuarray_shared_constructor(np.ones((2, 3), "float32"), "W")
    assert isinstance(W, GpuArraySharedVariable) and isinstance(W.type, GpuArrayType)
    assert isinstance(W.get_value(borrow=True, return_internal_type=True), DeviceArray)
    assert W.get_value().tolist() == [[1.0] * 3] * 2
    assert isinstance(gpuarray_shared_constructor(np.zeros(2, "int32")), GpuArraySharedVariable)
    with pytest.raises(TypeError, match="not for me"):
        gpuarray_shared_constructor(np.ones(2, "float32"), target="cpu")
    with pytest.raises(TypeError, match="ndarray or GpuArray required"):
        gpuarray_shared_constructor([1.0, 2.0])
    with pytest.raises(TypeError, match="We do not move that data by default"):
        gpuarray_shared_constructor(np.array(1.0, "float32"))
    with pytest.raises(ContextNotDefined):
        gpuarray_shared_constructor(np.ones(2, "float32"), target="dev1")
    # theano.shared under device=cuda: float32 values on the device, others on the host
    V = croton.shared(np.ones(3, "float32"))
    assert isinstance(V, GpuArraySharedVariable) and isinstance(V.type, GpuArrayType)
    assert croton.shared(np.ones(3, "int32")).device == "cpu"


def _naive_corr(img, k, pad, stride):
    img = np.pad(img, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    n, _, h, w = img.shape
    o, _, kh, kw = k.shape
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, o, oh, ow), "float64")
    for i in range(oh):
        for j in range(ow):
            patch = img[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = np.einsum("ncij,ocij->no", patch, k)
    return out


def test_dnn_conv_and_pool_build_crotons_ops_with_theanos_arguments(gpu):
    img, k = T.ftensor4("img"), T.ftensor4("k")
    cross = dnn.dnn_conv(img, k, border_mode=(1, 0), subsample=(2, 1), conv_mode="cross")
    conv = dnn.dnn_conv(img, k, border_mode="valid")
    pool_inc = dnn.dnn_pool(img, (2, 2), mode="average_inc_pad", pad=(1, 1))  # stride 1
    pool_sum = dnn.dnn_pool(img, (2, 3), stride=(2, 3), mode="sum")
    pool_max = dnn.dnn_pool(img, (2, 2), stride=(2, 2), mode="max_deterministic")
    corr = GpuCorrMM(border_mode=(1, 0), subsample=(2, 1))(img, k)
    h, g2, b2 = T.fmatrix("h"), T.frow("g2"), T.frow("b2")
    rm, rv = T.frow("rm"), T.frow("rv")
    bn_act = dnn.dnn_batch_normalization_train(h, g2, b2, epsilon=1e-3, running_mean=rm,
                                               running_var=rv, running_average_factor=0.25)
    g4 = T.TensorType("float32", (True, False, True, True))("g4")
    bn_sp = dnn.dnn_batch_normalization_train(img, g4, g4 * 0 + 0.5, mode="spatial")
    bn_test = dnn.dnn_batch_normalization_test(h, g2, b2, rm, rv, epsilon=1e-3)
    outs = [cross, conv, pool_inc, pool_sum, pool_max, corr, *bn_act, *bn_sp, bn_test]
    assert all(isinstance(o, GpuArrayVariable) for o in outs)
    with pytest.raises(ValueError, match="epsilon must be at least 1e-5"):
        dnn.dnn_batch_normalization_test(h, g2, b2, rm, rv, epsilon=1e-6)
    with pytest.raises(ValueError, match="running_mean and running_var must either both"):
        dnn.dnn_batch_normalization_train(h, g2, b2, running_mean=rm)
    with pytest.raises(ValueError, match="conv_mode must be 'conv' or 'cross'"):
        dnn.dnn_conv(img, k, conv_mode="full")
    with pytest.raises(ValueError, match="You can't use both algo and workmem"):
        dnn.dnn_conv(img, k, workmem="small", algo="small")
    f = croton.function([img, k, h, g2, b2, rm, rv, g4], [host_from_gpu(o) for o in outs],
                        device="cpu")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 6, 6)).astype("float32")
    w = rng.standard_normal((4, 3, 3, 2)).astype("float32")
    hv = rng.standard_normal((8, 5)).astype("float32")
    gv, bv, rmv = (rng.standard_normal((1, 5)).astype("float32") for _ in range(3))
    rvv = rng.random((1, 5)).astype("float32") + 0.5
    g4v = rng.standard_normal((1, 3, 1, 1)).astype("float32")
    got = f(a, w, hv, gv, bv, rmv, rvv, g4v)
    np.testing.assert_allclose(got[0], _naive_corr(a, w, (1, 0), (2, 1)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], _naive_corr(a, w[:, :, ::-1, ::-1], (0, 0), (1, 1)),
                               rtol=1e-4, atol=1e-4)
    p = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
    inc = (p[:, :, :-1, :-1] + p[:, :, 1:, :-1] + p[:, :, :-1, 1:] + p[:, :, 1:, 1:]) / 4
    np.testing.assert_allclose(got[2], inc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[3], a.reshape(2, 3, 3, 2, 2, 3).sum(axis=(3, 5)), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(got[4], a.reshape(2, 3, 3, 2, 3, 2).max(axis=(3, 5)))
    np.testing.assert_allclose(got[5], got[0], rtol=1e-6)  # GpuCorrMM: the correlation
    mean, var = hv.mean(0, keepdims=True), hv.var(0, keepdims=True)
    want = [(hv - mean) * gv / np.sqrt(var + 1e-3) + bv, mean, 1 / np.sqrt(var + 1e-3),
            rmv * 0.75 + mean * 0.25, rvv * 0.75 + var * 8 / 7 * 0.25]
    for k_, (g_, w_) in enumerate(zip(got[6:11], want)):
        np.testing.assert_allclose(g_, w_, rtol=1e-4, atol=1e-5, err_msg=f"bn output {k_}")
    mean4, var4 = a.mean((0, 2, 3), keepdims=True), a.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(got[11], (a - mean4) * g4v / np.sqrt(var4 + 1e-4) + 0.5,
                               rtol=1e-4, atol=1e-5)
    assert got[12].shape == got[13].shape == (1, 3, 1, 1)
    np.testing.assert_allclose(got[14], (hv - rmv) * gv / np.sqrt(rvv + 1e-3) + bv, rtol=1e-5,
                               atol=1e-5)


def _naive_corr_grads(img, k, g, pad, stride):
    """The gradients of ``_naive_corr(img, k, pad, stride)`` wrt img and k, for output grad g."""
    n, c, h, w = img.shape
    o, _, kh, kw = k.shape
    gi = np.zeros((n, c, h + 2 * pad[0], w + 2 * pad[1]))
    xp = np.pad(img, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    gk = np.zeros(k.shape)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            r, q = i * stride[0], j * stride[1]
            gi[:, :, r:r + kh, q:q + kw] += np.einsum("no,ocij->ncij", g[:, :, i, j], k)
            gk += np.einsum("no,ncij->ocij", g[:, :, i, j], xp[:, :, r:r + kh, q:q + kw])
    return gi[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + w], gk


def test_dnn_conv_op_classes_and_the_transposed_convolution_idiom(gpu):
    """GAN code's deconvolution: GpuAllocEmpty for the shape, GpuDnnConvDesc, GpuDnnConvGradI."""
    from croton.gpuarray.basic_ops import GpuAllocEmpty

    img, k, z = T.ftensor4("img"), T.ftensor4("k"), T.ftensor4("z")
    kerns = gpu_contiguous(k)
    # z: (n, o, 3, 3) upsampled by 2 to (n, c, 6, 6) with padding 1, no filter flip
    out = GpuAllocEmpty("float32", None)(z.shape[0], kerns.shape[1], z.shape[2] * 2,
                                         z.shape[3] * 2)
    desc = dnn.GpuDnnConvDesc(border_mode=1, subsample=(2, 2), conv_mode="cross")(kerns.shape)
    deconv = dnn.GpuDnnConvGradI()(kerns, gpu_contiguous(z), out, desc)
    fwd_desc = dnn.GpuDnnConvDesc(border_mode=(1, 1), subsample=(2, 2), conv_mode="cross")
    fwd = dnn.GpuDnnConv()(img, kerns, GpuAllocEmpty("float32", None)(2, 4, 3, 3),
                           fwd_desc(kerns.shape), alpha=2.0, beta=0.5)
    gw = dnn.GpuDnnConvGradW()(img, z, GpuAllocEmpty("float32", None)(*k.shape), desc)
    with pytest.raises(ValueError, match="invalid border_mode"):
        dnn.GpuDnnConvDesc(border_mode="same")
    with pytest.raises(TypeError, match="desc must be what GpuDnnConvDesc"):
        dnn.GpuDnnConvGradI()(kerns, z, out, "desc")
    f = croton.function([img, k, z], [host_from_gpu(v) for v in (deconv, fwd, gw)],
                        device="cpu")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 6, 6)).astype("float32")
    w = rng.standard_normal((4, 3, 3, 3)).astype("float32")
    g = rng.standard_normal((2, 4, 3, 3)).astype("float32")
    got = f(a, w, g)
    gi, gk = _naive_corr_grads(a, w, g, (1, 1), (2, 2))
    np.testing.assert_allclose(got[0], gi, rtol=1e-4, atol=1e-4)
    # beta * output: the empty output holds zeros here
    np.testing.assert_allclose(got[1], 2 * _naive_corr(a, w, (1, 1), (2, 2)), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(got[2], gk, rtol=1e-4, atol=1e-4)


# -- a Theano GPU program, end to end on the (emulated) device --------------------------------
def _program(theano, W0, b0, data, steps=3):
    """A Theano-style training loop written against theano.gpuarray (Theano 1.0.5's GPU
    tutorial idioms): device parameters, inputs made contiguous on the GPU, the loss brought
    back with host_from_gpu, the prediction returned through transfer('cpu')."""
    import theano.tensor as tt
    from theano.gpuarray import GpuArrayType, pygpu_activated
    from theano.gpuarray import gpuarray_shared_constructor as gshared
    from theano.gpuarray.basic_ops import gpu_contiguous, host_from_gpu

    if pygpu_activated:
        W, b = gshared(W0.copy(), "W"), gshared(b0.copy(), "b", broadcastable=(True,))
    else:
        W, b = theano.shared(W0.copy(), "W"), theano.shared(b0.copy(), "b", broadcastable=(True,))
    x = tt.fmatrix("x")
    # a GPU-typed input: fed a device array (the labels, already on the device)
    y = GpuArrayType("float32", (False,))("y") if pygpu_activated else tt.fvector("y")
    xg = gpu_contiguous(x) if pygpu_activated else x  # both need a GPU context, as in Theano
    p = tt.nnet.sigmoid((xg * W.dimshuffle("x", 0)).sum(axis=1) + b)
    loss = tt.mean((p - y) ** 2)
    loss_out = host_from_gpu(gpu_contiguous(loss)) if pygpu_activated else loss
    gW, gb = theano.grad(loss, [W, b])
    # on the GPU, the tutorial's "handle to device-allocated data": an output left there
    outputs = [loss_out, p.transfer("cpu")] + ([p.transfer(None)] if pygpu_activated else [])
    step = theano.function([x, y], outputs, updates=[(W, W - 0.5 * gW), (b, b - 0.5 * gb)])
    history = [step(*data) for _ in range(steps)]
    return history, W.get_value(), b.get_value(), W, step


@pytest.fixture
def theano_module():
    """``import theano`` giving croton in this process (croton.theano_alias.install), undone
    after the test."""
    saved_path, saved_env = list(sys.meta_path), os.environ.get(theano_alias.ENV_VAR)
    saved_modules = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "theano"}
    theano_alias.install()
    import theano

    try:
        yield theano
    finally:
        sys.meta_path[:] = saved_path
        for name in [k for k in sys.modules if k.split(".")[0] == "theano"]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        if saved_env is None:
            os.environ.pop(theano_alias.ENV_VAR, None)
        else:
            os.environ[theano_alias.ENV_VAR] = saved_env


def test_theano_gpu_program_runs_on_the_device_with_the_cpus_results(gpu, theano_module):
    from croton.cuda.array import DeviceArray
    from croton.cuda.function import CudaFunction

    assert theano_module.gpuarray is gpuarray and theano_module.config.device == "cuda"
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((64, 5)).astype("float32"),
            (rng.random(64) > 0.5).astype("float32"))
    W0, b0 = rng.standard_normal(5).astype("float32"), np.full(1, 0.1, "float32")
    hist, W, b, W_var, step = _program(theano_module, W0, b0,
                                       (data[0], DeviceArray.from_numpy(data[1])))
    assert isinstance(step, CudaFunction) and isinstance(W_var, GpuArraySharedVariable)
    assert isinstance(W_var.get_value(borrow=True, return_internal_type=True), DeviceArray)
    assert gpu and gpu[-1].croton_emu_launches() > 0  # its kernels ran on the "device"
    # the same program with device=cpu
    gpuarray._deactivate()
    cpu_hist, cpu_W, cpu_b, cpu_W_var, cpu_step = _program(theano_module, W0, b0, data)
    assert cpu_W_var.device == "cpu" and not isinstance(cpu_step, CudaFunction)
    for (loss, p, p_dev), (cpu_loss, cpu_p) in zip(hist, cpu_hist):
        assert isinstance(loss, np.ndarray) and isinstance(p, np.ndarray)
        assert isinstance(p_dev, DeviceArray)  # transfer(None): the device array itself
        np.testing.assert_array_equal(np.asarray(p_dev), p)
        np.testing.assert_allclose(loss, cpu_loss, rtol=1e-5)
        np.testing.assert_allclose(p, cpu_p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(W, cpu_W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, cpu_b, rtol=1e-5, atol=1e-6)
    assert hist[-1][0] < hist[0][0]  # it trains


def _conv_program(theano, W0, data, steps=2):
    """A Theano GPU convnet step as Lasagne's cuDNN layers write it: dnn_conv, dnn_pool and
    their gradients, on device parameters (CPU ops when no GPU is active)."""
    import theano.tensor as tt
    from theano.gpuarray import dnn as gdnn
    from theano.gpuarray import pygpu_activated
    from theano.tensor.nnet import conv2d
    from theano.tensor.signal.pool import pool_2d

    W = theano.shared(W0.copy(), "W")
    x, y = tt.ftensor4("x"), tt.fvector("y")
    if pygpu_activated:
        assert gdnn.dnn_present(), gdnn.dnn_present.msg
        h = tt.tanh(gdnn.dnn_conv(x, W, border_mode="half", conv_mode="cross"))
        p = gdnn.dnn_pool(h, (2, 2), stride=(2, 2), mode="max")
    else:
        h = tt.tanh(conv2d(x, W, border_mode="half", filter_flip=False))
        p = pool_2d(h, ws=(2, 2), ignore_border=True, mode="max")
    loss = tt.mean((p.mean(axis=(1, 2, 3)) - y) ** 2)
    step = theano.function([x, y], loss, updates=[(W, W - 0.5 * theano.grad(loss, W))])
    return [float(step(*data)) for _ in range(steps)], W.get_value(), step


def test_theano_dnn_convnet_step_runs_on_the_device_with_the_cpus_results(gpu, theano_module):
    from croton.cuda.function import CudaFunction

    rng = np.random.default_rng(3)
    data = (rng.standard_normal((4, 2, 8, 8)).astype("float32"),
            rng.standard_normal(4).astype("float32"))
    W0 = (rng.standard_normal((3, 2, 3, 3)) * 0.3).astype("float32")
    losses, W, step = _conv_program(theano_module, W0, data)
    assert isinstance(step, CudaFunction)
    gpuarray._deactivate()
    cpu_losses, cpu_W, cpu_step = _conv_program(theano_module, W0, data)
    assert not isinstance(cpu_step, CudaFunction)
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-5)
    np.testing.assert_allclose(W, cpu_W, rtol=1e-5, atol=1e-6)
    assert not np.allclose(W, W0)  # the filters were trained


@pytest.fixture
def lasagne_source(tmp_path):
    """Lasagne (the vendored tarball of tests/thirdparty/lasagne) importable in this process,
    forgotten after the test."""
    import tarfile

    with tarfile.open(ROOT / "tests" / "thirdparty" / "lasagne" / "lasagne-5d3c63c.tar.gz") as t:
        t.extractall(tmp_path, filter="data")
    src = str(tmp_path / "Lasagne-5d3c63c")
    sys.path.insert(0, src)
    floatx, config.floatX = config.floatX, "float32"  # as Lasagne's GPU users configure it
    try:
        yield
    finally:
        config.floatX = floatx
        sys.path.remove(src)
        for name in [k for k in sys.modules if k.split(".")[0] == "lasagne"]:
            del sys.modules[name]


def test_lasagne_cudnn_layers_train_on_the_device_as_its_cpu_layers(gpu, theano_module,
                                                                      lasagne_source):
    """lasagne.layers.dnn imports (it needs pygpu_activated and dnn_present()), and a network
    of its Conv2DDNNLayer, MaxPool2DDNNLayer and batch_norm_dnn trains on the device with its
    parameters in device memory, as the same network of Lasagne's CPU layers on the CPU."""
    import warnings

    from croton.cuda.array import DeviceArray
    from croton.cuda.function import CudaFunction

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        import lasagne
        from lasagne.layers import dnn as ldnn
    theano = theano_module
    L = lasagne.layers
    x = np.random.default_rng(4).standard_normal((4, 2, 8, 8)).astype("float32")

    def train(net):
        loss = L.get_output(net).mean() + 0.1 * (L.get_output(net) ** 2).mean()
        params = L.get_all_params(net, trainable=True)
        f = theano.function([L.get_all_layers(net)[0].input_var], loss,
                            updates=lasagne.updates.sgd(loss, params, 0.1))
        return f, [float(f(x)) for _ in range(3)], L.get_all_param_values(net)

    net = ldnn.batch_norm_dnn(ldnn.MaxPool2DDNNLayer(
        ldnn.Conv2DDNNLayer(L.InputLayer((4, 2, 8, 8)), 3, 3, pad="same"), 2))
    start = L.get_all_param_values(net)
    assert all(isinstance(p.get_value(borrow=True, return_internal_type=True), DeviceArray)
               for p in L.get_all_params(net))
    f, losses, end = train(net)
    assert isinstance(f, CudaFunction)
    gpuarray._deactivate()
    cpu_net = L.batch_norm(L.MaxPool2DLayer(
        L.Conv2DLayer(L.InputLayer((4, 2, 8, 8)), 3, 3, pad="same", flip_filters=False), 2))
    L.set_all_param_values(cpu_net, start)
    cpu_f, cpu_losses, cpu_end = train(cpu_net)
    assert not isinstance(cpu_f, CudaFunction)
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-4, atol=1e-6)
    for a, b in zip(end, cpu_end):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(end[0], start[0])  # the filters were trained
