"""A transport that answers from a function instead of the network: for tests, and for
dry runs, which go down the real path into it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping

from ._base import AsyncTransport, Response, TransportConfig

__all__ = ["Handler", "MockTransport"]

Handler = Callable[[str, str, Mapping[str, str], bytes], "Response | Awaitable[Response]"]


class MockTransport(AsyncTransport):
    """Answers every request with ``handler(method, url, headers, body)`` (a function or
    a coroutine function returning a :class:`Response`); nothing leaves the process.

        >>> transport = MockTransport(lambda method, url, headers, body: Response(200, {}, b"{}"))
    """

    def __init__(self, handler: Handler, config: TransportConfig | None = None) -> None:
        super().__init__(config or TransportConfig())
        self.handler = handler

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        answer = self.handler(method, url, headers, body)
        return await answer if inspect.isawaitable(answer) else answer

    async def aclose(self) -> None:
        pass
