"""Parquet keeps its schema: each column is sent as the value policy sends its Arrow type,
read in chunks smaller than the file, whose first chunk holds only nulls. Real files,
the real local server, and a frame pandas reads from the same file as the oracle."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pandas as pd
import pytest

import es_pandas

from .conftest import API_KEY, run

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = 6  # rows 0 and 1, the first chunk, are null in every column but the key
CHUNK = 2
UTC = dt.UTC


def _ns(hours: int, minutes: int, seconds: int, nanos: int) -> int:
    return ((hours * 60 + minutes) * 60 + seconds) * 10**9 + nanos


#: name: (Arrow type, the values of rows 2 to 5, what each is sent as)
COLUMNS: dict[str, tuple[Any, list[Any], list[Any]]] = {
    "i8": (pa.int8(), [-128, 127, None, 5], [-128, 127, None, 5]),
    "i16": (pa.int16(), [-(2**15), 2**15 - 1, 0, None], [-(2**15), 2**15 - 1, 0, None]),
    "i32": (pa.int32(), [-(2**31), 2**31 - 1, 0, None], [-(2**31), 2**31 - 1, 0, None]),
    # 2**53 + 1 is no float: it comes back exact only as an int
    "i64": (
        pa.int64(),
        [-(2**63), 2**63 - 1, 2**53 + 1, None],
        [-(2**63), 2**63 - 1, 2**53 + 1, None],
    ),
    "u8": (pa.uint8(), [0, 255, None, 1], [0, 255, None, 1]),
    "u64": (pa.uint64(), [2**64 - 1, 0, 2**63, None], [2**64 - 1, 0, 2**63, None]),
    "f32": (pa.float32(), [0.1, float("nan"), None, -1.5], [0.10000000149011612, None, None, -1.5]),
    "f64": (
        pa.float64(),
        [0.1 + 0.2, float("nan"), None, 1e300],
        [0.30000000000000004, None, None, 1e300],
    ),
    "b": (pa.bool_(), [True, False, None, True], [True, False, None, True]),
    "s": (pa.string(), ["00042", "", None, "é"], ["00042", "", None, "é"]),
    "ls": (pa.large_string(), ["NA", "null", None, "x"], ["NA", "null", None, "x"]),
    "bin": (pa.binary(), [b"\x00\xff", b"", None, b"abc"], ["AP8=", "", None, "YWJj"]),
    # Parquet has no seconds: pyarrow writes timestamp[s] as milliseconds
    "ts_s": (
        pa.timestamp("s"),
        [dt.datetime(2024, 1, 2, 3, 4, 5), dt.datetime(1, 1, 1), None, dt.datetime(9999, 12, 31)],
        ["2024-01-02T03:04:05", "0001-01-01T00:00:00", None, "9999-12-31T00:00:00"],
    ),
    "ts_ms": (
        pa.timestamp("ms"),
        [dt.datetime(2024, 1, 2, 3, 4, 5, 123000), dt.datetime(2024, 1, 2), None, None],
        ["2024-01-02T03:04:05.123000", "2024-01-02T00:00:00", None, None],
    ),
    "ts_us": (
        pa.timestamp("us"),
        [dt.datetime(2024, 1, 2, 3, 4, 5, 123456), None, None, dt.datetime(1970, 1, 1)],
        ["2024-01-02T03:04:05.123456", None, None, "1970-01-01T00:00:00"],
    ),
    "ts_ns": (
        pa.timestamp("ns"),
        [1704164645123456789, 1, None, 0],
        [
            "2024-01-02T03:04:05.123456789",
            "1970-01-01T00:00:00.000000001",
            None,
            "1970-01-01T00:00:00",
        ],
    ),
    "tz_s": (
        pa.timestamp("s", tz="UTC"),
        [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None, None, None],
        ["2024-01-02T03:04:05+00:00", None, None, None],
    ),
    "tz_ms": (
        pa.timestamp("ms", tz="Asia/Kolkata"),
        [dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC), None, None, None],
        ["2024-01-02T08:34:05.500000+05:30", None, None, None],
    ),
    "tz_us": (
        pa.timestamp("us", tz="+05:45"),
        [dt.datetime(2024, 1, 2, tzinfo=UTC), None, None, None],
        ["2024-01-02T05:45:00+05:45", None, None, None],
    ),
    "tz_ns": (
        pa.timestamp("ns", tz="America/New_York"),
        [1704164645000000001, 1719792000000000000, None, None],
        ["2024-01-01T22:04:05.000000001-05:00", "2024-06-30T20:00:00-04:00", None, None],
    ),
    "d32": (
        pa.date32(),
        [dt.date(2024, 2, 29), dt.date(1, 1, 1), None, dt.date(9999, 12, 31)],
        ["2024-02-29", "0001-01-01", None, "9999-12-31"],
    ),
    "t32": (
        pa.time32("ms"),
        [dt.time(1, 2, 3, 4000), None, None, None],
        ["01:02:03.004000", None, None, None],
    ),
    "t64": (
        pa.time64("us"),
        [dt.time(1, 2, 3, 4), dt.time(0), None, dt.time(23, 59, 59, 999999)],
        ["01:02:03.000004", "00:00:00", None, "23:59:59.999999"],
    ),
    # Python's time holds microseconds: nanoseconds are kept as a Timestamp keeps them
    "t64ns": (
        pa.time64("ns"),
        [_ns(1, 2, 3, 1), _ns(0, 0, 0, 0), None, _ns(23, 59, 59, 999_999_999)],
        ["01:02:03.000000001", "00:00:00", None, "23:59:59.999999999"],
    ),
    "dur": (
        pa.duration("ns"),
        [1, -1, None, 1_500_000_000],
        ["P0DT0H0M0.000000001S", "P-1DT23H59M59.999999999S", None, "P0DT0H0M1.5S"],
    ),
    "dec": (
        pa.decimal128(10, 2),
        [Decimal("1.10"), Decimal("-0.01"), None, Decimal("12345678.90")],
        ["1.10", "-0.01", None, "12345678.90"],
    ),
    "li": (
        pa.list_(pa.int64()),
        [[1, None, 2**53 + 1], [], None, [0]],
        [[1, None, 2**53 + 1], [], None, [0]],
    ),
    "st": (
        pa.struct([("a", pa.int64()), ("b", pa.string()), ("t", pa.timestamp("us", tz="UTC"))]),
        [
            {"a": 1, "b": "x", "t": dt.datetime(2024, 1, 2, tzinfo=UTC)},
            {"a": None, "b": None, "t": None},
            None,
            {"a": 2, "b": "", "t": None},
        ],
        [
            {"a": 1, "b": "x", "t": "2024-01-02T00:00:00+00:00"},
            {"a": None, "b": None, "t": None},
            None,
            {"a": 2, "b": "", "t": None},
        ],
    ),
    "mp": (
        pa.map_(pa.string(), pa.int64()),
        [[("a", 1), ("b", None)], [], None, [("a", 2**63 - 1)]],
        [[["a", 1], ["b", None]], [], None, [["a", 2**63 - 1]]],
    ),
    "dic": (pa.dictionary(pa.int32(), pa.string()), ["x", "y", None, "x"], ["x", "y", None, "x"]),
    "nul": (pa.null(), [None] * 4, [None] * 4),
    # the less common kinds of the same types
    "f16": (pa.float16(), [1.5, None, float("nan"), 0.1], [1.5, None, None, 0.0999755859375]),
    "fsb": (pa.binary(2), [b"ab", None, b"\x00\x00", b"zz"], ["YWI=", None, "AAA=", "eno="]),
    "d64": (pa.date64(), [dt.date(2024, 1, 2), None, None, None], ["2024-01-02", None, None, None]),
    "dec256": (
        pa.decimal256(40, 30),
        [Decimal("1." + "0" * 29 + "1"), None, Decimal(0), None],
        ["1." + "0" * 29 + "1", None, "0E-30", None],
    ),
    "fsl": (
        pa.list_(pa.int8(), 2),
        [[1, None], None, [0, 0], None],
        [[1, None], None, [0, 0], None],
    ),
    "uuid": (
        pa.uuid(),
        [UUID(int=1).bytes, None, None, None],
        ["00000000-0000-0000-0000-000000000001", None, None, None],
    ),
    "json": (pa.json_(), ['{"a": 1}', None, None, None], ['{"a": 1}', None, None, None]),
    "bool8": (pa.bool8(), [1, 0, None, 2], [True, False, None, True]),
}


def keys() -> list[str]:
    return [f"{i:03d}" for i in range(ROWS)]


def write_typed_file(path: Path) -> Path:
    """Every type of COLUMNS, in row groups of 3, rows 0 and 1 null but for the key."""
    arrays = {"k": pa.array(keys())}
    for name, (arrow_type, cells, _) in COLUMNS.items():
        storage = getattr(arrow_type, "storage_type", arrow_type)  # an extension type's
        array = pa.array([None, None, *cells], storage)
        if storage is not arrow_type:
            array = pa.ExtensionArray.from_storage(arrow_type, array)
        arrays[name] = array
    pq.write_table(pa.table(arrays), path, row_group_size=3)
    return path


def expected_json(row: int) -> bytes:
    """Row ``row``'s value as the value policy writes it: compact, column order."""
    value = {name: None if row < 2 else sent[row - 2] for name, (_, _, sent) in COLUMNS.items()}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_every_type_lands_as_the_value_policy_sends_it(es, env, tmp_path) -> None:
    path = write_typed_file(tmp_path / "typed.parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == 2
    es.create_topic("parquet-types", 1)
    args = ["--topic", "parquet-types", "--key-col", "k", "--chunksize", str(CHUNK)]
    result = run("produce", str(path), *args, env=env)
    assert result.returncode == 0, result.stderr
    stored = {record.key.decode(): record.value for record in es.read("parquet-types")}
    assert list(stored) == keys()
    for row, key in enumerate(keys()):
        # the bytes: 1 and 1.0 are equal once parsed, and ints must stay ints
        assert stored[key] == expected_json(row), (row, stored[key], expected_json(row))


NOWHERE = "http://127.0.0.1:9"  # a dry run connects to nothing


def file_plan(path: Path, **options: Any) -> pd.DataFrame:
    """The requests produce_file would send for ``path``, in chunks of CHUNK rows."""
    options = {"chunksize": CHUNK, **options}
    return es_pandas.produce_file(path, "t", url=NOWHERE, api_key=API_KEY, dry_run=True, **options)


def frame_plan(frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """The requests df.es.produce would send for ``frame``."""
    return frame.es.produce("t", url=NOWHERE, api_key=API_KEY, dry_run=True, **options)


def test_the_chunks_change_nothing(tmp_path) -> None:
    path = write_typed_file(tmp_path / "typed.parquet")
    whole = file_plan(path, key_col="k", chunksize=ROWS)
    for chunksize in (1, CHUNK, 4):
        pd.testing.assert_frame_equal(file_plan(path, key_col="k", chunksize=chunksize), whole)


#: columns a key can come from, of each kind of Arrow type
KEY_COLUMNS = ["k", "i64", "u64", "f64", "b", "s", "bin", "ts_ns", "tz_ns", "d32", "dec", "dic"]


@pytest.mark.parametrize("key_col", KEY_COLUMNS)
def test_a_file_sends_what_pandas_arrow_backed_frame_of_it_sends(tmp_path, key_col: str) -> None:
    path = write_typed_file(tmp_path / "typed.parquet")
    # pandas gives time64[ns] as Python times, without the nanoseconds: a frame of them
    # is refused (test_arrow_columns_pandas_would_change_are_refused_up_front)
    value_cols = [name for name in COLUMNS if name not in ("t64ns", key_col)]
    options = {"key_col": key_col, "value_cols": value_cols}
    sent = file_plan(path, **options)
    oracle = frame_plan(pd.read_parquet(path, dtype_backend="pyarrow"), **options)
    pd.testing.assert_frame_equal(sent, oracle)
    assert sent["body"].notna().sum() >= 2  # not only rejected rows


def test_a_file_sends_what_pandas_frame_of_it_sends_where_pandas_keeps_the_type(
    tmp_path,
) -> None:
    """pd.read_parquet's own frame sends the same for every column but those whose type
    pandas changes: a null makes an int column float (in that chunk only, when chunked),
    ints inside a list, struct or map become floats beside a null, a bool8 is its int8 as
    a float, and time64[ns] with nanoseconds cannot be read at all. Those are held to
    what the value policy says by test_every_type_lands_as_the_value_policy_sends_it."""
    path = write_typed_file(tmp_path / "typed.parquet")
    changed = {"i8", "i16", "i32", "i64", "u8", "u64", "li", "st", "mp", "fsl", "bool8", "t64ns"}
    kept = [name for name in COLUMNS if name not in changed]
    options = {"key_col": "k", "value_cols": kept}
    oracle = frame_plan(pd.read_parquet(path, columns=["k", *kept]), **options)
    pd.testing.assert_frame_equal(file_plan(path, **options), oracle)


# -- types that cannot be sent faithfully ---------------------------------------------


def nested_times() -> Any:
    return pa.array([None, [_ns(1, 2, 3, 1)]], pa.list_(pa.time64("ns")))


def tensors() -> Any:
    storage = pa.array([None, [1, 2]], pa.list_(pa.int32(), 2))
    return pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.int32(), [2]), storage)


