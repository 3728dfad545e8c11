"""croton on an NVIDIA GPU against PyTorch eager (and JAX jit when importable), in one process.

``python -m bench.gpu [--out FILE] [--sizes 10000000,100000000] [--rounds 5]``

Measures, all with data already on the device and medians of interleaved rounds (each round
times every implementation once; ``torch.cuda.synchronize`` closes each timed block):

- ``copy``: device-to-device copy bandwidth (``y.copy_(x)``, bytes read + written);
- ``elemwise``: ``exp(x)*y + tanh(x) - 0.5*y*y`` on float32, as GB/s (2 reads + 1 write) and
  as % of the copy bandwidth (issue 15's target: >= 80%);
- ``mlp_step``: 784-512-512-10 tanh MLP, softmax cross-entropy, SGD, batch 4096;
- ``lenet_step``: LeNet-5 (conv 20x5x5, pool 2, tanh, conv 50x5x5, pool 2, tanh, 800-500-10),
  batch 128, SGD (targets: no slower than PyTorch eager);
- ``overhead``: ``x + 1`` on one float32 element, device in and out: µs per call (target <= 15).

croton's calls wait for their kernels (docs/cuda.md), the JAX column blocks on each result,
PyTorch eager queues its kernels until the block's synchronize.

Prints a table and writes it as markdown (``--out``, default stdout only) naming the device.
Without a CUDA device it exits with status 2 and "no CUDA device: ...". Times are never asserted.

Example::

    >>> from bench.gpu import median
    >>> median([3.0, 1.0, 2.0])
    2.0
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import numpy as np

EXPR = "exp(x)*y + tanh(x) - 0.5*y*y"


def median(values: list[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def no_device() -> str:
    """Why this process cannot run the GPU bench ("no CUDA device: ..."), or "" when it can."""
    from croton.cuda import no_device_reason

    reason = no_device_reason()
    if reason:
        return reason
    try:
        import torch
    except ImportError as e:
        return f"no CUDA device usable for the comparison: torch is not importable ({e})"
    if not torch.cuda.is_available():
        return "no CUDA device: torch.cuda.is_available() is False"
    return ""


class Timer:
    """Seconds per call of ``fn``, ``calls`` calls between two device synchronizations."""

    def __init__(self, sync) -> None:
        self.sync = sync

    def __call__(self, fn, calls: int) -> float:
        self.sync()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        self.sync()
        return (time.perf_counter() - t0) / calls


def interleaved(impls: dict, calls: int, rounds: int, timer: Timer) -> dict[str, float]:
    """Median seconds per call of each of ``impls`` (name -> callable), after one warm-up call
    each, over ``rounds`` rounds that each time every implementation once."""
    for fn in impls.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, fn in impls.items():
            times[k].append(timer(fn, calls))
    return {k: median(v) for k, v in times.items()}


def _jax():
    """jax and its first GPU, or (None, reason)."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave memory to torch
    try:
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")  # no TF32, as croton
        gpus = jax.devices("gpu")
    except Exception as e:  # noqa: BLE001 - any failure only drops the JAX column
        return None, f"{type(e).__name__}: {e}"
    return (jax, gpus[0]) if gpus else (None, "no JAX GPU")


