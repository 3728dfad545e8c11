"""The call path under hostile inputs (issue 12): byte order, inputs aliasing shared storage
written in place, read-only borrowed storage, per-call staging (threads, re-entrant calls),
shape arithmetic that overflows, exact conversion of Python numbers, unaligned inputs,
SIGINT during a call, the GIL released during long calls, Theano's c* and z* constructors and
the wording of a missing-argument error. Runs that could crash or hang run in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_in_threads

import croton
import croton.tensor as T

ROOT = Path(__file__).resolve().parent.parent


def _run_python(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (same cache, this source tree): a crash or a hang fails
    the test instead of killing pytest."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=str(ROOT))


# --- 1. byte order ------------------------------------------------------------------------------

def test_big_endian_inputs_are_converted():
    x = T.dvector("x")
    f = croton.function([x], x * 2)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0, 3.0], ">f8")), [2.0, 4.0, 6.0])
    v = T.fvector("v")
    g = croton.function([v], v + 1)
    np.testing.assert_array_equal(g(np.array([1.5, -2.0], ">f4")), np.float32([2.5, -1.0]))
    # a training step with a big-endian batch applies the right update
    W = croton.shared(np.array([1.0, 2.0]), "W")
    step = croton.function([x], [], updates=[(W, W - 0.5 * x)])
    step(np.array([2.0, 4.0], ">f8"))
    np.testing.assert_array_equal(W.get_value(), [0.0, 0.0])


def test_big_endian_shared_values_and_constants_are_converted():
    a = np.arange(4.0).reshape(2, 2).astype(">f8")
    W = croton.shared(a, "W")
    assert W.dtype == "float64" and W.get_value().dtype == np.dtype("float64")
    np.testing.assert_array_equal(W.get_value(), np.arange(4.0).reshape(2, 2))
    W.set_value(np.array([[5.0, 6.0], [7.0, 8.0]], ">f8"))
    f = croton.function([], W.sum() + T.constant(np.array([1.0, 2.0], ">f8")).sum())
    assert float(f()) == 29.0


# --- 2. inputs aliasing shared storage written in place -----------------------------------------

def test_input_that_is_the_updated_shared_storage():
    W = croton.shared(np.arange(4.0).reshape(2, 2), "W")
    m = T.dmatrix("m")
    g = croton.function([m], [], updates=[(W, W + m.T)])
    g(W.get_value(borrow=True))
    np.testing.assert_array_equal(W.get_value(), [[0.0, 3.0], [3.0, 6.0]])


def test_reversed_view_of_the_updated_storage():
    W = croton.shared(np.arange(4.0), "W")
    x = T.dvector("x")
    g = croton.function([x], [], updates=[(W, x[::-1] + W)])
    g(W.get_value(borrow=True))
    np.testing.assert_array_equal(W.get_value(), [3.0, 3.0, 3.0, 3.0])
    # a strided view of part of it
    W.set_value(np.arange(8.0))
    V = croton.shared(np.zeros(4), "V")
    h = croton.function([x], [], updates=[(W, W * 2), (V, V + x)])
    h(W.get_value(borrow=True)[::2])  # not written (only W is): V gets the old values
    np.testing.assert_array_equal(V.get_value(), [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(W.get_value(), np.arange(8.0) * 2)


def test_two_shared_variables_over_one_array():
    a = np.arange(3.0)
    W = croton.shared(a, "W", borrow=True)
    V = croton.shared(a, "V", borrow=True)
    g = croton.function([], [], updates=[(W, W + V[::-1])])
    g()
    np.testing.assert_array_equal(W.get_value(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(V.get_value(), [0.0, 1.0, 2.0])  # V was not updated
    g()  # apart now (remembered by the binding)
    np.testing.assert_array_equal(W.get_value(), [4.0, 3.0, 2.0])
    W.set_value(V.get_value(borrow=True), borrow=True)  # together again
    g()
    np.testing.assert_array_equal(W.get_value(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(V.get_value(), [0.0, 1.0, 2.0])


def test_read_only_borrowed_storage_is_not_written():
    a = np.arange(3.0)
    W = croton.shared(a, "W", borrow=True)
    a.flags.writeable = False
    g = croton.function([], [], updates=[(W, W + 1)])
    g()
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0])  # the user's locked array is untouched
    np.testing.assert_array_equal(W.get_value(), [1.0, 2.0, 3.0])
    g()
    np.testing.assert_array_equal(W.get_value(), [2.0, 3.0, 4.0])
    # a failed call leaves the value as it was
    x = T.dvector("x")
    b = np.ones(2)
    V = croton.shared(b, "V", borrow=True)
    b.flags.writeable = False
    h = croton.function([x], [], updates=[(V, V + x)])
    with pytest.raises(ValueError):
        h(np.ones(3))
    assert V.get_value(borrow=True) is b


# --- 3. staging belongs to the call -------------------------------------------------------------

def test_reentrant_call_from_array_method():
    x, y = T.dvectors("x", "y")
    f = croton.function([x, y], x.sum() * 1000 + y.sum())

    class Reentrant:
        def __array__(self, dtype=None, copy=None):
            inner = f([7.0, 7.0], [0.0, 0.0])  # stages its own x while the outer call converts
            assert float(inner) == 14000.0
            return np.array([1.0, 2.0])

    assert float(f([1.0, 2.0], Reentrant())) == 3003.0


def test_threads_calling_one_function():
    x, y = T.dvectors("x", "y")
    f = croton.function([x, y], x.sum() * 1000 + y.sum())
    wrong = []

    class Yielding:
        """Converted by the Python converter, which lets other threads run meanwhile."""

        def __array__(self, dtype=None, copy=None):
            time.sleep(0.0001)
            return np.array([1.0, 2.0])

    def worker(k: int) -> None:
        for n in range(100):
            a = float(k * 1000 + n)
            # x is staged by the binding, then y's conversion lets the other threads call f
            got = float(f([a, 1.0], Yielding()))
            if got != (a + 1.0) * 1000 + 3.0:
                wrong.append((a, got))

    run_in_threads(worker)
    assert wrong == []


# --- 4. shape arithmetic that overflows ---------------------------------------------------------

def test_huge_shapes_raise_instead_of_wrapping():
    proc = _run_python("""
        import numpy as np, croton, croton.tensor as T
        k, j = T.lscalars('k', 'j')
        f = croton.function([k, j], T.zeros((k, j)).sum())
        g = croton.function([k, j], T.zeros((k, j)))
        h = croton.function([k, j], T.ones((k, j)) * 2, mode='FAST_COMPILE')
        for fn in (f, g, h):
            for n in (2**32, 2**31, 2**62):
                try:
                    fn(n, n)
                except (ValueError, MemoryError) as e:
                    print(type(e).__name__, 'too big' in str(e))
                else:
                    print('no error')
        print(float(f(3, 4)), g(2, 3).shape)
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.split("\n")
    assert lines[:9] == ["ValueError True"] * 9, proc.stdout
    assert lines[9] == "0.0 (2, 3)"


