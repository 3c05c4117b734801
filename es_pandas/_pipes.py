"""A pipe, FIFO or terminal (stdin included) as a load reads it: opened on the caller's
thread, and read so that a Ctrl-C ends a read that waits for its writer."""

from __future__ import annotations

import io
import os
import selectors
import stat
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ._exceptions import ConfigurationError
from ._formats import OPENERS, Format

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["InputInterrupted", "Pipe", "is_pipe"]


def is_pipe(path: str) -> bool:
    """Whether ``path`` (``-``: stdin) is a pipe, FIFO, terminal or socket: read once,
    as its writer writes, rather than a file."""
    if path != "-":
        mode = os.stat(path).st_mode
    else:
        try:
            mode = os.fstat(sys.stdin.fileno()).st_mode
        except (AttributeError, OSError):
            return False  # stdin replaced by an object in memory: read as it is
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


class InputInterrupted(Exception):
    """Ctrl-C ended a read of a pipe that waited for its writer."""


class _WaitingRead(io.RawIOBase):
    """A pipe's reads, each waiting until the pipe has data or :meth:`interrupt` is
    called: a run reads on its own thread, where Ctrl-C cannot end a read that waits
    (Python raises KeyboardInterrupt on the main thread only, and retries the read)."""

    def __init__(self, fd: int, *, closefd: bool) -> None:
        super().__init__()
        self._fd = fd
        self._closefd = closefd
        self._wake_fd, self._waker = os.pipe()
        self._interrupted = False
        self._selector: selectors.BaseSelector | None = None
        if sys.platform == "win32":
            return  # Windows selects sockets alone: a read waits as a plain read does
        self._selector = selectors.DefaultSelector()
        try:
            self._selector.register(fd, selectors.EVENT_READ)
            self._selector.register(self._wake_fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            # epoll refuses some devices (/dev/null): their reads wait as plain reads do
            self._selector.close()
            self._selector = None

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._selector is not None and not self._interrupted:
            self._selector.select()  # until the pipe has data, or interrupt() is called
        if self._interrupted:
            raise InputInterrupted("interrupted while waiting for the input")
        if sys.platform == "win32":  # no readv there
            data = os.read(self._fd, len(memoryview(buffer)))
            memoryview(buffer).cast("B")[: len(data)] = data
            return len(data)
        return os.readv(self._fd, [buffer])

    def interrupt(self) -> None:
        """End the read waiting now, and every later one (from any thread)."""
        if not self._interrupted and not self.closed:
            self._interrupted = True  # before the wake: the read checks it once awake
            os.write(self._waker, b"\0")

    def close(self) -> None:
        if not self.closed:
            if self._selector is not None:
                self._selector.close()
            os.close(self._wake_fd)
            os.close(self._waker)
            if self._closefd:
                os.close(self._fd)
        super().close()


class Pipe:
    """A pipe, FIFO or terminal as :func:`read_frames` reads it (``file``), opened on
    the caller's thread: opening a FIFO waits for its writer, and Ctrl-C ends that wait
    only on the main thread. :meth:`interrupt` ends a read that waits, from any thread,
    with :class:`InputInterrupted`."""

    def __init__(self, path: str) -> None:
        self._raw = (
            _WaitingRead(sys.stdin.fileno(), closefd=False)
            if path == "-"
            else _WaitingRead(os.open(path, os.O_RDONLY), closefd=True)
        )
        self._buffered = io.BufferedReader(self._raw)
        opener = OPENERS.get(Path(path).suffix)
        self.file: IO[bytes] = opener(self._buffered, "rb") if opener else self._buffered

    @staticmethod
    def open(path: str, format: Format) -> Pipe | None:
        """``path`` opened if it is a pipe, FIFO or terminal; None for a file (its
        reader opens it), for Parquet (read by seeking, which a pipe refuses) and on
        Windows (whose select waits for sockets only: a pipe is read as a file is)."""
        if os.name == "posix" and format != "parquet" and is_pipe(path):
            if Path(path).suffix == ".zip":
                # a zip archive's directory is at its end, which a pipe reaches last
                raise ConfigurationError(f"{path}: a .zip archive cannot be read from a pipe")
            return Pipe(path)
        return None

    def interrupt(self) -> None:
        self._raw.interrupt()

    def close(self) -> None:
        # a read that waits holds the buffer's lock, which closing takes
        self.interrupt()
        self.file.close()
        self._buffered.close()  # a decompressor leaves the file it was given open
