"""Printing graphs, as Theano's ``theano.printing``: ``pp`` (one infix expression),
``debugprint`` (an indented tree, one line per node) and ``pydotprint`` (a Graphviz picture).

Example::

    >>> import croton.tensor as T
    >>> from croton.printing import debugprint, pp
    >>> a, b = T.dscalars('a', 'b')
    >>> pp(T.exp(a) * b + 2.5)
    '((exp(a) * b) + 2.5)'
    >>> print(debugprint(a + b, file='str'), end='')
    add [id A] ''
     |a [id B]
     |b [id C]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, Any

from croton.fgraph import Graph
from croton.graph import Apply, Constant, Variable, ancestors_toposort, graph_inputs
from croton.ops.table import OPS
from croton.shared import SharedVariable

__all__ = ["GraphvizNotFoundError", "debugprint", "node_label", "pp", "pprint", "pydotprint"]

# Ops printed infix by ``pp`` (always parenthesized, so precedence never matters).
INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%",
         "pow": "**", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "eq": "==", "neq": "!="}


# --- labels ------------------------------------------------------------------------------------
def _label(name: str, params: tuple) -> str:
    """An op's label; ``dimshuffle`` as ``dimshuffle{x,0}``, fused programs spelled out."""
    p = dict(params)
    if name == "dimshuffle":
        return "dimshuffle{" + ",".join(str(d) for d in p["order"]) + "}"
    if name == "fused":
        arity = 1 + max((k for s in p["program"] for kind, k in s[2] if kind == "in"), default=-1)
        leaves = [f"i{k}" for k in range(arity)]
        return "fused{" + ", ".join(_expand_outputs(p, leaves)) + "}"
    return OPS[name].label(params)


def node_label(node: Apply) -> str:
    """The label ``debugprint`` and ``pydotprint`` show for ``node``.

    Example::

        >>> import croton.tensor as T
        >>> node_label(T.dvector('v').dimshuffle('x', 0).owner)
        'dimshuffle{x,0}'
    """
    return _label(node.op.name, node.params)


def _apply_str(name: str, params: tuple, args: Sequence[str]) -> str:
    """One op applied to already printed arguments."""
    if name in INFIX and len(args) == 2:
        return f"({args[0]} {INFIX[name]} {args[1]})"
    if name == "neg":
        return f"(-{args[0]})"
    return f"{_label(name, params)}({', '.join(args)})"


def _expand_outputs(params: dict, leaves: Sequence[str]) -> list[str]:
    """Each output of a fused node (its program's returned steps) as one expression over the
    printed ``leaves``."""
    program = params["program"]
    done: list[str] = []
    for op_name, op_params, args, _source in program:
        strs = [leaves[k] if kind == "in" else done[k] for kind, k in args]
        done.append(_apply_str(op_name, op_params, strs))
    return [done[k] for k in params.get("outputs", (len(program) - 1,))]


# --- pp ----------------------------------------------------------------------------------------
def _unbroadcast(v: Variable) -> Variable:
    """The input of an unnamed dimshuffle that only adds broadcastable dims, else ``v``."""
    node = v.owner
    if node is None or v.name is not None or node.op.name != "dimshuffle":
        return v
    kept = [d for d in dict(node.params)["order"] if d != "x"]
    return node.inputs[0] if kept == list(range(node.inputs[0].ndim)) else v


def pp(var: Variable) -> str:
    """``var`` as one readable infix expression (Theano's ``pp``).

    Named variables print as their name (except ``var`` itself, which is expanded), unnamed
    inputs as ``<TensorType(...)>``, constants by value. Arithmetic and comparisons are infix and
    fully parenthesized; other ops are calls with their parameters (``sum{axis=(0,)}(x)``,
    ``dimshuffle{x,0}(v)``); a transpose is ``x.T``; a dimshuffle that only broadcasts an operand
    of an elementwise op is hidden, as in Theano (``x + v``); a ``fused`` node shows its program
    expanded over its inputs.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dmatrix('x')
        >>> pp(T.exp(x).sum(axis=0) / 2)
        '(sum{axis=(0,)}(exp(x)) / 2.0)'
    """
    if not isinstance(var, Variable):
        raise TypeError(f"pp() needs a symbolic variable, got {type(var).__name__}")
    memo: dict[int, str] = {}  # printed outputs, filled in topological order (no recursion)

    def show(v: Variable) -> str:
        if v.owner is None or (v.name is not None and v is not var):
            return repr(v)  # the name, a constant's value, or ``<TensorType(float64, scalar)>``
        return memo[id(v)]

    for node in ancestors_toposort([var]):
        name, params = node.op.name, node.params
        hide = node.op.kind in ("elemwise", "fused")  # implicit broadcasting is not shown
        args = [show(_unbroadcast(i) if hide else i) for i in node.inputs]
        if name == "dimshuffle":
            order, (x,) = dict(params)["order"], node.inputs
            transpose = x.ndim >= 2 and tuple(order) == tuple(reversed(range(x.ndim)))
            text = f"{args[0]}.T" if transpose else _apply_str(name, params, args)
        elif name == "fused":
            for out, text in zip(node.outputs, _expand_outputs(dict(params), args)):
                memo[id(out)] = text
            continue
        else:
            text = _apply_str(name, params, args)
        for out in node.outputs:
            memo[id(out)] = text + (f"[{out.index}]" if len(node.outputs) > 1 else "")
    return show(var)