def twin_fields() -> Any:
    # a JSON object of it would hold "x" twice
    return pa.StructArray.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["x", "x"])


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (nested_times, "is list<element: time64[ns]>[pyarrow]: pandas gives Arrow time64[ns]"),
        (
            tensors,
            "is extension<arrow.fixed_shape_tensor[value_type=int32, shape=[2]]>[pyarrow]: "
            "the Arrow extension type arrow.fixed_shape_tensor has no JSON",
        ),
        (
            twin_fields,
            "is struct<x: int64, x: int64>[pyarrow]: fields of its struct both become the "
            "JSON field 'x'",
        ),
    ],
    ids=["nested-time64-ns", "tensor-extension", "struct-fields-of-one-name"],
)
def test_a_type_that_cannot_be_sent_stops_the_load_once_up_front(
    es, env, tmp_path, column: Any, message: str
) -> None:
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"k": ["a", "b"], "v": [1, 2], "odd": column()}), path)
    topic = f"parquet-{column.__name__}"
    es.create_topic(topic, 1)
    options = {"url": es.url, "api_key": API_KEY, "key_col": "k", "chunksize": 1}
    with pytest.raises(es_pandas.ConfigurationError) as refused:
        es_pandas.produce_file(path, topic, **options)
    assert str(refused.value).startswith(f"column 'odd' {message}")
    assert "convert the column" in str(refused.value)
    result = run("produce", str(path), "--topic", topic, "--key-col", "k", env=env)
    assert result.returncode == 2
    assert f"column 'odd' {message}" in result.stderr and "Traceback" not in result.stderr
    assert es.read(topic) == []
    # a column that is not sent stops nothing
    es_pandas.produce_file(path, topic, value_cols=["v"], **options)
    assert [record.value for record in es.read(topic)] == [b'{"v":1}', b'{"v":2}']


