"""``df.es``: the DataFrame accessor. It holds the frame and nothing else (pandas 3
builds a new accessor on every ``df.es``), and delegates to :class:`Producer`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from ._config import CONNECTION_SETTINGS, Limits, Retry
from ._producer import (
    UNSET,
    Producer,
    RunOptions,
    Session,
    finish,
    interrupted,
    run_blocking,
)
from ._progress import ProgressSpec
from ._status import StatusBook, StatusFrame
from ._transports import AsyncTransport
from ._wire import RecordEncoder, RejectedRow

__all__ = ["EventStreamsAccessor"]

_SECRET_HEADERS = ("authorization", "x-auth-token")


@pd.api.extensions.register_dataframe_accessor("es")
class EventStreamsAccessor:
    """Send a DataFrame's rows to IBM Event Streams: ``df.es.produce("orders")``."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def produce(
        self,
        topic: str,
        *,
        # Rows to records
        key_col: Hashable | None = None,
        value_col: Hashable | None = None,
        value_cols: Sequence[Hashable] | None = None,
        value_type: Literal["json", "text", "binary"] | None = None,
        header_cols: Sequence[Hashable] | Callable[[dict], Mapping[str, object]] | None = None,
        # Connection (each falls back to producer=, credentials=, then the environment)
        producer: Producer | None = None,
        url: str | None = None,
        api_key: str | None = None,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        iam: bool | None = None,
        iam_url: str | None = None,
        auth_style: Literal["bearer", "basic", "x-auth-token"] | None = None,
        credentials: str | Mapping[str, Any] | None = None,
        api_version: Literal["v1", "v2"] | None = None,
        verify: bool | str | None = None,
        timeout: float | None = None,
        # The run (each falls back to producer=, then the default)
        concurrency: int = UNSET,
        max_rate: float | None = UNSET,
        retries: int | Retry = UNSET,
        engine: str | type[AsyncTransport] = UNSET,
        fail_after: int = UNSET,
        chunksize: int = UNSET,
        limits: Limits = UNSET,
        progress: ProgressSpec = UNSET,
        errors: Literal["collect", "raise"] = UNSET,
        dry_run: bool = False,
    ) -> StatusFrame | pd.DataFrame:
        """Send each row as one record to ``topic``; return one status row per input row.

        Parameters
        ----------
        topic : str
            The Event Streams (Kafka) topic.
        key_col : column label, optional
            The record key. A null key rejects its row.
        value_col : column label, optional
            One column as the whole value: bytes as binary, str as text, anything else
            as JSON (override with ``value_type``).
        value_cols : list of column labels, optional
            Columns of the JSON object value. Default: every column but the key and
            header columns.
        header_cols : list of column labels, or callable, optional
            Kafka headers, from columns, or ``f(row_dict) -> {name: str | bytes}``.
        producer : Producer, optional
            A reusable connection and defaults; the arguments below take precedence.
        url, api_key, user, password, token, iam, iam_url, auth_style, credentials,
        api_version, verify, timeout
            Where and how to connect; see :class:`Producer`.
        concurrency : int, default 32
            Requests in flight at once.
        max_rate : float, optional
            Requests per second at most (IBM Cloud: Lite 5, Standard 100).
        retries : int or Retry, default 4
            Retries per row for connection errors, timeouts, 408, 429 and 5xx.
        engine : {"aiohttp", "httpx"} or AsyncTransport subclass, default "aiohttp"
        fail_after : int, default 3
            Stop the run after this many 401/403/404 answers in a row.
        chunksize : int, default 10000
            Rows turned into requests at a time.
        limits : Limits, optional
            Key, value and URI size limits checked before sending.
        progress : bool or callable, optional
            A progress bar where someone can see it (default), always (True), never
            (False), or a callable receiving :class:`ProgressEvent`.
        errors : {"collect", "raise"}, default "collect"
            "raise": raise :class:`ProduceError` (carrying the frame) if any row is not ok.
        dry_run : bool, default False
            Return the requests that would be sent (secrets masked) without sending.

        Returns
        -------
        StatusFrame
            On the input's index: ``status`` (ok, failed, unknown, rejected, not_sent),
            ``http_status``, ``partition``, ``offset``, ``timestamp``, ``error``,
            ``attempts``, ``latency_ms``, ``maybe_duplicate``; ``.summary`` counts them.

        Raises
        ------
        ConfigurationError
            No URL, unusable credentials, unknown columns: before anything is sent.
        AuthenticationError, PermissionDeniedError, TopicNotFoundError, ConnectionFailed
            The run stopped early; ``.status`` holds the frame (the rest ``not_sent``).
        ProduceInterrupted
            Ctrl-C; ``.status`` holds the partial frame.
        """
        arguments = {k: v for k, v in locals().items() if k not in ("self", "topic")}
        producer_, options, make_encoder = prepare_run(topic, arguments)
        encoder = make_encoder(self._frame)
        if dry_run:
            return self._dry_run(producer_, encoder, options)
        frame = self._frame
        book = StatusBook(len(frame))
        description = _description(producer_, topic)
        session = Session(producer_, options, len(frame), description)
        run_blocking(session.run(frame, encoder, book), lambda: interrupted(book, frame.index))
        return finish(book, frame.index, options, description)

    async def aproduce(self, topic: str, **options: Any) -> StatusFrame | pd.DataFrame:
        """:meth:`produce` for async code, on the caller's event loop; same options.

        Cancelling the awaiting task cancels in-flight requests and propagates
        ``CancelledError``."""
        producer, run_options, make_encoder = prepare_run(topic, options)
        encoder = make_encoder(self._frame)
        if options.get("dry_run"):
            return self._dry_run(producer, encoder, run_options)
        book = StatusBook(len(self._frame))
        description = _description(producer, topic)
        session = Session(producer, run_options, len(self._frame), description)
        await session.run(self._frame, encoder, book)
        return finish(book, self._frame.index, run_options, description)

    def _dry_run(
        self, producer: Producer, encoder: RecordEncoder, options: RunOptions
    ) -> pd.DataFrame:
        """The requests a run would send, one row per input row, secrets masked."""
        import asyncio

        auth = producer.connection.auth
        shown: dict[str, str] = {}
        if auth is not None and not hasattr(auth, "url"):  # static credentials: show the scheme
            headers = asyncio.run(auth.headers(None))  # type: ignore[arg-type]
            shown = {name: _mask(name, value) for name, value in headers.items()}
        elif auth is not None:
            shown = {"Authorization": "Bearer <IAM token>"}
        rows: list[dict[str, Any]] = []
        for start in range(0, len(self._frame), options.chunksize):
            chunk = self._frame.iloc[start : start + options.chunksize]
            for item in encoder.encode(chunk, start):
                if isinstance(item, RejectedRow):
                    rows.append(
                        {
                            "method": None,
                            "url": None,
                            "headers": None,
                            "body": None,
                            "error": item.error,
                        }
                    )
                    continue
                body: str | bytes
                try:
                    body = item.body.decode()
                except UnicodeDecodeError:
                    body = item.body
                rows.append(
                    {
                        "method": "POST",
                        "url": producer.connection.url + item.target,
                        "headers": {
                            "Content-Type": item.content_type,
                            "Accept": "application/json",
                            **shown,
                        },
                        "body": body,
                        "error": None,
                    }
                )
        # object columns: None means "no request", whatever pandas would infer
        frame = pd.DataFrame(
            rows,
            index=self._frame.index,
            columns=["method", "url", "headers", "body", "error"],
            dtype=object,
        )
        frame["error"] = frame["error"].astype("string")
        return frame


