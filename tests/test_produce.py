"""df.es.produce end to end against the local server, on both engines."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas import LocalEventStreams, Producer, Retry, StatusFrame
from es_pandas.server import partition_for_key

from .conftest import API_KEY, ENGINES


@pytest.fixture
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o-{i}" for i in range(60)],
            "amount": np.linspace(0.1, 99.9, 60),
            "qty": pd.array([*range(59), None], dtype="Int64"),
            "placed": pd.date_range("2024-05-01 09:00", periods=60, freq="min"),
        },
        index=pd.Index([f"row{i}" for i in range(60)]),
    )


def stored_values(es: LocalEventStreams, status: pd.DataFrame, topic: str = "orders") -> list:
    by_place = {(r.partition, r.offset): r for r in es.read(topic)}
    return [by_place[(p, o)] for p, o in zip(status["partition"], status["offset"], strict=True)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_every_row_lands_as_one_record(es, orders, engine: str, api_version: str) -> None:
    status = orders.es.produce(
        "orders",
        key_col="order_id",
        url=es.url,
        api_key=API_KEY,
        engine=engine,
        api_version=api_version,
        progress=False,
    )
    assert isinstance(status, StatusFrame)
    assert status.index.equals(orders.index)
    assert (status["status"] == "ok").all()
    assert (status["http_status"] == 200).all()
    assert (status["attempts"] == 1).all()
    records = stored_values(es, status)
    for (_, row), record in zip(orders.iterrows(), records, strict=True):
        assert record.key == row["order_id"].encode()
        assert record.partition == partition_for_key(record.key, 3)
        value = json.loads(record.value)
        assert value["amount"] == row["amount"]
        assert value["qty"] == (None if pd.isna(row["qty"]) else row["qty"])
        assert value["placed"] == row["placed"].isoformat()
        assert set(value) == {"amount", "qty", "placed"}


def test_status_frame_columns_and_dtypes(es, orders) -> None:
    status = orders.es.produce("orders", url=es.url, api_key=API_KEY, progress=False)
    assert list(status.columns) == [
        "status",
        "http_status",
        "partition",
        "offset",
        "timestamp",
        "error",
        "trace",
        "attempts",
        "latency_ms",
        "maybe_duplicate",
    ]
    assert list(status["status"].cat.categories) == list(es_pandas.STATUSES)
    assert str(status["http_status"].dtype) == "Int16"
    assert str(status["partition"].dtype) == "Int32"
    assert str(status["offset"].dtype) == "Int64"
    assert str(status["timestamp"].dtype).startswith("datetime64") and "UTC" in str(
        status["timestamp"].dtype
    )
    assert str(status["error"].dtype) == "string"
    assert str(status["trace"].dtype) == "string"
    assert status["trace"].isna().all()  # success answers carry none
    assert str(status["latency_ms"].dtype) == "Float64"
    assert status["timestamp"].notna().all()
    assert status["latency_ms"].gt(0).all()
    assert status.summary.counts["ok"] == 60
    assert "60 ok" in str(status.summary)


def test_duplicate_and_unusual_indexes_are_kept(es) -> None:
    frame = pd.DataFrame({"v": [1, 2, 3, 4]}, index=pd.Index([5, 5, "x", None], dtype=object))
    status = frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False)
    assert status.index.equals(frame.index)
    records = stored_values(es, status, "single")
    assert [json.loads(r.value)["v"] for r in records] == [1, 2, 3, 4]


def test_empty_frame(es) -> None:
    status = pd.DataFrame({"v": []}).es.produce(
        "single", url=es.url, api_key=API_KEY, progress=False
    )
    assert len(status) == 0 and status.columns[0] == "status"


def test_value_col_header_cols_and_binary_keys(es) -> None:
    frame = pd.DataFrame(
        {"k": [b"\x00\x01", b"\xff"], "body": ["plain text", "more"], "source": ["a", "b"]}
    )
    for api_version in ("v1", "v2"):
        status = frame.es.produce(
            "single",
            key_col="k",
            value_col="body",
            header_cols=["source"],
            url=es.url,
            api_key=API_KEY,
            api_version=api_version,
            progress=False,
        )
        records = stored_values(es, status, "single")
        assert [r.key for r in records] == [b"\x00\x01", b"\xff"]
        assert [r.value for r in records] == [b"plain text", b"more"]
        assert [r.headers for r in records] == [(("source", b"a"),), (("source", b"b"),)]


def test_rejected_rows_never_stop_the_others(es) -> None:
    frame = pd.DataFrame({"k": ["a", None, "c", "d"], "x": [1.0, 2.0, float("inf"), 4.0]})
    status = frame.es.produce("single", key_col="k", url=es.url, api_key=API_KEY, progress=False)
    assert status["status"].tolist() == ["ok", "rejected", "rejected", "ok"]
    assert "null key" in status.loc[1, "error"] and "'k'" in status.loc[1, "error"]
    assert "'x'" in status.loc[2, "error"]
    assert status.loc[1, "attempts"] == 0
    assert set(status.summary.reasons) == {("rejected", status.loc[i, "error"]) for i in (1, 2)}


def test_a_timestamp_python_cannot_hold_never_stops_the_run(es) -> None:
    pa = pytest.importorskip("pyarrow")
    stamps = pd.Series(np.array(["2020-01-01", "12000-01-01"], dtype="datetime64[s]"))
    aware = stamps.dt.tz_localize(ZoneInfo("UTC"))
    frame = pd.DataFrame(
        {
            "k": ["good", "far"],
            "d": aware,
            "a": pd.Series(pa.array(stamps), dtype=pd.ArrowDtype(pa.timestamp("s"))),
            "o": pd.Series(list(aware), dtype=object),
            # pandas' Timestamp ends where int64 seconds do: that value rejects its row
            "x": pd.Series([None, np.datetime64(10**18, "D")], dtype=object),
        }
    )
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "errors": "collect"}
    status = frame.es.produce("single", key_col="k", **options)
    assert status["status"].tolist() == ["ok", "rejected"]
    assert status.loc[1, "error"].startswith(
        "column 'x': np.datetime64('2737907006990477-08-20') is out of the range of pandas' "
        "Timestamp"
    )
    status = frame.drop(columns="x").es.produce("single", key_col="d", **options)
    assert status["status"].tolist() == ["ok", "ok"]
    far = stored_values(es, status, "single")[1]
    assert far.key == b"+12000-01-01T00:00:00+00:00"
    assert json.loads(far.value) == {
        "k": "far",
        "a": "+12000-01-01T00:00:00",
        "o": "+12000-01-01T00:00:00+00:00",
    }


def test_infinite_keys_are_rejected_as_infinite_values_are(es) -> None:
    inf = float("inf")
    frame = pd.DataFrame(
        {"k": [1.5, inf, 2.5, -inf], "x": [1.0, 2.0, inf, 4.0]}, index=["a", "b", "c", "d"]
    )
    es.reset_stats()
    status = frame.es.produce("single", key_col="k", url=es.url, api_key=API_KEY, progress=False)
    assert status["status"].tolist() == ["ok", "rejected", "rejected", "rejected"]
    assert status["error"].tolist()[1:] == [
        "column 'k': inf is not a finite number",
        "column 'x': inf is not valid JSON",
        "column 'k': -inf is not a finite number",
    ]
    assert es.stats()["200"] == 1  # one row sent (after the v2 route check)
    [record] = stored_values(es, status.loc[["a"]], "single")
    assert record.key == b"1.5"


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        (pd.period_range("2024-01", periods=3, freq="M"), "period[M]"),
        (pd.interval_range(0, 3), "interval[int64, right]"),
        (np.array([1j, 2j, 3j]), "complex128"),
    ],
)
def test_a_column_no_row_of_which_can_be_sent_stops_the_run_before_it_starts(
    es, column, dtype: str
) -> None:
    frame = pd.DataFrame({"k": ["a", "b", "c"], "when": column})
    with pytest.raises(es_pandas.ConfigurationError, match=f"column 'when' is {re.escape(dtype)}"):
        frame.es.produce("single", key_col="k", url=es.url, api_key=API_KEY, progress=False)
    assert es.stats() == {}
    converted = frame.assign(when=frame["when"].astype(str))
    status = converted.es.produce(
        "single", key_col="k", url=es.url, api_key=API_KEY, progress=False
    )
    assert (status["status"] == "ok").all()


def test_oversize_rows_are_rejected_locally(es) -> None:
    frame = pd.DataFrame({"k": ["a", "b" * 5000], "v": ["x", "y"]})
    frame.loc[2] = ["c", "z" * 70000]
    es.reset_stats()
    status = frame.es.produce("single", key_col="k", url=es.url, api_key=API_KEY, progress=False)
    assert status["status"].tolist() == ["ok", "rejected", "rejected"]
    assert es.stats()["200"] == 1  # one row sent (after the v2 route check)


def test_retry_recipe_sends_only_the_failed_slice(es) -> None:
    frame = pd.DataFrame({"v": range(10)}, index=[f"r{i}" for i in range(10)])
    es.script_faults(["ok"] + ["400"] * 3)
    first = frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False, concurrency=1)
    assert first["status"].value_counts()["failed"] == 3
    assert first.summary.elapsed is not None
    dtypes = first.dtypes
    # the README's recipe; the third retried row fails again, keeping its partition NA
    es.script_faults(["ok", "ok", "400"])
    again = first["status"].isin(["failed", "rejected", "not_sent"])
    retry = frame.loc[again].es.produce(
        "single", url=es.url, api_key=API_KEY, progress=False, concurrency=1
    )
    assert retry.index.tolist() == first.index[again].tolist()
    first.update(retry)
    assert first["status"].value_counts().to_dict() == {
        "ok": 9,
        "failed": 1,
        "unknown": 0,
        "rejected": 0,
        "not_sent": 0,
    }
    ok = first["status"] == "ok"
    assert first.loc[ok, "error"].isna().all()  # no old error stays on a retried row
    assert first.loc[ok, ["partition", "offset"]].notna().all().all()
    assert first.loc[~ok, "partition"].isna().all()
    assert first.loc[~ok, "error"].str.startswith("HTTP 400").all()
    assert first.dtypes.equals(dtypes)
    # two runs have no single time: the summary counts, and says no time or rate
    assert first.summary.elapsed is None
    assert str(first.summary) == "9 ok, 1 failed"


def test_a_service_that_is_down_stops_the_run(es) -> None:
    # Every request answered 503: before, each row failed after its retries, at the
    # rate back-pressure slowed to (a row a second), for as long as the frame lasted.
    es.set_faults(rates={"503": 1.0}, retry_after=None)
    es.reset_stats()
    frame = pd.DataFrame({"v": range(1000)})
    try:
        with pytest.raises(es_pandas.ServiceUnavailable) as caught:
            frame.es.produce(
                "single",
                url=es.url,
                api_key=API_KEY,
                progress=False,
                concurrency=4,
                retries=Retry(retries=1, backoff=0.001),
            )
    finally:
        es.clear_faults()
    message = str(caught.value)
    assert re.search(
        f"{re.escape(es.url)} is unavailable: its last [0-9]+ answers, over [0-9]+ s, were "
        "errors, and "
        "[0-9]+ rows failed with every retry spent, the last with HTTP 503",
        message,
    ), message
    counts = caught.value.status["status"].value_counts()
    ended = counts["failed"] + counts["unknown"]
    assert 3 <= ended < 20
    assert counts["not_sent"] == 1000 - ended
    # ten answers and three rows failed stop it; the rows in flight then end on their
    # answers, not retried (and the v2 route check)
    assert es.stats()["503"] <= 10 + 2 * 4 + 1


def test_a_service_down_for_long_stops_the_run_however_few_rows_failed(es, monkeypatch) -> None:
    # Back-pressure slows a run of 503s to a request a second, at which fail_after rows
    # and a round of the requests in flight took minutes (124 s for 2,000 rows at the
    # defaults): once a row has failed, answers that were all errors for DOWN_SECONDS
    # stop the run too. fail_after=1000 leaves only that rule to stop this one.
    monkeypatch.setattr(es_pandas._engine, "DOWN_SECONDS", 1.0)
    es.set_faults(rates={"503": 1.0}, retry_after=None)
    try:
        with pytest.raises(es_pandas.ServiceUnavailable) as caught:
            pd.DataFrame({"v": range(5000)}).es.produce(
                "single",
                url=es.url,
                api_key=API_KEY,
                progress=False,
                fail_after=1000,
                retries=Retry(retries=1, backoff=0.001),
            )
    finally:
        es.clear_faults()
    assert re.search(
        r"its last [0-9,]+ answers, over [1-9][0-9]* s, were errors", str(caught.value)
    )
    counts = caught.value.status["status"].value_counts()
    assert 1 <= counts["failed"] < 1000


def test_rows_waiting_to_try_again_end_at_once_when_the_run_stops(es) -> None:
    # Four rows are told to come back in 30 s; then three answers about the run (403)
    # stop it. The four end on their last try at once, failed, instead of trying again
    # half a minute later.
    es.set_faults(retry_after=30, script=["ok"] + ["503"] * 4 + ["403"] * 3)
    try:
        with pytest.raises(es_pandas.PermissionDeniedError) as caught:
            pd.DataFrame({"v": range(100)}).es.produce(
                "single", url=es.url, api_key=API_KEY, progress=False, concurrency=8
            )
    finally:
        es.clear_faults()
    status = caught.value.status
    assert caught.value.summary.elapsed < 20
    waited = status[status["http_status"] == 503]
    assert len(waited) == 4
    assert (waited["status"] == "failed").all() and (waited["attempts"] == 1).all()
    assert waited["error"].str.startswith("HTTP 503").all()
    assert waited["error"].str.endswith("; not tried again: the run stopped").all()


def test_ten_503s_in_a_row_stop_a_run_of_one_request_at_a_time(es) -> None:
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "concurrency": 1}
    # without retries, a row fails on each 503: nine in a row are a service failing
    # some requests, not a service down
    es.script_faults(["503"] * 9 + ["ok"] + ["503"] * 9)
    status = pd.DataFrame({"v": range(20)}).es.produce("single", retries=0, **options)
    assert status["status"].value_counts()[["failed", "ok"]].tolist() == [18, 2]
    es.script_faults(["503"] * 10)
    with pytest.raises(es_pandas.ServiceUnavailable, match="its last 10 answers") as caught:
        pd.DataFrame({"v": range(20)}).es.produce("single", retries=0, **options)
    assert caught.value.status["status"].tolist() == ["failed"] * 10 + ["not_sent"] * 10


def test_a_run_that_has_written_rows_rides_out_a_short_outage(es) -> None:
    # A load 4 s into a 10-20 s broker outage stopped with most of its rows not_sent;
    # once rows went ok, only answers that were all errors for DOWN_SECONDS stop it.
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "concurrency": 1}
    es.set_faults(retry_after=None, script=["ok"] * 5 + ["503"] * 15)
    try:
        status = pd.DataFrame({"v": range(30)}).es.produce("single", retries=0, **options)
    finally:
        es.clear_faults()
    assert status["status"].tolist() == ["ok"] * 5 + ["failed"] * 15 + ["ok"] * 10


def test_rows_failed_on_429_do_not_stop_the_run(es) -> None:
    # a quota is back-pressure's to keep to: without retries, the first wave fails
    es.script_faults(["429"] * 12)
    status = pd.DataFrame({"v": range(14)}).es.produce(
        "single", url=es.url, api_key=API_KEY, progress=False, concurrency=1, retries=0
    )
    assert status["status"].tolist() == ["failed"] * 12 + ["ok"] * 2


def test_rows_failed_on_503_with_rows_ok_between_them_do_not_stop_the_run(es) -> None:
    es.script_faults(["503", "503", "ok"] * 3 + ["503"] * 2)
    status = pd.DataFrame({"v": range(12)}).es.produce(
        "single", url=es.url, api_key=API_KEY, progress=False, concurrency=1, retries=0
    )
    assert status["status"].tolist() == ["failed", "failed", "ok"] * 3 + ["failed"] * 2 + ["ok"]
    assert status["error"].dropna().str.startswith("HTTP 503").all()


def test_update_keeps_what_an_earlier_run_may_have_written(es) -> None:
    frame = pd.DataFrame(
        {"v": range(4)}, index=["ok-then-ok", "ok-then-lost", "lost-then-ok", "lost-then-failed"]
    )
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "concurrency": 1, "retries": 0}
    es.script_faults(["ok", "ok", "drop+written", "drop+written"])
    status = frame.es.produce("single", **options)
    assert status["status"].tolist() == ["ok", "ok", "unknown", "unknown"]
    before = len(es.read("single"))
    es.script_faults(["ok", "drop+written", "ok", "400"])
    status.update(frame.es.produce("single", **options))
    assert len(es.read("single")) == before + 3
    assert status["status"].tolist() == ["ok", "ok", "ok", "unknown"]
    assert status["maybe_duplicate"].tolist() == [True, True, True, False]
    assert status.loc["ok-then-lost", "error"] is pd.NA
    assert status.loc["lost-then-failed", "error"] == (
        "HTTP 400: injected failure [injected fault]; an earlier run may have written the record"
    )


def test_an_updated_frame_no_longer_says_what_its_first_run_said_of_itself(es, tmp_path) -> None:
    # the first run's dead letters (its failed row, ok now) and slowdown stayed in the note
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "retries": 0}
    frame = pd.DataFrame({"v": range(3)})
    es.script_faults(["400"])
    status = frame.es.produce(
        "single", concurrency=1, dead_letter=str(tmp_path / "d.jsonl"), **options
    )
    assert "1 dead letter" in str(status.summary.notes())
    status.update(frame.iloc[:1].es.produce("single", **options))
    assert (status["status"] == "ok").all()
    assert status.summary.notes() == []


def test_update_takes_only_rows_of_the_same_status_frame(es) -> None:
    frame = pd.DataFrame({"v": range(3)})
    status = frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False)
    with pytest.raises(KeyError, match=r"1 rows are not in this frame: \[7\]"):
        status.update(status.rename(index={2: 7}))
    with pytest.raises(ValueError, match="both indexes must be unique"):
        status.update(status.rename(index={2: 1}))
    with pytest.raises(ValueError, match="takes a status frame"):
        status.update(status[["status"]])


def test_a_frame_with_duplicate_labels_is_sent_with_a_warning_before(es, caplog) -> None:
    """Its status frame cannot take a retry's rows back by label (update refuses it):
    said before anything is sent, not only after a retry has been."""
    frame = pd.DataFrame({"v": range(4)}, index=[0, 0, 1, 1])
    with caplog.at_level(logging.WARNING, logger="es_pandas"):
        status = frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False)
    assert (status["status"] == "ok").all() and status.index.tolist() == [0, 0, 1, 1]
    assert "index has duplicate labels" in caplog.text and "reset_index()" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="es_pandas"):
        frame.reset_index().es.produce("single", url=es.url, api_key=API_KEY, progress=False)
    assert "duplicate labels" not in caplog.text


@pytest.mark.parametrize("topic", [".", ".."])
def test_dot_topics_are_refused_up_front(es, topic: str) -> None:
    # Quoted into the URL, they are dot segments: the request would go to /v2/records.
    message = re.escape(f"topic {topic!r} cannot exist: Kafka forbids")
    with pytest.raises(es_pandas.ConfigurationError, match=message):
        pd.DataFrame({"v": [1]}).es.produce(topic, url=es.url, api_key=API_KEY, progress=False)


def test_producer_object_is_reusable(es, orders) -> None:
    producer = Producer(es.url, api_key=API_KEY, concurrency=4, progress=False)
    first = producer.produce(orders, "orders")
    second = orders.es.produce("orders", producer=producer)
    assert (first["status"] == "ok").all() and (second["status"] == "ok").all()
    assert API_KEY not in repr(producer)


def test_errors_raise_carries_the_frame(es) -> None:
    es.script_faults(["400"])
    frame = pd.DataFrame({"v": [1, 2]})
    with pytest.raises(es_pandas.ProduceError) as caught:
        frame.es.produce(
            "single", url=es.url, api_key=API_KEY, progress=False, errors="raise", concurrency=1
        )
    assert caught.value.status["status"].tolist() == ["failed", "ok"]
    assert "1 failed" in str(caught.value)


def test_dry_run_sends_nothing_and_masks_secrets(es, orders) -> None:
    es.reset_stats()
    plan = orders.head(3).es.produce(
        "orders", key_col="order_id", url=es.url, api_key=API_KEY, dry_run=True
    )
    assert es.stats() == {}
    assert plan.index.equals(orders.index[:3])
    assert plan.loc["row0", "method"] == "POST"
    assert plan.loc["row0", "url"] == f"{es.url}/v2/topics/orders/records"
    assert plan.loc["row0", "headers"]["Authorization"] == "Bearer <redacted>"
    envelope = json.loads(plan.loc["row0", "body"])
    assert envelope["key"] == {"type": "text", "data": "o-0"}
    assert API_KEY not in plan.to_string() and API_KEY not in str(plan["headers"].tolist())


def test_inside_a_running_event_loop(es, orders) -> None:
    # What Jupyter does: a loop already runs on this thread while produce() is called.
    async def notebook_cell() -> pd.DataFrame:
        return orders.es.produce("orders", url=es.url, api_key=API_KEY, progress=False)

    status = asyncio.run(notebook_cell())
    assert (status["status"] == "ok").all()


@pytest.mark.parametrize("engine", ENGINES)
def test_aproduce(es, orders, engine: str) -> None:
    async def main() -> pd.DataFrame:
        return await orders.es.aproduce(
            "orders", url=es.url, api_key=API_KEY, engine=engine, progress=False
        )

    assert (asyncio.run(main())["status"] == "ok").all()


def test_aproduce_checks_its_options(orders) -> None:
    with pytest.raises(TypeError):
        asyncio.run(orders.es.aproduce("orders", url="http://x", concurency=3))


def test_max_rate_spaces_requests(es) -> None:
    frame = pd.DataFrame({"v": range(11)})
    status = frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False, max_rate=20)
    # 11 requests at 20/s: the last may start no earlier than 0.5 s after the first
    assert status.attrs["elapsed"] >= 0.5
    assert (status["status"] == "ok").all()


def test_progress_callable_gets_events(es, orders) -> None:
    events = []
    orders.es.produce("orders", url=es.url, api_key=API_KEY, progress=events.append)
    assert events[-1].finished
    assert events[-1].done == events[-1].total == 60
    assert events[-1].counts["ok"] == 60


@pytest.fixture
def terminal(monkeypatch) -> None:
    """stderr taken for a terminal, where the bar is drawn (capsys's is not one)."""
    monkeypatch.setattr("es_pandas._progress._on_terminal", lambda: True)


def test_progress_bar_on_request(es, orders, capsys, terminal) -> None:
    orders.es.produce("orders", url=es.url, api_key=API_KEY, progress=True)
    err = capsys.readouterr().err
    assert "60/60" in err and "ok=60" in err and "\r" in err
    assert API_KEY not in err


def test_progress_on_request_where_stderr_is_a_log_is_a_line_every_few_seconds(
    capsys, monkeypatch
) -> None:
    """A bar's redraws in a cron job's log pile up as one line of carriage returns."""
    from es_pandas._progress import LINE_SECONDS, ProgressEvent, make_reporter
    from es_pandas._status import STATUSES

    def event(done: int, elapsed: float, **more) -> ProgressEvent:
        counts = {**dict.fromkeys(STATUSES, 0), "ok": done, "not_sent": 10_000 - done}
        return ProgressEvent(done, 10_000, counts, elapsed, **more)

    monkeypatch.delenv("CI", raising=False)
    lines = make_reporter(True, 10_000, "orders")
    for elapsed in range(0, int(3 * LINE_SECONDS)):  # ticks, a few a second in a run
        lines.update(event(100 * elapsed, float(elapsed), max_rate=100.0))
    lines.close(event(10_000, 100.0, finished=True), "")
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == [
        "orders: 1,000/10,000 rows (10%), 10 s, 100 rows/s, ok=1,000 slowed to 100/s "
        "(server pushed back), about 90 s to go",
        "orders: 2,000/10,000 rows (20%), 20 s, 100 rows/s, ok=2,000 slowed to 100/s "
        "(server pushed back), about 80 s to go",
        "orders: 10,000/10,000 rows (100%), 100 s, 100 rows/s, ok=10,000",
    ]
    assert make_reporter(None, 10_000, "orders").__class__.__name__ == "_Reporter"  # silent


def test_progress_lines_of_a_load_of_unknown_size_show_no_share_or_time_to_go(
    capsys, monkeypatch
) -> None:
    """stdin or a compressed file has no total: its events' total is the rows read so
    far, which the lines took for the file's (a .csv.gz of 4,000 rows read "2,399/2,500
    rows (96%), about 0 s to go" at 60%); the bar shows neither."""
    from es_pandas._progress import LINE_SECONDS, ProgressEvent, make_reporter
    from es_pandas._status import STATUSES

    monkeypatch.delenv("CI", raising=False)
    lines = make_reporter(True, None, "rows.csv.gz")
    counts = {**dict.fromkeys(STATUSES, 0), "ok": 2_399, "not_sent": 101}
    lines.update(ProgressEvent(2_399, 2_500, counts, LINE_SECONDS))
    counts = {**dict.fromkeys(STATUSES, 0), "ok": 4_000}
    lines.close(ProgressEvent(4_000, 4_000, counts, 17.0, finished=True), "")
    assert capsys.readouterr().err.splitlines() == [
        "rows.csv.gz: 2,399 rows, 10 s, 240 rows/s, ok=2,399",
        "rows.csv.gz: 4,000 rows, 17 s, 235 rows/s, ok=4,000",
    ]


def test_progress_bar_ends_red_when_rows_are_not_ok(es, orders, capsys, terminal) -> None:
    red = "\x1b[31m"
    orders.es.produce("orders", url=es.url, api_key=API_KEY, progress=True)
    assert red not in capsys.readouterr().err
    broken = orders.assign(k=None)
    broken.es.produce("orders", key_col="k", url=es.url, api_key=API_KEY, progress=True)
    err = capsys.readouterr().err
    assert red in err and "rejected=60" in err


def test_progress_bar_of_a_run_stopped_early_counts_the_rows_not_sent(
    es, orders, capsys, terminal, monkeypatch
) -> None:
    """A bar left short of its total (Ctrl-C, a kernel interrupt, a wrong topic) said
    only ok=0 failed=3, and its time to go, as if the run were still going."""
    monkeypatch.setenv("COLUMNS", "200")  # the URL would leave the counts cut short
    with pytest.raises(es_pandas.TopicNotFoundError):
        orders.es.produce("no-such-topic", url=es.url, api_key=API_KEY, progress=True)
    last = capsys.readouterr().err.split("\r")[-1]
    assert "3/60" in last and "failed=3 not_sent=57" in last


def test_progress_bar_of_a_file_whose_fields_span_lines_ends_full(
    es, tmp_path, capsys, terminal, monkeypatch
) -> None:
    """The bar's total is the file's count of lines, more than its rows where a quoted
    field spans lines: a load that sent every row ended 100/200, not_sent=100 (and red
    in Jupyter, whose widget takes a bar short of its total for a failure)."""
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "notes.csv"
    pd.DataFrame({"note": ["line one\nline two"] * 100}).to_csv(path, index=False)
    summary = es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, progress=True)
    assert summary.counts["ok"] == 100
    last = capsys.readouterr().err.split("\r")[-1]
    assert "100/100" in last and "not_sent" not in last


