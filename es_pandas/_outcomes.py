"""What an attempt's outcome means: the one place a row's fate is decided.

:func:`decide` takes an answer (or a transport error) and the row's history, and says
whether the row is done (ok, failed or unknown), is tried again (and after how long),
or says something about the whole run (wrong credentials, no such topic, a redirect, a
URL that is not Event Streams). It is pure but for the row's :class:`Attempts`, so the
whole policy is testable alone.

A 2xx is ok, except where it shows the URL is not an Event Streams REST producer: a web
page, or (until a row has been answered with Event Streams' success body, and unless
``success_body="any"``) a body that is not Event Streams' success answer. Such a row
ends ``unknown``, not ``failed``: whatever answered 2xx took the request and may have
kept it (a generic API, a mock, a webhook), and an Event Streams whose v2 success body
es_pandas does not recognise (IBM does not document it) has written the record, which
``--resume`` must not send again. A web page ends ``failed``: Event Streams never
answers with one, so no Kafka has the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from ._exceptions import (
    AuthenticationError,
    ConnectionFailed,
    EndpointError,
    PermissionDeniedError,
    ProduceAborted,
    SchemaError,
    TopicNotFoundError,
)
from ._retry import Retry, parse_retry_after
from ._status import FAILED, OK, UNKNOWN
from ._transports import (
    CLOSED_UNANSWERED,
    ConnectError,
    ProxyError,
    RemoteProtocolError,
    Response,
    TLSError,
    TransportConfig,
    TransportError,
)
from ._wire import is_v2_error, looks_like_success, names_a_schema, one_line, refuses_a_schema

__all__ = ["MAYBE_WRITTEN", "Abort", "Attempts", "Decision", "decide", "hint"]

_NOT_EVENT_STREAMS = (
    "it is not an Event Streams REST producer (use the kafka_http_url of the service credentials)"
)
# Answers about the run, not the row: repeated fail_after times in a row, they stop it.
_RUN_LEVEL: dict[int, tuple[type[ProduceAborted], str]] = {
    401: (AuthenticationError, "the credentials were refused"),
    403: (PermissionDeniedError, "not allowed to produce to this topic"),
    404: (TopicNotFoundError, "the topic does not exist, or the URL is not Event Streams"),
    407: (ConnectionFailed, "the proxy wants credentials: proxy=http://user:password@host:port"),
    405: (EndpointError, f"does not take records by POST: {_NOT_EVENT_STREAMS}"),
    501: (EndpointError, f"does not take records by POST: {_NOT_EVENT_STREAMS}"),
}
_NO_CREDENTIALS = (
    "; no credentials were configured: pass api_key= (--api-key), credentials= "
    "(--credentials), or set ES_PANDAS_API_KEY; on premises, a SCRAM user as user= (--user) "
    "and password= (--password) or a client certificate as cert= (--client-cert)"
)
# With mutual TLS alone, the certificate is the credential: its user is the one refused.
_CERTIFICATE_ONLY = {
    401: (
        "the client certificate's user was refused",
        "; check that cert= (--client-cert) is the certificate of a user the server "
        "accepts by mutual TLS, or pass user= (--user) and password= (--password) as well",
    ),
    403: ("the client certificate's user is not allowed to produce to this topic", ""),
}
MAYBE_WRITTEN = "; an attempt may have written the record"
#: where the path of a v2 request starts (after the base URL's own path)
_V2_ROUTE = "/v2/topics/"
# IBM Cloud's REST producer hosts (<id>.svcNN.<region>.eventstreams.cloud.ibm.com): a 2xx
# there comes from Event Streams whatever its body, and v2's body is undocumented.
_IBM_CLOUD_HOST = ".eventstreams.cloud.ibm.com"
# Enough of an unexpected body to recognise what answered.
_BODY_CHARS = 200


@dataclass(frozen=True)
class Abort:
    """Why the run stopped: raised as ``error(message, status)`` by the producer."""

    error: type[ProduceAborted]
    message: str
    #: the exception behind it, when one is (a custom engine's own), to chain
    cause: BaseException | None = None


class Decision(NamedTuple):
    """What one attempt's outcome means for its row."""

    #: "ok", "retry", "final" (the row ends failed or unknown), "refresh" (renew the
    #: credentials and try again at once), "run" (about the whole run)
    action: str
    status: int = OK
    error: str = ""
    wait: float | None = None
    #: for "run": the exception that stops the run when such answers repeat
    stops: type[ProduceAborted] | None = None


@dataclass(slots=True)
class Attempts:
    """A row's history so far."""

    made: int = 0
    retries: int = 0
    #: an attempt may have written the record (a timeout, a broken connection, 408, 5xx)
    ambiguous: bool = False
    refreshed: bool = False


