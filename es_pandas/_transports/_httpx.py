"""httpx's async client: the design card's library. At 64 requests in flight it is
about a tenth of aiohttp's rate here (its pool scans every connection per request)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from ._base import (
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TLSError,
    TransportConfig,
    describe,
    host_of,
)

__all__ = ["HttpxTransport"]

_SPARE_CONNECTIONS = 2  # as in the aiohttp engine: room for the IAM token exchange
_CUT_OFF = (ConnectionResetError, ConnectionAbortedError, EOFError, ssl.SSLEOFError)


class _AnswerTooLarge(Exception):
    pass


class _Progress:
    """Whether the request has started going out, from httpcore's trace events: a
    failure before that point means the server cannot have seen it."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self.sent = True


class HttpxTransport(AsyncTransport):
    """One ``httpx.AsyncClient`` per proxy in use (usually one)."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self._ssl = config.ssl_context()
        self._clients: dict[tuple[str, tuple[str, str] | None] | None, httpx.AsyncClient] = {}
        self._by_origin: dict[str, httpx.AsyncClient] = {}

    def _client(self, url: str) -> httpx.AsyncClient:
        origin = "/".join(url.split("/", 3)[:3])
        client = self._by_origin.get(origin)
        if client is not None:
            return client
        proxy = self.config.proxy_for(url)
        key = None if proxy is None else (proxy.url, proxy.auth)
        client = self._clients.get(key)
        if client is None:
            config = self.config
            client = self._clients[key] = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=config.connections + _SPARE_CONNECTIONS),
                # The pool wait is bounded by the request's own deadline in send().
                timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout, pool=None),
                verify=self._ssl,
                proxy=None if proxy is None else httpx.Proxy(proxy.url, auth=proxy.auth),
                # Proxies and CA bundles come from the config, not httpx's environment.
                trust_env=False,
                follow_redirects=False,
            )
        self._by_origin[origin] = client
        return client

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        progress = _Progress()
        try:
            # httpx's timeouts bound each read; the request as a whole needs its own.
            async with asyncio.timeout(self.config.timeout):
                async with self._client(url).stream(
                    method, url, content=body, headers=headers, extensions={"trace": progress}
                ) as answer:
                    return Response(
                        answer.status_code, dict(answer.headers), await self._read(answer)
                    )
        except TimeoutError as exc:
            if not progress.sent:
                raise ConnectTimeout(f"timed out connecting to {host_of(url)}") from exc
            raise ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout") from exc
        except httpx.ConnectTimeout as exc:
            raise ConnectTimeout(f"timed out connecting to {host_of(url)}") from exc
        except httpx.ProxyError as exc:
            raise ConnectError(f"the proxy refused the tunnel: {describe(exc, headers)}") from exc
        except httpx.ConnectError as exc:
            raise _connect_error(exc, url, headers) from exc
        except httpx.TimeoutException as exc:
            raise ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout") from exc
        except _AnswerTooLarge as exc:
            raise RemoteProtocolError(str(exc)) from exc
        except Exception as exc:
            if not progress.sent:
                raise ConnectError(
                    f"cannot send to {host_of(url)}: {describe(exc, headers)}"
                ) from exc
            raise RemoteProtocolError(describe(exc, headers)) from exc

    async def _read(self, answer: httpx.Response) -> bytes:
        cap = self.config.max_answer_bytes
        chunks = []
        size = 0
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise _AnswerTooLarge(f"the answer is larger than {cap:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


def _connect_error(exc: httpx.ConnectError, url: str, headers: Mapping[str, str]) -> ConnectError:
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, (ssl.SSLError, *_CUT_OFF)):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return TLSError(
            f"the certificate of {host_of(url)} is not trusted: {cause.verify_message}", "verify"
        )
    if url.startswith("https:") and cause is not None:
        # TCP connected, so the TLS handshake is what failed or was broken off.
        return TLSError(f"the TLS handshake with {host_of(url)} failed: {cause}", "handshake")
    return ConnectError(f"cannot connect to {host_of(url)}: {describe(exc, headers)}")
