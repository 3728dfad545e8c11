"""Every elementwise op, compiled, against NumPy/SciPy over each dtype it accepts.

One compiled function per dtype holds every op valid for that dtype (one output each) and is
called on contiguous, transposed, strided, negatively strided, empty and special-value inputs,
with a broadcast row operand; the same graph in mode='NUMPY' must agree."""

import numpy as np
import pytest
import scipy.special as sp

import croton
import croton.tensor as T
from croton.types import upgrade_to_float

RNG = np.random.default_rng(7)

# name: (croton function, NumPy reference, arity, input domains, dtype kinds accepted)
# kinds: b bool, i signed int, u unsigned int, f float, c complex
OPS = {
    "add": (T.add, np.add, 2, "aa", "biufc"),
    "sub": (T.sub, np.subtract, 2, "aa", "iufc"),
    "mul": (T.mul, np.multiply, 2, "aa", "biufc"),
    "true_div": (T.true_div, np.true_divide, 2, "ap", "biufc"),
    "int_div": (T.int_div, np.floor_divide, 2, "ap", "iuf"),
    "mod": (T.mod, np.mod, 2, "ap", "iuf"),
    "pow": (T.pow, np.power, 2, "ps", "iufc"),
    "maximum": (T.maximum, np.maximum, 2, "aa", "biuf"),
    "minimum": (T.minimum, np.minimum, 2, "aa", "biuf"),
    "arctan2": (T.arctan2, np.arctan2, 2, "aa", "iuf"),
    "lt": (T.lt, np.less, 2, "aa", "biuf"),
    "gt": (T.gt, np.greater, 2, "aa", "biuf"),
    "le": (T.le, np.less_equal, 2, "aa", "biuf"),
    "ge": (T.ge, np.greater_equal, 2, "aa", "biuf"),
    "eq": (T.eq, np.equal, 2, "aa", "biufc"),
    "neq": (T.neq, np.not_equal, 2, "aa", "biufc"),
    "and_": (T.and_, np.bitwise_and, 2, "aa", "biu"),
    "or_": (T.or_, np.bitwise_or, 2, "aa", "biu"),
    "xor": (T.xor, np.bitwise_xor, 2, "aa", "biu"),
    "invert": (T.invert, np.invert, 1, "a", "biu"),
    "neg": (T.neg, np.negative, 1, "a", "iufc"),
    "abs": (T.abs, np.abs, 1, "a", "biufc"),
    "sgn": (T.sgn, np.sign, 1, "a", "iuf"),
    "sqr": (T.sqr, np.square, 1, "a", "biufc"),
    "sqrt": (T.sqrt, np.sqrt, 1, "p", "biufc"),
    "exp": (T.exp, np.exp, 1, "a", "biufc"),
    "exp2": (T.exp2, np.exp2, 1, "a", "biuf"),
    "expm1": (T.expm1, np.expm1, 1, "a", "biuf"),
    "log": (T.log, np.log, 1, "p", "iufc"),
    "log2": (T.log2, np.log2, 1, "p", "iuf"),
    "log10": (T.log10, np.log10, 1, "p", "iufc"),
    "log1p": (T.log1p, np.log1p, 1, "p", "biuf"),
    "sin": (T.sin, np.sin, 1, "a", "biufc"),
    "cos": (T.cos, np.cos, 1, "a", "biufc"),
    "tan": (T.tan, np.tan, 1, "a", "iufc"),
    "arcsin": (T.arcsin, np.arcsin, 1, "u", "biufc"),
    "arccos": (T.arccos, np.arccos, 1, "u", "biufc"),
    "arctan": (T.arctan, np.arctan, 1, "a", "biufc"),
    "sinh": (T.sinh, np.sinh, 1, "a", "biufc"),
    "cosh": (T.cosh, np.cosh, 1, "a", "biufc"),
    "tanh": (T.tanh, np.tanh, 1, "a", "biufc"),
    "arcsinh": (T.arcsinh, np.arcsinh, 1, "a", "biufc"),
    "arccosh": (T.arccosh, np.arccosh, 1, "g", "iufc"),
    "arctanh": (T.arctanh, np.arctanh, 1, "u", "iufc"),
    "erf": (T.erf, sp.erf, 1, "a", "biuf"),
    "erfc": (T.erfc, sp.erfc, 1, "a", "biuf"),
    "erfinv": (T.erfinv, sp.erfinv, 1, "u", "biuf"),
    "gamma": (T.gamma, sp.gamma, 1, "p", "iuf"),
    "gammaln": (T.gammaln, sp.gammaln, 1, "p", "iuf"),
    "psi": (T.psi, sp.psi, 1, "p", "iuf"),
    "tri_gamma": (T.tri_gamma, lambda a: sp.polygamma(1, a), 1, "p", "iuf"),
    "sigmoid": (T.sigmoid, sp.expit, 1, "a", "biuf"),
    "softplus": (T.softplus, lambda a: np.logaddexp(0, a), 1, "a", "biuf"),
    "floor": (T.floor, np.floor, 1, "a", "biuf"),
    "ceil": (T.ceil, np.ceil, 1, "a", "biuf"),
    "trunc": (T.trunc, np.trunc, 1, "a", "biuf"),
    "round_half_to_even": (T.round_half_to_even, np.round, 1, "a", "iuf"),
    "round_half_away_from_zero": (T.round_half_away_from_zero,
                                  lambda a: np.trunc(a + np.copysign(0.5, a)) if a.dtype.kind
                                  in "f" else a, 1, "a", "iuf"),
    "isnan": (T.isnan, np.isnan, 1, "a", "biufc"),
    "isinf": (T.isinf, np.isinf, 1, "a", "biufc"),
    "real": (T.real, np.real, 1, "a", "biufc"),
    "imag": (T.imag, np.imag, 1, "a", "biufc"),
    "conj": (T.conj, np.conj, 1, "a", "biufc"),
    "angle": (T.angle, np.angle, 1, "a", "iufc"),
    "clip": (T.clip, np.clip, 3, "aaa", "biuf"),
    "switch": (T.switch, np.where, 3, "aaa", "biufc"),
    "complex": (T.complex, lambda a, b: a + 1j * b, 2, "aa", "iuf"),
    "cast_f64": (lambda a: T.cast(a, "float64"), lambda a: a.real.astype("float64") if
                 a.dtype.kind == "c" else a.astype("float64"), 1, "a", "biufc"),
    "cast_i16": (lambda a: a.astype("int16"), lambda a: a.real.astype("int16") if
                 a.dtype.kind == "c" else a.astype("int16"), 1, "a", "biu"),
    "cast_bool": (lambda a: a.astype("bool"), lambda a: a.astype("bool"), 1, "a", "biufc"),
    "cast_c64": (lambda a: a.astype("complex64"), lambda a: a.astype("complex64"), 1, "a",
                 "biufc"),
}
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64", "complex64", "complex128"]
# ops whose result is floating for discrete inputs (Theano's rule, not NumPy's)
FLOAT_RESULT = {"true_div", "arctan2", "sqrt", "exp", "exp2", "expm1", "log", "log2", "log10",
                "log1p", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                "tanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv", "gamma",
                "gammaln", "psi", "tri_gamma", "sigmoid", "softplus", "floor", "ceil", "trunc",
                "round_half_to_even", "round_half_away_from_zero", "angle"}


