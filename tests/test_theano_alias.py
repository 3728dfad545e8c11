"""``import theano`` gives croton with the opt-in (issue 11, section 2): CROTON_AS_THEANO=1 through
the .pth start-up hook, ``croton run``, inheritance by subprocesses, never shadowing a real
Theano when off; every name real code imports exists under its Theano name as croton's own
object; theano.tensor.extra_ops against NumPy. The alias runs in child processes (it changes
sys.meta_path and the environment, which other tests must not see)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton import theano_alias
from croton.tensor import extra_ops

ROOT = Path(__file__).resolve().parent.parent
PTH = ROOT / "croton-as-theano.pth"


def _env(on: bool, extra_path: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "CROTON_AS_THEANO"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT)) if p)
    if on:
        env["CROTON_AS_THEANO"] = "1"
    return env


def _python(code: str, env: dict, args=()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


def _with_pth(code: str) -> str:
    # a site directory holding only the .pth file, processed as Python does at start-up
    return (f"import json, site, sys, tempfile, shutil, os\n"
            f"d = tempfile.mkdtemp(); shutil.copy({str(PTH)!r}, d); site.addsitedir(d)\n"
            + textwrap.dedent(code))


def test_pth_hook_gives_croton_only_with_the_opt_in(tmp_path):
    code = _with_pth("""
        import theano, croton
        print(json.dumps([theano is croton, theano.tensor is croton.tensor]))
    """)
    on = _python(code, _env(True))
    assert on.returncode == 0, on.stderr
    assert json.loads(on.stdout) == [True, True]
    off = _python(code, _env(False))
    assert off.returncode != 0 and "No module named 'theano'" in off.stderr


def test_a_real_theano_is_never_shadowed_when_off(tmp_path):
    real = tmp_path / "theano"
    real.mkdir()
    (real / "__init__.py").write_text("REAL = True\n")
    code = _with_pth("""
        import theano
        print(getattr(theano, 'REAL', False), theano.__name__)
    """)
    off = _python(code, _env(False, str(tmp_path)))
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["True", "theano"]
    on = _python(code, _env(True, str(tmp_path)))
    assert on.returncode == 0, on.stderr
    assert on.stdout.split() == ["False", "croton"]  # opted in: croton, ahead of the real one
    shim = _python("import theano", _env(False, theano_alias.SHIM_DIR))
    assert shim.returncode != 0 and "CROTON_AS_THEANO=1" in shim.stderr


def test_croton_run_script_and_module_reach_subprocesses(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(textwrap.dedent("""
        import subprocess, sys
        import theano, theano.tensor as T
        x = T.dvector('x')
        f = theano.function([x], (x ** 2).sum())
        child = subprocess.run([sys.executable, '-c', 'import theano; print(theano.__name__)'],
                               capture_output=True, text=True).stdout.strip()
        print(sys.argv[1:], float(f([1.0, 2.0])), theano.__name__, child)
    """))
    env = _env(False)
    run = subprocess.run([sys.executable, "-m", "croton", "run", str(script), "a", "--b"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['a', '--b'] 5.0 croton croton"
    (tmp_path / "mod_prog.py").write_text(
        "import sys, theano; print(theano.__name__, sys.argv[1:])")
    env["PYTHONPATH"] += os.pathsep + str(tmp_path)
    mod = subprocess.run([sys.executable, "-m", "croton", "run", "-m", "mod_prog", "z"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert mod.returncode == 0, mod.stderr
    assert mod.stdout.strip() == "croton ['z']"
    missing = subprocess.run([sys.executable, "-m", "croton", "run", str(tmp_path / "no.py")],
                             env=env, capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "no such script" in missing.stderr


NAMES = """
import json, croton, croton.graph, croton.gradient
import theano
import theano.tensor as T
import theano.tensor.extra_ops
from theano.sandbox.rng_mrg import MRG_RandomStreams
from theano.tensor.shared_randomstreams import RandomStreams
from theano.tensor.signal import pool
from theano.gof.graph import inputs, is_same_graph
from theano.scan_module.scan_utils import equal_computations
from theano.compile import SharedVariable
from theano import gpuarray
from theano.tensor.sharedvar import TensorSharedVariable
from theano.tensor.var import TensorVariable
import croton.printing
import croton.sandbox.rng_mrg
V = croton.graph.Variable
same = {
  'theano.Variable': theano.Variable is V, 'T.Variable': T.Variable is V,
  'T.TensorVariable': T.TensorVariable is V, 'theano.gof.Variable': theano.gof.Variable is V,
  'T.TensorConstant': T.TensorConstant is croton.graph.Constant,
  'inputs': inputs is croton.graph.inputs,
  'is_same_graph': is_same_graph is croton.graph.is_same_graph,
  'equal_computations': equal_computations is croton.graph.equal_computations,
  'SharedVariable': SharedVariable is croton.SharedVariable,
  'theano.grad': theano.grad is croton.gradient.grad, 'T.grad': T.grad is croton.gradient.grad,
  'theano.clone': theano.clone is croton.graph.clone_replace,
  'extra_ops': theano.tensor.extra_ops is croton.tensor.extra_ops,
  'MRG': MRG_RandomStreams is croton.sandbox.rng_mrg.MRG_RandomStreams,
  'upcast': theano.scalar.upcast('int8', 'float32') == 'float32',
  'TensorType name': T.TensorType('float32', (False,), name='fv').name == 'fv',
  'function': theano.function is croton.function, 'shared': theano.shared is croton.shared,
  'config': [theano.config.floatX, theano.config.device, theano.config.mode,
             theano.config.compute_test_value] == ['float64', 'cpu', 'FAST_RUN', 'off'],
  'gpuarray': gpuarray.pygpu_activated is False and gpuarray.dnn.dnn_present() is False,
  'T.inv': T.inv is croton.tensor.inv,
  'pp': theano.pp is croton.printing.pp, 'as_tensor': T.as_tensor is T.as_tensor_variable,
  'sharedvar': TensorSharedVariable is croton.SharedVariable, 'var': TensorVariable is V,
}
errors = []
for name in ('theano.sandbox.cuda', 'theano.sandbox.gpuarray', 'theano.sandbox.cuda.dnn'):
    try:
        __import__(name)
    except ImportError as exc:
        errors.append('GPU' in str(exc))
