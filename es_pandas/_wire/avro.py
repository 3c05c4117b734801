"""Avro values and keys: schemas given or inferred from a frame, and rows as Avro
datums in Avro's binary encoding (v1's body, and what record ids digest) or its JSON
encoding (the v2 envelope's ``data``). fastavro (the ``avro`` extra) writes the binary
and checks schemas; it is imported only when a schema is loaded or compiled. How
schemas are inferred is in :mod:`.avro_infer`.

Rows to datums (:class:`AvroValues`): each value is checked against its field's type
(:mod:`.avro_types`); a value that does not fit rejects its row, naming the column and
the problem (``column 'qty': 'abc' is not a long``). A float fits an int field only
when it is whole, an int a double only when it is exact; timestamps need a zone for
``timestamp-*`` and none for ``local-timestamp-*``; nothing is converted silently.
In Avro's JSON encoding infinities have no standard form: the v2 API refuses them, v1
(binary) sends them.

Longer than this project's ~400-line guide: schema loading, checking and the column
encoder share the per-field walk; the types themselves are in :mod:`.avro_types`.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._exceptions import ConfigurationError
from .avro_infer import Names, avro_name, check_name, column_type, infer_schema
from .avro_logical import DateType, DecimalType, TimestampType, TimeType
from .avro_types import (
    ArrayType,
    AvroType,
    BooleanType,
    BytesType,
    EnumType,
    FloatType,
    IntegerType,
    MapType,
    NullType,
    RecordType,
    StringType,
    UnionType,
    article,
)
from .values import AvroSchema

__all__ = [
    "AvroSchema",
    "AvroValues",
    "Schema",
    "avro_sides",
    "avro_values",
    "compile_type",
    "load_schema",
]


_AVRO_EXTRA = 'Avro needs fastavro: pip install "eventstreams-pandas[avro]"'
_PRIMITIVE_NAMES = ("null", "boolean", "int", "long", "float", "double", "string", "bytes")


def _fastavro() -> Any:
    try:
        import fastavro
    except ImportError:
        raise ConfigurationError(_AVRO_EXTRA) from None
    return fastavro


# -- loading ----------------------------------------------------------------------------


def load_schema(schema: AvroSchema, option: str = "value_schema") -> Any:
    """A schema as JSON (dict, list or a primitive's name), from a dict, JSON text, a
    primitive's name (``"string"``) or the path of an ``.avsc`` file; checked with
    fastavro, and its names with Avro's rules."""
    found: Any = schema
    if isinstance(schema, os.PathLike) or (
        isinstance(schema, str)
        and schema.strip()[:1] not in ("{", "[", '"')
        and schema not in _PRIMITIVE_NAMES
    ):
        path = Path(schema)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"{option}: cannot read {os.fspath(path)!r} ({exc.strerror}); give the "
                "schema as a dict, as JSON text or as the path of an .avsc file"
            ) from None
        found = _json(text, f"{option}: {os.fspath(path)!r}")
    elif isinstance(schema, str) and schema not in _PRIMITIVE_NAMES:
        found = _json(schema, option)
    if isinstance(found, Mapping):
        found = dict(found)
    elif not isinstance(found, (list, str)):
        raise ConfigurationError(f"{option} must be a dict, JSON text or a path, not {schema!r}")
    parse(found, option)
    return found


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{where} is not valid JSON: {exc}") from None


def parse(schema: Any, option: str) -> tuple[Any, dict[str, Any]]:
    """fastavro's parsed form of ``schema`` and its named types, or ConfigurationError."""
    fastavro = _fastavro()
    named: dict[str, Any] = {}
    try:
        parsed = fastavro.parse_schema(schema, named_schemas=named)
    except Exception as exc:  # fastavro raises several kinds for a bad schema
        raise ConfigurationError(f"{option} is not a valid Avro schema: {exc}") from None
    for name, definition in named.items():
        for part in name.split("."):
            check_name(part, f"{option}: the name {name!r}")
        for field in definition.get("fields", ()):
            check_name(field["name"], f"{option}: field {field['name']!r} of {name}")
        for symbol in definition.get("symbols", ()):
            check_name(symbol, f"{option}: symbol {symbol!r} of enum {name}")
    return parsed, named


