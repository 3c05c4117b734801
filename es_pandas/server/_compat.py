"""Schema compatibility, by Avro's schema resolution rules: whether data written with
one schema (the writer's) can be read with another (the reader's).

A registry's level says which way a new schema must work against the subject's
earlier versions, as Confluent's registry defines them:

- BACKWARD: the new schema reads data written with the latest version (so a field may
  be removed, and added only with a default);
- FORWARD: the latest version reads data written with the new schema (a field may be
  added, and removed only if it had a default);
- FULL: both; NONE: no check;
- the ``_TRANSITIVE`` variants check against every earlier version, not only the latest.

Logical types are not compared (their underlying types are), as in Avro's own
compatibility check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._avro import PRIMITIVES, AvroSchema, type_name

__all__ = ["LEVELS", "check_level", "incompatibilities"]

LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)

# writer type -> the types a reader may read it as (Avro's promotions)
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def check_level(level: str) -> str:
    """``level`` in upper case, if it is one; ValueError naming the levels if not."""
    upper = level.upper() if isinstance(level, str) else ""
    if upper not in LEVELS:
        raise ValueError(f"compatibility must be one of {', '.join(LEVELS)}, not {level!r}")
    return upper


def incompatibilities(
    new: AvroSchema, earlier: Sequence[tuple[int, AvroSchema]], level: str
) -> list[str]:
    """Why ``new`` may not follow ``earlier`` (``(version, schema)``, oldest first)
    under ``level``: one sentence per problem, naming the field; empty if it may."""
    if level == "NONE" or not earlier:
        return []
    against = earlier if level.endswith("_TRANSITIVE") else earlier[-1:]
    problems = []
    for version, old in reversed(against):
        label = f"version {version}"
        if level.startswith(("BACKWARD", "FULL")):
            problems += _Resolution(new, old, "the new schema", label).problems()
        if level.startswith(("FORWARD", "FULL")):
            problems += _Resolution(old, new, label, "the new schema").problems()
    return problems


@dataclass
class _Resolution:
    """Whether ``reader`` reads what ``writer`` wrote; the labels name them in messages."""

    reader: AvroSchema
    writer: AvroSchema
    reader_label: str
    writer_label: str
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def problems(self) -> list[str]:
        return self._check(self.reader.root, self.writer.root, "")

    def _check(self, reader: Any, writer: Any, path: str) -> list[str]:
        reader = self.reader.resolve(reader)
        writer = self.writer.resolve(writer)
        if isinstance(writer, list):
            # Any branch may have been written: each must be readable.
            return [p for branch in writer for p in self._check(reader, branch, path)]
        if isinstance(reader, list):
            if any(not self._check(branch, writer, path) for branch in reader):
                return []
            names = [type_name(b) for b in reader]
            return [
                f"{_where(path)}: {self.writer_label} has {_describe(writer)}, and "
                f"{self.reader_label}'s union {names} has no type that reads it"
            ]
        reader_kind, writer_kind = _kind(reader), _kind(writer)
        if reader_kind != writer_kind:
            if reader_kind in _PROMOTIONS.get(writer_kind, ()):
                return []
            return [
                f"{_where(path)}: {self.writer_label} has {_describe(writer)}, which "
                f"{self.reader_label} cannot read as {_describe(reader)}"
            ]
        if reader_kind in PRIMITIVES:
            return []
        if reader_kind in ("record", "error", "enum", "fixed"):
            renamed = self._names_problem(reader, writer, path)
            if renamed is not None:
                return [renamed]
        if reader_kind == "array":
            return self._check(reader["items"], writer["items"], f"{path}[]")
        if reader_kind == "map":
            return self._check(reader["values"], writer["values"], f"{path}{{}}")
        if reader_kind == "fixed":
            if reader["size"] != writer["size"]:
                return [
                    f"{_where(path)}: {self.writer_label} has fixed {writer['name']} of "
                    f"{writer['size']} bytes, {self.reader_label} of {reader['size']}"
                ]
            return []
        if reader_kind == "enum":
            missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if missing and "default" not in reader:
                return [
                    f"{_where(path)}: {self.writer_label}'s enum {writer['name']} has "
                    f"{_quoted(missing)}, which {self.reader_label}'s has not, nor a default"
                ]
            return []
        return self._record(reader, writer, path)

    def _names_problem(self, reader: Any, writer: Any, path: str) -> str | None:
        # The unqualified names must match, or a reader's alias name the writer's type.
        if _short(reader["name"]) == _short(writer["name"]):
            return None
        if writer["name"] in reader.get("aliases", ()) or _short(writer["name"]) in reader.get(
            "aliases", ()
        ):
            return None
        return (
            f"{_where(path)}: {self.writer_label} has {reader['type']} {writer['name']} "
            f"where {self.reader_label} has {reader['name']}"
        )

    def _record(self, reader: Any, writer: Any, path: str) -> list[str]:
        pair = (reader["name"], writer["name"])
        if pair in self._seen:  # a recursive type, met again inside itself
            return []
        self._seen.add(pair)
        try:
            return self._fields(reader, writer, path)
        finally:
            self._seen.discard(pair)

    def _fields(self, reader: Any, writer: Any, path: str) -> list[str]:
        written = {f["name"]: f for f in writer["fields"]}
        problems = []
        for f in reader["fields"]:
            where = f"{path}.{f['name']}" if path else f["name"]
            names = [f["name"], *f.get("aliases", ())]
            match = next((written[n] for n in names if n in written), None)
            if match is not None:
                problems += self._check(f["type"], match["type"], where)
            elif "default" not in f:
                problems.append(
                    f"field '{where}' ({_describe(self.reader.resolve(f['type']))}) is in "
                    f"{self.reader_label} with no default but not in {self.writer_label}, so "
                    f"data written with {self.writer_label} cannot be read with "
                    f"{self.reader_label}"
                )
        return problems


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    kind = schema["type"]
    return kind if isinstance(kind, str) else _kind(kind)


def _describe(schema: Any) -> str:
    kind = _kind(schema) if not isinstance(schema, list) else "union"
    if isinstance(schema, dict) and kind in ("record", "error", "enum", "fixed"):
        return f"{kind} {schema['name']}"
    if kind == "union":
        return f"the union {[type_name(b) for b in schema]}"
    return kind


def _where(path: str) -> str:
    return f"field '{path}'" if path else "the top level"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _quoted(symbols: list[str]) -> str:
    return ", ".join(f"'{s}'" for s in symbols)
