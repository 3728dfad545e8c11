"""plan_memory: the function keeps its scratch memory between calls, and scratch buffers whose
lifetimes do not overlap share it, so a call in the steady state allocates only its outputs.

The decision is recorded as ``Graph.reuse_memory``; the slots themselves are assigned on the
lowered plan (``codegen/memory_plan.py``), where buffers, views and kernel order are known.
Without this pass (FAST_COMPILE) every scratch buffer is allocated afresh on each call, which
is what the pipeline-against-none tests compare with.

Before::  t1 = dot(a, b) ; t2 = dot(t1, b) ; t3 = dot(t2, b) ; out = dot(t3, b) + 1
          (three scratch buffers, malloc'd and freed on every call)
After::   t1 and t3 share slot 0, t2 slot 1 of a workspace kept by the function

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x = T.dvector('x')
    >>> plan_memory(Graph.make([x], [T.exp(x)])).reuse_memory
    True
"""

from __future__ import annotations

import dataclasses

from croton.fgraph import Graph


def plan_memory(graph: Graph) -> Graph:
    """Mark ``graph`` for workspace reuse (``Graph.reuse_memory``)."""
    return dataclasses.replace(graph, reuse_memory=True)
