"""Everything is in pyproject.toml, except one thing setuptools cannot say there: the
``croton-as-theano.pth`` start-up hook goes to the top of site-packages (next to the packages),
where Python reads it at start-up. It does nothing unless ``CROTON_AS_THEANO=1`` is set; then it
puts croton's ``theano`` alias first on ``sys.path`` (see croton/theano_alias.py)."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "croton-as-theano.pth"


class build_py_with_pth(build_py):  # noqa: N801  (setuptools command naming)
    def run(self) -> None:
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        self.copy_file(os.path.join(here, PTH), os.path.join(self.build_lib, PTH),
                       preserve_mode=0)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


CMDCLASS = {"build_py": build_py_with_pth}

try:  # setuptools >= 64: `pip install -e .` builds an editable wheel; its root gets the hook too
    from setuptools.command.editable_wheel import editable_wheel

    class editable_wheel_with_pth(editable_wheel):  # noqa: N801
        def _install_namespaces(self, installation_dir, pth_prefix) -> None:
            super()._install_namespaces(installation_dir, pth_prefix)
            here = os.path.dirname(os.path.abspath(__file__))
            self.copy_file(os.path.join(here, PTH), os.path.join(installation_dir, PTH),
                           preserve_mode=0)

    CMDCLASS["editable_wheel"] = editable_wheel_with_pth
except ImportError:
    pass

setup(cmdclass=CMDCLASS)
