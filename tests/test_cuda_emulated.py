"""The CUDA target's generated code, run by a CPU emulation of CUDA (tests/cuda_emu): the same
translation unit nvcc builds in tests/test_cuda.py, compiled by g++ against an emulated
``cuda_runtime.h`` in which every CUDA thread is a real thread, ``__syncthreads`` a barrier of its
block and warp shuffles an exchange between the warp's threads. Launches ``k<<<g, b>>>(args)``
are rewritten to the emulator's ``Launch(k, g, b).run(args)`` (the only edit of the source).

What this checks: the logic of the kernels and of the host driver around them (indexing and
broadcasting, grid-stride loops with more work than threads, block reductions and the two-pass
reduction, the in-place update, the ABI's checks and errors), against the same graph compiled
for the CPU. What it does not check: nvcc's code, device math, or anything about a GPU (that is
tests/test_cuda.py's run-time half, on a GPU).
"""

from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest
from cuda_emu.harness import call, compile_emulated, emulate_cuda, emulated_module
from helpers import run_in_threads

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.pipeline import run_pipeline
from croton.codegen.target import CUDA
from croton.fgraph import Graph

ROWS, COLS = 4, 1100  # on the emulator's one multiprocessor: x.sum() takes two passes


def _graph(W):
    x, b, c, s, k = T.fmatrix("x"), T.fvector("b"), T.fvector("c"), T.fscalar("s"), \
        T.ivector("k")
    y = T.fmatrix("y")  # tall and narrow: its column reductions split the rows in slices
    ramp = T.constant(np.linspace(0.5, 1.5, ROWS, dtype="float32")).dimshuffle(0, "x")
    outputs = [T.tanh(x * 2 + b) * s, T.exp(x - c.dimshuffle(0, "x")) * ramp,
               T.nnet.sigmoid(x) + T.maximum(x, b) + T.erf(x) + T.gammaln(abs(x) + 1),
               x.sum(axis=0), x.max(axis=1), x.min(), x.sum(), T.prod(x * 0.01 + 1, axis=1),
               T.all(x > -10), T.any(x > 3.5), T.nnet.softmax(x), abs(x).mean(),
               x.T.sum(axis=1), k // 3 + k % 3, y.sum(axis=0), (y * y).max(axis=0)]
    return [x, b, c, s, k, y], outputs, [(W, W * 0.5 + x)]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((ROWS, COLS)).astype("float32"),
            rng.standard_normal(COLS).astype("float32"),
            rng.standard_normal(ROWS).astype("float32"), np.asarray(0.75, "float32"),
            rng.integers(-50, 50, 17).astype("int32"),
            rng.standard_normal((COLS, 3)).astype("float32")]


@pytest.fixture(scope="module")
def emulated(tmp_path_factory):
    """The emulated module, its croton_function, the CPU function of the same graph, its W,
    and how many kernel steps the plan has."""
    W = croton.shared(np.ones((ROWS, COLS), "float32"), "W")
    ins, outs, updates = _graph(W)
    graph = run_pipeline(Graph.make(ins, outs, updates), "FAST_RUN")
    plan = lower(graph, target=CUDA).plan
    kernels = sum(st.kind in ("elementwise", "fused_reduce", "shape_value")
                  for st in plan.steps + plan.commits)
    module, table = emulated_module(plan, tmp_path_factory.mktemp("cuda_emu"))
    W_cpu = croton.shared(np.ones((ROWS, COLS), "float32"), "W_cpu")
    ins, outs, updates = _graph(W_cpu)
    return module, table, croton.function(ins, outs, updates=updates), W_cpu, kernels


