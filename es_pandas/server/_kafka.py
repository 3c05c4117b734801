"""A real Kafka cluster as the local server's storage: the server becomes a REST
producer gateway in front of any Kafka (``es-pandas serve --bootstrap-servers``).

Records are produced with confluent-kafka (librdkafka), ``acks=all``; each HTTP answer
waits for its record's delivery report, resolved into the event loop from a poll
thread, so many requests share librdkafka's batching and none blocks on a flush.
Partition, offset and timestamp in the answers are Kafka's own.

librdkafka logs to stderr by default: a line per reconnect attempt per client, hundreds
a minute while a broker is down. Its log goes to the ``es_pandas.server.kafka`` logger
instead, which is silent unless the application configures logging (``es-pandas serve
--log-level debug`` does).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .._librdkafka import reason
from ._storage import Headers, Record, StoreError, TopicExistsError

__all__ = ["LIBRDKAFKA_LOG", "KafkaStore"]

_METADATA_REFRESH_SECONDS = 1.0

LIBRDKAFKA_LOG = logging.getLogger("es_pandas.server.kafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())


def _kafka() -> Any:
    try:
        import confluent_kafka
        import confluent_kafka.admin
    except ImportError:
        raise RuntimeError(
            'the Kafka backend needs confluent-kafka: pip install "eventstreams-pandas[kafka]"'
        ) from None
    return confluent_kafka


# Kafka error names -> the REST producer's status; librdkafka's own errors start with "_".
_STATUS_BY_ERROR = {
    "UNKNOWN_TOPIC_OR_PART": 404,
    "_UNKNOWN_TOPIC": 404,
    "_UNKNOWN_PARTITION": 404,
    "MSG_SIZE_TOO_LARGE": 400,
    "INVALID_RECORD": 400,
    "TOPIC_AUTHORIZATION_FAILED": 403,
    "CLUSTER_AUTHORIZATION_FAILED": 403,
    # may have been written: the client treats 408 as ambiguous
    "_MSG_TIMED_OUT": 408,
    "REQUEST_TIMED_OUT": 408,
    "_TIMED_OUT": 408,
}


def _status_for(error: Any) -> StoreError:
    """Kafka's error -> the REST producer's answer (503 for anything else: unavailable)."""
    codes = _kafka().KafkaError
    code = error.code()
    status = next(
        (s for name, s in _STATUS_BY_ERROR.items() if getattr(codes, name, None) == code), 503
    )
    kafka_code = code if code >= 0 else None
    return StoreError(status, f"Kafka: {error.str()}", kafka_code)


class KafkaStore:
    """Produces to Kafka and reads back with a consumer (for inspection and tests)."""

    def __init__(self, bootstrap_servers: str, config: Mapping[str, str] | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "logger": LIBRDKAFKA_LOG,
            **dict(config or {}),
        }
        self._producer: Any = None
        self._admin: Any = None
        self._topics: dict[str, int] = {}
        self._refreshed = 0.0
        self._poller: threading.Thread | None = None
        self._closing = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"KafkaStore({self.bootstrap_servers!r})"

    async def start(self) -> None:
        if self._producer is not None:
            return
        kafka = _kafka()
        self._loop = asyncio.get_running_loop()
        self._producer = kafka.Producer(
            {
                "acks": "all",
                "linger.ms": 2,
                "message.timeout.ms": 10_000,
                # Same placement as Java clients (the server passes partitions explicitly
                # anyway, computed the same way, so both modes agree).
                "partitioner": "murmur2_random",
                **self._config,
            }
        )
        self._admin = kafka.admin.AdminClient(self._admin_config())
        self._poller = threading.Thread(target=self._poll, name="es-pandas-kafka", daemon=True)
        self._poller.start()
        await self._refresh_topics(force=True)

    def check(self, timeout: float = 5.0) -> None:
        """Raise ConnectionError unless the cluster answers a metadata request within
        ``timeout`` seconds; as soon as librdkafka finds every bootstrap server down
        (a refused connection takes milliseconds, not the whole timeout)."""
        kafka = _kafka()
        all_down = kafka.KafkaError._ALL_BROKERS_DOWN
        errors: list[Any] = []
        admin = kafka.admin.AdminClient({**self._admin_config(), "error_cb": errors.append})
        deadline = time.monotonic() + timeout
        while True:
            try:
                admin.list_topics(timeout=max(0.01, min(0.5, deadline - time.monotonic())))
                return
            except kafka.KafkaException:
                admin.poll(0)  # runs error_cb
            if time.monotonic() >= deadline or any(e.code() == all_down for e in errors):
                break
        reasons = [reason(e) for e in errors if e.code() != all_down]
        why = reasons[-1] if reasons else f"no answer in {timeout:g} s"
        raise ConnectionError(f"cannot reach Kafka at {self.bootstrap_servers} ({why})")

    def _admin_config(self) -> dict[str, Any]:
        # Producer-only settings make the admin client warn; keep the connection ones.
        skip = (
            "acks",
            "linger.ms",
            "message.timeout.ms",
            "partitioner",
            "enable.idempotence",
            "compression.type",
            "batch.size",
            "queue.buffering.max.ms",
        )
        return {k: v for k, v in self._config.items() if k not in skip}

    def _poll(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.05)

    async def close(self) -> None:
        if self._producer is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._producer.flush, 10)
        self._closing.set()
        if self._poller is not None:
            self._poller.join(5)
        self._producer = self._admin = None

    def topics(self) -> dict[str, int]:
        return dict(self._topics)

    async def partitions(self, topic: str) -> int | None:
        if topic not in self._topics:
            await self._refresh_topics()
        return self._topics.get(topic)

    async def _refresh_topics(self, force: bool = False) -> None:
        # Looked up again on a miss (a topic made by another client), at most once a second.
        if not force and time.monotonic() - self._refreshed < _METADATA_REFRESH_SECONDS:
            return
        self._refreshed = time.monotonic()
        metadata = await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._admin.list_topics(timeout=10)
        )
        self._topics = {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None and not name.startswith("__")
        }

    async def create_topic(
        self, name: str, partitions: int, *, config: Mapping[str, str] | None = None
    ) -> None:
        """``config``: topic settings, e.g. ``{"cleanup.policy": "compact"}``."""
        await self.start()
        kafka = _kafka()
        topic = kafka.admin.NewTopic(
            name, num_partitions=partitions, replication_factor=-1, config=dict(config or {})
        )
        futures = self._admin.create_topics([topic])
        try:
            await asyncio.wrap_future(futures[name])
        except kafka.KafkaException as exc:
            if exc.args[0].code() == kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicExistsError(name) from None
            raise
        self._topics[name] = partitions

    async def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> Record:
        if self._producer is None:
            await self.start()
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[Record] = loop.create_future()

        def delivered(error: Any, message: Any) -> None:  # on the poll thread
            if error is not None:
                loop.call_soon_threadsafe(_settle, future, _status_for(error))
                return
            loop.call_soon_threadsafe(_settle, future, _record(message))

        kafka = _kafka()
        while True:
            try:
                self._producer.produce(
                    topic,
                    value,
                    key,
                    partition=partition,
                    headers=list(headers) or None,
                    on_delivery=delivered,
                )
                break
            except BufferError:
                await asyncio.sleep(0.005)  # librdkafka's queue is full: let it drain
            except kafka.KafkaException as exc:
                raise _status_for(exc.args[0]) from None
        return await future

    async def read(
        self, topic: str, partition: int | None = None, offset: int = 0, limit: int | None = None
    ) -> list[Record]:
        return await asyncio.get_running_loop().run_in_executor(
            None, read_topic, self._config, topic, partition, offset, limit
        )

    async def read_through(self, topic: str, partition: int, last: int) -> list[Record]:
        """The records of one partition up to offset ``last``, one known to exist (the
        offset of a record just written): read without waiting for the topic to go idle."""
        read = functools.partial(read_topic, until=last, idle_seconds=10.0)
        return await asyncio.get_running_loop().run_in_executor(
            None, read, self._config, topic, partition
        )


def _record(message: Any) -> Record:
    return Record(
        message.topic(),
        message.partition(),
        message.offset(),
        message.timestamp()[1],
        message.key(),
        message.value(),
        tuple(message.headers() or ()),
    )


def _settle(future: asyncio.Future[Record], outcome: Record | StoreError) -> None:
    if future.done():
        return
    if isinstance(outcome, StoreError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def read_topic(
    config: Mapping[str, Any],
    topic: str,
    partition: int | None = None,
    offset: int = 0,
    limit: int | None = None,
    *,
    idle_seconds: float = 1.5,
    until: int | None = None,
) -> list[Record]:
    """Every record of ``topic`` (or one partition from ``offset``), by partition and offset.

    Reads until nothing new arrives for ``idle_seconds``: end offsets are not trusted, as
    some Kafka-compatible brokers report them wrong. With ``until`` (one partition), reads
    up to that offset and no further."""
    kafka = _kafka()
    consumer = kafka.Consumer(
        {
            **{
                k: v
                for k, v in config.items()
                if k.startswith(("bootstrap", "security", "sasl", "ssl"))
            },
            "logger": LIBRDKAFKA_LOG,
            "group.id": f"es-pandas-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = sorted(metadata.partitions) if partition is None else [partition]
        consumer.assign(
            [
                kafka.TopicPartition(topic, p, offset if partition is not None else 0)
                for p in partitions
            ]
        )
        records: list[Record] = []
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_seconds:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                if message.error().code() == kafka.KafkaError._PARTITION_EOF:
                    continue
                raise kafka.KafkaException(message.error())
            idle_since = time.monotonic()
            records.append(_record(message))
            if until is not None and message.offset() >= until:
                break
    finally:
        consumer.close()
    records.sort(key=lambda r: (r.partition, r.offset))
    return records[:limit] if limit is not None else records
