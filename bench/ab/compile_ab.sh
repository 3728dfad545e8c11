#!/bin/bash
# Cold compile times of the model steps for two croton checkouts: a new cache per checkout (its
# binding and kernel library built by the first round), entries removed before every build,
# ccache off; prints croton.function's compile report per build.
#   bench/ab/compile_ab.sh CHECKOUT_A CHECKOUT_B [ROUNDS] [PEERS_DIR]
set -u
A=$1; B=$2; ROUNDS=${3:-2}; PEERS=${4:-$(cd "$(dirname "$0")/../../../shared/peers" && pwd)}
HERE=$(cd "$(dirname "$0")" && pwd)
for round in $(seq "$ROUNDS"); do
  for tree in "$A" "$B"; do
    cache=/tmp/croton-compile-ab-$(basename "$tree")
    for w in mlp_step lenet_step rnn_step lstm2_step; do
      rm -rf "$cache/v1/entries" "$cache/v1/render"
      (cd "$tree" && CCACHE_DISABLE=1 CROTON_FLAGS=cache_dir=$cache PYTHONPATH=$tree \
        PEERS_DIR=$PEERS python3 "$HERE/compile_probe.py" $w 2>/dev/null | tail -1 \
        | sed "s#^#$(basename "$tree") #")
    done
  done
done
