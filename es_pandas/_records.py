"""DataFrame rows as REST producer requests, one record per row.

:class:`RecordEncoder` turns each chunk of a frame into one :class:`EncodedRecord`
(a ready request) or :class:`RejectedRow` (why the row cannot be sent) per row. A
bad value never raises: only its row is rejected, and the message names the column.

Value policy (JSON). The default value is a JSON object of the value columns, keyed
by ``str(column)`` in column order; a ``value_col`` sent as JSON follows the same
policy, so a cell always reads back the same:

- NaN, NaT, None and pd.NA -> ``null``;
- floats at full precision, the shortest text that round-trips (Python's ``repr``):
  ``0.1 + 0.2`` -> ``0.30000000000000004``; +inf and -inf, at any depth, reject the row;
- numpy scalars -> Python numbers (float32 as the float64 it equals); bool -> ``true``/``false``;
- Timestamp and datetime -> ISO 8601 as ``Timestamp.isoformat`` writes it: naive stays
  naive with no offset, tz-aware keeps its own offset (``+05:30``) and is never
  converted to UTC, nanoseconds are kept when present;
- date and time -> ``isoformat()``; Timedelta and timedelta -> ISO 8601 durations
  (``P0DT0H0M1.5S``);
- Decimal -> string (``"1.10"``), a NaN Decimal -> ``null``; UUID -> string;
  bytes -> base64 string;
- dict, list, tuple and ndarray -> JSON with the same policy inside;
- categoricals -> their values; strings escaped as JSON needs, non-ASCII kept as UTF-8;
- anything else (arbitrary objects, complex numbers, sets, ...) rejects the row.

Output is compact (no spaces). Keys, header values and ``value_type="text"`` values are
text: str as is, bytes as binary, ints and integral floats as digits (``3``, not
``3.0``: pandas makes int columns with NaN float), other floats by ``repr``, bool as
``true``/``false``, and the rest as in the JSON policy (ISO 8601 timestamps, ...).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from json.encoder import encode_basestring  # json's C string escaper, without dumps' per-call setup
from typing import Literal, cast
from urllib.parse import quote, quote_from_bytes
from uuid import UUID

import numpy as np
import pandas as pd

__all__ = ["EncodedRecord", "RecordEncoder", "RejectedRow"]

_HeaderSource = Sequence[Hashable] | Callable[[dict], Mapping[str, object]]
_Headers = Sequence[tuple[str, bytes]]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_CONTENT_TYPES = {
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "binary": "application/octet-stream",
}
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
# What a row's value or header can fail with; each rejects only that row.
_BAD_VALUE = (ValueError, TypeError, RecursionError)


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    """One row as a request: ``POST {base_url}{target}`` with ``body`` as ``content_type``."""

    position: int
    target: str
    body: bytes
    content_type: str


# A frozen dataclass's __init__ sets each field through object.__setattr__; setting the
# slots directly halves the cost of the one record made per row.
_set_position, _set_target, _set_body, _set_content_type = (
    EncodedRecord.__dict__[name].__set__ for name in ("position", "target", "body", "content_type")
)


def _record(position: int, target: str, body: bytes, content_type: str) -> EncodedRecord:
    record = object.__new__(EncodedRecord)
    _set_position(record, position)
    _set_target(record, target)
    _set_body(record, body)
    _set_content_type(record, content_type)
    return record


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that cannot be sent, and why."""

    position: int
    error: str


class _Unencodable(ValueError):
    """A value that the policy cannot send."""


