"""Avro for the local server: schemas, data in Avro's JSON encoding, the binary
encoding, and the Confluent wire format (byte 0, a 4-byte big-endian schema id, the
Avro binary).

fastavro (the ``avro`` extra) parses schemas and reads the binary encoding; it is
imported only when Avro is used. The JSON encoding is read here rather than with
fastavro's JSON reader, which accepts data that does not fit (a string for a long, a
bare value for a union) and names no field when it fails: a datum that does not fit is
refused naming the field and the problem, and one that fits is written to the binary
encoding in the same walk, with the union branch the JSON named.

Longer than this project's ~400-line guide: the strict JSON reader and the binary
writer are one walk over a schema, on purpose (see above).
"""

from __future__ import annotations

import functools
import io
import json
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ._json import strict_json

__all__ = [
    "AVRO_EXTRA",
    "AvroDataError",
    "AvroSchema",
    "AvroSchemaError",
    "AvroUnavailable",
    "frame",
    "parse_schema",
    "unframe",
]

#: what to install for Avro
AVRO_EXTRA = 'pip install "eventstreams-pandas[avro]"'

PRIMITIVES = frozenset(("null", "boolean", "int", "long", "float", "double", "bytes", "string"))
NAMED = frozenset(("record", "error", "enum", "fixed"))

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = (-(2**31), 2**31 - 1)
_LONG = (-(2**63), 2**63 - 1)
# Avro's JSON encoding has no numbers for these, so they travel as strings (as Java's
# JsonDecoder reads them)
_FLOAT_WORDS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
_MAGIC = 0

#: writes a JSON value of a primitive type as Avro binary: (value, field path, out)
Writer = Callable[[Any, str, bytearray], None]


class AvroUnavailable(RuntimeError):
    """fastavro is not installed."""


class AvroSchemaError(ValueError):
    """A schema text that is not a valid Avro schema."""


