"""Running a produce: the reusable :class:`Producer`, the private event loop that
makes the same call work in scripts and inside Jupyter, and Ctrl-C handling."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import pandas as pd

from ._config import (
    CONNECTION_SETTINGS,
    DEFAULT_CHUNKSIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_FAIL_AFTER,
    Limits,
    Retry,
    resolve_connection,
)
from ._engine import Engine
from ._exceptions import ConfigurationError, ProduceError, ProduceInterrupted
from ._progress import ProgressEvent, ProgressSpec, make_reporter
from ._status import REJECTED, STATUSES, StatusBook, StatusFrame, Summary
from ._transports import AsyncTransport, build_transport, check_engine
from ._wire import EncodedRecord, RecordEncoder, RejectedRow

__all__ = ["UNSET", "Producer", "RunOptions", "Session"]

logger = logging.getLogger("es_pandas")
T = TypeVar("T")
_TICK_SECONDS = 0.2


class _Unset:
    """Marks an option left to the Producer's setting (``None`` can mean "off")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves, apart from where it sends."""

    concurrency: int = DEFAULT_CONCURRENCY
    max_rate: float | None = None
    retry: Retry = field(default_factory=Retry)
    engine: str | type[AsyncTransport] = "aiohttp"
    fail_after: int = DEFAULT_FAIL_AFTER
    chunksize: int = DEFAULT_CHUNKSIZE
    limits: Limits = field(default_factory=Limits)
    progress: ProgressSpec = None
    errors: Literal["collect", "raise"] = "collect"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if self.max_rate is not None and self.max_rate <= 0:
            raise ConfigurationError("max_rate must be a positive number of requests per second")
        if self.fail_after < 1:
            raise ConfigurationError("fail_after must be at least 1")
        if self.chunksize < 1:
            raise ConfigurationError("chunksize must be at least 1")
        if self.errors not in ("collect", "raise"):
            raise ConfigurationError("errors must be 'collect' or 'raise'")
        check_engine(self.engine)

    def update(self, **options: Any) -> RunOptions:
        changes = {k: v for k, v in options.items() if v is not UNSET}
        if isinstance(changes.get("retry"), int):
            changes["retry"] = replace(self.retry, retries=changes["retry"])
        return replace(self, **changes) if changes else self


