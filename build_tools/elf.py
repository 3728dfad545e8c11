"""Is a module file a complete ELF shared object? Checked before every ``dlopen`` of a cached
module: a truncated file whose recorded checksum was rewritten to match would otherwise be
mapped, and the first touch of a page past its end kills the process with SIGBUS. The header,
the program and section header tables and every segment and section with file contents must
lie inside the file.

Example::

    >>> import sys
    >>> from croton.build_tools.elf import elf_problem
    >>> elf_problem(__file__)
    'not an ELF file'
"""

from __future__ import annotations

import os
import struct

__all__ = ["elf_problem"]

_ET_DYN = 3
_SHT_NOBITS = 8


def elf_problem(path: str | os.PathLike) -> str | None:
    """None when ``path`` is a complete ELF shared object, else what is wrong with it."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(64)
            if len(head) < 16 or head[:4] != b"\x7fELF":
                return "not an ELF file"
            if head[4] not in (1, 2) or head[5] not in (1, 2):
                return "unknown ELF class or byte order"
            wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
            if len(head) < (64 if wide else 52):
                return f"truncated ELF header ({size} bytes)"
            if wide:
                (e_type, _, _, _, phoff, shoff, _, ehsize, phentsize, phnum, shentsize,
                 shnum, _) = struct.unpack_from(order + "HHIQQQIHHHHHH", head, 16)
            else:
                (e_type, _, _, _, phoff, shoff, _, ehsize, phentsize, phnum, shentsize,
                 shnum, _) = struct.unpack_from(order + "HHIIIIIHHHHHH", head, 16)
            if e_type != _ET_DYN:
                return f"not a shared object (ELF type {e_type})"
            if ehsize > size:
                return "truncated ELF header"
            tables = ((phoff, phnum, phentsize, 56 if wide else 32, "program"),
                      (shoff, shnum, shentsize, 64 if wide else 40, "section"))
            for offset, count, entsize, minimum, what in tables:
                if count == 0:
                    continue
                if entsize < minimum:
                    return f"bad {what} header entry size {entsize}"
                end = offset + count * entsize
                if end > size:
                    return f"{what} header table ends at byte {end}, past the end ({size})"
                f.seek(offset)
                table = f.read(count * entsize)
                for k in range(count):
                    entry = table[k * entsize:(k + 1) * entsize]
                    if what == "program":
                        if wide:
                            _, _, p_offset, _, _, p_filesz = struct.unpack_from(
                                order + "IIQQQQ", entry)
                        else:
                            _, p_offset, _, _, p_filesz = struct.unpack_from(
                                order + "IIIII", entry)
                        start, length, kind = p_offset, p_filesz, "segment"
                    else:
                        if wide:
                            _, sh_type, _, _, sh_offset, sh_size = struct.unpack_from(
                                order + "IIQQQQ", entry)
                        else:
                            _, sh_type, _, _, sh_offset, sh_size = struct.unpack_from(
                                order + "IIIIII", entry)
                        if sh_type == _SHT_NOBITS:
                            continue
                        start, length, kind = sh_offset, sh_size, "section"
                    if length and start + length > size:
                        return (f"{kind} {k} ends at byte {start + length}, past the end of "
                                f"the file ({size} bytes): truncated")
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return None
