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
    # bench/cpu_distance.py: ~50 ns with both vCPUs on one die, ~330 ns on two
    "cpu_round_trip_ns": Metric("CPU-to-CPU round trip ns (max before/after the run)", None),
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
    if result.skipped is not None:
        return "skipped"
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
        if r.skipped is not None:
            rows.append([name, "skipped", ""])
            continue
        if not r.ok:
            rows.append([name, f"failed: {r.error}", ""])
            continue
        lst, arr = r.metrics.get("us_per_call_list"), r.metrics.get("us_per_call_array")
        rows.append([name, fmt_value(lst) if lst else "—", fmt_value(arr) if arr else "—"])
    return rows


SLOWDOWN_KEYS: tuple[str, ...] = ("us_per_call_list", "us_per_call_array", "ms", "ms_per_step")
"""The time figures the quiet-versus-contended table compares."""


def _status(result: RunResult | None) -> str | None:
    """``not run``, ``skipped`` or ``failed`` for a result without figures, else None."""
    if result is None:
        return "not run"
    if result.skipped is not None:
        return "skipped"
    if not result.ok:
        return "failed"
    return None


def contention_rows(
    workloads: list[str],
    impls: list[str],
    quiet: dict[tuple[str, str], RunResult],
    busy: dict[tuple[str, str], RunResult],
) -> list[list[str]]:
    """Rows comparing each implementation's time figures quiet and with busy processes.

    One row per workload and time figure (:data:`SLOWDOWN_KEYS`) that some implementation
    reported; each implementation's cell reads ``quiet → busy (busy/quiet×)``, e.g.
    ``6.3 → 13.7 (2.17×)``: above 1× the busy processes slowed it down.
    """
    rows: list[list[str]] = []
    for w in workloads:
        pairs = [(quiet.get((n, w)), busy.get((n, w))) for n in impls]
        first = True
        for key in SLOWDOWN_KEYS:
            values = [
                tuple(r.metrics.get(key) if r is not None and r.ok else None for r in pair)
                for pair in pairs
            ]
            if all(q is None and b is None for q, b in values):
                continue
            cells = []
            for (qr, br), (q, b) in zip(pairs, values, strict=True):
                if q is not None and b is not None:
                    ratio = f" ({b / q:.2f}×)" if q > 0 else ""
                    cells.append(f"{fmt_value(q)} → {fmt_value(b)}{ratio}")
                else:
                    left = fmt_value(q) if q is not None else (_status(qr) or "—")
                    right = fmt_value(b) if b is not None else (_status(br) or "—")
                    cells.append(f"{left} → {right}")
            rows.append([w if first else "", metric_for(key).label, *cells])
            first = False
    return rows


TITLE = "# croton benchmark results"


def add_to_record(record: str, report: str) -> str:
    r"""``report`` (a run's markdown, under TITLE) as the newest section of ``record`` (the
    curated bench/RESULTS.md, under the same title): its headings one level down, placed
    right after the title, the earlier sections kept below. A record without the title is
    replaced by the report.

    >>> old = TITLE + "\n\n## Session 1\n\nfigures\n"
    >>> new = add_to_record(old, TITLE + "\n\n- Date: today\n\n## Implementations\n")
    >>> print(new)
    # croton benchmark results
    <BLANKLINE>
    ## A `python -m bench` run
    <BLANKLINE>
    - Date: today
    <BLANKLINE>
    ### Implementations
    <BLANKLINE>
    ## Session 1
    <BLANKLINE>
    figures
    <BLANKLINE>
    """
    if not record.startswith(TITLE + "\n") or not report.startswith(TITLE + "\n"):
        return report
    body = ["## A `python -m bench` run"]
    body += ["#" + line if line.startswith("#") else line
             for line in report[len(TITLE) + 1:].splitlines()]
    rest = record[len(TITLE) + 1:].lstrip("\n")
    return TITLE + "\n\n" + "\n".join(body).rstrip("\n") + "\n\n" + rest


