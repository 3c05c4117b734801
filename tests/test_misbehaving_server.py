"""es_pandas against a misbehaving HTTP server: real runs, scripted bytes, honest outcomes.

The server here is written from scratch on asyncio streams (not es_pandas' local server,
whose manners es_pandas already knows): it reads each request, counts it, can store
("write") the record so that lost or duplicated rows show, and answers with whatever
bytes a test scripts. It runs on its own event loop in a background thread, so the
tests drive the public, blocking entry points (``df.es.produce``, ``Producer``, the CLI)
exactly as users do.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import gzip
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import es_pandas
from es_pandas._transports import build_transport
from es_pandas.transports import AsyncTransport, Response, TransportConfig

ENGINES = ["aiohttp", "httpx"]
# Retries that keep a test fast but still exercise the retry path.
FAST = es_pandas.Retry(retries=2, backoff=0.01, max_backoff=0.02)
# Generous upper bound on "quickly": these runs take well under a second when right.
QUICK_SECONDS = 10.0


# -- the server ------------------------------------------------------------------------


@dataclass
class Request:
    """One request as the server read it (header names in lower case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    raw_head: bytes


@dataclass
class Exchange:
    """One request and the means to answer it, given to a handler."""

    request: Request
    #: 0-based number of this request among all the server has read
    number: int
    server: RawServer
    writer: asyncio.StreamWriter
    #: set by a handler to close the connection after its answer
    close: bool = False

    def send(self, data: bytes) -> None:
        self.writer.write(data)


Handler = Callable[[Exchange], Awaitable[None]]


def answer(
    status: int = 200,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    reason: str = "X",
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """The bytes of one HTTP answer; ``length=False`` leaves Content-Length out."""
    lines = [f"{version} {status} {reason}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def metadata(offset: int, partition: int = 0, timestamp: int = 1_700_000_000_000) -> bytes:
    return json.dumps(
        {
            "metadata": {
                "topic": "t",
                "partition": partition,
                "offset": offset,
                "timestamp": timestamp,
            }
        }
    ).encode()


def row_of(body: bytes) -> int:
    """The ``row`` column's value in a request body (v2 envelope or v1 raw value)."""
    value = json.loads(body)
    if "value" in value:
        value = json.loads(value["value"]["data"])
    return int(value["row"])


async def store_and_answer(exchange: Exchange) -> None:
    """A well-behaved server: stores the record and answers with the offset it got."""
    offset = exchange.server.store(exchange.request.body)
    exchange.send(answer(200, metadata(offset), headers={"Content-Type": "application/json"}))


@dataclass(eq=False)
class RawServer:
    """A scripted HTTP/1.1 server on 127.0.0.1, on its own loop in a thread.

    Every request is counted in ``requests`` before the handler runs, and records the
    handler stores stay in ``records``: what the server saw and wrote is known exactly
    once the (blocking) run returns, with no sleeping."""

    handler: Handler = store_and_answer
    #: accept each connection and close it at once, reading nothing
    close_on_accept: bool = False
    requests: list[Request] = field(default_factory=list)
    #: what the server "wrote", in offset order
    records: list[bytes] = field(default_factory=list)
    connections: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    # -- lifecycle

    def __enter__(self) -> RawServer:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._connected, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Awaitable[object]) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- what tests read

    def store(self, body: bytes) -> int:
        with self._lock:
            self.records.append(body)
            return len(self.records) - 1

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stored_rows(self) -> list[int]:
        with self._lock:
            return [row_of(body) for body in self.records]

    # -- serving

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        with self._lock:
            self.connections += 1
        try:
            if not self.close_on_accept:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: nothing to answer
        except asyncio.CancelledError:
            # Shutting down. Not re-raised: Python 3.11's start_server callback calls
            # task.exception() on a cancelled task and logs the CancelledError it raises.
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await _read_request(reader)
            if request is None:
                return
            with self._lock:
                number = len(self.requests)
                self.requests.append(request)
                self._lock.notify_all()
            exchange = Exchange(request, number, self, writer)
            await self.handler(exchange)
            await writer.drain()
            if exchange.close:
                return


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # closed between requests
    first, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body, head)


@contextlib.contextmanager
def serving(handler: Handler = store_and_answer, **options: bool) -> Iterator[RawServer]:
    with RawServer(handler, **options) as server:
        yield server


# -- running es_pandas against it --------------------------------------------------------

API_KEY = "test-api-key-0123456789"
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ES_PANDAS_* settings or proxies from the machine running the tests: every
    request must go straight to the scripted server, with the options a test gives."""
    for name in list(os.environ):
        if name.startswith("ES_PANDAS_") or name.upper() in _PROXY_VARIABLES:
            monkeypatch.delenv(name)


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"row": range(n)})


def many(engine: str) -> int:
    """Rows for a run that should be large but quick: httpx is ~10x slower per row."""
    return 2000 if engine == "aiohttp" else 300


def produce(
    server: RawServer, frame: pd.DataFrame, engine: object, **options: object
) -> es_pandas.StatusFrame:
    given: dict[str, object] = {
        "url": server.url,
        "api_key": API_KEY,
        # this server answers every path alike: "auto"'s v2 route check would be one
        # more request to count, and is tested where routes differ (test_connection)
        "api_version": "v2",
        "engine": engine,
        "progress": False,
        "retries": FAST,
        **options,
    }
    return frame.es.produce("t", **given)  # type: ignore[return-value]


def produce_or_abort(
    server: RawServer, frame: pd.DataFrame, engine: object, **options: object
) -> tuple[es_pandas.StatusFrame, es_pandas.ProduceError | None]:
    """The status frame of a run, whether it returned it or an exception carried it."""
    try:
        return produce(server, frame, engine, **options), None
    except es_pandas.ProduceError as exc:
        assert exc.status is not None
        return exc.status, exc


def xfail_on(reasons: dict[str, str]) -> list[object]:
    """ENGINES as parameters, strictly expected to fail on the engines in ``reasons``."""
    return [
        pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=reasons[e]))
        if e in reasons
        else e
        for e in ENGINES
    ]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "es_pandas" and r.levelno == logging.WARNING]


def offsets_match_storage(status: pd.DataFrame, server: RawServer) -> None:
    """Each row is stored exactly once, and its status names the offset it was stored at."""
    stored = server.stored_rows()
    assert sorted(stored) == list(range(len(status))), "rows lost or duplicated"
    stored_at = {row: offset for offset, row in enumerate(stored)}
    reported = status["offset"].astype("Int64").tolist()
    wrong = [(row, reported[row], stored_at[row]) for row in range(len(status))]
    wrong = [w for w in wrong if w[1] != w[2]]
    assert not wrong, f"{len(wrong)} rows report another record's offset, e.g. {wrong[:3]}"


# -- 1. redirects ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("engine", ENGINES)
def test_redirects_are_never_followed_and_stop_the_run(engine: str, code: int) -> None:
    with serving() as elsewhere:
        target = elsewhere.url + "/v2/topics/t/records"

        async def redirect(exchange: Exchange) -> None:
            exchange.send(answer(code, b"moved", headers={"Location": target}))

        with serving(redirect) as server:
            started = time.monotonic()
            with pytest.raises(es_pandas.EndpointError) as raised:
                produce(server, rows(300), engine, api_key="s3cr3t-key")
            assert time.monotonic() - started < QUICK_SECONDS
    status = raised.value.status
    assert elsewhere.count == 0 and elsewhere.connections == 0
    # Rows go one at a time until one is answered about itself: fail_after requests.
    assert server.count == 3
    assert (status["status"] == "ok").sum() == 0
    assert status["status"].value_counts()[["failed", "not_sent"]].tolist() == [3, 297]
    assert target in str(raised.value)
    assert status["error"].dropna().str.contains(target, regex=False).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_redirect_mid_run_stops_it_and_keeps_the_rows_before(engine: str) -> None:
    async def redirect_after_50(exchange: Exchange) -> None:
        if exchange.number < 50:
            await store_and_answer(exchange)
        else:
            exchange.send(answer(307, headers={"Location": "http://127.0.0.1:9/x"}))

    with serving(redirect_after_50) as server:
        status, error = produce_or_abort(server, rows(many(engine)), engine, concurrency=8)
    assert isinstance(error, es_pandas.EndpointError)
    stored = set(server.stored_rows())
    ok = set(status.index[status["status"] == "ok"])
    assert ok == stored and len(ok) == 50
    # fail_after redirects in a row stop it. Late oks of the first 50 (at most 7 in
    # flight) may each reset the streak once, and what is in flight still lands:
    # 50 + 8 streaks' worth + 8 in flight, far below the 2,000 or 300 rows.
    assert server.count <= 50 + 3 * 8 + 8


@pytest.mark.parametrize("engine", ENGINES)
def test_a_redirect_to_a_non_utf8_location_does_not_crash_the_run(engine: str) -> None:
    async def redirect(exchange: Exchange) -> None:
        # "é" as Latin-1: one byte that is not UTF-8, as old servers write it.
        exchange.send(answer(301, headers={"Location": "http://elsewhere/caf\xe9"}))

    with serving(redirect) as server, pytest.raises(es_pandas.EndpointError) as raised:
        produce(server, rows(30), engine)
    assert raised.value.status["error"].notna().sum() == 3


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("location", ["http://x:notaport/", "http://[::1", "\x01"])
def test_a_redirect_to_an_unparsable_location_is_still_a_redirect(
    engine: str, location: str
) -> None:
    async def redirect(exchange: Exchange) -> None:
        exchange.send(answer(302, headers={"Location": location}))

    with serving(redirect) as server, pytest.raises(es_pandas.ProduceError) as raised:
        produce(server, rows(30), engine)
    assert type(raised.value) is es_pandas.EndpointError, str(raised.value)
    assert set(raised.value.status["status"]) == {"failed", "not_sent"}
    assert server.count == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_redirect_messages_are_one_bounded_line(engine: str) -> None:
    async def redirect(exchange: Exchange) -> None:
        exchange.send(answer(301, headers={"Location": "http://x/" + "a" * 7000}))

    with serving(redirect) as server, pytest.raises(es_pandas.EndpointError) as raised:
        produce(server, rows(10), engine)
    assert len(str(raised.value)) < 1000
    assert raised.value.status["error"].dropna().str.len().max() < 1000


# -- 2. odd success bodies ---------------------------------------------------------------

# name -> (body, (partition, offset, timestamp ms) expected, None where it must be empty)
ODD_BODIES: dict[str, tuple[bytes, tuple[int | None, int | None, int | None]]] = {
    "metadata-null": (b'{"metadata": null}', (None, None, None)),
    "empty-array": (b"[]", (None, None, None)),
    "json-string": (b'"x"', (None, None, None)),
    "partition-string": (
        b'{"metadata":{"partition":"x","offset":5,"timestamp":1700000000000}}',
        (None, 5, 1_700_000_000_000),
    ),
    "partition-true": (
        b'{"metadata":{"partition":true,"offset":5,"timestamp":1700000000000}}',
        (None, 5, 1_700_000_000_000),
    ),
    "offset-2**63": (
        b'{"partition":1,"offset":9223372036854775808,"timestamp":1700000000000}',
        (1, None, 1_700_000_000_000),
    ),
    "offset-negative": (b'{"partition":1,"offset":-5,"timestamp":"0"}', (1, None, 0)),
    "timestamp-after-2262": (
        b'{"partition":1,"offset":5,"timestamp":99999999999999}',
        (1, 5, None),
    ),
    "timestamp-after-2262-iso": (
        b'{"partition":1,"offset":5,"timestamp":"2263-01-01T00:00:00Z"}',
        (1, 5, None),
    ),
    "timestamp-before-1970": (
        b'{"partition":1,"offset":5,"timestamp":"1969-12-31T23:59:59Z"}',
        (1, 5, None),
    ),
    "timestamp-negative": (b'{"partition":1,"offset":5,"timestamp":-1}', (1, 5, None)),
    "nested-100k": (b"[" * 100_000 + b"]" * 100_000, (None, None, None)),
    "nested-100k-unclosed": (b"[" * 100_000, (None, None, None)),
    "invalid-utf8": (b'{"partition":1,"offset":5,"x":"\xff\xfe"}', (None, None, None)),
    "html": (b"<html><body><h1>OK</h1></body></html>", (None, None, None)),
    "empty": (b"", (None, None, None)),
    "5000-digit-offset": (b'{"partition":1,"offset":' + b"9" * 5000 + b"}", (None, None, None)),
}


def assert_metadata(
    status: pd.DataFrame, expected: tuple[int | None, int | None, int | None]
) -> None:
    partition, offset, timestamp = expected
    for column, value in (("partition", partition), ("offset", offset)):
        if value is None:
            assert status[column].isna().all(), column
        else:
            assert (status[column] == value).all(), column
    if timestamp is None:
        assert status["timestamp"].isna().all()
    else:
        assert (status["timestamp"] == pd.Timestamp(timestamp, unit="ms", tz="UTC")).all()


@pytest.mark.parametrize("shape", list(ODD_BODIES))
@pytest.mark.parametrize("engine", ENGINES)
def test_an_odd_success_body_is_still_ok_once_a_row_was_confirmed(
    engine: str, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The first answer is Event Streams' success body: the server is Event Streams, so
    odd bodies later are successes that did not say where their record went (before
    that, see tests/test_produce_failures.py: a body that is not Event Streams' stops
    the run)."""
    body, expected = ODD_BODIES[shape]

    async def odd(exchange: Exchange) -> None:
        offset = exchange.server.store(exchange.request.body)
        reply = metadata(offset) if exchange.number == 0 else body
        exchange.send(answer(200, reply, headers={"Content-Type": "application/json"}))

    caplog.set_level(logging.WARNING)
    with serving(odd) as server:
        status = produce(server, rows(200), engine)
    assert (status["status"] == "ok").all()
    assert (status["http_status"] == 200).all() and (status["attempts"] == 1).all()
    assert not status["maybe_duplicate"].any()
    assert len(server.records) == 200  # each written once: a 2xx is never retried
    assert status["offset"].iloc[0] == 0  # the confirming row, as the server said
    assert_metadata(status.iloc[1:], expected)
    assert len(warnings_of(caplog)) == 1  # one per run, not one per row
    status.to_string()  # the frame renders (timestamps in range)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate", "http/1.0-close"])
@pytest.mark.parametrize("engine", ENGINES)
def test_compressed_and_close_delimited_answers_are_read(
    engine: str, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def encoded(exchange: Exchange) -> None:
        body = metadata(exchange.server.store(exchange.request.body))
        if encoding == "http/1.0-close":
            exchange.send(answer(200, body, version="HTTP/1.0", length=False))
            exchange.close = True
            return
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "deflate":
            body = zlib.compress(body)
        else:  # deflate without the zlib wrapper, as some servers send it
            packer = zlib.compressobj(wbits=-15)
            body = packer.compress(body) + packer.flush()
        name = encoding.removeprefix("raw-")
        exchange.send(answer(200, body, headers={"Content-Encoding": name}))

    caplog.set_level(logging.WARNING)
    with serving(encoded) as server:
        status = produce(server, rows(300), engine)
    assert (status["status"] == "ok").all()
    offsets_match_storage(status, server)
    assert not warnings_of(caplog)


def _garbled_gzip(body: bytes) -> bytes:
    return answer(200, b"this is not gzip", headers={"Content-Encoding": "gzip"})


def _truncated(body: bytes) -> bytes:
    return answer(200, body, headers={"Content-Length": str(len(body) + 50)}, length=False)


def _oversized(body: bytes) -> bytes:
    return answer(200, b" " * (5 * 2**20) + body)  # valid JSON, over the 4 MiB cap


def _brotli(body: bytes) -> bytes:
    # Not asked for (Accept-Encoding: gzip, deflate): the body is really plain JSON.
    return answer(200, body, headers={"Content-Encoding": "br"})


@pytest.mark.parametrize(
    ("engine", "garble"),
    [
        (engine, garble)
        for engine in ENGINES
        for garble in (_garbled_gzip, _truncated, _oversized, _brotli)
    ],
)
def test_a_2xx_whose_body_cannot_be_read_is_ok_and_written_once(
    engine: str, garble: Callable[[bytes], bytes]
) -> None:
    async def acknowledged(exchange: Exchange) -> None:
        # Written, then acknowledged: the status line says so whatever follows it.
        exchange.send(garble(metadata(exchange.server.store(exchange.request.body))))
        exchange.close = True

    with serving(acknowledged) as server:
        status, error = produce_or_abort(server, rows(20), engine)
    assert error is None, str(error)
    assert (status["status"] == "ok").all()
    assert sorted(server.stored_rows()) == list(range(20)), "rows written more than once"


# -- 3. Retry-After ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    ["nan", "inf", "-inf", "-1", "1e400", "garbage", "Wed, 21 Oct 2015 07:28:00 GMT", "  "],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_unusable_retry_after_is_retried_with_normal_backoff(engine: str, retry_after: str) -> None:
    seen: set[int] = set()

    async def busy_once(exchange: Exchange) -> None:
        row = row_of(exchange.request.body)
        if row not in seen:
            seen.add(row)
            exchange.send(answer(503, b"busy", headers={"Retry-After": retry_after}))
            return
        await store_and_answer(exchange)

    # Were any of these read as a long wait, the cap (30 s) would blow the time bound.
    retry = es_pandas.Retry(retries=2, backoff=0.01, max_backoff=0.02, max_retry_after=30)
    started = time.monotonic()
    with serving(busy_once) as server:
        status = produce(server, rows(100), engine, retries=retry, concurrency=8)
    assert time.monotonic() - started < QUICK_SECONDS
    assert (status["status"] == "ok").all() and (status["attempts"] == 2).all()
    assert not status["maybe_duplicate"].any()  # 503 is "not written"
    assert server.count == 200
    offsets_match_storage(status, server)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_retry_after_date_in_the_future_waits_up_to_the_cap(engine: str) -> None:
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)

    async def busy_once(exchange: Exchange) -> None:
        if exchange.number == 0:
            exchange.send(answer(503, b"busy", headers={"Retry-After": future}))
        else:
            await store_and_answer(exchange)

    retry = es_pandas.Retry(retries=2, backoff=0.01, max_backoff=0.02, max_retry_after=0.3)
    with serving(busy_once) as server:
        started = time.monotonic()
        status = produce(server, rows(1), engine, retries=retry)
        elapsed = time.monotonic() - started
    assert status["status"].tolist() == ["ok"] and status["attempts"].tolist() == [2]
    # The date is an hour away: the wait is the cap, not the backoff and not an hour.
    assert 0.25 <= elapsed < QUICK_SECONDS


# -- 4. interim answers and answers that are not the row's --------------------------------

_HTTPX_STALE_ANSWER = (
    "A limitation of httpcore, documented in es_pandas/_transports/_httpx.py and the README: "
    "bytes that arrive after a complete answer on a kept-alive connection stay in h11's "
    "buffer and are read as the next request's answer; httpcore has no public way to see "
    "them (encode/httpcore#872) and es_pandas does not reach into its internals. aiohttp, "
    "the default engine, drops such a connection."
)


@pytest.mark.parametrize("engine", ENGINES)
def test_interim_1xx_answers_are_never_a_rows_answer(engine: str) -> None:
    async def with_interim(exchange: Exchange) -> None:
        offset = exchange.server.store(exchange.request.body)
        interim = (
            b"HTTP/1.1 100 Continue\r\n\r\n"
            if exchange.number % 2
            else b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
            b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        exchange.send(interim + answer(200, metadata(offset)))

    with serving(with_interim) as server:
        status = produce(server, rows(many(engine)), engine)
    assert (status["status"] == "ok").all() and (status["attempts"] == 1).all()
    offsets_match_storage(status, server)


@pytest.mark.parametrize("engine", xfail_on({"httpx": _HTTPX_STALE_ANSWER}))
def test_bytes_after_an_answer_are_never_the_next_rows_answer(engine: str) -> None:
    async def extra_answer(exchange: Exchange) -> None:
        offset = exchange.server.store(exchange.request.body)
        # The real answer, then an unsolicited one a desynchronised proxy might send.
        exchange.send(answer(200, metadata(offset)) + answer(200, metadata(offset + 10**6)))

    with serving(extra_answer) as server:
        status = produce(server, rows(300), engine)
    assert (status["status"] == "ok").all()
    offsets_match_storage(status, server)


@pytest.mark.parametrize("engine", xfail_on({"httpx": _HTTPX_STALE_ANSWER}))
def test_a_stale_200_never_makes_an_unwritten_row_ok(engine: str) -> None:
    async def refuse_then_stale_ok(exchange: Exchange) -> None:
        if exchange.number == 0:
            await store_and_answer(exchange)  # the probe gets through
            return
        # Not written (503), followed by bytes that look like a success.
        exchange.send(answer(503, b"busy") + answer(200, metadata(999)))

    with serving(refuse_then_stale_ok) as server:
        # No retries: a row's first 503 ends it, so the run does not crawl at the
        # rate a storm of 503s slows it to; every later request still meets stale bytes.
        status, _ = produce_or_abort(server, rows(100), engine, concurrency=4, retries=0)
    ok = set(status.index[status["status"] == "ok"])
    assert ok == set(server.stored_rows()) == {0}


# -- 5. huge and trickling error answers --------------------------------------------------

TEN_MB = b"x" * (10 * 2**20)


@pytest.mark.parametrize("code", [400, 500])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_huge_error_body_ends_the_row_with_a_bounded_message(engine: str, code: int) -> None:
    whole = answer(code, TEN_MB)

    async def huge(exchange: Exchange) -> None:
        exchange.send(whole)

    started = time.monotonic()
    with serving(huge) as server:
        status, _ = produce_or_abort(server, rows(3), engine)
    assert time.monotonic() - started < QUICK_SECONDS
    assert set(status["status"]) <= {"failed", "unknown", "not_sent"}
    assert status["status"].isin(["failed", "unknown"]).sum() >= 1
    assert status["error"].dropna().str.len().max() < 1000
    assert server.count <= 3 * 3  # at most every row's tries; no flood


@pytest.mark.parametrize("engine", ENGINES)
def test_a_400_with_a_huge_body_is_that_400(engine: str) -> None:
    whole = answer(400, b'{"error":{"message":"bad record"}}' + b" " * (5 * 2**20))

    async def huge(exchange: Exchange) -> None:
        exchange.send(whole)

    with serving(huge) as server:
        status, error = produce_or_abort(server, rows(3), engine)
    assert not isinstance(error, es_pandas.ConnectionFailed), str(error)
    assert status["status"].tolist() == ["failed"] * 3
    assert (status["http_status"] == 400).all() and (status["attempts"] == 1).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_an_endless_error_body_keeps_memory_bounded(engine: str) -> None:
    piece = memoryview(b"x" * 2**16)

    async def endless(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 500 X\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(1024):  # 64 MiB if anybody read it all
            exchange.send(b"10000\r\n")
            exchange.send(piece)
            exchange.send(b"\r\n")
            await exchange.writer.drain()
        exchange.send(b"0\r\n\r\n")

    with serving(endless) as server:
        tracemalloc.start()
        try:
            status, _ = produce_or_abort(server, rows(1), engine, retries=0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert status["status"].tolist() == ["unknown"]
    assert status["error"].str.len().max() < 1000
    # Reading to the 4 MiB cap costs ~6-10 MiB here; reading it all would cost 64+.
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.0f} MiB while reading a 64 MiB answer"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_trickling_error_body_is_bounded_by_the_timeout(engine: str) -> None:
    async def trickle(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 500 X\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(100_000):
            exchange.send(b"x")
            await exchange.writer.drain()
            await asyncio.sleep(0.05)

    with serving(trickle) as server:
        started = time.monotonic()
        status = produce(server, rows(1), engine, retries=0, timeout=1)
        elapsed = time.monotonic() - started
    assert status["status"].tolist() == ["unknown"]
    assert "timeout" in status["error"][0] and len(status["error"][0]) < 1000
    assert elapsed < 5  # one 1 s timeout, generously


# -- 6. secrets --------------------------------------------------------------------------

PASSWORD = "p@ss"
KEY = "s3cr3t-key"
SECRETS = (
    "p%40ss",
    PASSWORD,
    KEY,
    base64.b64encode(f"user:{PASSWORD}".encode()).decode(),
    base64.b64encode(f"token:{KEY}".encode()).decode(),
)


def leaked(*texts: str) -> list[str]:
    return [secret for secret in SECRETS for text in texts if secret in text]


def credentials_for(form: str, server: RawServer) -> dict[str, object]:
    """Where and with what: credentials in the URL (v1 Basic) or an API key (v2 Bearer)."""
    if form == "url":
        port = server.url.rsplit(":", 1)[1]
        return {"url": f"http://user:p%40ss@127.0.0.1:{port}", "api_version": "v1"}
    return {"url": server.url, "api_key": KEY}


def shown(status: pd.DataFrame, error: BaseException | None, *more: str) -> list[str]:
    """Everything of a run a user may read: its status frame, its rows' records, its
    exception (if it raised one), and ``more`` (a log)."""
    texts = [status.to_string(), repr(status.to_dict("records")), *more]
    return texts + (exception_texts(error) if error is not None else [])


def exception_texts(exc: BaseException) -> list[str]:
    return [
        str(exc),
        repr(exc),
        "".join(traceback.format_exception(exc)),
        exc.status.to_string(),  # type: ignore[attr-defined]
        repr(exc.status["error"].tolist()),  # type: ignore[attr-defined]
    ]


async def refuse(exchange: Exchange) -> None:
    exchange.send(answer(401, b'{"error":{"message":"credentials refused"}}'))


@pytest.mark.parametrize("form", ["url", "api_key"])
@pytest.mark.parametrize("engine", ENGINES)
def test_secrets_never_show(
    engine: str,
    form: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with serving() as good, serving(refuse) as refusing, serving(close_on_accept=True) as gone:
        options = {"engine": engine, "retries": FAST, **credentials_for(form, good)}
        producer = es_pandas.Producer(**options)  # type: ignore[arg-type]
        texts += [repr(producer), repr(producer.settings)]

        status = producer.produce(rows(300), "t", progress=True)
        assert (status["status"] == "ok").all()
        # The credentials did travel, to the server they were given for (which also shows
        # that leaked() recognises them).
        assert leaked(good.requests[0].headers["authorization"])
        texts += [status.to_string(), repr(status)]

        plan = producer.produce(rows(3), "t", dry_run=True)
        texts += [plan.to_string(), repr(plan.to_dict("records"))]

        for server, error in ((refusing, es_pandas.AuthenticationError), (gone, None)):
            run_options = {**options, **credentials_for(form, server)}
            with pytest.raises(es_pandas.ProduceError) as raised:
                rows(50).es.produce("t", progress=True, **run_options)
            assert error is None or isinstance(raised.value, error)
            texts += exception_texts(raised.value)
    captured = capsys.readouterr()
    assert "100%" in captured.err or "300/300" in captured.err  # the bar was drawn
    texts += [captured.out, captured.err]
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    assert not leaked(*texts)


def run_cli(file: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ES_PANDAS_")}
    return subprocess.run(
        [sys.executable, "-m", "es_pandas", "produce", str(file), "--topic", "t", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_secrets_never_show_on_the_command_line(engine: str, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    rows(20).to_csv(data, index=False)
    outputs: list[str] = []
    with serving() as good, serving(refuse) as refusing:
        for server, args, code in (
            (good, ["--progress"], 0),
            (refusing, ["--status-out", str(tmp_path / "status.csv")], 2),
            (good, ["--dry-run"], 0),
        ):
            port = server.url.rsplit(":", 1)[1]
            for env in (
                {
                    "ES_PANDAS_URL": f"http://user:p%40ss@127.0.0.1:{port}",
                    "ES_PANDAS_API_VERSION": "v1",
                },
                {"ES_PANDAS_URL": server.url, "ES_PANDAS_API_KEY": KEY},
            ):
                if args == ["--progress"] and "ES_PANDAS_API_KEY" in env:
                    continue  # one successful send per engine is enough
                result = run_cli(data, env, "--engine", engine, "--retries", "1", *args)
                assert result.returncode == code, result.stderr
                outputs += [result.stdout, result.stderr]
        outputs.append((tmp_path / "status.csv").read_text())
    assert "Basic <redacted>" in "".join(outputs)  # the dry run showed the header, masked
    assert not leaked(*outputs)


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"api_key": KEY + "\n"}, "api_key"),
        ({"api_key": "s3cr\r\nt-key"}, "api_key"),
        ({"api_key": "s3cr3t-k\u20acy"}, "api_key"),  # the euro sign is not Latin-1
        ({"api_key": "s3cr3t\x00key"}, "api_key"),
        ({"token": "s3cr3t\nkey"}, "token"),
        ({"credentials": {"apikey": "s3cr\nt-key"}}, "api_key"),
        ({"url": "http://user:p%0Ass@127.0.0.1:{port}", "api_version": "v1"}, "password"),
        ({"api_key": "s3cr3t-key\u2028"}, "api_key"),
    ],
    ids=[
        "trailing-newline",
        "inner-crlf",
        "not-latin1",
        "nul",
        "token-newline",
        "credentials-newline",
        "url-password-newline",
        "line-separator",
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_unsendable_secrets_are_refused_before_any_request(
    engine: str, options: dict[str, object], option: str
) -> None:
    with serving() as server:
        port = server.url.rsplit(":", 1)[1]
        given = {
            name: value.format(port=port) if name == "url" and isinstance(value, str) else value
            for name, value in options.items()
        }
        with pytest.raises(es_pandas.ConfigurationError) as raised:
            produce(server, rows(10), engine, **{"api_key": None, **given})
        assert server.count == 0 and server.connections == 0
    message = str(raised.value)
    assert option in message
    assert "s3cr" not in message and "p\nss" not in message and "p%0Ass" not in message


@pytest.mark.parametrize("engine", ENGINES)
def test_unsendable_secrets_from_the_environment_are_refused(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ES_PANDAS_API_KEY", "s3cr\r\nt-key")
    with serving() as server:
        with pytest.raises(es_pandas.ConfigurationError) as raised:
            produce(server, rows(10), engine, api_key=None)
        assert server.count == 0
    assert "ES_PANDAS_API_KEY" in str(raised.value) and "s3cr" not in str(raised.value)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain\r\n; x=1", "text/plain\n; X-Injected: 1", "text/plain\x0b; a", "text/pla\xefn"],
    ids=["crlf", "lf", "vertical-tab", "not-ascii"],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_content_type_a_header_cannot_carry_is_refused_before_any_request(
    engine: str, content_type: str
) -> None:
    # it was sent as it is, to be refused by the engine: every row unknown, as if sent
    frame = pd.DataFrame({"v": ["a", "b"]})
    with serving() as server:
        with pytest.raises(es_pandas.ConfigurationError, match="text_content_type"):
            produce(
                server,
                frame,
                engine,
                api_version="v1",
                value_col="v",
                text_content_type=content_type,
            )
        assert server.connections == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_latin1_api_key_is_refused_or_sent_as_latin1_by_every_engine(engine: str) -> None:
    key = "s3cr3t-k\xe9y"
    with serving() as server:
        try:
            status = produce(server, rows(3), engine, api_key=key)
        except es_pandas.ConfigurationError:
            assert server.count == 0
            return
        except es_pandas.ProduceError as exc:
            raise AssertionError(f"neither refused nor sent: {exc}") from None
        assert (status["status"] == "ok").all()
        sent = server.requests[0].raw_head
    assert f"Bearer {key}".encode("latin-1") in sent


@pytest.mark.parametrize("char", ["/", "?", "#"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_password_with_a_reserved_character_never_shows(engine: str, char: str) -> None:
    password = f"pa{char}ss-secret"
    with serving() as server:
        port = server.url.rsplit(":", 1)[1]
        url = f"http://user:{password}@127.0.0.1:{port}"
        texts: list[str] = []
        try:
            producer = es_pandas.Producer(url, api_version="v1", engine=engine, retries=FAST)
            texts.append(repr(producer))
            status = producer.produce(rows(3), "t", progress=False)
            texts.append(status.to_string())
        except es_pandas.ConfigurationError as exc:
            texts.append(str(exc))
        except es_pandas.ProduceError as exc:
            texts += exception_texts(exc)
    assert not [text for text in texts if f"{char}ss-secret" in text]


@pytest.mark.parametrize("status_code", [400, 401])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_echoing_the_credential_does_not_leak_it(engine: str, status_code: int) -> None:
    async def echo(exchange: Exchange) -> None:
        said = f"refused: {exchange.request.headers.get('authorization')}"
        exchange.send(answer(status_code, json.dumps({"error": {"message": said}}).encode()))

    with serving(echo) as server:
        status, error = produce_or_abort(server, rows(5), engine, api_key=KEY)
    texts = shown(status, error)
    assert not leaked(*texts)


# Where a server's words are cut to their length (the message 300 characters, the trace
# 128): the padding puts the cut inside the echoed key, whose first 4 characters would
# stay if it were taken out after the cut.
def echo_cut(where: str, sent: str) -> bytes:
    if where == "message":
        return answer(400, json.dumps({"error": {"message": "x" * 287 + " " + sent}}).encode())
    if where == "trace":
        return answer(400, b'{"error":{"message":"no"}}', headers={GTID: "t" * 116 + sent})
    return answer(  # a success answer's Comment, as v1.1.0 gives it, logged
        200, json.dumps(json.loads(metadata(0)) | {"Comment": "c" * 292 + sent}).encode()
    )


@pytest.mark.parametrize("where", ["message", "trace", "comment"])
@pytest.mark.parametrize("engine", ENGINES)
def test_an_echoed_credential_cut_short_leaves_no_part_of_it(
    engine: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def echo(exchange: Exchange) -> None:
        exchange.send(echo_cut(where, exchange.request.headers.get("authorization") or ""))

    caplog.set_level(logging.WARNING, "es_pandas")
    with serving(echo) as server:
        status, error = produce_or_abort(server, rows(3), engine, api_key=KEY)
    texts = shown(status, error, caplog.text)
    assert "<redact" in "".join(texts)  # the echo was met, and taken out (then cut)
    assert not [text for text in texts if "s3cr" in text]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_proxy_echoing_its_credentials_does_not_leak_them(engine: str) -> None:
    async def refuse(exchange: Exchange) -> None:
        said = exchange.request.headers.get("proxy-authorization") or ""
        exchange.send(answer(407, f"no entry for {said}".encode(), headers={GTID: said}))

    with serving(refuse) as proxy:
        proxied = proxy.url.replace("http://", "http://user:p%40ss@")
        # a plain-http URL goes to the proxy in absolute form: the 407 is the request's answer
        status, error = produce_or_abort(proxy, rows(5), engine, proxy=proxied, retries=0)
    assert proxy.count and leaked(proxy.requests[0].headers["proxy-authorization"])
    texts = shown(status, error)
    assert not leaked(*texts)


@pytest.mark.parametrize("port", ["xx", "99999"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_proxy_port_that_is_not_one_is_refused_without_the_credentials(
    engine: str, port: str
) -> None:
    # aiohttp failed each request on it with the proxy's URL whole in the row's error
    with serving() as server:
        with pytest.raises(es_pandas.ConfigurationError, match="port") as raised:
            produce(server, rows(3), engine, proxy=f"http://user:p%40ss@127.0.0.1:{port}")
        assert server.connections == 0
    assert not leaked(str(raised.value))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_key_with_trailing_spaces_never_shows(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    # httpx refuses the header, naming its value (in httpcore's DEBUG log too); the
    # spaces collapsed before the key was taken out of the message
    caplog.set_level(logging.DEBUG)
    with serving() as server:
        status, error = produce_or_abort(server, rows(3), engine, api_key=KEY + "   ")
    texts = shown(status, error, caplog.text)
    assert not leaked(*texts)


@pytest.mark.parametrize("form", ["url", "api_key", "proxy"])
@pytest.mark.parametrize("engine", ENGINES)
def test_credentials_echoed_in_headers_stay_out_of_the_engines_debug_log(
    engine: str, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    # httpcore logs every answer's headers at DEBUG, and a status line it cannot read
    async def echo(exchange: Exchange) -> None:
        said = " ".join(
            exchange.request.headers.get(name) or ""
            for name in ("authorization", "proxy-authorization")
        )
        if exchange.number % 2:
            exchange.send(f"HTTP/1.1 2x0 {said}\r\nContent-Length: 0\r\n\r\n".encode())
        else:
            exchange.send(answer(400, b'{"error":{"message":"no"}}', headers={"X-Echo": said}))

    caplog.set_level(logging.DEBUG)
    with serving(echo) as server:
        options = {
            "api_key": None,
            **credentials_for("url" if form == "url" else "api_key", server),
        }
        if form == "proxy":
            options["proxy"] = server.url.replace("http://", "http://user:p%40ss@")
        produce_or_abort(server, rows(4), engine, retries=0, **options)
    assert server.count == 4
    assert not leaked(caplog.text)


# -- 7. a misbehaving IAM endpoint --------------------------------------------------------

IAM_ANSWERS: dict[str, bytes] = {
    "200-not-json": answer(200, b"<html>token service</html>"),
    "200-no-access-token": answer(200, b'{"token_type":"Bearer","expires_in":3600}'),
    "200-token-with-newline": answer(200, b'{"access_token":"abc\\ndef","expires_in":3600}'),
    "200-token-not-a-string": answer(200, b'{"access_token":12345}'),
    "200-deeply-nested": answer(200, b"[" * 100_000),
    "200-token-latin1": answer(200, '{"access_token":"abc\xe9"}'.encode()),
    "401": answer(
        401, b'{"errorCode":"BXNIM0415E","errorMessage":"Provided API key could not be found"}'
    ),
    "302": answer(302, headers={"Location": "http://elsewhere/identity/token"}),
}


def iam_and_records(iam_answer: Callable[[Exchange], Awaitable[None]]) -> Handler:
    """IAM under /identity/token, the REST producer API everywhere else."""

    async def handle(exchange: Exchange) -> None:
        if exchange.request.path.startswith("/identity"):
            await iam_answer(exchange)
        else:
            await store_and_answer(exchange)

    return handle


def iam_requests(server: RawServer) -> int:
    return sum(r.path.startswith("/identity") for r in server.requests)


def produce_with_iam(
    server: RawServer, frame: pd.DataFrame, engine: str, **options: Any
) -> tuple[pd.DataFrame, BaseException | None]:
    """``frame`` sent with the API key exchanged at the server's own IAM endpoint."""
    iam_url = server.url + "/identity/token"
    return produce_or_abort(
        server, frame, engine, api_key=KEY, iam=True, iam_url=iam_url, **options
    )


def send_a_token_due_for_renewal(exchange: Exchange, **claims: Any) -> None:
    """One hour's token, its renewal due in 0.2 s and 12 minutes left after that."""
    now = time.time()
    token = jwt({"iat": now - 2879.8, "exp": now + 720.2, **claims})
    exchange.send(answer(200, json.dumps({"access_token": token}).encode()))


@pytest.mark.parametrize("shape", list(IAM_ANSWERS))
@pytest.mark.parametrize("engine", ENGINES)
def test_a_misbehaving_iam_endpoint_is_an_authentication_error(engine: str, shape: str) -> None:
    async def iam(exchange: Exchange) -> None:
        exchange.send(IAM_ANSWERS[shape])

    with serving(iam_and_records(iam)) as server:
        started = time.monotonic()
        with pytest.raises(es_pandas.ProduceError) as raised:
            produce(
                server,
                rows(100),
                engine,
                api_key=KEY,
                iam=True,
                iam_url=server.url + "/identity/token",
            )
        assert time.monotonic() - started < QUICK_SECONDS
    error = raised.value
    assert type(error) is es_pandas.AuthenticationError, repr(error)
    assert error.status["status"].value_counts()[["failed", "not_sent"]].tolist() == [3, 97]
    assert server.count == iam_requests(server) == 3  # no record without a token
    assert not leaked(*exception_texts(error))


@pytest.mark.parametrize("engine", ENGINES)
def test_an_iam_endpoint_echoing_the_api_key_does_not_leak_it(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    # in its message and in a header, which httpcore logs at DEBUG: the key went in
    # the request's form body, not in a header
    async def echo(exchange: Exchange) -> None:
        form = exchange.request.body.decode()
        said = {"errorCode": "BXNIM0415E", "errorMessage": f"no such API key in {form}"}
        exchange.send(answer(400, json.dumps(said).encode(), headers={"X-Echo": form}))

    caplog.set_level(logging.DEBUG)
    with serving(iam_and_records(echo)) as server, pytest.raises(es_pandas.ProduceError) as raised:
        produce(
            server, rows(10), engine, api_key=KEY, iam=True, iam_url=server.url + "/identity/token"
        )
    assert isinstance(raised.value, es_pandas.AuthenticationError)
    assert not leaked(*exception_texts(raised.value), caplog.text)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_iam_endpoint_echoing_the_api_key_cut_short_leaves_no_part_of_it(engine: str) -> None:
    async def echo(exchange: Exchange) -> None:
        # the message is cut at 300 characters, 4 into the key
        said = {"errorCode": "BXNIM0415E", "errorMessage": "k" * 283 + " " + KEY}
        exchange.send(answer(400, json.dumps(said).encode()))

    with serving(iam_and_records(echo)) as server:
        _, error = produce_with_iam(server, rows(5), engine)
    assert isinstance(error, es_pandas.AuthenticationError)
    assert not [text for text in exception_texts(error) if "s3cr" in text]


def jwt(claims: dict[str, float]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{payload}.signature"


@pytest.mark.parametrize("engine", ENGINES)
def test_an_already_expired_iam_token_is_not_exchanged_for_every_row(engine: str) -> None:
    async def skewed(exchange: Exchange) -> None:
        now = time.time()
        # exp in the past by the client's clock, with a normal one-hour lifetime
        grant = {"access_token": jwt({"iat": now - 3700, "exp": now - 100}), "expires_in": 3600}
        exchange.send(answer(200, json.dumps(grant).encode()))

    with serving(iam_and_records(skewed)) as server:
        status = produce(
            server, rows(100), engine, api_key=KEY, iam=True, iam_url=server.url + "/identity/token"
        )
    assert (status["status"] == "ok").all()
    assert iam_requests(server) <= 5, f"{iam_requests(server)} IAM exchanges for 100 rows"


@pytest.mark.parametrize("engine", ENGINES)
def test_iam_unreachable_when_renewing_after_a_401(engine: str) -> None:
    exchanges = 0

    async def handle(exchange: Exchange) -> None:
        nonlocal exchanges
        if exchange.request.path.startswith("/identity"):
            exchanges += 1
            if exchanges == 1:
                exchange.send(answer(200, b'{"access_token":"token-1","expires_in":3600}'))
            else:
                exchange.close = True  # IAM gone: the connection closes unanswered
        elif row_of(exchange.request.body) == 20:
            exchange.send(answer(401, b'{"error":{"message":"token expired"}}'))
        else:
            await store_and_answer(exchange)

    with serving(handle) as server:
        status, error = produce_with_iam(
            server,
            rows(200),
            engine,
            concurrency=4,
        )
    # The refused row fails with its 401 and says why; the others, whose token still
    # works, go on (a token refused everywhere would stop the run after fail_after rows).
    # IAM answered once in this run: gone now, it is down (try later), not misaddressed
    assert error is None or isinstance(error, es_pandas.ServiceUnavailable), repr(error)
    assert status["status"][20] == "failed" and status["http_status"][20] == 401
    assert "IAM" in status["error"][20]


@pytest.mark.parametrize("blip", ["connection-closed", "503"])
@pytest.mark.parametrize("engine", ENGINES)
def test_one_iam_blip_is_retried_like_any_request(engine: str, blip: str) -> None:
    exchanges = 0

    async def iam(exchange: Exchange) -> None:
        nonlocal exchanges
        exchanges += 1
        if exchanges > 1:
            exchange.send(answer(200, b'{"access_token":"token-1","expires_in":3600}'))
        elif blip == "503":
            exchange.send(answer(503, b"busy", headers={"Retry-After": "0"}))
        else:
            exchange.close = True

    with serving(iam_and_records(iam)) as server:
        status, error = produce_with_iam(server, rows(50), engine)
    assert error is None, str(error)
    assert (status["status"] == "ok").all(), status["error"].dropna().tolist()[:1]


@pytest.mark.parametrize("engine", ENGINES)
def test_iam_down_at_renewal_leaves_a_valid_token_in_use(engine: str) -> None:
    """Renewing at 80% of a token's life is early on purpose: an IAM down then costs
    no row while the token in hand still works (a nightly load's one-hour token, 12
    minutes left), as IBM's SDK keeps its token when a renewal fails."""
    exchanges = 0

    async def iam(exchange: Exchange) -> None:
        nonlocal exchanges
        exchanges += 1
        if exchanges > 1:
            exchange.send(answer(503, b"busy", headers={"Retry-After": "0"}))
            return
        send_a_token_due_for_renewal(exchange)

    with serving(iam_and_records(iam)) as server:
        status, error = produce_with_iam(
            server,
            rows(100),
            engine,
            max_rate=100,
        )
    assert exchanges > 1  # the renewal was tried
    assert error is None, str(error)
    assert (status["status"] == "ok").all(), status["error"].dropna().tolist()[:1]


@pytest.mark.parametrize("engine", ENGINES)
def test_rows_go_with_the_valid_token_while_another_renews_it(engine: str) -> None:
    """Every row waited on the renewal: with IAM slow or retried (Retry-After), a run
    whose token still worked stood still for as long."""
    exchanges = 0
    others_went = False

    async def iam(exchange: Exchange) -> None:
        nonlocal exchanges, others_went
        exchanges += 1
        if exchanges == 2:
            # the renewal: answered once 20 more rows went (an event), or after 30 s
            def records() -> int:
                return len(exchange.server.requests) - iam_requests(exchange.server)

            wanted, deadline = records() + 20, time.monotonic() + 30
            while records() < wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            others_went = records() >= wanted
        send_a_token_due_for_renewal(exchange, n=exchanges)

    with serving(iam_and_records(iam)) as server:
        status, error = produce_with_iam(
            server,
            rows(200),
            engine,
            max_rate=100,
        )
    assert error is None, str(error)
    assert (status["status"] == "ok").all()
    assert others_went


@pytest.mark.parametrize("engine", ENGINES)
def test_an_echo_of_the_token_renewed_meanwhile_does_not_leak_it(engine: str) -> None:
    """A row sent with the token in hand and answered once another row has renewed it:
    its echo of the old token, valid for minutes more, was no longer taken out."""
    renewed = asyncio.Event()  # on the server's loop
    sent_with: list[str] = []

    async def handle(exchange: Exchange) -> None:
        if exchange.request.path.startswith("/identity"):
            send_a_token_due_for_renewal(exchange, n=iam_requests(exchange.server))
            if iam_requests(exchange.server) == 2:
                renewed.set()
        elif row_of(exchange.request.body) == 5:
            said = exchange.request.headers.get("authorization") or ""
            sent_with.append(said.removeprefix("Bearer "))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(renewed.wait(), 10)
            exchange.send(answer(400, json.dumps({"error": {"message": f"no: {said}"}}).encode()))
        else:
            await store_and_answer(exchange)

    with serving(handle) as server:
        status, error = produce_with_iam(server, rows(200), engine, max_rate=100)
    assert error is None and renewed.is_set()
    assert status["status"][5] == "failed" and "<redacted>" in status["error"][5]
    texts = [status.to_string(), repr(status.to_dict("records"))]
    assert not [text for text in texts if sent_with[0] in text]


@pytest.mark.parametrize(
    ("code", "stops"), [(503, "ServiceUnavailable"), (400, "AuthenticationError")]
)
@pytest.mark.parametrize("engine", ENGINES)
def test_iam_down_is_not_refused_credentials(engine: str, code: int, stops: str) -> None:
    """An IAM that keeps answering 503 is down (retried, then the run stops naming IAM,
    a failure to try again later); a 400 is the key refused, at once."""
    exchanges = 0

    async def iam(exchange: Exchange) -> None:
        nonlocal exchanges
        exchanges += 1
        exchange.send(answer(code, b"busy", headers={"Retry-After": "0"}))

    with serving(iam_and_records(iam)) as server:
        status, error = produce_with_iam(server, rows(50), engine)
    assert type(error).__name__ == stops, repr(error)
    if code == 503:
        assert f"IAM at {server.url}/identity/token is unavailable" in str(error)
        assert exchanges == 1 + FAST.retries  # retried as a row is, then the run stops
    else:
        assert exchanges == 3  # one per row, never retried: fail_after rows stop the run
    assert KEY not in str(error) and not status["error"].dropna().str.contains(KEY).any()


# -- 8. servers that close, hang or babble ---------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_closes_every_connection_stops_the_run(engine: str) -> None:
    with serving(close_on_accept=True) as server:
        started = time.monotonic()
        with pytest.raises(es_pandas.ConnectionFailed) as raised:
            produce(server, rows(1000), engine, concurrency=16)
        assert time.monotonic() - started < QUICK_SECONDS
    status = raised.value.status
    assert server.connections <= 3  # the first row's tries, then the run stops
    assert status["status"].value_counts()[["unknown", "not_sent"]].tolist() == [1, 999]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_stops_answering_mid_run_is_unavailable_not_unreachable(
    engine: str,
) -> None:
    """Once it has answered, a server whose connections close unanswered is down (try
    again later), not a wrong address: ServiceUnavailable after fail_after rows."""

    async def dies_after_ten(exchange: Exchange) -> None:
        if row_of(exchange.request.body) < 10:
            await store_and_answer(exchange)
        else:
            exchange.close = True

    with (
        serving(dies_after_ten) as server,
        pytest.raises(es_pandas.ServiceUnavailable, match="stopped answering") as raised,
    ):
        produce(server, rows(1000), engine, concurrency=1)
    counts = raised.value.status["status"].value_counts()
    assert counts["ok"] == 10 and counts["unknown"] == 3 and counts["not_sent"] == 987


@pytest.mark.parametrize(
    "babble", [b"garbage\r\n\r\n", b"\x00\x01\x02 not http", b"HTTP/1.1 2OO OK\r\n\r\n"]
)
@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_answering_garbage_stops_the_run(engine: str, babble: bytes) -> None:
    async def garbage(exchange: Exchange) -> None:
        exchange.send(babble)
        exchange.close = True

    with serving(garbage) as server:
        started = time.monotonic()
        with pytest.raises(es_pandas.ConnectionFailed) as raised:
            produce(server, rows(1000), engine, concurrency=16)
        assert time.monotonic() - started < QUICK_SECONDS
    assert server.count <= 3
    status = raised.value.status
    assert status["status"].value_counts()[["unknown", "not_sent"]].tolist() == [1, 999]
    assert status["error"].dropna().str.len().max() < 1000


@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_that_never_answers_is_not_flooded(engine: str) -> None:
    async def silent(exchange: Exchange) -> None:
        await asyncio.Event().wait()

    retry = es_pandas.Retry(retries=1, backoff=0.01, max_backoff=0.02)
    with serving(silent) as server:
        status, _ = produce_or_abort(
            server, rows(24), engine, timeout=0.3, retries=retry, concurrency=4
        )
    assert set(status["status"]) <= {"unknown", "not_sent"}  # never ok, never failed
    # fail_after rows time out in a row, plus what was in flight, each tried twice.
    assert server.count <= (3 + 4) * 2, f"{server.count} requests to a server that never answers"


# -- 9. a progress callable that raises -----------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_raising_progress_callable_is_reported_once(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[es_pandas.ProgressEvent] = []

    def progress(event: es_pandas.ProgressEvent) -> None:
        calls.append(event)
        raise RuntimeError("a bug in the progress callable")

    async def slowish(exchange: Exchange) -> None:
        await asyncio.sleep(0.002)  # a run long enough for several progress ticks
        await store_and_answer(exchange)

    caplog.set_level(logging.WARNING)
    with serving(slowish) as server:
        status = produce(
            server,
            rows(1000 if engine == "aiohttp" else 300),
            engine,
            progress=progress,
            concurrency=4,
        )
    assert (status["status"] == "ok").all()
    offsets_match_storage(status, server)
    reports = [r for r in warnings_of(caplog) if "progress" in r.getMessage()]
    assert len(reports) == 1 and len(calls) == 1


class BreakingStream(io.StringIO):
    """stderr that breaks after its first write: a closed pipe, a full disk."""

    def write(self, text: str) -> int:
        if self.tell():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text or " ")

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("engine", ENGINES)
def test_a_progress_bar_that_cannot_be_drawn_never_loses_the_run(
    engine: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slowish(exchange: Exchange) -> None:
        await asyncio.sleep(0.002)  # a run long enough for several progress ticks
        await store_and_answer(exchange)

    caplog.set_level(logging.WARNING)
    with serving(slowish) as server:
        monkeypatch.setattr(sys, "stderr", BreakingStream())
        try:
            status = produce(server, rows(300), engine, progress=True, concurrency=4)
        finally:
            monkeypatch.undo()
    assert (status["status"] == "ok").all()
    offsets_match_storage(status, server)
    reports = [r for r in warnings_of(caplog) if "progress" in r.getMessage()]
    assert len(reports) == 1


# -- 10. a custom engine outside the contract ------------------------------------------------


class BrokenOnFifth(AsyncTransport):
    """A real engine that misbehaves on the 5th request, after the server got it."""

    inner_engine = "aiohttp"
    misdeed = "raise"

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self.inner = build_transport(self.inner_engine, config)  # type: ignore[arg-type]
        self.sent = itertools.count(1)

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        number = next(self.sent)
        answered = await self.inner.send(method, url, headers, body)
        if number != 5:
            return answered
        if self.misdeed == "raise":
            raise ValueError("a bug in a custom engine")
        if self.misdeed == "hang":
            await asyncio.Event().wait()  # never ends the request, timeout or not
        return None  # type: ignore[return-value]

    async def aclose(self) -> None:
        await self.inner.aclose()


def broken(engine: str, misdeed: str) -> type[BrokenOnFifth]:
    return type(
        f"Broken{engine.title()}", (BrokenOnFifth,), {"inner_engine": engine, "misdeed": misdeed}
    )


@pytest.mark.parametrize(
    ("engine", "misdeed"),
    [(e, misdeed) for e in ENGINES for misdeed in ("raise", "returns-None", "hang")],
)
def test_a_custom_engine_outside_the_contract_never_loses_a_row(engine: str, misdeed: str) -> None:
    with serving() as server:
        with pytest.raises(es_pandas.ProduceError) as raised:
            # a hung request counts as one outside the contract after twice the timeout
            timeout = {"timeout": 0.5} if misdeed == "hang" else {}
            produce(server, rows(300), broken(engine, misdeed), concurrency=8, **timeout)
        stored = server.stored_rows()
    error = raised.value
    assert isinstance(error, es_pandas.ProduceAborted)
    if misdeed == "raise":
        # the engine's own exception, with its traceback, for whoever debugs the engine
        assert isinstance(error.__cause__, ValueError)
    if misdeed == "hang":
        assert "did not end a request within 1s (twice the timeout" in str(error)
    status = error.status
    assert len(stored) >= 5
    outcomes = status["status"].iloc[stored]
    assert outcomes.isin(["ok", "unknown"]).all(), outcomes[~outcomes.isin(["ok", "unknown"])]
    # and nothing is ok that the server did not store
    assert set(status.index[status["status"] == "ok"]) <= set(stored)


class BadAtClosing(BrokenOnFifth):
    """A real engine that sends everything right, then fails to close."""

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        return await self.inner.send(method, url, headers, body)

    async def aclose(self) -> None:
        await self.inner.aclose()
        raise RuntimeError("a bug in a custom engine's aclose")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_custom_engine_failing_to_close_never_loses_the_status(engine: str) -> None:
    transport = type(f"BadAtClosing{engine.title()}", (BadAtClosing,), {"inner_engine": engine})
    with serving() as server:
        try:
            status = produce(server, rows(50), transport)
        except es_pandas.ProduceError as exc:
            status = exc.status
    assert (status["status"] == "ok").all()
    offsets_match_storage(status, server)


# -- extra: what a run-level answer leaves in the frame -------------------------------------


@pytest.mark.parametrize("code", [401, 403, 404, 308])
@pytest.mark.parametrize("engine", ENGINES)
def test_rows_ended_by_a_run_level_answer_keep_its_http_status(engine: str, code: int) -> None:
    async def run_level(exchange: Exchange) -> None:
        exchange.send(answer(code, b"{}", headers={"Location": "http://elsewhere/"}))

    with serving(run_level) as server, pytest.raises(es_pandas.ProduceAborted) as raised:
        produce(server, rows(10), engine)
    # <NA> (never answered) reads as 0 here, so the comparison stays a plain bool.
    assert raised.value.status["http_status"].head(3).fillna(0).tolist() == [code] * 3


# -- extra: IBM's error details from a server es_pandas has not met ---------------------------

GTID = "x-global-transaction-id"


def details(exchange: Exchange) -> dict[str, str]:
    """A header naming the request by its number, as IBM Cloud's edge does."""
    return {"Content-Type": "application/json", GTID: f"gtid-{exchange.number}"}


@pytest.mark.parametrize("engine", ENGINES)
def test_the_transaction_id_header_is_the_trace_when_the_body_has_none(engine: str) -> None:
    async def by_row(exchange: Exchange) -> None:
        row = row_of(exchange.request.body)
        if row == 1:  # a gateway's page, retried until the tries run out
            exchange.send(answer(502, b"<html>bad gateway</html>", headers=details(exchange)))
        elif row == 2:  # an id in the body and in the header: the body's
            body = {"trace": f"body-{exchange.number}", "error": {"message": "no", "code": "c"}}
            exchange.send(answer(400, json.dumps(body).encode(), headers=details(exchange)))
        elif row == 3:  # no id anywhere
            exchange.send(answer(400, b"no"))
        else:
            await store_and_answer(exchange)

    with serving(by_row) as server:
        status = produce(server, rows(4), engine, concurrency=1)
    numbers = {
        row: [n for n, r in enumerate(server.requests) if row_of(r.body) == row] for row in (1, 2)
    }
    assert status["status"].tolist() == ["ok", "unknown", "failed", "failed"]
    assert len(numbers[1]) == 3  # the last of its tries' answers names the row
    assert status["trace"].tolist()[1:3] == [f"gtid-{numbers[1][-1]}", f"body-{numbers[2][0]}"]
    assert status["trace"].isna().tolist() == [True, False, False, True]
    assert status["error"][2] == "HTTP 400: no (c)"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_stopped_by_answers_with_only_the_header_quotes_it(engine: str) -> None:
    async def refuse_with_an_id(exchange: Exchange) -> None:
        body = b'{"error":{"message":"credentials refused"}}'
        exchange.send(answer(401, body, headers=details(exchange)))

    with (
        serving(refuse_with_an_id) as server,
        pytest.raises(es_pandas.AuthenticationError) as raised,
    ):
        produce(server, rows(50), engine)
    assert server.count == 3
    assert raised.value.status["trace"].head(3).tolist() == ["gtid-0", "gtid-1", "gtid-2"]
    message = str(raised.value)
    assert "\n" not in message
    assert (
        "HTTP 401: credentials refused (trace gtid-2: give it to IBM support); stopped" in message
    )


@pytest.mark.parametrize("status_code", [400, 401])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_server_echoing_the_credential_as_its_trace_does_not_leak_it(
    engine: str, status_code: int
) -> None:
    async def echo(exchange: Exchange) -> None:
        said = exchange.request.headers.get("authorization") or ""
        # 400 ends rows on the body's ids; 401 stops the run on the header's
        body = {"error": {"message": "no", "incident": said}} if status_code == 400 else {}
        exchange.send(answer(status_code, json.dumps(body).encode(), headers={GTID: said}))

    with serving(echo) as server:
        status, error = produce_or_abort(server, rows(5), engine, api_key=KEY)
    traces = status["trace"].dropna().tolist()
    assert traces and all(trace.endswith("<redacted>") for trace in traces)
    texts = shown(status, error)
    assert not leaked(*texts)
    if error is not None:
        assert f"(trace {traces[-1]}: give it to IBM support)" in str(error)


COMMENT = "schema orders-v1 is deprecated: move to orders-v2 by June"


async def deprecated_schema(exchange: Exchange) -> None:
    """v1.1.0's success answer for a deprecated schema: the metadata and a Comment (which
    here also echoes the credential, to show it is taken out)."""
    offset = exchange.server.store(exchange.request.body)
    sent = exchange.request.headers.get("authorization")
    body = json.loads(metadata(offset)) | {"Comment": f"{COMMENT} (you sent {sent})"}
    headers = {"Content-Type": "application/json"}
    exchange.send(answer(200, json.dumps(body).encode(), headers=headers))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_comment_on_success_answers_is_said_once_per_run(
    engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "es_pandas")
    with serving(deprecated_schema) as server:
        status = produce(server, rows(300), engine, api_key=KEY)
    assert (status["status"] == "ok").all() and status["trace"].isna().all()
    offsets_match_storage(status, server)
    (warned,) = warnings_of(caplog)
    message = warned.getMessage()
    assert f"{COMMENT} (you sent " in message and "<redacted>)" in message
    assert "once per run" in message
    assert not leaked(message)


def test_a_comment_on_success_answers_is_shown_once_by_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    rows(50).to_csv(data, index=False)
    with serving(deprecated_schema) as server:
        result = run_cli(data, {"ES_PANDAS_URL": server.url, "ES_PANDAS_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(COMMENT) == 1
    assert not leaked(result.stderr, result.stdout)
