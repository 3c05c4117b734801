"""How a file's rows become frames: what is in the file is what is sent.

A CSV or TSV file holds text, so every column is read as text, exactly as it is in
the file, unless ``dtype`` gives a column a type, or ``infer_types`` has types inferred
once for the whole file (from its first chunk) and holds every later chunk to them.
Either way a value that does not fit its column's type rejects its row, naming the
column and the value; a value never changes type with the chunk it is in. The key
column is always text. No string is null unless ``na_values`` names it: ``NA``,
``None``, ``null`` and the empty string are values.

JSON Lines keep each value's JSON type (an int stays an int even beside a null), and
a field a line does not have is :data:`._wire.values.ABSENT` in its row, never a null,
whatever the other lines of its chunk have; a chunk's columns are the file's fields so
far, in the order they first appear (a later chunk may add some). Parquet keeps its
schema: each column's dtype follows from its Arrow type alone (:mod:`._parquet` has the
table).

A CSV or TSV file's first line is its header, whose names are the records' fields: one
that repeats a name or leaves one empty is refused (pandas would rename them, ``a.1``,
``Unnamed: 3``). So is a file without even a header line (0 bytes, or blank lines only),
which holds no table: far more often an export that failed than a table of no rows,
which still has its header line. A JSON Lines file holds one record a line, so an empty
one is a table of no rows, as an export of none writes it.

A pipe, FIFO or terminal (stdin included) is opened by :class:`Pipe`, on the caller's
thread, and read so that a Ctrl-C ends a read that waits for its writer.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import io
import itertools
import json
import lzma
import math
import os
import re
import selectors
import stat
import sys
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from ._deadletters import drop_dead_letter_columns
from ._exceptions import ConfigurationError
from ._parquet import parquet, parquet_frames
from ._wire.columns import absent_rows
from ._wire.values import ABSENT

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "FORMATS",
    "ColumnTypes",
    "FileReadError",
    "InputInterrupted",
    "Pipe",
    "ReadOptions",
    "count_rows",
    "file_format",
    "read_frames",
    "row_hashes",
]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
Format = Literal["csv", "tsv", "jsonl", "parquet"]
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_OPENERS: dict[str, Callable[..., Any]] = {
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
}


def file_format(path: str, format: str | None) -> Format:
    if format is not None:
        if format not in FORMATS:
            raise ConfigurationError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        return cast(Format, format)
    if path == "-":
        return "csv"
    suffixes = Path(path).suffixes
    if suffixes and suffixes[-1] in _OPENERS:
        suffixes = suffixes[:-1]
    try:
        return cast(Format, _SUFFIXES[suffixes[-1].lower()])
    except (KeyError, IndexError):
        raise ConfigurationError(
            f"cannot tell the format of {path!r} from its name: pass format= (--format) "
            f"as one of {', '.join(FORMATS)}"
        ) from None


def _is_pipe(path: str) -> bool:
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


def count_rows(path: str, format: Format) -> int | None:
    """Rows in the file, for the progress bar's ETA; None when it cannot be known cheaply."""
    # a pipe can be read only once: counting it would leave nothing to send
    if path == "-" or _is_pipe(path):
        return None
    if format == "parquet":
        return int(parquet().ParquetFile(path).metadata.num_rows)
    if Path(path).suffix in _OPENERS:
        return None
    # Counting newlines is an estimate when quoted fields span lines; it only feeds the ETA.
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
        handle.seek(max(0, handle.tell() - 1))
        if handle.tell() and handle.read(1) != b"\n":
            lines += 1
    return max(lines - (format in ("csv", "tsv")), 0)


# What each type takes. Inferred types take only what reads back the same: "007" is
# not inferred as an int, so a column of zip codes stays text.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_CANONICAL_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "false": False}
_INT64 = range(-(2**63), 2**63)
_DOES_NOT_FIT = (ValueError, KeyError, OverflowError, RecursionError)


