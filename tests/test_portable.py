"""CROTON_FLAGS=portable=1 compiles for any x86-64-v2 machine instead of this CPU (-march=native
by default): a different cache key, the same results."""

import json
import os
import subprocess
import sys

PROGRAM = """
import json, numpy as np, croton, croton.tensor as T
from croton.build_tools.toolchain import discover
x = T.dvector('x')
f = croton.function([x], T.exp(x).sum() * 3.0)
print(json.dumps({"flags": list(discover().cxx_flags), "key": f.build.key,
                  "out": float(f(np.arange(4.0)))}))
"""


def _run(extra_flags: str) -> dict:
    env = dict(os.environ, CROTON_FLAGS=extra_flags)
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_portable_flag_changes_the_target_and_the_key_not_the_result():
    native = _run("")
    portable = _run("portable=1")
    assert "-march=native" in native["flags"]
    assert "-march=x86-64-v2" in portable["flags"] and "-march=native" not in portable["flags"]
    assert native["key"] != portable["key"]
    expected = 3.0 * sum(2.718281828459045 ** k for k in range(4))
    assert abs(native["out"] - expected) < 1e-9 and abs(portable["out"] - expected) < 1e-9
