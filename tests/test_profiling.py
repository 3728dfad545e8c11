"""profile=True: kernel counters compiled into the function, the first call kept apart, a
summary sorted by time; and nothing of it in a function compiled without profiling."""

import numpy as np

import croton
import croton.tensor as T
from croton.config import config


def test_profiled_function_counts_every_kernel_call():
    x = T.dmatrix("x")
    W = croton.shared(np.ones((30, 20)), "W")
    cost = T.tanh(T.dot(x, W) + 1).sum()
    f = croton.function([x], cost, updates=[(W, W - 0.01 * T.grad(cost, W))], profile=True)
    xa = np.ones((40, 30))
    for _ in range(6):
        f(xa)
    prof = f.profile
    assert prof.first_call_seconds is not None and prof.first_call_seconds > 0
    assert prof.calls == 5 and prof.run_seconds > 0
    kernels = prof.kernels()
    assert kernels and all(k.calls == 5 for k in kernels)
    assert [k.seconds for k in kernels] == sorted((k.seconds for k in kernels), reverse=True)
    assert any("gemm" in k.label for k in kernels)
    assert sum(k.seconds for k in kernels) <= prof.run_seconds
    text = prof.summary(file=None)
    assert "compile time" in text and "first call" in text and "calls: 5" in text
    assert "gemm" in text
    # values are unaffected by the timing
    g = croton.function([x], cost)
    np.testing.assert_allclose(f(xa), g(xa), rtol=1e-12)


def test_profile_flag_and_off_by_default(monkeypatch):
    x = T.dvector("x")
    f = croton.function([x], T.exp(x))
    assert f.profile is None and "profile_clock" not in f.source
    monkeypatch.setattr(config, "profile", True)
    g = croton.function([x], T.exp(x) * 2)
    assert g.profile is not None and "profile_clock" in g.source
    g(np.ones(3))
    g(np.ones(3))
    assert g.profile.calls == 1