# -- rows to datums ----------------------------------------------------------------------


@dataclass(frozen=True)
class Schema:
    """A checked schema: its JSON as compact text (for the v2 envelope), its
    converter, and fastavro's parsed form of it without logical types (for the datums
    the converter makes)."""

    text: str
    type: AvroType
    writer: Any

    @classmethod
    def of(cls, schema: Any, option: str, *, finite: bool) -> Schema:
        parsed, named = parse(schema, option)
        writer, _ = parse(_without_logical_types(schema), option)
        text = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
        return cls(text, compile_type(parsed, named, finite=finite), writer)


_PRIMITIVES: dict[str, Callable[[bool], AvroType]] = {
    "null": lambda finite: NullType(),
    "boolean": lambda finite: BooleanType(),
    "int": lambda finite: IntegerType("int"),
    "long": lambda finite: IntegerType("long"),
    "float": lambda finite: FloatType("float", finite),
    "double": lambda finite: FloatType("double", finite),
    "string": lambda finite: StringType(),
    "bytes": lambda finite: BytesType(),
}
_LOGICAL: dict[tuple[str, str], Callable[[], AvroType]] = {
    ("int", "date"): DateType,
    ("int", "time-millis"): lambda: TimeType("millis"),
    ("long", "time-micros"): lambda: TimeType("micros"),
    ("long", "timestamp-millis"): lambda: TimestampType("millis", local=False),
    ("long", "timestamp-micros"): lambda: TimestampType("micros", local=False),
    ("long", "local-timestamp-millis"): lambda: TimestampType("millis", local=True),
    ("long", "local-timestamp-micros"): lambda: TimestampType("micros", local=True),
    ("string", "uuid"): lambda: StringType(uuid=True),
}


def compile_type(
    schema: object,
    named: Mapping[str, Any],
    *,
    finite: bool,
    _done: dict[str, AvroType] | None = None,
) -> AvroType:
    """The converter of ``schema``, as fastavro's ``parse_schema`` gives it (full
    names; ``named`` maps them to their definitions). Unknown logical types are their
    underlying types, as the Avro specification says."""
    done = {} if _done is None else _done

    def build(node: object) -> AvroType:
        return compile_type(node, named, finite=finite, _done=done)

    if isinstance(schema, list):
        return UnionType([build(branch) for branch in schema])
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema](finite)
        if schema not in done:
            done[schema] = build(named[schema])
        return done[schema]
    assert isinstance(schema, Mapping)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return DecimalType(
            schema["precision"], schema.get("scale", 0), schema.get("name"), schema.get("size")
        )
    if isinstance(logical, str) and (kind, logical) in _LOGICAL:
        return _LOGICAL[kind, logical]()
    if kind == "array":
        array = ArrayType()
        array.items = build(schema["items"])
        return array
    if kind == "map":
        map_type = MapType()
        map_type.values = build(schema["values"])
        return map_type
    if kind == "enum":
        done[schema["name"]] = EnumType(schema["name"], schema["symbols"])
    elif kind == "fixed":
        done[schema["name"]] = BytesType(schema["name"], schema["size"])
    elif kind in ("record", "error"):
        record = done[schema["name"]] = RecordType(schema["name"])
        # registered before its fields, which may refer to it
        for field in schema["fields"]:
            record.fields[field["name"]] = build(field["type"])
    else:
        return build(kind)
    return done[schema["name"]]


