"""A file load's journal: what a crash (``kill -9``, the OOM killer, a power cut)
cannot take back.

While a load writes ``--status-out s.csv`` it also appends to ``s.csv.journal``: the
status of every row carried from an earlier load (ok or unknown: the others are sent
again), then, as the load goes, each row's outcome as it ends, and, before any row is
sent, a line saying how far into the file rows may be in flight. The line that covers
the rows about to go out reaches the disk (``fdatasync``) before the first of them is
sent, so whatever stops the process, a row sent is on disk as in flight or as its
outcome. It covers ``ahead`` rows, within the chunks that have begun to be sent (a
later chunk's rows are not encoded yet, so they cannot be in flight), so the cost is
one disk flush per ``ahead`` rows and one per chunk, not one per row. With
``record_id``, a chunk's record ids go out with the line that first covers its rows,
so a row in flight keeps the id it went with.

Read for ``--resume``, a row with an outcome has it; a row without one that is
covered by the in-flight line is ``unknown`` (it may have been written); a row past it
was never sent. A load that ends (even stopped, interrupted or failing) writes its
status file and removes the journal; a journal that is still there is the truth about
a load that died.

Lines, one per event (CSV, so an error text is quoted as in a status file)::

    es_pandas journal 1
    topic,<topic>                      the topic the load sends to (its first line)
    through,<row>                      rows up to <row> may have been sent
    hash,<row>,<fingerprint>           the row as read (see _reading.row_hashes)
    id,<row>,<record id>               the id the row's record is sent with
    <row>,<status>,<http_status>,<partition>,<offset>,<timestamp ms>,<attempts>,
        <latency_ms>,<maybe_duplicate 0|1>,<error>,<trace>

``trace`` is last so that a journal written before es_pandas kept it reads as rows
without one.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from collections import deque

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError
from ._status import NOT_SENT, OK, RECORD_ID, REJECTED, STATUSES, UNKNOWN, StatusBook

# macOS and Windows have no fdatasync: fsync writes the file's metadata too
_datasync = getattr(os, "fdatasync", os.fsync)

__all__ = [
    "IN_FLIGHT",
    "Journal",
    "check_no_journal",
    "journal_path",
    "read_journal",
]

_MAGIC = b"es_pandas journal 1\n"
_TOPIC = "topic"
_THROUGH = "through"
_HASH = "hash"
_ID = "id"
_FIELDS = [
    "row",
    "status",
    "http_status",
    "partition",
    "offset",
    "timestamp",
    "attempts",
    "latency_ms",
    "maybe_duplicate",
    "error",
    "trace",
]
IN_FLIGHT = (
    "in flight when the load stopped without a word (killed, or the machine went "
    "down): the record may have been written"
)
_NEEDS_QUOTES = frozenset(',"\r\n')
_NO_TIMESTAMP = int(np.iinfo(np.int64).min)


def journal_path(status_path: str) -> str:
    return f"{status_path}.journal"


def _quoted(text: str) -> str:
    if _NEEDS_QUOTES.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


class Journal:
    """Appends a load's row outcomes and in-flight marks to ``path``."""

    def __init__(self, path: str, topic: str, earlier: pd.DataFrame | None, ahead: int) -> None:
        self.path = path
        self._ahead = ahead
        # rows up to this one may be in flight: the last line that reached the disk
        self._through = -1
        self._lines: list[str] = []
        # (row, book, position) of rows ended since the last flush
        self._ended: list[tuple[int, StatusBook, int]] = []
        # (first row, rows, book) of the chunks handed over that have not begun to be
        # sent; the last row of those that have
        self._chunks: deque[tuple[int, np.ndarray, StatusBook]] = deque()
        self._begun = -1
        # a write that failed (a full disk): its line may be cut short, so nothing is
        # written after it, and no row goes out unrecorded
        self._broken: OSError | None = None
        # Written whole under another name, then moved: a journal being resumed stays
        # intact until this one holds everything it said.
        temp = f"{path}.new"
        try:
            with open(temp, "wb") as handle:
                handle.write(_MAGIC)
                handle.write(f"{_TOPIC},{_quoted(topic)}\n".encode())
                if earlier is not None and len(earlier):
                    handle.write(_earlier_lines(earlier).encode())
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temp)  # (a full disk: the load stops, saying so)
            raise
        os.replace(temp, path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)

    def sending(self, row: int) -> None:
        """``row`` is about to be sent: on disk as possibly in flight before it goes,
        with its record id.

        The outcomes recorded since the last mark go out with the next one: lost to a
        crash, their rows read as in flight, which is what they were until answered."""
        if self._broken is not None:
            raise self._error()
        if row > self._through:
            # A chunk with a row going out is encoded (so are those before it): its
            # rows may go out from now on, with the ids they have.
            while self._chunks and self._chunks[0][0] <= row:
                _, rows, book = self._chunks.popleft()
                self._begun = int(rows[-1])
                if book.record_ids is not None:
                    self._lines.append(_id_lines(rows, book))
            # (the row itself whatever: a mark that missed it would lose it to a crash)
            through = max(min(row + self._ahead, self._begun), row)
            self.flush()
            self._write(f"{_THROUGH},{through}\n")
            try:
                _datasync(self._fd)
            except OSError as exc:
                self._broken = exc
                raise self._error() from exc
            # taken as made only once on disk: the rows it covers go out unmarked
            self._through = through

    def hashes(self, hashes: pd.Series) -> None:
        """The fingerprints of rows just read, by row; on disk with the next flush."""
        self._lines.append(_hash_lines(hashes))

    def chunk(self, rows: np.ndarray, book: StatusBook) -> None:
        """The rows of a chunk to be sent, by position in ``book``, handed over in file
        order before any of them is sent."""
        if len(rows):
            self._chunks.append((int(rows[0]), rows, book))

    def ended(self, row: int, book: StatusBook, position: int) -> None:
        """``row`` ended, as ``book`` says at ``position``; on disk with the next flush."""
        self._ended.append((row, book, position))

    def flush(self) -> None:
        if self._broken is not None:
            return  # the rows not written read as in flight, or as never sent
        if self._ended:
            # read from the books in one go per book: a row's outcome is final once ended
            for book, group in itertools.groupby(self._ended, key=lambda ended: ended[1]):
                self._lines.append(_outcome_lines(book, list(group)))
            self._ended.clear()
        if self._lines:
            text = "".join(self._lines)
            self._lines.clear()
            self._write(text)

    def _write(self, text: str) -> None:
        data = text.encode()
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            self._broken = exc
            raise self._error() from exc

    def _error(self) -> OSError:
        """The failed write, naming the journal: a load's other files may fail alike."""
        assert self._broken is not None
        return OSError(self._broken.errno, self._broken.strerror, self.path)

    def close(self, *, finished: bool) -> None:
        """Stop writing; a ``finished`` load's status file says it all, so the journal
        goes."""
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1
        if finished:
            os.remove(self.path)