def bench_elemwise(n: int, rounds: int, timer: Timer, jx) -> list[dict]:
    """Copy bandwidth and the fused elementwise on ``n`` float32 elements."""
    import torch

    import croton
    import croton.tensor as T

    x, y = torch.randn(n, device="cuda"), torch.randn(n, device="cuda")
    out = torch.empty_like(x)
    xs, ys = T.fvector("x"), T.fvector("y")
    f = croton.function([xs, ys], T.exp(xs) * ys + T.tanh(xs) - 0.5 * ys * ys, device="cuda")
    f.return_device_arrays = True
    ref = torch.exp(x) * y + torch.tanh(x) - 0.5 * y * y
    got = torch.as_tensor(f(x, y), device="cuda")
    err = float((got - ref).abs().max())
    impls = {"copy": lambda: out.copy_(x), "croton": lambda: f(x, y),
             "torch": lambda: torch.exp(x) * y + torch.tanh(x) - 0.5 * y * y}
    if jx[0] is not None:
        jax, dev = jx
        jnp = jax.numpy
        xj, yj = (jax.device_put(np.asarray(a.cpu()), dev) for a in (x, y))
        g = jax.jit(lambda a, b: jnp.exp(a) * b + jnp.tanh(a) - 0.5 * b * b)
        impls["jax"] = lambda: g(xj, yj).block_until_ready()
    calls = max(5, int(2e10 // (12 * n)))  # about 20 GB moved per timed block
    t = interleaved(impls, calls, rounds, timer)
    copy_gbs = 8 * n / t["copy"] / 1e9
    rows = [{"bench": f"copy n={n:,}", "metric": "GB/s", "torch": copy_gbs}]
    gbs = {k: 12 * n / v / 1e9 for k, v in t.items() if k != "copy"}
    rows.append({"bench": f"elemwise n={n:,}", "metric": "GB/s", **gbs,
                 "note": f"croton {100 * gbs['croton'] / copy_gbs:.0f}% of copy (target >= 80%);"
                         f" max |croton - torch| {err:.2g}"})
    return rows


def bench_overhead(rounds: int, timer: Timer) -> list[dict]:
    """µs per call of ``x + 1`` on one float32 element, device input and output."""
    import torch

    import croton
    import croton.tensor as T

    x = torch.zeros(1, device="cuda")
    xs = T.fvector("x")
    f = croton.function([xs], xs + 1, device="cuda")
    f.return_device_arrays = True
    h = croton.function([xs], xs + 1, device="cuda")  # NumPy in, NumPy out: with the copies
    xh = np.zeros(1, np.float32)
    t = interleaved({"croton": lambda: f(x), "torch": lambda: x + 1,
                     "croton_numpy": lambda: h(xh)}, 2000, rounds, timer)
    return [{"bench": "overhead x+1 (1 elt)", "metric": "µs/call",
             "croton": t["croton"] * 1e6, "torch": t["torch"] * 1e6,
             "note": f"target <= 15 µs; croton with NumPy in/out {t['croton_numpy'] * 1e6:.1f} µs"}]


def main(argv: list[str] | None = None) -> int:
    """Run the GPU bench; 2 without a CUDA device."""
    ap = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="write the markdown report here (e.g. $OUT/gpu_results.md)")
    ap.add_argument("--sizes", default="10000000,100000000",
                    help="elementwise sizes, comma separated (default 10M,100M)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--only", default="elemwise,mlp_step,lenet_step,overhead",
                    help="comma-separated subset of elemwise,mlp_step,lenet_step,overhead")
    args = ap.parse_args(argv)
    reason = no_device()
    if reason:
        print(f"bench.gpu: {reason}", file=sys.stderr)
        return 2
    import torch

    from bench.gpu_models import bench_steps

    # full float32 everywhere: croton's cuBLAS calls use no TF32 (docs/cuda.md)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    timer = Timer(torch.cuda.synchronize)
    jx = _jax()
    only = set(args.only.split(","))
    rows: list[dict] = []
    parts = [("elemwise", lambda: [r for n in args.sizes.split(",")
                                   for r in bench_elemwise(int(n), args.rounds, timer, jx)]),
             ("mlp_step", lambda: bench_steps("mlp_step", args.rounds, timer, jx)),
             ("lenet_step", lambda: bench_steps("lenet_step", args.rounds, timer, jx)),
             ("overhead", lambda: bench_overhead(args.rounds, timer))]
    for name, run in parts:
        if name not in only:
            continue
        try:
            new = run()
        except Exception as e:  # noqa: BLE001 - one failed part must not lose the others
            new = [{"bench": name, "metric": "failed", "note": f"{type(e).__name__}: {e}"}]
        rows += new
        for r in new:
            print(_row_text(r), flush=True)
        if args.out:  # after each part: a run cut by a timeout keeps what it measured
            with open(args.out, "w") as fh:
                fh.write(report(rows, torch, jx))
    print(report(rows, torch, jx))
    return 0


def _fmt(v) -> str:
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _ratio(r: dict) -> str:
    """croton's advantage over torch: torch/croton for times, croton/torch for GB/s."""
    c, t = r.get("croton"), r.get("torch")
    if not c or not t:
        return ""
    return f"{(c / t if r['metric'] == 'GB/s' else t / c):.2f}x"


def _row_text(r: dict) -> str:
    cells = [_fmt(r.get(k)) for k in ("croton", "torch", "jax")]
    return " | ".join([r["bench"], r["metric"], *cells, _ratio(r), r.get("note", "")])


def report(rows: list[dict], torch, jx) -> str:
    """The markdown section for bench/RESULTS.md."""
    import croton.cuda.runtime as rt

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    jax_s = jx[0].__version__ if jx[0] is not None else f"not used ({jx[1]})"
    head = [f"## GPU: {torch.cuda.get_device_name()} ({now})", "",
            f"`python -m bench.gpu`; torch {torch.__version__}, JAX {jax_s}, "
            f"sm_{rt.device_architecture()}, "
            + ", ".join(f"{k} {v}" for k, v in rt.versions().items())
            + ". Data on the device for all; float32 without TF32 everywhere; medians of "
            "interleaved rounds; speedup = croton over torch eager (>1: croton faster).", "",
            "| bench | metric | croton | torch eager | jax jit | speedup | note |",
            "|---|---|---|---|---|---|---|"]
    return "\n".join(head + [f"| {_row_text(r)} |" for r in rows]) + "\n"


if __name__ == "__main__":
    sys.exit(main())