class FileReadError(ConfigurationError):
    """The file cannot be read on (undecodable bytes, a malformed line)."""


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
        self._selector: selectors.BaseSelector | None = selectors.DefaultSelector()
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
        opener = _OPENERS.get(Path(path).suffix)
        self.file: IO[bytes] = opener(self._buffered, "rb") if opener else self._buffered

    @staticmethod
    def open(path: str, format: Format) -> Pipe | None:
        """``path`` opened if it is a pipe, FIFO or terminal; None for a file (its
        reader opens it), for Parquet (read by seeking, which a pipe refuses) and on
        Windows (whose select waits for sockets only: a pipe is read as a file is)."""
        if os.name == "posix" and format != "parquet" and _is_pipe(path):
            return Pipe(path)
        return None

    def interrupt(self) -> None:
        self._raw.interrupt()

    def close(self) -> None:
        # a read that waits holds the buffer's lock, which closing takes
        self.interrupt()
        self.file.close()
        self._buffered.close()  # a decompressor leaves the file it was given open


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file (the file options of a load)."""

    format: Format
    encoding: str = "utf-8"
    sep: str | None = None
    na_values: tuple[str, ...] = ()
    dtype: Mapping[str, str] = field(default_factory=dict)
    infer_types: bool = False
    #: always read as text
    key_col: Hashable | None = None


def _to_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError
    value = int(text)
    if value not in _INT64:
        raise OverflowError
    return value


def _to_float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise OverflowError
    return value


def _to_bool(text: str) -> bool:
    return _BOOLS[text.lower()]


def _float_reads_back(text: str) -> bool:
    """Whether ``text`` is written as a float, and is the number that float is: not
    ``18446744073709551615``, whose float is ``1.8446744073709552e+19``, nor ``1e-400``,
    whose float is 0. ``1.10`` is: its float, ``1.1``, is the same number."""
    if not _CANONICAL_FLOAT.fullmatch(text):
        return False
    value = float(text)
    return math.isfinite(value) and Decimal(repr(value)) == Decimal(text)


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "json": json.loads,
}
_DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean", "json": "object"}
_INFERRED: dict[str, Callable[[str], bool]] = {
    "int": lambda text: bool(_CANONICAL_INT.fullmatch(text)) and int(text) in _INT64,
    "float": _float_reads_back,
    "bool": lambda text: text.lower() in _BOOLS,
}


class ColumnTypes:
    """The type of each column of a CSV or TSV file, decided once for the whole file."""

    def __init__(self, options: ReadOptions) -> None:
        self._options = options
        self._types: dict[Hashable, str] | None = None
        self._why: dict[Hashable, str] = {}

    def decide(self, frame: pd.DataFrame) -> None:
        """Decide the types from the file's first chunk (later calls do nothing)."""
        if self._types is None:
            self._types = self._decided(frame)

    def apply(self, frame: pd.DataFrame) -> dict[int, str]:
        """Give ``frame``'s columns (all text) their types, in place; the positions of
        the rows holding a value that does not fit, with why."""
        assert self._types is not None, "decide() first"
        problems: dict[int, str] = {}
        for name, kind in self._types.items():
            frame[name] = self._convert(frame[name], name, kind, problems)
        return problems

    def _decided(self, frame: pd.DataFrame) -> dict[Hashable, str]:
        options = self._options
        unknown = [name for name in options.dtype if name not in frame.columns]
        if unknown:
            raise ConfigurationError(
                f"dtype: the file has no column {unknown[0]!r}; its columns are "
                f"{', '.join(map(str, frame.columns))}"
            )
        types: dict[Hashable, str] = {}
        for name in frame.columns:
            if name in options.dtype:
                kind = options.dtype[str(name)]
                self._why[name] = f"dtype={name}={kind}"
            elif options.infer_types and name != options.key_col:
                kind = _infer(frame[name])
                self._why[name] = "inferred from the file's first rows"
            else:
                continue
            if kind != "str":
                types[name] = kind
        return types

    def _convert(
        self, column: pd.Series, name: Hashable, kind: str, problems: dict[int, str]
    ) -> pd.Series:
        convert = _CONVERTERS[kind]
        fits = _INFERRED.get(kind) if self._why[name].startswith("inferred") else None
        values: list[object] = []
        for position, text in enumerate(column.tolist()):
            if not isinstance(text, str):
                values.append(None)  # named by na_values
                continue
            try:
                if fits is not None and not fits(text):
                    raise ValueError
                values.append(convert(text))
            except _DOES_NOT_FIT as exc:
                values.append(None)
                # 18446744073709551615 is an integer, but too large for an int64
                why = "is out of range for" if isinstance(exc, OverflowError) else "is not"
                problems.setdefault(
                    position,
                    f"column {name!r}: {_shown(text)} {why} {_ARTICLES[kind]} "
                    f"({self._why[name]}; dtype={name}=str sends it as text)",
                )
        typed: pd.Series = pd.Series(values, index=column.index, dtype=_DTYPES[kind])
        return typed


