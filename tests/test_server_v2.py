"""The v2 produce route, driven over real HTTP."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server import partition_for_key

from .conftest import API_KEY, basic, bearer


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post(client: httpx.Client, topic: str, envelope, headers=None):
    return client.post(
        f"/v2/topics/{topic}/records",
        content=envelope if isinstance(envelope, (bytes, str)) else json.dumps(envelope),
        headers={"Content-Type": "application/json", **(bearer() if headers is None else headers)},
    )


def stored(es: LocalEventStreams, response: httpx.Response):
    metadata = response.json()["metadata"]
    return es.read(metadata["topic"], metadata["partition"], metadata["offset"], 1)[0]


def test_full_envelope(es: LocalEventStreams, client) -> None:
    response = post(
        client,
        "orders",
        {
            "key": {"type": "text", "data": "order-1"},
            "value": {"type": "text", "data": "hello"},
            "headers": [{"name": "colour", "value": b64(b"black")}],
        },
    )
    assert response.status_code == 200
    metadata = response.json()["metadata"]
    assert metadata["partition"] == partition_for_key(b"order-1", 3)
    record = stored(es, response)
    assert (record.key, record.value, record.headers) == (
        b"order-1",
        b"hello",
        (("colour", b"black"),),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "text", "data": "ünïcode"}, "ünïcode".encode()),
        ({"type": "binary", "data": b64(b"\x00\x01\xff")}, b"\x00\x01\xff"),
        ({"type": "json", "data": '{"a": 1}'}, b'{"a": 1}'),
        ({"type": "json", "data": {"a": [1, 2.5, None]}}, b'{"a":[1,2.5,null]}'),
    ],
)
def test_value_types(es: LocalEventStreams, client, value, expected: bytes) -> None:
    response = post(client, "single", {"value": value})
    assert response.status_code == 200, response.text
    assert stored(es, response).value == expected


def test_binary_key(es: LocalEventStreams, client) -> None:
    response = post(
        client,
        "single",
        {
            "key": {"type": "binary", "data": b64(b"\x01\x02")},
            "value": {"type": "text", "data": "v"},
        },
    )
    assert stored(es, response).key == b"\x01\x02"


@pytest.mark.parametrize(
    ("envelope", "target"),
    [
        ({"value": {"data": "x"}}, "type"),
        ({"value": {"type": "float", "data": "x"}}, "type"),
        # the documented names only, in lower case
        ({"value": {"type": "JSON", "data": "[1]"}}, "type"),
        ({"value": {"type": "Text", "data": "x"}}, "type"),
        (
            {"key": {"type": "BINARY", "data": "AA=="}, "value": {"type": "text", "data": "x"}},
            "type",
        ),
        ({"value": {"type": "binary", "data": "not base64!"}}, "data"),
        ({"value": {"type": "json", "data": "{nope"}}, "data"),
        ({"value": {"type": "text"}}, "data"),
        ({"key": {"type": "text", "data": "k"}}, "value"),
        (
            {"value": {"type": "text", "data": "v"}, "headers": [{"name": "h", "value": "%%"}]},
            "headers",
        ),
    ],
)
def test_invalid_envelopes_get_the_v2_error_shape(client, envelope, target: str) -> None:
    response = post(client, "single", envelope)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"trace", "error"}
    assert set(body["error"]) >= {"code", "message", "more_info"}
    assert body["error"]["target"] == {"type": "field", "name": target}


def test_missing_type_message_matches_ibm(client) -> None:
    body = post(client, "single", {"value": {"data": "x"}}).json()
    assert body["error"]["code"] == "invalid_type"
    assert body["error"]["message"].startswith("'type' field in 'value' object is required")


@pytest.mark.parametrize("body", [b"{nope", b"[1, 2]"])
def test_malformed_json_is_400(client, body: bytes) -> None:
    assert post(client, "single", body).status_code == 400


def test_empty_body_is_411(client) -> None:
    assert post(client, "single", b"").status_code == 411


def test_content_type_must_be_json(client) -> None:
    response = client.post(
        "/v2/topics/single/records", content="x", headers={**bearer(), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert "trace" in response.json()


def test_unknown_topic_is_404(client) -> None:
    response = post(client, "nope", {"value": {"type": "text", "data": "v"}})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "topic_not_found"


@pytest.mark.parametrize(("size", "status"), [(4096, 200), (4097, 400)])
def test_key_limit_is_on_decoded_bytes(client, size: int, status: int) -> None:
    envelope = {
        "key": {"type": "binary", "data": b64(b"k" * size)},
        "value": {"type": "text", "data": "v"},
    }
    assert post(client, "single", envelope).status_code == status


def envelope_of_size(size: int) -> bytes:
    """A v2 request body of exactly ``size`` bytes."""
    empty = json.dumps({"value": {"type": "text", "data": ""}}).encode()
    return json.dumps({"value": {"type": "text", "data": "v" * (size - len(empty))}}).encode()


@pytest.mark.parametrize(("size", "status"), [(65536, 200), (65537, 400)])
def test_64_kb_limit_is_on_the_request_payload(client, size: int, status: int) -> None:
    # IBM Cloud: "the message passed as request payload ... limited to 64 K"
    response = post(client, "single", envelope_of_size(size))
    assert response.status_code == status
    if status == 400:
        body = response.json()
        assert set(body) == {"trace", "error"}
        assert body["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(("size", "status"), [(65536, 200), (65537, 400)])
def test_value_limit_boundary_under_a_larger_request_limit(size: int, status: int) -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, max_request_bytes=200_000) as es:
        envelope = {"value": {"type": "binary", "data": b64(b"v" * size)}}
        response = httpx.post(f"{es.url}/v2/topics/t/records", json=envelope)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["code"] == "value_too_large"


@pytest.mark.parametrize(
    "headers",
    [
        basic("token", API_KEY),
        {"X-Auth-Token": API_KEY},
        {},
    ],
)
def test_v2_accepts_only_bearer(client, headers) -> None:
    response = post(client, "single", {"value": {"type": "text", "data": "v"}}, headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_flat_success_body_when_configured() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False, v2_response="flat") as es:
        body = httpx.post(
            f"{es.url}/v2/topics/t/records", json={"value": {"type": "text", "data": "v"}}
        ).json()
    assert set(body) == {"topic", "timestamp", "partition", "offset"}
