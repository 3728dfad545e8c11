"""Random streams, scan and ifelse on the CUDA target (issue 15, docs/cuda.md).

Three ways, as the other CUDA tests: one nvcc build of a function holding every graph below
(compile-only here: warning-free, the device kernels present), its run on a GPU (skips with "no
CUDA device" elsewhere: uniform and integer draws must equal the CPU's bit for bit, normal draws
and float results within a few ulps of device math), and the same graphs through
``croton.function(..., device='cuda')`` under the CPU emulation of CUDA (tests/cuda_emu), where
every result, random draws included, must equal the CPU-compiled function's exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda

import croton
import croton.tensor as T
from croton.build_tools.toolchain import find_nvcc
from croton.config import config
from croton.cuda import device_count, no_device_reason
from croton.ifelse import ifelse
from croton.sandbox.rng_mrg import MRG_RandomStreams
from croton.tensor.random import RandomStreams

BATCH, HIDDEN, STEPS = 3, 5, 4
EXACT = ("uniform", "binomial", "permutation", "dropout", "choice", "choice_p", "choice_once",
         "choice_p_once")  # bit-identical on a GPU too
RANDOM = (*EXACT, "normal", "walk")  # bit-identical under the emulation


def _rnn(W, seq, h0, truncate=-1):
    """A tanh RNN (elementwise and a reduction in place of a dot) and the squared sum of its
    states."""
    def step(x_t, h, W):
        return T.tanh(x_t + (h.dimshuffle(0, 1, "x") * W).sum(axis=1))

    hs, _ = croton.scan(step, sequences=seq, outputs_info=h0, non_sequences=W,
                        truncate_gradient=truncate)
    return hs, (hs ** 2).sum()


def _dropout(x, srng, p=0.2):
    """Lasagne's DropoutLayer (rescaled; a mask over the symbolic input shape)."""
    retain = T.constant(1) - p
    return (x / retain) * srng.binomial(x.shape, p=retain, dtype=x.dtype)


def _graph(W, srng, mrg):
    """(inputs, named outputs, updates): random draws (``srng``, Theano's shared
    RandomStreams), Lasagne's dropout (``mrg``, an MRG_RandomStreams), an ifelse, a tanh RNN
    with its gradient (a training step of W), and draws inside a scan."""
    x, seq, h0, s = T.fmatrix("x"), T.ftensor3("seq"), T.fmatrix("h0"), T.fscalar("s")
    hs, cost = _rnn(W, seq, h0)
    gW = T.grad(cost, W)
    # the last 2 backward steps only: a truncated run, whose stacks are zero-filled
    truncated = T.grad(_rnn(W, seq, h0, truncate=2)[1], W)

    def noisy(a, acc):
        return acc + a + srng.uniform((BATCH,), dtype="float32")

    walk, walk_updates = croton.scan(noisy, sequences=T.arange(STEPS, dtype="float32"),
                                     outputs_info=T.zeros((BATCH,), "float32"))
    outputs = {
        "uniform": srng.uniform((5, 7), low=-1.0, high=2.0, dtype="float32"),
        "normal": srng.normal((3, 4), avg=1.0, std=2.0),
        "binomial": srng.binomial((4, 6), n=5, p=T.constant(np.linspace(0, 1, 6))),
        "permutation": srng.permutation(size=(3,), n=6),
        "choice": srng.choice((2, 3), a=7),  # a scalar population: range(7)
        "choice_p": srng.choice((8,), a=T.constant(np.arange(10, 15, dtype="int32")),
                                p=T.constant(np.array([0.1, 0.4, 0.0, 0.3, 0.2]))),
        "choice_once": srng.choice((5,), a=9, replace=False),
        "choice_p_once": srng.choice((3,), a=5, replace=False,
                                     p=T.constant(np.array([0.1, 0.4, 0.0, 0.3, 0.2]))),
        "dropout": _dropout(x, mrg),
        "ifelse": ifelse(s > 0, T.exp(x), x * 2),
        "ifelse_again": ifelse(s > 0, x.sum(), x.max()),  # a second branch on one condition
        "states": hs, "cost": cost, "gW": gW, "gW_truncated": truncated, "walk": walk,
    }
    updates = [(W, W - 0.1 * gW), *walk_updates.items()]
    return [x, seq, h0, s], outputs, updates


