"""The bounded pipeline that sends rows, and the one place a row's fate is decided.

A fixed number of worker coroutines pull records from one lazy stream of batches (a
frame's chunks, or a file's), so memory does not grow with the number of rows and no
chunk boundary stalls the pipeline. Each row is sent by :meth:`Engine._send`, which
reads top to bottom: pace, authenticate, send, then :func:`decide` what the answer (or
the transport error) means: done, retry after a wait, or a problem with the whole run.
Until one row gets an answer that is about the row, rows go one at a time (the probe),
so a wrong URL, credential or topic costs a handful of requests at any concurrency; a
2xx whose body is not Event Streams' success answer is about the run until a row has
been answered with one (a URL that is not Event Streams answers so).

Longer than this project's ~400-line guide on purpose: a row's whole fate (the send,
its retries, and each way it can end) is read in this one class, top to bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from ._auth import Auth, IAMError, IAMUnavailable
from ._exceptions import (
    AuthenticationError,
    ConnectionFailed,
    ProduceAborted,
    ServiceUnavailable,
)
from ._outcomes import MAYBE_WRITTEN as _MAYBE_WRITTEN
from ._outcomes import Abort, Attempts, Decision, decide, hint
from ._pressure import Pacer, Pressure
from ._retry import DOWN_SECONDS, Retry, backoff_time, parse_retry_after
from ._status import FAILED, NOT_SENT, UNKNOWN, StatusBook
from ._transports import (
    AsyncTransport,
    Deadlines,
    Redactor,
    Response,
    ResponseTimeout,
    TransportError,
    redact,
)
from ._wire import (
    EncodedRecord,
    Metadata,
    RejectedRow,
    is_v2_error,
    looks_like_success,
    parse_error,
    parse_success,
    parse_trace,
    usual_success,
)
from ._wire.kafka import KafkaRecord

if TYPE_CHECKING:
    from ._journal import Journal

__all__ = ["Batch", "Engine", "readable_rows"]

logger = logging.getLogger("es_pandas")
_Row = tuple["Batch", EncodedRecord | RejectedRow]
_AnyRow = tuple["Batch", EncodedRecord | KafkaRecord | RejectedRow]
# outcomes after which on_key_error="hold" holds the later rows of the key (as a
# rejected row does)
_HOLDS = (FAILED, UNKNOWN)

#: the fewest answers in a row of 5xx or 408 that say a service is down: fewer would
#: stop a run of one request at a time, without retries, whose service fails 1 in 20
_DOWN_ANSWERS = 10

# a v2 envelope that Event Streams refuses without writing: its value has no type
_NO_TYPE = b'{"value":{}}'


class _Hung(Exception):
    """A request an engine of the user's own did not end in time."""


@dataclass(eq=False, slots=True)
class Batch:
    """Rows sent together (a frame's chunk, or a file's): the book their outcomes go
    into, and what to call when the last of them is in."""

    book: StatusBook
    records: Sequence[EncodedRecord | KafkaRecord]
    finished: Callable[[], None] | None = None
    #: positions whose record may already be in Kafka (an earlier load's unknown rows)
    resent: frozenset[int] = frozenset()
    #: the load's journal, and each position's row in the file
    journal: Journal | None = None
    rows: np.ndarray | None = None
    #: its rejected rows that have a key, in row order (they hold their key's later
    #: rows with on_key_error="hold")
    rejected: Sequence[RejectedRow] = ()
    #: rows of this batch still being sent
    pending: int = 0

    def sending(self, position: int) -> None:
        """The row at ``position`` is about to go out for the first time."""
        if self.journal is not None:
            assert self.rows is not None
            self.journal.sending(int(self.rows[position]))

    def row_done(self, position: int) -> None:
        if self.journal is not None:
            assert self.rows is not None
            self.journal.ended(int(self.rows[position]), self.book, position)
        self.pending -= 1
        if self.pending == 0 and self.finished is not None:
            self.finished()


