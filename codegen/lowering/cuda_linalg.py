"""The CUDA target's LAPACK ops (inverse, determinant, solve, Cholesky and its gradient): the
generic lowering's checks and buffers, with calls of ``runtime/cuda/kernels/lapack.cuh``, which
runs the CPU's LAPACK kernels on host copies of the device operands (no cuSOLVER).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.target import CUDA
    >>> a = T.fmatrix('a')
    >>> steps = lower(Graph.make([a], [T.det(a)]), target=CUDA).plan.steps
    >>> [c.fn for c in steps[-1].code if hasattr(c, 'fn')]
    ['croton::cuda::det']
"""

from __future__ import annotations

from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.lowering.linalg import lower_lapack
from croton.graph import Apply


@lowering("lapack", target="cuda")
def lower_cuda_lapack(lw: Lowerer, node: Apply) -> None:
    lower_lapack(lw, node, "croton::cuda::", "kernels/lapack.cuh")
