"""Kernel generators by op kind: ``LOWERINGS[kind](lowerer, node)`` appends a node's steps.

Each module in this package registers the kinds it lowers with ``@lowering("kind")``; importing
the package imports them all, so adding a structured op family is one new module here (plus its
records in ``croton/ops`` and, when it needs loops, a runtime header in ``runtime/cpu/kernels``).

Example::

    >>> from croton.codegen.lowering import LOWERINGS
    >>> 'elemwise' in LOWERINGS and 'reduce' in LOWERINGS
    True
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

LOWERINGS: dict[str, Callable[[Any, Any], None]] = {}


def lowering(*kinds: str) -> Callable:
    """Register the decorated ``fn(lowerer, node)`` as the generator of op ``kinds``."""

    def register(fn: Callable) -> Callable:
        for kind in kinds:
            if kind in LOWERINGS:
                raise ValueError(f"op kind {kind!r} has two kernel generators")
            LOWERINGS[kind] = fn
        return fn

    return register


for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
