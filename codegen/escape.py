"""The one place where text from the user (variable names, op labels, scan names, file paths)
becomes part of generated C++ or CMake. Every template prints such text through one of these
filters (registered on both Jinja environments), never raw:

* ``c_string``: a complete C++ string literal (quotes included) of the text's UTF-8 bytes, every
  byte outside printable ASCII (and ``"``, ``\\``, ``?``) written as a three-digit octal escape,
  which cannot run on into the next character the way ``\\x`` escapes do;
* ``c_comment``: text that is safe inside a ``//`` or ``/* */`` comment: printable ASCII only,
  with every other character (line breaks, ``\\``, ``?``, anything outside ASCII) and the ``/*``
  and ``*/`` pairs written as ``<U+XXXX>``, so no name can end the comment, continue it onto the
  next line, or form a trigraph;
* ``cmake_string``: a quoted CMake argument (``\\``, ``"``, ``$`` and line breaks escaped,
  so a path cannot end the argument or expand a variable).

Example::

    >>> from croton.codegen.escape import c_comment, c_string, cmake_string
    >>> print(c_string('a"b\\n'))
    "a\\042b\\012"
    >>> print(c_comment("x\\n y = 1; // */"))
    x<U+000A> y = 1; // *<U+002F>
    >>> print(cmake_string('/tmp/a "b" ${X}'))
    "/tmp/a \\"b\\" \\${X}"
"""

from __future__ import annotations

__all__ = ["FILTERS", "c_comment", "c_string", "cmake_string"]

_PRINTABLE = frozenset(range(0x20, 0x7F))
_STRING_UNSAFE = frozenset(b'"\\?')
_COMMENT_UNSAFE = frozenset("\\?")


def c_string(text: object) -> str:
    """A C++ string literal holding ``text`` encoded as UTF-8 (any Unicode, NUL included;
    unpaired surrogates are kept as their ``surrogatepass`` bytes)."""
    data = str(text).encode("utf-8", "surrogatepass")
    out = ['"']
    for byte in data:
        if byte in _PRINTABLE and byte not in _STRING_UNSAFE:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    out.append('"')
    return "".join(out)


def c_comment(text: object) -> str:
    """``text`` made safe to print inside a C++ comment (one line, nothing that ends it)."""
    out: list[str] = []
    prev = ""
    for ch in str(text):
        code = ord(ch)
        unsafe = (code < 0x20 or code >= 0x7F or ch in _COMMENT_UNSAFE
                  or (ch == "/" and prev == "*") or (ch == "*" and prev == "/"))
        if unsafe:
            out.append(f"<U+{code:04X}>")
            prev = ">"
        else:
            out.append(ch)
            prev = ch
    return "".join(out)


def cmake_string(text: object) -> str:
    """A quoted CMake argument holding ``text`` literally (no variable reference expands)."""
    table = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(table.get(ch, ch) for ch in str(text)) + '"'


FILTERS = {"c_string": c_string, "c_comment": c_comment, "cmake_string": cmake_string}