pprint = pp  # Theano spelled it both ways


# --- debugprint --------------------------------------------------------------------------------
def _ident(n: int, ids: str) -> str:
    if ids == "int":
        return str(n)
    s = ""
    while True:  # 0 -> A, 25 -> Z, 26 -> BA (Theano's char_from_number)
        n, r = divmod(n, 26)
        s = chr(ord("A") + r) + s
        if n == 0:
            return s


def _graph_of(obj: Any) -> tuple[Graph | None, list[Variable]]:
    """The graph to print for a compiled function or Graph (None otherwise), and the roots."""
    if isinstance(obj, Graph):
        return obj, obj.roots
    if hasattr(obj, "maker") and isinstance(getattr(obj.maker, "fgraph", None), Graph):
        return obj.maker.fgraph, obj.maker.fgraph.roots
    if isinstance(getattr(obj, "graph", None), Graph):  # mode='NUMPY' functions
        return obj.graph, obj.graph.roots
    if isinstance(obj, Apply):
        return None, list(obj.outputs)
    if isinstance(obj, Variable):
        return None, [obj]
    if isinstance(obj, list | tuple) and all(isinstance(v, Variable) for v in obj):
        return None, list(obj)
    raise TypeError(f"cannot print {type(obj).__name__}: expected a Variable, a list of "
                    f"Variables, an Apply, a Graph or a compiled function")


def debugprint(obj: Any, depth: int = -1, print_type: bool = False,
               file: IO[str] | str | None = None, ids: str = "CHAR",
               stop_on_name: bool = False, done: dict | None = None) -> str | IO[str] | None:
    """Print ``obj`` as an indented tree, one line per node, as Theano's ``debugprint``.

    ``obj`` is a Variable, a list of them, an Apply, a Graph, or a compiled function (its
    optimized graph ``f.maker.fgraph``: the outputs, then each update value marked
    ``(update of W)``). Each node and leaf gets an id (``ids='CHAR'``: A, B, ...; ``'int'``:
    0, 1, ...; ``''``: none); a node reached a second time prints again with its id but without
    its inputs. For a function, the number after a node is its position in the execution order.
    ``depth`` limits the levels (-1: all); ``stop_on_name`` does not expand named variables;
    ``done`` (a dict) keeps ids across calls. ``file='str'`` returns the text; a file object is
    written to and returned; ``None`` writes to ``sys.stdout`` and returns None.

    Example::

        >>> import croton.tensor as T
        >>> x = T.dvector('x')
        >>> y = T.exp(x)
        >>> print(debugprint(y + y, file='str'), end='')
        add [id A] ''
         |exp [id B] ''
         | |x [id C]
         |exp [id B] ''
    """
    graph, roots = _graph_of(obj)
    order = {id(n): i for i, n in enumerate(graph.nodes())} if graph is not None else {}
    notes = [""] * len(roots)
    if graph is not None:
        for k, (shared_var, _) in enumerate(graph.updates):
            notes[len(graph.outputs) + k] = f" (update of {shared_var!r})"
    done = {} if done is None else done
    lines: list[str] = []
    expanded: set[int] = set()
    stack: list[tuple] = []  # (variable, prefix, child prefix, level, note), not recursion

    def ident(key: Any) -> str:
        if not ids:
            return ""
        if id(key) not in done:
            done[id(key)] = (key, _ident(len(done), ids))  # keep key alive: ids stay unique
        return f" [id {done[id(key)][1]}]"

    def visit(v: Variable, prefix: str, child_prefix: str, level: int, note: str) -> None:
        type_str = f" <{v.type}>" if print_type else ""
        node = v.owner
        if node is None or (stop_on_name and v.name is not None and level > 1):
            text = f"Constant{{{v!r}}}" if isinstance(v, Constant) and v.name is None else repr(v)
            lines.append(f"{prefix}{text}{ident(v)}{type_str}{note}")
            return
        seen = id(node) in done or id(node) in expanded
        expanded.add(id(node))
        label = node_label(node) + (f".{v.index}" if len(node.outputs) > 1 else "")
        line = f"{prefix}{label}{ident(node)}{type_str} '{v.name or ''}'"
        if id(node) in order:
            line += f"   {order[id(node)]}"
        lines.append(line + note)
        if seen or level == depth:
            return
        for k in reversed(range(len(node.inputs))):
            last = k == len(node.inputs) - 1
            stack.append((node.inputs[k], child_prefix + " |",
                          child_prefix + ("  " if last else " |"), level + 1, ""))

    for v, note in zip(roots, notes, strict=True):
        stack.append((v, "", "", 1, note))
        while stack:
            visit(*stack.pop())
    text = "".join(line + "\n" for line in lines)
    if file == "str":
        return text
    if isinstance(file, str):
        raise ValueError(f"debugprint(file=...) takes 'str', a file object or None, not {file!r}")
    out = sys.stdout if file is None else file
    out.write(text)
    if file is None:
        out.flush()
        return None
    return file


