"""The gradient of ``scan``: a second scan that runs the other way over the stored steps.

At position ``u`` the backward step recomputes the forward step from the stored values (the
sequences' rows and the states' stores), and pulls back the cotangent of its outputs with
``croton.gradient.grad(known_grads=...)``:

* a state read at taps ``-1..-m`` carries ``m`` *pending* gradients ``P1..Pm`` (``Pi`` is what
  later steps sent to the value ``i`` steps back); the total cotangent of the step's state is
  ``P1`` plus the cotangent of the stacked output at ``u``, and then
  ``Pi <- P(i+1) + d/d(tap -i)``; after the last step the ``P``'s are the initial rows'
  gradients (the final state's cotangent starts ``P1``);
* a sequence's gradient is an accumulator shaped like it: each step adds the gradient of each
  tap into the row that tap read; a non-sequence's gradient adds up over the steps.

``truncate_gradient=k`` runs only the last ``k`` backward steps (earlier rows get zeros, and so
do the initial states unless ``n_steps <= k``).

Example::

    >>> import numpy, croton, croton.tensor as T
    >>> x, w = T.dvector('x'), T.dscalar('w')
    >>> h, _ = croton.scan(lambda xt, hp, w: hp * w + xt, sequences=x,
    ...                    outputs_info=T.constant(0.0, dtype='float64'), non_sequences=w)
    >>> f = croton.function([x, w], T.grad(h.sum(), w), mode='NUMPY')
    >>> float(f([1.0, 2.0, 3.0], 2.0))  # h = [1, 4, 11]: d(sum h)/dw = 0 + 1 + (4 + 2*1)
    7.0
"""

from __future__ import annotations

import numpy as np

from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable, graph_inputs
from croton.ops.control import AccumEntry, ScanSpec, SeqInfo, StateInfo
from croton.ops.table import OPS, apply_op, make_output
from croton.types import FLOAT_DTYPES, TensorType


def _is_zero(g: Variable | None) -> bool:
    """``None`` or symbolic zeros (``grad`` passes ``zeros_like`` for an unused output)."""
    while g is not None and g.owner is not None and g.owner.op.name in ("fill", "dimshuffle",
                                                                         "cast"):
        g = g.owner.inputs[-1]
    return g is None or (isinstance(g, Constant) and not np.any(g.data))


def _differentiable(v: Variable) -> bool:
    return v.dtype in FLOAT_DTYPES or v.dtype.startswith("complex")


def _read_stored_outputs(node: Apply, spec: ScanSpec, outs: list, b_vars: list, b_infos: list,
                         b_groups: list) -> list:
    """``outs`` (the backward step's outputs) with every forward step output they recompute
    read from what the forward scan stored instead: a state's new value is row ``u`` of its
    store (one more tap, 0, on the store's sequence) and an output's is row ``u`` of its stack
    (one more sequence). The forward step is then recomputed only for values it does not keep
    (a tanh RNN's backward step no longer redoes its products)."""
    osl = spec.output_slices()
    inner_out = spec.inner.outputs
    used = {id(o) for n in Graph.make([], outs).nodes() for o in n.outputs}
    replace: dict[int, Variable] = {}
    for j in range(spec.n_state):
        y = inner_out[j]
        if y.owner is not None and id(y) in used and id(y) not in replace:
            k = spec.n_seq + j  # the store's backward sequence
            b_infos[k] = SeqInfo((*b_infos[k].taps, 0), b_infos[k].offset)
            replace[id(y)] = Variable(y.type, name=f"out{j}[t]")
            b_groups[k].append(replace[id(y)])
    for i, stacked in enumerate(node.outputs[osl["nitsots"]]):
        y = inner_out[spec.n_state + i]
        if y.owner is not None and id(y) in used and id(y) not in replace:
            replace[id(y)] = Variable(y.type, name=f"y{i}[t]")
            b_vars.append(stacked)
            b_infos.append(SeqInfo((0,), 0))
            b_groups.append([replace[id(y)]])
    if not replace:
        return outs

    def transform(n: Apply, new_inputs: list):
        if any(id(o) in replace for o in n.outputs):
            return [replace.get(id(o), o) for o in n.outputs]
        return None

    rebuilt = Graph.make([], outs).rebuild(transform)
    return [replace.get(id(o), r) for o, r in zip(outs, rebuilt.outputs)]


def _row_sources(b_vars: list, b_infos: list, b_groups: list) -> dict:
    """For each placeholder of the backward scan that reads one row of an outer array per step
    (not counted from the end), a function of the step count giving those rows stacked."""
    sources = {}
    for outer, q, group in zip(b_vars, b_infos, b_groups):
        if q.backwards:
            continue
        for k, ph in zip(q.taps, group):
            start = k + q.offset
            sources[id(ph)] = (lambda n, x=outer, s=start: x[s:s + n])
    return sources


