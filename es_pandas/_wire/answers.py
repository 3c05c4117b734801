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

Errors:

- v1.1.0: top-level ``error_code`` and ``message``, and a nested
  ``error{error_code, message, kafka_error_code, incident, topic}``;
- v1.0.0 and IBM Cloud v1: the nested ``error`` only;
- v2: ``{"trace", "error": {code, message, more_info, target}}``;
- IAM: ``{"errorCode", "errorMessage"}``;
- anything else (a proxy's HTML page, plain text): the body's own text.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

__all__ = [
    "Metadata",
    "is_v2_error",
    "looks_like_success",
    "one_line",
    "parse_error",
    "parse_success",
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


def parse_success(body: bytes) -> Metadata:
    """Partition, offset and timestamp from a success body of either shape, each None
    when absent or not a valid value (bools, floats, negatives, out of range)."""
    usual = _USUAL_SUCCESS.fullmatch(body)
    if usual is not None:
        # one of the timestamp's two forms is unmatched: 0
        quoted, number, at_partition, at_offset = map(int, usual.groups(b"0"))
        stamp = quoted + number
        if at_partition <= _INT32_MAX and at_offset <= _INT64_MAX and stamp <= _MAX_TIMESTAMP_MS:
            return Metadata(at_partition, at_offset, stamp, None)
    answer = _json(body)
    if not isinstance(answer, dict):
        return Metadata(None, None, None, "the body is not a JSON object")
    meta = answer.get("metadata", answer)
    if not isinstance(meta, dict):
        return Metadata(None, None, None, "metadata is not a JSON object")
    partition, offset, timestamp = meta.get("partition"), meta.get("offset"), meta.get("timestamp")
    if partition is None and offset is None and timestamp is None:
        return Metadata(None, None, None, "no partition, offset or timestamp")
    problems: list[str] = []
    return Metadata(
        _integer("partition", partition, _INT32_MAX, problems),
        _integer("offset", offset, _INT64_MAX, problems),
        _timestamp(timestamp, problems),
        "; ".join(problems) or None,
    )


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


def parse_error(status: int, body: bytes) -> str:
    """``HTTP {status}: {the server's message}``, one line of bounded length; just
    ``HTTP {status}`` when the body says nothing."""
    message = _message(_json(body))
    if message is None:
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
    """The server's own words, the nested error's first (as specific as it gets)."""
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
        text = one_line(candidate) if isinstance(candidate, str) else ""
        if text:
            return text
    return None


def one_line(text: str) -> str:
    text = _SURROGATES.sub("\ufffd", _BREAKS.sub(" ", text)).strip()
    if len(text) > _MAX_MESSAGE_CHARS:
        return text[: _MAX_MESSAGE_CHARS - 1] + "…"
    return text