def test_emulated_kernels_match_the_cpu(emulated):
    module, table, cpu, W_cpu, kernels = emulated
    data = _data()
    w = np.ones((ROWS, COLS), "float32")
    launches = module.croton_emu_launches()
    rc, err, got, upds = call(table, data, [w])
    assert rc == 0, err.message.decode()
    # one launch per kernel step, and a second pass for the reductions over all 4400
    # elements (x.sum(), the mean): the two-pass path ran
    assert module.croton_emu_launches() - launches >= kernels + 2
    want = cpu(*data)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape, k
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")
    x = data[0]
    np.testing.assert_array_equal(got[4], x.max(axis=1))
    np.testing.assert_allclose(got[6], x.sum(dtype="float64"), rtol=1e-5)
    assert not upds  # the update was written in place, into w
    np.testing.assert_allclose(w, W_cpu.get_value(), rtol=1e-6)
    np.testing.assert_allclose(w, 0.5 + x, rtol=1e-6)


def test_emulated_strided_inputs_take_the_strided_kernels(emulated):
    _, table, cpu, _, _ = emulated
    data = _data(3)
    wide = np.zeros((ROWS, 2 * COLS), "float32")
    wide[:, ::2] = data[0]
    data[0] = wide[:, ::2]  # every other column: element strides (2 * COLS, 2)
    data[1] = np.repeat(data[1], 3)[::3]
    assert not data[0].flags.c_contiguous and not data[1].flags.c_contiguous
    rc, err, got, _ = call(table, data, [np.ones((ROWS, COLS), "float32")])
    assert rc == 0, err.message.decode()
    for k, (a, b) in enumerate(zip(got, cpu(*[np.ascontiguousarray(v) if v.ndim else v
                                              for v in data]))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")


def test_emulated_launch_error_is_a_device_error_naming_the_kernel(emulated):
    module, table, _, _, _ = emulated
    module.croton_emu_fail_next_launch()
    rc, err, _, _ = call(table, _data(), [np.ones((ROWS, COLS), "float32")])
    assert rc == 8  # CROTON_ERR_DEVICE
    assert re.fullmatch(r"CUDA error in the (elementwise|reduction) kernel of B\d+: "
                        r"cudaErrorEmulated \(emulated error\)", err.message.decode())
    rc, err, _, _ = call(table, _data(), [np.ones((ROWS, COLS), "float32")])
    assert rc == 0  # not sticky


def test_emulated_shape_error_names_the_op_and_writes_nothing(emulated):
    _, table, _, _, _ = emulated
    data = _data()
    data[1] = np.ones(COLS + 1, "float32")
    w = np.ones((ROWS, COLS), "float32")
    rc, err, _, _ = call(table, data, [w])
    assert rc == 1
    assert "differ at dimension 1, which is not declared broadcastable" in err.message.decode()
    assert (w == 1).all()


# -- the Python side (croton.function(device='cuda'), DeviceArray, device shared variables) over
# the emulated CUDA runtime: libcudart's calls from tests/cuda_emu/cudart_emu.cpp, modules built
# against the emulation instead of by nvcc ---------------------------------------------------
@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    """croton's CUDA runtime and builds replaced by the emulation for this module's tests."""
    yield from emulate_cuda(tmp_path_factory)


def test_function_on_device_memory_updates_shared_in_place(emulated_device):
    from croton.cuda import runtime
    from croton.cuda.array import DeviceArray

    W = croton.shared(np.full((ROWS, COLS), 2.0, "float32"), "W", device="cuda")
    storage = W.get_value(borrow=True, return_internal_type=True)
    assert isinstance(storage, DeviceArray)  # a device: the value moved there at once
    ins, outs, updates = _graph(W)
    f = croton.function(ins, outs, updates=updates, device="cuda")
    W_cpu = croton.shared(np.full((ROWS, COLS), 2.0, "float32"), "W_cpu")
    cins, couts, cupdates = _graph(W_cpu)
    cpu = croton.function(cins, couts, updates=cupdates)
    data = _data(4)
    got, want = f(*data), cpu(*data)
    assert all(isinstance(g, np.ndarray) for g in got)
    for k, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"output {k}")
    assert W.get_value(borrow=True, return_internal_type=True).ptr == storage.ptr
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-6)
    W.set_value(np.zeros((ROWS, COLS), "float32"))  # same shape: the same allocation
    assert W.get_value(borrow=True, return_internal_type=True).ptr == storage.ptr
    assert (W.get_value() == 0).all()
    # keywords, device arrays in, device arrays out
    f.return_device_arrays = True
    x, b, c, s, k, y = data
    dev = f(DeviceArray.from_numpy(x), b, c, k=k, s=s, y=y)
    assert all(isinstance(o, DeviceArray) for o in dev)
    np.testing.assert_allclose(dev[0].to_numpy(), np.tanh(x * 2 + b) * s, rtol=1e-5, atol=1e-6)
    # a bad shape: an error naming the op, and W unchanged
    before = W.get_value()
    with pytest.raises(ValueError, match="shape mismatch in .* differ at dimension 1"):
        f(x, np.ones(COLS + 1, "float32"), c, s, k, y)
    np.testing.assert_array_equal(W.get_value(), before)
    with pytest.raises(TypeError, match="has dtype float64, expected float32"):
        f(DeviceArray.from_numpy(x.astype("float64")), b, c, s, k, y)
    emulated_device[-1].croton_emu_fail_next_launch()  # the module f was built into
    with pytest.raises(runtime.CudaError, match="^function .*: CUDA error in the"):
        f(*data)


