"""Golden rendered-source tests: a handful of graphs, lowered with the FAST_RUN pipeline and
rendered to C++, must match the translation units stored in ``tests/golden/`` byte for byte.

A change to a pass, the lowering or a template that changes the generated code shows up here as
a diff to review (and in the pull request as a diff of the golden files). After reviewing it,
regenerate with::

    CROTON_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_render.py

Only the text is compared here; what such code computes is checked against NumPy by the op,
gradient and scan tests.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.pipeline import run_pipeline
from croton.codegen.render import render_function
from croton.fgraph import Graph

GOLDEN = Path(__file__).parent / "golden"


def _seed_step():
    """The seed tutorial's training step: a dot product, its gradient, an in-place update."""
    x, target = T.fvector("x"), T.fscalar("target")
    W = croton.shared(np.asarray([0.1, 0.25, 0.15, 0.3]), "W")
    y = (x * W).sum()
    (g,) = T.grad(T.sqr(target - y), [W])
    return Graph.make([x, target], [y], [(W, W - 0.1 * g)])


def _broadcast_elementwise():
    """A fused elementwise chain over a matrix, a bias row and a scalar."""
    x, b, s = T.dmatrix("x"), T.dvector("b"), T.dscalar("s")
    return Graph.make([x, b, s], [T.tanh(x + b) * s - T.exp(-x)])


def _reductions():
    """A sum over one axis, a max over all, and a softmax (stabilized)."""
    x = T.fmatrix("x")
    return Graph.make([x], [x.sum(axis=0), x.max(), T.nnet.softmax(x)])


def _dense_layer():
    """dot + bias through gemm, and its gradient with respect to the weights."""
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.fvector("b")
    h = T.nnet.sigmoid(T.dot(x, W) + b)
    return Graph.make([x, W, b], [h, T.grad(h.sum(), W)])


def _scan_cumulative():
    """scan: a running product of the rows of a matrix."""
    x = T.dmatrix("x")
    out, _ = croton.scan(lambda row, acc: acc * row, sequences=x,
                         outputs_info=T.ones_like(x[0]))
    return Graph.make([x], [out])


def _ifelse_branches():
    """ifelse: only the taken branch runs."""
    from croton.ifelse import ifelse

    a, b = T.dvectors("a", "b")
    c = T.dscalar("c")
    return Graph.make([a, b, c], [ifelse(T.gt(c, 0), T.exp(a), b * 2)])


def _conv_pool():
    """conv2d, max pooling and the bias-add/tanh between them."""
    from croton.tensor.signal.pool import pool_2d

    x, w, b = T.ftensor4("x"), T.ftensor4("w"), T.fvector("b")
    h = T.tanh(T.nnet.conv2d(x, w) + b.dimshuffle("x", 0, "x", "x"))
    return Graph.make([x, w, b], [pool_2d(h, (2, 2), ignore_border=True)])


CASES = {f.__name__.lstrip("_"): f for f in (_seed_step, _broadcast_elementwise, _reductions,
                                               _dense_layer, _scan_cumulative, _ifelse_branches,
                                               _conv_pool)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_source_matches_golden(name):
    source = render_function(lower(run_pipeline(CASES[name]())).plan)
    path = GOLDEN / f"{name}.cpp"
    if os.environ.get("CROTON_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(source)
    assert path.exists(), f"no golden file {path}: run with CROTON_UPDATE_GOLDEN=1 to create it"
    want = path.read_text()
    if source != want:
        diff = "".join(list(difflib.unified_diff(
            want.splitlines(keepends=True), source.splitlines(keepends=True),
            f"golden/{name}.cpp", f"rendered {name}"))[:80])
        pytest.fail(f"the rendered source of {name} changed; review the diff, then regenerate "
                    f"with CROTON_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_render.py\n"
                    f"{diff}", pytrace=False)


def test_rendering_is_deterministic():
    """The same graph built twice renders to the same text (no addresses, no set order)."""
    first = render_function(lower(run_pipeline(_dense_layer())).plan)
    second = render_function(lower(run_pipeline(_dense_layer())).plan)
    assert first == second
