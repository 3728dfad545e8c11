"""Test session set-up: every test process shares one temporary croton cache (so the binding
layer is built once per session, and concurrent workers exercise the cache's locks)."""

import os
import tempfile

if "CROTON_CACHE_DIR" not in os.environ or os.environ.get("CROTON_TEST_KEEP_CACHE") != "1":
    # xdist workers inherit the controller's environment, so they share this directory.
    os.environ["CROTON_CACHE_DIR"] = os.environ.get("CROTON_TEST_CACHE_DIR") or tempfile.mkdtemp(
        prefix="croton-test-cache-")
    os.environ["CROTON_TEST_CACHE_DIR"] = os.environ["CROTON_CACHE_DIR"]