def test_a_value_python_cannot_hold_rejects_its_row_alone(es, env, tmp_path) -> None:
    path = tmp_path / "far.parquet"
    table = {
        "k": ["a", "b", "c", "d"],
        # 2932897 days: 10000-01-01; 10**12 s: the year 33658
        "d": pa.array([0, 0, 2932897, 0], pa.date32()),
        "l": pa.array([[0], [0], [0], [10**12]], pa.list_(pa.timestamp("s"))),
        "t": pa.array([0, 10**12, 0, 0], pa.timestamp("s", tz="UTC")),
    }
    pq.write_table(pa.table(table), path)
    es.create_topic("parquet-far", 1)
    options = {"url": es.url, "api_key": API_KEY, "key_col": "k", "chunksize": 4}
    status_out, dead = tmp_path / "status.csv", tmp_path / "dead.jsonl"
    es_pandas.produce_file(
        path, "parquet-far", status_out=str(status_out), dead_letter=str(dead), **options
    )
    status = pd.read_csv(status_out)
    assert status["status"].tolist() == ["ok", "ok", "rejected", "rejected"]
    assert pd.read_json(dead, lines=True)["k"].tolist() == ["c", "d"]
    assert status["error"].tolist()[2:] == [
        "column 'd': a date32[day] value that Python cannot hold (date value out of range)",
        # Parquet has no seconds: pyarrow writes timestamp[s] as milliseconds
        "column 'l': a list<element: timestamp[ms]> value that Python cannot hold (date "
        "value out of range)",
    ]
    stored = {record.key: json.loads(record.value) for record in es.read("parquet-far")}
    assert stored[b"b"] == {
        "d": "1970-01-01",
        "l": ["1970-01-01T00:00:00"],
        "t": "+33658-09-27T01:46:40+00:00",
    }
    result = run("produce", str(path), "--topic", "parquet-far", "--key-col", "k", env=env)
    assert result.returncode == 1, result.stderr  # some rows not ok, none stopped the load
    assert "column 'd': a date32[day] value that Python cannot hold" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(es.read("parquet-far")) == 4


