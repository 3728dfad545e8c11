"""The bench harness (``python -m bench``): workloads, ``--contention N``, skipped workloads.

No test here measures time or needs the peers: the end-to-end tests drive the real command
line with small stand-in workload scripts (and stand-in ``pytensor``/``jax`` modules for the
import check), and the report tests render hand-made RunResults.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bench import WORKLOADS
from bench.cli import build_parser, main
from bench.contention import BUSY_MARKER, BusyProcesses
from bench.cpu_distance import round_trip_ns
from bench.impls import Impl, Probe
from bench.report import Report, contention_rows, metric_for
from bench.runner import RunResult, parse_skip_reason, run_interleaved, run_once

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# Counts the live busy processes that are children of ``parent`` (shared with the stand-in
# workload script below, which counts its siblings).
COUNT_BUSY = textwrap.dedent(
    f"""
    def count_busy(parent):
        import os
        n = 0
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open(f'/proc/{{pid}}/cmdline', 'rb') as fh:
                    argv = fh.read().split(b'\\0')
                with open(f'/proc/{{pid}}/stat') as fh:
                    fields = fh.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if {BUSY_MARKER!r}.encode() in argv and fields[0] != 'Z' and int(fields[1]) == parent:
                n += 1
        return n
    """
)
_ns: dict = {}
exec(COUNT_BUSY, _ns)
count_busy = _ns["count_busy"]

# A stand-in for workloads_theano.py / workloads_peers.py: reports how many busy siblings ran
# at the start and at the end of the "measurement", and skips lenet_step on pytensor as the
# real script does.
FAKE_SCRIPT = COUNT_BUSY + textwrap.dedent(
    """
    import json, os, sys, time
    impl = os.environ.get("THEANO_IMPL") or sys.argv[1]
    for name in [a for a in sys.argv[1:] if a not in ("jax", "torch")]:
        if name == "lenet_step" and impl == "pytensor":
            print(json.dumps({"impl": impl, "workload": name,
                              "skipped": "no conv2d/pool_2d: stand-in"}), flush=True)
            continue
        first = count_busy(os.getppid())
        time.sleep(0.05)
        last = count_busy(os.getppid())
        print(json.dumps({"impl": impl, "workload": name, "ms_per_step": 1.0,
                          "busy_first": first, "busy_last": last}), flush=True)
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def peers_dir(tmp_path: Path) -> Path:
    d = tmp_path / "peers"
    d.mkdir()
    for name in ("workloads_theano.py", "workloads_peers.py"):
        (d / name).write_text(FAKE_SCRIPT)
    return d


# --- the command line ---------------------------------------------------------------------


def test_new_workloads_are_in_the_default_list():
    assert WORKLOADS[-2:] == ("lenet_step", "rnn_step")
    args = build_parser().parse_args([])
    assert args.workloads == [] and args.contention == 0  # [] means every workload


