"""float16: float16 is a storage type; every op on float16 values computes in float32 (as Theano
did), so no kernel but the conversion ever sees a float16 number.

Each node that reads or writes float16 (except the conversion itself and the ops whose record
says ``arithmetic=False``: views, shape queries, and control flow, whose inner graphs get this
pass of their own) is rebuilt on float32 inputs,
with any ``'float16'`` in its parameters read as ``'float32'``, and its float16 outputs are
converted back. The fusion pass later folds the conversions into the loops, so a chain of
elementwise ops loads float16, computes in float32 and stores float16 once.

Before::  out(float16) = exp(x(float16))
After::   out(float16) = cast{float16}(exp(cast{float32}(x)))
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Apply
from croton.ops.table import apply_op
from croton.types import TensorType


def _to32(value):
    if isinstance(value, str):
        return "float32" if value == "float16" else value
    if isinstance(value, TensorType):
        return TensorType("float32", value.broadcastable) if value.dtype == "float16" else value
    if isinstance(value, tuple):
        return type(value)(_to32(v) for v in value) if type(value) is tuple else value
    return value


def _touches_float16(node: Apply, inputs) -> bool:
    return any(v.dtype == "float16" for v in inputs) or \
        any(o.dtype == "float16" for o in node.outputs)


def float16(graph: Graph) -> Graph:
    """Rebuild every float16 computation in float32 between conversions."""
    from croton.tensor.math import cast

    if not any(_touches_float16(n, n.inputs) for n in graph.nodes()):
        return graph

    def transform(node: Apply, inputs):
        if node.op.name == "cast" or not node.op.arithmetic \
                or not _touches_float16(node, inputs):
            return None
        new_inputs = [cast(v, "float32") if v.dtype == "float16" else v for v in inputs]
        params = {k: _to32(v) for k, v in node.params}
        new = apply_op(node.op, new_inputs, node.source, **params)
        outs = []
        for old, out in zip(node.outputs, new.outputs):
            want = "float32" if old.dtype == "float16" else old.dtype
            if out.dtype != want:
                raise TypeError(f"{node.op_label()} (built at {node.source}): cannot compute its "
                                f"float16 result in float32 (it gave {out.dtype})")
            out.name = old.name
            outs.append(cast(out, "float16") if old.dtype == "float16" else out)
        return outs

    return graph.rebuild(transform)
