"""Kernel generators by op kind: ``generator_for(kind, target)(lowerer, node)`` appends a node's
steps.

Each module in this package registers the kinds it lowers with ``@lowering("kind")`` (a generic
generator, for every target); ``@lowering("kind", target="name")`` registers one for a single
target (``codegen/target.py``) and its derived targets, which ``generator_for`` prefers to the
generic one. Importing the package imports them all, so adding a structured op family is one new
module here (plus its records in ``croton/ops`` and, when it needs loops, a runtime header in
``runtime/cpu/kernels``).

Example::

    >>> from croton.codegen.lowering import LOWERINGS, generator_for
    >>> from croton.codegen.target import CPU
    >>> 'elemwise' in LOWERINGS and 'reduce' in LOWERINGS
    True
    >>> generator_for('reduce', CPU) is LOWERINGS['reduce']
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

from croton.codegen.target import Target

LOWERINGS: dict[str, Callable[[Any, Any], None]] = {}  # kind -> generic generator
TARGET_LOWERINGS: dict[tuple[str, str], Callable[[Any, Any], None]] = {}  # (target, kind) ->


def lowering(*kinds: str, target: str | None = None) -> Callable:
    """Register the decorated ``fn(lowerer, node)`` as the generator of op ``kinds``: the generic
    one, or with ``target`` (a target's name) the one for that target and those derived from it."""

    def register(fn: Callable) -> Callable:
        for kind in kinds:
            table, key = (LOWERINGS, kind) if target is None else (TARGET_LOWERINGS,
                                                                    (target, kind))
            if key in table:
                where = "" if target is None else f" for target {target!r}"
                raise ValueError(f"op kind {kind!r} has two kernel generators{where}")
            table[key] = fn
        return fn

    return register


def generator_for(kind: str, target: Target) -> Callable[[Any, Any], None]:
    """The generator of op ``kind`` for ``target``: its own (or its nearest base's), else the
    generic one."""
    for name in target.lineage():
        fn = TARGET_LOWERINGS.get((name, kind))
        if fn is not None:
            return fn
    fn = LOWERINGS.get(kind)
    if fn is None:
        raise NotImplementedError(f"no kernel generator for op kind {kind!r}")
    return fn


for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