def _outcome_lines(book: StatusBook, ended: list[tuple[int, StatusBook, int]]) -> str:
    positions = np.fromiter((position for _, _, position in ended), np.int64, len(ended))
    columns = zip(
        [row for row, _, _ in ended],
        positions.tolist(),
        book.status[positions].tolist(),
        book.http_status[positions].tolist(),
        book.partition[positions].tolist(),
        book.offset[positions].tolist(),
        book.timestamp[positions].tolist(),
        book.attempts[positions].tolist(),
        (book.latency[positions] * 1000).round(3).tolist(),
        book.maybe_duplicate[positions].astype(np.int8).tolist(),
        strict=True,
    )
    lines = []
    for row, position, status, http, partition, offset, stamp, tries, latency, dup in columns:
        if status == NOT_SENT:
            continue
        error, trace = book.errors.get(position), book.traces.get(position)
        lines.append(
            f"{row},{STATUSES[status]},{http or ''},{partition if partition >= 0 else ''},"
            f"{offset if offset >= 0 else ''},{stamp if stamp != _NO_TIMESTAMP else ''},"
            f"{tries},{'' if latency != latency else latency},{dup},"
            f"{'' if error is None else _quoted(error)},"
            f"{'' if trace is None else _quoted(trace)}\n"
        )
    return "".join(lines)


def _earlier_lines(earlier: pd.DataFrame) -> str:
    """The rows of an earlier load's status that this load carries, as journal lines:
    those that may be in Kafka (ok, unknown)."""
    # The others are sent again. An earlier line saying failed would outlive a crash
    # with the row in flight, and the row be sent once more, unflagged.
    earlier = earlier[earlier["status"].isin([STATUSES[OK], STATUSES[UNKNOWN]])]
    stamps = earlier["timestamp"]
    milliseconds = stamps.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "row": earlier.index,
            "status": earlier["status"].astype("string"),
            "http_status": earlier["http_status"],
            "partition": earlier["partition"],
            "offset": earlier["offset"],
            "timestamp": pd.arrays.IntegerArray(milliseconds, stamps.isna().to_numpy()),
            "attempts": earlier["attempts"],
            "latency_ms": earlier["latency_ms"],
            "maybe_duplicate": earlier["maybe_duplicate"].astype(int),
            "error": earlier["error"],
            "trace": earlier["trace"],
        }
    )
    out = io.StringIO()
    frame.to_csv(out, index=False, header=False, lineterminator="\n")
    lines = out.getvalue() + _hash_lines(earlier["row_hash"].dropna())
    if RECORD_ID in earlier:
        ids = earlier[RECORD_ID].dropna()
        lines += _texts(_ID, ids.index.tolist(), ids.tolist())
    return lines


