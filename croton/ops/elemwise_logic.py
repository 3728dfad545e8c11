"""Elementwise logic and complex numbers: ``and_ or_ xor invert`` (logical on bools, bitwise on
integers), ``isnan isinf``, and ``complex real imag conj angle``.

Gradients of the complex ops follow Theano's convention: the gradient of a real cost ``C`` with
respect to ``z`` is ``dC/dRe(z) + i dC/dIm(z)``.

Example::

    >>> from croton.ops.table import OPS
    >>> OPS["invert"].cpp, OPS["complex"].cpp
    ('croton::invert({0})', '{T}({0}, {1})')
"""

from __future__ import annotations

import numpy as np

from croton.ops.elemwise import (
    _compute_upcast,
    _no_grad,
    _part_dtype,
    _to_bool,
    _vjp_zeros,
    elemwise,
)
from croton.types import COMPLEX_DTYPES, upcast, upgrade_to_float


def _t():
    import croton.tensor as T

    return T


def _is_complex(var) -> bool:
    return var.dtype in COMPLEX_DTYPES


def _complex_dtype(dtypes, params):
    return upcast(upgrade_to_float(upcast(*dtypes)), "complex64")


def _compute_part_of_complex(dtypes):
    return "float32" if _complex_dtype(dtypes, {}) == "complex64" else "float64"


def _compute_float(dtypes):
    return upgrade_to_float(upcast(*dtypes))


def _angle_dtype(dtypes, params):
    return _part_dtype([upgrade_to_float(upcast(*dtypes))], params)


# --- reverse-mode rules ------------------------------------------------------------------------
def _vjp_real(node, g):
    T = _t()
    z = node.inputs[0]
    return [T.complex(g[0], T.zeros_like(g[0])) if _is_complex(z) else g[0]]


def _vjp_imag(node, g):
    T = _t()
    z = node.inputs[0]
    if not _is_complex(z):
        return _vjp_zeros(node, g)
    return [T.complex(T.zeros_like(g[0]), g[0])]


def _vjp_conj(node, g):
    return [_t().conj(g[0])]


def _vjp_angle(node, g):
    T = _t()
    z = node.inputs[0]
    if not _is_complex(z):
        return _vjp_zeros(node, g)
    re, im = T.real(z), T.imag(z)
    scale = g[0] / (re * re + im * im)
    return [T.complex(-im * scale, re * scale)]


def _vjp_complex(node, g):
    T = _t()
    return [T.real(g[0]), T.imag(g[0])]


def _np_complex(re, im):
    dtype = _complex_dtype([str(re.dtype), str(im.dtype)], {})
    out = np.empty(np.broadcast_shapes(re.shape, im.shape), dtype=dtype)
    out.real, out.imag = re, im
    return out


# --- the records -------------------------------------------------------------------------------
_BITS = (("and_", "&", np.bitwise_and, "a & b: logical and on bools, bitwise on integers"),
         ("or_", "|", np.bitwise_or, "a | b: logical or on bools, bitwise on integers"),
         ("xor", "^", np.bitwise_xor, "a ^ b: logical xor on bools, bitwise on integers"))
for _name, _sym, _ref, _doc in _BITS:
    elemwise(_name, 2, f"({{0}} {_sym} {{1}})", _ref, _no_grad, doc=_doc, domain="discrete")
elemwise("invert", 1, "croton::invert({0})", np.invert, _no_grad,
         doc="~a: logical not on bools, bitwise not on integers", domain="discrete")
elemwise("isnan", 1, "croton::is_nan({0})", np.isnan, _no_grad, out_dtype=_to_bool,
         compute_dtype=_compute_upcast, doc="a is NaN (bool); false for integers", domain="any")
elemwise("isinf", 1, "croton::is_inf({0})", np.isinf, _no_grad, out_dtype=_to_bool,
         compute_dtype=_compute_upcast, doc="a is +-inf (bool); false for integers",
         domain="any")
elemwise("real", 1, "croton::real_part({0})", np.real, _vjp_real, out_dtype=_part_dtype,
         compute_dtype=_compute_upcast, doc="real part (a itself for real a)", domain="any")
elemwise("imag", 1, "croton::imag_part({0})", lambda a: np.imag(a).copy(), _vjp_imag,
         out_dtype=_part_dtype, compute_dtype=_compute_upcast,
         doc="imaginary part (zeros for real a)", domain="any")
elemwise("conj", 1, "croton::conjugate({0})", np.conj, _vjp_conj, compute_dtype=_compute_upcast,
         doc="complex conjugate (a itself for real a)", domain="any")
elemwise("angle", 1, "croton::angle({0})", np.angle, _vjp_angle, out_dtype=_angle_dtype,
         compute_dtype=_compute_float, doc="argument atan2(imag, real) of a", domain="any")
elemwise("complex", 2, "{T}({0}, {1})", _np_complex, _vjp_complex,
         out_dtype=_complex_dtype, compute_dtype=_compute_part_of_complex,
         doc="complex(re, im): re + i im (complex64 from float32 parts, else complex128)")
