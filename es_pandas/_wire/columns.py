"""Whole columns as JSON or text, a chunk at a time: numpy and pandas do the common
dtypes in bulk, and each other value goes through the scalar rules of :mod:`.values`."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import pandas as pd

from .values import ABSENT, BAD_VALUE, as_text, json_text

__all__ = ["absent_as_null", "absent_rows", "json_column", "text_column", "unsendable"]

_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


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
    # numpy's int64 % and divmod are much slower than // by a scalar
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
    out: list[str | None] = list(text.split(",")[:-1])
    if aware:
        utc = column.dt.tz_convert(None).to_numpy().view("i8")
        offsets, which = np.unique((ticks - utc) // per_second, return_inverse=True)
        suffixes = [_utc_offset(int(seconds)) for seconds in offsets.tolist()]
        out = [f"{stamp}{suffixes[i]}" for stamp, i in zip(out, which.tolist(), strict=True)]
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def unsendable(dtype: object) -> str | None:
    """Why no value of a column of ``dtype`` could be sent, and how to convert it; None
    when its values can be. Such a column is refused before a run rather than rejecting
    each of its rows (an object column holding such values still rejects only those rows).
    """
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    elif isinstance(dtype, pd.SparseDtype):
        dtype = dtype.subtype
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_unsendable(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.PeriodDtype):
        what, how = "periods", ".astype(str) gives '2024-01', .dt.start_time a timestamp"
    elif isinstance(dtype, pd.IntervalDtype):
        what, how = (
            "intervals",
            ".astype(str) gives '(0, 1]', .array.left and .array.right the ends",
        )
    elif isinstance(dtype, np.dtype) and dtype.kind == "c":
        what, how = "complex numbers", ".astype(str) gives '(1+2j)', np.real and np.imag the parts"
    else:
        return None
    return f"{what} have no JSON or text form; convert the column before sending it: {how}"


# Extension types whose values pandas gives as what they mean: UUID, the JSON text, bool.
_SENDABLE_EXTENSIONS = ("arrow.uuid", "arrow.json", "arrow.bool8")


def _arrow_types(arrow_type: Any) -> Iterator[Any]:
    """``arrow_type`` and every type inside it (list items, struct fields, map keys and
    items, dictionary values)."""
    import pyarrow as pa

    yield arrow_type
    for i in range(arrow_type.num_fields):
        yield from _arrow_types(arrow_type.field(i).type)
    if pa.types.is_dictionary(arrow_type):
        yield from _arrow_types(arrow_type.value_type)


def _arrow_unsendable(arrow_type: Any) -> str | None:
    """Why an Arrow-backed (``pd.ArrowDtype``) column of ``arrow_type`` cannot be sent."""
    import pyarrow as pa

    for inner in _arrow_types(arrow_type):
        if inner == pa.time64("ns"):
            return (
                "pandas gives Arrow time64[ns] values as Python times, which drop the "
                "nanoseconds (and so does .astype(str)); convert the column with pyarrow "
                "before sending it: cast the times to string (which keeps them), or to "
                "time64[us] if none has nanoseconds"
            )
        if (
            isinstance(inner, pa.BaseExtensionType)
            and inner.extension_name not in _SENDABLE_EXTENSIONS
        ):
            return (
                f"the Arrow extension type {inner.extension_name} has no JSON or text form; "
                "convert the column before sending it: cast it to its storage type "
                f"({inner.storage_type}) or to a type of its meaning"
            )
    return None


def json_column(column: pd.Series) -> tuple[list[str], dict[int, str], list[int]]:
    """Each value's JSON text ("null" when missing, "" when absent), the problems by
    row, and the rows where the value is :data:`.values.ABSENT`."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        texts, problems, _ = json_column(pd.Series(dtype.categories))
        texts.append("null")  # code -1, a missing value
        codes = column.cat.codes.tolist()
        return (
            [texts[c] for c in codes],
            {i: problems[c] for i, c in enumerate(codes) if c in problems},
            [],
        )
    if _is_datetime(dtype):
        return ["null" if t is None else f'"{t}"' for t in _iso_datetimes(column)], {}, []
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
            return texts, problems, []
        # Nullable and pyarrow columns keep missing values in a mask beside the numbers.
        missing = None if dtype is numpy_dtype else column.isna().to_numpy()
        values = column.to_numpy(dtype=numpy_dtype, na_value=False if kind == "b" else 0)
        if kind == "b":
            texts = ["true" if v else "false" for v in values.tolist()]
        else:
            texts = list(map(int.__repr__, values.tolist()))
        if missing is not None:
            for i in np.flatnonzero(missing).tolist():
                texts[i] = "null"
        return texts, {}, []
    texts, problems, absent = [], {}, []
    for i, value in enumerate(column.tolist()):
        # Inline fast paths for text and for NaN, pandas' usual missing text value
        if type(value) is str and value.isascii():
            texts.append(encode_basestring(value))
        elif type(value) is float and value != value:
            texts.append("null")
        elif value is ABSENT:
            texts.append("")
            absent.append(i)
        else:
            try:
                texts.append(json_text(value))
            except BAD_VALUE as exc:
                texts.append("null")
                problems[i] = str(exc)
    return texts, problems, absent


def text_column(column: pd.Series) -> tuple[list[str | bytes | None], dict[int, str]]:
    """Each value as text (see :func:`.values.as_text`), and the problems by row."""
    if _is_datetime(column.dtype):
        return list[str | bytes | None](_iso_datetimes(column)), {}
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return list(map(int.__repr__, column.to_numpy().tolist())), {}
    texts: list[str | bytes | None] = []
    problems = {}
    for i, value in enumerate(column.tolist()):
        try:
            texts.append(as_text(value))
        except BAD_VALUE as exc:
            texts.append(None)
            problems[i] = str(exc)
    return texts, problems


def absent_rows(column: pd.Series) -> np.ndarray | None:
    """Where ``column`` holds :data:`.values.ABSENT`, as a bool array; None where
    nowhere (only the object columns of a JSON Lines file can)."""
    if column.dtype != object:
        return None
    values = column.to_numpy()
    found = np.fromiter(map(operator.is_, values, itertools.repeat(ABSENT)), bool, len(values))
    return found if found.any() else None


def absent_as_null(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each :data:`.values.ABSENT` as None (a shallow copy), for what
    reads an absent field as null; ``frame`` itself when it has none."""
    out = frame
    for at in range(frame.shape[1]):
        column = frame.iloc[:, at]
        absent = absent_rows(column)
        if absent is not None:
            if out is frame:
                out = frame.copy(deep=False)
            # A column of its own first (holding ABSENT, it stays object): without
            # copy-on-write (pandas 2), setting the column ``frame`` shares would take
            # ABSENT out of ``frame`` too. (Put in whole, strings and Nones would make a
            # column of pandas' str dtype.)
            out.isetitem(at, column.to_numpy().copy())
            values = column.to_numpy().copy()
            values[absent] = None
            out.iloc[:, at] = values
    return out
