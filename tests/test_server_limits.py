"""A server that a careless or hostile client cannot take down: request bodies are read
up to a limit and no further."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import httpx
import pytest

from es_pandas import LocalEventStreams

from .conftest import API_KEY

LIMIT = 1000


@pytest.fixture(scope="module")
def quick() -> Iterator[LocalEventStreams]:
    """A 1000-byte body limit."""
    with LocalEventStreams(
        topics={"t": 1}, api_key=API_KEY, max_request_bytes=LIMIT, max_value_bytes=LIMIT
    ) as es:
        yield es


def connect(es: LocalEventStreams, data: bytes = b"") -> socket.socket:
    # The timeout is a safety net: every wait here ends on the server's doing first.
    sock = socket.create_connection(("127.0.0.1", es.port), timeout=30)
    sock.sendall(data)
    return sock


def answer(sock: socket.socket) -> tuple[int, str]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.read().decode()


HEAD = "{} {} HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer " + API_KEY + "\r\n"

# Every route that reads a body, what it answers past the limit, and in whose words
BODY_ROUTES = [
    ("POST", "/topics/t/records", "text/plain", 400, "http: request body too large"),
    ("POST", "/v2/topics/t/records", "application/json", 400, "http: request body too large"),
    ("POST", "/identity/token", "application/x-www-form-urlencoded", 400, "1000-byte limit"),
    ("POST", "/_local/topics", "application/json", 413, "1000-byte limit"),
    ("PUT", "/_local/faults", "application/json", 413, "1000-byte limit"),
    ("POST", "/_local/faults/script", "application/json", 413, "1000-byte limit"),
]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize(("method", "path", "content_type", "status", "message"), BODY_ROUTES)
def test_every_route_stops_reading_a_body_at_the_limit(
    quick, framing, method, path, content_type, status, message
) -> None:
    head = HEAD.format(method, path) + f"Content-Type: {content_type}\r\n"
    if framing == "content-length":
        # a length over the limit is refused before any of the body is sent
        data = head + "Content-Length: 1000000\r\n\r\n"
    else:
        # one byte over, and the body never ends: the answer cannot wait for it
        data = head + f"Transfer-Encoding: chunked\r\n\r\n{LIMIT + 1:x}\r\n" + "x" * (LIMIT + 1)
    with connect(quick, data.encode()) as sock:
        got, body = answer(sock)
    assert got == status
    assert message in body


def test_a_body_within_the_limit_is_read(quick) -> None:
    with httpx.Client(base_url=quick.url, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        assert c.post("/_local/faults/script", json={"actions": ["ok"] * 100}).status_code == 200
        assert c.post("/_local/faults/script", json={"actions": ["ok"] * 200}).status_code == 413