def sample(domain: str, dtype: str, shape) -> np.ndarray:
    """Values in the op's smooth domain: a any, p positive, u (-1, 1), g > 1, s small exps."""
    kind = np.dtype(dtype).kind
    if kind == "b":
        return RNG.integers(0, 2, size=shape).astype(bool)
    if kind in "iu":
        lo, hi = {"a": (-9, 10), "p": (1, 10), "u": (-1, 2), "g": (1, 10), "s": (0, 4)}[domain]
        if kind == "u":
            lo = max(lo, 0)
        return RNG.integers(lo, hi, size=shape).astype(dtype)
    if domain == "a":
        v = RNG.standard_normal(shape) * 2
    elif domain == "p":
        v = RNG.uniform(0.1, 4, shape)
    elif domain == "u":
        v = RNG.uniform(-0.95, 0.95, shape)
    elif domain == "g":
        v = RNG.uniform(1.05, 4, shape)
    else:
        v = RNG.uniform(-2, 2, shape)
    if kind == "c":
        v = v + 1j * RNG.uniform(-0.9, 0.9, shape)
    return v.astype(dtype)


# Discrete dtypes share the int-to-float path of the transcendental ops (int8 -> float32,
# int64 -> float64 cover both results): the other discrete dtypes test only the ops whose
# integer code differs by width and sign (wrapping, signs, bit patterns). Compiles stay few.
FULL_DTYPES = {"int8", "int64", "float32", "float64", "complex64", "complex128"}


