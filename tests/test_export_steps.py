"""Function.export (issue 14), continued from test_export.py: the MLP training step, an RNN
(scan) step and random streams exported, each driven from a plain C program and compared bit
for bit with Python; the same MLP step linked against a system CBLAS; shape errors naming the
function's arguments.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_export import STEPS, _build, _cc, _ctest, _run, blas_env

import croton
import croton.tensor as T


def _mlp_step():
    rng = np.random.default_rng(0)
    X, Y = T.dmatrix("X"), T.dmatrix("Y")
    W1 = croton.shared(rng.normal(size=(3, 4)), "W1")
    b1 = croton.shared(np.zeros(4), "b1")
    W2 = croton.shared(rng.normal(size=(4, 2)), "W2")
    out = T.dot(T.tanh(T.dot(X, W1) + b1), W2)
    params = [W1, b1, W2]
    grads = T.grad(T.mean(T.sqr(out - Y)), params)
    f = croton.function([X, Y], T.mean(T.sqr(out - Y)),
                        updates=[(p, p - 0.1 * g) for p, g in zip(params, grads, strict=True)])
    return f, [rng.normal(size=(5, 3)), rng.normal(size=(5, 2))]


def _rnn_step():
    rng = np.random.default_rng(1)
    xs, h0 = T.dmatrix("xs"), T.dvector("h0")
    Wr = croton.shared(rng.normal(size=(3, 3)) * 0.5, "Wr")
    hs, _ = croton.scan(lambda x, h: T.tanh(x + T.dot(Wr, h)), sequences=[xs],
                        outputs_info=[h0])
    cost = T.sqr(hs[-1]).sum()
    f = croton.function([xs, h0], [cost, hs], updates=[(Wr, Wr - 0.05 * T.grad(cost, Wr))])
    return f, [rng.normal(size=(4, 3)), np.zeros(3)]


def _random_step():
    """A random stream: its generator state is a shared variable, so part of the state."""
    from croton.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=3)
    x = T.dvector("x")
    f = croton.function([x], [x + srng.normal(x.shape), srng.uniform((2,))])
    assert any(s.type.dtype == "uint64" for s in f._shared)
    return f, [np.arange(3.0)]


STEP_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "step.h"

/* usage: driver CALLS IN OUT. IN holds, for each call, each input: uint8 DLPack dtype code,
 * uint8 bits, int32 ndim, int64 shape[ndim], the bytes (C order). OUT gets, for each call,
 * each output, then each state variable after the last call: int32 ndim, int64 shape[ndim],
 * int64 byte count, the bytes. A plain C program over step.h's C API. */
static int put(FILE* f, const DLTensor* t) {
  int64_t n = (t->dtype.bits + 7) / 8;
  for (int32_t d = 0; d < t->ndim; ++d) n *= t->shape[d];
  return fwrite(&t->ndim, 4, 1, f) != 1 ||
         fwrite(t->shape, 8, (size_t)t->ndim, f) != (size_t)t->ndim ||
         fwrite(&n, 8, 1, f) != 1 || fwrite(t->data, 1, (size_t)n, f) != (size_t)n;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  int calls = atoi(argv[1]);
  FILE* in = fopen(argv[2], "rb");
  FILE* out = fopen(argv[3], "wb");
  step_context* ctx = step_create();
  if (in == NULL || out == NULL || ctx == NULL) return 3;
  for (int c = 0; c < calls; ++c) {
    DLTensor args[STEP_N_INPUTS];
    int64_t shapes[STEP_N_INPUTS][8];
    void* data[STEP_N_INPUTS];
    for (int i = 0; i < STEP_N_INPUTS; ++i) {
      uint8_t code, bits;
      int32_t ndim;
      if (fread(&code, 1, 1, in) != 1 || fread(&bits, 1, 1, in) != 1 ||
          fread(&ndim, 4, 1, in) != 1 || ndim < 0 || ndim > 8 ||
          fread(shapes[i], 8, (size_t)ndim, in) != (size_t)ndim)
        return 4;
      int64_t n = (bits + 7) / 8;
      for (int32_t d = 0; d < ndim; ++d) n *= shapes[i][d];
      data[i] = malloc((size_t)(n ? n : 1));
      if (data[i] == NULL || fread(data[i], 1, (size_t)n, in) != (size_t)n) return 5;
      DLTensor t = {data[i], {kDLCPU, 0}, ndim, {code, bits, 1}, shapes[i], NULL, 0};
      args[i] = t;
    }
    DLTensor results[STEP_N_OUTPUTS];
    if (step_run(ctx, args, STEP_N_INPUTS, results, STEP_N_OUTPUTS) != 0) {
      fprintf(stderr, "call %d: %s\n", c, step_last_error(ctx));
      return 6;
    }
    for (int k = 0; k < STEP_N_OUTPUTS; ++k)
      if (put(out, &results[k])) return 7;
    for (int i = 0; i < STEP_N_INPUTS; ++i) free(data[i]);
  }
  for (int32_t i = 0; step_state_name(i) != NULL; ++i) {
    DLTensor value;
    if (step_state_get(ctx, step_state_name(i), &value) != 0 || put(out, &value)) return 8;
  }
  step_destroy(ctx);
  return fclose(out) != 0 || fclose(in) != 0;
}
"""