def decide(
    outcome: Response | TransportError,
    attempts: Attempts,
    retry: Retry,
    *,
    describe_error: Callable[[int, bytes], str],
    can_refresh: bool,
    credentials: str | None,
    answered: bool,
    url: str,
    check_body: bool,
    client_cert: bool = False,
) -> Decision:
    """What an attempt's answer (or transport error) means; updates ``attempts`` (its
    ambiguity, and the retries used when it says to retry).

    Pure but for ``attempts``: the whole retry and status policy, testable alone.
    ``answered`` says whether the server has answered any request of the run;
    ``credentials`` where the run's credentials came from (None: there are none);
    ``client_cert`` whether a client certificate was presented (mutual TLS);
    ``url`` where the request went; ``check_body`` whether a 2xx must carry Event
    Streams' success body to be ok (no row has been answered with one yet, and
    ``success_body`` is "event-streams")."""
    if isinstance(outcome, TransportError):
        attempts.ambiguous = attempts.ambiguous or outcome.sent
        error = str(outcome)
        if isinstance(outcome, (TLSError, ProxyError)) and not answered:
            # a TLS or proxy setup that never worked fails every try the same way
            return _final(attempts, error)
        if attempts.retries < retry.retries:
            attempts.retries += 1
            return Decision("retry", wait=None)
        return _final(attempts, error)
    status = outcome.status
    if (
        200 <= status < 300
        and outcome.headers.get("content-type", "").startswith("text/html")
        and not looks_like_success(outcome.body)
    ):
        # A web page (a login or a portal): whatever took the request, Kafka did not.
        # (Event Streams' own success body under a gateway's wrong label is a success.)
        page = describe_error(status, outcome.body)
        message = f"answered with a web page, not as Event Streams does ({page}): " + (
            _NOT_EVENT_STREAMS
        )
        return Decision("run", FAILED, message, stops=EndpointError)
    if 200 <= status < 300:
        if check_body and not looks_like_success(outcome.body) and not _ibm_cloud(url):
            # Whatever answered took the request, and may have kept it.
            attempts.ambiguous = True
            return Decision("run", UNKNOWN, _not_a_success(url, outcome), stops=EndpointError)
        return Decision("ok")
    if status < 200:
        # An interim answer where the final one belongs: the server did not finish.
        bogus = RemoteProtocolError(f"HTTP {status} where a final answer belongs")
        return decide(
            bogus,
            attempts,
            retry,
            describe_error=describe_error,
            can_refresh=can_refresh,
            credentials=credentials,
            answered=answered,
            url=url,
            check_body=check_body,
            client_cert=client_cert,
        )
    if status == 401 and can_refresh and not attempts.refreshed:
        attempts.refreshed = True
        return Decision("refresh")
    error = describe_error(status, outcome.body)
    # About the run, not the row; the row still ends unknown if an earlier try of it
    # may have written it.
    run_status = UNKNOWN if attempts.ambiguous else FAILED
    if 300 <= status < 400:
        # a server's header, so one short line of text whatever it holds
        location = one_line(outcome.headers.get("location") or "") or "no location given"
        message = (
            f"HTTP {status} redirect to {location}: es_pandas never follows redirects, so "
            "credentials stay with the URL you gave; use the URL the server names"
        )
        return Decision("run", run_status, message, stops=EndpointError)
    if status == 404 and _V2_ROUTE in url and not is_v2_error(outcome.body):
        # Not v2's own "no such topic": the server has no v2 route at all.
        where = url.split(_V2_ROUTE, 1)[0] or "the URL"
        message = (
            f"{where} has no v2 route ({error}): on-premises Event Streams offers only the "
            "v1 API: pass api_version='v1' (--api-version v1, ES_PANDAS_API_VERSION=v1) "
            "or 'auto'; otherwise the URL is not Event Streams (use the kafka_http_url of "
            "the service credentials)"
        )
        return Decision("run", run_status, message, stops=EndpointError)
    if status in (400, 409) and refuses_a_schema(outcome.body):
        message = (
            f"the server refused the records' schema: {error}; every row carries it, so "
            "none can be written. If the registry holds an earlier version, change the "
            "schema as its compatibility rule allows (a new field needs a default), or send "
            "it under another subject (schema_strategy); an inferred schema follows the "
            "data, so pin one with value_schema= (infer_schema(frame, nullable=True))"
        )
        return Decision("run", run_status, message, stops=SchemaError)
    if status in _RUN_LEVEL:
        error_class, reason = _RUN_LEVEL[status]
        hint = _NO_CREDENTIALS if status == 401 and credentials is None else ""
        if credentials is None and client_cert and status in _CERTIFICATE_ONLY:
            reason, hint = _CERTIFICATE_ONLY[status]
        elif credentials and status == 401:
            reason = f"the credentials from {credentials} were refused"
        elif credentials and status == 403:
            reason = f"{reason} (credentials from {credentials})"
        elif status == 404 and names_a_schema(outcome.body):
            error_class = SchemaError
            reason = "the schema named by schemaname= and schemaversion= is not registered"
        elif error_class is EndpointError:
            reason = f"{_path_of(url)} {reason}"
        message = f"{reason}: {error}{hint}"
        return Decision("run", run_status, message, stops=error_class)
    attempts.ambiguous = attempts.ambiguous or status in retry.ambiguous
    if status not in retry.statuses:
        return _final(attempts, error)
    if attempts.retries < retry.retries:
        attempts.retries += 1
        wait = parse_retry_after(outcome.headers.get("retry-after"), retry.max_retry_after)
        return Decision("retry", wait=wait)
    return _final(attempts, error)


