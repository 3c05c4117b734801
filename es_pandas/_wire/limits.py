"""The REST producer API's size limits and Kafka's rule for topic names: the one place
the client, the local server and the CLI take them from.

IBM documents a 4 KiB key and a 64 KiB value for IBM Cloud (limits_quotas.md) and the
same defaults, configurable, on premises (``MAX_KEY_SIZE``, ``MAX_MESSAGE_SIZE``); the
10 KB URI limit is the on-premises reference's (v1 carries key and headers in the query);
IBM Cloud applies its 64 KB to v2's whole request payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from .._exceptions import ConfigurationError

__all__ = ["MAX_TOPIC_NAME_CHARS", "Limits", "check_topic", "topic_name_problem"]

#: Kafka's own limit on a topic name's length (IBM Cloud allows 200)
MAX_TOPIC_NAME_CHARS = 249

_TOPIC_CHARACTERS = re.compile(r"[A-Za-z0-9._-]*")


def topic_name_problem(name: str, max_chars: int = MAX_TOPIC_NAME_CHARS) -> str | None:
    """Why Kafka can have no topic named ``name``, or None when it can."""
    if not _TOPIC_CHARACTERS.fullmatch(name):
        bad = sorted({char for char in name if not _TOPIC_CHARACTERS.fullmatch(char)})
        return (
            f"Kafka's topic names are ASCII letters, digits, '.', '_' and '-', not {''.join(bad)!r}"
        )
    if name in (".", ".."):
        # also dot segments in a URL path: no request could reach them
        return "Kafka forbids the topic names '.' and '..'"
    if not 1 <= len(name) <= max_chars:
        return f"a topic name has 1 to {max_chars} characters, not {len(name)}"
    return None


def check_topic(topic: object) -> None:
    """Refuse a topic Kafka can have no topic of, before anything is sent: not by a 404
    per row (or, for '.' and '..', a request that HTTP libraries resolve to another
    path altogether)."""
    if not isinstance(topic, str) or not topic:
        raise ConfigurationError(f"topic must be a non-empty string, not {topic!r}")
    if (problem := topic_name_problem(topic)) is not None:
        raise ConfigurationError(f"topic {topic!r} cannot exist: {problem}")


@dataclass(frozen=True)
class Limits:
    """The API's size limits, checked before sending: rows over them are ``rejected``."""

    #: bytes of a record key
    max_key_bytes: int = 4096
    #: bytes of a record value
    max_value_bytes: int = 65536
    #: bytes of a v1 request URI (path and query, where v1 puts the key and headers)
    max_uri_bytes: int = 10 * 1024
    #: bytes of a v2 request body, the JSON envelope (IBM Cloud's 64 KB is the request
    #: payload's: a binary value goes base64, about a third larger)
    max_request_bytes: int = 65536

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{field.name} must be a positive integer, not {value!r}")