def _mask(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, _ = value.partition(" ")
    return f"{scheme} <redacted>" if name.lower() == "authorization" else "<redacted>"


def _description(producer: Producer, topic: str) -> str:
    return f"{producer.connection.url} topic {topic!r}"


def prepare_run(
    topic: str, options: Mapping[str, Any]
) -> tuple[Producer, RunOptions, Callable[[pd.DataFrame], RecordEncoder]]:
    """Check ``options`` (the keywords of :meth:`EventStreamsAccessor.produce`) and
    resolve them into a producer, run options and an encoder factory for frames."""
    bound = _PRODUCE_SIGNATURE.bind(None, topic, **options)
    bound.apply_defaults()
    arguments = bound.arguments
    connection = {name: arguments[name] for name in CONNECTION_SETTINGS}
    producer = arguments["producer"]
    if producer is None:
        producer = Producer(**connection)
    else:
        producer = producer.with_connection(**connection)
    run = {name: arguments[name] for name in _RUN_OPTIONS}
    run["retry"] = run.pop("retries")
    run_options = producer.options.update(**run)
    record = {name: arguments[name] for name in _RECORD_OPTIONS}

    def make_encoder(frame: pd.DataFrame) -> RecordEncoder:
        return producer.encoder(frame, topic, run_options, **record)

    return producer, run_options, make_encoder


_RECORD_OPTIONS = ("key_col", "value_col", "value_cols", "value_type", "header_cols")
_RUN_OPTIONS = (
    "concurrency",
    "max_rate",
    "retries",
    "engine",
    "fail_after",
    "chunksize",
    "limits",
    "progress",
    "errors",
)
_PRODUCE_SIGNATURE = inspect.signature(EventStreamsAccessor.produce)
#: every keyword of ``DataFrame.es.produce``
PRODUCE_KEYWORDS = tuple(_PRODUCE_SIGNATURE.parameters)[2:]
