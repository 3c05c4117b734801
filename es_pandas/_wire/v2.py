"""v2: ``POST /v2/topics/{topic}/records`` with a JSON envelope,
``{"key": {type, data}, "value": {type, data}, "headers": [{name, value}]}``: binary
data and header values in base64, any header name, no URI limit.

Avro keys and values are ``{"type": "avro", "schema": <the schema as JSON text>,
"schema_name_strategy": ..., "data": <the datum in Avro's JSON encoding, as a JSON
string>}``, sent to ``...?serializer=confluent``: the server registers the schema and
stores the record in the Confluent wire format.

Answers are read by :mod:`.answers`, which takes every version's shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring
from typing import Any

from .dialect import Dialect, EncodedRecord, RejectedRow, Row, make_record
from .values import Headers, b64

__all__ = ["V2"]


class V2(Dialect):
    prefix = "/v2/topics/"

    def __init__(self, topic: str, **limits: Any) -> None:
        super().__init__(topic, **limits)
        self._target = self.path
        # the members an Avro part has besides its type and data (None: no Avro key)
        self._value_avro = ""
        self._key_avro: str | None = None

    def use_avro(self, *, value: str | None, key: str | None, strategy: str) -> None:
        """Send Avro values (``value``: the schema's JSON text) and keys (``key``)."""

        def members(schema: str) -> str:
            return (
                f',"schema":{encode_basestring(schema)},'
                f'"schema_name_strategy":{encode_basestring(strategy)}'
            )

        self._value_avro = members(value) if value else ""
        self._key_avro = members(key) if key else None
        self._target = f"{self.path}?serializer=confluent"

    @staticmethod
    def header_name_problem(name: str) -> str | None:
        return None

    def key_parts(self, keys: Sequence[str | bytes | None]) -> list[str]:
        """With Avro keys, ``keys`` are their datums in Avro's JSON encoding."""
        if self._key_avro is not None:
            opening = f'"key":{{"type":"avro"{self._key_avro},"data":'
            return [
                f"{opening}{encode_basestring(key)}}}," if isinstance(key, str) else ""
                for key in keys
            ]
        parts = []
        for key in keys:
            if key is None:
                parts.append("")
            elif isinstance(key, bytes):
                parts.append(f'"key":{{"type":"binary","data":"{b64(key)}"}},')
            else:
                parts.append(f'"key":{{"type":"text","data":{encode_basestring(key)}}},')
        return parts

    def header_part(self, headers: Headers) -> str:
        items = ",".join(
            f'{{"name":{encode_basestring(name)},"value":"{b64(data)}"}}' for name, data in headers
        )
        return f',"headers":[{items}]'

    def rows(
        self, start: int, errors: dict[int, str], rows: Iterable[Row]
    ) -> list[EncodedRecord | RejectedRow]:
        out: list[EncodedRecord | RejectedRow] = []
        path = self._target
        avro = self._value_avro
        limit = self.max_value_bytes
        request_limit = self.max_request_bytes
        for i, (kind, value, key, headers) in enumerate(rows):
            if i in errors:
                out.append(RejectedRow(start + i, errors[i], key))
                continue
            if isinstance(value, bytes):
                size = len(value)
                data = f'"{b64(value)}"'
            else:
                size = len(value) if value.isascii() else len(value.encode())
                data = encode_basestring(value)
            if size > limit:
                out.append(RejectedRow(start + i, self.too_large(size), key))
                continue
            extra = avro if kind == "avro" else ""
            body = f'{{{key}"value":{{"type":"{kind}"{extra},"data":{data}}}{headers}}}'.encode()
            if len(body) > request_limit:
                out.append(
                    RejectedRow(
                        start + i,
                        # the value is nearly always what makes it large
                        f"{self.value_label}the v2 request body (the record's JSON "
                        "envelope: key, value, headers, binary as base64) is "
                        f"{len(body)} bytes, over the {request_limit}-byte limit",
                        key,
                    )
                )
                continue
            out.append(make_record(start + i, path, body, "application/json", key))
        return out
