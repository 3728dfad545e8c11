"""Lowering: an optimized ``Graph`` becomes a frozen ``FunctionPlan`` plus the table of checks
that lets errors name the op and the user's source line (kept out of the rendered source, so
the cache key does not depend on line numbers).

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.dvector('x')
    >>> low = lower(Graph.make([x], [T.exp(x)]))
    >>> [type(s).__name__ for s in low.plan.steps]
    ['ElementwiseStep']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from croton.codegen.plan import (
    Buffer,
    ConstantData,
    DotStep,
    ElementwiseStep,
    FunctionPlan,
    Operand,
    ReduceStep,
    ShapeLine,
    ShapeValueStep,
    UpdateTarget,
    ViewStep,
)
from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable
from croton.ops.table import OPS
from croton.shared import SharedVariable
from croton.types import CXX_TYPE, DTYPE_CODE, FLOAT_DTYPES, TensorType


@dataclass(frozen=True)
class CheckInfo:
    """What a failed run-time check means: which op, built where, and what it compared."""

    kind: str  # broadcast | dot | empty_reduce
    op: str
    source: str
    detail: str


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
        v = float(np.float32(value)) if dtype == "float32" else float(value)
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


def _shape_of(buf: int) -> str:
    return f"B{buf}.shape"


class _Lowerer:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.buffers: list[Buffer] = []
        self.var_buffer: dict[int, int] = {}
        self.constants: list[ConstantData] = []
        self.shape_arrays: list[tuple[str, int]] = []
        self.shape_lines: list[ShapeLine] = []
        self.steps: list = []
        self.commits: list[ElementwiseStep] = []
        self.checks: list[CheckInfo] = []
        self.output_buffers: list[int] = []
        self.updates: list[UpdateTarget] = []
        self.scratch: list[int] = []
        self.shared = tuple(graph.shared_variables())
        self.direct_output: dict[int, int] = {}  # var id -> output index written in place
        seen: set[int] = set()
        for i, v in enumerate(graph.outputs):
            if v.owner is not None and v.owner.op.kind not in ("dimshuffle",) \
                    and id(v) not in seen:
                self.direct_output[id(v)] = i
            seen.add(id(v))

    # --- buffers ------------------------------------------------------------------------------
    def new_buffer(self, ttype: TensorType, role: str, index: int, label: str) -> int:
        bid = len(self.buffers)
        self.buffers.append(Buffer(bid, ttype.dtype, CXX_TYPE[ttype.dtype],
                                   DTYPE_CODE[ttype.dtype], ttype.ndim, role, index, label,
                                   ttype.broadcastable))
        if role == "scratch":
            self.scratch.append(bid)
        return bid

    def buffer_of(self, var: Variable) -> int:
        if id(var) in self.var_buffer:
            return self.var_buffer[id(var)]
        if isinstance(var, Constant):
            bid = self.new_buffer(var.type, "constant", len(self.constants), repr(var))
            flat = var.data.reshape(-1)
            values = tuple(c_literal(x, var.dtype) for x in flat) or (c_literal(0, var.dtype),)
            self.constants.append(ConstantData(bid, CXX_TYPE[var.dtype], var.data.shape, values))
        else:
            raise AssertionError(f"variable {var!r} used before it was computed")
        self.var_buffer[id(var)] = bid
        return bid

    def result_buffer(self, var: Variable, label: str) -> int:
        if id(var) in self.direct_output:
            index = self.direct_output[id(var)]
            bid = self.new_buffer(var.type, "output", index, label)
        else:
            bid = self.new_buffer(var.type, "scratch", -1, label)
        self.var_buffer[id(var)] = bid
        return bid

    def check(self, info: CheckInfo) -> int:
        self.checks.append(info)
        return len(self.checks) - 1

    # --- elementwise programs -----------------------------------------------------------------
    def lower_elementwise(self, node: Apply, leaves: list[Variable], program) -> None:
        out_var = node.outputs[0]
        nd = out_var.ndim
        operands: list[Operand] = []
        leaf_expr: list[str] = []
        leaf_shape: list[str | None] = []  # None: a size-1 literal
        leaf_type: list[TensorType] = []
        for leaf in leaves:
            leaf_type.append(leaf.type)
            if isinstance(leaf, Constant) and leaf.data.size == 1:
                leaf_expr.append(c_literal(leaf.data.reshape(()).item(), leaf.dtype))
                leaf_shape.append(None)
                continue
            bid = self.buffer_of(leaf)
            name = f"x{len(operands)}"
            flat = "0" if all(leaf.broadcastable) and nd else "i"
            operands.append(Operand(bid, CXX_TYPE[leaf.dtype], name, flat))
            leaf_expr.append(name)
            leaf_shape.append(_shape_of(bid))
        out_buf = self.result_buffer(out_var, node.op_label())
        step_expr: list[str] = []
        step_shape: list[str] = []
        step_type: list[TensorType] = []
        body: list[str] = []
        for j, (op_name, params, args, source) in enumerate(program):
            rec = OPS[op_name]
            arg_types = [leaf_type[k] if kind == "in" else step_type[k] for kind, k in args]
            (out_t,) = rec.type_rule(arg_types, dict(params))
            if j == len(program) - 1:
                out_t = out_var.type
            compute = rec.compute_dtype([t.dtype for t in arg_types]) if rec.compute_dtype \
                else out_t.dtype
            cty = CXX_TYPE[compute]
            exprs = [leaf_expr[k] if kind == "in" else step_expr[k] for kind, k in args]
            cexpr = rec.cpp.format(*[f"static_cast<{cty}>({e})" for e in exprs],
                                   T=CXX_TYPE[out_t.dtype])
            tname = f"v{j}"
            body.append(f"[[maybe_unused]] const {CXX_TYPE[out_t.dtype]} {tname} = "
                        f"static_cast<{CXX_TYPE[out_t.dtype]}>({cexpr});")
            step_expr.append(tname)
            step_type.append(out_t)
            # shapes: the step's dims follow its non-broadcastable operands, which must agree
            if j == len(program) - 1:
                target = _shape_of(out_buf)
            else:
                target = f"F{out_buf}_{j}"
                self.shape_arrays.append((target, nd))
            step_shape.append(target)
            arg_shapes = [(leaf_shape[k] if kind == "in" else step_shape[k],
                           arg_types[n]) for n, (kind, k) in enumerate(args)]
            label = OPS[op_name].label(params)
            for d in range(nd):
                full = [s for s, t in arg_shapes if s is not None and not t.broadcastable[d]]
                if not full:
                    self.shape_lines.append(ShapeLine(f"{target}[{d}]", "1"))
                    continue
                self.shape_lines.append(ShapeLine(f"{target}[{d}]", f"{full[0]}[{d}]"))
                for other in full[1:]:
                    cid = self.check(CheckInfo("broadcast", label, source, f"dimension {d}"))
                    self.shape_lines.append(ShapeLine(
                        "", f"{other}[{d}] == {target}[{d}]", cid, full[0], nd, other, nd))
        body.append(f"result = {step_expr[-1]};")
        self.emit_elementwise(out_buf, out_var.type, operands, tuple(body))

    def emit_elementwise(self, out_buf: int, out_type: TensorType, operands: list[Operand],
                         body: tuple[str, ...], into: list | None = None) -> None:
        nd = out_type.ndim
        contiguous = []
        partial = False
        for op in operands:
            bc = self._pattern(op.buffer)
            if all(bc) and nd:
                continue
            if tuple(bc) != tuple(out_type.broadcastable):
                partial = True
            contiguous.append(f"croton::is_contiguous(B{op.buffer})")
        checks = [f"croton::is_contiguous(B{out_buf})"] + contiguous
        check = "" if partial or nd == 0 else " && ".join(checks)
        step = ElementwiseStep(out_buf, CXX_TYPE[out_type.dtype], nd, tuple(operands), body, check)
        (self.steps if into is None else into).append(step)

    def _pattern(self, bid: int) -> tuple[bool, ...]:
        return self.buffers[bid].broadcastable

    # --- structured kernels -------------------------------------------------------------------
    def lower_reduce(self, node: Apply) -> None:
        (x,) = node.inputs
        out = node.outputs[0]
        axes = dict(node.params)["axis"]
        ib = self.buffer_of(x)
        ob = self.result_buffer(out, node.op_label())
        kept = tuple(d for d in range(x.ndim) if d not in axes)
        for k, d in enumerate(kept):
            self.shape_lines.append(ShapeLine(f"{_shape_of(ob)}[{k}]", f"{_shape_of(ib)}[{d}]"))
        combine_name = node.op.cpp
        in_ct, out_ct = CXX_TYPE[x.dtype], CXX_TYPE[out.dtype]
        if combine_name in ("add", "mul"):
            acc = "double" if out.dtype in FLOAT_DTYPES else out_ct
            identity = "0" if combine_name == "add" else "1"
            combine = "acc + v" if combine_name == "add" else "acc * v"
        else:
            acc = in_ct
            if axes:
                n = " * ".join(f"{_shape_of(ib)}[{d}]" for d in axes)
                cid = self.check(CheckInfo("empty_reduce", node.op_label(), node.source,
                                           "zero-size array to a reduction with no identity"))
                self.shape_lines.append(ShapeLine("", f"({n}) > 0", cid, _shape_of(ib), x.ndim))
            lim = "lowest" if combine_name == "max" else "max"
            if x.dtype in FLOAT_DTYPES:
                lim = "infinity"
            sign = "-" if combine_name == "max" and x.dtype in FLOAT_DTYPES else ""
            identity = f"{sign}std::numeric_limits<{in_ct}>::{lim}()"
            if x.dtype == "bool":
                identity = "false" if combine_name == "max" else "true"
            combine = f"croton::{'maximum' if combine_name == 'max' else 'minimum'}(acc, v)"
        self.steps.append(ReduceStep(ib, ob, in_ct, out_ct, acc, x.ndim, kept, axes,
                                     f"static_cast<{acc}>({identity})", combine))

    def lower_dot(self, node: Apply) -> None:
        a, b = node.inputs
        out = node.outputs[0]
        ab, bb = self.buffer_of(a), self.buffer_of(b)
        ob = self.result_buffer(out, "dot")
        inner_a = f"{_shape_of(ab)}[{a.ndim - 1}]"
        inner_b = f"{_shape_of(bb)}[0]"
        cid = self.check(CheckInfo("dot", "dot", node.source, "inner dimensions"))
        self.shape_lines.append(ShapeLine("", f"{inner_a} == {inner_b}", cid,
                                          _shape_of(ab), a.ndim, _shape_of(bb), b.ndim))
        dims = ([f"{_shape_of(ab)}[0]"] if a.ndim == 2 else []) + \
               ([f"{_shape_of(bb)}[1]"] if b.ndim == 2 else [])
        for k, e in enumerate(dims):
            self.shape_lines.append(ShapeLine(f"{_shape_of(ob)}[{k}]", e))
        self.steps.append(DotStep(ab, bb, ob, CXX_TYPE[out.dtype], a.ndim, b.ndim))

    def lower_dimshuffle(self, node: Apply) -> None:
        (x,) = node.inputs
        out = node.outputs[0]
        src = self.buffer_of(x)
        dst = self.new_buffer(out.type, "view", -1, node.op_label())
        self.var_buffer[id(out)] = dst
        order = tuple(-1 if d == "x" else d for d in dict(node.params)["order"])
        for k, d in enumerate(order):
            self.shape_lines.append(ShapeLine(f"{_shape_of(dst)}[{k}]",
                                              "1" if d < 0 else f"{_shape_of(src)}[{d}]"))
        self.steps.append(ViewStep(src, dst, order))

    def lower_shape_i(self, node: Apply) -> None:
        (x,) = node.inputs
        src = self.buffer_of(x)
        ob = self.result_buffer(node.outputs[0], node.op_label())
        self.steps.append(ShapeValueStep(ob, f"{_shape_of(src)}[{dict(node.params)['i']}]"))

    # --- the whole function -------------------------------------------------------------------
    def copy_into(self, src: int, dst: int, ttype: TensorType, into: list | None = None) -> None:
        for d in range(ttype.ndim):
            self.shape_lines.append(ShapeLine(f"{_shape_of(dst)}[{d}]", f"{_shape_of(src)}[{d}]"))
        operand = Operand(src, self.buffers[src].ctype, "x0", "0" if all(
            self._pattern(src)) and ttype.ndim else "i")
        self.emit_elementwise(dst, ttype, [operand], ("result = x0;",), into=into)

    def run(self) -> Lowered:
        g = self.graph
        for k, v in enumerate(g.inputs):
            self.var_buffer[id(v)] = self.new_buffer(v.type, "input", k, v.name or f"input{k}")
        for k, v in enumerate(self.shared):
            self.var_buffer[id(v)] = self.new_buffer(v.type, "shared", k, v.name or f"shared{k}")
        for node in g.nodes():
            kind = node.op.kind
            if kind == "elemwise":
                self.lower_elementwise(node, list(node.inputs),
                                       ((node.op.name, node.params,
                                         tuple(("in", k) for k in range(len(node.inputs))),
                                         node.source),))
            elif kind == "fused":
                self.lower_elementwise(node, list(node.inputs), dict(node.params)["program"])
            elif kind == "reduce":
                self.lower_reduce(node)
            elif kind == "dot":
                self.lower_dot(node)
            elif kind == "dimshuffle":
                self.lower_dimshuffle(node)
            elif kind == "shape_i":
                self.lower_shape_i(node)
            else:
                raise NotImplementedError(f"no kernel generator for op kind {kind!r}")
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
            if self.buffers[src].role not in ("scratch", "output"):
                tmp = self.new_buffer(v.type, "scratch", -1, f"update{k}_value")
                self.copy_into(src, tmp, v.type)
                src = tmp
            ub = self.new_buffer(s.type, "update", k, f"update{k}")
            self.copy_into(src, ub, s.type, into=self.commits)
            self.updates.append(UpdateTarget(k, ub, self.shared.index(s), s.ndim))
        plan = FunctionPlan(
            buffers=tuple(self.buffers), constants=tuple(self.constants),
            shape_arrays=tuple(self.shape_arrays), shape_lines=tuple(self.shape_lines),
            outputs=tuple(outputs), updates=tuple(self.updates), scratch=tuple(self.scratch),
            steps=tuple(self.steps), commits=tuple(self.commits),
            n_inputs=len(g.inputs), n_shared=len(self.shared),
            input_args=tuple(_arg(v.name or f"input{k}", v) for k, v in enumerate(g.inputs)),
            shared_args=tuple(_arg(v.name or f"shared{k}", v) for k, v in enumerate(self.shared)),
            output_args=tuple(_arg(f"output{k}", v) for k, v in enumerate(g.outputs)),
            uses_complex=any(b.dtype.startswith("complex") for b in self.buffers),
        )
        return Lowered(plan, tuple(self.checks), self.shared)


def lower(graph: Graph) -> Lowered:
    """Turn an optimized graph into the plan the templates print."""
    return _Lowerer(graph).run()
