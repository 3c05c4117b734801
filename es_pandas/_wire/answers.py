"""The server's answers, read without ever raising: whatever a server, gateway or proxy
sends back, a row ends with a result and the run goes on.

One reader takes every version's shapes, because the shapes overlap and an answer
does not say which version it is (the local server answers v2 in v1's shape).

Success (2xx):

- v1: ``{"metadata": {"topic", "timestamp", "partition", "offset"}}`` (on-premises
  reference; the timestamp is documented as a string of unstated format);
- v2: undocumented by IBM: v1's shape, or flat ``{"topic", "partition", "offset",
  "timestamp"}``.

:func:`looks_like_success` says whether a body is one of these at all (a server that
is not Event Streams answers otherwise); :func:`parse_success` reads what it can of it.

v1.1.0 adds ``"Comment"`` beside ``metadata`` when the record's schema is deprecated:
:func:`parse_success` returns it, for a warning.

Errors:

- v1.1.0: top-level ``error_code`` and ``message``, and a nested
  ``error{error_code, message, kafka_error_code, incident, topic, schema}``;
- v1.0.0 and IBM Cloud v1: the nested ``error`` only;
- v2: ``{"trace", "error": {code, message, more_info, target}}``;
- IAM: ``{"errorCode", "errorMessage"}``;
- anything else (a proxy's HTML page, plain text): the body's own text.

:func:`parse_error` reads the message with v2's ``code`` and v1's ``kafka_error_code``;
:func:`parse_trace` the id IBM gave the answer (v2's ``trace``, v1's ``incident``, or
the ``X-Global-Transaction-Id`` header), which IBM support asks for.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

__all__ = [
    "Metadata",
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

_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1
# The status frame holds timestamps as datetime64[ns]: int64 nanoseconds, so at most
# 2262-04-11T23:47:16.854Z. Kafka timestamps are never negative (-1 means none).
_MAX_TIMESTAMP_MS = _INT64_MAX // 10**6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# Enough for a server's sentence, short enough for a log line and a status frame cell.
_MAX_MESSAGE_CHARS = 300
# An error's code (v2's are snake_case words) and an answer's id (a UUID): anything
# longer is not one, and is cut.
_MAX_CODE_CHARS = 64
_MAX_TRACE_CHARS = 128
# Runs of whitespace and control characters (C0, DEL, C1): line breaks of any kind would
# spread one message over several lines, and an HTML page's indentation is noise.
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# Lone surrogates (JSON "\ud800" escapes) cannot be written as UTF-8 later.
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# The success answer as Event Streams writes it (v1's reference shape, and the local
# server's for both versions), read without building JSON objects: it is on every
# row's path. Anything else, a space included, is read as JSON; tests hold both ways
# to the same result.
_USUAL_SUCCESS = re.compile(
    rb'\{"metadata":\{"topic":"[A-Za-z0-9._-]*",'
    rb'"timestamp":(?:"([0-9]{1,19})"|(0|[1-9][0-9]{0,18})),'
    rb'"partition":(0|[1-9][0-9]{0,9}),"offset":(0|[1-9][0-9]{0,18})\}\}'
)


class Metadata(NamedTuple):
    """Where a record was written, as far as the success answer says."""

    partition: int | None
    offset: int | None
    #: epoch milliseconds
    timestamp: int | None
    #: why (part of) the body was not understood; None when it was
    reason: str | None
    #: v1.1.0's ``Comment`` (why the record's schema is deprecated), one line
    comment: str | None = None


def parse_success(body: bytes) -> Metadata:
    """Partition, offset and timestamp from a success body of either shape, each None
    when absent or not a valid value (bools, floats, negatives, out of range), and the
    answer's ``Comment``."""
    usual = usual_success(200, body)
    if usual is not None:
        return usual
    answer = _json(body)
    if not isinstance(answer, dict):
        return Metadata(None, None, None, "the body is not a JSON object")
    comment = _text(answer.get("Comment"), _MAX_MESSAGE_CHARS)
    meta = answer.get("metadata", answer)
    if not isinstance(meta, dict):
        return Metadata(None, None, None, "metadata is not a JSON object", comment)
    partition, offset, timestamp = meta.get("partition"), meta.get("offset"), meta.get("timestamp")
    if partition is None and offset is None and timestamp is None:
        return Metadata(None, None, None, "no partition, offset or timestamp", comment)
    problems: list[str] = []
    return Metadata(
        _integer("partition", partition, _INT32_MAX, problems),
        _integer("offset", offset, _INT64_MAX, problems),
        _timestamp(timestamp, problems),
        "; ".join(problems) or None,
        comment,
    )


