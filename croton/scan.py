"""``scan``: Theano's loop. ``fn`` is called once, on symbolic per-step variables, to build the
step's inner graph; the scan node runs it ``n_steps`` times in the function's own C++ (a static
step function in the same translation unit) and stacks each output over the steps.

Example (Theano's "A**k" tutorial)::

    >>> import numpy, croton as theano, croton.tensor as T
    >>> A, k = T.dvector('A'), T.iscalar('k')
    >>> result, updates = theano.scan(fn=lambda prior, A: prior * A,
    ...                               outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    >>> f = theano.function([A, k], result)
    >>> f(numpy.array([1.0, 2.0]), 3)
    array([[1., 2.],
           [1., 4.],
           [1., 8.]])
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

from croton.fgraph import Graph
from croton.graph import Constant, Variable, graph_inputs
from croton.ops.control import ScanSpec, SeqInfo, StateInfo
from croton.ops.table import OPS, apply_op
from croton.shared import SharedVariable
from croton.types import DISCRETE_DTYPES, TensorType, upcast


def _as_list(x) -> list:
    if x is None:
        return []
    return list(x) if isinstance(x, list | tuple) else [x]


def _row_type(t: TensorType) -> TensorType:
    return TensorType(t.dtype, t.broadcastable[1:])


def _placeholder(t: TensorType, name: str) -> Variable:
    return Variable(t, name=name)


def _split_return(ret) -> tuple[list, list]:
    """fn's result: outputs, ``(outputs, updates)``, ``(updates, outputs)`` or updates."""
    if isinstance(ret, dict):
        return [], list(ret.items())
    if isinstance(ret, tuple) and len(ret) == 2 and any(isinstance(r, dict) for r in ret):
        outs, upd = (ret[0], ret[1]) if isinstance(ret[1], dict) else (ret[1], ret[0])
        return _as_list(outs), list(upd.items())
    return _as_list(ret), []


def _state_output(out, placeholder: Variable, index: int) -> Variable:
    import croton.tensor as T

    out = T.as_tensor_variable(out, like=[placeholder])
    want = placeholder.type
    if out.ndim != want.ndim:
        raise TypeError(f"scan: output {index} of the step has {out.ndim} dimensions, but its "
                        f"initial value (outputs_info) has {want.ndim} per step")
    if out.dtype != want.dtype:
        if upcast(out.dtype, want.dtype) != want.dtype:
            raise TypeError(f"scan: output {index} of the step is {out.dtype} but its initial "
                            f"value (outputs_info) is {want.dtype}; give the initial value the "
                            f"dtype {out.dtype} (T.cast) so the state keeps one type")
        out = T.cast(out, want.dtype)
    return out


def _replace_outer(values: list, replace: dict[int, Variable]) -> list:
    """``values`` with every outer non-sequence (an input or a computed variable) replaced by
    its inner placeholder."""
    import croton.tensor as T

    values = [T.as_tensor_variable(v) for v in values]
    if not replace or not values:
        return values
    graph = Graph.make([], values)

    def transform(node, new_inputs):
        if any(id(o) in replace for o in node.outputs):
            return [replace.get(id(o), o) for o in node.outputs]
        return None

    rebuilt = graph.rebuild(transform, replace_leaf=lambda v: replace.get(id(v), v))
    return [replace.get(id(v), r) for v, r in zip(values, rebuilt.outputs)]


def _default_updates_of_step(outputs: list, updates: list) -> list[tuple]:
    """``(state, state.default_update)`` for every shared variable with a default update that
    the step's outputs or updates read and that fn does not update explicitly."""
    import croton.tensor as T
    from croton.function_module import _default_updates

    values = [T.as_tensor_variable(v) for v in outputs]
    explicit = [(s, T.as_tensor_variable(e)) for s, e in updates]
    return [(s, e) for s, e in _default_updates(values, explicit, False)]


