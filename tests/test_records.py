"""RecordEncoder: DataFrame rows to v1/v2 wire requests, checked alone and against the
local server over a real socket."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from es_pandas import ConfigurationError, LocalEventStreams
from es_pandas._wire import EncodedRecord, Limits, RejectedRow
from es_pandas._wire.columns import absent_as_null
from es_pandas._wire.dialect import make_record
from es_pandas._wire.records import RECORD_ID_HEADER, RecordEncoder
from es_pandas._wire.values import ABSENT, MAX_NESTING
from es_pandas.server import Record

# -- helpers ------------------------------------------------------------------------


def encode(frame: pd.DataFrame, start: int = 0, **options: Any) -> list[Any]:
    encoder = RecordEncoder("t", list(frame.columns), dtypes=list(frame.dtypes), **options)
    return encoder.encode(frame, start)


def one(frame: pd.DataFrame, **options: Any) -> EncodedRecord | RejectedRow:
    [item] = encode(frame, **options)
    return item


def envelope(record: EncodedRecord) -> dict[str, Any]:
    assert record.content_type == "application/json"
    return json.loads(record.body)


def value_bytes(record: EncodedRecord) -> bytes:
    """The record value as the server stores it, for either API version."""
    if record.target.startswith("/v2/"):
        value = envelope(record)["value"]
        data = value["data"]
        return base64.b64decode(data) if value["type"] == "binary" else data.encode()
    return record.body


def values(frame: pd.DataFrame, **options: Any) -> list[Any]:
    """Each row's JSON value, parsed; a RejectedRow is returned as is."""
    return [
        item if isinstance(item, RejectedRow) else json.loads(value_bytes(item))
        for item in encode(frame, **options)
    ]


def value(cell: Any, dtype: Any = None) -> Any:
    """The JSON value one cell becomes."""
    [row] = values(pd.DataFrame({"c": pd.Series([cell], dtype=dtype)}))
    assert not isinstance(row, RejectedRow), row
    return row["c"]


def query(record: EncodedRecord) -> dict[str, list[str]]:
    return parse_qs(urlsplit(record.target).query, keep_blank_values=True)


def rejected(item: Any, message: str) -> None:
    assert isinstance(item, RejectedRow), item
    assert message in item.error, item.error


BOTH = pytest.mark.parametrize("api_version", ["v1", "v2"])


# -- the value policy -----------------------------------------------------------------


def test_floats_keep_full_precision() -> None:
    frame = pd.DataFrame({"x": [0.1 + 0.2, 1e300, 5e-324, -0.0, 1 / 3, 3.0]})
    rows = values(frame)
    assert [r["x"] for r in rows] == frame["x"].tolist()
    assert encode(frame, api_version="v1")[0].body == b'{"x":0.30000000000000004}'


def test_float32_becomes_the_float64_it_equals() -> None:
    assert value(np.float32(0.1), "float32") == float(np.float32(0.1))


def test_missing_values_become_null() -> None:
    frame = pd.DataFrame(
        {
            "f": [np.nan],
            "s": pd.Series([None], dtype=object),
            "t": pd.Series([pd.NaT], dtype="datetime64[ns]"),
            "i": pd.Series([pd.NA], dtype="Int64"),
            "b": pd.Series([pd.NA], dtype="boolean"),
            "o": pd.Series([pd.NA], dtype=object),
            "d": pd.Series([Decimal("NaN")], dtype=object),
        }
    )
    assert values(frame) == [dict.fromkeys(frame.columns)]


@pytest.mark.parametrize(
    ("cells", "dtype"),
    [
        ([1, -2, 2**62], "int64"),
        ([2**64 - 1], "uint64"),
        ([7], "int8"),
        ([1, None], "Int64"),
        ([True, False], "bool"),
        ([True, None], "boolean"),
        ([1.5, None], "Float64"),
    ],
)
def test_numbers_and_bools(cells: list[Any], dtype: Any) -> None:
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=dtype)})
    assert [r["c"] for r in values(frame)] == cells


def test_pyarrow_columns() -> None:
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame(
        {
            "i": pd.Series([1, None], dtype=pd.ArrowDtype(pa.int64())),
            "f": pd.Series([0.1 + 0.2, None], dtype=pd.ArrowDtype(pa.float64())),
            "s": pd.Series(["é", None], dtype=pd.ArrowDtype(pa.string())),
            "t": pd.Series(
                [pd.Timestamp("2024-01-02 03:04:05.5"), None], dtype="timestamp[us][pyarrow]"
            ),
            "b": pd.Series([True, None], dtype=pd.ArrowDtype(pa.bool_())),
        }
    )
    assert values(frame) == [
        {"i": 1, "f": 0.30000000000000004, "s": "é", "t": "2024-01-02T03:04:05.500000", "b": True},
        {"i": None, "f": None, "s": None, "t": None, "b": None},
    ]


def test_numpy_scalars_in_object_columns_become_python_numbers() -> None:
    cells = [np.int64(3), np.float64(0.5), np.bool_(True), np.uint8(200)]
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=object)})
    assert [r["c"] for r in values(frame)] == [3, 0.5, True, 200]


def test_naive_timestamps_stay_naive() -> None:
    stamps = ["2024-03-01 12:30:45", "1969-12-31 23:59:59.5", "2024-03-01 00:00:00.000001"]
    frame = pd.DataFrame({"t": pd.to_datetime(stamps, format="ISO8601")})
    assert [r["t"] for r in values(frame)] == [
        "2024-03-01T12:30:45",
        "1969-12-31T23:59:59.500000",
        "2024-03-01T00:00:00.000001",
    ]


def test_nanoseconds_are_kept() -> None:
    stamps = pd.Series([pd.Timestamp("2024-03-01 00:00:00.123456789"), pd.Timestamp(1, unit="ns")])
    assert [r["t"] for r in values(pd.DataFrame({"t": stamps}))] == [
        "2024-03-01T00:00:00.123456789",
        "1970-01-01T00:00:00.000000001",
    ]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_datetime_unit_matches_isoformat(unit: str) -> None:
    stamps = pd.Series(
        pd.to_datetime(["1901-02-03 04:05:06.789", "2038-01-19 03:14:07"], format="ISO8601")
    )
    stamps = stamps.astype(f"datetime64[{unit}]")
    assert [r["t"] for r in values(pd.DataFrame({"t": stamps}))] == [s.isoformat() for s in stamps]


