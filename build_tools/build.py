"""The build driver: a content key for a function's source, a cache hit without running any
tool, or a build in a free slot of the toolchain's pool of configured CMake + Ninja trees
(``build_tools/tree.py``) under a lock of that key only.

Example::

    >>> from croton.build_tools.build import function_key
    >>> len(function_key("int f();"))
    64
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from croton.build_tools.cache import Cache, dir_bytes, file_sha256, warn_user
from croton.build_tools.elf import elf_problem
from croton.build_tools.toolchain import Toolchain, discover, load_blas
from croton.build_tools.trust import make_private_dirs
from croton.config import config, parse_bytes


class CompileError(RuntimeError):
    """A build failed. ``command``, ``first_error`` and ``build_dir`` say where to look."""

    def __init__(self, command: list[str], first_error: str, build_dir: Path, log: str) -> None:
        self.command, self.first_error, self.build_dir, self.log = (
            command, first_error, build_dir, log)
        super().__init__(
            f"croton: compiling failed.\n  command: {' '.join(command)}\n"
            f"  first error: {first_error}\n  build directory (kept): {build_dir}"
        )


__all__ = ["BuildResult", "CompileError", "binding", "build_function", "function_key",
           "function_key_parts", "cache"]

PROGRESS_AFTER_SECONDS = 2.0
TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass
class BuildResult:
    module: ModuleType
    key: str
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    entry_dir: Path | None = None


def cache() -> Cache:
    return Cache(config.cache_dir)


_OVERFLOW: Cache | None = None


def overflow_cache() -> Cache:
    """Where misses are built when the cache directory is read-only: a writable sibling
    (``$XDG_CACHE_HOME/croton-overflow``), else ``croton-overflow-<uid>`` in the temp dir, each
    only if this user owns it and nobody else can write it (``build_tools/trust.py``); else a new
    private directory (``mkdtemp``, used by this process only)."""
    global _OVERFLOW
    if _OVERFLOW is None:
        import tempfile

        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        for root in (os.path.join(base, "croton-overflow"),
                     os.path.join(tempfile.gettempdir(), f"croton-overflow-{os.getuid()}")):
            candidate = Cache(root)
            try:
                if candidate.writable:
                    _OVERFLOW = candidate
                    break
            except OSError:  # refused: another user's, or writable by others
                continue
        else:
            try:
                _OVERFLOW = Cache(tempfile.mkdtemp(prefix=f"croton-overflow-{os.getuid()}-"))
            except OSError:
                raise OSError("croton: no writable directory for the kernel cache: set "
                              "CROTON_CACHE_DIR") from None
    return _OVERFLOW


_NOTED: set[str] = set()


def writable_cache(primary: Cache) -> Cache:
    """``primary`` if it can be written, else the overflow cache (with a note, once)."""
    if primary.writable:
        return primary
    other = overflow_cache()
    if str(primary.root) not in _NOTED:
        _NOTED.add(str(primary.root))
        print(f"croton: cache directory {primary.base} is read-only; new functions are built "
              f"in {other.base}", file=sys.stderr, flush=True)
    return other


@functools.lru_cache(maxsize=1)
def build_templates_digest() -> str:
    """Hash of the CMake templates of ``build_tools/templates`` (part of every cache key)."""
    h = hashlib.sha256()
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def codegen_templates_digest() -> str:
    """Hash of codegen's templates, computed without importing Jinja (same as
    ``croton.codegen.render.templates_digest``)."""
    import croton.codegen

    h = hashlib.sha256()
    root = Path(croton.codegen.__file__).parent / "templates"
    for path in sorted(root.rglob("*.j2")):  # the host driver and every target's loops
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def function_key_parts(source: str, toolchain: Toolchain | None = None,
                       target: str = "cpu") -> dict[str, object]:
    """Everything that changes the binary, by name (stored in meta.json; compared by
    ``explain_cache_misses``). No paths of the cache, no labels, nothing process-specific.
    ``target`` is the name of the ``codegen.target.Target`` the source was rendered for."""
    tc = toolchain or discover()
    parts = {**tc.key_parts, "target": target, "templates": codegen_templates_digest(),
             "build_templates": build_templates_digest(),
             "source": hashlib.sha256(source.encode()).hexdigest()}
    if _is_cuda(target):  # the architectures built for (build_tools/cuda.py)
        from croton.build_tools.cuda import architectures

        parts["cuda_arch"] = ",".join(architectures())
        from croton.build_tools.cuda import cublas, needs_cublas

        if needs_cublas(source):  # its headers and library: the wheel's version
            parts["cublas"] = cublas()[2] or "none"
    return parts


def _is_cuda(target: str) -> bool:
    """Whether the target named ``target`` compiles with nvcc (the CUDA language)."""
    from croton.codegen.target import TARGETS

    return target in TARGETS and TARGETS[target].language == "cuda"


def key_of(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def function_key(source: str, toolchain: Toolchain | None = None, target: str = "cpu") -> str:
    """sha256 over the source, its target's name, the templates and the whole toolchain
    fingerprint."""
    return key_of(function_key_parts(source, toolchain, target))


def module_name(key: str) -> str:
    return f"croton_fn_{key[:24]}"


def _import_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def binding_dir(store: Cache, tc: Toolchain) -> Path:
    """``trees/binding-<key>``: the built binding layer, importable from anywhere (its tree is
    ``tree/`` inside). Keyed by ``tc.binding_key``: function flags do not rebuild it."""
    return store.trees / f"binding-{tc.binding_key[:16]}"


def find_binding(store: Cache, tc: Toolchain) -> Path | None:
    """The binding module of this toolchain in ``store`` if present and intact."""
    d = binding_dir(store, tc)
    try:
        meta = json.loads((d / "binding.json").read_text())
        path = d / meta["module"]
        if os.path.getsize(path) == meta["size"] and file_sha256(path) == meta["sha256"] \
                and elf_problem(path) is None:
            return path
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


_BINDING: ModuleType | None = None


def binding() -> ModuleType:
    """The binding layer, built on first use per toolchain and imported once per process."""
    global _BINDING
    if _BINDING is not None:
        return _BINDING
    tc, store = discover(), cache()
    path = find_binding(store, tc)
    if path is None:
        from croton.build_tools.tree import build_binding

        target = writable_cache(store)
        path = find_binding(target, tc) or build_binding(target, tc)
    try:
        _BINDING = _import_path("_croton_binding", path)
    except ImportError as exc:  # damaged in a way the checks above cannot see: rebuild once
        from croton.build_tools.tree import build_binding

        target = writable_cache(store)
        warn_user(f"croton's binding layer {path} cannot be imported ({exc}); rebuilding")
        with contextlib.suppress(OSError):
            (path.parent / "binding.json").unlink()
        _BINDING = _import_path("_croton_binding", build_binding(target, tc))
    with contextlib.suppress(OSError):  # in use: `croton cache prune` keeps it
        os.utime(path.parent / "binding.json")
    return _BINDING


class Progress:
    """One stderr line for a build slower than ``after`` seconds: which function, which phase;
    finished (``done in 3.1 s``) when the build ends.

    Example::

        >>> p = Progress("f", after=60.0); p.phase = "compile"; p.finish()
    """

    def __init__(self, label: str, after: float | None = None) -> None:
        import threading

        after = PROGRESS_AFTER_SECONDS if after is None else after

        self.label, self.phase = label or "a function", "start"
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._shown = self._done = False
        self._timer = threading.Timer(after, self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._lock:
            if not self._done:
                print(f"croton: building {self.label} ({self.phase})...", end="",
                      file=sys.stderr, flush=True)
                self._shown = True

    def finish(self, ok: bool = True) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._shown:
                took = time.perf_counter() - self.t0
                print(f" {'done' if ok else 'failed'} in {took:.1f} s", file=sys.stderr,
                      flush=True)


def log_compile_report(label: str, timings: dict[str, float]) -> None:
    """``CROTON_FLAGS=profile_compile=1``: one line with every phase's time."""
    order = ("rewrite", "lower", "render", "kernels", "key", "lock_wait", "configure", "pch",
             "compile", "link", "commit", "evict", "load", "total")
    items = [f"{k} {timings[k] * 1e3:.1f}" for k in order if k in timings]
    items += [f"{k} {v * 1e3:.1f}" for k, v in timings.items()
              if k not in order and isinstance(v, float)]
    print(f"croton: compile profile of {label} (ms): " + ", ".join(items), file=sys.stderr,
          flush=True)


