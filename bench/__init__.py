"""croton's benchmark harness: croton side by side with its peers, in one run.

``python -m bench [workload ...] [--peers pytensor,pytensor-c,jax,torch] [--contention N]``
``[--out FILE]``

The workloads themselves live outside this repository, in the shared peers directory
(``../shared/peers`` relative to the repository root): ``workloads_theano.py`` (Theano's API,
run once with ``THEANO_IMPL=croton`` and once per PyTensor backend) and ``workloads_peers.py``
(JAX and PyTorch). Every (implementation, workload) pair runs in its own subprocess; this
package only orchestrates those runs, parses the JSON lines they print and writes a report.

Modules:

- :mod:`bench.impls` -- the implementations (croton and peers) and how to launch them.
- :mod:`bench.runner` -- running one workload in a subprocess, parsing its output or failure.
- :mod:`bench.contention` -- busy processes run beside each measurement (``--contention N``).
- :mod:`bench.report` -- metric metadata, the comparison table, machine info, markdown output.
- :mod:`bench.cli` -- the command line (``python -m bench``).
"""

from __future__ import annotations

WORKLOADS: tuple[str, ...] = (
    "seed_step",
    "elemwise",
    "reduce_sumsq",
    "matmul",
    "mlp_step",
    "logreg",
    "lenet_step",
    "rnn_step",
)
"""Workload names, in the order the shared scripts define them."""

PEERS: tuple[str, ...] = ("pytensor", "pytensor-c", "jax", "torch")
"""Peer names accepted by ``--peers``."""

__all__ = ["PEERS", "WORKLOADS"]
