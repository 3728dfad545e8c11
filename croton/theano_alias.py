"""``import theano`` gives croton: the opt-in alias (``CROTON_AS_THEANO=1`` or ``croton run``).

With the opt-in on, ``theano`` is the ``croton`` module and every ``theano.X`` module is the croton
module that plays its part (``theano.gof.graph`` is ``croton.graph``, ``theano.compile`` is
``croton.compile``), so ``theano.tensor.matrix is croton.tensor.matrix``. ``theano.gpuarray``
is ``croton.gpuarray``: with ``device=cuda`` (``THEANO_FLAGS`` or ``CROTON_FLAGS``) ``import
theano`` imports it, as Theano's does, which initialises the CUDA device or logs Theano's error
and runs on the CPU; with ``device=cpu`` ``pygpu_activated`` is False and libraries take their
CPU paths. The old back end ``theano.sandbox.cuda`` raises ImportError with Theano 1.0.5's
message ("removed from Theano"), and the modules Theano 1.0.5 does not have
(``theano.sandbox.gpuarray``...) do not import. With the opt-in off nothing is installed and a
real Theano, if any, is untouched.

Three ways in, all the same finder:

- ``CROTON_AS_THEANO=1`` in the environment: the ``croton-as-theano.pth`` file that the package
  installs puts ``croton/_as_theano`` (holding a ``theano`` package) at the front of ``sys.path``
  at start-up; subprocesses inherit the variable.
- ``croton run script.py args...`` / ``croton run -m module args...``: sets the variable and puts
  that directory on ``PYTHONPATH`` for the run (works from a source checkout, too).
- ``croton.theano_alias.install()`` in code.

Example (after ``install()``, in a program run with the opt-in, ``theano is croton`` and
``theano.tensor.matrix is croton.tensor.matrix``)::

    >>> from croton import theano_alias
    >>> theano_alias.croton_name("theano.gof.graph"), theano_alias.croton_name("theano.tensor")
    ('croton.graph', 'croton.tensor')
    >>> theano_alias.enabled({"CROTON_AS_THEANO": "1"}), theano_alias.enabled({})
    (True, False)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
import warnings

ENV_VAR = "CROTON_AS_THEANO"

#: The directory that holds the ``theano`` package that turns the alias on.
SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_as_theano")

#: Theano module name -> croton module name, where croton's module has another name. Any other
#: ``theano.X`` is ``croton.X``.
MODULES: dict[str, str] = {
    "theano": "croton",
    "theano.gof.graph": "croton.graph",
    "theano.gof.fg": "croton.fgraph",
    "theano.compile.sharedvalue": "croton.shared",
    "theano.compile.function_module": "croton.function_module",
    "theano.compile.function": "croton.function_module",
    "theano.compile.io": "croton.function_module",
    "theano.compile.mode": "croton.mode",
    "theano.compile.profiling": "croton.profiling",
    "theano.scan_module.scan": "croton.scan",
    "theano.scan_module.scan_utils": "croton.graph",
    "theano.configparser": "croton.config",
    "theano.configdefaults": "croton.config",
    "theano.tensor.var": "croton.graph",
    "theano.tensor.type": "croton.types",
    "theano.tensor.sharedvar": "croton.shared",
    "theano.tensor.nnet.nnet": "croton.tensor.nnet",
    "theano.tensor.nnet.sigm": "croton.tensor.nnet",
    "theano.tensor.slinalg": "croton.tensor.slinalg",
    "theano.tensor.nlinalg": "croton.tensor.nlinalg",
}

#: Theano's old GPU back ends, which libraries test for with ``import``: Theano 1.0.5 refuses
#: ``theano.sandbox.cuda`` (this message, raised as nose's SkipTest there, an ImportError here)
#: and has none of the others. ``theano.gpuarray`` is croton's (``croton.gpuarray``).
GPU_MODULES = ("theano.sandbox.cuda", "theano.sandbox.gpuarray",
               "theano.misc.pycuda_init", "theano.sandbox.cuda_convnet")
OLD_BACKEND_MESSAGE = (
    "You are importing theano.sandbox.cuda. This is the old GPU back-end and is removed from "
    "Theano. Use Theano 0.9 to use it. Even better, transition to the new GPU back-end! See "
    "https://github.com/Theano/Theano/wiki/Converting-to-the-new-gpu-back-end%28gpuarray%29")


def enabled(environ: dict | None = None) -> bool:
    """Whether the opt-in is on: ``CROTON_AS_THEANO`` set to anything but ``''``/``0``."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def croton_name(theano_name: str) -> str:
    """The croton module a Theano module name stands for.

    Example::

        >>> croton_name("theano.gof.graph"), croton_name("theano.tensor.extra_ops")
        ('croton.graph', 'croton.tensor.extra_ops')
    """
    if theano_name in MODULES:
        return MODULES[theano_name]
    return "croton" + theano_name[len("theano"):]


