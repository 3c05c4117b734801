"""Schemas in the produce routes, between the requests and the registry
(:mod:`._registry`), and in the records read back.

v2 (IBM Cloud): a key or value ``{"type": "avro", "schema": "<schema JSON>",
"schema_name_strategy": "topic" | "record" | "topic_record", "data": "<datum in Avro's
JSON encoding>"}``, sent with ``?serializer=confluent``. The datum is checked against
the schema, the schema registered under the subject the strategy names (``<topic>-value``,
``<namespace.name>-value``, ``<topic>-<namespace.name>-value``; ``-key`` for keys), and
the record stored in the Confluent wire format. Without a strategy, ``topic`` (IBM does
not say); the spellings taken for TopicRecord are the server's ``topic_record_names``
(IBM's is not documented).

v1 (on premises): ``schemaname`` and ``schemaversion`` name a subject of the registry
and one of its versions, a number or ``latest``, or else a version declared with
``ServerConfig.schemas`` (a name and version with no schema text). The value is stored as
sent, with headers naming the schema (``ServerConfig.schema_headers``, by default the
names IBM documents for its serdes: schema id, here the name; schema version, here its
number; encoding ``BINARY`` or ``JSON``). As IBM documents, the data is not checked
unless ``schemavalidation=true``, and then only against a registered schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._avro import (
    AVRO_EXTRA,
    AvroDataError,
    AvroSchema,
    AvroSchemaError,
    AvroUnavailable,
    frame,
    parse_schema,
    unframe,
)
from ._errors import Reject
from ._registry import Registered, RegistryError, SchemaRegistry, parse_version
from ._storage import Headers, StoreError

if TYPE_CHECKING:
    from ._config import ServerConfig

__all__ = [
    "NOT_AVRO",
    "AvroPart",
    "V1Schema",
    "avro_datum",
    "avro_part",
    "check_serializer",
    "encoded_size",
    "frame_parts",
    "v1_schema",
]

SERIALIZER = "confluent"
_STRATEGIES = ("topic", "record")

#: what :func:`avro_datum` answers for data that is not Avro it can read
NOT_AVRO: Any = object()


def _unavailable(exc: AvroUnavailable, **fields: Any) -> Reject:
    # 400, not 500: a client would send it again, and it would fail again
    return Reject(400, f"the server cannot read Avro: {exc}", **fields)


def check_serializer(serializer: str | None) -> None:
    if serializer is not None and serializer != SERIALIZER:
        raise Reject(
            400,
            f"serializer must be {SERIALIZER}, not {serializer!r}",
            code="invalid_serializer",
            target="serializer",
        )


# -- v2 ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AvroPart:
    """A key or value of type avro, checked, not yet registered."""

    subject: str
    schema: AvroSchema
    payload: bytes  # the datum's Avro binary


def encoded_size(data: bytes | AvroPart) -> int:
    """Bytes the key or value will take in the record."""
    return len(data) if isinstance(data, bytes) else 5 + len(data.payload)


def avro_part(
    part: Mapping[str, Any], name: str, topic: str, serializer: str | None, config: ServerConfig
) -> AvroPart:
    """The ``key`` or ``value`` object ``part`` of type avro, whose ``data`` is a string."""
    if serializer != SERIALIZER:
        raise Reject(
            400,
            f"'{name}' is of type avro: send it with the query parameter serializer={SERIALIZER}",
            code="invalid_serializer",
            target="serializer",
        )
    text = part.get("schema")
    if not isinstance(text, str):
        raise Reject(
            400,
            f"'schema' field in '{name}' object is required for type avro: the Avro schema "
            "as a JSON string",
            code="invalid_schema",
            target="schema",
        )
    try:
        schema = parse_schema(text)
    except AvroUnavailable as exc:
        raise _unavailable(exc, code="avro_unavailable") from None
    except AvroSchemaError as exc:
        raise Reject(
            400,
            f"'{name}' schema is not a valid Avro schema: {exc}",
            code="invalid_schema",
            target="schema",
        ) from None
    subject = _subject(part.get("schema_name_strategy"), topic, schema, name, config)
    try:
        payload = schema.from_json(part["data"])
    except AvroDataError as exc:
        raise Reject(
            400,
            f"'{name}' data does not fit its schema: {exc}",
            code="invalid_data",
            target="data",
        ) from None
    return AvroPart(subject, schema, payload)


def _subject(
    strategy: object, topic: str, schema: AvroSchema, name: str, config: ServerConfig
) -> str:
    allowed = (*_STRATEGIES, *config.topic_record_names)
    if strategy is None:
        strategy = "topic"
    if strategy not in allowed:
        raise Reject(
            400,
            f"'schema_name_strategy' field in '{name}' object must be one of "
            f"{', '.join(allowed)}, not {strategy!r}",
            code="invalid_schema_name_strategy",
            target="schema_name_strategy",
        )
    if strategy == "topic":
        return f"{topic}-{name}"
    record = schema.full_name
    if record is None:
        raise Reject(
            400,
            f"schema_name_strategy {strategy!r} names the subject after a record, and the "
            f"'{name}' schema is not a record",
            code="invalid_schema_name_strategy",
            target="schema_name_strategy",
        )
    return f"{record}-{name}" if strategy == "record" else f"{topic}-{record}-{name}"


async def frame_parts(
    registry: SchemaRegistry, key: bytes | AvroPart | None, value: bytes | AvroPart
) -> tuple[bytes | None, bytes]:
    """The key and value as stored: their avro parts registered (together: both or
    neither) and framed."""
    parts = [p for p in (key, value) if isinstance(p, AvroPart)]
    framed: Iterator[bytes] = iter(())
    if parts:
        try:
            registered = await registry.register_all([(p.subject, p.schema) for p in parts])
        except RegistryError as exc:
            # 400, as IBM's v2 answers a refused request; the code says it is a conflict
            raise Reject(400, exc.message, code="schema_incompatible", target="schema") from None
        except StoreError as exc:
            raise Reject(exc.status, f"schema registry: {exc.message}", code="unavailable") from exc
        framed = iter([frame(r.id, p.payload) for p, r in zip(parts, registered, strict=True)])
    stored_key = next(framed) if isinstance(key, AvroPart) else key
    stored_value = next(framed) if isinstance(value, AvroPart) else value
    return stored_key, stored_value


# -- v1 ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class V1Schema:
    """The schema a v1 request names: the headers it sets, the comment of a deprecated
    version, and the registered schema to check the body against (if asked to)."""

    name: str
    version: str
    headers: Headers
    comment: str | None
    validate_with: AvroSchema | None
    json_data: bool

    def check(self, body: bytes) -> None:
        """Reject 400 unless ``body`` fits the schema (when the request asked for it)."""
        schema = self.validate_with
        if schema is None:
            return
        try:
            if self.json_data:
                schema.from_json(body.decode("utf-8"))
            else:
                schema.read(body)
        except AvroUnavailable as exc:
            raise _unavailable(exc, schema=self.name) from None
        except (ValueError, UnicodeDecodeError) as exc:
            encoding = "Avro JSON" if self.json_data else "Avro binary"
            raise Reject(
                400,
                f"the body ({encoding}) does not fit schema '{self.name}' version "
                f"{self.version}: {exc}",
                schema=self.name,
            ) from None


def v1_schema(
    query: Mapping[str, list[str]], registry: SchemaRegistry, config: ServerConfig, json_data: bool
) -> V1Schema | None:
    """The schema ``schemaname``/``schemaversion`` name, if they do; Reject 404 for one
    that is not registered. ``json_data``: the body is Avro's JSON encoding."""
    validation = query.get("schemavalidation", ["false"])[-1].lower()
    if validation not in ("true", "false"):
        raise Reject(400, f"schemavalidation must be true or false, not {validation!r}")
    name = query["schemaname"][-1] if "schemaname" in query else None
    version = query["schemaversion"][-1] if "schemaversion" in query else None
    if name is None and version is None:
        return None
    if not name or not version:
        raise Reject(400, "schemaname and schemaversion go together: give both")
    declared = config.schemas.get(name, {})
    registered = _registered(registry, name, version)
    if registered is None and version not in declared:
        if declared or name in registry.subjects():
            raise Reject(404, f"schema '{name}' has no version '{version}'", schema=name)
        raise Reject(404, f"schema '{name}' does not exist", schema=name)
    number = str(registered.version) if registered is not None else version
    encoding = b"JSON" if json_data else b"BINARY"
    values = (name.encode(), number.encode(), encoding)
    schema = None
    if registered is not None and validation == "true":
        try:
            schema = registry.schema(registered.id)
        except AvroUnavailable as exc:
            raise _unavailable(exc, schema=name) from None
    return V1Schema(
        name,
        number,
        tuple(zip(config.schema_headers, values, strict=True)),
        declared.get(version),
        schema,
        json_data,
    )