def _write_inputs(path: Path, calls: list[list[np.ndarray]]) -> None:
    """STEP_DRIVER's input file."""
    from croton.build_tools.export import _DL_CODE

    parts = []
    for values in calls:
        for v in values:
            a = np.array(v, order="C")
            parts += [np.uint8(_DL_CODE[a.dtype.kind]).tobytes(),
                      np.uint8(a.itemsize * 8).tobytes(), np.int32(a.ndim).tobytes(),
                      np.asarray(a.shape, np.int64).tobytes(), a.tobytes()]
    path.write_bytes(b"".join(parts))


def _read_results(path: Path, dtypes: list[np.dtype]) -> list[np.ndarray]:
    """STEP_DRIVER's output file, read as arrays of ``dtypes`` (one per array, in order)."""
    data, at, arrays = path.read_bytes(), 0, []
    for dtype in dtypes:
        ndim = int(np.frombuffer(data, np.int32, 1, at)[0])
        shape = tuple(np.frombuffer(data, np.int64, ndim, at + 4))
        at += 4 + 8 * ndim
        n = int(np.frombuffer(data, np.int64, 1, at)[0])
        arrays.append(np.frombuffer(data[at + 8:at + 8 + n], dtype).reshape(shape))
        at += 8 + n
    assert at == len(data), "the driver wrote more than expected"
    return arrays


@pytest.mark.parametrize("make", [_mlp_step, _rnn_step, _random_step],
                         ids=["mlp", "rnn_scan", "random_streams"])
def test_exported_training_steps_reproduce_python(tmp_path, make):
    """The MLP training step (BLAS), an RNN step (scan, its gradient), random streams: the
    CTest test recorded at export time (10 calls, every output of the last and the state after
    them, the generators' included) passes."""
    f, inputs = make()
    before = [s.get_value().copy() for s in f._shared]
    project = f.export(tmp_path / "lib", name="step", example_inputs=inputs, check_calls=10)
    for s, value in zip(f._shared, before, strict=True):  # recorded on a copy
        np.testing.assert_array_equal(s.get_value(), value)
    build = tmp_path / "build"
    _build(project, build, "-DSTEP_BUILD_EXAMPLE=OFF")
    proc = _ctest(build)
    assert "100% tests passed" in proc.stdout, proc.stdout

    # a plain C driver: 10 calls on other inputs each (the batch dimension varying), every
    # output of every call and the state after them, against the Python function's
    rng = np.random.default_rng(7)
    calls = []
    for k in range(STEPS):
        calls.append([(rng.normal(size=(v.shape[0] + k % 3,) + v.shape[1:]) if v.ndim == 2
                       else rng.normal(size=v.shape)).astype(v.dtype) for v in inputs])
    driver = tmp_path / "driver.c"
    driver.write_text(STEP_DRIVER)
    exe = tmp_path / "driver"
    _run([_cc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-x", "c", driver,
          f"-I{project / 'include'}", f"-L{build}", "-lstep", f"-Wl,-rpath,{build}", "-o", exe],
         "building the C driver")
    _write_inputs(tmp_path / "in.bin", calls)
    _run([exe, STEPS, tmp_path / "in.bin", tmp_path / "out.bin"], "the C driver",
         env=blas_env())
    expected = []
    for values in calls:
        results = f(*values)
        expected += [np.asarray(r) for r in (results if isinstance(results, list) else [results])]
    expected += [s.get_value() for s in f._shared]
    got = _read_results(tmp_path / "out.bin", [e.dtype for e in expected])
    # the export builds the same translation unit with the same flags and BLAS as the Python
    # module (the toolchain's flags, scipy-openblas): the very same bits
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g.shape == e.shape, (k, g.shape, e.shape)
        assert g.tobytes() == e.tobytes(), (k, g, e)


