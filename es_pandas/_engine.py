"""The bounded async pipeline that sends rows: a fixed number of worker coroutines
pull encoded records from a lazy iterator, so memory does not grow with the
number of rows; retries wait only for their own row; a probe row goes first."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._auth import Auth, IAMExchangeError
from ._config import Retry
from ._exceptions import (
    AuthenticationError,
    ConnectionFailed,
    PermissionDeniedError,
    ProduceAborted,
    TopicNotFoundError,
    TransportError,
)
from ._status import FAILED, UNKNOWN, StatusBook
from ._transports import AsyncTransport, Response
from ._wire import EncodedRecord, parse_error, parse_success

__all__ = ["Engine", "RateLimiter", "backoff_time"]

logger = logging.getLogger("es_pandas")

# Answers that are about the run, not the row: repeated, they stop it.
_FATAL = {
    401: (AuthenticationError, "the credentials were refused"),
    403: (PermissionDeniedError, "not allowed to produce to this topic"),
    404: (TopicNotFoundError, "the topic does not exist, or the URL is not Event Streams"),
}
_NO_CREDENTIALS = (
    "; no credentials were configured: pass api_key= (--api-key), credentials= "
    "(--credentials), or set ES_PANDAS_API_KEY"
)


def backoff_time(attempt: int, retry: Retry, rng: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with full jitter, before retry number ``attempt`` (1-based)."""
    return rng() * min(retry.max_backoff, retry.backoff * 2 ** (attempt - 1))


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """``Retry-After`` in seconds, from delay-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), cap)


def error_message(answer: Response) -> str:
    """The server's own words from any of the REST producer's error shapes."""
    return parse_error(answer.status, answer.body)


class RateLimiter:
    """Spaces request starts ``1/rate`` seconds apart (IBM Cloud's quotas are per second).

    Slots are booked in order, so the long-run rate is exact and a burst never
    exceeds one request."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Abort:
    error: type[ProduceAborted]
    message: str


class Engine:
    """Sends records with bounded concurrency; keeps what it learnt (a reachable,
    accepting server) from one :meth:`run` to the next."""

    def __init__(
        self,
        *,
        url: str,
        transport: AsyncTransport,
        auth: Auth | None,
        concurrency: int,
        retry: Retry,
        max_rate: float | None,
        fail_after: int,
    ) -> None:
        self._url = url
        self._transport = transport
        self._auth = auth
        self._book = StatusBook(0)
        self._concurrency = concurrency
        self._retry = retry
        self._limiter = RateLimiter(max_rate) if max_rate else None
        self._fail_after = fail_after
        self._fatal_streak = 0
        self._unreachable_streak = 0
        self.abort: _Abort | None = None
        self._reached = False  # whether any request ever got an HTTP answer
        self._probed = False  # whether a row got through alone, opening up concurrency

    async def run(self, records: Iterator[EncodedRecord], book: StatusBook) -> None:
        """Send every record, each outcome into ``book`` (by the record's position)."""
        self._book = book
        # Probe: rows go one at a time until one gets an answer that is not about
        # the whole run, so a wrong credential, URL or topic costs a handful of
        # requests however high the concurrency.
        while not self._probed:
            record = next(records, None)
            if record is None:
                return
            outcome = await self._row(record)
            if self.abort is not None:
                return
            self._probed = outcome not in ("fatal", "unreachable")
        workers = [asyncio.ensure_future(self._worker(records)) for _ in range(self._concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, records: Iterator[EncodedRecord]) -> None:
        for record in records:
            await self._row(record)
            if self.abort is not None:
                return

    async def _row(self, record: EncodedRecord) -> str:
        """Send one record with its retries; returns how it ended (for the probe)."""
        book = self._book
        retry = self._retry
        auth = self._auth
        position = record.position
        url = self._url + record.target
        base_headers = {"Content-Type": record.content_type, "Accept": "application/json"}
        attempts = 0
        retries_used = 0
        refreshed = False
        ambiguous = False
        started = time.monotonic()
        sending = False
        try:
            while True:
                if self._limiter is not None:
                    await self._limiter.wait()
                headers = base_headers
                if auth is not None:
                    try:
                        headers = {**base_headers, **(await auth.headers(self._transport.send))}
                    except IAMExchangeError as exc:
                        return self._fatal(
                            position, AuthenticationError, str(exc), 0, attempts, started
                        )
                    except TransportError as exc:
                        return self._unreachable(position, f"IAM: {exc}", attempts, started)
                attempts += 1
                sending = True
                try:
                    answer = await self._transport.send("POST", url, headers, record.body)
                except TransportError as exc:
                    sending = False
                    ambiguous = ambiguous or exc.sent
                    error, http_status, wait = str(exc), 0, None
                    if not exc.sent and retries_used >= retry.retries and not ambiguous:
                        return self._unreachable(position, error, attempts, started)
                else:
                    sending = False
                    self._reached = True
                    status = answer.status
                    if 200 <= status < 300:
                        where = parse_success(answer.body)
                        book.ok(
                            position,
                            status,
                            where.partition,
                            where.offset,
                            where.timestamp,
                            attempts,
                            time.monotonic() - started,
                            ambiguous,
                        )
                        self._fatal_streak = 0
                        self._unreachable_streak = 0
                        return "ok"
                    self._unreachable_streak = 0
                    if status == 401 and auth is not None and not refreshed:
                        refreshed = True
                        try:
                            if await auth.refresh(self._transport.send, headers):
                                continue
                        except IAMExchangeError as exc:
                            return self._fatal(
                                position, AuthenticationError, str(exc), 0, attempts, started
                            )
                    if status in _FATAL and not ambiguous:
                        error_class, reason = _FATAL[status]
                        hint = _NO_CREDENTIALS if status == 401 and auth is None else ""
                        return self._fatal(
                            position,
                            error_class,
                            f"{reason}: {error_message(answer)}{hint}",
                            status,
                            attempts,
                            started,
                        )
                    ambiguous = ambiguous or status in retry.ambiguous
                    error, http_status = error_message(answer), status
                    if status not in retry.statuses:
                        self._finish_failed(
                            position, error, http_status, attempts, started, ambiguous
                        )
                        return "failed"
                    wait = parse_retry_after(
                        answer.headers.get("retry-after"), retry.max_retry_after
                    )
                if retries_used >= retry.retries:
                    note = f"{error} (after {attempts} attempts)" if attempts > 1 else error
                    self._finish_failed(position, note, http_status, attempts, started, ambiguous)
                    return "failed"
                retries_used += 1
                await asyncio.sleep(wait if wait is not None else backoff_time(retries_used, retry))
        except asyncio.CancelledError:
            # Ctrl-C: a request in flight, or an earlier ambiguous try, may have
            # written the record; anything else was never written.
            if sending or ambiguous:
                book.fail(
                    position,
                    UNKNOWN,
                    "interrupted while in flight: the record may have been written",
                    attempts=attempts,
                )
            raise

    def _finish_failed(
        self,
        position: int,
        error: str,
        http_status: int,
        attempts: int,
        started: float,
        ambiguous: bool,
    ) -> None:
        if ambiguous:
            error += "; an attempt may have written the record"
        self._book.fail(
            position,
            UNKNOWN if ambiguous else FAILED,
            error,
            http_status=http_status,
            attempts=attempts,
            latency=time.monotonic() - started,
        )

    def _fatal(
        self,
        position: int,
        error_class: type[ProduceAborted],
        message: str,
        status: int,
        attempts: int,
        started: float,
    ) -> str:
        self._book.fail(
            position,
            FAILED,
            message,
            http_status=status,
            attempts=attempts,
            latency=time.monotonic() - started,
        )
        self._fatal_streak += 1
        if self._fatal_streak >= self._fail_after and self.abort is None:
            self.abort = _Abort(error_class, message)
        return "fatal"

    def _unreachable(self, position: int, error: str, attempts: int, started: float) -> str:
        self._book.fail(
            position, FAILED, error, attempts=attempts, latency=time.monotonic() - started
        )
        self._unreachable_streak += 1
        if self.abort is None and (
            not self._reached or self._unreachable_streak >= self._fail_after
        ):
            self.abort = _Abort(ConnectionFailed, f"cannot reach {self._url}: {error}")
        return "unreachable"
