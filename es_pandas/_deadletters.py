"""Dead letters: every row of a run that does not end ``ok``, with its own columns and
why (``status``, ``error``, ``http_status``, ``trace``, ``attempts``), written to a
JSON Lines, CSV or Parquet file as the run goes, in input order.

The file is for fixing and sending again (``es-pandas produce failed.jsonl``, or
``pd.read_json(path, lines=True, dtype=False).es.produce(...)``): a file or frame that
has all five of those columns is taken for dead letters and they are dropped on input
(:func:`drop_dead_letter_columns`). All five, so that a column of one's own named
``status`` or ``error`` is never dropped. So are a status frame's columns from a frame
that has them all: it was joined with its status (``df.join(status)``) to pick the rows
to send again.

Each chunk's dead letters reach the file (flushed) once that chunk and every earlier
one have ended, so a Ctrl-C, or a crash of a JSON Lines or CSV file, leaves it whole up
to that point. A Parquet file is readable once closed (a run that ends, fails or is
interrupted closes it; a process killed outright leaves it unreadable).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError
from ._parquet import parquet
from ._status import OK, RECORD_ID, STATUS_COLUMNS, STATUSES, Chunk, Tally
from ._tables import TableWriter, as_sent, refuse_the_input, table_format
from ._wire.columns import absent_as_null, absent_rows

__all__ = ["DEAD_LETTER_COLUMNS", "DeadLetters", "drop_dead_letter_columns"]

#: what a dead letter has besides its row's columns, in order
DEAD_LETTER_COLUMNS = ("status", "error", "http_status", "trace", "attempts")
logger = logging.getLogger("es_pandas")


def _as_sent(letters: pd.DataFrame) -> pd.DataFrame:
    """A CSV file's cells as the value policy sent them, for a value that is not text
    already: a timestamp, date or duration its text, bytes base64, a bool ``true``, a
    list or dict its JSON (``--dtype col=json`` reads it back), where pandas' to_csv
    writes Python's reprs (``b'\\x01'``, ``{'a': array([1, 2])}``, ``True``)."""
    sent = letters.copy(deep=False)
    for at, (_, column) in enumerate(letters.items()):
        if column.dtype.kind in "bOmM":
            sent.isetitem(at, pd.Series(as_sent(column), dtype=object).to_numpy())
    return sent


