"""The default engine: aiohttp's client, the fastest of the two at many requests in
flight (the benchmark's report has the figures)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import aiohttp

from ._base import (
    CLOSED_UNANSWERED,
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    Decoder,
    ProxyError,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TransportConfig,
    TransportError,
    body_error,
    describe,
    host_of,
    proxy_unreachable,
)
from ._deadlines import Deadlines
from ._handshake import HandshakeCheck, tls_error

__all__ = ["AiohttpTransport"]

_CUT_OFF = (ConnectionResetError, ConnectionAbortedError, EOFError)


class AiohttpTransport(AsyncTransport):
    """aiohttp's ``ClientSession`` on one pooled connector."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self._session = aiohttp.ClientSession(
            # TLS settings go with each request (see _route): an http run never builds them
            connector=aiohttp.TCPConnector(limit=config.pool_size),
            # the whole request is bounded by the transport's deadlines, not by a timer
            # of aiohttp's per request
            timeout=aiohttp.ClientTimeout(total=None, connect=config.connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            # Decoded here (Decoder), under the answer-size cap and for every coding the
            # same way: aiohttp refuses some codings before the answer's status is known.
            auto_decompress=False,
            # Proxies and CA bundles come from the config, never from aiohttp's own
            # reading of the environment (which also applies ~/.netrc credentials).
            trust_env=False,
        )
        self._handshakes = HandshakeCheck(config)
        self._deadlines = Deadlines(config.timeout)
        self._routes: dict[str, tuple[str | None, ssl.SSLContext | bool]] = {}

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        proxy, tls = self._routes.get(url) or self._route(url)
        status, names = 0, None
        try:
            with self._deadlines():
                async with self._session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    proxy=proxy,
                    ssl=tls,
                ) as answer:
                    self._handshakes.answered(url)
                    status = answer.status
                    # later duplicates win, as in the httpx engine
                    names = {name.lower(): value for name, value in answer.headers.items()}
                    return Response(status, names, await self._read(answer))
        except Exception as exc:
            if names is not None:
                # the head arrived: its status still says what became of the record
                raise body_error(
                    exc,
                    Response(status, names, getattr(exc, "head", b"")),
                    timed_out=isinstance(exc, TimeoutError),
                    timeout=self.config.timeout,
                    headers=headers,
                ) from exc
            error = self._error(exc, url, headers)
            raise await self._handshakes.explain(url, error, exc) from exc

    def _route(self, url: str) -> tuple[str | None, ssl.SSLContext | bool]:
        """The proxy ``url`` goes through and the TLS settings it is sent with, worked
        out once per URL. aiohttp takes proxy credentials from the proxy's URL, for
        tunnels and plain requests alike (its proxy_headers only reach a CONNECT); it
        uses the TLS settings for an https URL and for an https proxy, and nothing (so
        its default, True) for plain http."""
        chosen = self.config.proxy_for(url)
        tls = self.config.ssl_context() if self.config.uses_tls(url) else True
        route = self._routes[url] = (None if chosen is None else chosen.address(), tls)
        return route

    def _error(self, exc: Exception, url: str, headers: Mapping[str, str]) -> TransportError:
        """aiohttp's exception, when no answer came, as the contract's."""
        cert = self.config.cert is not None
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return tls_error(url, exc.certificate_error, cert)
        if isinstance(exc, aiohttp.ClientConnectorSSLError):
            return tls_error(url, exc.os_error, cert)
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return ConnectTimeout(f"timed out connecting to {host_of(url)}")
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return proxy_unreachable(self.config, url, describe(exc.os_error, headers))
        if isinstance(exc, aiohttp.ClientConnectorError):
            if url.startswith("https:") and isinstance(exc.os_error, _CUT_OFF):
                # TCP connected, so the TLS handshake is what the server broke off.
                return tls_error(url, None, cert)
            if self.config.proxy_for(url) is not None:
                # through a proxy, the only connection aiohttp makes itself is to the
                # proxy (a name it cannot resolve is not a ClientProxyConnectionError)
                return proxy_unreachable(self.config, url, describe(exc.os_error, headers))
            return ConnectError(
                f"cannot connect to {host_of(url)}: {describe(exc.os_error, headers)}"
            )
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            return ProxyError(f"the proxy refused the tunnel: HTTP {exc.status} {exc.message}")
        if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
            return ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout")
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return RemoteProtocolError(CLOSED_UNANSWERED)
        if isinstance(exc, aiohttp.ClientResponseError):
            return RemoteProtocolError(f"a malformed answer: {exc.message}")
        return RemoteProtocolError(describe(exc, headers))

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        cap = self.config.max_answer_bytes
        # every Content-Encoding header: a body may be coded more than once
        coding = ", ".join(answer.headers.getall("content-encoding", ())) or None
        length = answer.content_length
        if length is not None and length <= cap and coding is None:
            return await answer.read()
        # Unknown length or a compressed answer: count what decoding produces.
        decoder = Decoder(coding, cap)
        async for chunk in answer.content.iter_any():
            decoder.feed(chunk)
        return decoder.body()

    async def aclose(self) -> None:
        self._deadlines.close()
        await self._session.close()
