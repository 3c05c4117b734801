"""Avro types as converters: a pandas column or a Python value in, Avro datums out,
and a datum as Avro's JSON encoding.

A schema is compiled once (:func:`.avro.compile_type`) into one :class:`AvroType` per
node; the logical types are in :mod:`.avro_logical`.
``column`` converts a whole column, numpy doing the common dtypes in bulk; ``datum``
converts one value (object columns, and what is inside lists and dicts). A datum is
what fastavro's writer takes for the schema with its logical types taken off (the
number of microseconds, the decimal's bytes, ...), every value of a union given as
``(branch name, datum)`` so that fastavro and the JSON encoding pick the same branch.

A value that does not fit raises :class:`Mismatch`, whose message says what the value
is and what the type wanted (``'abc' is not a long``); nothing is ever rounded,
truncated or shifted to make it fit. A missing value (None, NaN, NaT, NA) is null.

Longer than this project's ~400-line guide: one class per Avro type, each small,
so that a type's rules (and its error messages) are found by its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd

from .datetimes import iso_timestamp

__all__ = [
    "ArrayType",
    "AvroType",
    "BooleanType",
    "BytesType",
    "EnumType",
    "FloatType",
    "IntegerType",
    "MapType",
    "Mismatch",
    "NullType",
    "RecordType",
    "StringType",
    "UnionType",
    "article",
    "is_missing",
    "shown",
]

_BYTES = (bytes, bytearray, memoryview)
_SEQUENCES = (list, tuple, np.ndarray)


class Mismatch(ValueError):
    """A value that its Avro type cannot hold as it is."""


def is_missing(value: object) -> bool:
    """None, NaN, NaT, pd.NA and a NaN Decimal: a null."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(value != value)
    if isinstance(value, Decimal):
        return value.is_nan()
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def shown(value: object) -> str:
    """A value as messages show it: its repr, cut at 40 characters."""
    if isinstance(value, pd.Timestamp) and not 1 <= value.year <= 9999:
        # its repr raises (Python's datetime has no such year) when it is tz-aware
        text = f"Timestamp({iso_timestamp(value)!r})"
    else:
        text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:39] + "…"


def article(word: str) -> str:
    # not "u": "a uuid", and no type's name says "un..."
    return f"an {word}" if word[0] in "aeio" else f"a {word}"


class AvroType(ABC):
    """One node of a compiled schema."""

    #: its name as a union branch, in Avro's JSON encoding and for fastavro
    label: str
    #: what messages call it
    what: str
    #: whether it holds null (the null type, or a union with null)
    nullable = False

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is of this type's own kind (a union's first choice)."""
        return False

    @abstractmethod
    def datum(self, value: object) -> object:
        """``value`` (not missing) as a datum, or :class:`Mismatch`."""

    def convert(self, value: object) -> object:
        """Any value as a datum: a missing one is None, if this type holds null."""
        if is_missing(value):
            if self.nullable:
                return None
            raise Mismatch(f"null, but its type ({self.what}) has no null")
        return self.datum(value)

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        """Each value's datum (None when missing, whatever the type), and the problems
        by row position."""
        if isinstance(column.dtype, pd.CategoricalDtype):
            # each category once, then every row by its code (-1: missing)
            datums, problems = self.column(pd.Series(column.dtype.categories))
            datums.append(None)
            codes = column.cat.codes.tolist()
            return [datums[c] for c in codes], {
                i: problems[c] for i, c in enumerate(codes) if c in problems
            }
        return self._values(column.tolist())

    def _values(self, values: Sequence[object]) -> tuple[list[object], dict[int, str]]:
        out: list[object] = []
        problems: dict[int, str] = {}
        datum = self.datum
        for i, value in enumerate(values):
            if is_missing(value):
                out.append(None)
                continue
            try:
                out.append(datum(value))
            except Mismatch as exc:
                out.append(None)
                problems[i] = str(exc)
        return out, problems

    @abstractmethod
    def text(self, datum: Any) -> str:
        """A datum in Avro's JSON encoding; None is null."""

    def texts(self, datums: Sequence[object]) -> list[str]:
        text = self.text
        return ["null" if d is None else text(d) for d in datums]

    def _mismatch(self, value: object) -> Mismatch:
        return Mismatch(f"{shown(value)} is not {article(self.what)}")


