"""The local server as a schema registry, over real sockets: v2's avro records (checked,
registered under their strategy's subject, stored in the Confluent wire format), schema
evolution under each compatibility level, the Confluent-compatible API under
/_local/registry, v1's schemaname/schemaversion on premises, records() decoding, the
registry persisting with the SQLite file, and the round trip through Kafka.

Requests are built by hand, the data in Avro's JSON encoding by fastavro's JSON writer."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server import Record, partition_for_key
from es_pandas.server._avro import parse_schema
from es_pandas.server._compat import incompatibilities
from es_pandas.server._config import SCHEMA_HEADERS

from .conftest import basic, bearer, start_server_process

fastavro = pytest.importorskip("fastavro")

ORDER: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}
AN_ORDER = {"id": 1, "amount": 9.5, "note": "first"}


def with_fields(schema: dict[str, Any], *fields: dict[str, Any], drop: str = "") -> dict:
    kept = [f for f in schema["fields"] if f["name"] != drop]
    return {**schema, "fields": [*kept, *fields]}


def avro_json(schema: Any, datum: Any) -> str:
    """``datum`` in Avro's JSON encoding, by fastavro's JSON writer."""
    out = io.StringIO()
    fastavro.json_writer(out, fastavro.parse_schema(schema), [datum])
    return out.getvalue().strip()


def avro_binary(schema: Any, datum: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), datum)
    return out.getvalue()


def avro(schema: Any, datum: Any, strategy: str | None = None, **part: Any) -> dict[str, Any]:
    """A v2 key or value of type avro."""
    body = {"type": "avro", "schema": json.dumps(schema), "data": avro_json(schema, datum)}
    if strategy is not None:
        body["schema_name_strategy"] = strategy
    return {**body, **part}


def new_topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalEventStreams]:
    """One server for the module; tests write to topics of their own (created on use),
    so each has subjects of its own."""
    with LocalEventStreams(auth=False, auto_create_topics=True) as es:
        yield es


def produce(
    es: LocalEventStreams,
    topic: str,
    value: dict[str, Any],
    key: dict[str, Any] | None = None,
    serializer: str | None = "confluent",
    **kwargs: Any,
) -> httpx.Response:
    envelope = {"value": value} if key is None else {"key": key, "value": value}
    params = {} if serializer is None else {"serializer": serializer}
    return httpx.post(f"{es.url}/v2/topics/{topic}/records", json=envelope, params=params, **kwargs)


def registry(es: LocalEventStreams, path: str, method: str = "GET", **kwargs: Any):
    return httpx.request(method, f"{es.url}/_local/registry{path}", **kwargs)


def stored(es: LocalEventStreams, response: httpx.Response) -> Record:
    assert response.status_code == 200, response.text
    metadata = response.json()["metadata"]
    return es.read(metadata["topic"], metadata["partition"], metadata["offset"], 1)[0]


def latest(es: LocalEventStreams, subject: str) -> dict[str, Any]:
    response = registry(es, f"/subjects/{subject}/versions/latest")
    assert response.status_code == 200, response.text
    return response.json()


def framed(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", schema_id) + payload


def v2_refusal(response: httpx.Response, code: str) -> str:
    """The message of a v2 error answer (IBM's shape) with ``code``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"trace", "error"}
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


# -- v2: the wire format and the subjects ------------------------------------------------


def test_an_avro_value_is_stored_in_the_confluent_wire_format(local) -> None:
    topic = new_topic()
    record = stored(local, produce(local, topic, avro(ORDER, AN_ORDER)))
    registered = latest(local, f"{topic}-value")
    assert registered["version"] == 1 and registered["subject"] == f"{topic}-value"
    assert record.value == framed(registered["id"], avro_binary(ORDER, AN_ORDER))
    assert json.loads(registered["schema"]) == ORDER
    by_id = registry(local, f"/schemas/ids/{registered['id']}?subject=x&format=resolved")
    assert by_id.json() == {"schema": registered["schema"]}
    assert registry(local, f"/subjects/{topic}-value/versions").json() == [1]
    assert f"{topic}-value" in registry(local, "/subjects").json()
    raw = registry(local, f"/subjects/{topic}-value/versions/1/schema")
    assert json.loads(raw.text) == ORDER


def test_an_avro_key_is_framed_too_and_places_the_record_by_its_bytes(local) -> None:
    topic = new_topic()
    local.create_topic(topic, 4)
    key_schema = {"type": "string"}
    response = produce(local, topic, avro(ORDER, AN_ORDER), key=avro(key_schema, "customer-7"))
    record = stored(local, response)
    key_id = latest(local, f"{topic}-key")["id"]
    assert record.key == framed(key_id, avro_binary("string", "customer-7"))
    assert record.partition == partition_for_key(record.key, 4)
    assert latest(local, f"{topic}-value")["id"] != key_id


@pytest.mark.parametrize(
    ("strategy", "namespace", "subject"),
    [
        (None, "shop", "{topic}-value"),
        ("topic", "shop", "{topic}-value"),
        ("record", "shop", "shop.Order-value"),
        ("record", None, "Order-value"),
        ("topic_record", "shop", "{topic}-shop.Order-value"),
        ("topic_record", None, "{topic}-Order-value"),
    ],
)
def test_each_strategy_names_its_subject(local, strategy, namespace, subject: str) -> None:
    topic = new_topic()
    # a record name of its own, so the record strategies' subjects are this test's
    name = f"Order{uuid.uuid4().hex[:6]}"
    schema = {k: v for k, v in ORDER.items() if k != "namespace"} | {"name": name}
    if namespace:
        schema["namespace"] = namespace
    response = produce(local, topic, avro(schema, AN_ORDER, strategy))
    assert response.status_code == 200, response.text
    expected = subject.format(topic=topic).replace("Order", name)
    assert latest(local, expected)["version"] == 1
    assert [s for s in registry(local, "/subjects").json() if name in s or topic in s] == [expected]


def test_the_key_strategy_names_a_key_subject(local) -> None:
    topic = new_topic()
    name = f"Key{uuid.uuid4().hex[:6]}"
    key_schema = {"type": "record", "name": name, "fields": [{"name": "k", "type": "string"}]}
    key = avro(key_schema, {"k": "a"}, "topic_record")
    assert produce(local, topic, avro(ORDER, AN_ORDER), key=key).status_code == 200
    assert latest(local, f"{topic}-{name}-key")["version"] == 1


def test_the_record_strategies_need_a_record_schema(local) -> None:
    topic = new_topic()
    for strategy in ("record", "topic_record"):
        response = produce(local, topic, avro({"type": "string"}, "text", strategy))
        message = v2_refusal(response, "invalid_schema_name_strategy")
        assert "not a record" in message
    assert local.read(topic) == []


def test_an_unknown_strategy_is_refused_naming_the_allowed_ones(local) -> None:
    response = produce(local, new_topic(), avro(ORDER, AN_ORDER, "TopicRecord"))
    message = v2_refusal(response, "invalid_schema_name_strategy")
    assert "must be one of topic, record, topic_record, not 'TopicRecord'" in message


def test_the_server_may_take_other_spellings_of_topic_record() -> None:
    with LocalEventStreams(
        topics={"t": 1}, auth=False, topic_record_names=["topic_record", "TopicRecord"]
    ) as es:
        assert produce(es, "t", avro(ORDER, AN_ORDER, "TopicRecord")).status_code == 200
        assert produce(es, "t", avro(ORDER, AN_ORDER, "topic_record")).status_code == 200
        assert registry(es, "/subjects").json() == ["t-shop.Order-value"]
        assert registry(es, "/subjects/t-shop.Order-value/versions").json() == [1]
    with pytest.raises(ValueError, match="not 'topic' or 'record'"):
        LocalEventStreams(topic_record_names=["record"])


def test_the_same_schema_is_the_same_version_however_it_is_written(local) -> None:
    topic = new_topic()
    first = stored(local, produce(local, topic, avro(ORDER, AN_ORDER)))
    # the same schema: other whitespace and key order, a type spelled as an object
    respelled = json.dumps(
        {
            "namespace": "shop",
            "fields": [
                {"type": {"type": "long"}, "name": "id"},
                {"name": "amount", "type": "double"},
                {"name": "note", "default": None, "type": ["null", "string"]},
            ],
            "name": "Order",
            "type": "record",
        },
        indent=2,
    )
    second = stored(local, produce(local, topic, avro(ORDER, AN_ORDER) | {"schema": respelled}))
    assert registry(local, f"/subjects/{topic}-value/versions").json() == [1]
    assert first.value == second.value


def test_an_identical_schema_under_another_subject_keeps_its_id(local) -> None:
    schema = with_fields(ORDER, {"name": f"f{uuid.uuid4().hex[:6]}", "type": "int"})
    datum = AN_ORDER | {schema["fields"][-1]["name"]: 3}
    first, second = new_topic(), new_topic()
    assert produce(local, first, avro(schema, datum)).status_code == 200
    assert produce(local, second, avro(schema, datum)).status_code == 200
    one, two = latest(local, f"{first}-value"), latest(local, f"{second}-value")
    assert one["id"] == two["id"] and one["version"] == two["version"] == 1


# -- evolution ------------------------------------------------------------------------------

NULLABLE_EMAIL = {"name": "email", "type": ["null", "string"], "default": None}
REQUIRED_EMAIL = {"name": "email", "type": "string"}


def set_level(es: LocalEventStreams, subject: str, level: str) -> None:
    response = registry(es, f"/config/{subject}", "PUT", json={"compatibility": level})
    assert response.json() == {"compatibility": level}, response.text


def test_adding_a_nullable_column_is_a_new_version(local) -> None:
    topic = new_topic()
    assert produce(local, topic, avro(ORDER, AN_ORDER)).status_code == 200
    first = latest(local, f"{topic}-value")
    evolved = with_fields(ORDER, NULLABLE_EMAIL)
    datum = AN_ORDER | {"email": "a@example.com"}
    assert produce(local, topic, avro(evolved, datum)).status_code == 200
    second = latest(local, f"{topic}-value")
    assert (second["version"], first["version"]) == (2, 1)
    assert second["id"] != first["id"]
    # each record reads with the schema it was written with
    assert local.records(topic)["value"].tolist() == [AN_ORDER, datum]


def test_adding_a_required_field_is_refused_under_backward(local) -> None:
    topic = new_topic()
    assert produce(local, topic, avro(ORDER, AN_ORDER)).status_code == 200
    evolved = with_fields(ORDER, REQUIRED_EMAIL)
    response = produce(local, topic, avro(evolved, AN_ORDER | {"email": "a@example.com"}))
    message = v2_refusal(response, "schema_incompatible")
    assert f"subject '{topic}-value'" in message and "BACKWARD" in message
    assert "field 'email' (string) is in the new schema with no default" in message
    assert response.json()["error"]["target"] == {"type": "field", "name": "schema"}
    assert len(local.read(topic)) == 1
    assert registry(local, f"/subjects/{topic}-value/versions").json() == [1]


@pytest.mark.parametrize(
    ("level", "accepted"),
    [("BACKWARD", True), ("NONE", True), ("FORWARD", False), ("FULL", False)],
)
def test_removing_a_required_field(local, level: str, accepted: bool) -> None:
    """BACKWARD (the new schema reads old data) takes it: the reader skips the field.
    FORWARD and FULL (old readers read new data) refuse it: old readers need it."""
    topic = new_topic()
    set_level(local, f"{topic}-value", level)
    assert produce(local, topic, avro(ORDER, AN_ORDER)).status_code == 200
    smaller = with_fields(ORDER, drop="amount")
    response = produce(local, topic, avro(smaller, {"id": 2, "note": None}))
    if accepted:
        assert response.status_code == 200, response.text
        assert latest(local, f"{topic}-value")["version"] == 2
    else:
        message = v2_refusal(response, "schema_incompatible")
        assert f"({level})" in message.replace("compatibility ", "")
        assert "field 'amount' (double) is in version 1 with no default but not in the new" in (
            message
        )


def test_forward_takes_a_new_required_field(local) -> None:
    topic = new_topic()
    set_level(local, f"{topic}-value", "FORWARD")
    assert produce(local, topic, avro(ORDER, AN_ORDER)).status_code == 200
    evolved = with_fields(ORDER, REQUIRED_EMAIL)
    response = produce(local, topic, avro(evolved, AN_ORDER | {"email": "e"}))
    assert response.status_code == 200, response.text


def test_transitive_levels_check_every_earlier_version(local) -> None:
    """v2 adds a field with a default; v3 drops the default. v3 reads v2's data (which
    has the field) but not v1's: BACKWARD takes v3, BACKWARD_TRANSITIVE refuses it."""
    with_default = with_fields(ORDER, {"name": "email", "type": "string", "default": ""})
    without = with_fields(ORDER, REQUIRED_EMAIL)
    for level, accepted in (("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)):
        topic = new_topic()
        set_level(local, f"{topic}-value", level)
        assert produce(local, topic, avro(ORDER, AN_ORDER)).status_code == 200
        datum = AN_ORDER | {"email": "e"}
        assert produce(local, topic, avro(with_default, datum)).status_code == 200
        response = produce(local, topic, avro(without, datum))
        if accepted:
            assert response.status_code == 200, response.text
        else:
            assert "not in version 1" in v2_refusal(response, "schema_incompatible")


def test_a_type_change_needs_a_promotion(local) -> None:
    topic = new_topic()
    as_int = {"type": "record", "name": "N", "fields": [{"name": "n", "type": "int"}]}
    as_long = {**as_int, "fields": [{"name": "n", "type": "long"}]}
    as_string = {**as_int, "fields": [{"name": "n", "type": "string"}]}
    assert produce(local, topic, avro(as_int, {"n": 1})).status_code == 200
    assert produce(local, topic, avro(as_long, {"n": 2})).status_code == 200  # int -> long
    message = v2_refusal(produce(local, topic, avro(as_string, {"n": "3"})), "schema_incompatible")
    assert "field 'n': version 2 has long, which the new schema cannot read as string" in message
    set_level(local, f"{topic}-value", "NONE")
    assert produce(local, topic, avro(as_string, {"n": "3"})).status_code == 200
    assert local.records(topic)["value"].tolist() == [{"n": 1}, {"n": 2}, {"n": "3"}]


# Avro's resolution rules, reader against writer: (writer, reader, readable)
_NAMED = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
_LIST = {
    "type": "record",
    "name": "Node",
    "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}],
}


@pytest.mark.parametrize(
    ("writer", "reader", "readable"),
    [
        ("int", "long", True),
        ("int", "float", True),
        ("int", "double", True),
        ("long", "float", True),
        ("long", "double", True),
        ("float", "double", True),
        ("long", "int", False),
        ("double", "float", False),
        ("string", "bytes", True),
        ("bytes", "string", True),
        ("boolean", "int", False),
        ("int", ["null", "long"], True),
        ("string", ["null", "int"], False),
        (["null", "int"], ["null", "long"], True),
        (["null", "int", "string"], ["null", "int"], False),
        (["null", "int"], "int", False),
        ({"type": "array", "items": "int"}, {"type": "array", "items": "long"}, True),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}, False),
        ({"type": "map", "values": "float"}, {"type": "map", "values": "double"}, True),
        ({"type": "map", "values": "string"}, {"type": "array", "items": "string"}, False),
        (
            {"type": "enum", "name": "E", "symbols": ["A"]},
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            True,
        ),
        (
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A"]},
            False,
        ),
        (
            {"type": "enum", "name": "E", "symbols": ["A", "B"]},
            {"type": "enum", "name": "E", "symbols": ["A", "U"], "default": "U"},
            True,
        ),
        (
            {"type": "enum", "name": "E", "symbols": ["A"]},
            {"type": "enum", "name": "F", "symbols": ["A"]},
            False,
        ),
        (
            {"type": "fixed", "name": "F", "size": 4},
            {"type": "fixed", "name": "F", "size": 4},
            True,
        ),
        (
            {"type": "fixed", "name": "F", "size": 4},
            {"type": "fixed", "name": "F", "size": 8},
            False,
        ),
        (_NAMED, {**_NAMED, "namespace": "other"}, True),  # unqualified names match
        (_NAMED, {**_NAMED, "name": "S"}, False),
        (_NAMED, {**_NAMED, "name": "S", "aliases": ["R"]}, True),
        (
            _NAMED,
            {**_NAMED, "fields": [{"name": "b", "type": "int", "aliases": ["a"]}]},
            True,
        ),
        (_LIST, _LIST, True),  # recursive
        (_LIST, {**_LIST, "fields": [{"name": "v", "type": "long"}, _LIST["fields"][1]]}, True),
        (_LIST, {**_LIST, "fields": [{"name": "v", "type": "string"}, _LIST["fields"][1]]}, False),
    ],
)
def test_resolution_rules(writer: Any, reader: Any, readable: bool) -> None:
    old, new = parse_schema(json.dumps(writer)), parse_schema(json.dumps(reader))
    problems = incompatibilities(new, [(1, old)], "BACKWARD")
    assert (problems == []) is readable, problems


# -- v2: what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        (
            '{"id": "7", "amount": 1.5, "note": null}',
            "id",
            'expected long (a whole number), got "7"',
        ),
        ('{"id": 1.5, "amount": 1.5, "note": null}', "id", "got 1.5"),
        ('{"id": 9223372036854775808, "amount": 1, "note": null}', "id", "out of the range"),
        ('{"id": 1, "note": null}', "amount", "missing"),
        ('{"id": 1, "amount": true, "note": null}', "amount", "expected double"),
        ('{"id": 1, "amount": 1, "note": null, "extra": 1}', "extra", "not in the schema"),
        ('{"id": 1, "amount": 1, "note": "bare"}', "note", "an object naming a type"),
        ('{"id": 1, "amount": 1, "note": {"int": 1}}', "note", '"int" is not a type'),
    ],
)
def test_data_that_does_not_fit_is_refused_naming_the_field(
    local, data: str, field: str, problem: str
) -> None:
    topic = new_topic()
    value = avro(ORDER, AN_ORDER) | {"data": data}
    message = v2_refusal(produce(local, topic, value), "invalid_data")
    assert message.startswith(f"'value' data does not fit its schema: field '{field}': ")
    assert problem in message
    assert local.read(topic) == []
    assert registry(local, f"/subjects/{topic}-value/versions").status_code == 404


