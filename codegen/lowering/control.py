"""Kernel generators for control flow: ``ifelse`` (a ``BranchStep``) and ``scan`` (a
``ScanStep`` calling the step's inner graph, compiled by a nested ``Lowerer`` into a static
function of the same translation unit).

Each node only one branch of an ``ifelse`` needs is lowered inside that branch (its shape
lines, checks and allocations too), so the untaken branch costs nothing and cannot fail:
``top_level_nodes`` decides where every node goes, before lowering starts.

Example::

    >>> import croton.tensor as T
    >>> from croton.ifelse import ifelse
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> a, b = T.dscalars('a', 'b')
    >>> [s.kind for s in lower(Graph.make([a, b], [ifelse(a < b, T.exp(a), b)])).plan.steps]
    ['elementwise', 'branch', 'elementwise']
"""

from __future__ import annotations

from croton.codegen.branches import branch_homes
from croton.codegen.expr import (
    Assign,
    Bin,
    Braced,
    Buf,
    Call,
    Cast,
    Cond,
    Declare,
    Dim,
    Guard,
    Int,
    KernelCall,
    Lit,
    Local,
    Member,
    Node,
    Not,
    ShapeOf,
    Value,
    all_of,
)
from croton.codegen.lower import CheckInfo, Lowerer
from croton.codegen.lowering import lowering
from croton.codegen.plan import BranchStep, CallStep, Operand, ScanStep, SubFunction
from croton.codegen.shape_facts import out_shapes
from croton.graph import Apply
from croton.types import CXX_TYPE, DTYPE_CODE, TensorType


def top_level_nodes(lw: Lowerer) -> list[Apply]:
    """The nodes the function body lowers in order; the others wait for their branch
    (``lw.branch_members[(id(ifelse), side)]``)."""
    nodes = lw.graph.nodes()
    lw.branch_members = {}
    if not any(n.op.branch_of is not None for n in nodes):
        return nodes
    home = branch_homes(nodes, lw.graph.roots)
    for n in nodes:
        if home[id(n)] is not None:
            lw.branch_members.setdefault(home[id(n)], []).append(n)
    return [n for n in nodes if home[id(n)] is None]


def _lower_into(lw: Lowerer, nodes: list[Apply]) -> list:
    """Lower ``nodes`` into a fresh step list (nothing hoisted out of it)."""
    saved, saved_pending = lw.steps, lw.pending_alloc
    lw.steps, lw.pending_alloc = [], []
    try:
        for n in nodes:
            lw.lower_node(n)
        return lw.steps
    finally:
        lw.steps, lw.pending_alloc = saved, saved_pending


@lowering("ifelse")
def lower_ifelse(lw: Lowerer, node: Apply) -> None:
    n = dict(node.params)["n_outs"]
    cond = lw.buffer_of(node.inputs[0])
    outs = [lw.alias(o, o.type, f"{node.op_label()}.{k}") for k, o in enumerate(node.outputs)]
    branches = []
    for side, values in (("then", node.inputs[1:1 + n]), ("else", node.inputs[1 + n:])):
        steps = _lower_into(lw, lw.branch_members.get((id(node), side), []))
        code = tuple(Assign(Buf(o), Buf(lw.buffer_of(v))) for o, v in zip(outs, values))
        steps.append(CallStep(code, f"ifelse outputs: the {side} branch's values (views)"))
        branches.append(tuple(steps))
    lw.emit(BranchStep(cond, CXX_TYPE[node.inputs[0].dtype], branches[0], branches[1],
                       tuple(outs)))


# --- scan ---------------------------------------------------------------------------------
def _compile_step(lw: Lowerer, spec, label: str) -> str:
    """Lower the inner graph (already optimized by the pipeline) into a ``SubFunction``;
    returns its C++ name."""
    inner = spec.inner
    nested = Lowerer(inner, lw.target)
    nested.checks = lw.checks  # the inner graph's errors name its ops and the user's lines
    nested.subfunctions = lw.subfunctions
    first = len(lw.checks)
    lowered = nested.run()
    for i in range(first, len(lw.checks)):  # "mul inside scan{fn=step}"
        c = lw.checks[i]
        lw.checks[i] = CheckInfo(c.kind, f"{c.op} inside {label}", c.source, c.detail)
    if lowered.shared:
        raise AssertionError("a scan's inner graph reads shared variables only as inputs")
    for h in lowered.plan.headers:
        lw.need_header(h)
    index = len(lw.subfunctions)
    name = f"scan_step_{index}"
    lw.subfunctions.append(SubFunction(name, f"S{index}_", lowered.plan))
    return name


