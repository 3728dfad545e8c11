"""Building for the CUDA target: the architectures (``CROTON_FLAGS=cuda_arch=80,90``, else the
present GPU's, else 80 and 90 when there is none: a build that only compiles), nvcc's flags, and
the parameters of the CUDA slot trees (``build_tools/tree.py``, ``cuda_slot_CMakeLists.txt.j2``).

Each architecture is built as SASS and PTX (CMake's ``CUDA_ARCHITECTURES`` "80"), so the binary
runs on its GPUs and, through the driver's JIT, on newer ones.

Example::

    >>> from croton.build_tools.cuda import parse_architectures
    >>> parse_architectures("80,90"), parse_architectures("sm_86; 90")
    (('80', '90'), ('86', '90'))
"""

from __future__ import annotations

import functools
import os
import re
from importlib import metadata

from croton.config import config

DEFAULT_ARCHITECTURES = ("80", "90")  # A100 and H100/H200, when no device says otherwise
# nvcc's flags for a function's translation unit (the host compiler's warnings included: the
# generated code must be warning-free under -Wall -Wextra on the device's side too)
CUDA_FLAGS = ("-O3", "--expt-relaxed-constexpr", "-Xcompiler=-Wall", "-Xcompiler=-Wextra",
              "-Xcompiler=-fno-math-errno", "-Xcompiler=-fwrapv")


def parse_architectures(text: str) -> tuple[str, ...]:
    """``"80,90"`` (or ``sm_80;sm_90``, ``8.0``) as CMake's architecture numbers."""
    out: list[str] = []
    for item in filter(None, (t.strip() for t in re.split(r"[,;\s]+", text))):
        number = item.lower().removeprefix("sm_").removeprefix("compute_").replace(".", "")
        if not number.isdigit() or len(number) < 2:
            raise ValueError(f"cuda_arch: {item!r} is not a CUDA architecture (e.g. 80, 90, "
                             f"sm_86)")
        out.append(number)
    return tuple(dict.fromkeys(out))


def architectures() -> tuple[str, ...]:
    """The architectures a CUDA function is built for now."""
    if config.cuda_arch.strip():
        return parse_architectures(config.cuda_arch)
    from croton.cuda.runtime import device_architecture

    present = device_architecture()
    return (present,) if present else DEFAULT_ARCHITECTURES


def toolkit_dir(nvcc: str) -> str:
    """The CUDA toolkit's root (``/usr/local/cuda-13.0``): nvcc's (through symlinks), else
    ``$CUDA_HOME``, ``$CUDA_PATH`` or ``/usr/local/cuda`` (nvcc may be a wrapper script)."""
    for root in (os.path.dirname(os.path.dirname(os.path.realpath(nvcc))),
                 os.environ.get("CUDA_HOME", ""), os.environ.get("CUDA_PATH", ""),
                 "/usr/local/cuda"):
        if root and os.path.exists(os.path.join(root, "include", "cuda_runtime.h")):
            return os.path.realpath(root)
    return os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))


def toolkit_nvcc(nvcc: str) -> str:
    """The toolkit's own nvcc binary (what CMake is given), else ``nvcc`` itself."""
    real = os.path.join(toolkit_dir(nvcc), "bin", "nvcc")
    return real if os.access(real, os.X_OK) else nvcc


def cudart_dir(nvcc: str) -> str:
    """The directory of the toolkit's shared libcudart (the modules' RPATH)."""
    root = toolkit_dir(nvcc)
    for sub in ("lib64", "lib", os.path.join("targets", "x86_64-linux", "lib")):
        d = os.path.join(root, sub)
        if any(n.startswith("libcudart.so") for n in _listdir(d)):
            return d
    return os.path.join(root, "lib64")


def _listdir(d: str) -> list[str]:
    try:
        return os.listdir(d)
    except OSError:
        return []


# what a translation unit includes when it calls cuBLAS (codegen/lowering/cuda_blas.py)
CUBLAS_HEADER = '#include "kernels/blas.cuh"'
CUBLAS_WHEEL = "nvidia-cublas"


@functools.lru_cache(maxsize=1)
def cublas() -> tuple[str, str, str]:
    """cuBLAS from its wheel (``pip install croton[cuda]``: nvidia-cublas): the directory of
    ``cublas_v2.h``, the path of ``libcublas.so.<major>`` and the wheel's version; empty
    strings when it is not installed. Found through the wheel's file list, so either layout
    (``nvidia/cu13/...`` or ``nvidia/cublas/...``) works."""
    try:
        dist = metadata.distribution(CUBLAS_WHEEL)
    except metadata.PackageNotFoundError:
        return "", "", ""
    include = library = ""
    for f in dist.files or ():
        name = f.name
        if name == "cublas_v2.h" and f.parent.name == "include":
            include = str(dist.locate_file(f).parent)
        elif re.fullmatch(r"libcublas\.so\.\d+", name):
            library = str(dist.locate_file(f))
    if not (include and library and os.path.exists(library)):
        return "", "", ""
    return os.path.realpath(include), os.path.realpath(library), dist.version


def needs_cublas(source: str) -> bool:
    """Whether the CUDA translation unit ``source`` calls cuBLAS."""
    return CUBLAS_HEADER in source


def require_cublas(source: str) -> None:
    """Refuse to build ``source`` when it calls cuBLAS and cuBLAS is not installed."""
    if needs_cublas(source) and not cublas()[1]:
        from croton.build_tools.toolchain import ToolchainError

        raise ToolchainError(
            "this CUDA function's matrix products (dot, gemm, gemv, ger) need cuBLAS, which is "
            f"not installed: pip install croton[cuda] (the {CUBLAS_WHEEL} wheel, CUDA 13)")


def slot_context(tc) -> dict:
    """The CUDA slot template's variables beyond the CPU slot's, and the tree's name. cuBLAS,
    when installed, is on every module's link line after ``--as-needed``: only a module that
    calls it depends on it."""
    archs = architectures()
    include, library, _ = cublas()
    return {"cuda_architectures": ";".join(archs), "cudart_dir": cudart_dir(tc.nvcc),
            "cuda_flags": CUDA_FLAGS, "tag": "cuda-" + "-".join(archs),
            "cublas_include": include, "cublas_library": library,
            "cublas_dir": os.path.dirname(library)}


def configure_args(tc) -> list[str]:
    """CMake's CUDA compiler and its host compiler (the toolchain's C++ compiler)."""
    if not tc.nvcc:
        from croton.build_tools.toolchain import ToolchainError

        raise ToolchainError("the CUDA target needs nvcc, which was not found: install the "
                             "CUDA toolkit or put nvcc on PATH (or set CUDA_HOME)")
    return [f"-DCMAKE_CUDA_COMPILER={toolkit_nvcc(tc.nvcc)}",
            f"-DCMAKE_CUDA_HOST_COMPILER={tc.cxx}"]