def ops_for(dtype: str) -> list[str]:
    kind = np.dtype(dtype).kind
    names = [n for n, spec in OPS.items() if kind in spec[4]]
    if dtype not in FULL_DTYPES:
        names = [n for n in names if n not in FLOAT_RESULT]
    return names


def computable(names: list[str], dtype: str) -> list[str]:
    """``names`` less the ops whose result the default device's target refuses (complex results
    of float ops on the CUDA target, CROTON_TEST_DEVICE=cuda in tests/conftest.py), so one refused
    op does not skip the others; with every op refused, the compile's refusal skips the test."""
    from croton.function_module import _target_for

    refused = _target_for(None).refused_dtypes
    kept = [n for n, out in zip(names, build(dtype, names)[2]) if out.dtype not in refused]
    return kept or names


def build(dtype: str, names: list[str]):
    """Inputs per (argument position, domain): argument 0 a matrix, others broadcast rows."""
    inputs: dict[tuple[int, str], object] = {}
    outputs = []
    for name in names:
        fn, _ref, arity, domains, _kinds = OPS[name]
        args = []
        for k in range(arity):
            key = (k, domains[k])
            if key not in inputs:
                pattern = (False, False) if k == 0 else (True, False)
                inputs[key] = T.tensor(dtype, pattern, name=f"x{k}{domains[k]}")
            args.append(inputs[key])
        outputs.append(fn(*args))
    keys = list(inputs)
    return keys, [inputs[k] for k in keys], outputs


def reference(name: str, args: list[np.ndarray], out_dtype: str) -> np.ndarray:
    ref = OPS[name][1]
    if name not in ("cast_f64", "cast_i16", "cast_bool", "cast_c64", "complex") \
            and np.dtype(out_dtype).kind in "fc" and args[0].dtype.kind in "biu":
        args = [a.astype("float64") for a in args]  # floats of ints: reference in float64
    if name == "switch":
        args = [args[0].astype(bool)] + args[1:]
    with np.errstate(all="ignore"):
        return np.asarray(ref(*args))


