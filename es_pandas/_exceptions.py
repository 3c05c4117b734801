"""The exceptions es_pandas raises.

EventStreamsError
├── ConfigurationError         bad options, no URL, unusable credentials (also a ValueError)
├── TransportError             a request got no usable answer (es_pandas.transports; a run
│                              turns these into row errors, never lets them out)
└── ProduceError               some rows did not end ``ok``; carries .status and .summary
    └── ProduceAborted         the run stopped early; the rows not sent are ``not_sent``
        ├── AuthenticationError    401, or IAM refused the API key
        ├── PermissionDeniedError  403: not allowed to write the topic
        ├── TopicNotFoundError     404: no such topic, or the URL is not Event Streams
        ├── EndpointError          the URL answers, but not as Event Streams (a redirect)
        ├── SchemaError            the server refused the records' Avro schema, or has no such one
        ├── ConnectionFailed       the server was never reached in this run, or TLS failed
        └── ServiceUnavailable     a service down (5xx, stopped answering): try again later

ProduceInterrupted (a KeyboardInterrupt)  Ctrl-C: carries the partial .status and .summary
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._status import StatusFrame, Summary

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailed",
    "EndpointError",
    "EventStreamsError",
    "PermissionDeniedError",
    "ProduceAborted",
    "ProduceError",
    "ProduceInterrupted",
    "SchemaError",
    "ServiceUnavailable",
    "TopicNotFoundError",
]


class EventStreamsError(Exception):
    """Base class of every es_pandas error."""


class ConfigurationError(EventStreamsError, ValueError):
    """The options, credentials or environment do not make a usable configuration."""


class ProduceError(EventStreamsError):
    """Some rows did not end ``ok``.

    ``status`` is the status frame of the rows the exception is about (the whole frame;
    for a file, the chunk being sent); ``summary`` counts the whole run."""

    def __init__(self, message: str, status: StatusFrame, summary: Summary | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.summary = summary if summary is not None else status.summary

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt with its status where it is unpickled (an error raised in a worker
        # process): the default would call __init__ with the message alone.
        return type(self), (*self.args, self.status, self.summary), self.__dict__


class ProduceAborted(ProduceError):
    """The run stopped before sending every row; the rows not sent are ``not_sent``."""


class AuthenticationError(ProduceAborted):
    """The server answered 401, or IAM refused the API key: the credentials do not work."""


class PermissionDeniedError(ProduceAborted):
    """The server answered 403: the credentials may not write this topic."""


class TopicNotFoundError(ProduceAborted):
    """The server answered 404: the topic does not exist, or the URL is not Event Streams."""


class EndpointError(ProduceAborted):
    """The URL answers, but not as the Event Streams REST producer does (a redirect)."""


class SchemaError(ProduceAborted):
    """The server refused the Avro schema the records carry (not compatible with the
    versions registered under its subject, not valid, or under a naming strategy it does
    not know), or does not know the registered schema ``schemaname`` names: no row can be
    written with it."""


class ConnectionFailed(ProduceAborted):
    """The server could not be reached at all in this run (refused, timed out, a name
    that does not resolve, a proxy in the way), or the TLS handshake failed: check the
    address and the network, as it may be a wrong one."""


class ServiceUnavailable(ProduceAborted):
    """A service that is there is down: try again later (the command line exits 75,
    EX_TEMPFAIL). Event Streams answered only 5xx or 408 (at least 10 answers in a row,
    and ``concurrency``) and ``fail_after`` rows among them failed with every retry
    spent; or, having answered in this run, it stopped answering (``fail_after`` rows
    in a row got no answer); or IAM answered the token exchange with 429 or 5xx, its
    retries spent; or Kafka stopped writing records mid-run."""


class ProduceInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a kernel interrupt) stopped the run.

    ``status`` holds what happened so far (rows never sent are ``not_sent``, rows in
    flight ``unknown``; for a file, the chunk being sent); ``summary`` counts the run."""

    def __init__(self, status: StatusFrame, summary: Summary | None = None) -> None:
        summary = summary if summary is not None else status.summary
        # all that an interrupted cell shows, where the exception has no name to be
        # reached by but IPython's
        super().__init__(
            f"interrupted: {summary}; the status so far is in .status "
            "(in Jupyter: sys.last_value.status)"
        )
        self.status = status
        self.summary = summary

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.status, self.summary), self.__dict__
