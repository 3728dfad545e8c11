"""Facts about the machine and software a bench ran on, for the report's header."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str | None:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), if readable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gib() -> float | None:
    """Total physical memory in GiB, if the platform reports it."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):
        return None


def _usable_cpus() -> int | None:
    """CPUs this process may run on (affinity), where the platform tells."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _git_commit() -> str:
    """The repository's HEAD commit, with ``+dirty`` when tracked files differ."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine_info() -> dict[str, str]:
    """Ordered ``label -> value`` pairs: processor, CPUs, memory, load, OS, Python, commit."""
    info: dict[str, str] = {}
    processor = platform.processor() or platform.machine() or "unknown"
    model = _cpu_model()
    info["Processor"] = f"{processor} ({model})" if model else processor
    cpus = os.cpu_count()
    usable = _usable_cpus()
    info["CPUs"] = f"{cpus}" + (f" ({usable} usable)" if usable and usable != cpus else "")
    mem = _memory_gib()
    info["Memory"] = f"{mem:.1f} GiB" if mem is not None else "unknown"
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        info["Load average (1, 5, 15 min, at report time)"] = load
    except (AttributeError, OSError):
        pass
    info["OS"] = platform.platform()
    info["Python (croton)"] = platform.python_version()
    try:
        import numpy

        info["NumPy (croton)"] = numpy.__version__
    except ImportError:
        pass
    info["croton commit"] = _git_commit()
    cache = os.environ.get("CROTON_CACHE_DIR")
    info["CROTON_CACHE_DIR"] = f"`{cache}`" if cache else "(unset: croton's default)"
    return info
