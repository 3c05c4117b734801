"""Retries, ambiguous outcomes and fail-fast, driven by the local server's faults."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

import es_pandas
from es_pandas import Retry

from .conftest import API_KEY, ENGINES, free_port, run

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
    row = produce(
        es,
        frame,
        value_col="v",
        limits=es_pandas.Limits(max_value_bytes=10**6, max_request_bytes=10**6),
    ).iloc[0]
    assert row["status"] == "failed"
    # the server's own words, and its code
    assert row["error"] == "HTTP 400: http: request body too large (request_too_large)"


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
    # api_version="auto"'s one request that asks for the v2 route, then the probe rows
    assert es.stats()["requests"] <= 4
    assert status["status"].value_counts()["not_sent"] >= 4997
    assert "401" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_unknown_topic_fails_fast(es) -> None:
    with pytest.raises(es_pandas.TopicNotFoundError) as caught:
        BIG.es.produce("no-such-topic", url=es.url, api_key=API_KEY, progress=False, concurrency=64)
    assert es.stats()["requests"] <= 4  # the v2 route check, then the probe rows
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
    assert log.count('"POST /v2/topics/t/records') == 1 + 3  # the v2 route check, 3 rows
    counts = caught.value.status["status"].value_counts()
    assert counts["failed"] == 3 and counts["not_sent"] == len(BIG) - 3


def wait_until_listening(port: int) -> None:
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


# -- a 2xx that is not Event Streams' success answer -------------------------------------


class GenericServer(ThreadingHTTPServer):
    """A web server that is not Event Streams: it takes every POST with a 2xx and a body
    of its own (``{you_sent}`` in it is replaced by the request's Authorization)."""

    def __init__(self, body: bytes, content_type: str | None, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _GenericHandler)
        self.body, self.content_type, self.status = body, content_type, status
        self.posts = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _GenericHandler(BaseHTTPRequestHandler):
    server: GenericServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.posts += 1
        sent = (self.headers.get("Authorization") or "").encode()
        body = self.server.body.replace(b"{you_sent}", sent)
        self.send_response(self.server.status)
        if self.server.content_type is not None:
            self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def generic_server(
    body: bytes, content_type: str | None = "application/json", status: int = 200
) -> Iterator[GenericServer]:
    server = GenericServer(body, content_type, status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# name -> (status, content type, body)
GENERIC_ANSWERS = {
    "generic-api": (200, "application/json", b'{"ok":true}'),
    "empty-201": (201, None, b""),
    "plain-text": (200, "text/plain", b"Thank you for your submission"),
    "json-array": (200, "application/json", b'[{"id":1}]'),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", list(GENERIC_ANSWERS))
def test_a_2xx_that_is_not_event_streams_stops_the_run_after_a_few_requests(
    engine: str, shape: str
) -> None:
    status_code, content_type, body = GENERIC_ANSWERS[shape]
    with (
        generic_server(body, content_type, status_code) as server,
        pytest.raises(es_pandas.EndpointError) as caught,
    ):
        BIG.es.produce(
            "t", url=server.url, api_key=API_KEY, progress=False, engine=engine, retries=FAST
        )
    # the v2 route check, then fail_after rows one at a time: not 5,000, nor 32 in flight
    assert server.posts == 1 + 3
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}/v2/topics/t/records answered HTTP {status_code} (")
    assert f"content type {content_type or 'none'}" in message
    assert (f"body {body.decode()}" if body else "an empty body") in message
    assert "not an Event Streams REST producer" in message
    assert 'success_body="any"' in message
    assert message.endswith("stopped after 3 of 5,000 rows (the rest are not_sent)")
    status = caught.value.status
    counts = status["status"].value_counts()
    assert counts[counts > 0].to_dict() == {"not_sent": 4997, "unknown": 3}
    taken = status[status["status"] == "unknown"]
    # it took the requests: the rows may have been written, as --resume must know
    assert taken["error"].str.contains("may have written").all()
    assert (taken["http_status"] == status_code).all()


def test_the_message_never_shows_the_credentials_an_answer_echoes() -> None:
    with (
        generic_server(b'{"ok":true,"you_sent":"{you_sent}"}') as server,
        pytest.raises(es_pandas.EndpointError) as caught,
    ):
        BIG.es.produce("t", url=server.url, api_key=API_KEY, progress=False, fail_after=2)
    assert server.posts == 1 + 2  # the v2 route check, then fail_after rows
    assert API_KEY not in str(caught.value) and "you_sent" in str(caught.value)
    assert not caught.value.status["error"].str.contains(API_KEY, na=False).any()


def test_success_body_any_takes_every_2xx_as_ok(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"v": range(300)})
    caplog.set_level(logging.WARNING, "es_pandas")
    with generic_server(b'{"ok":true}') as server:
        status = frame.es.produce(
            "t", url=server.url, api_key=API_KEY, progress=False, success_body="any"
        )
    assert server.posts == 1 + 300  # the v2 route check, then every row
    assert (status["status"] == "ok").all() and (status["http_status"] == 200).all()
    assert status["offset"].isna().all()
    # said once, not once a row
    warned = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "es_pandas"]
    assert len(warned) == 1 and "did not say where its record went" in warned[0].getMessage()


@pytest.mark.parametrize(
    ("api_version", "server_options"),
    [
        ("v1", {}),
        ("v1", {"timestamp_format": "iso"}),
        ("v2", {}),
        ("v2", {"v2_response": "flat"}),
        ("v2", {"v2_response": "flat", "timestamp_format": "iso"}),
    ],
)
def test_every_success_shape_of_the_local_server_is_event_streams(
    api_version: str, server_options: dict[str, str]
) -> None:
    frame = pd.DataFrame({"v": range(100)})
    with es_pandas.LocalEventStreams(topics={"t": 1}, auth=False, **server_options) as es:
        status = frame.es.produce(
            "t", url=es.url, api_version=api_version, progress=False, concurrency=8
        )
        assert es.stats()["requests"] == 100
    assert (status["status"] == "ok").all()
    assert sorted(status["offset"]) == list(range(100))
    assert status["timestamp"].notna().all()


def test_the_cli_stops_with_one_line_and_exit_status_2(tmp_path) -> None:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"v": range(100)}).to_csv(path, index=False)
    with generic_server(b'{"ok":true}') as server:
        environment = {"ES_PANDAS_URL": server.url, "ES_PANDAS_API_KEY": API_KEY}
        result = run("produce", str(path), "--topic", "t", env=environment)
        assert result.returncode == 2, result.stderr
        assert server.posts == 1 + 3  # the v2 route check, then fail_after rows
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"Error: {server.url}/v2/topics/t/records answered HTTP 200")
        assert "--success-body any" in line and "stopped after 3 of 100 rows" in line
        # the flag it names makes every row ok
        result = run("produce", str(path), "--topic", "t", "--success-body", "any", env=environment)
        assert result.returncode == 0, result.stderr
        assert server.posts == 4 + 1 + 100


