"""Compile the peers' croton/Theano workloads for the CUDA target, without running them.

``python -m bench.cuda_compile [--peers-dir DIR] [workload ...]`` imports
``workloads_theano.py`` (``../shared/peers`` by default) with ``THEANO_IMPL=croton`` and
``CROTON_FLAGS=device=cuda``, and runs each workload until its first call: every function it
builds is rendered and built with nvcc. Without a GPU the first call raises
``CudaUnavailableError``, which here means "compiled"; a ``NotImplementedError`` names what the
CUDA target refuses. On a GPU the workloads simply run (and time) on the device.

Example::

    >>> from bench.cuda_compile import WORKLOADS
    >>> WORKLOADS[:2]
    ('seed_step', 'logreg')
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

WORKLOADS = ("seed_step", "logreg", "mlp_step", "lenet_step", "rnn_step")
DEFAULT_PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers-dir", default=str(DEFAULT_PEERS))
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    args = parser.parse_args(argv)
    os.environ["THEANO_IMPL"] = "croton"
    os.environ["CROTON_FLAGS"] = ",".join(
        f for f in (os.environ.get("CROTON_FLAGS", ""), "device=cuda") if f)
    sys.argv = ["workloads_theano.py"]  # the script reads its own arguments at import
    spec = importlib.util.spec_from_file_location(
        "workloads_theano", Path(args.peers_dir) / "workloads_theano.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from croton.cuda import CudaUnavailableError

    failed = 0
    for name in args.workloads:
        start = time.perf_counter()
        try:
            result = module.WORKLOADS[name]()
            print(f"{name}: ran on the device: {result}", flush=True)
        except CudaUnavailableError:
            print(f"{name}: compiled for cuda in {time.perf_counter() - start:.1f} s "
                  f"(no CUDA device to run it)", flush=True)
        except NotImplementedError as exc:
            failed += 1
            print(f"{name}: refused: {exc}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
