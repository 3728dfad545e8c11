"""The CUDA target's matrix products (gemm, gemv, ger, dot, batched_dot and tensordot:
runtime/cuda/kernels/blas.cuh) run under the CPU emulation of CUDA and of cuBLAS
(tests/cuda_emu/cublas_v2.h: reference column-major gemm, gemv and ger honouring the operation
flags, leading dimensions, increments, alpha and beta, and refusing what cuBLAS refuses),
compared with the same graph compiled for the CPU: a 2-layer MLP training step with softmax
(gemm with transposed operands, updates of shared W, b computed in place), a logistic unit on
one sample (gemv forward, ger update), and plain, batched and tensor dots in float32, float64
and int32 (integers by the plain kernel), of sliced and transposed views too; and the export of
that function, run under the emulation.

So the generated code's mapping of row-major strided views onto column-major cuBLAS calls is
exercised: a swapped operand, a wrong flag or leading dimension gives a wrong result or a cuBLAS
error here. What it does not check: cuBLAS itself, nvcc's code, a GPU (tests/test_cuda_blas.py
compiles the same graph with nvcc; its run-time half needs a device).
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emu import harness
from cuda_emu.harness import call, emulate_cuda, emulated_module

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.pipeline import run_pipeline
from croton.codegen.target import CUDA
from croton.fgraph import Graph

SHAPES = [("W1", (5, 7)), ("b1", (7,)), ("W2", (7, 3)), ("b2", (3,)), ("V", (4, 5)),
          ("c", (4,)), ("u", (6,))]
BATCH = 6


@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    yield from emulate_cuda(tmp_path_factory)


def blas_model(shared):
    """Inputs, outputs and updates of the test function over the float32 shared variables
    W1, b1, W2, b2 (an MLP with softmax), V, c (a logistic unit on one sample) and u."""
    W1, b1, W2, b2, V, c, u = shared
    x, yo, v, t = T.fmatrix("x"), T.fmatrix("yo"), T.fvector("v"), T.fscalar("t")
    xd, k = T.dmatrix("xd"), T.imatrix("k")
    z, w = T.ftensor3("z"), T.fmatrix("w")  # (BATCH, 3, 4), (BATCH, 4): batched products
    h = T.tanh(T.dot(x, W1) + b1)                       # gemm: + b1 broadcast
    p = T.nnet.softmax(T.dot(h, W2) + b2)
    loss = -(yo * T.log(p)).sum(axis=1).mean()
    gW1, gb1, gW2, gb2 = T.grad(loss, [W1, b1, W2, b2])  # dot(x.T, g): transposed operands
    q = T.nnet.sigmoid(T.dot(V, v) + c)                 # gemv
    gV, gc = T.grad(((q - t) ** 2).sum(), [V, c])       # ger
    outputs = [loss, p, q,
               T.dot(x.T, x),            # a transposed view times itself
               T.dot(xd, xd.T),          # float64, transposed b
               T.dot(k, k.T),            # int32: the plain kernel
               T.dot(v, v),              # vector . vector: a 0-d result
               T.dot(xd.T, xd),
               T.dot(W1.T, v) + b1,      # gemv of a transposed matrix
               T.dot(v, W1),             # vector @ matrix: a row
               T.batched_dot(z, z.dimshuffle(0, 2, 1)),  # per batch: a transposed operand
               T.batched_dot(z, w), T.batched_dot(w, z.dimshuffle(0, 2, 1)),
               T.batched_dot(w, w), T.batched_dot(k, k),  # (BATCH,); int32
               T.tensordot(z, z, axes=[[1, 2], [1, 2]]),  # contract 2 axes: (BATCH, BATCH)
               T.dot(z, w.T),                             # 3-d @ 2-d: (BATCH, 3, BATCH)
               T.dot(x[::2], W1),                         # sliced rows: a leading dimension
               T.dot(x[:, ::2].T, x[:, 1::2])]            # sliced columns, transposed
    updates = [(W1, W1 - 0.1 * gW1), (b1, b1 - 0.1 * gb1), (W2, W2 - 0.1 * gW2),
               (b2, b2 - 0.1 * gb2), (V, V - 0.5 * gV), (c, c - 0.5 * gc),
               (u, u + 0.1 * T.dot(x, v))]  # gemv into u's storage
    return [x, yo, v, t, xd, k, z, w], outputs, updates


def shared_values(seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.5).astype("float32") for _, s in SHAPES]


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    yo = np.eye(3, dtype="float32")[rng.integers(0, 3, BATCH)]
    return [rng.standard_normal((BATCH, 5)).astype("float32"), yo,
            rng.standard_normal(5).astype("float32"), np.float32(0.25),
            rng.standard_normal((BATCH, 4)), rng.integers(-9, 9, (BATCH, 3)).astype("int32"),
            rng.standard_normal((BATCH, 3, 4)).astype("float32"),
            rng.standard_normal((BATCH, 4)).astype("float32")]


def cpu_function(values):
    shared = [croton.shared(v.copy(), n + "_cpu") for (n, _), v in zip(SHAPES, values)]
    ins, outs, updates = blas_model(shared)
    return croton.function(ins, outs, updates=updates), shared


def assert_matches(got, want, what, rtol=2e-5):
    for i, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (what, i, a.dtype, b.dtype)
        if a.dtype.kind in "iu":
            np.testing.assert_array_equal(a, b, err_msg=f"{what} {i}")
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol / 10, err_msg=f"{what} {i}")


@pytest.fixture(scope="module")
def emulated_blas(tmp_path_factory):
    """The emulated module of the test graph (one g++ build) and its function table."""
    shared = [croton.shared(v, n) for (n, _), v in zip(SHAPES, shared_values())]
    ins, outs, updates = blas_model(shared)
    plan = lower(run_pipeline(Graph.make(ins, outs, updates), "FAST_RUN"), target=CUDA).plan
    calls = [c.fn for s in plan.steps + plan.commits if s.kind == "call"
             for c in s.code if hasattr(c, "fn")]
    for fn in ("gemm", "gemv", "ger", "dot", "batched_matmul", "contract"):
        assert f"croton::cuda::{fn}" in calls, (fn, calls)
    return emulated_module(plan, tmp_path_factory.mktemp("cuda_blas_emu"))


def _strided(a: np.ndarray, how: str) -> np.ndarray:
    """``a``'s values in another layout: "F" (column-major), "gap" (every other column or
    element of a larger array), "rev" (negative strides)."""
    if how == "F":
        return np.asfortranarray(a)
    if how == "rev":
        out = np.empty_like(a)[::-1]
        out[...] = a
        return out
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_emulated_products_match_the_cpu(emulated_blas, layout):
    module, table = emulated_blas
    values = shared_values()
    cpu, cpu_shared = cpu_function(values)
    data = inputs()
    shared = [v.copy() for v in values]
    if layout == "strided":
        # operands cuBLAS reads with a flag and a leading dimension (F), an increment or
        # leading dimension over 1 (gap), or not at all (rev: copied first); shared storage
        # written in place in each layout: column-major (W2 by gemm, V by ger: computed as
        # their transposes), with a leading dimension or increment over 1 (u by gemv), or in
        # a layout cuBLAS cannot write (W1 by gemm: scratch, copied back)
        data = [_strided(data[0], "gap"), data[1], _strided(data[2], "gap"), data[3],
                _strided(data[4], "F"), _strided(data[5], "rev"), _strided(data[6], "F"),
                _strided(data[7], "gap")]
        shared = [_strided(shared[0], "gap"), shared[1], _strided(shared[2], "F"), shared[3],
                  _strided(shared[4], "F"), _strided(shared[5], "rev"),
                  _strided(shared[6], "gap")]
        assert not data[0].flags.c_contiguous and shared[2].flags.f_contiguous
    calls, handles = module.croton_emu_blas_calls(), module.croton_emu_blas_handles()
    batched = module.croton_emu_blas_strided_batched()
    rc, err, got, upds = call(table, data, shared)
    assert rc == 0, err.message.decode()
    want = cpu(*[np.array(d, order="C") for d in data])
    assert_matches(got, want, "output")
    x, v = data[0], data[2]
    np.testing.assert_allclose(got[3], x.T @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[5], data[5] @ data[5].T)
    np.testing.assert_allclose(got[6], v @ v, rtol=1e-5)
    z, w = data[6], data[7]
    np.testing.assert_allclose(got[10], z @ z.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[11], np.einsum("bmk,bk->bm", z, w), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[13], (w * w).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(got[15], np.tensordot(z, z, axes=[[1, 2], [1, 2]]), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(got[16], z @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[18], x[:, ::2].T @ x[:, 1::2], rtol=1e-5, atol=1e-5)
    # every update written in place into the given storage (whatever its layout)
    assert not upds
    assert_matches(shared, [s.get_value() for s in cpu_shared], "update")
    assert module.croton_emu_blas_calls() > calls  # cuBLAS ran (gemm, gemv, ger)
    # the four float32 batched products: one strided-batched call each
    assert module.croton_emu_blas_strided_batched() - batched == 4
    assert module.croton_emu_blas_handles() - handles <= 1  # one handle, kept


def test_emulated_cublas_error_names_the_call_and_status(emulated_blas):
    module, table = emulated_blas
    module.croton_emu_blas_fail_next()
    rc, err, _, _ = call(table, inputs(), [v.copy() for v in shared_values()])
    assert rc == 8  # CROTON_ERR_DEVICE
    assert ("cuBLAS error in cublasSgemm: CUBLAS_STATUS_EXECUTION_FAILED (the GPU program "
            "failed to execute)") in err.message.decode()
    rc, err, _, _ = call(table, inputs(), [v.copy() for v in shared_values()])
    assert rc == 0, err.message.decode()  # not sticky


def test_emulated_inner_dimension_mismatch_names_dot_and_writes_nothing(emulated_blas):
    _, table = emulated_blas
    data = inputs()
    data[0] = np.ones((BATCH, 6), "float32")  # x @ W1 with W1 (5, 7)
    shared = [v.copy() for v in shared_values()]
    before = [s.copy() for s in shared]
    rc, err, _, _ = call(table, data, shared)
    assert rc == 1
    assert err.message.decode().startswith("shape mismatch in dot: shapes (6, 6) and (5, 7) are "
                                           "not aligned")
    assert all((a == b).all() for a, b in zip(shared, before))


def test_training_steps_on_device_match_the_cpu(emulated_device):
    """croton.function(device='cuda') end to end: device shared variables updated in place by
    several steps, against the CPU function."""
    from croton.cuda import runtime

    values = shared_values(2)
    shared = [croton.shared(v.copy(), n, device="cuda") for (n, _), v in zip(SHAPES, values)]
    storage = [s.get_value(borrow=True, return_internal_type=True).ptr for s in shared]
    ins, outs, updates = blas_model(shared)
    f = croton.function(ins, outs, updates=updates, device="cuda")
    for fn in ("gemm<float>", "gemv<float>", "ger<float>", "dot<double>", "dot<int32_t>"):
        assert f"croton::cuda::{fn}(" in f.source, fn
    cpu, cpu_shared = cpu_function(values)
    for step in range(3):
        data = inputs(10 + step)
        assert_matches(f(*data), cpu(*data), f"step {step}")
        assert_matches([s.get_value() for s in shared], [s.get_value() for s in cpu_shared],
                       f"update after step {step}")
    assert [s.get_value(borrow=True, return_internal_type=True).ptr for s in shared] == storage
    emulated_device[-1].croton_emu_blas_fail_next()
    with pytest.raises(runtime.CudaError, match="cuBLAS error in cublasSgemm: "
                                                "CUBLAS_STATUS_EXECUTION_FAILED"):
        f(*inputs())



def test_exported_cuda_library_reproduces_python_under_the_emulation(emulated_device,
                                                                       tmp_path):
    """f.export of the CUDA function with example inputs (recorded by running it, here under
    the emulation), its library's context (state in "device" memory, host inputs uploaded,
    device outputs and state copied back by test/check.cpp) and the function's .cu compiled by
    g++ against the emulation: the recorded check passes after two calls."""
    import subprocess

    from croton.build_tools.toolchain import discover

    shared = [croton.shared(v, n, device="cuda") for (n, _), v in zip(SHAPES, shared_values(4))]
    ins, outs, updates = blas_model(shared)
    f = croton.function(ins, outs, updates=updates, device="cuda")
    before = [s.get_value() for s in shared]
    project = f.export(tmp_path / "step_lib", name="step", example_inputs=inputs(6),
                       check_calls=2)
    assert all((s.get_value() == b).all() for s, b in zip(shared, before))  # ran on a copy
    src = project / "src"
    (tmp_path / "fn.cpp").write_text(harness.emulated_source(f.source))
    exe = tmp_path / "check"
    common = ["-std=c++20", "-O1", "-pthread", f"-I{harness.EMU}", f"-I{src / 'runtime_cuda'}",
              f"-I{src / 'runtime'}", f"-I{project / 'include'}",
              "-DCROTON_FUNCTION_SYMBOL=step_croton_function",
              "-Dcall_through_abi=step_call_through_abi", "-Dcroton_loops=step_loops"]
    objects = []
    for source, secondary in ((tmp_path / "fn.cpp", False), (src / "step.cpp", True),
                              (project / "test" / "check.cpp", True)):
        obj = tmp_path / (source.stem + ".o")
        subprocess.run([discover().cxx, *common, "-c", str(source), "-o", str(obj)]
                       + (["-DCROTON_EMU_SECONDARY_UNIT"] if secondary else []),
                       check=True, capture_output=True)
        objects.append(str(obj))
    subprocess.run([discover().cxx, "-pthread", *objects, "-o", str(exe)], check=True,
                   capture_output=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "step: outputs and state match Python's\n"
