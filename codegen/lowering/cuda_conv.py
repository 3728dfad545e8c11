"""The CUDA target's convolutions and pooling (issue 15, docs/cuda.md): the generic lowerings'
shape checks and output shapes (``conv.py``, ``nnet.py``), calling the direct kernels of
``runtime/cuda/kernels/conv.cuh`` and ``pool.cuh`` (namespace ``croton::cuda``) instead of the
CPU's. The pooling kernels also take ``err`` (a failed launch is the call's error).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.target import CUDA
    >>> x, w = T.ftensor4('x'), T.ftensor4('w')
    >>> plan = lower(Graph.make([x, w], [T.nnet.conv2d(x, w)]), target=CUDA).plan
    >>> [k.fn for s in plan.steps if s.kind == 'call' for k in s.code]
    ['croton::cuda::conv_forward']
"""

from __future__ import annotations

from croton.codegen.expr import Local
from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.lowering.conv import conv_forward_steps, conv_gradient_steps
from croton.codegen.lowering.nnet import PoolKernels, pool_grad_steps, pool_steps
from croton.graph import Apply

NS = "croton::cuda::"
CONV_HEADER = "kernels/conv.cuh"
POOL = PoolKernels(ns=NS, header="kernels/pool.cuh", tail=(Local("err"),))


@lowering("conv", target="cuda")
def lower_conv(lw: Lowerer, node: Apply) -> None:
    conv_forward_steps(lw, node, NS, CONV_HEADER)


@lowering("conv_grad_input", target="cuda")
def lower_conv_grad_input(lw: Lowerer, node: Apply) -> None:
    conv_gradient_steps(lw, node, "input", NS, CONV_HEADER)


@lowering("conv_grad_filters", target="cuda")
def lower_conv_grad_filters(lw: Lowerer, node: Apply) -> None:
    conv_gradient_steps(lw, node, "filter", NS, CONV_HEADER)


@lowering("pool", target="cuda")
def lower_pool(lw: Lowerer, node: Apply) -> None:
    pool_steps(lw, node, POOL)


@lowering("pool_grad", target="cuda")
def lower_pool_grad(lw: Lowerer, node: Apply) -> None:
    pool_grad_steps(lw, node, POOL)
