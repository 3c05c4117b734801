"""The REST producer's wire format: DataFrame rows as v1 or v2 requests, the API's size
limits, and the server's answers read back."""

from __future__ import annotations

from .answers import (
    Metadata,
    is_v2_error,
    looks_like_success,
    names_a_schema,
    one_line,
    parse_error,
    parse_success,
    parse_trace,
    refuses_a_schema,
)
from .kafka import KafkaRecord
from .limits import Limits
from .records import EncodedRecord, RecordEncoder, RejectedRow

__all__ = [
    "EncodedRecord",
    "KafkaRecord",
    "Limits",
    "Metadata",
    "RecordEncoder",
    "RejectedRow",
    "is_v2_error",
    "looks_like_success",
    "names_a_schema",
    "one_line",
    "parse_error",
    "parse_success",
    "parse_trace",
    "refuses_a_schema",
]