# --- pydotprint --------------------------------------------------------------------------------
class GraphvizNotFoundError(RuntimeError):
    """Neither Graphviz's ``dot`` nor ``graphviz-pure`` is installed (or on PATH)."""


GRAPHVIZ_HELP = (
    "pydotprint needs Graphviz's `dot` program (or `graphviz-pure`, a pip-installable one with "
    "the same command line), and found neither on PATH nor beside this Python. Install one: "
    "`pip install graphviz-pure` (or `pip install croton[printing]`), or graphviz: "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`; or pass format='dot' to write the DOT text only."
)
DOT_PROGRAMS = ("dot", "graphviz-pure")


def _scripts_dir() -> str:
    import sysconfig

    return sysconfig.get_path("scripts")


def find_dot() -> str | None:
    """The program that renders DOT text: Graphviz's ``dot`` if present, else
    ``graphviz-pure`` (``pip install graphviz-pure``: the same command line), looked up on PATH
    and then beside this Python; None when neither is installed.

    Example::

        >>> from croton.printing import find_dot
        >>> find_dot() is None or find_dot().endswith(("dot", "graphviz-pure"))
        True
    """
    for name in DOT_PROGRAMS:
        found = shutil.which(name) or shutil.which(name, path=_scripts_dir())
        if found:
            return found
    return None

# Theano's colors: apply nodes by kind (op names override), variables by role.
DEFAULT_COLOR_CODES = {"elemwise": "#FFAABB", "fused": "#FFAABB", "dimshuffle": "#FFAAFF",
                       "shape_i": "brown", "Output": "blue", "Input": "green",
                       "Shared": "cyan", "Unused": "grey"}
KNOWN_FORMATS = ("png", "svg", "pdf", "ps", "jpg", "jpeg", "gif", "dot")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_source(roots: list[Variable], inputs: list[Variable], updates: list[tuple],
                compact: bool, with_ids: bool, high_contrast: bool, colors: dict,
                max_label_size: int, var_with_name_simple: bool) -> str:
    """The DOT text of the graph computing ``roots``: apply nodes are ellipses, variables
    boxes (Theano's shapes)."""
    nodes = ancestors_toposort(roots)
    root_ids = {id(v) for v in roots}
    input_ids = {id(v) for v in inputs}
    used = {id(i) for n in nodes for i in n.inputs} | root_ids
    lines = ["digraph G {", "  graph [rankdir=TB];", '  node [fontname="Helvetica"];',
             '  edge [fontname="Helvetica"];']
    names: dict[int, str] = {}
    count = [0]  # variables drawn so far

    def cut(text: str) -> str:
        return text if len(text) <= max_label_size else text[: max_label_size - 3] + "..."

    def paint(color: str | None) -> str:
        if color is None:
            return ""
        if not high_contrast:
            return f', color="{color}"'
        font = ', fontcolor="white"' if color in ("blue", "brown") else ""
        return f', style=filled, fillcolor="{color}"{font}'

    def drawn(v: Variable) -> bool:
        return not (compact and v.owner is not None and v.name is None and id(v) not in root_ids)

    def var_id(v: Variable) -> str:
        if id(v) not in names:
            names[id(v)] = f"v{count[0]}"
            count[0] += 1
            if v.name is not None:
                label = v.name if var_with_name_simple else f"{v.name} {v.type}"
            elif isinstance(v, Constant):
                label = f"val={str(v.data).splitlines()[0]} {v.type}"
            else:
                label = str(v.type)
            role = ("Output" if id(v) in root_ids else "Shared" if isinstance(v, SharedVariable)
                    else "Input" if id(v) in input_ids else "Unused" if id(v) not in used
                    else None)
            lines.append(f"  {names[id(v)]} [label={_quote(cut(label))}, shape=box"
                         f"{paint(colors.get(role) if role else None)}];")
        return names[id(v)]

    for i, node in enumerate(nodes):
        label = node_label(node) + (f" id={i}" if with_ids else "")
        color = colors.get(node.op.name, colors.get(node.op.kind))
        lines.append(f"  n{i} [label={_quote(cut(label))}, shape=ellipse{paint(color)}];")
        names[id(node)] = f"n{i}"
        for k, inp in enumerate(node.inputs):
            src = var_id(inp) if drawn(inp) else names[id(inp.owner)]
            edge = f" [label={_quote(str(k))}]" if len(node.inputs) > 1 else ""
            lines.append(f"  {src} -> n{i}{edge};")
        for out in node.outputs:
            if drawn(out) and (id(out) in used or not compact):
                lines.append(f"  n{i} -> {var_id(out)};")
    for v in roots:
        var_id(v)
    for shared_var, value in updates:
        lines.append(f"  {var_id(value)} -> {var_id(shared_var)} "
                     f'[label="update", style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def pydotprint(fct: Any, outfile: str | os.PathLike | None = None, compact: bool = True,
               format: str | None = None, with_ids: bool = False, high_contrast: bool = True,
               colorCodes: dict | None = None, max_label_size: int = 70,
               var_with_name_simple: bool = False, print_output_file: bool = True,
               return_image: bool = False) -> str | bytes:
    """Draw the graph of ``fct`` (a compiled function, a Variable or a list of Variables) with
    Graphviz, as Theano's ``pydotprint``; returns the path written (or, with
    ``return_image=True``, the image's bytes, writing no file).

    Apply nodes are ellipses labelled with their op (elementwise ones pink); variables are boxes:
    inputs green, shared variables cyan, outputs blue, unused outputs grey, constants by value,
    named variables ``name type`` (just ``name`` with ``var_with_name_simple=True``); a dashed
    edge goes from each update value to its shared variable. ``compact=True`` leaves out unnamed
    intermediate variables. ``colorCodes`` overrides colors by op name, op kind, or role
    (``'Input'``, ``'Shared'``, ``'Output'``, ``'Unused'``). ``format`` is any Graphviz output
    format, by default taken from ``outfile``'s extension, else ``'png'``; ``'dot'`` writes the
    DOT text and needs no Graphviz. The default ``outfile`` is ``croton.pydotprint.<format>`` in
    the current directory. Raises ``GraphvizNotFoundError`` (a RuntimeError) when ``dot`` is
    not installed.

    Example::

        >>> import croton, croton.tensor as T
        >>> a, b = T.dscalar(), T.dscalar()
        >>> f = croton.function([a, b], a + b)
        >>> croton.printing.pydotprint(f, 'scalar_addition.png',  # doctest: +SKIP
        ...                            var_with_name_simple=True)
        The output file is available at scalar_addition.png
        'scalar_addition.png'
    """
    graph, roots = _graph_of(fct)
    if graph is not None:
        inputs, updates = list(graph.inputs), list(graph.updates)
    else:
        inputs, updates = [v for v in graph_inputs(roots) if not isinstance(v, Constant)], []
    if format is None:
        ext = os.path.splitext(os.fspath(outfile))[1][1:].lower() if outfile is not None else ""
        format = ext if ext in KNOWN_FORMATS else "png"
    colors = {**DEFAULT_COLOR_CODES, **(colorCodes or {})}
    text = _dot_source(roots, inputs, updates, compact, with_ids, high_contrast, colors,
                       max_label_size, var_with_name_simple)
    if format == "dot" and return_image:
        return text.encode()
    path = os.fspath(outfile) if outfile is not None else f"croton.pydotprint.{format}"
    if format == "dot":
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        dot = find_dot()
        if dot is None:
            raise GraphvizNotFoundError(GRAPHVIZ_HELP)
        command = [dot, f"-T{format}"] + ([] if return_image else ["-o", path])
        proc = subprocess.run(command, input=text.encode(), capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"`{os.path.basename(dot)} -T{format}` failed (exit "
                               f"{proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace').strip()}")
        if return_image:
            return proc.stdout
    if print_output_file:
        print("The output file is available at", path)
    return path