class NullType(AvroType):
    label = what = "null"
    nullable = True

    def datum(self, value: object) -> object:
        raise Mismatch(f"{shown(value)} is not null (the schema's type is null)")

    def text(self, datum: Any) -> str:
        return "null"


class BooleanType(AvroType):
    label = what = "boolean"

    def accepts(self, value: object) -> bool:
        return isinstance(value, (bool, np.bool_))

    def datum(self, value: object) -> object:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise self._mismatch(value)

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        numpy_dtype = _numpy_dtype(column.dtype)
        if numpy_dtype is None or numpy_dtype.kind != "b":
            return super().column(column)
        out: list[object] = column.to_numpy(dtype=bool, na_value=False).tolist()
        return _nulls(out, column, numpy_dtype), {}

    def text(self, datum: Any) -> str:
        return "true" if datum else "false"


class IntegerType(AvroType):
    """int (32 bits) or long (64 bits); logical types on them (date, times, timestamps)
    are subclasses."""

    def __init__(self, label: str) -> None:
        self.label = self.what = label
        bits = 32 if label == "int" else 64
        self.low, self.high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def accepts(self, value: object) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))

    def datum(self, value: object) -> object:
        if isinstance(value, (bool, np.bool_)):
            raise self._mismatch(value)
        if isinstance(value, (int, np.integer)):
            number = int(value)
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            # the same number, as pandas gives an int column that has a missing value
            number = int(value)
        else:
            raise self._mismatch(value)
        if not self.low <= number <= self.high:
            raise Mismatch(f"{number} is out of the range of {article(self.what)}")
        return number

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        numpy_dtype = _numpy_dtype(column.dtype)
        if numpy_dtype is None or numpy_dtype.kind not in "iu":
            return super().column(column)
        values = column.to_numpy(dtype=numpy_dtype, na_value=0)
        out: list[object] = values.tolist()
        problems = {}
        info = np.iinfo(numpy_dtype)
        if info.min < self.low or info.max > self.high:
            # compared as Python ints: numpy would wrap uint64 around
            outside = (values < max(self.low, info.min)) | (values > min(self.high, info.max))
            for i in np.flatnonzero(outside).tolist():
                problems[i] = f"{out[i]} is out of the range of {article(self.what)}"
                out[i] = None
        return _nulls(out, column, numpy_dtype), problems

    def text(self, datum: Any) -> str:
        return int.__repr__(datum)

    def texts(self, datums: Sequence[object]) -> list[str]:
        if None in datums:
            return super().texts(datums)
        return list(map(int.__repr__, datums))


class FloatType(AvroType):
    """float (32 bits) or double. ``finite``: infinities are refused, as Avro's JSON
    encoding has no standard form for them."""

    def __init__(self, label: str, finite: bool) -> None:
        self.label = self.what = label
        self.finite = finite

    def accepts(self, value: object) -> bool:
        return isinstance(value, (float, np.floating))

    def datum(self, value: object) -> object:
        if isinstance(value, (float, np.floating)):
            number = float(value)
        elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            number = float(value)
            if int(number) != int(value):  # as Python ints: numpy would compare as floats
                raise Mismatch(f"{value} has no exact {self.what}")
        else:
            raise self._mismatch(value)
        return self._checked(number, value)

    def _checked(self, number: float, value: object) -> float:
        if self.finite and number in (float("inf"), float("-inf")):
            raise Mismatch(
                f"{number!r} has no form in Avro's JSON encoding, which the v2 API takes "
                "(api_version='v1' sends Avro binary, which has)"
            )
        if self.label == "float" and float(np.float32(number)) != number:
            raise Mismatch(f"{shown(value)} has no exact float (32 bits): use double")
        return number

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        numpy_dtype = _numpy_dtype(column.dtype)
        if numpy_dtype is None or numpy_dtype.kind != "f":
            return super().column(column)
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        out: list[object] = values.tolist()
        problems = {}
        suspect = ~np.isfinite(values)
        if self.label == "float" and numpy_dtype.itemsize > 4:
            suspect |= values.astype(np.float32).astype(np.float64) != values
        for i in np.flatnonzero(suspect).tolist():
            number = out[i]
            assert isinstance(number, float)
            if number != number:
                out[i] = None
                continue
            try:
                self._checked(number, number)
            except Mismatch as exc:
                problems[i] = str(exc)
                out[i] = None
        return out, problems

    def text(self, datum: Any) -> str:
        return float.__repr__(datum)

    def texts(self, datums: Sequence[object]) -> list[str]:
        if None in datums:
            return super().texts(datums)
        return list(map(float.__repr__, datums))


