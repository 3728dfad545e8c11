"""Theano's ``Mode`` objects, for programs that pass ``mode=theano.Mode(linker='vm')`` or
``optimizer='fast_compile'``: croton has one linker (compiled C++), so a Mode only selects the
pass pipeline.

Example::

    >>> import croton
    >>> croton.Mode(linker='vm').name, croton.Mode(optimizer='fast_compile').name
    ('FAST_RUN', 'FAST_COMPILE')
"""

from __future__ import annotations

_OPTIMIZERS = {None: "FAST_RUN", "fast_run": "FAST_RUN", "o4": "FAST_RUN",
               "fast_compile": "FAST_COMPILE", "o1": "FAST_COMPILE", "none": "FAST_COMPILE",
               "merge": "FAST_COMPILE"}
_LINKERS = {None, "vm", "cvm", "c", "c|py", "py", "vm_nogc", "cvm_nogc", "c|py_nogc"}


class Mode:
    """A compilation mode: ``Mode(linker='vm', optimizer='fast_run')``. Every Theano linker
    runs croton's compiled code; the optimizer picks the pipeline ('fast_run' or
    'fast_compile'); ``Mode('NUMPY')`` runs the ops' NumPy references."""

    def __init__(self, linker: str | None = None, optimizer: str | None = None) -> None:
        if linker in ("NUMPY", "FAST_RUN", "FAST_COMPILE") and optimizer is None:
            self.name = linker
            return
        if linker not in _LINKERS:
            raise ValueError(f"Mode: unknown linker {linker!r}; expected one of "
                             f"{sorted(x for x in _LINKERS if x)}")
        key = optimizer.lower() if isinstance(optimizer, str) else optimizer
        if key not in _OPTIMIZERS:
            raise ValueError(f"Mode: unknown optimizer {optimizer!r}; expected 'fast_run' or "
                             f"'fast_compile'")
        self.name = _OPTIMIZERS[key]

    def __repr__(self) -> str:
        return f"Mode({self.name!r})"
