"""Toolchain discovery: the compiler, CMake, Ninja, pybind11, Python, NumPy, BLAS and CUDA croton
builds with, and the fingerprint of all of them that goes into every cache key.

Running ``g++ --version``, ``cmake --version``, ``nvcc --version`` and resolving
``-march=native`` costs about 0.1 s, so the answers are memoized in the cache directory
(``v1/toolchains/<identity>.json``), keyed by what would change them: each tool's path, size and
mtime, the flags, this CPU, and the Python, NumPy, pybind11, BLAS and croton versions.

Example::

    >>> from croton.build_tools.toolchain import discover
    >>> tc = discover()
    >>> sorted(tc.key_parts)[:3]
    ['binding_abi', 'blas', 'cmake']
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from croton.config import config

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
if not (RUNTIME_DIR / "cpu" / "abi.h").exists():  # installed wheel: runtime is croton.runtime
    import croton.runtime as _runtime_pkg

    RUNTIME_DIR = Path(_runtime_pkg.__file__).resolve().parent

FINGERPRINT_VERSION = "2"


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
    nvcc: str = ""

    @property
    def key(self) -> str:
        """sha256 of everything about the toolchain that changes a binary."""
        blob = json.dumps(self.key_parts, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def binding_key(self) -> str:
        """sha256 of what the binding layer depends on: not the functions' flags or BLAS."""
        names = ("compiler_path", "compiler", "cmake", "ninja", "pybind11", "python", "numpy",
                 "binding_abi", "croton")
        blob = json.dumps({n: self.key_parts.get(n) for n in names}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def short(self) -> str:
        """The directory name of this toolchain's build trees (``trees/<short>``)."""
        return self.key[:16]


def which(name: str, path: str | None = None) -> str | None:
    """``shutil.which`` without importing shutil (not needed on a warm start)."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and not os.path.isdir(name) else None
    for d in (path if path is not None else os.environ.get("PATH", os.defpath)).split(os.pathsep):
        full = os.path.join(d, name)
        if d and os.access(full, os.X_OK) and not os.path.isdir(full):
            return full
    return None


def _run_version(cmd: list[str], last: bool = False) -> str:
    import subprocess

    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"cannot run {cmd[0]}: {exc}") from None
    lines = [ln.strip() for ln in (out.stdout or out.stderr).splitlines() if ln.strip()]
    if not lines:
        return ""
    if last:  # nvcc: "Cuda compilation tools, release 13.0, V13.0.88"
        return next((ln for ln in lines if "release" in ln), lines[-1])
    return lines[0]


def _find_cxx() -> str:
    for candidate in (config.cxx, os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        if candidate and which(candidate):
            return which(candidate)
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
    found = which(exe)
    if not found:
        raise ToolchainError(f"{exe} not found: pip install {module_name}")
    return found


def find_nvcc() -> str:
    """nvcc on PATH, in ``$CUDA_HOME/bin`` or ``/usr/local/cuda/bin``; "" when absent."""
    found = which("nvcc")
    if found:
        return found
    for base in (os.environ.get("CUDA_HOME", ""), os.environ.get("CUDA_PATH", ""),
                 "/usr/local/cuda"):
        path = os.path.join(base, "bin", "nvcc") if base else ""
        if path and os.access(path, os.X_OK):
            return path
    return ""


def find_launcher(setting: str | None = None) -> str:
    """The compiler launcher: ``compiler_launcher=auto`` (default) picks ccache or sccache
    when present (on PATH or beside this Python); ``none`` or empty disables; anything else is
    a command name or path. A launcher does not change the binary, so it is not in the key."""
    setting = config.compiler_launcher if setting is None else setting
    setting = setting.strip()
    if setting.lower() in ("", "none", "off", "0", "false"):
        return ""
    names = ("ccache", "sccache") if setting.lower() == "auto" else (setting,)
    scripts = sysconfig.get_path("scripts")
    for name in names:
        found = which(name) or which(name, path=scripts)
        if found:
            return found
    if setting.lower() != "auto":
        raise ToolchainError(f"compiler_launcher={setting!r} not found")
    return ""


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


def _cpu_identity() -> str:
    """Model name and ISA flags of the first CPU (what ``-march=native`` resolves from)."""
    try:
        with open("/proc/cpuinfo") as f:
            block = []
            for line in f:
                if not line.strip():
                    break
                if line.startswith(("model name", "flags", "vendor_id", "cpu family", "model\t")):
                    block.append(line.strip())
        return hashlib.sha256("\n".join(block).encode()).hexdigest()[:16]
    except OSError:
        import platform

        return platform.machine()


def _native_arch(cxx: str, flags: tuple[str, ...]) -> str:
    """What ``-march=native`` means on this machine (``znver3``), or "" if not used."""
    if not any(f in ("-march=native", "-mcpu=native", "-mtune=native") for f in flags):
        return ""
    import subprocess

    try:
        out = subprocess.run([cxx, "-march=native", "-Q", "--help=target"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "-march=":
            return parts[1]
    return "cpu-" + _cpu_identity()  # clang: no -Q --help=target; the CPU itself


def _blas_library() -> str:
    """``libscipy_openblas.so`` of the ``scipy-openblas32`` package, found without importing
    it (its import reads package metadata)."""
    import importlib.util

    spec = importlib.util.find_spec("scipy_openblas32")
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError("scipy-openblas32 not found: pip install scipy-openblas32")
    return os.path.join(list(spec.submodule_search_locations)[0], "lib", "libscipy_openblas.so")


def _stat_id(path: str) -> list:
    try:
        st = os.stat(path)
        return [path, st.st_size, st.st_mtime_ns]
    except OSError:
        return [path, None, None]


def _slow_parts(cxx: str, cmake: str, ninja: str, nvcc: str, flags: tuple[str, ...]) -> dict:
    """The parts that need subprocesses (about 0.1 s); memoized by ``_identity``."""
    return {
        "compiler": os.path.basename(cxx) + " " + _run_version([cxx]),
        "native_arch": _native_arch(cxx, flags),
        "cmake": _run_version([cmake]),
        "ninja": _run_version([ninja]),
        "cuda": _run_version([nvcc], last=True) if nvcc else "none",
    }


def _memo_path(identity: dict) -> Path:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return Path(config.cache_dir).expanduser() / "v1" / "toolchains" / f"{digest[:32]}.json"


def _memoized_slow_parts(identity: dict, compute) -> dict:
    """The slow parts from the cache's memo (it names the compiler croton runs, so it is read
    only from a trusted cache directory), else computed and memoized."""
    from croton.build_tools.trust import check_cache_dir, make_private_dirs

    path = _memo_path(identity)
    try:
        check_cache_dir(config.cache_dir)
    except OSError:  # an untrusted cache: neither read nor written (using it raises later)
        return compute()
    try:
        data = json.loads(path.read_text())
        if data.get("identity") == identity:
            return data["parts"]
    except (OSError, ValueError, KeyError):
        pass
    parts = compute()
    with contextlib.suppress(OSError):  # a read-only cache: just not memoized
        make_private_dirs(path.parent)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_text(json.dumps({"identity": identity, "parts": parts}, indent=1))
        os.replace(tmp, path)
    return parts


@functools.lru_cache(maxsize=1)
def discover() -> Toolchain:
    """Find every tool once per process; run them only when their fingerprint is not memoized."""
    import numpy
    import pybind11

    import croton

    cxx = _find_cxx()
    cmake = _find_tool("cmake", "cmake")
    ninja = _find_tool("ninja", "ninja")
    nvcc = find_nvcc()
    flags = tuple(config.compile_flags().split()) + ("-Wall", "-Wextra")
    blas = _blas_library()
    python = f"{sys.version.split()[0]} {sysconfig.get_config_var('SOABI') or ''}".strip()
    versions = {
        "pybind11": pybind11.__version__,
        "python": python,
        "numpy": numpy.__version__,
        "croton": croton.__version__,
    }
    identity = {
        "v": FINGERPRINT_VERSION, "cxx": _stat_id(cxx), "cmake": _stat_id(cmake),
        "ninja": _stat_id(ninja), "nvcc": _stat_id(nvcc) if nvcc else None,
        "blas": _stat_id(blas), "flags": list(flags), "cpu": _cpu_identity(), **versions,
    }

    def slow_parts() -> dict:
        # the distribution's version, not the module's: importing scipy_openblas32 loads
        # OpenBLAS (its get_openblas_config), before load_blas could choose its kernels
        from importlib.metadata import version

        return {**_slow_parts(cxx, cmake, ninja, nvcc, flags),
                "blas": "scipy-openblas32 " + version("scipy-openblas32")}

    slow = _memoized_slow_parts(identity, slow_parts)
    parts = {
        "compiler_path": cxx,
        **slow,
        "flags": list(flags),
        **versions,
        "runtime": runtime_digest(),
        # the binding layer compiles only these: editing a kernel header rebuilds the
        # functions that include it, not the binding
        "binding_abi": _files_digest(RUNTIME_DIR, ("cpu/abi.h", "cpu/dlpack.h", "cpu/buffer.hpp",
                                                   "python/binding.cpp", "python/device_call.cpp",
                                                   "python/call_slots.hpp")),
    }
    return Toolchain(
        cxx=cxx, cmake=cmake, ninja=ninja, cxx_flags=flags,
        pybind11_cmake_dir=pybind11.get_cmake_dir(), numpy_include=numpy.get_include(),
        blas_library=blas, runtime_dir=str(RUNTIME_DIR), key_parts=parts, nvcc=nvcc,
    )


def openblas_coretype(cpuinfo: str) -> str | None:
    r"""The OpenBLAS kernels croton asks for on the CPU ``cpuinfo`` (/proc/cpuinfo's text)
    describes, or None for OpenBLAS's own choice. On AMD Zen 4 (family 0x19 with AVX-512)
    OpenBLAS picks its AVX-512 (SkylakeX) kernels, but Zen 4 runs AVX-512 on 256-bit units,
    and its Zen (AVX2) kernels ran mlp_step 3-5% faster there (bench/RESULTS.md, session 17).

    >>> openblas_coretype("vendor_id : AuthenticAMD\ncpu family : 25\nflags : fma avx512f")
    'ZEN'
    >>> openblas_coretype("vendor_id : GenuineIntel\ncpu family : 6\nflags : fma avx512f") is None
    True
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    amd_zen4 = (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
                and "avx512f" in fields.get("flags", "").split())
    return "ZEN" if amd_zen4 else None


def croton_coretype() -> str | None:
    """``openblas_coretype`` for this machine's CPU (None where /proc/cpuinfo is not there):
    the kernels croton asks OpenBLAS for when the user has not set ``OPENBLAS_CORETYPE``. A
    program linking an exported function runs the same kernels, and so the same bits, with
    ``OPENBLAS_CORETYPE`` set to it.

    >>> croton_coretype() in (None, "ZEN")
    True
    """
    try:
        return openblas_coretype(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def load_blas() -> None:
    """Load OpenBLAS globally so compiled modules resolve it by soname (no RPATH needed).

    The compiled code runs OpenBLAS on one thread and splits products across croton's own
    thread pool (runtime/cpu/blas.hpp, runtime/cpu/thread_pool.hpp). Where the user has not
    set ``OPENBLAS_CORETYPE``, the kernels are ``openblas_coretype``'s choice for this CPU;
    the variable is set only while OpenBLAS loads (it reads it then), so NumPy's own OpenBLAS
    and the processes the program starts keep theirs."""
    import ctypes

    coretype = None if os.environ.get("OPENBLAS_CORETYPE") else croton_coretype()
    if coretype is not None:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    try:
        ctypes.CDLL(discover().blas_library, mode=ctypes.RTLD_GLOBAL)
    finally:
        if coretype is not None:
            del os.environ["OPENBLAS_CORETYPE"]