def test_host_shared_variable_in_a_cuda_function_gets_its_update_back(emulated_device):
    H = croton.shared(np.ones(4, "float32"), "H")  # a host variable
    v = T.fvector("v")
    f = croton.function([v], (H * v).sum(), updates=[(H, H + v)], device="cuda")
    assert float(f(np.arange(4, dtype="float32"))) == 6.0
    assert isinstance(H.get_value(borrow=True), np.ndarray)
    assert H.get_value().tolist() == [1.0, 2.0, 3.0, 4.0]
    storage = H.get_value(borrow=True)  # updated in place, as a CPU function does
    f(np.ones(4, "float32"))
    assert H.get_value(borrow=True) is storage and storage.tolist() == [2.0, 3.0, 4.0, 5.0]


def test_host_shared_variables_over_one_array_stay_apart_on_the_device(emulated_device):
    """Two host shared variables over one NumPy array, one updated by a CUDA function: the
    other keeps its value, as on the CPU (found by tests/test_hardening_call.py under
    CROTON_TEST_DEVICE=cuda-emulated: the update was written into the array both share)."""
    a = np.arange(3.0)
    W = croton.shared(a, "W", borrow=True)
    V = croton.shared(a, "V", borrow=True)
    g = croton.function([], [], updates=[(W, W + V[::-1])], device="cuda")
    g()
    assert W.get_value().tolist() == [2.0, 2.0, 2.0]
    assert V.get_value().tolist() == [0.0, 1.0, 2.0] and V.get_value(borrow=True) is a
    g()
    assert W.get_value().tolist() == [4.0, 3.0, 2.0]


def test_threads_calling_one_cuda_function_get_their_own_results(emulated_device):
    """Four Python threads call one CUDA function at once (its kernels run without the GIL):
    each gets the result of its own arguments. (The emulation runs one launch at a time, as
    one stream: under CROTON_TEST_DEVICE=cuda-emulated this test of tests/test_hardening_call.py
    crashed the emulation's fibers.)"""
    x, y = T.fvectors("x", "y")
    f = croton.function([x, y], x.sum() * 1000 + y.sum(), device="cuda")
    wrong = []

    def worker(k: int) -> None:
        for n in range(25):
            a = float(k * 100 + n)
            got = float(f(np.array([a, 1.0], "float32"), np.array([1.0, 2.0], "float32")))
            if got != (a + 1.0) * 1000 + 3.0:
                wrong.append((a, got))

    run_in_threads(worker)
    assert wrong == []