def _without_logical_types(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_without_logical_types(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: _without_logical_types(v) for k, v in schema.items() if k != "logicalType"}


Blame = Callable[[dict[int, str], int, dict[int, str]], None]


class AvroValues:
    """One side of the records (the value or the key) as Avro: a record of some
    columns (``fields``: field name -> column position), or the values of one column
    (``column``)."""

    def __init__(
        self, schema: Schema, *, fields: Mapping[str, int] | None = None, column: int | None = None
    ) -> None:
        self.schema = schema
        self._fields = dict(fields or {})
        self._column = column
        record = schema.type
        self._types: dict[str, AvroType] = getattr(record, "fields", {}) if fields else {}
        # One %-format per row assembles the JSON object; Avro names need no escaping.
        self._template = "{" + ",".join(f'"{name}":%s' for name in self._fields) + "}"
        #: the positions of the columns it encodes
        self.columns = frozenset(self._fields.values() if fields else [column])

    def encode(
        self,
        chunk: pd.DataFrame,
        errors: dict[int, str],
        blame: Blame,
        *,
        binary: bool,
        text: bool,
    ) -> tuple[list[bytes], list[str]]:
        """Each row's datum as Avro binary (if ``binary``) and as Avro's JSON
        encoding (if ``text``); a value that does not fit goes into ``errors`` through
        ``blame(errors, column position, problems)``, and its row is not to be sent."""
        rows = len(chunk)
        if self._column is not None:
            datums, problems = self.schema.type.column(chunk.iloc[:, self._column])
            problems |= _nulls(datums, self.schema.type, problems)
            blame(errors, self._column, problems)
            texts = self.schema.type.texts(datums) if text else []
        else:
            columns = []
            parts = []
            for name, position in self._fields.items():
                kind = self._types[name]
                datums, problems = kind.column(chunk.iloc[:, position])
                problems |= _nulls(datums, kind, problems)
                blame(errors, position, problems)
                columns.append(datums)
                if text:
                    parts.append(kind.texts(datums))
            template = self._template
            texts = [template % row for row in zip(*parts, strict=True)] if text else []
            if not binary:
                return [b""] * rows, texts
            names = list(self._fields)
            datums = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
        return (self._binary(datums, errors) if binary else [b""] * rows), texts

    def _binary(self, datums: list[Any], errors: dict[int, str]) -> list[bytes]:
        write = _fastavro().schemaless_writer
        writer = self.schema.writer
        buffer = io.BytesIO()
        out = []
        for i, datum in enumerate(datums):
            if i in errors:
                out.append(b"")
                continue
            buffer.seek(0)
            buffer.truncate()
            try:
                write(buffer, writer, datum)
            except (ValueError, TypeError, OverflowError) as exc:
                # the converters let through only what fits: this is a safety net
                errors[i] = f"the Avro writer refused the row: {exc}"
                out.append(b"")
                continue
            out.append(buffer.getvalue())
        return out


def _nulls(datums: list[object], kind: AvroType, problems: dict[int, str]) -> dict[int, str]:
    """A problem for each missing value (None) where ``kind`` has no null."""
    if kind.nullable or None not in datums:
        return {}
    return {
        i: f"null, but its type ({kind.what}) has no null"
        for i, d in enumerate(datums)
        if d is None and i not in problems
    }


def avro_values(
    option: str,
    given: AvroSchema | None,
    columns: Sequence[Hashable],
    *,
    fields: Sequence[int] = (),
    column: int | None = None,
    sample: Callable[[], pd.DataFrame] | None,
    nullable: bool,
    name: str,
    namespace: str | None,
    finite: bool,
) -> AvroValues:
    """The value or key side (``option``: value_schema, key_schema) of the records:
    a record of the columns at ``fields``, or the values of the one at ``column``;
    under ``given``, checked against the columns, or a schema inferred from
    ``sample()`` (``nullable``: every field nullable)."""
    if given is not None:
        schema = load_schema(given, option)
    elif sample is None:
        raise ConfigurationError(f"{option}: no schema given, and no rows to infer one from")
    elif column is None:
        rows = sample().iloc[:, list(fields)]
        schema = infer_schema(rows, name=name, namespace=namespace, nullable=nullable)
    else:
        where = repr(columns[column])
        # a key's nulls reject their rows: its type has none
        nulls = option != "key_schema"
        schema = column_type(sample().iloc[:, column], where, name, Names(), nullable, nulls)
        if namespace and isinstance(schema, dict) and schema["type"] == "record":
            schema["namespace"] = namespace
    checked = Schema.of(schema, option, finite=finite)
    if column is not None:
        return AvroValues(checked, column=column)
    record = checked.type
    if not isinstance(record, RecordType):
        raise ConfigurationError(
            f"{option} is {article(record.what)}, not a record: a record's fields are the "
            "value columns (or give value_col=, the one column that is the value)"
        )
    by_name = {str(columns[i]): i for i in fields}
    extra = [columns[i] for name, i in by_name.items() if name not in record.fields]
    if extra:
        raise ConfigurationError(
            f"{option} has no field for the column(s) {', '.join(map(repr, extra))}: add "
            "them to the schema, or leave them out with value_cols="
        )
    lacking = [name for name in record.fields if name not in by_name]
    if lacking:
        raise ConfigurationError(
            f"{option}: field(s) {', '.join(map(repr, lacking))} have no column: add them to "
            "the frame (values are sent as they are: defaults are not filled in)"
        )
    return AvroValues(checked, fields={name: by_name[name] for name in record.fields})


def avro_sides(
    topic: str,
    columns: Sequence[Hashable],
    *,
    api_version: str,
    value_format: str,
    key_format: str,
    value_schema: AvroSchema | None,
    key_schema: AvroSchema | None,
    schemaname: str | None,
    name: str | None,
    namespace: str | None,
    value_type: str | None,
    fields: Sequence[int],
    value_col: int | None,
    key_col: int | None,
    sample: Callable[[], pd.DataFrame] | None,
    nullable: bool,
) -> tuple[AvroValues | None, AvroValues | None]:
    """The Avro value and key of a :class:`.RecordEncoder`'s records (None where
    their format is not Avro), its options checked: the value a record of the columns
    at ``fields`` or the values of ``value_col``, the key those of ``key_col``."""
    if value_format not in ("json", "avro"):
        raise ConfigurationError(f"value_format must be 'json' or 'avro', not {value_format!r}")
    if key_format not in ("text", "avro"):
        raise ConfigurationError(f"key_format must be 'text' or 'avro', not {key_format!r}")
    value, key = value_format == "avro", key_format == "avro"
    for option, given, used in (
        ("value_schema", value_schema, value),
        ("key_schema", key_schema, key),
        ("schema_name", name, value or key),
        ("schema_namespace", namespace, value or key),
    ):
        if given is not None and not used:
            side = "key" if option == "key_schema" else "value"
            raise ConfigurationError(f"{option} is for Avro: give {side}_format='avro'")
    if value and value_type is not None:
        raise ConfigurationError(
            "value_type is for JSON values; with value_format='avro' the schema types the value"
        )
    if key and key_col is None:
        raise ConfigurationError("key_format='avro' needs key_col: the column of the keys")
    if api_version == "v1" and key:
        raise ConfigurationError("key_format='avro' needs the v2 API: v1 keys are text or binary")
    if api_version == "v1" and value and (schemaname is None or value_schema is None):
        raise ConfigurationError(
            "value_format='avro' on v1 (on premises) needs schemaname= (the registered "
            "schema) and value_schema= (that schema): v1 sends Avro binary, which only "
            "the schema it was written with reads, and the registry already holds that "
            "schema, so one inferred from the frame will not do"
        )
    record = name or avro_name(topic)
    common: dict[str, Any] = {
        "sample": sample,
        "namespace": namespace,
        # Avro's JSON encoding (v2) has no standard form for infinities
        "finite": api_version == "v2",
    }
    values = keys = None
    if value:
        values = avro_values(
            "value_schema",
            value_schema,
            columns,
            fields=fields,
            column=value_col,
            name=record,
            nullable=nullable,
            **common,
        )
    if key:
        # a null key rejects its row: a key's type is never made nullable
        keys = avro_values(
            "key_schema",
            key_schema,
            columns,
            column=key_col,
            name=f"{record}_key",
            nullable=False,
            **common,
        )
    return values, keys
