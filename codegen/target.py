"""The machine a function is compiled for: a frozen ``Target`` passed through
``lower(graph, target)`` → ``render_function(plan)`` (templates chosen by ``plan.target``) →
``build_function(source, target=...)`` (the target's name is part of the cache key).

A target says what its code may use (vector width, threads, memory spaces, whether scratch is
kept between calls), which templates print it (a device-neutral host driver, and per-target
loop templates whose macros print the loop steps), and its parallel policy. ``CPU`` is the
default; ``CUDA`` (issue 15, docs/cuda.md) prints kernels for NVIDIA GPUs.

Kernel generators can be specialised per target (``@lowering(kind, target="name")`` in
``codegen/lowering``), and so can elementwise C++ expressions (``OpRecord.cpp_for(target)``).

Example::

    >>> from croton.codegen.target import CPU, target_named
    >>> CPU.name, CPU.threads, CPU.may_thread, target_named("cpu") is CPU
    ('cpu', None, True, True)
    >>> serial = CPU.derive("cpu_serial_doc", threads=1)
    >>> serial.may_thread, serial.step_macro("elementwise"), serial.step_macro("view")
    (False, 'elementwise', None)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ParallelPolicy:
    """When a loop is shared by threads: more than ``min_work`` units of work (elements x the
    ops' cost in adds), split into ``chunks_per_thread`` chunks per thread (at most 64).

    The defaults are the runtime's (``CROTON_OMP_MIN_WORK`` and the two chunks per thread of
    ``runtime/cpu/parallel.hpp``; a test keeps them equal): a loop under them prints
    ``croton::parallel_for(n, work, body)``, under another policy
    ``croton::parallel_for_policy(min_work, chunks_per_thread, n, work, body)``. The comparison
    itself runs when the shapes are known. Python decides per loop whether it may thread at all
    and under which policy (``ElementwiseStep.parallel``, ``Target.loop_policy``)."""

    min_work: int = 32768
    chunks_per_thread: int = 2

    @property
    def runtime_default(self) -> bool:
        """True when this is the runtime's own policy (the generated call need not name it)."""
        return self == ParallelPolicy()


@dataclass(frozen=True)
class Target:
    """One code-generation target; see the module docstring.

    ``step_macros`` maps a loop step's ``kind`` to the macro of ``loops_template`` that prints
    it; the host driver (``host_template``) prints every other step itself (shapes, checks,
    allocations, views, kernel calls, branches, scans) and the ABI entry."""

    name: str
    language: str = "c++17"
    # the SIMD width loops are laid out for (AVX2: 32); the CPU's loops leave the width to the
    # compiler (-march), so nothing reads it yet: a CUDA target will (its vector loads)
    vector_bytes: int = 32
    threads: int | None = None  # None: the runtime decides (the thread pool's size)
    memory_spaces: tuple[str, ...] = ("host",)
    keeps_scratch: bool = True  # the call's scratch arena is kept for the thread's next call
    host_template: str = "function.cpp.j2"
    loops_template: str = "cpu/loops.j2"
    step_macros: tuple[tuple[str, str], ...] = (
        ("elementwise", "elementwise"),
        ("fused_reduce", "fused_reduce"), ("dot", "dot"))
    parallel: ParallelPolicy = ParallelPolicy()
    base: str | None = None  # the target this one derives from (its lowerings apply too)
    # each loop step prints as a function of its own (codegen/outline.py), so that the host
    # driver can compile at -O1 (cold_host) while the loops keep the flags' level
    outline_loops: bool = True
    cold_host: bool = True
    # the translation unit's parts, compiled in parallel (``#if CROTON_PART == k``); a build
    # without CROTON_PART (an export) compiles them all as one unit
    build_parts: int = 2
    # what the host driver prints for this target: its runtime header (every part) and the ABI
    # entry's header (part 0; "": the runtime header has it), the scratch arena and its lease,
    # the ABI entry, how constant arrays are declared and addressed, and (kernels_macro) a
    # loops-template macro printing kernel definitions before the function
    runtime_header: str = "runtime.hpp"
    entry_header: str = "abi_bridge.hpp"
    scratch_class: str = "croton::Scratch"
    scratch_lease: str = "croton::ScratchLease"
    abi_entry: str = "croton::call_through_abi"
    constant_prefix: str = "const"
    symbol_address: str = ""  # a function giving a constant array's address ("": the array)
    kernels_macro: str = ""
    # the step kinds the host driver may print for this target (None: every kind); a plan with
    # another kind is refused when it is rendered (``unsupported_steps``)
    host_steps: frozenset[str] | None = None
    # the namespaces of the runtime kernels a ``call`` step may name on this target (None: any):
    # the CUDA runtime's kernels are ``croton::cuda::...`` (runtime/cuda/kernels), printed by the
    # target's own lowerings (``@lowering(kind, target="cuda")``); a call of a CPU kernel is
    # refused when the plan is rendered, naming the step
    kernel_namespaces: tuple[str, ...] | None = None
    # whether the host driver may read values computed in device memory (slice bounds, shapes
    # from values: ``croton::value`` copies them; runtime/cuda/runtime.cuh); False: a shape
    # computed from an array's values is refused on a target with ``host_steps``
    reads_device_values: bool = False
    # control flow's host reads and writes of the function's memory: a function reading a
    # computed scalar into a host variable (``int fn<T>(const croton_buffer&, T*, croton_error*)``:
    # an ifelse's condition, a scan's n_steps; "": read in place, croton::value) and one zeroing
    # memory (``bool fn(void*, int64_t)``: a scan's zero-filled stacks; "": std::memset)
    value_read: str = ""
    zero_memory: str = ""
    refused_dtypes: frozenset[str] = frozenset()  # dtypes its kernels cannot compute in
    source_suffix: str = ".cpp"  # the translation unit's file suffix (the build's language)
    device: str = "cpu"  # the device the function's arrays live on (DLPack's name)

    @property
    def may_thread(self) -> bool:
        """True when loops may be shared by the thread pool."""
        return self.threads != 1

    def loop_policy(self) -> ParallelPolicy | None:
        """The policy of this target's loops (``ElementwiseStep.parallel``); None: they run on
        the calling thread, without the thread pool."""
        return self.parallel if self.may_thread else None

    def step_macro(self, kind: str) -> str | None:
        """The loops template's macro printing steps of ``kind``; None: the host driver's."""
        return dict(self.step_macros).get(kind)

    def lineage(self) -> tuple[str, ...]:
        """This target's name, then its bases' (most specific first)."""
        names = [self.name]
        base = self.base
        while base is not None:
            names.append(base)
            base = TARGETS[base].base if base in TARGETS else None
        return tuple(names)

    def unsupported_steps(self, steps) -> list[str]:
        """The steps among ``steps`` (and the steps nested in branches and scans) this target
        cannot print, described for an error message (empty: every one is supported)."""
        if self.host_steps is None:
            return []
        from croton.codegen.expr import Node, Value

        found: list[str] = []
        for s in steps:
            if s.kind not in self.host_steps:
                found.append(f"{getattr(s, 'comment', '') or s.kind} (a {s.kind} step)")
            elif s.kind == "call" and self.kernel_namespaces is not None:
                found += [f"{s.comment or s.kind} (the CPU kernel {fn})"
                          for fn in self.foreign_kernels(s)]
            elif s.kind == "shape" and not self.reads_device_values and any(
                    isinstance(n, Value)  # a shape read from a computed array's data
                    for e in (s.target, s.expr) if isinstance(e, Node) for n in e.walk()):
                found.append("a shape computed from an array's values")
            for nested in ("then_steps", "else_steps", "setup", "each_step", "finish"):
                found += self.unsupported_steps(getattr(s, nested, ()))
        return found

    def foreign_kernels(self, call_step) -> list[str]:
        """The runtime functions ``call_step`` calls that are not this target's kernels.
        Unqualified names are the translation unit's own functions (a scan's step function and
        its glue), which the target's templates print."""
        from croton.codegen.expr import KernelCall

        return [st.fn for st in call_step.code if isinstance(st, KernelCall)
                and "::" in st.fn and not st.fn.startswith(self.kernel_namespaces or ())]

    def derive(self, name: str, **changes) -> Target:
        """A variant of this target named ``name`` (registered, so config can name it)."""
        return register_target(dataclasses.replace(self, name=name, base=self.name, **changes))


