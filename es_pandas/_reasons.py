"""Errors alike: rows that fail for one reason, each with its own value or size in
its error, are counted together in a run's summary.

Two errors are alike when they differ only in their numbers and quoted values, and
name the same column (a rejection) or HTTP status (an answer): ``column 'k': key is
6892 bytes, over the 4096-byte limit`` and ``column 'k': key is 7047 bytes, over the
4096-byte limit`` are one reason, shown with what differs as ``…``. The rows keep
their own errors: only the summary groups them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["Shape", "common", "group_alike", "joined", "split"]

#: an error's text between the parts that differ among errors alike
Shape = tuple[str, ...]

_QUOTED = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\""""
# What errors alike never differ in: the column a rejection names, the status an
# answer had.
_HEAD = re.compile(rf"column (?:{_QUOTED})|HTTP [0-9]{{3}}")
# A value: a quoted one, or a number on its own (the digits of int64 or UTF-8 are
# part of a word); or the … of values that differed.
_VALUE = re.compile(rf"({_QUOTED}|(?<![\w.])[0-9]+(?:[.,][0-9]+)*(?![\w])|…)")


def split(error: str) -> tuple[Shape, list[str]]:
    """What ``error`` has in common with the errors alike, and its own values."""
    head = _HEAD.match(error)
    at = head.end() if head is not None else 0
    parts = _VALUE.split(error[at:])
    return (error[:at], *parts[0::2]), parts[1::2]


def joined(shape: Shape, values: Sequence[str | None]) -> str:
    """The error of ``shape`` with ``values``, ``…`` for each None (values that differ
    among the errors alike)."""
    text = shape[0] + shape[1]
    for value, after in zip(values, shape[2:], strict=True):
        text += ("…" if value is None else value) + after
    return text


def common(kept: Sequence[str | None], values: Sequence[str]) -> list[str | None]:
    """``kept`` with None where ``values`` (of an error alike) differ."""
    return [each if each == value else None for each, value in zip(kept, values, strict=True)]


def group_alike(reasons: Counter[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """``(status, error)`` counts as ``(status, error, rows)`` with errors alike
    counted as one, most rows first; in the error of several alike, ``…`` stands for
    each value that differs among them."""
    rows: Counter[tuple[str, Shape]] = Counter()
    kept: dict[tuple[str, Shape], list[str | None]] = {}
    for (status, error), n in reasons.items():
        shape, values = split(error)
        group = status, shape
        rows[group] += n
        kept[group] = common(kept.get(group, values), values)
    alike = [(status, joined(shape, kept[status, shape]), n) for (status, shape), n in rows.items()]
    # stable: ties keep the order the errors came in
    alike.sort(key=lambda reason: -reason[2])
    return alike
