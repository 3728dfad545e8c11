"""libcroton_kernels: the runtime's heaviest kernel templates (convolutions, pooling, BLAS
drivers, reshapes, sorts), compiled once per toolchain with the functions' own flags and
linked by every function (``runtime/cpu/kernels_library.cpp``). A function's translation unit,
built with ``CROTON_PREBUILT_KERNELS``, declares those instantiations extern instead of
compiling them: a LeNet training step compiles about a third faster.

The library lives in ``trees/<toolchain>/kernels/`` with ``kernels.json`` (its size and
sha256, checked before every load, as for the binding layer). Its soname names the toolchain
(``libcroton_kernels_<short>.so``), and it is loaded before any function module, so a module's
``DT_NEEDED`` entry is satisfied by name: no RPATH, and a relocated cache keeps working.

Example::

    >>> from croton.build_tools.kernels import library_name
    >>> library_name("0123456789abcdef")
    'libcroton_kernels_0123456789abcdef.so'
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from croton.build_tools.cache import Cache, file_sha256
from croton.build_tools.elf import elf_problem
from croton.build_tools.toolchain import Toolchain

__all__ = ["kernels_dir", "find_kernels", "build_kernels", "load_kernels", "library_name"]


def library_name(short: str) -> str:
    """The file name (and soname) of toolchain ``short``'s kernel library."""
    return f"libcroton_kernels_{short}.so"


def kernels_dir(store: Cache, tc: Toolchain) -> Path:
    return store.trees / tc.short / "kernels"


def find_kernels(store: Cache, tc: Toolchain) -> Path | None:
    """The kernel library of this toolchain in ``store`` if present and intact."""
    d = kernels_dir(store, tc)
    try:
        meta = json.loads((d / "kernels.json").read_text())
        path = d / meta["library"]
        if os.path.getsize(path) == meta["size"] and file_sha256(path) == meta["sha256"] \
                and elf_problem(path) is None:
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def build_kernels(store: Cache, tc: Toolchain) -> Path:
    """Build the library once per toolchain (under a lock) and install it atomically."""
    from croton.build_tools.build import CompileError
    from croton.build_tools.toolchain import find_launcher
    from croton.build_tools.tree import Tree, render_build_template

    store.ensure()
    with store.lock(f"kernels-{tc.short}", "the kernel library") as lk:
        found = find_kernels(store, tc)
        if found is not None:
            return found
        print("croton: compiling the kernel library once for this toolchain (about 10 s)...",
              file=sys.stderr, flush=True)
        name = library_name(tc.short)
        text = render_build_template(
            "kernels_CMakeLists.txt.j2", runtime_dir=tc.runtime_dir, cxx_flags=tc.cxx_flags,
            blas_library=tc.blas_library, compiler_launcher=find_launcher(),
            output_name=name.removeprefix("lib").removesuffix(".so"))
        d = kernels_dir(store, tc)
        tree = Tree(d / "tree", text, tc, hold=lk)
        log: list[str] = []
        tree.ensure_configured(log)
        built = tree.build / name
        built.unlink(missing_ok=True)  # never reuse an output ninja thinks is up to date
        tree.ninja(name, log)
        problem = elf_problem(built) if built.exists() else "not produced"
        if problem is not None:
            raise CompileError(["ninja", name], f"kernel library {problem}", tree.root,
                               "\n".join(log))
        tmp = d / f".tmp-{os.getpid()}-{name}"
        shutil.copy2(built, tmp)
        os.replace(tmp, d / name)
        tmp_meta = d / f".tmp-{os.getpid()}-kernels.json"
        tmp_meta.write_text(json.dumps({
            "library": name, "size": os.path.getsize(d / name),
            "sha256": file_sha256(d / name), "created": time.time()}))
        os.replace(tmp_meta, d / "kernels.json")
        return d / name


_LOADED: dict[str, Path] = {}


def load_kernels(store: Cache, tc: Toolchain, writable: Callable[[], Cache]) -> Path:
    """The kernel library of ``tc`` (built into ``writable()`` when ``store`` lacks it),
    loaded into this process so that function modules find it by soname. Returns its path."""
    if tc.short in _LOADED:
        return _LOADED[tc.short]
    path = find_kernels(store, tc)
    if path is None:
        target = writable()
        path = find_kernels(target, tc) or build_kernels(target, tc)
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    _LOADED[tc.short] = path
    return path