def _data(seed=0, sign=1.0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((BATCH, HIDDEN)).astype("float32"),
            (0.5 * rng.standard_normal((STEPS, BATCH, HIDDEN))).astype("float32"),
            (0.1 * rng.standard_normal((BATCH, HIDDEN))).astype("float32"),
            np.float32(sign)]


def _weights():
    return (0.3 * np.random.default_rng(7).standard_normal((HIDDEN, HIDDEN))).astype("float32")


def _function(device):
    """The test function on ``device`` with its own W (on that device) and streams (seeds 5
    and 6)."""
    W = croton.shared(_weights(), "W", device=device)
    streams = RandomStreams(5), MRG_RandomStreams(6)
    ins, outs, updates = _graph(W, *streams)
    f = croton.function(ins, list(outs.values()), updates=updates, device=device)
    return f, list(outs), W, streams


def _states(streams):
    return [np.asarray(s.get_value()).copy() for r in streams for s, _ in r.updates()]


# -- compile-only (nvcc) and on a GPU ----------------------------------------------------------
@pytest.fixture(scope="module")
def cuda_fn():
    """The one nvcc build of this file."""
    if not find_nvcc():
        pytest.skip("nvcc not found (CUDA toolkit)")
    return _function("cuda")


def test_cuda_build_has_device_random_scan_and_ifelse_and_no_warning(cuda_fn):
    f = cuda_fn[0]
    src = f.source
    for name in ("uniform", "normal", "binomial", "permutation", "choice"):
        assert f"croton::cuda::rng::{name}<" in src
    assert "croton::cuda::read_value<bool>" in src  # the ifelse's condition
    assert "croton::cuda::read_value<int64_t>" in src  # a scan's n_steps
    assert "croton::cuda::zero_bytes" in src and "scan_step_0(" in src
    assert "slots, true, -1" in src  # the truncated gradient's zero-filled run
    assert "croton::rng::" not in src and "std::memset" not in src  # nothing of the CPU's
    log = (f.build.entry_dir / "build.log").read_text()
    assert "nvcc" in log and "warning" not in log.lower(), log


@pytest.mark.skipif(device_count() == 0, reason=no_device_reason() or "no CUDA device")
def test_on_a_gpu_random_scan_and_ifelse_match_the_cpu(cuda_fn):
    f, names, W, srng = cuda_fn
    cpu, _, W_cpu, srng_cpu = _function("cpu")
    for call, sign in enumerate((1.0, -1.0)):
        data = _data(call, sign)
        got, want = f(*data), cpu(*data)
        for name, a, b in zip(names, got, want):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            if name in EXACT:  # uniform and integer draws: the same bits
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:  # device log/cos/tanh: within a few ulps
                np.testing.assert_allclose(a, b, rtol=2e-6 if a.dtype == "float64" else 1e-5,
                                           atol=1e-6, err_msg=name)
    np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-5, atol=1e-6)
    for a, b in zip(_states(srng), _states(srng_cpu)):
        np.testing.assert_array_equal(a, b)


# -- under the CPU emulation of CUDA -----------------------------------------------------------
@pytest.fixture(scope="module")
def emulated_device(tmp_path_factory):
    yield from emulate_cuda(tmp_path_factory)


@pytest.fixture(scope="module")
def emulated_pair(emulated_device):
    """The test function under the emulation and compiled for the CPU."""
    return _function("cuda"), _function("cpu")


