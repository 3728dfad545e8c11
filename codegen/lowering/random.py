"""Kernel generator of the random ops (``croton/ops/random.py``): the sample's shape (from the
size inputs, or broadcast from the parameters), checks, and one call into
``runtime/cpu/kernels/random.hpp`` that writes the sample and the advanced state (a scratch
buffer; the lowerer commits it to the shared state once every step succeeded).

Example::

    >>> import croton
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.tensor.random import RandomStreams
    >>> u = RandomStreams(1).uniform((3,))
    >>> plan = lower(Graph.make([], [u], [u.update])).plan
    >>> call = [s for s in plan.steps if s.kind == 'call'][0].code[0]
    >>> call.fn, call.targs, call.writes, call.can_fail
    ('croton::rng::uniform', ('double', 'double', 'double'), (3, 4), True)
"""

from __future__ import annotations

from croton.codegen.expr import Assign, Buf, Cast, Dim, Int, KernelCall, Lit, Local, Member
from croton.codegen.lower import CheckInfo, Lowerer, shape_of, value_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import CallStep
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply, Variable
from croton.types import CXX_TYPE, TensorType


def _size_vector_entries(lw: Lowerer, node: Apply, sizes: list[Variable],
                         params: dict) -> dict:
    """With a ``size`` vector: checks its length and reads each entry through a scalar view
    (a computed value); the values to bind for the shape fact (``out_shapes``)."""
    if not params["size_vector"]:
        return {}
    (vec,) = sizes
    vb, nd = lw.buffer_of(vec), params["size_ndim"]
    owner = vec.owner
    if owner is not None and owner.op.name == "shape" and owner.inputs[0].ndim == nd:
        # size=x.shape (Lasagne's dropout): x's dimensions, known without reading the vector
        # (which, on a device, the host could not read in place)
        src = lw.buffer_of(owner.inputs[0])
        return {(1, d): Dim(src, d) for d in range(nd)}
    cid = lw.check(CheckInfo("shape", node.op.name, node.source,
                             f"size must have {nd} elements"))
    lw.require(Dim(vb, 0).eq(nd), cid, shape_of(vb), 1)
    values = {}
    for d in range(nd):  # a scalar view of each entry, read as a computed value
        entry = lw.new_buffer(TensorType(vec.dtype, ()), "view", -1, f"size[{d}]")
        ct = CXX_TYPE[vec.dtype]
        lw.emit(CallStep((Assign(Member(entry, "data"), Cast(f"{ct}*", Member(vb, "data"))
                                 + Int(d) * Member(vb, "strides", Int(0))),), f"size[{d}]"))
        values[(1, d)] = value_of(entry)
    return values


@lowering("random")
def lower_random(lw: Lowerer, node: Apply) -> None:
    emit_random(lw, node, "croton::rng::", "kernels/random.hpp", ())


def emit_random(lw: Lowerer, node: Apply, namespace: str, header: str,
                extra: tuple) -> None:
    """The random node's shapes and checks, then one call of ``<namespace><distribution>`` from
    ``header``, with ``extra`` arguments before ``err`` (the CUDA target's kernels take the
    call's device scratch: ``codegen/lowering/cuda_random.py``)."""
    params = dict(node.params)
    name = node.op.name
    state, *rest = node.inputs
    sizes, args = rest[:params["size_inputs"]], rest[params["size_inputs"]:]
    sb = lw.buffer_of(state)
    arg_bufs = [lw.buffer_of(a) for a in args]
    cid = lw.check(CheckInfo("shape", name, node.source,
                             "the random generator state must be a uint64 vector of length 2"))
    lw.require(Dim(sb, 0).eq(2), cid, shape_of(sb), 1)
    values = _size_vector_entries(lw, node, sizes, params)
    state_dims, dims = out_shapes(lw, node, values=values)
    new_state, sample = node.outputs
    nb = lw.result_buffer(new_state, f"{name} state")
    lw.set_shape(nb, state_dims)
    ob = lw.result_buffer(sample, name)
    lw.set_shape(ob, dims)
    negative = lw.check(CheckInfo("shape", name, node.source, "size must be non-negative"))
    for d, e in enumerate(dims):
        if not isinstance(e, Int):
            lw.require(Dim(ob, d).ge(0), negative, shape_of(ob), sample.ndim)
    bad = lw.check(CheckInfo("value", name, node.source, "invalid random sample"))
    out_ct = CXX_TYPE[sample.dtype]
    head = (Buf(sb), Buf(nb), Buf(ob))
    err, failed = Local("err"), Int(bad)
    if name == "random_choice":
        a, p = args[0], (args[1] if params["has_p"] else None)
        p_ct = CXX_TYPE[p.dtype] if p is not None else "double"
        p_arg = Buf(arg_bufs[1], address=True) if p is not None else Lit("nullptr")
        fn, targs = f"{namespace}choice", (out_ct, CXX_TYPE[a.dtype], p_ct)
        rest_args = (Buf(arg_bufs[0]), Lit("true" if a.ndim == 1 else "false"), p_arg,
                     Lit("true" if params["replace"] else "false"), Local("scratch"), err, failed)
    elif name == "random_permutation":
        fn, targs, rest_args = f"{namespace}permutation", (out_ct,), (*extra, err, failed)
    else:
        fn = f"{namespace}{name.removeprefix('random_')}"
        targs = (out_ct, *(CXX_TYPE[a.dtype] for a in args))
        rest_args = (*(Buf(b) for b in arg_bufs), *extra, err, failed)
    lw.need_header(header)
    lw.emit(CallStep((KernelCall(fn, targs, head + rest_args, (sb, *arg_bufs), (nb, ob), "rc"),),
                     node.op_label()))
