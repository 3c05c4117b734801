"""Record ids (``record_id``): a header with a stable id of each record, the same on
every attempt and in every run that sends the row, so consumers can drop duplicates.
Checked in the encoder alone, then against the local server."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

import es_pandas
from es_pandas import ConfigurationError, Retry
from es_pandas._wire import EncodedRecord, Limits, RejectedRow
from es_pandas._wire.dialect import RECORD_ID_HEADER
from es_pandas._wire.records import RecordEncoder, content_id

from .conftest import API_KEY, run

FAST = Retry(retries=3, backoff=0.01, max_backoff=0.05)

# -- the encoder ----------------------------------------------------------------------


def encode(frame: pd.DataFrame, **options: Any) -> list[Any]:
    encoder = RecordEncoder("t", list(frame.columns), dtypes=list(frame.dtypes), **options)
    return encoder.encode(frame, 0)


def sent_headers(record: EncodedRecord) -> list[tuple[str, bytes]]:
    """The headers of a request as the server stores them, for either API version."""
    if record.target.startswith("/v2/"):
        items = json.loads(record.body).get("headers", [])
        return [(h["name"], base64.b64decode(h["value"])) for h in items]
    [listed] = parse_qs(urlsplit(record.target).query).get("headers", [""])
    pairs = [item.split(":") for item in listed.split(",") if item]
    return [(name, bytes.fromhex(data)) for name, data in pairs]


def ids(items: list[Any]) -> list[str | None]:
    return [item.record_id if isinstance(item, EncodedRecord) else None for item in items]


ROWS = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 1], "h": ["x", "y", "x"]})


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_hash_id_is_a_digest_of_key_value_and_headers_as_sent(api_version: str) -> None:
    items = encode(ROWS, api_version=api_version, key_col="k", header_cols=["h"], record_id="hash")
    first = items[0]
    assert isinstance(first, EncodedRecord)
    assert first.record_id == content_id("a", '{"v":1}', [("h", b"x")])
    assert len(first.record_id) == 32 and int(first.record_id, 16) >= 0
    assert sent_headers(first) == [("h", b"x"), (RECORD_ID_HEADER, first.record_id.encode())]
    # a row of the same content has the same id, another row another one
    assert ids(items) == [first.record_id, ids(items)[1], first.record_id]
    assert ids(items)[1] != first.record_id


def test_hash_id_is_the_same_whatever_the_api_version() -> None:
    v1 = encode(ROWS, api_version="v1", key_col="k", header_cols=["h"], record_id="hash")
    v2 = encode(ROWS, api_version="v2", key_col="k", header_cols=["h"], record_id="hash")
    assert ids(v1) == ids(v2)


def test_hash_id_changes_with_any_part_of_the_record() -> None:
    base = content_id("a", "v", [("h", b"x")])
    others = [
        content_id(None, "v", [("h", b"x")]),
        content_id("", "v", [("h", b"x")]),
        content_id("a", "v2", [("h", b"x")]),
        content_id("a", "v", [("h", b"y")]),
        content_id("a", "v", [("g", b"x")]),
        content_id("a", "v", []),
        # the same bytes cut elsewhere
        content_id("av", "", [("h", b"x")]),
        content_id("a", "vh", [("", b"x")]),
    ]
    assert len({base, *others}) == len(others) + 1
    assert content_id(b"a", b"v", [("h", b"x")]) == base  # bytes as Kafka stores them


def test_no_record_id_sends_no_header() -> None:
    items = encode(ROWS, header_cols=["h"])
    assert ids(items) == [None, None, None]
    assert sent_headers(items[0]) == [("h", b"x")]


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_column_id_is_its_value_as_text(api_version: str) -> None:
    frame = pd.DataFrame({"id": pd.array([7, None, 9], dtype="Int64"), "v": [1, 2, 3]})
    items = encode(frame, api_version=api_version, record_id="id", record_id_header="msg-id")
    assert ids(items) == ["7", None, "9"]
    assert sent_headers(items[0]) == [("msg-id", b"7")]
    assert items[1] == RejectedRow(1, "column 'id': null record id")
    # the id column stays in the value unless value_cols leaves it out
    assert json.loads(
        items[0].body if api_version == "v1" else json.loads(items[0].body)["value"]["data"]
    ) == {"id": 7, "v": 1}


def test_column_id_may_be_the_key() -> None:
    frame = pd.DataFrame({"k": ["a", "b"], "v": [1, 2]})
    assert ids(encode(frame, key_col="k", record_id="k")) == ["a", "b"]


def test_bytes_ids_must_be_utf8() -> None:
    frame = pd.DataFrame({"id": [b"ok", b"\xff"], "v": [1, 2]})
    items = encode(frame, record_id="id")
    assert ids(items) == ["ok", None]
    assert "not non-UTF-8 bytes" in items[1].error


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"record_id": "nope"}, "record_id: no column named 'nope'"),
        ({"record_id": "hash", "api_version": "v1", "record_id_header": "a:b"}, "v1 cannot"),
        (
            {"record_id": "hash", "header_cols": ["h"], "record_id_header": "h"},
            "header column 'h' has the name of the record id header",
        ),
    ],
)
def test_bad_record_id_options_are_refused_up_front(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        encode(ROWS, **options)


def test_a_called_header_with_the_id_name_rejects_its_row() -> None:
    def headers(row: dict[Any, Any]) -> dict[str, object]:
        return {RECORD_ID_HEADER: "mine"} if row["v"] == 2 else {"h": row["h"]}

    items = encode(ROWS, header_cols=headers, record_id="hash")
    assert isinstance(items[1], RejectedRow) and "is the record id header" in items[1].error
    assert ids(items)[0] == ids(items)[2] is not None


def test_the_id_header_counts_in_the_v1_uri_limit() -> None:
    frame = pd.DataFrame({"v": [1]})
    [plain] = encode(frame, api_version="v1")
    room = Limits(max_uri_bytes=len(plain.target) + 20)
    assert isinstance(encode(frame, api_version="v1", limits=room)[0], EncodedRecord)
    [item] = encode(frame, api_version="v1", limits=room, record_id="hash")
    assert isinstance(item, RejectedRow) and "URI is" in item.error


# -- against the local server ---------------------------------------------------------


def produce(es, frame: pd.DataFrame, topic: str = "single", **options: Any):
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "retries": FAST, **options}
    return frame.es.produce(topic, **options)


def stored_ids(es, topic: str, since: int = 0, header: str = RECORD_ID_HEADER) -> list[str]:
    records = es.records(topic, decode=True).iloc[since:]
    return [dict(headers)[header] for headers in records["headers"]]


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_ids_are_stored_and_the_same_in_a_second_run(es, api_version: str) -> None:
    before = len(es.read("single"))
    frame = pd.DataFrame({"k": ["a", "b", "c"], "v": [1, 2, 3]}, index=["x", "y", "z"])
    first = produce(es, frame, key_col="k", record_id="hash", api_version=api_version)
    assert (first["status"] == "ok").all()
    assert first["record_id"].tolist() == stored_ids(es, "single", before)
    assert first["record_id"].nunique() == 3
    again = produce(es, frame, key_col="k", record_id="hash", api_version=api_version)
    assert again["record_id"].tolist() == first["record_id"].tolist()
    assert stored_ids(es, "single", before + 3) == first["record_id"].tolist()


@pytest.mark.parametrize("fault", ["500", "500+written"])
def test_a_retried_row_keeps_its_id(es, fault: str) -> None:
    before = len(es.read("single"))
    es.set_faults(retry_after=None, script=[fault])
    status = produce(es, pd.DataFrame({"v": [1]}), record_id="hash")
    row = status.iloc[0]
    assert row["status"] == "ok" and row["attempts"] == 2 and row["maybe_duplicate"]
    stored = stored_ids(es, "single", before)
    # written once, or twice (the 500 came after the write): the same id each time
    assert stored == [row["record_id"]] * (2 if fault == "500+written" else 1)


def test_a_null_column_id_rejects_its_row(es) -> None:
    frame = pd.DataFrame({"id": ["r1", None], "v": [1, 2]}, index=["first", "second"])
    status = produce(es, frame, record_id="id")
    assert status["status"].tolist() == ["ok", "rejected"]
    assert status.loc["second", "error"] == "column 'id': null record id"
    assert status["record_id"].tolist()[0] == "r1" and pd.isna(status.loc["second", "record_id"])


def test_without_record_id_the_status_has_no_such_column(es) -> None:
    status = produce(es, pd.DataFrame({"v": [1]}))
    assert "record_id" not in status


def test_cli_status_file_carries_ids_and_a_resumed_load_keeps_them(es, tmp_path) -> None:
    env = {"ES_PANDAS_URL": es.url, "ES_PANDAS_API_KEY": API_KEY}
    path = tmp_path / "rows.csv"
    pd.DataFrame({"id": [f"id-{i}" for i in range(6)], "v": range(6)}).to_csv(path, index=False)
    status_out = tmp_path / "status.csv"
    es.create_topic("ids", 1)
    args = ["produce", str(path), "--topic", "ids", "--status-out", str(status_out)]
    args += ["--record-id", "hash", "--record-id-header", "dedup", "--concurrency", "1"]
    # rows 2 and 3 fail (a 400 is not retried); a second load sends them alone
    es.set_faults(script=["ok", "ok", "400", "400"])
    first = run(*args, env=env)
    assert first.returncode == 1, first.stderr
    earlier = pd.read_csv(status_out, dtype={"record_id": "string"})
    assert earlier["status"].tolist() == ["ok", "ok", "failed", "failed", "ok", "ok"]
    assert earlier["record_id"].notna().all()
    again = run(*args, "--resume", str(status_out), env=env)
    assert again.returncode == 0, again.stderr
    final = pd.read_csv(status_out, dtype={"record_id": "string"})
    assert (final["status"] == "ok").all()
    assert final["record_id"].tolist() == earlier["record_id"].tolist()
    stored = es.records("ids", decode=True)
    by_value = {
        json.loads(v)["id"]: dict(h)["dedup"] for v, h in stored[["value", "headers"]].values
    }
    assert [by_value[f"id-{i}"] for i in range(6)] == final["record_id"].tolist()
    assert len(stored) == 6


def test_produce_file_api_takes_the_option(es, tmp_path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": "a", "v": 1}\n')
    es.create_topic("ids-api", 1)
    summary = es_pandas.produce_file(
        path, "ids-api", url=es.url, api_key=API_KEY, progress=False, record_id="id"
    )
    assert summary.counts["ok"] == 1
    assert stored_ids(es, "ids-api") == ["a"]


def test_a_parquet_status_file_takes_ids_on_resuming_a_load_without_them(es, tmp_path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "rows.csv"
    pd.DataFrame({"id": [f"id-{i}" for i in range(6)], "v": range(6)}).to_csv(path, index=False)
    status_out = tmp_path / "status.parquet"
    es.create_topic("ids-pq", 1)
    options: dict[str, Any] = {
        "url": es.url,
        "api_key": API_KEY,
        "progress": False,
        "status_out": str(status_out),
        "concurrency": 1,
        "chunksize": 2,
    }
    es.set_faults(script=["ok", "ok", "400", "400"])
    es_pandas.produce_file(path, "ids-pq", **options)
    assert "record_id" not in pd.read_parquet(status_out)
    es_pandas.produce_file(path, "ids-pq", **options, resume=str(status_out), record_id="id")
    final = pd.read_parquet(status_out)
    assert (final["status"] == "ok").all()
    # rows 2 and 3 were sent with ids; the others, carried, were sent without
    assert final["record_id"].fillna("-").tolist() == ["-", "-", "id-2", "id-3", "-", "-"]
    assert stored_ids(es, "ids-pq", 4, header=RECORD_ID_HEADER) == ["id-2", "id-3"]


def test_a_retried_slice_gets_the_ids_its_rows_had(es) -> None:
    frame = pd.DataFrame({"v": [1, 2, 3]}, index=["a", "b", "c"])
    es.set_faults(script=["ok", "400"])
    status = produce(es, frame, record_id="hash", concurrency=1)
    assert status["status"].tolist() == ["ok", "failed", "ok"]
    first = status["record_id"].tolist()
    retry = produce(es, frame.loc[status["status"] == "failed"], record_id="hash")
    status.update(retry)
    assert (status["status"] == "ok").all()
    assert status["record_id"].tolist() == first