def test_emulated_random_scan_ifelse_and_training_step_equal_the_cpu(emulated_pair):
    (f, names, W, srng), (cpu, _, W_cpu, srng_cpu) = emulated_pair
    from croton.cuda.array import DeviceArray

    assert isinstance(W.get_value(borrow=True, return_internal_type=True), DeviceArray)
    for call, sign in enumerate((1.0, -1.0, 1.0)):  # both branches; the states advance
        data = _data(call, sign)
        got, want = f(*data), cpu(*data)
        for name, a, b in zip(names, got, want):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            if name in RANDOM:  # the same formula in host math: the same bits
                np.testing.assert_array_equal(a, b, err_msg=f"{name}, call {call}")
            else:  # the CPU's loops use SIMD exp/tanh, the emulated kernels std::
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6,
                                           err_msg=f"{name}, call {call}")
        np.testing.assert_allclose(W.get_value(), W_cpu.get_value(), rtol=1e-6, atol=1e-7)
        assert [s.tolist() for s in _states(srng)] == [s.tolist() for s in _states(srng_cpu)]
        # one draw per call, the scan's once per step
        assert sorted({int(s[1]) for s in _states(srng)}) == [call + 1, (call + 1) * STEPS]
    x = data[0]
    out = dict(zip(names, got))
    np.testing.assert_allclose(out["ifelse"], np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(out["ifelse_again"], x.sum(), rtol=1e-5)
    assert not np.allclose(out["gW_truncated"], out["gW"])  # only 2 of 4 steps back
    assert 12 not in out["choice_p"] and set(out["choice_p"]) <= {10, 11, 13, 14}
    assert len(set(out["choice_once"])) == 5 and len(set(out["choice_p_once"])) == 3
    kept = out["dropout"] != 0
    assert 0 < kept.sum() < x.size
    np.testing.assert_allclose(out["dropout"][kept], x[kept] / np.float32(0.8), rtol=1e-6)
    assert sorted(out["permutation"][0].tolist()) == list(range(6))
    assert (out["binomial"][:, 0] == 0).all() and (out["binomial"][:, -1] == 5).all()
    assert len(set(np.diff(out["walk"], axis=0).ravel().tolist())) > 1  # fresh draws each step


def test_emulated_shape_error_inside_scan_changes_no_shared_variable(emulated_pair):
    f, names, W, srng = emulated_pair[0]
    before_W, before_states = W.get_value(), _states(srng)
    x, seq, h0, s = _data(4)
    with pytest.raises(ValueError, match="inside scan"):
        f(x, seq, np.zeros((BATCH, HIDDEN - 1), "float32"), s)  # h's columns != W's rows
    np.testing.assert_array_equal(W.get_value(), before_W)
    for a, b in zip(_states(srng), before_states):
        np.testing.assert_array_equal(a, b)


def test_emulated_scan_of_no_steps_equals_the_cpu(emulated_pair):
    (f, names, W, streams), (cpu, _, W_cpu, streams_cpu) = emulated_pair
    x, seq, h0, s = _data(5)
    seq = seq[:0]  # n_steps = 0: the stacks of a loop that never ran
    got, want = f(x, seq, h0, s), cpu(x, seq, h0, s)
    for name, a, b in zip(names, got, want):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)
    out = dict(zip(names, got))
    assert out["states"].shape == (0, BATCH, HIDDEN) and float(out["cost"]) == 0.0
    assert not out["gW"].any()


def _nested(device):
    """A scan whose step runs a scan and an ifelse."""
    m, s = T.fmatrix("m"), T.fscalar("s")

    def outer(row, acc):
        inner, _ = croton.scan(lambda a, c: c * 0.5 + a, sequences=row,
                               outputs_info=T.constant(np.float32(0)))
        return acc + ifelse(s > 0, inner[-1], inner.sum())

    out, _ = croton.scan(outer, sequences=m, outputs_info=T.constant(np.float32(1)))
    return croton.function([m, s], [out, out.sum()], device=device)


