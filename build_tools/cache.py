"""The on-disk cache: one directory per compiled function, named by the sha256 of everything
that changes the binary. Entries are built elsewhere and moved into place atomically; a corrupt
entry (its module's checksum differs from ``meta.json``, or the module is not a complete ELF
file) is treated as a miss.

Layout under ``<cache_dir>/v1/``::

    entries/<key>/        fn.cpp, build.log, <module>.so, meta.json, last_use (mtime = last use)
    entries/.tmp-*        entries being written (removed when their writer is dead)
    locks/key-<key>.lock  one lock per key, held only while that key is built
    trees/<toolchain>/    the binding layer and the pool of configured CMake trees (build.py)
    toolchains/, render/  memos that keep a warm process from running tools or Jinja

Example::

    >>> from croton.build_tools.cache import Cache
    >>> import tempfile
    >>> c = Cache(tempfile.mkdtemp())
    >>> c.lookup("0" * 64) is None
    True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from croton.build_tools.elf import elf_problem
from croton.build_tools.locks import HOST, FileLock, pid_alive
from croton.build_tools.trust import UntrustedCacheError, check_cache_dir, make_private_dirs

LAYOUT_VERSION = "v1"
_SAFE_HOST = re.sub(r"[^A-Za-z0-9.-]", "_", HOST)[:40]
_TEMP_RE = re.compile(r"^\.(?:tmp|trash)-.*?-(?P<host>[A-Za-z0-9._-]+?)-(?P<pid>\d+)-\d+$")
_FOREIGN_TEMP_SECONDS = 24 * 3600.0


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _rmtree(path: Path) -> None:
    import shutil  # not on the warm path

    shutil.rmtree(path, ignore_errors=True)


def dir_bytes(path: Path) -> int:
    """Bytes in the files under ``path`` (0 if it vanished meanwhile)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def warn_user(message: str) -> None:
    """``warnings.warn`` attributed to the user's line: the first frame outside croton."""
    import sys

    from croton.graph import _INTERNAL_DIRS

    frame, level = sys._getframe(0), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _INTERNAL_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


