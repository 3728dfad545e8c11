"""The seed tutorials' programs run unchanged after `import croton as theano` and print the
seeds' numbers (../shared/seeds/)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import croton.printing

HEADER = "import croton as theano\n"


def run_program(source: str, tmp_path) -> str:
    """Run a seed program with its theano imports pointed at croton, in a fresh process."""
    source = source.replace("from theano import *", "from croton import *")
    source = source.replace("from theano.tensor import *", "from croton.tensor import *")
    source = source.replace("import theano\n", "import croton as theano\n")
    path = tmp_path / "seed_program.py"
    path.write_text(HEADER + textwrap.dedent(source))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          cwd=tmp_path, env=os.environ.copy(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def numbers(text: str) -> list[float]:
    import re

    return [float(t) for t in re.findall(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+", text)]


def test_scalar_addition(tmp_path):
    out = run_program("""
        from theano import *
        a = tensor.dscalar()
        b = tensor.dscalar()
        c = a + b
        f = theano.function([a,b], c)
        d = f(1.5, 2.5)
        print (d)
        d = f(3.5, 5.5)
        print (d)
        """, tmp_path)
    assert out.split() == ["4.0", "9.0"]


def test_matrix_multiplication(tmp_path):
    out = run_program("""
        from theano import *
        a = tensor.dmatrix()
        b = tensor.dmatrix()
        c = tensor.dot(a,b)
        f = theano.function([a,b], c)
        d = f([[0, -1, 2], [4, 11, 2]], [[3, -1], [1,2], [6,1]])
        print (d)
        import numpy
        print(f(numpy.array([[0, -1, 2], [4, 11, 2]]), numpy.array([[3, -1], [1,2], [6,1]])))
        """, tmp_path)
    # The seed's text says 25; its screenshot and the arithmetic say 35.
    assert numbers(out) == [11, 0, 35, 20] * 2


def test_shared_get_set(tmp_path):
    out = run_program("""
        import numpy
        W = theano.shared(numpy.asarray([0.1, 0.25, 0.15, 0.3]), 'W')
        print ("Original: ", W.get_value())
        print ("Setting new values (0.5, 0.2, 0.4, 0.2)")
        W.set_value([0.5, 0.2, 0.4, 0.2])
        print ("After modifications:", W.get_value())
        """, tmp_path)
    assert out.splitlines() == [
        "Original:  [0.1  0.25 0.15 0.3 ]",
        "Setting new values (0.5, 0.2, 0.4, 0.2)",
        "After modifications: [0.5 0.2 0.4 0.2]",
    ]


def test_data_type_constructors(tmp_path):
    out = run_program("""
        from theano.tensor import *
        x, y, z = dmatrices('x', 'y', 'z')
        print(x.type, y.name, z.dtype)
        print(theano.tensor.vector('x', dtype='int32').type)
        print(theano.tensor.fvector('x').type, theano.tensor.ivector().dtype)
        print(theano.tensor.dtensor3().ndim, theano.tensor.ctensor7().ndim)
        """, tmp_path)
    assert out.splitlines() == [
        "TensorType(float64, matrix) y float64",
        "TensorType(int32, vector)",
        "TensorType(float32, vector) int32",
        "3 7",
    ]


EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "seed_trivial_training.py")
# The seed program as the README runs it: the tutorial's listing after `import croton as theano`.
TRIVIAL_TRAINING = open(EXAMPLE).read().replace("import croton as theano\nfrom croton import *",
                                                "from theano import *")

# As printed in ../shared/seeds/theano_trivial_training.txt.
TRIVIAL_EXPECTED = """
Weights: [0.1 0.25 0.15 0.3 ]
iteration: 0
Modified Weights: [19.94 20.09 19.99 20.14]
Output: 0.8
iteration: 1
Modified Weights: [23.908 24.058 23.958 24.108]
Output: 80.16000000000001
iteration: 2
Modified Weights: [24.7016 24.8516 24.7516 24.9016]
Output: 96.03200000000001
iteration: 3
Modified Weights: [24.86032 25.01032 24.91032 25.06032]
Output: 99.2064
iteration: 4
Modified Weights: [24.892064 25.042064 24.942064 25.092064]
Output: 99.84128
iteration: 5
Modified Weights: [24.8984128 25.0484128 24.9484128 25.0984128]
Output: 99.968256
iteration: 6
Modified Weights: [24.89968256 25.04968256 24.94968256 25.09968256]
Output: 99.9936512
iteration: 7
Modified Weights: [24.89993651 25.04993651 24.94993651 25.09993651]
Output: 99.99873024
iteration: 8
Modified Weights: [24.8999873 25.0499873 24.9499873 25.0999873]
Output: 99.99974604799999
iteration: 9
Modified Weights: [24.89999746 25.04999746 24.94999746 25.09999746]
Output: 99.99994920960002
"""


def test_trivial_training_reproduces_every_printed_number(tmp_path):
    out = run_program(TRIVIAL_TRAINING, tmp_path)
    got, want = numbers(out), numbers(TRIVIAL_EXPECTED)
    assert len(got) == len(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # the weights, printed by NumPy at its default precision, match character for character
    weights = [ln.split(":", 1)[1].split() for ln in out.splitlines() if "Weights" in ln]
    expected = [ln.split(":", 1)[1].split() for ln in TRIVIAL_EXPECTED.splitlines()
                if "Weights" in ln]
    assert weights == expected


MINIMAL_TRAINING = """
import theano
import numpy

x = theano.tensor.fvector('x')
target = theano.tensor.fscalar('target')

W = theano.shared(numpy.asarray([0.2, 0.7]), 'W')
y = (x * W).sum()

cost = theano.tensor.sqr(target - y)
gradients = theano.tensor.grad(cost, [W])
W_updated = W - (0.1 * gradients[0])
updates = [(W, W_updated)]

f = theano.function([x, target], y, updates=updates)

for i in range(10):
    output = f([1.0, 1.0], 20.0)
    print(output)
"""


def test_minimal_training(tmp_path):
    # The seed is Python 2 (`xrange`, `print output`); this is the same program in Python 3.
    out = run_program(MINIMAL_TRAINING, tmp_path)
    expected = [0.9, 8.54, 13.124, 15.8744, 17.52464, 18.514784, 19.1088704, 19.46532224,
                19.679193344, 19.8075160064]
    np.testing.assert_allclose(numbers(out), expected, rtol=1e-12)


@pytest.mark.skipif(
    croton.printing.find_dot() is None,
    reason="neither Graphviz's dot nor graphviz-pure is installed (pip install graphviz-pure)")
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_pydotprint_writes_an_image(tmp_path, fmt):
    out = run_program(f"""
        from theano import *
        a = tensor.dscalar()
        b = tensor.dscalar()
        c = a + b
        f = theano.function([a,b], c)
        theano.printing.pydotprint(f, outfile="scalar_addition.{fmt}",
        var_with_name_simple=True)
        print("ok")
        """, tmp_path)
    assert out.strip().endswith("ok")
    data = (tmp_path / f"scalar_addition.{fmt}").read_bytes()
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data
