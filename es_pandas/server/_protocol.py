"""The server's HTTP/1.1 connections: uvicorn's httptools protocol, plus what a
careless or hostile client needs and it lacks.

- A way for the app to drop a connection with no answer at all, which the ASGI
  interface has no message for (the ``drop`` fault).
- Limits on the request head. llhttp takes a request line and headers of any size
  and number, and httptools keeps a header whole in memory before handing it over
  (uvicorn's h11 protocol caps the head at ``h11_max_incomplete_event_size``; this
  one has nothing). A request target over :data:`MAX_URL_BYTES` is answered 414,
  headers over :data:`MAX_HEADER_BYTES` or :data:`MAX_HEADERS` 431, and the
  connection closed.
- Deadlines. uvicorn closes a connection left idle after an answer, but neither a
  fresh one that never sends a request nor one that sends its request a byte at a
  time (slowloris). Here a connection waiting for a request is closed after
  ``idle_timeout``, and a request must arrive whole, head and body, within
  ``request_timeout`` of its first byte, or is answered 408.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ._app import ABORT_EXTENSION
from ._auth import CLIENT_CERT_EXTENSION

__all__ = ["MAX_HEADERS", "MAX_HEADER_BYTES", "MAX_URL_BYTES", "ServerProtocol"]

#: the request target; the routes apply ``max_uri_bytes`` (10 KiB, IBM's) below it
MAX_URL_BYTES = 64 * 1024
#: header names and values together (Go's net/http allows 1 MiB, nginx 32 KiB)
MAX_HEADER_BYTES = 64 * 1024
#: header fields in one request (Apache's LimitRequestFields)
MAX_HEADERS = 100

# How long a refused client may go on sending before the connection is closed
_LINGER_SECONDS = 0.5


class ServerProtocol(HttpToolsProtocol):
    """One connection; uvicorn makes one per client with the arguments of its own
    protocols, plus the two timeouts (seconds) from :class:`ServerConfig`."""

    def __init__(self, *args: Any, idle_timeout: float, request_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._idle_timeout = idle_timeout
        self._request_timeout = request_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._receiving = False  # from a request's first byte to its last
        self._in_body = False  # from the end of its head to its last byte
        self._heads = 0  # request heads read whole on this connection
        self._head_bytes = 0  # bytes received of the head being read
        self._url_bytes = 0  # its request target, as parsed
        self._header_bytes = 0  # its header names and values, as parsed
        self._refused = False  # answered and closing: nothing more is parsed

    # -- the deadline: one per connection ----------------------------------------

    def _expect(self, timeout: float | None) -> None:
        """Replace the connection's deadline with one ``timeout`` from now, or none."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if timeout is None else self.loop.call_later(timeout, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._receiving:
            self.transport.close()  # idle: nobody is waiting for an answer
            return
        earlier = self.pipeline or (
            not self._in_body and self.cycle is not None and not self.cycle.response_complete
        )
        if earlier or self.flow.read_paused:
            # The server holds the request up, not the client: it is still answering
            # an earlier one (pipelined), or has stopped reading.
            self._expect(self._request_timeout)
            return
        self._refuse(408, f"the request did not arrive whole within {self._request_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message`` unless another answer is under way, and close."""
        self._refused = True
        self._expect(None)
        # The last request whose head was read whole: this one if in its body, else the
        # one before, whose answer the connection may still owe
        cycle = self.cycle
        owed = cycle is not None and not cycle.response_complete
        if owed:
            # Its app gets a disconnect if it is reading the body, and what it answers
            # is dropped (a closed transport takes no more writes).
            cycle.disconnected = True
            cycle.message_event.set()
        if cycle is None or not (cycle.response_started if self._in_body else owed):
            body = message.encode()
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            # Close our side only, and read on a moment (discarding, see data_received):
            # closing with unread data would reset the connection, and with it the
            # answer the client has not read yet. Go's net/http does the same.
            self.transport.write_eof()
            self.flow.resume_reading()
            self._deadline = self.loop.call_later(_LINGER_SECONDS, self.transport.close)
        else:  # TLS has no half-close
            self.transport.close()

    def _check_headers(self, size: int) -> None:
        if size > MAX_HEADER_BYTES:
            self._refuse(431, f"the request headers passed the {MAX_HEADER_BYTES}-byte limit")

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect(self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._expect(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        in_head = not self._in_body
        heads = self._heads
        super().data_received(data)
        # httptools holds a header until it is whole, so the callbacks cannot see a
        # long one coming: count what arrives while a head is being read instead.
        if in_head and heads == self._heads and not self._refused:
            self._head_bytes += len(data)
            self._check_headers(self._head_bytes - self._url_bytes)

    # -- parser callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        # ASGI types extensions as dicts; this one is a callable the app may call.
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}  # type: ignore[dict-item]
        # the client certificate the TLS handshake verified, which uvicorn does not pass
        # on: asyncio's (and uvloop's) TLS transports keep it
        certificate = self.transport.get_extra_info("peercert")
        if certificate:
            self.scope["extensions"][CLIENT_CERT_EXTENSION] = certificate
        self._receiving = True
        self._url_bytes = self._header_bytes = 0
        self._expect(self._request_timeout)

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._url_bytes += len(url)
        if self._url_bytes > MAX_URL_BYTES:
            self._refuse(414, f"the request target passed the {MAX_URL_BYTES}-byte limit")
        else:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._header_bytes += len(name) + len(value)
        if len(self.headers) == MAX_HEADERS:
            self._refuse(431, f"the request has more than {MAX_HEADERS} headers")
        else:
            self._check_headers(self._header_bytes)
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._heads += 1
        self._head_bytes = 0
        self._in_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        super().on_message_complete()
        self._receiving = self._in_body = False
        # Idle again once answered; until then the app has the connection
        self._expect(self._idle_timeout if self.cycle.response_complete else None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle unless a request is arriving, or a pipelined one has just started
        busy = self._receiving or not self.cycle.response_complete
        if not (busy or self._refused or self.transport.is_closing()):
            self._expect(self._idle_timeout)
