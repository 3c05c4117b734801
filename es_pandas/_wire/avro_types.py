"""Avro types as converters: a pandas column or a Python value in, Avro datums out,
and a datum as Avro's JSON encoding.

A schema is compiled once (:func:`compile_type`) into one :class:`AvroType` per node.
``column`` converts a whole column, numpy doing the common dtypes in bulk; ``datum``
converts one value (object columns, and what is inside lists and dicts). A datum is
what fastavro's writer takes for the schema with its logical types taken off (the
number of microseconds, the decimal's bytes, ...), every value of a union given as
``(branch name, datum)`` so that fastavro and the JSON encoding pick the same branch.

A value that does not fit raises :class:`Mismatch`, whose message says what the value
is and what the type wanted (``'abc' is not a long``); nothing is ever rounded,
truncated or shifted to make it fit. A missing value (None, NaN, NaT, NA) is null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

import numpy as np
import pandas as pd

__all__ = [
    "AvroType",
    "Mismatch",
    "RecordType",
    "article",
    "compile_type",
    "is_missing",
    "shown",
    "unscaled_decimal",
]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
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
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 40 else text[:39] + "…"


def article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


class AvroType:
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

    def datum(self, value: object) -> object:
        """``value`` (not missing) as a datum, or :class:`Mismatch`."""
        raise NotImplementedError

    def convert(self, value: object) -> object:
        """Any value as a datum: a missing one is None, if this type holds null."""
        if is_missing(value):
            if self.nullable:
                return None
            raise Mismatch(f"null, and {self.what} has no null")
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

    def text(self, datum: Any) -> str:
        """A datum in Avro's JSON encoding; None is null."""
        raise NotImplementedError

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
            if number != value:
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
        return str(value)

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
            raise self._mismatch(value)
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
            return str(value)
        raise self._mismatch(value)

    def text(self, datum: Any) -> str:
        return encode_basestring(datum)


class DecimalType(BytesType):
    """decimal on bytes or fixed: the unscaled number as big-endian two's complement."""

    def __init__(
        self, precision: int, scale: int, name: str | None = None, size: int | None = None
    ) -> None:
        super().__init__(name, size)
        self.precision, self.scale = precision, scale
        self.what = f"decimal({precision}, {scale})"

    def accepts(self, value: object) -> bool:
        return isinstance(value, Decimal)

    def datum(self, value: object) -> object:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            value = Decimal(int(value))
        if not isinstance(value, Decimal):
            raise Mismatch(f"{shown(value)} is not a Decimal")
        if not value.is_finite():
            raise Mismatch(f"{value} is not a finite decimal")
        unscaled = unscaled_decimal(value, self.scale)
        if unscaled is None:
            raise Mismatch(f"{value} has more than {self.scale} decimal places")
        if len(str(abs(unscaled))) > self.precision:
            raise Mismatch(f"{value} has more than {self.precision} digits")
        if self.size is None:
            return unscaled.to_bytes(_signed_size(unscaled), "big", signed=True)
        if _signed_size(unscaled) > self.size:
            raise Mismatch(f"{value} does not fit in {self.size} bytes")
        return unscaled.to_bytes(self.size, "big", signed=True)


