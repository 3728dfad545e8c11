"""The flow runs one way: the front end needs no pass, passes need no lowering, lowering needs no
pipeline, and compiling never changes the user's graph."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.graph import ancestors_toposort

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(roots):
    """Every variable reachable from ``roots``, with its name, owner and the owner's inputs."""
    seen = {}
    for node in ancestors_toposort(roots):
        for v in (*node.inputs, *node.outputs):
            seen[id(v)] = (v, v.name, v.owner, tuple(v.owner.inputs) if v.owner else None,
                           v.owner.params if v.owner else None)
    return seen


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_compiling_leaves_every_user_variable_unchanged(mode):
    x = T.dvector("x")
    m = T.dmatrix("m")
    W = croton.shared(np.ones((3, 3)), "W")
    h = T.exp(x)
    y = h * 1  # canonicalize returns h itself for y: h must not be renamed 'y'
    y.name = "y"
    z = T.log(1 + x)  # stabilize: log1p
    z.name = "z"
    s = T.sum(T.sqr(x))  # fuse_reductions absorbs sqr
    d = T.dot(m, W) + m  # specialize_blas: gemm
    roots = [y, z, s, d, W - 0.1 * T.dot(m.T, m)]
    before = _snapshot(roots)
    f = croton.function([x, m], [y, z, s, d], updates=[(W, roots[-1])], mode=mode)
    xv, mv = np.array([0.5, 1.0, 2.0]), np.arange(9.0).reshape(3, 3)
    out = f(xv, mv)
    np.testing.assert_allclose(out[0], np.exp(xv))
    np.testing.assert_allclose(out[1], np.log1p(xv))
    after = _snapshot(roots)
    assert after.keys() == before.keys()
    for v, name, owner, inputs, params in before.values():
        assert (v.name, v.owner) == (name, owner), f"{v!r} changed: was {name!r}"
        if owner is not None:
            assert tuple(owner.inputs) == inputs and owner.params == params
    assert h.name is None and y.name == "y" and z.name == "z"


def test_grad_imports_no_pass():
    """``T.grad`` stabilizes the cost with the stability rules, not by importing a pass."""
    code = ("import sys, croton.tensor as T\n"
            "x = T.dvector('x')\n"
            "g = T.grad(T.sum(T.log(T.nnet.sigmoid(x))), x)\n"
            "print(sorted(m for m in sys.modules if m.startswith('croton.codegen')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout
    assert "croton.codegen.passes" not in out and "croton.codegen.pipeline" not in out


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


@pytest.mark.parametrize("layer, forbidden", [
    ("codegen/passes", ("croton.codegen.lowering", "croton.codegen.lower",
                        "croton.codegen.render")),
    ("codegen/lowering", ("croton.codegen.pipeline", "croton.codegen.passes")),
])
def test_layers_import_only_downstream(layer, forbidden):
    for path in sorted((ROOT / layer).glob("*.py")):
        bad = {m for m in _imports(path) if m.startswith(forbidden)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_front_end_imports_no_pass():
    for name in ("gradient.py", "scan_grad.py", "fgraph.py", "graph.py"):
        bad = {m for m in _imports(ROOT / "croton" / name)
               if m.startswith(("croton.codegen.passes", "croton.codegen.lowering"))}
        assert not bad, f"croton/{name} imports {sorted(bad)}"
