"""Profiling, as Theano users relied on it: ``croton.function(..., profile=True)`` (or
``CROTON_FLAGS=profile=1``) compiles timing into the function — each kernel's calls and time,
counted inside the C++ — and ``f.profile.summary()`` prints them sorted by time, with the graph
node each kernel came from, the compile time apart, and the first call apart from the rest.

Example::

    >>> import numpy as np, croton, croton.tensor as T
    >>> x = T.dvector('x')
    >>> f = croton.function([x], T.exp(x).sum(), profile=True)
    >>> for _ in range(3): _ = f(np.ones(10))
    >>> f.profile.calls, len(f.profile.kernels()) > 0
    (2, True)
"""

from __future__ import annotations

import ctypes
import functools
import io
import sys
import time
from dataclasses import dataclass
from typing import IO

import numpy as np


@dataclass(frozen=True)
class KernelTime:
    label: str
    calls: int
    seconds: float


def _capsule_address(capsule, name: bytes) -> int:
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(get(capsule, name))


class ProfileStats:
    """Counters of one compiled function (read live from its C++ table)."""

    def __init__(self, name: str, labels: tuple[str, ...], module, compile_report: dict) -> None:
        self.name = name
        self.labels = labels
        self.compile_report = dict(compile_report)
        self._module = module  # keeps the table alive
        address = _capsule_address(module.profile, b"croton_profile")
        # one row per kernel (calls, nanoseconds), then scratch memory (blocks, bytes)
        table = (ctypes.c_uint64 * (2 * len(labels) + 2)).from_address(address)
        self._table = np.ctypeslib.as_array(table).reshape(len(labels) + 1, 2)
        self._table[:] = 0
        self.first_call_seconds: float | None = None
        self.first_call_kernels: list[KernelTime] = []
        self.first_call_scratch: tuple[int, int] = (0, 0)
        self.calls = 0
        self.run_seconds = 0.0

    def record_call(self, seconds: float) -> None:
        """Called after each call: the first is kept apart, then the counters restart."""
        if self.first_call_seconds is None:
            self.first_call_seconds = seconds
            self.first_call_kernels = self.kernels()
            self.first_call_scratch = self.scratch_allocations()
            self._table[:] = 0
            return
        self.calls += 1
        self.run_seconds += seconds

    def scratch_allocations(self) -> tuple[int, int]:
        """(blocks, bytes) of scratch memory allocated since the first call (the first call's
        are in ``first_call_scratch``): 0 in the steady state, where every call reuses the
        memory kept from the one before."""
        blocks, nbytes = self._table[len(self.labels)]
        return int(blocks), int(nbytes)

    def kernels(self) -> list[KernelTime]:
        """Per-kernel totals since the first call, slowest first."""
        rows = [KernelTime(label, int(c), int(ns) * 1e-9)
                for label, (c, ns) in zip(self.labels, self._table)]
        return sorted(rows, key=lambda r: -r.seconds)

    def summary(self, file: IO[str] | None = sys.stdout, n_kernels: int = 20) -> str:
        """A table of compile time, call times and kernels sorted by time; printed to
        ``file`` (None: only returned)."""
        out = io.StringIO()
        compile_s = self.compile_report.get("total") or sum(
            v for k, v in self.compile_report.items() if isinstance(v, float))
        out.write(f"Function profiling: {self.name}\n")
        phases = ", ".join(f"{k} {v:.3f}" for k, v in self.compile_report.items()
                           if isinstance(v, float))
        out.write(f"  compile time: {compile_s:.3f} s ({phases})\n")
        if self.first_call_seconds is not None:
            out.write(f"  first call: {self.first_call_seconds * 1e3:.3f} ms "
                      "(not counted below)\n")
        mean = self.run_seconds / self.calls if self.calls else 0.0
        out.write(f"  calls: {self.calls}, run time {self.run_seconds:.6f} s, "
                  f"{mean * 1e6:.1f} us per call\n")
        blocks, nbytes = self.first_call_scratch
        later_blocks, later_bytes = self.scratch_allocations()
        out.write(f"  scratch memory: {blocks} blocks ({_size(nbytes)}) allocated by the first "
                  f"call and kept; {later_blocks} ({_size(later_bytes)}) allocated since\n")
        kernels = self.kernels()
        in_kernels = sum(k.seconds for k in kernels)
        if self.run_seconds:
            out.write(f"  time in kernels: {in_kernels:.6f} s "
                      f"({100 * in_kernels / self.run_seconds:.1f}% of run time)\n")
        out.write("\n  <% time> <total s> <calls> <us/call>  <kernel: graph node>\n")
        for k in kernels[:n_kernels]:
            share = 100 * k.seconds / in_kernels if in_kernels else 0.0
            per = k.seconds / k.calls * 1e6 if k.calls else 0.0
            out.write(f"  {share:6.1f}%  {k.seconds:9.6f}  {k.calls:7d}  {per:9.2f}  {k.label}\n")
        if len(kernels) > n_kernels:
            out.write(f"  ... {len(kernels) - n_kernels} more kernels\n")
        text = out.getvalue()
        if file is not None:
            file.write(text)
        return text


def _size(nbytes: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if nbytes < 1024 or unit == "MiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return ""


@functools.cache
def profiled_class(base: type) -> type:
    """``base`` with a ``__call__`` that times each call into ``self.profile``."""

    class ProfiledFunction(base):
        def __call__(self, *args, **kwargs):
            t0 = time.perf_counter()
            result = super().__call__(*args, **kwargs)
            self.profile.record_call(time.perf_counter() - t0)
            return result

    ProfiledFunction.__name__ = base.__name__
    return ProfiledFunction