def _row_expr(u: Node, tap: int, offset: int, backwards: bool, length: Node) -> Node:
    r = u + (tap + offset) if tap + offset else u
    return length - 1 - r if backwards else r


def _fail_rows(row0: Node, need: Node, cid: int, b: int, only_if: Node | None = None) -> Guard:
    """``if ([only_if &&] row0 < need)``: fail check ``cid`` with buffer ``b``'s shape and
    ``need`` (``scan_fail_rows``, scan_support.cpp.j2)."""
    short = row0.lt(need)
    return Guard(short if only_if is None else Bin("&&", only_if, short),
                 Call("scan_fail_rows", (Local("err"), Int(cid), Member(b, "ndim"), ShapeOf(b),
                                         need)))


EMPTY = Braced("", ())  # {}: a zero-initialized aggregate


def _read_count(lw: Lowerer, n_buf: int) -> list[Node]:
    """``n``, the steps asked for, read from its scalar: in place, or on a target whose memory
    the host cannot read (CUDA) through the target's ``value_read`` (one copy to the host)."""
    if not lw.target.value_read:
        return [Declare("const int64_t n", Value(n_buf))]
    return [Declare("int64_t n", Int(0)),
            KernelCall(lw.target.value_read, ("int64_t",), (Buf(n_buf), Local("&n"), Local("err")),
                       (n_buf,), (), "rc")]


def _slot(k: int, field: str) -> Local:
    return Local(f"slots[{k}].{field}")


