"""One model step built through ``croton.function`` with its compile report printed (used by
``bench/ab/compile_ab.sh``; the workload scripts come from ``$PEERS_DIR``).

Run: ``PEERS_DIR=../shared/peers python bench/ab/compile_probe.py lenet_step``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.environ["PEERS_DIR"])
os.environ["THEANO_IMPL"] = "croton"

import croton  # noqa: E402

reports: list[dict] = []
_function = croton.function


def _recording_function(*args, **kwargs):
    f = _function(*args, **kwargs)
    reports.append(dict(f.compile_report))
    return f


def main(name: str) -> None:
    if name == "lstm2_step":  # croton's own workload (bench/lstm.py): the peers have no LSTM
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from bench.lstm import build_lstm2_step

        t0 = time.perf_counter()
        f, args = build_lstm2_step()
        f(*args)
        print(name, {k: round(v, 3) for k, v in f.compile_report.items()},
              "total", round(time.perf_counter() - t0, 2))
        return
    import workloads_theano as workloads

    workloads.theano.function = _recording_function
    workloads.timeit = lambda fn, **_: (fn(), 0.0)[1]  # build and call once, no timing loop
    t0 = time.perf_counter()
    getattr(workloads, name)()
    print(name, {k: round(v, 3) for k, v in reports[0].items()},
          "total", round(time.perf_counter() - t0, 2))


if __name__ == "__main__":
    main(sys.argv[1])
