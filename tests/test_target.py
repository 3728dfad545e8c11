"""The code-generation target (``codegen/target.py``) through lower → render → build: a second
real CPU variant that does not thread, target-specific lowerings and elementwise expressions,
and the target's name in the cache key."""

from __future__ import annotations

import re

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.build_tools.build import function_key, function_key_parts
from croton.build_tools.toolchain import RUNTIME_DIR
from croton.codegen.lower import lower
from croton.codegen.lowering import LOWERINGS, TARGET_LOWERINGS, generator_for, lowering
from croton.codegen.pipeline import run_pipeline
from croton.codegen.render import render_function
from croton.codegen.target import CPU, TARGETS, target_named
from croton.config import config
from croton.fgraph import Graph
from croton.ops.table import OPS

# a real variant of the CPU target: the same loops, run on the calling thread only
SERIAL = CPU.derive("cpu_serial", threads=1)
# a CPU variant whose exp is computed as exp2(x * log2(e)) (an elementwise override)
EXP2 = CPU.derive("cpu_exp2")


def _graph():
    """Elementwise loops (contiguous, strided, broadcast) and fused reductions (all axes, the
    trailing axis, the leading axis)."""
    x, b = T.dmatrix("x"), T.dvector("b")
    y = T.tanh(x + b) * 2.0 - T.exp(-x)
    return [x, b], [y, (x * x).sum(), T.exp(x).sum(axis=1), (x * 3.0).sum(axis=0)]


def _expected(xv, bv):
    return [np.tanh(xv + bv) * 2.0 - np.exp(-xv), (xv * xv).sum(), np.exp(xv).sum(axis=1),
            (xv * 3.0).sum(axis=0)]


def _compile_for(target_name, monkeypatch, inputs, outputs):
    """``croton.function`` under the ``target`` flag; its C++ built warning-free."""
    monkeypatch.setattr(config, "target", target_name)
    f = croton.function(inputs, outputs)
    log = f.build.entry_dir / "build.log"
    if log.exists():  # built now (not found in the cache)
        text = log.read_text()
        assert "-Wextra" in text and "warning" not in text.lower(), text
    return f


@pytest.fixture
def serial_lowering():
    """A target-specific generator of the elementwise kinds for ``cpu_serial``: the generic one,
    counted, so the test sees which generator lowered each node."""
    calls = []

    def counted(lw, node):
        calls.append((lw.target.name, node.op.kind))
        LOWERINGS[node.op.kind](lw, node)

    kinds = ("elemwise", "fused")
    lowering(*kinds, target="cpu_serial")(counted)
    try:
        yield calls, counted
    finally:
        for kind in kinds:
            del TARGET_LOWERINGS[("cpu_serial", kind)]


def test_lookup_prefers_the_targets_own_lowering(serial_lowering):
    calls, counted = serial_lowering
    assert generator_for("fused", SERIAL) is counted
    assert generator_for("fused", CPU) is LOWERINGS["fused"]  # others keep the generic one
    assert generator_for("reduce", SERIAL) is LOWERINGS["reduce"]  # no own: the generic one
    derived = SERIAL.derive("cpu_serial_child")
    assert generator_for("fused", derived) is counted  # a derived target inherits it
    with pytest.raises(ValueError, match="two kernel generators for target 'cpu_serial'"):
        lowering("fused", target="cpu_serial")(counted)
    with pytest.raises(NotImplementedError, match="no kernel generator for op kind 'nope'"):
        generator_for("nope", SERIAL)


