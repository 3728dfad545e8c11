"""The croton command line: doctor and cache management."""

import json
import subprocess
import sys


def croton(*args):
    proc = subprocess.run([sys.executable, "-m", "croton", *args], capture_output=True,
                          text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_doctor_checks_toolchain_and_builds_a_blas_function():
    code, out, err = croton("doctor", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["status"] == "ok"
    assert report["build_and_blas_link_test"] == "ok"
    assert "writable" in report["cache_dir"]


def test_cache_list_stats_info_clear():
    import croton as cr
    import croton.tensor as T

    x = T.dvector("x")
    f = cr.function([x], x * 3.25 + 1)
    code, out, _ = croton("cache", "list", "--json")
    assert code == 0
    keys = [e["key"] for e in json.loads(out)]
    assert f.build.key[:16] in keys
    code, out, _ = croton("cache", "info", f.build.key[:20], "--json")
    assert code == 0 and json.loads(out)["key"] == f.build.key
    code, out, _ = croton("cache", "stats", "--json")
    assert json.loads(out)["entries"] >= 1


def test_cache_clear_on_a_private_directory(tmp_path):
    import os

    env = dict(os.environ, CROTON_CACHE_DIR=str(tmp_path))
    (tmp_path / "v1" / "entries" / ("ab" * 32)).mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "croton", "cache", "clear", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "v1").exists()