def usual_success(status: int, body: bytes) -> Metadata | None:
    """Where the record went, if an answer is a 2xx with the success body as Event
    Streams writes it (values in range): then nothing in it (its headers included) is
    ever shown, only read as these numbers. None for any other answer."""
    usual = _USUAL_SUCCESS.fullmatch(body) if 200 <= status < 300 else None
    if usual is None:
        return None
    # one of the timestamp's two forms is unmatched: 0
    quoted, number, at_partition, at_offset = map(int, usual.groups(b"0"))
    stamp = quoted + number
    if at_partition <= _INT32_MAX and at_offset <= _INT64_MAX and stamp <= _MAX_TIMESTAMP_MS:
        return Metadata(at_partition, at_offset, stamp, None)
    return None


def looks_like_success(body: bytes) -> bool:
    """Whether a 2xx body is recognisably Event Streams' success answer: a JSON object
    holding a ``metadata`` object (v1's reference shape, v1.1.0's with ``Comment``, the
    local server's for both versions), or ``partition`` or ``offset`` at its top (v2's
    flat shape). Tolerant on purpose, as v2's shape is undocumented: the values are not
    checked here (:func:`parse_success` says which it could not read)."""
    if _USUAL_SUCCESS.fullmatch(body) is not None:
        return True
    answer = _json(body)
    return isinstance(answer, dict) and (
        isinstance(answer.get("metadata"), dict) or "partition" in answer or "offset" in answer
    )


def is_v2_error(body: bytes) -> bool:
    """Whether an error body is in v2's shape, ``{"trace", "error": {"code", ...}}``
    (v1's nested error has an integer ``error_code`` instead): only the v2 route of
    Event Streams answers so, which a server without that route does not."""
    answer = _json(body)
    if not isinstance(answer, dict):
        return False
    error = answer.get("error")
    return isinstance(answer.get("trace"), str) or (
        isinstance(error, dict) and isinstance(error.get("code"), str)
    )


