"""Kernel generators for the vertical slice's structured ops: ``dot`` (BLAS), ``dimshuffle``
(a strided view) and ``shape_i``, and the shape helpers of the reductions (which all lower
through ``fused_reduce.py``, a plain ``reduce`` node as a reduction of its input).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> m = T.dmatrix('m')
    >>> [s.kind for s in lower(Graph.make([m], [m.sum(axis=0)])).plan.steps]
    ['fused_reduce']
"""

from __future__ import annotations

from croton.codegen.expr import Dim, Int, Node, chain, entry
from croton.codegen.lower import CheckInfo, Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import DotStep, ShapeValueStep, ViewStep
from croton.codegen.shape_facts import LoweredIns, out_shapes
from croton.graph import Apply
from croton.ops.table import OPS
from croton.types import CXX_TYPE, TensorType


def reduced_shape(lw: Lowerer, out_buf: int, shape: Node, in_type: TensorType, reduce: str,
                  axes: tuple[int, ...]) -> tuple[int, ...]:
    """Set ``out_buf``'s shape by the shape fact of reduction ``reduce`` over ``axes`` of an
    input whose shape is the int64 array ``shape`` (``ShapeOf`` or ``ArrayRef``: a fused
    reduction's iteration space), and return the kept axes."""
    (dims,) = OPS[reduce].shape({"axis": axes}, LoweredIns(lw, None, [in_type], [shape]))
    lw.set_shape(out_buf, dims)
    return tuple(d for d in range(in_type.ndim) if d not in axes)


def check_not_empty(lw: Lowerer, label: str, source: str, shape: Node, ndim: int,
                    axes: tuple[int, ...], detail: str) -> None:
    """A run-time ValueError naming ``label`` and the user's line when the reduced axes of
    ``shape`` hold no element (a reduction with no identity: max, min, argmax...)."""
    if not axes:
        return
    n = chain("*", (entry(shape, d) for d in axes), Int(1))
    cid = lw.check(CheckInfo("empty_reduce", label, source, detail))
    lw.require(n.gt(0), cid, shape, ndim)


@lowering("dot")
def lower_dot(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob = dot_checks(lw, node)
    a, b = node.inputs
    lw.emit(DotStep(ab, bb, ob, CXX_TYPE[node.outputs[0].dtype], a.ndim, b.ndim))


def dot_checks(lw: Lowerer, node: Apply) -> tuple[int, int, int]:
    """A dot node's inner-dimension check and output shape (every target's): its buffers
    (a, b, out)."""
    a, b = node.inputs
    ab, bb = lw.buffer_of(a), lw.buffer_of(b)
    ob = lw.result_buffer(node.outputs[0], "dot")
    cid = lw.check(CheckInfo("dot", "dot", node.source, "inner dimensions"))
    lw.require(Dim(ab, a.ndim - 1).eq(Dim(bb, 0)), cid, shape_of(ab), a.ndim, shape_of(bb),
               b.ndim)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    return ab, bb, ob


@lowering("dimshuffle")
def lower_dimshuffle(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    out = node.outputs[0]
    src = lw.buffer_of(x)
    dst = lw.alias(out, out.type, node.op_label())
    order = tuple(-1 if d == "x" else d for d in dict(node.params)["order"])
    lw.set_shape(dst, out_shapes(lw, node)[0])
    lw.emit(ViewStep(src, dst, order))


@lowering("shape_i")
def lower_shape_i(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    src = lw.buffer_of(x)
    ob = lw.result_buffer(node.outputs[0], node.op_label())
    lw.emit(ShapeValueStep(ob, Dim(src, dict(node.params)["i"])))
