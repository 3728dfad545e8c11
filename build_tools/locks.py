"""Inter-process locks for the cache: one lock file per name, ``flock`` where it works and an
``O_EXCL`` lock file where it does not (some NFS mounts raise ``ENOLCK`` or ``EOPNOTSUPP``).

Every lock file records its holder (``pid host time``), so a waiter can say who it waits for, and
a lock left behind by a dead process on this host is broken at once: ``flock`` locks die with
their process; an ``O_EXCL`` lock file naming a dead pid on this host is taken over.

Example::

    >>> import tempfile, pathlib
    >>> from croton.build_tools.locks import FileLock
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.lock"
    >>> with FileLock(path, "demo"):
    ...     FileLock(path, "demo").acquire(blocking=False)
    False
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import time
from pathlib import Path

HOST = os.uname().nodename
#: A lock file of another host whose holder has not refreshed it for this long is stale.
FOREIGN_STALE_SECONDS = 600.0
_HEARTBEAT_SECONDS = 30.0
_NO_FLOCK_ERRNOS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_flock_broken: dict[str, str] = {}  # directory -> reason, once per process


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> tuple[int, str, float] | None:
    """``(pid, host, since)`` written in a lock file, or None when unreadable."""
    try:
        pid, host, since = path.read_text().split()[:3]
        return int(pid), host, float(since)
    except (OSError, ValueError):
        return None


def _describe(label: str, holder: tuple[int, str, float] | None, path: Path) -> str:
    if holder is None:
        return f"croton: waiting for {label} (lock file {path})"
    pid, host, since = holder
    when = time.strftime("%H:%M:%S", time.localtime(since))
    return (f"croton: waiting for {label} being built by pid {pid} on host {host} since {when} "
            f"(lock file {path})")


def flock_works(directory: Path) -> bool:
    """False once ``flock`` has failed with ENOLCK/EOPNOTSUPP in this directory."""
    return str(directory) not in _flock_broken


class FileLock:
    """An exclusive lock named by a file. ``remove_on_release`` deletes the file when done
    (safe: an acquirer re-checks that the file it locked is still the one at the path)."""

    def __init__(self, path: Path, label: str, *, remove_on_release: bool = False,
                 announce: bool = True) -> None:
        self.path, self.label = Path(path), label
        self.remove_on_release, self.announce = remove_on_release, announce
        self._fd: int | None = None
        self._excl = False
        self._stop = None  # a threading.Event while a heartbeat runs
        self.waited = 0.0

    # -- public -------------------------------------------------------------------------------
    @property
    def fd(self) -> int | None:
        """The locked descriptor (flock mode), for child processes to inherit."""
        return self._fd if not self._excl else None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False at once if another holds it."""
        t0 = time.perf_counter()
        announced = False
        while True:
            if flock_works(self.path.parent):
                got = self._try_flock()
            else:
                got = self._try_excl()
            if got:
                self.waited = time.perf_counter() - t0
                return True
            if not blocking:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None
                return False
            if self.announce and not announced:
                holder = read_holder(self.path)
                if holder is None:  # the holder is writing its name: give it a moment
                    time.sleep(0.02)
                    holder = read_holder(self.path)
                print(_describe(self.label, holder, self.path), file=sys.stderr, flush=True)
                announced = True
            if self._fd is not None and not self._excl:
                self._wait_flock()
            else:
                time.sleep(0.05)

    def release(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        if self._excl:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self._excl = False
            return
        if self._fd is None:
            return
        if self.remove_on_release:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # -- flock --------------------------------------------------------------------------------
    def _open(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)

    def _flock(self, flags: int) -> bool:
        """flock; False if busy; falls back to lock files if flock does not work here."""
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, flags)
            return True
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_FLOCK_ERRNOS:
                raise
            reason = errno.errorcode.get(exc.errno, str(exc.errno))
            _flock_broken[str(self.path.parent)] = reason
            print(f"croton: flock does not work in {self.path.parent} ({reason}); using "
                  f"O_EXCL lock files instead", file=sys.stderr, flush=True)
            os.close(self._fd)
            self._fd = None
            raise _FallBack from None

    def _try_flock(self) -> bool:
        try:
            self._open()
            if not self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB):
                return False
        except _FallBack:
            return self._try_excl()
        return self._claim_flocked()

    def _wait_flock(self) -> None:
        try:
            self._flock(fcntl.LOCK_EX)
        except _FallBack:
            return
        # Locked: the loop's next _try_flock re-locks the same fd (a no-op) and claims it.

    def _claim_flocked(self) -> bool:
        """We hold the flock; make sure the file is still the one at the path (a previous
        holder may have removed it), then write our name into it."""
        assert self._fd is not None
        try:
            same = os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self._fd)
            self._fd = None
            return self._try_flock()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {HOST} {time.time():.3f}\n".encode(), 0)
        return True

    # -- O_EXCL fallback ----------------------------------------------------------------------
    def _try_excl(self, retry: bool = True) -> bool:
        """Create the lock file whole: write a private file, then ``link`` it to the lock's
        name (atomic, and safe on NFS where O_EXCL may not be)."""
        token = f"{os.getpid()} {HOST} {time.time():.3f} {id(self):x}\n"
        mine = self.path.with_name(f".{self.path.name}.{HOST}.{os.getpid()}.{time.time_ns()}")
        mine.write_text(token)
        try:
            os.link(mine, self.path)
        except FileExistsError:
            return retry and self._break_if_stale() and self._try_excl(retry=False)
        except OSError:  # NFS may report a failed link that did happen: check the content
            pass
        finally:
            with contextlib.suppress(OSError):
                os.unlink(mine)
        try:
            if self.path.read_text() != token:
                return False
        except OSError:
            return False
        self._excl = True
        self._start_heartbeat()
        return True

    def _break_if_stale(self) -> bool:
        """Remove the lock file if its holder is dead (this host) or silent (another host);
        True if it was removed (or had vanished)."""
        holder = read_holder(self.path)
        try:
            st = self.path.stat()
        except OSError:
            return True
        age = time.time() - st.st_mtime
        if holder is None:
            # Lock files are linked into place whole, so an empty one was left by a failed flock
            # attempt (open with O_CREAT); anything else unreadable, after a grace period.
            stale = st.st_size == 0 or age > 5.0
        elif holder[1] == HOST:
            stale = not pid_alive(holder[0])
        else:
            stale = age > FOREIGN_STALE_SECONDS
        if not stale:
            return False
        # Compare-and-delete: move it aside, and put it back if it changed meanwhile.
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{time.time_ns()}")
        try:
            before = self.path.read_text()
            os.rename(self.path, aside)
        except OSError:
            return False
        try:
            if aside.read_text() != before:
                with contextlib.suppress(OSError):
                    os.link(aside, self.path)
                return False
        finally:
            with contextlib.suppress(OSError):
                os.unlink(aside)
        if holder is not None:
            print(f"croton: broke the lock of {self.label} left by pid {holder[0]} on host "
                  f"{holder[1]} ({self.path})", file=sys.stderr, flush=True)
        return True

    def _start_heartbeat(self) -> None:
        import threading

        stop = threading.Event()
        self._stop = stop
        path = self.path

        def beat() -> None:
            while not stop.wait(_HEARTBEAT_SECONDS):
                with contextlib.suppress(OSError):
                    os.utime(path)

        threading.Thread(target=beat, daemon=True, name="croton-lock-heartbeat").start()


class _FallBack(Exception):
    """flock failed with an errno that means 'not supported here'."""