def test_shape_errors_name_the_arguments():
    """A failed shape check names the function's arguments whose lengths it compared, traced
    through the plan's shapes (a scratch buffer's length is an input's), into a scan's step:
    the Python callable says it, and the check table carries it to exported libraries."""
    f, (X, Y) = _mlp_step()
    with pytest.raises(ValueError, match=r"shape mismatch in dot \(built at .*\): shapes "
                                         r"\(5, 4\) and \(3, 4\) are not aligned \(the lengths "
                                         r"come from input 0 \('X'\) and shared variable 0 "
                                         r"\('W1'\)\)$"):
        f(np.ones((5, 4)), Y)
    with pytest.raises(ValueError, match=r"differ at dimension 0, which is not declared "
                                         r"broadcastable \(the lengths come from input 0 \('X'\) "
                                         r"and input 1 \('Y'\)\)$"):
        f(X, np.ones((4, 2)))
    table = f.source[f.source.index("kChecks[]"):]
    assert "\"input 0 ('X') and shared variable 0 ('W1')\"" in table, table[:600]
    g, (xs, h0) = _rnn_step()
    # h0 of length 4: the step's dot(Wr, h) fails inside the scan; h is a row of the state
    # store, whose rows are h0's length
    with pytest.raises(ValueError, match=r"not aligned \(the lengths come from input 1 \('h0'\) "
                                         r"and shared variable 0 \('Wr'\)\)$"):
        g(xs, np.ones(4))
    with pytest.raises(ValueError, match=r"\(the lengths come from input 0 \('xs'\) and shared "
                                         r"variable 0 \('Wr'\)\)$"):
        g(np.ones((4, 2)), h0)


def test_export_links_a_system_cblas(tmp_path):
    """``-DCROTON_BLAS_LIBRARY=`` (empty): the export finds a system BLAS with
    ``find_package(BLAS)`` and calls its unprefixed ``cblas_*`` (Debian's libopenblas-dev,
    which ``.ci/run`` installs), not scipy-openblas; the MLP step's 10 calls and final state
    agree with Python's within 1e-6 relative (another BLAS: not the same bits)."""
    import ctypes.util

    if not (ctypes.util.find_library("openblas") or ctypes.util.find_library("blas")):
        # a machine with only Python and a compiler has none: the README's test command passes
        # there; CI installs one and requires this test to run (CROTON_REQUIRE_SYSTEM_BLAS=1)
        message = ("no system CBLAS for CMake's find_package(BLAS) (Debian/Ubuntu: apt-get "
                   "install libopenblas-dev, as .ci/run does)")
        if os.environ.get("CROTON_REQUIRE_SYSTEM_BLAS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    f, inputs = _mlp_step()
    project = f.export(tmp_path / "lib", name="step", example_inputs=inputs, check_calls=10)
    build = tmp_path / "build"
    _build(project, build, "-DSTEP_BUILD_EXAMPLE=OFF", "-DCROTON_BLAS_LIBRARY=")
    libraries = _run(["ldd", build / "libstep.so"], "ldd").stdout
    assert "scipy_openblas" not in libraries and "blas" in libraries, libraries
    undefined = _run(["nm", "-D", "--undefined-only", build / "libstep.so"], "nm").stdout.split()
    assert "cblas_dgemm" in undefined and not any("scipy_" in s for s in undefined), undefined
    assert "100% tests passed" in _ctest(build).stdout  # the recorded check, within 1e-6

    rng = np.random.default_rng(8)
    calls = [[rng.normal(size=(5 + k % 3, 3)), rng.normal(size=(5 + k % 3, 2))]
             for k in range(STEPS)]
    driver = tmp_path / "driver.c"
    driver.write_text(STEP_DRIVER)
    exe = tmp_path / "driver"
    _run([_cc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-x", "c", driver,
          f"-I{project / 'include'}", f"-L{build}", "-lstep", f"-Wl,-rpath,{build}", "-o", exe],
         "building the C driver")
    _write_inputs(tmp_path / "in.bin", calls)
    _run([exe, STEPS, tmp_path / "in.bin", tmp_path / "out.bin"], "the C driver")
    expected = [np.asarray(f(*values)) for values in calls] + [s.get_value() for s in f._shared]
    got = _read_results(tmp_path / "out.bin", [e.dtype for e in expected])
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-12)


def test_shape_errors_name_the_arguments_through_scalar_rows():
    """A scan over a vector: its step's inputs are 0-d rows (and a random stream's draws in a
    step read 0-d values): the lengths still trace to the function's arguments, and naming
    never breaks a compile (tests/test_random_scan.py's dropout step crashed it once)."""
    xs, h0 = T.dvector("xs"), T.dvector("h0")
    Wv = croton.shared(np.ones(3), "Wv")
    hs, _ = croton.scan(lambda a, h: h * Wv + a, sequences=[xs], outputs_info=[h0])
    f = croton.function([xs, h0], hs)
    np.testing.assert_array_equal(f(np.arange(2.0), np.zeros(3))[-1], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"mul inside scan.*\(the lengths come from input 1 "
                                         r"\('h0'\) and shared variable 0 \('Wv'\)\)$"):
        f(np.arange(2.0), np.zeros(4))