def drop_dead_letter_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the dead-letter columns, when it has all of them (it is dead
    letters sent again), or without a status frame's, when it has all of those (it was
    joined with its status), with the ``record_id`` right after them; as it is otherwise."""
    columns = list(frame.columns)
    if all(name in columns for name in STATUS_COLUMNS):
        after = columns.index(STATUS_COLUMNS[-1]) + 1
        ids = [RECORD_ID] if columns[after : after + 1] == [RECORD_ID] else []
        return frame.drop(columns=[*STATUS_COLUMNS, *ids])
    if not all(name in columns for name in DEAD_LETTER_COLUMNS):
        return frame
    return frame.drop(columns=list(DEAD_LETTER_COLUMNS))


class DeadLetters:
    """Writes a run's dead letters to ``path``, chunk by chunk, in input order.

    A file load hands over its chunks in file order (:meth:`write`); a frame's chunks
    end in any order and go through :meth:`chunk_done`, which holds a chunk back until
    every earlier one is written."""

    def __init__(self, path: str, tally: Tally, *, reading: str | None = None) -> None:
        format = table_format(path)
        if format is None:
            raise ConfigurationError(
                f"dead_letter: dead letters are written to .jsonl, .csv or .parquet, not {path!r}"
            )
        if format == "parquet":
            parquet()
        refuse_the_input("dead_letter", path, "dead letters", reading)
        # The file is made once the first chunk has ended; where it cannot be is said
        # before anything is sent, not after every row has gone.
        folder = os.path.dirname(os.path.abspath(path))
        problem = (
            f"there is no folder {folder!r}"
            if not os.path.isdir(folder)
            else "it is a folder"
            if os.path.isdir(path)
            else f"the folder {folder!r} is not writable"
            if not os.access(folder, os.W_OK | os.X_OK)
            else None
        )
        if problem is not None:
            raise ConfigurationError(f"dead_letter: cannot write {path!r}: {problem}")
        self.path = path
        self._tally = tally
        tally.dead_letter = path
        # made at the first chunk's end, so that a refused run leaves an earlier file
        # alone, and a finished one never leaves a stale one
        self._table = TableWriter(path, format)
        # a frame's chunks that ended before an earlier one, by their first position
        self._ended: dict[int, Chunk] = {}
        self._next = 0
        self._broken = False
        self._columns: list[Any] | None = None

    def check_columns(self, columns: pd.Index) -> None:
        """Refuse rows that have a column a dead letter adds (before anything is sent)."""
        clash = [name for name in DEAD_LETTER_COLUMNS if name in columns]
        if clash:
            raise ConfigurationError(
                f"dead_letter: the rows have a column {clash[0]!r}, which a dead letter "
                f"adds (with {', '.join(DEAD_LETTER_COLUMNS)}): rename it"
            )

    def chunk_done(self, chunk: Chunk) -> None:
        """A frame's chunk ended: write it, and the later ones that ended before it."""
        self._ended[chunk.start] = chunk
        while self._next in self._ended:
            ready = self._ended.pop(self._next)
            self.write(ready)
            self._next += len(ready.index)

    def flush(self, chunks: list[Chunk]) -> None:
        """The run stopped: write a frame's chunks not written yet (rows not_sent and all)."""
        for chunk in chunks:
            if chunk.start >= self._next:
                self.write(chunk)
        self._ended.clear()

    def write(self, chunk: Chunk) -> None:
        """The chunk's rows that are not ok, on disk before this returns."""
        if self._broken:
            return  # the run already ends with why
        rows = chunk.rows
        assert rows is not None, "a chunk keeps its rows for its dead letters"
        book = chunk.book
        positions = np.arange(chunk.start, chunk.start + len(rows))
        codes = book.status[positions]
        bad = np.flatnonzero(codes != OK)
        at = positions[bad]
        letters = self._in_columns(rows.iloc[bad].reset_index(drop=True))
        if self._table.format == "csv":
            letters = _as_sent(letters)
        http = book.http_status[at]
        letters["status"] = pd.array([STATUSES[code] for code in codes[bad]], dtype="string")
        letters["error"] = pd.array([book.errors.get(p) for p in at.tolist()], dtype="string")
        letters["http_status"] = pd.arrays.IntegerArray(http.astype(np.int16), http == 0)
        letters["trace"] = pd.array([book.traces.get(p) for p in at.tolist()], dtype="string")
        letters["attempts"] = pd.array(book.attempts[at], dtype="Int32")
        parquet_file = self._table.format == "parquet"
        try:
            # the first chunk's types: pyarrow refuses a column of mixed values here too
            schema = _parquet_schema(rows) if parquet_file and not self._table.opened else None
            self._table.write(letters, schema)
        except (OSError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            # pyarrow's errors are ValueError, TypeError and, for an int past int64 in an
            # object column, OverflowError; pandas' writers recurse into
            # nested values, which the policy rejects past MAX_NESTING but a row holds as
            # it was
            self._broken = True
            why = (
                "a value is nested too deeply to write" if isinstance(exc, RecursionError) else exc
            )
            raise ConfigurationError(
                f"cannot write the dead letters to {self.path}: {why}"
                + (
                    "; a Parquet column holds one type: write them to .jsonl"
                    if parquet_file
                    else ""
                )
            ) from exc
        self._tally.dead_letters += len(letters)
        chunk.rows = None

    def _in_columns(self, letters: pd.DataFrame) -> pd.DataFrame:
        """``letters`` in the file's columns. A CSV or Parquet file's are its first
        rows': a JSON Lines file's field that first appears after its first chunk is
        left out where no dead letter has it, else the letters are refused; so are
        letters that have a field of their own named as a column a dead letter adds
        (one that first appears after the first chunk, which :meth:`check_columns`
        could not see): it would be written over."""
        clash = [
            name
            for name in DEAD_LETTER_COLUMNS
            if name in letters.columns and not _all_absent(letters[name])
        ]
        if clash:
            self._broken = True
            raise ConfigurationError(
                f"cannot write the dead letters to {self.path}: rows of a later chunk "
                f"have the field {clash[0]!r}, which a dead letter adds (with "
                f"{', '.join(DEAD_LETTER_COLUMNS)}): rename it"
            )
        if self._columns is None or self._table.format == "jsonl":
            self._columns = letters.columns.tolist()
            return letters
        added = [name for name in letters.columns if name not in self._columns]
        held = [name for name in added if not _all_absent(letters[name])]
        if held:
            self._broken = True
            raise ConfigurationError(
                f"cannot write the dead letters to {self.path}: rows of a later chunk have "
                f"the field(s) {', '.join(map(repr, held))}, which the first had not, and "
                f"a {self._table.format} file's columns are its first rows': write them to "
                ".jsonl"
            )
        return letters.drop(columns=added) if added else letters

    def close(self) -> None:
        self._table.close()


def _all_absent(column: pd.Series) -> bool:
    absent = absent_rows(column)
    return len(column) == 0 or (absent is not None and bool(absent.all()))


def _parquet_schema(rows: pd.DataFrame) -> Any:
    """A Parquet dead-letter file's schema: the types from the whole first chunk (its
    rows not ok alone may all be null), then the dead-letter columns."""
    import pyarrow as pa

    schema = pa.Schema.from_pandas(absent_as_null(rows), preserve_index=False)
    kinds = [pa.string(), pa.string(), pa.int16(), pa.string(), pa.int32()]
    for name, kind in zip(DEAD_LETTER_COLUMNS, kinds, strict=True):
        schema = schema.append(pa.field(name, kind))
    return schema.remove_metadata()
