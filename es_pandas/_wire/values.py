"""The value policy: how one cell becomes JSON or text on the wire (scalar rules; the
column-at-a-time fast paths in :mod:`.columns` fall back to these).

Value policy (JSON). The default value is a JSON object of the value columns, keyed
by ``str(column)`` in column order; a ``value_col`` sent as JSON follows the same
policy, so a cell always reads back the same:

- NaN, NaT, None and pd.NA -> ``null``;
- floats at full precision, the shortest text that round-trips (Python's ``repr``):
  ``0.1 + 0.2`` -> ``0.30000000000000004``; +inf and -inf, at any depth, reject the row;
- numpy scalars -> Python numbers (float32 as the float64 it equals); bool -> ``true``/``false``;
- Timestamp and datetime -> ISO 8601 as ``Timestamp.isoformat`` writes it: naive stays
  naive with no offset, tz-aware keeps its own offset (``+05:30``) and is never
  converted to UTC, nanoseconds are kept when present; a year outside 0 to 9999 in
  ISO 8601's expanded form, ``+12000`` (:mod:`.datetimes`);
- date and time -> ``isoformat()`` (a Parquet ``time64[ns]`` keeps its nanoseconds,
  ``01:02:03.000000001``, as a Timestamp does); Timedelta and timedelta -> ISO 8601 durations as
  ``Timedelta.isoformat`` writes them, nanoseconds kept (``P0DT0H0M1.5S``,
  ``P0DT0H0M0.000000001S``); a negative one has negative days and the rest positive, as
  pandas shows it (-1 ns -> ``P-1DT23H59M59.999999999S``), and ``pd.Timedelta(text)``
  reads it back;
- Decimal -> string (``"1.10"``), a NaN Decimal -> ``null``, an infinite one rejects
  the row as inf does; UUID -> string;
  bytes -> base64 string;
- dict, list, tuple and ndarray -> JSON with the same policy inside, at most
  :data:`MAX_NESTING` deep; a dict two of whose keys are one JSON key (``1`` and
  ``"1"``) rejects the row;
- categoricals -> their values; strings escaped as JSON needs, non-ASCII kept as UTF-8;
- anything else (arbitrary objects, complex numbers, sets, ...) rejects the row; a
  column of a dtype none of whose values can be sent (period, interval, complex) is
  refused before a run instead (:func:`.columns.unsendable`), and so is a pyarrow-backed
  column whose values pandas would give changed (``time64[ns]`` anywhere in it, an
  extension type other than uuid, json and bool8).

A field absent from a JSON Lines line is :data:`ABSENT` in its column (no other input
makes it): the row's JSON object leaves that field out (:func:`.columns.json_column`
marks it), and to everything else that reads a field (keys, headers, record ids, a
``value_col``, Avro, a ``header_cols`` callable) it is null.

Output is compact (no spaces). Keys, header values and ``value_type="text"`` values are
text: str as is, bytes as binary, ints and integral floats as digits (``3``, not
``3.0``: pandas makes int columns with NaN float), other floats by ``repr`` (+inf and
-inf reject the row, as in JSON), bool as ``true``/``false``, and the rest as in the
JSON policy (ISO 8601 timestamps, ...).
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from json.encoder import encode_basestring  # json's C string escaper, without dumps' per-call setup
from typing import Any, TypeVar, cast
from uuid import UUID

import numpy as np
import pandas as pd

from .datetimes import iso_timestamp

__all__ = [
    "ABSENT",
    "BAD_VALUE",
    "MAX_NESTING",
    "AvroSchema",
    "Headers",
    "Unencodable",
    "Unreadable",
    "as_text",
    "b64",
    "called_headers",
    "json_text",
    "single_value",
    "utf8",
]

#: a row's headers, names with their values' bytes
Headers = Sequence[tuple[str, bytes]]
#: an Avro schema as options take it: a dict (or list, a union), JSON text, or an .avsc
#: path (here, not in .avro, which loads only for Avro runs)
AvroSchema = Mapping[str, Any] | list[Any] | str | os.PathLike[str]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


#: how deep lists and dicts may nest in a value (a list of lists is 2): deeper rejects
#: the row. Well inside the stack whatever calls the encoder, and inside the tightest
#: limit of common JSON readers (Rust's serde_json: 128).
MAX_NESTING = 100

# json's text of the keys that are not str: ints and floats are their repr
_KEY_TEXT: dict[object, str] = {None: "null", True: "true", False: "false"}


class _Absent:
    """The type of :data:`ABSENT`."""

    def __repr__(self) -> str:
        return "<absent>"


#: a JSON Lines field that a line does not have, in an object column (json.loads never
#: gives it; NaN it can: a line may hold the literal NaN)
ABSENT = _Absent()


class Unreadable:
    """In the place of a pyarrow value that Python cannot hold (a Parquet date after
    9999; :func:`.columns.python_values`): pyarrow refuses its whole array, this only
    its row, which it rejects, saying why, as any value the policy cannot send does."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"<unreadable: {self.reason}>"


class Unencodable(ValueError):
    """A value that the policy cannot send."""


# What a row's value or header can fail with; each rejects only that row.
BAD_VALUE = (ValueError, TypeError, RecursionError)


def utf8(text: str) -> str:
    # Python strings may hold lone surrogates, which UTF-8 cannot carry.
    if not text.isascii():
        text.encode()
    return text


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_T = TypeVar("_T")


