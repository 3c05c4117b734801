"""Files in and out, in chunks, with flat memory: CSV, TSV, JSON Lines and Parquet in,
a per-row status file out, and resuming a load that stopped half way.

A :class:`FileLoad` is a file as a run sees it: chunks to send (skipping the rows an
earlier load's status file says are done), and each chunk's status written in file
order as soon as its rows have all ended. Parquet needs pyarrow, which is an extra.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, cast

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError
from ._status import STATUS_COLUMNS, STATUSES, Chunk, StatusBook, StatusFrame, Tally

__all__ = ["FORMATS", "FileLoad", "file_format", "read_chunks"]

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
_COMPRESSED = (".gz", ".bz2", ".zst", ".xz")
# a status file is a status frame with each row's number in the file first
_STATUS_COLUMNS = ["row", *STATUS_COLUMNS]
logger = logging.getLogger("es_pandas")
_PARQUET_EXTRA = (
    'reading and writing Parquet needs pyarrow: pip install "eventstreams-pandas[parquet]"'
)


def _parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigurationError(_PARQUET_EXTRA) from None
    return pq


def _is_parquet(path: str) -> bool:
    return path.endswith((".parquet", ".pq"))


def file_format(path: str, format: str | None) -> Format:
    if format is not None:
        if format not in FORMATS:
            raise ConfigurationError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        return cast(Format, format)
    if path == "-":
        return "csv"
    suffixes = Path(path).suffixes
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    try:
        return cast(Format, _SUFFIXES[suffixes[-1].lower()])
    except (KeyError, IndexError):
        raise ConfigurationError(
            f"cannot tell the format of {path!r} from its name: pass format= (--format) "
            f"as one of {', '.join(FORMATS)}"
        ) from None


def count_rows(path: str, format: Format) -> int | None:
    """Rows in the file, for the progress bar's ETA; None when it cannot be known cheaply."""
    if path == "-":
        return None
    if format == "parquet":
        return int(_parquet().ParquetFile(path).metadata.num_rows)
    if Path(path).suffix in _COMPRESSED:
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


