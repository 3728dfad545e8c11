"""Turn run results into the comparison table, on the console and as a markdown report."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Literal

from bench.impls import Probe
from bench.machine import machine_info
from bench.runner import RunResult

Better = Literal["lower", "higher"]
_CONSOLE_CELL = 48


@dataclass(frozen=True)
class Metric:
    """How to label a figure the scripts report, and which direction is better.

    ``better`` is None for reference figures (NumPy timed in the same process) that are
    not the implementation's own result; those get no speedup.
    """

    label: str
    better: Better | None


METRICS: dict[str, Metric] = {
    "us_per_call_list": Metric("µs/call (list input)", "lower"),
    "us_per_call_array": Metric("µs/call (array input)", "lower"),
    "ms": Metric("ms/call", "lower"),
    "ms_per_step": Metric("ms/step", "lower"),
    "compile_s": Metric("compile s", "lower"),
    "GBps": Metric("GB/s", "higher"),
    "GFLOPs": Metric("GFLOP/s", "higher"),
    "numpy_ms": Metric("NumPy ms (reference, same process)", None),
    "peak_rss_mb": Metric("peak RSS MB (whole process)", "lower"),
}


def metric_for(key: str) -> Metric:
    """The metadata for ``key``; unknown keys are shown as-is, without a speedup."""
    return METRICS.get(key, Metric(key, None))


def fmt_value(value: float) -> str:
    """Four significant digits, never in exponent notation for the usual ranges."""
    if value == 0:
        return "0"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    if abs(value) >= 0.001:
        return f"{value:.4g}"
    return f"{value:.3e}"


def speedup(key: str, croton: RunResult | None, peer: RunResult | None) -> float | None:
    """How many times faster croton is than ``peer`` on ``key`` (>1: croton wins).

    ``peer/croton`` for times, ``croton/peer`` for throughputs; None when not comparable.
    """
    better = metric_for(key).better
    if better is None or croton is None or peer is None or not (croton.ok and peer.ok):
        return None
    c, p = croton.metrics.get(key), peer.metrics.get(key)
    if c is None or p is None or c <= 0 or p <= 0:
        return None
    return p / c if better == "lower" else c / p


def _cell(result: RunResult | None, key: str | None, first: bool) -> str:
    """One implementation's cell for one metric row of a workload."""
    if result is None:
        return "not run"
    if not result.ok:
        return f"failed: {result.error}" if first else "failed"
    if key is None or key not in result.metrics:
        return "—"
    return fmt_value(result.metrics[key])


def _ordered_keys(results: list[RunResult | None]) -> list[str]:
    """The union of reported figures, known metrics first in :data:`METRICS` order."""
    keys: list[str] = []
    for r in results:
        if r is not None and r.ok:
            keys += [k for k in r.metrics if k not in keys]
    known = [k for k in METRICS if k in keys]
    return known + sorted(k for k in keys if k not in METRICS)