_ARTICLES = {"int": "an int", "float": "a float", "bool": "a bool", "json": "JSON"}


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _infer(column: pd.Series) -> str:
    """The narrowest type every value of ``column`` is written as (``007`` is no int: as
    one it would lose its zeros); else text."""
    values = [text for text in column.tolist() if isinstance(text, str)]
    if not values:
        return "str"
    for kind, fits in _INFERRED.items():
        if all(fits(text) for text in values):
            return kind
    return "str"


def read_frames(
    path: str, options: ReadOptions, chunk_rows: int, name: str, pipe: Pipe | None = None
) -> Iterator[pd.DataFrame]:
    """The file (``pipe``'s if it is one) as DataFrames of at most ``chunk_rows`` rows;
    never the whole file at once. A CSV, TSV or JSON Lines frame of fewer rows is the
    file's last (Parquet's may be a row group's). A file that cannot be read on raises
    :class:`FileReadError` naming the line. Dead letters sent again lose their status
    columns (see _deadletters)."""
    source: str | IO[bytes] = (
        pipe.file if pipe is not None else sys.stdin.buffer if path == "-" else path
    )
    if options.format == "parquet":
        yield from map(drop_dead_letter_columns, parquet_frames(source, chunk_rows))
        return
    frames = (
        _json_lines(source, options, chunk_rows)
        if options.format == "jsonl"
        else _csv_frames(source, options, chunk_rows)
    )
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = next(frames, None)
        except pd.errors.ParserWarning:
            # pandas would drop the fields past the header's without a word
            raise FileReadError(
                f"{name}: its lines have more fields than its header; a separator at the "
                "end of each line, or another separator than sep= says"
            ) from None
        except UnicodeDecodeError as exc:
            where = _undecodable_line(source, options.encoding)
            raise FileReadError(f"{name}: {_undecodable(where, options, exc)}") from None
        except (pd.errors.ParserError, ValueError) as exc:
            # pandas' message names the line
            raise FileReadError(f"{name}: {_first_line(exc)}") from None
        if frame is None:
            return
        yield drop_dead_letter_columns(frame)


@contextlib.contextmanager
def _binary(source: str | IO[bytes]) -> Iterator[IO[bytes]]:
    """``source``'s bytes, decompressed as its name says; a file opened here is closed
    after."""
    if not isinstance(source, str):
        yield source
        return
    with _OPENERS.get(Path(source).suffix, open)(source, "rb") as handle:
        yield handle


