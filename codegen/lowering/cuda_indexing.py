"""The CUDA target's lowerings of indexing, the per-row gather and scatter of cross-entropy,
argmax/argmin, cumulative ops and the construction ops (issue 15; docs/cuda.md): the generic
lowerings' shape checks and buffers, with calls of the CUDA runtime's kernels
(``runtime/cuda/kernels/{indexing,structured,shape}.cuh``). Basic views need no lowering of their
own: their host arithmetic (``croton::subtensor::View``, ``croton::slice_axis``,
``croton::diag_view``) touches no array data and is allowed on CUDA (``Target.kernel_namespaces``).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.target import CUDA
    >>> x, i = T.fmatrix('x'), T.ivector('i')
    >>> steps = lower(Graph.make([x, i], [x[i]]), target=CUDA).plan.steps
    >>> [c.fn for c in steps[-1].code if hasattr(c, 'fn')][-1]
    'croton::cuda::gather'
"""

from __future__ import annotations

from croton.codegen.expr import Local
from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.lowering.nnet import lower_take, lower_take_grad
from croton.codegen.lowering.reduce_ops import lower_arg_reduce, lower_cumulative
from croton.codegen.lowering.shape_ops import (
    lower_alloc,
    lower_alloc_diag,
    lower_arange,
    lower_eye,
    lower_join,
    lower_repeat,
    lower_repeat_sum,
    lower_reshape,
    lower_shape,
)
from croton.codegen.lowering.subtensor import (
    lower_advanced_subtensor,
    lower_inc_subtensor,
    lower_mask_nonzero,
)
from croton.graph import Apply

NS = "croton::cuda::"
INDEXING, STRUCTURED, SHAPE = ("kernels/indexing.cuh", "kernels/structured.cuh",
                               "kernels/shape.cuh")
ERR, SCRATCH = Local("err"), Local("scratch")


@lowering("advanced_subtensor", target="cuda")
def lower_cuda_gather(lw: Lowerer, node: Apply) -> None:
    lower_advanced_subtensor(lw, node, f"{NS}gather", INDEXING)


@lowering("inc_subtensor", target="cuda")
def lower_cuda_scatter(lw: Lowerer, node: Apply) -> None:
    lower_inc_subtensor(lw, node, f"{NS}scatter", INDEXING)


@lowering("mask_nonzero", target="cuda")
def lower_cuda_mask_nonzero(lw: Lowerer, node: Apply) -> None:
    lower_mask_nonzero(lw, node, NS, INDEXING, (ERR,))


@lowering("take_along_last", target="cuda")
def lower_cuda_take(lw: Lowerer, node: Apply) -> None:
    lower_take(lw, node, NS, INDEXING, (SCRATCH,))


@lowering("take_along_last_grad", target="cuda")
def lower_cuda_take_grad(lw: Lowerer, node: Apply) -> None:
    lower_take_grad(lw, node, NS, INDEXING, (SCRATCH,))


@lowering("arg_reduce", target="cuda")
def lower_cuda_arg_reduce(lw: Lowerer, node: Apply) -> None:
    lower_arg_reduce(lw, node, NS, STRUCTURED, (ERR,))


@lowering("cumulative", target="cuda")
def lower_cuda_cumulative(lw: Lowerer, node: Apply) -> None:
    lower_cumulative(lw, node, NS, STRUCTURED, (ERR,))


@lowering("join", target="cuda")
def lower_cuda_join(lw: Lowerer, node: Apply) -> None:
    lower_join(lw, node, NS, SHAPE)


@lowering("alloc", target="cuda")
def lower_cuda_alloc(lw: Lowerer, node: Apply) -> None:
    lower_alloc(lw, node, NS, SHAPE, (ERR,))


@lowering("eye", target="cuda")
def lower_cuda_eye(lw: Lowerer, node: Apply) -> None:
    lower_eye(lw, node, NS, SHAPE, (ERR,))


@lowering("arange", target="cuda")
def lower_cuda_arange(lw: Lowerer, node: Apply) -> None:
    lower_arange(lw, node, NS, SHAPE)


@lowering("alloc_diag", target="cuda")
def lower_cuda_alloc_diag(lw: Lowerer, node: Apply) -> None:
    lower_alloc_diag(lw, node, NS, SHAPE, (ERR,))


@lowering("reshape", target="cuda")
def lower_cuda_reshape(lw: Lowerer, node: Apply) -> None:
    lower_reshape(lw, node, NS, SHAPE)


@lowering("repeat", target="cuda")
def lower_cuda_repeat(lw: Lowerer, node: Apply) -> None:
    lower_repeat(lw, node, NS, SHAPE, (ERR,), (SCRATCH,))


@lowering("repeat_sum", target="cuda")
def lower_cuda_repeat_sum(lw: Lowerer, node: Apply) -> None:
    lower_repeat_sum(lw, node, NS, SHAPE, (ERR,), (SCRATCH,))


@lowering("shape", target="cuda")
def lower_cuda_shape(lw: Lowerer, node: Apply) -> None:
    lw.need_header(SHAPE)
    lower_shape(lw, node, f"{NS}store_shape")
