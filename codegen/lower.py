"""Lowering: an optimized ``Graph`` becomes a frozen ``FunctionPlan`` plus the table of checks
that lets errors name the op and the user's source line (kept out of the rendered source, so
the cache key does not depend on line numbers).

The ``Lowerer`` owns buffers, shape lines and the ordered steps; the kernel generator of each op
kind (``codegen/lowering/*.py``) appends its node's shape lines and kernel through it. Shapes
that depend only on the inputs' shapes are hoisted into the prologue (every check runs before any
kernel); shapes that depend on computed values (``Value(3)``, printed
``croton::value<...>(B3)``) stay in place.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.dvector('x')
    >>> low = lower(Graph.make([x], [T.exp(x)]))
    >>> [s.kind for s in low.plan.steps]
    ['elementwise']
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from croton.codegen.check_arguments import check_arguments
from croton.codegen.expr import Buf, Call, Dim, Node, ShapeOf, Value, all_of, as_node
from croton.codegen.finish_plan import (
    hoist_static_shapes,
    nothing_can_fail_after_inplace,
    with_commit_point,
    with_profiling,
)
from croton.codegen.memory_plan import assign_workspace
from croton.codegen.plan import (
    AllocStep,
    Buffer,
    ConstantData,
    ElementwiseStep,
    FunctionPlan,
    Operand,
    ShapeLine,
    UpdateTarget,
)
from croton.codegen.target import CPU, Target
from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable
from croton.shared import SharedVariable
from croton.types import CXX_TYPE, DTYPE_CODE, FLOAT_DTYPES, TensorType


@dataclass(frozen=True)
class CheckInfo:
    """What a failed run-time check means: which op, built where, and what it compared.

    ``kind`` is ``broadcast | dot | empty_reduce | shape | index``; ``index`` checks raise
    ``IndexError``, the others ``ValueError``.
    """

    kind: str
    op: str
    source: str
    detail: str
    arguments: str = ""  # the function's arguments whose lengths it compares (check_arguments)


@dataclass(frozen=True)
class Lowered:
    plan: FunctionPlan
    checks: tuple[CheckInfo, ...]
    shared: tuple[SharedVariable, ...]


def c_literal(value, dtype: str) -> str:
    """An exact C++ literal: ``c_literal(0.1, 'float64') == 'double(0x1.999999999999ap-4)'``."""
    ct = CXX_TYPE[dtype]
    if dtype == "bool":
        return "true" if value else "false"
    if dtype in FLOAT_DTYPES:
        v = float(np.dtype(dtype).type(value))
        if math.isnan(v):
            return f"std::numeric_limits<{ct}>::quiet_NaN()"
        if math.isinf(v):
            return f"{'-' if v < 0 else ''}std::numeric_limits<{ct}>::infinity()"
        return f"{ct}({v.hex()}{'f' if dtype == 'float32' else ''})"
    if dtype.startswith("complex"):
        part = "float32" if dtype == "complex64" else "float64"
        c = complex(value)
        return f"{ct}({c_literal(c.real, part)}, {c_literal(c.imag, part)})"
    v = int(value)
    if dtype == "int64" and v == -(2**63):
        return "(INT64_C(-9223372036854775807) - 1)"
    suffix = "ULL" if dtype.startswith("uint") else "LL"
    return f"static_cast<{ct}>({v}{suffix})"


def _arg(name: str, var: Variable) -> tuple[str, int, int, int]:
    mask = sum(1 << d for d, bc in enumerate(var.broadcastable) if bc)
    return (name, DTYPE_CODE[var.dtype], var.ndim, mask)


def shape_of(buf: int) -> ShapeOf:
    """Buffer ``buf``'s whole shape array: ``cpp(shape_of(3)) == 'B3.shape'``."""
    return ShapeOf(buf)


def value_of(buf: int, ctype: str = "int64_t") -> Value:
    """The first element of buffer ``buf`` (a computed scalar) read as ``ctype``."""
    return Value(buf, ctype)


def is_contiguous(buf: int) -> Call:
    return Call("croton::is_contiguous", (Buf(buf),))


ALWAYS = "always"  # ElementwiseStep.contiguous_check when every buffer is contiguous by design


