"""``croton.function``: compile a graph into a callable that runs generated C++.

Example::

    >>> import numpy, croton
    >>> import croton.tensor as T
    >>> x = T.dvector('x')
    >>> acc = croton.shared(numpy.zeros(2), 'acc')
    >>> f = croton.function([x], acc, updates=[(acc, acc + x)])
    >>> f([1.0, 2.0]); f([1.0, 2.0])
    array([0., 0.])
    array([1., 2.])
    >>> acc.get_value()
    array([2., 4.])
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from croton.config import config
from croton.fgraph import Graph, clone_node
from croton.graph import Constant, Variable, graph_inputs, user_source_line
from croton.shared import SharedVariable
from croton.tensor.basic import as_tensor_variable
from croton.types import TensorType


class UnusedInputError(ValueError):
    """An input of ``croton.function`` is not used to compute any output or update."""


class MissingInputError(ValueError):
    """The outputs depend on a symbolic variable that is neither an input nor shared."""


class In:
    """An input with options: ``In(x, value=1.0, name='rate')`` gives a default and a keyword."""

    def __init__(self, variable: Variable, name: str | None = None, value=None,
                 update=None, mutable: bool = False, borrow: bool = False,
                 allow_downcast: bool | None = None, implicit: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"In() needs a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.name = name if name is not None else variable.name
        self.value = value
        self.update = update
        self.mutable = mutable
        self.borrow = borrow
        self.allow_downcast = allow_downcast
        self.implicit = implicit


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived after a call's commit point, while its updates were being written in
    place: the step completed and its updates are in the shared variables. ``outputs`` is what
    the call returned. (Ctrl-C before the commit point raises a plain ``KeyboardInterrupt`` and
    changes nothing.)

    >>> e = StepInterrupted([1.0])
    >>> isinstance(e, KeyboardInterrupt), e.outputs
    (True, [1.0])
    """

    def __init__(self, outputs) -> None:
        super().__init__("interrupted after the step completed: its updates are written; "
                         "its outputs are in .outputs")
        self.outputs = outputs

def Out(variable: Variable, borrow: bool = False) -> Variable:
    """Theano's ``Out(var, borrow=...)``: outputs are always fresh arrays here, so ``borrow``
    has no effect and the variable is returned as is."""
    return variable


@dataclass
class CallSpec:
    """What the compiled callable needs from Python, off its fast path. No reference to the
    Function itself, so no reference cycle."""

    name: str
    source: str
    inputs: list[In]
    types: list[TensorType]
    allow_downcast: list[bool | None]
    checks: tuple = ()
    defaults: dict[int, object] = field(default_factory=dict)
    always_release_gil: bool = False  # release the GIL whatever the data size (scan loops)
    headers: tuple[str, ...] = ()  # the runtime headers its translation unit includes (export)


def _function_label(spec: CallSpec) -> str:
    """``function 'train' (built at p.py:12)``, or ``function built at p.py:12`` when the
    function has no name of its own."""
    if spec.name == spec.source:
        return f"function built at {spec.source}"
    return f"function {spec.name!r} (built at {spec.source})"


def _argument_label(spec: CallSpec, i: int) -> str:
    name = spec.inputs[i].name
    return f"argument {i}" + (f" ({name!r})" if name else "")


def _describe(spec: CallSpec, i: int) -> str:
    return f"{_argument_label(spec, i)} of {_function_label(spec)}"


def convert_input(spec: CallSpec, i: int, value) -> np.ndarray:
    """Convert one argument (slow path) or raise TypeError/ValueError naming it. The result is
    in native byte order (``filter`` converts others) and aligned: an unaligned array (say
    ``np.frombuffer(buf, 'f8', offset=1)``) or one whose strides are not whole elements is
    copied."""
    data = spec.types[i].filter(value, allow_downcast=spec.allow_downcast[i],
                                what=_describe(spec, i))
    if not data.flags.aligned or any(s % data.itemsize for s in data.strides):
        data = np.array(data, copy=True, order="C")  # a fresh array is aligned
    return data


_MISSING = object()


