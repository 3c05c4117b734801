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

from .datetimes import iso_datetimes
from .values import ABSENT, BAD_VALUE, Unreadable, as_text, json_text

__all__ = [
    "absent_as_null",
    "absent_rows",
    "arrow_as_pandas",
    "arrow_frame_as_pandas",
    "json_column",
    "python_values",
    "text_column",
    "unsendable",
]


def _is_datetime(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) or (
        isinstance(dtype, np.dtype) and dtype.kind == "M"
    )


def _iso_datetimes(column: pd.Series) -> list[str | None]:
    """A datetime64 column as ISO 8601 (see :mod:`.datetimes`), None for NaT."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        wall = column.dt.tz_localize(None).to_numpy()
        return iso_datetimes(wall, column.dt.tz_convert(None).to_numpy())
    return iso_datetimes(column.to_numpy(), None)


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
        if pa.types.is_struct(inner):
            names = [inner.field(i).name for i in range(inner.num_fields)]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                # a JSON object of it would hold the key twice, and a consumer keeps one
                return (
                    f"fields of its struct both become the JSON field {twice[0]!r}; "
                    "convert the column before sending it: cast it to a struct whose "
                    "fields have names of their own"
                )
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


def python_values(array: Any) -> list[object]:
    """The values of a pyarrow array as Python objects, each that Python cannot hold
    (a date after 9999, a duration past ``timedelta.max``) as :class:`.values.Unreadable`,
    which rejects its row alone: pyarrow refuses the whole array for one such value."""
    try:
        values: list[object] = array.to_pylist()
    except (ValueError, OverflowError):
        values = []
        for i in range(len(array)):
            try:
                values.append(array[i].as_py())
            except (ValueError, OverflowError) as exc:
                values.append(Unreadable(f"a {array.type} value that Python cannot hold ({exc})"))
    return values


def arrow_as_pandas(column: pd.Series) -> pd.Series:
    """An Arrow-backed column of timestamps as datetime64 of its unit and zone, one of
    dates, timestamps or durations whose values pandas cannot give (one after 9999 stops
    it) as :func:`python_values`; any other column as it is.

    pandas gives Arrow timestamps as Python datetimes, which end at 9999; datetime64
    holds any year, and is sent as ISO 8601 in bulk."""
    if not isinstance(column.dtype, pd.ArrowDtype):
        return column
    import pyarrow as pa

    arrow_type = column.dtype.pyarrow_dtype
    if pa.types.is_timestamp(arrow_type):
        converted: pd.Series = pa.array(column).to_pandas()
        return converted.set_axis(column.index)
    if not any(
        pa.types.is_date(inner) or pa.types.is_timestamp(inner) or pa.types.is_duration(inner)
        for inner in _arrow_types(arrow_type)
    ):
        return column
    try:
        column.tolist()
    except (ValueError, OverflowError):
        return pd.Series(python_values(pa.array(column)), index=column.index, dtype=object)
    return column


def arrow_frame_as_pandas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column as :func:`arrow_as_pandas` gives it (a shallow copy);
    ``frame`` itself when that changes none."""
    out = frame
    for at in range(frame.shape[1]):
        column = frame.iloc[:, at]
        converted = arrow_as_pandas(column)
        if converted is not column:
            if out is frame:
                out = frame.copy(deep=False)
            out.isetitem(at, converted.array)
    return out


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