def _product_over_rows(g: Variable, rows_of: dict, w: Variable):
    """``(rows, B)`` when the step's contribution ``g`` to ``w``'s gradient is
    ``dot(A.T, B)`` with ``A`` a row placeholder in ``rows_of`` (both matrices)."""
    node = g.owner
    if node is None or node.op.name != "dot" or w.ndim != 2:
        return None
    a, b = node.inputs
    if (a.owner is None or a.owner.op.name != "dimshuffle"
            or dict(a.owner.params).get("order") != (1, 0)):
        return None
    row = a.owner.inputs[0]
    if id(row) not in rows_of or row.ndim != 2 or b.ndim != 2:
        return None
    return rows_of[id(row)], b


def scan_vjp(node: Apply, output_grads) -> list:
    """The input gradients of a scan node (see the module docstring)."""
    import croton.tensor as T
    from croton.gradient import grad

    spec: ScanSpec = dict(node.params)["fn"]
    if spec.accums:
        raise NotImplementedError("croton differentiates a scan once; the gradient of a "
                                  "scan's gradient is not supported")
    osl, isl, iisl = spec.output_slices(), spec.input_slices(), spec.inner_input_slices()
    g_states, g_nitsots = output_grads[osl["states"]], output_grads[osl["nitsots"]]
    g_finals = dict(zip(spec.finals, output_grads[osl["finals"]]))
    if not all(_is_zero(g) for g in output_grads[osl["stores"]]):
        raise NotImplementedError("scan: a gradient through a state's store")
    if all(_is_zero(g) for g in output_grads):
        return [None] * len(node.inputs)
    n = node.inputs[0]
    seq_outer, init_outer = node.inputs[isl["seqs"]], node.inputs[isl["inits"]]
    nonseq_outer = node.inputs[isl["nonseqs"]]
    inner_in, inner_out = spec.inner.inputs, spec.inner.outputs
    seq_ph, nonseq_ph = inner_in[iisl["seqs"]], inner_in[iisl["nonseqs"]]
    state_ph, pos = [], iisl["states"].start
    for q in spec.states:
        state_ph.append(list(inner_in[pos:pos + len(q.taps)]))
        pos += len(q.taps)
    row_types = [ph[0].type for ph in state_ph]

    # sequences of the backward scan: the forward sequences and stores, the cotangents
    b_vars, b_infos = list(seq_outer), list(spec.seqs)
    b_groups, pos = [], 0  # the placeholders of each backward sequence, one per tap
    for q in spec.seqs:
        b_groups.append(list(seq_ph[pos:pos + len(q.taps)]))
        pos += len(q.taps)
    for j, q in enumerate(spec.states):
        b_vars.append(node.outputs[osl["stores"]][j])
        b_infos.append(SeqInfo(tuple(-k for k in q.taps), 0) if spec.reverse
                       else SeqInfo(q.taps, q.m))
        b_groups.append(list(state_ph[j]))

    def cotangent_sequence(g: Variable, row: TensorType, label: str) -> Variable:
        ph = Variable(row, name=label)
        b_vars.append(T.cast(g, row.dtype))
        b_infos.append(SeqInfo((0,), 0))
        b_groups.append([ph])
        return ph

    direct = [None if _is_zero(g) or not _differentiable(inner_out[j]) else
              cotangent_sequence(g, row_types[j], f"d_out{j}[t]")
              for j, g in enumerate(g_states)]
    known: dict[int, tuple[Variable, Variable]] = {}

    def add_known(var: Variable, g: Variable) -> None:
        prev = known.get(id(var))
        known[id(var)] = (var, g if prev is None else prev[1] + g)

    for i, g in enumerate(g_nitsots):
        y = inner_out[spec.n_state + i]
        if not _is_zero(g) and _differentiable(y):
            add_known(y, cotangent_sequence(g, y.type, f"d_y{i}[t]"))

    # states of the backward scan: the pending gradients
    pending, b_inits = [], []
    for j, q in enumerate(spec.states):
        chain = [Variable(row_types[j], name=f"pending{j}_{i}") for i in range(1, q.m + 1)]
        pending.append(chain)
        for i in range(q.m):
            gf = g_finals.get(j)
            if i == 0 and not _is_zero(gf):
                b_inits.append(T.dimshuffle(T.cast(gf, row_types[j].dtype),
                                            ("x", *range(row_types[j].ndim))))
            else:
                b_inits.append(T.zeros_like(init_outer[j]))
        if _differentiable(inner_out[j]):
            total = chain[0] if direct[j] is None else chain[0] + direct[j]
            add_known(inner_out[j], total)
    wrt = list(inner_in)
    grads = grad(None, wrt, known_grads=dict(known.values()), disconnected_inputs="ignore")
    grad_of: dict[int, Variable] = {id(w): g for w, g in zip(wrt, grads)}

    b_outs: list[Variable] = []
    for j, q in enumerate(spec.states):
        chain = pending[j]
        contributions: dict[int, Variable] = {}
        for k, ph in zip(q.taps, state_ph[j]):
            c = grad_of[id(ph)]
            contributions[k] = c if k not in contributions else contributions[k] + c
        for i in range(1, q.m + 1):
            later = chain[i] if i < q.m else None
            c = contributions.get(-i)
            value = later + c if later is not None and c is not None else (
                later if later is not None else c if c is not None else T.zeros_like(chain[0]))
            b_outs.append(T.cast(value, row_types[j].dtype))

    # accumulators: the gradients of the sequences (row by row) and of the non-sequences
    accum_likes, accum_entries, contributions_out = [], [], []
    seq_grad_index: dict[int, int] = {}
    pos = 0
    for i, (q, x) in enumerate(zip(spec.seqs, seq_outer)):
        phs = seq_ph[pos:pos + len(q.taps)]
        pos += len(q.taps)
        if not _differentiable(x):
            continue
        entries = []
        for k, ph in zip(q.taps, phs):
            entries.append(AccumEntry(len(contributions_out), k, q.offset, q.backwards))
            contributions_out.append(T.cast(grad_of[id(ph)], x.dtype))
        seq_grad_index[i] = len(accum_likes)
        accum_likes.append(x)
        accum_entries.append(tuple(entries))
    nonseq_grad_index: dict[int, int] = {}
    # A weight's gradient that is sum_u dot(A_u^T, B_u) with A_u a row of a sequence or store
    # (x_t, h_t-1 in an RNN) is one product over all steps after the loop instead of a small
    # product per step: B_u is stacked as an output of the backward scan.
    hoisted: dict[int, tuple[Variable, int]] = {}  # nonseq -> (A's rows over the steps, B)
    stacked_b: list[Variable] = []
    if spec.grad_truncate < 0:
        rows_of = _row_sources(b_vars, b_infos, b_groups)
        for i, (ph, w) in enumerate(zip(nonseq_ph, nonseq_outer)):
            found = _product_over_rows(grad_of[id(ph)], rows_of, w) if _differentiable(w) else None
            if found is not None:
                a_rows, b = found
                if all(b is not s for s in stacked_b):
                    stacked_b.append(b)
                hoisted[i] = (a_rows(n), next(k for k, s in enumerate(stacked_b) if s is b))
    for i, (ph, w) in enumerate(zip(nonseq_ph, nonseq_outer)):
        if not _differentiable(w) or i in hoisted:
            continue
        nonseq_grad_index[i] = len(accum_likes)
        accum_likes.append(w)
        accum_entries.append((AccumEntry(len(contributions_out)),))
        contributions_out.append(T.cast(grad_of[id(ph)], w.dtype))

    b_state_ph = [p for chain in pending for p in chain]
    b_outs = b_outs + stacked_b + contributions_out
    if not spec.reverse:
        b_outs = _read_stored_outputs(node, spec, b_outs, b_vars, b_infos, b_groups)
    b_ph = [p for group in b_groups for p in group]
    inner = Graph.make(b_ph + b_state_ph + list(nonseq_ph), b_outs)
    known_inputs = {id(v) for v in inner.inputs}
    for leaf in graph_inputs(inner.outputs):
        if id(leaf) not in known_inputs and not isinstance(leaf, Constant):
            raise AssertionError(f"scan gradient: the backward step reads {leaf!r}")
    b_spec = ScanSpec(inner, tuple(b_infos), tuple(StateInfo((-1,)) for _ in b_state_ph),
                      len(stacked_b),
                      tuple(accum_entries), len(nonseq_ph), tuple(range(len(b_state_ph))),
                      reverse=not spec.reverse, truncate=spec.grad_truncate,
                      name=f"grad_of_{spec.name}")
    b_node = apply_op(OPS["scan"], [n, *b_vars, *b_inits, *accum_likes, *nonseq_outer],
                      fn=b_spec)
    bsl = b_spec.output_slices()
    accums, finals = b_node.outputs[bsl["accums"]], b_node.outputs[bsl["finals"]]

    init_grads, pos = [], 0
    for j, q in enumerate(spec.states):
        rows = finals[pos:pos + q.m]  # P1..Pm after the last step
        pos += q.m
        x0 = init_outer[j]
        ordered = list(rows) if spec.reverse else list(reversed(rows))
        if q.m == 1 and x0.broadcastable[0]:
            g0 = T.dimshuffle(ordered[0], ("x", *range(row_types[j].ndim)))
        else:
            g0 = make_output(OPS["scan_rows"], [x0, *ordered])
        if spec.grad_truncate >= 0:
            g0 = T.switch(T.le(n, spec.grad_truncate), g0, T.zeros_like(g0))
        init_grads.append(g0 if _differentiable(x0) else None)
    seq_grads = [accums[seq_grad_index[i]] if i in seq_grad_index else None
                 for i in range(spec.n_seq)]
    b_stacks = b_node.outputs[bsl["nitsots"]]
    nonseq_grads = [accums[nonseq_grad_index[i]] if i in nonseq_grad_index else None
                    for i in range(spec.n_nonseq)]
    for i, (a_rows, k) in hoisted.items():
        w, b_rows = nonseq_outer[i], b_stacks[k]
        a_flat = T.reshape(a_rows, (a_rows.shape[0] * a_rows.shape[1], w.shape[0]))
        b_flat = T.reshape(b_rows, (b_rows.shape[0] * b_rows.shape[1], w.shape[1]))
        nonseq_grads[i] = T.cast(T.dot(a_flat.T, b_flat), w.dtype)
    return [None, *seq_grads, *init_grads, *nonseq_grads]
