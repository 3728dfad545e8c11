"""The shape fact (``OpRecord.shape``, ``croton/ops/shapes.py``) of every op in the table agrees
with its NumPy reference: for sample graphs covering every op (raw and after the FAST_RUN
pipeline, which makes the fused, BLAS and scan-internal nodes), each node's fact, run over ints
given its real input values, equals the shapes ``perform`` returns. A record without the fact
is refused at registration; canonicalize folds ``shape_i`` of any output whose dim is a function
of input dims alone. No compilation here (the op tests cover the lowering, which reads the same
fact)."""

from __future__ import annotations

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.passes.canonicalize import canonicalize
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.graph import Constant
from croton.ifelse import ifelse
from croton.ops import OPS
from croton.ops.shapes import VALUE_DEPENDENT, NumpyIns, numpy_shapes
from croton.ops.table import OpRecord, apply_op, node_perform, register
from croton.tensor import nlinalg, slinalg
from croton.tensor.random import RandomStreams
from croton.tensor.signal.pool import pool_2d, pool_3d
from croton.types import TensorType

RNG = np.random.default_rng(0)


def _f(*shape):
    return RNG.uniform(0.1, 0.9, shape)


def _samples():
    """(inputs, input values, outputs) graphs that together use every non-elementwise op."""
    out = []

    def add(inputs, values, outputs):
        out.append((inputs, values, outputs))

    m, v, c = T.dmatrix("m"), T.dvector("v"), T.dscalar("c")
    mv, vv, cv = _f(3, 4), _f(4), np.float64(0.5)
    n = T.lscalar("n")
    # reductions, cumulative, sort, shapes
    add([m], [mv], [m.sum(axis=0), m.prod(axis=1), m.max(), m.min(axis=0), T.argmax(m, axis=1),
                    T.argmin(m, axis=0), T.all(m > 0.5, axis=0), T.any(m > 0.5),
                    T.cumsum(m, axis=1), T.cumprod(m), T.sort(m, axis=1), T.argsort(m, axis=0),
                    m.dimshuffle(1, "x", 0), T.shape_i(m, 1), m.shape,
                    T.grad(T.cumsum(m).sum(), m)])
    add([m, n], [mv, np.int64(2)],
        [T.reshape(m, (n, -1)), T.reshape(m, (-1,)), T.join(0, m, m * 2),
         T.alloc(T.constant(1.5), n, 3), T.alloc(m[0, :3], 2, n, 3),
         T.eye(n, 3, 1), T.arange(n), T.arange(T.constant(0.5), T.cast(n, "float64"),
                                                T.constant(0.75)),
         T.specify_shape(m, (3, 4)), T.addbroadcast(m[:1], 0), T.diag(m), T.diag(m[0]),
         T.grad(T.diag(m).sum(), m)])
    parts = T.split(v, [1, 3], 2)
    r = T.lvector("r")
    add([v, r], [vv, np.array([1, 0, 2, 3])],
        [*parts, *T.split(v, [r[0], 4 - r[0]], 2), T.repeat(v, r, axis=0), T.repeat(v, 2),
         T.grad((T.repeat(v, r) ** 2).sum(), v)])
    # indexing
    i, mask = T.lvector("i"), T.matrix("mask", dtype="bool")
    add([m, i, n, mask, v], [mv, np.array([2, 0, 1]), np.int64(1), mv > 0.4, vv],
        [m[1:, ::2], m[n:, None, 0], m[::-1, n:-1:n], m[i], m[i, 1:], m[:, i], m[i, i], m[i, n:],
         T.set_subtensor(m[1:, i[:2]], 1.0), T.inc_subtensor(m[0], v), m[mask]])
    # linear algebra
    a3, b3 = T.dtensor3("a3"), T.dtensor3("b3")
    x, w = T.dvector("x"), T.dmatrix("w")
    sq = T.dmatrix("sq")
    sqv = _f(3, 3) + 3 * np.eye(3)
    add([m, w, x, a3, b3, sq], [mv, _f(4, 2), _f(4), _f(2, 3, 4), _f(2, 4, 5), sqv],
        [T.dot(m, w), T.dot(x, w), T.dot(m, x), T.dot(x, x), T.tensordot(a3, w, 1),
         T.batched_dot(a3, b3), T.batched_dot(a3, b3[:, :, 0]),
         nlinalg.matrix_inverse(sq), nlinalg.det(sq), slinalg.solve(sq, m[:, :3].T),
         slinalg.cholesky(sq.dot(sq.T)), T.grad(slinalg.cholesky(sq.dot(sq.T)).sum(), sq),
         T.tanh(T.dot(m, w) + 1), T.dot(w.T, x) * 2 + 1, m + T.outer(x[:3], x)])
    # neural network primitives
    idx = T.lvector("idx")
    x4, w4 = T.dtensor4("x4"), T.dtensor4("w4")
    x5, w5 = T.dtensor5("x5"), T.dtensor5("w5")
    u4 = T.dtensor4("u4")
    conv = T.nnet.conv2d(x4, w4, border_mode="half", subsample=(2, 1))
    conv3 = T.nnet.conv3d(x5, w5, border_mode=(1, 0, 1))
    pooled = pool_2d(x4, (2, 2), ignore_border=False)
    gx = T.grad((pooled * u4).sum(), x4)
    p3 = pool_3d(x5, (2, 2, 1), ignore_border=True, mode="average_inc_pad")
    q2 = pool_2d(x4, (2, 3), ignore_border=True, stride=(1, 2), pad=(1, 1), mode="sum")
    q3 = pool_3d(x5, (2, 2, 2), ignore_border=False)
    g3 = T.grad((q3 * q3).sum(), x5)
    add([m, idx, x4, w4, x5, w5, u4],
        [mv, np.array([0, 3, 1]), _f(2, 2, 6, 5), _f(3, 2, 3, 3), _f(1, 2, 4, 5, 3),
         _f(2, 2, 3, 2, 2), _f(2, 2, 3, 3)],
        [T.nnet.take_along_last(m, idx), T.grad(T.nnet.take_along_last(m, idx).sum(), m),
         conv, *T.grad(conv.sum(), [x4, w4]), conv3, *T.grad(conv3.sum(), [x5, w5]),
         pooled, gx, T.grad((gx * x4).sum(), u4), p3, T.grad(p3.sum(), x5), q2,
         T.grad(q2.sum(), x4), q3, g3, T.grad((g3 * x5).sum(), x5),
         T.nnet.softmax(m), T.sum(m ** 2, axis=1)])
    # control flow
    seq = T.dmatrix("seq")
    ys, _ = croton.scan(lambda row, acc: acc * row + T.sum(row), sequences=seq,
                        outputs_info=T.ones_like(seq[0]))
    zs, _ = croton.scan(lambda row, a1, a2: (a1 + a2 * row, T.sum(row[:2])), sequences=seq,
                        outputs_info=[dict(initial=seq[:2], taps=[-2, -1]), None])
    h0 = T.dmatrix("h0")
    hs, _ = croton.scan(lambda row, b1, b2: b1 * b2 + row, sequences=seq,
                        outputs_info=[dict(initial=h0, taps=[-2, -1])])
    add([seq, c, v, h0], [_f(5, 4), cv, vv, _f(2, 4)],
        [ys, *zs, ifelse(c > 0.2, v * 2, v), T.grad(hs.sum(), h0)])
    # random
    srng = RandomStreams(7)
    size = T.lvector("size")
    avg = T.dvector("avg")
    add([n, size, avg], [np.int64(3), np.array([2, 3]), vv],
        [srng.uniform((n, 2)), srng.normal((2, 3), avg=T.zeros((3,))),
         srng.binomial((2, n), p=0.3), srng.permutation((2,), n=n), srng.choice((4,), a=n + 5),
         srng.uniform(size, ndim=2), srng.normal(avg=avg)])
    return out


