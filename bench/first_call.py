"""The first call of each model step against its later calls (issue 16: "the first call of a
large function must not be slow"). Each workload script builds its function as usual (a
compile-cache hit after the first run); every call of it is timed from Python; the workload's
timing loop is replaced by 30 calls. Prints the first call's time and the median of the rest.

Run: ``python -m bench.first_call`` (the workload scripts from ``../shared/peers``, or
``$PEERS_DIR``).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import croton

PEERS = Path(os.environ.get("PEERS_DIR",
                            Path(__file__).resolve().parents[2] / "shared" / "peers"))
CALLS = 30


def _timed(f, times: list):
    def call(*args, **kwargs):
        t0 = time.perf_counter()
        out = f(*args, **kwargs)
        times.append(time.perf_counter() - t0)
        return out
    return call


def call_times() -> dict[str, list[float]]:
    """Seconds of each call of each model step's function, the first call first."""
    sys.path.insert(0, str(PEERS))
    os.environ["THEANO_IMPL"] = "croton"
    import workloads_theano as workloads

    from bench.lstm import build_lstm2_step

    found: dict[str, list[float]] = {}
    real = croton.function  # the workloads' ``theano`` is croton itself
    for name in ("mlp_step", "lenet_step", "rnn_step"):
        times: list[float] = []
        workloads.theano.function = lambda *a, _t=times, **k: _timed(real(*a, **k), _t)
        workloads.timeit = lambda fn, **_: ([fn() for _ in range(CALLS)], 0.0)[1]
        getattr(workloads, name)()
        found[name] = times
    workloads.theano.function = real
    f, args = build_lstm2_step()
    found["lstm2_step"] = times = []
    step = _timed(f, times)
    for _ in range(CALLS):
        step(*args)
    return found


def main() -> None:
    for name, times in call_times().items():
        print(f"{name}: first call {times[0] * 1e3:.2f} ms, later calls median "
              f"{statistics.median(times[1:]) * 1e3:.2f} ms ({len(times) - 1} calls)")


if __name__ == "__main__":
    main()
