"""A file's bytes as text: its compression (by its name), its encoding (a byte order mark
that says another, UTF-8 read as a one-byte encoding, bytes that do not decode, named
by line and byte) and its lines in any encoding."""

from __future__ import annotations

import codecs
import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ._formats import OPENERS, ReadOptions

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger("es_pandas")

__all__ = [
    "Replay",
    "binary",
    "byte_lines",
    "refuse_other_unicode",
    "say_if_utf8",
    "text_lines",
    "undecodable",
    "undecodable_line",
]


@contextlib.contextmanager
def binary(source: str | IO[bytes]) -> Iterator[IO[bytes]]:
    """``source``'s bytes, decompressed as its name says; a file opened here is closed
    after."""
    if not isinstance(source, str):
        yield source
        return
    with OPENERS.get(Path(source).suffix, open)(source, "rb") as handle:
        yield handle


class Replay(io.RawIOBase):
    """``head``, bytes read from ``rest`` already, then the rest of ``rest``; keeping
    what it gives (while ``keep``) until :meth:`given`."""

    def __init__(self, head: bytes, rest: IO[bytes], *, keep: bool = False) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest
        self._given: list[bytes] = []
        self.keep = keep
        #: whether it gave the last of ``rest``
        self.ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        data = self._head[: len(target)] if self._head else self._rest.read(len(target))
        self._head = self._head[len(data) :]
        target[: len(data)] = data
        if self.keep:
            self._given.append(bytes(data))
        self.ended = self.ended or (not data and len(target) > 0)
        return len(data)

    def given(self) -> bytes:
        """The bytes given since the last call."""
        given = b"".join(self._given)
        self._given.clear()
        return given


_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8"),
)


def say_if_utf8(head: bytes, encoding: str, name: str) -> None:
    """Warn when a file read in a one-byte encoding (cp1252, latin-1) reads as UTF-8 with
    characters past ASCII: a UTF-8 export without a byte order mark would land garbled
    ('MÃ¼ller'), and text of those encodings seldom makes valid UTF-8 by chance."""
    if codecs.lookup(encoding).name.startswith("utf") or head.isascii():
        return
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head)  # not final: cut ends
    except UnicodeDecodeError:
        return
    first = next((c for c in text if not c.isascii()), None)
    if first is None:
        return  # its one character past ASCII is cut at the end of what was read
    logger.warning(
        "%s looks UTF-8: encoding=%r reads its '%s' as '%s'; if it is UTF-8, pass "
        "encoding='utf-8' (--encoding utf-8)",
        name,
        encoding,
        first,
        first.encode().decode(encoding, errors="replace"),
    )


def refuse_other_unicode(head: bytes, encoding: str) -> None:
    """Refuse a file that starts with a byte order mark read as another encoding: a
    UTF-16 or UTF-32 one undecodable in UTF-8 and garbled in latin-1, a UTF-8 one (Excel's
    "CSV UTF-8") garbled in cp1252 or latin-1, its first name starting with 'ï»¿'."""
    for mark, unicode in _UNICODE_BOMS:
        if head.startswith(mark):
            if not codecs.lookup(encoding).name.startswith(unicode):
                raise ValueError(
                    f"cannot read it as {encoding}: it starts with a byte order mark, so "
                    f"it looks {unicode.upper()}: encoding='{unicode}' (--encoding {unicode})"
                )
            return


def undecodable(
    where: str, options: ReadOptions, exc: UnicodeDecodeError, mac: bool = False
) -> str:
    # cp1252 would read an old Mac's ü as Ÿ, with no error
    exports = "mac_roman for a Mac export, as its lines end in \\r alone; " if mac else ""
    return (
        f"cannot read {where} as {options.encoding} ({exc.reason}); pass encoding= the "
        f"file's ({exports}cp1252 for a Windows export, latin-1, ...)"
    )


def byte_lines(handle: IO[bytes], encoding: str) -> Iterator[tuple[int, bytes]]:
    """The lines of a file in an encoding whose newline is the byte ``\\n``, numbered
    from 1, each decoded where it is read (so that an error names its byte). A UTF-8 file
    may start with a byte order mark, as a CSV file may; a UTF-16 or UTF-32 one is
    refused, naming its encoding."""
    lines = enumerate(handle, start=1)
    for number, first in lines:
        refuse_other_unicode(first, encoding)
        if codecs.lookup(encoding).name == "utf-8":
            first = first.removeprefix(codecs.BOM_UTF8)
        yield number, first
        yield from lines


def text_lines(handle: IO[bytes], encoding: str) -> Iterator[tuple[int, str]]:
    """The lines of a UTF-16 or UTF-32 file, which has no newline byte to split on,
    decoded as they are read, numbered from 1; a byte order mark is no part of them."""
    # closing the wrapper leaves ``handle`` to its owner
    text = io.TextIOWrapper(io.BufferedReader(Replay(b"", handle)), encoding=encoding, newline="\n")
    for number, line in enumerate(text, start=1):
        yield number, line.removeprefix("\ufeff") if number == 1 else line


def undecodable_line(path: str | IO[bytes], encoding: str) -> tuple[str, bool]:
    """Which line of ``path`` does not decode (read again, on this error path only; a
    pipe cannot be), and whether the lines up to it end in \\r alone."""
    if not isinstance(path, str):
        return "it", False
    decoder = codecs.getincrementaldecoder(encoding)()
    # a line ends at \r too, as pandas' do, where the encoding writes it as that byte:
    # an old Mac's export ends its lines in \r alone
    ascii = "\n".encode(encoding) == b"\n"
    with binary(path) as handle:
        lines = (part for line in handle for part in (line.splitlines(True) if ascii else [line]))
        mac = ascii  # whether the lines so far end in \r alone
        for number, line in enumerate(lines, start=1):
            mac = mac and line.endswith(b"\r")
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return f"line {number:,} (byte {exc.start + 1} of it)", mac
    return "the end of the file", False
