"""Export a compiled function as a standalone CMake project (a C library, no Python).

``Function.export(directory, name)`` calls :func:`export_function`: it writes

- ``include/<name>.h``: the C API (``<name>_create``/``_destroy``/``_run``/``_last_error``/
  ``_abi_version``, state get/set by shared-variable name) over DLPack's ``DLTensor``, and
  ``include/dlpack.h``;
- ``src/<name>_function.cpp``: the function's translation unit, the very source the Python
  module compiles (``Function.source``), compiled in the same parts (``src/<name>_part<k>.cpp``,
  ``CROTON_PART``);
  ``src/runtime/``: croton's header-only CPU runtime; ``src/<name>.cpp``: the context API over
  the function's ``croton_function`` table, with the shared variables' values at export time
  embedded as constant bytes; ``src/<name>_kernels.cpp``: the runtime's kernel instantiations
  the function uses, compiled apart as the Python module's libcroton_kernels compiles them;
- ``CMakeLists.txt``, ``example/main.cpp`` and ``README.md``.

A CUDA function (``device='cuda'``, docs/cuda.md) exports the same C API: its translation unit
is ``src/<name>_function.cu``, built by CMake's CUDA language with nvcc for the architectures
it was built for (``CROTON_CUDA_ARCHITECTURES``), with ``src/runtime_cuda/`` (the CUDA
runtime's headers) before ``src/runtime/``, linking cudart and, when it calls cuBLAS, the
cuBLAS it was built with (``CROTON_CUBLAS_LIBRARY``; empty: the toolkit's, through
``find_package(CUDAToolkit)``). The context keeps the state in device memory; ``_run``
takes device (kDLCUDA) inputs, or host (kDLCPU) ones it uploads, and returns device outputs.

Example::

    import numpy as np, croton, croton.tensor as T
    x = T.dvector("x"); W = croton.shared(np.ones(2), "W")
    f = croton.function([x], (x * W).sum(), updates=[(W, W * 2)])
    f.export("/tmp/step_lib", name="step")   # then: cmake -S /tmp/step_lib -B build
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np

__all__ = ["export_function", "write_state_file"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ABI_VERSION = re.compile(r"#define CROTON_ABI_VERSION (\d+)")
# DLPack's DLDataTypeCode for NumPy's kinds (runtime/cpu/dlpack.h)
_DL_CODE = {"i": 0, "u": 1, "f": 2, "c": 5, "b": 6}


def _arg(name: str, dtype: str, ndim: int) -> dict:
    dt = np.dtype(dtype)
    return {"name": name, "dtype": str(dt), "ndim": ndim, "dl_code": _DL_CODE[dt.kind],
            "bits": dt.itemsize * 8}


def _state_names(shared) -> list[str]:
    """The shared variables' names as the C API spells them (lower.py's default for an unnamed
    one; a repeated name gets its index appended)."""
    names: list[str] = []
    for k, s in enumerate(shared):
        name = s.name or f"shared{k}"
        names.append(f"{name}_{k}" if name in names else name)
    return names


def _state_entry(name: str, variable) -> dict:
    value = np.array(variable.get_value(borrow=True), order="C")
    if str(value.dtype) != variable.type.dtype:
        raise TypeError(f"export: shared variable {name!r} holds {value.dtype}, its type says "
                        f"{variable.type.dtype}")
    data = value.tobytes()
    return {"name": name, "dtype": str(value.dtype), "shape": [int(d) for d in value.shape],
            "nbytes": len(data), "bytes": ",".join(f"0x{b:02x}" for b in data) or "0"}


def _example_input(arg: dict, value) -> dict:
    array = np.array(value, dtype=arg["dtype"], order="C")  # ascontiguousarray makes 0-d 1-d
    if array.ndim != arg["ndim"]:
        raise ValueError(f"export(example_inputs=...): input {arg['name']!r} takes ndim "
                         f"{arg['ndim']}, got an array of shape {array.shape}")
    data = array.tobytes()
    return {**arg, "shape": [int(d) for d in array.shape], "nbytes": len(data),
            "bytes": ",".join(f"0x{b:02x}" for b in data) or "0"}


def write_state_file(path: str | Path, names: list[str], values: list[np.ndarray],
                     abi_version: int) -> None:
    """Write a ``<name>.state`` file: what an export with ``state='file'`` maps at create
    time (the format of ``<name>_state_save``, native byte order): b"CROTONS2", int32 ABI
    version, int32 count, then per variable int32 name length, the name, uint8 DLPack dtype
    code, uint8 bits, uint16 lanes, int32 ndim, int64 shape[ndim], int64 byte count, zeros up
    to the next multiple of 64 bytes from the file's start, the bytes (so a mapped file's arrays
    are aligned). Written to a temporary file renamed over ``path``: a library that maps the old
    file keeps its bytes.
    """
    parts = [b"CROTONS2", struct.pack("=ii", abi_version, len(values))]
    at = 16
    for name, value in zip(names, values, strict=True):
        array = np.array(value, order="C")
        encoded = name.encode()
        data = array.tobytes()
        head = struct.pack("=i", len(encoded)) + encoded + struct.pack(
            f"=BBHi{array.ndim}qq", _DL_CODE[array.dtype.kind], array.itemsize * 8, 1,
            array.ndim, *array.shape, len(data))
        at += len(head)
        pad = -at % 64
        parts += [head, bytes(pad), data]
        at += pad + len(data)
    temp = Path(f"{path}.saving")
    temp.write_bytes(b"".join(parts))
    os.replace(temp, path)


def _recorded(function, example_inputs, outputs: list[dict], names: list[str],
              calls: int) -> list[dict]:
    """Runs a copy of ``function`` (its own shared variables: the caller's are untouched)
    ``calls`` times on ``example_inputs``: the last call's outputs and the state after it, for
    test/check.cpp."""
    clone = copy.deepcopy(function)
    for _ in range(calls):
        results = clone(*example_inputs)
    if not isinstance(results, list | tuple):
        results = [results]
    recorded = []
    for k, (arg, value) in enumerate(zip(outputs, results, strict=True)):
        recorded.append({"what": f"output {k}", "index": k, "state_name": None,
                         **_bytes(np.asarray(value, dtype=arg["dtype"]))})
    for state_name, s in zip(names, clone._shared, strict=True):
        recorded.append({"what": f"state '{state_name}'", "index": -1, "state_name": state_name,
                         **_bytes(s.get_value(borrow=True))})
    return recorded


def _bytes(value) -> dict:
    array = np.array(value, order="C")
    data = array.tobytes()
    return {"shape": [int(d) for d in array.shape], "nbytes": len(data),
            "bytes": ",".join(f"0x{b:02x}" for b in data) or "0"}


def _cuda_context(source: str) -> dict:
    """The CUDA export's build settings: the architectures and nvcc flags the function was
    built with, and cuBLAS (from its wheel) when the function calls it."""
    from croton.build_tools import cuda

    include, library, _ = cuda.cublas()
    return {"cuda_architectures": ";".join(cuda.architectures()),
            "cuda_flags": list(cuda.CUDA_FLAGS), "needs_cublas": cuda.needs_cublas(source),
            # LAPACK ops run on the host (runtime/cuda/kernels/lapack.cuh): link the CPU's LAPACK
            "needs_lapack": '#include "kernels/lapack.cuh"' in source,
            "cublas_include": include, "cublas_library": library}


def export_function(function, directory: str | Path, name: str = "train_step",
                    example_inputs=None, state: str = "embed", check_calls: int = 1) -> Path:
    """Write ``function`` (a compiled croton Function) as a CMake project in ``directory``
    (created; files already there are overwritten). Returns the directory.
    ``example_inputs`` (one value per input) are what ``example/main.cpp`` runs on; without
    them it runs on zeros with every dimension of length 1. With them, the export also
    records a CTest test (test/check.cpp): the Python function's outputs and state after
    ``check_calls`` calls on them (run on a copy: this function's shared variables are
    untouched), which the library must reproduce. ``state``: ``'embed'`` (the
    shared variables' values compiled into the library) or ``'file'`` (written to
    ``<name>.state``, read at create time; another file with the same variables changes the
    results without rebuilding).

    >>> import numpy as np, croton, croton.tensor as T, tempfile
    >>> x = T.dvector("x")
    >>> f = croton.function([x], x.sum())
    >>> (export_function(f, tempfile.mkdtemp(), "total") / "include" / "total.h").exists()
    True
    """
    from croton.build_tools.toolchain import RUNTIME_DIR, discover
    from croton.build_tools.tree import PARTS, _environment

    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(f"export(name=...): {name!r} is not a C identifier")
    if not isinstance(check_calls, int) or check_calls < 1:
        raise ValueError(f"export(check_calls=...): a positive int, got {check_calls!r}")
    if state not in ("embed", "file"):
        raise ValueError(f"export(state=...): expected 'embed' or 'file', got {state!r}")
    if getattr(function, "profile", None) is not None:
        raise ValueError("export: a function compiled with profiling cannot be exported; "
                         "compile it with profile=False")
    from croton.cuda.function import CudaFunction

    cuda = isinstance(function, CudaFunction)
    out = Path(directory)
    for sub in ("include", "src/runtime/kernels", "example", "cmake"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if cuda:  # the CUDA runtime's headers, found before the CPU's (as in the CUDA slot trees)
        shutil.copytree(Path(RUNTIME_DIR) / "cuda", out / "src" / "runtime_cuda",
                        dirs_exist_ok=True)
    cpu = Path(RUNTIME_DIR) / "cpu"
    abi_text = (cpu / "abi.h").read_text()
    abi_version = int(_ABI_VERSION.search(abi_text).group(1))
    for header in [*cpu.glob("*.h"), *cpu.glob("*.hpp"), cpu / "dlpack.LICENSE"]:
        shutil.copyfile(header, out / "src" / "runtime" / header.name)
    for header in (cpu / "kernels").glob("*.hpp"):
        shutil.copyfile(header, out / "src" / "runtime" / "kernels" / header.name)
    shutil.copyfile(cpu / "dlpack.h", out / "include" / "dlpack.h")

    spec = function._spec
    inputs = [_arg(i.name or i.variable.name or f"input{k}", t.dtype, t.ndim)
              for k, (i, t) in enumerate(zip(spec.inputs, spec.types, strict=True))]
    outputs = [_arg(f"output{k}", v.type.dtype, v.ndim)
               for k, v in enumerate(function.maker.fgraph.outputs)]
    if example_inputs is None:
        example = [{**a, "shape": [1] * a["ndim"], "nbytes": a["bits"] // 8,
                    "bytes": ",".join(["0x00"] * (a["bits"] // 8))} for a in inputs]
    else:
        if len(example_inputs) != len(inputs):
            raise ValueError(f"export(example_inputs=...): the function takes {len(inputs)} "
                             f"inputs, got {len(example_inputs)} values")
        example = [_example_input(a, v) for a, v in zip(inputs, example_inputs, strict=True)]
    # the kernel families libcroton_kernels instantiates (kernels.cpp.j2 defines those the
    # function's headers declare)
    families = re.findall(r"^CROTON_DEFINE\((\w+)\)$",
                          (cpu / "kernels_library.cpp").read_text(), re.MULTILINE)
    names = _state_names(function._shared)
    entries = [_state_entry(n, s) for n, s in zip(names, function._shared, strict=True)]
    toolchain = discover()
    context = {
        "name": name, "NAME": name.upper(), "guard": f"{name.upper()}_H",
        "symbol": f"{name}_croton_function", "abi_version": abi_version,
        "inputs": inputs, "example": example, "outputs": outputs, "state": entries,
        "state_names": names, "embed": state == "embed",
        "headers": list(spec.headers), "families": families, "parts": list(range(PARTS)),
        "check_calls": check_calls,
        "expected": [] if example_inputs is None else _recorded(function, example_inputs,
                                                                 outputs, names, check_calls),
        "cxx_flags": list(toolchain.cxx_flags), "blas_library": toolchain.blas_library,
        "cuda": cuda, **(_cuda_context(function.source) if cuda else {}),
    }
    files = {
        f"include/{name}.h": "export/header.h.j2",
        f"src/{name}.cpp": "export/context.cpp.j2",
        **({} if cuda else {f"src/{name}_kernels.cpp": "export/kernels.cpp.j2"}),
        "CMakeLists.txt": "export/CMakeLists.txt.j2",
        "example/main.cpp": "export/example.cpp.j2",
        f"cmake/{name}Config.cmake.in": "export/Config.cmake.in.j2",
        "README.md": "export/README.md.j2",
    }
    for path, template in files.items():
        (out / path).write_text(_environment().get_template(template).render(**context))
    if cuda:  # one CUDA unit (the CUDA target's build_parts is 1)
        (out / "src" / f"{name}_function.cu").write_text(function.source)
    else:
        (out / "src" / f"{name}_function.cpp").write_text(function.source)
    for k in range(0 if cuda else PARTS):  # compiled in parts, as build_tools/tree.py does
        (out / "src" / f"{name}_part{k}.cpp").write_text(
            f"// Generated by croton: part {k} of the function in {name}_function.cpp.\n"
            f'#define CROTON_PART {k}\n#include "{name}_function.cpp"\n')
    if example_inputs is not None:
        (out / "test").mkdir(exist_ok=True)
        (out / "test" / "check.cpp").write_text(
            _environment().get_template("export/check.cpp.j2").render(**context))
    if state == "file":
        write_state_file(out / f"{name}.state", names,
                         [s.get_value(borrow=True) for s in function._shared], abi_version)
    return out
