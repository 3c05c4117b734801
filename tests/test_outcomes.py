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


URL = "http://127.0.0.1:8080/v2/topics/t/records"


def run(
    *outcomes: Response | TransportError,
    renewable: bool = False,
    answered: bool = True,
    check_body: bool = False,
    url: str = URL,
    credentials: str | None = "the arguments",
    client_cert: bool = False,
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
            credentials=credentials,
            answered=answered,
            url=url,
            check_body=check_body,
            client_cert=client_cert,
        )
        decisions.append(decision)
    return decisions, attempts


def test_success_is_ok_whatever_the_body_once_bodies_are_not_checked() -> None:
    # check_body=False: a row was confirmed already, or success_body="any"
    for body in (b"<html>?</html>", b"", b'{"ok":true}', b"[]"):
        (decision,), attempts = run(answer(200, body), check_body=False)
        assert decision.action == "ok" and not attempts.ambiguous


# Every success shape Event Streams is known (or plausibly guessed) to send.
EVENT_STREAMS_BODIES = {
    # v1's reference (on premises): the timestamp a string
    "v1": b'{"metadata":{"topic":"t","timestamp":"1700000000000","partition":0,"offset":7}}',
    # v1.1.0 adds Comment when the schema is deprecated
    "v1.1.0-comment": b'{"metadata": {"topic": "t", "timestamp": "1700000000000", '
    b'"partition": 2, "offset": 0}, "Comment": "schema deprecated"}',
    # the local server's v2 (v1's shape) with an ISO timestamp, and its flat v2
    "v2-metadata-iso": b'{"metadata":{"topic":"t","timestamp":"2024-01-01T00:00:00.000Z",'
    b'"partition":0,"offset":1}}',
    "v2-flat": b'{"topic":"t","timestamp":"1700000000000","partition":0,"offset":1}',
    # v2's body is undocumented: partial shapes still carry the marks
    "flat-offset-only": b'{"offset":3}',
    "flat-partition-only": b'{"partition":3}',
    "metadata-partial": b'{"metadata":{"partition":"x"}}',
    "metadata-empty": b'{"metadata":{}}',
}


@pytest.mark.parametrize("shape", list(EVENT_STREAMS_BODIES))
def test_every_event_streams_success_shape_is_ok_when_bodies_are_checked(shape: str) -> None:
    body = EVENT_STREAMS_BODIES[shape]
    (decision,), attempts = run(answer(200, body, content_type="application/json"), check_body=True)
    assert decision.action == "ok" and not attempts.ambiguous


