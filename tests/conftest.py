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


# The op suite on the CUDA target (CROTON_TEST_DEVICE=cuda or cuda-emulated): a plugin, so that
# other suites (Lasagne's) load it too (tests/cuda_emu/device_suite.py).
from cuda_emu.device_suite import (  # noqa: E402, F401 - pytest's hooks and fixture
    _cuda_suite_device,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_makereport,
)
