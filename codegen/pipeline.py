"""The ordered list of passes, per mode. Each pass is ``Graph -> Graph``. A scan's inner graph
is optimized here too, by the same mode's passes (``optimize_inner``), so lowering receives
optimized bodies and never runs a pass.

Example::

    >>> from croton.codegen.pipeline import PIPELINES
    >>> [p.__name__ for p in PIPELINES["FAST_RUN"]][:4]
    ['float16', 'merge', 'prune_scan', 'scan_pushout']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from croton.codegen.passes.canonicalize import canonicalize
from croton.codegen.passes.constant_fold import constant_fold
from croton.codegen.passes.float16 import float16
from croton.codegen.passes.fuse_elementwise import fuse_elementwise
from croton.codegen.passes.fuse_reductions import fuse_reductions
from croton.codegen.passes.fuse_siblings import fuse_siblings
from croton.codegen.passes.merge import merge
from croton.codegen.passes.optimize_inner import inner_graphs
from croton.codegen.passes.plan_inplace import plan_inplace
from croton.codegen.passes.plan_memory import plan_memory
from croton.codegen.passes.prune_scan import prune_scan
from croton.codegen.passes.scan_pushout import scan_pushout
from croton.codegen.passes.specialize_blas import specialize_blas
from croton.codegen.passes.stabilize import stabilize
from croton.fgraph import Graph

Pass = Callable[[Graph], Graph]



def _inner(mode: str) -> Pass:
    """The pass optimizing inner graphs (scan steps) with ``mode``'s own pipeline."""
    return inner_graphs(lambda inner: run_pipeline(inner, mode))


PIPELINE: list[Pass] = [float16, merge, prune_scan, scan_pushout, constant_fold, canonicalize,
                        stabilize, merge, specialize_blas, fuse_elementwise, fuse_reductions,
                        fuse_siblings, _inner("FAST_RUN"), plan_inplace, plan_memory]
FAST_COMPILE: list[Pass] = [float16, merge, constant_fold, _inner("FAST_COMPILE")]
PIPELINES: dict[str, list[Pass]] = {"FAST_RUN": PIPELINE, "FAST_COMPILE": FAST_COMPILE}


def run_pipeline(graph: Graph, mode: str = "FAST_RUN") -> Graph:
    """Apply the passes of ``mode`` in order. With ``CROTON_FLAGS=dump_passes=DIR`` each
    pass's graph goes to ``DIR/<fn>/NN_<pass>.txt`` and the times to ``DIR/<fn>/times.txt``;
    after every pass the outputs keep their types (a pass that breaks this is a bug)."""
    from croton.config import config

    try:
        passes = PIPELINES[mode]
    except KeyError:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(PIPELINES)}") from None
    types = [v.type for v in graph.outputs]
    dump = _PassDump(config.dump_passes, graph) if config.dump_passes else None
    for p in passes:
        t0 = time.perf_counter()
        graph = p(graph)
        elapsed = time.perf_counter() - t0
        if [v.type for v in graph.outputs] != types:
            raise AssertionError(f"pass {p.__name__} changed the output types")
        if dump is not None:
            dump.write(p.__name__, graph, elapsed)
    return graph


class _PassDump:
    """Writes one file per pass (its graph, as debugprint shows it) and a times file."""

    def __init__(self, root: str, graph: Graph) -> None:
        from croton.printing import debugprint

        self.debugprint = debugprint
        base = Path(root)
        base.mkdir(parents=True, exist_ok=True)
        n = len([p for p in base.iterdir() if p.is_dir()])
        self.dir = base / f"function_{n:03d}"
        self.dir.mkdir(exist_ok=True)
        self.count = 0
        self.write("input", graph, 0.0)

    def write(self, name: str, graph: Graph, seconds: float) -> None:
        text = self.debugprint(list(graph.outputs) + [v for _, v in graph.updates], file="str")
        (self.dir / f"{self.count:02d}_{name}.txt").write_text(text)
        with open(self.dir / "times.txt", "a") as f:
            f.write(f"{name}\t{seconds * 1e3:.3f} ms\t{len(graph.nodes())} nodes\n")
        self.count += 1