def check_close(got: np.ndarray, want: np.ndarray, name: str) -> None:
    with np.errstate(over="ignore"):  # float64 references beyond float32's range become inf
        want = want.astype(got.dtype) if want.dtype != got.dtype else want
    assert got.shape == want.shape, (name, got.shape, want.shape)
    kind = got.dtype.kind
    if kind in "fc":
        tol = 2e-5 if got.dtype in (np.float32, np.complex64) else 1e-12
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True,
                                       err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def layouts(values: dict, keys):
    """The same logical values as contiguous, transposed, strided and reversed arrays."""
    yield "contiguous", [values[k] for k in keys]
    yield "transposed", [np.ascontiguousarray(values[k].T).T for k in keys]
    strided = []
    for k in keys:
        v = values[k]
        big = np.zeros((v.shape[0] * 2, v.shape[1] * 3), v.dtype)
        big[::2, ::3] = v
        strided.append(big[::2, ::3])
    yield "strided", strided
    yield "reversed", [np.ascontiguousarray(values[k][::-1, ::-1])[::-1, ::-1] for k in keys]


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_op_against_numpy(dtype):
    names = computable(ops_for(dtype), dtype)
    keys, inputs, outputs = build(dtype, names)
    f = croton.function(inputs, outputs)
    f_numpy = croton.function(inputs, outputs, mode="NUMPY")
    values = {k: sample(k[1], dtype, (4, 5) if k[0] == 0 else (1, 5)) for k in keys}
    for label, args in layouts(values, keys):
        got = f(*args)
        for name, var, g in zip(names, outputs, got):
            assert g.dtype == var.dtype, (name, g.dtype, var.dtype)
            arg_values = [values[(k, OPS[name][3][k])] for k in range(OPS[name][2])]
            want = reference(name, arg_values, var.dtype)
            if dtype[0] in "fc" or (name not in FLOAT_RESULT and dtype != "bool"):
                assert g.dtype == want.dtype or name in ("complex", "tri_gamma"), \
                    (name, g.dtype, want.dtype)
            elif name in FLOAT_RESULT:
                assert str(g.dtype) == upgrade_to_float(dtype), (name, g.dtype)
            check_close(g, want, f"{name} ({label})")
    for name, g, n in zip(names, f(*[values[k] for k in keys]),
                          f_numpy(*[values[k] for k in keys])):
        check_close(g, n, f"{name} (NUMPY mode)")
    empty = [np.zeros((0, 5) if k[0] == 0 else (1, 5), dtype) for k in keys]
    for name, g in zip(names, f(*empty)):
        assert g.shape == (0, 5), name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_follow_numpy(dtype):
    """NaN, +-inf, signed zeros, ties and domain edges give what NumPy/SciPy give."""
    names = computable([n for n in ops_for(dtype) if OPS[n][2] == 1], dtype)
    x = T.tensor(dtype, (False,), name="x")
    outputs = [OPS[n][0](x) for n in names]
    f = croton.function([x], outputs)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5,
                        2.5, 1e-30, -1e-30, 40.0, -40.0, 1e30, -1e30, 0.999999, -3.5], dtype)
    for name, g in zip(names, f(special)):
        check_close(g, reference(name, [special], g.dtype), name)


@pytest.mark.parametrize("dtype", ["float64", "int32", "complex128"])
def test_zero_dim_and_broadcast_both_ways(dtype):
    """A 0-d operand, and a column against a row, broadcast as NumPy."""
    names = [n for n in ops_for(dtype) if OPS[n][2] == 2]
    s = T.tensor(dtype, (), name="s")
    col = T.tensor(dtype, (False, True), name="col")
    row = T.tensor(dtype, (True, False), name="row")
    unary = [n for n in ops_for(dtype) if OPS[n][2] == 1][:6]  # the 0-d loop is op-agnostic
    outputs = ([OPS[n][0](s, col) for n in names] + [OPS[n][0](col, row) for n in names]
               + [OPS[n][0](s) for n in unary])
    f = croton.function([s, col, row], outputs)
    sv = sample("p", dtype, ())
    cv, rv = sample("p", dtype, (3, 1)), sample("p", dtype, (1, 4))
    got = f(sv, cv, rv)
    for k, name in enumerate(names):
        out_dtype = outputs[k].dtype
        check_close(got[k], reference(name, [sv, cv], out_dtype), f"{name} 0-d")
        check_close(got[len(names) + k], reference(name, [cv, rv], out_dtype), f"{name} outer")
        assert got[len(names) + k].shape == (3, 4)
    for name, g in zip(unary, got[2 * len(names):]):
        assert g.shape == ()
        check_close(g, reference(name, [sv], g.dtype), f"{name} 0-d")


