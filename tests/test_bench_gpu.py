"""bench/gpu.py without a GPU: it exits with status 2 and says "no CUDA device" (the GPU run
itself is bench/gpu_check.sh's, on a machine with one); its table's speedup column."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gpu import _ratio
from croton.cuda import device_count

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(device_count() > 0, reason="a CUDA device is present: the bench would run")
def test_no_device_exits_with_the_reason(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "r.md"
    p = subprocess.run([sys.executable, "-m", "bench.gpu", "--out", str(out)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "no CUDA device" in p.stderr
    assert not out.exists()


def test_speedup_is_croton_over_torch():
    assert _ratio({"metric": "ms/step", "croton": 2.0, "torch": 3.0}) == "1.50x"
    assert _ratio({"metric": "GB/s", "croton": 1500.0, "torch": 1000.0}) == "1.50x"
    assert _ratio({"metric": "failed"}) == ""
