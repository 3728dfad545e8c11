"""specialize_blas: a matrix product with a scale and an addend becomes one ``gemm`` call.

``dot(A, B) + C``, ``C + k * dot(A, B)``, ``C - dot(A, B)``, ``C - k * dot(A, B)`` (k a
one-element constant, C broadcastable to the product: a bias row, a column or a matrix) →
``gemm(C, A, B, alpha, beta=1)``. The product must have no other reader. Transposed operands
need no copy: the kernel passes them to BLAS with transpose flags.

Before::  out = W - 0.01 * dot(h.T, g)       (a product, a scale, a subtraction: three loops)
After::   out = gemm{alpha=-0.01, beta=1}(W, h.T, g)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x, w = T.fmatrices('x', 'w')
    >>> b = T.fvector('b')
    >>> specialize_blas(Graph.make([x, w, b], [T.dot(x, w) + b])).outputs[0].owner.op.name
    'gemm'
"""

from __future__ import annotations

from croton.codegen.rewrite import op_name, single_value
from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.ops.blas import GEMM
from croton.ops.table import make_output


def _product(old: Variable, new: Variable, clients) -> tuple[float, Variable, Variable] | None:
    """(alpha, A, B) when ``old`` is ``dot(A, B)`` or ``k * dot(A, B)`` of float matrices whose
    product has no other reader; A and B are taken from ``new``, the rebuilt twin of ``old``."""
    alpha = 1.0
    if op_name(old) == "mul":
        x, y = old.owner.inputs
        pos = 1
        k = single_value(x)
        if k is None:
            k, y, pos = single_value(y), x, 0
        if k is None or isinstance(k, complex) or op_name(y) != "dot":
            return None
        if len(clients.get(id(y), ())) != 1:
            return None
        alpha, old, new = float(k), y, new.owner.inputs[pos]
    if op_name(old) != "dot" or op_name(new) != "dot":
        return None
    a, b = new.owner.inputs
    if a.ndim != 2 or b.ndim != 2 or a.dtype not in ("float32", "float64") or a.dtype != b.dtype:
        return None
    return alpha, a, b


def specialize_blas(graph: Graph) -> Graph:
    """Replace ``C ± k * dot(A, B)`` by ``gemm``."""
    clients = graph.clients()

    def transform(node: Apply, inputs: list[Variable]):
        name = node.op.name
        if name not in ("add", "sub") or len(inputs) != 2:
            return None
        out_type = node.outputs[0].type
        for c_pos, p_pos in ([(0, 1)] if name == "sub" else [(0, 1), (1, 0)]):
            c = inputs[c_pos]
            old_p = node.inputs[p_pos]
            if len(clients.get(id(old_p), ())) != 1:
                continue
            found = _product(old_p, inputs[p_pos], clients)
            if found is None:
                continue
            alpha, a, b = found
            if c.ndim != 2 or c.dtype != a.dtype or out_type.dtype != a.dtype:
                continue
            out = make_output(GEMM, [c, a, b], alpha=-alpha if name == "sub" else alpha,
                              beta=1.0)
            if out.type != out_type:
                continue
            out.owner.source = node.source
            out.name = node.outputs[0].name
            return [out]
        return None

    return graph.rebuild(transform)
