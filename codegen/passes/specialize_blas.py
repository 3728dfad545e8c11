"""specialize_blas: a product with a scale and an addend becomes one BLAS call.

``C ± k * dot(A, B)`` and ``k * dot(A, B) ± C`` (k a one-element constant, the addend C
broadcastable to the product; the product has no other reader) become, by the operands' ranks
(``… - C`` is ``beta=-1``):

- matrices A, B → ``gemm(C, A, B, alpha, beta=1)`` (C a bias row, a column or a matrix);
- ``outer(x, y)``, i.e. ``dot(x.dimshuffle(0, 'x'), y.dimshuffle('x', 0))`` as ``T.outer``
  writes it → ``ger(C, x, y, alpha)`` (C broadcastable to the matrix; not ``outer - C``);
- matrix A, vector x → ``gemv(y, A, x, alpha, beta=1, trans=False)``; vector x, matrix A
  (``dot(x, A) = A.T @ x``) → ``gemv(y, A, x, …, trans=True)`` (y a bias vector or a
  broadcast scalar).

Transposed or strided operands need no copy: the kernels pass them to BLAS with transpose
flags and leading dimensions.

Before::  out = W - 0.01 * dot(h.T, g)       (a product, a scale, a subtraction: three loops)
After::   out = gemm{alpha=-0.01, beta=1}(W, h.T, g)
Before::  b_new = b - 0.1 * dot(x, W)         After::  gemv{alpha=-0.1, beta=1, trans=True}(b, W, x)
Before::  W_new = W + 0.1 * outer(u, v)       After::  ger{alpha=0.1}(W, u, v)

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> x, w = T.fmatrices('x', 'w')
    >>> b, u = T.fvectors('b', 'u')
    >>> specialize_blas(Graph.make([x, w, b], [T.dot(x, w) + b])).outputs[0].owner.op.name
    'gemm'
    >>> specialize_blas(Graph.make([w, u, b], [b - 2 * T.dot(u, w)])).outputs[0].owner.op_label()
    'gemv{alpha=-2.0, beta=1.0, trans=True}'
    >>> specialize_blas(Graph.make([w, u, b], [w + T.outer(u, b)])).outputs[0].owner.op.name
    'ger'
"""

from __future__ import annotations

from croton.fgraph import Graph
from croton.graph import Apply, Variable
from croton.ops.blas import GEMM, GEMV, GER
from croton.ops.table import make_output
from croton.rewrite import op_name, single_value
from croton.types import TensorType

FLOATS = ("float32", "float64")


def _product(old: Variable, new: Variable, clients) -> tuple[float, Variable, Variable] | None:
    """(alpha, A, B) when ``old`` is ``dot(A, B)`` or ``k * dot(A, B)`` of float vectors or
    matrices whose product has no other reader; A and B are taken from ``new``, the rebuilt
    twin of ``old``."""
    alpha = 1.0
    if op_name(old) == "mul" and len(old.owner.inputs) == 2:
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
    if a.dtype not in FLOATS or a.dtype != b.dtype:
        return None
    return alpha, a, b


def _outer_operands(a: Variable, b: Variable) -> tuple[Variable, Variable] | None:
    """(x, y) when ``a`` is ``x.dimshuffle(0, 'x')`` and ``b`` is ``y.dimshuffle('x', 0)``."""
    found = []
    for v, order in ((a, (0, "x")), (b, ("x", 0))):
        if op_name(v) != "dimshuffle" or dict(v.owner.params)["order"] != order:
            return None
        found.append(v.owner.inputs[0])
    return found[0], found[1]


def _blas_call(c: Variable, beta: float, alpha: float, a: Variable,
               b: Variable) -> Variable | None:
    """``beta * c + alpha * dot(a, b)`` (beta ±1) as one gemm, ger or gemv node (None when no
    form fits; ger only adds to ``c``)."""
    if c.dtype != a.dtype:
        return None
    if a.ndim == 2 and b.ndim == 2 and c.ndim == 2:
        outer = _outer_operands(a, b)
        if outer is not None:
            return make_output(GER, [c, *outer], alpha=alpha) if beta == 1.0 else None
        return make_output(GEMM, [c, a, b], alpha=alpha, beta=beta)
    if c.ndim == 1 and {a.ndim, b.ndim} == {1, 2}:
        trans = a.ndim == 1
        mat, vec = (b, a) if trans else (a, b)
        return make_output(GEMV, [c, mat, vec], alpha=alpha, beta=beta, trans=trans)
    return None


def specialize_blas(graph: Graph) -> Graph:
    """Replace ``C ± k * dot(A, B)`` by ``gemm``, ``ger`` or ``gemv``."""
    clients = graph.clients()

    def transform(node: Apply, inputs: list[Variable]):
        name = node.op.name
        if name not in ("add", "sub") or len(inputs) != 2:
            return None
        out_type: TensorType = node.outputs[0].type
        for c_pos, p_pos in ((0, 1), (1, 0)):
            old_p = node.inputs[p_pos]
            if len(clients.get(id(old_p), ())) != 1:
                continue
            found = _product(old_p, inputs[p_pos], clients)
            if found is None:
                continue
            alpha, a, b = found
            sign = -1.0 if name == "sub" else 1.0  # c - p, or p - c (beta -1)
            if c_pos == 0:
                out = _blas_call(inputs[c_pos], 1.0, sign * alpha, a, b)
            else:
                out = _blas_call(inputs[c_pos], sign, alpha, a, b)
            if out is None or out.type != out_type:
                continue
            out.owner.source = node.source
            out.name = node.outputs[0].name
            return [out]
        return None

    return graph.rebuild(transform)
