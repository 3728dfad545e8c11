"""Helpers for the cache and build tests: a tiny program run in fresh processes, and a private
cache directory seeded with the session's binding layer (so no test rebuilds it).

Example::

    out = run_program(cache_dir, 2.5)   # {"cached": False, "key": ..., "out": ..., "entry": ...}
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import json, croton, croton.tensor as T
x = T.dvector('x')
f = croton.function([x], x * {k!r} + 1.0)
out = float(f([2.0])[0])
print(json.dumps({{"cached": f.build.cached, "key": f.build.key, "out": out,
                  "entry": str(f.build.entry_dir)}}))
"""


def expected(k: float) -> float:
    return 2.0 * k + 1.0


def env_for(cache_dir, seed: str = "0", flags: str = "", **extra) -> dict:
    env = dict(os.environ, CROTON_CACHE_DIR=str(cache_dir), PYTHONHASHSEED=seed, **extra)
    env.pop("CROTON_FLAGS", None)
    if flags:
        env["CROTON_FLAGS"] = flags
    return env


def program_cmd(k: float) -> list[str]:
    return [sys.executable, "-c", PROGRAM.format(k=k)]


def parse(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def run_program(cache_dir, k: float, seed: str = "0", flags: str = "", check: bool = True,
                **extra) -> tuple[dict, str]:
    """Build-or-load ``x * k + 1`` in a fresh process; returns (its report, its stderr)."""
    proc = subprocess.run(program_cmd(k), capture_output=True, text=True, timeout=600,
                          env=env_for(cache_dir, seed, flags, **extra))
    if not check:
        return {"returncode": proc.returncode}, proc.stderr
    assert proc.returncode == 0, proc.stderr
    return parse(proc.stdout), proc.stderr


def seed_private_cache(root: Path) -> Path:
    """A new cache directory holding only this toolchain's binding layer and kernel library
    (copied from the session cache: both are relocatable)."""
    from croton.build_tools.build import binding, binding_dir, cache
    from croton.build_tools.cache import Cache
    from croton.build_tools.kernels import kernels_dir, load_kernels
    from croton.build_tools.toolchain import discover

    binding()
    tc = discover()
    load_kernels(cache(), tc, cache)
    for where in (binding_dir, kernels_dir):  # both relocatable: no tree needed
        src, dst = where(cache(), tc), where(Cache(root), tc)
        dst.mkdir(parents=True)
        for path in src.iterdir():
            if path.is_file() and not path.name.startswith("."):
                shutil.copy2(path, dst / path.name)
    return root


def entry_keys(cache_dir) -> list[str]:
    entries = Path(cache_dir) / "v1" / "entries"
    return sorted(p.name for p in entries.iterdir() if not p.name.startswith(".")) \
        if entries.exists() else []


def run_in_threads(work, count: int = 4) -> None:
    """``work(k)`` for k = 0..count-1, each on its own thread, all at once; returns when all
    have finished (the tests that call one compiled function from several threads).

    >>> seen = []
    >>> run_in_threads(seen.append, 3)
    >>> sorted(seen)
    [0, 1, 2]
    """
    import threading

    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

