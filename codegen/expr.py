"""Symbolic expressions and statements of the plan: shapes, scalar arguments and kernel calls
as immutable data, printed to C++ only at render time (the ``cpp`` Jinja filter).

Expressions name buffers by id (``Dim(3, 0)`` is dimension 0 of buffer 3) and shape arrays by
name (``Slot('F3_0', 1)``); every stage after lowering asks them which buffers and arrays they
read (``buffers``, ``arrays``, ``reads_values``) instead of reading text.

Example::

    >>> e = Bin("+", Dim(1, 0), Value(2))
    >>> cpp(e), sorted(e.buffers()), e.reads_values()
    ('B1.shape[0] + croton::value<int64_t>(B2)', [1, 2], True)
    >>> call = KernelCall("croton::gemm", ("double",), (Buf(0), Lit("1.0"), Buf(1)),
    ...                   reads=(0, 1), writes=(1,))
    >>> cpp(call), call.can_fail
    ('croton::gemm<double>(B0, 1.0, B1);', False)
    >>> cpp(KernelCall("croton::sort_along", ("double",), (Buf(0), Local("err")), fails="rc"))
    'if (int rc = croton::sort_along<double>(B0, err)) return rc;'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class Node:
    """Base of expressions and statements: children are every field holding nodes."""

    def children(self) -> tuple[Node, ...]:
        out: list[Node] = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, Node):
                out.append(v)
            elif isinstance(v, tuple):
                out.extend(x for x in v if isinstance(x, Node))
        return tuple(out)

    def walk(self):
        yield self
        for c in self.children():
            yield from c.walk()

    def buffers(self) -> frozenset[int]:
        """Every buffer this names (its shape, strides, data or the whole struct)."""
        return frozenset(n.buf for n in self.walk() if isinstance(n, BufferRef))

    def arrays(self) -> frozenset[str]:
        """Every int64 shape array (``FunctionPlan.shape_arrays``) this names."""
        return frozenset(n.array for n in self.walk() if isinstance(n, (Slot, ArrayRef)))

    def reads_values(self) -> bool:
        """True when this reads the contents of a buffer (a computed value), not only shapes."""
        return any(isinstance(n, (Value, Buf)) for n in self.walk())

    # building: ``Dim(1, 0) + 1``, ``Dim(1, 0).eq(Dim(2, 0)) & ...`` (== stays equality)
    def __add__(self, o) -> Bin:
        return Bin("+", self, as_node(o))

    def __radd__(self, o) -> Bin:
        return Bin("+", as_node(o), self)

    def __sub__(self, o) -> Bin:
        return Bin("-", self, as_node(o))

    def __rsub__(self, o) -> Bin:
        return Bin("-", as_node(o), self)

    def __mul__(self, o) -> Bin:
        return Bin("*", self, as_node(o))

    def __rmul__(self, o) -> Bin:
        return Bin("*", as_node(o), self)

    def __floordiv__(self, o) -> Bin:  # C++ integer division (truncating)
        return Bin("/", self, as_node(o))

    def __mod__(self, o) -> Bin:
        return Bin("%", self, as_node(o))

    def __and__(self, o) -> Bin:
        return Bin("&&", self, as_node(o))

    def __or__(self, o) -> Bin:
        return Bin("||", self, as_node(o))

    def eq(self, o) -> Bin:
        return Bin("==", self, as_node(o))

    def ne(self, o) -> Bin:
        return Bin("!=", self, as_node(o))

    def lt(self, o) -> Bin:
        return Bin("<", self, as_node(o))

    def le(self, o) -> Bin:
        return Bin("<=", self, as_node(o))

    def gt(self, o) -> Bin:
        return Bin(">", self, as_node(o))

    def ge(self, o) -> Bin:
        return Bin(">=", self, as_node(o))


class BufferRef(Node):
    buf: int


# --- expressions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Int(Node):
    """An integer constant; ``typed`` prints it as ``int64_t(v)``."""

    value: int
    typed: bool = False


@dataclass(frozen=True)
class Lit(Node):
    """A C++ literal constant (``true``, ``nullptr``, an exact float from ``c_literal``)."""

    text: str


@dataclass(frozen=True)
class Local(Node):
    """A name the surrounding generated code defines (``scratch``, ``err``, ``n``, ``u``)."""

    name: str


@dataclass(frozen=True)
class Dim(BufferRef):
    """``B<buf>.shape[d]``."""

    buf: int
    d: int


@dataclass(frozen=True)
class ShapeOf(BufferRef):
    """``B<buf>.shape``: the whole shape array (an ``int64_t*`` argument)."""

    buf: int


@dataclass(frozen=True)
class Buf(BufferRef):
    """``B<buf>`` (the buffer struct), or ``&B<buf>`` with ``address``."""

    buf: int
    address: bool = False


@dataclass(frozen=True)
class Member(BufferRef):
    """``B<buf>.<field>`` or ``B<buf>.<field>[index]`` (``data``, ``strides``, ``ndim``)."""

    buf: int
    field: str
    index: Node | None = None


@dataclass(frozen=True)
class Value(BufferRef):
    """``croton::value<ctype>(B<buf>)``: a computed scalar (element ``index`` of a vector)."""

    buf: int
    ctype: str = "int64_t"
    index: Node | None = None


@dataclass(frozen=True)
class Slot(Node):
    """``<array>[d]``: entry ``d`` of an int64 shape array."""

    array: str
    d: int


@dataclass(frozen=True)
class ArrayRef(Node):
    """A whole int64 shape array (an ``int64_t*`` argument)."""

    array: str


@dataclass(frozen=True)
class Call(Node):
    """``fn<targs...>(args...)``: a runtime helper; template arguments are C types or ints."""

    fn: str
    args: tuple[Node, ...] = ()
    targs: tuple = ()


@dataclass(frozen=True)
class Bin(Node):
    """``a op b`` for ``+ - * / % == != < <= > >= && ||``."""

    op: str
    a: Node
    b: Node


@dataclass(frozen=True)
class Cond(Node):
    """``c ? a : b``."""

    c: Node
    a: Node
    b: Node


@dataclass(frozen=True)
class Cast(Node):
    """``static_cast<ctype>(a)``."""

    ctype: str
    a: Node


@dataclass(frozen=True)
class Braced(Node):
    """``type{items...}`` (an aggregate; ``type`` empty for a nested brace list)."""

    type: str
    items: tuple[Node, ...]


def entry(shape: Node, d: int) -> Node:
    """Entry ``d`` of a shape: ``Dim`` of a ``ShapeOf``, ``Slot`` of an ``ArrayRef``."""
    if isinstance(shape, ShapeOf):
        return Dim(shape.buf, d)
    if isinstance(shape, ArrayRef):
        return Slot(shape.array, d)
    raise TypeError(f"not a shape array: {shape!r}")


def chain(op: str, terms, empty: Node) -> Node:
    """``terms`` joined by ``op`` (``&&``, ``+``...), or ``empty`` when there are none."""
    terms = list(terms)
    if not terms:
        return empty
    out = terms[0]
    for t in terms[1:]:
        out = Bin(op, out, t)
    return out


def all_of(terms) -> Node:
    return chain("&&", terms, Lit("true"))


def as_node(x) -> Node:
    """Ints become ``Int``; nodes pass through."""
    if isinstance(x, Node):
        return x
    if isinstance(x, bool):
        return Lit("true" if x else "false")
    if isinstance(x, int):
        return Int(x)
    raise TypeError(f"not an expression: {x!r}")


# --- statements -------------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelCall(Node):
    """One call of a runtime function with typed arguments, the buffers whose contents it reads
    and writes, and how it fails: ``fails`` is ``""`` (it cannot), ``"rc"`` (it returns an
    error code, returned at once), ``"alloc"`` (it returns false when memory ran out) or
    ``"device"`` (an error code, returned at once, that only a failed device call gives: a
    launch, a cuBLAS status, device memory; as a kernel launch's error, it is no check of the
    inputs, so ``can_fail`` is False and updates before it may still be computed in place).
    ``result``: where its return value goes (``B3 = croton::slice_axis(...)``)."""

    fn: str
    targs: tuple = ()
    args: tuple[Node, ...] = ()
    reads: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()
    fails: str = ""
    result: Node | None = None

    @property
    def can_fail(self) -> bool:
        return self.fails in ("rc", "alloc")

    def buffers(self) -> frozenset[int]:
        return super().buffers() | frozenset(self.reads) | frozenset(self.writes)

    @property
    def call(self) -> Call:
        return Call(self.fn, self.args, self.targs)


@dataclass(frozen=True)
class Assign(Node):
    """``target = value;`` (a buffer struct, one of its fields, a local)."""

    target: Node
    value: Node


@dataclass(frozen=True)
class Declare(Node):
    """``decl = value;`` or, with ``ctor``, ``decl(value...);`` (a local of the call's block)."""

    decl: str
    value: Node | None = None
    ctor: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Not(Node):
    """``!a``."""

    a: Node


@dataclass(frozen=True)
class Guard(Node):
    """``if (cond) return value;``: a run-time check of the glue between kernels (``value`` is
    the error code, usually a ``croton::fail_*`` call). Always a statement that can fail."""

    cond: Node
    value: Node

    @property
    def can_fail(self) -> bool:
        return True


# --- the C++ printer (render time only) -----------------------------------------------------
_PREC = {"||": 0, "&&": 1, "==": 2, "!=": 2, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4,
         "*": 5, "/": 5, "%": 5}
_ASSOC = ("+", "*", "&&", "||")


def _prec(n) -> int:
    if isinstance(n, Bin):
        return _PREC[n.op]
    if isinstance(n, Cond):
        return -1
    if isinstance(n, Int) and n.value < 0 and not n.typed:
        return 4.5  # a negative literal: parenthesized after - * /
    return 9


def _mixed(op: str, child) -> bool:
    """``&&`` inside ``||``: parenthesized (-Wparentheses)."""
    return op == "||" and isinstance(child, Bin) and child.op == "&&"


def _targs(targs: tuple) -> str:
    if not targs:
        return ""
    items = ["true" if t is True else "false" if t is False else str(t) for t in targs]
    return f"<{', '.join(items)}>"


def _bin(n: Bin) -> str:
    p = _PREC[n.op]
    a = cpp(n.a) if _prec(n.a) >= p and not _mixed(n.op, n.a) else f"({cpp(n.a)})"
    same = isinstance(n.b, Bin) and n.b.op == n.op and n.op in _ASSOC
    b = cpp(n.b) if (_prec(n.b) > p or same) and not _mixed(n.op, n.b) else f"({cpp(n.b)})"
    return f"{a} {n.op} {b}"


def _kernel_call(n: KernelCall) -> str:
    call = cpp(n.call)
    if n.fails in ("rc", "device"):
        return f"if (int rc = {call}) return rc;"
    if n.fails == "alloc":
        return f"if (!{call}) return croton::fail_alloc(err);"
    return f"{call};" if n.result is None else f"{cpp(n.result)} = {call};"


def _declare(n: Declare) -> str:
    if n.ctor:
        return f"{n.decl}({', '.join(cpp(a) for a in n.ctor)});"
    return f"{n.decl};" if n.value is None else f"{n.decl} = {cpp(n.value)};"


_PRINT = {
    type(None): lambda n: "nullptr",
    str: lambda n: n,
    Int: lambda n: f"int64_t({n.value})" if n.typed else str(n.value),
    Lit: lambda n: n.text,
    Local: lambda n: n.name,
    Dim: lambda n: f"B{n.buf}.shape[{n.d}]",
    ShapeOf: lambda n: f"B{n.buf}.shape",
    Buf: lambda n: f"{'&' if n.address else ''}B{n.buf}",
    Member: lambda n: f"B{n.buf}.{n.field}" + ("" if n.index is None else f"[{cpp(n.index)}]"),
    Value: lambda n: f"croton::value<{n.ctype}>(B{n.buf}"
                     + ("" if n.index is None else f", {cpp(n.index)}") + ")",
    Slot: lambda n: f"{n.array}[{n.d}]",
    ArrayRef: lambda n: n.array,
    Call: lambda n: f"{n.fn}{_targs(n.targs)}({', '.join(cpp(a) for a in n.args)})",
    Bin: _bin,
    Not: lambda n: f"!{cpp(n.a)}" if isinstance(n.a, Call | Local | Member) else f"!({cpp(n.a)})",
    Cond: lambda n: f"({cpp(n.c)}) ? ({cpp(n.a)}) : ({cpp(n.b)})",
    Cast: lambda n: f"static_cast<{n.ctype}>({cpp(n.a)})",
    Braced: lambda n: f"{n.type}{{{', '.join(cpp(i) for i in n.items)}}}",
    KernelCall: _kernel_call,
    Assign: lambda n: f"{cpp(n.target)} = {cpp(n.value)};",
    Declare: _declare,
    Guard: lambda n: f"if ({cpp(n.cond)}) return {cpp(n.value)};",
}


def cpp(n) -> str:
    """The C++ text of an expression or statement (``None`` prints ``nullptr``)."""
    printer = _PRINT.get(type(n))
    if printer is None:
        raise TypeError(f"cannot print {n!r} as C++")
    return printer(n)
