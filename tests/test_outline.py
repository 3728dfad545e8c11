"""Loop steps as functions of their own (codegen/outline.py): shared between identical loops,
spread over the parts of the build, outside the host driver's -O1 region, and right."""

from __future__ import annotations

import numpy as np

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.outline import outline_loops
from croton.codegen.pipeline import run_pipeline
from croton.codegen.render import render_function
from croton.codegen.target import CPU
from croton.fgraph import Graph


def _plan(inputs, outputs):
    return lower(run_pipeline(Graph.make(inputs, outputs))).plan


def test_loops_that_differ_only_in_their_buffers_share_one_function():
    x, y, z = T.dmatrix("x"), T.dmatrix("y"), T.dmatrix("z")
    plan = _plan([x, y, z], [T.tanh(x) * 2 + 1, T.tanh(y) * 2 + 1, T.exp(z)])
    outline = outline_loops(plan)
    assert len(outline.calls) == 3
    assert len(outline.functions) == 2  # tanh(.)*2+1 twice, exp once
    source = render_function(plan)
    shared = next(c.function.name for c in outline.calls.values()
                  if sum(d.function is c.function for d in outline.calls.values()) == 2)
    assert source.count(f"croton_loops::{shared}(") == 2


def test_shared_loop_functions_compute_each_callers_buffers():
    x, y = T.dmatrix("x"), T.dvector("y")
    f = croton.function([x, y], [T.tanh(x) * 2 + 1, T.tanh(x.T) * 2 + 1,
                                 T.tanh(y) * 2 + 1])
    rng = np.random.default_rng(0)
    xv, yv = rng.standard_normal((5, 7)), rng.standard_normal(11)
    a, b, c = f(xv, yv)
    np.testing.assert_allclose(a, np.tanh(xv) * 2 + 1, rtol=1e-12)
    np.testing.assert_allclose(b, np.tanh(xv.T) * 2 + 1, rtol=1e-12)
    np.testing.assert_allclose(c, np.tanh(yv) * 2 + 1, rtol=1e-12)


def test_loops_spread_over_the_build_parts_and_the_host_driver_is_cold():
    xs = [T.dmatrix(f"x{k}") for k in range(16)]
    outputs = [T.exp(x) * (k + 2) - T.tanh(x) / (k + 3) for k, x in enumerate(xs)]
    plan = _plan(xs, outputs)
    outline = outline_loops(plan)
    parts = {fn.part for fn in outline.functions}
    assert parts == set(range(CPU.build_parts))
    source = render_function(plan)
    cold = source.index("CROTON_COLD_BEGIN")
    assert source.index("int call_impl(") > cold
    assert all(source.index(f"int {fn.name}(") < cold for fn in outline.functions)


def test_a_scan_bodys_loops_are_outlined_and_shared_with_the_caller():
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    hs, _ = croton.scan(lambda row, h: T.tanh(row + h), sequences=x, outputs_info=h0)
    f = croton.function([x, h0], [hs, T.tanh(x)])
    xv, hv = np.random.default_rng(1).standard_normal((4, 3)), np.zeros(3)
    got, tx = f(xv, hv)
    want, h = [], hv
    for row in xv:
        h = np.tanh(row + h)
        want.append(h)
    np.testing.assert_allclose(got, np.array(want), rtol=1e-12)
    np.testing.assert_allclose(tx, np.tanh(xv), rtol=1e-12)
