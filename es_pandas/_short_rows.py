"""The records of a CSV or TSV file that have fewer fields than its header: pandas pads
them with empty strings the file does not hold (a line cut short by an interrupted
download, a separator missing), so each such row is rejected, naming its line and the
columns it lacks, and the other rows still go.

The fields are counted in the text pandas reads (each block it was given, decoded as it
decodes them), and records are told apart as pandas' tokenizer tells them:

- a record ends at ``\\n``, ``\\r\\n`` or ``\\r`` outside quotes; a field that starts
  with ``"`` is quoted, may hold separators and line breaks, and holds ``"`` doubled;
- an empty line, or one of spaces and tabs other than the separator, is no record
  (``skip_blank_lines``);
- a byte order mark at the start of the file is no part of its first field.

A quoted field whose closing quote is followed by text, not a separator or the line's
end (``"Special" edition``, or a quote that opens a field of a file whose quotes are no
CSV quoting, ``"abc`` closed lines later by ``ghi"x``), is read by pandas as another
value than the file holds (``Special edition``; lines joined into one row, each of them
lost as a row of its own): its row is rejected, naming its line and column.

A block of text without a quote is lines and no more: its separators are counted. One
with a quote is read by Python's csv module, whose default dialect quotes as pandas does
(``"``, doubled, no escape character). Where the two could still differ, each frame's
records are checked against pandas' rows: as many, the same header, the same first
values, a short row's missing columns empty in pandas' row too. A file where they differ
stops the load rather than have a row rejected, or sent, for another row's fields.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import math
import re
import sys
from collections.abc import Iterator, Sequence

import pandas as pd

from ._column_types import shown

__all__ = ["ShortRows"]


class _Disagree(Exception):
    """pandas and the count read the file's records otherwise, from ``line`` on (why,
    if known)."""

    def __init__(self, line: int, why: str | None = None) -> None:
        super().__init__(line, why)
        self.line = line
        self.why = why


class ShortRows:
    """Finds the rows of each frame pandas reads from a CSV or TSV file that have fewer
    fields than its header (or a quoted field with text after its closing quote), given
    the bytes pandas read for the frame. Its work for a frame is the frame's text,
    whatever pandas read beyond it."""

    def __init__(
        self, encoding: str, sep: str, na_values: Sequence[str], *, skip: bool = False
    ) -> None:
        # bytes that do not decode are pandas' to refuse, where it reads them
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._sep = sep
        self._na_values = set(na_values)
        # spaces and tabs make a blank line, unless they are the separator
        self._blank = " \t".replace(sep, "")
        # where a quoted field may have text after its closing quote, found at C speed: a
        # quote that starts a field (no text before it but the separator), what it holds
        # (quotes doubled, read as the tokenizer does, never given back), and its closing
        # quote with no separator or line break after it. A match may start inside another
        # quoted field: _after_quote then tells.
        split = re.escape(sep)
        self._quote_then_text = re.compile(
            rf'"(?<![^{split}]")(?:[^"]++|"")*+"(?![{split}"\r\n]|\Z)'
        )
        self._text = ""  # decoded; counted up to _at, the start of a record
        self._at = 0
        self._whole = 0  # where the last whole line of _text ends
        self._line = 1  # the file's line that starts at _at
        self._row_size = 64  # characters a row takes, about (to look for a frame's end)
        self._started = False
        self._ended = False
        self._width: int | None = None  # the header's fields, once read
        self._skip = skip  # whether a line before the header is no record (Excel's sep=;)
        #: whether the bytes read are still wanted (a file of one column has no short rows)
        self.counting = True

    def of(self, frame: pd.DataFrame, read: bytes, ended: bool) -> dict[int, str]:
        """The positions of ``frame``'s rows that have fewer fields than the header (or
        text after a closing quote), with why; ``read``: the bytes pandas read since the
        last frame, ``ended``: whether it read the whole file."""
        self._feed(read, ended)
        if not self.counting:
            return {}
        try:
            with _any_field_size():
                if self._width is None:
                    self._header(frame.columns)
                if not self.counting or self._counted(len(frame)):
                    return {}
                return self._short(frame)
        except _Disagree as exc:
            raise ValueError(_disagree(exc)) from None

    def end(self, read: bytes) -> None:
        """pandas read the last of the file: check that no record is left."""
        self._feed(read, True)
        if not self.counting:
            return
        try:
            with _any_field_size():
                if self._width is None:
                    self._header(None)
                left = next(self._records(), None) if self.counting else None
                if left is not None:
                    raise _Disagree(left[0])
        except _Disagree as exc:
            raise ValueError(_disagree(exc)) from None

    def _feed(self, read: bytes, ended: bool) -> None:
        if not self.counting or (not read and ended == self._ended):
            return
        text = self._decoder.decode(read, final=ended)
        if not self._started and text:
            # pandas drops a byte order mark at the start (utf-8's; utf-16's decoder does)
            text = text.removeprefix("\ufeff")
            self._started = True
        self._text = self._text[self._at :] + text
        self._at = 0
        self._ended = ended
        whole = len(self._text)
        if not ended:
            # a record pandas read is whole: its line ends, and a \r at the end may be
            # a \r\n's, its \n not read yet
            whole -= self._text.endswith("\r")
            whole = max(self._text.rfind("\n", 0, whole), self._text.rfind("\r", 0, whole)) + 1
        self._whole = whole

    def _header(self, columns: pd.Index | None) -> None:
        if self._skip:
            next(self._records(), None)
        names = next(self._records(), None)
        if names is None or (columns is not None and not _same_header(names[1], columns)):
            raise _Disagree(self._line if names is None else names[0])
        self._width = len(names[1])
        self.counting = self._width > 1

    def _counted(self, rows: int) -> bool:
        """Whether the next ``rows`` records are lines without a quote, each with every
        field: counted (and passed) at the cost of a few string scans."""
        text, at = self._text, self._at
        size = rows * self._row_size + 1024
        while True:
            end = self._line_end(at, size)
            lines = io.StringIO(text[at:end], newline="")
            taken = sum(1 for _ in itertools.islice(lines, rows))
            if taken == rows or end == self._whole:
                break
            size *= 2
        end = at + lines.tell()
        # Without a quote each line is a record or a blank line (no separator in it),
        # and none has more fields than the header (pandas refused those; but after a
        # lone \r, see _records): as many separators as full lines hold means no line
        # is short, or blank.
        if (
            taken < rows
            or text.find('"', at, end) >= 0
            or text.count("\r", at, end) != text.count("\r\n", at, end)
            or text.count(self._sep, at, end) != rows * (self._columns() - 1)
        ):
            return False
        self._at, self._line = end, self._line + rows
        if rows:
            self._row_size = (end - at) // rows + 1
        return True

    def _line_end(self, at: int, size: int) -> int:
        """The end of the last line of the whole text that ends within ``size``
        characters of ``at`` (of the first, if that one is longer)."""
        text = self._text
        while at + size < self._whole:
            end = max(text.rfind("\n", at, at + size), text.rfind("\r", at, at + size)) + 1
            if end > at:
                return end + (text[end - 1] == "\r" and text[end] == "\n")
            size *= 2
        return self._whole

    def _short(self, frame: pd.DataFrame) -> dict[int, str]:
        """The short rows of ``frame``, read record by record, each record checked
        against pandas' row."""
        width = self._columns()
        records = self._records()
        short: dict[int, str] = {}
        fields_of: dict[int, list[int]] = {}  # the short rows, by their fields
        lines: list[int] = []
        firsts: list[str] = []
        for position in range(len(frame)):
            line, fields, text = next(records, (self._line, None, ""))
            if fields is None or len(fields) > width:
                raise _Disagree(line)
            lines.append(line)
            firsts.append(fields[0])
            if len(fields) < width:
                fields_of.setdefault(len(fields), []).append(position)
                short[position] = _why(line, len(fields), frame.columns)
            elif self._quote_then_text.search(text) and (
                why := _after_quote(text, self._sep, line, frame.columns)
            ):
                short[position] = why
        self._same_firsts(firsts, frame.iloc[:, 0].tolist(), lines)
        for count, positions in fields_of.items():
            padded = frame.iloc[positions, count:].to_numpy(dtype=object)
            for position, values in zip(positions, padded.tolist(), strict=True):
                if not all(value == "" or _null(value) for value in values):
                    raise _Disagree(lines[position])
        return short

    def _records(self) -> Iterator[tuple[int, list[str], str]]:
        """The records from where the count is, each with the line it starts on and its
        text, and counted once taken. Blank lines are none."""
        at, line = self._at, self._line
        taken = length = 0
        last = ""

        def fed() -> Iterator[str]:
            nonlocal taken, length, last
            start = at
            while start < self._whole:
                end = self._line_end(start, 1 << 16)
                for last in io.StringIO(self._text[start:end], newline=""):
                    taken += 1
                    length += len(last)
                    yield last
                start = end
            if not self._ended:
                # pandas read past the end of each of its records: this one goes on
                raise _Disagree(line + taken)

        reader = csv.reader(fed(), delimiter=self._sep)
        while True:
            starts, begins = line + taken, length
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise _Disagree(starts) from None
            self._at, self._line = at + length, line + taken
            if fields and not self._blank_line(fields, last):
                yield starts, fields, self._text[at + begins : self._at]
            elif last.endswith("\r") and self._text.startswith(self._sep, self._at):
                raise _Disagree(
                    self._line,
                    "it starts with a separator, after a blank line that ends in a lone "
                    "\\r, and pandas would drop that separator, reading each field of "
                    "the line one column to the left; end the file's lines in \\n or \\r\\n",
                )

    def _blank_line(self, fields: list[str], line: str) -> bool:
        # spaces alone are a blank line unless quoted ("  ")
        return (
            len(fields) == 1
            and fields[0] == line.rstrip("\r\n")
            and not fields[0].strip(self._blank)
        )

    def _same_firsts(self, firsts: list[str], values: list[object], lines: list[int]) -> None:
        if firsts == values:
            return
        for first, value, line in zip(firsts, values, lines, strict=True):
            if _null(value) and first in self._na_values:
                continue
            # pandas loses the spaces that start a line when they end one of its reads:
            # its own fault, in a record it tells apart as the csv module does
            cut = len(first) - len(value) if isinstance(value, str) else -1
            if cut < 0 or first[cut:] != value or first[:cut].strip(self._blank):
                raise _Disagree(line)

    def _columns(self) -> int:
        assert self._width is not None, "the header first"
        return self._width


