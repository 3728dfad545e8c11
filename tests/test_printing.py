"""croton.printing: pp, debugprint and pydotprint (Theano's printing API)."""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton import printing
from croton.codegen.passes.fuse_elementwise import fuse_elementwise
from croton.fgraph import Graph
from croton.printing import GraphvizNotFoundError, debugprint, find_dot, pp, pydotprint

needs_dot = pytest.mark.skipif(
    find_dot() is None,
    reason="neither Graphviz's dot nor graphviz-pure is installed (pip install graphviz-pure)")


@pytest.fixture(scope="module")
def add_fn():
    """The seed program: the sum of two unnamed scalars."""
    a, b = T.dscalar(), T.dscalar()
    return croton.function([a, b], a + b)


@pytest.fixture(scope="module")
def update_fn():
    v = T.dvector("v")
    W = croton.shared(np.ones(3), "W")
    return croton.function([v], (T.exp(v) * 2 + 1).sum(), updates=[(W, W * v + 1)])


# --- wiring ------------------------------------------------------------------------------------
def test_module_is_reachable_both_ways():
    import croton.printing as direct

    assert croton.printing is direct
    assert croton.printing.pp is pp
    assert printing.pprint is pp


# --- pp ----------------------------------------------------------------------------------------
def test_pp_infix_and_calls():
    a, b = T.dscalars("a", "b")
    x, v = T.dmatrix("x"), T.dvector("v")
    assert pp(a + b) == "(a + b)"
    assert pp(T.exp(a) * b + 2.5) == "((exp(a) * b) + 2.5)"
    assert pp(-(a - b) / a) == "((-(a - b)) / a)"
    assert pp(a ** 2 >= b) == "((a ** 2.0) >= b)"
    assert pp(T.exp(x).sum(axis=0)) == "sum{axis=(0,)}(exp(x))"
    assert pp(T.maximum(a, b)) == "maximum(a, b)"
    assert pp(T.cast(x, "float32")) == "cast{dtype=float32}(x)"
    assert pp(T.dot(x, v)) == "dot(x, v)"


def test_pp_leaves():
    assert pp(T.dscalar() + T.dscalar("b")) == "(<TensorType(float64, scalar)> + b)"
    W = croton.shared(np.zeros(2), "W")
    assert pp(W * 3) == "(W * 3.0)"


def test_pp_dimshuffle():
    x, v = T.dmatrix("x"), T.dvector("v")
    assert pp(v.dimshuffle("x", 0)) == "dimshuffle{x,0}(v)"
    assert pp(x.dimshuffle(1, "x", 0)) == "dimshuffle{1,x,0}(x)"
    assert pp(x.T) == "x.T"
    assert pp(x + v) == "(x + v)"  # the broadcast of an elementwise operand is implicit


def test_pp_named_intermediate_prints_its_name():
    a, b = T.dscalars("a", "b")
    s = a * b
    s.name = "s"
    assert pp(s + 1) == "(s + 1.0)"
    assert pp(s) == "(a * b)"  # the variable asked for is always expanded


def test_pp_expands_fused_program():
    x = T.dvector("x")
    g = fuse_elementwise(Graph.make([x], [T.exp(x) * 2 + 1]))
    assert g.outputs[0].owner.op.name == "fused"
    assert pp(g.outputs[0]) == "((exp(x) * 2.0) + 1.0)"
    assert printing.node_label(g.outputs[0].owner) == "fused{((exp(i0) * i1) + i2)}"


def test_pp_rejects_non_variables():
    with pytest.raises(TypeError, match="symbolic variable"):
        pp(3)


# --- debugprint --------------------------------------------------------------------------------
def test_debugprint_variable_exact():
    a, b = T.dscalars("a", "b")
    assert debugprint(a + b, file="str") == "add [id A] ''\n |a [id B]\n |b [id C]\n"