@pytest.mark.parametrize(
    "options",
    [
        {"key_col": "nope"},  # refused as the rows' encoder is made
        {"key_col": "index"},  # refused before that, by the frame's own checks
        {"dead_letter": "dead.txt"},
    ],
)
def test_a_run_refused_before_anything_is_sent_ends_its_bar(es, capsys, terminal, options) -> None:
    # A bar drawn and never closed stayed at 0% in Jupyter above the error, looking
    # like a run still going; on a terminal the error was written on the bar's line.
    frame = pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}).rename_axis("index")
    events = []
    for progress in (True, events.append):
        with pytest.raises(es_pandas.ConfigurationError):
            frame.es.produce("orders", url=es.url, api_key=API_KEY, progress=progress, **options)
    drawn_last = capsys.readouterr().err.rpartition("\r")[2]
    assert "0/2" in drawn_last and drawn_last.endswith("\n")
    assert [event.finished for event in events] == [True]


def test_a_file_load_refused_before_anything_is_sent_ends_its_bar(es, tmp_path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("k,v,v\na,1,2\n")
    events = []
    with pytest.raises(es_pandas.ConfigurationError):
        es_pandas.produce_file(path, "orders", url=es.url, api_key=API_KEY, progress=events.append)
    assert [event.finished for event in events] == [True]


@pytest.mark.parametrize("ended", [0, 1], ids=["no row ended", "a row ended"])
def test_the_bar_moves_at_every_tick(capsys, terminal, ended: int) -> None:
    # A slowed run, or rows waiting to try again, end a row now and then or none: the
    # bar still shows the time going and why the run is slow, or it looks hung.
    # (tqdm redraws by itself only every `miniters` rows, thousands after a fast start.)
    from es_pandas._progress import ProgressEvent, make_reporter
    from es_pandas._status import STATUSES

    def event(done: int, **more) -> ProgressEvent:
        counts = {**dict.fromkeys(STATUSES, 0), "ok": done, "not_sent": 10_000 - done}
        return ProgressEvent(done, 10_000, counts, float(done), **more)

    bar = make_reporter(True, 10_000, "rows")
    bar.update(event(5000))
    bar._bar.miniters = 3000  # type: ignore[attr-defined]
    capsys.readouterr()
    bar.update(event(5000 + ended, max_rate=1.0))
    assert "slowed to 1/s (server pushed back)" in capsys.readouterr().err


def test_a_long_url_leaves_the_bar_room_for_its_counts(capsys, terminal, monkeypatch) -> None:
    # tqdm cuts a line too long at its end, where the counts are
    import os

    from es_pandas._progress import ProgressEvent, make_reporter
    from es_pandas._status import STATUSES

    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback: os.terminal_size((100, 24)))
    url = "https://kafka-0123456789abcdef.svc07.us-south.eventstreams.cloud.ibm.com"
    bar = make_reporter(True, 200, f"{url} topic 'orders'")
    bar._bar.start_t -= 2.0  # type: ignore[attr-defined]  # a run's rate, not a test's
    counts = {**dict.fromkeys(STATUSES, 0), "ok": 150, "failed": 3, "not_sent": 47}
    bar.close(ProgressEvent(153, 200, counts, 2.0, finished=True), "")
    line = capsys.readouterr().err.rstrip().split("\r")[-1]
    assert line.startswith("kafka-01") and "topic 'orders'" in line
    assert "ok=150 failed=3 not_sent=47" in line


