"""The default engine: aiohttp's client, the fastest of the two at many requests in
flight (the benchmark's report has the figures)."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from ._base import (
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
    tls_error,
)

__all__ = ["AiohttpTransport"]

_CUT_OFF = (ConnectionResetError, ConnectionAbortedError, EOFError)


class AiohttpTransport(AsyncTransport):
    """aiohttp's ``ClientSession`` on one pooled connector."""

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=config.pool_size, ssl=config.ssl_context()),
            timeout=aiohttp.ClientTimeout(total=config.timeout, connect=config.connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            # Decoded here (Decoder), under the answer-size cap and for every coding the
            # same way: aiohttp refuses some codings before the answer's status is known.
            auto_decompress=False,
            # Proxies and CA bundles come from the config, never from aiohttp's own
            # reading of the environment (which also applies ~/.netrc credentials).
            trust_env=False,
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        chosen = self.config.proxy_for(url)
        # aiohttp takes proxy credentials from the proxy's URL, for tunnels and plain
        # requests alike (its proxy_headers only reach a CONNECT).
        proxy = None if chosen is None else chosen.address()
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
            ) as answer:
                # later duplicates win, as in the httpx engine
                names = {name.lower(): value for name, value in answer.headers.items()}
                try:
                    return Response(answer.status, names, await self._read(answer))
                except Exception as exc:
                    head = Response(answer.status, names, getattr(exc, "head", b""))
                    raise body_error(
                        exc,
                        head,
                        timed_out=isinstance(exc, TimeoutError),
                        timeout=self.config.timeout,
                        headers=headers,
                    ) from exc
        except TransportError:
            raise
        except aiohttp.ClientConnectorCertificateError as exc:
            raise tls_error(url, exc.certificate_error) from exc
        except aiohttp.ClientConnectorSSLError as exc:
            raise tls_error(url, exc.os_error) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectTimeout(f"timed out connecting to {host_of(url)}") from exc
        except aiohttp.ClientProxyConnectionError as exc:
            raise ConnectError(
                f"cannot connect to the proxy: {describe(exc.os_error, headers)}"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            if url.startswith("https:") and isinstance(exc.os_error, _CUT_OFF):
                # TCP connected, so the TLS handshake is what the server broke off.
                raise tls_error(url, None) from exc
            raise ConnectError(
                f"cannot connect to {host_of(url)}: {describe(exc.os_error, headers)}"
            ) from exc
        except aiohttp.ClientHttpProxyError as exc:
            raise ProxyError(
                f"the proxy refused the tunnel: HTTP {exc.status} {exc.message}"
            ) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise ResponseTimeout(f"no answer within the {self.config.timeout:g}s timeout") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise RemoteProtocolError("the server closed the connection before answering") from exc
        except aiohttp.ClientResponseError as exc:
            raise RemoteProtocolError(f"a malformed answer: {exc.message}") from exc
        except Exception as exc:
            raise RemoteProtocolError(describe(exc, headers)) from exc

    async def _read(self, answer: aiohttp.ClientResponse) -> bytes:
        cap = self.config.max_answer_bytes
        coding = answer.headers.get("content-encoding")
        length = answer.content_length
        if length is not None and length <= cap and coding is None:
            return await answer.read()
        # Unknown length or a compressed answer: count what decoding produces.
        decoder = Decoder(coding, cap)
        async for chunk in answer.content.iter_any():
            decoder.feed(chunk)
        return decoder.body()

    async def aclose(self) -> None:
        await self._session.close()
