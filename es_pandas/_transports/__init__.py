"""HTTP engines behind one contract (``_base``); nothing outside this package imports
aiohttp or httpx, and they are imported only when a run starts."""

from __future__ import annotations

from ._base import (
    CLOSED_UNANSWERED,
    DEFAULT_HEADERS,
    AsyncTransport,
    ConnectError,
    ConnectTimeout,
    Decoder,
    Proxy,
    ProxyError,
    Redactor,
    RemoteProtocolError,
    Response,
    ResponseTimeout,
    TLSError,
    TransportConfig,
    TransportError,
    basic_token,
    check_proxy_url,
    describe,
    host_of,
    redact,
    split_userinfo,
)
from ._deadlines import Deadlines
from ._handshake import tls_error
from ._mock import Handler, MockTransport
from ._registry import ENGINES, Engine, EngineName, build_transport, check_engine

__all__ = [
    "CLOSED_UNANSWERED",
    "DEFAULT_HEADERS",
    "ENGINES",
    "AsyncTransport",
    "ConnectError",
    "ConnectTimeout",
    "Deadlines",
    "Decoder",
    "Engine",
    "EngineName",
    "Handler",
    "MockTransport",
    "Proxy",
    "ProxyError",
    "Redactor",
    "RemoteProtocolError",
    "Response",
    "ResponseTimeout",
    "TLSError",
    "TransportConfig",
    "TransportError",
    "basic_token",
    "build_transport",
    "check_engine",
    "check_proxy_url",
    "describe",
    "host_of",
    "redact",
    "split_userinfo",
    "tls_error",
]
