"""Parquet files as frames: each column's pandas dtype is decided once, from the file's
schema, so that each value goes out as the value policy sends its Arrow type, whatever
chunk (record batch) it is in and whatever else that chunk holds.

=============================  ==========================  ================================
Arrow type                     pandas dtype                sent as (JSON)
=============================  ==========================  ================================
int8 ... int64, uint8 ... 64   Int8 ... UInt64 (nullable)  ints, never floats; null
float16, float32, float64      float16, float32, float64   shortest repr; NaN and null: null
bool (and the bool8 ext.)      boolean                     true, false, null
string, large_string, view,    str                         the string
json extension
binary, large, fixed, view     object: bytes               base64 (a key: the bytes)
timestamp[unit, tz]            datetime64[unit, tz]        ISO 8601, naive or own offset
date32, date64                 object: date                ``2024-01-02``
time32, time64                 object: time                ``01:02:03.000004``, ns kept
duration[unit]                 timedelta64[unit]           ISO 8601 duration
decimal32 ... decimal256       object: Decimal             string ``"1.10"``
list (all kinds), struct, map  object: list, dict, pairs   JSON, the same policy inside
dictionary<string or binary>   category                    the values
dictionary<other>              as its value type           as its value type
null                           object: None                null
uuid extension                 object: UUID                string
=============================  ==========================  ================================

pandas' own conversion is not used for ints (a null makes the chunk's column float),
bools (object when null), times with nanoseconds (it raises) and nested values (ints
inside a list or struct become floats when a null is beside them, and nanoseconds of a
time inside are dropped), nor for dates (it stops at the first after 9999). A type the
policy cannot send faithfully (another extension type; time64[ns] inside a list, struct
or map; a struct with two fields of one name) stays Arrow-backed (``pd.ArrowDtype``), and
such a column, if it is sent, is refused before a run by :func:`.columns.unsendable`,
naming the column and its Arrow type.

A value Python cannot hold (a date after 9999, a timestamp after 9999 inside a list)
rejects its row alone, saying so (see :func:`.columns.python_values`), where pyarrow
would refuse the whole chunk for it.

Columns that pandas wrote for a frame's unnamed index (``__index_level_0__`` ...) are
not read: they are row labels, which ``pd.read_parquet`` makes the index. A named index
level is read as an ordinary column, in the file's column order: it is data its writer
named (often the key, ``df.set_index("order_id")``), and a file load has no index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import time
from typing import IO, Any

import pandas as pd

from ._exceptions import ConfigurationError
from ._wire.columns import python_values, unsendable

__all__ = ["parquet", "parquet_frames"]

_PARQUET_EXTRA = (
    'reading and writing Parquet needs pyarrow: pip install "eventstreams-pandas[parquet]"'
)
_UNNAMED_LEVEL = re.compile(r"__index_level_\d+__")
# What a column of an Arrow type becomes: one Arrow array of it in, a Series out.
Converter = Callable[[Any], pd.Series]


def parquet() -> Any:
    """pyarrow.parquet, or the message naming the extra that installs it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigurationError(_PARQUET_EXTRA) from None
    return pq


