"""Property tests: hypothesis builds random graphs over the op set and the compiled function (full
pipeline, and FAST_COMPILE) must agree with the NumPy references (mode='NUMPY').

Each example compiles two functions (~1.5 s), so the example count is small but every run draws
new graphs; a failure prints the graph (croton.printing.debugprint) that broke.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import croton
import croton.tensor as T
from croton.printing import debugprint

# Ops that are defined on all of R (or made so), so random inputs never leave their domain.
UNARY = [
    ("neg", lambda a: -a),
    ("abs", T.abs),
    ("exp_of_tanh", lambda a: T.exp(T.tanh(a))),
    ("tanh", T.tanh),
    ("sigmoid", T.sigmoid),
    ("sqr", T.sqr),
    ("log_1p_abs", lambda a: T.log(T.abs(a) + 1.0)),
    ("sqrt_abs", lambda a: T.sqrt(T.abs(a))),
    ("pow_2", lambda a: a ** 2),
    ("mul_const", lambda a: a * 0.75),
    # a[::-1] of a row is not declared broadcastable (its length could be 0), so adding it to a
    # matrix fails at run time as in Theano; the row keeps its pattern explicitly
    ("reverse_rows", lambda a: T.patternbroadcast(a[::-1], a.broadcastable)),
    ("reverse_cols_step", lambda a: a[:, ::-1] * 1.5),
    ("softmax", lambda a: T.nnet.softmax(a)),
    ("cumsum", lambda a: T.cumsum(a, axis=1)),
    ("reshape_same", lambda a: T.reshape(a.T, (a.shape[1], a.shape[0])).T),
    ("erf", T.erf),
    ("log1p_sqr", lambda a: T.log1p(T.sqr(a))),
]
BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div_safe", lambda a, b: a / (T.abs(b) + 1.0)),
    ("maximum", T.maximum),
    ("minimum", T.minimum),
    ("switch", lambda a, b: T.switch(T.lt(a, b), a, b * 2.0)),
]
REDUCE = [
    ("sum0", lambda a: a.sum(axis=0, keepdims=True)),
    ("max1", lambda a: a.max(axis=1, keepdims=True)),
    ("mean_all", lambda a: T.mean(a) + a * 0.0),
    ("min_keep", lambda a: a.min(axis=-1, keepdims=True)),
]


@st.composite
def graphs(draw):
    """A random expression over two float64 matrices (rows broadcast against full ones)."""
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    r = T.drow("r")
    pool = [x, y, r]
    names = []
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "reduce"]))
        if kind == "unary":
            name, fn = draw(st.sampled_from(UNARY))
            node = fn(draw(st.sampled_from(pool)))
        elif kind == "binary":
            name, fn = draw(st.sampled_from(BINARY))
            node = fn(draw(st.sampled_from(pool)), draw(st.sampled_from(pool)))
        else:
            name, fn = draw(st.sampled_from(REDUCE))
            node = fn(draw(st.sampled_from(pool)))
        names.append(name)
        pool.append(node)
    outputs = [pool[-1], pool[-1].sum()]
    if draw(st.booleans()):
        outputs.append(draw(st.sampled_from(pool[3:])))
    return [x, y, r], outputs, names


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph=graphs(), seed=st.integers(0, 2**16), layout=st.sampled_from(["c", "t", "step"]))
def test_random_graphs_match_numpy(graph, seed, layout):
    inputs, outputs, names = graph
    rng = np.random.default_rng(seed)
    xa = rng.standard_normal((4, 5))
    ya = rng.standard_normal((4, 5))
    ra = rng.standard_normal((1, 5))
    if layout == "t":  # transposed storage
        xa = np.ascontiguousarray(xa.T).T
    elif layout == "step":  # strided, negative steps
        xa = rng.standard_normal((8, 10))[::2, ::-2]
    want = croton.function(inputs, outputs, mode="NUMPY", on_unused_input="ignore")(xa, ya, ra)
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        got = croton.function(inputs, outputs, mode=mode, on_unused_input="ignore")(xa, ya, ra)
        for g, w in zip(got, want):
            assert g.shape == w.shape, (names, mode)
            np.testing.assert_allclose(
                g, w, rtol=1e-10, atol=1e-12,
                err_msg=f"mode={mode} ops={names}\n{debugprint(outputs, file='str')}")
