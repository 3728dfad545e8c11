"""Which cache directories croton trusts. A cache holds code croton will run (compiled modules,
Jinja's compiled templates, the memoized compiler path), so a directory another local user can
write is a way to plant code. croton uses a cache directory only when

* it is a directory (not a file),
* it and every directory above it are owned by the current user or by root, and
* none of them can be written by group or others, except a sticky directory such as ``/tmp``
  (whose other users can neither rename nor remove what is ours);

and creates the directories it makes mode 0700. A module's recorded sha256 only detects
corruption (a truncated or damaged file): anyone who can write the cache can also rewrite the
checksum, so the checks above, not the checksum, keep other users out.

Example::

    >>> import tempfile
    >>> from croton.build_tools.trust import check_cache_dir
    >>> d = tempfile.mkdtemp()
    >>> check_cache_dir(d) == d
    True
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["UntrustedCacheError", "check_cache_dir", "make_private_dirs"]

_CHECKED: set[str] = set()


class UntrustedCacheError(PermissionError):
    """A cache directory another user could write (or one that is not a directory)."""


def _problem(path: Path, st: os.stat_result, leaf: bool) -> str | None:
    uid = os.getuid()
    if st.st_uid not in (uid, 0):
        return (f"it is owned by uid {st.st_uid}, not by you (uid {uid}) or root, so that user "
                f"could plant a module there")
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and (leaf or not st.st_mode & stat.S_ISVTX):
        who = "group and others" if writable == (stat.S_IWGRP | stat.S_IWOTH) else (
            "its group" if writable == stat.S_IWGRP else "others")
        return (f"it is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}), so another "
                f"user could plant a module there; `chmod go-w {path}` if that is not intended")
    return None


def check_cache_dir(path: str | os.PathLike, what: str = "cache directory") -> str:
    """``path`` (returned unchanged) if croton may use it as a cache; else raises
    ``UntrustedCacheError`` (``NotADirectoryError`` for a file) naming the directory and the
    reason. A path that does not exist yet is checked from its nearest existing ancestor.
    The verdict on an existing directory is kept for the process."""
    text = str(path)
    if text in _CHECKED:
        return text
    p = Path(text).expanduser().absolute()
    leaf, exists = True, p.exists()
    while True:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if p.parent == p:
                break
            p, leaf = p.parent, False
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(
                f"croton: {what} {text}: {p} is a file, not a directory (set CROTON_CACHE_DIR "
                f"to a directory)")
        why = _problem(p, st, leaf)
        if why is not None:
            name = text if str(p) == text else f"{text} (its ancestor {p})"
            raise UntrustedCacheError(
                f"croton: refusing {what} {name}: {why}. Set CROTON_CACHE_DIR to a directory "
                f"only you can write.")
        if p.parent == p:
            break
        p, leaf = p.parent, False
    if exists:
        _CHECKED.add(text)
    return text


def make_private_dirs(path: str | os.PathLike) -> None:
    """``mkdir -p`` where every directory created is mode 0700 (existing ones are kept)."""
    p = Path(path)
    missing = []
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
