"""Which of the function's arguments a run-time shape check compares: the inputs and shared
variables whose dimensions its condition reads, traced back through the plan's shape lines (a
scratch buffer's dimension is the expression of input dimensions that set it).

A failed check then names them (``croton_check.arguments``, and Python's ``CheckInfo``):
"... differ at dimension 0 ... (the lengths come from input 0 ('x') and shared variable 0
('W'))", in the Python callable and in an exported library alike. Argument names are part of
the graph, so they may be in the rendered source (and the cache key); the user's source lines
are not.

Example::

    >>> import numpy as np, croton, croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> x = T.dvector('x')
    >>> W = croton.shared(np.zeros(2), 'W')
    >>> low = lower(Graph.make([x], [x * W]))
    >>> [c.arguments for c in low.checks]
    ["input 0 ('x') and shared variable 0 ('W')"]
"""

from __future__ import annotations

from croton.codegen.expr import (
    ArrayRef,
    Assign,
    Buf,
    BufferRef,
    Call,
    Dim,
    Guard,
    Int,
    KernelCall,
    Local,
    Node,
    Slot,
)
from croton.codegen.plan import FunctionPlan, ShapeLine

__all__ = ["check_arguments"]

_ROLE = {"input": "input", "shared": "shared variable"}


class _Origins:
    """The arguments' dimensions, ``(role, index, d)``, that each buffer dimension and shape
    array entry of one plan comes from."""

    def __init__(self, plan: FunctionPlan, checks: dict[int, frozenset],
                 inputs: dict[tuple, frozenset] | None = None) -> None:
        self.plan = plan
        self.dims: dict[tuple, frozenset] = {}
        self.checks = checks  # by check index: one table for a function and its scan steps
        self.inputs = inputs  # a scan step's: what its inputs' dimensions come from outside

    def of_dim(self, buf: int, d: int) -> frozenset:
        b = self.plan.buffers[buf]
        if b.role in _ROLE:
            if self.inputs is not None:
                return self.inputs.get((b.role, b.index, d), frozenset())
            return frozenset({(b.role, b.index, d)})
        return self.dims.get(("dim", buf, d), frozenset())

    def of_buffer(self, buf: int) -> frozenset:
        out: frozenset = frozenset()
        for d in range(self.plan.buffers[buf].ndim):
            out |= self.of_dim(buf, d)
        b = self.plan.buffers[buf]
        if not out and b.role in _ROLE:  # a 0-d argument's value
            if self.inputs is not None:
                return self.inputs.get((b.role, b.index, -1), frozenset())
            out = frozenset({(b.role, b.index, -1)})
        return out

    def of(self, node: Node | None) -> frozenset:
        """The argument dimensions an expression reads (a buffer's value counts as all of its
        dimensions, an argument's value as the argument)."""
        if node is None:
            return frozenset()
        out: frozenset = frozenset()
        for n in node.walk():
            if isinstance(n, Dim):
                out |= self.of_dim(n.buf, n.d)
            elif isinstance(n, BufferRef):
                out |= self.of_buffer(n.buf)
            elif isinstance(n, Slot):
                out |= self.dims.get(("slot", n.array, n.d), frozenset())
            elif isinstance(n, ArrayRef):
                out |= frozenset().union(*(v for k, v in self.dims.items()
                                           if k[0] == "slot" and k[1] == n.array))
        return out

    def set(self, target: Node, value: frozenset) -> None:
        if isinstance(target, Dim):
            self.dims[("dim", target.buf, target.d)] = value
        elif isinstance(target, Slot):
            self.dims[("slot", target.array, target.d)] = value

    def failed(self, cid: int, value: frozenset) -> None:
        self.checks[cid] = self.checks.get(cid, frozenset()) | value

    def view(self, view: int, of: int) -> None:
        """Buffer ``view``'s dimensions are ``of``'s (the same rank), or come from all of
        them."""
        same = self.plan.buffers[view].ndim == self.plan.buffers[of].ndim
        for d in range(self.plan.buffers[view].ndim):
            self.dims[("dim", view, d)] = self.of_dim(of, d) if same else self.of_buffer(of)

    def local(self, name: str, value: Node) -> None:
        """A local of the glue (a scan step's input ``inner_in[k]``): a buffer, or one row of
        one (``scan_row``: its dimensions are the buffer's after the first)."""
        if isinstance(value, Buf):
            buf, skip = value.buf, 0
        elif isinstance(value, Call) and value.fn == "scan_row" and value.args \
                and isinstance(value.args[0], Buf):
            buf, skip = value.args[0].buf, 1
        else:
            return
        for d in range(self.plan.buffers[buf].ndim - skip):
            self.dims[("local", name, d)] = self.of_dim(buf, d + skip)
        self.dims[("local", name, -1)] = self.of_buffer(buf)  # its value (a 0-d input's)

    def walk(self, steps) -> None:
        for s in steps:
            if isinstance(s, ShapeLine):
                if s.check >= 0:
                    self.failed(s.check, self.of(s.expr) or self.of(s.a) | self.of(s.b))
                elif s.target is not None:
                    self.set(s.target, self.of(s.expr))
            elif isinstance(s, Node):
                self.statement(s)
            elif isinstance(s, tuple):
                self.walk(s)
            elif hasattr(s, "__dataclass_fields__"):
                # a kernel step, or a branch / loop holding steps: its glue statements
                # (``code``, ``declare``) and nested step lists, in order
                self.walk(getattr(s, f) for f in s.__dataclass_fields__
                          if isinstance(getattr(s, f), tuple | Node))

    def statement(self, node: Node) -> None:
        if isinstance(node, Assign) and isinstance(node.target, Local):
            self.local(node.target.name, node.value)
        elif isinstance(node, Assign):
            self.set(node.target, self.of(node.value))
        elif isinstance(node, KernelCall):
            sub = next((f for f in self.plan.subfunctions if f.name == node.fn), None)
            if sub is not None:  # a scan's step: its inputs are the locals inner_in[k]
                inputs = {("input", k, d): self.dims.get(("local", f"inner_in[{k}]", d),
                                                         frozenset())
                          for k, arg in enumerate(sub.plan.input_args)
                          for d in range(-1, arg[2])}
                _Origins(sub.plan, self.checks, inputs).walk(
                    (sub.plan.shape_lines, sub.plan.steps, sub.plan.commits))
            elif isinstance(node.result, Buf) and node.args and isinstance(node.args[0], Buf):
                self.view(node.result.buf, node.args[0].buf)  # rows or a slice of args[0]
        elif isinstance(node, Guard):
            for n in node.value.walk():  # croton::fail_*(err, Int(check), shapes...)
                if isinstance(n, Call) and len(n.args) > 1 and n.args[0] == Local("err") \
                        and isinstance(n.args[1], Int):
                    self.failed(n.args[1].value, self.of(node.cond))


def _phrase(plan: FunctionPlan, origins: frozenset) -> str:
    """``"input 0 ('x') and shared variable 0 ('W')"``: inputs first, in order."""
    names = []
    args = {"input": plan.input_args, "shared": plan.shared_args}
    for role, index in sorted({(r, i) for r, i, _d in origins}, key=lambda a: (a[0] != "input",
                                                                              a[1])):
        if index < len(args[role]):  # always, for the top-level plan's own arguments
            names.append(f"{_ROLE[role]} {index} ('{args[role][index][0]}')")
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_arguments(plan: FunctionPlan) -> dict[int, str]:
    """For each shape check of ``plan`` (by check index) whose compared lengths come from the
    function's arguments: those arguments, as a phrase (see the module's example)."""
    checks: dict[int, frozenset] = {}
    _Origins(plan, checks).walk((plan.shape_lines, plan.steps, plan.commits))
    return {cid: _phrase(plan, o) for cid, o in checks.items() if o}
