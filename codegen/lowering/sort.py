"""Kernel generator of ``sort`` and ``argsort`` (kind ``sort``, ``croton/ops/sort.py``): one call
into ``runtime/cpu/kernels/sort.hpp``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.dmatrix('x')
    >>> [s.kind for s in lower(Graph.make([x], [T.sort(x)])).plan.steps]
    ['call']
"""

from __future__ import annotations

from croton.codegen.expr import Buf, Int, KernelCall, Local
from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("sort")
def lower_sort(lw: Lowerer, node: Apply, ns: str = "croton::",
               header: str = "kernels/sort.hpp") -> None:
    """``ns`` + ``sort_along`` from ``header`` (a target's own kernel)."""
    (x,) = node.inputs
    out = node.outputs[0]
    xb = lw.buffer_of(x)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, out_shapes(lw, node)[0])
    lw.need_header(header)
    targs = (CXX_TYPE[x.dtype], CXX_TYPE[out.dtype], node.op.name == "argsort")
    lw.emit(CallStep((KernelCall(f"{ns}sort_along", targs, (
        Buf(xb), Buf(ob), Int(dict(node.params)["axis"]), Local("scratch"), Local("err")),
        (xb,), (ob,), "rc"),), node.op_label()))


@lowering("sort", target="cuda")
def lower_cuda_sort(lw: Lowerer, node: Apply) -> None:
    """The CUDA runtime's sort (``runtime/cuda/kernels/sort.cuh``): one thread per line."""
    lower_sort(lw, node, "croton::cuda::", "kernels/sort.cuh")
