"""Elementwise kernels: one op, or a fused program of ops, in one loop with broadcasting; a
``fused`` node with several outputs writes each of them in the same pass.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.fvector('x')
    >>> step = lower(Graph.make([x], [x * 2])).plan.steps[-1]
    >>> step.kind, step.body[-1], step.extra_outputs
    ('elementwise', 'result = v0;', ())
"""

from __future__ import annotations

from croton.codegen.expr import ArrayRef, Node, ShapeOf, as_node, entry
from croton.codegen.lower import CheckInfo, Lowerer, c_literal, shape_of
from croton.codegen.lowering import lowering
from croton.codegen.plan import ExtraOutput, Operand, ShapeLine
from croton.codegen.shape_facts import LoweredIns
from croton.graph import Apply, Constant, Variable
from croton.ops.table import OPS
from croton.types import CXX_TYPE, TensorType


@lowering("elemwise")
def lower_single(lw: Lowerer, node: Apply) -> None:
    program = ((node.op.name, node.params,
                tuple(("in", k) for k in range(len(node.inputs))), node.source),)
    lower_program(lw, node, list(node.inputs), program, (0,))


@lowering("fused")
def lower_fused(lw: Lowerer, node: Apply) -> None:
    params = dict(node.params)
    lower_program(lw, node, list(node.inputs), params["program"], params["outputs"])


def lower_program(lw: Lowerer, node: Apply, leaves: list[Variable], program,
                  outputs: tuple[int, ...]) -> None:
    """One loop computing ``program`` (``(op, params, args, source)`` steps) over ``leaves``;
    step ``outputs[k]`` is written to ``node.outputs[k]``. The loop runs over the first
    output's shape; every other output is checked to have the same shape."""
    bufs = [lw.result_buffer(v, node.op_label()) for v in node.outputs]
    types = {j: v.type for j, v in zip(outputs, node.outputs)}
    targets = {j: shape_of(b) for j, b in zip(outputs, bufs)}
    operands, body, values = compile_steps(lw, leaves, program, types, targets)
    first, nd = shape_of(bufs[0]), node.outputs[0].ndim
    extras = []
    for j, b, v in zip(outputs[1:], bufs[1:], node.outputs[1:]):
        op_name, params, _args, source = program[j]
        for d in range(nd):
            if not v.broadcastable[d]:
                cid = lw.check(CheckInfo("broadcast", OPS[op_name].label(params), source,
                                         f"dimension {d} (outputs of one fused loop)"))
                lw.require(entry(shape_of(b), d).eq(entry(first, d)), cid,
                           first, nd, shape_of(b), nd)
        extras.append(ExtraOutput(b, CXX_TYPE[v.dtype], values[j]))
    body += (f"result = {values[outputs[0]]};",)
    lw.emit_elementwise(bufs[0], node.outputs[0].type, operands, body,
                        extra_outputs=tuple(extras), cost=program_cost(program))


def program_cost(program) -> int:
    """The work per element of an elementwise program, in adds (its ops' ``cost`` summed)."""
    return max(1, sum(OPS[op_name].cost for op_name, _params, _args, _source in program))


def compile_program(lw: Lowerer, leaves: list[Variable], program, out_type: TensorType,
                    target_shape: Node) -> tuple[list[Operand], tuple[str, ...]]:
    """The operands and loop body of an elementwise ``program``; the last step's value is
    ``result`` (of ``out_type``), and its shape (the loop's iteration space) is written to the
    int64 array ``target_shape`` (``ShapeOf`` or ``ArrayRef``) with a broadcast check for each
    pair of operands."""
    last = len(program) - 1
    operands, body, values = compile_steps(lw, leaves, program, {last: out_type},
                                           {last: target_shape})
    return operands, body + (f"result = {values[last]};",)