def test_rounding_modes_iround_and_round_method():
    x, xf = T.dvector("x"), T.fvector("xf")
    outs = [T.round(x), T.round(x, mode="half_to_even"), T.round_half_away_from_zero(x),
            T.iround(x), T.iround(x, mode="half_to_even"), x.round(), x.round("half_to_even"),
            T.round(xf), T.round(xf, "half_to_even")]
    f = croton.function([x, xf], outs)
    ties = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999999999999994, -3.7, 1e300, np.nan])
    with np.errstate(over="ignore"):
        t32 = ties.astype("float32")  # 1e300 is inf and 0.49999999999999994 is 0.5 in float32
    got = f(ties, t32)
    away = np.trunc(ties + np.copysign(0.5, ties))
    away[6] = 0.0  # 0.49999999999999994 + 0.5 rounds up in floating point; C's round does not
    even = np.round(ties)
    away32 = np.trunc(t32 + np.copysign(np.float32(0.5), t32))
    for g, want in zip(got, [away, even, away, away, even, away, even, away32, np.round(t32)]):
        if g.dtype == np.int64:
            np.testing.assert_array_equal(g[:8], want[:8].astype("int64"))
        else:
            assert g.dtype == want.dtype
            np.testing.assert_array_equal(g, want)
    assert got[3].dtype == np.int64
    with pytest.raises(ValueError, match="half_to_even"):
        T.round(x, mode="up")


def test_bitwise_operators_on_bools_and_ints():
    b1, b2 = T.tensor("bool", (False,), name="b1"), T.tensor("bool", (False,), name="b2")
    i1, i2 = T.ivector("i1"), T.ivector("i2")
    outs = [b1 & b2, b1 | b2, b1 ^ b2, ~b1, i1 & i2, i1 | 3, 5 ^ i1, ~i1,
            T.bitwise_and(i1, i2), T.bitwise_or(b1, b2), T.bitwise_xor(i1, i2),
            T.bitwise_not(b2), T.and_(b1, True), 6 & i2, True | b1]
    f = croton.function([b1, b2, i1, i2], outs)
    bv1, bv2 = np.array([True, True, False, False]), np.array([True, False, True, False])
    iv1, iv2 = np.array([0, -1, 7, -8], "int32"), np.array([3, 12, -5, 255], "int32")
    want = [bv1 & bv2, bv1 | bv2, bv1 ^ bv2, ~bv1, iv1 & iv2, iv1 | 3, 5 ^ iv1, ~iv1,
            iv1 & iv2, bv1 | bv2, iv1 ^ iv2, ~bv2, bv1 & True, 6 & iv2, True | bv1]
    for k, (g, w) in enumerate(zip(f(bv1, bv2, iv1, iv2), want)):
        assert g.dtype == w.dtype, (k, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w)
    x = T.fvector("x")
    with pytest.raises(TypeError, match="bool or integer"):
        T.and_(x, x)
    with pytest.raises(TypeError, match="bool or integer"):
        x.__invert__()


def test_complex_constructor_parts_and_casts():
    a, b = T.fvector("a"), T.fvector("b")
    d = T.dvector("d")
    z = T.complex(a, b)
    w = T.complex(d, d * 2)
    outs = [z, z.real, z.imag, z.conj(), z.conjugate(), T.angle(z), abs(z), z.astype("float32"),
            (z * z + 1).real, T.exp(z), z / (z + 2j), w, abs(w), w.imag, T.real(d), T.imag(d),
            T.conj(d), T.eq(z, z.conj()), T.isnan(w), T.sqrt(w), z.astype("bool")]
    f = croton.function([a, b, d], outs)
    av = np.array([1.0, -2.0, 0.0, 3.5], "float32")
    bv = np.array([0.5, 0.0, -1.0, 2.0], "float32")
    dv = np.array([0.25, -1.0, 2.0, 0.0])
    zv = av + 1j * bv.astype("complex64")
    wv = dv + 2j * dv
    want = [zv, zv.real, zv.imag, zv.conj(), zv.conj(), np.angle(zv), np.abs(zv), zv.real,
            (zv * zv + 1).real, np.exp(zv), zv / (zv + np.complex64(2j)), wv, np.abs(wv),
            wv.imag, dv, np.zeros(4), dv, zv == zv.conj(), np.isnan(wv), np.sqrt(wv),
            zv.astype(bool)]
    assert z.dtype == "complex64" and w.dtype == "complex128"
    for k, (g, e) in enumerate(zip(f(av, bv, dv), want)):
        check_close(g, np.asarray(e), f"complex output {k}")
        assert g.dtype == outs[k].dtype
    with pytest.raises(TypeError, match="complex"):
        T.lt(z, z)
    with pytest.raises(TypeError, match="complex"):
        T.maximum(w, w)
    with pytest.raises(TypeError, match="complex"):
        T.complex(z, z)