def resolve_arguments(spec: CallSpec, args: tuple, kwargs: dict) -> tuple:
    """Positional arguments, keywords (by input name) and defaults, as one tuple."""
    n = len(spec.inputs)
    if len(args) > n:
        raise TypeError(f"{_function_label(spec)} takes at most {n} arguments "
                        f"({len(args)} given)")
    values = list(args) + [_MISSING] * (n - len(args))
    for key, value in kwargs.items():
        index = next((k for k, inp in enumerate(spec.inputs) if inp.name == key), None)
        if index is None:
            raise TypeError(f"{_function_label(spec)} got an unexpected keyword argument "
                            f"{key!r}")
        if values[index] is not _MISSING:
            raise TypeError(f"{_function_label(spec)} got multiple values for argument {key!r}")
        values[index] = value
    for k, value in enumerate(values):
        if value is _MISSING:
            if k in spec.defaults:
                values[k] = spec.defaults[k]
            else:
                raise TypeError(f"{_function_label(spec)} is missing {_argument_label(spec, k)}")
    return tuple(values)


def raise_call_error(spec: CallSpec, code: int, check: int, shape_a: tuple, shape_b: tuple,
                     message: str, full_message: str = "") -> None:
    """Turn a compiled code's error report into an exception naming the op and the line.

    ``message`` is what a kernel added (``croton_error.reason``: "singular matrix");
    ``full_message`` the compiled code's own whole message (``croton_error.message``, from the
    check table that travels with the function), used where Python's table has nothing."""
    if code == 2:
        raise MemoryError(f"{_function_label(spec)}: {message or 'out of memory'}")
    if code == 5:  # NumPy's ValueError for a shape whose byte count does not fit
        raise ValueError(f"{_function_label(spec)}: array is too big: an array of shape "
                         f"{shape_a} has more elements or bytes than the maximum possible size")
    if code == 4 and 0 <= check < len(spec.checks):
        info = spec.checks[check]
        raise IndexError(f"index {shape_a[0] if shape_a else '?'} is out of bounds for "
                         f"{info.detail} of size {shape_b[0] if shape_b else '?'} in {info.op} "
                         f"(built at {info.source})")
    if code == 3 and 0 <= check < len(spec.checks):
        info = spec.checks[check]
        raise ValueError(f"{info.op} (built at {info.source}): {info.detail}"
                         f"{': ' + message if message else ''}")
    if code == 1 and 0 <= check < len(spec.checks):
        info = spec.checks[check]
        # which of the function's arguments the lengths compared come from (as in C)
        came = f" (the lengths come from {info.arguments})" if info.arguments else ""
        if info.kind == "shape":
            raise ValueError(f"{info.op} (built at {info.source}): {info.detail}; shapes "
                             f"{shape_a} and {shape_b}{came}")
        if info.kind == "dot":
            raise ValueError(f"shape mismatch in dot (built at {info.source}): shapes "
                             f"{shape_a} and {shape_b} are not aligned{came}")
        if info.kind == "empty_reduce":
            raise ValueError(f"{info.op} (built at {info.source}): {info.detail}, input shape "
                             f"{shape_a}{came}")
        raise ValueError(f"shape mismatch in {info.op} (built at {info.source}): input shapes "
                         f"{shape_a} and {shape_b} differ at {info.detail}, which is not "
                         f"declared broadcastable{came}")
    raise RuntimeError(f"{_function_label(spec)} failed (code {code}, check {check}): "
                       f"{full_message or message}")


def _as_in(x) -> In:
    if isinstance(x, In):
        return x
    if isinstance(x, SharedVariable):
        raise TypeError(f"shared variable {x!r} cannot be an input of a function; it is "
                        f"used implicitly (use givens to substitute it)")
    if isinstance(x, Constant) or not isinstance(x, Variable):
        raise TypeError(f"function inputs must be symbolic variables, got {x!r}")
    return In(x)