def _csv_frames(
    source: str | IO[bytes], options: ReadOptions, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    # A generator, so that the header is read (and fails) where the reading of the
    # rows is watched for errors.
    sep = options.sep or ("\t" if options.format == "tsv" else ",")
    with _binary(source) as handle:
        # The header's names as written are read here, from the bytes pandas then
        # reads again: a pipe cannot be opened twice, and pandas' columns alone cannot
        # tell a renamed "a" (a.1) from an "a.1" in the file.
        head, names = _header(handle, options.encoding, sep)
        _refuse_other_unicode(head, options.encoding)
        try:
            reader = pd.read_csv(
                io.BufferedReader(_Replay(head, handle)),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_values=list(options.na_values),
                encoding=options.encoding,
                chunksize=chunk_rows,
                # never the first column as an index when lines have a field more than
                # the header: that would shift every value one column to the left
                index_col=False,
            )
        except pd.errors.EmptyDataError:
            raise ValueError(
                "it is empty, without even a header line (a table of no rows still has one)"
            ) from None
        with reader:
            for number, frame in enumerate(reader):
                if number == 0:
                    _refuse_renamed(names, frame.columns)
                yield frame


class _Replay(io.RawIOBase):
    """``head``, bytes read from ``rest`` already, then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        data = self._head[: len(target)] if self._head else self._rest.read(len(target))
        self._head = self._head[len(data) :]
        target[: len(data)] = data
        return len(data)


# A header is looked for in this many bytes at most, whatever the file (one whose quote
# never closes): past them, its names are those read so far.
_HEADER_BYTES = 1 << 20


def _header(handle: IO[bytes], encoding: str, sep: str) -> tuple[bytes, list[str]]:
    """The first bytes of ``handle``, its header's and perhaps more, and the header's
    names as written (``[]`` when the csv module cannot parse it)."""
    # bytes that do not decode are pandas' to refuse, where it reads them
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    head, text = bytearray(), ""
    while True:
        block = handle.read(1 << 16)
        head += block
        text += decoder.decode(block, final=not block)
        final = not block or len(head) > _HEADER_BYTES
        names = _header_names(text.removeprefix("\ufeff"), sep, final=final)
        if names is not None:
            return bytes(head), names


def _header_names(text: str, sep: str, *, final: bool) -> list[str] | None:
    """The names of the first line of ``text`` that is not blank (pandas skips those),
    as the csv module parses them, which agrees with pandas on quotes (a quoted name
    may hold ``sep`` or a line break); None if ``text`` may end before them (unless
    ``final``)."""
    lines = io.StringIO(text, newline="")  # lines end at \n, \r\n or \r, as pandas'
    ran_out = False

    def fed() -> Iterator[str]:
        nonlocal ran_out
        for line in lines:
            if not final and not line.endswith(("\n", "\r")):
                break  # the rest of this line is still to be read
            yield line
        ran_out = True

    try:
        for fields in csv.reader(fed(), delimiter=sep):
            if ran_out and not final:
                return None  # a quoted name goes on past what was read
            if len(fields) > 1 or "".join(fields).strip():
                return fields
    except csv.Error:
        return []  # a name past the csv module's size limit: pandas' to read
    return None if not final else []


def _refuse_renamed(names: list[str], columns: pd.Index) -> None:
    """Refuse a header that repeats a name or leaves one empty, which pandas renames
    (``a.1``, ``Unnamed: 3``): the records would have fields the file does not."""
    if list(columns) == names:
        return  # pandas took the names as written
    # Else pandas renamed some, or (on a line the csv module parses otherwise than
    # pandas) these are not its names: refused only for what pandas renames.
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(number)
    problems = [
        f"no name at {_columns(numbers)}"
        if name == ""
        else f"{_shown(name)} at {_columns(numbers)}"
        for name, numbers in positions.items()
        if name == "" or len(numbers) > 1
    ]
    if problems:
        raise ValueError(
            f"its header has {', and '.join(problems)}: each column needs a name of its "
            "own, the field its values are sent as (pandas would rename them)"
        )


def _columns(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"column {numbers[0]}"
    return f"columns {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}"


_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _refuse_other_unicode(head: bytes, encoding: str) -> None:
    """Refuse a file that starts with a UTF-16 or UTF-32 byte order mark read as
    another encoding: undecodable in UTF-8, garbled in latin-1."""
    for mark, unicode in _UNICODE_BOMS:
        if head.startswith(mark):
            if not codecs.lookup(encoding).name.startswith(unicode):
                raise ValueError(
                    f"cannot read it as {encoding}: it starts with a byte order mark, so "
                    f"it looks {unicode.upper()}: encoding='{unicode}' (--encoding {unicode})"
                )
            return


def _undecodable(where: str, options: ReadOptions, exc: UnicodeDecodeError) -> str:
    return (
        f"cannot read {where} as {options.encoding} ({exc.reason}); pass encoding= the "
        "file's (cp1252 for a Windows export, latin-1, ...)"
    )


def _json_lines(
    source: str | IO[bytes], options: ReadOptions, chunk_rows: int
) -> Iterator[pd.DataFrame]:
    # Each value as json.loads gives it, in object columns: pandas' own reader infers
    # a dtype per chunk (an int column with a null becomes float in that chunk only).
    # A UTF-8 file may start with a byte order mark, as a CSV file may.
    mark = codecs.BOM_UTF8 if codecs.lookup(options.encoding).name == "utf-8" else b""
    # the file's fields so far, in the order they first appear: a row's fields keep
    # their places whatever chunk it is in
    fields: dict[str, None] = {}
    with _binary(source) as handle:
        numbered = (
            (number, line.removeprefix(mark) if number == 1 else line)
            for number, line in enumerate(handle, start=1)
        )
        # chunk_rows rows to a frame, blank lines aside: a shorter frame is the last
        lines = ((number, line) for number, line in numbered if line.strip())
        while batch := list(itertools.islice(lines, chunk_rows)):
            rows = []
            for number, line in batch:
                try:
                    row = json.loads(line.decode(options.encoding))
                except UnicodeDecodeError as exc:
                    where = f"line {number:,} (byte {exc.start + 1} of it)"
                    raise ValueError(_undecodable(where, options, exc)) from None
                except (ValueError, RecursionError) as exc:
                    raise ValueError(f"line {number:,}: {_first_line(exc)}") from None
                if not isinstance(row, dict):
                    raise ValueError(f"line {number:,}: not a JSON object")
                rows.append(row)
            yield _json_frame(rows, fields)


def _json_frame(rows: list[dict[str, Any]], fields: dict[str, None]) -> pd.DataFrame:
    """``rows`` in object columns, those of ``fields`` (the file's so far, which it
    updates with the new ones of ``rows``), a field a row lacks :data:`ABSENT`."""
    frame = pd.DataFrame(rows, dtype=object)  # its columns in the order they first appear
    fields.update(dict.fromkeys(frame.columns))
    names = list(fields)
    if len(frame.columns) == len(names) and sum(map(len, rows)) == len(rows) * len(names):
        # every row has every field (a row's keys are distinct): the usual file
        return frame if frame.columns.tolist() == names else frame[names]
    return pd.DataFrame(
        {name: pd.Series([row.get(name, ABSENT) for row in rows], dtype=object) for name in names}
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _undecodable_line(path: str | IO[bytes], encoding: str) -> str:
    """Which line of ``path`` does not decode (read again, on this error path only; a
    pipe cannot be)."""
    if not isinstance(path, str):
        return "it"
    decoder = codecs.getincrementaldecoder(encoding)()
    with _binary(path) as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return f"line {number:,} (byte {exc.start + 1} of it)"
    return "the end of the file"


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """A fingerprint of each row as read (16 hex digits), on the frame's index: what
    ties a status file's row to the file's row when a load is resumed. A field a JSON
    Lines row lacks is left out of it, so that a row's fingerprint is the same whatever
    the fields of the other rows of its chunk."""
    combined = np.zeros(len(frame), dtype=np.uint64)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        absent = absent_rows(column)
        if absent is not None:
            column = column.mask(absent)  # hashed as anything: left out below
        try:
            hashed = pd.util.hash_pandas_object(column, index=False, categorize=False)
        except (TypeError, ValueError):
            try:
                # lists and dicts from JSON, nested Arrow values: hashed as they print
                hashed = pd.util.hash_pandas_object(column.astype(str), index=False)
            except (TypeError, ValueError):
                continue  # a column pandas cannot even print cannot be sent either
        # order matters: a row's values in other columns are another row
        folded = np.bitwise_xor(
            np.multiply(combined, np.uint64(1_000_003)), hashed.to_numpy(dtype=np.uint64)
        )
        combined = folded if absent is None else np.where(absent, combined, folded)
    return pd.Series([f"{h:016x}" for h in combined.tolist()], index=frame.index, dtype=object)
