"""The on-disk cache: a second process loads the module without compiling; a corrupt entry is
a warning and a rebuild."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import (
    entry_keys,
    env_for,
    expected,
    parse,
    program_cmd,
    run_program,
    seed_private_cache,
)

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
    import _ctypes  # any complete ELF shared object will do: lookup checks that too

    shutil.copyfile(_ctypes.__file__, staging / "m.so")
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


# -- relocation, read-only directories, eviction, key contents ---------------------------------
def _snapshot(root):
    """Files and mtimes (binding.json is touched on each use, by design)."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "binding.json"}


def test_a_copied_cache_compiles_nothing(tmp_path):
    a = seed_private_cache(tmp_path / "a")
    first, _ = run_program(a, 11.5)
    b = tmp_path / "b"
    shutil.copytree(a, b, symlinks=True)
    shutil.rmtree(a)  # nothing may point back into the original
    trees_before = _snapshot(b / "v1" / "trees")
    second, err = run_program(b, 11.5, seed="99")
    assert second["cached"] is True and second["key"] == first["key"]
    assert second["out"] == expected(11.5)
    assert second["entry"].startswith(str(b))
    assert "binding layer" not in err
    assert _snapshot(b / "v1" / "trees") == trees_before  # no tree configured, nothing built
    assert entry_keys(b) == [first["key"]]


def test_key_parts_hold_no_cache_path_and_are_stored(tmp_path):
    from croton.build_tools.build import function_key, function_key_parts

    parts = function_key_parts("int f();")
    text = json.dumps(parts)
    assert os.environ["CROTON_CACHE_DIR"] not in text and str(tmp_path) not in text
    for name in ("source", "templates", "compiler", "compiler_path", "flags", "cmake", "ninja",
                 "pybind11", "python", "numpy", "blas", "cuda", "runtime", "croton"):
        assert name in parts, name
    assert "-march=native" not in parts["flags"] or parts["native_arch"]
    assert function_key("int f();") == function_key("int f();")
    assert function_key("int f();") != function_key("int g();")


def _read_only_command(root) -> list[str] | None:
    """A prefix that runs a command with ``root`` read-only (a read-only bind mount when root,
    else permission bits), or None where neither is possible."""
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
        return []
    if not shutil.which("unshare"):
        return None
    script = ('mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" "$RO" && '
              'if touch "$RO/probe" 2>/dev/null; then exit 97; fi; exec "$@"')
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", "true"],
                           env=dict(os.environ, RO=str(root)), capture_output=True)
    return ["unshare", "-m", "sh", "-c", script, "sh"] if probe.returncode == 0 else None


def test_read_only_cache_loads_hits_and_builds_misses_elsewhere(tmp_path):
    root = seed_private_cache(tmp_path / "ro")
    built, _ = run_program(root, 12.5)
    prefix = _read_only_command(root)
    if prefix is None:
        pytest.skip("running as root without `unshare -m`: root ignores permission bits, so "
                    "no read-only directory can be made on this machine")
    before = _snapshot(root)
    env = env_for(root, XDG_CACHE_HOME=str(tmp_path / "xdg"), RO=str(root))

    def run_ro(k):
        proc = subprocess.run(prefix + program_cmd(k), capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return parse(proc.stdout), proc.stderr

    hit, err = run_ro(12.5)
    assert hit["cached"] is True and hit["key"] == built["key"] and "read-only" not in err
    miss, err = run_ro(12.75)
    assert miss["cached"] is False and miss["out"] == expected(12.75)
    assert f"croton: cache directory {root} is read-only; new functions are built in " \
           f"{tmp_path / 'xdg' / 'croton-overflow'}" in err
    assert miss["entry"].startswith(str(tmp_path / "xdg" / "croton-overflow"))
    again, _ = run_ro(12.75)  # now a hit in the overflow directory
    assert again["cached"] is True
    if os.geteuid() != 0:
        subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)
    assert _snapshot(root) == before


def _fake_entry(store, key, nbytes, age_s):
    from croton.build_tools.cache import file_sha256

    staging = store.staging_dir(key)
    (staging / "m.so").write_bytes(os.urandom(nbytes))
    (staging / "meta.json").write_text(json.dumps(
        {"key": key, "module": "m.so", "module_sha256": file_sha256(staging / "m.so")}))
    store.commit(key, staging)
    t = time.time() - age_s
    os.utime(store.entry_dir(key) / "last_use", (t, t))


def test_eviction_removes_least_recently_used_first(tmp_path):
    from croton.build_tools.cache import Cache, dir_bytes

    c = Cache(tmp_path)
    c.ensure()
    keys = [f"{i:02d}" * 32 for i in range(5)]
    for i, key in enumerate(keys):  # keys[0] is the oldest
        _fake_entry(c, key, 10_000, age_s=1000 - 100 * i)
    c.touch(keys[0])  # used just now: the newest
    size = dir_bytes(c.entry_dir(keys[0]))
    removed = c.evict(max_bytes=2 * size + 10, keep=(keys[1],))
    assert removed == [keys[2], keys[3]] or removed == [keys[2], keys[3], keys[4]]
    assert set(c.keys()) >= {keys[0], keys[1]}
    assert sum(dir_bytes(c.entry_dir(k)) for k in c.keys()) <= 2 * size + 10 or \
        set(c.keys()) == {keys[0], keys[1]}
    # an age limit alone
    _fake_entry(c, "ee" * 32, 100, age_s=40 * 86400)
    assert c.evict(max_bytes=10**12, older_than_days=30) == ["ee" * 32]


def test_size_cap_flag_evicts_after_a_build_but_never_the_new_entry(tmp_path):
    from croton.build_tools.cache import Cache, dir_bytes

    root = seed_private_cache(tmp_path / "cache")
    first, _ = run_program(root, 13.5)
    size = dir_bytes(Path(first["entry"]))
    second, _ = run_program(root, 13.75, flags=f"cache_max_bytes={size + 100}")
    assert entry_keys(root) == [second["key"]]
    binding = [p for p in (root / "v1" / "trees").iterdir() if p.name.startswith("binding-")]
    assert binding and any(binding[0].glob("_croton_binding*"))
    # a cap smaller than one entry still keeps the one just built
    third, _ = run_program(root, 13.875, flags="cache_max_bytes=1K")
    assert entry_keys(root) == [third["key"]]
    assert Cache(root).lookup(third["key"]) is not None
