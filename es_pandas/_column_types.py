"""The types of a CSV or TSV file's columns, text unless ``dtype`` gives one or
``infer_types`` infers them from the first chunk; a value that does not fit its column's
type rejects its row, naming the column and the value."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Iterable
from decimal import Decimal
from typing import Any

import pandas as pd

from ._exceptions import ConfigurationError
from ._formats import ReadOptions

__all__ = ["ColumnTypes", "StrictJson", "Unfit", "shown", "spaced"]

# What each type takes. Inferred types take only what reads back the same: "007" is
# not inferred as an int, so a column of zip codes stays text.
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# -0 is the int 0 (a rounding of a small negative writes it), and -0.0 in a float column
_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_CANONICAL_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NONZERO = re.compile(r"^[+-]?0*\.?0*[1-9]")  # a digit not 0 before any exponent
# 1.000, 12.500: a decimal point, or digits grouped in thousands as a comma locale writes
# them (German 1.000 is a thousand): a column whose fractions all look so is not inferred
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+")
_BOOLS = {"true": True, "false": False}
_INT64 = range(-(2**63), 2**63)
_DOES_NOT_FIT = (ValueError, KeyError, OverflowError, RecursionError)


def _to_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise ValueError
    value = int(text)
    if value not in _INT64:
        raise OverflowError
    return value


def _to_float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise ValueError
    value = float(text)
    if value in (float("inf"), float("-inf")) or (value == 0 and _NONZERO.search(text)):
        # 1e400 and 1e-400: the float would be an infinity, or 0
        raise OverflowError
    return value


def _to_bool(text: str) -> bool:
    return _BOOLS[text.lower()]


class Unfit(ValueError):
    """A value that cannot be sent as its text holds it, saying why better than "is
    not"; ``field``: the JSON field it is in, when known; ``value``: what was read."""

    def __init__(self, why: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(why)
        self.field = field
        self.value = value


class StrictJson:
    """JSON text read as json.loads reads it, but for what it would change without a
    word: a field twice in one object, with two values (it keeps the last, where a
    consumer may keep either; the same value twice, 1 and 1, is one field, 1 and 1.0,
    or 1 and true, are not), and a number past a float64's range (1e400 would be inf,
    which is no JSON, 1e-400 would be 0). Both raise :class:`Unfit`, as a text that is no
    JSON raises ValueError. A number is a float64 as ``dtype`` float makes it: digits
    past its precision are rounded, as JSON readers do. The same rules for a JSON Lines
    file's lines and a json column's values."""

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder(object_pairs_hook=self._unique, parse_float=self._float)
        self._twice: list[str] = []
        # the first number past the range: as written, as read, and the field it is in
        self._past: list[tuple[str, float]] = []
        self._past_in: list[str] = []

    def decode(self, text: str) -> Any:
        try:
            value = self._decoder.decode(text)
            if self._twice:
                raise Unfit(
                    f"has the field {self._twice[0]!r} twice in one object: a consumer "
                    "would keep one of them",
                    value=value,
                )
            if self._past:
                raise Unfit(
                    f"holds {self._past[0][0]}, past a float64's range, so it cannot be "
                    "sent as it is",
                    self._past_in[0] if self._past_in else None,
                    value,
                )
            return value
        finally:
            self._twice.clear()
            self._past.clear()
            self._past_in.clear()

    def _unique(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if self._past and not self._past_in:
            past = self._past[0][1]
            self._past_in.extend(key for key, value in pairs if value is past)
        if len(found) != len(pairs) and not self._twice:
            first: dict[str, Any] = {}
            for key, value in pairs:
                seen = first.setdefault(key, value)
                if type(seen) is not type(value) or seen != value:
                    self._twice.append(key)
                    break
        return found

    def _float(self, text: str) -> float:
        number = float(text)
        if math.isinf(number) or (number == 0 and _NONZERO.search(text)):
            self._past.append((text, number))
        return number


def _float_reads_back(text: str) -> bool:
    """Whether ``text`` is written as a float, and is the number that float is: not
    ``18446744073709551615``, whose float is ``1.8446744073709552e+19``, nor ``1e-400``,
    whose float is 0. ``1.10`` is: its float, ``1.1``, is the same number."""
    if not _CANONICAL_FLOAT.fullmatch(text):
        return False
    value = float(text)
    return math.isfinite(value) and Decimal(repr(value)) == Decimal(text)


_CONVERTERS: dict[str, Callable[[str], object]] = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
}
_DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean", "json": "object"}
_INFERRED: dict[str, Callable[[str], bool]] = {
    "int": lambda text: bool(_CANONICAL_INT.fullmatch(text)) and int(text) in _INT64,
    "float": _float_reads_back,
    "bool": lambda text: text.lower() in _BOOLS,
}


def _number_reader(decimal: str, thousands: str | None) -> Callable[[str], str] | None:
    """What reads a number written with ``decimal`` and ``thousands`` as Python writes it
    (1.234,5 -> 1234.5), raising ValueError for one whose digits are not grouped in
    threes (nor after a leading 0: 0.001 is no thousand), or that holds a point that is
    not the decimal mark; None when the file writes numbers as Python does."""
    if decimal == "." and thousands is None:
        return None
    if decimal == thousands:
        raise ConfigurationError(
            f"decimal= and thousands= are both {decimal!r}: a number's decimal mark and its "
            "thousands separator differ (decimal=',' with thousands='.', as German writes "
            "1.234,5)"
        )
    grouped = (
        None
        if thousands is None
        else re.compile(
            rf"[+-]?[1-9][0-9]{{0,2}}(?:{re.escape(thousands)}[0-9]{{3}})+"
            rf"(?:{re.escape(decimal)}[0-9]*)?(?:[eE][+-]?[0-9]+)?"
        )
    )

    def read(text: str) -> str:
        if grouped is not None and thousands is not None and thousands in text:
            if not grouped.fullmatch(text):
                raise ValueError
            text = text.replace(thousands, "")
        if decimal != ".":
            if "." in text:
                raise ValueError
            text = text.replace(decimal, ".")
        return text

    return read


class ColumnTypes:
    """The type of each column of a CSV or TSV file, decided once for the whole file."""

    def __init__(self, options: ReadOptions) -> None:
        self._options = options
        self._types: dict[Hashable, str] | None = None
        self._why: dict[Hashable, str] = {}
        self._number = _number_reader(options.decimal, options.thousands)
        self._json = StrictJson()  # not shared: it keeps what it finds in a value

    def decide(self, frame: pd.DataFrame) -> None:
        """Decide the types from the file's first chunk (later calls do nothing)."""
        if self._types is None:
            self._types = self._decided(frame)

    def apply(self, frame: pd.DataFrame) -> dict[int, str]:
        """Give ``frame``'s columns (all text) their types, in place; the positions of
        the rows holding a value that does not fit, with why."""
        assert self._types is not None, "decide() first"
        problems: dict[int, str] = {}
        for name, kind in self._types.items():
            frame[name] = self._convert(frame[name], name, kind, problems)
        return problems

    def _decided(self, frame: pd.DataFrame) -> dict[Hashable, str]:
        options = self._options
        unknown = [name for name in options.dtype if name not in frame.columns]
        if unknown:
            raise ConfigurationError(
                f"dtype: the file has no column {unknown[0]!r}; its columns are "
                f"{list(frame.columns)!r}{spaced(frame.columns, unknown[0])}"
            )
        types: dict[Hashable, str] = {}
        for name in frame.columns:
            if name in options.dtype:
                kind = options.dtype[str(name)]
                self._why[name] = f"dtype={ {name: kind} }"
            elif options.infer_types and name != options.key_col:
                kind = _infer(frame[name], self._number)
                self._why[name] = "inferred from the file's first rows"
            else:
                continue
            if kind != "str":
                types[name] = kind
        return types

    def _convert(
        self, column: pd.Series, name: Hashable, kind: str, problems: dict[int, str]
    ) -> pd.Series:
        convert = self._json.decode if kind == "json" else _CONVERTERS[kind]
        fits = _INFERRED.get(kind) if self._why[name].startswith("inferred") else None
        number = self._number if kind in ("int", "float") else None
        values: list[object] = []
        for position, text in enumerate(column.tolist()):
            if not isinstance(text, str):
                values.append(None)  # named by na_values
                continue
            try:
                written = text if number is None else number(text)
                if fits is not None and not fits(written):
                    raise ValueError
                values.append(convert(written))
            except _DOES_NOT_FIT as exc:
                values.append(None)
                # 18446744073709551615 is an integer, but too large for an int64
                why = "is out of range for" if isinstance(exc, OverflowError) else "is not"
                unfit = str(exc) if isinstance(exc, Unfit) else f"{why} {_ARTICLES[kind]}"
                problems.setdefault(
                    position,
                    f"column {name!r}: {shown(text)} {unfit} "
                    f"({self._why[name]}{_remedy(text, kind, self._options)}"
                    f"dtype={ {name: 'str'} } sends it as text)",
                )
        typed: pd.Series = pd.Series(values, index=column.index, dtype=_DTYPES[kind])
        return typed


_ARTICLES = {"int": "an int", "float": "a float", "bool": "a bool", "json": "JSON"}
# What a spreadsheet writes: an error in a cell (#N/A, #DIV/0!; German #NV, #WERT!), and
# numbers with a decimal comma (1,5; 1.234,56), as in German or French
_EXCEL_ERROR = re.compile(r"#(?:N/?A|NV|[A-Z][A-Z0-9/_]*[!?])")
_DECIMAL_COMMA = re.compile(r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]*),[0-9]+")


