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