def names_a_schema(body: bytes) -> bool:
    """Whether an error is about a schema: v1.1.0's nested error names it in ``schema``
    (a 404 then means the schema or its version is not registered, not the topic)."""
    answer = _json(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    return isinstance(error, dict) and bool(error.get("schema"))


def refuses_a_schema(body: bytes) -> bool:
    """Whether an error is about the records' schema, which every row carries, not one
    row's data: the registry refused it as incompatible with its subject's versions, or
    the schema, its naming strategy or the serializer is not usable. IBM documents no
    codes for these: a code naming the schema, Avro or the serializer, or a message
    naming an incompatible schema."""
    answer = _json(body)
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return False
    code = str(error.get("code", "")).lower()
    message = str(error.get("message", "")).lower()
    return any(word in code for word in ("schema", "avro", "serializer")) or (
        "schema" in message and "incompatib" in message
    )


def parse_error(status: int, body: bytes) -> str:
    """``HTTP {status}: {the server's message} ({its codes})``, one line of bounded
    length; just ``HTTP {status}`` when the body says nothing.

    The codes are v2's ``error.code`` and v1's ``error.kafka_error_code`` (with Kafka's
    name for it), each when the answer has it and the message does not already say it."""
    answer = _json(body)
    message = _message(answer)
    if message is not None:
        codes = [code for code in _codes(answer) if code not in message]
        suffix = f" ({'; '.join(codes)})" if codes else ""
        message = one_line(message, _MAX_MESSAGE_CHARS - len(suffix)) + suffix
    else:
        # Not JSON, or JSON without a known message: the text says what it can.
        message = one_line(body[: _MAX_MESSAGE_CHARS * 4].decode("utf-8", "replace"))
        if _HTML.match(message):
            # a proxy's or web server's page: its title says it, the markup does not
            text = body[:65536].decode("utf-8", "replace")
            title = _TITLE.search(text)
            if title and one_line(html.unescape(title.group(1))):
                message = f"a web page titled {one_line(html.unescape(title.group(1)))!r}"
            else:
                words = one_line(html.unescape(_TAG.sub(" ", text)))[:_MAX_MESSAGE_CHARS]
                message = f"a web page: {words}" if words else "a web page"
    return f"HTTP {status}: {message}" if message else f"HTTP {status}"


_HTML = re.compile(r"\s*<(?:!doctype\s+html|html)\b", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _json(body: bytes) -> object:
    """The body as JSON; None when it is not JSON at all."""
    try:
        return json.loads(body)
    # Invalid JSON or UTF-8, numbers over Python's digit limit, nesting past the
    # recursion limit.
    except (ValueError, RecursionError):
        return None


def _integer(name: str, value: object, top: int, problems: list[str]) -> int | None:
    # bool is an int subclass: true would read as 1.
    if value is None or (type(value) is int and 0 <= value <= top):
        return value
    problems.append(
        f"{name} is out of range" if type(value) is int else f"{name} is {_kind(value)}"
    )
    return None


def _timestamp(value: object, problems: list[str]) -> int | None:
    """Epoch milliseconds from an int, a string of its digits, or ISO 8601 (UTC when no
    offset is given)."""
    if value is None:
        return None
    if type(value) is str and value.isascii() and value.isdigit():
        # Past 19 digits it is out of range, and int() refuses thousands of digits.
        value = int(value) if len(value) <= 19 else _INT64_MAX
    elif type(value) is str:
        # RFC 3339 allows a lower-case "z"; fromisoformat takes only "Z".
        text = value[:-1] + "Z" if value.endswith("z") else value
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            problems.append("timestamp is neither epoch milliseconds nor ISO 8601")
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        value = (stamp - _EPOCH) // _MILLISECOND
    if type(value) is not int:
        problems.append(f"timestamp is {_kind(value)}")
        return None
    if not 0 <= value <= _MAX_TIMESTAMP_MS:
        problems.append("timestamp is out of range")
        return None
    return value


def _kind(value: object) -> str:
    """A JSON value's type, for a reason (never the value: it may be huge or hostile)."""
    kinds = {bool: "a boolean", float: "a float", str: "a string", list: "an array"}
    return kinds.get(type(value), "an object")


def _message(answer: object) -> str | None:
    """The server's own words, the nested error's first (as specific as it gets), on
    one line but not yet cut to length."""
    if not isinstance(answer, dict):
        return None
    nested = answer.get("error")
    iam_code = answer.get("errorCode")
    for candidate in (
        nested.get("message") if isinstance(nested, dict) else None,
        answer.get("message"),
        # IAM's codes (BXNIM0415E) are what IBM's documentation and support go by.
        f"{iam_code} {answer.get('errorMessage')}"
        if isinstance(iam_code, str) and isinstance(answer.get("errorMessage"), str)
        else answer.get("errorMessage"),
    ):
        text = one_line(candidate, None) if isinstance(candidate, str) else ""
        if text:
            return text
    return None


def _codes(answer: object) -> list[str]:
    """The nested error's codes, as a reader sees them: v2's ``code`` (``topic_not_found``)
    and v1's ``kafka_error_code`` (``Kafka error 3 UNKNOWN_TOPIC_OR_PARTITION``)."""
    nested = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(nested, dict):
        return []
    code = _text(nested.get("code"), _MAX_CODE_CHARS)
    codes = [] if code is None else [code]
    kafka = nested.get("kafka_error_code")
    # an int16 on the wire; 0 is Kafka's "no error", and bool is an int subclass
    if type(kafka) is int and kafka != 0 and -(2**15) <= kafka < 2**15:
        name = _KAFKA_ERRORS.get(kafka)
        codes.append(f"Kafka error {kafka} {name}" if name else f"Kafka error {kafka}")
    return codes


def parse_trace(body: bytes, headers: Mapping[str, str]) -> str | None:
    """The id IBM gave an error answer, which its support asks for: v2's ``trace``,
    else v1's ``incident`` (nested in ``error``, or at the top), else the
    ``X-Global-Transaction-Id`` header; None when the answer has none.

    The body's id comes first: it is the one Event Streams filed this error under; the
    header (set by IBM Cloud's edge, and perhaps by Event Streams: IBM does not say)
    names the request, and is all a gateway's own error page carries. A body that does
    not name either field is not read again (it was read for its message)."""
    if b'"trace"' in body or b'"incident"' in body:
        answer = _json(body)
        if isinstance(answer, dict):
            nested = answer.get("error")
            for candidate in (
                answer.get("trace"),
                nested.get("incident") if isinstance(nested, dict) else None,
                answer.get("incident"),
            ):
                trace = _text(candidate, _MAX_TRACE_CHARS)
                if trace is not None:
                    return trace
    return _text(headers.get("x-global-transaction-id"), _MAX_TRACE_CHARS)


def _text(value: object, limit: int) -> str | None:
    """A server's string as one line of at most ``limit`` characters; None for an
    empty one, or anything else."""
    return (one_line(value, limit) or None) if isinstance(value, str) else None


def one_line(text: str, limit: int | None = _MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (None: not cut)."""
    text = _SURROGATES.sub("\ufffd", _BREAKS.sub(" ", text)).strip()
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


# Kafka's names for the error codes a produce request can meet (Kafka's
# org.apache.kafka.common.protocol.Errors); others are shown by number.
_KAFKA_ERRORS = {
    -1: "UNKNOWN_SERVER_ERROR",
    2: "CORRUPT_MESSAGE",
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER",
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    9: "REPLICA_NOT_AVAILABLE",
    10: "MESSAGE_TOO_LARGE",
    13: "NETWORK_EXCEPTION",
    17: "INVALID_TOPIC_EXCEPTION",
    18: "RECORD_LIST_TOO_LARGE",
    19: "NOT_ENOUGH_REPLICAS",
    20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    21: "INVALID_REQUIRED_ACKS",
    29: "TOPIC_AUTHORIZATION_FAILED",
    31: "CLUSTER_AUTHORIZATION_FAILED",
    32: "INVALID_TIMESTAMP",
    35: "UNSUPPORTED_VERSION",
    42: "INVALID_REQUEST",
    43: "UNSUPPORTED_FOR_MESSAGE_FORMAT",
    44: "POLICY_VIOLATION",
    45: "OUT_OF_ORDER_SEQUENCE_NUMBER",
    46: "DUPLICATE_SEQUENCE_NUMBER",
    47: "INVALID_PRODUCER_EPOCH",
    53: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
    56: "KAFKA_STORAGE_ERROR",
    58: "SASL_AUTHENTICATION_FAILED",
    59: "UNKNOWN_PRODUCER_ID",
    74: "FENCED_LEADER_EPOCH",
    75: "UNKNOWN_LEADER_EPOCH",
    76: "UNSUPPORTED_COMPRESSION_TYPE",
    87: "INVALID_RECORD",
    89: "THROTTLING_QUOTA_EXCEEDED",
    90: "PRODUCER_FENCED",
}