def _elemwise_nodes():
    """One node of each elementwise op over a matrix, a row and a column (broadcasting), with
    the first input dtype its type rule accepts."""
    shapes = [((3, 4), (False, False)), ((1, 4), (True, False)), ((3, 1), (False, True))]
    for name, rec in OPS.items():
        if rec.kind != "elemwise":
            continue
        params = {"dtype": "float32"} if name == "cast" else {}
        for dtype in ("float64", "int64", "bool", "complex128"):
            ins = [TensorType(dtype, shapes[k % 3][1])() for k in range(rec.nin)]
            try:
                node = apply_op(rec, ins, **params)
            except (TypeError, ValueError):
                continue
            values = [_value(dtype, shapes[k % 3][0]) for k in range(rec.nin)]
            yield node, values
            break


def _value(dtype, shape):
    if dtype == "bool":
        return RNG.uniform(size=shape) > 0.5
    if dtype == "int64":
        return RNG.integers(1, 4, shape)
    return _f(*shape).astype(dtype)


def _graph_nodes(inputs, values, outputs):
    """Every node of the raw graph and of its FAST_RUN optimization, with its input values."""
    for graph in (Graph.make(inputs, outputs), run_pipeline(Graph.make(inputs, outputs))):
        yield from _walk(graph.nodes(), dict(zip(map(id, graph.inputs), values)))


def _walk(nodes, env):
    def value(v):
        if id(v) in env:
            return env[id(v)]
        if isinstance(v, Constant):
            return v.data
        return np.asarray(v.storage[0])  # a shared variable (a DeviceArray's host copy)

    for node in nodes:
        ins = [value(v) for v in node.inputs]
        yield node, ins
        if node.op.name == "scan":  # the step's nodes, on the first step's values
            yield from _scan_step(node, ins)
        with np.errstate(all="ignore"):
            for o, r in zip(node.outputs, node_perform(node, ins)):
                env[id(o)] = r