def test_serial_target_compiles_without_the_thread_pool(serial_lowering, monkeypatch):
    calls, _ = serial_lowering
    rng = np.random.default_rng(0)
    xv, bv = rng.standard_normal((300, 257)), rng.standard_normal(257)
    inputs, outputs = _graph()
    f = _compile_for("cpu_serial", monkeypatch, inputs, outputs)
    assert calls and all(name == "cpu_serial" for name, _ in calls)
    assert "parallel_for" not in f.source and "parallel_reduce" not in f.source
    assert "croton::serial_for(" in f.source
    assert "croton::serial_reduce(" in f.source
    for got, want in zip(f(xv, bv), _expected(xv, bv)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # strided inputs take the loop nests' strided paths
    for got, want in zip(f(xv.T.copy().T, bv[::1]), _expected(xv, bv)):
        np.testing.assert_allclose(got, want, rtol=1e-12)

    g = _compile_for("cpu", monkeypatch, *_graph())
    assert "croton::parallel_for(" in g.source and "serial_for" not in g.source
    assert f.build.key != g.build.key
    for got, want in zip(g(xv, bv), _expected(xv, bv)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scan_step_inherits_the_target():
    x = T.dmatrix("x")
    out, _ = croton.scan(lambda row, acc: acc * row, sequences=x, outputs_info=T.ones_like(x[0]))
    plan = lower(run_pipeline(Graph.make([x], [out]), "FAST_RUN"), target=SERIAL).plan
    assert plan.target is SERIAL
    assert plan.subfunctions and all(s.plan.target is SERIAL for s in plan.subfunctions)
    source = render_function(plan)
    assert "parallel_for" not in source


def test_elementwise_expression_overridden_per_target(monkeypatch):
    monkeypatch.setitem(OPS["exp"].cpp_targets, "cpu_exp2",
                        "std::exp2({0} * 1.4426950408889634)")
    assert OPS["exp"].cpp_for(EXP2) == "std::exp2({0} * 1.4426950408889634)"
    assert OPS["exp"].cpp_for(CPU) == "std::exp({0})"
    x = T.dvector("x")
    f = _compile_for("cpu_exp2", monkeypatch, [x], T.exp(x) + 1.0)
    assert "std::exp2(" in f.source and "std::exp(" not in f.source
    xv = np.linspace(-5.0, 5.0, 1001)
    np.testing.assert_allclose(f(xv), np.exp(xv) + 1.0, rtol=1e-13)
    g = _compile_for("cpu", monkeypatch, [x], T.exp(x) + 1.0)
    assert "std::exp(" in g.source and "exp2" not in g.source


def test_cache_key_holds_the_target():
    source = "int f();"
    assert function_key_parts(source)["target"] == "cpu"
    assert function_key_parts(source, target="cpu_serial")["target"] == "cpu_serial"
    assert function_key(source) != function_key(source, target="cpu_serial")


def test_targets_by_name():
    assert target_named("cpu") is CPU and TARGETS["cpu_serial"] is SERIAL
    with pytest.raises(ValueError, match="unknown target 'gpu9'"):
        target_named("gpu9")
    with pytest.raises(ValueError, match="a different target named 'cpu_serial'"):
        CPU.derive("cpu_serial", threads=2)
    assert CPU.derive("cpu_serial", threads=1) == SERIAL  # the same definition again is fine


def test_cpu_parallel_policy_is_the_runtimes():
    """The CPU target's policy states the runtime's threshold and chunking, which the
    generated ``croton::parallel_for`` applies (runtime/cpu/parallel.hpp)."""
    header = (RUNTIME_DIR / "cpu" / "parallel.hpp").read_text()
    min_work = re.search(r"#define CROTON_OMP_MIN_WORK (\d+)", header)
    assert min_work and int(min_work.group(1)) == CPU.parallel.min_work
    chunks = re.search(r"int chunks_per_thread = (\d+)\)", header)
    assert chunks and int(chunks.group(1)) == CPU.parallel.chunks_per_thread


def test_scratch_policy_is_the_targets(monkeypatch):
    """A target that keeps no scratch between calls gives each call its own arena."""
    CPU.derive("cpu_fresh_scratch", keeps_scratch=False)
    x = T.dmatrix("x")
    outs = [T.exp(x).sum(axis=0) * T.tanh(x).sum(axis=0), T.dot(x, x.T).sum()]
    f = _compile_for("cpu_fresh_scratch", monkeypatch, [x], outs)
    assert "thread_local croton::Scratch" not in f.source
    assert "thread_local croton::Scratch" in _compile_for("cpu", monkeypatch, [x], outs).source
    xv = np.random.default_rng(1).standard_normal((40, 30))
    for _ in range(2):  # a second call starts from a fresh arena too
        got = f(xv)
        np.testing.assert_allclose(got[0], np.exp(xv).sum(axis=0) * np.tanh(xv).sum(axis=0),
                                   rtol=1e-12)
        np.testing.assert_allclose(got[1], (xv @ xv.T).sum(), rtol=1e-12)


def test_parallel_policy_is_printed_from_the_target(monkeypatch):
    """A target's own threshold and chunking reach the generated calls; the CPU's, the runtime's
    defaults, print the plain calls."""
    from croton.codegen.target import ParallelPolicy

    CPU.derive("cpu_eager_threads", parallel=ParallelPolicy(min_work=1024, chunks_per_thread=4))
    x = T.dmatrix("x")
    outs = [T.tanh(x) * 2.0, (x * x).sum(), T.exp(x).sum(axis=1)]
    f = _compile_for("cpu_eager_threads", monkeypatch, [x], outs)
    assert "croton::parallel_for_policy(1024, 4, " in f.source
    assert "croton::parallel_reduce_policy(1024, 4, " in f.source
    assert "croton::parallel_for(" not in f.source
    assert "_policy(" not in _compile_for("cpu", monkeypatch, [x], outs).source
    xv = np.random.default_rng(2).standard_normal((200, 300))
    got = f(xv)
    np.testing.assert_allclose(got[0], np.tanh(xv) * 2.0, rtol=1e-12)
    np.testing.assert_allclose(got[1], (xv * xv).sum(), rtol=1e-12)
    np.testing.assert_allclose(got[2], np.exp(xv).sum(axis=1), rtol=1e-12)


def test_every_buffer_lives_in_one_of_its_targets_memory_spaces():
    """Buffers carry their memory space (the CPU target has one, the host's memory), which a
    device target's lowering will set per buffer."""
    import croton.tensor as T
    from croton.codegen.lower import lower
    from croton.codegen.pipeline import run_pipeline
    from croton.codegen.target import CPU
    from croton.fgraph import Graph

    x, W = T.dmatrix("x"), T.dmatrix("W")
    plan = lower(run_pipeline(Graph.make([x, W], [T.tanh(T.dot(x, W)).sum(axis=0)]))).plan
    assert CPU.memory_spaces == ("host",)
    assert {b.space for b in plan.buffers} == {"host"}