def _path_of(url: str) -> str:
    """The URL a request went to, without its query: v1 carries each row's key and
    headers there."""
    return url.split("?", 1)[0] or "the URL"


def _not_a_success(url: str, answer: Response) -> str:
    """Why a 2xx says the URL is not Event Streams: where, and what came back."""
    where = _path_of(url)
    kind = one_line(answer.headers.get("content-type") or "") or "none"
    text = one_line(answer.body[: _BODY_CHARS * 4].decode("utf-8", "replace"))
    if len(text) > _BODY_CHARS:
        text = text[: _BODY_CHARS - 1] + "…"
    body = f"body {text}" if text else "an empty body"
    return (
        f"{where} answered HTTP {answer.status} (content type {kind}, {body}), not with "
        "Event Streams' success body (JSON with metadata, or partition and offset): "
        f"{_NOT_EVENT_STREAMS}; its rows are unknown, as it may have kept them; if it is "
        'Event Streams all the same, pass success_body="any" (--success-body any, '
        "ES_PANDAS_SUCCESS_BODY=any)"
    )


def _ibm_cloud(url: str) -> bool:
    """Whether ``url`` is on IBM Cloud's Event Streams hosts."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host.endswith(_IBM_CLOUD_HOST)


def _final(attempts: Attempts, error: str) -> Decision:
    if attempts.made > 1:
        error += f" (after {attempts.made} attempts)"
    if attempts.ambiguous:
        return Decision("final", UNKNOWN, error + MAYBE_WRITTEN)
    return Decision("final", FAILED, error)


def hint(error: TransportError, url: str, config: TransportConfig, answered: bool) -> str:
    """What to check when a request got no answer at all, for the message users read:
    only while nothing has answered (once something has, the setup is not the cause)."""
    if answered:
        return ""
    if isinstance(error, TLSError) and error.kind == "verify":
        return _untrusted(error.verify_code, config)
    proxy = config.proxy_for(url)
    if proxy is not None and proxy.source != "proxy=" and type(error) is ConnectError:
        return (
            "; exempt the host from the environment's proxy with NO_PROXY, or leave the "
            "environment's proxies out with trust_env=False"
        )
    if url.startswith("http:") and str(error) == CLOSED_UNANSWERED:
        return "; Event Streams takes HTTPS: if this server does too, the URL is https://"
    broken_off = isinstance(error, RemoteProtocolError) and url.startswith("https:")
    if (isinstance(error, TLSError) and error.kind in ("plain", "client-cert")) or not (
        isinstance(error, TLSError) or broken_off
    ):
        # a refused client certificate says so itself
        return ""
    if config.cert is None:
        return (
            "; a server that requires a client certificate (mutual TLS) breaks "
            "connections off like this: pass cert= (--client-cert)"
        )
    return "; check that the server accepts the client certificate given as cert="


# OpenSSL's X509_V_ERR_CERT_NOT_YET_VALID and _CERT_HAS_EXPIRED, X509_V_ERR_HOSTNAME_MISMATCH
_OUT_OF_DATE = (9, 10)
_OTHER_HOST = 62


def _untrusted(verify_code: int | None, config: TransportConfig) -> str:
    """What to check when the server's certificate was not trusted: no CA bundle fixes
    a certificate out of date or of another host."""
    if verify_code in _OUT_OF_DATE:
        return "; the server's certificate must be renewed (or this machine's clock is wrong)"
    if verify_code == _OTHER_HOST:
        return "; use the host name the server's certificate names in the URL"
    if isinstance(config.verify, str):
        return (
            "; the CA bundle given as verify= (--ca-bundle) does not hold the CA that signed "
            "it: pass the one that does (on premises: the cluster's es-cert.pem)"
        )
    return (
        "; if the server uses a private CA (on premises: the cluster's es-cert.pem), "
        "pass its certificate as verify= (--ca-bundle)"
    )
