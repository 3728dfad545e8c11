"""Compile-time figures: a new small function (cold: new cache key, binding layer already
built) and a warm new process going from ``croton.function(...)`` to a callable.

Run: ``python -m bench.compile_time [--runs 5]``. Prints medians in seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import uuid

PROGRAM = """
import json, time, numpy, croton, croton.tensor as T
x = T.fvector('x'); target = T.fscalar('target')
W = croton.shared(numpy.asarray([0.1, 0.25, 0.15, 0.3]), 'W')
y = (x * W).sum() + {salt}
cost = T.sqr(target - y); (g,) = T.grad(cost, [W])
t0 = time.perf_counter()
f = croton.function([x, target], y, updates=[(W, W - 0.1 * g)])
t1 = time.perf_counter()
print(json.dumps({{"seconds": t1 - t0, "cached": f.build.cached}}))
"""


def _run(salt: float) -> dict:
    out = subprocess.run([sys.executable, "-c", PROGRAM.format(salt=salt)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    _run(0.0)  # make sure the binding layer exists
    cold, warm = [], []
    for _ in range(args.runs):
        salt = float(uuid.uuid4().int % 10**6) / 7.0  # a new constant: a new cache key
        first = _run(salt)
        assert not first["cached"]
        cold.append(first["seconds"])
        second = _run(salt)
        assert second["cached"]
        warm.append(second["seconds"])
    print(f"seed function, new cache key (compile + load): median {statistics.median(cold):.3f} s"
          f" (runs: {', '.join(f'{t:.3f}' for t in cold)})")
    print(f"seed function, warm new process (cache hit):   median {statistics.median(warm):.3f} s"
          f" (runs: {', '.join(f'{t:.3f}' for t in warm)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