@lowering("scan")
def lower_scan(lw: Lowerer, node: Apply) -> None:
    spec = dict(node.params)["fn"]
    label = node.op_label()
    function = _compile_step(lw, spec, label)
    ins, outs = spec.input_slices(), spec.output_slices()
    inner_in, inner_out = spec.inner.inputs, spec.inner.outputs
    rev, zero_fill = spec.reverse, Lit(str(spec.truncate >= 0).lower())
    n, u = Local("n"), Local("u")

    def check(kind: str, detail: str) -> int:
        return lw.check(CheckInfo(kind, label, node.source, detail))

    n_buf = lw.buffer_of(node.inputs[0])
    seq_bufs = [lw.buffer_of(v) for v in node.inputs[ins["seqs"]]]
    init_bufs = [lw.buffer_of(v) for v in node.inputs[ins["inits"]]]
    like_bufs = [lw.buffer_of(v) for v in node.inputs[ins["accums"]]]
    nonseq_bufs = [lw.buffer_of(v) for v in node.inputs[ins["nonseqs"]]]
    out_vars = node.outputs
    stacked = [lw.alias(v, v.type, f"{label}.state{j}")
               for j, v in enumerate(out_vars[outs["states"]])]
    nitsots = [lw.result_buffer(v, f"{label}.out{i}")
               for i, v in enumerate(out_vars[outs["nitsots"]])]
    lw.pending_alloc = [b for b in lw.pending_alloc if b not in nitsots]  # scan_alloc does it
    stores = [lw.alias(v, v.type, f"{label}.store{j}")
              for j, v in enumerate(out_vars[outs["stores"]])]
    accum_vars = out_vars[outs["accums"]]
    accums = [lw.result_buffer(v, f"{label}.accum{a}") for a, v in enumerate(accum_vars)]
    lw.pending_alloc = [b for b in lw.pending_alloc if b not in accums]  # after their shapes
    finals = [lw.alias(v, v.type, f"{label}.final{j}")
              for j, v in zip(spec.finals, out_vars[outs["finals"]])]
    n_out = len(inner_out)
    shape_cid = check("shape", "a step gave an output another shape than the first step (or "
                               "than its initial state); scan needs the same shape at every "
                               "step: shapes of this step's output and of the expected one")
    neg_cid = check("value", "n_steps must not be negative")
    declare = [*_read_count(lw, n_buf),
               Guard(n.lt(0), Call("croton::fail_value", (Local("err"), Int(neg_cid),
                                                          Lit('"negative n_steps"')))),
               Declare(f"ScanSlot slots[{max(n_out, 1)}]", EMPTY),
               Declare(f"croton_buffer inner_in[{max(len(inner_in), 1)}]", EMPTY),
               Declare(f"croton_buffer inner_out[{max(n_out, 1)}]", EMPTY),
               Declare("ScanContext ctx", Braced("", (
                   Local("alloc"), Local("alloc_ctx"), Local("out"), Local("&scratch"),
                   Local("slots"), zero_fill, Int(-1), Int(0), EMPTY, EMPTY)))]

    # setup: checks, the state stores (initial rows copied in), zeroed accumulators, slots
    code: list[Node] = []
    for i, (q, b) in enumerate(zip(spec.seqs, seq_bufs)):
        cid = check("shape", f"sequence {i} (taps {list(q.taps)}) has fewer rows than the steps "
                             f"need: the sequence's shape and the rows needed")
        code.append(_fail_rows(Dim(b, 0), n + (max(q.taps) + q.offset), cid, b, n.gt(0)))
    for j, (q, b, st, sv) in enumerate(zip(spec.states, init_bufs, stores, stacked)):
        cid = check("shape", f"the initial value of output {j} (taps {list(q.taps)}) has fewer "
                             f"rows than its taps need: its shape and the rows needed")
        code += [_fail_rows(Dim(b, 0), Int(q.m), cid, b),
                 Assign(Dim(st, 0), Int(q.m) + n),
                 *(Assign(Dim(st, d), Dim(b, d)) for d in range(1, lw.buffers[st].ndim)),
                 KernelCall("scan_scratch", (), (Local("scratch"), Buf(st), zero_fill), (),
                            (st,), "alloc"),
                 KernelCall("scan_rows", (), (Buf(st), Int(0 if rev else q.m), n),
                            result=Buf(sv))]
    setup: list = [CallStep(tuple(code), "checks, state stores")]
    for q, b, st in zip(spec.states, init_bufs, stores):
        src_b, dst_b = lw.buffers[b], lw.buffers[st]
        dst_t = TensorType(dst_b.dtype, dst_b.broadcastable)
        src = lw.new_buffer(TensorType(src_b.dtype, src_b.broadcastable), "view", -1, "init")
        dst = lw.new_buffer(dst_t, "view", -1, "store rows")
        setup.append(CallStep((
            KernelCall("scan_rows", (), (Buf(b), Int(0), Int(q.m)), result=Buf(src)),
            KernelCall("scan_rows", (), (Buf(st), n if rev else Int(0), Int(q.m)),
                       result=Buf(dst))), "initial rows"))
        lw.emit_elementwise(dst, dst_t, [Operand(src, src_b.ctype, "x0", "i")],
                            ("result = x0;",), into=setup)
    for like, acc, v in zip(like_bufs, accums, accum_vars):
        lw.pending_alloc.append(acc)
        lw.set_shape(acc, [Dim(like, d) for d in range(v.ndim)], into=setup)
        lw.emit_elementwise(acc, v.type, [], ("result = 0;",), into=setup)
    slot_lines: list[Node] = [Assign(_slot(j, "stack"), Buf(st, address=True))
                              for j, st in enumerate(stores)]
    base, acc_base = spec.n_state, spec.n_state + spec.n_nitsot
    for i, b in enumerate(nitsots):
        buf = lw.buffers[b]
        slot_lines += [Assign(_slot(base + i, "stack"), Buf(b, address=True)),
                       Assign(_slot(base + i, "rows"), n),
                       Assign(_slot(base + i, "output"),
                              Int(buf.index if buf.role == "output" else -1))]
    for k in range(acc_base, n_out):
        slot_lines.append(Assign(_slot(k, "temp.dtype"), Int(DTYPE_CODE[inner_out[k].dtype])))
    nonseq_pos = spec.inner_input_slices()["nonseqs"].start
    slot_lines += [Assign(Local(f"inner_in[{nonseq_pos + k}]"), Buf(b))
                   for k, b in enumerate(nonseq_bufs)]
    if slot_lines:
        setup.append(CallStep(tuple(slot_lines), "the step's fixed inputs and output slots"))

    # the loop body: point the inputs at this step's rows, run the step, add accumulations
    body_code: list[Node] = []
    pos = 0
    for q, b in zip(spec.seqs, seq_bufs):
        for k in q.taps:
            row = _row_expr(u, k, q.offset, q.backwards, Dim(b, 0))
            body_code.append(Assign(Local(f"inner_in[{pos}]"), Call("scan_row", (Buf(b), row))))
            pos += 1
    for j, (q, st) in enumerate(zip(spec.states, stores)):
        for k in q.taps:
            row = u + (-k) if rev else u + (q.m + k)
            body_code.append(Assign(Local(f"inner_in[{pos}]"), Call("scan_row", (Buf(st), row))))
            pos += 1
        body_code.append(Assign(_slot(j, "row"), u if rev else u + q.m))
    body_code += [Assign(_slot(base + i, "row"), u) for i in range(spec.n_nitsot)]
    body_code += [
        KernelCall(function, (), (Local("inner_in"), Lit("nullptr"), Local("&scan_alloc"),
                                  Local("&ctx"), Local("inner_out"), Lit("nullptr"), Local("err")),
                   result=Local("const int rc")),
        Guard(Local("rc").ne(0), Cond(Local("ctx.failed").ge(0), Call("croton::fail_shape", (
            Local("err"), Int(shape_cid), Local("ctx.ndim"), Local("ctx.got"), Local("ctx.ndim"),
            Local("ctx.want"))), Local("rc")))]
    body: list = [CallStep(tuple(body_code), "one step",
                           glue_writes=tuple(stores + nitsots))]
    for acc, entries, v in zip(accums, spec.accums, accum_vars):
        for e in entries:
            k = acc_base + e.output
            row_t = inner_out[k].type
            temp = lw.new_buffer(row_t, "view", -1, "step value")
            target_t = TensorType(v.dtype, row_t.broadcastable if e.tap is not None
                                  else v.broadcastable)
            target = lw.new_buffer(target_t, "view", -1, "accumulated rows")
            where = Buf(acc) if e.tap is None else Call("scan_row", (
                Buf(acc), _row_expr(u, e.tap, e.offset, e.backwards, Dim(acc, 0))))
            nd = row_t.ndim
            body.append(CallStep((
                Assign(Buf(temp), _slot(k, "temp")), Assign(Buf(target), where),
                Guard(Not(Call("croton::same_shape", (Int(nd), ShapeOf(temp), ShapeOf(target)))),
                      Call("croton::fail_shape", (Local("err"), Int(shape_cid), Int(nd),
                                                  ShapeOf(temp), Int(nd), ShapeOf(target))))),
                "accumulate"))
            lw.emit_elementwise(target, target_t,
                                [Operand(target, CXX_TYPE[v.dtype], "x0", "i"),
                                 Operand(temp, CXX_TYPE[row_t.dtype], "x1", "i")],
                                ("result = x0 + x1;",), into=body)

    # finish: outputs of a loop that never ran, the final states
    finish_code: list[Node] = []
    count_done = Local("scan_count")
    for i, b in enumerate(nitsots):
        finish_code.append(KernelCall("scan_stack_if_empty", (), (
            Local("&ctx"), Local(f"slots[{base + i}]"), Buf(b), Local("err")), (), (b,),
            fails="rc"))
    for j, f in zip(spec.finals, finals):
        row = n - count_done if rev else Int(spec.states[j].m) + count_done - 1
        finish_code.append(Assign(Buf(f), Call("scan_row", (Buf(stores[j]), row))))
    finish = (CallStep(tuple(finish_code), "empty outputs, final states",
                       glue_writes=tuple(nitsots)),) if finish_code else ()
    count = n if spec.truncate < 0 else Call("std::min", (n, Int(spec.truncate)), ("int64_t",))
    lw.emit(ScanStep(label, tuple(declare), tuple(setup), count,
                     n - 1 - Local("t") if rev else Local("t"), tuple(body), finish,
                     tuple(stacked + stores + nitsots + accums + finals)))


