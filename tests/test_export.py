"""Function.export (issue 14): the seed training function as a standalone C library.

The exported CMake project is configured and built with the pip ``cmake`` and ``ninja`` in a
temporary directory; a plain C driver (compiled as C) links it, runs 10 training steps and the
error path through the C API, and its results are compared with the Python function's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.config import config

STEPS = 10
ERR_SHAPE, ERR_ARGUMENT = 1, 7  # croton_status, runtime/cpu/abi.h

DRIVER = r"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "train_step.h"

static const float XS[%(steps)d][2] = {%(xs)s};
static const float TS[%(steps)d] = {%(ts)s};

static int print_w(train_step_context* ctx, const char* label) {
  DLTensor w;
  if (train_step_state_get(ctx, "W", &w) != 0) return 1;
  if (w.dtype.code != kDLFloat || w.dtype.bits != 64 || w.ndim != 1) return 1;
  printf("%%s", label);
  for (int64_t i = 0; i < w.shape[0]; ++i) printf(" %%a", ((const double*)w.data)[i]);
  printf("\n");
  return 0;
}

/* 10 steps in a context of its own; the final W in *arg (two doubles) */
static void* train_alone(void* arg) {
  double* w_out = (double*)arg;
  train_step_context* ctx = train_step_create();
  int64_t xshape[1] = {2};
  w_out[0] = w_out[1] = -1.0;
  if (ctx == NULL) return NULL;
  for (int s = 0; s < %(steps)d; ++s) {
    DLTensor in[2] = {
        {(void*)XS[s], {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xshape, NULL, 0},
        {(void*)&TS[s], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
    DLTensor out[1];
    if (train_step_run(ctx, in, 2, out, 1) != 0) {
      train_step_destroy(ctx);
      return NULL;
    }
  }
  DLTensor w;
  if (train_step_state_get(ctx, "W", &w) == 0)
    memcpy(w_out, w.data, 2 * sizeof(double));
  train_step_destroy(ctx);
  return NULL;
}

int main(void) {
  /* 8 threads, 8 contexts, at once: each must end where one context alone ends */
  double alone[2], together[8][2];
  pthread_t threads[8];
  train_alone(alone);
  for (int i = 0; i < 8; ++i) pthread_create(&threads[i], NULL, train_alone, together[i]);
  for (int i = 0; i < 8; ++i) pthread_join(threads[i], NULL);
  int same = 1;
  for (int i = 0; i < 8; ++i)
    same = same && memcmp(together[i], alone, sizeof alone) == 0;
  printf("threads %%s\n", same ? "same" : "differ");
  if (train_step_abi_version() != TRAIN_STEP_ABI_VERSION) return 4;
  train_step_context* ctx = train_step_create();
  if (ctx == NULL) return 5;
  if (train_step_state_get(ctx, "nope", &(DLTensor){0}) == 0) return 6;
  printf("unknown %%s\n", train_step_last_error(ctx));
  int64_t xshape[1] = {2};
  for (int s = 0; s < %(steps)d; ++s) {
    DLTensor in[2] = {
        {(void*)XS[s], {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xshape, NULL, 0},
        {(void*)&TS[s], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
    DLTensor out[1];
    int rc = train_step_run(ctx, in, 2, out, 1);
    if (rc != 0) {
      fprintf(stderr, "%%s\n", train_step_last_error(ctx));
      return 7;
    }
    if (out[0].dtype.code != kDLFloat || out[0].dtype.bits != 64 || out[0].ndim != 0) return 8;
    printf("y %%a\n", *(const double*)out[0].data);
  }
  if (print_w(ctx, "W")) return 9;
  /* the error path: x with 3 elements (shape), x as a matrix (ndim) */
  float bad[3] = {1, 2, 3};
  int64_t bad_shape[2] = {3, 1};
  DLTensor out[1];
  DLTensor in3[2] = {{bad, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, bad_shape, NULL, 0},
                     {(void*)&TS[0], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
  printf("shape_rc %%d\n", train_step_run(ctx, in3, 2, out, 1));
  printf("shape_error %%s\n", train_step_last_error(ctx));
  if (print_w(ctx, "W_after_shape_error")) return 9;
  DLTensor in2d[2] = {{bad, {kDLCPU, 0}, 2, {kDLFloat, 32, 1}, bad_shape, NULL, 0},
                      {(void*)&TS[0], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
  printf("ndim_rc %%d\n", train_step_run(ctx, in2d, 2, out, 1));
  printf("ndim_error %%s\n", train_step_last_error(ctx));
  if (print_w(ctx, "W_after_ndim_error")) return 9;
  double wide[2] = {1, 2};
  DLTensor inf64[2] = {{wide, {kDLCPU, 0}, 1, {kDLFloat, 64, 1}, xshape, NULL, 0},
                       {(void*)&TS[0], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
  printf("dtype_rc %%d\n", train_step_run(ctx, inf64, 2, out, 1));
  printf("dtype_error %%s\n", train_step_last_error(ctx));
  if (print_w(ctx, "W_after_dtype_error")) return 9;
  /* state_set, then one more step from the new W */
  double w2[2] = {1.0, -2.0};
  int64_t wshape[1] = {2};
  DLTensor wt = {w2, {kDLCPU, 0}, 1, {kDLFloat, 64, 1}, wshape, NULL, 0};
  if (train_step_state_set(ctx, "W", &wt) != 0) return 10;
  DLTensor in[2] = {{(void*)XS[0], {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xshape, NULL, 0},
                    {(void*)&TS[0], {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
  if (train_step_run(ctx, in, 2, out, 1) != 0) return 11;
  printf("y_after_set %%a\n", *(const double*)out[0].data);
  if (print_w(ctx, "W_after_set")) return 9;
  train_step_destroy(ctx);
  return 0;
}
"""


