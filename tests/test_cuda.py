"""The CUDA target (issue 15, docs/cuda.md).

Compile-only tests run wherever nvcc is installed: one function with many outputs (elementwise
chains broadcasting rows, columns and scalars; many unary ops, so their scalar helpers compile
as device code; sums, max, min, prod, all, any over axes; mean; softmax; an in-place shared
update) renders to CUDA, builds with nvcc through CMake without a warning, and its module speaks
the ABI (it refuses host arrays). Run-time tests compare that function's results with NumPy and
with the same graph compiled for the CPU; they skip with the reason "no CUDA device" unless
``cudaGetDeviceCount`` reports one. Keep nvcc builds few: the tests share one module.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc
from croton.config import config
from croton.cuda import CudaUnavailableError, device_count, no_device_reason
from croton.fgraph import Graph

needs_nvcc = pytest.mark.skipif(not find_nvcc(), reason="nvcc not found (CUDA toolkit)")
needs_device = pytest.mark.skipif(device_count() == 0, reason=no_device_reason() or
                                  "no CUDA device")
ROWS, COLS = 300, 5000  # max over axis 1 takes the two-pass reduction on a large GPU
RAMP = T.constant(np.linspace(0.5, 1.5, ROWS, dtype="float32"))  # an array in device memory


def _graph(W):
    """Inputs and outputs of the test function over shared variable ``W`` (float32 matrix)."""
    x, b, c, s, k = T.fmatrix("x"), T.fvector("b"), T.fvector("c"), T.fscalar("s"), \
        T.ivector("k")
    a = abs(x)
    bag = (T.nnet.sigmoid(x) + T.nnet.softplus(x) + T.erf(x) + T.erfinv(T.clip(x, -0.9, 0.9))
           + T.gammaln(a + 1) + T.psi(a + 1) + T.sgn(x) + T.floor(x) + T.ceil(x) + T.log1p(a)
           + T.expm1(x) + T.maximum(x, b) + T.minimum(x, 0.5) + x ** 3 + T.arctan2(x, 1.0)
           + T.gamma(a + 1) + T.switch(x > 0, x, -x) + T.sqrt(a) + T.log(a + 1) + T.cosh(x))
    outputs = [
        T.tanh(x * 2 + b) * s,                 # a row and a scalar broadcast
        T.exp(x - c.dimshuffle(0, "x")) * RAMP.dimshuffle(0, "x"),  # a column; a constant
        bag,
        x.sum(axis=0), x.max(axis=1), x.min(), T.prod(x * 0.01 + 1, axis=1),
        T.all(x > -10), T.any(x > 0.5),
        T.nnet.softmax(x), abs(x).mean(),
        k // 3 + k % 3 + abs(k) + k ** 2,
        T.cast(x, "float16") * 2,              # float16 storage: CUDA's __half
        T.argsort(x[:, :50], axis=0),          # a sort kernel (kernels/sort.cuh)
    ]
    return [x, b, c, s, k], outputs, [(W, W * 0.5 + x)]


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((ROWS, COLS)).astype("float32"),
            rng.standard_normal(COLS).astype("float32"),
            rng.standard_normal(ROWS).astype("float32"), np.float32(0.75),
            rng.integers(-50, 50, 17).astype("int32")]


@pytest.fixture(scope="module")
def cuda_fn():
    """The one CUDA module of this file: built here with or without a GPU."""
    if not find_nvcc():
        pytest.skip("nvcc not found (CUDA toolkit)")
    W = croton.shared(np.ones((ROWS, COLS), "float32"), "W", device="cuda")
    ins, outs, updates = _graph(W)
    return croton.function(ins, outs, updates=updates, device="cuda"), W


# -- compile-only (nvcc, no device) ---------------------------------------------------------
@needs_nvcc
def test_cuda_source_has_kernels_and_builds_warning_free(cuda_fn):
    f, _ = cuda_fn
    src = f.source
    assert '#include "runtime.cuh"' in src and "croton::cuda::call_through_abi" in src
    assert src.count("__global__") >= 10  # every loop and reduction is a kernel
    assert "ew_strided_B" in src and "red_final_B" in src and "block_reduce" in src
    assert "red_lead_B" in src  # x.sum(axis=0): a thread per column
    assert "__device__ const float K" in src and "croton::cuda::symbol_address(K" in src
    assert "std::thread" not in src and "parallel_for" not in src  # nothing of the CPU loops
    log = (f.build.entry_dir / "build.log").read_text()
    assert "nvcc" in log and "--generate-code=arch=compute_" in log
    assert "warning" not in log.lower(), log


@needs_nvcc
def test_cuda_module_speaks_the_abi_and_refuses_host_arrays(cuda_fn):
    from croton.cuda.function import ALLOC_FN, CrotonError, DLDevice, DLTensor, dl_dtype

    f, _ = cuda_fn
    from croton.build_tools.toolchain import RUNTIME_DIR
    from croton.cuda.function import ABI_VERSION, function_table

    t = function_table(f._module.function)

    header = (RUNTIME_DIR / "cpu" / "abi.h").read_text()
    assert f"#define CROTON_ABI_VERSION {ABI_VERSION}\n" in header  # the ctypes structs' version
    assert (t.abi_version, t.n_inputs, t.n_shared, t.n_outputs, t.n_updates) == (
        ABI_VERSION, 5, 1, 14, 1)
    # the check table read through the ctypes struct (a wrong layout reads garbage past [0])
    kinds = {t.checks[i].kind for i in range(t.n_checks)}
    assert b"broadcast" in kinds and kinds <= {b"broadcast", b"empty_reduce", b"shape"}
    assert all(t.checks[i].op.decode() for i in range(t.n_checks))
    assert [t.inputs[i].name for i in range(5)] == [b"x", b"b", b"c", b"s", b"k"]
    host = _data()
    tin, keep = (DLTensor * 5)(), []
    for i, arr in enumerate(host):
        arr = np.asarray(arr)
        shape = (ctypes.c_int64 * max(1, arr.ndim))(*arr.shape)
        keep += [arr, shape]
        tin[i].data, tin[i].device, tin[i].ndim = arr.ctypes.data, DLDevice(1, 0), arr.ndim
        tin[i].dtype, tin[i].shape = dl_dtype(arr.dtype), shape
    err = CrotonError()
    rc = t.call(tin, (DLTensor * 1)(), ALLOC_FN(lambda *a: 1), None, (DLTensor * 14)(),
                (DLTensor * 1)(), ctypes.byref(err))
    assert rc == 7  # CROTON_ERR_ARGUMENT
    assert err.message.decode().startswith("input 0 ('x') is on device cpu:0; this function "
                                           "runs on a CUDA device only")


@needs_nvcc
def test_cuda_function_pickles_as_its_graph(cuda_fn):
    import pickle

    f, W = cuda_fn
    g = pickle.loads(pickle.dumps(f))  # rebuilt from the graph: a cache hit, no nvcc run
    assert type(g).__name__ == "CudaFunction" and g.source == f.source
    assert g.build.cached


@needs_nvcc
@pytest.mark.skipif(device_count() > 0, reason="a CUDA device is present")
def test_calling_without_a_device_says_so(cuda_fn):
    f, W = cuda_fn
    with pytest.raises(CudaUnavailableError, match="^no CUDA device: .*needs a CUDA device"):
        f(*_data())
    assert W.get_value().tolist()[0][:2] == [1.0, 1.0]  # nothing ran


@needs_nvcc
def test_an_older_device_than_the_build_is_refused_naming_both(cuda_fn, monkeypatch):
    from croton.cuda import runtime

    f, _ = cuda_fn
    if device_count() == 0:  # no device, no cuda_arch flag: the default pair
        assert f.architectures == ("80", "90")
    from croton.cuda.function import check_architecture

    monkeypatch.setattr(runtime, "device_architecture", lambda device=0: "75")
    with pytest.raises(runtime.CudaError, match=r"built for sm_80, sm_90 .* \(sm_75, .*"
                                                 r"cuda_arch=75"):
        check_architecture(f._label(), f.architectures)
    monkeypatch.setattr(runtime, "device_architecture", lambda device=0: "100")
    check_architecture(f._label(), f.architectures)  # a newer device runs the PTX


@needs_nvcc
def test_every_op_expression_valid_on_the_cpu_compiles_in_device_code(tmp_path):
    """Each elementwise op's C++ expression (croton/ops) at six dtypes, as a function: those
    g++ accepts on the CPU must all compile as __device__ functions with nvcc (a host-only
    helper would be "calling a __host__ function from a __device__ function")."""
    import re
    import subprocess

    from croton.build_tools.cuda import toolkit_nvcc
    from croton.build_tools.toolchain import RUNTIME_DIR, discover
    from croton.ops.table import OPS

    combos, lines = [], []
    for name, rec in sorted(OPS.items()):
        if not rec.cpp:
            continue
        for ct in ("float", "double", "int32_t", "int64_t", "uint8_t", "bool"):
            expr = rec.cpp.format(*[f"static_cast<{ct}>(a{i})" for i in range(3)], T=ct)
            combos.append((name, ct))
            lines.append(f"QUAL {ct} f{len(lines)}({ct} a0, {ct} a1, {ct} a2) {{ (void)a0; "
                         f"(void)a1; (void)a2; return static_cast<{ct}>({expr}); }}")
    host = tmp_path / "ops_host.cpp"
    host.write_text('#include "runtime.hpp"\n#define QUAL static\n' + "\n".join(lines) + "\n")
    log = subprocess.run([discover().cxx, "-std=c++17", "-fsyntax-only", "-fmax-errors=0",
                          f"-I{RUNTIME_DIR / 'cpu'}", str(host)], capture_output=True,
                         text=True).stderr
    refused = {int(n) - 3 for n in re.findall(r"ops_host\.cpp:(\d+):", log)}
    valid = [(c, line) for k, (c, line) in enumerate(zip(combos, lines)) if k not in refused]
    assert len(valid) > 400  # (op, dtype) pairs the CPU compiles (not & on floats, ...)
    dev = tmp_path / "ops_device.cu"
    dev.write_text('#include "runtime.cuh"\n#define QUAL __device__\n'
                   + "\n".join(line for _, line in valid) + "\n")
    proc = subprocess.run([toolkit_nvcc(find_nvcc()), "-std=c++17", "--expt-relaxed-constexpr",
                           "-arch=sm_80", f"-I{RUNTIME_DIR / 'cuda'}", f"-I{RUNTIME_DIR / 'cpu'}",
                           "-c", str(dev), "-o", str(tmp_path / "ops_device.o")],
                          capture_output=True, text=True)
    failed = sorted({valid[int(n) - 3][0] for n in re.findall(r"ops_device\.cu\((\d+)\)",
                                                              proc.stdout + proc.stderr)})
    assert proc.returncode == 0 and not failed, f"not device code: {failed}\n{proc.stderr}"


def test_architectures_from_the_flag_enter_the_cache_key(monkeypatch):
    from croton.build_tools.build import function_key_parts
    from croton.build_tools.cuda import architectures, parse_architectures

    assert parse_architectures("80,90") == ("80", "90")
    assert parse_architectures("sm_86;9.0") == ("86", "90")
    with pytest.raises(ValueError, match="not a CUDA architecture"):
        parse_architectures("ampere")
    monkeypatch.setattr(config, "cuda_arch", "86")
    assert architectures() == ("86",)
    a = function_key_parts("int f();", target="cuda")
    monkeypatch.setattr(config, "cuda_arch", "80,90")
    b = function_key_parts("int f();", target="cuda")
    assert (a["cuda_arch"], b["cuda_arch"]) == ("86", "80,90")
    assert "cuda_arch" not in function_key_parts("int f();", target="cpu")


# -- what the CUDA target refuses, and device selection (no build) --------------------------
def test_steps_without_cuda_kernels_are_refused_naming_them():
    import dataclasses

    from croton.codegen.lower import lower
    from croton.codegen.render import render_function
    from croton.codegen.target import CUDA

    a, b = T.fmatrices("a", "b")
    # a call step of a kernel that only the CPU's runtime has (every op has a CUDA kernel now:
    # the CPU's plan of det, printed for the CUDA target)
    plan = dataclasses.replace(lower(Graph.make([a], [T.det(a)])).plan, target=CUDA)
    with pytest.raises(NotImplementedError, match=r"the cuda target cannot compile this "
                       r"function yet: it needs det \(the CPU kernel croton::det\) "
                       r"\(docs/cuda.md says"):
        render_function(plan)
    z = T.cvector("z")
    with pytest.raises(NotImplementedError, match="dtype complex64"):
        croton.function([z], z * 2, device="cuda")


def test_device_flag_selects_the_cuda_target(monkeypatch):
    from croton.codegen.target import CPU, CUDA
    from croton.function_module import _target_for

    assert _target_for("cuda") is CUDA and _target_for("cuda0") is CUDA
    assert _target_for("cuda1") is CUDA and _target_for("cuda:1") is CUDA
    assert _target_for("cpu") is CPU
    monkeypatch.setattr(config, "device", "cuda")
    assert _target_for(None) is CUDA
    # Theano's rule: under device=cuda new float32 shared variables live on the device
    assert croton.shared(np.zeros(2, "float32")).device == "cuda"
    assert croton.shared(np.zeros(2)).device == "cpu"
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda', 'cudaN' or 'cuda:N'"):
        _target_for("tpu")
    with pytest.raises(ValueError, match="not a CUDA device name: 'cudax'"):
        _target_for("cudax")
    with pytest.raises(ValueError, match="not 'gpu' .Theano's old GPU back end"):
        config.apply_flags("device=gpu")


def test_device_shared_variable_without_a_device_keeps_its_value():
    W = croton.shared(np.arange(3, dtype="float32"), "W", device="cuda")
    assert W.device == "cuda"
    assert W.get_value().tolist() == [0.0, 1.0, 2.0]
    W.set_value(np.ones(4, "float32"))
    assert W.get_value().tolist() == [1.0] * 4
    assert W.clone().device == "cuda"
    x = T.fvector("x")
    with pytest.raises(TypeError, match="lives on device cuda: compile it with device='cuda'"):
        croton.function([x], x + W)


# -- run time (a CUDA device) ---------------------------------------------------------------
@needs_device
def test_results_match_numpy_and_the_cpu(cuda_fn):
    f, W = cuda_fn
    W.set_value(np.ones((ROWS, COLS), "float32"))
    W_cpu = croton.shared(np.ones((ROWS, COLS), "float32"), "W_cpu")
    ins, outs, updates = _graph(W_cpu)
    g = croton.function(ins, outs, updates=updates)
    data = _data()
    got, want = f(*data), g(*data)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape, k
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5, err_msg=f"output {k}")
    x, b, c, s, k = data
    np.testing.assert_allclose(got[0], np.tanh(x * 2 + b) * s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], np.exp(x - c[:, None]) * RAMP.data[:, None], rtol=1e-5)
    np.testing.assert_allclose(got[3], x.sum(axis=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got[4], x.max(axis=1))
    assert got[5] == x.min() and bool(got[7]) and bool(got[8])
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got[9], e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(got[11], k // 3 + k % 3 + abs(k) + k ** 2)
    assert got[12].dtype == np.float16
    np.testing.assert_array_equal(got[12], x.astype("float16") * np.float16(2))
    np.testing.assert_array_equal(got[13], np.argsort(x[:, :50], axis=0, kind="stable"))
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-6)


@needs_device
def test_shared_update_in_place_on_the_device(cuda_fn):
    from croton.cuda.array import DeviceArray

    f, W = cuda_fn
    start = np.full((ROWS, COLS), 2.0, "float32")
    W.set_value(start)
    storage = W.get_value(borrow=True, return_internal_type=True)
    assert isinstance(storage, DeviceArray)
    data = _data(1)
    f(*data)
    after = W.get_value(borrow=True, return_internal_type=True)
    assert after.ptr == storage.ptr  # written in place: the same device memory
    np.testing.assert_allclose(W.get_value(), start * 0.5 + data[0], rtol=1e-6)
    W.set_value(start)  # same shape: uploaded into the same allocation
    assert W.get_value(borrow=True, return_internal_type=True).ptr == storage.ptr


@needs_device
def test_device_arrays_in_and_out(cuda_fn):
    from croton.cuda.array import DeviceArray

    f, _ = cuda_fn
    data = _data(2)
    host = f(*data)
    f.return_device_arrays = True
    try:
        on_device = f(*[DeviceArray.from_numpy(np.asarray(v)) for v in data])
    finally:
        f.return_device_arrays = False
    assert all(isinstance(o, DeviceArray) for o in on_device)
    for a, b in zip(on_device, host):
        np.testing.assert_allclose(a.to_numpy(), b, rtol=1e-6, atol=1e-6)


@needs_device
def test_bad_shape_names_the_op_and_writes_nothing(cuda_fn):
    f, W = cuda_fn
    W.set_value(np.ones((ROWS, COLS), "float32"))
    data = _data()
    data[1] = np.ones(COLS + 1, "float32")
    with pytest.raises(ValueError, match="shape mismatch in .* differ at dimension 1"):
        f(*data)
    assert float(W.get_value().max()) == 1.0


def test_doctor_reports_the_cuda_runtime_driver_and_device():
    from croton.cli import cuda_checks

    checks = cuda_checks()
    assert set(checks) == {"cuda_runtime", "cuda_driver", "cuda_device", "cuda_arch"}
    if device_count() == 0:
        assert checks["cuda_device"].startswith("no CUDA device")
    else:
        assert "sm_" in checks["cuda_device"]


@needs_nvcc
def test_profiled_cuda_function_builds_with_its_table():
    """profile=True on the CUDA target: nvcc builds the timed steps (each waits for its kernels:
    CROTON_PROFILE_WAIT) and the module exposes the table; timings are checked under the
    emulation (tests/test_cuda_emulated.py) and on a GPU."""
    x = T.fmatrix("x")
    f = croton.function([x], [T.tanh(x).sum(axis=0), x * 2], device="cuda", profile=True)
    assert f.profile.labels and all(k.calls == 0 for k in f.profile.kernels())
    assert "cudaStreamSynchronize" not in f.source  # the wait is the runtime's, not the plan's
    assert "warning" not in (f.build.entry_dir / "build.log").read_text().lower()
