"""The local server's schema registry: subjects, their versions, global schema ids and
compatibility levels, as Confluent's Schema Registry keeps them.

A schema registered under a subject gets the next version, unless the subject has it
already (the same canonical schema: that version is the answer); a schema registered
anywhere before keeps its id, whatever the subject. A new version must pass the
subject's compatibility level (:mod:`._compat`) against the earlier ones.

What is registered persists with the records (:func:`registry_log`): in the SQLite
file when the server has one (table ``registry``), in memory when its records are, and
with Kafka behind the server in the topic ``_schemas`` (one partition, compacted), as
Confluent's registry keeps it, so the ids in the framed records Kafka holds still name
their schemas after a restart. Entries are Confluent-shaped key/value JSON (keys
``{"keytype": "SCHEMA" | "CONFIG", ...}``); the latest value of a key wins. One server
writes a registry at a time: two gateways registering in the same Kafka cluster at once
could hand out the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ._avro import AvroSchema, AvroSchemaError, parse_schema
from ._compat import check_level, incompatibilities
from ._kafka import KafkaStore
from ._storage import SQLiteStore, Store, TopicExistsError

__all__ = [
    "LATEST",
    "KafkaRegistryLog",
    "MemoryRegistryLog",
    "Registered",
    "RegistryError",
    "RegistryLog",
    "SQLiteRegistryLog",
    "SchemaRegistry",
    "parse_version",
    "registry_log",
]

logger = logging.getLogger("es_pandas.server")

LATEST: Literal["latest"] = "latest"
Version = int | Literal["latest"]

_MAX_VERSION = 2**31 - 1
_NOOP_KEY = json.dumps({"keytype": "NOOP", "magic": 0})


class RegistryError(Exception):
    """A registry request refused: the HTTP status and Confluent's ``error_code``."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True, slots=True)
class Registered:
    """A schema under a subject."""

    subject: str
    version: int
    id: int
    schema: str

    def to_json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "version": self.version,
            "id": self.id,
            "schema": self.schema,
        }


def parse_version(text: str) -> Version:
    """A version as the API takes it: a number, ``latest`` or ``-1`` (latest)."""
    if text in (LATEST, "-1"):
        return LATEST
    if text.isdigit() and 1 <= int(text) <= _MAX_VERSION:
        return int(text)
    raise RegistryError(
        422,
        42202,
        f"The specified version '{text}' is not a valid version id. Allowed values are "
        f'between [1, {_MAX_VERSION}] and the string "latest"',
    )


# -- where the registry persists ---------------------------------------------------------

Entry = tuple[str, str | None]


class RegistryLog(Protocol):
    """Where registry entries persist: key/value JSON texts, the latest value of a key wins."""

    async def load(self) -> list[Entry]: ...
    async def append(self, entries: Sequence[tuple[str, str]]) -> None: ...
    async def close(self) -> None: ...


class MemoryRegistryLog:
    """Nothing persists: the registry lives as long as the server (as in-memory records)."""

    async def load(self) -> list[Entry]:
        return []

    async def append(self, entries: Sequence[tuple[str, str]]) -> None:
        return None

    async def close(self) -> None:
        return None


class SQLiteRegistryLog:
    """Table ``registry`` in the records' SQLite file, on a connection of its own (the
    records' writer and this one take turns on the event loop's thread)."""

    def __init__(self, path: str, *, busy_timeout: float = 0.5) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    async def load(self) -> list[Entry]:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS registry (key TEXT PRIMARY KEY, value TEXT)")
        self._conn = conn
        return list(conn.execute("SELECT key, value FROM registry ORDER BY rowid"))

    async def append(self, entries: Sequence[tuple[str, str]]) -> None:
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT OR REPLACE INTO registry VALUES (?, ?)", entries)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class KafkaRegistryLog:
    """Topic ``_schemas`` of the Kafka cluster behind the server. Loading writes a NOOP
    entry and reads up to it, as Confluent's registry does: end offsets are not trusted
    (some Kafka-compatible brokers report them wrong), the offset of a record just
    written is."""

    TOPIC = "_schemas"

    def __init__(self, store: KafkaStore) -> None:
        self._store = store

    async def load(self) -> list[Entry]:
        with contextlib.suppress(TopicExistsError):
            await self._store.create_topic(self.TOPIC, 1, config={"cleanup.policy": "compact"})
        marker = await self._store.append(self.TOPIC, 0, _NOOP_KEY.encode(), b"", ())
        records = await self._store.read_through(self.TOPIC, 0, marker.offset)
        return [(r.key.decode(), r.value.decode() or None) for r in records if r.key is not None]

    async def append(self, entries: Sequence[tuple[str, str]]) -> None:
        for key, value in entries:
            await self._store.append(self.TOPIC, 0, key.encode(), value.encode(), ())

    async def close(self) -> None:
        return None


