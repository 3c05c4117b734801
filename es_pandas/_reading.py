"""How a file's rows become frames: what is in the file is what is sent.

A CSV or TSV file holds text, so every column is read as text, exactly as it is in
the file, unless ``dtype`` gives a column a type, or ``infer_types`` has types
inferred once for the whole file (from its first chunk) and holds every later chunk
to them (:mod:`._column_types`). Either way a value that does not fit its column's
type rejects its row, naming the column and the value; a value never changes type
with the chunk it is in. The key
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
which still has its header line. A record with fewer fields than the header rejects its
row, naming its line and the columns it lacks (:mod:`._short_rows`), where pandas pads it
with empty strings. A JSON Lines file holds one record a line, so an empty
one is a table of no rows, as an export of none writes it.

A pipe, FIFO or terminal (stdin included) is read through :class:`._pipes.Pipe`, so
that a Ctrl-C ends a read that waits for its writer.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ._column_types import StrictJson, Unfit, shown
from ._deadletters import drop_dead_letter_columns
from ._encodings import (
    Replay,
    binary,
    byte_lines,
    refuse_other_unicode,
    say_if_utf8,
    text_lines,
    undecodable,
    undecodable_line,
)
from ._exceptions import ConfigurationError
from ._formats import OPENERS, Format, ReadOptions
from ._parquet import parquet, parquet_frames
from ._pipes import Pipe, is_pipe
from ._short_rows import ShortRows
from ._wire.columns import absent_rows
from ._wire.values import ABSENT

logger = logging.getLogger("es_pandas")

__all__ = ["FileReadError", "count_rows", "read_frames", "row_hashes"]


def count_rows(path: str, format: Format) -> int | None:
    """Rows in the file, for the progress bar's ETA; None when it cannot be known cheaply."""
    # a pipe can be read only once: counting it would leave nothing to send
    if path == "-" or is_pipe(path):
        return None
    if format == "parquet":
        return int(parquet().ParquetFile(path).metadata.num_rows)
    if Path(path).suffix in OPENERS:
        return None
    # Counting newlines is an estimate when quoted fields span lines, never short of the
    # rows (a resumed load's status file may not have more). A file whose lines end in
    # \r alone (an old Mac's export) has no newline: its \r are counted.
    lines = returns = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            returns += block.count(b"\r")
        end = b"\n" if lines else b"\r"
        lines = lines or returns
        handle.seek(max(0, handle.tell() - 1))
        if handle.tell() and handle.read(1) != end:
            lines += 1
    return max(lines - (format in ("csv", "tsv")), 0)


class FileReadError(ConfigurationError):
    """The file cannot be read on (undecodable bytes, a malformed line)."""


def read_frames(
    path: str, options: ReadOptions, chunk_rows: int, name: str, pipe: Pipe | None = None
) -> Iterator[tuple[pd.DataFrame, dict[int, str]]]:
    """The file (``pipe``'s if it is one) as DataFrames of at most ``chunk_rows`` rows;
    never the whole file at once. A CSV, TSV or JSON Lines frame of fewer rows is the
    file's last (Parquet's may be a row group's). Each frame comes with the positions
    of its rows that cannot be sent as they are, with why: a CSV or TSV record with
    fewer fields than the header (pandas padded it with empty strings). A file that
    cannot be read on raises :class:`FileReadError` naming the line. Dead letters sent
    again lose their status columns (see _deadletters)."""
    source: str | IO[bytes] = (
        pipe.file if pipe is not None else sys.stdin.buffer if path == "-" else path
    )
    if options.format == "parquet":
        for frame in parquet_frames(source, chunk_rows):
            yield drop_dead_letter_columns(frame), {}
        return
    frames = (
        _json_lines(source, options, chunk_rows)
        if options.format == "jsonl"
        else _csv_frames(source, options, chunk_rows, name)
    )
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                read = next(frames, None)
        except pd.errors.ParserWarning:
            # pandas would drop the fields past the header's without a word
            raise FileReadError(
                f"{name}: its lines have more fields than its header; a separator at the "
                "end of each line, or another separator than sep= says"
            ) from None
        except UnicodeDecodeError as exc:
            where, mac = undecodable_line(source, options.encoding)
            raise FileReadError(f"{name}: {undecodable(where, options, exc, mac)}") from None
        except (pd.errors.ParserError, ValueError) as exc:
            # pandas' message names the line
            raise FileReadError(f"{name}: {_first_line(exc)}") from None
        if read is None:
            return
        frame, problems = read
        yield drop_dead_letter_columns(frame), problems


