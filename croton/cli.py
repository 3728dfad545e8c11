"""The ``croton`` command: cache management and a toolchain check.

Example::

    $ croton doctor          # compiler, CMake, Ninja, BLAS link test, cache writable
    $ croton cache list      # entries, newest last
    $ croton cache clear
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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


def cmd_cache(args) -> int:
    from croton.build_tools.cache import Cache
    from croton.config import config

    store = Cache(config.cache_dir)
    if args.action == "list":
        rows = [{"key": e["key"][:16], "size": e["size_bytes"], "label": e.get("label", ""),
                 "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created"]))}
                for e in sorted(store.list_entries(), key=lambda e: e.get("created", 0))]
        _print(rows, args.json)
    elif args.action == "info":
        matches = [e for e in store.list_entries() if e["key"].startswith(args.key or "")]
        if len(matches) != 1:
            print(f"croton cache info: {len(matches)} entries match {args.key!r}", file=sys.stderr)
            return 1
        _print(matches[0], args.json)
    elif args.action == "stats":
        entries = store.list_entries()
        _print({"directory": str(store.root), "entries": len(entries),
                "bytes": sum(e["size_bytes"] for e in entries)}, args.json)
    elif args.action == "clear":
        n = store.clear()
        _print({"removed_entries": n, "directory": str(store.root)}, args.json)
    return 0


def cmd_doctor(args) -> int:
    """Check every tool croton needs; exit 1 if any check fails."""
    from croton.config import config

    checks: dict[str, str] = {}
    ok = True
    try:
        from croton.build_tools.toolchain import discover

        tc = discover()
        checks.update({"compiler": f"{tc.cxx} ({tc.key_parts['compiler']})",
                       "cmake": tc.cmake, "ninja": tc.ninja, "blas": tc.blas_library,
                       "flags": " ".join(tc.cxx_flags)})
    except Exception as exc:  # noqa: BLE001 - report every failure as a check
        checks["toolchain"] = f"FAILED: {exc}"
        ok = False
    try:
        os.makedirs(config.cache_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.cache_dir):
            pass
        checks["cache_dir"] = f"{config.cache_dir} (writable)"
    except OSError as exc:
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
            ok = ok and good
        except Exception as exc:  # noqa: BLE001
            checks["build_and_blas_link_test"] = f"FAILED: {exc}"
            ok = False
    import shutil

    checks["graphviz_dot"] = shutil.which("dot") or "not found (pydotprint needs it: " \
        "apt-get install graphviz)"
    checks["status"] = "ok" if ok else "problems found"
    _print(checks, args.json)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="croton", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_cache = sub.add_parser("cache", help="inspect or clear the compiled-function cache")
    p_cache.add_argument("action", choices=["list", "info", "stats", "clear"])
    p_cache.add_argument("key", nargs="?", default=None)
    p_cache.add_argument("--json", action="store_true")
    p_cache.set_defaults(fn=cmd_cache)
    p_doc = sub.add_parser("doctor", help="check the toolchain and the cache directory")
    p_doc.add_argument("--json", action="store_true")
    p_doc.set_defaults(fn=cmd_doctor)
    p_ver = sub.add_parser("version", help="print croton's version")
    p_ver.set_defaults(fn=lambda a: print(__import__("croton").__version__) or 0)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