def test_aware_timestamps_keep_their_own_offset() -> None:
    kolkata = pd.Series(pd.to_datetime(["2024-03-01 12:00", None])).dt.tz_localize("Asia/Kolkata")
    new_york = pd.Series(
        pd.to_datetime(["2024-01-15 08:00:00.000000001", "2024-07-15 08:00"], format="ISO8601")
    )
    frame = pd.DataFrame(
        {
            "k": kolkata,
            "n": new_york.dt.tz_localize("America/New_York"),
            "u": new_york.dt.tz_localize("UTC"),
        }
    )
    assert values(frame) == [
        {
            "k": "2024-03-01T12:00:00+05:30",
            "n": "2024-01-15T08:00:00.000000001-05:00",
            "u": "2024-01-15T08:00:00.000000001+00:00",
        },
        {"k": None, "n": "2024-07-15T08:00:00-04:00", "u": "2024-07-15T08:00:00+00:00"},
    ]


def test_datetime_objects_in_object_columns() -> None:
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    cells = [
        dt.datetime(2024, 1, 2, 3, 4, 5, 6),
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=india),
        pd.Timestamp("2024-01-02 03:04:05.000000007", tz="Asia/Kolkata"),
        dt.date(2024, 1, 2),
        dt.time(3, 4, 5),
        np.datetime64("2024-01-02T03:04:05"),
    ]
    frame = pd.DataFrame({"c": pd.Series(cells, dtype=object)})
    assert [r["c"] for r in values(frame)] == [
        "2024-01-02T03:04:05.000006",
        "2024-01-02T03:04:05+05:30",
        "2024-01-02T03:04:05.000000007+05:30",
        "2024-01-02",
        "03:04:05",
        "2024-01-02T03:04:05",
    ]


# years pandas and numpy hold (datetime64[ms] reaches 292 million years) and Python does not
FAR = np.array(
    ["12000-01-01T00:00:00.5", "-0005-03-01", "0000-06-01", "2020-01-01", "NaT"],
    dtype="datetime64[ms]",
)
FAR_TEXTS = [
    "+12000-01-01T00:00:00.500000",
    "-0005-03-01T00:00:00",
    "0000-06-01T00:00:00",
    "2020-01-01T00:00:00",
    None,
]


def _far(how: str) -> pd.Series:
    pa = pytest.importorskip("pyarrow")
    utc = pa.timestamp("ms", tz="UTC")
    return {
        "datetime64": lambda: pd.Series(FAR),
        "aware": lambda: pd.Series(FAR).dt.tz_localize(ZoneInfo("UTC")),
        "arrow": lambda: pd.Series(pa.array(FAR), dtype=pd.ArrowDtype(pa.timestamp("ms"))),
        "arrow-aware": lambda: pd.Series(pa.array(FAR).cast(utc), dtype=pd.ArrowDtype(utc)),
        "object": lambda: pd.Series(
            list(pd.Series(FAR).dt.tz_localize(ZoneInfo("UTC"))), dtype=object
        ),
    }[how]()


@pytest.mark.parametrize("how", ["datetime64", "aware", "arrow", "arrow-aware", "object"])
def test_years_outside_1_to_9999_are_iso_8601_expanded_years(how: str) -> None:
    column = _far(how)
    offset = "" if how in ("datetime64", "arrow") else "+00:00"
    texts = [None if text is None else text + offset for text in FAR_TEXTS]
    assert [row["t"] for row in values(pd.DataFrame({"t": column}))] == texts
    # keys, headers and a value_col's value are that text too
    frame = pd.DataFrame({"k": column, "h": column, "v": column}).iloc[:-1]
    records = encode(frame, key_col="k", header_cols=["h"], value_col="v", api_version="v1")
    for record, text in zip(records, texts, strict=False):
        assert query(record)["key"] == [text]
        assert query(record)["headers"] == [f"h:{text.encode().hex()}"]
        assert json.loads(record.body) == text


def test_a_tz_aware_far_year_keeps_its_own_offset() -> None:
    kolkata = pd.Series(FAR[:2]).dt.tz_localize("Asia/Kolkata")
    expected = ["+12000-01-01T00:00:00.500000+05:30", "-0005-03-01T00:00:00+05:53:28"]
    assert [row["t"] for row in values(pd.DataFrame({"t": kolkata}))] == expected
    cells = pd.Series(list(kolkata), dtype=object)
    assert [row["t"] for row in values(pd.DataFrame({"t": cells}))] == expected


def test_timedeltas_become_iso_durations() -> None:
    spans = pd.Series(pd.to_timedelta(["1 days 2 hours 0.5 s", None]))
    assert [r["c"] for r in values(pd.DataFrame({"c": spans}))] == ["P1DT2H0M0.5S", None]
    assert value(dt.timedelta(seconds=90), object) == "P0DT0H1M30S"


def test_decimal_uuid_and_bytes() -> None:
    assert value(Decimal("1.10"), object) == "1.10"
    assert value(UUID(int=1), object) == "00000000-0000-0000-0000-000000000001"
    assert value(b"\x00\xff", object) == "AP8="


def test_nested_values_follow_the_same_policy() -> None:
    cell = {
        "a": [1, np.nan, (np.int64(2), None)],
        "t": pd.Timestamp("2024-01-01", tz="Asia/Kolkata"),
        "d": Decimal("2.50"),
        "arr": np.array([1.5, 2.5]),
        3: {"deep": pd.NA},
    }
    assert value(cell, object) == {
        "a": [1, None, [2, None]],
        "t": "2024-01-01T00:00:00+05:30",
        "d": "2.50",
        "arr": [1.5, 2.5],
        "3": {"deep": None},
    }


def test_categoricals_use_their_values() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.Categorical(["b", None, "a"]),
            "i": pd.Categorical([1, 2, None]),
        }
    )
    assert values(frame) == [{"s": "b", "i": 1}, {"s": None, "i": 2}, {"s": "a", "i": None}]


def test_strings_are_escaped_and_unicode_kept() -> None:
    text = 'quote " backslash \\ newline \n tab \t nul \x00 é 日本 🎉'
    frame = pd.DataFrame({"s": pd.Series([text, text], dtype=object)})
    frame["string"] = frame["s"].astype("string")
    records = encode(frame, api_version="v1")
    assert json.loads(records[0].body) == {"s": text, "string": text}
    assert "日本 🎉".encode() in records[0].body


def test_a_str_subclass_is_sent_as_the_text_it_holds() -> None:
    """A (str, Enum) member went as its str(), "Color.RED", in values, keys, headers,
    dict keys and a value_col: json.dumps and every consumer read it as "red"."""

    class Color(str, enum.Enum):  # noqa: UP042 (a StrEnum's str() is its value)
        RED = "red"

    cells = pd.Series([Color.RED, np.str_("np")], dtype=object)
    frame = pd.DataFrame(
        {"k": cells, "h": cells, "v": cells, "d": [{Color.RED: [Color.RED]}, {"x": cells[1]}]}
    )
    records = encode(frame, key_col="k", header_cols=["h"], api_version="v1")
    assert [json.loads(r.body) for r in records] == [
        {"v": "red", "d": {"red": ["red"]}},
        {"v": "np", "d": {"x": "np"}},
    ]
    assert [query(r) for r in records] == [
        {"key": ["red"], "keyType": ["text"], "headers": ["h:726564"]},
        {"key": ["np"], "keyType": ["text"], "headers": ["h:6e70"]},
    ]
    assert [value_bytes(r) for r in encode(frame, value_col="v")] == [b"red", b"np"]