def _remedy(text: str, kind: str, options: ReadOptions) -> str:
    """What to make of ``text``, which is not of its column's type ``kind``, before
    sending it as text."""
    if not text.strip() or _EXCEL_ERROR.fullmatch(text):
        return "; na_values= naming it makes it null, "
    if kind not in ("int", "float"):
        return "; "
    if options.decimal == "." and options.thousands is None:
        if kind == "float" and _DECIMAL_COMMA.fullmatch(text):
            return ": decimal=',' reads a decimal comma (thousands='.' the points of 1.234,5); "
        if _GROUPED.fullmatch(text):
            return ": thousands='.' reads digits grouped in threes; "
    elif options.decimal == "," and options.thousands is None and _DECIMAL_COMMA.fullmatch(text):
        return ": thousands='.' reads the points of 1.234,5; "
    elif options.decimal != "." and "." in text and _FLOAT.fullmatch(text.replace(",", "")):
        return f": with decimal={options.decimal!r} a point is no decimal mark; "
    return "; "


def shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "…")


def spaced(columns: Iterable[Hashable], name: Hashable, listed: bool = False) -> str:
    """Why ``name`` may be missing from ``columns``: its column's name has spaces around
    it (an Excel header cell's, 'Betrag '); ``listed``: it was one of a list of names,
    which the command line splits at commas and trims unless in double quotes (so a
    column 'a,b' is missing as 'a')."""
    if not isinstance(name, str):
        return ""
    named = [c for c in columns if isinstance(c, str) and c != name]
    near = [c for c in named if c.strip() == name.strip()]
    if len(near) == 1:
        return f": there is {near[0]!r}, with spaces{_quoted(near[0]) if listed else ''}"
    commas = [c for c in named if name.strip() in (part.strip() for part in c.split(","))]
    if listed and not near and len(commas) == 1:
        return f": there is {commas[0]!r}{_quoted(commas[0])}"
    return ""