@lowering("scan_rows")
def lower_scan_rows(lw: Lowerer, node: Apply) -> None:
    """Zeros shaped like input 0, with row ``i`` copied from input ``i + 1``."""
    like, rows = node.inputs[0], node.inputs[1:]
    out = node.outputs[0]
    label = node.op_label()
    lb = lw.buffer_of(like)
    ob = lw.result_buffer(out, label)
    lw.set_shape(ob, out_shapes(lw, node)[0])
    cid = lw.check(CheckInfo("shape", label, node.source, f"the initial value needs at least "
                                                          f"{len(rows)} rows"))
    lw.require(Dim(lb, 0).ge(len(rows)), cid, ShapeOf(lb), like.ndim)
    lw.emit_elementwise(ob, out.type, [], ("result = 0;",))
    row_t = TensorType(out.dtype, out.broadcastable[1:])
    ct = CXX_TYPE[out.dtype]
    for i, r in enumerate(rows):
        rb = lw.buffer_of(r)
        view = lw.new_buffer(row_t, "view", -1, f"row {i}")
        lw.set_shape(view, [Dim(ob, d + 1) for d in range(row_t.ndim)])
        code = [Assign(Member(view, "data"), Cast(f"{ct}*", Member(ob, "data"))
                       + Int(i) * Member(ob, "strides", Int(0)))]
        code += [Assign(Member(view, "strides", Int(d)), Member(ob, "strides", Int(d + 1)))
                 for d in range(row_t.ndim)]
        lw.emit(CallStep(tuple(code), f"row {i}"))
        cid = lw.check(CheckInfo("shape", label, node.source, f"row {i} has another shape"))
        same = all_of(Dim(rb, d).eq(Dim(view, d)) for d in range(row_t.ndim))
        lw.require(same, cid, ShapeOf(rb), row_t.ndim, ShapeOf(view), row_t.ndim)
        lw.emit_elementwise(view, row_t, [Operand(rb, CXX_TYPE[r.dtype], "x0", "i")],
                            ("result = x0;",))