def test_debugprint_shared_subgraph_prints_once():
    v = T.dvector("v")
    y = T.exp(v)
    z = (y * y).sum() + y.sum()
    text = debugprint(z, file="str")
    assert text == (
        "add [id A] ''\n"
        " |sum{axis=(0,)} [id B] ''\n"
        " | |mul [id C] ''\n"
        " |   |exp [id D] ''\n"
        " |   | |v [id E]\n"
        " |   |exp [id D] ''\n"
        " |sum{axis=(0,)} [id F] ''\n"
        "   |exp [id D] ''\n"
    )
    assert text.count("|v [id E]") == 1  # exp's input is shown under its first occurrence only


def test_debugprint_list_shares_ids():
    a, b = T.dscalars("a", "b")
    text = debugprint([a + b, a * b], file="str")
    assert text.splitlines() == ["add [id A] ''", " |a [id B]", " |b [id C]",
                                 "mul [id D] ''", " |a [id B]", " |b [id C]"]


def test_debugprint_options():
    a, b = T.dscalars("a", "b")
    c = T.exp(a + b)
    assert debugprint(c, file="str", depth=1) == "exp [id A] ''\n"
    assert debugprint(c, file="str", ids="int").startswith("exp [id 0] ''\n |add [id 1] ''")
    assert debugprint(c, file="str", ids="") == "exp ''\n |add ''\n   |a\n   |b\n"
    typed = debugprint(c, file="str", print_type=True)
    assert typed.splitlines()[0] == "exp [id A] <TensorType(float64, scalar)> ''"
    s = a + b
    s.name = "s"
    assert debugprint(T.exp(s), file="str", stop_on_name=True) == "exp [id A] ''\n |s [id B]\n"
    assert debugprint(a + 2.0, file="str").splitlines()[2] == " |Constant{2.0} [id C]"


def test_debugprint_compiled_function(add_fn):
    text = debugprint(add_fn, file="str")
    lines = text.splitlines()
    assert lines[0].startswith("add [id A] ''")
    assert lines[0].endswith("0")  # position in the execution order
    assert lines[1:] == [" |<TensorType(float64, scalar)> [id B]",
                         " |<TensorType(float64, scalar)> [id C]"]


def test_debugprint_function_with_updates(update_fn):
    text = debugprint(update_fn, file="str")
    assert "sum{axis=(0,)}" in text and "exp" in text
    assert "(update of W)" in text
    assert " |W [id" in text
    v_lines = [line for line in text.splitlines() if line.strip(" |").startswith("v [id")]
    assert len(v_lines) == 2 and len({line.strip(" |") for line in v_lines}) == 1


def test_debugprint_numpy_mode_function():
    v = T.dvector("v")
    f = croton.function([v], T.exp(v).sum(), mode="NUMPY")
    assert "exp [id B] ''" in debugprint(f, file="str")


def test_debugprint_file_targets(capsys):
    a, b = T.dscalars("a", "b")
    buf = io.StringIO()
    assert debugprint(a + b, file=buf) is buf
    assert buf.getvalue().startswith("add [id A]")
    assert debugprint(a + b) is None
    assert capsys.readouterr().out == "add [id A] ''\n |a [id B]\n |b [id C]\n"
    with pytest.raises(ValueError, match="file"):
        debugprint(a + b, file="stdout")
    with pytest.raises(TypeError, match="cannot print"):
        debugprint(42)


# --- pydotprint --------------------------------------------------------------------------------
@needs_dot
def test_pydotprint_png_seed_program(add_fn, tmp_path, capsys):
    out = tmp_path / "scalar_addition.png"
    path = croton.printing.pydotprint(add_fn, outfile=out, var_with_name_simple=True)
    assert path == str(out)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "The output file is available at" in capsys.readouterr().out


@needs_dot
def test_pydotprint_svg(add_fn, tmp_path):
    out = tmp_path / "g.svg"  # the format follows the extension
    pydotprint(add_fn, outfile=out, print_output_file=False)
    assert b"<svg" in out.read_bytes()
    explicit = tmp_path / "g.img"
    pydotprint(add_fn, outfile=explicit, format="svg", print_output_file=False)
    assert b"<svg" in explicit.read_bytes()


