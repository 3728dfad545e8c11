"""The op table. Importing this package registers every record in ``OPS`` (each module of the
package registers the records of one op family).

Example::

    >>> from croton.ops import OPS
    >>> 'dot' in OPS and 'sum' in OPS
    True
"""

import importlib
import pkgutil

from croton.ops.table import OPS, OpRecord, apply_op, make_output, node_perform

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["OPS", "OpRecord", "apply_op", "make_output", "node_perform"]