class Producer:
    """A reusable connection with default run options, for many produce calls.

        >>> producer = Producer(credentials="service-key.json", max_rate=100)
        >>> status = producer.produce(df, "orders", key_col="order_id")
        >>> status = df.es.produce("orders", producer=producer)     # the same

    Connection settings come from the arguments, then a service-credentials
    JSON (``credentials=``, a path or dict), then the environment (see
    ``es_pandas.ENVIRONMENT_VARIABLES``). Everything is checked here, so a
    missing URL or a credential that cannot work fails before any row is read.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
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
        concurrency: int = DEFAULT_CONCURRENCY,
        max_rate: float | None = None,
        retries: int | Retry = 4,
        engine: str | type[AsyncTransport] = "aiohttp",
        fail_after: int = DEFAULT_FAIL_AFTER,
        chunksize: int = DEFAULT_CHUNKSIZE,
        limits: Limits | None = None,
        progress: ProgressSpec = None,
        errors: Literal["collect", "raise"] = "collect",
    ) -> None:
        arguments = locals()
        self.connection = resolve_connection({k: arguments[k] for k in CONNECTION_SETTINGS})
        self.options = RunOptions(
            concurrency=concurrency,
            max_rate=max_rate,
            retry=retries if isinstance(retries, Retry) else Retry(retries=retries),
            engine=engine,
            fail_after=fail_after,
            chunksize=chunksize,
            limits=limits or Limits(),
            progress=progress,
            errors=errors,
        )

    def __repr__(self) -> str:
        c = self.connection
        return f"<Producer {c.url} api_version={c.api_version} auth={c.auth!r}>"

    def produce(self, frame: pd.DataFrame, topic: str, **options: Any) -> StatusFrame:
        """Send every row of ``frame`` to ``topic``; the same as
        ``frame.es.produce(topic, producer=self, **options)``."""
        return frame.es.produce(topic, producer=self, **options)

    async def aproduce(self, frame: pd.DataFrame, topic: str, **options: Any) -> StatusFrame:
        """The same as :meth:`produce`, awaited on the running event loop."""
        return await frame.es.aproduce(topic, producer=self, **options)

    def with_connection(self, **overrides: Any) -> Producer:
        """A copy whose connection takes ``overrides`` (url, api_key, ...) first."""
        if not any(v is not None for v in overrides.values()):
            return self
        clone = object.__new__(Producer)
        clone.connection = resolve_connection(overrides, base=self.connection)
        clone.options = self.options
        return clone

    # -- running -------------------------------------------------------------------

    def encoder(
        self, frame: pd.DataFrame, topic: str, options: RunOptions, **record: Any
    ) -> RecordEncoder:
        limits = options.limits
        base_path = self.connection.url.split("://", 1)[1].partition("/")[2]
        try:
            return RecordEncoder(
                topic,
                list(frame.columns),
                api_version=self.connection.api_version,
                max_key_bytes=limits.max_key_bytes,
                max_value_bytes=limits.max_value_bytes,
                max_uri_bytes=limits.max_uri_bytes,
                base_path="/" + base_path if base_path else "",
                **record,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None


class Session:
    """One connection pool, engine and progress bar for one or more frames sent in
    turn (a DataFrame, or the chunks of a file)."""

    def __init__(
        self, producer: Producer, options: RunOptions, total: int | None, description: str
    ) -> None:
        self._producer = producer
        self._options = options
        self._total = total
        self.description = description
        self._finished_counts = [0] * len(STATUSES)
        self._current: StatusBook | None = None
        self._started = time.monotonic()
        # Made here, on the caller's thread: Jupyter shows a widget in the cell whose
        # thread displays it, and the run itself goes on a helper thread.
        self._reporter = make_reporter(options.progress, total, description)

    async def __aenter__(self) -> Session:
        connection = self._producer.connection
        options = self._options
        self._transport = build_transport(
            options.engine,
            connections=options.concurrency,
            timeout=connection.timeout,
            verify=connection.verify,
        )
        self._engine = Engine(
            url=connection.url,
            transport=self._transport,
            auth=connection.auth,
            concurrency=options.concurrency,
            retry=options.retry,
            max_rate=options.max_rate,
            fail_after=options.fail_after,
        )
        self._started = time.monotonic()
        self._ticker = asyncio.ensure_future(self._tick())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._ticker.cancel()
        await asyncio.gather(self._ticker, return_exceptions=True)
        await self._transport.aclose()
        summary = str(self.summary())
        self._reporter.close(self._event(finished=True), summary)
        logger.info("produce to %s: %s", self.description, summary)

    async def run(self, frame: pd.DataFrame, encoder: RecordEncoder, book: StatusBook) -> None:
        """Open, send one frame, close."""
        async with self:
            await self.send(frame, encoder, book)

    async def send(self, frame: pd.DataFrame, encoder: RecordEncoder, book: StatusBook) -> None:
        """Send ``frame``'s rows, outcomes into ``book``; raise if the run is aborted."""
        self._current = book
        try:
            await self._engine.run(_records(frame, encoder, self._options.chunksize, book), book)
        finally:
            book.finished = time.monotonic()
            self._current = None
            for status, count in enumerate(book.counts):
                self._finished_counts[status] += count
        abort = self._engine.abort
        if abort is not None:
            raise abort.error(
                f"{abort.message}; stopped after {book.done:,} of {book.rows:,} rows "
                "(the rest are not_sent)",
                book.to_frame(frame.index),
            )

    def counts(self) -> dict[str, int]:
        counts = list(self._finished_counts)
        if self._current is not None:
            for status, count in enumerate(self._current.counts):
                counts[status] += count
        return dict(zip(STATUSES, counts, strict=True))

    def summary(self) -> Summary:
        return Summary(self.counts(), time.monotonic() - self._started)

    def _event(self, *, finished: bool = False) -> ProgressEvent:
        counts = self.counts()
        done = sum(counts.values()) - counts["not_sent"]
        total = self._total if self._total is not None else sum(counts.values())
        return ProgressEvent(done, total, counts, time.monotonic() - self._started, finished)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            self._reporter.update(self._event())


def _records(
    frame: pd.DataFrame, encoder: RecordEncoder, chunksize: int, book: StatusBook
) -> Iterator[EncodedRecord]:
    """Rows as requests, a chunk at a time; rejected rows go straight into the book."""
    for start in range(0, len(frame), chunksize):
        for item in encoder.encode(frame.iloc[start : start + chunksize], start):
            if isinstance(item, RejectedRow):
                book.fail(item.position, REJECTED, item.error)
            else:
                yield item


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_blocking(coro: Coroutine[Any, Any, T], on_interrupt: Any) -> T:
    """Run ``coro`` on a private event loop in a helper thread and wait for it.

    The same path serves scripts and Jupyter (where a loop already runs on the main
    thread, so ``asyncio.run`` is impossible; no nest_asyncio). Ctrl-C or a kernel
    interrupt reaches the waiting main thread: the run is cancelled, which stops
    in-flight requests, and ``on_interrupt()`` builds the exception to raise.
    """
    loop = _new_event_loop()
    outcome: dict[str, Any] = {}
    started = threading.Event()
    finished = threading.Event()

    def target() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(coro)
        outcome["task"] = task
        started.set()
        try:
            outcome["result"] = loop.run_until_complete(task)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                finished.set()

    thread = threading.Thread(target=target, name="es-pandas-produce", daemon=True)
    thread.start()
    try:
        while not finished.wait(0.1):
            pass
    except KeyboardInterrupt:
        started.wait()
        loop.call_soon_threadsafe(outcome["task"].cancel)
        finished.wait()
        raise on_interrupt() from None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def finish(book: StatusBook, index: pd.Index, options: RunOptions, description: str) -> StatusFrame:
    status = book.to_frame(index)
    if options.errors == "raise" and book.counts[0] != book.rows:
        raise ProduceError(f"not every row reached {description}: {status.summary}", status)
    return status


def interrupted(book: StatusBook, index: pd.Index) -> ProduceInterrupted:
    return ProduceInterrupted(book.to_frame(index))
