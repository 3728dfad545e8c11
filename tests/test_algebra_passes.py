"""canonicalize and stabilize: each rewrite fires on its pattern, keeps every value (compiled
with the full pipeline against the NumPy references), and the stable forms stay finite where the
naive forms overflow — their gradients too. Also the dump_passes flag."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.canonicalize import canonicalize
from croton.codegen.passes.stabilize import stabilize
from croton.config import config
from croton.fgraph import Graph

RNG = np.random.default_rng(3)


def _ops(graph):
    return sorted(n.op.name for n in graph.nodes())


@pytest.mark.parametrize("build, absent, present", [
    (lambda x: x ** 2, "pow", "sqr"),
    (lambda x: x ** 0.5, "pow", "sqrt"),
    (lambda x: x ** 3, "pow", "sqr"),
    (lambda x: x * 1.0 + 0.0, "mul", None),
    (lambda x: T.log(T.exp(x)), "exp", None),
    (lambda x: T.neg(T.neg(x)), "neg", None),
    (lambda x: x * x, "mul", "sqr"),
    (lambda x: T.cast(x, "float64"), "cast", None),
    (lambda x: x.dimshuffle("x", 0).dimshuffle(1), "dimshuffle", None),
])
def test_canonical_rewrites_fire(build, absent, present):
    x = T.dvector("x")
    g = canonicalize(Graph.make([x], [build(x)]))
    assert absent not in _ops(g)
    if present:
        assert present in _ops(g)


def test_constants_are_collected():
    x = T.fvector("x")
    g = canonicalize(Graph.make([x], [((x + 1) + 2) * 2 * 3]))
    assert _ops(g).count("add") == 1 and _ops(g).count("mul") == 1
    assert g.outputs[0].dtype == "float32"


def test_canonicalized_and_stabilized_graphs_keep_values():
    x, y = T.dvectors("x", "y")
    outs = [x ** 2 + y ** 3 - x ** 0.5 * 0 + (x - x), T.log(T.exp(y)) * 1.0, ((x + 1) + 2) * 4,
            T.log(1 + T.abs(x)), T.exp(y) - 1, T.log(T.sigmoid(y)), T.log(1 - T.sigmoid(y)),
            T.log(T.sum(T.exp(y))), y ** -1, y ** -2, x ** 4]
    xa = np.abs(RNG.standard_normal(20)) + 0.1
    ya = RNG.standard_normal(20)
    want = croton.function([x, y], outs, mode="NUMPY")(xa, ya)
    got = croton.function([x, y], outs)(xa, ya)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_stable_forms_stay_finite_where_naive_ones_overflow():
    x = T.dvector("x")
    m = T.dmatrix("m")
    soft = T.exp(m - m.max(axis=1, keepdims=True))
    soft = soft / soft.sum(axis=1, keepdims=True)
    f = croton.function([x, m], [T.log(T.sigmoid(x)), T.log(1 - T.sigmoid(x)),
                                 T.log(T.sum(T.exp(x))), T.log(soft)])
    xa = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    ma = np.array([[1e4, 0.0, -1e4], [3.0, 2.0, 1.0]])
    lsig, l1msig, lse, logsoft = f(xa, ma)
    np.testing.assert_allclose(lsig, -np.logaddexp(0, -xa), rtol=1e-12)
    np.testing.assert_allclose(l1msig, -np.logaddexp(0, xa), rtol=1e-12)
    np.testing.assert_allclose(lse, 1000.0 + np.log1p(np.exp(-950.0)), rtol=1e-12)
    ref = ma - ma.max(axis=1, keepdims=True)
    ref = ref - np.log(np.exp(ref).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(logsoft, ref, rtol=1e-12)
    assert np.all(np.isfinite(logsoft))


def test_gradients_of_stabilized_forms_are_finite():
    x = T.dvector("x")
    t = T.dvector("t")
    p = T.sigmoid(x)
    xent = -(t * T.log(p) + (1 - t) * T.log(1 - p)).sum()
    lse = T.log(T.sum(T.exp(x)))
    f = croton.function([x, t], [xent, T.grad(xent, x), T.grad(lse, x)])
    xa = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    ta = np.array([1.0, 0.0, 1.0, 0.0, 0.0])
    value, g_xent, g_lse = f(xa, ta)
    sig = 0.5 * (1 + np.tanh(xa / 2))
    np.testing.assert_allclose(g_xent, sig - ta, atol=1e-12)
    assert np.isfinite(value)
    np.testing.assert_allclose(value, np.sum(np.logaddexp(0, -xa) * ta
                                             + np.logaddexp(0, xa) * (1 - ta)), rtol=1e-12)
    soft = np.exp(xa - xa.max())
    np.testing.assert_allclose(g_lse, soft / soft.sum(), atol=1e-12)


def test_stabilize_leaves_the_stable_form_alone():
    x = T.dvector("x")
    m = T.max(x, keepdims=True)
    stable = T.log(T.sum(T.exp(x - m))) + T.max(x)
    g = stabilize(Graph.make([x], [stable]))
    assert _ops(g).count("max") == 2  # no second rewrite of the already-shifted form


def test_dump_passes_writes_each_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "dump_passes", str(tmp_path))
    x = T.dvector("x")
    from croton.codegen.pipeline import PIPELINES, run_pipeline

    run_pipeline(Graph.make([x], [T.log(T.sigmoid(x)) * 1.0]))
    (fn_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()][-1:]
    names = sorted(p.name for p in fn_dir.glob("*.txt"))
    assert names[0] == "00_input.txt" and "times.txt" in names
    assert len(names) == len(PIPELINES["FAST_RUN"]) + 2
    assert "softplus" in next(fn_dir.glob("*_stabilize.txt")).read_text()
