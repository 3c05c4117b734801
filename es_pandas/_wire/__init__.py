"""The REST producer's wire format: DataFrame rows as v1 or v2 requests, the API's size
limits, and the server's answers read back.

The encoders (:mod:`.records`, with the dialects, Avro and the Kafka protocol's records)
are imported from their modules by the run that needs them: ``import es_pandas``
loads only what reads answers and checks options."""

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
    usual_success,
)
from .dialect import EncodedRecord, RejectedRow
from .limits import Limits

__all__ = [
    "EncodedRecord",
    "Limits",
    "Metadata",
    "RejectedRow",
    "is_v2_error",
    "looks_like_success",
    "names_a_schema",
    "one_line",
    "parse_error",
    "parse_success",
    "parse_trace",
    "refuses_a_schema",
    "usual_success",
]
