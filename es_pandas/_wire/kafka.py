"""The Kafka protocol (``protocol="kafka"``): each row as the record Kafka keeps, for a
Kafka producer to send; no request around it.

The value is what v1 sends as its body and Event Streams stores (JSON text, text as
UTF-8, binary as it is), the key the UTF-8 of a text key or a binary key's bytes, the
headers their names and bytes: a row lands as the same record whichever way it goes.
The one size limit is Kafka's on a whole record, ``message.max.bytes`` (key, value and
headers together), as the broker gives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .dialect import Dialect, RejectedRow, Row
from .values import Headers

__all__ = ["Kafka", "KafkaRecord"]

#: what Kafka adds to a record batch around its records (v2 record batch header), and
#: to each record (its varint lengths and attributes at their widest): a record whose
#: key, value and headers take more than the limit less these cannot be written
BATCH_OVERHEAD = 61
RECORD_OVERHEAD = 21


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One row as a Kafka record: ``key`` (None: no key), ``value``, ``headers``;
    ``record_id`` as :class:`~.dialect.EncodedRecord` has it."""

    position: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None
    record_id: str | None = None


class Kafka(Dialect):
    """``max_value_bytes`` is the broker's limit on a record, key and headers included."""

    prefix = ""

    @staticmethod
    def header_name_problem(name: str) -> str | None:
        return None

    def key_parts(self, keys: Sequence[str | bytes | None]) -> list[bytes | None]:
        return [key.encode() if isinstance(key, str) else key for key in keys]

    def header_part(self, headers: Headers) -> list[tuple[str, bytes]]:
        return list(headers)

    def rows(self, start: int, errors: dict[int, str], rows: Iterable[Row]) -> list[Any]:
        out: list[KafkaRecord | RejectedRow] = []
        room = self.max_value_bytes - BATCH_OVERHEAD - RECORD_OVERHEAD
        for i, (_, value, key, headers) in enumerate(rows):
            if i in errors:
                out.append(RejectedRow(start + i, errors[i]))
                continue
            data = value if isinstance(value, bytes) else value.encode()
            size = len(data) + (0 if key is None else len(key))
            if headers:
                size += sum(len(name.encode()) + len(value) + 2 for name, value in headers)
            if size > room:
                out.append(
                    RejectedRow(
                        start + i,
                        f"record is {size} bytes (key, value and headers), over the "
                        f"{room} bytes a Kafka record may take under the broker's "
                        f"{self.max_value_bytes}-byte message.max.bytes",
                    )
                )
                continue
            out.append(KafkaRecord(start + i, key, data, headers or None))
        return out