def unscaled_decimal(value: Decimal, scale: int) -> int | None:
    """``value`` * 10**scale as an int, exactly (no context rounding); None if that
    is not a whole number."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    number = int("".join(map(str, digits)) or "0")
    shift = scale + exponent
    if shift < 0:
        divisor: int = 10**-shift
        number, rest = divmod(number, divisor)
        if rest:
            return None
    else:
        number *= 10**shift
    return -number if sign else number


def _signed_size(number: int) -> int:
    return (number if number >= 0 else ~number).bit_length() // 8 + 1


class DateType(IntegerType):
    """date: days since 1970-01-01."""

    def __init__(self) -> None:
        super().__init__("int")
        self.what = "date"

    def accepts(self, value: object) -> bool:
        return isinstance(value, date) and not isinstance(value, datetime)

    def datum(self, value: object) -> object:
        if not self.accepts(value):
            raise self._mismatch(value)
        assert isinstance(value, date)
        return (value - _EPOCH_DAY).days

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        return AvroType.column(self, column)


class TimeType(IntegerType):
    """time-micros (long) or time-millis (int) since midnight."""

    def __init__(self, unit: str) -> None:
        super().__init__("long" if unit == "micros" else "int")
        self.what = f"time-{unit}"
        self.per_micro = 1 if unit == "micros" else 1000

    def accepts(self, value: object) -> bool:
        return isinstance(value, time)

    def datum(self, value: object) -> object:
        if not isinstance(value, time) or value.tzinfo is not None:
            raise self._mismatch(value)
        micros = (value.hour * 3600 + value.minute * 60 + value.second) * 10**6
        return _in_unit(micros + value.microsecond, self.per_micro, value, self.what)

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        return AvroType.column(self, column)


def _in_unit(micros: int, per_micro: int, value: object, what: str) -> int:
    count, rest = divmod(micros, per_micro)
    if rest:
        raise Mismatch(f"{shown(value)} has microseconds, which {what} cannot hold")
    return count


class TimestampType(IntegerType):
    """timestamp-micros/-millis (a UTC instant: tz-aware values only) and
    local-timestamp-micros/-millis (a wall time: naive values only)."""

    def __init__(self, unit: str, local: bool) -> None:
        super().__init__("long")
        self.local = local
        self.what = f"{'local-' if local else ''}timestamp-{unit}"
        self.per_micro = 1 if unit == "micros" else 1000

    def accepts(self, value: object) -> bool:
        return isinstance(value, (datetime, np.datetime64))

    def datum(self, value: object) -> object:
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
        if not isinstance(value, datetime):
            raise self._mismatch(value)
        self._check_zone(value.tzinfo is not None, value)
        if getattr(value, "nanosecond", 0):
            raise Mismatch(self._sub_micro(value))
        micros = (value - (_EPOCH_UTC if value.tzinfo else _EPOCH)) // _MICROSECOND
        return _in_unit(micros, self.per_micro, value, self.what)

    def _check_zone(self, aware: bool, value: object) -> None:
        if aware and self.local:
            raise Mismatch(
                f"{shown(value)} has a time zone, and {self.what} holds wall times: "
                "drop the zone (.dt.tz_localize(None)) or use timestamp-micros"
            )
        if not aware and not self.local:
            raise Mismatch(
                f"{shown(value)} has no time zone, and {self.what} is an instant (UTC): "
                "give the zone (.dt.tz_localize(...)) or use local-timestamp-micros"
            )

    def _sub_micro(self, value: object) -> str:
        return (
            f"{shown(value)} has nanoseconds, which {self.what} cannot hold "
            "(round the column first, .dt.floor('us'), if that is what you want)"
        )

    def column(self, column: pd.Series) -> tuple[list[object], dict[int, str]]:
        dtype = column.dtype
        aware = isinstance(dtype, pd.DatetimeTZDtype)
        if not aware and not (isinstance(dtype, np.dtype) and dtype.kind == "M"):
            return AvroType.column(self, column)
        problems: dict[int, str] = {}
        wall = (column.dt.tz_convert(None) if aware else column).to_numpy()
        missing = np.isnat(wall)
        if missing.all():
            return [None] * len(column), {}
        try:
            self._check_zone(aware, column[~missing].iloc[0])
        except Mismatch as exc:
            return [None] * len(column), {i: str(exc) for i in np.flatnonzero(~missing).tolist()}
        ticks = wall.view("i8")
        per_second = _TICKS_PER_SECOND[np.datetime_data(wall.dtype)[0]]
        wanted = 10**6 // self.per_micro  # this type's units per second
        if per_second >= wanted:
            units, rest = np.divmod(ticks, per_second // wanted)
            per_micro = max(per_second // 10**6, 1)
            for i in np.flatnonzero((rest != 0) & ~missing).tolist():
                value = column.iloc[i]
                problems[i] = (
                    self._sub_micro(value)
                    if ticks[i] % per_micro
                    else f"{shown(value)} has microseconds, which {self.what} cannot hold"
                )
        else:
            factor = wanted // per_second
            outside = np.abs(ticks) > np.iinfo(np.int64).max // factor
            for i in np.flatnonzero(outside & ~missing).tolist():
                problems[i] = f"{shown(column.iloc[i])} is out of the range of {self.what}"
            units = np.where(outside, 0, ticks) * factor
        out: list[object] = units.tolist()
        for i in [*np.flatnonzero(missing).tolist(), *problems]:
            out[i] = None
        return out, problems


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


# -- compiling ---------------------------------------------------------------------------

_PRIMITIVES: dict[str, Callable[[bool], AvroType]] = {
    "null": lambda finite: NullType(),
    "boolean": lambda finite: BooleanType(),
    "int": lambda finite: IntegerType("int"),
    "long": lambda finite: IntegerType("long"),
    "float": lambda finite: FloatType("float", finite),
    "double": lambda finite: FloatType("double", finite),
    "string": lambda finite: StringType(),
    "bytes": lambda finite: BytesType(),
}
_LOGICAL: dict[tuple[str, str], Callable[[], AvroType]] = {
    ("int", "date"): DateType,
    ("int", "time-millis"): lambda: TimeType("millis"),
    ("long", "time-micros"): lambda: TimeType("micros"),
    ("long", "timestamp-millis"): lambda: TimestampType("millis", local=False),
    ("long", "timestamp-micros"): lambda: TimestampType("micros", local=False),
    ("long", "local-timestamp-millis"): lambda: TimestampType("millis", local=True),
    ("long", "local-timestamp-micros"): lambda: TimestampType("micros", local=True),
    ("string", "uuid"): lambda: StringType(uuid=True),
}


def compile_type(
    schema: object,
    named: Mapping[str, Any],
    *,
    finite: bool,
    _done: dict[str, AvroType] | None = None,
) -> AvroType:
    """The converter of ``schema``, as fastavro's ``parse_schema`` gives it (full
    names; ``named`` maps them to their definitions). Unknown logical types are their
    underlying types, as the Avro specification says."""
    done = {} if _done is None else _done

    def build(node: object) -> AvroType:
        return compile_type(node, named, finite=finite, _done=done)

    if isinstance(schema, list):
        return UnionType([build(branch) for branch in schema])
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema](finite)
        if schema not in done:
            done[schema] = build(named[schema])
        return done[schema]
    assert isinstance(schema, Mapping)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return DecimalType(
            schema["precision"], schema.get("scale", 0), schema.get("name"), schema.get("size")
        )
    if isinstance(logical, str) and (kind, logical) in _LOGICAL:
        return _LOGICAL[kind, logical]()
    if kind == "array":
        array = ArrayType()
        array.items = build(schema["items"])
        return array
    if kind == "map":
        map_type = MapType()
        map_type.values = build(schema["values"])
        return map_type
    if kind == "enum":
        done[schema["name"]] = EnumType(schema["name"], schema["symbols"])
    elif kind == "fixed":
        done[schema["name"]] = BytesType(schema["name"], schema["size"])
    elif kind in ("record", "error"):
        record = done[schema["name"]] = RecordType(schema["name"])
        # registered before its fields, which may refer to it
        for field in schema["fields"]:
            record.fields[field["name"]] = build(field["type"])
    else:
        return build(kind)
    return done[schema["name"]]
