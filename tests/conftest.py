"""Test session set-up: every test process shares one temporary croton cache (so the binding
layer is built once per session, and concurrent xdist workers exercise the cache's locks).
Set CROTON_TEST_KEEP_CACHE=1 to use your own CROTON_CACHE_DIR instead."""

import os
import shutil
import tempfile

_CREATED = False
if os.environ.get("CROTON_TEST_KEEP_CACHE") != "1":
    if not os.environ.get("CROTON_TEST_CACHE_DIR"):
        # The controller makes the directory; xdist workers inherit the variable and share it.
        os.environ["CROTON_TEST_CACHE_DIR"] = tempfile.mkdtemp(prefix="croton-test-cache-")
        _CREATED = True
    os.environ["CROTON_CACHE_DIR"] = os.environ["CROTON_TEST_CACHE_DIR"]


def pytest_unconfigure(config):
    if _CREATED and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["CROTON_TEST_CACHE_DIR"], ignore_errors=True)
        os.environ.pop("CROTON_TEST_CACHE_DIR", None)


# The op tests run with the full pipeline and with none of the optimizing passes
# (FAST_COMPILE): every pass must keep every result.
import pytest  # noqa: E402

from croton.config import config  # noqa: E402

BOTH_PIPELINES = {"test_ops", "test_elemwise_ops", "test_reductions", "test_shape_ops",
                  "test_subtensor", "test_linalg", "test_nnet"}


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_PIPELINES:
        metafunc.fixturenames.append("pipeline")
        metafunc.parametrize("pipeline", ["FAST_RUN", "FAST_COMPILE"], indirect=True)


@pytest.fixture
def pipeline(request, monkeypatch):
    """The pass pipeline croton.function uses when no mode is given."""
    monkeypatch.setattr(config, "mode", request.param)
    return request.param


# The op suite on the CUDA target (issue 15; opt-in, docs/cuda.md "The op suite on the CUDA
# target"): CROTON_TEST_DEVICE=cuda compiles every function for CUDA (config device=cuda, so new
# float32 shared variables live in device memory, Theano's rule); cuda-emulated does the same on
# a machine without a GPU, with croton's CUDA runtime and builds replaced for the session by the
# CPU emulation (tests/cuda_emu). In both modes a test whose function the CUDA target refuses by
# design (NotImplementedError "the cuda target cannot compile ...": sorting, LAPACK, complex,
# float16...) is reported as skipped with the refusal as the reason.
TEST_DEVICE = os.environ.get("CROTON_TEST_DEVICE", "")
if TEST_DEVICE not in ("", "cpu", "cuda", "cuda-emulated"):
    raise ValueError(f"CROTON_TEST_DEVICE must be cpu, cuda or cuda-emulated, not {TEST_DEVICE!r}")
_CUDA_SUITE = TEST_DEVICE in ("cuda", "cuda-emulated")
_REFUSED = "target cannot compile this function yet"


def pytest_configure(config):  # noqa: F811 - pytest's hook, not the croton config
    if _CUDA_SUITE:
        from croton.config import config as croton_config

        croton_config.device = "cuda"


def pytest_report_header(config):
    if _CUDA_SUITE:
        return f"croton: every function compiled for CUDA (CROTON_TEST_DEVICE={TEST_DEVICE})"


@pytest.fixture(scope="session", autouse=True)
def _cuda_suite_emulation(tmp_path_factory):
    """Under CROTON_TEST_DEVICE=cuda-emulated, the CPU emulation of CUDA for the session."""
    if TEST_DEVICE != "cuda-emulated":
        yield
        return
    from cuda_emu.harness import emulate_cuda

    yield from emulate_cuda(tmp_path_factory, reuse=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _CUDA_SUITE or call.excinfo is None:
        return
    if call.excinfo.errisinstance(NotImplementedError) and _REFUSED in str(call.excinfo.value):
        report = outcome.get_result()
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           f"Skipped: refused by the CUDA target: {call.excinfo.value}")
