"""Run-time configuration, read once from ``CROTON_FLAGS`` and changeable in code.

Example::

    >>> import croton
    >>> croton.config.floatX
    'float64'
    >>> # CROTON_FLAGS="floatX=float32,cache_dir=/tmp/c" python train.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_cache_dir() -> str:
    env = os.environ.get("CROTON_CACHE_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return os.path.join(base, "croton")


@dataclass
class Config:
    """The flags croton reads. ``CROTON_FLAGS="a=1,b=x"`` sets them at import."""

    floatX: str = "float64"
    mode: str = "FAST_RUN"
    cache_dir: str = field(default_factory=_default_cache_dir)
    cxx: str = ""
    optimization_flags: str = "-O3 -march=native -fno-math-errno -fwrapv -fopenmp"
    debug: bool = False
    profile: bool = False  # compile kernel timing into every function (f.profile.summary())
    dump_passes: str = ""  # a directory: the graph after each pass, and each pass's time
    verbose_build: bool = False

    def apply_flags(self, text: str) -> None:
        """Apply ``name=value`` pairs separated by commas, e.g. ``"floatX=float32"``."""
        for item in filter(None, (s.strip() for s in text.split(","))):
            name, _, value = item.partition("=")
            name = name.strip()
            if not hasattr(self, name):
                raise ValueError(f"CROTON_FLAGS: unknown flag {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool):
                setattr(self, name, value.strip().lower() in ("1", "true", "yes", "on"))
            else:
                setattr(self, name, value.strip())
        if self.floatX not in ("float32", "float64"):
            raise ValueError(f"floatX must be float32 or float64, not {self.floatX!r}")


config = Config()
config.apply_flags(os.environ.get("CROTON_FLAGS", ""))
