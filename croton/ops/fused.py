"""``fused``: several elementwise ops computed in one loop. Made by the fuse_elementwise pass,
never by users. ``params['program']`` lists the steps; each step is
``(op_name, op_params, args, source)`` with args ``('in', k)`` (the k-th input) or ``('step', j)``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.passes.fuse_elementwise import fuse_elementwise
    >>> x = T.dvector('x')
    >>> g = fuse_elementwise(Graph.make([x], [T.exp(x) * 2 + 1]))
    >>> [step[0] for step in g.outputs[0].owner.params[0][1]]
    ['exp', 'mul', 'add']
"""

from __future__ import annotations

import numpy as np

from croton.ops.table import OPS, OpRecord, register


def _fused_rule(types, params):
    return [params["out_type"]]


def _fused_perform(values, params):
    results: list[np.ndarray] = []
    for op_name, op_params, args, _source in params["program"]:
        operands = [values[k] if kind == "in" else results[k] for kind, k in args]
        (out,) = OPS[op_name].perform(operands, dict(op_params))
        results.append(np.asarray(out))
    out_type = params["out_type"]
    return [results[-1].astype(out_type.dtype)]


FUSED = register(OpRecord("fused", "fused", _fused_rule, _fused_perform, None))
