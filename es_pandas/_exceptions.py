"""The exceptions es_pandas raises.

EventStreamsError
├── ConfigurationError       bad arguments, no URL, no credentials (also a ValueError)
├── TransportError           the request did not get an HTTP answer
│   ├── ConnectError         could not connect: the request was not sent
│   ├── TimeoutError         no answer in time
│   │   └── ConnectTimeout   connecting took too long: not sent
│   └── RemoteProtocolError  the connection broke after the request went out
└── ProduceError             some rows did not end ``ok``; carries the status frame
    └── ProduceAborted       the run stopped early; the rest of the rows are ``not_sent``
        ├── AuthenticationError  401: the credentials were refused
        ├── PermissionDeniedError  403: not allowed to write the topic
        ├── TopicNotFoundError   404: no such topic (or the URL is not Event Streams)
        └── ConnectionFailed     the server could not be reached at all

ProduceInterrupted (a KeyboardInterrupt) Ctrl-C: carries the partial status frame
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._status import StatusFrame, Summary

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionFailed",
    "EventStreamsError",
    "PermissionDeniedError",
    "ProduceAborted",
    "ProduceError",
    "ProduceInterrupted",
    "RemoteProtocolError",
    "TimeoutError",
    "TopicNotFoundError",
    "TransportError",
]


class EventStreamsError(Exception):
    """Base class of every es_pandas error."""


class ConfigurationError(EventStreamsError, ValueError):
    """The arguments, credentials or environment do not make a usable configuration."""


class TransportError(EventStreamsError):
    """The request got no HTTP answer. ``sent`` says whether it may have reached the server."""

    sent = True


class ConnectError(TransportError):
    """Could not connect; the request was not sent."""

    sent = False


class TimeoutError(TransportError):
    """No answer within the timeout; the request may have been processed."""


class ConnectTimeout(TimeoutError):
    """Connecting took longer than the timeout; the request was not sent."""

    sent = False


class RemoteProtocolError(TransportError):
    """The connection closed or broke after the request went out."""


class ProduceError(EventStreamsError):
    """Some rows did not end ``ok``. ``status`` is the full status frame."""

    def __init__(self, message: str, status: StatusFrame) -> None:
        super().__init__(message)
        self.status = status


class ProduceAborted(ProduceError):
    """The run stopped before sending every row; unsent rows are ``not_sent``."""


class AuthenticationError(ProduceAborted):
    """The server answered 401: the credentials were refused."""


class PermissionDeniedError(ProduceAborted):
    """The server answered 403: the credentials may not write this topic."""


class TopicNotFoundError(ProduceAborted):
    """The server answered 404: the topic does not exist, or the URL is not Event Streams."""


class ConnectionFailed(ProduceAborted):
    """The server could not be reached at all."""


class ProduceInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a kernel interrupt) stopped the run. ``status`` holds what happened so far:
    rows never sent are ``not_sent``, rows in flight ``unknown``."""

    def __init__(self, status: StatusFrame) -> None:
        super().__init__("interrupted; the partial status frame is in .status")
        self.status = status
        #: for a file load, the counts of the whole load so far
        self.summary: Summary | None = None