def test_arrow_columns_pandas_would_change_are_refused_up_front() -> None:
    times = pa.array([_ns(1, 2, 3, 1)], pa.time64("ns"))
    frame = pd.DataFrame(
        {"k": ["a"], "v": [1], "t": pd.Series(pd.arrays.ArrowExtensionArray(times))}
    )
    # what pandas would send: the nanosecond gone
    assert frame["t"].tolist() == [dt.time(1, 2, 3)]
    with pytest.raises(
        es_pandas.ConfigurationError, match=r"column 't' is time64\[ns\]\[pyarrow\]"
    ):
        frame_plan(frame, key_col="k")
    assert frame_plan(frame, key_col="k", value_cols=["v"])["error"].isna().all()


def test_index_columns_pandas_wrote_are_not_sent(tmp_path) -> None:
    path = tmp_path / "indexed.parquet"
    pd.DataFrame({"id": ["a", "b"], "v": [1, 2]}, index=[7, 3]).to_parquet(path)
    assert "__index_level_0__" in pq.read_schema(path).names
    sent = file_plan(path, key_col="id")
    oracle = frame_plan(pd.read_parquet(path).reset_index(drop=True), key_col="id")
    pd.testing.assert_frame_equal(sent, oracle)
    assert "__index_level_0__" not in sent.loc[0, "body"]


def test_a_named_index_pandas_wrote_is_read_as_its_column(tmp_path) -> None:
    path = tmp_path / "keyed.parquet"
    frame = pd.DataFrame({"order_id": ["00042", "00043"], "v": [1, 2]})
    frame.set_index("order_id").to_parquet(path)
    sent = file_plan(path, key_col="order_id")
    # the file's column order: pandas writes index levels after the columns
    oracle = frame_plan(frame[["v", "order_id"]], key_col="order_id")
    pd.testing.assert_frame_equal(sent, oracle)
    assert '"data":"00042"' in sent.loc[0, "body"].replace(" ", "")
