"""Control-flow ops: ``ifelse`` (a lazy branch), ``scan`` (a loop over an inner graph) and
``scan_rows`` (zeros with a few rows set: the gradient of a scan's initial states).

A scan node's parameter ``fn`` is a ``ScanSpec``: the inner ``Graph`` (one step) and how each
outer input feeds it. Outer inputs, in order::

    [n_steps, sequences..., initial states..., accumulator shapes..., non-sequences...]

outputs::

    [stacked states..., stacked outputs..., state stores..., accumulators..., final states...]

A state's *store* holds its initial rows and every step's value (the stacked output is a view
of it); an *accumulator* (used by the gradient) is zeros shaped like an outer input into which
each step adds an inner output, into one row (a sequence's gradient) or whole (a non-sequence's).
The step *position* ``u`` is ``t`` or, for a ``reverse`` scan, ``n - 1 - t``; sequence tap ``k``
reads row ``u + k + offset`` (counted from the end when ``backwards``).

Example::

    >>> import croton, croton.tensor as T
    >>> from croton.ops.table import OPS
    >>> OPS["scan"].kind, OPS["ifelse"].kind
    ('scan', 'ifelse')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from croton.fgraph import Graph
from croton.ops.shapes import graph_dims, same_as
from croton.ops.table import OpRecord, register
from croton.types import TensorType


def _t():
    import croton.tensor as T

    return T


# --- ifelse ---------------------------------------------------------------------------------
def _ifelse_rule(types, params):
    n = params["n_outs"]
    cond, then_types, else_types = types[0], types[1:1 + n], types[1 + n:]
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond}")
    if len(then_types) != n or len(else_types) != n:
        raise TypeError(f"ifelse: {len(then_types)} then-outputs and {len(else_types)} "
                        f"else-outputs; they must pair up")
    out = []
    for k, (a, b) in enumerate(zip(then_types, else_types)):
        if a.dtype != b.dtype or a.ndim != b.ndim:
            raise TypeError(f"ifelse: output {k} is {a} in the then-branch but {b} in the "
                            f"else-branch; both branches must have the same dtype and ndim")
        out.append(TensorType(a.dtype, tuple(x and y for x, y in zip(a.broadcastable,
                                                                      b.broadcastable))))
    return out


def _ifelse_perform(values, params):
    n = params["n_outs"]
    chosen = values[1:1 + n] if bool(np.asarray(values[0])) else values[1 + n:]
    return [np.array(v, copy=True) for v in chosen]


def _ifelse_shape(params, ins):
    """Each output has the shape of the taken branch's value."""
    n, c = params["n_outs"], ins.value(0)
    return [[ins.where(c, ins.dim(1 + k, d), ins.dim(1 + n + k, d))
             for d in range(ins.types[1 + k].ndim)] for k in range(n)]


def _ifelse_vjp(node, g):
    from croton.ifelse import ifelse

    n = dict(node.params)["n_outs"]
    cond, then_vals, else_vals = node.inputs[0], node.inputs[1:1 + n], node.inputs[1 + n:]
    T = _t()
    zeros_then = [T.zeros_like(v) for v in then_vals]
    zeros_else = [T.zeros_like(v) for v in else_vals]
    gs = [T.cast(gi, v.dtype) for gi, v in zip(g, then_vals)]
    to_then = ifelse(cond, gs, zeros_then)
    to_else = ifelse(cond, zeros_else, [T.cast(gi, v.dtype) for gi, v in zip(g, else_vals)])
    return [None, *to_then, *to_else]


def _ifelse_branch(params: dict, position: int) -> str | None:
    """Input 0 is the condition; then the n_outs values of the then branch, then the else's."""
    if position == 0:
        return None
    return "then" if position <= params["n_outs"] else "else"


register(OpRecord("ifelse", "ifelse", _ifelse_rule, _ifelse_perform, _ifelse_vjp,
                  views=slice(1, None), arithmetic=False, branch_of=_ifelse_branch,
                  shape=_ifelse_shape,
                  doc="ifelse(cond, then..., else...): the outputs of one branch; only the "
                      "taken branch is computed"))


# --- scan -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeqInfo:
    """A sequence: step ``u`` tap ``k`` reads row ``u + k + offset`` (from the end if
    ``backwards``)."""

    taps: tuple[int, ...]
    offset: int
    backwards: bool = False

    def row(self, u: int, k: int, length: int) -> int:
        r = u + k + self.offset
        return length - 1 - r if self.backwards else r


@dataclass(frozen=True)
class StateInfo:
    """A recurrent state read at negative ``taps``; ``m = -min(taps)`` initial rows."""

    taps: tuple[int, ...]

    @property
    def m(self) -> int:
        return -min(self.taps)


@dataclass(frozen=True)
class AccumEntry:
    """Inner output ``output`` added, each step, into row ``u + tap + offset`` of the
    accumulator (``tap is None``: into the whole accumulator)."""

    output: int
    tap: int | None = None
    offset: int = 0
    backwards: bool = False


