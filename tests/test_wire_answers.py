"""Reading the server's answers: every documented shape, and never an exception, whatever
the bytes."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from es_pandas._wire import Metadata, parse_error, parse_success, parse_trace

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# The latest millisecond that datetime64[ns] holds: 2262-04-11T23:47:16.854Z
MAX_MS = pd.Timestamp.max.value // 10**6
MESSAGE_CHARS = 300
TRACE_CHARS = 128

# -- success ------------------------------------------------------------------------------


def success(body: object) -> Metadata:
    return parse_success(json.dumps(body).encode())


@pytest.mark.parametrize(
    "body",
    [
        # v1, as the on-premises reference documents it (timestamp a string)
        {"metadata": {"topic": "t", "timestamp": "1700000000123", "partition": 2, "offset": 7}},
        {"metadata": {"topic": "t", "timestamp": 1700000000123, "partition": 2, "offset": 7}},
        # v2 flat
        {"topic": "t", "partition": 2, "offset": 7, "timestamp": 1700000000123},
        # ISO 8601, with Z or an offset
        {"metadata": {"partition": 2, "offset": 7, "timestamp": "2023-11-14T22:13:20.123Z"}},
        {"partition": 2, "offset": 7, "timestamp": "2023-11-15T03:43:20.123+05:30"},
        {"partition": 2, "offset": 7, "timestamp": "2023-11-14T17:13:20.123-05:00"},
    ],
)
def test_success_shapes(body: object) -> None:
    assert success(body) == Metadata(2, 7, 1700000000123, None)


def test_a_v1_1_comment_is_read_on_one_line() -> None:
    # v1.1.0 with a deprecated schema: the user's text saying why, beside the metadata
    meta = {"topic": "t", "timestamp": "1700000000123", "partition": 2, "offset": 7}
    said = "orders-v1 is deprecated:\r\nuse orders-v2 by June"
    assert success({"metadata": meta, "Comment": said}) == Metadata(
        2, 7, 1700000000123, None, "orders-v1 is deprecated: use orders-v2 by June"
    )
    # said even when the metadata is not understood
    assert (
        success({"metadata": "?", "Comment": said}).comment
        == Metadata(
            None, None, None, None, "orders-v1 is deprecated: use orders-v2 by June"
        ).comment
    )
    # anything but a string is no comment, nor is an empty one; a long one is cut
    assert success({"metadata": meta, "Comment": 42}).comment is None
    assert success({"metadata": meta, "Comment": " \n"}).comment is None
    long = success({"metadata": meta, "Comment": "z" * 10_000}).comment
    assert long is not None and len(long) == MESSAGE_CHARS and long.endswith("…")


def test_a_naive_iso_timestamp_is_utc() -> None:
    assert success({"partition": 0, "offset": 0, "timestamp": "2023-11-14T22:13:20.123"}) == (
        Metadata(0, 0, 1700000000123, None)
    )


def test_iso_timestamps_keep_their_milliseconds_exactly() -> None:
    # float arithmetic would make some of these one millisecond early
    for ms in (1, 999, 1700000000001, 1700000000999, 4102444800007):
        stamp = datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)
        iso = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert success({"timestamp": iso}).timestamp == ms


def test_the_range_edges() -> None:
    top = {"partition": INT32_MAX, "offset": INT64_MAX, "timestamp": MAX_MS}
    assert success(top) == Metadata(INT32_MAX, INT64_MAX, MAX_MS, None)
    assert success({"partition": 0, "offset": 0, "timestamp": 0}) == Metadata(0, 0, 0, None)
    over = {"partition": INT32_MAX + 1, "offset": INT64_MAX + 1, "timestamp": MAX_MS + 1}
    result = success(over)
    assert result[:3] == (None, None, None)
    assert result.reason is not None and "partition is out of range" in result.reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("partition", True),
        ("partition", False),
        ("partition", "x"),
        ("partition", "3"),
        ("partition", 1.0),
        ("partition", -1),
        ("partition", 2**31),
        ("partition", [1]),
        ("partition", {"a": 1}),
        ("offset", True),
        ("offset", "x"),
        ("offset", 2.5),
        ("offset", -1),
        ("offset", 2**63),
        ("offset", 10**400),
        ("timestamp", True),
        ("timestamp", "x"),
        ("timestamp", 1.7e12),
        ("timestamp", -1),
        ("timestamp", "-1"),
        ("timestamp", MAX_MS + 1),
        ("timestamp", str(MAX_MS + 1)),
        ("timestamp", "9" * 5000),  # past int()'s digit limit
        ("timestamp", "١٢٣"),  # digits, but not ASCII ones
        ("timestamp", "2262-04-12T00:00:00Z"),
        ("timestamp", "1677-09-21T00:00:00Z"),
        ("timestamp", "1969-12-31T23:59:59Z"),
        ("timestamp", "9999-12-31T23:59:59+00:00"),
        ("timestamp", "2024-13-01T00:00:00Z"),
        ("timestamp", ""),
        ("timestamp", []),
    ],
)
def test_a_bad_field_is_none_and_said(field: str, value: object) -> None:
    good = {"partition": 1, "offset": 2, "timestamp": 3}
    for body in ({**good, field: value}, {"metadata": {**good, field: value}}):
        result = success(body)
        assert getattr(result, field) is None
        assert result._replace(**{field: good[field]}, reason=None) == Metadata(1, 2, 3, None)
        assert isinstance(result.reason, str) and result.reason.startswith(field)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"not json",
        b"{",
        b"\xff\xfe\xfa",
        b'{"metadata": {"partition": "\xff"}}',
        b"null",
        b"[]",
        b'"x"',
        b"1",
        b"1.5",
        b"true",
        b"NaN",
        b'{"metadata": null}',
        b'{"metadata": []}',
        b'{"metadata": "x"}',
        b'{"metadata": {}}',
        b"{}",
        b'{"topic": "t"}',
        b'{"partition": null, "offset": null, "timestamp": null}',
        b"[" * 100_000,
        b'{"metadata":' * 100_000,
        b"1" * 5000,
    ],
)
def test_bodies_not_understood_give_nothing_and_a_reason(body: bytes) -> None:
    result = parse_success(body)
    assert result[:3] == (None, None, None)
    assert isinstance(result.reason, str) and result.reason


def test_missing_fields_are_none_without_a_reason() -> None:
    assert success({"metadata": {"topic": "t", "partition": 0}}) == Metadata(0, None, None, None)
    assert success({"offset": 4, "timestamp": None}) == Metadata(None, 4, None, None)


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # v1.1.0: top level and nested; the nested message is the specific one, and
        # Kafka's code goes with it, by name
        (
            {
                "error_code": 404,
                "message": "Not found",
                "error": {
                    "error_code": 404,
                    "message": "Topic t does not exist",
                    "kafka_error_code": 3,
                    "incident": "abc",
                    "topic": "t",
                },
            },
            "Topic t does not exist (Kafka error 3 UNKNOWN_TOPIC_OR_PARTITION)",
        ),
        ({"error_code": 404, "message": "top", "error": {"error_code": 404}}, "top"),
        ({"error_code": 404, "message": "top", "error": {"message": ""}}, "top"),
        ({"error_code": 404, "message": "top", "error": "text"}, "top"),
        # v1.0.0 and IBM Cloud v1: nested only
        (
            {"error": {"message": "Unsupported content type", "error_code": 415}},
            "Unsupported content type",
        ),
        # v2, with its code
        (
            {
                "trace": "a222e93c",
                "error": {
                    "code": "invalid_type",
                    "message": "'type' field in 'value' object is required",
                    "more_info": "https://cloud.ibm.com/apidocs/event-streams/restproducer_v2",
                    "target": {"type": "field", "name": "type"},
                },
            },
            "'type' field in 'value' object is required (invalid_type)",
        ),
        # IAM
        (
            {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found"},
            "BXNIM0415E Provided API key could not be found",
        ),
    ],
)
def test_error_shapes(body: dict, expected: str) -> None:
    assert parse_error(404, json.dumps(body).encode()) == f"HTTP 404: {expected}"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # a Kafka code without a name here is shown by number
        ({"kafka_error_code": 41}, "no (Kafka error 41)"),
        ({"kafka_error_code": -1}, "no (Kafka error -1 UNKNOWN_SERVER_ERROR)"),
        # both kinds
        (
            {"code": "too_large", "kafka_error_code": 10},
            "no (too_large; Kafka error 10 MESSAGE_TOO_LARGE)",
        ),
        # not codes: Kafka's "no error", a boolean, a string, past an int16; an empty or
        # non-string v2 code
        ({"kafka_error_code": 0}, "no"),
        ({"kafka_error_code": True}, "no"),
        ({"kafka_error_code": "3"}, "no"),
        ({"kafka_error_code": 2**15}, "no"),
        ({"code": " \n"}, "no"),
        ({"code": 404}, "no"),
        # one line, and bounded
        ({"code": "a\r\nb"}, "no (a b)"),
        ({"code": "c" * 500}, "no (" + "c" * 63 + "…)"),
        # a code the message already says is not said twice
        ({"code": "no"}, "no"),
    ],
)
def test_error_codes(error: dict, expected: str) -> None:
    body = json.dumps({"error": {"message": "no", **error}}).encode()
    assert parse_error(400, body) == f"HTTP 400: {expected}"


def test_a_long_message_is_cut_to_keep_its_codes() -> None:
    body = json.dumps({"error": {"message": "m" * 5000, "code": "x", "kafka_error_code": 3}})
    message = parse_error(400, body.encode())
    assert len(message) == len("HTTP 400: ") + MESSAGE_CHARS
    assert message.endswith("m… (x; Kafka error 3 UNKNOWN_TOPIC_OR_PARTITION)")


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        # v2, v1.1.0 (nested), a top-level incident
        ({"trace": "a222e93c-e5f9", "error": {"code": "x"}}, {}, "a222e93c-e5f9"),
        ({"message": "m", "error": {"message": "m", "incident": "inc-1"}}, {}, "inc-1"),
        ({"error_code": 500, "message": "m", "incident": "inc-2"}, {}, "inc-2"),
        # the header when the body has none
        ({"error": {"message": "m"}}, {"x-global-transaction-id": "gtid-1"}, "gtid-1"),
        (b"<html>bad gateway</html>", {"x-global-transaction-id": "gtid-2"}, "gtid-2"),
        # the body's first: v2's trace, then the nested incident, then the header
        (
            {"trace": "t", "incident": "i", "error": {"incident": "n"}},
            {"x-global-transaction-id": "g"},
            "t",
        ),
        ({"incident": "i", "error": {"incident": "n"}}, {"x-global-transaction-id": "g"}, "n"),
        ({"error": {"incident": ""}, "trace": 7}, {"x-global-transaction-id": "g"}, "g"),
        # none at all
        ({"error": {"message": "m"}}, {}, None),
        (b"", {}, None),
        (b'{"trace": [1]}', {"x-global-transaction-id": " "}, None),
        # one line, bounded
        ({"trace": "a\r\nforged: b"}, {}, "a forged: b"),
        ({"trace": "t" * 1000}, {}, "t" * (TRACE_CHARS - 1) + "…"),
        ({}, {"x-global-transaction-id": "g" * 1000}, "g" * (TRACE_CHARS - 1) + "…"),
    ],
)
def test_traces(body: dict | bytes, headers: dict[str, str], expected: str | None) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert parse_trace(data, headers) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "HTTP 503"),
        (b" \r\n ", "HTTP 503"),
        (b"Service Unavailable", "HTTP 503: Service Unavailable"),
        (
            b"<html>\r\n  <body>\n    <h1>503</h1>\n  </body>\r\n</html>\n",
            "HTTP 503: a web page: 503",
        ),
        (b"bad \xff byte", "HTTP 503: bad \ufffd byte"),
        # JSON without a known message says what it has
        (b'{"detail": "x"}', 'HTTP 503: {"detail": "x"}'),
        (b'{"error": {"code": "no_route"}}', 'HTTP 503: {"error": {"code": "no_route"}}'),
        (b'{"message": 42}', 'HTTP 503: {"message": 42}'),
        (b'"quoted"', 'HTTP 503: "quoted"'),
        (b"null", "HTTP 503: null"),
        # one message, one line: a CR/LF in it cannot forge another log line
        (b'{"message": "a\\r\\nERROR forged\\u2028b\\u0000c"}', "HTTP 503: a ERROR forged b c"),
        (b'{"message": "lone \\ud800 surrogate"}', "HTTP 503: lone \ufffd surrogate"),
    ],
)
def test_other_error_bodies(body: bytes, expected: str) -> None:
    assert parse_error(503, body) == expected


def test_long_messages_are_cut() -> None:
    for body in (b"x" * 100_000, json.dumps({"message": "y" * 100_000}).encode()):
        message = parse_error(500, body)
        assert message.startswith("HTTP 500: ")
        assert len(message) == len("HTTP 500: ") + MESSAGE_CHARS
        assert message.endswith("…")


def test_deep_nesting_in_an_error_body_is_text() -> None:
    assert parse_error(400, b"[" * 100_000) == "HTTP 400: " + "[" * (MESSAGE_CHARS - 1) + "…"


# -- properties ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
field_values = (
    json_values
    | st.integers(min_value=-1, max_value=2**64)
    | st.integers(min_value=-1, max_value=2**64).map(str)
    | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none()
    ).map(datetime.isoformat)
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {}, optional={"partition": field_values, "offset": field_values, "timestamp": field_values}
    ),
)
bodies = bodies | st.builds(lambda meta: {"metadata": meta}, bodies)
bodies = bodies | st.builds(
    lambda meta, comment: {**meta, "Comment": comment},
    bodies.filter(lambda body: isinstance(body, dict)),
    json_values,
)
# error answers of every shape, with any value in each field
error_fields = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        ("error_code", "message", "code", "kafka_error_code", "incident", "topic"), json_values
    )
    | {"kafka_error_code": st.integers(min_value=-(2**16), max_value=2**16)},
)
errors = st.builds(
    lambda nested, top: {**top, "error": nested},
    error_fields,
    st.fixed_dictionaries({}, optional={"trace": json_values, "incident": json_values}),
)


def check_metadata(result: Metadata) -> None:
    assert type(result) is Metadata
    for value, top in zip(result[:3], (INT32_MAX, INT64_MAX, MAX_MS), strict=True):
        assert value is None or (type(value) is int and 0 <= value <= top)
    assert result.reason is None or (type(result.reason) is str and len(result.reason) < 200)


def check_trace(trace: str | None) -> None:
    assert trace is None or (type(trace) is str and 0 < len(trace) <= TRACE_CHARS)
    if trace is not None:
        check_error(200, f"HTTP 200: {trace}")


def check_error(status: int, message: str) -> None:
    assert type(message) is str
    head = f"HTTP {status}"
    assert message == head or message.startswith(head + ": ")
    assert len(message) <= len(head) + 2 + MESSAGE_CHARS
    # one line: no control characters, no whitespace but plain spaces
    assert not any(unicodedata.category(c) == "Cc" or (c.isspace() and c != " ") for c in message)
    assert len(message.splitlines()) == 1
    message.encode("utf-8")  # no lone surrogates


@given(st.binary(max_size=2000), st.integers(min_value=100, max_value=599))
def test_any_bytes_are_read_without_raising(body: bytes, status: int) -> None:
    check_metadata(parse_success(body))
    check_error(status, parse_error(status, body))
    check_trace(parse_trace(body, {}))


@given(bodies | errors, st.integers(min_value=100, max_value=599))
@settings(max_examples=500)
def test_any_json_is_read_without_raising(body: object, status: int) -> None:
    data = json.dumps(body).encode()
    check_metadata(parse_success(data))
    check_error(status, parse_error(status, data))
    check_trace(parse_trace(data, {}))


@given(
    st.integers(min_value=1, max_value=100_000),
    st.sampled_from(
        [
            (b"[", b"]"),
            (b'{"a":', b"}"),
            (b'{"metadata":', b"}"),
            (b'{"metadata":{"timestamp":', b"}}"),
            (b'{"error":', b"}"),
            (b'{"error":{"message":', b"}}"),
            (b'{"trace":', b"}"),
            (b'{"error":{"incident":', b"}}"),
            (b'{"message":[', b"]}"),
        ]
    ),
    st.booleans(),
)
@settings(max_examples=50, deadline=None)
def test_deep_nesting_is_read_without_raising(
    depth: int, brackets: tuple[bytes, bytes], closed: bool
) -> None:
    opener, closer = brackets
    body = opener * depth + (b"1" + closer * depth if closed else b"")
    check_metadata(parse_success(body))
    check_error(404, parse_error(404, body))
    check_trace(parse_trace(body, {}))


@given(
    st.integers(min_value=0, max_value=INT32_MAX),
    st.integers(min_value=0, max_value=INT64_MAX),
    st.integers(min_value=0, max_value=MAX_MS),
    st.sampled_from(["int", "digits"]),
    st.booleans(),
)
def test_valid_values_read_back_exactly(
    partition: int, offset: int, timestamp: int, spelling: str, nested: bool
) -> None:
    meta = {
        "topic": "t",
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp if spelling == "int" else str(timestamp),
    }
    body = {"metadata": meta} if nested else meta
    assert success(body) == Metadata(partition, offset, timestamp, None)


@given(
    st.integers(min_value=0, max_value=2**64),
    st.integers(min_value=0, max_value=2**64),
    st.one_of(st.integers(min_value=0, max_value=2**64), st.from_regex(r"\A[0-9]{1,21}\Z")),
    st.from_regex(r"\A[A-Za-z0-9._-]{0,12}\Z"),
)
@example(INT32_MAX, INT64_MAX, MAX_MS, "t")
@example(INT32_MAX + 1, INT64_MAX + 1, str(MAX_MS + 1), "t")
@example(0, 0, "000123", "orders.v1")
def test_event_streams_compact_answer_reads_as_any_other_spelling(
    partition: int, offset: int, timestamp: int | str, topic: str
) -> None:
    # Event Streams writes no spaces, and that form has a reader of its own (it is on
    # every row's path); spaced, the same answer goes the general way.
    meta = {"topic": topic, "timestamp": timestamp, "partition": partition, "offset": offset}
    compact = json.dumps({"metadata": meta}, separators=(",", ":")).encode()
    assert parse_success(compact) == success({"metadata": meta})


zones = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
    st.sampled_from(["auto", "milliseconds", "microseconds"]),
)
def test_iso_timestamps_read_as_numpy_does(wall: datetime, zone: timezone, spec: str) -> None:
    stamp = wall.replace(tzinfo=zone)
    result = success({"timestamp": stamp.isoformat(timespec=spec)})
    utc = stamp.astimezone(UTC).replace(tzinfo=None)
    if spec == "milliseconds":
        utc = utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    expected = int(np.datetime64(utc, "ms").astype(np.int64))
    if utc >= datetime(1970, 1, 1) and expected <= MAX_MS:
        assert result == Metadata(None, None, expected, None)
    else:
        assert result.timestamp is None and result.reason == "timestamp is out of range"


def test_a_web_page_is_named_by_its_title_not_its_markup() -> None:
    page = b'<!DOCTYPE HTML>\n<html lang="en"><head><title>Error &amp; response</title>'
    page += b"</head><body>" + b"<p>x</p>" * 500 + b"</body></html>"
    assert parse_error(501, page) == "HTTP 501: a web page titled 'Error & response'"
