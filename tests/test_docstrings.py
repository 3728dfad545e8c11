"""Every docstring example in croton (the front end, croton.codegen, croton.build_tools) runs
and prints what it shows. Modules are imported under their package names, as users import
them (``croton.codegen.passes.merge``), so each registers its ops and lowerings once."""

import doctest
import importlib
import os
import pkgutil

import pytest

import croton
import croton.build_tools
import croton.codegen

SKIP = {"croton.__main__"}  # runs the command line on import


def _modules() -> list[str]:
    names = []
    for package in (croton, croton.codegen, croton.build_tools):
        names.append(package.__name__)
        # the package's own folder (a checkout's croton.__path__ also holds the project root)
        where = [os.path.dirname(package.__file__)]
        for info in pkgutil.walk_packages(where, package.__name__ + "."):
            if info.name not in SKIP:
                names.append(info.name)
    return sorted(set(names))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    for test in tests:
        runner.run(test, out=lambda text: print(text, end=""))
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (above)"