@dataclass(frozen=True, eq=False)
class ScanSpec:
    """One scan's inner graph and layout. Compared by identity (two scans are merged only when
    they are the same node's parameter)."""

    inner: Graph
    seqs: tuple[SeqInfo, ...]
    states: tuple[StateInfo, ...]
    n_nitsot: int
    accums: tuple[tuple[AccumEntry, ...], ...]
    n_nonseq: int
    finals: tuple[int, ...]  # states whose last value is also an output
    reverse: bool = False
    truncate: int = -1  # steps run, at most (-1: all); the gradient's truncate_gradient
    name: str = "scan"
    grad_truncate: int = -1  # truncate_gradient for this scan's own gradient

    def __repr__(self) -> str:
        return self.name

    # outer input positions
    @property
    def n_seq(self) -> int:
        return len(self.seqs)

    @property
    def n_state(self) -> int:
        return len(self.states)

    def input_slices(self) -> dict[str, slice]:
        s, st, a = self.n_seq, self.n_state, len(self.accums)
        return {"seqs": slice(1, 1 + s), "inits": slice(1 + s, 1 + s + st),
                "accums": slice(1 + s + st, 1 + s + st + a),
                "nonseqs": slice(1 + s + st + a, 1 + s + st + a + self.n_nonseq)}

    def output_slices(self) -> dict[str, slice]:
        st, y, a, f = self.n_state, self.n_nitsot, len(self.accums), len(self.finals)
        return {"states": slice(0, st), "nitsots": slice(st, st + y),
                "stores": slice(st + y, 2 * st + y), "accums": slice(2 * st + y, 2 * st + y + a),
                "finals": slice(2 * st + y + a, 2 * st + y + a + f)}

    def inner_input_slices(self) -> dict[str, slice]:
        ns = sum(len(q.taps) for q in self.seqs)
        nst = sum(len(q.taps) for q in self.states)
        return {"seqs": slice(0, ns), "states": slice(ns, ns + nst),
                "nonseqs": slice(ns + nst, ns + nst + self.n_nonseq)}


def _stacked(t: TensorType) -> TensorType:
    return TensorType(t.dtype, (False,) + t.broadcastable)


def _scan_rule(types, params):
    spec: ScanSpec = params["fn"]
    ins, outs = spec.inner.inputs, spec.inner.outputs
    state_rows = []
    pos = spec.inner_input_slices()["states"].start
    for q in spec.states:
        state_rows.append(ins[pos].type)
        pos += len(q.taps)
    nitsot_rows = [o.type for o in outs[spec.n_state:spec.n_state + spec.n_nitsot]]
    accum_types = list(types[spec.input_slices()["accums"]])
    return ([_stacked(t) for t in state_rows] + [_stacked(t) for t in nitsot_rows]
            + [_stacked(t) for t in state_rows] + accum_types
            + [state_rows[j] for j in spec.finals])


def scan_positions(spec: ScanSpec, n: int) -> list[int]:
    """The positions ``u`` a scan of ``n`` steps visits, in order (after truncation)."""
    steps = n if spec.truncate < 0 else min(n, spec.truncate)
    return [n - 1 - t for t in range(steps)] if spec.reverse else list(range(steps))