def _has_children(theano_name: str) -> bool:
    prefix = theano_name + "."
    return any(name.startswith(prefix) for name in MODULES) or any(
        name.startswith(prefix) for name in GPU_MODULES)


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module) -> None:
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        pass


class TheanoFinder(importlib.abc.MetaPathFinder):
    """Resolves ``theano`` and ``theano.*`` to croton's modules (the same module objects)."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname != "theano" and not fullname.startswith("theano."):
            return None
        if fullname == "theano.sandbox.cuda" or fullname.startswith("theano.sandbox.cuda."):
            raise ImportError(OLD_BACKEND_MESSAGE, name=fullname)
        if fullname in GPU_MODULES or any(fullname.startswith(g + ".") for g in GPU_MODULES):
            raise ImportError(f"No module named {fullname!r}: Theano 1.0.5 has no such GPU "
                              f"module (its GPU back end is theano.gpuarray)", name=fullname)
        target_name = croton_name(fullname)
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            parent, _, child = target_name.rpartition(".")
            found = getattr(sys.modules.get(parent), child, None)
            if isinstance(found, types.ModuleType):  # a module kept as an attribute
                module = found
            elif exc.name is not None and (target_name == exc.name
                                           or target_name.startswith(exc.name + ".")):
                raise ModuleNotFoundError(
                    f"No module named {fullname!r} (croton, standing in for Theano through "
                    f"{ENV_VAR}, has no {target_name})", name=fullname) from None
            else:
                raise
        if not hasattr(module, "__path__") and _has_children(fullname):
            module.__path__ = []  # a module that stands for a Theano package
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module),
                                              is_package=hasattr(module, "__path__"))


_FINDER = TheanoFinder()


def install() -> None:
    """Make ``import theano`` give croton in this process (idempotent). Subprocesses inherit it
    only through ``CROTON_AS_THEANO=1`` (set here too) with the ``.pth`` file or ``croton run``."""
    os.environ[ENV_VAR] = "1"
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
        apply_theano_flags(os.environ.get("THEANO_FLAGS", ""))
        from croton.config import config

        if config.device.startswith("cuda") or config.init_gpu_device.startswith("cuda"):
            importlib.import_module("croton.gpuarray")  # initialises the device, as Theano's
    if sys.modules.get("theano") is not None and sys.modules["theano"] is not \
            sys.modules.get("croton"):
        existing = sys.modules["theano"]
        if getattr(existing, "__file__", "") and not str(existing.__file__).startswith(SHIM_DIR):
            raise ImportError(f"a real Theano is already imported ({existing.__file__}); "
                              f"{ENV_VAR} must be set before `import theano`")
    sys.modules["theano"] = importlib.import_module("croton")


def apply_theano_flags(text: str) -> list[str]:
    """Apply the ``THEANO_FLAGS`` entries croton knows (``floatX=float32``, ``mode=...``,
    ``device=cpu``...) to ``croton.config``, then ``CROTON_FLAGS`` again (it wins); warn about the
    others and return their names, as Theano warns about flags it does not know.

    Example::

        >>> from croton.config import config
        >>> before = config.floatX
        >>> apply_theano_flags("floatX=float32,gpuarray.preallocate=0.9")
        ['gpuarray.preallocate']
        >>> config.floatX
        'float32'
        >>> config.floatX = before
    """
    from croton.config import config

    known, unknown = [], []
    for item in filter(None, (s.strip() for s in text.split(","))):
        name = item.partition("=")[0].strip()
        (known if hasattr(config, name) and not name.startswith("_") else unknown).append(item)
    if known:
        config.apply_flags(",".join(known))
        config.apply_flags(os.environ.get("CROTON_FLAGS", ""))
    names = [item.partition("=")[0].strip() for item in unknown]
    if names:
        warnings.warn(f"THEANO_FLAGS: croton does not use {', '.join(names)}", stacklevel=2)
    return names


def run_environ(environ: dict) -> dict:
    """A copy of ``environ`` with the opt-in on and the shim directory first on ``PYTHONPATH``
    (what ``croton run`` gives the program and its subprocesses)."""
    env = dict(environ)
    env[ENV_VAR] = "1"
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != SHIM_DIR]
    env["PYTHONPATH"] = os.pathsep.join([SHIM_DIR, *parts])
    return env
