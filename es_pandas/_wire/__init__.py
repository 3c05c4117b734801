"""The REST producer's wire format: DataFrame rows as v1 or v2 requests, the API's size
limits."""

from __future__ import annotations

from .limits import Limits
from .records import EncodedRecord, RecordEncoder, RejectedRow

__all__ = [
    "EncodedRecord",
    "Limits",
    "RecordEncoder",
    "RejectedRow",
]
