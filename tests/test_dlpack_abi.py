"""ABI v3 over DLPack (issue 13, items 4 and 5), from Python: arrays of other libraries (any
object with ``__dlpack__``; here ``Foreign``, which speaks nothing else, as a PyTorch CPU tensor
would) are read without a copy and follow Theano's casting and validation rules; an array on
another device is refused, naming it; outputs are ndarrays that export DLPack themselves; and the
compiled function carries its check table (op, detail; no source line) in its C++ source.

The C side (DLTensor checks, refusals, messages) is tested in C++: runtime/tests/
test_abi_bridge.cpp, and generated functions called through the C ABI by a C++ program in
tests/test_runtime_ctest.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import croton
import croton.tensor as T
from croton.function_module import convert_input


class Foreign:
    """A non-NumPy array: only ``__dlpack__`` and ``__dlpack_device__``."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.exports = 0

    def __dlpack__(self, **kwargs):
        self.exports += 1
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class OnDevice:
    """An array that says it lives on another device; reading it would be a bug."""

    def __init__(self, device_type: int, device_id: int = 0) -> None:
        self.device = (device_type, device_id)

    def __dlpack__(self, **kwargs):
        raise AssertionError("a non-CPU array must be refused before it is read")

    def __dlpack_device__(self):
        return self.device


@pytest.fixture(scope="module")
def scale():
    """f(x, r) = 2 * x + r: a float64 matrix and a row (dimension 0 broadcastable)."""
    x, r = T.dmatrix("x"), T.drow("r")
    return croton.function([x, r], 2 * x + r)


def test_a_dlpack_array_is_an_input(scale):
    rng = np.random.default_rng(0)
    x, r = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    fx, fr = Foreign(x), Foreign(r)
    out = scale(fx, fr)
    np.testing.assert_array_equal(out, 2 * x + r)
    assert fx.exports == 1 and fr.exports == 1  # read through DLPack, once each
    # strided views (a transposed, reversed matrix) keep their strides through DLPack
    base = rng.normal(size=(4, 6))
    view = base.T[::-2]
    np.testing.assert_array_equal(scale(Foreign(view), Foreign(r)), 2 * view + r)
    # keyword arguments too
    np.testing.assert_array_equal(scale(r=Foreign(r), x=Foreign(x)), 2 * x + r)


def test_a_dlpack_input_is_not_copied(scale):
    x = np.arange(12.0).reshape(3, 4)[:, ::2]  # strided: still no copy
    data = convert_input(scale._spec, 0, Foreign(x))
    assert isinstance(data, np.ndarray) and np.shares_memory(data, x)
    assert data.strides == x.strides
    # a dtype that must be converted is converted (a copy, as for an ndarray)
    ints = np.arange(12).reshape(3, 4)
    data = convert_input(scale._spec, 0, Foreign(ints))
    assert data.dtype == np.float64 and not np.shares_memory(data, ints)


def test_dlpack_inputs_follow_theanos_casting_rules():
    x = T.fvector("x")
    f = croton.function([x], x * 2)
    # float64 -> float32 loses precision: refused as for an ndarray, naming the argument
    with pytest.raises(TypeError, match=r"argument 0 \('x'\).*dtype float64.*allow_input_downcast"):
        f(Foreign(np.array([1.0, 2.0])))
    # a safe upcast (int16 -> float32) is accepted
    np.testing.assert_array_equal(f(Foreign(np.array([1, 2], dtype=np.int16))), [2.0, 4.0])
    g = croton.function([x], x * 2, allow_input_downcast=True)
    np.testing.assert_allclose(g(Foreign(np.array([0.1, 2.0]))), np.float32([0.1, 2.0]) * 2)
    # ndim and broadcast pattern: the same errors as an ndarray
    with pytest.raises(TypeError, match=r"argument 0 \('x'\).*2 dimension"):
        f(Foreign(np.ones((2, 2), np.float32)))
    r = T.drow("r")
    h = croton.function([r], r + 1)
    with pytest.raises(ValueError, match=r"argument 0 \('r'\).*broadcastable.*\(2, 3\)"):
        h(Foreign(np.ones((2, 3))))
    # strict=True inputs (In(..., strict=...)) are not Theano's API here; a bool array passes
    b = T.bvector("b")
    k = croton.function([b], b * 3)
    np.testing.assert_array_equal(k(Foreign(np.array([1, -2], np.int8))), [3, -6])