def _utf8(text: str) -> str:
    # Python strings may hold lone surrogates, which UTF-8 cannot carry.
    if not text.isascii():
        text.encode()
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _native(value: object) -> object:
    """``value`` as what json writes natively: None, bool, int, float, str, list or dict."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.timedelta64):
        value = pd.Timedelta(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return _utf8(str(value))
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isinf(number):
            raise _Unencodable(f"{number!r} is not valid JSON")
        return None if math.isnan(number) else number
    if isinstance(value, Decimal):
        return None if value.is_nan() else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _b64(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return pd.Timedelta(value).isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {_native(k): _native(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_native(item) for item in value]
    raise _Unencodable(f"{type(value).__name__} is not JSON serializable")


def _json_text(value: object) -> str:
    if type(value) is str:
        return encode_basestring(_utf8(value))
    native = _native(value)
    return "null" if native is None else _dumps(native)


def _text(value: object) -> str | bytes | None:
    """A key, header or text value: str as is, bytes as binary, None when missing."""
    if type(value) is str:
        return _utf8(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    native = _native(value)
    if isinstance(native, bool):
        return "true" if native else "false"
    if isinstance(native, int):
        return str(native)
    if native is None or isinstance(native, str):
        return native
    raise _Unencodable(f"{type(value).__name__} cannot be used as text")


def _is_datetime(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    )


def _utc_offset(seconds: int) -> str:
    minutes, second = divmod(abs(seconds), 60)
    text = f"{'-' if seconds < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"{text}:{second:02d}" if second else text


def _civil_date(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of days since 1970-01-01 (H. Hinnant's ``civil_from_days``)."""
    shifted = days + 719468
    era = shifted // 146097
    day_of_era = shifted - era * 146097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = np.where(shifted_month < 10, shifted_month + 3, shifted_month - 9)
    return year_of_era + era * 400 + (month <= 2), month, day


def _divmod(values: np.ndarray, divisor: int) -> tuple[np.ndarray, np.ndarray]:
    # numpy's int64 % and divmod are ~10x slower than // by a scalar
    quotient = values // divisor
    return quotient, values - quotient * divisor