def _scan_perform(values, params):
    """The NumPy reference: runs the inner graph with croton's evaluator, step by step."""
    from croton.evaluate import evaluate

    spec: ScanSpec = params["fn"]
    sl = spec.input_slices()
    n = int(values[0])
    if n < 0:
        raise ValueError(f"scan {spec.name}: the number of steps is negative ({n})")
    seqs, inits = values[sl["seqs"]], values[sl["inits"]]
    likes, nonseqs = values[sl["accums"]], list(values[sl["nonseqs"]])
    for q, x in zip(spec.seqs, seqs):
        if n and x.shape[0] < n + max(q.taps) + q.offset:
            raise ValueError(f"scan {spec.name}: a sequence of {x.shape[0]} rows is too short "
                             f"for {n} steps with taps {list(q.taps)}")
    stores = []
    for q, x0 in zip(spec.states, inits):
        if x0.shape[0] < q.m:
            raise ValueError(f"scan {spec.name}: an initial state has {x0.shape[0]} rows, taps "
                             f"{list(q.taps)} need {q.m}")
        store = np.zeros((q.m + n,) + x0.shape[1:], x0.dtype)
        if spec.reverse:
            store[n:] = x0[:q.m]
        else:
            store[:q.m] = x0[:q.m]
        stores.append(store)
    nitsots: list = [None] * spec.n_nitsot
    accums = [np.zeros_like(a) for a in likes]
    positions = scan_positions(spec, n)
    for u in positions:
        inner_in = []
        for q, x in zip(spec.seqs, seqs):
            inner_in += [x[q.row(u, k, x.shape[0])] for k in q.taps]
        for q, store in zip(spec.states, stores):
            inner_in += [store[u - k if spec.reverse else q.m + u + k] for k in q.taps]
        outs, _ = evaluate(spec.inner, inner_in + nonseqs)
        for j, (q, store) in enumerate(zip(spec.states, stores)):
            row = u if spec.reverse else q.m + u
            if outs[j].shape != store.shape[1:]:
                raise ValueError(f"scan {spec.name}: step {u} gives state {j} the shape "
                                 f"{outs[j].shape}, its initial value has {store.shape[1:]}")
            store[row] = outs[j]
        for i in range(spec.n_nitsot):
            y = outs[spec.n_state + i]
            if nitsots[i] is None:
                nitsots[i] = np.zeros((n,) + y.shape, y.dtype)
            elif y.shape != nitsots[i].shape[1:]:
                raise ValueError(f"scan {spec.name}: step {u} gives output {i} the shape "
                                 f"{y.shape}, the first step gave {nitsots[i].shape[1:]}")
            nitsots[i][u] = y
        base = spec.n_state + spec.n_nitsot
        for acc, entries in zip(accums, spec.accums):
            for e in entries:
                value = outs[base + e.output]
                if e.tap is None:
                    acc += value
                else:
                    acc[SeqInfo((), e.offset, e.backwards).row(u, e.tap, acc.shape[0])] += value
    states = [s[:n] if spec.reverse else s[q.m:] for q, s in zip(spec.states, stores)]
    for i in range(spec.n_nitsot):
        if nitsots[i] is None:
            ndim = spec.inner.outputs[spec.n_state + i].ndim
            nitsots[i] = np.zeros((n,) + (0,) * ndim,
                                  spec.inner.outputs[spec.n_state + i].dtype)
    finals = []
    for j in spec.finals:
        q, store = spec.states[j], stores[j]
        last = (n - len(positions)) if spec.reverse else q.m + len(positions) - 1
        finals.append(store[last])
    return states + nitsots + stores + accums + finals


def _scan_shape(params, ins):
    """n = the number of steps (a value). Stacked states: n rows of the initial value's row
    shape; stacked outputs: n rows of the step's output shape (inferred from the inner graph's
    facts; no row when no step ran); stores: m + n rows; accumulators: their like input's
    shape; final states: a row."""
    spec: ScanSpec = params["fn"]
    sl = spec.input_slices()
    n = ins.value(0)
    seqs = list(range(len(ins.types)))[sl["seqs"]]
    inits = list(range(len(ins.types)))[sl["inits"]]
    nonseqs = list(range(len(ins.types)))[sl["nonseqs"]]
    rows = [ins.shape(k)[1:] for k in inits]
    inner_dims = []
    for q, k in zip(spec.seqs, seqs):
        inner_dims += [ins.shape(k)[1:]] * len(q.taps)
    for q, r in zip(spec.states, rows):
        inner_dims += [r] * len(q.taps)
    inner_dims += [ins.shape(k) for k in nonseqs]
    outs = graph_dims(spec.inner, inner_dims, ins)
    ran = n if spec.truncate != 0 else 0
    nitsots = [[n] + [ins.where(ran, d, 0) for d in outs[spec.n_state + i]]
               for i in range(spec.n_nitsot)]
    accums = [ins.shape(k) for k in list(range(len(ins.types)))[sl["accums"]]]
    return ([[n] + r for r in rows] + nitsots
            + [[spec.states[j].m + n] + r for j, r in enumerate(rows)] + accums
            + [rows[j] for j in spec.finals])


def _scan_vjp(node, g):
    from croton.scan_grad import scan_vjp

    return scan_vjp(node, g)


def _scan_map_inner(params: dict, f) -> dict:
    """The params with the step's inner graph replaced by ``f(inner)``."""
    return {**params, "fn": dataclasses.replace(params["fn"], inner=f(params["fn"].inner))}


register(OpRecord("scan", "scan", _scan_rule, _scan_perform, _scan_vjp,
                  arithmetic=False, map_inner=_scan_map_inner, shape=_scan_shape,
                  doc="scan{fn}(n_steps, sequences, initial states, ...): a loop whose step is "
                      "the inner graph of ScanSpec fn; outputs stack over steps"))


# --- scan_rows ------------------------------------------------------------------------------
def _rows_rule(types, params):
    like, rows = types[0], types[1:]
    for r in rows:
        if r.dtype != like.dtype or r.ndim != like.ndim - 1:
            raise TypeError(f"scan_rows: a row of {r} does not fit {like}")
    return [TensorType(like.dtype, (False,) + like.broadcastable[1:])]


def _rows_perform(values, params):
    like, rows = values[0], values[1:]
    out = np.zeros(like.shape, like.dtype)
    for i, r in enumerate(rows):
        out[i] = r
    return [out]


register(OpRecord("scan_rows", "scan_rows", _rows_rule, _rows_perform, None, shape=same_as(0),
                  doc="scan_rows(like, r0, r1, ...): zeros shaped like `like`, row i set to ri "
                      "(the gradient of a scan's initial states)"))
