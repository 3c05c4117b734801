from __future__ import annotations

from collections.abc import Mapping

import httpx

from .._exceptions import ConnectError, ConnectTimeout, RemoteProtocolError, TimeoutError
from ._base import AsyncTransport, Response, ssl_context

__all__ = ["HttpxTransport"]


class HttpxTransport(AsyncTransport):
    """httpx's async client: the design card's library, far slower at high concurrency
    (its pool scans every connection per request)."""

    def __init__(self, *, connections: int, timeout: float, verify: bool | str = True) -> None:
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            # The pool wait is not a server timeout: requests queue there by design.
            timeout=httpx.Timeout(timeout, pool=None),
            verify=ssl_context(verify),
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        try:
            answer = await self._client.request(method, url, content=body, headers=headers)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectTimeout(str(exc) or "timed out connecting") from exc
        except httpx.ConnectError as exc:
            raise ConnectError(f"cannot connect: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise TimeoutError("no answer within the timeout") from exc
        except httpx.TransportError as exc:
            raise RemoteProtocolError(str(exc) or type(exc).__name__) from exc
        return Response(answer.status_code, dict(answer.headers), answer.content)

    async def aclose(self) -> None:
        await self._client.aclose()
