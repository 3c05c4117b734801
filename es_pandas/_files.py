"""Files in and out, in chunks, with flat memory: CSV, TSV, JSON Lines and Parquet in,
a per-row status file out, and resuming a load that stopped half way.

A :class:`FileLoad` is a file as a run sees it: chunks to send (skipping the rows an
earlier load's status file says are done), and each chunk's status written in file
order as soon as its rows have all ended. Parquet needs pyarrow, which is an extra.

Over this project's ~400-line guide: reading a file and accounting for its rows
(status file, journal, resume) share the chunk they work on.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._column_types import ColumnTypes
from ._deadletters import DeadLetters
from ._exceptions import ConfigurationError
from ._formats import ReadOptions, file_format
from ._journal import Journal, check_no_journal, journal_path, read_journal
from ._parquet import parquet
from ._pipes import Pipe
from ._reading import FileReadError, count_rows, read_frames, row_hashes
from ._status import RECORD_ID, STATUS_COLUMNS, STATUSES, Chunk, StatusBook, StatusFrame, Tally
from ._tables import TableWriter, refuse_the_input, table_format
from ._wire.columns import absent_as_null

__all__ = ["FileLoad"]

# a status file is a status frame with each row's number in the file and the topic it
# went to first, and a fingerprint of the row last (so that a resumed load can tell it
# is the same file, and goes to the same topic)
_STATUS_COLUMNS = ["row", "topic", *STATUS_COLUMNS, "row_hash"]
logger = logging.getLogger("es_pandas")


#: a frame read from the file, and its rows that cannot be sent as they are, by
#: position, with why (see read_frames)
_Read = tuple[pd.DataFrame, dict[int, str]]


def _without(frame: pd.DataFrame, rows: dict[int, str]) -> pd.DataFrame:
    """``frame`` without the rows at the positions ``rows`` has."""
    return frame.drop(index=frame.index[list(rows)]) if rows else frame


def _same_path(one: str, other: str) -> bool:
    return os.path.abspath(one) == os.path.abspath(other)


def _is_parquet(path: str) -> bool:
    return table_format(path) == "parquet"


def _read_status(path: str) -> pd.DataFrame:
    """An earlier load's status file, by row, in a status frame's dtypes (a hand-made
    one may hold only row and status); its journal instead if the load died."""
    try:
        if os.path.exists(journal_path(path)):
            logger.warning("the load that wrote %s did not finish: resuming from its journal", path)
            frame = read_journal(journal_path(path))
        elif _is_parquet(path):
            frame = parquet().read_table(path).to_pandas()
        else:
            frame = pd.read_csv(
                path,
                dtype={name: "string" for name in ("status", "error", "trace", RECORD_ID)},
            )
        frame = frame.set_index(frame["row"].astype("int64"))
        status = frame["status"].astype("string")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the status file {path!r}: {exc}") from None
    unknown = sorted(set(status.dropna()) - set(STATUSES))
    if unknown or status.isna().any():
        raise ConfigurationError(
            f"the status file {path!r} has rows whose status is not one of {', '.join(STATUSES)}"
        )
    # record ids, where the load gave records ids, are carried with their rows
    ids = [RECORD_ID] if RECORD_ID in frame else []
    frame = frame.reindex(columns=["topic", *STATUS_COLUMNS, "row_hash", *ids])
    numbers: dict[str, Any] = {
        "http_status": "Int16",
        "partition": "Int32",
        "offset": "Int64",
        "attempts": "Int32",
    }
    try:
        return pd.DataFrame(
            {
                "status": pd.Categorical(status, categories=list(STATUSES)),
                **{name: pd.to_numeric(frame[name]).astype(kind) for name, kind in numbers.items()},
                # each value read by its own shape: files es_pandas wrote before it
                # wrote every timestamp alike change precision from chunk to chunk
                "timestamp": pd.to_datetime(
                    frame["timestamp"], utc=True, errors="coerce", format="ISO8601"
                ),
                "error": frame["error"].astype("string"),
                "trace": frame["trace"].astype("string"),
                "latency_ms": pd.to_numeric(frame["latency_ms"]).astype("Float64"),
                # a column the file lacks is all NaN, a float: pandas fills no bool into it
                "maybe_duplicate": frame["maybe_duplicate"].astype("boolean").fillna(False),
                "row_hash": frame["row_hash"].astype("string"),
                # (files of loads before es_pandas wrote it have none)
                "topic": frame["topic"].astype("string"),
                **{name: frame[name].astype("string") for name in ids},
            },
            index=frame.index,
        )[[*STATUS_COLUMNS, "row_hash", "topic", *ids]].astype({"maybe_duplicate": bool})
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the status file {path!r}: {exc}") from None


def _check_topic(path: str, written: pd.Series, topic: str) -> None:
    """Refuse the status file of a load to another topic: its ok rows are not in this one,
    and would be carried as if they were."""
    others = sorted(set(written.dropna()) - {topic})
    if others:
        raise ConfigurationError(
            f"the status file {path!r} is of a load to topic {others[0]!r}, not {topic!r}: "
            f"its ok rows are not in {topic!r}; resume= (--resume) takes the status file "
            "of an earlier load of this same file to this same topic"
        )


class StatusWriter:
    """Writes status rows as they come, so an interrupted load keeps what it did."""

    def __init__(self, path: str, topic: str, record_ids: bool = False) -> None:
        format = table_format(path)
        if format not in ("csv", "parquet"):
            raise ConfigurationError(f"status files are .csv or .parquet, not {path!r}")
        self.path = path
        self._topic = topic
        self._columns = [*_STATUS_COLUMNS, RECORD_ID] if record_ids else _STATUS_COLUMNS
        # Written under a temporary name and moved at the end, so the status file of
        # a previous load stays readable (it may be this load's --resume) until then.
        self._table = TableWriter(f"{path}.partial", format)

    def write(self, status: pd.DataFrame, hashes: pd.Series) -> None:
        frame = status.reset_index(drop=True)
        frame.insert(0, "row", status.index.to_numpy(dtype=np.int64))
        frame.insert(1, "topic", pd.Series(self._topic, index=frame.index, dtype="string"))
        frame["row_hash"] = hashes.reindex(status.index).astype("string").to_numpy()
        frame = frame[self._columns].astype({"status": "string"})
        if self._table.format == "csv":
            frame["timestamp"] = _timestamp_text(frame["timestamp"])
        self._table.write(frame)

    def close(self, *, whole: bool = True) -> None:
        """Put the status written in place; not ``whole`` (a write failed: a full
        disk), leave it as it is, under its temporary name, and the file there was in
        its place (the journal, kept, has every row of the load)."""
        if whole:
            self._table.close()
            if self.wrote:
                os.replace(self._table.path, self.path)
            return
        with contextlib.suppress(OSError):
            self._table.close()

    @property
    def wrote(self) -> bool:
        return self._table.opened


_TIMESTAMP_UNITS: tuple[Literal["ms", "us", "ns"], ...] = ("ms", "us", "ns")


def _timestamp_text(stamps: pd.Series) -> pd.Series:
    """UTC timestamps as a status CSV holds them (``2026-12-06 22:19:51.049+00:00``),
    to the millisecond as Kafka keeps them, finer only in a chunk where a value has
    more (one carried from a status file made by hand). Formatted by numpy: pandas'
    ``to_csv`` of this column cost more than the rest of the status file."""
    values = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    unit = next(
        unit
        for unit in _TIMESTAMP_UNITS
        if ((values.astype(f"datetime64[{unit}]") == values) | np.isnat(values)).all()
    )
    texts = np.datetime_as_string(values, unit=unit).tolist()
    return pd.Series(
        [None if text == "NaT" else text.replace("T", " ") + "+00:00" for text in texts],
        index=stamps.index,
        dtype="string",
    )


def _refuse_text_options(format: str, **given: object) -> None:
    """Options of reading text a JSON Lines or Parquet file would leave unused, refused
    rather than ignored: a dtype or a decimal mark that changes nothing would look as
    if it had."""
    if format in ("csv", "tsv"):
        return
    unused = [f"{name}=" for name, value in given.items() if value]
    if unused:
        names = " and ".join(unused)  # no commas: "sep=," would read as sep set to ","
        kept = (
            "a JSON Lines file's values keep their JSON types"
            if format == "jsonl"
            else "a Parquet file's columns keep their types"
        )
        raise ConfigurationError(
            f"{names} {'are options' if len(unused) > 1 else 'is an option'} of reading "
            f"CSV and TSV files: {kept}"
        )


class FileLoad:
    """A file as one run sees it: chunks to send, rows carried from ``resume``, and
    each chunk's status emitted in file order once all its rows have ended."""

    def __init__(
        self,
        path: str,
        chunksize: int,
        tally: Tally,
        *,
        key_col: Hashable | None = None,
        topic: str | None = None,
        format: str | None = None,
        encoding: str = "utf-8",
        sep: str | None = None,
        na_values: tuple[str, ...] = (),
        decimal: str = ".",
        thousands: str | None = None,
        dtype: Mapping[str, str] | None = None,
        infer_types: bool = False,
        status_out: str | None = None,
        resume: str | None = None,
        retry_unknown: bool = False,
        record_ids: bool = False,
        in_flight: int = 32,
        dead_letter: str | None = None,
    ) -> None:
        self.path = path
        self.format = file_format(path, format)
        _refuse_text_options(
            self.format,
            sep=sep,
            na_values=na_values,
            decimal=decimal != "." and decimal,
            thousands=thousands,
            dtype=dtype,
            infer_types=infer_types,
            encoding=self.format == "parquet" and encoding != "utf-8" and encoding,
        )
        if self.format == "parquet" or (status_out and _is_parquet(status_out)):
            parquet()
        self._read = ReadOptions(
            self.format,
            encoding,
            sep,
            na_values,
            dtype or {},
            infer_types,
            key_col,
            decimal,
            thousands,
        )
        # Only text files have their columns' types decided here.
        self._types = ColumnTypes(self._read) if self.format in ("csv", "tsv") else None
        self.name = "stdin" if path == "-" else Path(path).name
        self._chunksize = chunksize
        self._tally = tally
        if status_out:
            refuse_the_input("status_out", status_out, "status", path)
            check_no_journal(status_out, resume)
        self._record_ids = record_ids
        self._status_columns = [*STATUS_COLUMNS, *([RECORD_ID] if record_ids else [])]
        if dead_letter and status_out and _same_path(dead_letter, status_out):
            raise ConfigurationError(
                "dead_letter and status_out are one file: give them a file each"
            )
        self._dead = DeadLetters(dead_letter, tally, reading=path) if dead_letter else None
        self._topic = topic
        self._writer = StatusWriter(status_out, self._to(), record_ids) if status_out else None
        #: called with each chunk and its status, in file order, once its rows have ended
        self.emit: Callable[[Chunk, StatusFrame], None] = self._write
        self._earlier = _read_status(resume) if resume else None
        if self._earlier is not None and topic is not None:
            _check_topic(resume or "", self._earlier["topic"], topic)
        self._earlier_rows = 0 if self._earlier is None else len(self._earlier)
        earlier = (
            pd.Series([], dtype="string") if self._earlier is None else self._earlier["status"]
        )
        carry = ["ok"] if retry_unknown else ["ok", "unknown"]
        self._skip = np.sort(earlier.index[earlier.isin(carry)].to_numpy(dtype=np.int64))
        # Sent again, these rows may be in Kafka twice: the engine flags them.
        resend = earlier.index[earlier == "unknown"] if retry_unknown else earlier.index[:0]
        self._unknown = resend.to_numpy(dtype=np.int64)
        if self._earlier is not None and len(self._earlier) and self._lines is not None:
            last, lines = int(self._earlier.index.max()), self._lines
            if last >= lines:
                raise ConfigurationError(
                    f"the status file {resume!r} has a row {last:,}, but {self.name} has "
                    f"{lines:,} rows: it is the status of another file; resume= (--resume) "
                    "takes the status file of an earlier load of this same file"
                )
        #: what a crash cannot take back (with a status file only); made last, once
        #: nothing here can refuse the load
        try:
            self.journal = (
                # a few times the requests in flight between two disk flushes
                Journal(journal_path(status_out), self._to(), self._earlier, ahead=4 * in_flight)
                if status_out
                else None
            )
        except OSError as exc:
            # the journal is the first file written beside the status file
            raise ConfigurationError(
                f"status_out: cannot write {status_out!r} (nor its journal beside it): "
                f"{exc.strerror or exc}"
            ) from exc
        self._first: _Read | None = None
        self._pending: deque[Chunk] = deque()
        self._not_ok: list[pd.DataFrame] = []
        self._broken = False
        # how far the file was read, and whether to its end
        self._read_to = 0
        # the rows before it are in the status file
        self._emitted_to = 0
        self._read_all = False
        self._pipe: Pipe | None = None

    def _to(self) -> str:
        """The topic of a load that writes a status file (a produce run's: a schema's
        load has none)."""
        assert self._topic is not None
        return self._topic

    def open(self) -> None:
        """Open the file if it is a pipe, FIFO or terminal (a file is opened as it is
        read): on the caller's thread, before the run's, as opening a FIFO waits for
        its writer and Ctrl-C ends that wait only on the main thread."""
        self._pipe = Pipe.open(self.path, self.format)

    def interrupt(self) -> None:
        """End a read of the pipe that waits for its writer, from any thread: the
        run's reads raise InputInterrupted from now on."""
        if self._pipe is not None:
            self._pipe.interrupt()

    @functools.cached_property
    def _lines(self) -> int | None:
        # counted when first asked for (a load's progress bar, a resume's check), not
        # for a look at the first chunk alone (es-pandas schema)
        return count_rows(self.path, self.format)

    @property
    def read_through(self) -> bool:
        """Whether every row of the file was read (the reader may not have noticed the
        end yet; the line count, an upper bound on the rows, shows it)."""
        return self._read_all or (self._lines is not None and self._read_to >= self._lines)

    @functools.cached_property
    def total(self) -> int | None:
        """The rows to send (those carried from ``resume`` left out); None when the
        file cannot tell cheaply (stdin, compressed)."""
        lines = self._lines
        return None if lines is None else lines - int(np.count_nonzero(self._skip < lines))

    def chunks(self) -> tuple[pd.Series | None, Iterator[Chunk]]:
        """The dtypes of the file's columns as its first chunk has them (None for a
        JSON Lines file of no lines), and its chunks, read lazily. :meth:`open` first."""
        frames = read_frames(self.path, self._read, self._chunksize, self.name, self._pipe)
        try:
            read = next(frames, None)
        except FileReadError as exc:
            raise FileReadError(f"{exc}; nothing was sent") from None
        if read is None:
            self._read_all = True
            return None, iter(())
        first, short = read
        if self._types is not None:
            # from the whole first chunk, rows carried from resume included, so that a
            # resumed load reads the file as the first one did; but for the rows short
            # of fields, whose padding is not in the file
            self._types.decide(_without(first, short))
        if self._dead is not None:
            self._dead.check_columns(first.columns)
        # Another file's status is refused here, before the run starts.
        first_hashes = self._fingerprints(first, 0)
        self._first = first, short
        return first.dtypes, self._chunks(read, first_hashes, self._hinted(frames))

    def sample(self) -> pd.DataFrame:
        """The file's first chunk, every row of it (those carried from ``resume`` too,
        so that a resumed load infers what the first did) but those short of fields,
        its columns typed as they are sent: what an Avro schema for the whole file is
        inferred from. Only until the second chunk is read."""
        assert self._first is not None, "the first chunk is gone"
        frame = _without(*self._first).copy()
        if self._types is not None:
            self._types.apply(frame)  # a value that does not fit is null here
        # an absent JSON Lines field is null to an Avro schema
        return absent_as_null(frame)

    def _hinted(self, frames: Iterator[_Read]) -> Iterator[_Read]:
        """``frames``, a read error saying how to go on from it."""
        try:
            yield from frames
        except FileReadError as exc:
            if self._writer is not None:
                hint = (
                    f"the status of every row before it is in {self._writer.path}: fix "
                    "the file, then load it again with resume= (--resume) that file"
                )
            else:
                hint = (
                    "with status_out= (--status-out) the rows before it are recorded, "
                    "and resume= (--resume) sends only the rest"
                )
            raise FileReadError(f"{exc}; {hint}") from None

    def _fingerprints(self, frame: pd.DataFrame, offset: int) -> pd.Series:
        """Number the rows of ``frame`` from ``offset`` in the file, and fingerprint
        them, refusing rows that are not those the earlier load recorded."""
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        hashes = row_hashes(frame)
        if self._earlier is not None:
            self._same_rows(hashes)
        if self.journal is not None:
            self.journal.hashes(hashes)
        return hashes

    def _chunks(
        self, first: _Read, first_hashes: pd.Series, rest: Iterator[_Read]
    ) -> Iterator[Chunk]:
        self._read_to = 0
        for frame, short in itertools.chain([first], rest):
            offset = self._read_to
            rows = np.arange(offset, offset + len(frame), dtype=np.int64)
            # read once taken: rows refused as not the earlier load's are not (the
            # summary says the load stopped before them)
            hashes = first_hashes if offset == 0 else self._fingerprints(frame, offset)
            self._read_to += len(frame)
            if len(frame) < self._chunksize and self.format != "parquet":
                # the file's last rows (see read_frames): none is left unread, though
                # the reader has not said so yet (it would wait for a pipe's writer)
                self._read_all = True
            sending = ~np.isin(rows, self._skip, assume_unique=True)
            carried = None
            if self._earlier is not None and not sending.all():
                carried = self._carried(rows[~sending])
                for status, count in carried["status"].value_counts().items():
                    self._tally.add(str(status), int(count))
                self._tally.carried += len(carried)
                self._tally.maybe_duplicates += int(carried["maybe_duplicate"].sum())
            frame = frame.loc[sending]
            # as read: the types given below turn a value that does not fit into null
            as_read = (
                None if self._dead is None else frame.copy() if self._types is not None else frame
            )
            problems = {} if self._types is None else self._types.apply(frame)
            if short:
                # by position among the rows sent; a row short of fields is that first
                # (its padding does not fit a typed column either)
                sent = np.cumsum(sending) - 1
                problems |= {int(sent[at]): why for at, why in short.items() if sending[at]}
            resent = np.flatnonzero(np.isin(frame.index.to_numpy(), self._unknown))
            chunk = Chunk(
                frame,
                frame.index,
                StatusBook(len(frame), self._tally, self._record_ids),
                resent=frozenset(resent.tolist()),
                carried=carried,
                problems=problems,
                journal=self.journal,
                hashes=hashes,
                rows=as_read,
            )
            if self.journal is not None:
                self.journal.chunk(frame.index.to_numpy(), chunk.book)
            self._pending.append(chunk)
            yield chunk
            self._first = None  # a run infers its schema before its first chunk goes
        self._read_all = True

    def _carried(self, rows: np.ndarray) -> pd.DataFrame:
        """The earlier load's status of ``rows``, with their record ids when this load
        gives ids (none where that load gave none)."""
        assert self._earlier is not None
        carried = self._earlier.loc[rows].reindex(columns=self._status_columns)
        return carried.astype({RECORD_ID: "string"}) if self._record_ids else carried

    def _same_rows(self, hashes: pd.Series) -> None:
        """Refuse to go on when a row carried from the earlier load is not the one it
        recorded (rows sent again may have changed: fixing them is why one resumes)."""
        assert self._earlier is not None
        carried = hashes.index[np.isin(hashes.index.to_numpy(), self._skip)]
        earlier = self._earlier["row_hash"].reindex(carried).dropna()
        differ = earlier.index[earlier.to_numpy() != hashes.loc[earlier.index].to_numpy()]
        if len(differ):
            raise ConfigurationError(
                f"row {differ[0]:,} of {self.name} is not the row the earlier load's status "
                "file recorded: the file changed, or that status file is another file's "
                "(or this one was read with other options); resume= (--resume) takes the "
                "status file of an earlier load of this same file"
            )

    def chunk_done(self, chunk: Chunk) -> None:
        chunk.done = True
        if self.journal is not None:
            # the load's last rows have no later send to carry their outcomes out
            self.journal.flush()
        self._emit_ready()

    def _emit_ready(self) -> None:
        # A chunk leaves the queue only once emitted: if writing fails (a full disk),
        # its rows are still accounted for, in problem_status.
        while self._pending and self._pending[0].done and not self._broken:
            chunk = self._pending[0]
            status = chunk.status()
            try:
                self.emit(chunk, status)
            except BaseException:
                self._broken = True  # the same write would fail again at the end
                raise
            self._pending.popleft()
            if len(status):
                self._emitted_to = int(status.index.max()) + 1
            not_ok = status[status["status"] != "ok"]
            if len(not_ok):
                self._not_ok.append(not_ok)

    def flush(self) -> None:
        """The run stopped: emit every chunk not emitted yet, ``not_sent`` rows and all,
        so the status file accounts for every row read, and say where reading stopped."""
        if not self.read_through:
            self._tally.unread_from = self._read_to
        for chunk in self._pending:
            chunk.done = True
        try:
            self._emit_ready()
            self._keep_the_rest()
        except Exception:
            # The run already ends with an error; these rows stay in problem_status.
            # The status file lacks rows the journal has: it stays the truth.
            self._broken = True
            logger.exception("cannot write the status of %s", self.name)

    def _keep_the_rest(self) -> None:
        """Write the earlier load's status of the rows this one stopped before: left
        out, its ok rows would be sent again by the next resume of the status file."""
        if self._writer is None or self._earlier is None or self._broken or self._read_all:
            return
        if not self._writer.wrote:
            return  # the earlier status file stays as it is (or a dry run writes none)
        rows = self._earlier.index.to_numpy(dtype=np.int64)
        rows = np.sort(rows[rows >= self._emitted_to])
        if len(rows):
            self._writer.write(self._carried(rows), self._earlier["row_hash"])

    def problem_status(self) -> StatusFrame:
        """Every row read that is not ``ok`` (and every row whose status could not be
        written): what an exception ending the load is about."""
        frames = [*self._not_ok, *(chunk.status() for chunk in self._pending)]
        return StatusFrame(pd.concat(frames)) if frames else StatusBook(0).to_frame()

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        finished = False
        try:
            if self._dead is not None:
                self._dead.close()
            if self._writer is not None:
                self._writer.close(whole=not self._broken)
                # The status file now says all the journal said, unless nothing was
                # written (the load was refused at its first row): the journal, which
                # holds the earlier load's rows, stays the truth then.
                finished = (
                    not self._broken
                    and not self._pending
                    and (self._writer.wrote or not self._earlier_rows)
                )
        finally:
            if self.journal is not None:
                self.journal.close(finished=finished)

    def _write(self, chunk: Chunk, status: StatusFrame) -> None:
        if self._writer is not None:
            assert chunk.hashes is not None
            self._writer.write(status, chunk.hashes)
        if self._dead is not None:
            self._dead.write(chunk)