def _csv_frames(
    source: str | IO[bytes], options: ReadOptions, chunk_rows: int, name: str
) -> Iterator[tuple[pd.DataFrame, dict[int, str]]]:
    # A generator, so that the header is read (and fails) where the reading of the
    # rows is watched for errors.
    with binary(source) as handle:
        # The header's names as written are read here, from the bytes pandas then
        # reads again: a pipe cannot be opened twice, and pandas' columns alone cannot
        # tell a renamed "a" (a.1) from an "a.1" in the file.
        head, names, sep, excel = _header(handle, options)
        refuse_other_unicode(head, options.encoding)
        say_if_utf8(head, options.encoding, name)
        if options.sep is None and not excel and len(names) == 1:
            text = head.decode(options.encoding, errors="replace").removeprefix("\ufeff")
            _refuse_another_separator(text, names[0], sep)
        # pandas pads a record short of the header's fields with empty strings: each
        # record's fields are counted in the bytes it reads, as it reads them
        replay = Replay(head, handle, keep=True)
        short = ShortRows(options.encoding, sep, options.na_values, skip=excel)
        try:
            reader = pd.read_csv(
                io.BufferedReader(replay),
                sep=sep,
                skiprows=1 if excel else None,
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
        # Excel's trailing separators (id;name;;): columns without a name, after the
        # last named one, that no row should fill
        named = len(names)
        while named > 1 and names[named - 1] == "":
            named -= 1
        with reader:
            for number, frame in enumerate(reader):
                if number == 0:
                    _refuse_renamed(names[:named], frame.columns[:named])
                problems = short.of(frame, replay.given(), replay.ended)
                replay.keep = short.counting
                if named < len(names):
                    frame, problems = _unnamed_dropped(frame, named, problems)
                yield frame, problems
            short.end(replay.given())


def _unnamed_dropped(
    frame: pd.DataFrame, named: int, problems: dict[int, str]
) -> tuple[pd.DataFrame, dict[int, str]]:
    """``frame`` without its columns past the ``named`` first, which have no name in the
    header; a row holding a value there is rejected, naming the column, as there is no
    field to send it as."""
    extra = frame.iloc[:, named:]
    filled = (extra.notna() & (extra != "")).to_numpy()
    for position in np.flatnonzero(filled.any(axis=1)).tolist():
        column = named + 1 + int(np.argmax(filled[position]))
        problems.setdefault(
            position,
            f"a value in column {column}, which has no name in the header: no field to send it as",
        )
    return frame.iloc[:, :named], problems


# A header is looked for in this many bytes at most, whatever the file (one whose quote
# never closes): past them, its names are those read so far.
_HEADER_BYTES = 1 << 20


def _refuse_another_separator(text: str, name: str, sep: str) -> None:
    """A header of one name that holds another separator outside quotes (``text``: the
    file's start): the file is separated by it, and read with ``sep`` each line would
    be sent as one text field, every row ok."""
    for other in (";", "\t", "|", ","):
        if other != sep and other in name and len(_header_names(text, other, final=True) or []) > 1:
            instead = (
                "is it a TSV file (format='tsv')"
                if other == "\t"
                else f"is it separated by {other!r} (sep={other!r})"
            )
            # a tab is not typed as '\t' on a command line: a shell's $'\t' is one
            typed = " (--sep $'\\t')" if sep == "\t" else ""
            raise ValueError(
                f"its header is one column, {name!r}, which holds {other!r}: {instead}? "
                f"If it is one column, say sep={sep!r}{typed}"
            )


# The first line Excel writes (and reads) to name a file's separator, not a row of it
_EXCEL_SEP = re.compile(r"sep=([^\r\n])(?:\r\n?|\n|$)")


def _header(handle: IO[bytes], options: ReadOptions) -> tuple[bytes, list[str], str, bool]:
    """The first bytes of ``handle``, its header's and perhaps more, the header's names
    as written (``[]`` when the csv module cannot parse it), the file's separator, and
    whether its first line is Excel's ``sep=;`` that names it (the header is the next)."""
    # bytes that do not decode are pandas' to refuse, where it reads them
    decoder = codecs.getincrementaldecoder(options.encoding)(errors="replace")
    head, text = bytearray(), ""
    excel: re.Match[str] | None = None
    while True:
        block = handle.read(1 << 16)
        head += block
        text += decoder.decode(block, final=not block)
        final = not block or len(head) > _HEADER_BYTES
        body = text.removeprefix("\ufeff")
        if not final and not any(end in body for end in "\r\n"):
            continue  # the first line may be Excel's
        excel = _EXCEL_SEP.match(body)
        sep = _separator(options, excel)
        names = _header_names(body[excel.end() if excel else 0 :], sep, final=final)
        if names is not None:
            return bytes(head), names, sep, excel is not None


def _separator(options: ReadOptions, excel: re.Match[str] | None) -> str:
    """The separator of a CSV or TSV file: ``options``', or the one Excel's first line
    names, which must agree."""
    if excel is None:
        return options.sep or ("\t" if options.format == "tsv" else ",")
    named = excel.group(1)
    if options.sep is not None and options.sep != named:
        line = excel.group(0).rstrip("\r\n")
        raise ValueError(
            f"its first line, {line!r}, names its separator as Excel reads "
            f"it, {named!r}, but sep={options.sep!r} says {options.sep!r}: leave sep= out"
        )
    return named


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
        f"no name at {_columns(numbers)}" if name == "" else f"{shown(name)} at {_columns(numbers)}"
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


def _json_lines(
    source: str | IO[bytes], options: ReadOptions, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, dict[int, str]]]:
    # Each value as json.loads gives it, in object columns: pandas' own reader infers
    # a dtype per chunk (an int column with a null becomes float in that chunk only).
    # What json.loads would change without a word rejects the row (StrictJson).

    # the file's fields so far, in the order they first appear: a row's fields keep
    # their places whatever chunk it is in
    fields: dict[str, None] = {}
    strict = StrictJson()
    with binary(source) as handle:
        numbered: Iterator[tuple[int, bytes | str]] = (
            byte_lines(handle, options.encoding)
            if "\n".encode(options.encoding) == b"\n"
            else text_lines(handle, options.encoding)
        )
        # chunk_rows rows to a frame, blank lines aside: a shorter frame is the last
        lines = ((number, line) for number, line in numbered if line.strip())
        while batch := list(itertools.islice(lines, chunk_rows)):
            rows: list[dict[str, Any]] = []
            problems: dict[int, str] = {}
            for number, line in batch:
                try:
                    row = strict.decode(
                        line if isinstance(line, str) else line.decode(options.encoding)
                    )
                except Unfit as exc:
                    row = exc.value  # the row's values go on, to its dead letter
                    field = "" if exc.field is None else f", field {exc.field!r},"
                    problems[len(rows)] = f"line {number:,}{field} {exc}"
                except UnicodeDecodeError as exc:
                    where = f"line {number:,} (byte {exc.start + 1} of it)"
                    raise ValueError(undecodable(where, options, exc)) from None
                except (ValueError, RecursionError) as exc:
                    raise ValueError(f"line {number:,}: {_first_line(exc)}") from None
                if not isinstance(row, dict):
                    raise ValueError(f"line {number:,}: not a JSON object")
                rows.append(row)
            yield _json_frame(rows, fields), problems


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
