"""Command line: ``python -m bench [workload ...] [--peers ...] [--contention N] [--out FILE]``.

Runs croton's workloads (``workloads_theano.py`` with ``THEANO_IMPL=croton``) and the same
workloads for every requested peer that is installed, prints the comparison table and writes
the markdown report. With ``--contention N`` every workload is measured a second time with N
busy processes beside every run, and the report holds both tables.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from bench import PEERS, WORKLOADS
from bench.impls import PEERS_SCRIPT, THEANO_SCRIPT, make_impls, probe
from bench.machine import REPO_ROOT
from bench.report import Report, add_to_record, fmt_value
from bench.runner import RunResult, run_interleaved


def _default_peers_dir() -> Path:
    """``shared/peers`` beside the repository root, or beside the nearest ancestor that has
    one (a git worktree such as ``/work/wt/NAME`` finds ``/work/shared/peers``)."""
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "peers"
        if (candidate / THEANO_SCRIPT).is_file():
            return candidate
    return REPO_ROOT.parent / "shared" / "peers"


DEFAULT_PEERS_DIR = _default_peers_dir()
DEFAULT_OUT = Path(__file__).resolve().parent / "RESULTS.md"


def _peer_list(text: str) -> list[str]:
    """Parse ``--peers``: comma-separated names; empty or ``none`` means croton only."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names == ["none"]:
        return []
    unknown = [p for p in names if p not in PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)} or 'none'"
        )
    return list(dict.fromkeys(names))


def _non_negative_int(text: str) -> int:
    """Parse ``--contention``: a whole number of busy processes, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``python -m bench``."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark croton against its peers (PyTensor, JAX, PyTorch) on the shared "
        "workloads, one subprocess per implementation and workload.",
    )
    p.add_argument(
        "workloads",
        nargs="*",
        metavar="workload",
        help=f"workloads to run (default: all): {', '.join(WORKLOADS)}",
    )
    p.add_argument(
        "--peers",
        type=_peer_list,
        default=list(PEERS),
        metavar="LIST",
        help=f"comma-separated peers to compare with (default: {','.join(PEERS)}); "
        "'none' for croton only; peers that are not installed are listed as such",
    )
    p.add_argument(
        "--peer-python",
        default=sys.executable,
        metavar="PATH",
        help="interpreter that runs the peers, e.g. a separate venv's bin/python "
        "(default: this interpreter)",
    )
    p.add_argument(
        "--peers-dir",
        type=Path,
        default=DEFAULT_PEERS_DIR,
        metavar="DIR",
        help=f"directory holding {THEANO_SCRIPT} and {PEERS_SCRIPT} (default: {DEFAULT_PEERS_DIR})",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="FILE",
        help="markdown report to write (default: bench/RESULTS.md); '-' to skip",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="processes per (implementation, workload); the report shows medians (default: 1)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        metavar="S",
        help="seconds allowed per process before it counts as failed (default: 1200)",
    )
    p.add_argument(
        "--contention",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="also measure every workload with N busy processes ('while True: pass') running "
        "beside every run; the report gets a quiet and a contended table (default: 0, quiet only)",
    )
    return p


def _progress(msg: str) -> None:
    """A progress line on stderr, so stdout keeps only the final table."""
    print(msg, file=sys.stderr, flush=True)


def _summary(r: RunResult) -> str:
    """One progress line for a finished run."""
    if r.skipped is not None:
        return f"skipped: {r.skipped}"
    if not r.ok:
        return f"failed: {r.error}"
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in r.metrics.items())


def _terminate_as_exit(signum: int, frame: object) -> None:
    """SIGTERM handler: unwind like Ctrl-C does, so busy processes and runs get killed."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; returns the process exit status (0 even when workloads fail)."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(args_list)
    workloads: list[str] = list(dict.fromkeys(args.workloads)) or list(WORKLOADS)
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    peers_dir: Path = args.peers_dir.resolve()
    missing = [s for s in (THEANO_SCRIPT, PEERS_SCRIPT) if not (peers_dir / s).is_file()]
    if missing:
        parser.error(f"{', '.join(missing)} not found in {peers_dir} (use --peers-dir)")
    peer_python = args.peer_python
    if os.sep in peer_python or (os.altsep and os.altsep in peer_python):
        # absolute(), not resolve(): a venv's bin/python is a symlink that must stay one.
        peer_python = str(Path(peer_python).expanduser().absolute())
    else:
        peer_python = shutil.which(peer_python) or peer_python

    started = _dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    impls = make_impls(peers_dir, sys.executable, peer_python)
    probes = {}
    for name in ["croton", *args.peers]:
        probes[name] = probe(impls[name])
        _progress(f"[bench] {name}: {probes[name].describe()}")
    report = Report(
        command=shlex.join(["python", "-m", "bench", *args_list]),
        started=started,
        workloads=workloads,
        peers=list(args.peers),
        probes=probes,
        repeat=args.repeat,
        peers_dir=str(peers_dir),
        peer_python=peer_python,
        contention=args.contention,
    )
    order = ["croton", *report.installed_peers]

    def one_done(name: str, round_no: int, r: RunResult) -> None:
        busy = f", {r.busy} busy" if r.busy else ""
        _progress(f"[bench] {name} {r.workload} (run {round_no + 1}/{args.repeat}{busy}): "
                  f"{_summary(r)} ({r.wall_s:.1f} s)")

    levels = [0, args.contention] if args.contention else [0]
    # SIGTERM unwinds like Ctrl-C, so the running workload and busy processes get killed.
    in_main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _terminate_as_exit) if in_main_thread else None
    try:
        for w in workloads:
            for busy in levels:
                what = f", {busy} busy process(es) beside each run" if busy else ""
                _progress(f"[bench] {w}: {', '.join(order)}, {args.repeat} round(s){what} ...")
                results = run_interleaved([impls[n] for n in order], w, peers_dir,
                                          args.timeout, args.repeat, one_done, busy=busy)
                target = report.contended if busy else report.results
                for name in order:
                    target[(name, w)] = results[name]
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    report.wall_s = time.perf_counter() - t0

    print(report.console())
    if str(args.out) != "-":
        out: Path = args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        # a curated record (bench/RESULTS.md) gets the run as its newest section; any other
        # file is the run's report alone
        record = out.read_text(encoding="utf-8") if out.exists() else ""
        out.write_text(add_to_record(record, report.markdown()), encoding="utf-8")
        print(f"\nwrote {out}")
    return 0