print(json.dumps({'same': same, 'gpu_import_errors': errors}))
"""


def test_theano_names_are_crotons_own_objects():
    out = _python(NAMES, theano_alias.run_environ(_env(False)))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert {k: v for k, v in got["same"].items() if v is not True} == {}
    assert got["gpu_import_errors"] == [True, True, True]


def test_module_table_maps_theano_modules():
    assert theano_alias.croton_name("theano") == "croton"
    assert theano_alias.croton_name("theano.gof.graph") == "croton.graph"
    assert theano_alias.croton_name("theano.tensor.nnet") == "croton.tensor.nnet"
    assert theano_alias.enabled({"CROTON_AS_THEANO": "1"})
    assert not theano_alias.enabled({"CROTON_AS_THEANO": "0"}) and not theano_alias.enabled({})
    env = theano_alias.run_environ({"PYTHONPATH": "/a"})
    assert env["CROTON_AS_THEANO"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep) == [theano_alias.SHIM_DIR, "/a"]


# --- graph helpers and Theano's names (in process: croton's own objects) ------------------------
def test_graph_helpers_match_theano():
    x, y = T.dvectors("x", "y")
    W = croton.shared(np.ones(2), "W")
    b = croton.shared(np.zeros(2), "b")
    out = T.dot(x, W) + b.sum()
    # Theano's depth-first order, last expression first (Lasagne's collect_shared_vars
    # calls inputs(reversed(exprs)) and expects the first expression's variables first)
    assert croton.graph.inputs([out]) == [x, W, b]
    assert croton.graph.inputs(reversed([x, y, W])) == [x, y, W]
    assert croton.gof.graph.is_same_graph(T.exp(x).sum(), T.exp(x).sum())
    assert not croton.gof.graph.is_same_graph(T.exp(x).sum(), T.exp(y).sum())
    assert croton.gof.graph.is_same_graph(T.exp(x), T.exp(y), givens={x: y})
    assert croton.scan_module.scan_utils.equal_computations([x + 2], [x + 2])
    z = croton.clone(out, replace={x: y})
    assert croton.graph.inputs([z]) == [y, W, b] and croton.graph.inputs([out])[0] is x
    f = croton.function([y], [z, T.inv(y)])
    got, inv = f(np.array([1.0, 2.0]))
    assert got == 3.0
    np.testing.assert_array_equal(inv, [1.0, 0.5])
    assert T.inv(T.fvector()).dtype == "float32" and T.inv(T.ivector()).dtype == "float64"
    assert croton.scalar.upcast("int32", "float32") == "float64"


def test_extra_ops_match_numpy():
    a = T.dvector("a")
    m = T.dmatrix("m")
    i = T.lvector("i")
    s = T.dvector("s")
    outs = [extra_ops.repeat(a, 2), extra_ops.cumsum(m, axis=1), extra_ops.cumprod(a),
            extra_ops.to_one_hot(i, 5), extra_ops.bincount(i), extra_ops.bincount(i, minlength=9),
            extra_ops.bincount(i, weights=a[:4]), extra_ops.diff(a), extra_ops.diff(m, n=2, axis=0),
            extra_ops.fill_diagonal(m, 7.0), extra_ops.fill_diagonal_offset(m, -1.0, 1),
            extra_ops.fill_diagonal_offset(m, 5.0, -2), extra_ops.searchsorted(s, a),
            extra_ops.searchsorted(s, m, side="right"),
            extra_ops.squeeze(T.addbroadcast(m[:1], 0)), *extra_ops.nonzero(m),
            extra_ops.nonzero(m, return_matrix=True), extra_ops.flatnonzero(m),
            m.nonzero_values(), m[(m > 0).nonzero()], extra_ops.compress(i > 0, m, axis=0),
            extra_ops.compress(i, a)]
    f = croton.function([a, m, i, s], outs)
    av = np.array([0.5, -1.0, 2.0, 3.5, 3.0])
    mv = np.arange(12.0).reshape(4, 3) - 5
    iv = np.array([0, 3, 3, 1])
    sv = np.array([-1.0, 0.5, 2.0, 3.0])
    got = f(av, mv, iv, sv)
    fd = mv.copy()
    np.fill_diagonal(fd, 7.0)
    off1 = mv.copy()
    off1[[0, 1], [1, 2]] = -1.0
    off2 = mv.copy()
    off2[[2, 3], [0, 1]] = 5.0
    want = [np.repeat(av, 2), np.cumsum(mv, axis=1), np.cumprod(av), np.eye(5)[iv],
            np.bincount(iv), np.bincount(iv, minlength=9), np.bincount(iv, weights=av[:4]),
            np.diff(av), np.diff(mv, n=2, axis=0), fd, off1, off2, np.searchsorted(sv, av),
            np.searchsorted(sv, mv, side="right"), np.squeeze(mv[:1]), *np.nonzero(mv),
            np.array(np.nonzero(mv)), np.flatnonzero(mv), mv[mv != 0], mv[np.nonzero(mv > 0)],
            np.compress(iv > 0, mv, axis=0), np.compress(iv, av)]
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, k
        np.testing.assert_allclose(g, w, rtol=1e-15, err_msg=str(k))
    assert got[4].dtype == np.int64 and got[3].dtype == croton.config.floatX


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_unique_matches_numpy(dtype):
    from croton.tensor import extra_ops

    x = T.matrix("x", dtype=dtype)
    f = croton.function([x], list(extra_ops.unique(x, True, True, True)) + [extra_ops.unique(x)])
    rng = np.random.default_rng(3)
    for value in (rng.integers(-3, 4, (5, 7)).astype(dtype), np.zeros((0, 3), dtype),
                  np.array([[2.0]]).astype(dtype)):
        got = f(value)
        want = np.unique(value, return_index=True, return_inverse=True, return_counts=True)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w.reshape(-1))
        np.testing.assert_array_equal(got[4], want[0])
    with pytest.raises(NotImplementedError, match="axis"):
        extra_ops.unique(x, axis=0)


def test_extra_ops_reject_bad_input():
    with pytest.raises(TypeError, match="integer vector"):
        extra_ops.to_one_hot(T.dvector(), 3)
    with pytest.raises(TypeError, match="integer vector"):
        extra_ops.bincount(T.lmatrix())
    with pytest.raises(ValueError, match="side"):
        extra_ops.searchsorted(T.dvector(), T.dvector(), side="middle")


def test_readme_theano_program_runs_unchanged(tmp_path):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running Theano code unchanged", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "import theano" in code and "croton" not in code
    script = tmp_path / "logreg.py"
    script.write_text(code)
    run = subprocess.run([sys.executable, "-m", "croton", "run", str(script)], env=_env(False),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    cost = float(run.stdout.split()[0])
    # the same training loop in NumPy
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    y = (X.dot([1.0, -2.0, 0.5]) > 0).astype(float)
    w, b = np.zeros(3), 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        c = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
        w, b = w - 0.5 * X.T @ (p - y) / 100, b - 0.5 * (p - y).mean()
    assert cost == pytest.approx(c, rel=1e-12)
    assert "0.1215765222285700" in code and abs(c - 0.1215765222285700) < 1e-15


def test_theano_flags_apply_under_the_alias():
    env = theano_alias.run_environ(_env(False))
    env["THEANO_FLAGS"] = "floatX=float32,mode=FAST_COMPILE,lib.cnmem=0.5"
    out = _python("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            import theano
        print(theano.config.floatX, theano.config.mode, theano.tensor.matrix().dtype,
              [str(x.message) for x in w])
    """, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(" ", 3)[:3] == ["float32", "FAST_COMPILE", "float32"]
    assert "lib.cnmem" in out.stdout
