#!/usr/bin/env bash
# The one script a GPU session runs, from the repository root (bench/README.md, "On a GPU"):
#   bash bench/gpu_check.sh          # logs and gpu_results.md under $OUT (default /tmp/gpu_out)
# Nothing is downloaded: croton runs from this tree (PYTHONPATH), with the device python's
# packages. croton's toolchain needs scipy-openblas32; when that python lacks it, a wheel in
# ./.whl/ (ignored by git: `python3 -m pip download --no-deps --only-binary=:all:
# scipy-openblas32 -d .whl` beforehand, then carry ".whl") is installed with --no-index.
# Steps, each under `timeout`, the whole within ~9 minutes (TOTAL_S):
#   1. croton doctor;
#   2. the CUDA tests' run-time halves (tests/test_cuda*.py, tests/test_gpuarray.py);
#   3. python -m bench.gpu (the issue-15 targets), before the long op suite so it always runs;
#   4. the op suite with every function compiled for CUDA (CROTON_TEST_DEVICE=cuda), in the
#      time left, when tests/conftest.py has that mode.
# The op suite runs verbose (-v) so a run cut by its timeout still logs each finished test.
# Exit status: the number of failed steps (a timeout counts as failed).
set -u
OUT="${OUT:-/tmp/gpu_out}"
TOTAL_S="${TOTAL_S:-540}"
JOBS="${JOBS:-12}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY="${PY:-python3}"
START=$SECONDS
FAILED=0

left() { echo $((TOTAL_S - (SECONDS - START))); }

# step NAME LIMIT_S CMD...: run CMD with a timeout of min(LIMIT_S, time left), log to $OUT/NAME.log
step() {
    local name=$1 limit=$2 rest
    shift 2
    rest=$(left)
    [ "$limit" -gt "$rest" ] && limit=$rest
    if [ "$limit" -lt 20 ]; then
        echo "== $name: skipped, ${rest}s left" | tee -a "$OUT/summary.txt"
        return
    fi
    echo "== $name (timeout ${limit}s): $*"
    local t0=$SECONDS rc
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    tail -n 25 "$OUT/$name.log"
    [ "$rc" -ne 0 ] && FAILED=$((FAILED + 1))
    echo "== $name: rc=$rc in $((SECONDS - t0))s$([ "$rc" -eq 124 ] && echo ' (TIMED OUT)')" \
        | tee -a "$OUT/summary.txt"
}

{
    date -u
    git log --oneline -1 2>/dev/null
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
    "$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__,
torch.cuda.get_device_name() if torch.cuda.is_available() else "no torch device")' 2>&1
} | tee "$OUT/machine.txt"

if ! "$PY" -c 'import scipy_openblas32' 2>/dev/null; then
    if ls .whl/scipy_openblas32-*.whl >/dev/null 2>&1; then
        "$PY" -m pip install --no-index --no-deps .whl/scipy_openblas32-*.whl 2>&1 | tail -n 2
    else
        echo "WARNING: scipy-openblas32 missing and no .whl/ wheel: croton's builds will fail" \
            | tee -a "$OUT/summary.txt"
    fi
fi

step doctor 60 "$PY" -m croton doctor
step cuda_tests 150 "$PY" -m pytest -q -rs -p xdist -n "$JOBS" --maxfail=20 \
    tests/test_cuda*.py tests/test_gpuarray.py
step bench 240 "$PY" -m bench.gpu --out "$OUT/gpu_results.md"
if grep -q CROTON_TEST_DEVICE tests/conftest.py; then
    step op_suite 600 env CROTON_TEST_DEVICE=cuda "$PY" -m pytest -v --tb=short -rs -p xdist -n "$JOBS" \
        tests/test_ops.py tests/test_elemwise_ops.py tests/test_grad.py \
        tests/test_elemwise_grads.py tests/test_nnet.py tests/test_reductions.py \
        tests/test_subtensor.py tests/test_shape_ops.py tests/test_conv_pool.py
else
    echo "== op_suite: skipped, tests/conftest.py has no CROTON_TEST_DEVICE mode" \
        | tee -a "$OUT/summary.txt"
fi
echo "== done in $((SECONDS - START))s, $FAILED failed step(s); logs in $OUT" \
    | tee -a "$OUT/summary.txt"
exit "$FAILED"