def test_nested_fields_are_named_by_their_path(local) -> None:
    line = {
        "type": "record",
        "name": "Line",
        "fields": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}],
    }
    basket = {
        "type": "record",
        "name": "Basket",
        "fields": [
            {"name": "lines", "type": {"type": "array", "items": line}},
            {"name": "tags", "type": {"type": "map", "values": "long"}},
        ],
    }
    basket["fields"].append({"name": "gift", "type": ["null", {**line, "name": "Gift"}]})
    gift = {"sku": "g", "qty": 1}
    good = {"lines": [{"sku": "a", "qty": 1}], "tags": {"x": 1}, "gift": gift}
    topic = new_topic()
    for data, path, problem in [
        (good | {"lines": [gift, {"sku": "b", "qty": "2"}]}, "lines[1].qty", "expected int"),
        (good | {"tags": {"x": 1, "y": "z"}}, 'tags["y"]', "expected long"),
        (good | {"gift": {"shop.Gift": gift}}, "gift", '"shop.Gift" is not a type'),
    ]:
        value = avro(basket, good) | {"data": json.dumps(data)}
        message = v2_refusal(produce(local, topic, value), "invalid_data")
        assert f"field '{path}': {problem}" in message
    # fastavro's JSON writer names the union's record by its full name, as Avro's does
    assert '{"Gift": {"sku": "g", "qty": 1}}' in avro(basket, good)["data"]
    assert produce(local, topic, avro(basket, good)).status_code == 200
    assert local.records(topic)["value"].tolist() == [good]


