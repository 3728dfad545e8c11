"""Toolchain discovery: the compiler, CMake, Ninja, pybind11, Python, NumPy and BLAS croton
builds with, and the fingerprint of all of them that goes into every cache key.

Example::

    >>> from croton.build_tools.toolchain import discover
    >>> tc = discover()
    >>> sorted(tc.key_parts)[:3]
    ['blas', 'cmake', 'compiler']
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from croton.config import config

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
if not (RUNTIME_DIR / "cpu" / "abi.h").exists():  # installed wheel: runtime is croton.runtime
    import croton.runtime as _runtime_pkg

    RUNTIME_DIR = Path(_runtime_pkg.__file__).resolve().parent


class ToolchainError(RuntimeError):
    """A tool croton needs is missing or broken; the message says how to fix it."""


@dataclass(frozen=True)
class Toolchain:
    cxx: str
    cmake: str
    ninja: str
    cxx_flags: tuple[str, ...]
    pybind11_cmake_dir: str
    numpy_include: str
    blas_library: str
    runtime_dir: str
    key_parts: dict = field(hash=False, compare=False)

    @property
    def key(self) -> str:
        """sha256 of everything about the toolchain that changes a binary."""
        blob = json.dumps(self.key_parts, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def tree_key(self) -> str:
        """sha256 of what the build tree and its binding layer depend on: the toolchain
        without the kernel headers (editing a kernel header rebuilds functions, not the
        binding layer)."""
        parts = dict(self.key_parts)
        parts["runtime"] = parts.get("binding_abi", "")
        blob = json.dumps(parts, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def _run_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from None
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) \
        else ""


def _find_cxx() -> str:
    for candidate in (config.cxx, os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise ToolchainError(
        "no C++ compiler found: install g++ (Debian/Ubuntu: apt-get install g++) or set CXX"
    )


def _find_tool(module_name: str, exe: str) -> str:
    """The binary shipped by a pip package (``cmake``, ``ninja``), else one on PATH. Found
    without importing the package: ``import cmake`` alone costs 0.13 s."""
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(base, "data", "bin", exe)
        if os.path.exists(path):
            return path
    scripts = os.path.join(sysconfig.get_path("scripts"), exe)
    if os.path.exists(scripts):
        return scripts
    found = shutil.which(exe)
    if not found:
        raise ToolchainError(f"{exe} not found: pip install {module_name}")
    return found


def runtime_digest(runtime_dir: Path = RUNTIME_DIR) -> str:
    """A hash of every runtime header and the binding source."""
    h = hashlib.sha256()
    for path in sorted(runtime_dir.rglob("*")):
        if path.suffix in (".h", ".hpp", ".cpp", ".cuh", ".cu") and "tests" not in path.parts:
            h.update(path.relative_to(runtime_dir).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _files_digest(root: Path, names: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode())
        h.update((root / name).read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def discover() -> Toolchain:
    """Find every tool once per process."""
    from importlib.metadata import version

    import numpy
    import pybind11
    import scipy_openblas32

    import croton

    cxx = _find_cxx()
    cmake = _find_tool("cmake", "cmake")
    ninja = _find_tool("ninja", "ninja")
    flags = tuple(config.optimization_flags.split()) + ("-Wall", "-Wextra")
    blas = os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so")
    parts = {
        "compiler": os.path.basename(cxx) + " " + _run_version([cxx]),
        "flags": list(flags),
        "cmake": version("cmake"),
        "ninja": version("ninja"),
        "pybind11": pybind11.__version__,
        "python": sysconfig.get_config_var("SOABI") or sys.version,
        "numpy": numpy.__version__,
        "blas": "scipy-openblas32 " + scipy_openblas32.__version__,
        "runtime": runtime_digest(),
        "binding_abi": _files_digest(RUNTIME_DIR, ("cpu/abi.h", "python/binding.cpp")),
        "croton": croton.__version__,
    }
    return Toolchain(
        cxx=cxx, cmake=cmake, ninja=ninja, cxx_flags=flags,
        pybind11_cmake_dir=pybind11.get_cmake_dir(), numpy_include=numpy.get_include(),
        blas_library=blas, runtime_dir=str(RUNTIME_DIR), key_parts=parts,
    )


@functools.lru_cache(maxsize=1)
def load_blas() -> None:
    """Load OpenBLAS globally so compiled modules resolve it by soname (no RPATH needed).

    Also, before any compiled module loads libgomp: OpenMP threads that finish a loop sleep
    at once instead of spinning (OMP_WAIT_POLICY=PASSIVE, unless the user set it), so they do
    not take the cores from OpenBLAS's threads in the BLAS call that follows."""
    import ctypes

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    ctypes.CDLL(discover().blas_library, mode=ctypes.RTLD_GLOBAL)
