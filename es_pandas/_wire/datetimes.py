"""Datetimes as ISO 8601 text, a whole array at a time: what the value policy (see
:mod:`.values`) sends for a Timestamp, in a column (:mod:`.columns`) or alone.

The text is ``Timestamp.isoformat``'s: naive stays naive, tz-aware keeps its own offset,
no fraction when it is zero, nanoseconds only when present. Years 0000 to 9999 have four
digits; a year outside them, which numpy and pandas hold (``datetime64[s]`` reaches
billions of years) but Python's datetime does not, is written in ISO 8601's expanded form,
a sign and at least four digits (``+12000-01-01T00:00:00``, ``-0005-03-01T00:00:00``),
as java.time writes and reads it. ``Timestamp.isoformat`` itself writes such a year
unsigned (``12000``, ``-005``: not ISO 8601) or, tz-aware, raises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["iso_datetimes", "iso_timestamp"]

_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


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


def iso_datetimes(wall: np.ndarray, utc: np.ndarray | None) -> list[str | None]:
    """Each datetime64 of ``wall`` (the wall times) as ISO 8601, None for NaT; with the
    offset from ``utc`` (the same instants in UTC, in the same unit) when given.

    The text is built as digit bytes in one numpy array: numpy's and pandas' own
    formatters cost several times as much per value.
    """
    missing = np.isnat(wall)
    per_second = _TICKS_PER_SECOND[np.datetime_data(wall.dtype)[0]]
    ticks = wall.view("i8")
    seconds, fraction = _divmod(ticks, per_second)
    days, clock = _divmod(seconds, 86400)
    year, month, day = _civil_date(days)
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
    stamps = text.split(",")[:-1]
    # The digits written above are those of the year's last four, in place for these.
    for i in np.flatnonzero(((year < 0) | (year > 9999)) & ~missing).tolist():
        stamps[i] = f"{int(year[i]):+05d}{stamps[i][4:]}"
    if utc is not None:
        offsets, which = np.unique((ticks - utc.view("i8")) // per_second, return_inverse=True)
        suffixes = [_utc_offset(int(seconds)) for seconds in offsets.tolist()]
        stamps = [f"{stamp}{suffixes[i]}" for stamp, i in zip(stamps, which.tolist(), strict=True)]
    out: list[str | None] = list(stamps)
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


def iso_timestamp(stamp: pd.Timestamp) -> str:
    """One Timestamp as :func:`iso_datetimes` writes it (``isoformat`` cannot write
    a year outside 1 to 9999 faithfully)."""
    wall = np.array([stamp.tz_localize(None).asm8])
    utc = None if stamp.tz is None else np.array([stamp.asm8])
    text = iso_datetimes(wall, utc)[0]
    assert text is not None, "NaT is no Timestamp"
    return text