def test_output_is_compact() -> None:
    body = encode(pd.DataFrame({"a": [1], "b": [[1, {"x": 2}]]}), api_version="v1")[0].body
    assert body == b'{"a":1,"b":[1,{"x":2}]}'


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (math.inf, "column 'price': inf is not valid JSON"),
        (-math.inf, "column 'price': -inf is not valid JSON"),
        ([1.0, [np.inf]], "column 'price': inf is not valid JSON"),
        ({"k": -np.inf}, "column 'price': -inf is not valid JSON"),
        (object(), "column 'price': object is not JSON serializable"),
        ({1, 2}, "column 'price': set is not JSON serializable"),
        (1 + 2j, "column 'price': complex is not JSON serializable"),
        ("\ud800", "column 'price': 'utf-8' codec can't encode"),
        # one JSON object cannot hold a key twice: a consumer would keep one of them
        ({1: "int", "1": "str"}, "column 'price': keys 1 and '1' both become the JSON key '1'"),
        ({True: 1, "true": 2}, "keys True and 'true' both become the JSON key 'true'"),
        ([{None: 1, "null": 2}], "keys None and 'null' both become the JSON key 'null'"),
        ({0.5: 1, "0.5": 2}, "keys 0.5 and '0.5' both become the JSON key '0.5'"),
        ({(1, 2): "x"}, "column 'price': the key (1, 2) is a tuple: a JSON key is text"),
        (
            np.timedelta64(10**18, "D"),
            "column 'price': np.timedelta64(1000000000000000000,'D') is out of the range of "
            "pandas' Timedelta",
        ),
        (np.datetime64(10**18, "D"), "is out of the range of pandas' Timestamp"),
    ],
)
def test_bad_values_reject_only_their_row(cell: Any, message: str) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "price": pd.Series([1.5, cell, 2.5], dtype=object)})
    first, bad, last = encode(frame, start=10)
    rejected(bad, message)
    assert bad.position == 11
    assert (first.position, last.position) == (10, 12)
    assert json.loads(value_bytes(last)) == {"id": 3, "price": 2.5}


