"""Run one workload of one implementation in a subprocess and parse what it prints.

The shared scripts print one JSON line per workload, e.g.
``{"impl": "croton", "workload": "matmul", "ms": 12.7, "numpy_ms": 13.3, "GFLOPs": 169.0}``.
Each (implementation, workload) pair gets a fresh process, so a workload that raises (an op
croton lacks), crashes or hangs is recorded as a failure and the bench goes on. A script that
cannot run a workload says so with a ``"skipped"`` reason instead of figures (PyTensor has no
``conv2d`` for ``lenet_step``); that is recorded as skipped, neither a result nor a failure.
With ``busy=N`` every run has N busy processes (:mod:`bench.contention`) beside it from before
the workload's process starts until it has ended.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.contention import BusyProcesses
from bench.cpu_distance import round_trip_ns
from bench.impls import Impl

_TAIL_LINES = 25
_MAX_MESSAGE = 200


@dataclass
class RunResult:
    """The outcome of running one workload for one implementation (possibly repeated).

    ``metrics`` holds the median over repeats of each figure the script reported;
    ``samples`` keeps every repeat's value. On failure ``error`` is the one-line reason and
    ``error_tail`` the last lines of the subprocess's output, for the report's details. When
    the script skipped the workload, ``skipped`` holds its reason and there are no figures.
    ``busy`` is the number of busy processes that ran beside it.
    """

    impl: str
    workload: str
    metrics: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    error_tail: str = ""
    wall_s: float = 0.0
    skipped: str | None = None
    busy: int = 0

    @property
    def ok(self) -> bool:
        """True when the workload ran and reported figures."""
        return self.error is None and self.skipped is None

    @property
    def failed(self) -> bool:
        """True when the workload failed (raised, crashed, timed out, printed no result)."""
        return self.error is not None


def first_error_line(stderr: str, returncode: int) -> str:
    """The first line of the exception a failed Python process died with.

    Looks for the last ``Traceback`` block in ``stderr`` and returns the first unindented
    line after it (``ExcType: message``). Without a traceback, reports the signal that killed
    the process, or the last non-empty line of ``stderr``, or the exit status.
    """
    lines = stderr.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.startswith("Traceback (most recent call last)")]
    if starts:
        for ln in lines[starts[-1] + 1 :]:
            if ln.strip() and not ln[0].isspace():
                return _shorten(ln.strip())
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    nonempty = [ln.strip() for ln in lines if ln.strip()]
    if nonempty:
        return _shorten(nonempty[-1])
    return f"exit status {returncode}"


def _shorten(text: str) -> str:
    """Clip a message to a table-friendly length and keep it on one line."""
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def parse_result_lines(stdout: str, workload: str) -> dict[str, float] | None:
    """The numeric figures from the JSON line reporting ``workload``, or None if absent."""
    found: dict[str, float] | None = None
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("workload") != workload:
            continue
        found = {  # several lines may report one workload (figures, then peak memory)
            **(found or {}),
            **{k: float(v) for k, v in record.items()
               if k not in ("impl", "workload") and isinstance(v, int | float)},
        }
    return found


def parse_skip_reason(stdout: str, workload: str) -> str | None:
    """The reason from a ``{"workload": workload, "skipped": "..."}`` line, or None."""
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("workload") == workload and "skipped" in record:
            return _shorten(str(record["skipped"]).strip() or "skipped")
    return None


def _tail(*texts: str) -> str:
    """The last lines of the combined output, for failure details."""
    lines = "\n".join(t for t in texts if t).splitlines()
    return "\n".join(lines[-_TAIL_LINES:])


def run_once(
    impl: Impl, workload: str, cwd: Path, timeout: float, busy: int = 0
) -> RunResult:
    """Run ``workload`` once for ``impl`` in a fresh subprocess, with ``busy`` busy
    processes running beside it for the whole of the run (none by default)."""
    result = RunResult(impl.name, workload, busy=busy)
    # Where the host had put the CPUs (quiet runs: a busy process would skew the probe).
    distance_before = round_trip_ns() if busy == 0 else None
    t0 = time.perf_counter()
    try:
        # The busy processes outlive the run by at most a minute should they not be killed.
        with BusyProcesses(busy, limit_s=timeout + 60.0):
            t0 = time.perf_counter()
            proc = subprocess.run(
                impl.command(workload),
                cwd=cwd,
                env=impl.environ(),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
    except subprocess.TimeoutExpired as exc:
        result.wall_s = time.perf_counter() - t0
        result.error = f"timed out after {timeout:g} s"
        result.error_tail = _tail(_text(exc.stdout), _text(exc.stderr))
        return result
    except OSError as exc:
        result.wall_s = time.perf_counter() - t0
        result.error = _shorten(f"could not start {impl.python}: {exc}")
        return result
    except RuntimeError as exc:  # a busy process did not start
        result.wall_s = time.perf_counter() - t0
        result.error = _shorten(str(exc))
        return result
    result.wall_s = time.perf_counter() - t0
    if proc.returncode != 0:
        result.error = first_error_line(proc.stderr, proc.returncode)
        result.error_tail = _tail(proc.stderr)
        return result
    skipped = parse_skip_reason(proc.stdout, workload)
    if skipped is not None:
        result.skipped = skipped
        return result
    metrics = parse_result_lines(proc.stdout, workload)
    if metrics is None:
        result.error = "no result line in the script's output"
        result.error_tail = _tail(proc.stdout, proc.stderr)
        return result
    distance_after = round_trip_ns() if distance_before is not None else None
    if distance_before is not None and distance_after is not None:
        metrics["cpu_round_trip_ns"] = max(distance_before, distance_after)
    result.metrics = metrics
    result.samples = {k: [v] for k, v in metrics.items()}
    return result


def _text(data: str | bytes | None) -> str:
    """Normalise the partial output a ``TimeoutExpired`` carries."""
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def run_interleaved(
    impls: list[Impl], workload: str, cwd: Path, timeout: float, repeat: int = 1,
    progress=None, busy: int = 0,
) -> dict[str, RunResult]:
    """Run ``workload`` on every implementation ``repeat`` times, in rounds: each round runs
    each implementation once (in an order rotated from round to round), so a slow spell of
    this shared machine falls on all of them rather than on one implementation's series.
    Reports per-figure medians; an implementation's first failure (or skip) ends its series.
    ``busy`` busy processes run beside every run (see :func:`run_once`).

    Example: 3 implementations, repeat 2 -> a b c, b c a."""
    samples: dict[str, dict[str, list[float]]] = {i.name: {} for i in impls}
    wall = {i.name: 0.0 for i in impls}
    failed: dict[str, RunResult] = {}
    for round_no in range(max(1, repeat)):
        shift = round_no % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            if impl.name in failed:
                continue
            one = run_once(impl, workload, cwd, timeout, busy)
            wall[impl.name] += one.wall_s
            if progress is not None:
                progress(impl.name, round_no, one)
            if not one.ok:
                one.wall_s = wall[impl.name]
                failed[impl.name] = one
                continue
            for key, value in one.metrics.items():
                samples[impl.name].setdefault(key, []).append(value)
    results = {}
    for impl in impls:
        results[impl.name] = failed.get(impl.name) or RunResult(
            impl.name,
            workload,
            metrics={k: float(statistics.median(v)) for k, v in samples[impl.name].items()},
            samples=samples[impl.name],
            wall_s=wall[impl.name],
            busy=busy,
        )
    return results