def test_shapes_computed_from_values_do_not_wrap():
    proc = _run_python("""
        import numpy as np, croton, croton.tensor as T
        x = T.dvector('x')
        a, b = T.lscalars('a', 'b')
        r = T.lvector('r')
        reshape = croton.function([x, a, b], T.reshape(x, (a, b)) * 2)
        repeat = croton.function([x, r], T.repeat(x, r))
        arange = croton.function([a, b], T.arange(a, b))
        for fn, args in [(reshape, (np.arange(4.0), 2**62 + 1, 4)),  # product wraps to 4
                         (repeat, (np.arange(4.0), [2**62] * 4)),     # total wraps to 0
                         (arange, (-2**63, 2**63 - 1))]:              # span overflows
            try:
                fn(*args)
            except ValueError as e:
                print('ValueError')
            else:
                print('no error')
        print(reshape(np.arange(4.0), 2, 2).tolist(), repeat(np.arange(2.0), [2, 1]).tolist(),
              arange(-2, 2).tolist())
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[:4] == [
        "ValueError", "ValueError", "ValueError",
        "[[0.0, 2.0], [4.0, 6.0]] [0.0, 0.0, 1.0] [-2, -1, 0, 1]"], proc.stdout


# --- 5. Python numbers convert exactly or not at all --------------------------------------------

def test_inexact_python_ints_are_refused_consistently():
    d, fs = T.dscalar("d"), T.fscalar("fs")
    f = croton.function([d], d)
    g = croton.function([fs], fs)
    assert float(f(2**53)) == 2.0**53
    with pytest.raises(TypeError, match="loses information"):
        f(2**53 + 1)
    with pytest.raises(TypeError, match="loses information"):
        g(2**24 + 1)
    v = T.dvector("v")
    h = croton.function([v], v)
    with pytest.raises(TypeError, match="loses information"):
        h([1.0, 2**53 + 1])
    # allow_input_downcast accepts the rounding, as Theano
    f2 = croton.function([d], d, allow_input_downcast=True)
    assert float(f2(2**53 + 1)) == 2.0**53
    # exact conversions are unchanged
    assert float(f(-(2**60))) == -(2.0**60)
    assert float(g(2**24)) == 2.0**24
    i = T.lscalar("i")
    assert int(croton.function([i], i)(2**53 + 1)) == 2**53 + 1


# --- 11. unaligned inputs -----------------------------------------------------------------------

def test_unaligned_contiguous_input_is_copied():
    buf = bytearray(8 * 5 + 1)
    a = np.frombuffer(buf, "f8", count=5, offset=1)
    assert not a.flags.aligned and a.flags.c_contiguous
    a_values = np.arange(5.0)
    memoryview(buf)[1:] = a_values.tobytes()
    x = T.dvector("x")
    f = croton.function([x], x * 2)
    np.testing.assert_array_equal(f(a), a_values * 2)
    # unaligned and big-endian at once
    b = np.frombuffer(bytearray(1) + np.arange(3.0).astype(">f8").tobytes(), ">f8", offset=1)
    np.testing.assert_array_equal(f(b), [0.0, 2.0, 4.0])


# --- 13. SIGINT during a call -------------------------------------------------------------------

def test_sigint_during_a_call_leaves_no_update():
    # With a long switch interval the helper thread gets the GIL only when the main thread gives
    # it up: inside the call, once the kernels run (or, with the GIL held throughout, only
    # after the call, at timer.join(), where the KeyboardInterrupt escapes: the test fails).
    proc = _run_python("""
        import os, signal, sys, threading, numpy as np, croton, croton.tensor as T
        A, B = T.dmatrices('A', 'B')
        W = croton.shared(np.zeros(2), 'W')
        g = croton.function([A, B], T.dot(A, B).sum(), updates=[(W, W + 1)])
        a = np.full((1000, 1000), 1e-3)
        g(a[:2, :2], a[:2, :2])  # W = [1, 1]
        signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored if pytest runs in &
        sys.setswitchinterval(30)
        results = []
        for attempt in range(3):
            before = W.get_value()
            go = threading.Event()
            helper = threading.Thread(target=lambda: (go.wait(), os.kill(os.getpid(),
                                                                         signal.SIGINT)))
            helper.start()
            go.set()
            try:
                g(a, a)
                results.append('completed')
            except KeyboardInterrupt:
                results.append('interrupted' if (W.get_value() == before).all() else 'BAD')
            helper.join()
            if results[-1] == 'interrupted':
                break
        print(' '.join(results), W.get_value()[0] == 1 + results.count('completed'))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    # each call either completed (the signal came after the commit point), or raised with no
    # update written; the kernels take long enough for the signal to come during them
    assert "BAD" not in words and "interrupted" in words and words[-1] == "True", proc.stdout


def test_sigint_after_the_commit_point_says_the_step_completed():
    # W += A.B is computed in place into W after the commit point (a long gemm): a Ctrl-C that
    # lands there cannot undo it, so it comes out as StepInterrupted with the step's outputs.
    proc = _run_python("""
        import os, signal, sys, threading, time, numpy as np, croton, croton.tensor as T
        from croton.function_module import StepInterrupted
        A, B = T.dmatrices('A', 'B')
        W = croton.shared(np.zeros((1000, 1000)), 'W')
        g = croton.function([A, B], A[0, 0] * 2, updates=[(W, W + T.dot(A, B))])
        a = np.full((1000, 1000), 1e-3)
        g(a, a)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.setswitchinterval(30)
        step = a @ a
        seen = []
        for attempt in range(5):
            before, outcome = W.get_value(), None
            helper = threading.Thread(target=lambda: (time.sleep(0.002),
                                                      os.kill(os.getpid(), signal.SIGINT)))
            try:
                helper.start()
                g(a, a)
                outcome = 'completed'  # the signal comes after the call
                helper.join()
                time.sleep(0.05)
            except StepInterrupted as e:
                ok = np.allclose(W.get_value(), before + step) and float(e.outputs) == 2e-3
                outcome = 'step_interrupted' if ok else 'BAD'
            except KeyboardInterrupt:
                if outcome is None:  # before the commit point: nothing written
                    outcome = 'interrupted' if (W.get_value() == before).all() else 'BAD'
            helper.join()
            if outcome == 'completed' and not np.allclose(W.get_value(), before + step):
                outcome = 'BAD'
            seen.append(outcome)
            if outcome == 'step_interrupted':
                break
        print(' '.join(seen))
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    assert "BAD" not in words and "step_interrupted" in words, proc.stdout


# --- 14. the GIL --------------------------------------------------------------------------------

def test_other_threads_run_during_a_long_call():
    A, B = T.dmatrices("A", "B")
    f = croton.function([A, B], T.dot(A, B).sum())
    a = np.full((1000, 1000), 1e-3)
    f(a[:2, :2], a[:2, :2])
    ticks: list[int] = []
    stop = threading.Event()

    def helper() -> None:
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.0005)  # gives the GIL back at once

    old = sys.getswitchinterval()
    sys.setswitchinterval(30)  # the main thread gives the GIL up only when it blocks
    t = threading.Thread(target=helper)
    t.start()
    progressed = []
    try:
        time.sleep(0.01)
        for _ in range(3):
            n0 = len(ticks)
            result = f(a, a)  # holding the GIL, no tick could happen in here
            progressed.append(len(ticks) - n0)
            assert float(result) == pytest.approx(1000**3 * 1e-6)
            if progressed[-1]:
                break
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert max(progressed) > 0, progressed


# --- smaller: Theano's c* and z* constructors and error wording -----------------------------------

def test_c_and_z_constructors_follow_theano():
    assert T.cscalar().dtype == "complex64"
    assert T.cmatrix().dtype == "complex64"
    assert T.zscalar().dtype == "complex128"
    assert T.ztensor3().dtype == "complex128" and T.ztensor3().ndim == 3
    a, b = T.zvectors("a", "b")
    assert a.dtype == b.dtype == "complex128" and (a.name, b.name) == ("a", "b")
    assert [v.dtype for v in T.cmatrices("p", "q")] == ["complex64"] * 2
    f = croton.function([a], a * 2)
    np.testing.assert_array_equal(f(np.array([1 + 2j])), [2 + 4j])


def test_missing_argument_is_named_once():
    x, y = T.dvectors("x", "y")
    f = croton.function([x, y], x + y)
    with pytest.raises(TypeError) as info:
        f([1.0])
    message = str(info.value)
    assert message.count("function") == 1 and message.count(f.name) == 1, message
    assert "missing argument 1 ('y')" in message
    named = croton.function([x, y], x + y, name="train")
    with pytest.raises(TypeError, match=r"function 'train' \(built at .*\) is missing "
                                        r"argument 1 \('y'\)"):
        named([1.0])