def _registered(registry: SchemaRegistry, name: str, version: str) -> Registered | None:
    try:
        return registry.version(name, parse_version(version))
    except RegistryError:
        return None


# -- reading back --------------------------------------------------------------------------


def avro_datum(
    registry: SchemaRegistry, data: bytes | None, headers: Headers, schema_headers: tuple[str, ...]
) -> Any:
    """The datum of a stored key or value, if it is Avro the registry has the schema of:
    in the Confluent wire format, or (``schema_headers`` given, for values) named by
    the schema headers of v1. :data:`NOT_AVRO` for anything else, and for data that
    does not read whole with its schema."""
    framed = unframe(data)
    if framed is not None and registry.knows(framed[0]):
        return _read(registry, framed[0], framed[1], json_data=False)
    if not schema_headers or data is None:
        return NOT_AVRO
    named = dict(headers)
    id_header, version_header, encoding_header = schema_headers
    if id_header not in named or version_header not in named:
        return NOT_AVRO
    try:
        name = named[id_header].decode()
        registered = registry.version(name, parse_version(named[version_header].decode()))
    except (UnicodeDecodeError, RegistryError):
        return NOT_AVRO
    return _read(registry, registered.id, data, json_data=named.get(encoding_header) == b"JSON")


def _read(registry: SchemaRegistry, schema_id: int, payload: bytes, *, json_data: bool) -> Any:
    try:
        schema = registry.schema(schema_id)
    except AvroUnavailable as exc:
        raise RuntimeError(f"records in Avro need fastavro to be read: {AVRO_EXTRA}") from exc
    try:
        binary = schema.from_json(payload.decode("utf-8")) if json_data else payload
        return schema.read(binary)
    except (ValueError, UnicodeDecodeError):
        return NOT_AVRO
