"""DataFrame rows as REST producer requests, one record per row.

:class:`RecordEncoder` turns each chunk of a frame into one :class:`EncodedRecord`
(a ready request) or :class:`RejectedRow` (why the row cannot be sent) per row. A
bad value never raises: only its row is rejected, and the message names the column.

The encoder works a column at a time (:mod:`.columns`, by the policy in :mod:`.values`;
Avro values and keys by :mod:`.avro`) and leaves the request layout and its limits to
the API version's dialect (:mod:`.v1`, :mod:`.v2`).

Longer than this project's ~400-line guide on purpose: the encoder is one class whose
column steps (keys, values, headers, ids) must agree on every row's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from hashlib import blake2b
from json.encoder import encode_basestring
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._column_types import spaced
from .._exceptions import ConfigurationError
from .avro import AvroSchema, AvroValues, avro_sides
from .columns import (
    absent_as_null,
    arrow_frame_as_pandas,
    json_column,
    text_column,
    unsendable,
)
from .dialect import RECORD_ID_HEADER, Dialect, EncodedRecord, RejectedRow, set_record_id
from .kafka import Kafka, KafkaRecord
from .limits import Limits, check_topic
from .v1 import V1
from .v2 import V2
from .values import (
    ABSENT,
    BAD_VALUE,
    Headers,
    Unencodable,
    called_headers,
    single_value,
    utf8,
)

__all__ = ["RECORD_ID_HEADER", "EncodedRecord", "RecordEncoder", "RejectedRow", "content_id"]

#: the header that carries each record's id, unless ``record_id_header`` names another

_HeaderSource = Sequence[Hashable] | Callable[[dict[Hashable, Any]], Mapping[str, object]]
_Keys = list[str | bytes | None]


def content_id(key: str | bytes | None, value: str | bytes, headers: Headers) -> str:
    """A stable id of a record's content: 32 hex digits of a BLAKE2b digest of its key
    (None: no key), value and headers, as Kafka stores them.

    The same whatever the API version sends them with: a run that falls back to v1, or
    a later one on v1, gives a record the id it had."""
    k = b"" if key is None else key if isinstance(key, bytes) else key.encode()
    v = value if isinstance(value, bytes) else value.encode()
    # the sizes first, so that no two contents give the same bytes to digest
    sizes = b"%s%d,%d" % (b"-" if key is None else b"k", len(k), len(v))
    rest: list[bytes] = []
    for name, data in headers:
        encoded = name.encode()
        sizes += b",%d,%d" % (len(encoded), len(data))
        rest += (encoded, data)
    return blake2b(sizes + b";" + k + v + b"".join(rest), digest_size=16).hexdigest()


def _names(option: str, names: object) -> list[Hashable]:
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise ConfigurationError(
            f"{option} must be a list of column names; for one column write [{names!r}]"
        )
    return list(names)


def _separator_hint(columns: Sequence[Hashable], name: Hashable) -> str:
    """Why ``name`` may be missing from ``columns``: a file read with the wrong
    separator has one column, named by its whole header line."""
    if len(columns) != 1 or not isinstance(columns[0], str) or not isinstance(name, str):
        return ""
    for separator in (";", "\t", "|", ","):
        if name in columns[0].split(separator):
            # a tab is not typed as sep='\t' on a command line: its files are TSV
            return (
                ": one column, whose name holds tabs: is the file tab-separated (TSV)?"
                if separator == "\t"
                else f": one column, whose name holds {separator!r}: is the file separated "
                f"by {separator!r} (sep={separator!r})?"
            )
    return ""


def _wire_name(what: str, name: Hashable) -> str:
    """``str(name)``, which goes on the wire as a JSON field or header name."""
    if isinstance(name, tuple):
        # str() would send "('v', 'a')": a name no consumer looks for
        raise ConfigurationError(
            f"{what} {name!r}: a tuple is not a name a JSON field or header can have (are "
            "the columns a MultiIndex, as groupby().agg() and pivot make them?): flatten "
            "them first, e.g. frame.columns = ['_'.join(filter(None, map(str, c))) "
            "if isinstance(c, tuple) else c for c in frame.columns]"
        )
    try:
        return utf8(str(name))
    except UnicodeEncodeError as exc:
        raise ConfigurationError(
            f"{what} {name!r}: its name holds {exc.object[exc.start : exc.end]!r}, a lone "
            "surrogate, which UTF-8 (and so JSON and Kafka) cannot carry"
        ) from None


class RecordEncoder:
    """Encodes the rows of a DataFrame as REST producer requests to ``topic``.

    Parameters
    ----------
    topic : str
        The topic; URL-quoted into each target. A name Kafka cannot have is refused.
    columns : sequence of hashable
        The frame's columns, as every chunk passed to :meth:`encode` has them (a
        later chunk may have more after them: a JSON Lines file's fields that first
        appear in it, which a value of every column takes in).
    dtypes : sequence, optional
        Their dtypes, in the same order: a column to send whose dtype no value can be
        sent of (period, interval, complex) is refused here, naming it. Without them,
        each row of such a column is rejected.
    api_version : {"v2", "v1", "kafka"}
        v2 sends a JSON envelope to ``/v2/topics/{topic}/records``; v1 sends the value
        as the body of ``/topics/{topic}/records``, with key and headers in the query;
        kafka gives :class:`~.kafka.KafkaRecord` s, for the Kafka protocol.
    key_col : hashable, optional
        The column whose values are the record keys; a null key rejects its row.
    value_col : hashable, optional
        One column that is the whole value, typed by ``value_type``.
    value_cols : sequence of hashable, optional
        The columns of the JSON object value; by default every column that is not the
        key or a header.
    value_type : {"json", "text", "binary"}, optional
        How ``value_col`` is sent. None picks per value: bytes as binary, str as
        text, anything else as JSON.
    header_cols : sequence of hashable or callable, optional
        Columns whose values become headers named ``str(column)`` (nulls omitted), or a
        function from the row as ``{column: value}`` to ``{name: str | bytes | None}``.
    record_id : "hash" or hashable, optional
        Each record gets a header ``record_id_header`` holding its id, and
        :attr:`EncodedRecord.record_id` says it: with "hash", :func:`content_id` of the
        key, value and headers; else the value, as text, of this column (which stays
        in the value unless ``value_cols`` leaves it out); a null id rejects its row.
    record_id_header : str
        The name of that header.
    limits : Limits
        Larger keys, values and (v1) request URIs reject their row; by default the
        API's own. With kafka, ``max_value_bytes`` is the broker's limit on a record.
    base_path : str
        The path of the base URL, counted in the v1 URI length.
    text_content_type : str
        The Content-Type of v1 text values.
    schemaname, schemaversion : str, optional
        The registered schema (on premises, v1 only) the values conform to.
    value_format : {"json", "avro"}
        avro: each value is an Avro datum: a record of the value columns, or
        ``value_col``'s value; v2 sends it in Avro's JSON encoding with the schema
        (``?serializer=confluent``), v1 as Avro binary (with ``schemaname``).
    key_format : {"text", "avro"}
        avro (v2 only): each key is the key column's value as an Avro datum.
    value_schema, key_schema : dict, str or path, optional
        Their Avro schemas; by default inferred from ``sample()`` (v2 only).
    schema_name, schema_namespace : str, optional
        The name (default: the topic as an Avro name) and namespace of an inferred
        record schema; an inferred key record is named ``<name>_key``.
    schema_strategy : str
        The v2 ``schema_name_strategy`` sent with Avro schemas.
    sample : callable, optional
        Gives the rows to infer Avro schemas from (called only to infer one).
    nullable : bool
        Every field of an inferred schema nullable: ``sample()`` is not every row.
    """

    def __init__(
        self,
        topic: str,
        columns: Sequence[Hashable],
        *,
        dtypes: Sequence[object] | None = None,
        api_version: Literal["v1", "v2", "kafka"] = "v2",
        key_col: Hashable | None = None,
        value_col: Hashable | None = None,
        value_cols: Sequence[Hashable] | None = None,
        value_type: Literal["json", "text", "binary"] | None = None,
        header_cols: _HeaderSource | None = None,
        limits: Limits = Limits(),  # noqa: B008 - frozen, shared safely
        base_path: str = "",
        text_content_type: str = "text/plain",
        schemaname: str | None = None,
        schemaversion: str | None = None,
        record_id: Hashable | None = None,
        record_id_header: str = RECORD_ID_HEADER,
        value_format: Literal["json", "avro"] = "json",
        key_format: Literal["text", "avro"] = "text",
        value_schema: AvroSchema | None = None,
        key_schema: AvroSchema | None = None,
        schema_name: str | None = None,
        schema_namespace: str | None = None,
        schema_strategy: str = "topic",
        sample: Callable[[], pd.DataFrame] | None = None,
        nullable: bool = False,
    ) -> None:
        if api_version not in ("v1", "v2", "kafka"):
            raise ConfigurationError(f"api_version must be 'v1' or 'v2', not {api_version!r}")
        if api_version != "v1" and (schemaname or schemaversion):
            raise ConfigurationError("schemaname and schemaversion are v1 parameters")
        if api_version == "kafka" and "avro" in (value_format, key_format):
            # Kafka keeps Avro in the Confluent wire format, whose schema id only a
            # schema registry gives: REST's serializer=confluent asks Event Streams'.
            raise ConfigurationError(
                "Avro values and keys go through the REST API (protocol='rest'), whose "
                "serializer registers the schema; protocol='kafka' sends json, text and "
                "binary values"
            )
        check_topic(topic)
        if value_type not in (None, "json", "text", "binary"):
            raise ConfigurationError(
                f"value_type must be 'json', 'text', 'binary' or None, not {value_type!r}"
            )
        if value_col is not None and value_cols is not None:
            raise ConfigurationError(
                "give value_col (one column is the value) or value_cols, not both"
            )
        if value_col is None and value_type in ("text", "binary"):
            raise ConfigurationError(
                f"value_type={value_type!r} needs value_col: the column to send"
            )
        self._columns = list(columns)
        self._value_type = value_type
        self._max_key_bytes = limits.max_key_bytes
        value_label = "" if value_col is None else f"column {value_col!r}: "
        common: dict[str, Any] = {
            "max_value_bytes": limits.max_value_bytes,
            "max_uri_bytes": limits.max_uri_bytes,
            "max_request_bytes": limits.max_request_bytes,
            "base_path": base_path,
            "value_label": value_label,
        }
        self._dialect: Dialect = (
            V1(
                topic,
                text_content_type=text_content_type,
                schemaname=schemaname,
                schemaversion=schemaversion,
                **common,
            )
            if api_version == "v1"
            else V2(topic, **common)
            if api_version == "v2"
            else Kafka(topic, **common)
        )

        roles: dict[int, str] = {}

        def find(option: str, name: Hashable) -> int:
            matches = [i for i, column in enumerate(self._columns) if column == name]
            if not matches:
                raise ConfigurationError(
                    f"{option}: no column named {name!r}; columns: {self._columns!r}"
                    + (
                        _separator_hint(self._columns, name)
                        or spaced(self._columns, name, listed=option.endswith("_cols"))
                    )
                )
            if len(matches) > 1:
                raise ConfigurationError(f"{option}: {len(matches)} columns are named {name!r}")
            return matches[0]

        def claim(option: str, name: Hashable) -> int:
            found = find(option, name)
            if found in roles:
                where = roles[found]
                twice = f"twice in {option}" if where == option else f"in {where} and {option}"
                raise ConfigurationError(f"column {name!r} is listed {twice}")
            roles[found] = option
            return found

        self._key = None if key_col is None else claim("key_col", key_col)
        self._header_fn = header_cols if callable(header_cols) else None
        self._header_cols: list[tuple[int, str]] = []
        if header_cols is not None and self._header_fn is None:
            for name in _names("header_cols", header_cols):
                header = _wire_name("header column", name)
                problem = self._dialect.header_name_problem(header)
                if problem:
                    raise ConfigurationError(f"header column {name!r}: {problem}")
                self._header_cols.append((claim("header_cols", name), header))
        self._value_col = None if value_col is None else claim("value_col", value_col)
        self._record_id = record_id is not None
        self._id_header = _wire_name("record_id_header", record_id_header)
        # The id column is not claimed: it may well be the key, or a field of the value.
        self._id_col = None if record_id in (None, "hash") else find("record_id", record_id)
        if record_id is not None:
            problem = self._dialect.header_name_problem(self._id_header)
            if problem:
                raise ConfigurationError(f"record_id_header {record_id_header!r}: {problem}")
            if any(name == self._id_header for _, name in self._header_cols):
                raise ConfigurationError(
                    f"header column {record_id_header!r} has the name of the record id "
                    "header: give record_id_header another name"
                )
        if value_col is not None:
            fields = []
        elif value_cols is not None:
            fields = [claim("value_cols", name) for name in _names("value_cols", value_cols)]
        else:
            fields = [i for i in range(len(self._columns)) if i not in roles]
        if value_col is None and not fields:
            raise ConfigurationError(
                "value_cols is empty"
                if value_cols is not None
                else "no value columns left: every column is the key or a header"
                if self._columns
                else "there are no columns to send"
            )
        # a value of every column but the key and headers takes in the columns that a
        # later chunk adds (a JSON Lines file's fields that first appear there)
        self._every_column = value_col is None and value_cols is None
        if dtypes is not None:
            sent = [i for i in (self._key, self._value_col, self._id_col) if i is not None]
            for i in sent + fields + [i for i, _ in self._header_cols]:
                problem = unsendable(dtypes[i])
                if problem:
                    raise ConfigurationError(
                        f"column {self._columns[i]!r} is {dtypes[i]}: {problem}"
                    )
        self._set_fields(fields)
        self._avro_value, self._avro_key = avro_sides(
            topic,
            self._columns,
            api_version=api_version,
            value_format=value_format,
            key_format=key_format,
            value_schema=value_schema,
            key_schema=key_schema,
            schemaname=schemaname,
            name=schema_name,
            namespace=schema_namespace,
            value_type=value_type,
            fields=fields,
            value_col=self._value_col,
            key_col=self._key,
            sample=sample,
            nullable=nullable,
        )
        if isinstance(self._dialect, V2) and (self._avro_value or self._avro_key):
            self._dialect.use_avro(
                value=self._avro_value.schema.text if self._avro_value else None,
                key=self._avro_key.schema.text if self._avro_key else None,
                strategy=schema_strategy,
            )

    def _set_fields(self, fields: list[int]) -> None:
        """The columns of the JSON object value, by position."""
        seen: dict[str, Hashable] = {}
        for i in fields:
            name = _wire_name("column", self._columns[i])
            if name in seen:
                raise ConfigurationError(
                    f"value columns {seen[name]!r} and {self._columns[i]!r} both become "
                    f"the JSON field {name!r}"
                )
            seen[name] = self._columns[i]
        self._fields = fields
        # One %-format per row is the cheapest way to assemble the object.
        members = (encode_basestring(name).replace("%", "%%") + ":%s" for name in seen)
        self._template = "{" + ",".join(members) + "}"
        # for the rows that lack a field
        self._members = [encode_basestring(name) + ":" for name in seen]

    def _add_columns(self, columns: Sequence[Hashable]) -> None:
        """Columns after those the encoder knows (a JSON Lines file's fields that first
        appear in a later chunk): a value of every column takes them in; an Avro value's
        schema, decided already, has no field for them (see :meth:`_outside_schema`)."""
        added = list(range(len(self._columns), len(self._columns) + len(columns)))
        self._columns += list(columns)
        if self._every_column:
            self._set_fields(self._fields + added)

    @property
    def path(self) -> str:
        """The path the records go to, after the base URL's."""
        return self._dialect.path

    @property
    def value_schema(self) -> str | None:
        """The Avro schema of the values as sent (JSON text); None unless Avro."""
        return None if self._avro_value is None else self._avro_value.schema.text

    @property
    def key_schema(self) -> str | None:
        """The Avro schema of the keys as sent (JSON text); None unless Avro."""
        return None if self._avro_key is None else self._avro_key.schema.text

    def encode(
        self, chunk: pd.DataFrame, start: int, problems: Mapping[int, str] | None = None
    ) -> list[EncodedRecord | KafkaRecord | RejectedRow]:
        """One :class:`EncodedRecord` (a :class:`KafkaRecord` for the Kafka protocol) or
        :class:`RejectedRow` per row of ``chunk``, in order.

        ``start`` is the position of the chunk's first row in the whole frame. A bad
        value never raises: its row becomes a :class:`RejectedRow`; so does a row that
        ``problems`` names (by position in ``chunk``), with its reason.
        """
        columns = chunk.columns.tolist()
        if columns != self._columns:
            if columns[: len(self._columns)] != self._columns:
                raise ValueError("the chunk's columns differ from those the encoder was made for")
            self._add_columns(columns[len(self._columns) :])
        # Work is done column by column; the row loops only assemble and check sizes.
        errors: dict[int, str] = dict(problems or {})
        chunk = arrow_frame_as_pandas(chunk)
        # what reads an absent field as null and cannot tell ABSENT itself
        nulled = (
            absent_as_null(chunk)
            if self._avro_value or self._avro_key or self._header_fn
            else chunk
        )
        keys, key_digests = self._keys(nulled, errors)
        kinds, values, digests = self._values(chunk, nulled, errors)
        headers = self._headers(nulled, errors)
        ids: list[str] = []
        if self._record_id:
            ids = self._ids(chunk, errors, key_digests, digests, headers)
            name = self._id_header
            headers = [
                [*row, (name, row_id.encode())] for row, row_id in zip(headers, ids, strict=True)
            ]
        parts = self._header_parts(headers, errors)
        rows = zip(kinds, values, self._key_parts(keys), parts, strict=True)
        out = self._dialect.rows(start, errors, rows)
        if ids:
            for item in out:
                if isinstance(item, EncodedRecord):
                    set_record_id(item, ids[item.position - start])
                elif isinstance(item, KafkaRecord):
                    object.__setattr__(item, "record_id", ids[item.position - start])
        return out

    # -- columns of a chunk ------------------------------------------------------

    def _blame(self, errors: dict[int, str], position: int, problems: dict[int, str]) -> None:
        for i, problem in problems.items():
            errors.setdefault(i, f"column {self._columns[position]!r}: {problem}")

    def _keys(self, chunk: pd.DataFrame, errors: dict[int, str]) -> tuple[_Keys, _Keys]:
        """Each row's key as the dialect takes it, and as its record id digests it
        (None: no key, or a rejected row)."""
        if self._key is None:
            return [None] * len(chunk), [None] * len(chunk)
        if self._avro_key is not None:
            return self._avro_keys(chunk, errors, self._key, self._avro_key)
        keys, problems = text_column(chunk.iloc[:, self._key])
        self._blame(errors, self._key, problems)
        label = f"column {self._columns[self._key]!r}"
        limit = self._max_key_bytes
        # A UTF-8 character is at most 4 bytes, so most chunks (no null, no key near the
        # limit) are cleared in bulk and only the others are checked key by key.
        longest = max(map(len, filter(None, keys)), default=0)
        if None in keys or longest * 4 > limit:
            for i, key in enumerate(keys):
                if key is None:
                    errors.setdefault(i, f"{label}: null key")
                    continue
                size = len(key if isinstance(key, bytes) else key.encode())
                if size > limit:
                    errors.setdefault(
                        i, f"{label}: key is {size} bytes, over the {limit}-byte limit"
                    )
        return keys, keys

    def _avro_keys(
        self, chunk: pd.DataFrame, errors: dict[int, str], position: int, avro: AvroValues
    ) -> tuple[_Keys, _Keys]:
        """Avro keys (v2): their datums in Avro's JSON encoding, and in Avro binary,
        which is what Kafka keeps and the size limit and record ids count."""
        column = chunk.iloc[:, position]
        label = f"column {self._columns[position]!r}"
        failed = {
            i: f"{label}: null key" for i in np.flatnonzero(column.isna().to_numpy()).tolist()
        }
        binaries, texts = avro.encode(chunk, failed, self._blame, binary=True, text=True)
        limit = self._max_key_bytes
        for i, data in enumerate(binaries):
            if len(data) > limit and i not in failed:
                failed[i] = (
                    f"{label}: key is {len(data)} bytes as Avro, over the {limit}-byte limit"
                )
        for i, problem in failed.items():
            errors.setdefault(i, problem)
        return (
            [None if i in failed else text for i, text in enumerate(texts)],
            [None if i in failed else data for i, data in enumerate(binaries)],
        )

    def _key_parts(self, keys: list[str | bytes | None]) -> list[Any]:
        """Each row's key as the dialect's fragment (v1 query parameters, a v2 member,
        Kafka's bytes)."""
        return self._dialect.key_parts(keys)

    def _values(
        self, chunk: pd.DataFrame, nulled: pd.DataFrame, errors: dict[int, str]
    ) -> tuple[list[str], Sequence[str | bytes], Sequence[str | bytes]]:
        """Each row's value kind ("json", "text", "binary" or "avro"), its data, and
        the data its record id digests (``nulled``: ``chunk``, absent fields null)."""
        if self._avro_value is not None:
            v1 = isinstance(self._dialect, V1)
            # Hashed ids digest the Avro binary, so that v1 and v2 give a row one id.
            hashed = self._record_id and self._id_col is None
            self._outside_schema(chunk, errors)
            binaries, texts = self._avro_value.encode(
                nulled, errors, self._blame, binary=v1 or hashed, text=not v1
            )
            if v1:
                return ["binary"] * len(chunk), binaries, binaries
            return ["avro"] * len(chunk), texts, binaries if hashed else texts
        if self._value_col is None:
            parts = []
            lacking: set[int] = set()
            for i in self._fields:
                texts, problems, absent = json_column(chunk.iloc[:, i])
                self._blame(errors, i, problems)
                parts.append(texts)
                lacking.update(absent)
            template = self._template
            texts = [template % row for row in zip(*parts, strict=True)]
            members = self._members
            for row in lacking:
                # an absent field's text is "", a JSON text never
                present = (m + p[row] for m, p in zip(members, parts, strict=True) if p[row])
                texts[row] = "{" + ",".join(present) + "}"
            return ["json"] * len(chunk), texts, texts
        kinds: list[str] = []
        values: list[str | bytes] = []
        for i, value in enumerate(chunk.iloc[:, self._value_col].tolist()):
            try:
                kind, data = single_value(value, self._value_type)
            except BAD_VALUE as exc:
                kind, data = "json", ""
                errors.setdefault(i, f"{self._dialect.value_label}{exc}")
            kinds.append(kind)
            values.append(data)
        return kinds, values, values

    def _outside_schema(self, chunk: pd.DataFrame, errors: dict[int, str]) -> None:
        """Reject the rows that have a value (null too) in a column the Avro value's
        record has no field for: one a later chunk added (see :meth:`_add_columns`)."""
        assert self._avro_value is not None
        if not self._every_column:
            return
        known = self._avro_value.columns
        for i in self._fields:
            if i in known:
                continue
            label = f"column {self._columns[i]!r}"
            for row, value in enumerate(chunk.iloc[:, i].tolist()):
                if value is not ABSENT:
                    errors.setdefault(
                        row,
                        f"{label}: the value schema has no field for it (a field that "
                        "first appears after the file's first chunk, which the schema was "
                        "inferred from or checked against)",
                    )

    def _headers(self, chunk: pd.DataFrame, errors: dict[int, str]) -> list[Headers]:
        """Each row's headers, as (name, data) pairs."""
        if self._header_fn is not None:
            return self._headers_called(self._header_fn, chunk, errors)
        if self._header_cols:
            columns = []
            for i, name in self._header_cols:
                texts, problems = text_column(chunk.iloc[:, i])
                self._blame(errors, i, problems)
                columns.append(
                    [
                        None if t is None else (name, t.encode() if isinstance(t, str) else t)
                        for t in texts
                    ]
                )
            return [[h for h in row if h is not None] for row in zip(*columns, strict=True)]
        return [()] * len(chunk)

    def _header_parts(self, rows: list[Headers], errors: dict[int, str]) -> list[Any]:
        """Each row's headers as their wire fragment: a v1 query parameter, a v2 member,
        Kafka's pairs."""
        header_part = self._dialect.header_part
        parts = []
        for i, headers in enumerate(rows):
            try:
                parts.append(header_part(headers) if headers else "")
            except Unencodable as exc:
                errors.setdefault(i, str(exc))
                parts.append("")
        return parts

    def _headers_called(
        self,
        function: Callable[[dict[Hashable, Any]], Mapping[str, object]],
        chunk: pd.DataFrame,
        errors: dict[int, str],
    ) -> list[Headers]:
        out: list[Headers] = []
        columns = [chunk.iloc[:, i].tolist() for i in range(len(self._columns))]
        for i, row in enumerate(zip(*columns, strict=True)):
            try:
                produced = function(dict(zip(self._columns, row, strict=True)))
            except Exception as exc:  # the user's code: whatever it raises rejects one row
                errors.setdefault(i, f"header_cols callable raised {type(exc).__name__}: {exc}")
                out.append(())
                continue
            try:
                out.append(called_headers(produced))
            except BAD_VALUE as exc:
                errors.setdefault(i, f"header_cols callable: {exc}")
                out.append(())
        return out

    def _ids(
        self,
        chunk: pd.DataFrame,
        errors: dict[int, str],
        keys: _Keys,
        values: Sequence[str | bytes],
        headers: list[Headers],
    ) -> list[str]:
        """Each row's record id ("" for a rejected row)."""
        for i, row in enumerate(headers):
            if i not in errors and any(name == self._id_header for name, _ in row):
                errors[i] = (
                    f"header {self._id_header!r} is the record id header: it is set by record_id"
                )
        if self._id_col is None:
            return [
                "" if i in errors else content_id(key, value, row)
                for i, (key, value, row) in enumerate(zip(keys, values, headers, strict=True))
            ]
        texts, problems = text_column(chunk.iloc[:, self._id_col])
        self._blame(errors, self._id_col, problems)
        label = f"column {self._columns[self._id_col]!r}"
        ids = []
        for i, text in enumerate(texts):
            if isinstance(text, bytes):
                try:
                    text = text.decode()
                except UnicodeDecodeError:
                    errors.setdefault(i, f"{label}: a record id is text, not non-UTF-8 bytes")
                    text = None
            if text is None:
                errors.setdefault(i, f"{label}: null record id")
            ids.append("" if text is None else text)
        return ids