# -- IBM's error details: its codes in the error, its id for the answer in trace ----------

UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
TOPIC_CODES = {"v2": "(topic_not_found)", "v1": "(Kafka error 3 UNKNOWN_TOPIC_OR_PARTITION)"}


@pytest.mark.parametrize("api_version", list(TOPIC_CODES))
def test_a_stopped_run_quotes_the_trace_of_the_answer_that_stopped_it(es, api_version: str) -> None:
    # the local server's v2 errors carry a trace, its v1 errors an incident
    with pytest.raises(es_pandas.TopicNotFoundError) as caught:
        produce(es, BIG, "no-such-topic", api_version=api_version, concurrency=64)
    status = caught.value.status
    failed = status[status["status"] == "failed"]
    assert len(failed) == 3
    assert failed["error"].str.endswith(TOPIC_CODES[api_version]).all()
    traces = failed["trace"].tolist()
    assert all(UUID.match(trace) for trace in traces) and len(set(traces)) == 3
    assert status.loc[status["status"] == "not_sent", "trace"].isna().all()
    message = str(caught.value)
    assert "\n" not in message
    # one at a time until a row is answered about itself: the third row stopped it
    assert message.endswith(
        f"{TOPIC_CODES[api_version]} (trace {traces[-1]}: give it to IBM support); "
        "stopped after 3 of 5,000 rows (the rest are not_sent)"
    )


