"""The Kafka protocol (``protocol="kafka"``): a run's rows written by confluent-kafka
(librdkafka, see :mod:`._librdkafka`) instead of one REST request each.

:class:`KafkaEngine` keeps the REST engine's contract with the run around it: rows come
from the same stream of batches, each outcome goes into its batch's book, ``abort`` says
why a run stopped, ``stop()`` sends no more. What Kafka does itself is left to it:
librdkafka batches the records and retries them until ``message.timeout.ms``, and the
idempotent producer (``enable.idempotence``, ``acks=all``) makes a retry write nothing
twice and keeps each partition's order. A delivery report is a row's answer: partition,
offset and timestamp are the broker's; a report that never came in time is ``unknown``.

Longer than this project's ~400-line guide on purpose: as :mod:`._engine` does for REST,
one class holds a row's whole fate here (the topic asked for before any row, the hand
over to librdkafka, its report, the errors that stop a run), read top to bottom.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from ._engine import Batch, readable_rows
from ._exceptions import (
    AuthenticationError,
    ConnectionFailed,
    PermissionDeniedError,
    ProduceAborted,
    ServiceUnavailable,
    TopicNotFoundError,
)
from ._librdkafka import (
    DEFAULT_MESSAGE_MAX_BYTES,
    LIBRDKAFKA_LOG,
    RecordingProducer,
    SharedProducer,
    confluent,
    connection_failure,
    reason,
    retire,
    shared_producer,
)
from ._outcomes import Abort
from ._pressure import Pacer, Pressure
from ._status import FAILED, OK, REJECTED, UNKNOWN
from ._wire.kafka import KafkaRecord

__all__ = ["KafkaEngine"]

logger = logging.getLogger("es_pandas")

#: records handed to librdkafka and not yet reported, per run: bounds the memory a run
#: holds (and the rows a second Ctrl-C leaves unknown) whatever librdkafka's own queue
WINDOW = 10_000
#: how long a run that stopped waits for the reports of its records in flight (as the
#: first Ctrl-C waits for the answers in flight)
_SETTLE_SECONDS = 1.0
# errors after which the broker wrote nothing: the row is failed, not unknown
_REFUSED = frozenset(
    (
        "MSG_SIZE_TOO_LARGE",
        "RECORD_LIST_TOO_LARGE",
        "INVALID_RECORD",
        "CORRUPT_MESSAGE",
        "INVALID_REQUIRED_ACKS",
        "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    )
)
# errors about the whole run, and the exception each stops it with
_RUN_LEVEL: dict[str, type[ProduceAborted]] = {
    "UNKNOWN_TOPIC_OR_PART": TopicNotFoundError,
    "_UNKNOWN_TOPIC": TopicNotFoundError,
    "_UNKNOWN_PARTITION": TopicNotFoundError,
    "TOPIC_EXCEPTION": TopicNotFoundError,  # "Invalid topic": a name Kafka cannot have
    "TOPIC_AUTHORIZATION_FAILED": PermissionDeniedError,
    "CLUSTER_AUTHORIZATION_FAILED": PermissionDeniedError,
    "TRANSACTIONAL_ID_AUTHORIZATION_FAILED": PermissionDeniedError,
    "SASL_AUTHENTICATION_FAILED": AuthenticationError,
    "_AUTHENTICATION": AuthenticationError,
}
# what a broker's refusal to let an idempotent producer write usually means
_IDEMPOTENCE_HINT = (
    " (an idempotent producer needs the IdempotentWrite permission on older Kafka: "
    "kafka_config={'enable.idempotence': False} writes without it, and a retry may then "
    "write a record twice)"
)


# -- a run ----------------------------------------------------------------------------


class KafkaEngine:
    """Writes the records of a stream of batches to ``topic`` with the producer for
    ``config`` (or ``recorder``, a dry run's), at most ``max_rate`` records a second
    (with ``pacer``, a Producer's, for its calls together).

    ``abort`` is set when the run must stop; the caller raises it with the status."""

    def __init__(
        self,
        *,
        topic: str,
        config: Mapping[str, Any],
        where: str,
        fail_after: int,
        max_rate: float | Literal["auto"] | None,
        timeout: float,
        recorder: RecordingProducer | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._topic = topic
        self._config = config
        self._where = where
        self._fail_after = fail_after
        self._timeout = timeout
        self._recorder = recorder
        # "auto" watches REST answers; a Kafka broker throttles a client by itself
        self.pressure = Pressure(None if max_rate == "auto" else max_rate, pacer=pacer)
        self.abort: Abort | None = None
        #: keys held back (REST's on_key_error="hold"): Kafka keeps each key's order
        self.held_keys = 0
        self._shared: SharedProducer | RecordingProducer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: collections.deque[tuple[Batch, int, float, Any, Any]] = collections.deque()
        self._errors: collections.deque[Any] = collections.deque()
        self._woken = False
        self._in_flight: dict[tuple[int, int], tuple[Batch, int]] = {}
        self._room = asyncio.Event()
        self._stopping = False
        self._delivered = False  # whether any record was written
        self._streak = 0  # reports in a row that did not write their record
        self._unreachable: str | None = None  # the last broker connection's failure
        self._failure: Exception | None = None  # raised by handling a report

    def stop(self) -> None:
        """Write no more rows; those handed to Kafka go on to their reports."""
        self._stopping = True

    # -- on the poll thread ------------------------------------------------------

    def wake(self) -> None:
        """Reports or errors are waiting: have the run's loop take them, once."""
        if (self._reports or self._errors) and not self._woken and self._loop is not None:
            self._woken = True
            # a closed loop: the run is over
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._take)

    def error(self, error: Any) -> None:
        self._errors.append(error)

    def _report(
        self, batch: Batch, position: int, started: float, error: Any, message: Any
    ) -> None:
        self._reports.append((batch, position, started, error, message))

    # -- on the run's loop -------------------------------------------------------

    async def connect(self) -> int:
        """Take the producer and check the topic: the largest record it takes, in
        bytes. A problem of the whole run (no broker, refused credentials, no such
        topic) sets ``abort`` and sends nothing."""
        self._loop = asyncio.get_running_loop()
        if self._recorder is not None:
            self._shared = self._recorder
            self._shared.runs.add(self)
            return self.client_limit(self._config)
        try:
            shared = await self._loop.run_in_executor(None, shared_producer, self._config, self)
            self._shared = shared
            problem = await self._loop.run_in_executor(None, self._check_topic, shared)
        except BaseException:
            # the topic check on its thread ends too (else it goes on for the timeout,
            # and a process exiting waits for it)
            self._stopping = True
            if self._shared is not None:
                self._shared.runs.discard(self)
            raise
        if problem is not None and self.abort is None:
            self.abort = problem
        if self.abort is not None:
            # no run() follows to leave the producer: a run kept in it is woken, and
            # handed the producer's errors, for as long as the process lives
            shared.runs.discard(self)
            await self._loop.run_in_executor(None, retire, shared)
        return shared.limits.get(self._topic, self.client_limit(self._config))

    @staticmethod
    def client_limit(config: Mapping[str, Any]) -> int:
        """The largest record librdkafka takes with ``config`` (``message.max.bytes``)."""
        return int(config.get("message.max.bytes", DEFAULT_MESSAGE_MAX_BYTES))

    def _check_topic(self, shared: SharedProducer) -> Abort | None:
        """Ask the brokers for the topic (on a worker thread): a metadata request, in
        short tries until ``timeout`` passes or librdkafka finds every broker down or
        the credentials refused, then the topic's ``max.message.bytes``."""
        kafka = confluent()
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                metadata = shared.producer.list_topics(
                    self._topic, timeout=max(0.05, min(0.25, deadline - time.monotonic()))
                )
            except kafka.KafkaException as exc:
                metadata, reason = None, exc.args[0].str()
            else:
                topic = metadata.topics.get(self._topic)
                error = None if topic is None else topic.error
                if error is None and topic is not None and topic.partitions:
                    break
                reason = "no partitions" if error is None else error.str()
                stops = None if error is None else _RUN_LEVEL.get(error.name())
                if stops is not None:
                    return Abort(stops, self._topic_problem(error))
            if self.abort is not None or self._stopping:
                # abort set on the loop (no broker, refused credentials), or Ctrl-C
                return None
            if time.monotonic() >= deadline:
                failure = shared.log.failure
                if failure is not None:
                    reason += f"; the last connection failed: {connection_failure(failure)}"
                return Abort(
                    ConnectionFailed,
                    f"Kafka at {self._where} did not describe topic {self._topic!r} within "
                    f"{self._timeout:g} s: {reason}",
                )
        if self._topic not in shared.limits:
            shared.limits[self._topic] = self._topic_limit(kafka)
        return None

    def _topic_problem(self, error: Any) -> str:
        if error.name() == "UNKNOWN_TOPIC_OR_PART":
            return f"topic {self._topic!r} does not exist at Kafka {self._where}"
        return f"Kafka at {self._where} refused topic {self._topic!r}: {error.str()}"

    def _topic_limit(self, kafka: Any) -> int:
        """The topic's ``max.message.bytes`` (a broker that will not say: the client's
        ``message.max.bytes``), whichever is lower."""
        client = self.client_limit(self._config)
        admin_config = {
            k: v
            for k, v in self._config.items()
            if k.startswith(("bootstrap", "security", "sasl", "ssl", "client", "enable.ssl"))
        }
        admin = kafka.admin.AdminClient({**admin_config, "logger": LIBRDKAFKA_LOG})
        resource = kafka.admin.ConfigResource("topic", self._topic)
        try:
            entries = admin.describe_configs([resource])[resource].result(timeout=self._timeout)
            return min(client, int(entries["max.message.bytes"].value))
        except Exception:
            # not allowed to describe it, or a broker that keeps no such setting
            return client

    async def run(self, batches: Iterator[Batch]) -> None:
        """Write every row of every batch, each outcome into its batch's book; then wait
        for the reports of those handed to Kafka."""
        rows, unreadable = readable_rows(batches, with_rejected=False)
        assert self._shared is not None
        try:
            try:
                await self._hand_over(rows)
            except Exception as exc:
                # A fault of es_pandas' own (a journal on a full disk): the records
                # Kafka already has are still reported, so their rows say what they are.
                self._failure = self._failure or exc
            while self._in_flight:
                if self.abort is not None:
                    # The rest would each wait out message.timeout.ms, though the run
                    # is over (a broker gone, a refusal): what Kafka reports meanwhile
                    # ends as it is, then the others are unknown.
                    await self._reports_within(_SETTLE_SECONDS)
                    self._unreported("the run stopped")
                    break
                await self._wait()
            if self._failure is not None:
                raise self._failure
        except asyncio.CancelledError:
            self._unreported("interrupted")
            raise
        finally:
            self._shared.runs.discard(self)
        if unreadable:
            raise unreadable[0]

    async def _hand_over(self, rows: Iterator[tuple[Batch, Any]]) -> None:
        """Each row's record to librdkafka, with the report that ends it."""
        assert self._shared is not None
        produce = self._shared.producer.produce
        kafka = None if self._recorder is not None else confluent()
        topic = self._topic
        for batch, record in rows:
            if self._stopping or self.abort is not None:
                break
            assert isinstance(record, KafkaRecord)
            while len(self._in_flight) >= WINDOW and self.abort is None:
                await self._wait()
            if self.pressure.limited:
                await self.pressure.start()
            position = record.position
            batch.sending(position)
            report = functools.partial(self._report, batch, position, time.monotonic())
            while True:
                try:
                    produce(
                        topic,
                        record.value,
                        record.key,
                        headers=record.headers,
                        on_delivery=report,
                    )
                except BufferError:
                    # librdkafka's queue is full (runs share it): wait for room
                    await (self._wait() if self._in_flight else asyncio.sleep(0.005))
                    continue
                except Exception as exc:
                    if kafka is None or not isinstance(exc, kafka.KafkaException):
                        raise
                    self._refused(batch, position, exc.args[0])
                    break
                self._in_flight[(id(batch), position)] = (batch, position)
                break

    async def _wait(self) -> None:
        """Until reports come in (or an error stops the run)."""
        self._room.clear()
        await self._room.wait()

    async def _reports_within(self, seconds: float) -> None:
        """The reports that come in within ``seconds``, until none is awaited."""
        deadline = time.monotonic() + seconds
        while self._in_flight and (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait(), left)

    def _take(self) -> None:
        """The reports and errors the poll thread has for this run."""
        self._woken = False
        while self._errors:
            self._global_error(self._errors.popleft())
        while self._reports:
            batch, position, started, error, message = self._reports.popleft()
            if self._in_flight.pop((id(batch), position), None) is None:
                continue  # ended when the run was interrupted
            try:
                try:
                    if error is None:
                        self._written(batch, position, started, message)
                    else:
                        self._not_written(batch, position, started, error)
                finally:
                    batch.row_done(position)
            except Exception as exc:
                # a loop callback's exception goes to asyncio's log, not to the caller:
                # run() raises it (a chunk's dead letters that cannot be written)
                self._failure = self._failure or exc
                self._stopping = True
        self._room.set()

    def _written(self, batch: Batch, position: int, started: float, message: Any) -> None:
        kind, timestamp = message.timestamp()
        batch.book.ok(
            position,
            0,
            message.partition(),
            message.offset(),
            timestamp if kind else None,
            1,
            time.monotonic() - started,
            position in batch.resent,
        )
        self._delivered = True
        self._streak = 0

    def _not_written(self, batch: Batch, position: int, started: float, error: Any) -> None:
        """A report with an error: the row is failed when the broker refused it, else
        unknown (librdkafka gave up waiting; the broker may have written it)."""
        name = error.name()
        latency = time.monotonic() - started
        stops = _RUN_LEVEL.get(name)
        refused = stops is not None or name in _REFUSED
        message = f"Kafka: {error.str()}"
        if stops is PermissionDeniedError and name != "TOPIC_AUTHORIZATION_FAILED":
            message += _IDEMPOTENCE_HINT
        if not refused:
            message += ": the record may have been written"
        batch.book.fail(
            position, FAILED if refused else UNKNOWN, message, attempts=1, latency=latency
        )
        if stops is not None:
            topic = stops is TopicNotFoundError
            self._stop(stops, self._topic_problem(error) if topic else message)
            return
        if name in _REFUSED:
            self._streak = 0
            return
        self._streak += 1
        if self._streak >= self._fail_after:
            # Not handed to later runs: librdkafka may keep it in a state that fails
            # every record (a broker that does not take the epoch an idempotent
            # producer moves to after timeouts fences each one); a new one starts clean.
            assert self._shared is not None
            self._shared.broken = f"stopped writing: {error.str()}"
            self._stop(
                ServiceUnavailable,
                f"Kafka at {self._where} stopped writing ({self._streak} records in a row "
                f"were not confirmed): {error.str()}",
            )

    def _refused(self, batch: Batch, position: int, error: Any) -> None:
        """librdkafka refused a record before sending it (its own size limit)."""
        status = REJECTED if error.name() == "MSG_SIZE_TOO_LARGE" else FAILED
        batch.book.fail(position, status, f"Kafka: {error.str()}")
        batch.row_done(position)
        stops = _RUN_LEVEL.get(error.name())
        if stops is not None:
            self._stop(stops, self._topic_problem(error))

    def _global_error(self, error: Any) -> None:
        """An error of the producer's, not of a record: refused credentials and fatal
        errors stop the run; a lost connection is librdkafka's to retry."""
        stops = _RUN_LEVEL.get(error.name())
        if stops is not None:
            self._stop(stops, f"Kafka at {self._where} refused: {reason(error)}")
        elif error.fatal():
            self._stop(ProduceAborted, f"the Kafka producer failed: {error.str()}")
        elif error.name() in ("_TRANSPORT", "_RESOLVE", "_SSL"):
            # why, should every broker be down
            self._unreachable = connection_failure(reason(error))
        elif error.name() == "_ALL_BROKERS_DOWN":
            logged = self._shared.log.failure if isinstance(self._shared, SharedProducer) else None
            why = self._unreachable or (logged and connection_failure(logged)) or error.str()
            if not self._delivered:
                self._stop(ConnectionFailed, f"cannot reach Kafka at {self._where}: {why}")
                return
            # librdkafka waits for a broker to come back: said, not a silent stall
            seconds = self._config.get("delivery.timeout.ms") or self._config["message.timeout.ms"]
            logger.warning(
                "every Kafka broker at %s is unreachable (%s): the records in flight wait up "
                "to %g s for one to come back (timeout x (retries + 1)), then end unknown",
                self._where,
                why,
                int(seconds) / 1000,
            )

    def _stop(self, error: type[ProduceAborted], message: str) -> None:
        if self.abort is None:
            self.abort = Abort(error, message)
        self._room.set()

    def _unreported(self, why: str) -> None:
        """The run ends with records not yet reported (a second Ctrl-C, an abort): they
        may be written, now or later by librdkafka."""
        for batch, position in self._in_flight.values():
            if batch.book.status[position] != OK:
                batch.book.fail(
                    position,
                    UNKNOWN,
                    f"{why} before Kafka reported it: the record may have been written",
                    attempts=1,
                )
            batch.row_done(position)
        self._in_flight.clear()
