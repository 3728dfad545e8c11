"""The CUDA target's random ops (docs/cuda.md): the generic lowering's shapes and checks
(``codegen/lowering/random.py``), then one call of ``croton::cuda::rng::<distribution>``
(``runtime/cuda/kernels/random.cuh``): a thread per element draws from the same Philox blocks as
the CPU, from the state in device memory, and a one-thread kernel writes the advanced state into
a scratch buffer that the function commits with its other updates.

Example::

    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.target import CUDA
    >>> from croton.tensor.random import RandomStreams
    >>> u = RandomStreams(1).uniform((3,))
    >>> plan = lower(Graph.make([], [u], [u.update]), target=CUDA).plan
    >>> [s.code[0].fn for s in plan.steps if s.kind == 'call']
    ['croton::cuda::rng::uniform']
"""

from __future__ import annotations

from croton.codegen.expr import Local
from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.lowering.random import emit_random
from croton.graph import Apply


@lowering("random", target="cuda")
def lower_random_cuda(lw: Lowerer, node: Apply) -> None:
    emit_random(lw, node, "croton::cuda::rng::", "kernels/random.cuh", (Local("scratch"),))
