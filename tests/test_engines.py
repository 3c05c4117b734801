"""The engine conformance suite: every engine, the same tests, real sockets.

Each test runs against servers that answer with exact bytes (for the HTTP details the
local server never produces), TLS servers with trustme certificates, and a real
forward proxy process (proxy.py). An engine passes only if it honours the whole
transport contract in es_pandas/_transports/_base.py the same way as the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import socket
import ssl
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from es_pandas._outcomes import Attempts, decide
from es_pandas._retry import Retry
from es_pandas._status import UNKNOWN
from es_pandas._transports import CLOSED_UNANSWERED, build_transport
from es_pandas._wire import parse_error
from es_pandas.transports import (
    ConnectError,
    ConnectTimeout,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TLSError,
    TransportConfig,
    TransportError,
)

from .conftest import ENGINES, PKI, free_port

pytestmark = pytest.mark.parametrize("engine", ENGINES)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request, head and Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


def answering(*answers: bytes, close: bool = False) -> Handler:
    """A handler answering successive requests on a connection with ``answers``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            for answer in answers:
                await read_request(reader)
                writer.write(answer)
                await writer.drain()
            if not close:
                await reader.read()  # keep the connection until the client closes it
        writer.close()

    return handle


@contextlib.asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


async def exchange(
    engine: str, url: str, config: TransportConfig | None = None, requests: int = 1
) -> list[Response | TransportError]:
    transport = build_transport(engine, config or TransportConfig(timeout=5))
    results: list[Response | TransportError] = []
    try:
        for _ in range(requests):
            try:
                results.append(
                    await transport.send(
                        "POST", url + "/topics/t/records", {"Content-Type": "text/plain"}, b"body"
                    )
                )
            except TransportError as exc:
                results.append(exc)
    finally:
        await transport.aclose()
    return results


def run(engine: str, handler: Handler, **config: object) -> Response | TransportError:
    async def main() -> Response | TransportError:
        async with serving(handler) as url:
            (result,) = await exchange(engine, url, TransportConfig(**config))  # type: ignore[arg-type]
            return result

    return asyncio.run(main())


# -- answers -------------------------------------------------------------------------


def test_chunked_answers_and_headers(engine: str) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    answer = run(engine, answering(chunked))
    assert isinstance(answer, Response)
    assert (answer.status, answer.body, answer.headers["retry-after"]) == (200, b"hello world", "7")


def test_close_delimited_answers(engine: str) -> None:
    answer = run(engine, answering(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", close=True))
    assert isinstance(answer, Response) and answer.body == b"until the end"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        # gzip's other name, which a recipient takes as gzip (RFC 9110, 8.4.1.3)
        ("x-gzip", gzip.compress),
        # codings in the order they were applied
        ("identity, gzip", gzip.compress),
        ("deflate, gzip", lambda body: gzip.compress(zlib.compress(body))),
        ("gzip\r\nContent-Encoding: gzip", lambda body: gzip.compress(gzip.compress(body))),
    ],
    ids=["gzip", "deflate", "x-gzip", "identity-gzip", "deflate-gzip", "two-headers"],
)
def test_compressed_answers_are_decoded(engine: str, encoding: str, compress) -> None:
    body = compress(b'{"metadata":{"partition":2,"offset":7}}')
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
    answer = run(engine, answering(head.encode() + body))
    assert isinstance(answer, Response)
    assert answer.body == b'{"metadata":{"partition":2,"offset":7}}'