def test_switch_where_and_clip_semantics():
    c, x = T.dvector("c"), T.dvector("x")
    i, j = T.ivector("i"), T.ivector("j")
    outs = [T.switch(c, i, j), T.where(c, i, j), T.switch(i, x, c), T.clip(x, -1, 1),
            x.clip(c, 2.0), T.clip(i, 0, 5), T.maximum(x, c), T.minimum(x, c)]
    f = croton.function([c, x, i, j], outs)
    cv = np.array([0.5, 0.0, -0.0, np.nan, -3.0])
    xv = np.array([np.nan, -5.0, 0.3, 4.0, np.inf])
    iv, jv = np.array([1, 0, 3, 7, -2], "int32"), np.array([9, 8, 7, 6, 5], "int32")
    want = [np.where(cv, iv, jv), np.where(cv, iv, jv), np.where(iv, xv, cv),
            np.clip(xv, -1, 1), np.clip(xv, cv, 2.0), np.clip(iv, 0, 5), np.maximum(xv, cv),
            np.minimum(xv, cv)]
    for k, (g, e) in enumerate(zip(f(cv, xv, iv, jv), want)):
        assert g.dtype == e.dtype, k
        np.testing.assert_array_equal(g, e)


def test_special_functions_accuracy():
    """erfinv, psi, trigamma, gamma, gammaln against SciPy, tails and negative arguments."""
    x = T.dvector("x")
    xf = T.fvector("xf")
    funcs = [T.erfinv, T.psi, T.tri_gamma, T.gamma, T.gammaln]
    f = croton.function([x, xf], [fn(x) for fn in funcs] + [fn(xf) for fn in funcs])
    y = np.concatenate([np.linspace(-0.999, 0.999, 41), [1e-300, -1e-20, 0.5, 1 - 1e-15,
                                                         -(1 - 1e-15), 1 - 2**-53]])
    args = np.concatenate([np.linspace(-10.7, 30.3, 83), [1.4616321449683622, 1e-8, 170.5,
                                                          -0.5, -3.5, 2.0, 1e5]])
    got = f(np.concatenate([y, args]), np.concatenate([y, args]).astype("float32"))
    refs = [sp.erfinv, sp.psi, lambda a: sp.polygamma(1, a), sp.gamma, sp.gammaln]
    n_y = len(y)
    for k, ref in enumerate(refs):
        sl = slice(0, n_y) if k == 0 else slice(n_y, None)
        pts = np.concatenate([y, args])[sl]
        with np.errstate(all="ignore"):
            want = ref(pts)
        np.testing.assert_allclose(got[k][sl], want, rtol=1e-12, atol=1e-14, err_msg=str(k))
        pts32 = pts.astype("float32")
        with np.errstate(all="ignore"):
            want32 = ref(pts32.astype("float64")).astype("float32")
        ok = np.isfinite(want32)
        np.testing.assert_allclose(got[5 + k][sl][ok], want32[ok], rtol=2e-6, atol=1e-6,
                                   err_msg=f"float32 {k}")


def test_call_time_broadcast_error_names_op_and_line():
    x, y = T.dvector("x"), T.dvector("y")
    f = croton.function([x, y], T.arctan2(x, y) + 1)
    with pytest.raises(ValueError, match=r"arctan2[\s\S]*test_elemwise_ops.py:\d+"):
        f(np.ones(3), np.ones(4))
