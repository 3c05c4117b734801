"""Loading files into a topic in chunks, with flat memory: CSV, TSV, JSON Lines and
Parquet in, a per-row status file out, and resuming a load that stopped half way.

:func:`produce_file` is the Python twin of ``es-pandas produce``.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError, ProduceInterrupted
from ._producer import Session, run_blocking
from ._status import STATUS_COLUMNS, StatusBook, Summary

__all__ = ["FORMATS", "count_rows", "produce_file", "read_chunks"]

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
# a status file is a status frame with each row's number in the file first
_STATUS_COLUMNS = ["row", *STATUS_COLUMNS]


def file_format(path: str, format: str | None) -> Format:
    if format is not None:
        if format not in FORMATS:
            raise ConfigurationError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
        return format  # type: ignore[return-value]
    if path == "-":
        return "csv"
    suffixes = Path(path).suffixes
    suffix = (
        suffixes[-2]
        if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst", ".xz")
        else (suffixes[-1] if suffixes else "")
    )
    try:
        return _SUFFIXES[suffix.lower()]  # type: ignore[return-value]
    except KeyError:
        raise ConfigurationError(
            f"cannot tell the format of {path!r} from its name: pass format= (--format) "
            f"as one of {', '.join(FORMATS)}"
        ) from None


def count_rows(path: str, format: Format) -> int | None:
    """Rows in the file, for the progress bar's ETA; None when it cannot be known cheaply."""
    if path == "-":
        return None
    if format == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if Path(path).suffix in (".gz", ".bz2", ".zst", ".xz"):
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
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(source).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas(types_mapper=pd.ArrowDtype).convert_dtypes(
                dtype_backend="numpy_nullable"
            )


def load_resume(path: str) -> pd.Series:
    """Each row's status in an earlier load's status file, by row number."""
    try:
        done = _read_status(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"cannot read the status file {path!r}: {exc}") from None
    return done.set_index("row")["status"].astype(str)


def _read_status(path: str) -> pd.DataFrame:
    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=["row", "status"])
    return pd.read_csv(path, usecols=["row", "status"], dtype={"row": "int64", "status": "string"})


class StatusWriter:
    """Writes status rows as they come, so an interrupted load keeps what it did."""

    def __init__(self, path: str) -> None:
        if not path.endswith((".csv", ".parquet", ".pq")):
            raise ConfigurationError(f"status files are .csv or .parquet, not {path!r}")
        self.path = path
        self._parquet = path.endswith((".parquet", ".pq"))
        self._temp = f"{path}.partial"
        self._writer: Any = None
        self._handle: IO[str] | None = None

    def write(self, status: pd.DataFrame) -> None:
        frame = status.reset_index(drop=True)
        frame.insert(0, "row", status.index.to_numpy(dtype=np.int64))
        frame = frame[_STATUS_COLUMNS]
        if self._parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame.astype({"status": "string"}), preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._temp, table.schema)
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


def _carried(rows: np.ndarray, previous: pd.DataFrame | None) -> pd.DataFrame | None:
    if previous is None or not len(rows):
        return None
    return previous.loc[previous.index.isin(rows)]


def produce_file(
    path: str | os.PathLike[str],
    topic: str,
    *,
    format: Format | None = None,
    status_out: str | None = None,
    resume: str | None = None,
    retry_unknown: bool = False,
    **options: Any,
) -> Summary:
    """Send every row of a CSV, TSV, JSON Lines or Parquet file (``"-"``: CSV on stdin)
    as one record, reading ``chunksize`` rows at a time.

    ``options`` are those of :meth:`DataFrame.es.produce` (``key_col``, ``url``,
    ``concurrency``, ...). ``status_out`` (.csv or .parquet) gets one status row per
    file row, numbered from 0 in ``row``. ``resume`` is such a file from an earlier
    load: its ``ok`` rows are not sent again, nor its ``unknown`` ones unless
    ``retry_unknown`` (they may be in Kafka already), and their status rows are
    carried into ``status_out``. Returns the run's :class:`Summary`.
    """
    from ._accessor import prepare_run

    path = os.fspath(path)
    fmt = file_format(path, format)
    earlier = load_resume(resume) if resume else pd.Series([], dtype=str)
    carry = {"ok"} if retry_unknown else {"ok", "unknown"}
    skip = np.sort(earlier.index[earlier.isin(carry)].to_numpy(dtype=np.int64))
    # Rows sent again after an unknown outcome may now be in Kafka twice.
    resent_unknown = earlier.index[earlier == "unknown"] if retry_unknown else None
    previous = _previous_status(resume) if resume and status_out else None
    producer, options_, make_encoder = prepare_run(topic, options)
    writer = StatusWriter(status_out) if status_out else None
    total = count_rows(path, fmt)
    if total is not None:
        total -= int(np.count_nonzero(skip < total))
    name = "stdin" if path == "-" else Path(path).name
    session = Session(producer, options_, total, f"{name} -> {topic}")
    carried: dict[str, int] = {}
    state: dict[str, Any] = {}

    async def load() -> None:
        async with session:
            offset = 0
            encoder = None
            for chunk in read_chunks(path, fmt, options_.chunksize):
                rows = np.arange(offset, offset + len(chunk), dtype=np.int64)
                offset += len(chunk)
                chunk.index = rows
                sending = ~np.isin(rows, skip, assume_unique=True)
                for status in earlier.reindex(rows[~sending]):
                    carried[status] = carried.get(status, 0) + 1
                if writer is not None:
                    kept = _carried(rows[~sending], previous)
                    if kept is not None and len(kept):
                        writer.write(kept)
                chunk = chunk.loc[sending]
                if not len(chunk):
                    continue
                encoder = encoder or make_encoder(chunk)
                book = StatusBook(len(chunk))
                state["book"], state["index"] = book, chunk.index
                try:
                    await session.send(chunk, encoder, book)
                finally:
                    status_frame = book.to_frame(chunk.index)
                    if resent_unknown is not None:
                        again = status_frame.index.isin(resent_unknown)
                        status_frame.loc[
                            again & (status_frame["status"] == "ok"), "maybe_duplicate"
                        ] = True
                    if writer is not None:
                        writer.write(status_frame)

    def summary() -> Summary:
        run = session.summary()
        counts = {name: n + carried.get(name, 0) for name, n in run.counts.items()}
        return Summary(counts, run.elapsed, carried=sum(carried.values()))

    def on_interrupt() -> BaseException:
        # .status: the chunk that was being sent (earlier chunks are in status_out)
        book = state.get("book")
        status = book.to_frame(state["index"]) if book is not None else StatusBook(0).to_frame()
        interrupted = ProduceInterrupted(status)
        interrupted.summary = summary()
        return interrupted

    try:
        run_blocking(load(), on_interrupt)
    finally:
        if writer is not None:
            writer.close()
    return summary()


def _previous_status(path: str) -> pd.DataFrame:
    frame = (
        pd.read_parquet(path)
        if path.endswith((".parquet", ".pq"))
        else pd.read_csv(
            path, dtype={"status": "string", "error": "string"}, dtype_backend="numpy_nullable"
        )
    )
    # A hand-made status file may hold only row and status.
    return frame.set_index("row", drop=True).reindex(columns=_STATUS_COLUMNS[1:])