def read_chunks(path: str, format: Format, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The file as DataFrames of at most ``chunk_rows`` rows; never the whole file at once.

    Integer columns with gaps stay integers (nullable dtypes), so a value is written
    the same whatever chunk it falls in."""
    source: str | IO[bytes] = sys.stdin.buffer if path == "-" else path
    if format in ("csv", "tsv"):
        yield from pd.read_csv(
            source,
            sep="\t" if format == "tsv" else ",",
            chunksize=chunk_rows,
            dtype_backend="numpy_nullable",
        )
    elif format == "jsonl":
        yield from pd.read_json(
            source,
            lines=True,
            chunksize=chunk_rows,
            dtype_backend="numpy_nullable",
            precise_float=True,
        )
    else:
        for batch in _parquet().ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas(types_mapper=pd.ArrowDtype).convert_dtypes(
                dtype_backend="numpy_nullable"
            )


def _read_status(path: str) -> pd.DataFrame:
    """An earlier load's status file, by row, in a status frame's dtypes (a hand-made
    one may hold only row and status)."""
    try:
        if _is_parquet(path):
            frame = _parquet().read_table(path).to_pandas()
        else:
            frame = pd.read_csv(path, dtype={"status": "string", "error": "string"})
        frame = frame.set_index(frame["row"].astype("int64"))
        status = frame["status"].astype("string")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the status file {path!r}: {exc}") from None
    unknown = sorted(set(status.dropna()) - set(STATUSES))
    if unknown or status.isna().any():
        raise ConfigurationError(
            f"the status file {path!r} has rows whose status is not one of {', '.join(STATUSES)}"
        )
    frame = frame.reindex(columns=STATUS_COLUMNS)
    numbers = {"http_status": "Int16", "partition": "Int32", "offset": "Int64", "attempts": "Int32"}
    return pd.DataFrame(
        {
            "status": pd.Categorical(status, categories=list(STATUSES)),
            **{name: pd.to_numeric(frame[name]).astype(kind) for name, kind in numbers.items()},
            "timestamp": pd.to_datetime(frame["timestamp"], utc=True, errors="coerce"),
            "error": frame["error"].astype("string"),
            "latency_ms": pd.to_numeric(frame["latency_ms"]).astype("Float64"),
            "maybe_duplicate": frame["maybe_duplicate"].fillna(False).astype(bool),
        },
        index=frame.index,
    )[list(STATUS_COLUMNS)]


class StatusWriter:
    """Writes status rows as they come, so an interrupted load keeps what it did."""

    def __init__(self, path: str) -> None:
        if not path.endswith((".csv", ".parquet", ".pq")):
            raise ConfigurationError(f"status files are .csv or .parquet, not {path!r}")
        self.path = path
        self._temp = f"{path}.partial"
        self._writer: Any = None
        self._handle: IO[str] | None = None

    def write(self, status: pd.DataFrame) -> None:
        frame = status.reset_index(drop=True)
        frame.insert(0, "row", status.index.to_numpy(dtype=np.int64))
        frame = frame[_STATUS_COLUMNS]
        if _is_parquet(self.path):
            import pyarrow as pa

            table = pa.Table.from_pandas(frame.astype({"status": "string"}), preserve_index=False)
            if self._writer is None:
                self._writer = _parquet().ParquetWriter(self._temp, table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
        else:
            if self._handle is None:
                self._handle = open(self._temp, "w", newline="", encoding="utf-8")  # noqa: SIM115
                frame.iloc[:0].to_csv(self._handle, index=False)
            frame.to_csv(self._handle, index=False, header=False, quoting=csv.QUOTE_MINIMAL)
            self._handle.flush()

    def close(self) -> None:
        # Written under a temporary name and moved at the end, so the status file of
        # a previous load stays readable (it may be this load's --resume) until then.
        if self._writer is not None:
            self._writer.close()
        if self._handle is not None:
            self._handle.close()
        if self._writer is not None or self._handle is not None:
            os.replace(self._temp, self.path)


class FileLoad:
    """A file as one run sees it: chunks to send, rows carried from ``resume``, and
    each chunk's status emitted in file order once all its rows have ended."""

    def __init__(
        self,
        path: str,
        chunksize: int,
        tally: Tally,
        *,
        format: str | None = None,
        status_out: str | None = None,
        resume: str | None = None,
        retry_unknown: bool = False,
    ) -> None:
        self.path = path
        self.format = file_format(path, format)
        if self.format == "parquet" or (status_out and _is_parquet(status_out)):
            _parquet()
        self.name = "stdin" if path == "-" else Path(path).name
        self._chunksize = chunksize
        self._tally = tally
        self._writer = StatusWriter(status_out) if status_out else None
        #: called with each chunk and its status, in file order, once its rows have ended
        self.emit: Callable[[Chunk, StatusFrame], None] = self._write
        self._earlier = _read_status(resume) if resume else None
        earlier = (
            pd.Series([], dtype="string") if self._earlier is None else self._earlier["status"]
        )
        carry = ["ok"] if retry_unknown else ["ok", "unknown"]
        self._skip = np.sort(earlier.index[earlier.isin(carry)].to_numpy(dtype=np.int64))
        # Sent again, these rows may be in Kafka twice: the engine flags them.
        resend = earlier.index[earlier == "unknown"] if retry_unknown else earlier.index[:0]
        self._unknown = resend.to_numpy(dtype=np.int64)
        total = count_rows(path, self.format)
        self.total = None if total is None else total - int(np.count_nonzero(self._skip < total))
        self._pending: deque[Chunk] = deque()
        self._not_ok: list[pd.DataFrame] = []
        self._broken = False

    def chunks(self) -> tuple[pd.Index | None, Iterator[Chunk]]:
        """The file's columns (None for an empty file) and its chunks, read lazily."""
        frames = read_chunks(self.path, self.format, self._chunksize)
        first = next(frames, None)
        if first is None:
            return None, iter(())
        return first.columns, self._chunks(first, frames)

    def _chunks(self, first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[Chunk]:
        offset = 0
        for frame in itertools.chain([first], rest):
            rows = np.arange(offset, offset + len(frame), dtype=np.int64)
            offset += len(frame)
            frame.index = rows
            sending = ~np.isin(rows, self._skip, assume_unique=True)
            carried = None
            if self._earlier is not None and not sending.all():
                carried = self._earlier.loc[rows[~sending]]
                for status, count in carried["status"].value_counts().items():
                    self._tally.add(str(status), int(count))
                self._tally.carried += len(carried)
            frame = frame.loc[sending]
            resent = np.flatnonzero(np.isin(frame.index.to_numpy(), self._unknown))
            chunk = Chunk(
                frame,
                frame.index,
                StatusBook(len(frame), self._tally),
                resent=frozenset(resent.tolist()),
                carried=carried,
            )
            self._pending.append(chunk)
            yield chunk

    def chunk_done(self, chunk: Chunk) -> None:
        chunk.done = True
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
            not_ok = status[status["status"] != "ok"]
            if len(not_ok):
                self._not_ok.append(not_ok)

    def flush(self) -> None:
        """The run stopped: emit every chunk not emitted yet, ``not_sent`` rows and all,
        so the status file accounts for every row read."""
        for chunk in self._pending:
            chunk.done = True
        try:
            self._emit_ready()
        except Exception:
            # The run already ends with an error; these rows stay in problem_status.
            logger.exception("cannot write the status of %s", self.name)

    def problem_status(self) -> StatusFrame:
        """Every row read that is not ``ok`` (and every row whose status could not be
        written): what an exception ending the load is about."""
        frames = [*self._not_ok, *(chunk.status() for chunk in self._pending)]
        return StatusFrame(pd.concat(frames)) if frames else StatusBook(0).to_frame()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    def _write(self, chunk: Chunk, status: StatusFrame) -> None:
        if self._writer is not None:
            self._writer.write(status)