@needs_dot
def test_pydotprint_return_image_and_default_outfile(add_fn, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = pydotprint(add_fn, format="png", return_image=True)
    assert isinstance(image, bytes) and image.startswith(b"\x89PNG")
    assert not os.listdir(tmp_path)
    assert pydotprint(add_fn, print_output_file=False) == "croton.pydotprint.png"
    assert (tmp_path / "croton.pydotprint.png").read_bytes().startswith(b"\x89PNG")


def test_pydotprint_dot_text(update_fn, tmp_path):
    out = tmp_path / "g.dot"
    assert pydotprint(update_fn, outfile=out, format="dot", print_output_file=False) == str(out)
    dot = out.read_text()
    assert dot.startswith("digraph G {") and dot.rstrip().endswith("}")
    # the reduction absorbed the elementwise chain that fed it (fuse_reductions)
    assert 'label="sum{axis=(0,)}(exp|mul|add)", shape=ellipse' in dot
    assert 'label="fused{((i0 * i1) + i2)}", shape=ellipse' in dot
    assert 'label="v TensorType(float64, vector)", shape=box, style=filled, fillcolor="green"' \
        in dot
    assert 'label="W TensorType(float64, vector)", shape=box, style=filled, fillcolor="cyan"' \
        in dot
    assert 'fillcolor="blue"' in dot  # the output
    assert 'label="update", style=dashed' in dot


def test_pydotprint_variables_names_and_compact(tmp_path):
    a, b = T.dscalars("a", "b")
    c = T.exp(a * b) + 1.5
    simple = pydotprint(c, format="dot", return_image=True, var_with_name_simple=True).decode()
    assert '[label="a", shape=box' in simple and '[label="b", shape=box' in simple
    assert "val=1.5" in simple
    compact = simple.count("shape=box")
    full = pydotprint([c], format="dot", return_image=True, compact=False).decode()
    assert full.count("shape=box") > compact  # intermediates are drawn too
    plain = pydotprint(c, format="dot", return_image=True, high_contrast=False,
                       colorCodes={"exp": "red"}).decode()
    assert 'label="exp", shape=ellipse, color="red"' in plain
    long = pydotprint(c, format="dot", return_image=True, max_label_size=6).decode()
    assert 'label="a T..."' in long


def test_pydotprint_without_graphviz(add_fn, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing named `dot` there
    monkeypatch.setattr(croton.printing, "_scripts_dir", lambda: str(tmp_path))
    assert find_dot() is None
    with pytest.raises(GraphvizNotFoundError) as info:
        pydotprint(add_fn, outfile=tmp_path / "x.png")
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "graphviz" in message.lower() and "apt-get install graphviz" in message
    assert "brew install graphviz" in message and "conda install graphviz" in message
    assert "pip install graphviz-pure" in message
    assert not (tmp_path / "x.png").exists()
    # the DOT text needs no Graphviz
    pydotprint(add_fn, outfile=tmp_path / "x.dot", print_output_file=False)
    assert (tmp_path / "x.dot").read_text().startswith("digraph G {")


def test_pydotprint_uses_graphviz_pure_when_dot_is_absent(add_fn, tmp_path, monkeypatch):
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    if shutil.which("graphviz-pure", path=scripts) is None:
        pytest.skip("graphviz-pure is not installed beside this Python (pip install graphviz-pure)")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot, no graphviz-pure on PATH
    assert find_dot() == os.path.join(scripts, "graphviz-pure")
    out = tmp_path / "g.png"
    pydotprint(add_fn, outfile=out, print_output_file=False)
    assert out.read_bytes().startswith(b"\x89PNG")
    assert pydotprint(add_fn, format="svg", return_image=True).lstrip().startswith(b"<?xml")