def test_a_row_keeps_the_trace_of_the_error_answer_it_ended_on(es) -> None:
    es.set_faults(retry_after=None, script=["ok", "400", "503", "ok"] + ["503"] * 4)
    status = produce(es, pd.DataFrame({"v": range(4)}), concurrency=1)
    assert status["status"].tolist() == ["ok", "failed", "ok", "failed"]
    # an ok row's last answer carries no trace, even after a retried error
    assert status["trace"].isna().tolist() == [True, False, True, False]
    assert UUID.match(status["trace"][1]) and UUID.match(status["trace"][3])
    assert status["trace"][1] != status["trace"][3]
    # v2's code, "injected", is not repeated after a message that says it
    assert status["error"][1] == "HTTP 400: injected failure [injected fault]"


@pytest.mark.parametrize(
    ("api_version", "code"),
    [("v2", r"\((value|request)_too_large\)"), ("v1", r"\(Kafka error 10 MESSAGE_TOO_LARGE\)")],
)
def test_a_row_refused_by_the_server_says_its_code(es, api_version: str, code: str) -> None:
    frame = pd.DataFrame({"v": ["x" * 70000]})
    row = produce(
        es,
        frame,
        api_version=api_version,
        value_col="v",
        limits=es_pandas.Limits(max_value_bytes=10**6, max_request_bytes=10**6),
    ).iloc[0]
    assert row["status"] == "failed"
    assert re.fullmatch(rf"HTTP 400: \S.* {code}", row["error"]), row["error"]
    assert UUID.match(row["trace"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_traces_reach_the_status_file_and_the_loads_resuming_it(
    es, tmp_path: Path, suffix: str
) -> None:
    data = tmp_path / "rows.csv"
    pd.DataFrame({"v": range(6)}).to_csv(data, index=False)
    first, second = tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "retries": FAST}
    options.update(concurrency=1, errors="collect")
    # row 1: 500 until the tries run out (unknown); row 2: 400 (failed)
    es.set_faults(retry_after=None, script=["ok"] + ["500"] * 4 + ["400"])
    es_pandas.produce_file(data, "single", status_out=str(first), **options)
    written = read_status_file(first)
    assert written["status"].tolist() == ["ok", "unknown", "failed", "ok", "ok", "ok"]
    assert written["trace"].isna().tolist() == [True, False, False, True, True, True]
    unknown, failed = written["trace"][1], written["trace"][2]
    assert UUID.match(unknown) and UUID.match(failed)

    # resumed: the unknown row is carried with its trace, the failed one sent again
    es_pandas.produce_file(data, "single", status_out=str(second), resume=str(first), **options)
    resumed = read_status_file(second)
    assert resumed["status"].tolist() == ["ok", "unknown", "ok", "ok", "ok", "ok"]
    assert resumed["trace"][1] == unknown
    assert resumed["trace"].isna().sum() == 5


def read_status_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"trace": "string"})


def test_the_errors_of_a_run_pickle_with_their_status(es) -> None:
    """An error raised in a worker process (a ProcessPoolExecutor's, multiprocessing's)
    is pickled back to the parent: one that could not be rebuilt there (its __init__
    takes the status) broke the whole pool (BrokenProcessPool), the error lost."""
    import pickle

    from es_pandas.transports import TLSError

    frame = pd.DataFrame({"k": ["a", None], "v": [1, 2]})
    raised: list[BaseException] = []
    for options in ({"errors": "raise"}, {"api_key": "another-key"}):
        with pytest.raises(es_pandas.ProduceError) as caught:
            produce(es, frame, key_col="k", **options)
        raised.append(caught.value)
    status = raised[0].status  # type: ignore[attr-defined]
    raised.append(es_pandas.ProduceInterrupted(status))
    raised.append(TLSError("untrusted", "verify", verify_code=20))
    for error in raised:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert vars(copy).keys() == vars(error).keys()
        if isinstance(error, es_pandas.ProduceError | es_pandas.ProduceInterrupted):
            pd.testing.assert_frame_equal(copy.status, error.status)
            assert str(copy.summary) == str(error.summary)
