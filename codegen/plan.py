"""The frozen plan of one compiled function: buffers, the shape phase, the ordered steps.

Everything the templates print is decided here (in ``codegen/lower.py``): C types, expressions,
loop structure, which buffers are outputs or update targets. Templates only loop over it.

Example::

    >>> from croton.codegen.plan import Buffer
    >>> Buffer(0, "float32", "float", 9, 1, "input", 0, "x", (False,)).ndim
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from croton.codegen.expr import BufferRef, KernelCall, Node
from croton.codegen.target import CPU, ParallelPolicy, Target


@dataclass(frozen=True)
class Buffer:
    id: int
    dtype: str
    ctype: str
    dtype_code: int
    ndim: int
    role: str  # input | shared | constant | scratch | view | output | update
    index: int  # position among inputs / shared / constants / outputs / updates
    label: str
    broadcastable: tuple[bool, ...] = ()
    inplace: bool = False  # an update computed into the shared variable's own storage
    space: str = "host"  # the memory space its data lives in (one of its target's spaces)


@dataclass(frozen=True)
class ConstantData:
    buffer: int
    ctype: str
    shape: tuple[int, ...]
    values: tuple[str, ...]  # C++ literals


@dataclass(frozen=True)
class ShapeLine:
    """``target = expr;`` (``target`` a ``Dim`` or a shape array's ``Slot``) or, with ``check``
    set (and no target), ``if (!(expr)) fail(check, a, b)``, where ``a`` and ``b`` are the
    shapes the error prints (``ShapeOf`` / ``ArrayRef`` of ``a_ndim`` / ``b_ndim`` entries)."""

    target: Node | None
    expr: Node
    check: int = -1
    a: Node | None = None
    a_ndim: int = 0
    b: Node | None = None
    b_ndim: int = 0
    kind: str = "shape"

    @property
    def can_fail(self) -> bool:
        """A check can fail; an assignment cannot."""
        return self.check >= 0


@dataclass(frozen=True)
class AllocStep:
    """Give buffer ``buffer`` memory for its (already computed) shape: scratch from the call's
    arena, an output or a changed-shape update from the caller's allocator."""

    buffer: int
    role: str  # scratch | output | update
    index: int  # output or update index
    ndim: int
    ctype: str
    shared_index: int = -1  # update: the shared variable it replaces
    kind: str = "alloc"
    can_fail: ClassVar[bool] = True  # out of memory, or a size that overflows


@dataclass(frozen=True)
class WorkspaceSlot:
    """One slot of the function's kept workspace and the scratch buffers that share it (their
    lifetimes do not overlap): ``members`` are ``(buffer, ndim, ctype)``."""

    index: int
    members: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class WorkspaceStep:
    """Size each slot for this call's shapes (the largest member), then point every member at
    its slot's memory; ends the prologue, so a failed allocation happens before any kernel."""

    slots: tuple[WorkspaceSlot, ...]
    kind: str = "workspace"
    can_fail: ClassVar[bool] = True  # the workspace's memory may not be there


@dataclass(frozen=True)
class CallStep:
    """A structured kernel: statements (``codegen/expr.py``: ``KernelCall`` into
    ``runtime/cpu/kernels``, ``Assign``, ``Declare``, ``Guard``) printed at render time."""

    code: tuple[Node, ...]
    comment: str
    kind: str = "call"
    glue_reads: tuple[int, ...] = ()  # buffers read / written by its glue (assignments, guards)
    glue_writes: tuple[int, ...] = ()

    @property
    def writes(self) -> frozenset[int]:
        """The buffers whose contents (a kernel's outputs) or struct (a view) it sets."""
        out: set[int] = set(self.glue_writes)
        for st in self.code:
            target = st.result if isinstance(st, KernelCall) else getattr(st, "target", None)
            if isinstance(target, BufferRef):
                out.add(target.buf)
            if isinstance(st, KernelCall):
                out.update(st.writes)
        return frozenset(out)

    @property
    def reads(self) -> frozenset[int]:
        return frozenset(self.glue_reads) | frozenset(
            b for st in self.code if isinstance(st, KernelCall) for b in st.reads)

    @property
    def can_fail(self) -> bool:
        """True when one of its statements may return an error (a checked return code)."""
        return any(getattr(st, "can_fail", False) for st in self.code)


@dataclass(frozen=True)
class Operand:
    buffer: int
    ctype: str
    load: str  # name of the loaded value in the loop body
    flat_index: str  # index in the contiguous fast path: "i", or "0" for a broadcast scalar
    row_broadcast: bool = False  # broadcast along the last axis (a column, a channel vector)


@dataclass(frozen=True)
class ExtraOutput:
    """A further output of an elementwise loop: ``value`` (a C++ name the body defines) is
    written to buffer ``buffer``, which has the loop's shape."""

    buffer: int
    ctype: str
    value: str


@dataclass(frozen=True)
class ElementwiseStep:
    """One loop over ``out``'s shape; each element's ``result`` goes to ``out``, and each extra
    output's value to its own buffer (a multi-output ``fused`` node)."""

    out: int
    out_ctype: str
    ndim: int
    operands: tuple[Operand, ...]
    body: tuple[str, ...]  # statements; the last assigns `result`
    contiguous_check: Node | str  # condition for the flat fast path ("" never, "always")
    extra_outputs: tuple[ExtraOutput, ...] = ()
    cost: int = 1  # work per element in adds (OpRecord.cost summed): decides threading
    # whether and how the loop may be shared by threads (the target's ``loop_policy()``): None
    # runs it on the calling thread; else croton::parallel_for threads it when elements x cost
    # exceeds the policy's ``min_work``
    parallel: ParallelPolicy | None = ParallelPolicy()
    kind: str = "elementwise"
    can_fail: ClassVar[bool] = False  # no run-time check: it cannot stop a call midway


@dataclass(frozen=True)
class DotStep:
    a: int
    b: int
    out: int
    ctype: str
    a_ndim: int
    b_ndim: int
    kind: str = "dot"
    can_fail: ClassVar[bool] = False  # no run-time check: it cannot stop a call midway


@dataclass(frozen=True)
class ViewStep:
    src: int
    dst: int
    order: tuple[int, ...]  # -1 marks an added broadcastable dim
    kind: str = "view"
    can_fail: ClassVar[bool] = False  # no run-time check: it cannot stop a call midway


@dataclass(frozen=True)
class ShapeValueStep:
    out: int
    shape_expr: Node
    kind: str = "shape_value"
    can_fail: ClassVar[bool] = False  # no run-time check: it cannot stop a call midway


@dataclass(frozen=True)
class UpdateTarget:
    index: int
    buffer: int
    shared_index: int
    ndim: int


@dataclass(frozen=True)
class BranchStep:
    """``if (cond) { then_steps } else { else_steps }``: the steps only one branch needs (their
    shape lines and allocations included, so the untaken branch costs nothing)."""

    cond: int  # buffer holding the scalar condition
    cond_ctype: str
    then_steps: tuple
    else_steps: tuple
    defines: tuple[int, ...]  # buffers whose shapes the branch sets (never hoisted past it)
    kind: str = "branch"
    can_fail: ClassVar[bool] = True  # its steps' checks (and a scan's own)


@dataclass(frozen=True)
class ScanStep:
    """A loop: ``declare`` (statements in the loop's scope: ``n``, the step's input and output
    slots), ``setup``, then for ``t`` in ``[0, count)`` with position ``u = position``, the
    ``each_step`` steps (which call the inner function, a ``SubFunction``), then ``finish``."""

    comment: str
    declare: tuple[Node, ...]
    setup: tuple
    count: Node  # the number of steps run
    position: Node  # of `t`: the step's position
    each_step: tuple
    finish: tuple
    defines: tuple[int, ...]  # buffers whose shapes the loop sets
    kind: str = "scan"
    can_fail: ClassVar[bool] = True  # its steps' checks (and a scan's own)


@dataclass(frozen=True)
class SubFunction:
    """A static function of the same translation unit (a scan's step), with the ABI of
    ``call_impl``; ``prefix`` keeps its constant arrays apart from the caller's."""

    name: str
    prefix: str
    plan: FunctionPlan


@dataclass(frozen=True)
class FunctionPlan:
    buffers: tuple[Buffer, ...]
    constants: tuple[ConstantData, ...]
    shape_arrays: tuple[tuple[str, int], ...]  # extra int64 arrays for fused steps' shapes
    shape_lines: tuple  # ShapeLine | AllocStep that depend only on input shapes, in order
    outputs: tuple[int, ...]  # buffer ids of role output, by output index
    updates: tuple[UpdateTarget, ...]
    steps: tuple  # kernels, and the shape lines / allocations that read computed values
    commits: tuple  # copies into update targets, after every step
    n_inputs: int
    n_shared: int
    input_args: tuple[tuple[str, int, int, int], ...]  # (name, dtype code, ndim, bcast mask)
    shared_args: tuple[tuple[str, int, int, int], ...]
    output_args: tuple[tuple[str, int, int, int], ...]
    uses_complex: bool = False
    headers: tuple[str, ...] = ()  # runtime/cpu headers the structured kernels need
    # profiling (off when empty): one label per timed kernel, and for each step (then each
    # commit) its slot among them, -1 for shape lines, allocations and views
    profile_labels: tuple[str, ...] = ()
    profile_slots: tuple[int, ...] = ()
    commit_profile_slots: tuple[int, ...] = ()
    subfunctions: tuple[SubFunction, ...] = ()  # scan steps, each before its first caller
    workspace_slots: int = 0  # slots of the kept workspace (0: scratch is allocated per call)
    # the commit point (-1: none): before steps[commit_point] (len(steps): before the commits),
    # after the last kernel that can fail and before the first write into shared storage, the
    # caller is asked whether to go on (CROTON_COMMIT_POINT); the binding stops there on a
    # pending KeyboardInterrupt, with no update written
    commit_point: int = -1
    # the run-time checks, printed as the function's check table (croton_function.checks):
    # (kind, op, detail, arguments) of each CheckInfo, by check index; no source line (not in
    # the cache key)
    checks: tuple[tuple[str, str, str, str], ...] = ()
    # the target it was lowered for: its templates print it (``codegen/target.py``)
    target: Target = CPU


@dataclass(frozen=True)
class FusedReduceStep:
    """A reduction of an elementwise program: loops over the iteration space ``it`` (an int64
    shape array), kept dims outside, reduced dims inside; ``fast`` is the condition (a
    ``Node``; "" never) for the contiguous path (kept dims leading), which vectorizes and
    threads with OpenMP."""

    out: int
    out_ctype: str
    value_ctype: str  # the program's result type
    acc_ctype: str
    ndim: int
    kept: tuple[int, ...]
    reduced: tuple[int, ...]
    operands: tuple[Operand, ...]
    body: tuple[str, ...]
    identity: str
    combine: str  # C++ over `acc` and `result`
    omp_op: str  # "+" or "*" when OpenMP may reassociate; "" keeps the order
    it: str
    fast: Node | str
    leading: Node | str = ""  # condition for the path reducing leading axes into a vector
    cost: int = 1  # work per element of the program, as ElementwiseStep.cost
    block_ctype: str = ""  # type of the partial sums inside a vectorized block (accumulate)
    parallel: ParallelPolicy | None = ParallelPolicy()  # as ElementwiseStep.parallel
    kind: str = "fused_reduce"
    can_fail: ClassVar[bool] = False  # no run-time check: it cannot stop a call midway
