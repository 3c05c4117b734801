"""What encoding a row gives (a ready request or a rejection), and the interface that
each API version's wire layout (:mod:`.v1`, :mod:`.v2`) implements.

These live apart from :mod:`.records` because the dialects build the results and the
encoder picks a dialect: one module holding both would import the dialects in a cycle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .values import Headers

__all__ = [
    "RECORD_ID_HEADER",
    "Dialect",
    "EncodedRecord",
    "RejectedRow",
    "Row",
    "make_record",
    "set_record_id",
]

#: the header that carries a record's id (``RecordEncoder``'s ``record_id``) by default
RECORD_ID_HEADER = "es-pandas-record-id"

#: a row before assembly: value kind ("json", "text" or "binary"), value data, and the
#: dialect's key and headers fragments (REST's text, "" when none; the Kafka dialect's
#: are the key's bytes and the header pairs themselves)
Row = tuple[str, str | bytes, Any, Any]


@dataclass(frozen=True, slots=True)
class EncodedRecord:
    """One row as a request: ``POST {base_url}{target}`` with ``body`` as ``content_type``.

    ``key`` tells records of one Kafka key apart from others (its fragment of the
    request, as the dialect writes it); "" when the record has no key. ``record_id`` is
    the id header it carries (see ``RecordEncoder``'s ``record_id``)."""

    position: int
    target: str
    body: bytes
    content_type: str
    key: str = ""
    record_id: str | None = None


# A frozen dataclass's __init__ sets each field through object.__setattr__; setting the
# slots directly is cheaper for the one record made per row.
_set_position, _set_target, _set_body, _set_content_type, _set_key, set_record_id = (
    EncodedRecord.__dict__[name].__set__
    for name in ("position", "target", "body", "content_type", "key", "record_id")
)


def make_record(
    position: int, target: str, body: bytes, content_type: str, key: str = ""
) -> EncodedRecord:
    """``EncodedRecord(position, target, body, content_type, key)``, at half the cost."""
    record = object.__new__(EncodedRecord)
    _set_position(record, position)
    _set_target(record, target)
    _set_body(record, body)
    _set_content_type(record, content_type)
    _set_key(record, key)
    set_record_id(record, None)
    return record


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row that cannot be sent, and why; ``key`` as :class:`EncodedRecord` has it."""

    position: int
    error: str
    key: str = ""


class Dialect(ABC):
    """How one API version lays rows out as requests to ``topic``.

    ``value_label`` prefixes value problems (``"column 'v': "`` for a ``value_col``).
    """

    #: the path of the topic's records, before the URL-quoted topic name
    prefix: str

    def __init__(
        self,
        topic: str,
        *,
        max_value_bytes: int,
        max_uri_bytes: int,
        max_request_bytes: int,
        base_path: str,
        value_label: str,
    ) -> None:
        self.path = f"{self.prefix}{quote(topic, safe='')}/records"
        self.max_value_bytes = max_value_bytes
        self.max_uri_bytes = max_uri_bytes
        self.max_request_bytes = max_request_bytes
        self.base_bytes = len(base_path.encode())
        self.value_label = value_label

    def too_large(self, size: int) -> str:
        return (
            f"{self.value_label}value is {size} bytes, over the {self.max_value_bytes}-byte limit"
        )

    @staticmethod
    @abstractmethod
    def header_name_problem(name: str) -> str | None:
        """Why this dialect cannot carry a header called ``name``; None when it can."""

    @abstractmethod
    def key_parts(self, keys: Sequence[str | bytes | None]) -> list[Any]:
        """Each key as its fragment of the request; "" for None (a rejected row)."""

    @abstractmethod
    def header_part(self, headers: Headers) -> Any:
        """A row's (non-empty) headers as their fragment; raises ``Unencodable``."""

    @abstractmethod
    def rows(self, start: int, errors: dict[int, str], rows: Iterable[Row]) -> list[Any]:
        """The requests (records) of ``rows``, the first at ``start``, and the
        :class:`RejectedRow` s of those in ``errors`` or over a limit."""