def test_data_that_is_not_json_is_refused(local) -> None:
    value = avro(ORDER, AN_ORDER) | {"data": "{'id': 1}"}
    message = v2_refusal(produce(local, new_topic(), value), "invalid_data")
    assert "the datum: not JSON" in message


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"serializer": None}, "invalid_serializer", "serializer=confluent"),
        ({"schema": None}, "invalid_schema", "'schema' field in 'value' object is required"),
        ({"schema": "{not json"}, "invalid_schema", "not a valid Avro schema: not JSON"),
        ({"schema": '{"type": "strin"}'}, "invalid_schema", "not a valid Avro schema"),
        (
            {"schema": json.dumps(with_fields(ORDER, {"name": "id", "type": "int"}))},
            "invalid_schema",
            "two fields named 'id'",
        ),
        ({"schema": '["int", "int"]'}, "invalid_schema", "the union has int twice"),
        ({"schema": '{"type": "record", "name": "R"}'}, "invalid_schema", "list of fields"),
    ],
)
def test_bad_avro_envelopes_are_refused(local, change: dict[str, Any], code: str, words) -> None:
    topic = new_topic()
    value = avro(ORDER, AN_ORDER)
    serializer = "confluent"
    for name, replacement in change.items():
        if name == "serializer":
            serializer = replacement
        elif replacement is None:
            del value[name]
        else:
            value[name] = replacement
    response = produce(local, topic, value, serializer=serializer)
    assert words in v2_refusal(response, code)
    assert local.read(topic) == [] and registry(local, "/subjects").status_code == 200