def build_table(
    workloads: list[str],
    peers: list[str],
    results: dict[tuple[str, str], RunResult],
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: workload, metric, croton, each peer, croton's speedup vs each peer."""
    header = ["workload", "metric", "croton", *peers, *(f"croton speedup vs {p}" for p in peers)]
    rows: list[list[str]] = []
    for w in workloads:
        croton = results.get(("croton", w))
        others = [results.get((p, w)) for p in peers]
        keys: list[str | None] = list(_ordered_keys([croton, *others])) or [None]
        for i, key in enumerate(keys):
            label = metric_for(key).label if key is not None else "—"
            row = [w if i == 0 else "", label, _cell(croton, key, i == 0)]
            row += [_cell(r, key, i == 0) for r in others]
            for r in others:
                s = speedup(key, croton, r) if key is not None else None
                row.append(f"{s:.2f}×" if s is not None else "—")
            rows.append(row)
    return header, rows


def render_markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped)."""

    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_console_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table; long cells (failure messages) are clipped."""

    def clip(cell: str) -> str:
        return cell if len(cell) <= _CONSOLE_CELL else cell[: _CONSOLE_CELL - 1] + "…"

    grid = [[clip(c) for c in header]] + [[clip(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in grid) for i in range(len(header))]
    lines = ["  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip() for r in grid]
    lines.insert(1, "  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def call_overhead_rows(
    impls: list[str], results: dict[tuple[str, str], RunResult]
) -> list[list[str]]:
    """Rows for the seed_step call-overhead summary: impl, µs/call with list and array input."""
    rows = []
    for name in impls:
        r = results.get((name, "seed_step"))
        if r is None:
            continue
        if not r.ok:
            rows.append([name, f"failed: {r.error}", ""])
            continue
        lst, arr = r.metrics.get("us_per_call_list"), r.metrics.get("us_per_call_array")
        rows.append([name, fmt_value(lst) if lst else "—", fmt_value(arr) if arr else "—"])
    return rows


@dataclass
class Report:
    """Everything one ``python -m bench`` invocation measured, ready to render."""

    command: str
    started: _dt.datetime
    workloads: list[str]
    peers: list[str]
    probes: dict[str, Probe]
    results: dict[tuple[str, str], RunResult] = field(default_factory=dict)
    repeat: int = 1
    peers_dir: str = ""
    peer_python: str = ""
    wall_s: float = 0.0

    @property
    def installed_peers(self) -> list[str]:
        """Requested peers whose module imports: the ones that get table columns."""
        return [p for p in self.peers if self.probes.get(p, Probe(False)).installed]

    @property
    def missing_peers(self) -> list[str]:
        """Requested peers that are not installed in the peer interpreter."""
        return [p for p in self.peers if p not in self.installed_peers]

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The comparison table's header and rows."""
        return build_table(self.workloads, self.installed_peers, self.results)

    def failures(self) -> list[RunResult]:
        """Failed runs, in run order."""
        return [r for r in self.results.values() if not r.ok]

    def console(self) -> str:
        """The text printed at the end of a run."""
        header, rows = self.table()
        parts = [render_console_table(header, rows)]
        if self.missing_peers:
            parts.append("not installed: " + ", ".join(self.missing_peers))
        overhead = call_overhead_rows(["croton", *self.installed_peers], self.results)
        if overhead:
            parts.append(
                "call overhead (seed_step):\n"
                + render_console_table(["impl", "µs/call list", "µs/call array"], overhead)
            )
        for r in self.failures():
            parts.append(f"FAILED {r.impl} {r.workload}: {r.error}")
        return "\n\n".join(parts)

    def markdown(self) -> str:
        """The full markdown report: date, machine, command, peers, table, failure details."""
        header, rows = self.table()
        info = machine_info()
        out = [
            "# croton benchmark results",
            "",
            f"- Date: {self.started.isoformat(timespec='seconds')}",
            f"- Command: `{self.command}`",
        ]
        out += [f"- {k}: {v}" for k, v in info.items()]
        out += [
            f"- Workload scripts: `{self.peers_dir}`",
            f"- Peer interpreter: `{self.peer_python}`",
            f"- Runs per (implementation, workload): {self.repeat}, each in a fresh process, in "
            "rounds that run every implementation once (order rotated each round);"
            " figures are the medians the scripts report"
            + (" (median over runs)" if self.repeat > 1 else ""),
            f"- Total bench wall time: {self.wall_s:.1f} s",
            "",
            "## Implementations",
            "",
            f"- croton: {self.probes['croton'].describe()}",
        ]
        out += [f"- {p}: {self.probes[p].describe()}" for p in self.peers]
        if not self.peers:
            out.append("- (no peers requested)")
        out += [
            "",
            "## Results",
            "",
            "Speedup = how many times faster croton is (peer time / croton time; croton"
            " throughput / peer throughput); above 1× croton wins. `NumPy ms` is NumPy timed"
            " in the same process, a reference for machine noise, not the implementation's"
            " figure. `compile s` is measured with whatever the compile caches already held.",
            "",
            render_markdown_table(header, rows),
        ]
        if self.missing_peers:
            out += [
                "",
                "Not installed: " + ", ".join(self.missing_peers) + " (see bench/README.md).",
            ]
        overhead = call_overhead_rows(["croton", *self.installed_peers], self.results)
        if overhead:
            out += [
                "",
                "## Call overhead (seed_step)",
                "",
                "The seed's 4-weight training call (one `function` call with a shared-variable"
                " update), in µs per call, with a Python list and with NumPy arrays as inputs.",
                "",
                render_markdown_table(
                    ["impl", "µs/call, list input", "µs/call, array input"], overhead
                ),
            ]
        failures = self.failures()
        if failures:
            out += ["", "## Failures", ""]
            for r in failures:
                out += [f"### {r.impl} / {r.workload}", "", f"`{r.error}`", ""]
                if r.error_tail:
                    out += ["```", r.error_tail, "```", ""]
        return "\n".join(out).rstrip() + "\n"