def test_contention_argument():
    parser = build_parser()
    assert parser.parse_args(["--contention", "3", "mlp_step"]).contention == 3
    assert parser.parse_args(["--contention", "0"]).contention == 0


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_contention_argument_rejects_bad_values(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([f"--contention={bad}"])
    assert exc.value.code == 2
    assert "--contention" in capsys.readouterr().err


# --- the busy processes -------------------------------------------------------------------


@linux_only
def test_busy_processes_run_inside_the_block_and_are_all_gone_after():
    with BusyProcesses(2, limit_s=60) as busy:
        pids = busy.pids
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        assert count_busy(os.getpid()) == 2
    assert busy.pids == []
    assert not any(_alive(p) for p in pids)
    assert count_busy(os.getpid()) == 0


@linux_only
@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_busy_processes_are_killed_on_error_and_on_ctrl_c(exc_type):
    pids: list[int] = []
    with pytest.raises(exc_type):
        with BusyProcesses(2, limit_s=60) as busy:
            pids = busy.pids
            raise exc_type("interrupted")
    assert len(pids) == 2 and not any(_alive(p) for p in pids)


def test_zero_busy_processes_start_nothing():
    with BusyProcesses(0, limit_s=1) as busy:
        assert busy.pids == []


def test_busy_processes_bad_arguments():
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        BusyProcesses(-1, limit_s=1)
    with pytest.raises(ValueError, match="limit_s must be > 0, got 0"):
        BusyProcesses(1, limit_s=0)


def test_busy_process_ends_by_itself_after_its_time_limit():
    busy = BusyProcesses(1, limit_s=0.5)
    busy.start()
    try:
        (proc,) = busy._procs
        assert proc.wait(timeout=30) == 0  # it stopped spinning on its own
    finally:
        busy.stop()


@linux_only
def test_busy_processes_die_with_a_bench_that_is_killed_outright():
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from bench.contention import BusyProcesses\n"
         "b = BusyProcesses(2, limit_s=120); b.start()\n"
         "print(*b.pids, flush=True); time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: only the children's guard
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


# --- runs with busy processes and skipped workloads ---------------------------------------


def _impl(name: str, peers_dir: Path, env: dict | None = None) -> Impl:
    return Impl(name, name, sys.executable, peers_dir / "workloads_theano.py", name,
                env=env or {"THEANO_IMPL": name})


@linux_only
def test_busy_processes_run_beside_every_run_for_the_whole_run(peers_dir):
    impls = [_impl("croton", peers_dir), _impl("other", peers_dir)]
    seen = []
    results = run_interleaved(impls, "mlp_step", peers_dir, timeout=60, repeat=2,
                              progress=lambda name, k, r: seen.append((name, r.busy)), busy=2)
    assert seen == [("croton", 2), ("other", 2), ("other", 2), ("croton", 2)]
    for r in results.values():
        assert r.ok and r.busy == 2
        assert r.samples["busy_first"] == [2.0, 2.0] and r.samples["busy_last"] == [2.0, 2.0]
    assert count_busy(os.getpid()) == 0
    quiet = run_once(impls[0], "mlp_step", peers_dir, timeout=60)
    assert quiet.busy == 0 and quiet.metrics["busy_first"] == 0


@linux_only
def test_quiet_runs_record_how_far_apart_the_cpus_were(peers_dir):
    impl = _impl("croton", peers_dir)
    quiet = run_once(impl, "mlp_step", peers_dir, timeout=60)
    if round_trip_ns() is None:  # one CPU or no C++ compiler: nothing to record
        assert "cpu_round_trip_ns" not in quiet.metrics
    else:  # a cache line's round trip: tens to hundreds of ns on any machine
        assert 10 < quiet.metrics["cpu_round_trip_ns"] < 100_000
    busy = run_once(impl, "mlp_step", peers_dir, timeout=60, busy=1)
    assert busy.ok and "cpu_round_trip_ns" not in busy.metrics  # a busy CPU skews the probe
    assert metric_for("cpu_round_trip_ns").better is None  # a fact about the run, no speedup


def test_a_skipped_workload_is_neither_a_result_nor_a_failure(peers_dir):
    r = run_once(_impl("pytensor", peers_dir), "lenet_step", peers_dir, timeout=60)
    assert r.skipped == "no conv2d/pool_2d: stand-in"
    assert not r.ok and not r.failed and r.metrics == {}


def test_parse_skip_reason():
    out = ('noise\n{"impl": "p", "workload": "lenet_step", "skipped": "no conv2d"}\n'
           '{"workload": "lenet_step", "peak_rss_mb": 80.0}\n')
    assert parse_skip_reason(out, "lenet_step") == "no conv2d"
    assert parse_skip_reason(out, "rnn_step") is None
    assert parse_skip_reason('{"workload": "rnn_step", "ms_per_step": 3.0}', "rnn_step") is None


@linux_only
def test_command_line_with_contention_writes_quiet_and_contended_tables(
    peers_dir, tmp_path, monkeypatch, capsys
):
    # Stand-in peer modules, so that the import check finds pytensor and jax installed.
    mods = tmp_path / "mods"
    for mod in ("pytensor", "jax"):
        (mods / mod).mkdir(parents=True)
        (mods / mod / "__init__.py").write_text("__version__ = '0.0-stand-in'\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), str(REPO)]))
    out = tmp_path / "RESULTS.md"
    assert main(["lenet_step", "--peers", "pytensor,jax,torch",
                 "--peer-python", sys.executable, "--peers-dir", str(peers_dir),
                 "--contention", "2", "--out", str(out)]) == 0
    assert count_busy(os.getpid()) == 0
    md = out.read_text()
    assert "- Contention: every workload measured twice, quiet and with 2 busy processes" in md
    assert "## Results with 2 busy processes" in md and "## Quiet → with 2 busy processes" in md
    quiet, contended = md.split("## Results with 2 busy processes")
    # Every figure came from a process that saw its 2 busy siblings, or none when quiet.
    assert "|  | busy_first | 0 | skipped | 0 |" in quiet
    assert "|  | busy_first | 2 | skipped | 2 |" in contended
    assert "|  | busy_last | 2 | skipped | 2 |" in contended
    assert "| lenet_step | ms/step | 1 | skipped | 1 |" in quiet
    assert "- pytensor / lenet_step: `no conv2d/pool_2d: stand-in`" in md
    assert "- pytensor / lenet_step (with 2 busy processes): `no conv2d/pool_2d: stand-in`" in md
    assert "torch: not installed" in md and "## Failures" not in md
    console = capsys.readouterr().out
    assert "with 2 busy processes:" in console
    assert "SKIPPED pytensor lenet_step (with 2 busy processes): no conv2d" in console


def test_command_line_rejects_unknown_workload(peers_dir, capsys):
    with pytest.raises(SystemExit):
        main(["lenet", "--peers", "none", "--peers-dir", str(peers_dir), "--out", "-"])
    assert "unknown workload(s) lenet" in capsys.readouterr().err


# --- the report ---------------------------------------------------------------------------


def _result(impl: str, workload: str, busy: int = 0, **metrics: float) -> RunResult:
    return RunResult(impl, workload, metrics=dict(metrics),
                     samples={k: [v] for k, v in metrics.items()}, busy=busy)


def _report() -> Report:
    import datetime

    report = Report(
        command="python -m bench lenet_step rnn_step --contention 1",
        started=datetime.datetime(2026, 12, 7, tzinfo=datetime.timezone.utc),
        workloads=["lenet_step", "rnn_step"],
        peers=["pytensor", "jax"],
        probes={"croton": Probe(True, "0.1.0"), "pytensor": Probe(True, "3.0"),
                "jax": Probe(True, "0.10")},
        contention=1,
    )
    skip = RunResult("pytensor", "lenet_step", skipped="no conv2d/pool_2d")
    report.results = {
        ("croton", "lenet_step"): _result("croton", "lenet_step", ms_per_step=100.0,
                                          compile_s=5.0, peak_rss_mb=80.0),
        ("pytensor", "lenet_step"): skip,
        ("jax", "lenet_step"): _result("jax", "lenet_step", ms_per_step=50.0, compile_s=2.0),
        ("croton", "rnn_step"): _result("croton", "rnn_step", ms_per_step=30.0),
        ("pytensor", "rnn_step"): _result("pytensor", "rnn_step", ms_per_step=40.0),
        ("jax", "rnn_step"): _result("jax", "rnn_step", ms_per_step=20.0),
    }
    report.contended = {
        ("croton", "lenet_step"): _result("croton", "lenet_step", 1, ms_per_step=300.0,
                                          compile_s=6.0, peak_rss_mb=80.0),
        ("pytensor", "lenet_step"): RunResult("pytensor", "lenet_step",
                                              skipped="no conv2d/pool_2d", busy=1),
        ("jax", "lenet_step"): _result("jax", "lenet_step", 1, ms_per_step=60.0),
        ("croton", "rnn_step"): _result("croton", "rnn_step", 1, ms_per_step=60.0),
        ("pytensor", "rnn_step"): RunResult("pytensor", "rnn_step", error="boom", busy=1),
        ("jax", "rnn_step"): _result("jax", "rnn_step", 1, ms_per_step=25.0),
    }
    return report


def test_report_renders_quiet_and_contended_sections():
    md = _report().markdown()
    quiet, rest = md.split("## Results with 1 busy process\n")
    contended, rest = rest.split("## Quiet → with 1 busy process\n")
    # quiet: speedups vs each peer; a skipped peer gets no speedup
    assert "| lenet_step | ms/step | 100 | skipped | 50 | — | 0.50× |" in quiet
    assert "|  | compile s | 5 | skipped | 2 | — | 0.40× |" in quiet
    assert "| rnn_step | ms/step | 30 | 40 | 20 | 1.33× | 0.67× |" in quiet
    # contended: same layout, figures of the busy runs
    assert "| lenet_step | ms/step | 300 | skipped | 60 | — | 0.20× |" in contended
    assert "| rnn_step | ms/step | 60 | failed: boom | 25 | — | 0.42× |" in contended
    # side by side: quiet → busy (slowdown)
    assert ("| lenet_step | ms/step | 100 → 300 (3.00×) | skipped → skipped | 50 → 60 (1.20×) |"
            in rest)
    assert "| rnn_step | ms/step | 30 → 60 (2.00×) | 40 → failed | 20 → 25 (1.25×) |" in rest
    assert "- pytensor / lenet_step (with 1 busy process): `no conv2d/pool_2d`" in rest
    assert "### pytensor / rnn_step (with 1 busy process)" in rest


def test_report_without_contention_has_one_table():
    report = _report()
    report.contention, report.contended = 0, {}
    md = report.markdown()
    assert "- Contention: none (quiet" in md
    assert "busy process" not in md.replace("`--contention N` adds a run with N busy processes", "")
    assert "## Failures" not in md and "- pytensor / lenet_step: `no conv2d/pool_2d`" in md
    assert "with 1 busy" not in report.console()


def test_console_shows_both_tables_and_the_skip():
    text = _report().console()
    assert text.startswith("quiet (no busy processes):\n")
    assert "\nwith 1 busy process:\n" in text
    assert "quiet → with 1 busy process (busy/quiet):" in text
    assert "SKIPPED pytensor lenet_step: no conv2d/pool_2d" in text
    assert "FAILED pytensor rnn_step (with 1 busy process): boom" in text


def test_contention_rows_leave_out_figures_nobody_reported():
    quiet = {("croton", "w"): _result("croton", "w", ms=2.0, peak_rss_mb=10.0)}
    busy = {("croton", "w"): _result("croton", "w", 1, ms=3.0, peak_rss_mb=10.0)}
    assert contention_rows(["w"], ["croton", "jax"], quiet, busy) == [
        ["w", "ms/call", "2 → 3 (1.50×)", "not run → not run"]
    ]


def test_a_run_is_added_to_the_curated_record_not_over_it(peers_dir, tmp_path):
    """``--out bench/RESULTS.md`` (the default) keeps the sessions already recorded: the run
    becomes the newest section, its headings one level down; a file that is not a record is
    replaced by the run's report."""
    record = tmp_path / "RESULTS.md"
    record.write_text("# croton benchmark results\n\n## Session 14\n\nmlp_step 4.80 ms\n")
    argv = ["rnn_step", "--peers", "none", "--peers-dir", str(peers_dir), "--out", str(record)]
    assert main(argv) == 0
    md = record.read_text()
    assert md.startswith("# croton benchmark results\n\n## A `python -m bench` run\n\n- Date: ")
    assert md.count("# croton benchmark results") == 1 and "\n### Implementations\n" in md
    assert md.index("### Implementations") < md.index("## Session 14") and \
        md.endswith("## Session 14\n\nmlp_step 4.80 ms\n")
    other = tmp_path / "notes.md"
    other.write_text("not a record\n")
    assert main([*argv[:-1], str(other)]) == 0
    text = other.read_text()
    assert text.startswith("# croton benchmark results\n\n- Date: ") and "not a record" not in text