def _cut_at_inputs(graph: Graph, ins: list[In]) -> Graph:
    """As Theano: an input that is computed by a node (not a root) cuts the graph there; the
    function takes its value and computes nothing above it. Each such input gets a free
    placeholder of its type, which ``ins`` then holds."""
    table: dict[int, Variable] = {}
    for i in ins:
        v = i.variable
        if v.owner is not None:
            i.variable = table[id(v)] = Variable(v.type, name=v.name)
    if not table:
        return graph

    def transform(node, new_inputs):
        if not any(id(o) in table for o in node.outputs):
            return None
        outs = clone_node(node, new_inputs)
        return [table.get(id(old), new) for old, new in zip(node.outputs, outs)]

    cut = graph.rebuild(transform)
    return Graph(tuple(i.variable for i in ins), cut.outputs, cut.updates)


def _normalize_updates(updates) -> list[tuple[SharedVariable, Variable]]:
    if updates is None:
        return []
    items = list(updates.items()) if isinstance(updates, dict) else list(updates)
    out: list[tuple[SharedVariable, Variable]] = []
    seen: set[int] = set()
    for pair in items:
        shared_var, value = pair
        if not isinstance(shared_var, SharedVariable):
            raise TypeError(f"updates must target shared variables, got {shared_var!r}")
        if id(shared_var) in seen:
            raise ValueError(f"shared variable {shared_var!r} is updated twice")
        seen.add(id(shared_var))
        value = as_tensor_variable(value, like=[shared_var])
        if value.dtype != shared_var.dtype or value.ndim != shared_var.ndim:
            raise TypeError(
                f"an update must have the same type as the shared variable it updates: "
                f"{shared_var!r} is {shared_var.type}, the update is {value.type}. Cast it with "
                f"T.cast(value, '{shared_var.dtype}')"
            )
        out.append((shared_var, value))
    return out


def _default_updates(outputs: list[Variable], explicit: list, no_default_updates
                     ) -> list[tuple[SharedVariable, Variable]]:
    """Theano's default updates: ``(s, s.default_update)`` for every shared variable ``s`` the
    outputs and updates read that has one, is not updated explicitly and is not listed in
    ``no_default_updates`` (``True``: none at all). Default updates may read more shared
    variables, whose default updates are added in turn."""
    if no_default_updates is True:
        return []
    skip = {id(v) for v in (no_default_updates or ())}
    done = {id(s) for s, _ in explicit}
    roots = list(outputs) + [v for _, v in explicit]
    added: list = []
    while roots:
        found = [v for v in graph_inputs(roots) if isinstance(v, SharedVariable)
                 and v.default_update is not None and id(v) not in done | skip]
        done.update(id(v) for v in found)
        added += [(v, v.default_update) for v in found]
        roots = [v.default_update for v in found]
    return _normalize_updates(added)


def _apply_givens(graph: Graph, givens) -> Graph:
    if not givens:
        return graph
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
    table: dict[int, Variable] = {}
    for old, new in pairs:
        new = as_tensor_variable(new, like=[old])
        if new.type.dtype != old.type.dtype or new.ndim != old.ndim:
            raise TypeError(f"givens: {old!r} ({old.type}) cannot be replaced by {new.type}")
        table[id(old)] = new
    replaced = graph.rebuild(lambda node, inputs: None,
                             replace_leaf=lambda v: table.get(id(v), v))
    roots = {id(v): table.get(id(v), v) for v in graph.roots}
    return Graph(replaced.inputs,
                 tuple(roots.get(id(o), o) if o.owner is None else n
                       for o, n in zip(graph.outputs, replaced.outputs)),
                 tuple((s, roots.get(id(v), v) if v.owner is None else n)
                       for (s, v), (_, n) in zip(graph.updates, replaced.updates)))


def _check_inputs(graph: Graph, ins: list[In], on_unused_input: str) -> None:
    needed = graph_inputs(graph.roots)
    needed_ids = {id(v) for v in needed}
    given_ids = {id(i.variable) for i in ins}
    for v in needed:
        if isinstance(v, Constant | SharedVariable) or id(v) in given_ids:
            continue
        raise MissingInputError(
            f"the outputs depend on {v!r} ({v.type}), which is not among the inputs; add it to "
            f"the inputs or replace it with givens")
    if on_unused_input != "ignore":
        for k, i in enumerate(ins):
            if id(i.variable) not in needed_ids:
                msg = (f"input {k} ({i.variable!r}) is not used to compute any output; pass "
                       f"on_unused_input='ignore' to allow it")
                if on_unused_input == "raise":
                    raise UnusedInputError(msg)
                import warnings

                warnings.warn(msg, stacklevel=3)