def _iso_datetimes(column: pd.Series) -> list[str | None]:
    """A datetime64 column as ``Timestamp.isoformat`` writes each value, None for NaT.

    The text is built as digit bytes in one numpy array: numpy's and pandas' own
    formatters cost several times as much per value.
    """
    aware = isinstance(column.dtype, pd.DatetimeTZDtype)
    wall = (column.dt.tz_localize(None) if aware else column).to_numpy()
    missing = np.isnat(wall)
    per_second = _TICKS_PER_SECOND[np.datetime_data(wall.dtype)[0]]
    ticks = wall.view("i8")
    seconds, fraction = _divmod(ticks, per_second)
    days, clock = _divmod(seconds, 86400)
    year, month, day = _civil_date(days)
    if ((year < 1) | (year > 9999))[~missing].any():
        return [None if stamp is pd.NaT else stamp.isoformat() for stamp in column.tolist()]
    hour, minute_second = _divmod(clock, 3600)
    minute, second = _divmod(minute_second, 60)
    nanos = fraction * (10**9 // per_second)
    chars = np.zeros((len(ticks), 30), np.uint8)
    for start, value, width in (
        (0, year, 4),
        (5, month, 2),
        (8, day, 2),
        (11, hour, 2),
        (14, minute, 2),
        (17, second, 2),
        (20, nanos, 9),
    ):
        for position in range(start + width - 1, start - 1, -1):
            value, digit = _divmod(value, 10)
            chars[:, position] = digit + ord("0")
    chars[:, [4, 7, 10, 13, 16, 19, 29]] = np.frombuffer(b"--T::.,", np.uint8)
    # As isoformat: no fraction when zero, nanoseconds only when present.
    chars[nanos == 0, 19:29] = 0
    chars[_divmod(nanos, 1000)[1] == 0, 26:29] = 0
    # Dropping the zero bytes and splitting at the commas makes the strings in C.
    text = chars.tobytes().replace(b"\0", b"").decode("ascii")
    out: list[str | None] = text.split(",")[:-1]
    if aware:
        utc = column.dt.tz_convert(None).to_numpy().view("i8")
        offsets, which = np.unique((ticks - utc) // per_second, return_inverse=True)
        suffixes = [_utc_offset(int(seconds)) for seconds in offsets.tolist()]
        out = [f"{stamp}{suffixes[i]}" for stamp, i in zip(out, which.tolist(), strict=True)]
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def _json_column(column: pd.Series) -> tuple[list[str], dict[int, str]]:
    """Each value's JSON text ("null" when missing), and the problems by row."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        texts, problems = _json_column(pd.Series(dtype.categories))
        texts.append("null")  # code -1, a missing value
        codes = column.cat.codes.tolist()
        return [texts[c] for c in codes], {
            i: problems[c] for i, c in enumerate(codes) if c in problems
        }
    if _is_datetime(dtype):
        return ["null" if t is None else f'"{t}"' for t in _iso_datetimes(column)], {}
    numpy_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if numpy_dtype is not None and numpy_dtype.kind in "biuf":
        kind = numpy_dtype.kind
        if kind == "f":
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            texts = list(map(float.__repr__, values.tolist()))
            problems = {}
            for i in np.flatnonzero(~np.isfinite(values)).tolist():
                if texts[i] == "nan":
                    texts[i] = "null"
                else:
                    problems[i] = f"{texts[i]} is not valid JSON"
            return texts, problems
        # Nullable and pyarrow columns keep missing values in a mask beside the numbers.
        missing = None if dtype is numpy_dtype else column.isna().to_numpy()
        values = column.to_numpy(dtype=numpy_dtype, na_value=0)
        if kind == "b":
            texts = ["true" if v else "false" for v in values.tolist()]
        else:
            texts = list(map(int.__repr__, values.tolist()))
        if missing is not None:
            for i in np.flatnonzero(missing).tolist():
                texts[i] = "null"
        return texts, {}
    texts, problems = [], {}
    for i, value in enumerate(column.tolist()):
        # Inline fast paths for text and for NaN, pandas' usual missing text value
        if type(value) is str and value.isascii():
            texts.append(encode_basestring(value))
        elif type(value) is float and value != value:
            texts.append("null")
        else:
            try:
                texts.append(_json_text(value))
            except _BAD_VALUE as exc:
                texts.append("null")
                problems[i] = str(exc)
    return texts, problems


def _text_column(column: pd.Series) -> tuple[list[str | bytes | None], dict[int, str]]:
    """Each value as text (see :func:`_text`), and the problems by row."""
    if _is_datetime(column.dtype):
        return _iso_datetimes(column), {}
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return list(map(int.__repr__, column.to_numpy().tolist())), {}
    texts: list[str | bytes | None] = []
    problems = {}
    for i, value in enumerate(column.tolist()):
        try:
            texts.append(_text(value))
        except _BAD_VALUE as exc:
            texts.append(None)
            problems[i] = str(exc)
    return texts, problems


def _single_value(value: object, value_type: str | None) -> tuple[str, str | bytes]:
    """The kind ("json", "text" or "binary") and data of a ``value_col`` value."""
    if pd.isna(value) is True:
        raise _Unencodable("null value")
    binary = isinstance(value, (bytes, bytearray, memoryview))
    if value_type == "binary" or (value_type is None and binary):
        if not binary:
            raise _Unencodable(f"value_type='binary' needs bytes, not {type(value).__name__}")
        return "binary", bytes(value)
    if value_type == "text" or (value_type is None and isinstance(value, str)):
        # Not missing and not bytes, so _text gives a str.
        return "text", bytes(value).decode() if binary else cast(str, _text(value))
    return "json", _json_text(value)


def _called_headers(produced: object) -> list[tuple[str, bytes]]:
    if not isinstance(produced, Mapping):
        raise TypeError(f"returned {type(produced).__name__}, not a mapping of names to values")
    headers = []
    for name, value in produced.items():
        if not isinstance(name, str):
            raise TypeError(f"header name {name!r} is not a str")
        text = _text(value)
        if text is not None:
            headers.append((_utf8(name), text.encode() if isinstance(text, str) else text))
    return headers


def _names(option: str, names: object) -> list[Hashable]:
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ValueError(
            f"{option} must be a list of column names; for one column write [{names!r}]"
        )
    return list(names)


class RecordEncoder:
    """Encodes the rows of a DataFrame as REST producer requests to ``topic``.

    Parameters
    ----------
    topic : str
        The topic; URL-quoted into each target.
    columns : sequence of hashable
        The frame's columns, as every chunk passed to :meth:`encode` has them.
    api_version : {"v2", "v1"}
        v2 sends a JSON envelope to ``/v2/topics/{topic}/records``; v1 sends the value
        as the body of ``/topics/{topic}/records``, with key and headers in the query.
    key_col : hashable, optional
        The column whose values are the record keys; a null key rejects its row.
    value_col : hashable, optional
        One column that is the whole value, typed by ``value_type``.
    value_cols : sequence of hashable, optional
        The columns of the JSON object value; by default every column that is not the
        key or a header.
    value_type : {"json", "text", "binary"}, optional
        How ``value_col`` is sent. None picks per value: bytes as binary, str as
        text, anything else as JSON.
    header_cols : sequence of hashable or callable, optional
        Columns whose values become headers named ``str(column)`` (nulls omitted), or a
        function from the row as ``{column: value}`` to ``{name: str | bytes | None}``.
    max_key_bytes, max_value_bytes, max_uri_bytes : int
        Larger keys, values and (v1) request URIs reject their row.
    base_path : str
        The path of the base URL, counted in the v1 URI length.
    """

    def __init__(
        self,
        topic: str,
        columns: Sequence[Hashable],
        *,
        api_version: Literal["v1", "v2"] = "v2",
        key_col: Hashable | None = None,
        value_col: Hashable | None = None,
        value_cols: Sequence[Hashable] | None = None,
        value_type: Literal["json", "text", "binary"] | None = None,
        header_cols: _HeaderSource | None = None,
        max_key_bytes: int = 4096,
        max_value_bytes: int = 65536,
        max_uri_bytes: int = 10240,
        base_path: str = "",
    ) -> None:
        if api_version not in ("v1", "v2"):
            raise ValueError(f"api_version must be 'v1' or 'v2', not {api_version!r}")
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"topic must be a non-empty string, not {topic!r}")
        if value_type not in (None, "json", "text", "binary"):
            raise ValueError(
                f"value_type must be 'json', 'text', 'binary' or None, not {value_type!r}"
            )
        for option, limit in (
            ("max_key_bytes", max_key_bytes),
            ("max_value_bytes", max_value_bytes),
            ("max_uri_bytes", max_uri_bytes),
        ):
            if not isinstance(limit, int) or limit < 1:
                raise ValueError(f"{option} must be a positive integer, not {limit!r}")
        if value_col is not None and value_cols is not None:
            raise ValueError("give value_col (one column is the value) or value_cols, not both")
        if value_col is None and value_type in ("text", "binary"):
            raise ValueError(f"value_type={value_type!r} needs value_col: the column to send")
        self._columns = list(columns)
        self._api_version = api_version
        self._value_type = value_type
        self._max_key_bytes = max_key_bytes
        self._max_value_bytes = max_value_bytes
        self._max_uri_bytes = max_uri_bytes
        self._base_bytes = len(base_path.encode())
        prefix = "/topics/" if api_version == "v1" else "/v2/topics/"
        self._path = f"{prefix}{quote(topic, safe='')}/records"

        roles: dict[int, str] = {}

        def claim(option: str, name: Hashable) -> int:
            matches = [i for i, column in enumerate(self._columns) if column == name]
            if not matches:
                raise ValueError(f"{option}: no column named {name!r}; columns: {self._columns!r}")
            if len(matches) > 1:
                raise ValueError(f"{option}: {len(matches)} columns are named {name!r}")
            if matches[0] in roles:
                where = roles[matches[0]]
                twice = f"twice in {option}" if where == option else f"in {where} and {option}"
                raise ValueError(f"column {name!r} is listed {twice}")
            roles[matches[0]] = option
            return matches[0]

        self._key = None if key_col is None else claim("key_col", key_col)
        self._header_fn = header_cols if callable(header_cols) else None
        self._header_cols: list[tuple[int, str]] = []
        if header_cols is not None and self._header_fn is None:
            for name in _names("header_cols", header_cols):
                header = _utf8(str(name))
                if api_version == "v1" and (not header or "," in header or ":" in header):
                    raise ValueError(
                        f"header column {name!r}: v1 cannot carry header names that are empty "
                        "or contain ',' or ':'; use api_version='v2'"
                    )
                self._header_cols.append((claim("header_cols", name), header))
        self._value_col = None if value_col is None else claim("value_col", value_col)
        self._value_label = "" if value_col is None else f"column {value_col!r}: "
        if value_col is not None:
            fields = []
        elif value_cols is not None:
            fields = [claim("value_cols", name) for name in _names("value_cols", value_cols)]
        else:
            fields = [i for i in range(len(self._columns)) if i not in roles]
        if value_col is None and not fields:
            raise ValueError(
                "value_cols is empty"
                if value_cols is not None
                else "no value columns left: every column is the key or a header"
            )
        self._fields = fields
        seen: dict[str, Hashable] = {}
        for i in fields:
            name = _utf8(str(self._columns[i]))
            if name in seen:
                raise ValueError(
                    f"value columns {seen[name]!r} and {self._columns[i]!r} both become "
                    f"the JSON field {name!r}"
                )
            seen[name] = self._columns[i]
        # One %-format per row is the cheapest way to assemble the object.
        members = (encode_basestring(name).replace("%", "%%") + ":%s" for name in seen)
        self._template = "{" + ",".join(members) + "}"

    def encode(self, chunk: pd.DataFrame, start: int) -> list[EncodedRecord | RejectedRow]:
        """One :class:`EncodedRecord` or :class:`RejectedRow` per row of ``chunk``, in order.

        ``start`` is the position of the chunk's first row in the whole frame. A bad
        value never raises: its row becomes a :class:`RejectedRow`.
        """
        if chunk.columns.tolist() != self._columns:
            raise ValueError("the chunk's columns differ from those the encoder was made for")
        # Work is done column by column; the row loops only assemble and check sizes.
        errors: dict[int, str] = {}
        keys = self._keys(chunk, errors)
        kinds, values = self._values(chunk, errors)
        headers = self._headers(chunk, errors)
        rows = zip(kinds, values, keys, headers, strict=True)
        if self._api_version == "v1":
            return self._v1_rows(start, errors, rows)
        return self._v2_rows(start, errors, rows)

    # -- columns of a chunk ------------------------------------------------------

    def _blame(self, errors: dict[int, str], position: int, problems: dict[int, str]) -> None:
        for i, problem in problems.items():
            errors.setdefault(i, f"column {self._columns[position]!r}: {problem}")

    def _keys(self, chunk: pd.DataFrame, errors: dict[int, str]) -> list[str]:
        """Each row's key as its wire fragment: v1 query parameters or a v2 member."""
        if self._key is None:
            return [""] * len(chunk)
        keys, problems = _text_column(chunk.iloc[:, self._key])
        self._blame(errors, self._key, problems)
        label = f"column {self._columns[self._key]!r}"
        v1 = self._api_version == "v1"
        parts = []
        for i, key in enumerate(keys):
            raw = b"" if key is None else key if isinstance(key, bytes) else key.encode()
            if key is None:
                errors.setdefault(i, f"{label}: null key")
                parts.append("")
            elif len(raw) > self._max_key_bytes:
                errors.setdefault(
                    i,
                    f"{label}: key is {len(raw)} bytes, over the {self._max_key_bytes}-byte limit",
                )
                parts.append("")
            elif v1 and isinstance(key, bytes):
                parts.append(f"&key={raw.hex()}&keyType=binary")
            elif v1:
                # bytes.isalnum is ASCII-only: such keys, the usual ones, need no quoting.
                quoted = key if raw.isalnum() else quote_from_bytes(raw, safe="")
                parts.append(f"&key={quoted}&keyType=text")
            elif isinstance(key, bytes):
                parts.append(f'"key":{{"type":"binary","data":"{_b64(raw)}"}},')
            else:
                parts.append(f'"key":{{"type":"text","data":{encode_basestring(key)}}},')
        return parts

    def _values(
        self, chunk: pd.DataFrame, errors: dict[int, str]
    ) -> tuple[list[str], list[str] | list[str | bytes]]:
        """Each row's value kind ("json", "text" or "binary") and data."""
        if self._value_col is None:
            parts = []
            for i in self._fields:
                texts, problems = _json_column(chunk.iloc[:, i])
                self._blame(errors, i, problems)
                parts.append(texts)
            template = self._template
            return ["json"] * len(chunk), [template % row for row in zip(*parts, strict=True)]
        kinds: list[str] = []
        values: list[str | bytes] = []
        for i, value in enumerate(chunk.iloc[:, self._value_col].tolist()):
            try:
                kind, data = _single_value(value, self._value_type)
            except _BAD_VALUE as exc:
                kind, data = "json", ""
                errors.setdefault(i, f"{self._value_label}{exc}")
            kinds.append(kind)
            values.append(data)
        return kinds, values

    def _headers(self, chunk: pd.DataFrame, errors: dict[int, str]) -> list[str]:
        """Each row's headers as their wire fragment: a v1 query parameter or a v2 member."""
        if self._header_fn is not None:
            rows = self._headers_called(self._header_fn, chunk, errors)
        elif self._header_cols:
            columns = []
            for i, name in self._header_cols:
                texts, problems = _text_column(chunk.iloc[:, i])
                self._blame(errors, i, problems)
                columns.append(
                    [
                        None if t is None else (name, t.encode() if isinstance(t, str) else t)
                        for t in texts
                    ]
                )
            rows = [[h for h in row if h is not None] for row in zip(*columns, strict=True)]
        else:
            return [""] * len(chunk)
        parts = []
        for i, headers in enumerate(rows):
            try:
                parts.append(self._header_part(headers) if headers else "")
            except _Unencodable as exc:
                errors.setdefault(i, str(exc))
                parts.append("")
        return parts

    def _headers_called(
        self,
        function: Callable[[dict], Mapping[str, object]],
        chunk: pd.DataFrame,
        errors: dict[int, str],
    ) -> list[_Headers]:
        out: list[_Headers] = []
        columns = [chunk.iloc[:, i].tolist() for i in range(len(self._columns))]
        for i, row in enumerate(zip(*columns, strict=True)):
            try:
                produced = function(dict(zip(self._columns, row, strict=True)))
            except Exception as exc:  # the user's code: whatever it raises rejects one row
                errors.setdefault(i, f"header_cols callable raised {type(exc).__name__}: {exc}")
                out.append(())
                continue
            try:
                out.append(_called_headers(produced))
            except _BAD_VALUE as exc:
                errors.setdefault(i, f"header_cols callable: {exc}")
                out.append(())
        return out

    def _header_part(self, headers: _Headers) -> str:
        if self._api_version == "v2":
            items = ",".join(
                f'{{"name":{encode_basestring(name)},"value":"{_b64(data)}"}}'
                for name, data in headers
            )
            return f',"headers":[{items}]'
        for name, _ in headers:
            if not name or "," in name or ":" in name:
                raise _Unencodable(
                    f"header {name!r}: v1 cannot carry header names that are empty or "
                    "contain ',' or ':'; use api_version='v2'"
                )
        return "&headers=" + ",".join(
            f"{quote(name, safe='')}:{data.hex()}" for name, data in headers
        )

    # -- rows --------------------------------------------------------------------

    def _too_large(self, size: int) -> str:
        return (
            f"{self._value_label}value is {size} bytes, over the {self._max_value_bytes}-byte limit"
        )

    def _v1_problem(self, body: bytes, target: str) -> str:
        if not body:
            return (
                f"{self._value_label}empty value: v1 cannot send an empty body (the server "
                "answers 411); use api_version='v2'"
            )
        if len(body) > self._max_value_bytes:
            return self._too_large(len(body))
        size = self._base_bytes + len(target)
        return (
            f"URI is {size} bytes, over the {self._max_uri_bytes}-byte v1 limit; "
            "use api_version='v2'"
        )

    def _v1_rows(
        self, start: int, errors: dict[int, str], rows: Iterable[tuple[str, str | bytes, str, str]]
    ) -> list[EncodedRecord | RejectedRow]:
        out: list[EncodedRecord | RejectedRow] = []
        path = self._path
        limit = self._max_value_bytes
        room = self._max_uri_bytes - self._base_bytes
        for i, (kind, value, key, headers) in enumerate(rows):
            if i in errors:
                out.append(RejectedRow(start + i, errors[i]))
                continue
            body = value if isinstance(value, bytes) else value.encode()
            query = key + headers  # each part starts with "&"
            target = f"{path}?{query[1:]}" if query else path
            if body and len(body) <= limit and len(target) <= room:
                out.append(_record(start + i, target, body, _CONTENT_TYPES[kind]))
            else:
                out.append(RejectedRow(start + i, self._v1_problem(body, target)))
        return out

    def _v2_rows(
        self, start: int, errors: dict[int, str], rows: Iterable[tuple[str, str | bytes, str, str]]
    ) -> list[EncodedRecord | RejectedRow]:
        out: list[EncodedRecord | RejectedRow] = []
        path = self._path
        limit = self._max_value_bytes
        for i, (kind, value, key, headers) in enumerate(rows):
            if i in errors:
                out.append(RejectedRow(start + i, errors[i]))
                continue
            if isinstance(value, bytes):
                size = len(value)
                data = f'"{_b64(value)}"'
            else:
                size = len(value) if value.isascii() else len(value.encode())
                data = encode_basestring(value)
            if size > limit:
                out.append(RejectedRow(start + i, self._too_large(size)))
                continue
            body = f'{{{key}"value":{{"type":"{kind}","data":{data}}}{headers}}}'
            out.append(_record(start + i, path, body.encode(), "application/json"))
        return out
