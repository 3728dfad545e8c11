"""The on-disk cache: one directory per compiled function, named by the sha256 of everything
that changes the binary. Entries are built elsewhere and moved into place atomically; a corrupt
entry (its module's checksum differs from ``meta.json``) is treated as a miss.

Example::

    >>> from croton.build_tools.cache import Cache
    >>> import tempfile
    >>> c = Cache(tempfile.mkdtemp())
    >>> c.lookup("0" * 64) is None
    True
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

LAYOUT_VERSION = "v1"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cache:
    """``root/v1/entries/<key>/`` holds sources, build log, module and ``meta.json``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser() / LAYOUT_VERSION
        self.entries = self.root / "entries"
        self.locks = self.root / "locks"
        self.trees = self.root / "trees"

    def ensure(self) -> None:
        for d in (self.entries, self.locks, self.trees):
            d.mkdir(parents=True, exist_ok=True)

    def entry_dir(self, key: str) -> Path:
        return self.entries / key

    def lookup(self, key: str) -> Path | None:
        """The module path of a valid entry, or None (a corrupt entry warns and is removed)."""
        meta_path = self.entry_dir(key) / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            module = self.entry_dir(key) / meta["module"]
            if file_sha256(module) != meta["module_sha256"]:
                raise ValueError("module checksum mismatch")
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, OSError) as exc:
            warnings.warn(f"croton cache entry {key[:16]} is corrupt ({exc}); rebuilding",
                          stacklevel=3)
            self.remove(key)
            return None
        return module

    def remove(self, key: str) -> None:
        target = self.entry_dir(key)
        if target.exists():
            trash = self.entries / f".trash-{key}-{os.getpid()}-{time.monotonic_ns()}"
            with contextlib.suppress(OSError):
                os.rename(target, trash)
                shutil.rmtree(trash, ignore_errors=True)

    def commit(self, key: str, staging: Path) -> Path:
        """Move a fully written staging directory into place (atomic rename)."""
        target = self.entry_dir(key)
        try:
            os.rename(staging, target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process won the race
        return target

    def staging_dir(self, key: str) -> Path:
        path = self.entries / f".tmp-{key[:16]}-{os.getpid()}-{time.monotonic_ns()}"
        path.mkdir(parents=True)
        return path

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive per-name lock (``flock``); released when the holder exits or dies."""
        self.ensure()
        with open(self.locks / f"{name}.lock", "a+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                f.seek(0)
                f.truncate()
                f.write(f"{os.getpid()}\n")
                f.flush()
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def list_entries(self) -> list[dict]:
        out = []
        if not self.entries.exists():
            return out
        for d in sorted(self.entries.iterdir()):
            if d.name.startswith("."):
                continue
            try:
                meta = json.loads((d / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            meta["size_bytes"] = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
            out.append(meta)
        return out

    def clear(self) -> int:
        """Remove every entry and build tree; returns how many entries were removed."""
        n = len(self.list_entries())
        shutil.rmtree(self.root, ignore_errors=True)
        return n
