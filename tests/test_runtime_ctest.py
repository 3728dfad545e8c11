"""The C++ side under test without Python in the loop.

(a) The runtime headers' own C++ unit tests (``runtime/tests/test_*.cpp``): the top-level
    ``CMakeLists.txt`` is configured and built with the pip ``cmake`` and ``ninja`` into a
    temporary directory and run with ``ctest``, plain and with ``CROTON_SANITIZE=ON``.
(b) Generated code: a few graphs are rendered to C++, each translation unit is compiled
    warning-free (``-Wall -Wextra -Werror``) at croton's own optimization flags, and all of them
    are linked, under ``-fsanitize=address,undefined``, with ``runtime/tests/generated_driver.cpp``,
    a plain C++ caller of the C ABI. The driver runs each function on inputs written here (some
    transposed, reversed or strided; each in an exact-size block, so any stray access is caught)
    and its outputs are compared with NumPy.

A sanitizer that cannot run here fails these tests with its own message; nothing is skipped.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.pipeline import run_pipeline
from croton.codegen.render import render_function
from croton.config import config
from croton.fgraph import Graph
from croton.types import DTYPE_CODE, DTYPES

ROOT = Path(__file__).resolve().parent.parent
CPU_DIR = ROOT / "runtime" / "cpu"
DRIVER_SRC = ROOT / "runtime" / "tests" / "generated_driver.cpp"
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all"]
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
RUN_ENV = {
    **os.environ,
    "OPENBLAS_NUM_THREADS": "1",
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
ERR_SHAPE, ERR_ALLOC, ERR_TOO_BIG, ERR_ARGUMENT = 1, 2, 5, 7  # croton_status, runtime/cpu/abi.h


def _cxx() -> str:
    for candidate in (config.cxx, os.environ.get("CXX", ""), "g++", "c++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail("no C++ compiler (g++) found: these tests need one")


def _blas_library() -> Path:
    import scipy_openblas32

    return Path(scipy_openblas32.get_lib_dir()) / "libscipy_openblas.so"


def _run(cmd: list, what: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit status {proc.returncode})\n$ {' '.join(map(str, cmd))}"
                    f"\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n"
                    f"{proc.stderr[-6000:]}", pytrace=False)
    return proc


# --- (a) the runtime headers' C++ unit tests, through CMake and CTest --------------------------

@pytest.mark.parametrize("sanitize", ["OFF", "ON"], ids=["plain", "asan_ubsan"])
def test_ctest_runtime_headers(tmp_path, sanitize):
    import cmake
    import ninja

    cmake_exe = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
    ctest_exe = os.path.join(cmake.CMAKE_BIN_DIR, "ctest")
    build = tmp_path / "build"
    _run([cmake_exe, "-S", ROOT, "-B", build, "-G", "Ninja",
          f"-DCMAKE_MAKE_PROGRAM={os.path.join(ninja.BIN_DIR, 'ninja')}",
          f"-DCMAKE_CXX_COMPILER={_cxx()}", f"-DCROTON_BLAS_LIBRARY={_blas_library()}",
          f"-DCROTON_SANITIZE={sanitize}",
          # -O0 under the sanitizers: faster to build, and UBSan sees through no constant folding
          f"-DCMAKE_BUILD_TYPE={'Debug' if sanitize == 'ON' else 'RelWithDebInfo'}"],
         "cmake configure")
    _run([cmake_exe, "--build", build], "cmake --build")
    proc = _run([ctest_exe, "--output-on-failure"], "ctest", cwd=build)
    assert "100% tests passed" in proc.stdout, proc.stdout


# --- (b) generated code, called from C++ under the sanitizers --------------------------------

def _elementwise_case():
    """Broadcasting (a row, a vector), a fused chain, two outputs; int floor division and
    modulo with zero divisors and INT64_MIN // -1 (numpy's results, no UB)."""
    x, r, v = T.dmatrix("x"), T.drow("r"), T.dvector("v")
    a, b = T.lvector("a"), T.lvector("b")
    out0 = T.exp(x) * r + T.tanh(v) - 2 * x
    out1 = T.maximum(x, v) / (1 + abs(r))
    return [x, r, v, a, b], [out0, out1, a // b, a % b], []


def _reduce_case():
    """Reductions over axis 0 of a matrix: a sum and a max."""
    x = T.dmatrix("x")
    return [x], [T.sum(x, axis=0), T.max(x, axis=0)], []


def _dot_case():
    """BLAS through croton::matmul: matrix @ matrix and matrix @ vector."""
    A, B, v = T.dmatrix("A"), T.dmatrix("B"), T.dvector("v")
    return [A, B, v], [T.dot(A, B), T.dot(A, v)], []


def _train_case():
    """The seed's minimal training step: an output and an update of a shared variable."""
    x = T.fvector("x")
    target = T.fscalar("target")
    W = croton.shared(np.asarray([0.2, 0.7]), "W")
    y = (x * W).sum()
    cost = T.sqr(target - y)
    gradients = T.grad(cost, [W])
    return [x, target], [y], [(W, W - (0.1 * gradients[0]))]


def _overflow_case():
    """Shapes from values whose element or byte counts overflow int64 (issue 12): a reduction
    of zeros((k, j)) (scratch) and zeros((k, j)) itself (an output), and ones * 2 (fused)."""
    k, j = T.lscalar("k"), T.lscalar("j")
    return [k, j], [T.zeros((k, j)).sum(), T.zeros((k, j)), (T.ones((k, j)) * 2).sum()], []


def _grow_case():
    """An update whose shape changes every call: the new array comes from the caller's
    allocator (kind 1) and replaces the shared one."""
    s = croton.shared(np.asarray([1.0, 2.0]), "s")
    return [], [s.sum()], [(s, T.concatenate([s, s[:1] * 10]))]


CASES = {"elementwise": _elementwise_case, "reduce": _reduce_case, "dot": _dot_case,
         "train": _train_case, "overflow": _overflow_case, "grow": _grow_case}


@dataclass
class Rendered:
    name: str
    symbol: str
    source: Path
    n_shared: int


def _render(name: str, directory: Path) -> Rendered:
    inputs, outputs, updates = CASES[name]()
    low = lower(run_pipeline(Graph.make(inputs, outputs, updates)))
    path = directory / f"fn_{name}.cpp"
    path.write_text(render_function(low.plan))
    return Rendered(name, f"croton_fn_{name}", path, len(low.shared))


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_builds_warning_free(tmp_path, name):
    """Each TU, at croton's own optimization flags, with every warning an error."""
    fn = _render(name, tmp_path)
    _run([_cxx(), "-std=c++17", *config.optimization_flags.split(), *WARNINGS,
          f"-I{CPU_DIR}", f"-DCROTON_FUNCTION_SYMBOL={fn.symbol}", "-c", fn.source,
          "-o", tmp_path / "fn.o"], f"-Werror build of the generated {name!r} function")


def _build_driver(work: Path) -> Path:
    rendered = [_render(name, work) for name in sorted(CASES)]
    cxx = _cxx()
    # -O0: quick to build, and UBSan checks what constant folding would hide at -O1 and above
    # (the -Werror build at croton's own flags is test_generated_source_builds_warning_free)
    common = [cxx, "-std=c++17", "-O0", "-g", *WARNINGS, *SANITIZE, f"-I{CPU_DIR}"]
    jobs = [(common + [f"-DCROTON_FUNCTION_SYMBOL={fn.symbol}", "-c", fn.source,
                       "-o", work / f"{fn.name}.o"], f"sanitizer build of {fn.name!r}")
            for fn in rendered]
    listing = " ".join(f"X({fn.symbol})" for fn in rendered)
    jobs.append((common + [f"-DCROTON_DRIVER_FUNCTIONS={listing}", "-c", DRIVER_SRC,
                           "-o", work / "driver.o"], "sanitizer build of the driver"))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for future in [pool.submit(_run, cmd, what) for cmd, what in jobs]:
            future.result()
    blas = _blas_library()
    exe = work / "driver"
    _run([cxx, *SANITIZE, work / "driver.o", *[work / f"{fn.name}.o" for fn in rendered],
          "-o", exe, f"-L{blas.parent}", "-lscipy_openblas", f"-Wl,-rpath,{blas.parent}"],
         "linking the driver")
    return exe


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    """Every case's TU and the driver, compiled and linked under ASan + UBSan: built once per
    run, also under pytest-xdist, whose workers share this run's temporary root."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this run's directory, shared by its workers (not by other runs)
    work = root / "croton_generated_driver"
    with open(root / "croton_generated_driver.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker builds, the others wait and reuse it
        if (work / "driver").exists():
            return work / "driver"
        work.mkdir(exist_ok=True)
        return _build_driver(work)


def _write_array(out: list, a: np.ndarray) -> None:
    """A view as the driver reads it: strides in elements, and the smallest block holding it."""
    item = a.itemsize
    strides = [s // item for s in a.strides]
    lo = hi = 0
    if a.size:
        lo = sum(min(0, (n - 1) * s) for n, s in zip(a.shape, strides, strict=True))
        hi = sum(max(0, (n - 1) * s) for n, s in zip(a.shape, strides, strict=True))
        block = ctypes.string_at(a.__array_interface__["data"][0] + lo * item, (hi - lo + 1) * item)
    else:
        block = bytes(item)
    out.append(struct.pack(f"=ii{a.ndim}q{a.ndim}qqq", DTYPE_CODE[str(a.dtype)], a.ndim,
                           *a.shape, *strides, -lo, hi - lo + 1))
    out.append(block)


@dataclass
class Call:
    rc: int
    error: int
    check: int
    message: str
    outputs: list
    shared: list


def _read_arrays(data: bytes, pos: int) -> tuple[list, int]:
    (count,) = struct.unpack_from("=i", data, pos)
    pos += 4
    arrays = []
    for _ in range(count):
        dtype, ndim = struct.unpack_from("=ii", data, pos)
        pos += 8
        shape = struct.unpack_from(f"={ndim}q", data, pos)
        pos += 8 * ndim
        dt = np.dtype(DTYPES[dtype])
        n = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(data, dt, n, pos).reshape(shape).copy())
        pos += n * dt.itemsize
    return arrays, pos


def _call(exe: Path, tmp_path: Path, name: str, inputs: list, shared: list = (), calls: int = 1,
          fail_alloc_at: int = -1, device0: int = 1) -> list[Call]:
    """Run function ``name`` in the sanitized driver; one ``Call`` per call. ``device0``: the
    DLPack device type input 0 claims (1: the CPU)."""
    parts = [b"CROTONI1", struct.pack("=ii", len(inputs), len(shared))]
    for a in [*inputs, *shared]:
        _write_array(parts, np.asarray(a))
    tag = f"{name}_{len(list(tmp_path.glob('*.in')))}"
    src, dst = tmp_path / f"{tag}.in", tmp_path / f"{tag}.out"
    src.write_bytes(b"".join(parts))
    _run([exe, f"croton_fn_{name}", src, dst, calls, fail_alloc_at, device0],
         f"the sanitized driver on {name!r}", timeout=120, env=RUN_ENV)
    data = dst.read_bytes()
    assert data[:8] == b"CROTONO1"
    (n_calls,) = struct.unpack_from("=i", data, 8)
    pos, result = 12, []
    for _ in range(n_calls):
        rc, error, check, length = struct.unpack_from("=iiii", data, pos)
        pos += 16
        message = data[pos:pos + length].decode()
        outputs, pos = _read_arrays(data, pos + length)
        shared_after, pos = _read_arrays(data, pos)
        result.append(Call(rc, error, check, message, outputs, shared_after))
    assert pos == len(data)
    return result


def _assert_outputs(call: Call, expected: list) -> None:
    assert call.rc == 0, f"the call failed: error {call.error}, check {call.check}: {call.message}"
    assert len(call.outputs) == len(expected)
    for k, (got, want) in enumerate(zip(call.outputs, expected, strict=True)):
        want = np.asarray(want)
        assert got.dtype == want.dtype, f"output {k}: dtype {got.dtype}, expected {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0, err_msg=f"output {k}")


def test_elementwise_under_sanitizers(driver, tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 3))
    int_a = np.array([7, -7, 7, -7, 5, -5, 0, np.iinfo(np.int64).min, 9, -1], dtype=np.int64)
    int_b = np.array([2, 2, -2, -2, 0, 0, 0, -1, 3, 10 ** 12], dtype=np.int64)
    layouts = {
        "transposed": (base.T, rng.normal(size=(1, 8))[:, ::2], rng.normal(size=8)[::-2],
                       int_a[::-1].copy()[::-1], int_b),
        "contiguous": (np.ascontiguousarray(base.T), rng.normal(size=(1, 4)), rng.normal(size=4),
                       int_a, int_b),
        "reversed": (base.T[::-1, ::-1], rng.normal(size=(1, 4))[:, ::-1], rng.normal(size=4),
                     int_a[::-1], int_b[::-1]),
    }
    for label, (x, r, v, a, b) in layouts.items():
        assert label == "contiguous" or not x.flags.c_contiguous
        (call,) = _call(driver, tmp_path, "elementwise", [x, r, v, a, b])
        with np.errstate(all="ignore"):
            expected = [np.exp(x) * r + np.tanh(v) - 2 * x, np.maximum(x, v) / (1 + abs(r)),
                        np.floor_divide(a, b), np.remainder(a, b)]
        _assert_outputs(call, expected)
    # a broadcast mismatch is reported, not read out of bounds
    (call,) = _call(driver, tmp_path, "elementwise",
                    [base, rng.normal(size=(1, 4)), rng.normal(size=4), int_a, int_b])
    assert (call.rc, call.error) == (ERR_SHAPE, ERR_SHAPE)


def test_reduce_axis0_under_sanitizers(driver, tmp_path):
    base = np.random.default_rng(1).normal(size=(5, 3))
    for x in (base, base.T, base[::-1, ::-2], np.ones((1, 4))):
        (call,) = _call(driver, tmp_path, "reduce", [x])
        _assert_outputs(call, [x.sum(axis=0), x.max(axis=0)])
    # max over an empty axis has no identity: an error, as numpy's ValueError
    (call,) = _call(driver, tmp_path, "reduce", [np.zeros((0, 3))])
    assert (call.rc, call.error) == (ERR_SHAPE, ERR_SHAPE)


def test_dot_under_sanitizers(driver, tmp_path):
    rng = np.random.default_rng(2)
    A0, B0, v0 = rng.normal(size=(6, 5)), rng.normal(size=(5, 4)), rng.normal(size=10)
    big = rng.normal(size=(12, 10))
    cases = [
        (A0, B0, v0[:5]),                         # contiguous
        (big[::2, ::2], B0[::-1], v0[::2]),       # strided, reversed rows, strided vector
        (rng.normal(size=(5, 6)).T, rng.normal(size=(4, 5)).T, v0[:5][::-1]),  # transposed
        (A0[:, ::-1], B0[:, ::-1], v0[5:]),       # reversed columns
        (A0[:1], B0[:, :1], v0[:5]),              # a row times a column
        (np.zeros((3, 0)), np.zeros((0, 2)), np.zeros(0)),  # empty inner dimension: zeros
    ]
    for A, B, v in cases:
        (call,) = _call(driver, tmp_path, "dot", [A, B, v])
        _assert_outputs(call, [A @ B, A @ v])
    (call,) = _call(driver, tmp_path, "dot", [A0, B0[:3], v0[:5]])
    assert (call.rc, call.error) == (ERR_SHAPE, ERR_SHAPE)


def _train_reference(x: np.ndarray, target: float, W: np.ndarray, steps: int):
    W = W.astype(np.float64).copy()
    ys, Ws = [], []
    for _ in range(steps):
        y = float(np.sum(x.astype(np.float64) * W))
        W = W - 0.1 * (-2.0 * (np.float64(np.float32(target)) - y) * x.astype(np.float64))
        ys.append(y)
        Ws.append(W.copy())
    return ys, Ws


def test_training_step_under_sanitizers(driver, tmp_path):
    x = np.asarray([1.0, 1.0], dtype=np.float32)
    target = np.float32(20.0)
    W0 = np.asarray([0.2, 0.7])
    calls = _call(driver, tmp_path, "train", [x, target], [W0], calls=10)
    ys, Ws = _train_reference(x, 20.0, W0, 10)
    for call, y, W in zip(calls, ys, Ws, strict=True):
        _assert_outputs(call, [np.float64(y)])
        np.testing.assert_allclose(call.shared[0], W, rtol=1e-13)
    # the numbers the seed tutorial prints
    seed = [0.9, 8.54, 13.124, 15.8744, 17.52464, 18.514784, 19.1088704, 19.46532224,
            19.679193344, 19.8075160064]
    np.testing.assert_allclose([float(c.outputs[0]) for c in calls], seed, rtol=1e-9)

    # a strided x and a strided shared W, updated in place in its own storage
    xs = np.asarray([0.5, 9.0, -1.5, 9.0, 2.0, 9.0], dtype=np.float32)[::2]
    Ws0 = np.asarray([0.1, -7.0, 0.25, -7.0, 0.15, -7.0])[::2]
    calls = _call(driver, tmp_path, "train", [xs, np.float32(3.0)], [Ws0], calls=3)
    ys, Ws = _train_reference(xs, 3.0, Ws0, 3)
    for call, y, W in zip(calls, ys, Ws, strict=True):
        _assert_outputs(call, [np.float64(y)])
        np.testing.assert_allclose(call.shared[0], W, rtol=1e-13)

    # failures leave the shared variable untouched and leak nothing
    (call,) = _call(driver, tmp_path, "train", [np.ones(3, np.float32), target], [W0])
    assert (call.rc, call.error) == (ERR_SHAPE, ERR_SHAPE)
    np.testing.assert_array_equal(call.shared[0], W0)
    (call,) = _call(driver, tmp_path, "train", [x, target], [W0], fail_alloc_at=0)
    assert (call.rc, call.error) == (ERR_ALLOC, ERR_ALLOC)
    np.testing.assert_array_equal(call.shared[0], W0)


def test_overflowing_shapes_under_sanitizers(driver, tmp_path):
    """k * j elements (or their bytes) beyond int64: an error, no wrapped count, no write past a
    block (2**31 x 2**31 float64 wrapped to 0 bytes and segfaulted; 2**32 x 2**32 summed to 0)."""
    for n in (2**31, 2**32, 2**62):
        (call,) = _call(driver, tmp_path, "overflow", [np.int64(n), np.int64(n)])
        assert (call.rc, call.error) == (ERR_TOO_BIG, ERR_TOO_BIG), n
    (call,) = _call(driver, tmp_path, "overflow", [np.int64(3), np.int64(4)])
    _assert_outputs(call, [np.float64(0.0), np.zeros((3, 4)), np.float64(24.0)])


def test_a_c_caller_gets_the_whole_message(driver, tmp_path):
    """The check table travels with the function (issue 13): a C++ caller of the C ABI reads
    the op, the detail and the shapes in croton_error.message, with no Python in the process."""
    rng = np.random.default_rng(3)
    x, r = rng.normal(size=(4, 3)), rng.normal(size=(1, 4))
    ints = np.arange(10)
    (call,) = _call(driver, tmp_path, "elementwise", [x, r, rng.normal(size=4), ints, ints])
    assert (call.rc, call.error) == (ERR_SHAPE, ERR_SHAPE)
    assert call.message == ("shape mismatch in mul: input shapes (4, 3) and (1, 4) differ at "
                            "dimension 1, which is not declared broadcastable (the lengths come "
                            "from input 0 ('x') and input 1 ('r'))")
    (call,) = _call(driver, tmp_path, "dot", [np.ones((6, 5)), np.ones((3, 4)), np.ones(5)])
    assert call.message == ("shape mismatch in dot: shapes (6, 5) and (3, 4) are not aligned "
                            "(the lengths come from input 0 ('A') and input 1 ('B'))")
    (call,) = _call(driver, tmp_path, "reduce", [np.zeros((0, 3))])
    assert call.message == ("max{axis=(0,)}: zero-size array to a reduction with no identity, "
                            "input shape (0, 3) (the lengths come from input 0 ('x'))")
    (call,) = _call(driver, tmp_path, "overflow", [np.int64(2**62), np.int64(2**62)])
    assert call.message.startswith("array is too big: an array of shape (4611686018427387904, ")
    (call,) = _call(driver, tmp_path, "train", [np.ones(2, np.float32), np.float32(1)],
                    [np.zeros(2)], fail_alloc_at=0)
    assert (call.error, call.message) == (ERR_ALLOC, "out of memory")


def test_the_c_message_is_pythons_without_the_source_line(driver, tmp_path):
    """The same failure through croton.function says the same, plus where the op was built."""
    inputs, outputs, updates = _elementwise_case()
    f = croton.function(inputs, outputs, updates=updates)
    rng = np.random.default_rng(4)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(1, 4)), rng.normal(size=4),
            np.arange(10), np.arange(10)]
    with pytest.raises(ValueError) as info:
        f(*args)
    (call,) = _call(driver, tmp_path, "elementwise", args)
    python = str(info.value)
    assert " (built at " in python
    cut = python.split(" (built at ")[0] + python[python.index("):") + 1:]
    assert call.message == cut


def test_a_c_caller_on_another_device_is_refused(driver, tmp_path):
    """A DLTensor on a CUDA device: refused before anything runs, naming the argument."""
    A, B, v = np.ones((6, 5)), np.ones((5, 4)), np.ones(5)
    (call,) = _call(driver, tmp_path, "dot", [A, B, v], device0=2)
    assert (call.rc, call.error, call.check) == (ERR_ARGUMENT, ERR_ARGUMENT, -1)
    assert call.message == ("input 0 ('A') is on device cuda:0; this function runs on the CPU "
                            "only (DLPack kDLCPU): copy the array there first")
    (call,) = _call(driver, tmp_path, "dot", [A, B, v])
    _assert_outputs(call, [A @ B, A @ v])


def test_a_c_caller_swaps_in_a_resized_update(driver, tmp_path):
    calls = _call(driver, tmp_path, "grow", [], [np.asarray([1.0, 2.0])], calls=3)
    expected = [1.0, 2.0]
    for call in calls:
        _assert_outputs(call, [np.float64(sum(expected))])
        expected = expected + [expected[0] * 10]
        np.testing.assert_array_equal(call.shared[0], expected)


def test_the_abi_header_is_plain_c(tmp_path):
    """abi.h (with the vendored dlpack.h) compiles as C99, pedantic, every warning an error."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (gcc or cc) found")
    src = tmp_path / "abi_user.c"
    src.write_text('#include "abi.h"\n'
                   "int main(void) {\n"
                   "  croton_function fn = {0};\n"
                   "  croton_error err = {0};\n"
                   "  DLTensor t = {0};\n"
                   "  return fn.abi_version + err.code + t.ndim + (int)sizeof(croton_check);\n"
                   "}\n")
    _run([cc, "-std=c99", "-pedantic", *WARNINGS, f"-I{CPU_DIR}", "-c", src,
          "-o", tmp_path / "abi_user.o"], "compiling abi.h as C")
