"""The v1 produce route, driven over real HTTP."""

from __future__ import annotations

import json

import httpx
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server import partition_for_key

from .conftest import API_KEY, basic

AUTH = basic("token", API_KEY)
TEXT = {**AUTH, "Content-Type": "text/plain"}


def post(client: httpx.Client, topic: str, body: bytes | str, http_headers=TEXT, **params):
    return client.post(
        f"/topics/{topic}/records", content=body, headers=http_headers, params=params
    )


def test_success_body_is_the_documented_metadata(es: LocalEventStreams, client) -> None:
    response = post(client, "single", "hello")
    assert response.status_code == 200
    metadata = response.json()["metadata"]
    assert set(metadata) == {"topic", "timestamp", "partition", "offset"}
    assert metadata["topic"] == "single"
    assert isinstance(metadata["timestamp"], str) and metadata["timestamp"].isdigit()
    stored = es.read("single", metadata["partition"], metadata["offset"], limit=1)[0]
    assert stored.value == b"hello"
    assert stored.key is None
    assert str(stored.timestamp) == metadata["timestamp"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/octet-stream",
        "text/xml",
        "application/xml",
        "application/json",
        "application/vnd.ibm-event-streams.json.v1",
        "application/vnd.ibm-event-streams.binary.v1",
        "application/vnd.ibm-event-streams.text.v1",
    ],
)
def test_accepted_content_types(client, content_type: str) -> None:
    response = post(client, "single", b'{"a": 1}', {**AUTH, "Content-Type": content_type})
    assert response.status_code == 200, response.text


def test_unsupported_content_type_is_415(client) -> None:
    response = post(
        client, "single", "a=1", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.json()["error"]["error_code"] == 415


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/vnd.ibm-event-streams.json.v1"]
)
def test_json_bodies_must_parse(client, content_type: str) -> None:
    response = post(client, "single", b"{not json", {**AUTH, "Content-Type": content_type})
    assert response.status_code == 400


def test_empty_body_is_411(client) -> None:
    assert post(client, "single", b"").status_code == 411


def test_text_key_and_partitioning(es: LocalEventStreams, client) -> None:
    for key in ["alpha", "beta", "gamma", "delta"]:
        metadata = post(client, "orders", "v", key=key).json()["metadata"]
        assert metadata["partition"] == partition_for_key(key.encode(), 3)
        record = es.read("orders", metadata["partition"], metadata["offset"], 1)[0]
        assert record.key == key.encode()


def test_binary_key_is_hex(es: LocalEventStreams, client) -> None:
    metadata = post(client, "single", "v", key="00ff10", keyType="binary").json()["metadata"]
    assert es.read("single", 0, metadata["offset"], 1)[0].key == b"\x00\xff\x10"


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"key": "zz", "keyType": "binary"}, "not hex"),
        ({"key": "k", "keyType": "avro"}, "unknown key type"),
        ({"headers": "colour:zz"}, "header value not hex"),
        ({"headers": "colour"}, "header without value"),
    ],
)
def test_bad_query_is_400(client, params, why) -> None:
    assert post(client, "single", "v", **params).status_code == 400, why


def test_headers_are_name_hex_pairs(es: LocalEventStreams, client) -> None:
    metadata = post(client, "single", "v", headers="colour:726564,size:").json()["metadata"]
    record = es.read("single", 0, metadata["offset"], 1)[0]
    assert record.headers == (("colour", b"red"), ("size", b""))


def test_unknown_topic_is_404_in_ibm_clouds_nested_shape(client) -> None:
    response = post(client, "nope", "v")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["error_code"] == 404
    assert "nope" in body["error"]["message"]
    assert body["error"]["kafka_error_code"] == 3
    assert body["error"]["topic"] == "nope"
    assert body["error"]["incident"]


def test_the_v1_1_error_shape_when_asked() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, v1_error_shape="v1.1") as es:
        body = httpx.post(f"{es.url}/topics/x/records", content="v").json()
    assert (body["error_code"], body["error"]["error_code"]) == (404, 404)
    assert "x" in body["message"] and body["message"] == body["error"]["message"]


def test_auto_create_topics() -> None:
    with LocalEventStreams(auth=False, auto_create_topics=True, default_partitions=4) as es:
        response = httpx.post(
            f"{es.url}/topics/fresh/records", content="v", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 200
        assert es.topics() == {"fresh": 4}


@pytest.mark.parametrize(("size", "status"), [(4096, 200), (4097, 400)])
def test_key_limit_boundary(client, size: int, status: int) -> None:
    # 4097 bytes of key fit well inside the URI limit, so the key limit decides
    assert post(client, "single", "v", key="k" * size).status_code == status


@pytest.mark.parametrize(("size", "status"), [(65536, 200), (65537, 400)])
def test_value_limit_boundary(client, size: int, status: int) -> None:
    response = post(client, "single", b"v" * size)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["kafka_error_code"] == 10


def test_uri_limit() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, max_key_bytes=20000) as es:
        url = f"{es.url}/topics/t/records"
        ok = httpx.post(url, content="v", params={"key": "k" * 10000})
        too_long = httpx.post(url, content="v", params={"key": "k" * 10300})
    assert ok.status_code == 200
    # IBM documents 400 for a URI over the limit, not HTTP's 414
    assert too_long.status_code == 400
    assert "URI" in too_long.json()["error"]["message"]


def test_limits_are_configurable() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, max_key_bytes=3, max_value_bytes=5) as es:
        url = f"{es.url}/topics/t/records"
        assert httpx.post(url, content="12345", params={"key": "abc"}).status_code == 200
        assert httpx.post(url, content="123456").status_code == 400
        assert httpx.post(url, content="1", params={"key": "abcd"}).status_code == 400


def test_iso_timestamps_when_asked() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, timestamp_format="iso") as es:
        metadata = httpx.post(f"{es.url}/topics/t/records", content="v").json()["metadata"]
    assert metadata["timestamp"].endswith("Z") and "T" in metadata["timestamp"]


def test_error_bodies_are_json(client) -> None:
    response = post(client, "single", b"", http_headers={"Content-Type": "text/plain"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    json.loads(response.text)


@pytest.mark.parametrize("body", [b'{"x": NaN}', b"[Infinity]", b"-Infinity"])
def test_json_means_strict_json(client, body: bytes) -> None:
    response = post(client, "single", body, {**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400


def test_text_keys_must_be_utf8(client) -> None:
    response = client.post(
        "/topics/single/records?key=%FF%FE&keyType=text", content="v", headers=TEXT
    )
    assert response.status_code == 400


def test_uri_limit_counts_exactly() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, max_uri_bytes=20) as es:
        # "/topics/t/records" is 17 bytes; "?key=k" makes 23
        assert httpx.post(f"{es.url}/topics/t/records", content="v").status_code == 200
        response = httpx.post(f"{es.url}/topics/t/records", content="v", params={"key": "k"})
        assert response.status_code == 400