def _whole_lines(data: bytes, start: int) -> int:
    """Where the last whole line of ``data`` from ``start`` ends: a line break in a
    quoted field (a record id's, an error's) ends none, and its field's opening quote
    leaves the quotes before it odd (a quote in a field is doubled)."""
    end = data.rfind(b"\n") + 1
    quotes = data.count(b'"', start, end)
    while quotes % 2 and end > start:
        at = max(data.rfind(b"\n", start, end - 1) + 1, start)
        quotes -= data.count(b'"', at, end)
        end = at
    return max(end, start)


def _hash_lines(hashes: pd.Series) -> str:
    return _texts(_HASH, hashes.index.tolist(), hashes.tolist())


def _id_lines(rows: np.ndarray, book: StatusBook) -> str:
    """The record ids of a chunk's rows (``rows`` by position in ``book``)."""
    ids = book.record_ids
    assert ids is not None
    at = np.fromiter(ids, np.intp, len(ids))
    return _texts(_ID, rows[at].tolist(), list(ids.values()))


def _texts(kind: str, rows: list[int], texts: list[str]) -> str:
    """``kind,row,text`` lines."""
    # Checked for quotes in one go: fingerprints and hash ids never need them, a
    # column's ids seldom, and checking each text would cost more than writing it.
    if any(char in "".join(texts) for char in _NEEDS_QUOTES):
        texts = [_quoted(text) for text in texts]
    return "".join([f"{kind},{row},{text}\n" for row, text in zip(rows, texts, strict=True)])


def read_journal(path: str) -> pd.DataFrame:
    """A dead load's journal as a status file reads (columns ``row`` and the status
    columns): the rows it recorded, and ``unknown`` for those it may have sent."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the journal {path!r}: {exc}") from None
    if not data.startswith(_MAGIC):
        raise ConfigurationError(f"{path!r} is not an es_pandas journal")
    # A line cut short by the crash (or a full disk) was never acted on: only whole
    # lines count.
    body = data[len(_MAGIC) : _whole_lines(data, len(_MAGIC))]
    lines = pd.read_csv(
        io.BytesIO(body),
        header=None,
        names=_FIELDS,
        # as text: what a field holds depends on the line's kind
        dtype=str,
        keep_default_na=False,
        na_values={name: [""] for name in _FIELDS if name not in ("error", "trace")},
    )
    marks = lines["row"] == _THROUGH
    through = int(pd.to_numeric(lines.loc[marks, "status"]).max()) if marks.any() else -1
    fingerprints, ids, topics = lines["row"] == _HASH, lines["row"] == _ID, lines["row"] == _TOPIC
    rows = lines.loc[~(marks | fingerprints | ids | topics)].copy()
    rows["row"] = rows["row"].astype("int64")
    # a row's last line is its outcome (an earlier load's line, then this one's)
    rows = rows.drop_duplicates("row", keep="last").set_index("row")
    unseen = np.setdiff1d(np.arange(through + 1, dtype=np.int64), rows.index.to_numpy())
    in_flight = pd.DataFrame(
        {"status": STATUSES[UNKNOWN], "error": IN_FLIGHT},
        index=pd.Index(unseen, name="row"),
    )
    frame = pd.concat([rows, in_flight]).sort_index()
    frame[["error", "trace"]] = frame[["error", "trace"]].replace("", pd.NA)
    numbers = ["http_status", "partition", "offset", "timestamp", "attempts", "latency_ms"]
    frame[numbers] = frame[numbers].apply(pd.to_numeric)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    frame["maybe_duplicate"] = frame["maybe_duplicate"].fillna("0").astype(int).astype(bool)
    frame["row_hash"] = _by_row(lines.loc[fingerprints], frame.index)
    frame[RECORD_ID] = _by_row(lines.loc[ids], frame.index)
    # (journals of loads before es_pandas wrote it have none)
    frame["topic"] = lines.loc[topics, "status"].iloc[0] if topics.any() else pd.NA
    # sent again and rejected this time: never sent, so with no id (an earlier one's
    # may be written before)
    frame.loc[frame["status"] == STATUSES[REJECTED], RECORD_ID] = pd.NA
    return frame.reset_index()


def _by_row(lines: pd.DataFrame, index: pd.Index) -> pd.Series:
    """The text of ``row,text`` lines (``hash`` or ``id``), the last one of each row,
    for the rows of ``index``."""
    texts = pd.Series(
        lines["http_status"].to_numpy(), index=lines["status"].astype("int64").to_numpy()
    )
    return texts[~texts.index.duplicated(keep="last")].reindex(index).astype("string")


def check_no_journal(status_out: str, resume: str | None) -> None:
    """Refuse to start a load over the journal of one that died, unless resuming it."""
    path = journal_path(status_out)
    resuming = resume is not None and os.path.abspath(resume) == os.path.abspath(status_out)
    if os.path.exists(path) and not resuming:
        raise ConfigurationError(
            f"{path} is the journal of an earlier load into {status_out} that stopped "
            f"without finishing (killed, or the machine went down): resume it with "
            f"resume={status_out!r} (--resume {status_out}), or remove the journal to "
            "start over"
        )
