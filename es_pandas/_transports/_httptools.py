"""A lean HTTP/1.1 keep-alive client on asyncio protocols and httptools (the C parser
uvicorn uses): what the REST producer needs and nothing else, for the least CPU per row.

Only what this API needs: requests with a body and a Content-Length, answers with a
Content-Length or chunked body, keep-alive connections per origin, TLS. Anything the
server does outside that closes the connection and surfaces as a TransportError.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import urlsplit

import httptools

from .._exceptions import ConnectError, ConnectTimeout, RemoteProtocolError, TimeoutError
from ._base import AsyncTransport, Response, ssl_context

__all__ = ["HttptoolsTransport"]

# Servers close idle keep-alive connections (uvicorn after 5 s); reusing one just as it
# closes would turn a good request into an ambiguous one, so older ones are dropped.
_MAX_IDLE_SECONDS = 4.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses each answer as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"malformed answer: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RemoteProtocolError("connection closed before the answer"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Response(self.parser.get_status_code(), self._headers, b"".join(self._body))
            )

    def _fail(self, error: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def expire(self) -> None:
        self._fail(TimeoutError("no answer within the timeout"))
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


@lru_cache(maxsize=64)
def _origin(url_prefix: str) -> tuple[str, str, int, bytes]:
    parts = urlsplit(url_prefix)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    host = parts.hostname or ""
    default = port == (443 if secure else 80)
    host_header = (f"[{host}]" if ":" in host else host) + ("" if default else f":{port}")
    return parts.scheme, host, port, host_header.encode("idna")


class HttptoolsTransport(AsyncTransport):
    """The leanest engine: ~2x less client CPU per row than aiohttp here."""

    def __init__(self, *, connections: int, timeout: float, verify: bool | str = True) -> None:
        self._timeout = timeout
        context = ssl_context(verify)
        if context is True:
            context = ssl.create_default_context()
        elif context is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._ssl = context
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._ssl if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None,
                ),
                self._timeout,
            )
        except asyncio.TimeoutError as exc:
            raise ConnectTimeout(f"timed out connecting to {host}:{port}") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        self._open.add(connection)
        return connection

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < _MAX_IDLE_SECONDS:
                return connection
            connection.abort()
            self._open.discard(connection)
        return None

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        path_start = url.find("/", url.find("//") + 2)
        if path_start < 0:
            path_start = len(url)
        scheme, host, port, host_header = _origin(url[:path_start])
        target = url[path_start:] or "/"
        key = (scheme, host, port)
        connection = self._take_idle(key) or await self._connect(scheme, host, port)
        lines = [
            f"{method} {target} HTTP/1.1".encode(),
            b"Host: " + host_header,
            b"Content-Length: " + str(len(body)).encode(),
        ]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Response] = loop.create_future()
        connection.waiter = waiter
        assert connection.transport is not None
        connection.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        timer = loop.call_later(self._timeout, connection.expire)
        try:
            answer = await waiter
        except BaseException:
            # Cancelled or failed mid-answer: the connection's state is unknown.
            connection.abort()
            self._open.discard(connection)
            raise
        finally:
            timer.cancel()
            connection.waiter = None
        if connection.closed:
            self._open.discard(connection)
        else:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(key, []).append(connection)
        return answer

    async def aclose(self) -> None:
        for connection in self._open:
            if connection.transport is not None:
                connection.transport.close()
        self._open.clear()
        self._idle.clear()
