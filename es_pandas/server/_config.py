"""Settings of the local Event Streams server, validated once."""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .._wire.limits import Limits
from ._faults import FaultConfig

__all__ = ["MAX_PARTITIONS", "ServerConfig", "check_partitions", "parse_topic_spec"]

# IBM Cloud allows topic names of up to 200 characters (Kafka's own limit is 249).
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")

# The server enforces the API's documented limits unless told otherwise.
_API_LIMITS = Limits()

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024

#: far more than an Event Streams plan allows a topic; a Kafka backend would create them all
MAX_PARTITIONS = 10_000


def check_topic_name(name: str) -> str:
    if not _TOPIC_NAME.match(name):
        raise ValueError(
            f"invalid topic name {name!r}: use 1 to 200 letters, digits, '.', '_' or '-'"
        )
    if name in (".", ".."):
        # as Kafka; in a URL they are dot segments, so no request could reach them
        raise ValueError(f"invalid topic name {name!r}: Kafka forbids '.' and '..'")
    return name


def check_partitions(count: int, what: str = "a topic") -> int:
    if not 1 <= count <= MAX_PARTITIONS:
        raise ValueError(f"{what} needs 1 to {MAX_PARTITIONS} partitions, not {count}")
    return count


def parse_topic_spec(spec: str) -> tuple[str, int]:
    """``"orders:3"`` -> ``("orders", 3)``; ``"orders"`` -> ``("orders", 1)``."""
    name, _, partitions = spec.partition(":")
    try:
        count = int(partitions) if partitions else 1
    except ValueError:
        raise ValueError(f"invalid topic {spec!r}: expected NAME or NAME:PARTITIONS") from None
    return check_topic_name(name), check_partitions(count, f"topic {spec!r}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the local server can be told; every field has a working default.

    ``api_keys`` are accepted as Basic passwords (v1), Bearer tokens and
    ``X-Auth-Token`` values (v1). When ``auth`` is on and no key is given, one
    random key is made. ``users`` maps user names to passwords for Basic auth, as
    on-premises Event Streams (SCRAM credentials) does. ``permissions`` maps a
    principal (an API key or user name) to the topics it may write; principals
    not listed may write every topic, listed ones get 403 elsewhere.

    ``admin_keys`` are API keys that may also change the server through
    ``/_local`` (faults, topics, stats reset). Without them, every principal that
    ``permissions`` does not limit may; with ``auth`` off, everyone may.
    """

    topics: Mapping[str, int] = field(default_factory=dict)
    auth: bool = True
    api_keys: Collection[str] = ()
    users: Mapping[str, str] = field(default_factory=dict)
    permissions: Mapping[str, Collection[str]] = field(default_factory=dict)
    admin_keys: Collection[str] = ()
    auto_create_topics: bool = False
    default_partitions: int = 1
    max_key_bytes: int = _API_LIMITS.max_key_bytes
    max_value_bytes: int = _API_LIMITS.max_value_bytes
    max_uri_bytes: int = _API_LIMITS.max_uri_bytes
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    #: the v2 success body, which IBM does not document: v1's ``{"metadata": {...}}``
    #: or the same fields at the top level
    v2_response: Literal["metadata", "flat"] = "metadata"
    #: v1.1.0 errors carry ``error_code``/``message`` at the top level and nested;
    #: v1.0.0 (and IBM Cloud's examples) only nested
    v1_error_shape: Literal["v1.1", "v1.0"] = "v1.1"
    #: ``metadata.timestamp`` is a string; its format is not documented
    timestamp_format: Literal["epoch_ms", "iso"] = "epoch_ms"
    token_ttl: float = 3600.0
    #: seconds a connection may wait for a request (its first, or the next one)
    idle_timeout: float = 5.0
    #: seconds a request may take to arrive whole, head and body, from its first byte
    request_timeout: float = 30.0
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        for name, partitions in self.topics.items():
            check_topic_name(name)
            check_partitions(partitions, f"topic {name!r}")
        check_partitions(self.default_partitions, "default_partitions")
        if self.auth and not self.api_keys and not self.users:
            object.__setattr__(self, "api_keys", (secrets.token_urlsafe(24),))
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "admin_keys", tuple(self.admin_keys))
        if self.admin_keys and not self.auth:
            raise ValueError("admin keys (--admin-key) need auth: without it /_local is open")
        for name in ("idle_timeout", "request_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        object.__setattr__(
            self, "permissions", {p: frozenset(t) for p, t in self.permissions.items()}
        )
        for name in ("max_key_bytes", "max_value_bytes", "max_uri_bytes", "max_request_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.v2_response not in ("metadata", "flat"):
            raise ValueError("v2_response must be 'metadata' or 'flat'")
        if self.v1_error_shape not in ("v1.1", "v1.0"):
            raise ValueError("v1_error_shape must be 'v1.1' or 'v1.0'")
        if self.timestamp_format not in ("epoch_ms", "iso"):
            raise ValueError("timestamp_format must be 'epoch_ms' or 'iso'")

    def __repr__(self) -> str:
        # Keys and passwords stay out of reprs, logs and tracebacks.
        return (
            f"ServerConfig(topics={dict(self.topics)!r}, auth={self.auth}, "
            f"api_keys=<{len(self.api_keys)} hidden>, admin_keys=<{len(self.admin_keys)} hidden>, "
            f"users={sorted(self.users)!r})"
        )
