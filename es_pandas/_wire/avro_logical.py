"""Avro's logical types as converters (see :mod:`.avro_types`): decimal, date,
time-millis/-micros, timestamp-millis/-micros (UTC instants) and
local-timestamp-millis/-micros (wall times). A value is never rounded, truncated or
moved to another zone to fit: a timestamp with nanoseconds, a decimal with more
places than the scale, a naive timestamp for an instant reject their rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from .avro_types import AvroType, BytesType, IntegerType, Mismatch, shown

__all__ = ["DateType", "DecimalType", "TimeType", "TimestampType", "unscaled_decimal"]

_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


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
        problem = self._zone_problem(value.tzinfo is not None, value)
        if problem:
            raise Mismatch(problem)
        if getattr(value, "nanosecond", 0):
            raise Mismatch(self._sub_micro(value))
        micros = (value - (_EPOCH_UTC if value.tzinfo else _EPOCH)) // _MICROSECOND
        return _in_unit(micros, self.per_micro, value, self.what)

    def _zone_problem(self, aware: bool, value: object) -> str | None:
        if aware and self.local:
            return (
                f"{shown(value)} has a time zone, and {self.what} holds wall times: "
                "drop the zone (.dt.tz_localize(None)) or use timestamp-micros"
            )
        if not aware and not self.local:
            return (
                f"{shown(value)} has no time zone, and {self.what} is an instant (UTC): "
                "give the zone (.dt.tz_localize(...)) or use local-timestamp-micros"
            )
        return None

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
        if self._zone_problem(aware, None):
            # the zone is the dtype's: every value but the missing ones is refused
            return [None] * len(column), {
                i: str(self._zone_problem(aware, column.iloc[i]))
                for i in np.flatnonzero(~missing).tolist()
            }
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
