"""The build driver: compile errors, timings by phase, the progress line, locks (stale, busy,
without flock), the pool of build trees, cache-miss explanations."""

import errno
import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from helpers import expected, run_program, seed_private_cache

import croton
import croton.tensor as T
from croton.build_tools import build, locks
from croton.build_tools.build import CompileError, build_function, function_key
from croton.build_tools.cache import Cache
from croton.build_tools.locks import HOST, FileLock
from croton.config import config


@pytest.fixture
def private(tmp_path, monkeypatch):
    """This process builds into a new cache directory that already has the binding layer."""
    root = seed_private_cache(tmp_path / "cache")
    monkeypatch.setattr(config, "cache_dir", str(root))
    return Cache(root)


def real_source(k: float) -> str:
    """The rendered C++ of ``x * k + 1`` (a new key for each k)."""
    from croton.build_tools.render_memo import render_source
    from croton.codegen.lower import lower
    from croton.codegen.pipeline import run_pipeline
    from croton.fgraph import Graph

    x = T.dvector("x")
    return render_source(lower(run_pipeline(Graph.make([x], [x * k + 1.0]))).plan)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_compile_error_names_command_first_error_and_kept_directory(private):
    source = real_source(1.5).replace("return", "retrun undeclared_name;", 1)
    with pytest.raises(CompileError) as info:
        build_function(source, label="broken")
    err = info.value
    assert "fn.cpp" in err.first_error and "error" in err.first_error
    assert any(os.path.basename(c) in ("c++", "g++", "clang++", "ccache", "sccache")
               for c in err.command[:2])
    assert err.build_dir.is_dir() and (err.build_dir / "fn.cpp").read_text() == source
    assert "retrun" in (err.build_dir / "build.log").read_text()
    assert str(err.build_dir) in str(err) and err.first_error in str(err)
    assert not private.keys()  # nothing half-built was committed
    # the slot is not damaged: the next function builds in it
    assert build_function(real_source(1.25), label="fine").cached is False


def test_compile_report_has_every_phase_and_profile_flag_logs_it(private, capfd, monkeypatch):
    monkeypatch.setattr(config, "profile_compile", True)
    x = T.dvector("x")
    f = croton.function([x], x * 3.0625 + 1.0, name="profiled")
    for phase in ("rewrite", "lower", "render", "configure", "compile", "link", "load"):
        assert phase in f.compile_report, phase
        assert f.compile_report[phase] >= 0.0
    assert f.compile_report["compile"] > 0.0  # from .ninja_log
    err = capfd.readouterr().err
    assert "croton: compile profile of profiled (ms): rewrite" in err and "link" in err
    meta = json.loads((f.build.entry_dir / "meta.json").read_text())
    assert meta["timings"]["compile"] == f.compile_report["compile"]


def test_slow_build_shows_one_progress_line(private, capfd, monkeypatch):
    monkeypatch.setattr(build, "PROGRESS_AFTER_SECONDS", 0.0)
    build_function(real_source(2.875), label="slowpoke")
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if "croton: building slowpoke" in ln]
    assert len(lines) == 1, err
    assert lines[0].split("(")[1].split(")")[0] in (
        "start", "waiting for a build tree", "configure", "compile", "commit")
    assert " done in " in lines[0]


def test_stale_lock_of_a_dead_process_is_broken_at_once(private, capfd):
    source = real_source(4.125)
    key = function_key(source)
    private.ensure()
    lock = private.lock_path(f"key-{key[:32]}")
    lock.write_text(f"{dead_pid()} {HOST} 1000.0\n")
    result = build_function(source, label="after a crash")
    assert result.cached is False and result.module is not None
    assert "waiting" not in capfd.readouterr().err


def test_without_flock_lock_files_are_used_and_stale_ones_broken(private, capfd, monkeypatch):
    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_flock)
    source = real_source(5.5)
    key = function_key(source)
    private.ensure()
    lock = private.lock_path(f"key-{key[:32]}")
    pid = dead_pid()
    lock.write_text(f"{pid} {HOST} 1000.0\n")
    result = build_function(source, label="nfs")
    assert result.cached is False
    err = capfd.readouterr().err
    assert "flock does not work" in err and "ENOLCK" in err
    assert f"broke the lock of {key[:16]}" in err and f"pid {pid}" in err
    assert "waiting" not in err
    assert not lock.exists()  # released: the lock file is gone
    # a live holder is respected: a second O_EXCL lock waits (here: does not get it)
    with FileLock(private.locks / "other.lock", "other"):
        assert FileLock(private.locks / "other.lock", "other").acquire(blocking=False) is False