NOT_EVENT_STREAMS_BODIES = {
    "empty": b"",
    "generic-api": b'{"ok":true}',
    "json-array": b'[{"metadata":{"partition":0,"offset":1}}]',
    "json-without-metadata": b'{"id":17,"topic":"t","status":"created"}',
    "metadata-not-an-object": b'{"metadata":null}',
    "plain-text": b"Thank you",
    "json-string": b'"ok"',
    "not-json": b'{"partition":1,',
    "nested-100k": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("shape", list(NOT_EVENT_STREAMS_BODIES))
def test_a_2xx_that_is_not_event_streams_success_is_about_the_run_and_unknown(shape: str) -> None:
    body = NOT_EVENT_STREAMS_BODIES[shape]
    reply = answer(200, body, content_type="application/json")
    (decision,), attempts = run(reply, check_body=True, url=URL + "?key=secret-key")
    assert (decision.action, decision.status) == ("run", UNKNOWN)
    assert decision.stops is es_pandas.EndpointError
    # whatever answered took the request: the row may have been written
    assert attempts.ambiguous
    message = decision.error
    assert message.startswith(f"{URL} answered HTTP 200 (content type application/json, ")
    assert "secret-key" not in message  # the query (v1's key and headers) is not shown
    assert "not an Event Streams REST producer" in message
    assert 'success_body="any"' in message and "--success-body any" in message
    assert "ES_PANDAS_SUCCESS_BODY=any" in message
    assert "\n" not in message and len(message) < 1000


def test_the_message_names_what_came_back_cut_short() -> None:
    (decision,), _ = run(answer(204), check_body=True)
    assert "HTTP 204 (content type none, an empty body)" in decision.error
    (decision,), _ = run(answer(201, b'{"ok": true}', content_type="text/plain"), check_body=True)
    assert '(content type text/plain, body {"ok": true})' in decision.error
    long = b'{"message": "' + b"x" * 5000 + b'"}'
    (decision,), _ = run(answer(200, long), check_body=True)
    shown = decision.error.split("body ", 1)[1].split("), not with Event Streams", 1)[0]
    assert len(shown) == 200 and shown.endswith("…")


def test_ibm_clouds_event_streams_hosts_are_event_streams_whatever_the_body() -> None:
    """IBM does not document v2's success body: on its Event Streams hosts a 2xx is ok."""
    url = "https://abc123.svc01.us-south.eventstreams.cloud.ibm.com/v2/topics/t/records"
    (decision,), _ = run(answer(200, b""), check_body=True, url=url)
    assert decision.action == "ok"
    (decision,), _ = run(answer(200, b'{"ok":true}'), check_body=True, url=url)
    assert decision.action == "ok"
    # a look-alike is not
    look_alike = "https://eventstreams.cloud.ibm.com.example.org/v2/topics/t/records"
    (decision,), _ = run(answer(200, b""), check_body=True, url=look_alike)
    assert decision.action == "run"


def test_a_web_page_is_failed_whether_bodies_are_checked_or_not() -> None:
    page = b"<html><body>Sign in</body></html>"
    for check_body in (True, False):
        (decision,), _ = run(answer(200, page, content_type="text/html"), check_body=check_body)
        assert (decision.action, decision.status) == ("run", FAILED)


def test_a_web_page_for_an_answer_is_not_a_success() -> None:
    page = b"<html><head><title>Sign in</title></head><body>Welcome</body></html>"
    (decision,), _ = run(answer(200, page, content_type="text/html; charset=utf-8"))
    assert (decision.action, decision.status) == ("run", FAILED)
    assert decision.stops is es_pandas.EndpointError
    assert "web page" in decision.error and "Sign in" in decision.error
    assert "kafka_http_url" in decision.error


def test_event_streams_success_body_is_ok_whatever_its_content_type() -> None:
    # a gateway's label on the answer does not unwrite the record the body says it wrote
    body = b'{"metadata":{"topic":"t","timestamp":1,"partition":0,"offset":7}}'
    for check_body in (True, False):
        (decision,), _ = run(answer(200, body, content_type="text/html"), check_body=check_body)
        assert decision.action == "ok"


@pytest.mark.parametrize("status", [405, 501])
def test_a_url_that_takes_no_post_is_about_the_run(status: int) -> None:
    (decision,), _ = run(answer(status, b"<h1>Method Not Allowed</h1>"), url=URL + "?key=k9")
    assert decision.action == "run" and decision.stops is es_pandas.EndpointError
    assert f"HTTP {status}" in decision.error and "not an Event Streams" in decision.error
    # which URL, without the query that carries v1's keys
    assert decision.error.startswith(f"{URL} does not take records by POST")
    assert "k9" not in decision.error


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
    # in v2's error shape: the v2 route itself answered
    body = b'{"trace":"t-1","error":{"code":"not_found","message":"no"}}'
    (decision,), _ = run(answer(status, body, location="https://sso.example/login"))
    assert decision.action == "run" and decision.stops is error and decision.status == FAILED
    if status < 400:
        assert "https://sso.example/login" in decision.error and "never follows" in decision.error


@pytest.mark.parametrize(
    "body",
    [b"404 page not found", b"", b'{"error_code":404,"error":{"error_code":404,"message":"x"}}'],
)
def test_a_404_not_in_v2_shape_says_the_url_has_no_v2_route(body: bytes) -> None:
    """On-premises Event Streams has no v2 route: a v2 request meets an unknown route, not
    v2's "no such topic"; the message names the way out."""
    (decision,), _ = run(answer(404, body))
    assert decision.action == "run" and decision.stops is es_pandas.EndpointError
    assert decision.error.startswith("http://127.0.0.1:8080 has no v2 route (HTTP 404")
    assert "api_version='v1'" in decision.error and "on-premises" in decision.error
    # v1's own 404 is about the topic, whatever its shape
    (decision,), _ = run(answer(404, body), url="http://127.0.0.1:8080/topics/t/records")
    assert decision.stops is es_pandas.TopicNotFoundError


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "the client certificate's user was refused"),
        (403, "the client certificate's user is not allowed to produce to this topic"),
    ],
)
def test_with_a_client_certificate_alone_its_user_is_what_was_refused(
    status: int, says: str
) -> None:
    (decision,), _ = run(answer(status), credentials=None, client_cert=True)
    assert (
        decision.error.startswith(says) and "no credentials were configured" not in decision.error
    )
    # with other credentials too, those are what the server judged
    (decision,), _ = run(answer(status), credentials="the arguments", client_cert=True)
    assert "client certificate" not in decision.error and "the arguments" in decision.error
    # with none at all, the 401 says so
    (decision,), _ = run(answer(401), credentials=None)
    assert "no credentials were configured" in decision.error and "cert=" in decision.error


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
    monkeypatch.setattr(engine, "usual_success", lambda status, body: broken(body))
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


def test_a_usual_success_answer_is_matched_once_a_row(monkeypatch) -> None:
    # On every row's path: it was matched to tell that nothing of it needs scrubbing,
    # then again to read where the record went.
    import functools
    import itertools

    from es_pandas._wire import answers
    from es_pandas.transports import MockTransport

    usual, matched = answers._USUAL_SUCCESS, []

    class Counted:
        def fullmatch(self, body: bytes) -> object:
            matched.append(body)
            return usual.fullmatch(body)

    monkeypatch.setattr(answers, "_USUAL_SUCCESS", Counted())
    offsets = itertools.count()

    def written(method: str, url: str, headers: object, body: bytes) -> Response:
        shape = b'{"metadata":{"topic":"t","timestamp":"0","partition":0,"offset":%d}}'
        return answer(200, shape % next(offsets))

    status = pd.DataFrame({"v": range(50)}).es.produce(
        "t",
        url="http://127.0.0.1:9",
        api_key="a-key-0123",
        engine=functools.partial(MockTransport, written),
        api_version="v2",
        progress=False,
    )
    assert status["offset"].tolist() == list(range(50))
    # the first row's once more: its body also says the URL is Event Streams
    assert len(matched) == 50 + 1