class StringType(AvroType):
    """string, and uuid on it (UUID values, or text that is a UUID)."""

    def __init__(self, uuid: bool = False) -> None:
        self.label = "string"
        self.what = "uuid" if uuid else "string"
        self.uuid = uuid

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) or (self.uuid and isinstance(value, UUID))

    def datum(self, value: object) -> object:
        if self.uuid and isinstance(value, UUID):
            return str(value)
        if not isinstance(value, str):
            raise self._mismatch(value)
        if self.uuid:
            try:
                UUID(value)
            except ValueError:
                raise self._mismatch(value) from None
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise Mismatch(
                    f"{shown(value)} holds a lone surrogate, which UTF-8 cannot"
                ) from None
        return str.__str__(value)  # the text a str subclass holds, not its str()

    def _values(self, values: Sequence[object]) -> tuple[list[object], dict[int, str]]:
        if self.uuid or not all(type(v) is str and v.isascii() for v in values):
            return super()._values(values)
        return list(values), {}

    def text(self, datum: Any) -> str:
        return encode_basestring(datum)


class BytesType(AvroType):
    """bytes, or fixed (a named type of ``size`` bytes)."""

    def __init__(self, name: str | None = None, size: int | None = None) -> None:
        self.label = name or "bytes"
        self.what = f"fixed {name} ({size} bytes)" if name else "bytes"
        self.size = size

    def accepts(self, value: object) -> bool:
        return isinstance(value, _BYTES) and (self.size is None or len(value) == self.size)

    def datum(self, value: object) -> object:
        if not isinstance(value, _BYTES):
            raise Mismatch(
                f"{shown(value)} is not {self.what if self.size is None else article(self.what)}"
            )
        data = bytes(value)
        if self.size is not None and len(data) != self.size:
            raise Mismatch(f"{len(data)} bytes are not {article(self.what)}")
        return data

    def text(self, datum: Any) -> str:
        return encode_basestring(datum.decode("latin-1"))


class EnumType(AvroType):
    def __init__(self, name: str, symbols: Sequence[str]) -> None:
        self.label = name
        self.what = f"symbol of enum {name}"
        self.symbols = frozenset(symbols)

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.symbols

    def datum(self, value: object) -> object:
        if isinstance(value, str) and value in self.symbols:
            return str.__str__(value)  # a (str, Enum) member's str() is its name
        raise self._mismatch(value)

    def text(self, datum: Any) -> str:
        return encode_basestring(datum)


class ArrayType(AvroType):
    label = "array"

    def __init__(self) -> None:
        self.items: AvroType = NullType()

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"array of {self.items.what}"

    def accepts(self, value: object) -> bool:
        return isinstance(value, _SEQUENCES)

    def datum(self, value: object) -> object:
        if not isinstance(value, _SEQUENCES):
            raise Mismatch(f"{shown(value)} is not an array (a list)")
        convert = self.items.convert
        out = []
        for i, item in enumerate(value):
            try:
                out.append(convert(item))
            except Mismatch as exc:
                raise Mismatch(f"item {i}: {exc}") from None
        return out

    def text(self, datum: Any) -> str:
        return "[" + ",".join(self.items.texts(datum)) + "]"