class Engine:
    """Sends the records of a stream of batches with bounded concurrency.

    ``abort`` is set when the run must stop; the caller raises it with the status."""

    def __init__(
        self,
        *,
        url: str,
        transport: AsyncTransport,
        auth: Auth | None,
        retry: Retry,
        concurrency: int,
        max_rate: float | Literal["auto"] | None,
        fail_after: int,
        headers: Mapping[str, str],
        success_body: str,
        ordered: bool = False,
        hold_keys: bool = False,
        pacer: Pacer | None = None,
        hung_after: float | None = None,
    ) -> None:
        self._url = url
        self._transport = transport
        # An engine of the user's own that never ends a request would hang the run: a
        # request it has not ended after this long counts as one outside the contract
        # (es_pandas' engines bound each request by ``timeout`` themselves: None).
        self._hung_after = hung_after
        self._bound = None if hung_after is None else Deadlines(hung_after)
        self._request = transport.send if hung_after is None else self._send_bounded
        self._auth = auth
        self._retry = retry
        self._concurrency = concurrency
        self.pressure = Pressure(max_rate, pacer=pacer)
        self._fail_after = fail_after
        self._check_body = success_body == "event-streams"
        self._headers = dict(headers)
        # Without credentials, or with static ones, every row of a content type has
        # the same headers: built once. IAM's change as its token is renewed.
        static = {} if auth is None else auth.static_headers()
        self._static_auth = None if static is None else dict(static)
        self._static_headers: dict[str, dict[str, str]] = {}
        self._can_refresh = auth is not None and auth.renewable
        self._client_cert = transport.config.cert is not None
        self._describe = functools.partial(self._describe_error, None)
        self._run_level_streak = 0
        self._unreachable_streak = 0
        # answers in a row of 5xx or 408, and the rows among them that spent their
        # retries: enough of both (a round of the requests in flight at least) stop the run
        self._failing_answers = 0
        self._failing_since = 0.0
        self._failed_rows = 0
        self._last_failure = ""
        self._down_after = max(fail_after, concurrency, _DOWN_ANSWERS)
        self._no_retries = dataclasses.replace(retry, retries=0)
        self._answered = False  # whether any request got an HTTP answer
        self._redact = Redactor()
        self._probed = False  # whether a row got an answer about itself
        self._confirmed = False  # whether a row got Event Streams' success body
        self._went_ok = False  # whether a row ended ok
        self._warned = False
        self._commented = False
        self._last_stop: Abort | None = None
        self._stopping = False
        self.abort: Abort | None = None
        # Rows of one key in row order: the rows waiting behind the row of their key in
        # flight, by key; how many wait in all (bounded, or a frame of one key would be
        # read whole into memory); the keys whose rows are held after a failure.
        self._ordered = ordered
        self._hold_keys = hold_keys
        self._waiting: dict[str, deque[_Row]] = {}
        self._parked = 0
        self._park_limit = 4 * concurrency
        self._unparked = asyncio.Event()
        # set when the run stops: retries waiting for their time go on at once
        self._no_more = asyncio.Event()
        self._held: set[str] = set()

    def stop(self) -> None:
        """Send no more rows (nor retries); the requests in flight go on to their answers."""
        self._stopping = True
        self._release_waiting()

    def _stop_run(self, abort: Abort) -> None:
        """Stop the run for ``abort`` (the first reason stands): no row starts or tries
        again, and the rows waiting to end at once."""
        if self.abort is None:
            self.abort = abort
        self._release_waiting()

    def _release_waiting(self) -> None:
        """Rows waiting for their turn or their next try go on at once (to end)."""
        self.pressure.release()
        self._no_more.set()

    async def run(self, batches: Iterator[Batch]) -> None:
        """Send every row of every batch, each outcome into its batch's book.

        If the batches cannot be read on (a malformed line of a file), the rows in
        flight still end as answered, and then the reading error is raised."""
        rows, unreadable = readable_rows(batches, self._ordered and self._hold_keys)
        # a REST run's encoder gives requests (EncodedRecord), never Kafka records
        await self._run(cast(Iterator[_Row], rows))
        if unreadable:
            raise unreadable[0]

    async def _run(self, rows: Iterator[_Row]) -> None:
        while not self._probed and not self._stopping:
            row = next(rows, None)
            if row is None:
                # Fewer rows than fail_after, all ended by answers about the run: it
                # still ends with the one clear error.
                self.abort = self.abort or self._last_stop
                return
            await self._send_in_order(*row)
            if self.abort is not None:
                return
        workers = [asyncio.ensure_future(self._worker(rows)) for _ in range(self._concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, rows: Iterator[_Row]) -> None:
        while not self._stopping:
            row = next(rows, None)
            if row is None:
                return
            await self._send_in_order(*row)
            if self.abort is not None:
                return

    @property
    def held_keys(self) -> int:
        """Keys whose later rows were held back (``on_key_error="hold"``)."""
        return len(self._held)

    async def _send_in_order(self, batch: Batch, record: EncodedRecord | RejectedRow) -> None:
        """Send a row; with ``ordered``, after the rows of its key that came before it.

        The first row of a key makes its worker the key's sender: it sends the rows
        of that key that arrive meanwhile, one at a time and in row order, until none
        waits. Another worker that meets a row of a key in flight leaves it waiting
        there and reads on, unless too many rows wait already. A rejected row (here
        only to hold its key) takes its turn like the others, holding the rows after it."""
        key = record.key
        if not (self._ordered and key):
            assert isinstance(record, EncodedRecord)
            await self._send(batch, record)
            return
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.append((batch, record))
            self._parked += 1
            while self._parked >= self._park_limit and self.abort is None and not self._stopping:
                self._unparked.clear()
                await self._unparked.wait()
            return
        if isinstance(record, RejectedRow):
            self._held.add(key)
            return
        waiting = self._waiting[key] = deque()
        try:
            while True:
                if isinstance(record, RejectedRow):
                    self._held.add(key)
                elif key in self._held:
                    self._hold(batch, record)
                else:
                    await self._send(batch, record)
                    if self._hold_keys and batch.book.status[record.position] in _HOLDS:
                        self._held.add(key)
                if not waiting or self.abort is not None or self._stopping:
                    return
                batch, record = waiting.popleft()
                self._parked -= 1
                self._unparked.set()
        finally:
            # rows still waiting when the run stops stay not_sent, as unread rows do
            del self._waiting[key]
            self._parked -= len(waiting)
            self._unparked.set()

    def _hold(self, batch: Batch, record: EncodedRecord) -> None:
        """A row held back: an earlier row of its key did not make it (``hold``)."""
        batch.book.fail(
            record.position,
            NOT_SENT,
            "held back: an earlier row of its key ended failed, unknown or rejected "
            "(on_key_error='hold'); send this row again after that one, to keep the "
            "key's order",
        )
        batch.row_done(record.position)

    async def _send(self, batch: Batch, record: EncodedRecord) -> None:
        """Send one row with its retries; its outcome goes into its batch's book."""
        book, position = batch.book, record.position
        url = self._url + record.target
        attempts = Attempts(ambiguous=position in batch.resent)
        started = time.monotonic()
        in_flight = False
        # a row waiting to try again: its last try's outcome (and why its body was lost)
        last: tuple[Response | TransportError, str | None] | None = None
        try:
            while True:
                if self.pressure.limited:
                    slot = await self.pressure.start()
                else:
                    slot = time.monotonic()
                if self._stopping or self.abort is not None:
                    # The run stopped while this row waited its turn (not_sent), or to
                    # try again: it ends on its last try, as a slowed run's retries
                    # would keep a stopped run going for minutes.
                    if last is not None:
                        why = "interrupted" if self._stopping else "the run stopped"
                        self._give_up(book, position, *last, attempts, started, url, why)
                    elif self._stopping:
                        self._interrupted(book, position, attempts, in_flight=False)
                    return
                try:
                    headers = self._static_headers.get(
                        record.content_type
                    ) or await self._headers_for(record.content_type)
                except IAMError as exc:
                    self._end_run(book, position, str(exc), attempts, started, AuthenticationError)
                    return
                except TransportError as exc:
                    status = UNKNOWN if attempts.ambiguous else FAILED
                    self._end_unreachable_service(book, position, exc, status, attempts, started)
                    return
                if not attempts.made:
                    batch.sending(position)
                attempts.made += 1
                in_flight = True
                try:
                    outcome: Response | TransportError = await self._request(
                        "POST", url, headers, record.body
                    )
                except TransportError as exc:
                    outcome = exc
                except Exception as exc:
                    # A transport outside the contract: the request's fate is unknown.
                    what = str(exc) if isinstance(exc, _Hung) else repr(exc)
                    self._broken_transport(book, position, what, attempts, started, exc)
                    return
                lost = usual = None
                if isinstance(outcome, TransportError) and outcome.answer is not None:
                    # The server answered; only its body was lost: its status decides.
                    lost, outcome = str(outcome), outcome.answer
                if isinstance(outcome, Response):
                    usual = usual_success(outcome.status, outcome.body)
                    if usual is None:
                        # a credential echoed back goes before anything reads the answer
                        outcome = self._redact(outcome, self._secrets())
                    self.pressure.answered(slot, outcome.status)
                    self._count_failing(outcome.status)
                elif not isinstance(outcome, (Response, TransportError)):
                    self._broken_transport(
                        book, position, f"returned {type(outcome).__name__}", attempts, started
                    )
                    return
                # a stopped run's rows in flight end on their answers
                decision = self._decide(
                    outcome,
                    attempts,
                    self._retry if self.abort is None else self._no_retries,
                    lost,
                    url,
                )
                if isinstance(outcome, Response):
                    self._answered = True
                    self._unreachable_streak = 0
                if decision.action == "ok":
                    assert isinstance(outcome, Response)
                    self._ok(book, position, outcome, attempts, started, lost, usual)
                    return
                if decision.action == "refresh":
                    assert self._auth is not None
                    # a 401: this attempt wrote nothing
                    in_flight, last = False, (outcome, lost)
                    try:
                        await self._auth.refresh(self._service_send, headers)
                    except IAMError as exc:
                        self._end_run(
                            book, position, str(exc), attempts, started, AuthenticationError
                        )
                        return
                    except TransportError as exc:
                        status = UNKNOWN if attempts.ambiguous else FAILED
                        self._end_unreachable_service(
                            book, position, exc, status, attempts, started, 401
                        )
                        return
                    continue
                if decision.action == "run":
                    assert decision.stops is not None and isinstance(outcome, Response)
                    self._end_run(
                        book,
                        position,
                        decision.error,
                        attempts,
                        started,
                        decision.stops,
                        outcome.status,
                        parse_trace(outcome.body, outcome.headers),
                    )
                    return
                if decision.action == "final":
                    self._final(book, position, outcome, decision, attempts, started, url)
                    return
                # This attempt is settled: if it may have written, attempts says so now.
                in_flight = False
                last = outcome, lost
                wait = decision.wait
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._no_more.wait(),
                        wait if wait is not None else backoff_time(attempts.retries, self._retry),
                    )
        except asyncio.CancelledError:
            if in_flight or last is None:
                self._interrupted(book, position, attempts, in_flight)
            else:
                self._give_up(book, position, *last, attempts, started, url, "interrupted")
            raise
        except Exception as exc:
            # A fault of es_pandas' own: the run ends, but a row that may have been
            # written must not read as never sent.
            if (in_flight or attempts.ambiguous) and book.status[position] == NOT_SENT:
                book.fail(
                    position,
                    UNKNOWN,
                    f"es_pandas failed on this row ({type(exc).__name__}: {exc}); "
                    "the record may have been written",
                    attempts=attempts.made,
                )
            raise
        finally:
            batch.row_done(position)

    @staticmethod
    def _interrupted(book: StatusBook, position: int, attempts: Attempts, in_flight: bool) -> None:
        """Ctrl-C stopped this row: a request in flight, or an earlier ambiguous try,
        may have written the record; anything else was never written."""
        if (in_flight or attempts.ambiguous) and book.status[position] == NOT_SENT:
            book.fail(
                position,
                UNKNOWN,
                "interrupted while in flight: the record may have been written",
                attempts=attempts.made,
            )

    async def has_v2_route(self, path: str) -> bool | None:
        """Whether the server has v2's route ``path``, asked with an envelope whose value
        has no type: Event Streams refuses it (400, "'type' field in 'value' object is
        required") and writes nothing. A 404 not in v2's error shape says no (on
        premises, Event Streams has only v1); an answer in v2's shape, or a 2xx, says
        yes. None: no answer, or one that does not tell (a 5xx, a proxy's 401); the
        rows then meet whatever it was (refused credentials, no network), and say so."""
        try:
            headers = await self._headers_for("application/json")
            answer = await self._request("POST", self._url + path, headers, _NO_TYPE)
        except (IAMError, TransportError, _Hung):
            return None
        if is_v2_error(answer.body) or 200 <= answer.status < 300:
            return True
        return False if answer.status == 404 else None

    async def _headers_for(self, content_type: str) -> dict[str, str]:
        if self._static_auth is not None:
            headers = self._static_headers[content_type] = {
                "Content-Type": content_type,
                **self._headers,
                **self._static_auth,
            }
            return headers
        assert self._auth is not None
        return {
            "Content-Type": content_type,
            **self._headers,
            **await self._auth.headers(self._service_send),
        }

    async def _service_send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        """A request of the credentials' own (IAM's token exchange), retried as rows
        are: after transport errors and the run's retry statuses (429, 5xx), honouring
        Retry-After. An exchange is safe to repeat, so a request that may have been
        sent is retried too."""
        tries = 0
        while True:
            wait = None
            try:
                try:
                    answer = await self._request(method, url, headers, body)
                except _Hung as exc:
                    raise ResponseTimeout(f"the engine {exc}") from None
            except TransportError:
                if tries >= self._retry.retries:
                    raise
            else:
                if answer.status not in self._retry.statuses or tries >= self._retry.retries:
                    return answer
                wait = parse_retry_after(
                    answer.headers.get("retry-after"), self._retry.max_retry_after
                )
            tries += 1
            await asyncio.sleep(wait if wait is not None else backoff_time(tries, self._retry))

    # -- outcomes ------------------------------------------------------------------

    @staticmethod
    def _describe_error(lost: str | None, status: int, body: bytes) -> str:
        """How an answer's error reads in a row: the server's words, and why the body
        is missing if it is (secrets are taken out where rows are recorded)."""
        return parse_error(status, body) + (f" ({lost})" if lost else "")

    def _secrets(self) -> list[str]:
        """The credentials a server or proxy may echo back: the run's, its proxies'."""
        secrets = self._transport.config.secrets()
        return secrets if self._auth is None else [*self._auth.secrets(), *secrets]

    def _scrub(self, text: str) -> str:
        return redact(text, self._secrets())

    def _decide(
        self,
        outcome: Response | TransportError,
        attempts: Attempts,
        retry: Retry,
        lost: str | None,
        url: str,
    ) -> Decision:
        """What an attempt's outcome means for its row (``lost``: why its answer's body
        could not be read)."""
        return decide(
            outcome,
            attempts,
            retry,
            describe_error=self._describe
            if lost is None
            else functools.partial(self._describe_error, lost),
            can_refresh=self._can_refresh,
            credentials=None if self._auth is None else self._auth.origin,
            client_cert=self._client_cert,
            answered=self._answered,
            url=url,
            # a body that could not be read says nothing of who answered
            check_body=self._check_body and not self._confirmed and lost is None,
        )

    def _give_up(
        self,
        book: StatusBook,
        position: int,
        outcome: Response | TransportError,
        lost: str | None,
        attempts: Attempts,
        started: float,
        url: str,
        why: str,
    ) -> None:
        """A row the stopped run does not try again: it ends on its last try, and says
        why its retries were cut short."""
        decision = self._decide(outcome, attempts, self._no_retries, lost, url)
        if decision.action == "run":
            # the 401 of a row waiting on its token's renewal (the one answer about the
            # run a row waits after): its credentials were not refused
            assert isinstance(outcome, Response)
            error = self._describe_error(lost, outcome.status, outcome.body)
            decision = decision._replace(error=f"{error}: its token was being renewed")
        error = f"{decision.error}; not tried again: {why}"
        self._final(book, position, outcome, decision._replace(error=error), attempts, started, url)

    def _final(
        self,
        book: StatusBook,
        position: int,
        outcome: Response | TransportError,
        decision: Decision,
        attempts: Attempts,
        started: float,
        url: str,
    ) -> None:
        """A row that ends failed or unknown on its last try."""
        if isinstance(outcome, TransportError):
            # No answer at all: counted, as the server may be gone.
            config = self._transport.config
            error = decision.error + hint(outcome, url, config, self._answered)
            self._end_unreachable(book, position, error, decision.status, attempts, started)
        else:
            self._record(book, position, decision, outcome, attempts, started)

    def _ok(
        self,
        book: StatusBook,
        position: int,
        answer: Response,
        attempts: Attempts,
        started: float,
        lost: str | None,
        usual: Metadata | None = None,
    ) -> None:
        """A row written; ``usual``: where to, read already from the usual success body."""
        self._went_ok = True
        if not self._confirmed and lost is None:
            self._confirmed = usual is not None or looks_like_success(answer.body)
        metadata = usual or parse_success(answer.body)
        reason = lost or metadata.reason
        if reason is not None and not self._warned:
            self._warned = True
            logger.warning(
                "a success answer did not say where its record went (%s): such rows are "
                "ok with partition, offset or timestamp left empty",
                self._scrub(reason),
            )
        if metadata.comment is not None and not self._commented:
            self._commented = True
            logger.warning(
                "Event Streams commented on a record it wrote (v1.1.0 does when the "
                "record's schema is deprecated; said once per run, the rows are ok): %s",
                self._scrub(metadata.comment),
            )
        book.ok(
            position,
            answer.status,
            metadata.partition,
            metadata.offset,
            metadata.timestamp,
            attempts.made,
            time.monotonic() - started,
            attempts.ambiguous,
        )
        self._run_level_streak = 0
        self._probed = True

    def _record(
        self,
        book: StatusBook,
        position: int,
        decision: Decision,
        answer: Response,
        attempts: Attempts,
        started: float,
    ) -> None:
        """A row that ends failed or unknown on an answer about itself."""
        trace = parse_trace(answer.body, answer.headers)
        book.fail(
            position,
            decision.status,
            self._scrub(decision.error),
            http_status=answer.status,
            attempts=attempts.made,
            latency=time.monotonic() - started,
            trace=None if trace is None else self._scrub(trace),
        )
        self._run_level_streak = 0
        self._probed = True
        if not self._failing_answers:
            return  # not a 5xx or 408: the service answered for itself
        # Retried to the end: a row now and then is an outage passing by, but rows that
        # spent their retries in a run of such answers as long as a round of the requests
        # in flight (before any row was ok), or as long as DOWN_SECONDS, are a service
        # down, which every later row would meet too.
        self._failed_rows += 1
        self._last_failure = self._scrub(decision.error)
        self._check_down()

    def _count_failing(self, status: int) -> None:
        """Count an answer in or out of a run of 5xx and 408 answers (429 is a quota,
        which back-pressure keeps to: the service is up)."""
        if status in self._retry.statuses and status != 429:
            if not self._failing_answers:
                self._failing_since = time.monotonic()
            self._failing_answers += 1
            if self._failed_rows:
                self._check_down()
        else:
            self._failing_answers = self._failed_rows = 0

    def _check_down(self) -> None:
        """Stop the run if its run of 5xx and 408 answers says the service is down."""
        lasted = time.monotonic() - self._failing_since
        # A service that has written rows of this run is ridden through an outage
        # shorter than DOWN_SECONDS: its rows wait their turn, slowed by back-pressure.
        counted = not self._went_ok and self._failed_rows >= self._fail_after
        if self.abort is not None or not (
            (counted and self._failing_answers >= self._down_after)
            or (lasted >= DOWN_SECONDS and self._failing_answers >= _DOWN_ANSWERS)
        ):
            return
        rows = f"{self._failed_rows} row{'s' * (self._failed_rows != 1)}"
        self._stop_run(
            Abort(
                ServiceUnavailable,
                f"{self._url} is unavailable: its last {self._failing_answers:,} answers, "
                f"over {lasted:.0f} s, were errors, and {rows} failed with every retry "
                f"spent, the last with {self._last_failure}; send the rows not ok again once "
                "it is back",
            )
        )

    def _end_run(
        self,
        book: StatusBook,
        position: int,
        message: str,
        attempts: Attempts,
        started: float,
        error: type[ProduceAborted],
        http_status: int = 0,
        trace: str | None = None,
    ) -> None:
        """A row that ends on a problem of the whole run (credentials, topic, a
        redirect): fail_after of them in a row stop it, quoting the answer's ``trace``."""
        message = self._scrub(message)
        trace = None if trace is None else self._scrub(trace)
        book.fail(
            position,
            UNKNOWN if attempts.ambiguous else FAILED,
            message + (_MAYBE_WRITTEN if attempts.ambiguous else ""),
            http_status=http_status,
            attempts=attempts.made,
            latency=time.monotonic() - started,
            trace=trace,
        )
        self._run_level_streak += 1
        support = "" if trace is None else f" (trace {trace}: give it to IBM support)"
        self._last_stop = Abort(error, message + support)
        if self._run_level_streak >= self._fail_after:
            self._stop_run(self._last_stop)

    def _end_unreachable_service(
        self,
        book: StatusBook,
        position: int,
        error: TransportError,
        status: int,
        attempts: Attempts,
        started: float,
        http_status: int = 0,
    ) -> None:
        """A row whose credentials' service (IAM) gave no usable answer, retries spent."""
        assert self._auth is not None
        self._end_unreachable(
            book,
            position,
            str(error),
            status,
            attempts,
            started,
            http_status,
            self._auth.service,
            # it answered, only not with a token: down, not a wrong address
            answered=isinstance(error, IAMUnavailable),
        )

    def _end_unreachable(
        self,
        book: StatusBook,
        position: int,
        message: str,
        status: int,
        attempts: Attempts,
        started: float,
        http_status: int = 0,
        where: str | None = None,
        answered: bool = False,
    ) -> None:
        """A row that got no HTTP answer at all (not sent, the connection broke, or
        the answer never came) from ``where`` (the Event Streams URL unless said), or
        (``answered``) no usable one: the first, or fail_after in a row, stop the run.
        A service that answered in this run is down (try again later); one that never
        did may be a wrong address (fix it)."""
        message = self._scrub(message)
        book.fail(
            position,
            status,
            message if where is None else f"{where}: {message}",
            http_status=http_status,
            attempts=attempts.made,
            latency=time.monotonic() - started,
        )
        self._unreachable_streak += 1
        where = where or self._url
        if answered:
            if not self._answered or self._unreachable_streak >= self._fail_after:
                self._stop_run(Abort(ServiceUnavailable, f"{where} is unavailable: {message}"))
        elif not self._answered:
            self._stop_run(Abort(ConnectionFailed, f"cannot reach {where}: {message}"))
        elif self._unreachable_streak >= self._fail_after:
            self._stop_run(
                Abort(
                    ServiceUnavailable,
                    f"{where} stopped answering ({self._unreachable_streak} rows in a row "
                    f"got no answer): {message}",
                )
            )

    async def _send_bounded(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        assert self._bound is not None
        # one timer for every request in flight, as es_pandas' engines keep theirs
        deadline = self._bound()
        try:
            with deadline:
                return await self._transport.send(method, url, headers, body)
        except TimeoutError:
            if not deadline.expired:
                raise  # the engine's own
            raise _Hung(
                f"did not end a request within {self._hung_after:g}s (twice the timeout, "
                "which the engine is to bound each request by)"
            ) from None

    def _broken_transport(
        self,
        book: StatusBook,
        position: int,
        what: str,
        attempts: Attempts,
        started: float,
        cause: BaseException | None = None,
    ) -> None:
        """An engine outside the contract (it raised something else, or returned
        something else): the request's fate is unknown, and the run cannot go on; what
        it raised is chained to the run's exception, its traceback with it."""
        message = self._scrub(
            f"the {type(self._transport).__name__} engine {what}, outside the "
            "es_pandas.transports contract; the record may have been written"
        )
        book.fail(
            position, UNKNOWN, message, attempts=attempts.made, latency=time.monotonic() - started
        )
        self._stop_run(Abort(ProduceAborted, message, cause))


def readable_rows(
    batches: Iterator[Batch], with_rejected: bool
) -> tuple[Iterator[_AnyRow], list[Exception]]:
    """Every record of every batch, in row order (see :func:`_rows`), and the list that
    holds the error that stopped reading them, if one did: the rows already out still
    end as answered before it is raised."""
    unreadable: list[Exception] = []

    def rows() -> Iterator[_AnyRow]:
        try:
            yield from _rows(batches, with_rejected)
        except Exception as exc:
            unreadable.append(exc)

    return rows(), unreadable


def _rows(batches: Iterator[Batch], with_rejected: bool) -> Iterator[_AnyRow]:
    """Every record of every batch, in row order; ``with_rejected``, with the rejected
    rows that have a key in their places."""
    for batch in batches:
        records, batch.pending = batch.records, len(batch.records)
        # Rows in flight keep their batch alive; its records need not stay with it.
        batch.records = ()
        if not records and batch.finished is not None:
            batch.finished()
        if with_rejected and batch.rejected:
            rows: Iterable[EncodedRecord | KafkaRecord | RejectedRow] = heapq.merge(
                records, batch.rejected, key=_position
            )
        else:
            rows = records
        for record in rows:
            yield batch, record


def _position(row: EncodedRecord | KafkaRecord | RejectedRow) -> int:
    return row.position