class AvroDataError(ValueError):
    """A datum that does not fit its schema; ``path`` names the field ('' at the top:
    the datum itself), dotted in records, ``[i]`` in arrays, ``["key"]`` in maps."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        where = f"field '{path}'" if path else "the datum"
        super().__init__(f"{where}: {problem}")


def fastavro() -> Any:
    try:
        import fastavro as module
    except ImportError:
        raise AvroUnavailable(f"Avro needs fastavro: {AVRO_EXTRA}") from None
    return module


def type_name(schema: Any) -> str:
    """What a (normalized) schema is: a primitive, a named type's full name, or
    ``array``, ``map``, ``union``."""
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    kind = schema["type"]
    return str(schema["name"]) if kind in NAMED else type_name(kind)


@dataclass(frozen=True, eq=False)
class AvroSchema:
    """A parsed schema. ``text`` is the schema as first given (compact JSON),
    ``canonical`` the form that decides whether two texts are the same schema: full
    names, no namespaces, keys sorted, ``{"type": "int"}`` as ``"int"``; docs, defaults,
    aliases and other attributes kept (as Confluent's registry compares them)."""

    text: str
    canonical: str
    #: the normalized schema (as in ``canonical``) and its named types by full name
    root: Any
    names: Mapping[str, Any]
    #: fastavro's parsed form, for reading the binary encoding
    parsed: Any = field(repr=False)

    @property
    def full_name(self) -> str | None:
        """The full name of a record schema; None for any other."""
        root = self.root
        return str(root["name"]) if isinstance(root, dict) and root["type"] == "record" else None

    def resolve(self, schema: Any) -> Any:
        """A named type's definition for its name; any other schema as it is."""
        if isinstance(schema, str) and schema not in PRIMITIVES:
            return self.names[schema]
        return schema

    def from_json(self, data: str) -> bytes:
        """The Avro binary of ``data``, a datum in Avro's JSON encoding (unions as
        ``{"type": value}``); AvroDataError names the field that does not fit."""
        try:
            value = strict_json(data)
        except ValueError as exc:
            raise AvroDataError("", f"not JSON ({exc})") from None
        out = bytearray()
        self._write(self.root, value, "", out)
        return bytes(out)

    def read(self, payload: bytes) -> Any:
        """The datum of ``payload`` (Avro binary, the whole of it) as Python objects,
        logical types included (datetime, Decimal, ...); ValueError if it is not."""
        module = fastavro()
        stream = io.BytesIO(payload)
        try:
            datum = module.schemaless_reader(stream, self.parsed, None)
        except Exception as exc:  # any exception: the bytes are arbitrary
            raise ValueError(
                f"not Avro binary of this schema ({type(exc).__name__}: {exc})"
            ) from exc
        left = len(payload) - stream.tell()
        if left:
            raise ValueError(f"not Avro binary of this schema ({left} bytes left after the datum)")
        return datum

    # -- the JSON encoding, written as binary ----------------------------------------

    def _write(self, schema: Any, value: Any, path: str, out: bytearray) -> None:
        schema = self.resolve(schema)
        if isinstance(schema, list):
            self._write_union(schema, value, path, out)
            return
        kind = schema if isinstance(schema, str) else schema["type"]
        if not isinstance(kind, str):  # {"type": {...}}
            self._write(kind, value, path, out)
            return
        writer = _PRIMITIVE_WRITERS.get(kind)
        if writer is not None:
            writer(value, path, out)
        elif kind == "record" or kind == "error":
            self._write_record(schema, value, path, out)
        elif kind == "enum":
            symbols = schema["symbols"]
            if not isinstance(value, str) or value not in symbols:
                _refuse(path, f"one of the symbols {symbols}", value)
            _write_long(symbols.index(value), out)
        elif kind == "fixed":
            data = _latin1(value, path, f"{schema['size']} bytes (fixed)")
            if len(data) != schema["size"]:
                raise AvroDataError(
                    path, f"expected {schema['size']} bytes (fixed), got {len(data)}"
                )
            out += data
        elif kind == "array":
            if not isinstance(value, list):
                _refuse(path, "array", value)
            if value:
                _write_long(len(value), out)
                for i, item in enumerate(value):
                    self._write(schema["items"], item, f"{path}[{i}]", out)
            out.append(0)
        elif kind == "map":
            if not isinstance(value, dict):
                _refuse(path, "map (a JSON object)", value)
            if value:
                _write_long(len(value), out)
                for k, item in value.items():
                    _write_string(k, path, out)
                    self._write(schema["values"], item, f"{path}[{json.dumps(k)}]", out)
            out.append(0)
        else:  # parse_schema let no other type through
            raise AvroDataError(path, f"unknown type {kind!r}")

    def _write_record(self, schema: Any, value: Any, path: str, out: bytearray) -> None:
        if not isinstance(value, dict):
            _refuse(path, f"record {schema['name']} (a JSON object)", value)
        fields = schema["fields"]
        names = {f["name"] for f in fields}
        extra = [k for k in value if k not in names]
        if extra:
            where = f"{path}.{extra[0]}" if path else extra[0]
            raise AvroDataError(where, f"not in the schema (record {schema['name']})")
        for f in fields:
            where = f"{path}.{f['name']}" if path else f["name"]
            if f["name"] not in value:
                raise AvroDataError(
                    where, "missing (Avro's JSON encoding has every field, a null one as null)"
                )
            self._write(f["type"], value[f["name"]], where, out)

    def _write_union(self, branches: list[Any], value: Any, path: str, out: bytearray) -> None:
        names = [type_name(b) for b in branches]
        example = next((n for n in names if n != "null"), "null")
        expected = f'the union {names}: null, or an object naming a type, e.g. {{"{example}": ...}}'
        if value is None:
            if "null" not in names:
                _refuse(path, expected, value)
            _write_long(names.index("null"), out)
            return
        if not isinstance(value, dict) or len(value) != 1:
            _refuse(path, expected, value)
        [(branch, inner)] = value.items()
        if branch not in names or branch == "null":
            raise AvroDataError(path, f"{json.dumps(branch)} is not a type of the union {names}")
        index = names.index(branch)
        _write_long(index, out)
        self._write(branches[index], inner, path, out)


def _refuse(path: str, expected: str, value: Any) -> NoReturn:
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise AvroDataError(path, f"expected {expected}, got {shown}")


def _write_long(n: int, out: bytearray) -> None:
    n = (n << 1) ^ (n >> 63)  # zigzag
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write_null(value: Any, path: str, out: bytearray) -> None:
    if value is not None:
        _refuse(path, "null", value)


def _write_boolean(value: Any, path: str, out: bytearray) -> None:
    if not isinstance(value, bool):
        _refuse(path, "boolean", value)
    out.append(1 if value else 0)


def _integer(kind: str, bounds: tuple[int, int]) -> Writer:
    low, high = bounds

    def write(value: Any, path: str, out: bytearray) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            _refuse(path, f"{kind} (a whole number)", value)
        if not low <= value <= high:
            raise AvroDataError(path, f"{value} is out of the range of an Avro {kind}")
        _write_long(value, out)

    return write


def _floating(kind: str, code: str) -> Writer:
    def write(value: Any, path: str, out: bytearray) -> None:
        if isinstance(value, str) and value in _FLOAT_WORDS:
            value = _FLOAT_WORDS[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _refuse(path, f"{kind} (a number, or NaN, Infinity, -Infinity as strings)", value)
        try:
            out += struct.pack(code, value)
        except (OverflowError, struct.error):
            raise AvroDataError(path, f"{value} is out of the range of an Avro {kind}") from None

    return write


def _latin1(value: Any, path: str, expected: str) -> bytes:
    if not isinstance(value, str):
        _refuse(path, f"{expected} (a string of code points 0-255)", value)
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        raise AvroDataError(
            path, f"expected {expected} (a string of code points 0-255, one a byte)"
        ) from None


def _write_bytes(value: Any, path: str, out: bytearray) -> None:
    data = _latin1(value, path, "bytes")
    _write_long(len(data), out)
    out += data


def _write_string(value: Any, path: str, out: bytearray) -> None:
    if not isinstance(value, str):
        _refuse(path, "string", value)
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON's \\ud800 can spell
        raise AvroDataError(path, "the string is not valid Unicode") from None
    _write_long(len(data), out)
    out += data


_PRIMITIVE_WRITERS: dict[str, Writer] = {
    "null": _write_null,
    "boolean": _write_boolean,
    "int": _integer("int", _INT),
    "long": _integer("long", _LONG),
    "float": _floating("float", "<f"),
    "double": _floating("double", "<d"),
    "bytes": _write_bytes,
    "string": _write_string,
}


# -- schemas ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def parse_schema(text: str) -> AvroSchema:
    """The schema of a JSON text. Cached: a producer sends the same text with every record.
    AvroSchemaError says what is wrong; AvroUnavailable without fastavro."""
    try:
        document = strict_json(text)
    except ValueError as exc:
        raise AvroSchemaError(f"not JSON ({exc})") from None
    module = fastavro()
    names: dict[str, Any] = {}
    try:
        parsed = module.parse_schema(document, names)
    except Exception as exc:  # fastavro raises several kinds, KeyError among them
        raise AvroSchemaError(f"{type(exc).__name__}: {exc}") from None
    # The text as written: fastavro fills in some of what it lacks (a record's fields).
    _Checker().check(document, "")
    normalized = {name: _normalize(definition) for name, definition in names.items()}
    root = _normalize(parsed)
    canonical = json.dumps(root, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return AvroSchema(compact, canonical, root, normalized, parsed)


def _normalize(schema: Any) -> Any:
    """fastavro's parsed form without its own keys, and a bare type as its name. Only
    the keys that hold schemas are walked: defaults and other attributes are values."""
    if isinstance(schema, list):
        return [_normalize(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    normal = {k: v for k, v in schema.items() if not k.startswith("__")}
    for key in ("type", "items", "values"):
        if key in normal:
            normal[key] = _normalize(normal[key])
    if isinstance(normal.get("fields"), list):
        normal["fields"] = [
            {**f, "type": _normalize(f["type"])} if isinstance(f, dict) and "type" in f else f
            for f in normal["fields"]
        ]
    if set(normal) == {"type"} and isinstance(normal["type"], str):
        return normal["type"]
    return normal


class _Checker:
    """What Avro's specification requires and fastavro does not check."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def check(self, schema: Any, where: str) -> None:
        if isinstance(schema, str):
            return  # a primitive, or a name fastavro resolved
        if isinstance(schema, list):
            self._union(schema, where)
            return
        kind = schema.get("type")
        if kind is None:
            raise AvroSchemaError(f"{where or 'the schema'}: a schema needs a type")
        if not isinstance(kind, str):
            self.check(kind, where)
            return
        if kind in NAMED:
            name = schema.get("name")
            if not isinstance(name, str) or not all(_NAME.match(p) for p in name.split(".")):
                raise AvroSchemaError(f"{where or 'the schema'}: invalid {kind} name {name!r}")
            if name in self.seen:
                return
            self.seen.add(name)
        where = where or f"{kind} {schema.get('name', '')}".strip()
        if kind in ("record", "error"):
            fields = schema.get("fields")
            if not isinstance(fields, list):
                raise AvroSchemaError(f"{where}: a record needs a list of fields")
            taken: set[str] = set()
            for f in fields:
                name = f.get("name") if isinstance(f, dict) else None
                if not isinstance(name, str) or not _NAME.match(name):
                    raise AvroSchemaError(f"{where}: invalid field name {name!r}")
                if name in taken:
                    raise AvroSchemaError(f"{where}: two fields named '{name}'")
                taken.add(name)
                self.check(f.get("type"), f"field '{name}'")
        elif kind == "enum":
            symbols = schema.get("symbols")
            if not isinstance(symbols, list) or not all(
                isinstance(s, str) and _NAME.match(s) for s in symbols
            ):
                raise AvroSchemaError(f"{where}: an enum's symbols are names")
            if len(set(symbols)) != len(symbols):
                raise AvroSchemaError(f"{where}: an enum's symbols are distinct")
        elif kind == "fixed":
            size = schema.get("size")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise AvroSchemaError(f"{where}: a fixed type's size is a whole number >= 0")
        elif kind == "array":
            if "items" not in schema:
                raise AvroSchemaError(f"{where}: an array needs items")
            self.check(schema["items"], where)
        elif kind == "map":
            if "values" not in schema:
                raise AvroSchemaError(f"{where}: a map needs values")
            self.check(schema["values"], where)

    def _union(self, branches: list[Any], where: str) -> None:
        taken: set[str] = set()
        for branch in branches:
            if isinstance(branch, list):
                raise AvroSchemaError(f"{where or 'the schema'}: a union cannot hold a union")
            name = type_name(branch)
            if name in taken:
                raise AvroSchemaError(f"{where or 'the schema'}: the union has {name} twice")
            taken.add(name)
            self.check(branch, where)


# -- the Confluent wire format -------------------------------------------------------------


def frame(schema_id: int, payload: bytes) -> bytes:
    """``payload`` in the Confluent wire format."""
    return struct.pack(">bI", _MAGIC, schema_id) + payload


def unframe(data: bytes | None) -> tuple[int, bytes] | None:
    """The schema id and payload of data in the Confluent wire format; None for data
    that cannot be."""
    if data is None or len(data) < 5 or data[0] != _MAGIC:
        return None
    (schema_id,) = struct.unpack_from(">I", data, 1)
    return schema_id, data[5:]
