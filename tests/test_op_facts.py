"""The op facts on each record (``croton/ops/table.py``) are the ones the passes and lowerings
act on: views, can-fail, in-place, reduction semantics (identity, combine, accumulator), shapes
(more in ``test_shape_facts.py``), inner graphs. Each fact is checked against what the lowering
does or against NumPy."""

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.lower import Lowerer, lower
from croton.codegen.passes.plan_inplace import _aliases, plan_inplace
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.ifelse import ifelse
from croton.ops import OPS

# --- views --------------------------------------------------------------------------------


def _view_samples(m, v, r, c):
    return {"dimshuffle": m.T, "subtensor": m[1:, ::2], "reshape": m.reshape((-1,)),
            "split": T.split(v, [1, 2], 2)[0], "extract_diag": T.diag(m),
            "rebroadcast": T.unbroadcast(r, 0), "specify_shape": T.specify_shape(m, (2, 3)),
            "ifelse": ifelse(c > 0, m, m * 2)}


def test_every_view_op_says_so_and_the_lowering_agrees():
    m, v, r, c = T.dmatrix("m"), T.dvector("v"), T.drow("r"), T.dscalar("c")
    samples = _view_samples(m, v, r, c)
    assert sorted(samples) == sorted(n for n, rec in OPS.items() if rec.views)
    others = [T.exp(m), m.sum(axis=0), T.dot(m, m.T), m[[0, 1]], T.join(0, m, m),
              T.alloc(c, 2, 3), T.inc_subtensor(m[0], v), T.repeat(v, 2)]
    for out in [*samples.values(), *others]:
        lw = Lowerer(Graph.make([m, v, r, c], [out]))
        lw.run()
        role = lw.buffers[lw.var_buffer[id(out)]].role
        assert (role == "view") == bool(out.owner.op.views), (out.owner.op.name, role)


def test_plan_inplace_follows_views_of_the_shared_variable():
    W = croton.shared(np.zeros((3, 3)), "W")
    w = croton.shared(np.zeros(3), "w")
    R = croton.shared(np.zeros((1, 3)), "R")
    c = T.dscalar("c")
    for name, view in _view_samples(W, w, R, c).items():
        g = Graph.make([c], [view], [(W, W + 1), (w, w + 1), (R, R + 1)])
        nodes = g.nodes()
        (k,) = [k for k, s in enumerate((W, w, R)) if id(view) in _aliases(g, s, nodes)]
        # the view is an output: the update whose storage it shares is not made in place,
        # the two others are
        assert plan_inplace(g).inplace_updates == tuple(j for j in range(3) if j != k), name


# --- can_fail -----------------------------------------------------------------------------


@pytest.mark.parametrize("make, can_fail", [
    (lambda m: T.exp(m), False),
    (lambda m: m.sum(axis=0), False),
    (lambda m: m.max(axis=1), False),  # its empty check reads only input shapes (hoisted)
    (lambda m: T.dot(m, m) + m, False),  # gemm after specialize_blas
    (lambda m: m.T * 2, False),
    (lambda m: m[T.argmax(m, axis=0)], True),  # indices known only at run time
])
def test_can_fail_agrees_with_the_lowered_plan(make, can_fail):
    """An update placed before a node made by ``make``: plan_inplace takes it in place exactly
    when every later node says it cannot fail, and the lowering keeps that decision (its own
    check on the finished plan would otherwise undo it)."""
    m = T.dmatrix("m")
    S = croton.shared(np.zeros(3), "S")
    out = make(m)
    R = croton.shared(np.zeros((3,) * out.ndim), "R")
    g = run_pipeline(Graph.make([m], [], [(S, S + 1), (R, out)]))
    later = g.nodes()[[id(n) for n in g.nodes()].index(id(g.updates[0][1].owner)) + 1:]
    assert any(n.op.can_fail for n in later) == can_fail
    assert (0 in g.inplace_updates) == (not can_fail)
    labels = [b.label for b in lower(g).plan.buffers]
    assert ("update0 (in place)" in labels) == (not can_fail)


# --- in place -----------------------------------------------------------------------------


def test_inplace_fact_decides_which_kernels_write_into_shared_storage():
    x, A = T.dvector("x"), T.dmatrix("A")
    W = croton.shared(np.zeros((3, 3)), "W")
    b = croton.shared(np.zeros(3), "b")
    assert OPS["gemm"].inplace.into_input == 0 and OPS["exp"].inplace.into_input is None
    assert OPS["dot"].inplace is None and OPS["sort"].inplace is None
    g = run_pipeline(Graph.make([x, A], [], [(W, W + T.dot(A, A)), (b, T.exp(x))]))
    assert [v.owner.op.name for _, v in g.updates] == ["gemm", "exp"]
    assert g.inplace_updates == (0, 1)
    g = run_pipeline(Graph.make([x], [], [(b, T.sort(x))]))
    assert g.inplace_updates == ()


# --- reductions ---------------------------------------------------------------------------

REDUCTIONS = ["sum", "prod", "max", "min", "all", "any"]
DTYPES = ["bool", "int8", "uint8", "int32", "int64", "uint64", "float32", "float64",
          "complex64", "complex128"]


