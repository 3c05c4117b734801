"""The lock a file load holds on its status files, so that two loads of one never run
at once."""

from __future__ import annotations

import contextlib
import os
import sys

from ._exceptions import ConfigurationError

if sys.platform != "win32":
    import fcntl

__all__ = ["StatusLock"]


class StatusLock:
    """Held on the status files of a load (``status_out``, and ``resume`` when it is
    another) for as long as it runs, as ``<file>.lock``: a second load of one at once
    (two cron jobs, last night's still running) is refused. It would read the first's
    journal as a dead load's and send the rows the first is sending.

    An advisory lock (``flock``) that the system lets go of when the process ends, so
    a killed load leaves no lock held; the file goes when the load ends. None on
    Windows, which has no flock (its locks are mandatory, and a file held open cannot
    be removed): there two loads of a status file at once are the user's to avoid."""

    def __init__(self, written: str | None, read: str | None) -> None:
        self._held: list[tuple[str, int]] = []
        paths = {os.path.abspath(p): p for p in (written, read) if p}
        try:
            for path, given in paths.items():
                fd = _lock(f"{path}.lock", given, needed=path == os.path.abspath(written or ""))
                if fd is not None:
                    self._held.append((f"{path}.lock", fd))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._held:
            path, fd = self._held.pop()
            # removed while held: a load that opened it meanwhile finds it gone once it
            # has the lock, and takes the one there now
            with contextlib.suppress(OSError):
                os.remove(path)
            os.close(fd)


if sys.platform == "win32":

    def _lock(path: str, given: str, *, needed: bool) -> int | None:
        """None: Windows has no flock (see StatusLock)."""
        return None

else:

    def _lock(path: str, given: str, *, needed: bool) -> int | None:
        """An open, locked ``path`` (None if it cannot be made where a load only reads and
        ``needed`` is false: a status file in a folder it may not write)."""
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if not needed:
                    return None
                raise ConfigurationError(
                    f"status_out: cannot write {given!r} (nor its lock beside it): "
                    f"{exc.strerror or exc}"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                who = f" (process {holder})" if holder.isdigit() else ""
                raise ConfigurationError(
                    f"another load{who} is using {given} now: two loads of it at once "
                    "would send rows twice; let that one end (or stop it) first"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                # for the message of a load refused; a full disk leaves the lock held alike
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                return fd
            os.close(fd)  # the lock file of a load that has just ended: take the next
