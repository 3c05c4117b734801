"""decide(): the one place a row's fate is decided, checked alone, case by case."""

from __future__ import annotations

import pandas as pd
import pytest

import es_pandas
from es_pandas import Retry
from es_pandas._outcomes import Attempts, Decision, decide
from es_pandas._status import FAILED, UNKNOWN
from es_pandas._wire import parse_error
from es_pandas.transports import (
    ConnectError,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TLSError,
    TransportError,
)

RETRY = Retry(retries=2)


def answer(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def run(
    *outcomes: Response | TransportError, renewable: bool = False, answered: bool = True
) -> tuple[list[Decision], Attempts]:
    """decide() over a row's attempts, as the engine calls it."""
    attempts = Attempts()
    decisions = []
    for outcome in outcomes:
        attempts.made += 1
        decision = decide(
            outcome,
            attempts,
            RETRY,
            describe_error=parse_error,
            can_refresh=renewable,
            credentials="the arguments",
            answered=answered,
        )
        decisions.append(decision)
    return decisions, attempts


def test_success_is_ok_whatever_the_body() -> None:
    (decision,), _ = run(answer(200, b"<html>?</html>"))
    assert decision.action == "ok"


def test_a_web_page_for_an_answer_is_not_a_success() -> None:
    page = b"<html><head><title>Sign in</title></head><body>Welcome</body></html>"
    (decision,), _ = run(answer(200, page, content_type="text/html; charset=utf-8"))
    assert (decision.action, decision.status) == ("run", FAILED)
    assert decision.stops is es_pandas.EndpointError
    assert "web page" in decision.error and "Sign in" in decision.error
    assert "kafka_http_url" in decision.error


@pytest.mark.parametrize("status", [405, 501])
def test_a_url_that_takes_no_post_is_about_the_run(status: int) -> None:
    (decision,), _ = run(answer(status, b"<h1>Method Not Allowed</h1>"))
    assert decision.action == "run" and decision.stops is es_pandas.EndpointError
    assert f"HTTP {status}" in decision.error and "not an Event Streams" in decision.error


def test_a_503_is_retried_after_retry_after_and_fails_when_tries_run_out() -> None:
    decisions, attempts = run(answer(503, retry_after="3"), answer(503), answer(503))
    assert [d.action for d in decisions] == ["retry", "retry", "final"]
    assert decisions[0].wait == 3.0 and decisions[1].wait is None
    assert decisions[2].status == FAILED and "after 3 attempts" in decisions[2].error
    assert not attempts.ambiguous


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "soon", "1e999"])
def test_an_unreadable_retry_after_falls_back_to_backoff(value: str) -> None:
    (decision,), _ = run(answer(429, retry_after=value))
    assert (decision.action, decision.wait) == ("retry", None)


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_ambiguous_statuses_end_unknown(status: int) -> None:
    decisions, attempts = run(answer(status), answer(503), answer(503))
    assert attempts.ambiguous
    assert decisions[-1].status == UNKNOWN and "may have written" in decisions[-1].error


def test_a_401_renews_renewable_credentials_once_then_stops_the_run() -> None:
    decisions, _ = run(answer(401), answer(401), renewable=True)
    assert [d.action for d in decisions] == ["refresh", "run"]
    assert decisions[1].stops is es_pandas.AuthenticationError


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, es_pandas.PermissionDeniedError),
        (404, es_pandas.TopicNotFoundError),
        (407, es_pandas.ConnectionFailed),
        (301, es_pandas.EndpointError),
        (307, es_pandas.EndpointError),
    ],
)
def test_answers_about_the_run(status: int, error: type) -> None:
    (decision,), _ = run(answer(status, location="https://sso.example/login"))
    assert decision.action == "run" and decision.stops is error and decision.status == FAILED
    if status < 400:
        assert "https://sso.example/login" in decision.error and "never follows" in decision.error


def test_a_row_that_may_be_written_stays_unknown_even_when_the_run_stops() -> None:
    decisions, _ = run(answer(500), answer(302, location="https://elsewhere"))
    assert decisions[-1].action == "run" and decisions[-1].status == UNKNOWN
    decisions, _ = run(answer(504), answer(404))
    assert decisions[-1].action == "run" and decisions[-1].status == UNKNOWN


def test_other_4xx_fail_the_row_at_once() -> None:
    (decision,), _ = run(answer(400, b'{"error":{"message":"bad key"}}'))
    assert (decision.action, decision.status) == ("final", FAILED)
    assert decision.error == "HTTP 400: bad key"


def test_transport_errors_by_their_sent_flag() -> None:
    decisions, attempts = run(ConnectError("refused"), ConnectError("refused"), ConnectError("x"))
    assert [d.action for d in decisions] == ["retry", "retry", "final"]
    assert decisions[-1].status == FAILED and not attempts.ambiguous
    decisions, attempts = run(RemoteProtocolError("reset"), ConnectError("a"), ConnectError("b"))
    assert decisions[-1].status == UNKNOWN and attempts.ambiguous
    decisions, _ = run(ResponseTimeout("slow"), ResponseTimeout("slow"), ResponseTimeout("slow"))
    assert decisions[-1].status == UNKNOWN


def test_tls_that_never_worked_is_not_retried() -> None:
    (decision,), _ = run(TLSError("refused", "handshake"), answered=False)
    assert (decision.action, decision.status) == ("final", FAILED)
    # once the server has answered in this run, TLS works: a failure is passing
    (decision,), _ = run(TLSError("refused", "handshake"), answered=True)
    assert decision.action == "retry"


def test_a_fault_of_es_pandas_after_sending_leaves_the_row_unknown(es, monkeypatch) -> None:
    import es_pandas._engine as engine

    def broken(body: bytes) -> object:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(engine, "parse_success", broken)
    frame = pd.DataFrame({"v": range(50)})
    before = len(es.read("single"))
    with pytest.raises(es_pandas.ProduceAborted, match="ZeroDivisionError") as caught:
        frame.es.produce("single", url=es.url, api_key=es.api_key, progress=False)
    status = caught.value.status
    stored = len(es.read("single")) - before
    # every row the server took is unknown, none reads as never sent
    assert stored >= 1
    assert status["status"].isin(["unknown", "not_sent"]).all()
    assert (status["status"] == "unknown").sum() == stored
    assert "may have been written" in status.loc[status["status"] == "unknown", "error"].iloc[0]
