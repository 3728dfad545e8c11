"""The implementations the bench compares: croton and its peers.

Each :class:`Impl` knows which interpreter runs it, which shared script it drives
(``workloads_theano.py`` or ``workloads_peers.py``), the environment it needs
(``THEANO_IMPL``/``THEANO_MODE``) and which module must import for it to count as installed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

THEANO_SCRIPT = "workloads_theano.py"
PEERS_SCRIPT = "workloads_peers.py"

_PROBE_CODE = (
    "import importlib, sys\n"
    "m = importlib.import_module(sys.argv[1])\n"
    "print(getattr(m, '__version__', 'unknown version'))\n"
)

# Runs the workload script as __main__, then prints one more result line for the same
# workload with the process's peak RSS (Linux reports ru_maxrss in KiB).
PEAK_RSS_WRAPPER = (
    "import json, resource, runpy, sys\n"
    "script = sys.argv[1]\n"
    "sys.argv = sys.argv[1:]\n"
    "try:\n"
    "    runpy.run_path(script, run_name='__main__')\n"
    "finally:\n"
    "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "    print(json.dumps({'workload': sys.argv[-1], 'peak_rss_mb': round(peak, 1)}), flush=True)\n"
)


@dataclass(frozen=True)
class Impl:
    """One implementation of the workloads, launched as ``python script [argv_prefix] workload``.

    ``env`` maps variable names to values to set, or to ``None`` to remove them from the
    inherited environment (so a stray ``THEANO_MODE`` never leaks into the wrong run).
    """

    name: str
    description: str
    python: str
    script: Path
    module: str
    argv_prefix: tuple[str, ...] = ()
    env: Mapping[str, str | None] = field(default_factory=dict)

    def command(self, workload: str) -> list[str]:
        """The argv that runs ``workload`` for this implementation: the peer script, run by a
        wrapper that also reports the process's peak resident memory (``peak_rss_mb``)."""
        return [self.python, "-c", PEAK_RSS_WRAPPER, str(self.script), *self.argv_prefix,
                workload]

    def environ(self) -> dict[str, str]:
        """The inherited environment with this implementation's overrides applied.

        Everything else (``CROTON_CACHE_DIR`` in particular) passes through unchanged.
        """
        env = dict(os.environ)
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env


@dataclass(frozen=True)
class Probe:
    """Whether an implementation's module imports in its interpreter, and its version."""

    installed: bool
    version: str | None = None
    detail: str = ""

    def describe(self) -> str:
        """A short human-readable status, e.g. ``installed (2.26.1)`` or ``not installed``."""
        if self.installed:
            return f"installed ({self.version})"
        return f"not installed ({self.detail})" if self.detail else "not installed"


def make_impls(peers_dir: Path, croton_python: str, peer_python: str) -> dict[str, Impl]:
    """All known implementations, keyed by name (``croton`` first, then the peers)."""
    theano = peers_dir / THEANO_SCRIPT
    others = peers_dir / PEERS_SCRIPT
    return {
        "croton": Impl(
            "croton",
            "croton (AOT C++), Theano API",
            croton_python,
            theano,
            "croton",
            env={"THEANO_IMPL": "croton", "THEANO_MODE": None},
        ),
        "pytensor": Impl(
            "pytensor",
            "PyTensor, default (Numba) backend, Theano API",
            peer_python,
            theano,
            "pytensor",
            env={"THEANO_IMPL": "pytensor", "THEANO_MODE": None},
        ),
        "pytensor-c": Impl(
            "pytensor-c",
            "PyTensor, C backend (mode=CVM), Theano API",
            peer_python,
            theano,
            "pytensor",
            env={"THEANO_IMPL": "pytensor", "THEANO_MODE": "CVM"},
        ),
        "jax": Impl("jax", "JAX, jit on CPU", peer_python, others, "jax", argv_prefix=("jax",)),
        "torch": Impl(
            "torch", "PyTorch, eager on CPU", peer_python, others, "torch", argv_prefix=("torch",)
        ),
    }


def probe(impl: Impl, timeout: float = 180.0) -> Probe:
    """Check, in a subprocess of ``impl.python``, whether ``impl.module`` imports.

    Never raises: a missing interpreter, a missing module or a broken install all come back
    as ``installed=False`` with the reason in ``detail``.
    """
    if not Path(impl.python).exists():
        return Probe(False, detail=f"no interpreter at {impl.python}")
    try:
        proc = subprocess.run(
            [impl.python, "-c", _PROBE_CODE, impl.module],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=impl.environ(),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, detail=f"import check failed: {exc}")
    if proc.returncode == 0:
        return Probe(True, version=proc.stdout.strip() or "unknown version")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else f"exit status {proc.returncode}"
    if last.startswith("ModuleNotFoundError"):
        return Probe(False)
    return Probe(False, detail=f"import failed: {last[:160]}")