def test_emulation_runs_blocks_and_threads_in_either_order(tmp_path, monkeypatch):
    """CROTON_EMU_REVERSE=1 runs the blocks of a launch, and the threads of a block between
    barriers, last first: a kernel whose result depends on that order (a race on a GPU) gives
    another result one way than the other."""
    source = """
#include <cuda_runtime.h>
__global__ void last_writer(int* out) {
  __shared__ int s;
  s = threadIdx.x;  // every thread writes: the last one before the barrier wins
  __syncthreads();
  if (threadIdx.x == 0) { out[0] = blockIdx.x; out[1 + blockIdx.x] = s; }
}
extern "C" void run(int* out) { last_writer<<<4, 3>>>(out); }
"""
    lib = compile_emulated(source, tmp_path)
    got = {}
    for order in ("0", "1"):
        monkeypatch.setenv("CROTON_EMU_REVERSE", order)
        out = (ctypes.c_int * 5)()
        lib.run(out)
        got[order] = list(out)
    assert got == {"0": [3, 2, 2, 2, 2], "1": [0, 0, 0, 0, 0]}


def test_numpy_mode_reads_and_updates_a_device_shared_variable(emulated_device):
    """mode='NUMPY' (the evaluator) under device memory: the value copied to the host, the
    update uploaded into the same allocation (found by the op suite under
    CROTON_TEST_DEVICE=cuda-emulated: RandomStreams' device state crashed the evaluator)."""
    W = croton.shared(np.arange(3, dtype="float32"), "W", device="cuda")
    before = W.get_value(borrow=True, return_internal_type=True)
    f = croton.function([], W.sum(), updates=[(W, W * 2)], mode="NUMPY")
    assert float(f()) == 3.0
    assert W.get_value().tolist() == [0.0, 2.0, 4.0]
    assert W.get_value(borrow=True, return_internal_type=True) is before


def test_device_array_dlpack_capsule_keeps_the_memory_until_deleted(emulated_device):
    import gc

    from croton.cuda import dlpack_export as dl
    from croton.cuda.array import DeviceArray

    get = ctypes.pythonapi["PyCapsule_GetPointer"]
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    rename = ctypes.pythonapi["PyCapsule_SetName"]
    rename.argtypes = [ctypes.py_object, ctypes.c_char_p]
    live = len(dl._LIVE)
    a = DeviceArray.from_numpy(np.arange(6, dtype="float32").reshape(2, 3))
    assert a.__dlpack_device__() == (2, 0)
    capsule = a.__dlpack__()
    ptr = get(capsule, b"dltensor")
    m = ctypes.cast(ptr, ctypes.POINTER(dl.DLManagedTensor)).contents
    t = m.dl_tensor
    assert (t.data, t.device.device_type, t.ndim, t.shape[0], t.shape[1]) == (a.ptr, 2, 2, 2, 3)
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (2, 32, 1)
    address = a.ptr
    del a
    gc.collect()  # the capsule keeps the array (the emulator's device memory is the host's)
    values = np.ctypeslib.as_array((ctypes.c_float * 6).from_address(address))
    assert values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # a consumer renames the capsule and calls the deleter when done
    rename(capsule, b"used_dltensor")
    m.deleter(ctypes.cast(ptr, ctypes.POINTER(dl.DLManagedTensor)))
    assert len(dl._LIVE) == live
    del capsule
    # a capsule collected unconsumed frees its tensor itself
    unused = DeviceArray.from_numpy(np.zeros(2, "float32")).__dlpack__()
    assert len(dl._LIVE) == live + 1
    del unused
    gc.collect()
    assert len(dl._LIVE) == live
    with pytest.raises(BufferError, match="not \\(1, 0\\)"):
        DeviceArray.from_numpy(np.zeros(2, "float32")).__dlpack__(dl_device=(1, 0))