class MapType(AvroType):
    label = "map"

    def __init__(self) -> None:
        self.values: AvroType = NullType()

    @property
    def what(self) -> str:  # type: ignore[override]
        return f"map of {self.values.what}"

    def accepts(self, value: object) -> bool:
        return isinstance(value, Mapping)

    def datum(self, value: object) -> object:
        if not isinstance(value, Mapping):
            raise Mismatch(f"{shown(value)} is not a map (a dict)")
        convert = self.values.convert
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Mismatch(f"key {shown(key)} is not a string, as map keys are")
            try:
                out[key] = convert(item)
            except Mismatch as exc:
                raise Mismatch(f"key {key!r}: {exc}") from None
        return out

    def text(self, datum: Any) -> str:
        texts = self.values.texts(list(datum.values()))
        members = zip(datum, texts, strict=True)
        return "{" + ",".join(f"{encode_basestring(k)}:{t}" for k, t in members) + "}"


class RecordType(AvroType):
    """A record; a dict missing a nullable field's key gives that field null."""

    def __init__(self, name: str) -> None:
        self.label = name
        self.what = f"record {name}"
        self.fields: dict[str, AvroType] = {}

    def accepts(self, value: object) -> bool:
        return isinstance(value, Mapping) and set(value) <= set(self.fields)

    def datum(self, value: object) -> object:
        if not isinstance(value, Mapping):
            raise self._mismatch(value)
        extra = [key for key in value if key not in self.fields]
        if extra:
            raise Mismatch(f"{shown(extra[0])} is not a field of {self.what}")
        out = {}
        for name, kind in self.fields.items():
            try:
                out[name] = kind.convert(value.get(name))
            except Mismatch as exc:
                raise Mismatch(f"field {name!r}: {exc}") from None
        return out

    def text(self, datum: Any) -> str:
        return (
            "{"
            + ",".join(f'"{name}":{kind.text(datum[name])}' for name, kind in self.fields.items())
            + "}"
        )


class UnionType(AvroType):
    label = "union"

    def __init__(self, branches: Sequence[AvroType]) -> None:
        self.branches = [b for b in branches if not isinstance(b, NullType)]
        self.nullable = len(self.branches) < len(branches)
        self.by_label = {b.label: b for b in self.branches}
        self.what = " or ".join(b.what for b in branches)

    def accepts(self, value: object) -> bool:
        return is_missing(value) and self.nullable

    def datum(self, value: object) -> object:
        if len(self.branches) == 1:
            [branch] = self.branches
            return (branch.label, branch.datum(value))
        # A branch of the value's own kind first: 3.0 stays a double in ["long", "double"].
        for branch in sorted(self.branches, key=lambda b: not b.accepts(value)):
            try:
                return (branch.label, branch.datum(value))
            except Mismatch:
                continue
        raise Mismatch(f"{shown(value)} is none of {self.what}")

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        if len(self.branches) != 1:
            return super().column(column)
        [branch] = self.branches
        datums, problems = branch.column(column)
        label = branch.label
        return [None if d is None else (label, d) for d in datums], problems

    def text(self, datum: Any) -> str:
        if datum is None:
            return "null"
        label, inner = datum
        return f"{{{encode_basestring(label)}:{self.by_label[label].text(inner)}}}"

    def texts(self, datums: Sequence[object]) -> list[str]:
        if len(self.branches) != 1:
            return super().texts(datums)
        [branch] = self.branches
        present = [d[1] for d in datums if d is not None]  # type: ignore[index]
        inner = iter(branch.texts(present))
        opening = f"{{{encode_basestring(branch.label)}:"
        return ["null" if d is None else f"{opening}{next(inner)}}}" for d in datums]


def _numpy_dtype(dtype: object) -> np.dtype[Any] | None:
    """The numpy dtype of a numpy, masked (Int64, boolean, ...) or Arrow column."""
    if isinstance(dtype, np.dtype):
        return dtype
    found = getattr(dtype, "numpy_dtype", None)
    return found if isinstance(found, np.dtype) and found.kind in "biuf" else None


def _nulls(out: list[object], column: pd.Series, numpy_dtype: np.dtype[Any]) -> list[object]:
    """``out`` with None where a masked or Arrow column has a missing value."""
    if column.dtype is not numpy_dtype:
        for i in np.flatnonzero(column.isna().to_numpy()).tolist():
            out[i] = None
    return out
