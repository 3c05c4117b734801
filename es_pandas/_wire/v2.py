"""v2: ``POST /v2/topics/{topic}/records`` with a JSON envelope,
``{"key": {type, data}, "value": {type, data}, "headers": [{name, value}]}``: binary
data and header values in base64, any header name, no URI limit.

Answers are read by :mod:`.answers`, which takes every version's shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring

from .dialect import Dialect, EncodedRecord, RejectedRow, Row, make_record
from .values import Headers, b64

__all__ = ["V2"]


class V2(Dialect):
    prefix = "/v2/topics/"

    @staticmethod
    def header_name_problem(name: str) -> str | None:
        return None

    def key_parts(self, keys: Sequence[str | bytes | None]) -> list[str]:
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
        path = self.path
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
            body = f'{{{key}"value":{{"type":"{kind}","data":{data}}}{headers}}}'.encode()
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
