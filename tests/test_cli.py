"""The croton command line: doctor and cache management."""

import json
import os
import subprocess
import sys


def croton(*args):
    proc = subprocess.run([sys.executable, "-m", "croton", *args], capture_output=True,
                          text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_doctor_checks_toolchain_and_builds_a_blas_function():
    from croton.build_tools.toolchain import find_nvcc

    code, out, err = croton("doctor", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["status"] == "ok"
    assert report["build_and_blas_link_test"] == "ok"
    from croton.build_tools.toolchain import croton_coretype

    kernels = report["blas_kernels"]  # the loaded OpenBLAS's kernels and who chose them
    if croton_coretype() == "ZEN" and "OPENBLAS_CORETYPE" not in os.environ:
        assert kernels == "Haswell (croton chose ZEN for this CPU)", kernels
    else:
        assert "chose" in kernels or "OPENBLAS_CORETYPE=" in kernels, kernels
    assert "writable" in report["cache_dir"]
    assert "compiler_launcher" in report and "native_arch" in report
    if find_nvcc():  # nvcc accepts the host compiler (a tiny .cu built with -ccbin)
        assert "host compiler" in report["nvcc"] and "accepted" in report["nvcc"]
    else:
        assert report["nvcc"].startswith("not found")


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


def _private(tmp_path, *args):
    import os

    env = dict(os.environ, CROTON_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "croton", *args], capture_output=True,
                          text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def _entry(store, key, nbytes, age_days):
    import os
    import time

    from croton.build_tools.cache import file_sha256

    staging = store.staging_dir(key)
    (staging / "m.so").write_bytes(b"x" * nbytes)
    (staging / "meta.json").write_text(json.dumps(
        {"key": key, "label": f"fn {key[:2]}", "created": time.time(), "module": "m.so",
         "module_sha256": file_sha256(staging / "m.so")}))
    store.commit(key, staging)
    t = time.time() - age_days * 86400
    os.utime(store.entry_dir(key) / "last_use", (t, t))


def test_cache_prune_info_prefix_list_order_and_stats(tmp_path):
    import os

    from croton.build_tools.cache import Cache

    store = Cache(tmp_path)
    store.ensure()
    _entry(store, "a1" * 32, 5000, age_days=60)
    _entry(store, "a2" * 32, 5000, age_days=2)
    _entry(store, "b3" * 32, 5000, age_days=1)
    (store.render).mkdir(parents=True)
    (store.render / "memo.key").write_text("a1" * 32)
    code, out, _ = _private(tmp_path, "cache", "list", "--json")
    assert [e["key"][:2] for e in json.loads(out)] == ["a1", "a2", "b3"]  # least recent first
    code, out, err = _private(tmp_path, "cache", "info", "a")
    assert code == 1 and "2 entries match" in err
    code, out, _ = _private(tmp_path, "cache", "info", "b3b3", "--json")
    assert code == 0 and json.loads(out)["label"] == "fn b3"
    code, out, _ = _private(tmp_path, "cache", "stats", "--json")
    stats = json.loads(out)
    assert stats["entries"] == 3 and stats["bytes"] >= 15000 and stats["writable"] is True
    old_tree = store.trees / "0123456789abcdef"  # the trees of a toolchain gone long ago
    (old_tree / "slot-0").mkdir(parents=True)
    (old_tree / "slot-0.lock").write_text("")
    for p in (old_tree / "slot-0", old_tree / "slot-0.lock"):
        os.utime(p, (1e9, 1e9))
    code, out, _ = _private(tmp_path, "cache", "prune", "--older-than", "30", "--json")
    report = json.loads(out)
    assert code == 0 and report["removed_keys"] == ["a1" * 8]
    assert report["removed_render_memos"] == 1
    assert report["removed_trees"] == ["0123456789abcdef"] and not old_tree.exists()
    code, out, _ = _private(tmp_path, "cache", "prune", "--max-bytes", "6K", "--json")
    assert json.loads(out)["removed_keys"] == ["a2" * 8]
    assert sorted(store.keys()) == ["b3" * 32]