def test_a_serializer_other_than_confluent_is_refused(local) -> None:
    text = {"type": "text", "data": "x"}
    response = produce(local, new_topic(), text, serializer="avro")
    assert "serializer must be confluent, not 'avro'" in v2_refusal(response, "invalid_serializer")
    assert produce(local, new_topic(), text).status_code == 200  # confluent, with no avro


def test_without_fastavro_avro_requests_name_the_extra(local, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fastavro", None)  # import fastavro fails
    # a schema text not parsed before (parsed schemas are cached)
    schema = ORDER | {"name": f"Missing{uuid.uuid4().hex[:6]}"}
    message = v2_refusal(produce(local, new_topic(), avro(schema, AN_ORDER)), "avro_unavailable")
    assert 'pip install "eventstreams-pandas[avro]"' in message
    answer = registry(local, "/subjects/s/versions", "POST", json={"schema": json.dumps(schema)})
    assert answer.status_code == 500
    assert "eventstreams-pandas[avro]" in answer.json()["message"]


# -- the registry API -------------------------------------------------------------------


def test_registering_up_front_and_reading_back(local) -> None:
    subject = f"s-{uuid.uuid4().hex[:8]}"
    text = json.dumps(ORDER)
    first = registry(local, f"/subjects/{subject}/versions", "POST", json={"schema": text})
    assert first.status_code == 200 and set(first.json()) == {"id"}
    assert first.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    again = registry(
        local, f"/subjects/{subject}/versions", "POST", json={"schema": text, "schemaType": "AVRO"}
    )
    assert again.json() == first.json()
    # the schema comes back as compact JSON, whatever the spacing it was sent with
    found = registry(local, f"/subjects/{subject}", "POST", json={"schema": text})
    assert found.json() == {
        "subject": subject,
        "version": 1,
        "id": first.json()["id"],
        "schema": json.dumps(ORDER, separators=(",", ":")),
    }
    for version in ("1", "latest", "-1"):
        answer = registry(local, f"/subjects/{subject}/versions/{version}").json()
        assert answer == found.json()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/subjects/no-such/versions", None, 404, 40401),
        ("GET", "/subjects/no-such/versions/latest", None, 404, 40401),
        ("GET", "/subjects/{s}/versions/7", None, 404, 40402),
        ("GET", "/subjects/{s}/versions/first", None, 422, 42202),
        ("GET", "/subjects/{s}/versions/0", None, 422, 42202),
        ("GET", "/schemas/ids/99999", None, 404, 40403),
        ("GET", "/schemas/ids/x", None, 404, 40403),
        ("POST", "/subjects/{s}", {"schema": '"string"'}, 404, 40403),
        ("POST", "/subjects/{s}/versions", {"schema": "{"}, 422, 42201),
        (
            "POST",
            "/subjects/{s}/versions",
            {"schema": '"string"', "schemaType": "JSON"},
            422,
            42201,
        ),
        (
            "POST",
            "/subjects/{s}/versions",
            {"schema": '"string"', "references": [{"name": "x"}]},
            422,
            42201,
        ),
        ("POST", "/subjects/{s}/versions", {"schema": '"string"'}, 409, 40901),
        ("GET", "/config/{s}", None, 404, 40408),
        ("PUT", "/config/{s}", {"compatibility": "SIDEWAYS"}, 422, 42203),
        ("PUT", "/config/{s}", {}, 422, 42203),
    ],
)
def test_confluent_errors(local, method, path, body, status: int, code: int) -> None:
    subject = f"s-{uuid.uuid4().hex[:8]}"
    registry(local, f"/subjects/{subject}/versions", "POST", json={"schema": json.dumps(ORDER)})
    answer = registry(local, path.format(s=subject), method, json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code
    assert answer.json()["message"]


def test_the_incompatible_registration_names_the_subject_and_field(local) -> None:
    subject = f"s-{uuid.uuid4().hex[:8]}"
    register = f"/subjects/{subject}/versions"
    registry(local, register, "POST", json={"schema": json.dumps(ORDER)})
    evolved = json.dumps(with_fields(ORDER, REQUIRED_EMAIL))
    answer = registry(local, register, "POST", json={"schema": evolved})
    assert answer.status_code == 409
    message = answer.json()["message"]
    assert f"subject '{subject}'" in message and "field 'email'" in message


def test_compatibility_levels_global_and_by_subject() -> None:
    with LocalEventStreams(auth=False, schema_compatibility="forward") as es:
        assert registry(es, "/config").json() == {"compatibilityLevel": "FORWARD"}
        assert registry(es, "/config/s").status_code == 404
        assert registry(es, "/config/s?defaultToGlobal=true").json() == {
            "compatibilityLevel": "FORWARD"
        }
        answer = registry(es, "/config", "PUT", json={"compatibility": "full_transitive"})
        assert answer.json() == {"compatibility": "FULL_TRANSITIVE"}
        set_level(es, "s", "NONE")
        assert registry(es, "/config/s").json() == {"compatibilityLevel": "NONE"}
        assert registry(es, "/config").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
    with pytest.raises(ValueError, match="compatibility must be one of BACKWARD"):
        LocalEventStreams(schema_compatibility="LOOSE")


def test_the_registry_takes_the_credentials_of_local(tmp_path) -> None:
    with LocalEventStreams(api_keys=["reader"], admin_keys=["admin"]) as es:
        answer = registry(es, "/subjects")
        assert answer.status_code == 401 and answer.json()["error_code"] == 40101
        assert registry(es, "/subjects", headers=bearer("reader")).json() == []
        body = {"schema": json.dumps(ORDER)}
        refused = registry(es, "/subjects/s/versions", "POST", json=body, headers=bearer("reader"))
        assert refused.status_code == 403 and refused.json()["error_code"] == 40301
        level = registry(
            es, "/config", "PUT", json={"compatibility": "NONE"}, headers=basic("token", "reader")
        )
        assert level.status_code == 403
        made = registry(es, "/subjects/s/versions", "POST", json=body, headers=bearer("admin"))
        assert made.json() == {"id": 1}


def test_the_registry_persists_with_the_sqlite_file(tmp_path) -> None:
    db = str(tmp_path / "records.sqlite3")
    evolved = with_fields(ORDER, NULLABLE_EMAIL)
    with LocalEventStreams(topics={"orders": 1}, auth=False, db=db) as es:
        produce(es, "orders", avro(ORDER, AN_ORDER))
        produce(es, "orders", avro(evolved, AN_ORDER | {"email": None}))
        set_level(es, "orders-value", "FULL")
        before = [registry(es, f"/subjects/orders-value/versions/{v}").json() for v in (1, 2)]
    with LocalEventStreams(auth=False, db=db) as es:
        after = [registry(es, f"/subjects/orders-value/versions/{v}").json() for v in (1, 2)]
        assert after == before
        assert registry(es, "/config/orders-value").json() == {"compatibilityLevel": "FULL"}
        assert es.records("orders")["value"].tolist() == [AN_ORDER, AN_ORDER | {"email": None}]
        # ids go on from the last one
        made = registry(es, "/subjects/k/versions", "POST", json={"schema": '"string"'})
        assert made.json() == {"id": 3}


# -- records() ---------------------------------------------------------------------------


def test_records_decodes_avro_and_leaves_other_values_as_they_were(local) -> None:
    topic = new_topic()
    produce(local, topic, avro(ORDER, AN_ORDER), key={"type": "text", "data": "k"})
    key_schema = {"type": "string"}
    produce(local, topic, avro(ORDER, AN_ORDER), key=avro(key_schema, "avro-key"))
    produce(local, topic, {"type": "text", "data": "plain"})
    # framed-looking bytes with an id the registry has not handed out, and with one it has
    # but bytes that are not Avro of it
    known = latest(local, f"{topic}-value")["id"]
    for value in (framed(99999, b"\x02"), framed(known, b"\xff\xff")):
        produce(local, topic, {"type": "binary", "data": _b64(value)})
    values = local.records(topic)["value"].tolist()
    assert values == [
        AN_ORDER,
        AN_ORDER,
        b"plain",
        framed(99999, b"\x02"),
        framed(known, b"\xff\xff"),
    ]
    assert local.records(topic)["key"].tolist()[:2] == [b"k", "avro-key"]
    as_text = local.records(topic, decode=True)
    assert as_text["key"].tolist()[:2] == ["k", "avro-key"]
    assert as_text["value"].tolist()[:3] == [AN_ORDER, AN_ORDER, "plain"]
    raw = local.records(topic, decode=False)["value"].tolist()
    assert raw[0] == framed(known, avro_binary(ORDER, AN_ORDER))


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# -- v1 on premises: schemaname and schemaversion ------------------------------------------

ALICE = ("alice", "alice-password-0123")


@pytest.fixture(scope="module")
def onprem() -> Iterator[LocalEventStreams]:
    with LocalEventStreams(
        profile="onprem",
        topics={"orders": 1},
        users=dict([ALICE]),
        schemas={"legacy": {"1.0.0": None}},
    ) as es:
        login = basic(*ALICE)
        for schema in (ORDER, with_fields(ORDER, NULLABLE_EMAIL)):
            answer = registry(
                es,
                "/subjects/order/versions",
                "POST",
                json={"schema": json.dumps(schema)},
                headers=login,
            )
            assert answer.status_code == 200, answer.text
        yield es


def v1(
    es: LocalEventStreams,
    body: bytes,
    content_type: str = "application/octet-stream",
    **params: str,
):
    return httpx.post(
        f"{es.url}/topics/orders/records",
        content=body,
        params=params,
        headers={**basic(*ALICE), "Content-Type": content_type},
    )


@pytest.mark.parametrize(("version", "number"), [("1", "1"), ("latest", "2")])
def test_v1_names_a_registered_schema_and_version(onprem, version: str, number: str) -> None:
    schema = ORDER if number == "1" else with_fields(ORDER, NULLABLE_EMAIL)
    datum = AN_ORDER if number == "1" else AN_ORDER | {"email": None}
    body = avro_binary(schema, datum)
    response = v1(onprem, body, schemaname="order", schemaversion=version)
    assert response.status_code == 200, response.text
    metadata = response.json()["metadata"]
    [record] = onprem.read("orders", metadata["partition"], metadata["offset"], 1)
    assert record.value == body  # stored as sent: no framing
    assert record.headers == tuple(
        zip(SCHEMA_HEADERS, (b"order", number.encode(), b"BINARY"), strict=True)
    )
    frame = onprem.records("orders")
    assert frame["value"].tolist()[-1] == datum


def test_v1_avro_json_is_read_back_too(onprem) -> None:
    body = avro_json(ORDER, AN_ORDER).encode()
    response = v1(onprem, body, "application/json", schemaname="order", schemaversion="1")
    assert response.status_code == 200
    record = onprem.records("orders").iloc[-1]
    assert dict(record["headers"])[SCHEMA_HEADERS[2]] == b"JSON"
    assert record["value"] == AN_ORDER


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("invoice", "1", "schema 'invoice' does not exist"),
        ("order", "3", "schema 'order' has no version '3'"),
        ("order", "1.0.0", "schema 'order' has no version '1.0.0'"),
    ],
)
def test_v1_an_unknown_schema_or_version_is_404(onprem, name, version, message) -> None:
    before = len(onprem.read("orders"))
    response = v1(onprem, b"\x02", schemaname=name, schemaversion=version)
    assert response.status_code == 404
    body = response.json()
    assert message in body["message"] and body["error"]["schema"] == name
    assert len(onprem.read("orders")) == before


