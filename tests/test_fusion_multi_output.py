"""Multi-output elementwise fusion: a value also needed outside a loop becomes one more output
of it (fuse_elementwise), and independent sibling loops reading a common input become one loop
(fuse_siblings). Values against NumPy (float32/float64, broadcasting, strided inputs, 0-d,
empty), the optimized graph's shape, in-place updates (Adam), and the merges that must not
happen (dependent siblings, other patterns, other ifelse branches)."""

from __future__ import annotations

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.fuse_elementwise import fuse_elementwise
from croton.codegen.passes.fuse_reductions import fuse_reductions
from croton.codegen.passes.fuse_siblings import fuse_siblings
from croton.codegen.passes.fusion_groups import FusionGroups
from croton.fgraph import Graph
from croton.ifelse import ifelse

RNG = np.random.default_rng(11)
TOL = {"float32": 2e-6, "float64": 1e-12}


def fused_nodes(f_or_graph):
    graph = getattr(getattr(f_or_graph, "maker", None), "fgraph", f_or_graph)
    return [n for n in graph.nodes() if n.op.name == "fused"]


def kinds(graph):
    """The op names of ``graph``'s nodes, without the dimshuffles that broadcast constants."""
    return sorted(n.op.name for n in graph.nodes() if n.op.name != "dimshuffle")


def inplace_count(f):
    return sum(1 for line in f.source.splitlines()
               if "(in place)" in line and "croton_buffer" in line)


def data(shape, dtype):
    return RNG.standard_normal(shape).astype(dtype)


# --- a value read inside the loop and outside it --------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_intermediate_read_by_dot_and_returned(dtype):
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    h = T.tanh(x)
    f = croton.function([x, W], [h * 2 + 1, T.dot(h, W), h])
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 2  # h and h * 2 + 1, one pass over x
    a, w = data((5, 4), dtype), data((4, 3), dtype)
    for xa in (a, np.asfortranarray(a), data((4, 5), dtype).T):  # contiguous, F-order, strided
        out, d, hh = f(xa, w)
        np.testing.assert_allclose(hh, np.tanh(xa), rtol=TOL[dtype])
        np.testing.assert_allclose(out, np.tanh(xa) * 2 + 1, rtol=TOL[dtype])
        np.testing.assert_allclose(d, np.tanh(xa) @ w, rtol=1e-5, atol=1e-6)


def test_graph_pass_alone_makes_two_outputs():
    x = T.dvector("x")
    h = T.exp(x)
    g = fuse_elementwise(Graph.make([x], [h * 2, h + 1]))
    (node,) = fused_nodes(g)  # both consumers join h's loop; h itself stays inside
    assert len(node.outputs) == 2 and g.outputs[0].owner is g.outputs[1].owner
    assert [s[0] for s in dict(node.params)["program"]].count("exp") == 1


