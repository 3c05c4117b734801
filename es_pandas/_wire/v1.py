"""v1: ``POST /topics/{topic}/records`` with the value as the body and the key and
headers in the query string (hex for binary keys and for header values).

The body cannot be empty (the server answers 411), and the request URI, which carries
the key and headers, is limited too. Answers are read by :mod:`.answers`, which takes
every version's shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, quote_from_bytes

from .dialect import Dialect, EncodedRecord, RejectedRow, Row, make_record
from .values import Headers, Unencodable

__all__ = ["V1"]


class V1(Dialect):
    """``text_content_type`` is sent with text values; ``schemaname`` and
    ``schemaversion`` (on premises) go into every request's query."""

    prefix = "/topics/"

    def __init__(
        self,
        topic: str,
        *,
        text_content_type: str = "text/plain",
        schemaname: str | None = None,
        schemaversion: str | None = None,
        **limits: Any,
    ) -> None:
        super().__init__(topic, **limits)
        self._content_types = {
            "json": "application/json",
            "text": text_content_type,
            "binary": "application/octet-stream",
        }
        schema = {"schemaname": schemaname, "schemaversion": schemaversion}
        self._schema = "".join(
            f"&{name}={quote(value, safe='')}" for name, value in schema.items() if value
        )

    @staticmethod
    def header_name_problem(name: str) -> str | None:
        # The query lists headers as "name:hex,name:hex".
        if not name or "," in name or ":" in name:
            return (
                "v1 cannot carry header names that are empty or contain ',' or ':'; "
                "use api_version='v2'"
            )
        return None

    def key_parts(self, keys: Sequence[str | bytes | None]) -> list[str]:
        parts = []
        for key in keys:
            if key is None:
                parts.append("")
            elif isinstance(key, bytes):
                parts.append(f"&key={key.hex()}&keyType=binary")
            else:
                raw = key.encode()
                # bytes.isalnum is ASCII-only: such keys, the usual ones, need no quoting.
                quoted = key if raw.isalnum() else quote_from_bytes(raw, safe="")
                parts.append(f"&key={quoted}&keyType=text")
        return parts

    def header_part(self, headers: Headers) -> str:
        for name, _ in headers:
            problem = self.header_name_problem(name)
            if problem:
                raise Unencodable(f"header {name!r}: {problem}")
        return "&headers=" + ",".join(
            f"{quote(name, safe='')}:{data.hex()}" for name, data in headers
        )

    def rows(
        self, start: int, errors: dict[int, str], rows: Iterable[Row]
    ) -> list[EncodedRecord | RejectedRow]:
        out: list[EncodedRecord | RejectedRow] = []
        path = self.path
        limit = self.max_value_bytes
        room = self.max_uri_bytes - self.base_bytes
        content_types, schema = self._content_types, self._schema
        for i, (kind, value, key, headers) in enumerate(rows):
            if i in errors:
                out.append(RejectedRow(start + i, errors[i], key))
                continue
            body = value if isinstance(value, bytes) else value.encode()
            query = key + headers + schema  # each part starts with "&"
            target = f"{path}?{query[1:]}" if query else path
            if body and len(body) <= limit and len(target) <= room:
                out.append(make_record(start + i, target, body, content_types[kind], key))
            else:
                out.append(RejectedRow(start + i, self._problem(body, target), key))
        return out

    def _problem(self, body: bytes, target: str) -> str:
        """Which of v1's limits a row's request breaks."""
        if not body:
            return (
                f"{self.value_label}empty value: v1 cannot send an empty body (the server "
                "answers 411); use api_version='v2'"
            )
        if len(body) > self.max_value_bytes:
            return self.too_large(len(body))
        size = self.base_bytes + len(target)
        return (
            f"URI is {size} bytes, over the {self.max_uri_bytes}-byte v1 limit; "
            "use api_version='v2'"
        )