def test_v1_a_declared_schema_without_text_still_sets_headers(onprem) -> None:
    response = v1(
        onprem, b"anything", schemaname="legacy", schemaversion="1.0.0", schemavalidation="true"
    )
    assert response.status_code == 200
    assert onprem.records("orders")["value"].tolist()[-1] == b"anything"


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (
            b"\x02",
            "application/octet-stream",
            "(Avro binary) does not fit schema 'order' version 1",
        ),
        (b"\x02\x00\x00\x00\x00\x00\x00\x22\x40\x00junk", "text/plain", "bytes left after"),
        (b'{"id": 1}', "application/json", "field 'amount': missing"),
    ],
)
def test_v1_schemavalidation_checks_the_body(onprem, body, content_type, words) -> None:
    before = len(onprem.read("orders"))
    params = {"schemaname": "order", "schemaversion": "1"}
    refused = v1(onprem, body, content_type, **params, schemavalidation="true")
    assert refused.status_code == 400 and words in refused.json()["message"], refused.text
    assert refused.json()["error"]["schema"] == "order"
    assert len(onprem.read("orders")) == before
    # as IBM documents, not checked unless asked
    assert v1(onprem, body, content_type, **params).status_code == 200
    good = avro_binary(ORDER, AN_ORDER)
    assert v1(onprem, good, **params, schemavalidation="true").status_code == 200


