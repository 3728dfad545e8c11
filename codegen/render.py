"""Rendering: a ``FunctionPlan`` printed through the Jinja templates in ``codegen/templates``.

Example::

    >>> import croton.tensor as T
    >>> from croton.fgraph import Graph
    >>> from croton.codegen.lower import lower
    >>> from croton.codegen.render import render_function
    >>> x = T.dvector('x')
    >>> 'std::exp' in render_function(lower(Graph.make([x], [T.exp(x)])).plan)
    True
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jinja2

from croton.codegen.escape import FILTERS
from croton.codegen.expr import cpp
from croton.codegen.outline import outline_loops
from croton.codegen.plan import FunctionPlan

TEMPLATE_DIR = Path(__file__).parent / "templates"


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's disk cache of compiled templates, which a read-only cache directory disables
    instead of failing the render."""

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment; compiled templates are cached on disk beside the kernel cache, so
    a new process renders without recompiling the templates."""
    from croton.build_tools.trust import check_cache_dir, make_private_dirs
    from croton.config import config

    bytecode_dir = Path(config.cache_dir) / "v1" / "jinja"
    try:
        # compiled templates are code: only from a cache no other user can write
        check_cache_dir(config.cache_dir)
        make_private_dirs(bytecode_dir)
        bytecode_cache = _QuietBytecodeCache(str(bytecode_dir))
    except OSError:
        bytecode_cache = None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        bytecode_cache=bytecode_cache,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)  # user text reaches the C++ only through these
    env.filters["cpp"] = cpp  # the plan's expressions and statements, printed
    env.filters["kernel_tag"] = kernel_tag
    return env


def kernel_tag(step) -> str:
    """A short digest of a loop step (its fields, printed): kernels named with it differ
    between steps of a function and of its scan steps, and are equal for equal steps."""
    return hashlib.sha256(repr(step).encode()).hexdigest()[:8]


def render_function(plan: FunctionPlan) -> str:
    """The C++ translation unit of one function: the host driver of ``plan.target``, which
    imports the target's loop templates. A plan with steps or dtypes its target cannot print
    yet (``Target.host_steps``, ``Target.refused_dtypes``) is refused with NotImplementedError
    naming them."""
    target = plan.target
    missing = target.unsupported_steps(plan.shape_lines + plan.steps + plan.commits)
    for f in plan.subfunctions:  # a scan's step function
        missing += target.unsupported_steps(f.plan.shape_lines + f.plan.steps + f.plan.commits)
    missing += sorted({f"dtype {b.dtype} ({b.label})" for b in plan.buffers
                       if b.dtype in target.refused_dtypes})
    if plan.uses_complex and {"complex64", "complex128"} & target.refused_dtypes:
        missing.append("complex arithmetic inside a fused loop")  # no complex buffer needed
    if missing:
        shown = "; ".join(dict.fromkeys(missing))
        raise NotImplementedError(
            f"the {target.name} target cannot compile this function yet: it needs {shown} "
            f"(docs/{target.name}.md says what the {target.name} target supports)")
    outline = outline_loops(plan)
    return environment().get_template(target.host_template).render(
        plan=plan, loop_calls=outline.calls, loop_functions=outline.functions)


def render_template(name: str, **context) -> str:
    """Any other template (``CMakeLists.txt.j2``…) with the given context."""
    return environment().get_template(name).render(**context)


@functools.lru_cache(maxsize=1)
def templates_digest() -> str:
    """A hash of every template, part of each cache key."""
    h = hashlib.sha256()
    for path in sorted(TEMPLATE_DIR.rglob("*.j2")):
        h.update(path.relative_to(TEMPLATE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()