class Lowerer:
    """Builds one ``FunctionPlan``; kernel generators call its methods.

    ``buffer_of(var)`` finds an operand's buffer, ``result_buffer(var, label)`` makes a node's
    output buffer, ``shape(line)`` adds a shape line or check, ``check(info)`` registers a check,
    ``emit(step)`` appends a kernel (allocating the buffers made since the last kernel first).
    """

    def __init__(self, graph: Graph, target: Target = CPU) -> None:
        self.graph = graph
        self.target = target  # a scan's step is lowered for its caller's target
        self.profile = False
        self.top_level = False  # the function itself (not a scan step): gets a commit point
        self.inplace_value = {id(graph.updates[k][1]): k for k in graph.inplace_updates}
        self.buffers: list[Buffer] = []
        self.var_buffer: dict[int, int] = {}
        self.constants: list[ConstantData] = []
        self.shape_arrays: list[tuple[str, int]] = []
        self.steps: list = []
        self.commits: list = []
        self.checks: list[CheckInfo] = []
        self.updates: list[UpdateTarget] = []
        self.headers: list[str] = []
        self.subfunctions: list = []  # SubFunction (scan steps), shared with nested lowerers
        self.pending_alloc: list[int] = []
        self.uses_complex = False  # an elementwise program computes in a complex type
        self.shared = tuple(graph.shared_variables())
        self.direct_output: dict[int, int] = {}  # var id -> output index written in place
        seen: set[int] = set()
        for i, v in enumerate(graph.outputs):
            if v.owner is not None and not v.owner.op.views \
                    and id(v) not in seen:
                self.direct_output[id(v)] = i
            seen.add(id(v))

    # --- buffers ------------------------------------------------------------------------------
    def new_buffer(self, ttype: TensorType, role: str, index: int, label: str,
                   inplace: bool = False) -> int:
        bid = len(self.buffers)
        self.buffers.append(Buffer(bid, ttype.dtype, CXX_TYPE[ttype.dtype],
                                   DTYPE_CODE[ttype.dtype], ttype.ndim, role, index, label,
                                   ttype.broadcastable, inplace,
                                   self.target.memory_spaces[0]))
        if role in ("scratch", "output"):
            self.pending_alloc.append(bid)
        return bid

    def buffer_of(self, var: Variable) -> int:
        if id(var) in self.var_buffer:
            return self.var_buffer[id(var)]
        if isinstance(var, Constant):
            label = " ".join(repr(var).split())  # one line: it ends up in a C++ comment
            bid = self.new_buffer(var.type, "constant", len(self.constants), label)
            flat = var.data.reshape(-1)
            values = tuple(c_literal(x, var.dtype) for x in flat) or (c_literal(0, var.dtype),)
            self.constants.append(ConstantData(bid, CXX_TYPE[var.dtype], var.data.shape, values))
        else:
            raise AssertionError(f"variable {var!r} used before it was computed")
        self.var_buffer[id(var)] = bid
        return bid

    def result_buffer(self, var: Variable, label: str) -> int:
        """A new buffer for ``var``: the function's output when ``var`` is one, the shared
        variable's storage when ``var`` is an update computed in place, else scratch."""
        if id(var) in self.inplace_value:
            k = self.inplace_value[id(var)]
            bid = self.new_buffer(var.type, "update", k, f"update{k} (in place)", inplace=True)
            self.pending_alloc.append(bid)
            self.var_buffer[id(var)] = bid
            return bid
        if id(var) in self.direct_output:
            bid = self.new_buffer(var.type, "output", self.direct_output[id(var)], label)
        else:
            bid = self.new_buffer(var.type, "scratch", -1, label)
        self.var_buffer[id(var)] = bid
        return bid

    def alias(self, var: Variable, ttype: TensorType, label: str) -> int:
        """A view buffer for ``var`` whose data and strides a kernel sets (no allocation)."""
        bid = self.new_buffer(ttype, "view", -1, label)
        self.var_buffer[id(var)] = bid
        return bid

    def always_contiguous(self, bid: int) -> bool:
        """Buffers croton allocates itself (scratch, outputs from the allocator, constants) are
        C-contiguous; inputs, shared storage, views and update targets may be strided."""
        return self.buffers[bid].role in ("scratch", "output", "constant")

    def pattern(self, bid: int) -> tuple[bool, ...]:
        return self.buffers[bid].broadcastable

    # --- shapes, checks, steps ----------------------------------------------------------------
    def check(self, info: CheckInfo) -> int:
        self.checks.append(info)
        return len(self.checks) - 1

    def shape(self, line: ShapeLine, into: list | None = None) -> None:
        (self.steps if into is None else into).append(line)

    def set_shape(self, buf: int, exprs: list, into: list | None = None) -> None:
        """``B<buf>.shape[d] = exprs[d]`` for every dimension (expressions, or ints)."""
        for d, e in enumerate(exprs):
            self.shape(ShapeLine(Dim(buf, d), as_node(e)), into)

    def require(self, cond: Node, check: int, a: Node | None = None, a_ndim: int = 0,
                b: Node | None = None, b_ndim: int = 0, into: list | None = None) -> None:
        """A run-time check: ``cond`` must hold, else check ``check`` fails printing the
        shapes ``a`` and ``b``."""
        self.shape(ShapeLine(None, cond, check, a, a_ndim, b, b_ndim), into)

    def emit(self, step, into: list | None = None) -> None:
        target = self.steps if into is None else into
        for bid in self.pending_alloc:
            b = self.buffers[bid]
            shared_index = -1
            if b.role == "update":
                shared_index = self.shared.index(self.graph.updates[b.index][0])
            target.append(AllocStep(bid, b.role, b.index, b.ndim, b.ctype, shared_index))
        self.pending_alloc = []
        target.append(step)

    def need_header(self, name: str) -> None:
        """Include ``runtime/cpu/<name>`` in this function's translation unit."""
        if name not in self.headers:
            self.headers.append(name)

    def emit_elementwise(self, out_buf: int, out_type: TensorType, operands: list[Operand],
                         body: tuple[str, ...], into: list | None = None,
                         extra_outputs: tuple = (), cost: int = 1) -> None:
        """One loop over ``out_buf``'s shape (and its ``ExtraOutput``s, of the same shape and
        broadcast pattern); the flat fast path needs every output and operand contiguous.
        ``cost`` is the work per element (in adds), which decides whether to thread."""
        nd = out_type.ndim
        operands = [dataclasses.replace(op, row_broadcast=bool(nd and self.pattern(op.buffer)[-1]))
                    for op in operands]
        contiguous = []
        partial = False
        for op in operands:
            bc = self.pattern(op.buffer)
            if all(bc) and nd:
                continue
            if tuple(bc) != tuple(out_type.broadcastable):
                partial = True
            contiguous.append(is_contiguous(op.buffer))
        outs = [out_buf] + [e.buffer for e in extra_outputs]
        checks = [is_contiguous(b) for b in outs] + contiguous
        check = "" if partial or nd == 0 else all_of(checks)
        if check and all(self.always_contiguous(b) for b in outs) and all(
                self.always_contiguous(op.buffer) or (all(self.pattern(op.buffer)) and nd)
                for op in operands):
            check = ALWAYS  # no strided loop nest to compile (most kernels of a function)
        step = ElementwiseStep(out_buf, CXX_TYPE[out_type.dtype], nd, tuple(operands), body, check,
                               tuple(extra_outputs), cost, self.target.loop_policy())
        self.emit(step, into)

    def copy_into(self, src: int, dst: int, ttype: TensorType, into: list | None = None,
                  shape: list | None = None) -> None:
        """``dst`` = a copy of ``src``; its shape is ``src``'s, or ``shape`` (a node's output
        shape from its shape fact, equal to ``src``'s)."""
        self.set_shape(dst, [Dim(src, d) for d in range(ttype.ndim)] if shape is None else shape,
                       into)
        operand = Operand(src, self.buffers[src].ctype, "x0", "0" if all(
            self.pattern(src)) and ttype.ndim else "i")
        self.emit_elementwise(dst, ttype, [operand], ("result = x0;",), into=into)

    # --- the whole function -------------------------------------------------------------------
    def lower_node(self, node: Apply) -> None:
        from croton.codegen.lowering import generator_for

        generator_for(node.op.kind, self.target)(self, node)

    def run(self) -> Lowered:
        g = self.graph
        for k, v in enumerate(g.inputs):
            self.var_buffer[id(v)] = self.new_buffer(v.type, "input", k, v.name or f"input{k}")
        for k, v in enumerate(self.shared):
            self.var_buffer[id(v)] = self.new_buffer(v.type, "shared", k, v.name or f"shared{k}")
        from croton.codegen.lowering.control import top_level_nodes

        for node in top_level_nodes(self):  # nodes only a branch needs are lowered inside it
            self.lower_node(node)
        outputs = []
        for i, v in enumerate(g.outputs):
            bid = self.buffer_of(v)
            if self.buffers[bid].role == "output" and self.buffers[bid].index == i:
                outputs.append(bid)
                continue
            ob = self.new_buffer(v.type, "output", i, f"output{i}")
            self.copy_into(bid, ob, v.type)
            outputs.append(ob)
        for k, (s, v) in enumerate(g.updates):
            src = self.buffer_of(v)
            if k in g.inplace_updates:
                self.updates.append(UpdateTarget(k, src, self.shared.index(s), s.ndim))
                continue
            if self.buffers[src].role not in ("scratch", "output"):
                tmp = self.new_buffer(v.type, "scratch", -1, f"update{k}_value")
                self.copy_into(src, tmp, v.type)
                src = tmp
            ub = self.new_buffer(s.type, "update", k, f"update{k}")
            self.pending_alloc.append(ub)
            self.copy_into(src, ub, s.type, into=self.commits)
            self.updates.append(UpdateTarget(k, ub, self.shared.index(s), s.ndim))
        dynamic: set = set()
        prologue, steps = hoist_static_shapes(self.steps, dynamic)
        commit_prologue, commits = hoist_static_shapes(self.commits, dynamic)
        plan = FunctionPlan(
            buffers=tuple(self.buffers), constants=tuple(self.constants),
            shape_arrays=tuple(self.shape_arrays),
            shape_lines=tuple(prologue + commit_prologue),
            outputs=tuple(outputs), updates=tuple(self.updates),
            steps=tuple(steps), commits=tuple(commits),
            n_inputs=len(g.inputs), n_shared=len(self.shared),
            input_args=tuple(_arg(v.name or f"input{k}", v) for k, v in enumerate(g.inputs)),
            shared_args=tuple(_arg(v.name or f"shared{k}", v) for k, v in enumerate(self.shared)),
            output_args=tuple(_arg(f"output{k}", v) for k, v in enumerate(g.outputs)),
            uses_complex=self.uses_complex or any(b.dtype.startswith("complex")
                                                  for b in self.buffers)
            or any(f.plan.uses_complex for f in self.subfunctions),
            headers=tuple(self.headers),
            subfunctions=tuple(self.subfunctions),
            checks=tuple((c.kind, c.op, c.detail, c.arguments) for c in self.checks),
            target=self.target,
        )
        if g.inplace_updates and not nothing_can_fail_after_inplace(plan):
            return Lowerer(dataclasses.replace(g, inplace_updates=()), self.target).run_with(
                self.profile, self.top_level)
        if self.top_level:  # name the arguments each shape check compares
            for cid, arguments in check_arguments(plan).items():
                self.checks[cid] = dataclasses.replace(self.checks[cid], arguments=arguments)
            plan = dataclasses.replace(plan, checks=tuple(
                (c.kind, c.op, c.detail, c.arguments) for c in self.checks))
        if g.reuse_memory:
            plan = assign_workspace(plan)
        if self.top_level:
            plan = with_commit_point(plan)
        if self.profile:
            plan = with_profiling(plan)
        return Lowered(plan, tuple(self.checks), self.shared)

    def run_with(self, profile: bool, top_level: bool = False) -> Lowered:
        self.profile = profile
        self.top_level = top_level
        return self.run()


def lower(graph: Graph, profile: bool = False, target: Target = CPU) -> Lowered:
    """Turn an optimized graph into the plan the templates print (with timing slots around
    every kernel when ``profile``), for ``target`` (``codegen/target.py``), which the plan
    records."""
    lowerer = Lowerer(graph, target)
    lowerer.profile = profile
    lowerer.top_level = True
    return lowerer.run()
