"""Retries, ambiguous outcomes and fail-fast, driven by the local server's faults."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import es_pandas
from es_pandas import Retry

from .conftest import API_KEY, ENGINES, free_port

FAST = Retry(retries=3, backoff=0.01, max_backoff=0.05)


def produce(es, frame: pd.DataFrame, topic: str = "single", **options):
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "retries": FAST, **options}
    return frame.es.produce(topic, **options)


def one_row() -> pd.DataFrame:
    return pd.DataFrame({"v": [1]})


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("action", ["408", "429", "500", "502", "503", "504", "drop"])
def test_retryable_outcomes_end_ok_after_retries(es, engine: str, action: str) -> None:
    before = len(es.read("single"))
    es.set_faults(retry_after=None, script=[action, action])
    status = produce(es, one_row(), engine=engine)
    row = status.iloc[0]
    assert row["status"] == "ok"
    assert row["attempts"] == 3
    # The record was written once, but after a 408, a 5xx other than 503 or a
    # dropped connection the client cannot know that, so it flags the row.
    assert row["maybe_duplicate"] == (action not in ("429", "503"))
    assert len(es.read("single")) == before + 1


@pytest.mark.parametrize(
    ("action", "final"),
    [
        ("408", "unknown"),
        ("500", "unknown"),
        ("502", "unknown"),
        ("504", "unknown"),
        ("drop", "unknown"),
        ("429", "failed"),
        ("503", "failed"),
    ],
)
def test_exhausted_retries_end_unknown_or_failed(es, action: str, final: str) -> None:
    # A first row that gets through: the server answers, so a row whose every try was
    # dropped is that row's problem, not the run's.
    es.set_faults(retry_after=None, script=["ok"] + [action] * 4)
    row = produce(es, pd.DataFrame({"v": [0, 1]}), concurrency=1).iloc[1]
    assert row["status"] == final
    assert row["attempts"] == 4
    assert "after 4 attempts" in row["error"]
    if final == "unknown":
        assert "may have written" in row["error"]


def test_ok_after_an_ambiguous_write_is_flagged(es) -> None:
    before = len(es.read("single"))
    es.script_faults(["500+written"])
    row = produce(es, one_row()).iloc[0]
    assert row["status"] == "ok" and row["attempts"] == 2
    assert row["maybe_duplicate"]
    assert len(es.read("single")) == before + 2  # the record really is there twice


def test_ambiguous_then_definite_failure_is_still_unknown(es) -> None:
    es.script_faults(["408+written", "400"])
    row = produce(es, one_row()).iloc[0]
    assert row["status"] == "unknown"
    assert row["http_status"] == 400


@pytest.mark.parametrize("action", ["400", "411", "413", "415", "422"])
def test_non_retryable_statuses_fail_at_once(es, action: str) -> None:
    es.script_faults([action])
    row = produce(es, one_row()).iloc[0]
    assert (row["status"], row["attempts"], row["http_status"]) == ("failed", 1, int(action))


def test_server_400_is_reported_with_its_message(es) -> None:
    frame = pd.DataFrame({"v": ["x" * 70000]})
    row = produce(es, frame, value_col="v", limits=es_pandas.Limits(max_value_bytes=10**6)).iloc[0]
    assert row["status"] == "failed"
    assert "65536-byte limit" in row["error"]


def test_retry_after_is_honoured(es) -> None:
    es.set_faults(retry_after=1, script=["429"])
    row = produce(es, one_row()).iloc[0]
    assert row["status"] == "ok"
    assert row["latency_ms"] >= 1000


def test_only_the_failing_row_waits(es) -> None:
    # One row waits out Retry-After: 2 while the other 30 keep flowing.
    es.set_faults(retry_after=2, script=["ok", "503"])
    frame = pd.DataFrame({"v": range(31)})
    status = produce(es, frame, concurrency=4)
    assert (status["status"] == "ok").all()
    waited = status["latency_ms"] >= 2000
    assert waited.sum() == 1
    assert status.loc[~waited, "latency_ms"].max() < 2000


def test_no_retries_when_asked(es) -> None:
    es.script_faults(["503"])
    row = produce(es, one_row(), retries=0).iloc[0]
    assert (row["status"], row["attempts"]) == ("failed", 1)


BIG = pd.DataFrame({"v": range(5000)})


def test_wrong_api_key_fails_fast(es) -> None:
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        BIG.es.produce("single", url=es.url, api_key="wrong", progress=False, concurrency=64)
    status = caught.value.status
    assert es.stats()["requests"] <= 3
    assert status["status"].value_counts()["not_sent"] >= 4997
    assert "401" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_unknown_topic_fails_fast(es) -> None:
    with pytest.raises(es_pandas.TopicNotFoundError) as caught:
        BIG.es.produce("no-such-topic", url=es.url, api_key=API_KEY, progress=False, concurrency=64)
    assert es.stats()["requests"] <= 3
    assert "no-such-topic" in str(caught.value)
    assert len(caught.value.status) == 5000


def test_forbidden_topic_fails_fast(es) -> None:
    with pytest.raises(es_pandas.PermissionDeniedError):
        BIG.es.produce(
            "secret",
            url=es.url,
            user="alice",
            password="alice-password",
            api_version="v1",
            progress=False,
            concurrency=64,
        )
    assert es.stats()["requests"] <= 3


def test_fatal_answers_mid_run_stop_it(es) -> None:
    es.script_faults(["ok"] * 50 + ["404"] * 200)
    with pytest.raises(es_pandas.TopicNotFoundError) as caught:
        BIG.es.produce("single", url=es.url, api_key=API_KEY, progress=False, concurrency=8)
    counts = caught.value.status["status"].value_counts()
    assert counts["ok"] == 50
    assert counts["not_sent"] > 4000
    assert es.stats()["requests"] < 80


def test_fail_after_is_configurable(es) -> None:
    es.script_faults(["ok", "404", "ok", "404", "404"])
    status = produce(es, pd.DataFrame({"v": range(6)}), concurrency=1, fail_after=3)
    assert status["status"].tolist() == ["ok", "failed", "ok", "failed", "failed", "ok"]


def test_unreachable_server_fails_fast() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        BIG.es.produce("t", url=url, api_key=API_KEY, progress=False, retries=FAST)
    assert caught.value.status["status"].value_counts()["not_sent"] == 4999
    assert "cannot" in str(caught.value)


def test_a_server_that_never_answers_stops_the_run_after_one_row(es) -> None:
    es.set_faults(latency=0.5)
    with pytest.raises(es_pandas.ConnectionFailed, match="timeout") as caught:
        produce(es, BIG, timeout=0.1, retries=Retry(retries=1, backoff=0), concurrency=64)
    status = caught.value.status
    counts = status["status"].value_counts()
    # a timeout is ambiguous: the slow server may have written the row
    assert counts["unknown"] == 1 and counts["not_sent"] == len(BIG) - 1
    assert "timeout" in status.loc[status["status"] == "unknown", "error"].iloc[0]


def test_a_web_server_that_is_not_event_streams_gets_a_few_requests_not_all(tmp_path) -> None:
    """Python's own web server answers POST with 501: the run stops after fail_after rows
    with one message, instead of sending 5,000 requests."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_listening(port)
        with pytest.raises(es_pandas.EndpointError, match="not an Event Streams") as caught:
            BIG.es.produce("t", url=url, api_key=API_KEY, progress=False, retries=FAST)
    finally:
        server.terminate()
        log = server.communicate(timeout=10)[1]
    assert log.count('"POST /v2/topics/t/records') == 3
    counts = caught.value.status["status"].value_counts()
    assert counts["failed"] == 3 and counts["not_sent"] == len(BIG) - 3


def wait_until_listening(port: int) -> None:
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")