def parquet_frames(source: str | IO[bytes], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows as DataFrames of at most ``chunk_rows`` rows."""
    file = parquet().ParquetFile(source)
    schema = file.schema_arrow
    index = _pandas_index_columns(schema)
    read = [i for i, name in enumerate(schema.names) if name not in index]
    names = [schema.names[i] for i in read]
    converters = [_converter(schema.field(i).type) for i in read]
    for batch in file.iter_batches(batch_size=chunk_rows):
        columns = [convert(batch.column(i)) for i, convert in zip(read, converters, strict=True)]
        # by position: a Parquet file may have two columns of one name
        frame = pd.DataFrame(dict(enumerate(columns)), index=pd.RangeIndex(batch.num_rows))
        frame.columns = pd.Index(names, dtype=object)
        yield frame


def _pandas_index_columns(schema: Any) -> set[str]:
    """The columns pandas wrote for an index without a name: its row labels, not data.
    A named index level (``df.set_index("order_id")``) is read as the column it was."""
    metadata = schema.pandas_metadata or {}
    return {
        name
        for name in metadata.get("index_columns", ())
        if isinstance(name, str) and _UNNAMED_LEVEL.fullmatch(name)
    }


def _converter(arrow_type: Any) -> Converter:
    """How a column of ``arrow_type`` becomes a Series, decided from the type alone."""
    import pyarrow as pa

    types = pa.types
    if isinstance(arrow_type, pa.BaseExtensionType):
        name = arrow_type.extension_name
        if name == "arrow.bool8":
            return lambda array: _nullable(array.storage.cast(pa.bool_()), pd.BooleanDtype())
        if name == "arrow.json":
            return lambda array: _pandas(array.storage)  # the JSON text, as a string
        if name == "arrow.uuid":
            return _pandas  # UUIDs
        return _arrow_backed
    if arrow_type == pa.time64("ns"):
        return _times_of_day
    if unsendable(pd.ArrowDtype(arrow_type)):
        return _arrow_backed
    if types.is_integer(arrow_type):
        dtype = pd.api.types.pandas_dtype(_NULLABLE_INTS[str(arrow_type)])
        return lambda array: _nullable(array, dtype)
    if types.is_boolean(arrow_type):
        return lambda array: _nullable(array, pd.BooleanDtype())
    if types.is_dictionary(arrow_type):
        value_type = arrow_type.value_type
        if _is_text_or_binary(types, value_type):
            return _pandas  # a categorical
        decoded = _converter(value_type)
        return lambda array: decoded(array.dictionary_decode())
    if any(
        check(arrow_type)
        for check in (
            types.is_list,
            types.is_large_list,
            types.is_fixed_size_list,
            types.is_list_view,
            types.is_large_list_view,
            types.is_struct,
            types.is_map,
            types.is_date,
        )
    ):
        return _python_values
    if (
        types.is_floating(arrow_type)
        or _is_text_or_binary(types, arrow_type)
        or types.is_timestamp(arrow_type)
        or types.is_time(arrow_type)
        or types.is_duration(arrow_type)
        or types.is_decimal(arrow_type)
        or types.is_null(arrow_type)
    ):
        return _pandas
    return _arrow_backed


_NULLABLE_INTS = {
    "int8": "Int8",
    "int16": "Int16",
    "int32": "Int32",
    "int64": "Int64",
    "uint8": "UInt8",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
}


def _is_text_or_binary(types: Any, arrow_type: Any) -> bool:
    return any(
        check(arrow_type)
        for check in (
            types.is_string,
            types.is_large_string,
            types.is_string_view,
            types.is_binary,
            types.is_large_binary,
            types.is_fixed_size_binary,
            types.is_binary_view,
        )
    )


def _pandas(array: Any) -> pd.Series:
    series: pd.Series = array.to_pandas()
    return series


def _nullable(array: Any, dtype: Any) -> pd.Series:
    series: pd.Series = array.to_pandas(types_mapper=lambda _: dtype)
    return series


def _python_values(array: Any) -> pd.Series:
    return pd.Series(python_values(array), dtype=object)


def _arrow_backed(array: Any) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(array))


class _NanoTime(time):
    """A time of day with nanoseconds, which ``datetime.time`` cannot hold: ``isoformat``
    writes them, as ``Timestamp.isoformat`` does."""

    __slots__ = ("nanosecond",)
    nanosecond: int

    def isoformat(self, timespec: str = "auto") -> str:
        clock = f"{self.hour:02d}:{self.minute:02d}:{self.second:02d}"
        return f"{clock}.{self.microsecond:06d}{self.nanosecond:03d}"


def _time_of_day(nanoseconds: int) -> time:
    seconds, nanos = divmod(nanoseconds, 10**9)
    micros, nanos = divmod(nanos, 1000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if not nanos:
        return time(hours, minutes, seconds, micros)
    value = _NanoTime(hours, minutes, seconds, micros)
    value.nanosecond = nanos
    return value


def _times_of_day(array: Any) -> pd.Series:
    """A time64[ns] column as times, nanoseconds kept (pyarrow would drop or refuse them)."""
    import pyarrow as pa

    nanoseconds = array.cast(pa.int64()).to_pylist()
    return pd.Series(
        [None if value is None else _time_of_day(value) for value in nanoseconds], dtype=object
    )
