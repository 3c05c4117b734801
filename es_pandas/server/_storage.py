"""Where the local server keeps records: SQLite in WAL mode, written in groups.

A produce request is acknowledged only after the transaction holding its record
has committed, so killing the server process never loses an acknowledged record.
Requests that arrive in the same turn of the event loop are written together in one
transaction (group commit). SQLite runs on the event loop's own thread: a commit in
WAL mode takes tens of microseconds, less than handing each group to a thread would
cost, and one thread means one connection used one way.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Record", "SQLiteStore", "Store", "StoreError", "TopicExistsError"]

Headers = tuple[tuple[str, bytes], ...]


class TopicExistsError(ValueError):
    """A topic of that name exists already."""


class StoreError(Exception):
    """A write the backend refused, with the REST API status it maps to."""

    def __init__(self, status: int, message: str, kafka_error_code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kafka_error_code = kafka_error_code


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch, log-append time
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class _Pending:
    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: Headers


class Store(Protocol):
    """What the server needs from a storage backend."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def topics(self) -> dict[str, int]: ...
    async def partitions(self, topic: str) -> int | None: ...
    async def create_topic(self, name: str, partitions: int) -> None: ...
    async def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes, headers: Headers
    ) -> Record: ...
    async def read(
        self, topic: str, partition: int | None = None, offset: int = 0, limit: int | None = None
    ) -> list[Record]: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT,
    PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
"""


class SQLiteStore:
    """Records in one SQLite file (or ``":memory:"``), one writer thread."""

    def __init__(
        self, path: str = ":memory:", *, synchronous: str = "NORMAL", busy_timeout: float = 0.5
    ) -> None:
        # NORMAL in WAL mode survives a crash of the process (the case that matters
        # for a local server); FULL also survives a crash of the machine, slower.
        # busy_timeout: how long a write waits for another process's lock on the file;
        # the event loop waits with it, so it is short, and such writes answer 503.
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._topics: dict[str, int] = {}
        self._next_offset: dict[tuple[str, int], int] = {}
        self._pending: list[tuple[_Pending, asyncio.Future[Record]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def start(self) -> None:
        if self._writer is not None:
            return
        self._open()
        self._wakeup = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(
            self._write_loop(), name="es-pandas-sqlite-writer"
        )

    async def close(self) -> None:
        if self._writer is not None:
            await self._drain()
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def topics(self) -> dict[str, int]:
        return dict(self._topics)

    async def partitions(self, topic: str) -> int | None:
        return self._topics.get(topic)

    async def create_topic(self, name: str, partitions: int) -> None:
        await self.start()
        self._create_topic(name, partitions)

    async def append(
        self, topic: str, partition: int, key: bytes | None, value: bytes, headers: Headers = ()
    ) -> Record:
        if self._writer is None:
            await self.start()
        assert self._wakeup is not None
        future: asyncio.Future[Record] = asyncio.get_running_loop().create_future()
        self._pending.append((_Pending(topic, partition, key, value, headers), future))
        self._wakeup.set()
        return await future

    async def read(
        self, topic: str, partition: int | None = None, offset: int = 0, limit: int | None = None
    ) -> list[Record]:
        await self.start()
        return self._read(topic, partition, offset, limit)

    # -- SQLite ---------------------------------------------------------------

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.executescript(_SCHEMA)
        self._topics = dict(conn.execute("SELECT name, partitions FROM topics"))
        self._next_offset = {
            (topic, partition): last + 1
            for topic, partition, last in conn.execute(
                'SELECT topic, partition, MAX("offset") FROM records GROUP BY topic, partition'
            )
        }
        self._conn = conn

    def _create_topic(self, name: str, partitions: int) -> None:
        assert self._conn is not None
        if name in self._topics:
            raise TopicExistsError(name)
        self._conn.execute("INSERT INTO topics VALUES (?, ?)", (name, partitions))
        self._topics[name] = partitions

    def _write(self, batch: Sequence[_Pending]) -> list[Record]:
        assert self._conn is not None
        timestamp = time.time_ns() // 1_000_000
        next_offset = self._next_offset
        assigned: dict[tuple[str, int], int] = {}
        records = []
        for item in batch:
            slot = (item.topic, item.partition)
            offset = assigned.get(slot, next_offset.get(slot, 0))
            assigned[slot] = offset + 1
            records.append(
                Record(
                    item.topic,
                    item.partition,
                    offset,
                    timestamp,
                    item.key,
                    item.value,
                    item.headers,
                )
            )
        rows = [
            (
                r.topic,
                r.partition,
                r.offset,
                r.timestamp,
                r.key,
                r.value,
                json.dumps([[n, v.hex()] for n, v in r.headers]) if r.headers else None,
            )
            for r in records
        ]
        conn = self._conn
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        # Offsets advance only once the records are durable, so a failed
        # transaction leaves no gap.
        next_offset.update(assigned)
        return records

    def _read(
        self, topic: str, partition: int | None, offset: int, limit: int | None
    ) -> list[Record]:
        assert self._conn is not None
        sql = (
            'SELECT partition, "offset", timestamp, key, value, headers FROM records'
            " WHERE topic = ?"
        )
        params: list[object] = [topic]
        if partition is not None:
            sql += ' AND partition = ? AND "offset" >= ?'
            params += [partition, offset]
        sql += ' ORDER BY partition, "offset"'
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            Record(
                topic,
                p,
                o,
                ts,
                k,
                v,
                tuple((n, bytes.fromhex(h)) for n, h in json.loads(hs)) if hs else (),
            )
            for p, o, ts, k, v, hs in self._conn.execute(sql, params)
        ]

    # -- the event loop side -------------------------------------------------

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                records = self._write([item for item, _ in batch])
            except Exception as exc:  # the whole group failed: every waiter hears why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), record in zip(batch, records, strict=False):
                if not future.done():
                    future.set_result(record)

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0.005)