def nested(depth: int) -> list[Any]:
    """A list ``depth`` lists deep: ``nested(2)`` is ``[[]]``."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("api_version", ["v2", "kafka"])
def test_values_nested_past_the_limit_reject_their_row_at_a_fixed_depth(api_version: str) -> None:
    cells = [nested(MAX_NESTING), nested(MAX_NESTING + 1), {"a": nested(MAX_NESTING)}, nested(500)]
    frame = pd.DataFrame({"v": pd.Series(cells, dtype=object)})
    limit = f"column 'v': nested deeper than {MAX_NESTING} levels"
    for _ in range(2):  # the same every time, whatever the stack
        deep, deeper, deep_in_a_dict, deepest = encode(frame, api_version=api_version)
        assert not isinstance(deep, RejectedRow)
        assert [item.error for item in (deeper, deep_in_a_dict, deepest)] == [limit] * 3


def test_inf_in_float_columns_is_rejected_naming_the_column() -> None:
    frame = pd.DataFrame({"ok": [1.0, 2.0, 3.0], "price": [1.0, np.inf, -np.inf]})
    out = encode(frame)
    assert isinstance(out[0], EncodedRecord)
    rejected(out[1], "column 'price': inf is not valid JSON")
    rejected(out[2], "column 'price': -inf is not valid JSON")


def test_inf_category_is_rejected() -> None:
    frame = pd.DataFrame({"c": pd.Categorical([1.5, np.inf, 1.5])})
    out = encode(frame)
    rejected(out[1], "column 'c': inf is not valid JSON")
    assert [type(item) for item in out] == [EncodedRecord, RejectedRow, EncodedRecord]


_MONTHS = pd.period_range("2024-01", periods=2, freq="M")

#: columns no value of which can be sent, and what the refusal says of them
UNSENDABLE = [
    (pd.Series(_MONTHS), "is period[M]: periods have no JSON or text form"),
    (pd.Series(pd.Categorical(_MONTHS)), "is category: periods have no JSON or text form"),
    (pd.Series(pd.interval_range(0, 2)), "is interval[int64, right]: intervals have no"),
    (pd.Series([1 + 2j, 3j]), "is complex128: complex numbers have no JSON or text form"),
    (pd.Series(np.array([1 + 2j, 0j], "complex64")), "is complex64: complex numbers have no"),
    (pd.Series(pd.Categorical([1 + 2j, None])), "is category: complex numbers have no"),
    (pd.Series(pd.arrays.SparseArray([1 + 2j, 0j])), "is Sparse[complex128, nan]: complex numbers"),
]


@pytest.mark.parametrize(("cells", "message"), UNSENDABLE)
@pytest.mark.parametrize("role", ["value_cols", "key_col", "value_col", "header_cols"])
def test_columns_no_value_of_which_can_be_sent_are_refused_up_front(
    cells: pd.Series, message: str, role: str
) -> None:
    frame = pd.DataFrame({"c": cells, "v": [1, 2]})
    option = {"value_cols": ["c"], "key_col": "c", "value_col": "c", "header_cols": ["c"]}[role]
    with pytest.raises(ValueError, match=re.escape(f"column 'c' {message}")) as refused:
        encode(frame, **{role: option})
    # the advice holds: .astype(str) gives what it says
    assert f".astype(str) gives {cells.astype(str)[0]!r}" in str(refused.value)


def test_such_columns_are_fine_when_not_sent() -> None:
    frame = pd.DataFrame({"c": pd.Series(_MONTHS), "v": [1, 2]})
    assert values(frame, value_cols=["v"]) == [{"v": 1}, {"v": 2}]
    [called] = encode(
        frame.iloc[:1], value_cols=["v"], header_cols=lambda row: {"month": str(row["c"])}
    )
    assert envelope(called)["headers"] == [{"name": "month", "value": "MjAyNC0wMQ=="}]
    # A value of an object column is judged alone: only its own row is rejected.
    mixed = pd.DataFrame({"c": pd.Series([_MONTHS[0], "2024-02"], dtype=object)})
    bad, good = encode(mixed)
    rejected(bad, "column 'c': Period is not JSON serializable")
    assert json.loads(value_bytes(good)) == {"c": "2024-02"}


def test_value_cols_choose_and_order_the_fields() -> None:
    frame = pd.DataFrame({"a": [1], "b": [2], 3: [3]})
    assert values(frame, value_cols=[3, "a"]) == [{"3": 3, "a": 1}]
    assert values(frame, key_col="a", header_cols=["b"]) == [{"3": 3}]


# -- keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "dtype", "texts"),
    [
        (["a", "é x"], None, ["a", "é x"]),
        ([1, -2], "int64", ["1", "-2"]),
        ([1, None], "Int64", ["1", None]),
        ([3.0, 2.5], "float64", ["3", "2.5"]),
        ([1e20, 0.1 + 0.2], "float64", ["100000000000000000000", "0.30000000000000004"]),
        ([True, False], "bool", ["true", "false"]),
        ([pd.Timestamp("2024-01-02 03:04:05", tz="Asia/Kolkata")], None, None),
        ([Decimal("1.10")], object, ["1.10"]),
    ],
)
def test_text_keys(cells: list[Any], dtype: Any, texts: list[str | None] | None) -> None:
    frame = pd.DataFrame({"k": pd.Series(cells, dtype=dtype), "v": range(len(cells))})
    texts = texts or [cell.isoformat() for cell in cells]
    for record, text in zip(encode(frame, key_col="k"), texts, strict=True):
        if text is None:
            rejected(record, "column 'k': null key")
        else:
            assert envelope(record)["key"] == {"type": "text", "data": text}


def test_int_columns_with_nan_give_keys_without_point_zero() -> None:
    frame = pd.DataFrame({"k": [1, None, 3], "v": [1, 2, 3]})
    assert frame["k"].dtype == "float64"
    out = encode(frame, key_col="k", api_version="v1")
    assert [query(out[i])["key"] for i in (0, 2)] == [["1"], ["3"]]
    rejected(out[1], "column 'k': null key")


@pytest.mark.parametrize("dtype", ["float64", "float32", "Float64", object])
def test_infinite_keys_headers_and_text_values_are_rejected_as_values_are(dtype: Any) -> None:
    cells = pd.Series([1.5, np.inf, -np.inf, np.nan], dtype=dtype)
    frame = pd.DataFrame({"k": cells, "v": range(4)})
    ok, inf, minus_inf, nan = encode(frame, key_col="k", api_version="v1")
    assert query(ok)["key"] == ["1.5"]
    assert inf == RejectedRow(1, "column 'k': inf is not a finite number")
    assert minus_inf == RejectedRow(2, "column 'k': -inf is not a finite number")
    assert nan == RejectedRow(3, "column 'k': null key")
    header = encode(frame, header_cols=["k"])
    rejected(header[1], "column 'k': inf is not a finite number")
    assert envelope(header[3]).get("headers") is None
    text = encode(frame, value_col="k", value_type="text")
    rejected(text[2], "column 'k': -inf is not a finite number")
    assert [type(item) for item in encode(frame)] == [
        EncodedRecord,
        RejectedRow,
        RejectedRow,
        EncodedRecord,
    ]


def test_an_infinite_decimal_is_rejected_as_inf_is() -> None:
    """It went as the string "Infinity": no longer a number, as "inf" would not be."""
    cells = pd.Series([Decimal("1.10"), Decimal("Infinity"), Decimal("-Infinity")], dtype=object)
    frame = pd.DataFrame({"k": cells, "v": cells})
    ok, inf, minus_inf = encode(frame, key_col="k", api_version="v1")
    assert query(ok)["key"] == ["1.10"] and json.loads(ok.body) == {"v": "1.10"}
    assert inf == RejectedRow(1, "column 'k': Decimal('Infinity') is not a finite number")
    assert minus_inf == RejectedRow(2, "column 'k': Decimal('-Infinity') is not a finite number")
    values = encode(frame[["v"]])
    rejected(values[1], "column 'v': Decimal('Infinity') is not a finite number")


@pytest.mark.parametrize("missing", [None, np.nan, pd.NaT, pd.NA])
def test_null_keys_are_rejected(missing: Any) -> None:
    frame = pd.DataFrame({"order_id": pd.Series(["a", missing], dtype=object), "v": [1, 2]})
    ok, bad = encode(frame, key_col="order_id")
    assert isinstance(ok, EncodedRecord)
    assert bad == RejectedRow(1, "column 'order_id': null key")


def test_bytes_keys_are_binary() -> None:
    frame = pd.DataFrame({"k": pd.Series([b"\x00\xffk"], dtype=object), "v": [1]})
    v1 = one(frame, key_col="k", api_version="v1")
    assert query(v1) == {"key": ["00ff6b"], "keyType": ["binary"]}
    v2 = one(frame, key_col="k")
    assert envelope(v2)["key"] == {"type": "binary", "data": "AP9r"}


def test_unusable_keys_are_rejected() -> None:
    frame = pd.DataFrame({"k": pd.Series([{"a": 1}, [1]], dtype=object), "v": [1, 2]})
    for item in encode(frame, key_col="k"):
        rejected(item, "column 'k':")


@BOTH
def test_key_size_limit_at_the_boundary(api_version: str) -> None:
    frame = pd.DataFrame({"k": ["k" * 4096, "k" * 4097, "é" * 2048, "é" * 2049], "v": range(4)})
    # Quoted, 2048 "é" would be 12288 bytes, over v1's URI limit: lift it here.
    out = encode(frame, key_col="k", api_version=api_version, limits=Limits(max_uri_bytes=10**6))
    assert isinstance(out[0], EncodedRecord)
    assert isinstance(out[2], EncodedRecord)
    rejected(out[1], "column 'k': key is 4097 bytes, over the 4096-byte limit")
    rejected(out[3], "column 'k': key is 4098 bytes, over the 4096-byte limit")


# -- value_col ----------------------------------------------------------------------------


def test_value_col_picks_the_type_per_value() -> None:
    cells = [b"\x00\x01", "plain text", {"a": 1}, 5]
    frame = pd.DataFrame({"v": pd.Series(cells, dtype=object)})
    v2 = [envelope(r)["value"] for r in encode(frame, value_col="v")]
    assert v2 == [
        {"type": "binary", "data": "AAE="},
        {"type": "text", "data": "plain text"},
        {"type": "json", "data": '{"a":1}'},
        {"type": "json", "data": "5"},
    ]
    v1 = encode(frame, value_col="v", api_version="v1")
    assert [(r.body, r.content_type) for r in v1] == [
        (b"\x00\x01", "application/octet-stream"),
        (b"plain text", "text/plain"),  # as IBM lists it; text_content_type to change
        (b'{"a":1}', "application/json"),
        (b"5", "application/json"),
    ]


def test_value_type_json_text_and_binary() -> None:
    frame = pd.DataFrame({"v": pd.Series(["abc", 3.0, b"\xc3\xa9"], dtype=object)})
    as_json = encode(frame, value_col="v", value_type="json", api_version="v1")
    assert [r.body for r in as_json] == [b'"abc"', b"3.0", b'"w6k="']
    as_text = encode(frame, value_col="v", value_type="text", api_version="v1")
    assert [r.body for r in as_text] == [b"abc", b"3", "é".encode()]
    as_binary = encode(frame, value_col="v", value_type="binary", api_version="v1")
    rejected(as_binary[0], "column 'v': value_type='binary' needs bytes, not str")
    assert as_binary[2].body == b"\xc3\xa9"


@pytest.mark.parametrize("value_type", [None, "json", "text", "binary"])
@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, pd.NaT])
def test_null_values_are_rejected(value_type: str | None, missing: Any) -> None:
    frame = pd.DataFrame({"v": pd.Series([missing], dtype=object)})
    assert one(frame, value_col="v", value_type=value_type) == RejectedRow(
        0, "column 'v': null value"
    )


def test_empty_values_cannot_go_through_v1() -> None:
    frame = pd.DataFrame({"v": ["", "x"]})
    bad, ok = encode(frame, value_col="v", api_version="v1")
    rejected(bad, "column 'v': empty value")
    assert ok.body == b"x"
    assert envelope(one(frame.iloc[:1], value_col="v"))["value"] == {"type": "text", "data": ""}


# the value's own limit alone, past v2's limit on its whole request body
ROOMY = Limits(max_request_bytes=10**6)


@BOTH
def test_value_size_limit_at_the_boundary(api_version: str) -> None:
    # The limit counts the value's own bytes, not v2's escaped envelope.
    frame = pd.DataFrame({"v": ['"' * 65536, '"' * 65537, "é" * 32768, "é" * 32769]})
    out = encode(frame, value_col="v", api_version=api_version, limits=ROOMY)
    assert [value_bytes(out[i]) for i in (0, 2)] == [b'"' * 65536, "é".encode() * 32768]
    rejected(out[1], "column 'v': value is 65537 bytes, over the 65536-byte limit")
    rejected(out[3], "column 'v': value is 65538 bytes, over the 65536-byte limit")


@BOTH
def test_json_object_size_limit(api_version: str) -> None:
    # {"v":"..."} is 8 bytes around the text
    frame = pd.DataFrame({"v": ["x" * (65536 - 8), "x" * (65537 - 8)]})
    ok, bad = encode(frame, api_version=api_version, limits=ROOMY)
    assert len(value_bytes(ok)) == 65536
    rejected(bad, "value is 65537 bytes, over the 65536-byte limit")


def test_v2_limits_the_whole_request_body_v1_the_value() -> None:
    # IBM Cloud's 64 KB is v2's request payload: 50,000 bytes of binary are 66,668 in
    # base64, inside the envelope; v1 sends the bytes themselves.
    frame = pd.DataFrame({"v": pd.Series([b"\xff" * 50_000, b"\xff" * 49_000], dtype=object)})
    over, under = encode(frame, value_col="v", api_version="v2")
    rejected(over, "the v2 request body (the record's JSON envelope")
    assert "over the 65536-byte limit" in over.error
    assert len(under.body) <= 65536
    assert all(not hasattr(r, "error") for r in encode(frame, value_col="v", api_version="v1"))


# -- headers -------------------------------------------------------------------------------


def test_header_columns() -> None:
    frame = pd.DataFrame(
        {
            "trace": ["t-1", None],
            "raw": pd.Series([b"\x00", b"\x01"], dtype=object),
            7: [5, 6],
            "v": [1, 2],
        }
    )
    first, second = encode(frame, header_cols=["trace", "raw", 7])
    assert envelope(first)["headers"] == [
        {"name": "trace", "value": base64.b64encode(b"t-1").decode()},
        {"name": "raw", "value": "AA=="},
        {"name": "7", "value": base64.b64encode(b"5").decode()},
    ]
    assert [h["name"] for h in envelope(second)["headers"]] == ["raw", "7"]
    assert json.loads(value_bytes(first)) == {"v": 1}
    v1 = encode(frame, header_cols=["trace", "raw", 7], api_version="v1")
    assert query(v1[0]) == {"headers": ["trace:742d31,raw:00,7:35"]}


def test_no_headers_and_no_key_are_omitted() -> None:
    record = one(pd.DataFrame({"v": [1]}))
    assert envelope(record) == {"value": {"type": "json", "data": '{"v":1}'}}
    assert one(pd.DataFrame({"v": [1]}), api_version="v1").target == "/topics/t/records"


def test_header_callable() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})

    def headers(row: dict[Any, Any]) -> dict[str, Any]:
        if row["id"] == 2:
            raise KeyError("boom")
        return {"id": str(row["id"]), "bin": b"\x01", "skip": None, "n": row["id"]}

    first, bad, third = encode(frame, header_cols=headers, api_version="v1")
    assert query(first) == {"headers": ["id:31,bin:01,n:31"]}
    rejected(bad, "header_cols callable raised KeyError: 'boom'")
    assert query(third) == {"headers": ["id:33,bin:01,n:33"]}
    assert json.loads(first.body) == {"id": 1, "v": "a"}


def test_a_json_lines_field_a_row_lacks_is_left_out_of_its_value_and_null_to_the_rest() -> None:
    """What each consumer of a row makes of an absent field (ABSENT, as the JSON Lines
    reader marks it): the JSON object leaves it out; a key, a record id and a value_col
    are null, which rejects the row; a header is null, which is omitted."""
    frame = pd.DataFrame(
        {
            "id": ["k1", ABSENT, "k3", "k4"],
            "h": ["x", "y", ABSENT, "z"],
            "rid": ["i1", "i2", "i3", ABSENT],
            "a": [1, 2, ABSENT, None],
            "b": [ABSENT, "q", ABSENT, float("nan")],
        },
        dtype=object,
    )
    assert [value_bytes(r) for r in encode(frame.iloc[[0, 2, 3]][["a", "b"]])] == [
        b'{"a":1}',
        b"{}",
        b'{"a":null,"b":null}',  # present nulls stay
    ]
    options = {"key_col": "id", "header_cols": ["h"], "record_id": "rid"}
    first, no_key, no_header, no_id = encode(frame, **options)
    assert envelope(first)["headers"][0] == {"name": "h", "value": base64.b64encode(b"x").decode()}
    rejected(no_key, "column 'id': null key")
    assert [h["name"] for h in envelope(no_header)["headers"]] == [RECORD_ID_HEADER]
    assert json.loads(value_bytes(no_header)) == {"rid": "i3"}  # a and b absent
    rejected(no_id, "column 'rid': null record id")
    seen = []

    def headers(row: dict[Any, Any]) -> dict[str, Any]:
        seen.append(row["b"])
        return {"b": row["b"]}

    called = encode(frame, value_cols=["a"], header_cols=headers)
    assert ["headers" in envelope(r) for r in called] == [False, True, False, False]
    assert seen[:3] == [None, "q", None]


def test_a_header_cols_callable_leaves_the_absent_fields_of_the_value_absent() -> None:
    # The callable reads an absent field as null, from a copy: on pandas 2 (no
    # copy-on-write) that copy was written into the frame, and the value got nulls.
    frame = pd.DataFrame({"a": [1, ABSENT], "b": [ABSENT, "q"]}, dtype=object)
    records = encode(frame, header_cols=lambda row: {"h": "x"})
    assert [value_bytes(r) for r in records] == [b'{"a":1}', b'{"b":"q"}']
    assert frame["a"].iloc[1] is ABSENT and frame["b"].iloc[0] is ABSENT
    assert absent_as_null(frame)["b"].dtype == object


@pytest.mark.parametrize("value_type", [None, "text", "binary"])
@BOTH
def test_an_absent_value_col_is_a_null_value(value_type: str | None, api_version: str) -> None:
    frame = pd.DataFrame({"v": [ABSENT, b"x" if value_type == "binary" else "x"]}, dtype=object)
    absent, present = encode(frame, value_col="v", value_type=value_type, api_version=api_version)
    rejected(absent, "column 'v': null value")
    assert value_bytes(present) == b"x"


@pytest.mark.parametrize(
    ("produced", "message"),
    [
        (["not", "a mapping"], "header_cols callable: returned list"),
        ({1: "x"}, "header_cols callable: header name 1 is not a str"),
        ({"h": object()}, "header_cols callable: object"),
    ],
)
def test_header_callable_bad_results(produced: Any, message: str) -> None:
    rejected(one(pd.DataFrame({"v": [1]}), header_cols=lambda row: produced), message)


@pytest.mark.parametrize("name", ["a,b", "a:b", ""])
def test_v1_cannot_carry_some_header_names(name: str) -> None:
    frame = pd.DataFrame({"v": [1]})
    rejected(
        one(frame, header_cols=lambda row: {name: "x"}, api_version="v1"),
        "v1 cannot carry header names",
    )
    assert envelope(one(frame, header_cols=lambda row: {name: "x"}))["headers"] == [
        {"name": name, "value": "eA=="}
    ]
    with pytest.raises(ValueError, match="v1 cannot carry header names"):
        RecordEncoder("t", [name, "v"], header_cols=[name], api_version="v1")


# -- v1 URIs --------------------------------------------------------------------------------


def test_v1_keys_are_url_quoted() -> None:
    key = "a b&c=d+é/%?#"
    frame = pd.DataFrame({"k": [key], "v": [1]})
    record = RecordEncoder("my.topic-1", ["k", "v"], key_col="k", api_version="v1").encode(
        frame, 0
    )[0]
    assert record.target.startswith("/topics/my.topic-1/records?key=a%20b%26c%3Dd%2B%C3%A9")
    assert query(record) == {"key": [key], "keyType": ["text"]}


def test_v1_uri_limit_at_the_boundary() -> None:
    frame = pd.DataFrame({"k": ["k" * 5000], "v": [1]})
    options = dict(key_col="k", api_version="v1", base_path="/prefix")

    def limits(uri: int) -> Limits:
        return Limits(max_key_bytes=10000, max_uri_bytes=uri)

    size = len("/prefix") + len(one(frame, limits=limits(10**6), **options).target)
    assert isinstance(one(frame, limits=limits(size), **options), EncodedRecord)
    assert one(frame, limits=limits(size - 1), **options) == RejectedRow(
        0,
        f"URI is {size} bytes, over the {size - 1}-byte v1 limit; use api_version='v2'",
        # a rejected row keeps its key, to hold the key's later rows (on_key_error="hold")
        "&key=" + "k" * 5000 + "&keyType=text",
    )
    assert isinstance(
        one(frame, limits=limits(size - 1), **{**options, "api_version": "v2"}), EncodedRecord
    )


def test_v1_schema_names_go_into_every_query_and_count_in_the_uri() -> None:
    frame = pd.DataFrame({"k": ["a"], "v": [b"\x00avro"]})
    options = dict(key_col="k", value_col="v", api_version="v1")
    record = one(frame, schemaname="orders value/1", schemaversion="1.0.0", **options)
    assert isinstance(record, EncodedRecord)
    assert record.target == (
        "/topics/t/records?key=a&keyType=text&schemaname=orders%20value%2F1&schemaversion=1.0.0"
    )
    assert (record.body, record.content_type) == (b"\x00avro", "application/octet-stream")
    size = len(record.target)
    squeezed = one(
        frame,
        schemaname="orders value/1",
        schemaversion="1.0.0",
        limits=Limits(max_uri_bytes=size - 1),
        **options,
    )
    assert isinstance(squeezed, RejectedRow) and "URI is" in squeezed.error
    with pytest.raises(ConfigurationError, match="v1 parameters"):
        RecordEncoder("t", ["v"], schemaname="s")


def test_v1_text_goes_as_text_plain_unless_told_otherwise() -> None:
    frame = pd.DataFrame({"v": ["hello"]})
    assert one(frame, value_col="v", api_version="v1").content_type == "text/plain"
    told = one(
        frame, value_col="v", api_version="v1", text_content_type="text/plain; charset=utf-8"
    )
    assert told.content_type == "text/plain; charset=utf-8"


def test_default_uri_limit_rejects_long_v1_headers() -> None:
    frame = pd.DataFrame({"h": ["x" * 6000], "v": [1]})
    rejected(
        one(frame, header_cols=["h"], api_version="v1"),
        "over the 10240-byte v1 limit; use api_version='v2'",
    )


# -- chunks and configuration ------------------------------------------------------------


def test_positions_follow_start_and_chunks_must_match() -> None:
    frame = pd.DataFrame({"v": range(5)})
    encoder = RecordEncoder("t", ["v"])
    assert [r.position for r in encoder.encode(frame.iloc[2:], 2)] == [2, 3, 4]
    assert encoder.encode(frame.iloc[:0], 0) == []
    with pytest.raises(ValueError, match="columns differ"):
        encoder.encode(frame.rename(columns={"v": "w"}), 0)
    with pytest.raises(ValueError, match="columns differ"):
        encoder.encode(frame.assign(w=1)[["w", "v"]], 0)


@BOTH
def test_a_later_chunk_may_add_columns_after_the_others(api_version: str) -> None:
    """A JSON Lines file's fields that first appear in a later chunk: a value of every
    column takes them in; value_cols and value_col name their columns."""
    first = pd.DataFrame({"id": ["a"], "x": [1]}, dtype=object)
    later = pd.DataFrame({"id": ["b", "c"], "x": [2, ABSENT], "y": [ABSENT, "new"]}, dtype=object)
    every = RecordEncoder("t", ["id", "x"], key_col="id", api_version=api_version)
    chosen = RecordEncoder(
        "t", ["id", "x"], key_col="id", value_cols=["x"], api_version=api_version
    )
    assert [value_bytes(r) for r in every.encode(first, 0)] == [b'{"x":1}']
    assert [value_bytes(r) for r in every.encode(later, 1)] == [b'{"x":2}', b'{"y":"new"}']
    assert [value_bytes(r) for r in chosen.encode(later, 1)] == [b'{"x":2}', b"{}"]


def test_record_factory_matches_the_dataclass() -> None:
    made = make_record(1, "/t", b"x", "application/json")
    assert made == EncodedRecord(1, "/t", b"x", "application/json")
    with pytest.raises(AttributeError):
        made.body = b"y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"key_col": "nope"}, "key_col: no column named 'nope'"),
        ({"value_col": "a", "value_cols": ["b"]}, "value_col .* or value_cols, not both"),
        ({"key_col": "a", "value_cols": ["a", "b"]}, "'a' is listed in key_col and value_cols"),
        ({"key_col": "a", "value_col": "a"}, "'a' is listed in key_col and value_col"),
        ({"header_cols": ["a"], "value_cols": ["a"]}, "in header_cols and value_cols"),
        ({"value_cols": ["a", "a"]}, "'a' is listed twice in value_cols"),
        ({"api_version": "v3"}, "api_version must be 'v1' or 'v2'"),
        ({"key_col": "a", "header_cols": ["b"]}, "no value columns left"),
        ({"value_cols": []}, "value_cols is empty"),
        ({"value_type": "xml", "value_col": "a"}, "value_type must be"),
        ({"value_type": "text"}, "value_type='text' needs value_col"),
        ({"header_cols": "a"}, "header_cols must be a list of column names"),
        ({"value_cols": "a"}, "value_cols must be a list of column names"),
    ],
)
def test_configuration_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecordEncoder("t", ["a", "b"], **options)


def test_a_frame_without_columns_says_so() -> None:
    # it said every column was the key or a header
    with pytest.raises(ConfigurationError, match=r"^there are no columns to send$"):
        RecordEncoder("t", [])


def test_a_column_missing_from_a_header_of_one_joined_column_names_the_separator() -> None:
    # a file separated by ';' read with ',': one column, named by the whole header
    with pytest.raises(ConfigurationError, match=r"separated by ';' \(sep=';'\)"):
        RecordEncoder("t", ["order_id;amount"], key_col="order_id")
    with pytest.raises(ConfigurationError, match=r"holds tabs: is the file tab-separated"):
        RecordEncoder("t", ["order_id\tamount"], value_cols=["amount"])
    with pytest.raises(ConfigurationError) as caught:
        RecordEncoder("t", ["order_id", "amount"], key_col="id")
    assert "separated" not in str(caught.value)


def test_tuple_column_names_are_refused_as_a_multiindex_not_sent_as_their_repr() -> None:
    # groupby().agg([...]) and pivot make MultiIndex columns: str() would make the JSON
    # field "('v', 'a')"
    frame = pd.DataFrame(
        [[1, 2, 3]], columns=pd.MultiIndex.from_tuples([("id", ""), ("v", "a"), ("v", "b")])
    )
    with pytest.raises(ConfigurationError, match=r"column \('v', 'a'\): .* MultiIndex"):
        RecordEncoder("t", list(frame.columns), key_col=("id", ""))
    with pytest.raises(ConfigurationError, match=r"header column \('v', 'b'\): a tuple") as caught:
        RecordEncoder("t", ["a", ("v", "b")], header_cols=[("v", "b")])
    # the flattening the message gives works, also where some names are not tuples
    flatten = str(caught.value).split("e.g. ")[1]
    mixed = pd.DataFrame([[1, 2, 3]], columns=pd.Index(["amount", ("v", "a"), 7], dtype=object))
    for each, flat in [(frame, ["id", "v_a", "v_b"]), (mixed, ["amount", "v_a", 7])]:
        exec(flatten, {}, {"frame": each})
        assert list(each.columns) == flat


def test_more_configuration_errors() -> None:
    with pytest.raises(ValueError, match="2 columns are named 'a'"):
        RecordEncoder("t", ["a", "a", "b"], key_col="a")
    with pytest.raises(ValueError, match="both become the JSON field '1'"):
        RecordEncoder("t", [1, "1"])
    # a lone surrogate: no UTF-8, so no JSON field or header name
    lone = "\ud800"
    surrogate = f"{lone!r}: its name holds {lone!r}, a lone surrogate, which UTF-8"
    with pytest.raises(ConfigurationError, match=re.escape(f"column {surrogate}")):
        RecordEncoder("t", ["a", lone])
    with pytest.raises(ConfigurationError, match=re.escape(f"header column {surrogate}")):
        RecordEncoder("t", ["a", lone], header_cols=[lone])
    with pytest.raises(ConfigurationError, match=re.escape(f"record_id_header {surrogate}")):
        RecordEncoder("t", ["a"], record_id="hash", record_id_header=lone)
    with pytest.raises(ValueError, match="topic must be a non-empty string"):
        RecordEncoder("", ["a"])
    for topic in (".", ".."):
        with pytest.raises(ValueError, match=r"Kafka forbids the topic names '\.' and '\.\.'"):
            RecordEncoder(topic, ["a"])
    with pytest.raises(ValueError, match=r"letters, digits, '\.', '_' and '-', not '/'"):
        RecordEncoder("a/b", ["a"])
    with pytest.raises(ValueError, match="1 to 249 characters, not 250"):
        RecordEncoder("t" * 250, ["a"])
    RecordEncoder("t" * 249, ["a"])  # Kafka's limit; IBM Cloud's 200 is the server's to say
    with pytest.raises(ValueError, match="max_key_bytes must be a positive integer"):
        Limits(max_key_bytes=0)


# -- round trips through the local server ---------------------------------------------------


@pytest.fixture(scope="module")
def local() -> Iterator[LocalEventStreams]:
    # ROOMY's requests: a 64 KiB value goes past v2's 64 KB request limit, in base64 or not
    with LocalEventStreams(topics={"t": 3}, max_request_bytes=10**6) as es:
        yield es


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def send(es: LocalEventStreams, http: httpx.Client, record: EncodedRecord) -> Record:
    """POST one record as a client would; returns what the server stored."""
    headers = {"Content-Type": record.content_type}
    auth = None
    if record.target.startswith("/v2/"):
        headers["Authorization"] = f"Bearer {es.api_key}"
    else:
        auth = ("token", es.api_key or "")
    response = http.post(es.url + record.target, content=record.body, headers=headers, auth=auth)
    assert response.status_code == 200, response.text
    metadata = response.json()["metadata"]
    [stored] = es.read("t", metadata["partition"], metadata["offset"], 1)
    return stored


@BOTH
def test_round_trip_keys_values_and_headers(
    local: LocalEventStreams, http: httpx.Client, api_version: str
) -> None:
    frame = pd.DataFrame(
        {
            "key": pd.Series(["a b&c=d+é/%", b"\x00\xff,:&", 42], dtype=object),
            "trace": ["t,1:é", None, "x"],
            "raw": pd.Series([b"\x00\xff", b"", b"z"], dtype=object),
            "price": [0.1 + 0.2, np.nan, 1e-7],
            "when": pd.Series(pd.to_datetime(["2024-01-01 00:00:00.000000001"] * 3)).dt.tz_localize(
                "Asia/Kolkata"
            ),
            "text": ['quote " é 🎉 \n', "", None],
        }
    )
    records = encode(frame, key_col="key", header_cols=["trace", "raw"], api_version=api_version)
    stored = [send(local, http, r) for r in records]
    assert [s.key for s in stored] == ["a b&c=d+é/%".encode(), b"\x00\xff,:&", b"42"]
    assert [s.headers for s in stored] == [
        (("trace", "t,1:é".encode()), ("raw", b"\x00\xff")),
        (("raw", b""),),
        (("trace", b"x"), ("raw", b"z")),
    ]
    assert [json.loads(s.value) for s in stored] == [
        {
            "price": 0.30000000000000004,
            "when": "2024-01-01T00:00:00.000000001+05:30",
            "text": 'quote " é 🎉 \n',
        },
        {"price": None, "when": "2024-01-01T00:00:00.000000001+05:30", "text": ""},
        {"price": 1e-7, "when": "2024-01-01T00:00:00.000000001+05:30", "text": None},
    ]
    assert [s.value for s in stored] == [value_bytes(r) for r in records]


@BOTH
def test_round_trip_typed_values(
    local: LocalEventStreams, http: httpx.Client, api_version: str
) -> None:
    cells = [b"\x00\x01\xff", "plain é", {"a": [1, None]}, "x" * 65536]
    frame = pd.DataFrame({"v": pd.Series(cells, dtype=object)})
    records = encode(frame, value_col="v", api_version=api_version, limits=ROOMY)
    stored = [send(local, http, r) for r in records]
    assert [s.value for s in stored] == [
        b"\x00\x01\xff",
        "plain é".encode(),
        b'{"a":[1,null]}',
        b"x" * 65536,
    ]
    assert all(s.key is None and s.headers == () for s in stored)


#: timedeltas and the exact text the README's value policy says they are sent as
DURATIONS = [
    (pd.Timedelta("1 days 2 hours 3 min 4.5 s"), "P1DT2H3M4.5S"),
    (pd.Timedelta(0), "P0DT0H0M0S"),
    (pd.Timedelta(1, "ns"), "P0DT0H0M0.000000001S"),
    (pd.Timedelta(1, "us"), "P0DT0H0M0.000001S"),
    (pd.Timedelta(-1, "ns"), "P-1DT23H59M59.999999999S"),
    (-pd.Timedelta("1.5 s"), "P-1DT23H59M58.5S"),
    (-pd.Timedelta("2 days 3 hours"), "P-3DT21H0M0S"),
    (dt.timedelta(microseconds=-1), "P-1DT23H59M59.999999S"),
    (np.timedelta64(3, "D"), "P3DT0H0M0S"),
    (np.timedelta64(-5, "ns"), "P-1DT23H59M59.999999995S"),
]


@BOTH
def test_timedeltas_on_the_wire(
    local: LocalEventStreams, http: httpx.Client, api_version: str
) -> None:
    cells = [cell for cell, _ in DURATIONS]
    texts = [text for _, text in DURATIONS]
    frame = pd.DataFrame(
        {
            "key": pd.Series(cells, dtype=object),
            "span": pd.to_timedelta(pd.Series(cells, dtype=object)),
            "any": pd.Series(cells, dtype=object),
        }
    )
    assert frame["span"].dtype.kind == "m"
    records = encode(frame, key_col="key", api_version=api_version)
    stored = [send(local, http, r) for r in records]
    assert [s.key for s in stored] == [text.encode() for text in texts]
    assert [s.value for s in stored] == [
        f'{{"span":"{text}","any":"{text}"}}'.encode() for text in texts
    ]
    assert [pd.Timedelta(text) for text in texts] == [pd.Timedelta(cell) for cell in cells]


# -- property: what the server stores reads back as the policy says ------------------------

_ZONES = ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
_NANOS = st.integers(min_value=-(2**62), max_value=2**62)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(min_value=1, max_value=4))

    def cells(strategy: st.SearchStrategy[Any]) -> list[Any]:
        return draw(st.lists(strategy, min_size=rows, max_size=rows))

    zone = draw(st.sampled_from(_ZONES))
    aware = pd.Series(pd.to_datetime(cells(st.none() | _NANOS), unit="ns", utc=True))
    naive = pd.to_datetime(cells(st.none() | _NANOS), unit="ns")
    return pd.DataFrame(
        {
            "int": pd.Series(cells(st.integers(-(2**63), 2**63 - 1)), dtype="int64"),
            "float": pd.Series(cells(st.floats(allow_infinity=False)), dtype="float64"),
            "text": pd.Series(cells(st.none() | st.text(max_size=20)), dtype=object),
            "bool": pd.Series(cells(st.booleans()), dtype="bool"),
            "naive": naive,
            "aware": aware.dt.tz_convert(zone),
            "mixed": pd.Series(
                cells(st.none() | st.integers() | st.text(max_size=5)), dtype=object
            ),
        }
    )


def expected(cell: Any) -> Any:
    if cell is None or cell is pd.NaT or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if isinstance(cell, pd.Timestamp):
        return cell.isoformat()
    return cell


@settings(max_examples=40, deadline=None)
@given(frame=frames(), api_version=st.sampled_from(["v1", "v2"]))
def test_stored_values_follow_the_policy(
    local: LocalEventStreams, http: httpx.Client, frame: pd.DataFrame, api_version: str
) -> None:
    records = encode(frame, api_version=api_version)
    rows = [
        {str(c): expected(v) for c, v in zip(frame.columns, row, strict=True)}
        for row in zip(*(frame[c].tolist() for c in frame.columns), strict=True)
    ]
    for record, row in zip(records, rows, strict=True):
        loaded = json.loads(send(local, http, record).value)
        assert list(loaded.items()) == list(row.items())