@contextlib.contextmanager
def _any_field_size() -> Iterator[None]:
    """The csv module takes fields of any size, as pandas does, while it counts: its
    limit (128 KiB) is the process's, so it is put back after."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _disagree(exc: _Disagree) -> str:
    return f"line {exc.line:,}: " + (
        exc.why
        or "pandas reads it otherwise than Python's csv module, which counts its fields: "
        "rows with fewer fields than the header cannot be told apart from the others"
    )


def _null(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _same_header(names: list[str], columns: pd.Index) -> bool:
    """Whether pandas read the header as the csv module did: the same names, a column
    without one named ``Unnamed: N`` by pandas."""
    return len(names) == len(columns) and all(
        name == column or (name == "" and str(column) == f"Unnamed: {at}")
        for at, (name, column) in enumerate(zip(names, columns, strict=True))
    )


# a quoted field: its quotes, and what it holds (quotes doubled), read as the tokenizer
# reads it, never given back
_QUOTED = re.compile(r'"(?:[^"]++|"")*+"')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _after_quote(text: str, sep: str, line: int, columns: pd.Index) -> str | None:
    """Why the record ``text`` (starting on ``line``) cannot be sent as the file holds
    it: a quoted field of it has text after its closing quote, which pandas (and the
    csv module) add to the field's value; None when none has."""
    field = at = 0
    while True:  # at the start of a field
        if text.startswith('"', at):
            quoted = _QUOTED.match(text, at)
            if quoted is None:
                return None  # a quote never closed: pandas' to refuse
            at = quoted.end()
            if at < len(text) and text[at] not in (sep, "\r", "\n"):
                return _why_quoted(text, at, sep, line, columns[field])
        # a quote inside an unquoted field is a character of it
        at = text.find(sep, at) + 1
        if not at:
            return None
        field += 1


def _why_quoted(text: str, at: int, sep: str, line: int, name: object) -> str:
    """Why a field whose closing quote, before ``at``, is followed by text is rejected."""
    end = _LINE_BREAK.search(text, at)
    follows = text[at : end.start() if end else len(text)].partition(sep)[0]
    closes = line + len(_LINE_BREAK.findall(text, 0, at))
    where = "" if closes == line else f" on line {closes:,}"
    joined = "" if closes == line else f", and lines {line:,} to {closes:,} as this one row"
    return (
        f"line {line:,}, column {name!r}: {shown(follows)} follows the closing quote of its "
        f"quoted field{where}, which CSV reads as more of the value, without the "
        f"quotes{joined}; in CSV a quote in a value is written doubled, in a quoted field "
        '("12"" ruler")'
    )


def _why(line: int, fields: int, columns: pd.Index) -> str:
    missing = [repr(name) for name in columns[fields:]]
    if len(missing) == 1:
        names = f"column {missing[0]} is"
    elif len(missing) == 2:
        names = f"columns {missing[0]} and {missing[1]} are"
    else:
        names = f"columns {missing[0]} to {missing[-1]} are"
    return f"line {line:,} has {fields} of the header's {len(columns)} fields; {names} missing"