def test_emulated_nested_scan_with_an_ifelse_in_its_step_equals_the_cpu(emulated_device):
    f, cpu = _nested("cuda"), _nested("cpu")
    assert f.source.count("read_value<bool>") == 1 and "scan_step_1(" in f.source
    m = np.random.default_rng(0).standard_normal((4, 6)).astype("float32")
    for sign in (1.0, -1.0):
        for a, b in zip(f(m, np.float32(sign)), cpu(m, np.float32(sign))):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def _bad_p():
    srng = RandomStreams(1)
    p = T.fscalar("p")
    draw = srng.binomial((4,), p=p)
    f = croton.function([p], draw, updates=[draw.update], device="cuda")
    f.srng = srng
    return f


def test_emulated_random_checks_fail_the_call_and_keep_the_state(emulated_device):
    f = _bad_p()
    state = f.srng.updates()[0][0]
    with pytest.raises(ValueError, match="binomial: p must be in \\[0, 1\\]"):
        f(np.float32(1.5))
    assert int(state.get_value()[1]) == 0
    assert f(np.float32(1.0)).tolist() == [1, 1, 1, 1]
    assert int(state.get_value()[1]) == 1
    srng, w = RandomStreams(2), T.dvector("w")
    pick = srng.choice((3,), a=4, replace=False, p=w)
    g = croton.function([w], pick, updates=[pick.update], device="cuda")
    state = pick.update[0]
    for bad, words in (([0.5, 0.5, 0.5, 0.5], "do not sum to 1"),
                       ([0.5, -0.5, 0.5, 0.5], "must be non-negative"),
                       ([0.5, 0.5, 0.0, 0.0], "fewer non-zero entries in p")):
        with pytest.raises(ValueError, match=words):
            g(np.array(bad))
    assert int(state.get_value()[1]) == 0
    assert sorted(g(np.array([0.25, 0.25, 0.0, 0.5])).tolist()) == [0, 1, 3]


def test_emulated_streams_under_device_cuda_keep_their_state_on_the_device(emulated_device,
                                                                          monkeypatch):
    from croton.cuda.array import DeviceArray

    monkeypatch.setattr(config, "device", "cuda")
    srng = RandomStreams(3)
    u = srng.uniform((6,))
    state = u.update[0]
    assert isinstance(state.get_value(borrow=True, return_internal_type=True), DeviceArray)
    f = croton.function([], u, updates=[u.update])
    first, second = f(), f()
    monkeypatch.setattr(config, "device", "cpu")
    ref = RandomStreams(3)
    v = ref.uniform((6,))
    g = croton.function([], v, updates=[v.update])
    np.testing.assert_array_equal(first, g())
    np.testing.assert_array_equal(second, g())
    assert state.get_value().tolist()[1] == 2


def test_a_cpu_kernel_inside_a_scan_step_is_refused_by_name():
    """The step function's steps are checked as the function's are (before: nvcc's error)."""
    from croton.codegen.lower import lower
    from croton.codegen.pipeline import run_pipeline
    from croton.codegen.render import render_function
    from croton.codegen.target import CUDA
    from croton.fgraph import Graph

    m = T.fmatrix("m")
    import dataclasses

    rows, _ = croton.scan(lambda r: T.det(T.outer(r, r)), sequences=m)
    cpu_plan = lower(run_pipeline(Graph.make([m], [rows]), "FAST_RUN")).plan
    step = cpu_plan.subfunctions[0].plan  # the step's det is the CPU's (every op has a CUDA
    assert "croton::det" in repr(step)    # kernel now): its plan printed for CUDA is refused
    with pytest.raises(NotImplementedError, match=r"\(the CPU kernel croton::det\)"):
        render_function(dataclasses.replace(cpu_plan, target=CUDA))
    v = T.dvector("v")  # complex values only inside a fused loop of the step: no complex buffer

    def step(r, acc):
        return acc + T.real((r + 1j) * (acc + 1j))

    parts, _ = croton.scan(step, sequences=v, outputs_info=T.constant(0.0, dtype="float64"))
    plan = lower(run_pipeline(Graph.make([v], [parts]), "FAST_RUN"), target=CUDA).plan
    with pytest.raises(NotImplementedError, match="complex arithmetic inside a fused loop"):
        render_function(plan)