def _busy_label(n: int) -> str:
    """``with 1 busy process`` / ``with 3 busy processes``."""
    return f"with {n} busy process" + ("" if n == 1 else "es")


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
    contention: int = 0
    contended: dict[tuple[str, str], RunResult] = field(default_factory=dict)
    """With ``contention`` > 0: the results of the runs with that many busy processes."""

    @property
    def installed_peers(self) -> list[str]:
        """Requested peers whose module imports: the ones that get table columns."""
        return [p for p in self.peers if self.probes.get(p, Probe(False)).installed]

    @property
    def missing_peers(self) -> list[str]:
        """Requested peers that are not installed in the peer interpreter."""
        return [p for p in self.peers if p not in self.installed_peers]

    def table(self, contended: bool = False) -> tuple[list[str], list[list[str]]]:
        """The comparison table's header and rows (quiet, or with the busy processes)."""
        results = self.contended if contended else self.results
        return build_table(self.workloads, self.installed_peers, results)

    def _all_results(self) -> list[RunResult]:
        """Every result, quiet ones first, each group in run order."""
        return [*self.results.values(), *self.contended.values()]

    def failures(self) -> list[RunResult]:
        """Failed runs, in run order."""
        return [r for r in self._all_results() if r.failed]

    def skips(self) -> list[RunResult]:
        """Runs the script skipped (it cannot run that workload), in run order."""
        return [r for r in self._all_results() if r.skipped is not None]

    def _tag(self, r: RunResult) -> str:
        """`` (with N busy processes)`` for a contended result, else empty."""
        return f" ({_busy_label(r.busy)})" if r.busy else ""

    def contention_header(self) -> list[str]:
        """Header of the quiet-versus-contended table."""
        return ["workload", "metric", "croton", *self.installed_peers]

    def contention_rows(self) -> list[list[str]]:
        """Rows of the quiet-versus-contended table (empty without ``--contention``)."""
        if not self.contention:
            return []
        return contention_rows(self.workloads, ["croton", *self.installed_peers],
                               self.results, self.contended)

    def console(self) -> str:
        """The text printed at the end of a run."""
        header, rows = self.table()
        parts = [render_console_table(header, rows)]
        if self.contention:
            parts[0] = "quiet (no busy processes):\n" + parts[0]
            header, rows = self.table(contended=True)
            parts.append(f"{_busy_label(self.contention)}:\n"
                         + render_console_table(header, rows))
            parts.append(f"quiet → {_busy_label(self.contention)} (busy/quiet):\n"
                         + render_console_table(self.contention_header(),
                                                self.contention_rows()))
        if self.missing_peers:
            parts.append("not installed: " + ", ".join(self.missing_peers))
        overhead = call_overhead_rows(["croton", *self.installed_peers], self.results)
        if overhead:
            parts.append(
                "call overhead (seed_step):\n"
                + render_console_table(["impl", "µs/call list", "µs/call array"], overhead)
            )
        for r in self.skips():
            parts.append(f"SKIPPED {r.impl} {r.workload}{self._tag(r)}: {r.skipped}")
        for r in self.failures():
            parts.append(f"FAILED {r.impl} {r.workload}{self._tag(r)}: {r.error}")
        return "\n\n".join(parts)

    def markdown(self) -> str:
        """The full markdown report: date, machine, command, peers, table, failure details."""
        header, rows = self.table()
        info = machine_info()
        out = [
            TITLE,
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
            "- Contention: "
            + (
                f"every workload measured twice, quiet and {_busy_label(self.contention)}"
                f" (each a Python `while True: pass` loop, one core each) started before each"
                f" run's process and killed after it; the quiet rounds of a workload run first,"
                f" then its contended rounds"
                if self.contention
                else "none (quiet; `--contention N` adds a run with N busy processes)"
            ),
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
            " figure. `compile s` is measured with whatever the compile caches already held."
            " `skipped`: the script cannot run that workload on that implementation (see"
            " Skipped).",
            "",
        ]
        if self.contention:
            out += ["Quiet: no busy processes beside the runs.", ""]
        out.append(render_markdown_table(header, rows))
        if self.contention:
            busy = _busy_label(self.contention)
            c_header, c_rows = self.table(contended=True)
            out += [
                "",
                f"## Results {busy}",
                "",
                f"The same workloads and implementations, {busy} (`while True: pass`)"
                " running beside every run for the whole of it. Speedups as above.",
                "",
                render_markdown_table(c_header, c_rows),
                "",
                f"## Quiet → {busy}",
                "",
                "Each implementation's time figures quiet → contended, with the slowdown"
                " (contended / quiet) in brackets: above 1× the busy processes slowed it down.",
                "",
                render_markdown_table(self.contention_header(), self.contention_rows()),
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
        skips = self.skips()
        if skips:
            out += ["", "## Skipped", ""]
            out += [f"- {r.impl} / {r.workload}{self._tag(r)}: `{r.skipped}`" for r in skips]
        failures = self.failures()
        if failures:
            out += ["", "## Failures", ""]
            for r in failures:
                out += [f"### {r.impl} / {r.workload}{self._tag(r)}", "", f"`{r.error}`", ""]
                if r.error_tail:
                    out += ["```", r.error_tail, "```", ""]
        return "\n".join(out).rstrip() + "\n"
