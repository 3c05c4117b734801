"""Request bodies, read by every route through :func:`read_body`, never past a limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

__all__ = ["BodyError", "read_body"]


class BodyError(Exception):
    """A body not read whole: ``status`` is 413 for one over the limit, 400 for a
    client that left before sending it all (nobody reads that answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _too_large(limit: int) -> BodyError:
    return BodyError(413, f"the request body is over the {limit}-byte limit")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body; past ``limit`` bytes nothing more is read."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # Not a server error: a client gone, or one the server timed out
        raise BodyError(400, "the client left before sending the whole body") from None
    return b"".join(chunks)
