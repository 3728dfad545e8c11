#!/bin/bash
# Interleaved A/B of two croton checkouts on the peer workloads, fresh processes, N rounds.
#   bench/ab/run_ab.sh CHECKOUT_A CHECKOUT_B [ROUNDS] [PEERS_DIR]
# Prints one JSON line per run (ms_per_step from the workload script), prefixed by the checkout.
set -u
A=$1; B=$2; ROUNDS=${3:-3}; PEERS=${4:-$(dirname "$0")/../../../shared/peers}
cd "$PEERS"
for round in $(seq "$ROUNDS"); do
  for w in mlp_step lenet_step rnn_step; do
    for tree in "$A" "$B"; do
      r=$(THEANO_IMPL=croton PYTHONPATH=$tree timeout 300 python3 workloads_theano.py $w 2>/dev/null | tail -1)
      echo "$(basename "$tree") $w $r"
    done
  done
done