def test_broadcasting_operands_with_an_intermediate_output():
    x, c = T.dmatrix("x"), T.dcol("c")
    b = T.drow("b")
    h = T.tanh(x + b)
    out = h * c - b
    f = croton.function([x, b, c], [out, h.sum(axis=0), h])
    assert any(len(n.outputs) == 2 for n in fused_nodes(f))
    xa, ba, ca = data((4, 3), "float64"), data((1, 3), "float64"), data((4, 1), "float64")
    o, s, hh = f(xa, ba, ca)
    want_h = np.tanh(xa + ba)
    np.testing.assert_allclose(hh, want_h, rtol=1e-12)
    np.testing.assert_allclose(o, want_h * ca - ba, rtol=1e-12)
    np.testing.assert_allclose(s, want_h.sum(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="test_fusion_multi_output.py"):
        f(xa, data((1, 2), "float64"), ca)  # a broadcast error still names the user's line


def test_scalars_and_empty_arrays():
    a, b = T.dscalars("a", "b")
    h = T.exp(a)
    f = croton.function([a, b], [h * b, h])
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 2
    out, hh = f(0.5, 3.0)
    assert out.shape == () and np.isclose(out, np.exp(0.5) * 3) and np.isclose(hh, np.exp(0.5))
    x = T.fmatrix("x")
    h2 = T.sqr(x)
    g = croton.function([x], [h2 + 1, h2])
    for shape in ((0, 3), (2, 0)):
        o, hh = g(np.zeros(shape, "float32"))
        assert o.shape == shape and hh.shape == shape and o.dtype == np.float32


def test_outputs_of_different_dtypes_in_one_loop():
    x = T.fvector("x")
    h = x * 2
    f = croton.function([x], [T.gt(h, 1), h])
    (node,) = fused_nodes(f)
    assert [o.dtype for o in node.outputs] == ["float32", "bool"]
    xa = data(7, "float32")
    mask, hh = f(xa)
    np.testing.assert_array_equal(mask, xa * 2 > 1)
    np.testing.assert_allclose(hh, xa * 2, rtol=1e-6)


# --- siblings ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sibling_loops_reading_a_common_input_become_one(dtype):
    g, m, v = (T.vector(n, dtype=dtype) for n in "gmv")
    m2, v2 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
    f = croton.function([g, m, v], [m2, v2])
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 2
    ga, ma, va = (data(9, dtype) for _ in range(3))
    for args in ((ga, ma, va), (data(18, dtype)[::2], ma, data(27, dtype)[::3])):
        o1, o2 = f(*args)
        np.testing.assert_allclose(o1, 0.9 * args[1] + 0.1 * args[0], rtol=TOL[dtype])
        np.testing.assert_allclose(o2, 0.999 * args[2] + 0.001 * args[0] ** 2, rtol=TOL[dtype])


def test_dependent_siblings_are_not_merged():
    x = T.dvector("x")
    a = T.exp(x)
    b = x * a.sum()  # reads x like a, but depends on a through the reduction
    graph = Graph.make([x], [a, b])
    groups = FusionGroups(graph)
    assert not groups.can_merge(groups.group_of(a.owner), groups.group_of(b.owner))
    f = croton.function([x], [a, b])
    assert all(len(n.outputs) == 1 for n in fused_nodes(f))
    assert len([n for n in f.maker.fgraph.nodes() if n.op.kind in ("elemwise", "fused")]) == 2
    xa = data(6, "float64")
    oa, ob = f(xa)
    np.testing.assert_allclose(oa, np.exp(xa), rtol=1e-12)
    np.testing.assert_allclose(ob, xa * np.exp(xa).sum(), rtol=1e-12)


def test_siblings_that_may_differ_in_shape_are_not_merged():
    r = T.drow("r")
    y, z = T.dmatrices("y", "z")
    # both read r, but r is broadcast: y and z may have different numbers of rows
    g = fuse_siblings(fuse_elementwise(Graph.make([r, y, z], [r + y, r * z])))
    assert kinds(g) == ["add", "mul"]
    x, w = T.dvector("x"), T.dmatrix("w")
    g2 = fuse_siblings(Graph.make([x, w], [x * 2, T.exp(w)]))  # nothing in common
    assert not fused_nodes(g2)


def test_siblings_in_different_ifelse_branches_stay_apart():
    c = T.dscalar("c")
    x = T.dvector("x")
    out = ifelse(T.gt(c, 0), T.exp(x), T.sin(x))
    g = fuse_siblings(fuse_elementwise(Graph.make([c, x], [out])))
    assert not fused_nodes(g)
    f = croton.function([c, x], out)
    xa = data(5, "float64")
    np.testing.assert_allclose(f(1.0, xa), np.exp(xa), rtol=1e-12)
    np.testing.assert_allclose(f(-1.0, xa), np.sin(xa), rtol=1e-12)


# --- in-place updates ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_updates_three_shared_variables_in_place(dtype):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    x, y = T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    w0 = data(4, dtype)
    W = croton.shared(w0.copy(), "W")
    m = croton.shared(np.zeros(4, dtype), "m")
    v = croton.shared(np.zeros(4, dtype), "v")
    cost = T.sum(T.sqr(T.dot(x, W) - y))
    (g,) = T.grad(cost, [W])
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    W2 = W - lr * m2 / (T.sqrt(v2) + eps)
    f = croton.function([x, y], cost, updates=[(m, m2), (v, v2), (W, W2)])
    assert any(len(n.outputs) == 3 for n in fused_nodes(f))
    assert inplace_count(f) == 3
    # the storage itself (a DeviceArray under CROTON_TEST_DEVICE=cuda: a plain borrow copies)
    storage = [s.get_value(borrow=True, return_internal_type=True) for s in (W, m, v)]
    wn, mn, vn = w0.astype("float64"), np.zeros(4), np.zeros(4)
    for _ in range(5):
        xa, ya = data((6, 4), dtype), data(6, dtype)
        f(xa, ya)
        gn = 2 * xa.T.astype("float64") @ (xa @ wn - ya)
        mn = b1 * mn + (1 - b1) * gn
        vn = b2 * vn + (1 - b2) * gn * gn
        wn = wn - lr * mn / (np.sqrt(vn) + eps)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for s, want in zip((W, m, v), (wn, mn, vn)):
        np.testing.assert_allclose(s.get_value(), want, rtol=tol, atol=tol)
    assert all(s.get_value(borrow=True, return_internal_type=True) is a
               for s, a in zip((W, m, v), storage))


def test_sibling_updates_in_place_while_a_sibling_reads_the_old_value():
    g = T.dvector("g")
    m = croton.shared(np.arange(5.0), "m_old")
    v = croton.shared(np.ones(5), "v_old")
    f = croton.function([g], m + g, updates=[(m, 0.5 * m + g), (v, v * g)])
    (node,) = fused_nodes(f)
    assert len(node.outputs) == 3 and inplace_count(f) == 2
    ga = data(5, "float64")
    out = f(ga)
    np.testing.assert_allclose(out, np.arange(5.0) + ga, rtol=1e-12)  # the old m
    np.testing.assert_allclose(m.get_value(), 0.5 * np.arange(5.0) + ga, rtol=1e-12)
    np.testing.assert_allclose(v.get_value(), ga, rtol=1e-12)


def test_transposed_shared_storage_updated_in_place():
    W = croton.shared(np.asfortranarray(data((3, 4), "float64")), "Wt")
    M = croton.shared(np.zeros((3, 4)), "Mt")
    g = T.dmatrix("g")
    w0 = W.get_value()
    f = croton.function([g], [], updates=[(M, 0.5 * M + g), (W, W - 0.5 * M - 0.5 * g)])
    ga = data((4, 3), "float64").T  # strided input
    f(ga)
    np.testing.assert_allclose(M.get_value(), ga, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), w0 - 0.5 * ga, rtol=1e-12)


