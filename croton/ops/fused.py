"""``fused``: several elementwise ops computed in one loop, with one or more outputs. Made by
the fuse_elementwise and fuse_siblings passes, never by users (so it has no gradient: fusion
runs after differentiation).

``params['program']`` lists the steps; each step is ``(op_name, op_params, args, source)`` with
args ``('in', k)`` (the k-th input) or ``('step', j)``. ``params['outputs']`` names the steps the
node returns, in order (a single-output node returns its last step), and
``params['out_types']`` their types; every output has the loop's ndim and broadcast pattern.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.passes.fuse_elementwise import fuse_elementwise
    >>> x = T.dvector('x')
    >>> node = fuse_elementwise(Graph.make([x], [T.exp(x) * 2 + 1])).outputs[0].owner
    >>> [step[0] for step in dict(node.params)['program']], dict(node.params)['outputs']
    (['exp', 'mul', 'add'], (2,))
"""

from __future__ import annotations

import numpy as np

from croton.ops.shapes import broadcast_dims, kept_dims
from croton.ops.table import OPS, InPlace, OpRecord, register


def _fused_rule(types, params):
    return list(params["out_types"])


def _fused_shape(params, ins):
    """Every output has the loop's shape: the leaves' broadcast shape (a dim the output's
    pattern declares broadcastable is 1)."""
    return [broadcast_dims(ins, ndim=t.ndim, pattern=t.broadcastable)
            for t in params["out_types"]]


def run_program(values, program) -> list[np.ndarray]:
    """Every step's value of ``program`` over the input ``values`` (NumPy)."""
    results: list[np.ndarray] = []
    for op_name, op_params, args, _source in program:
        operands = [values[k] if kind == "in" else results[k] for kind, k in args]
        (out,) = OPS[op_name].perform(operands, dict(op_params))
        results.append(np.asarray(out))
    return results


def _fused_perform(values, params):
    results = run_program(values, params["program"])
    return [np.asarray(results[j]).astype(t.dtype)
            for j, t in zip(params["outputs"], params["out_types"])]


FUSED = register(OpRecord(
    "fused", "fused", _fused_rule, _fused_perform, None,
    extra={"label": lambda params: "fused"}, can_fail=False, inplace=InPlace(),
    shape=_fused_shape,
    doc="elementwise ops in one loop, with one or more outputs (params['outputs']); made by "
        "the fuse_elementwise and fuse_siblings passes"))


def _fused_reduce_rule(types, params):
    return [params["out_type"]]


def _fused_reduce_shape(params, ins):
    """The kept dims of the program's iteration space (the leaves' broadcast shape)."""
    t = params["in_type"]
    return [kept_dims(broadcast_dims(ins, ndim=t.ndim, pattern=t.broadcastable),
                      params["axis"])]


def _fused_reduce_perform(values, params):
    if params["program"]:
        full = run_program(values, params["program"])[-1].astype(params["in_type"].dtype)
    else:
        full = np.asarray(values[0])
    return OPS[params["reduce"]].perform([full], {"axis": params["axis"]})


def _fused_reduce_label(params: dict) -> str:
    """``sum{axis=(0,)}(sqr)``: the reduction as users name it, then the absorbed ops."""
    program = "|".join(step[0] for step in params["program"])
    return f"{params['reduce']}{{axis={params['axis']}}}" + (f"({program})" if program else "")


FUSED_REDUCE = register(OpRecord(
    "fused_reduce", "fused_reduce", _fused_reduce_rule, _fused_reduce_perform, None,
    extra={"label": _fused_reduce_label}, can_fail=False, shape=_fused_reduce_shape,
    doc="a reduction (params['reduce'] names the reduction op: sum, prod, max, min, all, any; "
        "over params['axis']) of an elementwise program, in one loop nest; made by the "
        "fuse_reductions pass"))