def test_the_reductions_are_the_records_with_reduction_semantics():
    assert sorted(n for n, r in OPS.items() if r.reduction is not None) == sorted(REDUCTIONS)


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_identity_and_accumulator_match_numpy(name, dtype):
    rec = OPS[name]
    red = rec.reduction
    if name in ("max", "min") and dtype.startswith("complex"):
        with pytest.raises(TypeError, match="no order"):
            getattr(T, name)(T.TensorType(dtype, (False,))("x"))
        return
    out_dtype = rec.type_rule([T.TensorType(dtype, (False,))], {"axis": (0,)})[0].dtype
    acc = red.accumulator(dtype, out_dtype)
    assert np.can_cast(out_dtype, acc) or acc == "bool"
    identity = red.identity(dtype)
    empty = np.zeros((0,), dtype)
    if red.empty_ok:
        expected = rec.perform([empty], {"axis": (0,)})[0]
        assert np.asarray(identity, out_dtype) == expected  # NumPy's empty reduction
    else:
        with pytest.raises(ValueError):
            rec.perform([empty], {"axis": (0,)})
        info = np.finfo(dtype) if dtype.startswith("float") else (
            np.iinfo(dtype) if dtype != "bool" else None)
        values = np.array([False, True] if info is None else [info.min, 0, info.max], dtype)
        # the identity changes no value: combine(identity, v) == v
        fn = np.maximum if name == "max" else np.minimum
        np.testing.assert_array_equal(fn(np.asarray(identity, dtype), values), values)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_compiled_reductions_of_empty_and_complex_inputs_match_numpy(mode):
    """FAST_RUN lowers reductions as ``fused_reduce``, FAST_COMPILE as ``reduce``: both read
    the same record."""
    z64, z128 = T.cmatrix("z64"), T.zmatrix("z128")
    e, i = T.dmatrix("e"), T.bmatrix("i")
    outs = [T.sum(z64, axis=0), T.prod(z64, axis=1), T.sum(z128 * 2), T.prod(z128),
            T.all(z128, axis=0), T.any(z64), T.sum(e, axis=0), T.prod(e), T.all(e, axis=0),
            T.any(e), T.max(i, axis=0), T.min(i, axis=1), T.sum(i)]
    f = croton.function([z64, z128, e, i], outs, mode=mode)
    names = {n.op.name for n in f.maker.fgraph.nodes()}
    assert ("fused_reduce" in names) == (mode == "FAST_RUN"), names
    log = (f.build.entry_dir / "build.log").read_text()
    assert "-Wextra" in log and "warning" not in log.lower(), log
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype("complex64")
    b = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    b[0, 1] = 0
    for emp in (np.zeros((0, 3)), np.ones((2, 3))):
        iv = np.array([[-128, 5, 127], [3, -4, 0]], "int8")
        want = [a.sum(0), a.prod(1), (b * 2).sum(), b.prod(), b.all(0), a.any(), emp.sum(0),
                emp.prod(), emp.all(0), emp.any(), iv.max(0), iv.min(1), iv.sum(dtype="int64")]
        got = f(a, b, emp, iv)
        for k, (g, w) in enumerate(zip(got, want)):
            assert np.asarray(g).dtype == np.asarray(w).dtype or k < 4, k
            np.testing.assert_allclose(g, w, rtol=1e-5, err_msg=f"output {k}")
    g = croton.function([e], T.max(e, axis=0), mode=mode)
    with pytest.raises(ValueError, match="zero-size array"):
        g(np.zeros((0, 3)))


# --- shapes and inner graphs --------------------------------------------------------------


def test_shape_i_of_a_dimshuffle_folds_through_its_shape_fact():
    m = T.dmatrix("m")
    y = m.dimshuffle(1, "x", 0)
    g = run_pipeline(Graph.make([m], [T.shape_i(y, 0), T.shape_i(y, 1), T.shape_i(y, 2)]))
    a, one, b = g.outputs
    assert (a.owner.op.name, dict(a.owner.params)["i"], a.owner.inputs[0]) == ("shape_i", 1, m)
    assert one.data == 1 and dict(b.owner.params)["i"] == 0


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_scan_bodies_are_optimized_in_the_pipeline_with_the_same_mode(mode):
    x = T.dvector("x")
    ys, _ = croton.scan(lambda v, acc: T.exp(v) * 2 + acc, sequences=[x],
                        outputs_info=[T.constant(np.float64(0))])
    g = run_pipeline(Graph.make([x], [ys]), mode)
    (scan,) = [n for n in g.nodes() if n.op.map_inner is not None]
    inner = [n.op.name for n in dict(scan.params)["fn"].inner.nodes()]
    assert ("fused" in inner) == (mode == "FAST_RUN"), inner
    f = croton.function([x], ys, mode=mode)
    xv = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(f(xv), np.cumsum(np.exp(xv) * 2))


def test_every_reduction_record_fuses_with_its_producer():
    from croton.codegen.passes.fuse_reductions import fuse_reductions

    x = T.dmatrix("x")
    for name in REDUCTIONS:
        out = getattr(T, name)(T.exp(x), axis=0)
        node = fuse_reductions(Graph.make([x], [out])).outputs[0].owner
        params = dict(node.params)
        assert (node.op.name, params["reduce"]) == ("fused_reduce", name)
        assert [step[0] for step in params["program"]] == ["exp"]
        xv = np.array([[0.5, -1.0], [2.0, 0.0]])
        np.testing.assert_array_equal(node.op.perform([xv], params)[0],
                                      OPS[name].perform([np.exp(xv)], {"axis": (0,)})[0])


@pytest.mark.parametrize("name", REDUCTIONS + ["argmax", "argmin"])
def test_shape_i_of_a_reduction_reads_the_kept_input_dim(name):
    t = T.dtensor3("t")
    out = getattr(T, name)(t, axis=1)
    g = run_pipeline(Graph.make([t], [T.shape_i(out, 0), T.shape_i(out, 1)]), "FAST_RUN")
    assert [(o.owner.op.name, o.owner.inputs[0], dict(o.owner.params)["i"])
            for o in g.outputs] == [("shape_i", t, 0), ("shape_i", t, 2)]
    f = croton.function([t], [T.shape_i(out, 0), T.shape_i(out, 1)])
    assert [int(v) for v in f(np.zeros((2, 3, 4)))] == [2, 4]