class Cache:
    """``root/v1/entries/<key>/`` holds sources, build log, module and ``meta.json``.

    Every path into the cache goes through ``root``, which refuses (``UntrustedCacheError``) a
    directory another user could write, and names a file given as the directory
    (``NotADirectoryError``): see ``build_tools/trust.py``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.base = Path(root).expanduser()

    @property
    def root(self) -> Path:
        check_cache_dir(self.base)
        return self.base / LAYOUT_VERSION

    @property
    def entries(self) -> Path:
        return self.root / "entries"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def trees(self) -> Path:
        return self.root / "trees"

    @property
    def render(self) -> Path:
        return self.root / "render"

    def __repr__(self) -> str:
        return f"Cache({str(self.base)!r})"

    def ensure(self) -> None:
        """Create the cache's directories (mode 0700), then check the result: a directory
        another user created first is refused."""
        check_cache_dir(self.base)
        for d in ("entries", "locks", "trees"):
            make_private_dirs(self.base / LAYOUT_VERSION / d)
        check_cache_dir(self.base)

    @functools.cached_property
    def writable(self) -> bool:
        """Whether entries can be written here (probed once: root ignores permission bits, so
        ``os.access`` is not enough). An untrusted directory raises instead."""
        import tempfile

        check_cache_dir(self.base)
        try:
            self.ensure()
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".probe-")
            os.close(fd)
            os.unlink(probe)
            return True
        except UntrustedCacheError:
            raise
        except OSError:
            return False

    def entry_dir(self, key: str) -> Path:
        return self.entries / key

    # -- reading ------------------------------------------------------------------------------
    def read_meta(self, key: str) -> dict | None:
        try:
            return json.loads((self.entry_dir(key) / "meta.json").read_text())
        except (OSError, ValueError):
            return None

    def lookup(self, key: str) -> Path | None:
        """The module path of a valid entry, or None (a corrupt entry warns and is removed)."""
        meta_path = self.entry_dir(key) / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            module = self.entry_dir(key) / meta["module"]
            if file_sha256(module) != meta["module_sha256"]:
                raise ValueError("module checksum mismatch")
            problem = elf_problem(module)  # a checksum rewritten to match a damaged file
            if problem is not None:
                raise ValueError(f"module {problem}")
        except FileNotFoundError:
            if self.entry_dir(key).is_dir():  # a directory without meta.json or module
                self._corrupt(key, "incomplete entry")
            return None
        except (ValueError, KeyError, TypeError, OSError) as exc:
            self._corrupt(key, str(exc))
            return None
        return module

    def _corrupt(self, key: str, why: str) -> None:
        warn_user(f"croton cache entry {key[:16]} is corrupt ({why}); rebuilding")
        self.remove(key)

    def touch(self, key: str) -> None:
        """Record a use (the ``last_use`` file's mtime); silently nothing on a read-only cache."""
        with contextlib.suppress(OSError):
            os.utime(self.entry_dir(key) / "last_use")

    def last_use(self, key: str) -> float:
        entry = self.entry_dir(key)
        for name in ("last_use", "meta.json"):
            with contextlib.suppress(OSError):
                return (entry / name).stat().st_mtime
        return 0.0

    # -- writing ------------------------------------------------------------------------------
    def remove(self, key: str) -> bool:
        """Move an entry out of sight at once, then delete it."""
        target = self.entry_dir(key)
        if not target.exists():
            return False
        trash = self.entries / f".trash-{key[:16]}-{_SAFE_HOST}-{os.getpid()}-{time.time_ns()}"
        try:
            os.rename(target, trash)
        except OSError:
            return False
        _rmtree(trash)
        return True

    def commit(self, key: str, staging: Path) -> Path:
        """Move a fully written staging directory into place (atomic rename)."""
        target = self.entry_dir(key)
        (staging / "last_use").touch()
        try:
            os.rename(staging, target)
        except OSError:
            _rmtree(staging)  # another process won the race
        return target

    def staging_dir(self, key: str) -> Path:
        path = self.entries / f".tmp-{key[:16]}-{_SAFE_HOST}-{os.getpid()}-{time.time_ns()}"
        make_private_dirs(self.entries)
        path.mkdir(mode=0o700)
        return path

    def lock_path(self, name: str) -> Path:
        return self.locks / f"{name}.lock"

    @contextlib.contextmanager
    def lock(self, name: str, label: str | None = None,
             remove_on_release: bool = False) -> Iterator[FileLock]:
        """An exclusive per-name lock, held by this process until the block ends. A waiter
        prints one line naming the holder; a holder that died releases it at once."""
        make_private_dirs(self.locks)
        lk = FileLock(self.lock_path(name), label or name, remove_on_release=remove_on_release)
        with lk:
            yield lk

    def key_lock(self, key: str, label: str = ""):
        """The lock of one key, held only while it is built (never one global lock)."""
        what = f"{key[:16]}" + (f" ({label})" if label else "")
        return self.lock(f"key-{key[:32]}", what, remove_on_release=True)

    def sweep(self, prefix: str = "") -> int:
        """Delete ``.tmp-*``/``.trash-*`` directories left by dead writers; returns how many."""
        removed = 0
        if not self.entries.exists():
            return 0
        for d in self.entries.iterdir():
            m = _TEMP_RE.match(d.name)
            if not m or (prefix and not d.name.startswith(prefix)):
                continue
            dead = False
            if m["host"] == _SAFE_HOST:
                dead = not pid_alive(int(m["pid"]))
            else:
                with contextlib.suppress(OSError):
                    dead = time.time() - d.stat().st_mtime > _FOREIGN_TEMP_SECONDS
            if dead:
                _rmtree(d)
                removed += 1
        return removed

    # -- listing, eviction --------------------------------------------------------------------
    def keys(self) -> list[str]:
        if not self.entries.exists():
            return []
        return [d.name for d in self.entries.iterdir() if not d.name.startswith(".")]

    def list_entries(self) -> list[dict]:
        """meta.json of every entry, plus ``size_bytes`` and ``last_use`` (epoch seconds)."""
        out = []
        for key in sorted(self.keys()):
            meta = self.read_meta(key)
            if meta is None:
                continue
            meta["size_bytes"] = dir_bytes(self.entry_dir(key))
            meta["last_use"] = self.last_use(key)
            out.append(meta)
        return out

    def note_build(self, entry_bytes: int) -> tuple[int, int]:
        """Add a new entry's size to the running total in ``usage.json``; returns (approximate
        bytes of all entries, builds since the last full scan), or (-1, 0) when unknown. The
        total is advisory (concurrent builders may lose an update); ``evict`` rewrites it."""
        path = self.root / "usage.json"
        try:
            data = json.loads(path.read_text())
            total, builds = int(data["bytes"]) + entry_bytes, int(data["builds"]) + 1
        except (OSError, ValueError, KeyError, TypeError):
            return -1, 0
        self._write_usage(total, builds)
        return total, builds

    def _write_usage(self, total: int, builds: int) -> None:
        path = self.root / "usage.json"
        tmp = path.with_name(f".usage-{os.getpid()}-{time.time_ns()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps({"bytes": total, "builds": builds}))
            os.replace(tmp, path)

    def evict(self, max_bytes: int, keep: tuple[str, ...] = (),
              older_than_days: float | None = None) -> list[str]:
        """Remove least-recently-used entries until they total at most ``max_bytes`` (and any
        unused for ``older_than_days``); never those in ``keep``. Returns the removed keys."""
        rows = []
        for key in self.keys():
            rows.append((self.last_use(key), dir_bytes(self.entry_dir(key)), key))
        rows.sort()
        total = sum(size for _, size, _ in rows)
        cutoff = time.time() - older_than_days * 86400 if older_than_days is not None else None
        removed = []
        for used, size, key in rows:
            too_big = total > max_bytes
            too_old = cutoff is not None and used < cutoff
            if key in keep or not (too_big or too_old):
                continue
            if self.remove(key):
                removed.append(key)
                total -= size
        self._write_usage(total, 0)
        return removed

    def nearest(self, parts: dict, label: str, limit: int = 500) -> tuple[str, list[str]] | None:
        """The entry whose key parts are closest to ``parts`` (same label first, then most
        parts in common) and the names of the parts that differ."""
        best: tuple[tuple[int, int], str, list[str]] | None = None
        rows = sorted(self.keys(), key=self.last_use, reverse=True)[:limit]
        for key in rows:
            meta = self.read_meta(key)
            if not meta or "key_parts" not in meta:
                continue
            theirs = meta["key_parts"]
            diff = sorted(n for n in set(parts) | set(theirs) if parts.get(n) != theirs.get(n))
            score = (int(meta.get("label") == label), -len(diff))
            if best is None or score > best[0]:
                best = (score, key, diff)
        return None if best is None else (best[1], best[2])

    def clear(self) -> int:
        """Remove every entry and build tree; returns how many entries were removed."""
        n = len(self.keys())
        _rmtree(self.root)
        return n
