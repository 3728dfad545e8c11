"""A reduction's C++ pieces, from its op record's ``Reduction`` (``croton/ops/reduce.py``): the
one place both reduction lowerings (``reduce`` in ``lowering/structured.py``, ``fused_reduce``
in ``lowering/fused_reduce.py``) learn a reduction's accumulator, identity, combine step and
whether OpenMP may reassociate it. Complex values are handled here, once: they accumulate in
their own type, and never through an OpenMP reduction (it has no complex operator).

Example::

    >>> from croton.ops import OPS
    >>> code = reduction_code(OPS["sum"], "float32", "float32")
    >>> code.acc_ctype, code.combine("result"), code.operator
    ('double', 'acc + static_cast<double>(result)', '+')
    >>> code = reduction_code(OPS["max"], "int8", "int8")
    >>> code.identity, code.combine("v"), code.check_empty
    ('static_cast<int8_t>(std::numeric_limits<int8_t>::lowest())', 'croton::maximum(acc, v)', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from croton.ops.table import OpRecord
from croton.types import COMPLEX_DTYPES, CXX_TYPE, INT_DTYPES


@dataclass(frozen=True)
class ReductionCode:
    """The C++ of one reduction at one (value, output) dtype pair."""

    acc_ctype: str
    identity: str  # the accumulator's start value, a C++ literal of acc_ctype
    combine_template: str  # the record's combine, over {acc} and {v}
    operator: str  # '+' or '*' when partial results may be reassociated (OpenMP); else ''
    check_empty: bool  # reducing no element is an error (max, min)
    value_ctype: str

    def combine(self, value: str) -> str:
        """The combine step over ``acc`` and the C++ expression ``value`` (of the value type,
        converted to the accumulator's type when they differ)."""
        if self.value_ctype != self.acc_ctype:
            value = f"static_cast<{self.acc_ctype}>({value})"
        return self.combine_template.format(acc="acc", v=value)


def identity_literal(value, dtype: str) -> str:
    """The C++ of a reduction's identity ``value`` as the accumulator type ``dtype``: a small
    integer, ``true``/``false``, an infinity or an integer type's limit."""
    ct = CXX_TYPE[dtype]
    if isinstance(value, bool | np.bool_):
        text = "true" if value else "false"
    elif isinstance(value, float) and math.isinf(value):
        text = f"{'-' if value < 0 else ''}std::numeric_limits<{ct}>::infinity()"
    elif dtype in INT_DTYPES and value == np.iinfo(dtype).min and value != 0:
        text = f"std::numeric_limits<{ct}>::lowest()"
    elif dtype in INT_DTYPES and value == np.iinfo(dtype).max:
        text = f"std::numeric_limits<{ct}>::max()"
    else:
        text = str(int(value))
    return f"static_cast<{ct}>({text})"


def reduction_code(op: OpRecord, value_dtype: str, out_dtype: str) -> ReductionCode:
    """The C++ of reduction ``op`` over values of ``value_dtype`` into ``out_dtype``."""
    red = op.reduction
    if red is None:
        raise TypeError(f"{op.name} is not a reduction")
    acc = red.accumulator(value_dtype, out_dtype)
    complex_values = acc in COMPLEX_DTYPES or value_dtype in COMPLEX_DTYPES
    return ReductionCode(CXX_TYPE[acc], identity_literal(red.identity(value_dtype), acc),
                         red.combine, "" if complex_values else red.operator,
                         not red.empty_ok, CXX_TYPE[value_dtype])