def test_cuda_function_copy_swaps_shared_variables_without_recompiling(emulated_device):
    """Theano's ``Function.copy(swap=...)`` and copy.copy/deepcopy on a CUDA function (found by
    the op suite under CROTON_TEST_DEVICE=cuda-emulated: CudaFunction had no ``copy``)."""
    import copy

    state = croton.shared(np.zeros(2, "float32"), "state", device="cuda")
    inc = T.fvector("inc")
    acc = croton.function([inc], state.sum(), updates=[(state, state + inc)], device="cuda")
    n_builds = len(emulated_device)
    other = croton.shared(np.full(2, 100, "float32"), "other", device="cuda")
    acc2 = acc.copy(swap={state: other}, name="acc2")
    assert float(acc2(np.ones(2, "float32"))) == 200.0
    assert other.get_value().tolist() == [101.0, 101.0] and state.get_value().tolist() == [0, 0]
    assert acc2.name == "acc2" and len(emulated_device) == n_builds
    deep = copy.deepcopy(acc)
    deep(np.ones(2, "float32"))
    assert state.get_value().tolist() == [0.0, 0.0]
    copy.copy(acc)(np.ones(2, "float32"))
    assert state.get_value().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="replacement"):
        acc.copy(swap={state: croton.shared(np.zeros(2), "d")})


class _DLPackOnly:
    """A device array that speaks only DLPack (as a JAX array on a GPU may): no
    ``__cuda_array_interface__``. ``view`` rewrites the exported tensor's shape, element
    strides and byte offset (a strided view of the same memory); ``device`` is what
    ``__dlpack_device__`` reports; ``old`` producers take no ``stream`` argument."""

    def __init__(self, array, device=(2, 0), view=None, old=False):
        self.array, self.device, self.view, self.old = array, device, view, old
        self.streams, self._keep = [], []

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, **kw):
        if self.old and kw:
            raise TypeError("__dlpack__() takes no keyword arguments")
        self.streams.append(kw.get("stream"))
        capsule = self.array.__dlpack__()
        if self.view is not None:
            from croton.cuda import dlpack_export as dl

            get = ctypes.pythonapi["PyCapsule_GetPointer"]
            get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
            t = ctypes.cast(get(capsule, b"dltensor"),
                            ctypes.POINTER(dl.DLManagedTensor)).contents.dl_tensor
            shape, strides, offset = self.view
            cs, ct = (ctypes.c_int64 * 2)(*shape), (ctypes.c_int64 * 2)(*strides)
            self._keep += [cs, ct]
            t.shape, t.strides, t.byte_offset = cs, ct, offset
        return capsule


def test_dlpack_only_device_arrays_are_read_in_place(emulated_device):
    import gc

    from croton.cuda import dlpack_export as dl
    from croton.cuda.array import DeviceArray

    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = croton.function([x, y], [(x * 2 + y).sum(axis=0), x.T.dot(y)], device="cuda")
    base = np.arange(24, dtype="float32").reshape(4, 6)
    ya = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    live = len(dl._LIVE)
    # contiguous, then a strided view with an offset: base[:, 1::2] (element strides 6, 2)
    for arg, want in ((_DLPackOnly(DeviceArray.from_numpy(base[:, :3].copy())), base[:, :3]),
                      (_DLPackOnly(DeviceArray.from_numpy(base), view=((4, 3), (6, 2), 4)),
                       base[:, 1::2])):
        got = f(arg, DeviceArray.from_numpy(ya))
        np.testing.assert_allclose(got[0], (want * 2 + ya).sum(axis=0), rtol=1e-6)
        np.testing.assert_allclose(got[1], want.T @ ya, rtol=1e-5)
        assert arg.streams == [1]  # asked for the legacy default stream, the one croton uses
    gc.collect()
    assert len(dl._LIVE) == live  # every capsule consumed: its deleter ran after the call
    # a producer without the stream argument, and a dtype the function does not take
    old = _DLPackOnly(DeviceArray.from_numpy(base[:, :3].copy()), old=True)
    np.testing.assert_allclose(f(old, ya)[0], (base[:, :3] * 2 + ya).sum(axis=0), rtol=1e-6)
    with pytest.raises(TypeError, match="has dtype float64, expected float32"):
        f(_DLPackOnly(DeviceArray.from_numpy(base[:, :3].astype("float64"))), ya)
    with pytest.raises(TypeError, match=r"input 0: the array \(_DLPackOnly\) is on cuda:1; "
                                        r"this function runs on cuda:0"):
        f(_DLPackOnly(DeviceArray.from_numpy(base[:, :3].copy()), device=(2, 1)), ya)
    gc.collect()
    assert len(dl._LIVE) == live


