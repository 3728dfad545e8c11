"""The cache under load: sixteen processes compiling one new function at once (with sixteen
hash seeds), and builds killed with SIGKILL at random moments. Marked slow; they run in CI.

``CROTON_KILL_TEST_COUNT`` sets how many builds the crash test kills (default 100)."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
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

from croton.build_tools.cache import Cache
from croton.build_tools.tree import OBJECT


def object_builds(root: Path) -> int:
    """How many times any slot compiled a function object (from every slot's .ninja_log)."""
    n = 0
    for log in root.glob("v1/trees/*/slot-*/build/.ninja_log"):
        n += sum(1 for ln in log.read_text().splitlines()
                 if not ln.startswith("#") and ln.split("\t")[3:4] == [OBJECT])
    return n


@pytest.mark.slow
def test_sixteen_processes_one_new_key_compile_once(tmp_path):
    root = seed_private_cache(tmp_path / "cache")
    k = 1000.0 + uuid.uuid4().int % 10**6 / 8.0
    t0 = time.perf_counter()
    procs = [subprocess.Popen(program_cmd(k), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env_for(root, seed=str(101 * i + 7)))
             for i in range(16)]
    results, finished = [], []
    for p in procs:
        out, err = p.communicate(timeout=600)
        finished.append(time.perf_counter() - t0)
        assert p.returncode == 0, err
        results.append(parse(out))
    assert all(r["out"] == expected(k) for r in results)
    assert len({r["key"] for r in results}) == 1  # 16 hash seeds, one key
    builders = [r for r in results if not r["cached"]]
    assert len(builders) == 1
    assert entry_keys(root) == [results[0]["key"]]
    assert object_builds(root) == 1  # the compiler ran once
    import json

    meta = json.loads((Path(results[0]["entry"]) / "meta.json").read_text())
    print(f"\n16 processes, one new key: slowest finished {max(finished):.2f} s after the "
          f"start; the build took {meta['timings'].get('ninja', 0):.2f} s "
          f"(configure {meta['timings'].get('configure', 0):.2f} s)")


SERVER = textwrap.dedent("""
    # A fork server: imports croton and builds one function once, then forks one child per
    # 'build K' line, each in its own process group; the test kills children (or their whole
    # group: ninja and the compiler too) with SIGKILL. 'wait PID' reaps one, prints its status.
    import os, sys, traceback
    import croton, croton.tensor as T
    x = T.dvector('x')
    croton.function([x], x * 0.5 + 1.0)  # warm: Jinja's templates, the binding, slot-0

    def child(k):
        os.setpgid(0, 0)
        try:
            x = T.dvector('x')
            f = croton.function([x], x * k + 1.0)
            os._exit(0 if float(f([2.0])[0]) == 2.0 * k + 1.0 else 3)
        except BaseException:
            traceback.print_exc()
            os._exit(1)

    print("ready", flush=True)
    for line in sys.stdin:
        cmd, arg = line.split()
        if cmd == "build":
            pid = os.fork()
            if pid == 0:
                child(float(arg))
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            print(pid, flush=True)
        else:
            print(os.waitpid(int(arg), 0)[1], flush=True)
""")


class ForkServer:
    def __init__(self, root: Path, flags: str = "") -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     env=env_for(root, flags=flags))
        assert self.proc.stdout.readline().strip() == "ready"

    def ask(self, line: str) -> int:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.mark.slow
def test_builds_killed_at_random_moments_leave_a_usable_cache(tmp_path):
    count = int(os.environ.get("CROTON_KILL_TEST_COUNT", "100"))
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    root = seed_private_cache(tmp_path / "cache")
    # -O0: the same pipeline, half the compile time (what is killed is the build, not -O3)
    flags = "optimization_flags=-O0 -fwrapv"
    server = ForkServer(root, flags)
    base = 2000.0 + uuid.uuid4().int % 10**6
    killed = completed = 0
    t0 = time.perf_counter()
    try:
        for i in range(count):
            k = base + i / 4.0
            pid = server.ask(f"build {k}")
            time.sleep(rng.uniform(0.0, 0.5))
            if i % 2:  # the builder only: its ninja and compiler run on, orphaned
                os.kill(pid, signal.SIGKILL)
            else:  # the builder, its ninja and its compiler
                os.killpg(pid, signal.SIGKILL)
            status = server.ask(f"wait {pid}")
            if os.WIFSIGNALED(status):
                killed += 1
                # the next use of the cache succeeds: the same function, not killed this time
                again = server.ask(f"build {k}")
                assert os.waitstatus_to_exitcode(server.ask(f"wait {again}")) == 0, \
                    f"use after kill {i} failed (random seed {seed})"
            else:
                assert os.waitstatus_to_exitcode(status) == 0, f"build {i} failed (seed {seed})"
                completed += 1
    finally:
        server.close()
    # a fresh process builds a new function and loads an old one
    assert run_program(root, base + 0.125, flags=flags)[0]["cached"] is False
    assert run_program(root, base, flags=flags)[0]["out"] == expected(base)
    store = Cache(root)
    leftovers = [p.name for p in store.entries.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers  # no half-written entry, no trash
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt entry would warn
        assert all(store.lookup(key) is not None for key in store.keys())
    print(f"\n{count} builds, {killed} killed mid-build, {completed} finished first, in "
          f"{time.perf_counter() - t0:.1f} s (random seed {seed}); every next use succeeded")