def test_a_waiter_says_who_holds_the_lock(private, capfd):
    source = real_source(6.75)
    key = function_key(source)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from croton.build_tools.cache import Cache
        with Cache({str(private.base)!r}).key_lock({key!r}, "held"):
            print("locked", flush=True)
            time.sleep(1.5)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    result = build_function(source, label="waiter")
    holder.wait(timeout=60)
    assert result.cached is False
    err = capfd.readouterr().err
    line = next(ln for ln in err.splitlines() if "waiting for" in ln)
    assert f"croton: waiting for {key[:16]} (waiter) being built by pid {holder.pid} on host " \
           f"{HOST} since " in line
    assert f"(lock file {private.lock_path(f'key-{key[:32]}')})" in line


def test_a_busy_tree_makes_the_builder_take_another_slot(private):
    build_function(real_source(7.25), label="first")  # configures slot-0
    from croton.build_tools.toolchain import discover

    tc_dir = private.trees / discover().short
    with FileLock(tc_dir / "slot-0.lock", "slot-0"):
        result = build_function(real_source(7.5), label="second")
    meta = json.loads((result.entry_dir / "meta.json").read_text())
    assert meta["slot"] == 1
    assert (tc_dir / "slot-1" / "ready.json").exists()


def test_explain_cache_misses_names_the_differing_part(tmp_path):
    root = seed_private_cache(tmp_path / "cache")
    run_program(root, 8.5)
    # the same program (same label) with another constant: only the source differs
    _, err = run_program(root, 8.75, flags="explain_cache_misses=1")
    line = next(ln for ln in err.splitlines() if "cache miss" in ln)
    assert line.endswith("differs in source"), line
    # other flags: the flags part (and the resolved source stays the same)
    report, err = run_program(root, 8.5, flags="explain_cache_misses=1,optimization_flags=-O1 "
                              "-fwrapv")
    assert report["out"] == expected(8.5)
    line = next(ln for ln in err.splitlines() if "cache miss" in ln)
    assert "flags" in line and "source" not in line, line


def test_compiler_launcher_setting():
    from croton.build_tools.toolchain import ToolchainError, find_launcher

    assert find_launcher("none") == "" and find_launcher("") == ""
    auto = find_launcher("auto")
    assert auto == "" or os.path.basename(auto) in ("ccache", "sccache")
    with pytest.raises(ToolchainError):
        find_launcher(f"no-such-launcher-{uuid.uuid4().hex[:6]}")


def test_convolution_kernels_come_from_the_prebuilt_library():
    """A conv2d function links libcroton_kernels (by soname) and does not compile the
    convolution or the C ABI's entry itself: conv_forward<float> and call_through_abi are
    undefined symbols of its module, defined by the library; the results are the same as
    NumPy's (correlation of a flipped kernel)."""
    import numpy as np

    from croton.build_tools.build import cache
    from croton.build_tools.kernels import find_kernels, library_name
    from croton.build_tools.toolchain import discover

    x, w = T.ftensor4("x"), T.ftensor4("w")
    f = croton.function([x, w], T.nnet.conv2d(x, w))
    xv = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype("float32")
    wv = np.random.default_rng(1).standard_normal((3, 1, 2, 2)).astype("float32")
    flipped = wv[:, 0, ::-1, ::-1]
    want = np.stack([np.stack([sum(xv[n, 0, i:i + 4, j:j + 4] * flipped[k, i, j]
                                   for i in range(2) for j in range(2))
                               for k in range(3)]) for n in range(2)])
    np.testing.assert_allclose(f(xv, wv), want, rtol=1e-5, atol=1e-5)

    tc = discover()
    module = f.build.module.__file__
    needed = subprocess.run(["readelf", "-d", module], capture_output=True, text=True,
                            check=True).stdout
    assert f"[{library_name(tc.short)}]" in needed
    undefined = subprocess.run(["nm", "-DC", "--undefined-only", module], capture_output=True,
                               text=True, check=True).stdout
    assert "croton::conv_forward<float>" in undefined
    assert "croton::call_through_abi" in undefined  # the C ABI's entry checks, compiled once
    library = find_kernels(cache(), tc)
    defined = subprocess.run(["nm", "-DC", "--defined-only", str(library)],
                             capture_output=True, text=True, check=True).stdout
    assert "croton::conv_forward<float>" in defined and "croton::call_through_abi" in defined