def test_v1_schema_headers_are_configurable() -> None:
    names = ("schema-name", "schema-version", "schema-encoding")
    with LocalEventStreams(
        profile="onprem", topics={"t": 1}, auth=False, schema_headers=names
    ) as es:
        registry(es, "/subjects/s/versions", "POST", json={"schema": '"string"'})
        body = avro_binary("string", "hello")
        response = httpx.post(
            f"{es.url}/topics/t/records",
            content=body,
            params={"schemaname": "s", "schemaversion": "latest"},
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 200
        assert es.read("t")[0].headers == tuple(zip(names, (b"s", b"1", b"BINARY"), strict=True))
        assert es.records("t")["value"].tolist() == ["hello"]
    with pytest.raises(ValueError, match="three distinct header names"):
        LocalEventStreams(schema_headers=("a", "a", "b"))


# -- es-pandas serve -----------------------------------------------------------------------


def test_serve_flags() -> None:
    proc, url = start_server_process(
        "--no-auth",
        "--topic",
        "t",
        "--schema-compatibility",
        "full",
        "--topic-record-name",
        "TopicRecord",
    )
    try:
        assert httpx.get(f"{url}/_local/registry/config").json() == {"compatibilityLevel": "FULL"}
        response = httpx.post(
            f"{url}/v2/topics/t/records?serializer=confluent",
            json={"value": avro(ORDER, AN_ORDER, "TopicRecord")},
        )
        assert response.status_code == 200, response.text
        assert httpx.get(f"{url}/_local/registry/subjects").json() == ["t-shop.Order-value"]
        # "topic_record" is not taken once other spellings are given
        refused = httpx.post(
            f"{url}/v2/topics/t/records?serializer=confluent",
            json={"value": avro(ORDER, AN_ORDER, "topic_record")},
        )
        assert refused.status_code == 400
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"schema registry: {url}/_local/registry (compatibility FULL)" in err.decode()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--schema-compatibility", "LOOSE"], "'LOOSE' is not one of"),
        (["--schema-headers", "a,b"], "is not ID,VERSION,ENCODING"),
        (["--topic-record-name", "record"], "not 'topic' or 'record'"),
    ],
)
def test_serve_refuses_bad_registry_flags(args: list[str], words: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "es_pandas", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and words in result.stderr, result.stderr


# -- through Kafka ---------------------------------------------------------------------------

EVENT: dict[str, Any] = {
    "type": "record",
    "name": "Event",
    "namespace": "es_pandas.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
        {"name": "label", "type": ["null", "string"], "default": None},
        {"name": "ok", "type": "boolean"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {
            "name": "price",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
        },
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
    ],
}


def events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "amount": i / 3,
            "label": None if i % 3 == 0 else f"event {i} ✓",
            "ok": i % 2 == 0,
            "at": datetime(2026, 1, 2, 3, 4, 5, i, tzinfo=UTC),
            "price": Decimal(f"{i}.{i % 100:02d}"),
            "kind": "AB"[i % 2],
            "tags": [f"t{j}" for j in range(i % 3)],
            "counts": {f"c{j}": j * i for j in range(i % 4)},
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def through_kafka(kafka) -> Iterator[tuple[LocalEventStreams, str, list[dict[str, Any]], list]]:
    """A gateway in front of the test broker, avro records posted to it, and the records
    as a confluent-kafka consumer reads them from the broker."""
    from es_pandas.server._kafka import read_topic

    topic = new_topic()
    sent = events(12)
    with LocalEventStreams(topics={topic: 2}, auth=False, bootstrap_servers=kafka.bootstrap) as es:
        for datum in sent:
            key = {"type": "text", "data": f"k{datum['id']}"}
            response = produce(es, topic, avro(EVENT, datum), key=key)
            assert response.status_code == 200, response.text
        consumed = read_topic({"bootstrap.servers": kafka.bootstrap}, topic, idle_seconds=2.0)
        yield es, topic, sent, consumed


def test_through_kafka_the_records_are_framed_and_read_back_with_the_schema_by_id(
    through_kafka,
) -> None:
    es, topic, sent, consumed = through_kafka
    assert len(consumed) == len(sent)
    datums = []
    for record in consumed:
        assert record.value[0] == 0
        (schema_id,) = struct.unpack(">I", record.value[1:5])
        text = httpx.get(f"{es.url}/_local/registry/schemas/ids/{schema_id}").json()["schema"]
        schema = fastavro.parse_schema(json.loads(text))
        datums.append(fastavro.schemaless_reader(io.BytesIO(record.value[5:]), schema, None))
    assert sorted(datums, key=lambda d: d["id"]) == sent
    assert sorted(es.records(topic)["value"].tolist(), key=lambda d: d["id"]) == sent


def test_through_kafka_confluents_avro_deserializer_reads_them(through_kafka) -> None:
    avro_serdes = pytest.importorskip("confluent_kafka.schema_registry.avro")
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext

    es, topic, sent, consumed = through_kafka
    client = SchemaRegistryClient({"url": es.registry_url})
    deserialize = avro_serdes.AvroDeserializer(client)
    context = SerializationContext(topic, MessageField.VALUE)
    datums = [deserialize(record.value, context) for record in consumed]
    assert sorted(datums, key=lambda d: d["id"]) == sent
    assert client.get_compatibility() == "BACKWARD"


def test_through_kafka_the_registry_lives_in_the_cluster(kafka, through_kafka) -> None:
    """Another gateway on the same cluster (a restart) finds the subjects and ids, so the
    ids in the records Kafka holds still name their schemas, and new ids go on after them."""
    es, topic, sent, _ = through_kafka
    subject = f"{topic}-value"
    before = latest(es, subject)
    with LocalEventStreams(auth=False, bootstrap_servers=kafka.bootstrap) as again:
        assert latest(again, subject) == before
        assert sorted(again.records(topic)["value"].tolist(), key=lambda d: d["id"]) == sent
        made = registry(again, "/subjects/other/versions", "POST", json={"schema": '"bytes"'})
        assert made.json()["id"] > before["id"]
