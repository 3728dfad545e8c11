"""Busy processes beside a measurement, for ``python -m bench --contention N``.

Each busy process is a Python interpreter spinning in ``while True: pass`` (in chunks, so that
it can check its limits): it keeps one core busy, as another user's job on a shared machine
would. :class:`BusyProcesses` starts N of them, waits until every one is spinning, and kills
them all when the ``with`` block ends, on success, on an exception or on Ctrl-C. Should the
bench itself be killed outright, each busy process still ends by itself: when its parent goes
(``PR_SET_PDEATHSIG`` on Linux, and a parent-id check) and at the latest after ``limit_s``.

Example (two busy processes for the length of the block)::

    >>> from bench.contention import BusyProcesses
    >>> with BusyProcesses(2, limit_s=60) as busy:
    ...     len(busy.pids)
    2
    >>> busy.pids
    []
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

BUSY_MARKER = "croton-bench-busy"
"""Last argument of every busy process's command line, so it can be recognised in ``ps``."""

BUSY_CODE = (
    "import os, sys, time\n"
    "limit = float(sys.argv[1])\n"
    "parent = os.getppid()\n"
    "try:  # die with the bench even when it is killed outright (Linux)\n"
    "    import ctypes\n"
    "    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL\n"
    "except Exception:\n"
    "    pass\n"
    "end = time.monotonic() + limit\n"
    "print('ready', flush=True)\n"
    "while time.monotonic() < end and os.getppid() == parent:\n"
    "    for _ in range(200_000):  # while True: pass, in chunks of a few milliseconds\n"
    "        pass\n"
)
"""The busy loop: spins until ``limit`` seconds have passed or its parent has gone."""

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0


class BusyProcesses:
    """A context manager running ``n`` busy processes (``n`` may be 0: then it does nothing).

    ``limit_s`` bounds each process's life in case the bench cannot kill it (the bench is
    itself killed with SIGKILL on a platform without ``PR_SET_PDEATHSIG``); ``python`` is the
    interpreter that spins (default: this one).
    """

    def __init__(self, n: int, limit_s: float, python: str = sys.executable) -> None:
        if n < 0:
            raise ValueError(f"BusyProcesses: n must be >= 0, got {n}")
        if limit_s <= 0:
            raise ValueError(f"BusyProcesses: limit_s must be > 0, got {limit_s}")
        self.n = n
        self.limit_s = limit_s
        self.python = python
        self._procs: list[subprocess.Popen[str]] = []

    @property
    def pids(self) -> list[int]:
        """Process ids of the busy processes now running (empty outside the block)."""
        return [p.pid for p in self._procs]

    def command(self) -> list[str]:
        """The argv of one busy process."""
        return [self.python, "-c", BUSY_CODE, f"{self.limit_s:g}", BUSY_MARKER]

    def start(self) -> None:
        """Start the processes and return once every one of them is spinning.

        Raises ``RuntimeError`` (after stopping any already started) if one fails to start.
        """
        try:
            for _ in range(self.n):
                self._procs.append(
                    subprocess.Popen(
                        self.command(),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            for p in self._procs:
                assert p.stdout is not None
                if p.stdout.readline().strip() != "ready":
                    p.wait(timeout=_START_TIMEOUT_S)
                    err = p.stderr.read().strip() if p.stderr else ""
                    raise RuntimeError(
                        f"busy process {p.pid} did not start (exit status {p.returncode})"
                        + (f": {err.splitlines()[-1]}" if err else "")
                    )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every busy process and reap it; safe to call more than once."""
        procs, self._procs = self._procs, []
        for p in procs:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                pass
            for stream in (p.stdout, p.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> BusyProcesses:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
