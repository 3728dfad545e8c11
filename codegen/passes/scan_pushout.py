"""scan_pushout: a product of a sequence's row by a loop-invariant matrix, computed in a scan's
step, becomes one product over all the rows before the loop, read row by row as a new sequence
(an RNN's input projection ``dot(x_t, Wx)``: one GEMM of ``steps x batch`` rows instead of one
small GEMM per step).

Before::  scan(step: tanh(dot(x_t, Wx) + dot(h, Wh)), sequences=[X])
After::   P = dot(X.reshape(-1, n_in), Wx).reshape(steps, batch, n_h)
          scan(step: tanh(p_t + dot(h, Wh)), sequences=[X, P])

Example::

    >>> import croton, croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> X, W = T.dtensor3('X'), T.dmatrix('W')
    >>> hs, _ = croton.scan(lambda x, h, W: T.tanh(T.dot(x, W) + h), sequences=X,
    ...                     outputs_info=T.zeros((2, 3)), non_sequences=W)
    >>> def dots_in_steps(graph):
    ...     return [sum(m.op.name == "dot" for m in dict(n.params)["fn"].inner.nodes())
    ...             for n in graph.nodes() if n.op.name == "scan"]
    >>> g = Graph.make([X, W], [hs])
    >>> dots_in_steps(g), dots_in_steps(scan_pushout(g))
    ([1], [0])
"""

from __future__ import annotations

import dataclasses

from croton.fgraph import Graph
from croton.graph import Constant, Variable
from croton.ops.control import ScanSpec, SeqInfo
from croton.ops.table import apply_op


def scan_pushout(graph: Graph) -> Graph:
    """Hoist ``dot(row of a sequence, invariant matrix)`` out of every scan's step."""

    def transform(node, inputs):
        if node.op.name != "scan":
            return None
        spec: ScanSpec = dict(node.params)["fn"]
        hoisted = _hoistable(spec)
        if not hoisted:
            return None
        return _rebuilt(node, spec, inputs, hoisted)

    return graph.rebuild(transform)


def _hoistable(spec: ScanSpec) -> list:
    """``(dot output, sequence index, tap, invariant operand)`` for each product to hoist."""
    iisl = spec.inner_input_slices()
    inner_in = spec.inner.inputs
    row_of: dict[int, tuple[int, int]] = {}  # placeholder -> (sequence, tap)
    pos = 0
    for i, q in enumerate(spec.seqs):
        for k in q.taps:
            row_of[id(inner_in[pos])] = (i, k)
            pos += 1
    invariant = {id(v) for v in inner_in[iisl["nonseqs"]]}
    found = []
    for n in spec.inner.nodes():  # in order: an operand's invariance is known first
        if n.inputs and all(id(v) in invariant or isinstance(v, Constant) for v in n.inputs):
            invariant.update(id(o) for o in n.outputs)
            continue
        if n.op.name != "dot" or len(n.inputs) != 2:
            continue
        row, w = n.inputs
        if (id(row) in row_of and row.ndim == 2 and w.ndim == 2
                and (id(w) in invariant or isinstance(w, Constant))):
            found.append((n.outputs[0], *row_of[id(row)], w))
    return found


def _rebuilt(node, spec: ScanSpec, inputs: list, hoisted: list) -> list:
    isl, iisl = spec.input_slices(), spec.inner_input_slices()
    inner_in = list(spec.inner.inputs)
    nonseq_outer = inputs[isl["nonseqs"]]
    to_outer = {id(ph): v for ph, v in zip(inner_in[iisl["nonseqs"]], nonseq_outer)}
    seq_outer = inputs[isl["seqs"]]
    new_seqs, new_infos, new_phs, replace = [], [], [], {}
    for out, i, k, w in hoisted:
        x = seq_outer[i]
        w_outer = _outside(w, spec.inner, to_outer)
        flat = x.reshape((x.shape[0] * x.shape[1], x.shape[2]))
        from croton.tensor import dot

        product = dot(flat, w_outer).reshape((x.shape[0], x.shape[1], w_outer.shape[1]))
        q = spec.seqs[i]
        new_seqs.append(product)
        new_infos.append(SeqInfo((k,), q.offset, q.backwards))
        ph = Variable(out.type, name=f"{out.name or 'dot'}[t{k:+d}]")
        new_phs.append(ph)
        replace[id(out)] = ph

    def swap(n, new_inputs):
        if any(id(o) in replace for o in n.outputs):
            return [replace.get(id(o), o) for o in n.outputs]
        return None

    body = Graph.make(inner_in, spec.inner.outputs).rebuild(swap)
    outs = tuple(replace.get(id(o), r) for o, r in zip(spec.inner.outputs, body.outputs))
    n_seq_ph = iisl["seqs"].stop
    new_inner = Graph(tuple(inner_in[:n_seq_ph] + new_phs + inner_in[n_seq_ph:]), outs)
    new_spec = dataclasses.replace(spec, inner=new_inner, seqs=spec.seqs + tuple(new_infos))
    new_inputs = list(inputs[:isl["seqs"].stop]) + new_seqs + list(inputs[isl["seqs"].stop:])
    return list(apply_op(node.op, new_inputs, fn=new_spec).outputs)


def _outside(v: Variable, inner: Graph, to_outer: dict[int, Variable]) -> Variable:
    """The loop-invariant inner value ``v`` rebuilt from the scan's outer inputs."""
    if id(v) in to_outer or isinstance(v, Constant):
        return to_outer.get(id(v), v)
    rebuilt = Graph.make(list(inner.inputs), [v]).rebuild(
        lambda n, new_inputs: None, replace_leaf=lambda leaf: to_outer.get(id(leaf), leaf))
    return rebuilt.outputs[0]