def test_an_array_on_another_device_is_refused(scale):
    r = np.zeros((1, 4))
    with pytest.raises(TypeError, match=r"argument 0 \('x'\).*on device cuda:0.*CPU.*\.cpu\(\)"):
        scale(OnDevice(2), r)
    with pytest.raises(TypeError, match=r"argument 1 \('r'\).*on device rocm:3"):
        scale(np.zeros((2, 4)), OnDevice(10, 3))
    with pytest.raises(TypeError, match=r"on device DLPack device type 42:0"):
        scale(OnDevice(42), r)
    with pytest.raises(TypeError, match=r"shared variable w.*on device cuda:1"):
        croton.shared(OnDevice(2, 1), "w")


def test_outputs_round_trip_through_dlpack(scale):
    x, r = np.ones((2, 4)), np.arange(4.0)[None]
    out = scale(x, r)
    assert type(out) is np.ndarray  # outputs stay NumPy arrays, which export DLPack
    back = np.from_dlpack(out)
    assert np.shares_memory(back, out)
    np.testing.assert_array_equal(back, 2 * x + r)
    # an output fed back in through DLPack
    np.testing.assert_array_equal(scale(Foreign(out), r), 2 * (2 * x + r) + r)


def test_shared_variables_from_dlpack():
    base = np.arange(3.0)
    w = croton.shared(Foreign(base), "w")
    assert w.get_value().dtype == np.float64 and not np.shares_memory(w.get_value(), base)
    f = croton.function([], w * 2, updates=[(w, w + 1)])
    np.testing.assert_array_equal(f(), [0.0, 2.0, 4.0])
    w.set_value(Foreign(np.array([5.0, 6.0])))  # a new shape, read through DLPack
    np.testing.assert_array_equal(f(), [10.0, 12.0])
    np.testing.assert_array_equal(w.get_value(), [6.0, 7.0])
    np.testing.assert_array_equal(base, [0.0, 1.0, 2.0])  # the source is never written


def test_the_check_table_travels_without_source_lines(scale):
    """kChecks in the translation unit names the op and the detail; the user's line stays in
    Python (so the cache key does not depend on it) and is still in the exception."""
    source = scale.source
    assert re.search(r'const croton_check kChecks\[\] = \{\s*\{"broadcast", "add", '
                     r'"dimension 1", "input 0 \(\'x\'\) and input 1 \(\'r\'\)"\}',
                     source), source[source.find("kChecks"):][:300]
    assert "test_dlpack_abi" not in source and "built at" not in source
    with pytest.raises(ValueError, match=r"shape mismatch in add \(built at .*test_dlpack_abi"
                                         r"\.py:\d+\): input shapes \(2, 3\) and \(1, 4\) differ "
                                         r"at dimension 1, which is not declared broadcastable "
                                         r"\(the lengths come from input 0 \('x'\) and input 1 "
                                         r"\('r'\)\)$"):
        scale(np.ones((2, 3)), np.ones((1, 4)))


def test_the_check_table_escapes_user_text():
    """User text in an op label (a scan's step function name) reaches the C++ check table only
    through the escaping filters: no quote, backslash, line break or comment end gets through."""
    x = T.dvector("x")

    def step(a, acc):
        return acc + a

    step.__name__ = 'st"ep\\\n*/ system("x");'
    out, _ = croton.scan(step, sequences=[x], outputs_info=[T.zeros_like(x[0])])
    f = croton.function([x], out)
    table = f.source[f.source.index("kChecks[]"):]
    table = table[:table.index("};")]
    assert r'"scan{fn=st\042ep\134\012*/ system(\042x\042);}"' in table, table
    np.testing.assert_array_equal(f(np.arange(4.0)), [0.0, 1.0, 3.0, 6.0])


def test_the_binding_refuses_a_table_of_another_abi_version():
    """A function table of ABI version 2 (croton_buffer) must not be called as version 4."""
    import ctypes

    from croton.build_tools.build import binding

    class Table(ctypes.Structure):  # croton_function's head: abi_version, then the counts
        _fields_ = [("abi_version", ctypes.c_int32), ("counts", ctypes.c_int32 * 5),
                    ("pointers", ctypes.c_void_p * 6)]

    table = Table(abi_version=2)
    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = new_capsule(ctypes.addressof(table), b"croton_function", None)
    native = binding()
    assert native.ABI_VERSION == 4
    with pytest.raises(RuntimeError, match=r"ABI version 2, this binding layer speaks version 4"):
        native.NativeFunction(capsule, [], None, None, None, True, False)