def _pandas_time(kind: Callable[[Any], _T], value: object) -> _T:
    """``value`` as a pandas Timestamp or Timedelta (``kind``), which the ISO 8601 text is
    written from; one it cannot hold rejects its row, saying so (pandas' own message is
    the value alone: "1000000000000000000 days")."""
    try:
        return kind(value)
    except (pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        raise Unencodable(
            f"{value!r} is out of the range of pandas' {kind.__name__}, which its "
            "ISO 8601 text is written from"
        ) from None


def _native(value: object, depth: int = 0) -> object:
    """``value`` as what json writes natively: None, bool, int, float, str, list or dict
    (``depth``: the lists and dicts it is in)."""
    if isinstance(value, np.datetime64):
        value = _pandas_time(pd.Timestamp, value)
    elif isinstance(value, np.timedelta64):
        value = _pandas_time(pd.Timedelta, value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        # the text a str subclass holds, as json writes it: str() of a (str, Enum)
        # member is its name, "Color.RED", not its value
        return utf8(str.__str__(value))
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isinf(number):
            raise Unencodable(f"{number!r} is not valid JSON")
        return None if math.isnan(number) else number
    if isinstance(value, Decimal):
        if value.is_infinite():
            # as a float's inf is: as the string "Infinity" it is no longer a number
            raise Unencodable(f"Decimal({str(value)!r}) is not a finite number")
        return None if value.is_nan() else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b64(bytes(value))
    if isinstance(value, pd.Timestamp) and not 1 <= value.year <= 9999:
        # isoformat writes such a year unsigned (not ISO 8601), or raises if tz-aware
        return iso_timestamp(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _pandas_time(pd.Timedelta, value).isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        if depth == MAX_NESTING:
            # a fixed limit, not Python's recursion limit, which depends on the caller
            raise Unencodable(f"nested deeper than {MAX_NESTING} levels")
        if isinstance(value, Mapping):
            return _native_object(value, depth + 1)
        return [_native(item, depth + 1) for item in value]
    if isinstance(value, Unreadable):
        raise Unencodable(value.reason)
    raise Unencodable(f"{type(value).__name__} is not JSON serializable")


def _native_object(value: Mapping[Any, Any], depth: int) -> dict[object, object]:
    """A mapping as a dict json writes, refused when two keys would be one JSON key
    (``1`` and ``"1"``, ``True`` and ``"true"``): the object would hold it twice, and a
    consumer keeps one of the two."""
    out: dict[object, object] = {}
    keys: dict[str, object] = {}
    for key, item in value.items():
        native = _native(key, depth)
        if isinstance(native, (list, dict)):
            raise Unencodable(f"the key {key!r} is a {type(key).__name__}: a JSON key is text")
        if native is None or isinstance(native, bool):
            text = _KEY_TEXT[native]
        else:
            text = native if isinstance(native, str) else repr(native)
        if text in keys:
            raise Unencodable(f"keys {keys[text]!r} and {key!r} both become the JSON key {text!r}")
        keys[text] = key
        out[native] = _native(item, depth)
    return out


def json_text(value: object) -> str:
    """``value`` as JSON text, ``null`` when missing."""
    if type(value) is str:
        return encode_basestring(utf8(value))
    native = _native(value)
    return "null" if native is None else _dumps(native)


def as_text(value: object) -> str | bytes | None:
    """A key, header or text value: str as is, bytes as binary, None when missing."""
    if type(value) is str:
        return utf8(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if value is ABSENT:
        return None
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            # One rule with JSON values, which cannot hold them: as text, "inf" would
            # reach consumers as a string, no longer the bad number it was.
            raise Unencodable(f"{number!r} is not a finite number")
        return str(int(number)) if number.is_integer() else repr(number)
    native = _native(value)
    if isinstance(native, bool):
        return "true" if native else "false"
    if isinstance(native, int):
        return str(native)
    if native is None or isinstance(native, str):
        return native
    raise Unencodable(f"{type(value).__name__} cannot be used as text")


def single_value(value: object, value_type: str | None) -> tuple[str, str | bytes]:
    """The kind ("json", "text" or "binary") and data of a ``value_col`` value."""
    if value is ABSENT or pd.isna(value) is True:  # type: ignore[call-overload]
        raise Unencodable("null value")
    data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else None
    if value_type == "binary" or (value_type is None and data is not None):
        if data is None:
            raise Unencodable(f"value_type='binary' needs bytes, not {type(value).__name__}")
        return "binary", data
    if value_type == "text" or (value_type is None and isinstance(value, str)):
        # Not missing and not bytes, so as_text gives a str.
        return "text", data.decode() if data is not None else cast(str, as_text(value))
    return "json", json_text(value)


def called_headers(produced: object) -> list[tuple[str, bytes]]:
    """The headers a ``header_cols`` callable returned, nulls left out."""
    if not isinstance(produced, Mapping):
        raise TypeError(f"returned {type(produced).__name__}, not a mapping of names to values")
    headers = []
    for name, value in produced.items():
        if not isinstance(name, str):
            raise TypeError(f"header name {name!r} is not a str")
        text = as_text(value)
        if text is not None:
            headers.append((utf8(name), text.encode() if isinstance(text, str) else text))
    return headers
