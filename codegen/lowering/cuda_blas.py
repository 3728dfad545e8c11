"""The CUDA target's matrix products: ``gemm``, ``gemv``, ``ger`` (made by specialize_blas),
``dot``, ``batched_dot`` and ``contract`` (tensordot) lowered to calls of
``runtime/cuda/kernels/blas.cuh`` (cuBLAS for float32 and float64, a plain kernel for other
dtypes), after the same shape checks as every target's (``blas.py``, ``structured.py``,
``linalg.py``). The kernels fold transposes and strides into cuBLAS's operation flags and
leading dimensions. Each call returns an error code, which only a failed device call gives (a
cuBLAS status, a launch, device scratch): ``fails="device"``, no check of the inputs, so an
update is still computed in place (its output the shared variable's storage) when products
follow it, as after the target's kernel launches.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.expr import cpp
    >>> from croton.codegen.target import CUDA
    >>> from croton.codegen.passes.specialize_blas import specialize_blas
    >>> x, w = T.fmatrices('x', 'w')
    >>> b = T.fvector('b')
    >>> g = specialize_blas(Graph.make([x, w, b], [T.dot(x, w) + b]))
    >>> call = lower(g, target=CUDA).plan.steps[-1].code[0]
    >>> call.fn, call.fails, call.can_fail
    ('croton::cuda::gemm', 'device', False)
    >>> cpp(lower(Graph.make([x, w], [T.dot(x, w)]), target=CUDA).plan.steps[-1].code[0])
    'if (int rc = croton::cuda::dot<float>(B0, B1, B2, scratch, err)) return rc;'
"""

from __future__ import annotations

from croton.codegen.expr import Buf, Int, KernelCall, Lit, Local
from croton.codegen.lower import Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.lowering.blas import blas_scalars, gemm_checks, gemv_checks, ger_checks
from croton.codegen.lowering.linalg import batched_dot_checks, contract_checks
from croton.codegen.lowering.structured import dot_checks
from croton.codegen.plan import CallStep
from croton.graph import Apply
from croton.types import CXX_TYPE

HEADER = "kernels/blas.cuh"
BATCHED_HEADER = "kernels/blas_batched.cuh"  # batched_matmul and contract, over blas.cuh's
TAIL = (Local("scratch"), Local("err"))  # device scratch and the error, as every call's last


def _emit(lw: Lowerer, node: Apply, fn: str, ct: str, args: tuple, reads: tuple[int, ...],
          out: int, header: str = HEADER) -> None:
    lw.need_header(HEADER)  # (its include is how the build sees that the module needs cuBLAS)
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(f"croton::cuda::{fn}", (ct,), args + TAIL, reads, (out,),
                                 fails="device"),), node.op_label()))


@lowering("gemm", target="cuda")
def lower_gemm_cuda(lw: Lowerer, node: Apply) -> None:
    cb, ab, bb, ob = gemm_checks(lw, node)
    ct, alpha, beta = blas_scalars(node)
    _emit(lw, node, "gemm", ct, (Buf(cb), Lit(alpha), Buf(ab), Buf(bb), Lit(beta), Buf(ob)),
          (cb, ab, bb), ob)


@lowering("gemv", target="cuda")
def lower_gemv_cuda(lw: Lowerer, node: Apply) -> None:
    yb, ab, xb, ob, trans = gemv_checks(lw, node)
    ct, alpha, beta = blas_scalars(node)
    _emit(lw, node, "gemv", ct, (Buf(yb), Lit(alpha), Buf(ab), Lit("true" if trans else "false"),
                                 Buf(xb), Lit(beta), Buf(ob)), (yb, ab, xb), ob)


@lowering("ger", target="cuda")
def lower_ger_cuda(lw: Lowerer, node: Apply) -> None:
    ab, xb, yb, ob = ger_checks(lw, node)
    ct, alpha, _ = blas_scalars(node)
    _emit(lw, node, "ger", ct, (Buf(ab), Lit(alpha), Buf(xb), Buf(yb), Buf(ob)), (ab, xb, yb), ob)


@lowering("dot", target="cuda")
def lower_dot_cuda(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob = dot_checks(lw, node)
    _emit(lw, node, "dot", CXX_TYPE[node.outputs[0].dtype], (Buf(ab), Buf(bb), Buf(ob)),
          (ab, bb), ob)


@lowering("batched_dot", target="cuda")
def lower_batched_dot_cuda(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob = batched_dot_checks(lw, node)
    _emit(lw, node, "batched_matmul", CXX_TYPE[node.outputs[0].dtype],
          (Buf(ab), Buf(bb), Buf(ob)), (ab, bb), ob, BATCHED_HEADER)


@lowering("contract", target="cuda")
def lower_contract_cuda(lw: Lowerer, node: Apply) -> None:
    ab, bb, ob, n = contract_checks(lw, node)
    _emit(lw, node, "contract", CXX_TYPE[node.outputs[0].dtype],
          (Buf(ab), Buf(bb), Buf(ob), Int(n)), (ab, bb), ob, BATCHED_HEADER)
