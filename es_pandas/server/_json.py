"""JSON in and out: the strict parser request bodies are checked with, and JSON answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

__all__ = ["json_response", "strict_json"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads with parse_constant would build a decoder on every call.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def strict_json(data: str | bytes) -> Any:
    """``json.loads`` without Python's extensions (NaN, Infinity), as other parsers do."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return _STRICT_DECODER.decode(text)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )
