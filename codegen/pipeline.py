"""The ordered list of passes, per mode. Each pass is ``Graph -> Graph``.

Example::

    >>> from croton.codegen.pipeline import PIPELINES
    >>> [p.__name__ for p in PIPELINES["FAST_RUN"]]
    ['merge', 'constant_fold', 'merge', 'fuse_elementwise']
"""

from __future__ import annotations

from collections.abc import Callable

from croton.codegen.passes.constant_fold import constant_fold
from croton.codegen.passes.fuse_elementwise import fuse_elementwise
from croton.codegen.passes.merge import merge
from croton.fgraph import Graph

Pass = Callable[[Graph], Graph]

PIPELINE: list[Pass] = [merge, constant_fold, merge, fuse_elementwise]
FAST_COMPILE: list[Pass] = [merge, constant_fold]
PIPELINES: dict[str, list[Pass]] = {"FAST_RUN": PIPELINE, "FAST_COMPILE": FAST_COMPILE}


def run_pipeline(graph: Graph, mode: str = "FAST_RUN") -> Graph:
    """Apply the passes of ``mode`` in order."""
    try:
        passes = PIPELINES[mode]
    except KeyError:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(PIPELINES)}") from None
    for p in passes:
        graph = p(graph)
    return graph