def function(inputs: Sequence, outputs=None, updates=None, givens=None,
             allow_input_downcast: bool | None = None, on_unused_input: str = "raise",
             name: str | None = None, mode: str | None = None, no_default_updates=False,
             profile: bool | None = None, rebuild_strict: bool = True,
             device: str | None = None):
    """Compile ``outputs`` (one variable or a list) of ``inputs`` into a callable.

    ``updates`` (pairs or a dict) are applied simultaneously, in place, after each call, with
    the ``default_update`` of every shared variable used (random states) unless
    ``no_default_updates`` is True or lists that variable.
    ``mode`` is 'FAST_RUN' (default), 'FAST_COMPILE' (fewer passes) or 'NUMPY' (no compiler:
    the ops' NumPy references, for debugging).

    ``device``: ``'cpu'`` or ``'cuda'`` (default: the ``device`` flag, ``CROTON_FLAGS=
    device=cuda``). A CUDA function is rendered and built with nvcc whether or not a GPU is
    present; calling it without one raises ``CudaUnavailableError`` (docs/cuda.md).

    Compiled functions pickle (and load in another process: the function is rebuilt from its
    graph, which hits the compile cache) with their shared variables; ``copy.copy(f)`` shares
    them, ``copy.deepcopy(f)`` gets its own.
    """
    t0 = time.perf_counter()
    source = user_source_line()
    if isinstance(inputs, Variable | In):
        raise TypeError("inputs must be a list of variables, e.g. function([x], y)")
    # what pickling keeps: the function is rebuilt from it (a cache hit) in another process
    origin = {"inputs": list(inputs), "outputs": outputs, "updates": updates,
              "givens": givens, "allow_input_downcast": allow_input_downcast,
              "on_unused_input": on_unused_input, "name": name,
              "mode": getattr(mode, "name", mode), "no_default_updates": no_default_updates,
              "profile": profile, "device": device}
    f = _function(origin, source, t0, rebuild_strict)
    f._origin = origin
    return f


def _function(origin: dict, source: str, t0: float, rebuild_strict: bool):
    from croton.codegen.pipeline import run_pipeline

    inputs, outputs, updates, givens = (origin[k] for k in ("inputs", "outputs", "updates",
                                                            "givens"))
    allow_input_downcast, on_unused_input, name, mode, no_default_updates, profile = (
        origin[k] for k in ("allow_input_downcast", "on_unused_input", "name", "mode",
                            "no_default_updates", "profile"))
    ins = [_as_in(x) for x in inputs]
    if len({id(i.variable) for i in ins}) != len(ins):
        raise ValueError("the same variable appears twice among the inputs")
    ins = [copy.copy(i) if i.variable.owner is not None else i for i in ins]
    single = outputs is not None and not isinstance(outputs, list | tuple)
    out_list = [] if outputs is None else ([outputs] if single else list(outputs))
    out_vars = [as_tensor_variable(o) for o in out_list]
    update_pairs = _normalize_updates(updates)
    update_pairs += _default_updates(out_vars, update_pairs, no_default_updates)
    graph = Graph.make([i.variable for i in ins], out_vars, update_pairs)
    graph = _cut_at_inputs(graph, ins)
    graph = _apply_givens(graph, givens)
    _check_inputs(graph, ins, on_unused_input)
    mode = getattr(mode, "name", mode) or config.mode  # a croton.Mode or a name
    fname = name or source
    spec = CallSpec(
        name=fname, source=source, inputs=ins, types=[i.variable.type for i in ins],
        allow_downcast=[i.allow_downcast if i.allow_downcast is not None
                        else allow_input_downcast for i in ins],
        defaults={k: i.value for k, i in enumerate(ins) if i.value is not None},
    )
    if mode in ("NUMPY", "DebugMode", "DEBUG_MODE"):
        from croton.evaluate import NumpyFunction

        return NumpyFunction(graph, spec, single)
    t1 = time.perf_counter()
    optimized = run_pipeline(graph, "FAST_COMPILE" if mode == "FAST_COMPILE" else "FAST_RUN")
    t2 = time.perf_counter()
    profile = config.profile if profile is None else bool(profile)
    return _compile(graph, optimized, spec, single,
                    {"rewrite": t2 - t1, "frontend": t1 - t0}, profile, origin.get("device"))