TARGETS: dict[str, Target] = {}


def register_target(target: Target) -> Target:
    """Make ``target`` available by name (``target_named``, the ``target`` config flag)."""
    existing = TARGETS.get(target.name)
    if existing is not None and existing != target:
        raise ValueError(f"a different target named {target.name!r} is already registered")
    TARGETS[target.name] = target
    return target


def target_named(name: str) -> Target:
    """The registered target called ``name``."""
    try:
        return TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target {name!r}: expected one of {sorted(TARGETS)}") from None


CPU = register_target(Target("cpu"))

#: NVIDIA GPUs through CUDA (issue 15; docs/cuda.md): the CPU's host driver compiled by nvcc,
#: with elementwise loops and reductions as kernels (``cuda/loops.j2``, ``runtime/cuda``) over
#: device memory. Steps whose kernels exist only on the CPU (BLAS, sorting, linear algebra...)
#: are refused when a plan is rendered; ``call`` steps are printed when every kernel they call
#: is the CUDA runtime's (``croton::cuda::``, e.g. indexing: ``codegen/lowering/cuda_indexing.py``)
#: or a view's arithmetic. Branches and scans run on the host around device kernels
#: (``runtime/cuda/kernels/control.cuh``).
CUDA = register_target(Target(
    "cuda", language="cuda", vector_bytes=16, threads=1, memory_spaces=("device",),
    loops_template="cuda/loops.j2", outline_loops=False, cold_host=False, build_parts=1,
    step_macros=(("elementwise", "elementwise"), ("fused_reduce", "fused_reduce"),
                 ("shape_value", "shape_value")),
    runtime_header="runtime.cuh", entry_header="", scratch_class="croton::cuda::DeviceScratch",
    scratch_lease="croton::cuda::ScratchLease", abi_entry="croton::cuda::call_through_abi",
    constant_prefix="__device__ const", symbol_address="croton::cuda::symbol_address",
    kernels_macro="kernels",
    host_steps=frozenset({"shape", "alloc", "workspace", "view", "elementwise",
                          "fused_reduce", "shape_value", "call", "branch", "scan"}),
    # the CUDA runtime's kernels, and the CPU runtime's view arithmetic, which touches no array
    # data (a view's pointer, shape and strides: croton::subtensor::View, slice_axis, diag_view)
    kernel_namespaces=("croton::cuda::", "v.slice", "v.index", "v.newaxis", "v.keep",
                       "v.store", "croton::slice_axis", "croton::diag_view"),
    reads_device_values=True,
    value_read="croton::cuda::read_value", zero_memory="croton::cuda::zero_bytes",
    refused_dtypes=frozenset({"complex64", "complex128"}),
    source_suffix=".cu", device="cuda"))