@pytest.mark.parametrize("informational", [b"100 Continue", b"103 Early Hints\r\nLink: </a>"])
def test_1xx_answers_are_never_final(engine: str, informational: bytes) -> None:
    answer = run(engine, answering(b"HTTP/1.1 " + informational + b"\r\n\r\n" + OK))
    assert isinstance(answer, Response) and (answer.status, answer.body) == (200, b"ok")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(engine: str, status: int) -> None:
    followed = []

    async def elsewhere(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        followed.append(await reader.read(100))
        writer.close()

    async def main() -> Response | TransportError:
        async with serving(elsewhere) as target:
            redirect = (
                f"HTTP/1.1 {status} Moved\r\nLocation: {target}/v2/topics/t/records\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            async with serving(answering(redirect)) as url:
                (result,) = await exchange(engine, url)
                return result

    answer = asyncio.run(main())
    assert isinstance(answer, Response) and answer.status == status
    assert "location" in answer.headers
    assert followed == []  # no request, and so no credential, went to the other place


def test_the_answer_size_is_capped(engine: str) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" + b"x" * 3_000_000
    error = run(engine, answering(big), max_answer_bytes=1_000_000)
    assert isinstance(error, RemoteProtocolError) and error.sent
    assert "larger than" in str(error)


def test_the_cap_counts_decoded_bytes(engine: str) -> None:
    bomb = gzip.compress(b"0" * 5_000_000)  # a few KB on the wire
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n"
    error = run(engine, answering(head.encode() + bomb), max_answer_bytes=1_000_000)
    assert isinstance(error, RemoteProtocolError)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip"])
def test_a_compression_bomb_is_never_decoded_far_past_the_cap(engine: str, encoding: str) -> None:
    # 200 MB of zeros in 200 KB: decoded a network read at a time, one read alone
    # would be some 60 MB; the cap is 1 MB
    bomb = (
        zlib.compress(b"\0" * 200_000_000, 9)
        if encoding == "deflate"
        else gzip.compress(b"\0" * 200_000_000, 9)
    )
    if encoding == "gzip, gzip":
        bomb = gzip.compress(bomb, 9)
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(bomb)}\r\n\r\n"
    tracemalloc.start()
    try:
        error = run(engine, answering(head.encode() + bomb), max_answer_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(error, RemoteProtocolError) and "larger than" in str(error)
    assert peak < 12_000_000, f"{peak:,} bytes held to refuse a 1 MB answer"


# -- failures and the sent flag ---------------------------------------------------------


def test_refused_connection_was_not_sent(engine: str) -> None:
    (error,) = asyncio.run(exchange(engine, f"http://127.0.0.1:{free_port()}"))
    assert isinstance(error, ConnectError) and not error.sent


def test_a_connection_that_cannot_be_made_in_time_was_not_sent(engine: str) -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so
    # connecting hangs until the client gives up.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        try:
            (error,) = asyncio.run(
                exchange(engine, f"http://127.0.0.1:{port}", TransportConfig(timeout=0.5))
            )
        finally:
            for filler in fillers:
                filler.close()
    assert isinstance(error, ConnectTimeout) and not error.sent


def test_a_silent_server_times_out_and_may_have_the_request(engine: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up

    started = time.monotonic()
    error = run(engine, silent, timeout=0.5)
    assert isinstance(error, ResponseTimeout) and error.sent
    assert time.monotonic() - started < 5


def test_the_timeout_bounds_the_whole_request_not_each_read(engine: str) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for _ in range(100):  # one byte every 0.1 s: each read is quick, the whole is not
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)

    started = time.monotonic()
    error = run(engine, trickle, timeout=1.0)
    assert isinstance(error, ResponseTimeout)
    assert time.monotonic() - started < 5


def test_each_request_in_flight_has_its_own_deadline(engine: str) -> None:
    # Two requests the server never answers, the second started well after the first,
    # and quick ones in between: each silent one times out a whole timeout after it
    # started (not when the first one's deadline passes), the others are answered.
    timeout, later = 0.6, 0.3
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                request = await read_request(reader)
                await seen.put(request)
                if b"/topics/silent/" in request:
                    await reader.read()  # until the client gives up
                    break
                writer.write(OK)
                await writer.drain()
        writer.close()

    async def main() -> list[tuple[Response | TransportError, float]]:
        async with serving(handle) as url:
            transport = build_transport(engine, TransportConfig(timeout=timeout))
            loop = asyncio.get_running_loop()

            async def send(topic: str) -> tuple[Response | TransportError, float]:
                started = loop.time()
                try:
                    result: Response | TransportError = await transport.send(
                        "POST", f"{url}/topics/{topic}/records", {}, b"body"
                    )
                except TransportError as exc:
                    result = exc
                return result, loop.time() - started

            try:
                first = asyncio.ensure_future(send("silent"))
                await seen.get()
                quick = [await send("quick") for _ in range(3)]
                await asyncio.sleep(later)
                second = asyncio.ensure_future(send("silent"))
                return [await first, *quick, await second]
            finally:
                await transport.aclose()

    first, *quick, second = asyncio.run(main())
    assert all(isinstance(answer, Response) and answer.status == 200 for answer, _ in quick)
    for error, lasted in (first, second):
        assert isinstance(error, ResponseTimeout) and error.sent
        assert timeout - 0.05 <= lasted < timeout + 2


def test_a_connection_dropped_after_the_request_may_have_written_it(engine: str) -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.abort()  # reset, no answer

    error = run(engine, drop)
    assert isinstance(error, RemoteProtocolError) and error.sent


def test_a_connection_closed_without_an_answer_reads_alike_on_every_engine(engine: str) -> None:
    # as a TLS server closes a plain-HTTP connection: the run's hint asks for https://
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    error = run(engine, close)
    assert isinstance(error, RemoteProtocolError) and error.sent
    assert str(error) == CLOSED_UNANSWERED


def test_garbage_is_a_protocol_error(engine: str) -> None:
    error = run(engine, answering(b"NOT HTTP AT ALL\r\n\r\n"))
    assert isinstance(error, RemoteProtocolError)


def test_a_closed_connection_is_not_reused(engine: str) -> None:
    close = b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"

    async def main() -> list[Response | TransportError]:
        connections = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            await answering(close if connections == 1 else OK, close=True)(reader, writer)

        async with serving(handle) as url:
            return await exchange(engine, url, requests=2)

    first, second = asyncio.run(main())
    assert isinstance(first, Response) and first.status == 503
    assert isinstance(second, Response) and second.body == b"ok"


# -- TLS ---------------------------------------------------------------------------------


def server_tls(pki: PKI, *, client_cert: bool = False, tls12: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki.server.configure_cert(context)
    if client_cert:
        pki.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def run_tls(
    engine: str, handler: Handler, tls: ssl.SSLContext, **config: object
) -> Response | TransportError:
    async def main() -> Response | TransportError:
        async with serving(handler, tls) as url:
            (result,) = await exchange(engine, url, TransportConfig(**{"timeout": 5, **config}))  # type: ignore[arg-type]
            return result

    return asyncio.run(main())


def test_tls_with_a_ca_bundle(engine: str, pki) -> None:
    answer = run_tls(engine, answering(OK), server_tls(pki), verify=pki.ca_pem)
    assert isinstance(answer, Response) and answer.status == 200


def test_an_untrusted_certificate_is_a_tls_error_not_sent(engine: str, pki) -> None:
    error = run_tls(engine, answering(OK), server_tls(pki))
    assert isinstance(error, TLSError) and error.kind == "verify" and not error.sent


def test_ssl_cert_file_is_honoured(engine: str, pki, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_pem)
    answer = run_tls(engine, answering(OK), server_tls(pki))
    assert isinstance(answer, Response) and answer.status == 200
    error = run_tls(engine, answering(OK), server_tls(pki), trust_env=False)
    assert isinstance(error, TLSError)


@pytest.mark.parametrize("form", ["one PEM", "certificate and key"])
def test_mutual_tls(engine: str, pki, form: str) -> None:
    cert = pki.client_pem if form == "one PEM" else (pki.client_cert, pki.client_key)
    seen = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peercert"))
        await answering(OK)(reader, writer)

    answer = run_tls(
        engine, handle, server_tls(pki, client_cert=True), verify=pki.ca_pem, cert=cert
    )
    assert isinstance(answer, Response) and answer.status == 200
    assert "producer@example.com" in str(seen)


def test_a_handshake_refused_for_a_missing_client_certificate(engine: str, pki) -> None:
    # TLS 1.2 settles the client certificate inside the handshake: the request never left.
    error = run_tls(
        engine, answering(OK), server_tls(pki, client_cert=True, tls12=True), verify=pki.ca_pem
    )
    assert isinstance(error, TLSError) and error.kind == "handshake" and not error.sent


@contextlib.contextmanager
def alerting_server(context: ssl.SSLContext) -> Iterator[str]:
    """A TLS server on blocking sockets, as OpenSSL-based servers are: a handshake it
    refuses ends with the alert it sends (asyncio's servers close without one). It
    answers every request it accepts with OK."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # shut down
            with (
                contextlib.suppress(OSError),
                connection,
                context.wrap_socket(connection, server_side=True) as tls,
            ):
                received = b""
                # exchange() sends "body"
                while not received.endswith(b"body") and (chunk := tls.recv(4096)):
                    received += chunk
                tls.sendall(OK)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        thread.join()


@pytest.mark.parametrize("tls12", [False, True], ids=["TLS 1.3", "TLS 1.2"])
@pytest.mark.parametrize("cert", [None, "stranger", "expired"])
def test_a_client_certificate_refused_with_an_alert(
    engine: str, pki, tmp_path, cert: str | None, tls12: bool
) -> None:
    """TLS 1.3 settles the client certificate after the client's side of the handshake:
    the alert comes on the first read after the request, or is lost to the reset that
    the unread request causes (then a probe tells). TLS 1.2 settles it in the handshake.
    Either way: the same error, not sent (the server never read the request)."""
    expired = pki.ca.issue_cert(
        "old@example.com",
        not_before=datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC),
        not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    )
    expired.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "expired.pem"))
    given = {None: None, "stranger": pki.stranger_pem, "expired": str(tmp_path / "expired.pem")}
    config = TransportConfig(timeout=5, verify=pki.ca_pem, cert=given[cert])
    with alerting_server(server_tls(pki, client_cert=True, tls12=tls12)) as url:
        (error,) = asyncio.run(exchange(engine, url, config))
        (answer,) = asyncio.run(exchange(engine, url, replace(config, cert=pki.client_pem)))
    assert isinstance(answer, Response) and answer.status == 200
    if tls12 and cert is None:
        # OpenSSL's alert for a missing certificate before TLS 1.3 is a bare
        # handshake_failure, which says nothing of certificates
        assert isinstance(error, TLSError) and error.kind == "handshake" and not error.sent
        return
    assert isinstance(error, TLSError) and error.kind == "client-cert" and not error.sent
    message = str(error)
    assert message.startswith("the server refused the TLS handshake")
    if cert is None:
        assert "requires a client certificate (mutual TLS): pass cert= (--client-cert)" in message
    else:
        assert "with the client certificate given as cert= (--client-cert)" in message
    if "TLS alert" in message:
        why = {None: "mutual TLS", "stranger": "not signed by a CA the server trusts"}
        assert why.get(cert, "it has expired") in message


def test_a_tls_connection_broken_off_for_another_reason_may_have_the_request(
    engine: str, pki
) -> None:
    # The probe finds the server takes this client (its session tickets come at
    # once): the break-off stays what it was, and is known long before the timeout.
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.abort()

    started = time.monotonic()
    error = run_tls(engine, drop, server_tls(pki), verify=pki.ca_pem, timeout=120)
    assert isinstance(error, RemoteProtocolError) and error.sent
    assert time.monotonic() - started < 60


def test_a_reset_during_the_handshake_was_not_sent(engine: str, pki) -> None:
    # "before the request is written": the server resets while TLS is being set up
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    async def main() -> Response | TransportError:
        server = await asyncio.start_server(reset, "127.0.0.1", 0)  # plain TCP, reset at once
        port = server.sockets[0].getsockname()[1]
        try:
            (result,) = await exchange(
                engine, f"https://127.0.0.1:{port}", TransportConfig(timeout=5, verify=pki.ca_pem)
            )
            return result
        finally:
            server.close()

    error = asyncio.run(main())
    assert isinstance(error, ConnectError) and not error.sent


# -- proxies -------------------------------------------------------------------------------


class ForwardProxy:
    """proxy.py in its own process; its access log says which requests went through it."""

    def __init__(self, folder: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "proxy.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--num-workers",
                "1",
                "--num-acceptors",
                "1",
                "--log-file",
                str(self.log),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "proxy.py exited"
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                break
            assert time.monotonic() < deadline, "proxy.py did not start"
            time.sleep(0.05)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def saw(self, text: str) -> bool:
        """Whether the access log has a line with ``text``, waiting for it to be written."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines()):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory) -> Iterator[ForwardProxy]:
    pytest.importorskip("proxy")
    proxy = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


def proxied(
    engine: str, tls: ssl.SSLContext | None, **config: object
) -> tuple[Response | TransportError, int]:
    async def main() -> tuple[Response | TransportError, int]:
        async with serving(answering(OK), tls) as url:
            (result,) = await exchange(engine, url, TransportConfig(timeout=10, **config))  # type: ignore[arg-type]
            return result, int(url.rsplit(":", 1)[1])

    return asyncio.run(main())


def test_an_explicit_proxy_for_http_uses_absolute_form(engine: str, forward_proxy) -> None:
    answer, port = proxied(engine, None, proxy=forward_proxy.url)
    assert isinstance(answer, Response) and answer.status == 200
    assert forward_proxy.saw(f"POST 127.0.0.1:{port}/topics/t/records")


def test_an_explicit_proxy_for_https_uses_a_connect_tunnel(engine: str, forward_proxy, pki) -> None:
    answer, port = proxied(engine, server_tls(pki), proxy=forward_proxy.url, verify=pki.ca_pem)
    assert isinstance(answer, Response) and answer.status == 200
    assert forward_proxy.saw(f"CONNECT 127.0.0.1:{port}")


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_proxies_from_the_environment(engine: str, forward_proxy, monkeypatch, variable) -> None:
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, forward_proxy.url)
    answer, port = proxied(engine, None)
    assert isinstance(answer, Response) and answer.status == 200
    assert forward_proxy.saw(f"POST 127.0.0.1:{port}/topics/t/records")


def test_https_proxy_from_the_environment(engine: str, forward_proxy, pki, monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer, port = proxied(engine, server_tls(pki), verify=pki.ca_pem)
    assert isinstance(answer, Response) and answer.status == 200
    assert forward_proxy.saw(f"CONNECT 127.0.0.1:{port}")


def test_no_proxy_and_trust_env(engine: str, monkeypatch) -> None:
    # The environment names a proxy that is not there: a request that used it would fail.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    answer, _ = proxied(engine, None)
    assert isinstance(answer, ConnectError)
    assert str(answer).startswith("cannot connect to the proxy http://127.0.0.1:")
    assert "(the HTTP_PROXY environment variable)" in str(answer)  # httpx named the server
    for exempt in ("127.0.0.1", "10.0.0.0/8, 127.0.0.0/8"):  # networks as requests, curl
        monkeypatch.setenv("NO_PROXY", exempt)
        answer, _ = proxied(engine, None)
        assert isinstance(answer, Response) and answer.status == 200
    monkeypatch.delenv("NO_PROXY")
    answer, _ = proxied(engine, None, trust_env=False)
    assert isinstance(answer, Response) and answer.status == 200


def test_an_unreachable_proxy_was_not_sent(engine: str) -> None:
    answer, _ = proxied(engine, None, proxy=f"http://127.0.0.1:{free_port()}")
    assert isinstance(answer, ConnectError) and not answer.sent


# -- what the reviews found ------------------------------------------------------------


def test_a_101_is_no_final_answer(engine: str) -> None:
    switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
    answer = run(engine, answering(switching))
    # each engine says it its own way; what counts is that decide() never takes it as final
    decision = decide(
        answer,
        Attempts(made=1),
        Retry(retries=0),
        describe_error=parse_error,
        can_refresh=False,
        credentials=None,
        answered=True,
        url="http://127.0.0.1/topics/t/records",
        check_body=True,
    )
    assert (decision.action, decision.status) == ("final", UNKNOWN)  # never "failed"


def test_a_hung_proxy_tunnel_was_not_sent(engine: str) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads the CONNECT, never answers it

    async def main() -> Response | TransportError:
        async with serving(hang) as proxy_url:
            target = f"https://127.0.0.1:{free_port()}"
            config = TransportConfig(timeout=0.5, proxy=proxy_url)
            (result,) = await exchange(engine, target, config)
            return result

    error = asyncio.run(main())
    assert isinstance(error, ConnectError) and not error.sent


def test_an_https_proxy_is_verified_like_the_server(engine: str, forward_proxy, pki) -> None:
    # proxy.py speaks plain HTTP: an https:// proxy URL to it fails the TLS check
    # (not trusted, or not TLS at all) the same way on every engine, and sends nothing
    answer, _ = proxied(
        engine,
        server_tls(pki),
        proxy=forward_proxy.url.replace("http:", "https:"),
        verify=pki.ca_pem,
    )
    assert isinstance(answer, ConnectError) and not answer.sent