def _leaf_operands(lw: Lowerer, leaves: list[Variable], nd: int):
    """Each leaf's C++ expression and shape array (None: a size-1 literal), and the operands."""
    operands: list[Operand] = []
    exprs: list[str] = []
    shapes: list[Node | None] = []
    for leaf in leaves:
        if isinstance(leaf, Constant) and leaf.data.size == 1:
            exprs.append(c_literal(leaf.data.reshape(()).item(), leaf.dtype))
            shapes.append(None)
            continue
        bid = lw.buffer_of(leaf)
        name = f"x{len(operands)}"
        flat = "0" if all(leaf.broadcastable) and nd else "i"
        operands.append(Operand(bid, CXX_TYPE[leaf.dtype], name, flat))
        exprs.append(name)
        shapes.append(shape_of(bid))
    return operands, exprs, shapes


def compile_steps(lw: Lowerer, leaves: list[Variable], program, out_types: dict[int, TensorType],
                  targets: dict[int, Node]) -> tuple[list[Operand], tuple[str, ...], list[str]]:
    """The operands, the loop body (one ``const`` value per step) and each step's value name.
    Step ``j`` in ``out_types`` has that type, and its shape is written to ``targets[j]``; the
    other steps' shapes go to new int64 arrays; each pair of operands gets a broadcast check."""
    nd = next(iter(out_types.values())).ndim
    first = next(iter(targets.values()))
    base = f"F{first.buf}" if isinstance(first, ShapeOf) else first.array
    operands, leaf_expr, leaf_shape = _leaf_operands(lw, leaves, nd)
    leaf_type = [leaf.type for leaf in leaves]
    if any(t.dtype.startswith("complex") for t in leaf_type):
        lw.uses_complex = True
    step_expr: list[str] = []
    step_shape: list[Node] = []
    step_type: list[TensorType] = []
    body: list[str] = []
    for j, (op_name, params, args, source) in enumerate(program):
        rec = OPS[op_name]
        arg_types = [leaf_type[k] if kind == "in" else step_type[k] for kind, k in args]
        (out_t,) = rec.type_rule(arg_types, dict(params))
        out_t = out_types.get(j, out_t)
        compute = rec.compute_dtype([t.dtype for t in arg_types]) if rec.compute_dtype \
            else out_t.dtype
        cty = CXX_TYPE[compute]
        if compute.startswith("complex") or out_t.dtype.startswith("complex"):
            lw.uses_complex = True
        exprs = [leaf_expr[k] if kind == "in" else step_expr[k] for kind, k in args]
        cexpr = rec.cpp_for(lw.target).format(*[f"static_cast<{cty}>({e})" for e in exprs],
                               T=CXX_TYPE[out_t.dtype])
        tname = f"v{j}"
        body.append(f"[[maybe_unused]] const {CXX_TYPE[out_t.dtype]} {tname} = "
                    f"static_cast<{CXX_TYPE[out_t.dtype]}>({cexpr});")
        step_expr.append(tname)
        step_type.append(out_t)
        # shapes: the step's dims follow its non-broadcastable operands, which must agree
        target = targets.get(j)
        if target is None:
            target = ArrayRef(f"{base}_{j}")
            lw.shape_arrays.append((target.array, nd))
        step_shape.append(target)
        arg_shapes = [(leaf_shape[k] if kind == "in" else step_shape[k],
                       arg_types[n]) for n, (kind, k) in enumerate(args)]
        label = rec.label(params)
        # the step's dims from its op's shape fact (a size-1 literal broadcasts everywhere)
        fact_types = [t if s is not None else TensorType(t.dtype, (True,) * t.ndim)
                      for s, t in arg_shapes]
        (dims,) = rec.shape(dict(params), LoweredIns(lw, None, fact_types,
                                                     [s for s, _ in arg_shapes]))
        for d in range(nd):
            lw.shape(ShapeLine(entry(target, d), as_node(dims[d])))
            full = [s for s, t in arg_shapes if s is not None and not t.broadcastable[d]]
            for other in full[1:]:
                cid = lw.check(CheckInfo("broadcast", label, source, f"dimension {d}"))
                lw.require(entry(other, d).eq(entry(target, d)), cid, full[0], nd, other, nd)
    return operands, tuple(body), step_expr