def test_float16_storage_on_the_device_matches_the_cpu(emulated_device):
    """float16 buffers on the device are CUDA's __half (runtime/cuda/runtime.cuh); every op
    computes in float32 between conversions, as on the CPU, so the two agree bit for bit."""
    def graph(W):
        x, v = T.matrix("x", dtype="float16"), T.fvector("v")
        outs = [T.exp(x) * 2, x.sum(axis=0), T.cast(x, "float32") + v, x.max(),
                T.cast(v, "float16"), (x * W).mean(), T.cast(x, "int32")]
        return [x, v], outs, [(W, W * 0.5 + x)]

    start = (np.arange(12).reshape(3, 4) / 7).astype("float16")
    W = croton.shared(start, "W", device="cuda")
    W_cpu = croton.shared(start.copy(), "W_cpu")
    ins, outs, upd = graph(W)
    f = croton.function(ins, outs, updates=upd, device="cuda")
    ins, outs, upd = graph(W_cpu)
    cpu = croton.function(ins, outs, updates=upd)
    xa = np.linspace(-3, 3, 12).reshape(3, 4).astype("float16")
    va = np.linspace(0, 1, 4).astype("float32")
    for _ in range(2):
        got, want = f(xa, va), cpu(xa, va)
        for k, (a, b) in enumerate(zip(got, want)):
            assert a.dtype == b.dtype, k
            np.testing.assert_array_equal(a, b, err_msg=f"output {k}")
        np.testing.assert_array_equal(W.get_value(), W_cpu.get_value())
    assert W.get_value().dtype == np.float16
    np.testing.assert_array_equal(f(xa, va)[1], xa.astype("float32").sum(axis=0).astype("float16"))


def test_profile_on_the_device_times_each_kernel(emulated_device):
    """profile=True on the CUDA target: each timed step waits for its kernels
    (CROTON_PROFILE_WAIT), the table is the CPU's (croton/profiling.py), results unchanged."""
    x = T.fmatrix("x")
    W = croton.shared(np.full((ROWS, COLS), 0.5, "float32"), "W", device="cuda")
    outs = [(T.tanh(x) * W).sum(axis=0), T.exp(x).max()]
    f = croton.function([x], outs, updates=[(W, W + x)], device="cuda", profile=True)
    W_cpu = croton.shared(np.full((ROWS, COLS), 0.5, "float32"), "W_cpu")
    cpu = croton.function([x], [(T.tanh(x) * W_cpu).sum(axis=0), T.exp(x).max()],
                          updates=[(W_cpu, W_cpu + x)])
    xa = np.linspace(-2, 2, ROWS * COLS, dtype="float32").reshape(ROWS, COLS)
    for _ in range(3):
        for a, b in zip(f(xa), cpu(xa)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-6)
    p = f.profile
    assert p.calls == 2 and p.first_call_seconds > 0  # the first call is kept apart
    kernels = [k for k in p.kernels() if k.calls]
    assert kernels and all(k.calls == 2 and k.seconds > 0 for k in kernels)
    assert any("sum" in k.label for k in kernels) and any("max" in k.label for k in kernels)
    text = p.summary(file=None)
    assert "calls: 2" in text and "time in kernels" in text