def _target_for(device: str | None):
    """The code-generation target of a function for ``device`` (None: the ``device`` flag):
    CUDA for ``cuda``/``cudaN``, else the ``target`` flag's (the CPU by default)."""
    from croton.codegen.target import CUDA, target_named

    device = device or config.device
    if device.startswith("cuda"):
        from croton.cuda.runtime import cuda_index

        cuda_index(device)  # a name it understands (ValueError otherwise)
        return CUDA
    if device != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda', 'cudaN' or 'cuda:N', not {device!r}")
    return target_named(config.target)


def _check_shared_devices(shared, target, spec: CallSpec, device: int = 0) -> None:
    """A CPU function cannot read a shared variable kept in device memory, nor a function on
    CUDA device ``device`` one kept on another device."""
    for s in shared:
        where = getattr(s, "device", "cpu")
        if target.device == "cpu" and where != "cpu":
            raise TypeError(f"{_function_label(spec)} runs on the CPU but shared variable "
                            f"{s.name or '<unnamed>'} lives on device {where}: compile it "
                            f"with device='cuda', or create the variable without device=")
        if target.device == "cuda" and where != "cpu":
            from croton.cuda.runtime import cuda_index, device_name_of

            if cuda_index(where) != device:
                raise TypeError(f"{_function_label(spec)} runs on {device_name_of(device)} but "
                                f"shared variable {s.name or '<unnamed>'} lives on {where}: "
                                f"compile it with device={where!r}, or make the variable there")


def _compile(graph: Graph, optimized: Graph, spec: CallSpec, single: bool, timings: dict,
             profile: bool = False, device: str | None = None):
    from croton.build_tools.build import binding, build_function, log_compile_report
    from croton.build_tools.render_memo import render_source
    from croton.codegen.lower import lower

    t0 = time.perf_counter()
    target = _target_for(device)
    lowered = lower(optimized, profile=profile, target=target)
    if target.device == "cuda":
        from croton.cuda.runtime import cuda_index

        device_index = cuda_index(device or config.device)
    else:
        device_index = 0
    _check_shared_devices(lowered.shared, target, spec, device_index)
    t1 = time.perf_counter()
    source = render_source(lowered.plan)  # Jinja only on a memo miss
    t2 = time.perf_counter()
    spec.checks = lowered.checks
    spec.headers = lowered.plan.headers
    # a scan's loop can run long on small data: its calls always let other threads run
    spec.always_release_gil = bool(lowered.plan.subfunctions)
    result = build_function(source, label=spec.name, target=lowered.plan.target.name)
    if target.device == "cuda":  # device memory: the binding layer's DeviceFunction
        from croton.cuda.function import device_function

        timings.update({"lower": t1 - t0, "render": t2 - t1, **result.timings})
        cls = device_function(binding().DeviceFunction)
        if not profile:
            return cls(result.module, lowered.shared, spec, single, graph, optimized, source,
                       result, timings, device_index)
        from croton.profiling import ProfileStats, profiled_class

        f = profiled_class(cls)(result.module, lowered.shared, spec, single, graph, optimized,
                                source, result, timings, device_index)
        f.profile = ProfileStats(spec.name, lowered.plan.profile_labels, result.module, timings)
        return f
    native = binding()
    timings.update({"lower": t1 - t0, "render": t2 - t1, **result.timings})
    if config.profile_compile:
        log_compile_report(spec.name, timings)
    cls = _function_class(native.NativeFunction)
    if not profile:
        return cls(result.module.function, lowered.shared, spec, single, graph, optimized,
                   source, result, timings)
    from croton.profiling import ProfileStats, profiled_class

    f = profiled_class(cls)(result.module.function, lowered.shared, spec, single, graph,
                            optimized, source, result, timings)
    f.profile = ProfileStats(spec.name, lowered.plan.profile_labels, result.module, timings)
    return f


