"""The on-disk cache: a second process loads the module without compiling; a corrupt entry is
a warning and a rebuild."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent("""
    import json, numpy as np, croton, croton.tensor as T
    x = T.dvector('x')
    W = croton.shared(np.array([1.0, 2.0, 3.0]), 'W')
    f = croton.function([x], (x * W).sum() + {k}, updates=[(W, W * 2)])
    out = float(f([1.0, 1.0, 1.0]))
    print(json.dumps({{"cached": f.build.cached, "key": f.build.key, "out": out,
                      "entry": str(f.build.entry_dir)}}))
""")


def run(cache_dir, k, seed="0"):
    env = dict(os.environ, CROTON_CACHE_DIR=str(cache_dir), PYTHONHASHSEED=seed)
    proc = subprocess.run([sys.executable, "-c", PROGRAM.format(k=k)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_second_process_reuses_the_module_without_compiling(tmp_path):
    shared_cache = os.environ["CROTON_CACHE_DIR"]  # binding layer already built this session
    first, _ = run(shared_cache, 17.5)
    entry = first["entry"]
    log_before = os.path.getmtime(os.path.join(entry, "build.log"))
    second, _ = run(shared_cache, 17.5, seed="12345")
    assert second["cached"] is True
    assert second["key"] == first["key"]  # stable across hash seeds
    assert second["out"] == first["out"] == 6.0 + 17.5
    # the compiler did not run: the entry's build log was not rewritten, no new entry appeared
    assert os.path.getmtime(os.path.join(entry, "build.log")) == log_before
    meta = json.loads(open(os.path.join(entry, "meta.json")).read())
    assert meta["key"] == first["key"] and meta["module_sha256"]


def test_corrupt_entry_warns_and_rebuilds():
    shared_cache = os.environ["CROTON_CACHE_DIR"]
    first, _ = run(shared_cache, 42.25)
    meta = json.loads(open(os.path.join(first["entry"], "meta.json")).read())
    module = os.path.join(first["entry"], meta["module"])
    with open(module, "r+b") as f:
        f.truncate(100)
    again, stderr = run(shared_cache, 42.25)
    assert "corrupt" in stderr
    assert again["cached"] is False and again["out"] == 6.0 + 42.25


def test_cache_lookup_and_commit_unit(tmp_path):
    from croton.build_tools.cache import Cache, file_sha256

    c = Cache(tmp_path)
    c.ensure()
    key = "ab" * 32
    assert c.lookup(key) is None
    staging = c.staging_dir(key)
    (staging / "m.so").write_bytes(b"binary")
    (staging / "meta.json").write_text(json.dumps(
        {"key": key, "module": "m.so", "module_sha256": file_sha256(staging / "m.so")}))
    c.commit(key, staging)
    assert c.lookup(key) == c.entry_dir(key) / "m.so"
    assert [e["key"] for e in c.list_entries()] == [key]
    (c.entry_dir(key) / "m.so").write_bytes(b"changed")
    with pytest.warns(UserWarning, match="corrupt"):
        assert c.lookup(key) is None
    assert not c.entry_dir(key).exists()
    assert c.clear() == 0  # the corrupt entry was already removed
    assert not c.root.exists()
