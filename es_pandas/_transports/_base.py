from __future__ import annotations

import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AsyncTransport", "Response", "ssl_context"]


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer, whatever its status: transports never raise on 4xx/5xx."""

    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class AsyncTransport(ABC):
    """Sends one request and returns the answer.

    Raises only :class:`es_pandas.TransportError` subclasses, for requests that got
    no HTTP answer, with ``sent`` telling whether the server may have seen them.
    ``asyncio.CancelledError`` always propagates.
    """

    @abstractmethod
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """``True``: the system's CAs; ``False``: no verification; a path: that CA bundle."""
    if verify is True:
        return True
    if verify is False:
        return False
    return ssl.create_default_context(cafile=verify)