def registry_log(store: Store) -> RegistryLog:
    """Where the registry of a server storing records in ``store`` persists."""
    if isinstance(store, KafkaStore):
        return KafkaRegistryLog(store)
    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        return SQLiteRegistryLog(store.path)
    return MemoryRegistryLog()


# -- the registry ------------------------------------------------------------------------


class SchemaRegistry:
    """Subjects, versions, ids and compatibility levels; ``compatibility`` is the level
    of subjects that have none of their own while no global one was set."""

    def __init__(self, log: RegistryLog, compatibility: str = "BACKWARD") -> None:
        self._log = log
        self.default_compatibility = check_level(compatibility)
        self._texts: dict[int, str] = {}  # id -> schema text
        self._versions: dict[str, list[tuple[int, int]]] = {}  # subject -> [(version, id)]
        self._levels: dict[str | None, str] = {}  # subject (None: global) -> level
        self._parsed: dict[int, AvroSchema] = {}
        # canonical schema -> id, and (subject, canonical) -> version: built when first
        # needed, as building them parses every schema (which needs fastavro)
        self._ids: dict[str, int] | None = None
        self._found: dict[tuple[str, str], Registered] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        for key, value in await self._log.load():
            try:
                self._apply(json.loads(key), json.loads(value) if value else None)
            except (ValueError, KeyError, TypeError, AttributeError):
                logger.warning("schema registry: skipped an entry it cannot read: %.200s", key)

    async def close(self) -> None:
        await self._log.close()

    def _apply(self, key: dict[str, object], value: dict[str, object] | None) -> None:
        kind = key.get("keytype")
        if kind == "SCHEMA" and value is not None and not value.get("deleted"):
            name, version, schema_id = str(value["subject"]), value["version"], value["id"]
            if not isinstance(version, int) or not isinstance(schema_id, int):
                raise TypeError("version and id are numbers")
            self._texts[schema_id] = str(value["schema"])
            versions = [v for v in self._versions.get(name, []) if v[0] != version]
            self._versions[name] = sorted([*versions, (version, schema_id)])
        elif kind == "CONFIG":
            subject = key.get("subject")
            scope = None if subject is None else str(subject)
            if value is None:
                self._levels.pop(scope, None)
            else:
                self._levels[scope] = check_level(str(value["compatibilityLevel"]))

    # -- reading -----------------------------------------------------------------------

    def subjects(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, subject: str) -> list[int]:
        return [version for version, _ in self._subject(subject)]

    def version(self, subject: str, version: Version) -> Registered:
        versions = self._subject(subject)
        if version == LATEST:
            number, schema_id = versions[-1]
        else:
            found = [entry for entry in versions if entry[0] == version]
            if not found:
                raise RegistryError(404, 40402, f"Version {version} not found.")
            [(number, schema_id)] = found
        return Registered(subject, number, schema_id, self._texts[schema_id])

    def text(self, schema_id: int) -> str:
        try:
            return self._texts[schema_id]
        except KeyError:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found") from None

    def schema(self, schema_id: int) -> AvroSchema:
        """The parsed schema of an id (RegistryError 40403 for an unknown one)."""
        parsed = self._parsed.get(schema_id)
        if parsed is None:
            parsed = self._parsed[schema_id] = parse_schema(self.text(schema_id))
        return parsed

    def knows(self, schema_id: int) -> bool:
        return schema_id in self._texts

    def lookup(self, subject: str, schema: AvroSchema) -> Registered:
        """The version of ``subject`` that is ``schema``."""
        self._subject(subject)
        found = self._index().get((subject, schema.canonical))
        if found is None:
            raise RegistryError(404, 40403, "Schema not found")
        return found

    def compatibility(self, subject: str | None = None) -> str:
        """The level a new version of ``subject`` must pass (None: the global level)."""
        if subject is not None and subject in self._levels:
            return self._levels[subject]
        return self._levels.get(None, self.default_compatibility)

    def subject_compatibility(self, subject: str) -> str | None:
        """The level set for ``subject`` itself, if any."""
        return self._levels.get(subject)

    def _subject(self, subject: str) -> list[tuple[int, int]]:
        versions = self._versions.get(subject)
        if not versions:
            raise RegistryError(404, 40401, f"Subject '{subject}' not found.")
        return versions

    def _index(self) -> dict[tuple[str, str], Registered]:
        if self._found is None:
            canonical: dict[int, str] = {}
            for schema_id in self._texts:
                try:
                    canonical[schema_id] = self.schema(schema_id).canonical
                except AvroSchemaError as exc:  # written by another tool: no match for it
                    logger.warning("schema registry: schema %d is not Avro: %s", schema_id, exc)
            found: dict[tuple[str, str], Registered] = {}
            for subject, versions in self._versions.items():
                for version, schema_id in versions:
                    if schema_id in canonical:
                        # the first version wins, as Confluent answers with it
                        found.setdefault(
                            (subject, canonical[schema_id]),
                            Registered(subject, version, schema_id, self._texts[schema_id]),
                        )
            # the lowest id of a schema registered under several ids
            self._ids = {canonical[i]: i for i in sorted(canonical, reverse=True)}
            self._found = found
        return self._found

    # -- writing -----------------------------------------------------------------------

    async def register(self, subject: str, schema: AvroSchema) -> Registered:
        [registered] = await self.register_all([(subject, schema)])
        return registered

    async def register_all(self, items: Sequence[tuple[str, AvroSchema]]) -> list[Registered]:
        """Each schema under its subject, all or none: RegistryError 409 (40901) names
        the subject and the problem of the first that its subject's level refuses."""
        known = [self._index().get((subject, schema.canonical)) for subject, schema in items]
        if all(r is not None for r in known):
            return [r for r in known if r is not None]
        async with self._lock:
            index = self._index()
            assert self._ids is not None
            ids = dict(self._ids)
            next_id = max(self._texts, default=0) + 1
            results: list[Registered] = []
            entries: list[tuple[str, str]] = []
            for subject, schema in items:
                found = index.get((subject, schema.canonical))
                if found is not None:
                    results.append(found)
                    continue
                self._check(subject, schema)
                schema_id = ids.get(schema.canonical)
                if schema_id is None:
                    schema_id = ids[schema.canonical] = next_id
                    next_id += 1
                versions = self._versions.get(subject, [])
                version = versions[-1][0] + 1 if versions else 1
                registered = Registered(subject, version, schema_id, schema.text)
                results.append(registered)
                entries.append(_schema_entry(registered))
            await self._log.append(entries)
            for registered, (_, schema) in zip(results, items, strict=True):
                key = (registered.subject, schema.canonical)
                if key in index:
                    continue
                self._texts.setdefault(registered.id, registered.schema)
                self._parsed.setdefault(registered.id, schema)
                self._versions.setdefault(registered.subject, []).append(
                    (registered.version, registered.id)
                )
                self._ids.setdefault(schema.canonical, registered.id)
                index[key] = registered
            return results

    def _check(self, subject: str, schema: AvroSchema) -> None:
        level = self.compatibility(subject)
        earlier = [(v, self.schema(i)) for v, i in self._versions.get(subject, [])]
        problems = incompatibilities(schema, earlier, level)
        if problems:
            raise RegistryError(
                409,
                40901,
                f"the schema is incompatible with an earlier schema for subject '{subject}' "
                f"(compatibility {level}): {'; '.join(problems)}",
            )

    async def set_compatibility(self, subject: str | None, level: str) -> str:
        try:
            level = check_level(level)
        except ValueError as exc:
            raise RegistryError(422, 42203, f"Invalid compatibility level: {exc}") from None
        async with self._lock:
            key = json.dumps({"keytype": "CONFIG", "subject": subject, "magic": 0})
            await self._log.append([(key, json.dumps({"compatibilityLevel": level}))])
            self._levels[subject] = level
        return level


def _schema_entry(registered: Registered) -> tuple[str, str]:
    key = {"keytype": "SCHEMA", "subject": registered.subject, "version": registered.version}
    value = {**registered.to_json(), "deleted": False}
    return json.dumps({**key, "magic": 1}), json.dumps(value)
