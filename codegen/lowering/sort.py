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

from croton.codegen.lower import Lowerer, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.graph import Apply
from croton.types import CXX_TYPE


@lowering("sort")
def lower_sort(lw: Lowerer, node: Apply) -> None:
    (x,) = node.inputs
    out = node.outputs[0]
    xb = lw.buffer_of(x)
    ob = lw.result_buffer(out, node.op_label())
    lw.set_shape(ob, [f"{shape_of(xb)}[{d}]" for d in range(x.ndim)])
    lw.need_header("kernels/sort.hpp")
    arg = "true" if node.op.name == "argsort" else "false"
    lw.emit(CallStep((f"if (int rc = croton::sort_along<{CXX_TYPE[x.dtype]}, "
                      f"{CXX_TYPE[out.dtype]}, {arg}>(B{xb}, B{ob}, {dict(node.params)['axis']}, "
                      f"scratch, err)) return rc;",), node.op_label()))
