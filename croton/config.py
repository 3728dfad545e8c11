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
    # portable=1: code for any x86-64-v2 machine (SSE4.2, no AVX) instead of this CPU, e.g. for
    # a cache shared by different machines; part of the cache key like every flag
    portable: bool = False
    debug: bool = False
    profile: bool = False  # compile kernel timing into every function (f.profile.summary())
    dump_passes: str = ""  # a directory: the graph after each pass, and each pass's time
    verbose_build: bool = False
    #: ``auto`` (ccache or sccache when present), ``none``, or a launcher command or path.
    compiler_launcher: str = "auto"
    #: Log the time of every compile phase (rewrite … load) to stderr.
    profile_compile: bool = False
    #: On a cache miss, log which key parts differ from the nearest cached entry.
    explain_cache_misses: bool = False
    #: Size cap of the kernel cache (bytes, or with a K/M/G/T suffix); LRU entries are evicted.
    cache_max_bytes: str = "2G"
    # ``device=cuda`` (or ``cuda0``, Theano's spelling) compiles functions for the CUDA target
    # and keeps new shared variables in device memory (docs/cuda.md); ``cpu`` is the default.
    device: str = "cpu"
    #: CUDA architectures to build for, e.g. ``80,90`` (each as SASS plus PTX); empty: the
    #: present GPU's, or ``80,90`` when there is none (a build that only compiles).
    cuda_arch: str = ""
    #: Theano's: with ``device=cuda``, an error instead of running on the CPU when the device
    #: cannot be initialised (``theano.gpuarray``'s import; croton/gpuarray/__init__.py).
    force_device: bool = False
    #: Theano's: print which device ``theano.gpuarray`` maps the default context to.
    print_active_device: bool = True
    # Theano's flags that libraries read: croton has no test values and one linker; the values
    # are Theano's defaults.
    init_gpu_device: str = ""
    compute_test_value: str = "off"
    compute_test_value_opt: str = "off"
    print_test_value: bool = False
    optimizer: str = "fast_run"
    linker: str = "cvm"
    exception_verbosity: str = "low"
    warn_float64: str = "ignore"
    cast_policy: str = "custom"
    on_unused_input: str = "raise"
    allow_gc: bool = True
    openmp: bool = True
    deterministic: str = "default"
    #: The code-generation target (``croton/codegen/target.py``): ``cpu``, or a registered one.
    target: str = "cpu"

    def compile_flags(self) -> str:
        """The C++ flags of generated code: ``optimization_flags``, with ``-march=native``
        replaced by a portable target when ``portable`` is set.

        Example::

            >>> c = Config(portable=True)
            >>> '-march=x86-64-v2' in c.compile_flags(), '-march=native' in c.compile_flags()
            (True, False)
        """
        flags = self.optimization_flags.split()
        if self.portable:
            flags = [f for f in flags if not f.startswith(("-march=", "-mtune="))]
            flags += ["-march=x86-64-v2", "-mtune=generic"]
        return " ".join(flags)

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
        if self.device != "cpu" and not self.device.startswith("cuda"):
            old = " (Theano's old GPU back end, removed in Theano 1.0)" \
                if self.device.startswith("gpu") else ""
            raise ValueError(f"device must be cpu or cuda (cuda0, cuda1...), not "
                             f"{self.device!r}{old}")
        if self.floatX not in ("float32", "float64"):
            raise ValueError(f"floatX must be float32 or float64, not {self.floatX!r}")


def parse_bytes(text: str | int) -> int:
    """``"500M"`` -> 524288000; plain numbers are bytes.

    Example::

        >>> parse_bytes("2G"), parse_bytes("1.5k"), parse_bytes(10)
        (2147483648, 1536, 10)
    """
    if isinstance(text, int):
        return text
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = 1
    if value and value[-1] in "KMGT":
        scale = 1024 ** ("KMGT".index(value[-1]) + 1)
        value = value[:-1]
    try:
        return int(float(value) * scale)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 2G, 1048576)") from None


config = Config()
config.apply_flags(os.environ.get("CROTON_FLAGS", ""))