def test_the_binding_layer_call_path_on_device_arrays(emulated_device, monkeypatch):
    """The CUDA call path in C++ (runtime/python/device_call.cpp): an update that changes a
    device variable's shape swaps in a new device array; arrays exposing only
    ``__cuda_array_interface__`` are read in place, strided ones through their strides; an
    allocator failure comes out as the allocator's exception (MemoryError as croton's, naming
    the function) and changes no shared variable; the function object is freed when dropped."""
    import gc
    import weakref

    from croton.cuda import array as device_array
    from croton.cuda.array import DeviceArray

    class Foreign:  # what CuPy, PyTorch and Numba arrays expose
        def __init__(self, base: DeviceArray, shape, strides=None):
            self.base, self.__cuda_array_interface__ = base, {
                "shape": shape, "typestr": base.dtype.str, "data": (base.ptr, False),
                "strides": strides, "version": 3}

    W = croton.shared(np.arange(3, dtype="float32"), "W", device="cuda")
    v, m = T.fvector("v"), T.fmatrix("m")
    grow = croton.function([v], W.sum(), updates=[(W, T.concatenate([W, v]))], device="cuda")
    assert float(grow(np.ones(2, "float32"))) == 3.0
    value = W.get_value(borrow=True, return_internal_type=True)
    assert isinstance(value, DeviceArray) and W.get_value().tolist() == [0, 1, 2, 1, 1]

    f = croton.function([m, v], [m.sum(axis=1) + v[0], m * 2], device="cuda")
    host = np.arange(6, dtype="float32").reshape(2, 3)
    base = DeviceArray.from_numpy(host)
    rows, doubled = f(Foreign(base, (2, 3)), Foreign(DeviceArray.from_numpy(np.ones(1, "f")), (1,)))
    np.testing.assert_array_equal(rows, host.sum(axis=1) + 1)
    np.testing.assert_array_equal(doubled, host * 2)
    # the transpose, as strides (bytes) over the same memory
    rows, doubled = f(Foreign(base, (3, 2), (4, 12)), np.zeros(1, "float32"))
    np.testing.assert_array_equal(rows, host.T.sum(axis=1))
    np.testing.assert_array_equal(doubled, host.T * 2)

    before, ones = W.get_value(), DeviceArray.from_numpy(np.ones(2, "float32"))
    failures = [(RuntimeError("pool broken"), RuntimeError, "pool broken"),
                (MemoryError(), MemoryError, "^function built at .*: out of memory")]
    for raised, expected, match in failures:
        def fail(nbytes, device=0, raised=raised):
            raise raised
        device_array.empty_cache()  # no free block to hand out: the allocator runs
        with monkeypatch.context() as patch:
            patch.setattr(device_array.runtime, "malloc", fail)
            with pytest.raises(expected, match=match):
                grow(ones)  # on the device already: the outputs' allocation fails
        np.testing.assert_array_equal(W.get_value(), before)

    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_device_sort_lines_of_every_length(emulated_device, dtype):
    """The device's sort (runtime/cuda/kernels/sort.cuh): one block per line up to 2048
    entries (a bitonic network, padded to a power of two); beyond, tiles of 2048 sorted so,
    then merge passes (2049 and 5000: one and two passes, the last run short); ties in the
    stable order, NaNs last, along rows and along columns (strided lines)."""
    rng = np.random.default_rng(11)
    x = T.matrix("x", dtype=dtype)
    f = croton.function([x], [T.sort(x), T.argsort(x), T.sort(x, axis=0), T.argsort(x, axis=0)],
                        device="cuda")
    for n in (1, 2, 3, 255, 256, 1000, 2048, 2049, 5000):
        a = (rng.integers(-20, 20, (2, n)) if dtype == "int32" else
             rng.standard_normal((2, n)).round(1)).astype(dtype)  # rounded: ties
        if dtype != "int32" and n > 2:
            a[0, ::7] = np.nan
        rows, row_order, _, _ = f(a)
        np.testing.assert_array_equal(rows, np.sort(a), err_msg=f"sort, n={n}")
        np.testing.assert_array_equal(row_order, np.argsort(a, kind="stable"), err_msg=f"n={n}")
        _, _, cols, col_order = f(a.T.copy())
        np.testing.assert_array_equal(cols, np.sort(a.T, axis=0), err_msg=f"axis 0, n={n}")
        np.testing.assert_array_equal(col_order, np.argsort(a.T, axis=0, kind="stable"))