def test_jupyter_without_ipywidgets_gets_a_text_bar_and_is_told_why(
    capsys, caplog, monkeypatch
) -> None:
    # tqdm's own fallback asks to "update jupyter and ipywidgets" and draws each tick twice
    import importlib.util
    import warnings

    from es_pandas import _progress

    real = importlib.util.find_spec
    monkeypatch.setattr(_progress, "_in_jupyter", lambda: True)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name)
    )
    _progress._has_widgets.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # tqdm's TqdmExperimentalWarning among them
            bar = _progress.make_reporter(True, 10, "orders")
            again = _progress.make_reporter(True, 10, "orders")
    finally:
        _progress._has_widgets.cache_clear()
    assert type(bar._bar).__module__ == "tqdm.std"  # type: ignore[attr-defined]
    assert type(again._bar).__module__ == "tqdm.std"  # type: ignore[attr-defined]
    told = [r.getMessage() for r in caplog.records if "ipywidgets" in r.getMessage()]
    assert told == [
        "no ipywidgets in this kernel's environment, so the progress bar is text: "
        'pip install "eventstreams-pandas[notebook]" for its widget'
    ]


def test_progress_is_silent_in_ci(es, orders, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    orders.es.produce("orders", url=es.url, api_key=API_KEY)
    assert capsys.readouterr().err == ""


def test_status_frame_html_shows_summary_and_first_errors(es) -> None:
    frame = pd.DataFrame(
        {"k": ["a", None, "c"], "v": [1, 2, 3]}, index=pd.Index(["x", "<b>y</b>", "z"])
    )
    status = frame.es.produce("single", key_col="k", url=es.url, api_key=API_KEY, progress=False)
    html = status._repr_html_()
    summary, _, table = html.partition("<table")[2].partition("First errors")
    assert "<th>rejected</th>" in summary
    assert "null key" in table.split("<table")[0]  # the first errors, above the usual table
    assert "&lt;b&gt;y&lt;/b&gt;" in table.split("<table")[0]  # the row's label, escaped
    assert "<b>y</b>" not in html
    assert "<table" in table  # the usual table follows
    # a slice without the error column shows too
    assert "<th>rejected</th>" in status[["status", "attempts"]]._repr_html_()
    # still a plain DataFrame underneath
    assert status.loc[status["status"] == "ok"].shape == (2, 10)
    assert pd.DataFrame(status).equals(status)


@pytest.mark.parametrize(
    "options",
    [
        {"key_col": "order_id"},
        {"record_id": "order_id"},
        {"value_col": "order_id"},
        {"value_cols": ["order_id"]},
        {"header_cols": ["order_id"]},
    ],
)
def test_a_column_option_naming_the_index_says_to_reset_it(options) -> None:
    frame = pd.DataFrame({"order_id": ["a", "b"], "amount": [1, 2]}).set_index("order_id")
    option = next(iter(options))
    message = rf"{option}: 'order_id' is the frame's index, not a column: .*reset_index\(\)"
    with pytest.raises(es_pandas.ConfigurationError, match=message):
        frame.es.produce("orders", url="http://x", api_key=API_KEY, dry_run=True, **options)


def test_a_named_index_left_behind_is_said(es, caplog) -> None:
    # a groupby().sum() holds its groups in the index: sent as it is, each record would
    # lack them
    totals = pd.DataFrame({"customer": ["a", "b", "a"], "amount": [1, 2, 3]})
    totals = totals.groupby("customer").sum()
    options = {"url": es.url, "api_key": API_KEY, "progress": False}
    with caplog.at_level(logging.WARNING, logger="es_pandas"):
        totals.es.produce("single", **options)
    assert "the frame's index ('customer') is not sent, only its columns are" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="es_pandas"):
        # the columns chosen, or an unnamed index: nothing to say
        totals.es.produce("single", value_cols=["amount"], **options)
        totals.reset_index().es.produce("single", **options)
    assert "index" not in caplog.text


def test_record_id_hash_is_not_an_index_named_hash(es) -> None:
    # "hash" is record_id's mode, never a column: an index of that name is no matter
    frame = pd.DataFrame({"hash": ["a", "b"], "amount": [1, 2]}).set_index("hash")
    status = frame.es.produce(
        "single", url=es.url, api_key=API_KEY, record_id="hash", progress=False
    )
    assert (status["status"] == "ok").all()
