"""httpx, the design card's library, one level down: its transport (httpcore's connection
pool) without the client, whose redirect handling reads a ``Location`` even when told
not to follow it. Slower than aiohttp at high concurrency (its pool scans every
connection per request): the benchmark's report has the figures.

A limitation that is httpcore's: bytes a server sends after a complete answer, on a
kept-alive connection, are read as the answer to the next request (httpcore has no
public way to see them, encode/httpcore#872). aiohttp drops such a connection.
"""

from __future__ import annotations

import logging
import ssl
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from ._base import (
    CLOSED_UNANSWERED,
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    Decoder,
    Proxy,
    ProxyError,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TransportConfig,
    TransportError,
    body_error,
    describe,
    form_secrets,
    header_secrets,
    host_of,
    origin_of,
    proxy_unreachable,
    redact,
)
from ._deadlines import Deadlines
from ._handshake import HandshakeCheck, tls_error

__all__ = ["HttpxTransport"]

_CUT_OFF = (ConnectionResetError, ConnectionAbortedError, EOFError, ssl.SSLEOFError)


class _Progress:
    """Whether the request has started going out, from httpcore's trace events: a
    failure before that point means the server cannot have seen it."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        # httpcore traces a proxy's CONNECT with the request's own callback: a tunnel
        # being opened is not the request going out.
        request = info.get("request")
        if event.endswith("send_request_headers.started") and (
            request is None or request.method != b"CONNECT"
        ):
            self.sent = True


class _Scrub(logging.Filter):
    """Takes the credentials of every httpx engine in use out of httpcore's log lines:
    at DEBUG they show each answer's headers, and a line h11 cannot parse (or send)
    whole, so a server or proxy echoing a credential would put it in the log."""

    def __init__(self) -> None:
        super().__init__()
        self.transports: weakref.WeakSet[HttpxTransport] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [secret for transport in list(self.transports) for secret in transport.secrets()]
        if secrets:
            message = record.getMessage()
            scrubbed = redact(message, secrets)
            if scrubbed != message:
                record.msg, record.args = scrubbed, ()
        return True


# A logger's filters see only its own records, not its children's.
_SCRUB = _Scrub()
for _name in ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_SCRUB)


class HttpxTransport(AsyncTransport):
    """One ``httpx.AsyncHTTPTransport`` per proxy in use (usually one)."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        # the credentials its requests carried, in headers and form bodies, for _Scrub
        self._secrets: set[str] = set()
        _SCRUB.transports.add(self)
        self._ssl = config.ssl_context()
        self._timeout = httpx.Timeout(
            config.timeout, connect=config.connect_timeout, pool=None
        ).as_dict()
        self._pools: dict[tuple[str, tuple[str, str] | None] | None, httpx.AsyncHTTPTransport] = {}
        self._by_origin: dict[str, httpx.AsyncHTTPTransport] = {}
        self._handshakes = HandshakeCheck(config)
        self._deadlines = Deadlines(config.timeout)

    def _pool(self, url: str) -> httpx.AsyncHTTPTransport:
        origin = origin_of(url)
        pool = self._by_origin.get(origin)
        if pool is not None:
            return pool
        proxy = self.config.proxy_for(url)
        key = None if proxy is None else (proxy.url, proxy.auth)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = httpx.AsyncHTTPTransport(
                verify=self._ssl,
                proxy=None if proxy is None else self._proxy(proxy),
                limits=httpx.Limits(max_connections=self.config.pool_size),
                # Proxies and CA bundles come from the config, not httpx's environment.
                trust_env=False,
            )
        self._by_origin[origin] = pool
        return pool

    def _proxy(self, proxy: Proxy) -> httpx.Proxy:
        # An https:// proxy is verified like the server (httpx refuses a context for
        # an http:// one).
        secure = proxy.url.startswith("https:")
        return httpx.Proxy(proxy.url, auth=proxy.auth, ssl_context=self._ssl if secure else None)

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        self._secrets.update(header_secrets(headers), form_secrets(headers, body))
        progress = _Progress()
        head: Response | None = None
        try:
            request = httpx.Request(
                method,
                url,
                headers=headers,
                content=body,
                extensions={"timeout": self._timeout, "trace": progress},
            )
            # httpx's timeouts bound each read; the request as a whole needs its own.
            with self._deadlines():
                answer = await self._pool(url).handle_async_request(request)
                # later duplicates win, as in the aiohttp engine
                head = Response(answer.status_code, dict(answer.headers.multi_items()), b"")
                self._handshakes.answered(url)
                try:
                    return Response(head.status, head.headers, await self._read(answer))
                finally:
                    await answer.aclose()
        except TimeoutError as exc:
            if head is not None:
                raise self._body_error(exc, head, headers) from exc
            if not progress.sent:
                raise ConnectTimeout(f"timed out connecting to {host_of(url)}") from exc
            raise ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout") from exc
        except Exception as exc:
            if head is not None:
                raise self._body_error(exc, head, headers) from exc
            error = self._error(exc, url, headers, progress.sent)
            raise await self._handshakes.explain(url, error, exc) from exc

    def _body_error(
        self, exc: BaseException, head: Response, headers: Mapping[str, str]
    ) -> TransportError:
        return body_error(
            exc,
            Response(head.status, head.headers, getattr(exc, "head", b"")),
            timed_out=isinstance(exc, (TimeoutError, httpx.TimeoutException)),
            timeout=self.config.timeout,
            headers=headers,
        )

    def _error(
        self, exc: Exception, url: str, headers: Mapping[str, str], sent: bool
    ) -> TransportError:
        """httpx's exception, when no answer came, as the contract's."""
        if isinstance(exc, httpx.ConnectTimeout):
            return ConnectTimeout(f"timed out connecting to {host_of(url)}")
        if isinstance(exc, httpx.ProxyError):
            return ProxyError(f"the proxy refused the tunnel: {describe(exc, headers)}")
        if isinstance(exc, httpx.ConnectError):
            return _connect_error(exc, url, headers, self.config)
        if isinstance(exc, httpx.TimeoutException):
            return ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout")
        if not sent:
            return ConnectError(f"cannot send to {host_of(url)}: {describe(exc, headers)}")
        if isinstance(exc, httpx.RemoteProtocolError) and str(exc).startswith(
            "Server disconnected without sending a response"
        ):
            # httpcore's words for what aiohttp raises ServerDisconnectedError for
            return RemoteProtocolError(CLOSED_UNANSWERED)
        return RemoteProtocolError(describe(exc, headers))

    async def _read(self, answer: httpx.Response) -> bytes:
        # Decoded here, as the aiohttp engine does: httpx's decoders expand a whole
        # network read at once (some 60 MB from 64 KB of gzip) before any cap is seen.
        decoder = Decoder(answer.headers.get("content-encoding"), self.config.max_answer_bytes)
        async for chunk in answer.aiter_raw():
            decoder.feed(chunk)
        return decoder.body()

    def secrets(self) -> list[str]:
        """The credentials its requests and proxies have carried so far."""
        return [*self._secrets, *self.config.secrets()]

    async def aclose(self) -> None:
        self._deadlines.close()
        for pool in self._pools.values():
            await pool.aclose()


def _connect_error(
    exc: httpx.ConnectError, url: str, headers: Mapping[str, str], config: TransportConfig
) -> ConnectError:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, (ssl.SSLError, *_CUT_OFF)):
        cause = cause.__cause__ or cause.__context__
    if url.startswith("https:") and cause is not None:
        # TCP connected, so the TLS handshake is what failed or was broken off.
        cert = config.cert is not None
        return tls_error(url, cause if isinstance(cause, ssl.SSLError) else None, cert)
    if config.proxy_for(url) is not None:
        # through a proxy, the only connection httpx makes itself is to the proxy
        return proxy_unreachable(config, url, describe(exc, headers))
    return ConnectError(f"cannot connect to {host_of(url)}: {describe(exc, headers)}")