def _explain_miss(stores: list[Cache], key: str, parts: dict, label: str) -> None:
    for store in stores:
        near = store.nearest(parts, label)
        if near is not None:
            other, diff = near
            print(f"croton: cache miss for {label or 'a function'} (key {key[:16]}): nearest "
                  f"entry {other[:16]} differs in {', '.join(diff) or 'nothing?'}",
                  file=sys.stderr, flush=True)
            return
    print(f"croton: cache miss for {label or 'a function'} (key {key[:16]}): no entries yet",
          file=sys.stderr, flush=True)


def _load(store: Cache, key: str, path: Path, timings: dict, t0: float) -> BuildResult | None:
    """Import a cached module; None if it vanished meanwhile (evicted by another process)."""
    t1 = time.perf_counter()
    try:
        mod = _import_path(module_name(key), path)
    except (ImportError, OSError):
        if path.exists():
            raise
        return None
    store.touch(key)
    timings["load"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    return BuildResult(mod, key, False, timings, store.entry_dir(key))


def build_function(source: str, label: str = "", target: str = "cpu") -> BuildResult:
    """Compile one function's translation unit, rendered for the target named ``target``, or
    load it from the cache."""
    from croton.build_tools.kernels import load_kernels

    load_blas()
    t0 = time.perf_counter()
    tc, primary = discover(), cache()
    load_kernels(primary, tc, lambda: writable_cache(primary))  # modules find it by soname
    t_kernels = time.perf_counter()
    parts = function_key_parts(source, tc, target)
    key = key_of(parts)
    timings: dict[str, float] = {"key": time.perf_counter() - t_kernels}
    if t_kernels - t0 > 0.01:  # the process's first function (built the library if missing)
        timings["kernels"] = t_kernels - t0
    stores = [primary]
    for attempt in range(2):
        for store in stores:
            path = store.lookup(key)
            if path is not None:
                result = _load(store, key, path, timings, t0)
                if result is not None:
                    result.cached = True
                    return result
        writable = writable_cache(primary)
        if writable is not primary and writable not in stores:
            stores.append(writable)
            path = writable.lookup(key)
            if path is not None and (result := _load(writable, key, path, timings, t0)):
                result.cached = True
                return result
        if config.explain_cache_misses and attempt == 0:
            _explain_miss(stores, key, parts, label)
        path, built = _build(writable, source, label, key, parts, tc, timings, target)
        result = _load(writable, key, path, timings, t0)
        if result is not None:
            result.cached = not built
            return result
    raise CompileError(["import"], "the cache entry vanished twice after building",
                       primary.entry_dir(key), "")


def _build(store: Cache, source: str, label: str, key: str, parts: dict, tc: Toolchain,
           timings: dict, target: str = "cpu") -> tuple[Path, bool]:
    """Build ``key`` into ``store`` unless another process did it meanwhile. Returns the
    module path and whether this process built it. A process that waits for the key's lock
    prints the waiting line; the one that builds, a progress line after 2 s."""
    store.ensure()
    with store.key_lock(key, label) as lk:
        timings["lock_wait"] = lk.waited
        path = store.lookup(key)
        if path is not None:
            return path, False
        store.sweep(prefix=f".tmp-{key[:16]}")
        progress = Progress(label)
        ok = False
        try:
            path = _build_locked(store, source, label, key, parts, tc, timings, progress,
                                 target)
            ok = True
        finally:
            progress.finish(ok)
    t1 = time.perf_counter()
    with contextlib.suppress(OSError):
        # the full scan (every entry's size) runs only when the running total says the cap is
        # reached, or every FULL_SCAN_EVERY builds: not on every compile's critical path
        cap = parse_bytes(config.cache_max_bytes)
        approx, builds = store.note_build(dir_bytes(path.parent))
        if approx < 0 or approx > cap or builds >= FULL_SCAN_EVERY:
            store.evict(cap, keep=(key,))
            store.sweep()
    timings["evict"] = time.perf_counter() - t1
    return path, True


FULL_SCAN_EVERY = 64


def _build_locked(store: Cache, source: str, label: str, key: str, parts: dict,
                  tc: Toolchain, timings: dict, progress: Progress, target: str = "cpu") -> Path:
    import shutil

    from croton.build_tools.kernels import load_kernels
    from croton.build_tools.tree import acquire_slot

    name = module_name(key)
    kernels = load_kernels(store, tc, lambda: store)  # loaded already: its path
    log: list[str] = []
    progress.phase = "waiting for a build tree"
    cuda = None
    if _is_cuda(target):
        from croton.build_tools.cuda import require_cublas, slot_context

        require_cublas(source)
        cuda = slot_context(tc)
    with acquire_slot(store, tc, kernels, cuda) as slot:
        progress.phase = "configure"
        t1 = time.perf_counter()
        fresh = slot.ensure_configured(log)
        timings["configure"] = time.perf_counter() - t1
        progress.phase = "compile"
        t2 = time.perf_counter()
        try:
            built, edges = slot.compile(source, name, log)
        except CompileError as exc:
            if fresh or "fn.cpp" in exc.first_error:
                raise _keep_failure(store, key, slot.src, exc) from None
            # Not the function's fault: the slot may be damaged (a killed build). Rebuild it.
            log.append("croton: build failed outside fn.cpp; reconfiguring the slot")
            slot.ready_file.unlink(missing_ok=True)
            slot.ensure_configured(log)
            try:
                built, edges = slot.compile(source, name, log)
            except CompileError as exc2:
                raise _keep_failure(store, key, slot.src, exc2) from None
        timings["ninja"] = time.perf_counter() - t2
        timings.update(edges)
        progress.phase = "commit"
        t3 = time.perf_counter()
        staging = store.staging_dir(key)
        module_file = staging / f"{name}{built.name.removeprefix('croton_fn')}"
        shutil.copy2(built, module_file)
    (staging / "fn.cpp").write_text(source)
    (staging / "build.log").write_text("\n".join(log))
    files = {p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(staging.iterdir())}
    meta = {
        "key": key, "label": label, "module": module_file.name,
        "module_sha256": files[module_file.name]["sha256"], "files": files,
        "key_parts": parts, "created": time.time(), "timings": timings,
        "slot": slot.index,
    }
    (staging / "meta.json").write_text(json.dumps(meta, indent=1))
    store.commit(key, staging)
    timings["commit"] = time.perf_counter() - t3
    path = store.lookup(key)
    if path is None:
        raise CompileError(["commit"], "cache entry vanished after build", store.entry_dir(key),
                           "\n".join(log))
    return path


def _keep_failure(store: Cache, key: str, src: Path, exc: CompileError) -> CompileError:
    """Copy the failed sources and log out of the slot (which the next build reuses)."""
    import shutil

    from croton.build_tools.tree import UNIT_FILES

    kept = store.root / "failed" / f"{key[:16]}-{os.getpid()}"
    with contextlib.suppress(OSError):
        shutil.rmtree(kept, ignore_errors=True)
        make_private_dirs(kept)
        for name in ("fn.cpp", "fn_name.h", *UNIT_FILES, "unit.cu", "init.cpp",
                     "CMakeLists.txt"):
            if (src / name).exists():
                shutil.copy2(src / name, kept / name)
        (kept / "build.log").write_text(exc.log)
    return CompileError(exc.command, exc.first_error, kept, exc.log)
