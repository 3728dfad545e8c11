"""The CMake + Ninja driver: one persistent build tree per toolchain; a new function is one
more target in it. Returns cached modules without running any tool when the key is known.

Example::

    >>> from croton.build_tools.build import function_key
    >>> len(function_key("int f();"))
    64
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from croton.build_tools.cache import Cache, file_sha256
from croton.build_tools.toolchain import Toolchain, discover, load_blas
from croton.codegen.render import render_template, templates_digest
from croton.config import config


class CompileError(RuntimeError):
    """A build failed. ``command``, ``first_error`` and ``build_dir`` say where to look."""

    def __init__(self, command: list[str], first_error: str, build_dir: Path, log: str) -> None:
        self.command, self.first_error, self.build_dir, self.log = (
            command, first_error, build_dir, log)
        super().__init__(
            f"croton: compiling failed.\n  command: {' '.join(command)}\n"
            f"  first error: {first_error}\n  build directory (kept): {build_dir}"
        )


@dataclass
class BuildResult:
    module: ModuleType
    key: str
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    entry_dir: Path | None = None


def cache() -> Cache:
    return Cache(config.cache_dir)


def function_key(source: str, toolchain: Toolchain | None = None) -> str:
    """sha256 over the source, the templates and the whole toolchain fingerprint."""
    tc = toolchain or discover()
    h = hashlib.sha256()
    for part in (tc.key, templates_digest(), source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def module_name(key: str) -> str:
    return f"croton_fn_{key[:24]}"


def _run(cmd: list[str], cwd: Path, log: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    log.append(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        first = next((ln for ln in text.splitlines() if "error" in ln.lower()),
                     text.strip().splitlines()[-1] if text.strip() else "(no output)")
        raise CompileError(cmd, first.strip(), cwd, "\n".join(log))


class BuildTree:
    """The persistent, configured CMake tree of one toolchain (``cache/v1/trees/<key>``)."""

    def __init__(self, store: Cache, tc: Toolchain) -> None:
        self.store, self.tc = store, tc
        self.root = store.trees / tc.tree_key[:16]
        self.src = self.root / "src"
        self.build = self.root / "build"
        self.lock_name = f"tree-{tc.tree_key[:16]}"

    def configure(self, log: list[str]) -> None:
        """Write the top-level CMakeLists and configure once (callers hold the tree lock)."""
        (self.src / "functions").mkdir(parents=True, exist_ok=True)
        text = render_template(
            "tree_CMakeLists.txt.j2", runtime_dir=self.tc.runtime_dir,
            cxx_flags=self.tc.cxx_flags, blas_library=self.tc.blas_library,
            pybind11_cmake_dir=self.tc.pybind11_cmake_dir, numpy_include=self.tc.numpy_include,
            compiler_launcher=_launcher(),
        )
        lists = self.src / "CMakeLists.txt"
        if lists.exists() and lists.read_text() == text and (self.build / "build.ninja").exists():
            return
        lists.write_text(text)
        self.build.mkdir(parents=True, exist_ok=True)
        _run([self.tc.cmake, "-S", str(self.src), "-B", str(self.build), "-G", "Ninja",
              f"-DCMAKE_MAKE_PROGRAM={self.tc.ninja}", f"-DCMAKE_CXX_COMPILER={self.tc.cxx}",
              f"-DPython_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE="],
             self.root, log)

    def build_target(self, target: str, log: list[str]) -> None:
        _run([self.tc.cmake, "--build", str(self.build), "--target", target, "--verbose"],
             self.root, log)


def _launcher() -> str:
    for tool in ("ccache", "sccache"):
        if shutil.which(tool):
            return shutil.which(tool)
    return ""


_BINDING: ModuleType | None = None


def _import_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def binding() -> ModuleType:
    """The binding layer, built on first use per toolchain and imported once per process."""
    global _BINDING
    if _BINDING is not None:
        return _BINDING
    tc, store = discover(), cache()
    tree = BuildTree(store, tc)
    found = sorted(tree.build.glob("_croton_binding*.so")) if tree.build.exists() else []
    if not found:
        store.ensure()
        log: list[str] = []
        with store.lock(tree.lock_name):
            found = sorted(tree.build.glob("_croton_binding*.so")) \
                if tree.build.exists() else []
            if not found:
                print("croton: building the binding layer once for this toolchain "
                      "(about 15 s)...", file=sys.stderr)
                tree.configure(log)
                tree.build_target("_croton_binding", log)
                found = sorted(tree.build.glob("_croton_binding*.so"))
    _BINDING = _import_path("_croton_binding", found[0])
    return _BINDING


def build_function(source: str, label: str = "") -> BuildResult:
    """Compile one function's translation unit, or load it from the cache."""
    load_blas()
    tc, store = discover(), cache()
    t0 = time.perf_counter()
    key = function_key(source, tc)
    name = module_name(key)
    path = store.lookup(key)
    if path is not None:
        mod = _import_path(name, path)
        return BuildResult(mod, key, True, {"load": time.perf_counter() - t0},
                           store.entry_dir(key))
    store.ensure()
    timings: dict[str, float] = {}
    log: list[str] = []
    with store.lock(f"key-{key[:32]}"):
        path = store.lookup(key)
        if path is None:
            tree = BuildTree(store, tc)
            with store.lock(tree.lock_name):
                t1 = time.perf_counter()
                tree.configure(log)
                fdir = tree.src / "functions" / name
                fdir.mkdir(parents=True, exist_ok=True)
                (fdir / "fn.cpp").write_text(source)
                (fdir / "CMakeLists.txt").write_text(
                    render_template("function_CMakeLists.txt.j2", module=name))
                timings["configure"] = time.perf_counter() - t1
                t2 = time.perf_counter()
                tree.build_target(name, log)
                timings["compile_link"] = time.perf_counter() - t2
                built = sorted((tree.build / "functions" / name).glob(f"{name}*.so"))
                if not built:
                    raise CompileError(["cmake", "--build"], "module file not produced",
                                       fdir, "\n".join(log))
                staging = store.staging_dir(key)
                shutil.copy2(built[0], staging / built[0].name)
                (staging / "fn.cpp").write_text(source)
                (staging / "build.log").write_text("\n".join(log))
                meta = {
                    "key": key, "label": label, "module": built[0].name,
                    "module_sha256": file_sha256(staging / built[0].name),
                    "created": time.time(), "timings": timings,
                    "toolchain": tc.key_parts,
                }
                (staging / "meta.json").write_text(json.dumps(meta, indent=1))
                store.commit(key, staging)
                # The tree keeps the object, not the source dir: a rebuild would just relink.
                shutil.rmtree(fdir, ignore_errors=True)
            path = store.lookup(key)
            if path is None:
                raise CompileError(["commit"], "cache entry vanished after build",
                                   store.entry_dir(key), "\n".join(log))
    mod = _import_path(name, path)
    timings["total"] = time.perf_counter() - t0
    return BuildResult(mod, key, False, timings, store.entry_dir(key))