def _scan_step(node, ins):
    spec = dict(node.params)["fn"]
    sl = spec.input_slices()
    step = [x[q.row(0, k, x.shape[0])] for q, x in zip(spec.seqs, ins[sl["seqs"]])
            for k in q.taps]
    step += [x0[q.m + k] for q, x0 in zip(spec.states, ins[sl["inits"]]) for k in q.taps]
    step += list(ins[sl["nonseqs"]])
    yield from _walk(spec.inner.nodes(), dict(zip(map(id, spec.inner.inputs), step)))


def test_every_op_has_a_shape_fact_that_matches_numpy():
    seen: set[str] = set()
    pairs = list(_elemwise_nodes())
    for sample in _samples():
        pairs += list(_graph_nodes(*sample))
    for node, ins in pairs:
        with np.errstate(all="ignore"):
            want = [np.shape(r) for r in node_perform(node, ins)]
        got = numpy_shapes(node, ins)
        assert got == want, (node.op_label(), [np.shape(x) for x in ins], got, want)
        seen.add(node.op.name)
    assert sorted(set(OPS) - seen) == []


def test_value_dependent_ops_are_those_whose_rule_reads_values():
    class Probe(NumpyIns):
        read = False

        def value(self, *a, **k):
            Probe.read = True
            return super().value(*a, **k)

        def array(self, k):
            Probe.read = True
            return super().array(k)

    reads: set[str] = set()
    for sample in _samples():
        for node, ins in _graph_nodes(*sample):
            Probe.read = False
            node.op.shape(dict(node.params), Probe([v.type for v in node.inputs], ins))
            if Probe.read:
                reads.add(node.op.name)
    # every listed op reads values in some sample; none outside the list does
    assert reads == VALUE_DEPENDENT, (sorted(reads - VALUE_DEPENDENT),
                                      sorted(VALUE_DEPENDENT - reads))


def test_an_op_without_a_shape_fact_is_refused_at_registration():
    rec = OpRecord("no_shape_fact", "elemwise", lambda types, params: [types[0]],
                   lambda values, params: [values[0]])
    with pytest.raises(TypeError, match="no_shape_fact.*no shape fact"):
        register(rec)
    assert "no_shape_fact" not in OPS


def _folded(out, inputs):
    (y,) = canonicalize(Graph.make(inputs, [out])).outputs
    return y


def test_shape_i_of_any_op_folds_to_its_input_dims():
    a, b, x = T.dmatrix("a"), T.dmatrix("b"), T.dtensor4("x")
    w = T.dtensor4("w")
    y = _folded(T.shape_i(T.join(0, a, b), 0), [a, b])
    assert y.owner.op.name == "add"
    assert {(s.owner.inputs[0].name, dict(s.owner.params)["i"]) for s in y.owner.inputs} \
        == {("a", 0), ("b", 0)}
    assert _folded(T.shape_i(T.exp(a) + b, 1), [a, b]).owner.inputs[0] is a
    assert _folded(T.shape_i(T.dot(a, b), 1), [a, b]).owner.inputs[0] is b
    conv = T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 2))
    y = _folded(T.shape_i(conv, 2), [x, w])
    assert conv.owner not in Graph.make([x, w], [y]).nodes()
    f = croton.function([x, w], y)
    xv, wv = np.zeros((1, 2, 7, 5)), np.zeros((3, 2, 3, 3))
    assert int(f(xv, wv)) == np.shape(croton.function([x, w], conv)(xv, wv))[2] == 4


def test_shape_i_of_a_value_dependent_dim_is_not_folded():
    v, r = T.dvector("v"), T.lvector("r")
    y = T.repeat(v, r)
    kept = _folded(T.shape_i(y, 0), [v, r])
    assert kept.owner.op.name == "shape_i" and kept.owner.inputs[0].owner.op.name == "repeat"
    # the other dims of a value-dependent op still fold
    m, n = T.dmatrix("m"), T.lscalar("n")
    s = _folded(T.shape_i(T.split(m, [n, 3 - n], 2, axis=1)[0], 0), [m, n])
    assert s.owner.op.name == "shape_i" and s.owner.inputs[0] is m


def test_the_lowering_sets_output_shapes_from_the_fact():
    from croton.codegen.expr import cpp
    from croton.codegen.lower import lower
    from croton.codegen.plan import ShapeLine

    a, b, n = T.dmatrix("a"), T.dmatrix("b"), T.lscalar("n")
    plan = lower(Graph.make([a, b, n], [T.join(0, a, b), T.eye(n, 3, 0)])).plan
    lines = {cpp(line.target): cpp(line.expr) for line in (*plan.shape_lines, *plan.steps)
             if isinstance(line, ShapeLine) and line.target is not None}
    out0, out1 = plan.outputs
    assert lines[f"B{out0}.shape[0]"] == "B0.shape[0] + B1.shape[0]"
    assert lines[f"B{out1}.shape[0]"] == "croton::value<int64_t>(B2)"
    assert lines[f"B{out1}.shape[1]"] == "int64_t(3)"
