"""prune_scan: drop the outputs of a scan that nothing reads, and the step code only they need.

A scan's gradient computes an accumulator for every sequence and non-sequence, whether or not
the function asks for that gradient (the gradient of an RNN's input sequence, say); a stacked
output may be unused too. Removing them removes their inner outputs, so the step no longer
computes them (one product per step of the RNN's backward pass).

Before::  (gX, gW) = scan{accums=[rows of X, W]}(...);  out = gW
After::   (gW,)    = scan{accums=[W]}(...);             out = gW

Example::

    >>> import numpy as np, croton, croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x, w = T.dmatrix('x'), T.dvector('w')
    >>> h, _ = croton.scan(lambda xt, hp, w: T.tanh(xt * w + hp), sequences=x,
    ...                    outputs_info=T.zeros_like(w), non_sequences=w)
    >>> g = T.grad(h[-1].sum(), w)
    >>> def n_accums(graph):
    ...     return [len(dict(n.params)["fn"].accums) for n in graph.nodes()
    ...             if n.op.name == "scan" and dict(n.params)["fn"].accums]
    >>> n_accums(Graph.make([x, w], [g])), n_accums(prune_scan(Graph.make([x, w], [g])))
    ([2], [1])
"""

from __future__ import annotations

import dataclasses

from croton.fgraph import Graph
from croton.ops.control import AccumEntry, ScanSpec
from croton.ops.table import apply_op


def prune_scan(graph: Graph) -> Graph:
    """Rebuild every scan node without its unread stacked outputs and accumulators."""
    read = {id(v) for n in graph.nodes() for v in n.inputs}
    read |= {id(v) for v in graph.outputs} | {id(v) for _, v in graph.updates}

    def transform(node, inputs):
        if node.op.name != "scan":
            return None
        spec: ScanSpec = dict(node.params)["fn"]
        osl = spec.output_slices()
        nitsots = [i for i, v in enumerate(node.outputs[osl["nitsots"]]) if id(v) in read]
        accums = [a for a, v in enumerate(node.outputs[osl["accums"]]) if id(v) in read]
        if len(nitsots) == spec.n_nitsot and len(accums) == len(spec.accums):
            return None
        return _rebuilt(node, spec, inputs, nitsots, accums)

    return graph.rebuild(transform)


def _rebuilt(node, spec: ScanSpec, inputs: list, nitsots: list[int], accums: list[int]) -> list:
    inner_out = spec.inner.outputs
    base = spec.n_state + spec.n_nitsot
    outs = list(inner_out[:spec.n_state]) + [inner_out[spec.n_state + i] for i in nitsots]
    entries: list[tuple[AccumEntry, ...]] = []
    for a in accums:
        kept = []
        for e in spec.accums[a]:
            kept.append(dataclasses.replace(e, output=len(outs) - len(nitsots) - spec.n_state))
            outs.append(inner_out[base + e.output])
        entries.append(tuple(kept))
    new_spec = dataclasses.replace(spec, inner=Graph(spec.inner.inputs, tuple(outs)),
                                   n_nitsot=len(nitsots), accums=tuple(entries))
    isl = spec.input_slices()
    likes = inputs[isl["accums"]]
    new_inputs = (inputs[:isl["accums"].start] + [likes[a] for a in accums]
                  + inputs[isl["accums"].stop:])
    new = apply_op(node.op, new_inputs, fn=new_spec).outputs
    osl, nsl = spec.output_slices(), new_spec.output_slices()
    result = list(node.outputs)  # the dropped ones are read by nothing
    for part, kept in (("states", range(spec.n_state)), ("nitsots", nitsots),
                       ("stores", range(spec.n_state)), ("accums", accums),
                       ("finals", range(len(spec.finals)))):
        for new_index, old_index in enumerate(kept):
            result[osl[part].start + old_index] = new[nsl[part].start + new_index]
    return result
