"""HTTP engines behind one small interface; nothing above this package imports
aiohttp or httpx."""

from __future__ import annotations

from ._base import AsyncTransport, Response
from ._registry import build_transport, check_engine, engine_names

__all__ = ["AsyncTransport", "Response", "build_transport", "check_engine", "engine_names"]
