"""How far apart the first two CPUs this process may use are: the round trip of a cache line
between them (``bench/cpu_distance.cpp``, built once per process with the C++ compiler).

On this project's 2-vCPU machines the host places the two vCPUs on one die (~50 ns) or on two
(~330 ns) and moves them every few seconds; threads that share data (croton's loops and products,
any peer's thread pool) slow down in the far placement, by different amounts (an MLP step: croton
4.7 -> 6.3 ms, JAX 5.0 -> 5.7 ms). ``python -m bench`` records the round trip before every quiet
run (``cpu_round_trip_ns``), so a reader can tell which placement each figure had.

Example:
    >>> from bench.cpu_distance import round_trip_ns
    >>> ns = round_trip_ns()
    >>> ns is None or 1.0 < ns < 1e6
    True
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_SOURCE = Path(__file__).with_name("cpu_distance.cpp")
_built: dict[str, Path | None] = {}


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def _probe() -> Path | None:
    """The built probe (None: no C++ compiler, or it did not build)."""
    if "probe" not in _built:
        cxx = _compiler()
        out = Path(tempfile.mkdtemp(prefix="croton-bench-")) / "cpu_distance"
        ok = cxx is not None and subprocess.run(
            [cxx, "-O2", "-pthread", str(_SOURCE), "-o", str(out)],
            capture_output=True, timeout=120).returncode == 0
        _built["probe"] = out if ok else None
    return _built["probe"]


def round_trip_ns(timeout: float = 10.0) -> float | None:
    """The cache-line round trip between the first two usable CPUs, in ns; None with fewer
    than two CPUs, no C++ compiler, or a probe that failed (e.g. CPUs busy past ``timeout``)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    probe = _probe() if len(cpus) >= 2 else None
    if probe is None:
        return None
    try:
        done = subprocess.run([str(probe), str(cpus[0]), str(cpus[1])], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    try:
        return float(done.stdout.strip()) if done.returncode == 0 else None
    except ValueError:
        return None
