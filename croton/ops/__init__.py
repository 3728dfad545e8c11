"""The op table. Importing this package registers every record in ``OPS``.

Example::

    >>> from croton.ops import OPS
    >>> 'dot' in OPS and 'sum' in OPS
    True
"""

from croton.ops import elemwise, fused, linalg, reduce, shape  # noqa: F401  (registers records)
from croton.ops.table import OPS, OpRecord, apply_op, make_output, node_perform

__all__ = ["OPS", "OpRecord", "apply_op", "make_output", "node_perform"]
