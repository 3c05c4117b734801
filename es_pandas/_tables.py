"""A table of rows written to a CSV, JSON Lines or Parquet file chunk by chunk, as a run
goes: what status files and dead letters share.

Each chunk reaches the file (flushed) before :meth:`TableWriter.write` returns, so an
interrupted run leaves a CSV or JSON Lines file whole up to its last chunk; a Parquet
file is readable once closed. Closing puts a text file on disk (``fsync``).

A field a JSON Lines row lacked (:data:`._wire.values.ABSENT`) is left out of its line
in a JSON Lines file, so the row read back is the row read; a CSV file has an empty
field for it, a Parquet file a null.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import IO, Any, Literal

import numpy as np
import pandas as pd

from ._exceptions import ConfigurationError
from ._parquet import parquet
from ._wire.columns import absent_as_null, json_column
from ._wire.values import ABSENT, BAD_VALUE, json_text

__all__ = ["TableFormat", "TableWriter", "as_sent", "refuse_the_input", "table_format"]

TableFormat = Literal["csv", "jsonl", "parquet"]
_FORMATS: dict[str, TableFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def refuse_the_input(option: str, path: str, what: str, reading: str | None) -> None:
    """Refuse to write ``what`` to ``path`` when it is the file being sent (``reading``;
    "-" is stdin, unless a file of that name is there): it would be written over."""
    if reading is None or not (os.path.exists(path) and os.path.exists(reading)):
        return
    if os.path.samefile(path, reading):
        raise ConfigurationError(
            f"{option}: {path!r} is the file being sent; write the {what} to another file"
        )


def table_format(path: str) -> TableFormat | None:
    """The format of a file to write, by its extension; None for one of none of them."""
    return _FORMATS.get(os.path.splitext(path)[1].lower())


class TableWriter:
    """Appends frames of the same columns to ``path``, made (or emptied) at the first
    write."""

    def __init__(self, path: str, format: TableFormat) -> None:
        self.path = path
        self.format = format
        self._handle: IO[str] | None = None
        self._parquet: Any = None

    @property
    def opened(self) -> bool:
        return self._handle is not None or self._parquet is not None

    def write(self, frame: pd.DataFrame, schema: Any = None) -> None:
        """Append ``frame``'s rows. A Parquet file takes ``schema`` (a pyarrow.Schema;
        by default the first frame's) at the first write, and every frame in it."""
        if self.format != "jsonl":
            frame = absent_as_null(frame)
        if self.format == "parquet":
            import pyarrow as pa

            if self._parquet is None:
                if schema is None:
                    schema = pa.Schema.from_pandas(frame, preserve_index=False)
                self._parquet = parquet().ParquetWriter(self.path, schema)
            table = pa.Table.from_pandas(frame, schema=self._parquet.schema, preserve_index=False)
            self._parquet.write_table(table)
            return
        first = self._handle is None
        if self._handle is None:
            self._handle = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        if self.format == "csv":
            frame.to_csv(self._handle, index=False, header=first)
        elif len(frame):
            text = _json_lines(frame)
            self._handle.write(text if text.endswith("\n") else text + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()


def _json_lines(frame: pd.DataFrame) -> str:
    """``frame`` as JSON Lines, each float (at any depth) as the shortest text that
    reads back as it (``repr``), infinities as ``Infinity`` and ``-Infinity`` (as
    Python's json module and pandas' ``read_json`` read them), timestamps, dates, times
    and durations (at any depth) as the value policy sends them, and an absent field
    left out. pandas' ``to_json`` keeps 10 digits (``0.1 + 0.2`` -> ``0.3``), writes
    infinities as null, keeps milliseconds of a timestamp, in UTC, and writes a date as
    a timestamp: a dead letter sent again as it is would land changed."""
    token = uuid.uuid4().hex  # stands in for them: no value of the frame's holds it
    absent = f"{token}~"  # never a float's text
    marked = frame
    for at, (_, column) in enumerate(frame.items()):
        if column.dtype.kind in "mM":  # datetime64, tz-aware or not, and timedelta64
            new = as_sent(column)
        elif column.dtype.kind in "fO":
            values = column.to_numpy(dtype=object)
            new = [absent if value is ABSENT else _marked(value, token) for value in values]
            if all(after is before for after, before in zip(new, values, strict=True)):
                continue
        else:
            continue
        if marked is frame:
            marked = frame.copy(deep=False)
        marked.isetitem(at, pd.Series(new, dtype=object).to_numpy())
    text = marked.to_json(orient="records", lines=True, date_format="iso")
    if marked is frame:
        return text
    # Each line is one object: an absent member after another goes with the comma
    # before it, then one left first in its object with the comma after it.
    member = r'"(?:[^"\\]|\\.)*":"' + absent + '"'
    text = re.sub("," + member, "", text)
    text = re.sub(r"\{" + member + ",?", "{", text)
    return re.sub(f'"{token}([^"]*)"', r"\1", text)


def as_sent(column: pd.Series) -> list[object]:
    """Each value of ``column`` as the value policy sends it: a JSON string as its
    characters, other JSON as its text. A missing or absent value, and one the policy
    cannot send (its row was rejected saying so), stay as they are."""
    texts, problems, _ = json_column(column)
    values = column.to_numpy(dtype=object).tolist()
    return [
        value
        if i in problems or text in ("null", "")
        else json.loads(text)
        if text.startswith('"')
        else text
        for i, (value, text) in enumerate(zip(values, texts, strict=True))
    ]


# sent as base64 text: JSON has no bytes, and pandas' to_json decodes them as UTF-8
_BYTES = (bytes, bytearray, memoryview)


def _marked(value: object, token: str) -> object:
    """``value`` with each float in it, at any depth, as ``token`` and its text (NaN
    stays, as null), and each timestamp, date, time, duration or bytes as the value
    policy's text; ``value`` itself when it holds none."""
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return value if number != number else token + _float_text(number)
    if isinstance(value, (date, time, timedelta, np.datetime64, np.timedelta64, *_BYTES)):
        try:
            return json.loads(json_text(value))
        except BAD_VALUE:
            return value  # the policy cannot send it: its row was rejected saying so
    if isinstance(value, Mapping):
        items = {key: _marked(item, token) for key, item in value.items()}
        changed = any(items[key] is not item for key, item in value.items())
        return items if changed else value
    if isinstance(value, (list, tuple)) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "fO"
    ):
        inner = [_marked(item, token) for item in value]
        return inner if any(a is not b for a, b in zip(inner, value, strict=True)) else value
    return value


def _float_text(number: float) -> str:
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number)
