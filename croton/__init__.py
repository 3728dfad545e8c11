"""croton: Theano, rebuilt as an ahead-of-time code-generation toolchain.

Write Theano programs; croton differentiates and optimizes the graph, renders one C++
translation unit per function, builds it with CMake + Ninja into a cached pybind11-bound module,
and returns a callable that updates shared state in place.

Example::

    >>> import croton as theano
    >>> from croton import tensor
    >>> a, b = tensor.dscalar(), tensor.dscalar()
    >>> f = theano.function([a, b], a + b)
    >>> float(f(1.5, 2.5))
    4.0
"""

import os as _os

# A source checkout keeps codegen/, build_tools/ and runtime/ beside croton/ (pyproject maps them to
# croton.codegen, croton.build_tools and croton.runtime). When this croton/ is imported from a
# checkout (Python run in the project root, a worktree, PYTHONPATH), its subpackages must come from
# the same tree, not from an installed copy.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "codegen")) and _os.path.isfile(
        _os.path.join(_checkout, "codegen", "pipeline.py")):
    __path__.append(_checkout)  # noqa: F821  (a package's __path__)

from croton import ops as _ops  # noqa: E402,F401  (registers the op table)
from croton import tensor  # noqa: E402
from croton.config import config  # noqa: E402
from croton.shared import SharedVariable, shared  # noqa: E402

__version__ = "0.1.0"


_LAZY_ATTRS = {"function": "croton.function_module", "In": "croton.function_module",
               "Out": "croton.function_module", "scan": "croton.scan", "Mode": "croton.mode",
               "grad": "croton.gradient", "Variable": "croton.graph", "Apply": "croton.graph",
               "Constant": "croton.graph", "clone": ("croton.graph", "clone_replace"),
               "pp": "croton.printing"}
_LAZY_MODULES = ("printing", "gradient", "function_module", "evaluate", "ifelse", "gof",
                 "compile", "scalar", "scan_module", "sandbox", "graph", "theano_alias", "gpuarray")


def __getattr__(name: str):
    # Heavy parts load on first use, so `import croton` stays fast.
    import importlib

    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name] if isinstance(_LAZY_ATTRS[name], tuple) else (
            _LAZY_ATTRS[name], name)
        return getattr(importlib.import_module(module), attr)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"croton.{name}")
    raise AttributeError(f"module 'croton' has no attribute {name!r}")


__all__ = ["tensor", "config", "shared", "SharedVariable", "function", "In", "Out", "Mode",
           "printing", "gradient", "scan", "ifelse", "grad", "Variable", "clone", "__version__"]
