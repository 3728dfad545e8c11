"""A memo of rendering, so a warm process never imports Jinja: ``render/<digest>.key`` maps a
plan (its pickle, with the code of ``codegen/`` and the toolchain) to the key of the cache entry
holding the rendered ``fn.cpp``. A memo is only a shortcut: the source read back from the entry
must match the entry's recorded source hash, otherwise the plan is rendered again.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.build_tools.render_memo import render_source
    >>> x = T.dvector('x')
    >>> 'std::exp' in render_source(lower(Graph.make([x], [T.exp(x)])).plan)
    True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
from pathlib import Path

from croton.build_tools.cache import Cache
from croton.build_tools.trust import make_private_dirs


@functools.lru_cache(maxsize=1)
def codegen_digest() -> str:
    """Hash of every Python file and template of ``croton.codegen`` (what rendering runs)."""
    import croton.codegen

    root = Path(croton.codegen.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".j2") and "__pycache__" not in path.parts:
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _memo_file(store: Cache, plan_blob: bytes) -> Path:
    from croton.build_tools.toolchain import discover

    h = hashlib.sha256(codegen_digest().encode() + discover().key.encode() + plan_blob)
    return store.render / f"{h.hexdigest()[:40]}.key"


def _source_of_entry(stores: list[Cache], key: str) -> str | None:
    for store in stores:
        meta = store.read_meta(key)
        if not meta:
            continue
        try:
            text = (store.entry_dir(key) / "fn.cpp").read_text()
        except OSError:
            continue
        if hashlib.sha256(text.encode()).hexdigest() == meta.get("key_parts", {}).get("source"):
            return text
    return None


def render_source(plan) -> str:
    """The C++ source of ``plan``, from the memo when an entry of it exists, else rendered."""
    from croton.build_tools import build

    primary = build.cache()
    try:
        blob = pickle.dumps(plan, protocol=4)
    except Exception:  # noqa: BLE001 - an unpicklable plan is simply not memoized
        blob = None
    if blob is not None:
        memo = _memo_file(primary, blob)
        with contextlib.suppress(OSError, ValueError):
            key = memo.read_text().strip()
            text = _source_of_entry([primary], key)
            if text is None and not primary.writable:
                text = _source_of_entry([build.overflow_cache()], key)
            if text is not None:
                return text
    from croton.codegen.render import render_function

    source = render_function(plan)
    if blob is not None:
        with contextlib.suppress(OSError):
            make_private_dirs(memo.parent)
            tmp = memo.with_name(f".tmp-{os.getpid()}-{memo.name}")
            tmp.write_text(build.function_key(source, target=plan.target.name))
            os.replace(tmp, memo)
    return source