# --- interactions ---------------------------------------------------------------------------
def test_reductions_still_absorb_single_output_loops():
    x = T.dmatrix("x")
    g = fuse_reductions(fuse_elementwise(Graph.make([x], [T.sum(T.exp(x) * 2, axis=1)])))
    assert kinds(g) == ["fused_reduce"]
    h = T.exp(x)
    g2 = fuse_reductions(fuse_elementwise(Graph.make([x], [h.sum(), h * 2, h])))
    assert "fused" in kinds(g2) and "fused_reduce" in kinds(g2)
    f = croton.function([x], [h.sum(), h * 2, h])
    xa = data((3, 5), "float64")
    s, d, hh = f(xa)
    np.testing.assert_allclose(s, np.exp(xa).sum(), rtol=1e-12)
    np.testing.assert_allclose(d, 2 * np.exp(xa), rtol=1e-12)
    np.testing.assert_allclose(hh, np.exp(xa), rtol=1e-12)


def test_fast_compile_and_numpy_reference_agree():
    x, y = T.dvectors("x", "y")
    h = T.tanh(x * y)
    outs = [h + y, h, y * 3 + x]
    xa, ya = data(6, "float64"), data(6, "float64")
    fast = croton.function([x, y], outs)
    slow = croton.function([x, y], outs, mode="FAST_COMPILE")
    assert fused_nodes(fast) and not fused_nodes(slow)
    for a, b in zip(fast(xa, ya), slow(xa, ya)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    (node,) = [n for n in fused_nodes(fast) if len(n.outputs) > 1]
    ins = {id(v): val for v, val in ((x, xa), (y, ya))}
    results = node.op.perform([ins[id(i)] if id(i) in ins else i.data for i in node.inputs],
                              dict(node.params))
    assert len(results) == len(node.outputs)


def test_outputs_of_one_loop_are_checked_to_agree_at_run_time():
    # the passes never merge loops whose shapes may differ; a hand-made node shows the check
    from croton.ops.fused import FUSED
    from croton.ops.table import apply_op

    r, (y, z) = T.drow("r"), T.dmatrices("y", "z")
    program = (("add", (), (("in", 0), ("in", 1)), "a.py:10"),
               ("mul", (), (("in", 0), ("in", 2)), "b.py:20"))
    node = apply_op(FUSED, [r, y, z], "c.py:1", program=program, outputs=(0, 1),
                    out_types=(y.type, y.type))
    f = croton.function([r, y, z], node.outputs)
    ones = np.ones((1, 4)), np.ones((3, 4)), np.ones((3, 4))
    np.testing.assert_array_equal(f(*ones)[1], np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"mul \(built at b.py:20\).*dimension 0"):
        f(np.ones((1, 4)), np.ones((3, 4)), np.ones((5, 4)))