def copy_arguments(shared: list, spec: CallSpec, swap: dict | None, delete_updates: bool,
                   name: str | None) -> tuple[list, CallSpec]:
    """``Function.copy``'s shared variables (``swap={old: new}`` checked: same dtype and
    ndim) and call spec (renamed), for the CPU's and the CUDA target's functions."""
    if delete_updates:
        raise NotImplementedError("copy(delete_updates=True) needs a recompile; build "
                                  "a new function without the updates instead")
    swap = swap or {}
    out = []
    for s in shared:
        new = swap.get(s, s)
        if new.type.dtype != s.type.dtype or new.ndim != s.ndim:
            raise TypeError(f"copy(swap=...): {s!r} is {s.type} but its replacement "
                            f"{new!r} is {new.type}")
        out.append(new)
    return out, CallSpec(**{**spec.__dict__, "name": name or spec.name})


@functools.cache
def _function_class(native_base: type) -> type:
    """The user-facing class: Theano's Function API over the compiled NativeFunction."""

    class Function(native_base):
        def __init__(self, table, shared, spec, single, graph, optimized, source, build,
                     timings):
            super().__init__(table, [s.storage for s in shared], functools.partial(
                convert_input, spec), functools.partial(resolve_arguments, spec),
                functools.partial(raise_call_error, spec), single, spec.always_release_gil)
            self._table, self._shared, self._spec, self._single = table, shared, spec, single
            self.graph, self.maker = graph, _Maker(optimized, spec.inputs)
            self.source, self.build, self.compile_report = source, build, timings
            self.name = spec.name
            self.trust_input = False
            self.profile = None

        @property
        def input_storage(self):
            return self._spec.inputs

        def copy(self, share_memory: bool = False, swap: dict | None = None,
                 delete_updates: bool = False, name: str | None = None):
            """The same compiled code over other shared variables (``swap={old: new}``)."""
            shared, spec = copy_arguments(self._shared, self._spec, swap, delete_updates, name)
            new = type(self)(self._table, shared, spec, self._single, self.graph,
                             self.maker.fgraph, self.source, self.build, dict(self.compile_report))
            if not swap:
                new._origin = getattr(self, "_origin", None)
            return new

        def export(self, directory, name: str = "train_step", example_inputs=None,
                   state: str = "embed", check_calls: int = 1):
            """Write this function as a standalone C library (a CMake project) in
            ``directory``: see build_tools/export.py and docs/export.md. ``example_inputs``:
            what the project's example/main.cpp runs on (default: zeros, dimensions of 1);
            ``state``: ``'embed'`` or ``'file'`` (``<name>.state``, read at create time);
            ``check_calls``: how many calls the recorded CTest test makes.

            >>> # f.export("/tmp/train_step_lib", name="train_step")
            """
            from croton.build_tools.export import export_function

            return export_function(self, directory, name, example_inputs, state, check_calls)

        def __repr__(self) -> str:
            return f"<croton.Function {self.name}>"

        def __reduce__(self):
            if getattr(self, "_origin", None) is None:
                raise TypeError("a function copied with swap= cannot be pickled; pickle a "
                                "function built over those shared variables")
            return (_unpickle_function, (self._origin,))

        def __copy__(self):
            return self.copy()

        def __deepcopy__(self, memo: dict):
            # its own shared variables (deep copies, values included), the same compiled code
            swap = {s: copy.deepcopy(s, memo) for s in self._shared}
            new = self.copy(swap=swap)
            new._origin = copy.deepcopy(self._origin, memo)
            return new

    return Function


def _unpickle_function(origin: dict):
    """Rebuild a pickled function from its graph and options (a compile-cache hit when the
    cache holds it, else a compile)."""
    f = _function(origin, origin.get("name") or "<unpickled function>", time.perf_counter(),
                  True)
    f._origin = origin
    return f


@dataclass
class _Maker:
    """Theano's ``f.maker``: the optimized graph (``fgraph``) and the inputs."""

    fgraph: Graph
    inputs: list[In]
