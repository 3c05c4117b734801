"""Each engine against a raw socket server that answers with exact bytes, for the HTTP
details the local server never exercises: chunked bodies, Connection: close, garbage,
silence and refusal. Every engine must map them the same way."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from es_pandas import ConnectError, RemoteProtocolError, TimeoutError
from es_pandas._transports import build_transport

from .conftest import ENGINES, free_port

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After: 7\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)
CLOSE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"


async def _raw_server(answers: list[bytes | None]):
    """Answers each request (read up to its blank line and body) with the next bytes;
    None closes the connection without answering, b"" never answers."""
    queue = list(answers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while queue:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                answer = queue.pop(0)
                if answer is None:
                    break
                if answer == b"":
                    await asyncio.sleep(5)
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _exchange(engine: str, answers: list[bytes | None], requests: int, timeout=5.0):
    server = await _raw_server(answers)
    port = server.sockets[0].getsockname()[1]
    transport = build_transport(engine, connections=4, timeout=timeout)
    results = []
    try:
        for _ in range(requests):
            try:
                results.append(
                    await transport.send(
                        "POST",
                        f"http://127.0.0.1:{port}/topics/t/records",
                        {"X-Test": "1"},
                        b"body",
                    )
                )
            except Exception as exc:  # the outcome under test
                results.append(exc)
    finally:
        await transport.aclose()
        server.close()
        await server.wait_closed()
    return results


@pytest.mark.parametrize("engine", ENGINES)
def test_chunked_answers_and_headers(engine: str) -> None:
    (answer,) = asyncio.run(_exchange(engine, [CHUNKED], 1))
    assert answer.status == 200
    assert answer.body == b"hello world"
    assert answer.headers["retry-after"] == "7"


@pytest.mark.parametrize("engine", ENGINES)
def test_connection_close_then_a_fresh_connection(engine: str) -> None:
    first, second = asyncio.run(_exchange(engine, [CLOSE, CHUNKED], 2))
    assert (first.status, first.body) == (503, b"busy")
    # the server closed after the first answer: the second request goes out on a new
    # connection rather than failing on the closed one
    assert (second.status, second.body) == (200, b"hello world")


@pytest.mark.parametrize("engine", ENGINES)
def test_connection_dropped_before_the_answer_is_ambiguous(engine: str) -> None:
    (error,) = asyncio.run(_exchange(engine, [None], 1))
    assert isinstance(error, RemoteProtocolError)
    assert error.sent


@pytest.mark.parametrize("engine", ENGINES)
def test_garbage_is_a_protocol_error(engine: str) -> None:
    (error,) = asyncio.run(_exchange(engine, [b"NOT HTTP AT ALL\r\n\r\n"], 1))
    assert isinstance(error, RemoteProtocolError)


@pytest.mark.parametrize("engine", ENGINES)
def test_silence_is_a_timeout(engine: str) -> None:
    (error,) = asyncio.run(_exchange(engine, [b""], 1, timeout=0.3))
    assert isinstance(error, TimeoutError)
    assert error.sent


@pytest.mark.parametrize("engine", ENGINES)
def test_refused_connection_was_not_sent(engine: str) -> None:
    async def refused():
        transport = build_transport(engine, connections=1, timeout=2)
        try:
            return await transport.send("POST", f"http://127.0.0.1:{free_port()}/x", {}, b"b")
        except Exception as exc:
            return exc
        finally:
            await transport.aclose()

    error = asyncio.run(refused())
    assert isinstance(error, ConnectError)
    assert not error.sent