def _quoted(name: str) -> str:
    # as the command line reads a listed name in double quotes, a quote in it doubled
    doubled = name.replace('"', '""')
    return f' (on the command line, in double quotes: "{doubled}")'


def _infer(column: pd.Series, number: Callable[[str], str] | None) -> str:
    """The narrowest type every value of ``column`` is written as (``007`` is no int: as
    one it would lose its zeros); else text. ``number`` reads the file's numbers as
    Python writes them (decimal, thousands given)."""
    values = [text for text in column.tolist() if isinstance(text, str)]
    if not values:
        return "str"
    numbers = values if number is None else _numbers(values, number)
    for kind, fits in _INFERRED.items():
        if all(fits(text) for text in (values if kind == "bool" else numbers)):
            # 1.000 read as a float is a thousandth of what a comma locale means by it,
            # unless the file's thousands separator was given
            guessing = number is None and _thousands(values)
            return "str" if kind == "float" and guessing else kind
    return "str"


def _numbers(values: list[str], number: Callable[[str], str]) -> list[str]:
    """``values`` as Python writes numbers; one not written as a number of the file's
    is left unreadable (a NUL), so that no number type fits its column."""
    read = []
    for text in values:
        try:
            read.append(number(text))
        except ValueError:
            read.append("\x00")
    return read


def _thousands(values: list[str]) -> bool:
    """Whether every fraction of a column reads as thousands too (1.000, 2.500): as a
    float each would be a thousandth of what a German or French file means."""
    fractions = [text for text in values if not _CANONICAL_INT.fullmatch(text)]
    return bool(fractions) and all(_GROUPED.fullmatch(text) for text in fractions)
