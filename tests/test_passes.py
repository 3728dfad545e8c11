"""The passes: each a pure Graph -> Graph that keeps results; generated C++ builds warning-free."""

import numpy as np

import croton
import croton.tensor as T
from croton.codegen.passes.constant_fold import constant_fold
from croton.codegen.passes.fuse_elementwise import fuse_elementwise
from croton.codegen.passes.merge import merge
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.graph import Constant


def op_names(graph):
    return [n.op.name for n in graph.nodes()]


def test_merge_shares_identical_subgraphs_and_constants():
    x = T.dvector("x")
    a = T.exp(x) * 2.0
    b = T.exp(x) * 2.0
    g = Graph.make([x], [a + b])
    merged = merge(g)
    assert op_names(g).count("exp") == 2
    assert op_names(merged).count("exp") == 1 and op_names(merged).count("mul") == 1
    assert op_names(g).count("exp") == 2  # the input graph is untouched


def test_constant_fold():
    x = T.dvector("x")
    g = Graph.make([x], [x * (T.constant(2.0) * T.constant(3.0))])
    folded = constant_fold(g)
    assert op_names(folded) == ["mul"]
    c = folded.outputs[0].owner.inputs[1]
    assert isinstance(c, Constant) and c.data.reshape(-1).tolist() == [6.0]


def test_fusion_turns_a_chain_into_one_node():
    x, y = T.dvectors("x", "y")
    g = Graph.make([x, y], [T.exp(x) * y + T.tanh(x) - 0.5 * y * y])
    fused = fuse_elementwise(constant_fold(merge(g)))
    assert op_names(fused) == ["fused"]
    program = dict(fused.outputs[0].owner.params)["program"]
    assert [s[0] for s in program].count("exp") == 1
    # a value read by two loops is computed once, in one loop with two outputs
    shared = T.exp(x)
    g2 = fuse_elementwise(constant_fold(Graph.make([x], [shared * 2, shared + 1])))
    assert op_names(g2) == ["fused"]
    node = g2.outputs[0].owner
    assert len(node.outputs) == 2 and g2.outputs[1].owner is node
    assert [s[0] for s in dict(node.params)["program"]].count("exp") == 1


def test_passes_keep_results():
    x, y = T.dmatrices("x", "y")
    expr = T.exp(x) * y + T.tanh(x).sum(axis=0) - 0.5 * T.dot(x, y.T).max()
    a, b = np.random.default_rng(3).standard_normal((2, 4, 4))
    want = np.exp(a) * b + np.tanh(a).sum(axis=0) - 0.5 * (a @ b.T).max()
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        np.testing.assert_allclose(croton.function([x, y], expr, mode=mode)(a, b), want,
                                   rtol=1e-12)
    assert op_names(run_pipeline(Graph.make([x, y], [expr])))  # pipeline runs end to end


def test_generated_code_builds_without_warnings():
    x = T.fmatrix("x")
    i = T.ivector("i")
    W = croton.shared(np.ones((3, 3), dtype="float32"), "Wwarn")
    outs = [T.dot(x, W).sum(axis=1), T.switch(T.gt(x, 0), x, 0.125 * x), (i // 3) % 2,
            T.sigmoid(x).max(), x.T]
    f = croton.function([x, i], outs, updates=[(W, W * 0.5)])
    log = (f.build.entry_dir / "build.log").read_text()
    assert "-Wall" in log and "-Wextra" in log
    assert "warning" not in log.lower(), log
