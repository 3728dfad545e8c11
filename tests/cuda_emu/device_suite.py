"""A test suite on the CUDA target (issue 15; opt-in, docs/cuda.md "The op suite on the CUDA
target"), as a pytest plugin: tests/conftest.py imports its hooks, and another suite loads it
with ``-p cuda_emu.device_suite`` (``tests`` on ``PYTHONPATH``), as Lasagne's does
(docs/cuda.md, "Lasagne on the CUDA target").

``CROTON_TEST_DEVICE=cuda`` compiles every function for CUDA (config device=cuda, so new
float32 shared variables live in device memory, Theano's rule); ``cuda-emulated`` does the same
on a machine without a GPU, with croton's CUDA runtime and builds replaced for the session by
the CPU emulation (tests/cuda_emu). In both modes a test whose function the CUDA target refuses
by design (NotImplementedError "the cuda target cannot compile ...": complex dtypes) is reported
as skipped with the refusal as the reason.

Example (a shell)::

    CROTON_TEST_DEVICE=cuda-emulated python -m pytest tests/test_ops.py -p no:xdist -q -rs
"""

from __future__ import annotations

import os

import pytest

TEST_DEVICE = os.environ.get("CROTON_TEST_DEVICE", "")
if TEST_DEVICE not in ("", "cpu", "cuda", "cuda-emulated"):
    raise ValueError(f"CROTON_TEST_DEVICE must be cpu, cuda or cuda-emulated, not {TEST_DEVICE!r}")
CUDA_SUITE = TEST_DEVICE in ("cuda", "cuda-emulated")
_REFUSED = "target cannot compile this function yet"


@pytest.hookimpl(trylast=True)  # after pytest's own tmp_path_factory exists
def pytest_configure(config):
    """device=cuda for the session; under cuda-emulated, the CPU emulation of CUDA from here,
    before collection imports the tests: a module that imports ``theano.gpuarray`` (Lasagne's)
    initialises the device then, and without the emulation would find none and fall back to
    the CPU, as Theano does."""
    if not CUDA_SUITE:
        return
    from croton.config import config as croton_config

    croton_config.device = "cuda"
    if TEST_DEVICE == "cuda-emulated":
        from cuda_emu.harness import emulate_cuda

        emulation = emulate_cuda(config._tmp_path_factory, reuse=True)
        next(emulation)
        config.add_cleanup(emulation.close)


def pytest_report_header(config):
    if CUDA_SUITE:
        return f"croton: every function compiled for CUDA (CROTON_TEST_DEVICE={TEST_DEVICE})"


@pytest.fixture(scope="session", autouse=True)
def _cuda_suite_device():
    """The session starts with device=cuda: a module imported at collection could have set
    the flag back to the CPU (``theano.gpuarray`` does when it finds no device), and the suite
    would then test the CPU while reporting the CUDA target."""
    if CUDA_SUITE:
        from croton.config import config as croton_config

        assert croton_config.device.startswith("cuda"), (
            f"CROTON_TEST_DEVICE={TEST_DEVICE} but device={croton_config.device}: something "
            "reset the flag before the tests ran")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not CUDA_SUITE or call.excinfo is None:
        return
    if call.excinfo.errisinstance(NotImplementedError) and _REFUSED in str(call.excinfo.value):
        report = outcome.get_result()
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           f"Skipped: refused by the CUDA target: {call.excinfo.value}")