def _run(cmd: list, what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300,
                          **kwargs)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit status {proc.returncode})\n$ {' '.join(map(str, cmd))}"
                    f"\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n"
                    f"{proc.stderr[-6000:]}", pytrace=False)
    return proc


def blas_env() -> dict:
    """The environment for a program linking an exported function that must reproduce the
    Python function's bits: OpenBLAS's kernels as croton chose them (toolchain.croton_coretype;
    a program started without it gets OpenBLAS's own choice)."""
    from croton.build_tools.toolchain import croton_coretype

    env = dict(os.environ)
    if not env.get("OPENBLAS_CORETYPE") and croton_coretype():
        env["OPENBLAS_CORETYPE"] = croton_coretype()
    return env


def _cc() -> str:
    for candidate in (os.environ.get("CC", ""), "gcc", "cc"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail("no C compiler (gcc) found: this test needs one")


def _cxx() -> str:
    for candidate in (config.cxx, os.environ.get("CXX", ""), "g++", "c++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail("no C++ compiler (g++) found: this test needs one")


def _seed_function():
    x = T.fvector("x")
    target = T.fscalar("target")
    W = croton.shared(np.asarray([0.2, 0.7]), "W")
    y = (x * W).sum()
    cost = T.sqr(target - y)
    gradients = T.grad(cost, [W])
    return croton.function([x, target], y, updates=[(W, W - (0.1 * gradients[0]))]), W


def _build(project: Path, build: Path, *options: str) -> None:
    import cmake
    import ninja

    cmake_exe = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
    _run([cmake_exe, "-S", project, "-B", build, "-G", "Ninja",
          f"-DCMAKE_MAKE_PROGRAM={os.path.join(ninja.BIN_DIR, 'ninja')}",
          f"-DCMAKE_CXX_COMPILER={_cxx()}", f"-DCMAKE_C_COMPILER={_cc()}", *options],
         "cmake configure")
    _run([cmake_exe, "--build", build], "cmake --build")


def _ctest(build: Path, check: bool = True) -> subprocess.CompletedProcess:
    import cmake

    ctest = [os.path.join(cmake.CMAKE_BIN_DIR, "ctest"), "--output-on-failure"]
    if check:
        return _run(ctest, "ctest", cwd=build)
    return subprocess.run(ctest, cwd=build, capture_output=True, text=True, timeout=120)


def _hex(value: float) -> str:
    return float(np.float32(value)).hex() + "f"


@pytest.fixture(scope="module")
def seed_export(tmp_path_factory) -> tuple[Path, Path]:
    """The seed training function exported with its state in a file (train_step.state) and
    built once, shared by the tests of this module that drive it: (project, build)."""
    f, _ = _seed_function()
    root = tmp_path_factory.mktemp("seed_export")
    project = f.export(root / "lib", name="train_step", state="file",
                       example_inputs=[np.float32([1, 2]), np.float32(3)])
    _build(project, root / "build")
    return project, root / "build"


def test_export_seed_training_function(tmp_path, seed_export):
    f, W = _seed_function()  # the same graph and initial W as seed_export's
    project, build = seed_export
    for path in ("include/train_step.h", "include/dlpack.h", "src/train_step.cpp",
                 "src/train_step_function.cpp", "src/train_step_kernels.cpp",
                 "src/runtime/abi.h", "CMakeLists.txt", "example/main.cpp", "README.md",
                 "train_step.state"):
        assert (project / path).is_file(), path
    # the same translation unit as the Python module, and no Python in it
    assert (project / "src/train_step_function.cpp").read_text() == f.source
    assert "Python.h" not in f.source
    # the CTest test recorded at export time (the Python outputs and state after one call)
    assert "100% tests passed" in _ctest(build).stdout
    example = _run([build / "train_step_example"], "the exported example").stdout
    assert "output 0: ndim 0, shape ()" in example, example

    # no Python linked; the only C symbols it exports are its API's (the function's table too
    # is hidden: two exported functions link into one binary)
    library = build / "libtrain_step.so"
    assert "libpython" not in _run(["ldd", library], "ldd").stdout.lower()
    symbols = _run(["nm", "-D", "--defined-only", library], "nm").stdout.split()
    c_symbols = {s for s in symbols[2::3] if not s.startswith("_Z")}
    assert c_symbols and all(s.startswith("train_step_") for s in c_symbols), c_symbols
    assert "train_step_croton_function" not in c_symbols

    rng = np.random.default_rng(14)
    xs = rng.uniform(-1, 1, (STEPS, 2)).astype(np.float32)
    ts = rng.uniform(0, 2, STEPS).astype(np.float32)
    driver = tmp_path / "driver.c"
    driver.write_text(DRIVER % {
        "steps": STEPS, "xs": ", ".join(f"{{{_hex(a)}, {_hex(b)}}}" for a, b in xs),
        "ts": ", ".join(_hex(t) for t in ts)})
    exe = tmp_path / "driver"
    _run([_cc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-x", "c", driver,
          f"-I{project / 'include'}", f"-L{build}", "-ltrain_step", f"-Wl,-rpath,{build}",
          "-pthread", "-o", exe], "building the C driver")
    printed = _run([exe], "the C driver", env=blas_env()).stdout.splitlines()
    lines = dict(line.split(" ", 1) for line in printed if not line.startswith("y "))
    ys = [float.fromhex(line.split()[1]) for line in printed if line.startswith("y ")]
    assert len(ys) == STEPS

    # Python: the same 10 steps from the same initial W (the values at export time)
    # (the same translation unit, flags and BLAS as the Python module: the same bits)
    expected_y = [float(f(x, t)) for x, t in zip(xs, ts, strict=True)]
    assert ys == expected_y
    w_final = [float.fromhex(v) for v in lines["W"].split()]
    assert w_final == list(W.get_value())
    assert not np.allclose(w_final, [0.2, 0.7])  # the updates were committed

    assert lines["threads"] == "same"  # 8 contexts in 8 threads at once
    assert "no state variable named 'nope'" in lines["unknown"]
    # a wrong shape: the op, the shapes and the arguments they come from (the Python callable's
    # message less its source line), nonzero, no state change
    assert int(lines["shape_rc"]) == ERR_SHAPE
    with pytest.raises(ValueError) as python_error:
        f(np.float32([1, 2, 3]), ts[0])
    assert lines["shape_error"] == "train_step: " + re.sub(r" \(built at [^)]*\)", "",
                                                            str(python_error.value))
    assert lines["shape_error"] == (
        "train_step: shape mismatch in mul: input shapes (3,) and (2,) differ at dimension 0, "
        "which is not declared broadcastable (the lengths come from input 0 ('x') and shared "
        "variable 0 ('W'))"), lines["shape_error"]
    assert lines["W_after_shape_error"] == lines["W"]
    # a wrong rank or dtype: the argument named, nonzero, no state change
    assert int(lines["ndim_rc"]) == ERR_ARGUMENT
    assert lines["ndim_error"] == "train_step: input 0 ('x') has 2 dimensions, expected 1"
    assert lines["W_after_ndim_error"] == lines["W"]
    assert int(lines["dtype_rc"]) == ERR_ARGUMENT
    assert lines["dtype_error"].startswith("train_step: input 0 ('x') has dtype float64"), \
        lines["dtype_error"]
    assert lines["W_after_dtype_error"] == lines["W"]

    # state_set: the next step runs from the new W, as Python does
    W.set_value(np.asarray([1.0, -2.0]))
    y_set = float(f(xs[0], ts[0]))
    np.testing.assert_allclose(float.fromhex(lines["y_after_set"]), y_set, rtol=1e-6)
    np.testing.assert_allclose([float.fromhex(v) for v in lines["W_after_set"].split()],
                               W.get_value(), rtol=1e-6)


def test_export_rejects_a_bad_name(tmp_path):
    f, _ = _seed_function()
    with pytest.raises(ValueError, match="not a C identifier"):
        f.export(tmp_path / "lib", name="train-step")


FILE_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "train_step.h"

/* Whether a file named `path` is mapped into this process (Linux's /proc/self/maps). */
static int mapped(const char* path) {
  char line[4096];
  int found = 0;
  FILE* maps = fopen("/proc/self/maps", "r");
  if (maps == NULL || path == NULL) return -1;
  while (fgets(line, sizeof line, maps) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    size_t n = strlen(line), m = strlen(path);
    found = found || (n >= m && strcmp(line + n - m, path) == 0);
  }
  fclose(maps);
  return found;
}

/* usage: driver STATE|- [SAVE_TO]: one step on fixed inputs, then y and W */
int main(int argc, char** argv) {
  char error[512] = "";
  const char* path = strcmp(argv[1], "-") == 0 ? train_step_default_state_path() : argv[1];
  printf("default %s\n", train_step_default_state_path());
  train_step_context* ctx = strcmp(argv[1], "-") == 0
                               ? train_step_create()
                               : train_step_create_from_file(argv[1], error, sizeof error);
  if (ctx == NULL) {
    printf("error %s\n", error);
    return 0;
  }
  printf("mapped %d\n", mapped(path));
  float x[2] = {0.5f, -1.25f}, t = 2.0f;
  int64_t xshape[1] = {2};
  DLTensor in[2] = {{x, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xshape, NULL, 0},
                    {&t, {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, NULL, NULL, 0}};
  DLTensor out[1], w;
  if (train_step_run(ctx, in, 2, out, 1) != 0) return 3;
  printf("y %a\n", *(const double*)out[0].data);
  if (train_step_state_get(ctx, "W", &w) != 0) return 4;
  printf("W %a %a\n", ((const double*)w.data)[0], ((const double*)w.data)[1]);
  if (argc > 2 && train_step_state_save(ctx, argv[2]) != 0) return 5;
  train_step_destroy(ctx);
  return 0;
}
"""


def test_export_state_file(tmp_path, seed_export):
    """state='file': the state file is mapped at create time; a new file changes the results
    without rebuilding; a file from another export is refused, saying what differs."""
    from croton.build_tools.export import write_state_file

    f, W = _seed_function()  # the same graph and initial W as seed_export's
    project, build = seed_export
    driver = tmp_path / "driver.c"
    driver.write_text(FILE_DRIVER)
    exe = tmp_path / "driver"
    _run([_cc(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-x", "c", driver,
          f"-I{project / 'include'}", f"-L{build}", "-ltrain_step", f"-Wl,-rpath,{build}",
          "-o", exe], "building the C driver")
    x, t = np.float32([0.5, -1.25]), np.float32(2.0)

    def run(*args, **kwargs) -> dict:
        printed = _run([exe, *args], "the C driver", **kwargs).stdout.splitlines()
        return dict(line.split(" ", 1) for line in printed)

    def values(text: str) -> list[float]:
        return [float.fromhex(v) for v in text.split()]

    # the state at export time, by the default file (the project's: not installed), mapped at
    # create time; the state after the step saved
    first = run("-", tmp_path / "saved.state")
    assert first["default"] == str(project / "train_step.state")
    assert first["mapped"] == "1"
    assert values(first["y"]) == [float(f(x, t))]
    assert values(first["W"]) == list(W.get_value())
    # the saved state continues where the first run stopped; the file is mapped, and the
    # step's in-place update of W never reaches it (copy-on-write)
    saved = (tmp_path / "saved.state").read_bytes()
    second = run(tmp_path / "saved.state")
    assert second["mapped"] == "1"
    assert (tmp_path / "saved.state").read_bytes() == saved
    assert values(second["y"]) == [float(f(x, t))]
    assert values(second["W"]) == list(W.get_value())
    # the fallback where the file cannot be mapped (a pipe): read, the same results
    with open(tmp_path / "saved.state", "rb") as source:
        piped = subprocess.run(f"cat | '{exe}' /dev/stdin", shell=True, stdin=source,
                               capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    piped = dict(line.split(" ", 1) for line in piped.stdout.splitlines())
    assert piped["mapped"] == "0", piped
    assert (piped["y"], piped["W"]) == (second["y"], second["W"])
    # saved over the very file it mapped (renamed over it: the mapping keeps its bytes)
    assert run(tmp_path / "saved.state", tmp_path / "saved.state")["y"] == second["y"]
    assert values(run(tmp_path / "saved.state")["y"]) == [float(f(x, t))]
    # a new state file, no rebuild
    abi = int(re.search(r"#define CROTON_ABI_VERSION (\d+)",
                        (project / "src/runtime/abi.h").read_text()).group(1))
    write_state_file(tmp_path / "new.state", ["W"], [np.asarray([1.0, -2.0])], abi)
    W.set_value(np.asarray([1.0, -2.0]))
    third = run(tmp_path / "new.state")
    assert values(third["y"]) == [float(f(x, t))]
    assert values(third["W"]) == list(W.get_value())
    # state files from other exports are refused
    write_state_file(tmp_path / "names.state", ["V"], [np.asarray([1.0, -2.0])], abi)
    assert "named 'V', this library's is 'W'" in run(tmp_path / "names.state")["error"]
    write_state_file(tmp_path / "dtype.state", ["W"], [np.float32([1.0, -2.0])], abi)
    assert "32 bits" in run(tmp_path / "dtype.state")["error"]
    write_state_file(tmp_path / "abi.state", ["W"], [np.asarray([1.0, -2.0])], abi + 1)
    assert f"ABI {abi + 1}" in run(tmp_path / "abi.state")["error"]
    assert "cannot open" in run(tmp_path / "missing.state")["error"]
    # the recorded CTest test passes with the exported state and fails with another one
    assert "100% tests passed" in _ctest(build).stdout
    exported = (project / "train_step.state").read_bytes()
    write_state_file(project / "train_step.state", ["W"], [np.asarray([1.0, -2.0])], abi)
    try:
        failed = _ctest(build, check=False)
    finally:
        (project / "train_step.state").write_bytes(exported)  # seed_export is shared
    assert failed.returncode != 0 and "differs from Python's" in failed.stdout, failed.stdout


def test_cli_export(tmp_path):
    """``croton export MODULE:ATTR DIR``, and its errors."""
    (tmp_path / "seed_mod.py").write_text(
        "import numpy as np, croton, croton.tensor as T\n"
        "x = T.dvector('x')\n"
        "W = croton.shared(np.asarray([0.25, 0.5]), 'W')\n"
        "f = croton.function([x], (x * W).sum(), updates=[(W, W * 2)])\n"
        "not_a_function = 3\n")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH",
                                                                                    "")])}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "croton", "export", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    done = cli("seed_mod:f", "out", "--name", "cli_step", "--state", "file")
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "out" / "include" / "cli_step.h").read_text()
    assert "cli_step_run" in header and "cli_step_state_load" in header
    assert (tmp_path / "out" / "cli_step.state").is_file()
    bad = cli("seed_mod:not_a_function", "out2")
    assert bad.returncode == 2 and "not a compiled croton function" in bad.stderr
    assert "has no attribute 'g'" in cli("seed_mod:g", "out3").stderr
    assert "expected MODULE:ATTR" in cli("seed_mod", "out4").stderr
    assert "not a C identifier" in cli("seed_mod:f", "out5", "--name", "1x").stderr


CONSUMER_CMAKE = """cmake_minimum_required(VERSION 3.18)
project(consumer CXX)
find_package(lib_a 1.0 REQUIRED)
find_package(lib_b 1.0 REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE croton::lib_a croton::lib_b)
target_compile_options(app PRIVATE -Wall -Wextra -Werror)
"""

CONSUMER = r"""
#include <cstdio>
#include "lib_a.h"
#include "lib_b.h"

int main() {
  lib_a_context* a = lib_a_create();
  if (a == nullptr) return 2;
  lib_b::Context b;  /* lib_b through the header's C++ wrapper */
  float x[2] = {0.5f, -1.25f}, t = 2.0f;
  double v[3] = {1.0, -2.0, 0.25};
  int64_t xshape[1] = {2};
  DLTensor ina[2] = {{x, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, xshape, nullptr, 0},
                     {&t, {kDLCPU, 0}, 0, {kDLFloat, 32, 1}, nullptr, nullptr, 0}};
  DLTensor outa[1];
  for (int s = 0; s < 2; ++s) {
    if (lib_a_run(a, ina, 2, outa, 1) != 0) return 3;
    auto outb = b.run({lib_b::array(v, {3})});
    std::printf("%a %a\n", *static_cast<const double*>(outa[0].data),
                lib_b::View<const double>(outb[0])[0]);
  }
  for (double e : b.state<double>("b")) std::printf("%a\n", e);
  std::printf("state %s\n", lib_b_default_state_path());
  try {
    b.run({lib_b::array(x, {2})});  /* float32: not what lib_b takes */
    return 4;
  } catch (const lib_b::Error& e) {
    std::printf("error %d %s\n", e.code(), e.what());
  }
  lib_a_destroy(a);
  return 0;
}
"""


def test_two_static_libraries_installed_in_one_program(tmp_path):
    """Two exports, built static and installed; a C++ program finds both with find_package
    and links both (no duplicate symbols); each reproduces its Python function. lib_b keeps
    its state in a file: installed, it reads the installed copy (the project's is gone)."""
    import cmake

    f, _ = _seed_function()
    v = T.dvector("v")
    b = croton.shared(np.asarray([0.5, 1.5, -1.0]), "b")
    g = croton.function([v], (v * b).max(), updates=[(b, b * 2)])
    prefix = tmp_path / "prefix"
    cmake_exe = os.path.join(cmake.CMAKE_BIN_DIR, "cmake")
    for name, fn, state in (("lib_a", f, "embed"), ("lib_b", g, "file")):
        project = fn.export(tmp_path / name, name=name, state=state)
        _build(project, tmp_path / f"build_{name}", "-DBUILD_SHARED_LIBS=OFF",
               f"-D{name.upper()}_BUILD_EXAMPLE=OFF", f"-DCMAKE_INSTALL_PREFIX={prefix}")
        _run([cmake_exe, "--install", tmp_path / f"build_{name}"], f"installing {name}")
    (tmp_path / "lib_b" / "lib_b.state").unlink()
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "CMakeLists.txt").write_text(CONSUMER_CMAKE)
    (consumer / "app.cpp").write_text(CONSUMER)
    _build(consumer, tmp_path / "build_consumer", f"-DCMAKE_PREFIX_PATH={prefix}")
    printed = _run([tmp_path / "build_consumer" / "app"], "the consumer").stdout.splitlines()
    error = [line for line in printed if line.startswith("error ")]
    assert len(error) == 1 and "'v'" in error[0], printed
    assert f"state {prefix / 'share' / 'lib_b' / 'lib_b.state'}" in printed, printed
    got = [float.fromhex(s) for line in printed if not line.startswith(("error ", "state "))
           for s in line.split()]
    x, t = np.float32([0.5, -1.25]), np.float32(2.0)
    vv = np.asarray([1.0, -2.0, 0.25])
    expected = []
    for _ in range(2):
        expected += [float(f(x, t)), float(g(vv))]
    expected += list(b.get_value())
    np.testing.assert_allclose(got, expected, rtol=1e-6)