def scan(fn: Callable, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient: int = -1, go_backwards: bool = False, mode=None,
         name: str | None = None, profile=False, allow_gc=None, strict: bool = False,
         return_list: bool = False):
    """Theano's ``scan``: returns ``(outputs, updates)``.

    ``sequences``: variables (or ``dict(input=x, taps=[-1, 0, 1])``) iterated over their first
    dimension; ``outputs_info``: one entry per output of ``fn``: an initial value (fed back as
    the previous step's output), ``dict(initial=x0, taps=[-2, -1])``, or ``None`` (not fed
    back); ``non_sequences``: passed unchanged to every step. ``fn`` receives the sequence
    slices, the previous outputs, then the non-sequences, and returns its outputs, optionally
    with a dict of shared-variable updates (applied at the last step's values). ``n_steps`` may
    be symbolic; each output stacks over the steps (initial values excluded).
    """
    import croton.tensor as T

    del mode, profile, allow_gc
    label = name or getattr(fn, "__name__", "scan")
    # --- sequences: one placeholder per tap, of the row type -------------------------------
    seq_vars, seq_infos, seq_ph = [], [], []
    for k, s in enumerate(_as_list(sequences)):
        var, taps = (s.get("input"), s.get("taps", [0])) if isinstance(s, dict) else (s, [0])
        var = T.as_tensor_variable(var)
        taps = [0] if taps is None else [int(t) for t in _as_list(taps)]
        if var.ndim == 0:
            raise ValueError(f"scan: sequence {k} ({var!r}) is a scalar; sequences are iterated "
                             f"over their first dimension")
        if not taps:
            continue
        seq_vars.append(var)
        seq_infos.append(SeqInfo(tuple(taps), -min(taps), bool(go_backwards)))
        base = var.name or f"seq{k}"
        seq_ph += [_placeholder(_row_type(var.type), f"{base}[t{t:+d}]") for t in taps]
    # --- outputs_info: states (with taps) and plain outputs (None) ---------------------------
    infos = None if outputs_info is None else (
        list(outputs_info) if isinstance(outputs_info, list | tuple) else [outputs_info])
    states: list[tuple[int, Variable, tuple[int, ...]]] = []  # (output index, init, taps)
    state_ph: list[list[Variable]] = []
    for i, info in enumerate(infos or []):
        if isinstance(info, dict):
            init, taps = info.get("initial"), info.get("taps", [-1])
            if init is None:
                continue
            taps = tuple(int(t) for t in _as_list(taps))
        elif info is None:
            continue
        else:
            init, taps = info, (-1,)
        if not taps or any(t >= 0 for t in taps):
            raise ValueError(f"scan: the taps of output {i} must be negative, got {list(taps)}")
        init = T.as_tensor_variable(init)
        if taps == (-1,):  # the initial value is one step: give it a time dimension
            row = init.type
            init = T.dimshuffle(init, ("x", *range(init.ndim)))
        else:
            if init.ndim == 0:
                raise ValueError(f"scan: the initial value of output {i} (taps {list(taps)}) "
                                 f"needs a first dimension over time")
            row = _row_type(init.type)
        states.append((i, init, taps))
        state_ph.append([_placeholder(row, f"out{i}[t{t:+d}]") for t in taps])
    # --- non-sequences: placeholders, except shared variables and constants -----------------
    # As in Theano, fn receives the non-sequences themselves (so it may differentiate through
    # them: T.grad(y[i], x) with y = f(x)); afterwards each is replaced by an inner placeholder.
    nonseq_outer = [T.as_tensor_variable(v) for v in _as_list(non_sequences)]
    nonseq_args = [v if isinstance(v, SharedVariable | Constant)
                   else _placeholder(v.type, v.name or f"nonseq{k}")
                   for k, v in enumerate(nonseq_outer)]
    nonseq_replace = {id(v): a for v, a in zip(nonseq_outer, nonseq_args) if a is not v}

    ret = fn(*seq_ph, *[p for ph in state_ph for p in ph], *nonseq_outer)
    outputs, updates = _split_return(ret)
    if infos is None:
        infos = [None] * len(outputs)
    if len(outputs) != len(infos):
        raise ValueError(f"scan: fn returned {len(outputs)} outputs but outputs_info has "
                         f"{len(infos)} entries; give one entry (None for a plain output) each")
    # As in Theano, shared variables the step reads that have a default update (random
    # streams' states) and that fn does not update itself are carried from step to step: every
    # step draws fresh numbers, and the state after the last step is returned in the updates.
    carried = _default_updates_of_step(outputs, updates)
    updates += carried
    outputs = _replace_outer(outputs, nonseq_replace)
    updates = list(zip([u for u, _ in updates],
                       _replace_outer([e for _, e in updates], nonseq_replace)))
    state_of = {i: s for s, (i, _, _) in enumerate(states)}
    state_outs = [_state_output(outputs[i], state_ph[s][0], i) for i, s in state_of.items()]
    nitsot_index = [i for i in range(len(outputs)) if i not in state_of]
    nitsot_outs = [T.as_tensor_variable(outputs[i]) for i in nitsot_index]
    # --- shared-variable updates become states whose last value is returned -----------------
    replace: dict[int, Variable] = {}
    update_targets: list[SharedVariable] = []
    for shared_var, expr in updates:
        if not isinstance(shared_var, SharedVariable):
            raise TypeError(f"scan: fn's updates must target shared variables, got "
                            f"{shared_var!r}")
        ph = _placeholder(shared_var.type, f"{shared_var.name or 'shared'}[t-1]")
        replace[id(shared_var)] = ph
        states.append((-1, T.dimshuffle(shared_var, ("x", *range(shared_var.ndim))), (-1,)))
        state_ph.append([ph])
        state_outs.append(_state_output(expr, ph, len(outputs) + len(update_targets)))
        update_targets.append(shared_var)
    # --- free variables of the step become implicit non-sequences ---------------------------
    inner_inputs = seq_ph + [p for ph in state_ph for p in ph]
    nonseq_ph = [a for a in nonseq_args if not isinstance(a, SharedVariable | Constant)]
    nonseq_outer = [v for v, a in zip(nonseq_outer, nonseq_args) if a is not v]
    known = {id(v) for v in inner_inputs + nonseq_ph}
    inner_outputs = state_outs + nitsot_outs
    for leaf in graph_inputs(inner_outputs):
        if id(leaf) in known or id(leaf) in replace or isinstance(leaf, Constant):
            continue
        if strict and not isinstance(leaf, SharedVariable):
            raise ValueError(f"scan (strict=True): the step uses {leaf!r}, which is not passed "
                             f"as a sequence or a non-sequence")
        ph = _placeholder(leaf.type, leaf.name or "free")
        replace[id(leaf)] = ph
        nonseq_ph.append(ph)
        nonseq_outer.append(leaf)
    inner = Graph.make(inner_inputs + nonseq_ph, inner_outputs).rebuild(
        lambda node, new_inputs: None, replace_leaf=lambda v: replace.get(id(v), v))
    # a step output that is a replaced leaf itself (fn returned a shared variable unchanged)
    inner = Graph(inner.inputs, tuple(replace.get(id(o), o) for o in inner.outputs))
    # --- the number of steps --------------------------------------------------------------
    lengths = [T.shape_i(v, 0) - (max(q.taps) + q.offset) for v, q in zip(seq_vars, seq_infos)]
    if n_steps is not None:
        n = T.as_tensor_variable(n_steps)
        if n.ndim != 0 or n.dtype not in DISCRETE_DTYPES:
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n.type}")
        lengths.insert(0, T.cast(n, "int64"))
    if not lengths:
        raise ValueError("scan: give sequences or n_steps (the number of steps is unknown)")
    n = lengths[0]
    for other in lengths[1:]:
        n = T.minimum(n, other)
    spec = ScanSpec(inner, tuple(seq_infos), tuple(StateInfo(t) for _, _, t in states),
                    len(nitsot_outs), (), len(nonseq_ph),
                    tuple(range(len(states) - len(update_targets), len(states))),
                    name=label, grad_truncate=int(truncate_gradient))
    node = apply_op(OPS["scan"], [n, *seq_vars, *(init for _, init, _ in states),
                                  *nonseq_outer], fn=spec)
    sl = spec.output_slices()
    stacked_states = node.outputs[sl["states"]]
    stacked_nitsots = node.outputs[sl["nitsots"]]
    results: list[Variable] = [None] * len(outputs)  # type: ignore[list-item]
    for i, s in state_of.items():
        results[i] = stacked_states[s]
    for i, v in zip(nitsot_index, stacked_nitsots):
        results[i] = v
    final_updates = dict(zip(update_targets, node.outputs[sl["finals"]]))
    for state, _ in carried:
        # A function built without scan's updates still advances the state past the loop (its
        # old default update reads the step's variables, which no outer function can compute).
        state.default_update = final_updates[state]
    if len(results) == 1 and not return_list:
        return results[0], final_updates
    return results, final_updates


class _CallableModule(types.ModuleType):
    """``croton.scan`` is this module once it is imported; calling it calls ``scan``, so
    ``theano.scan(...)`` works either way."""

    def __call__(self, *args, **kwargs):
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["scan"]
