"""Authentication and authorization on the local server, and its IAM token route."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from es_pandas import LocalEventStreams

from .conftest import API_KEY, basic, bearer

V1 = "/topics/{}/records"
V2 = "/v2/topics/{}/records"


def v1(client: httpx.Client, headers: dict[str, str], topic: str = "single") -> int:
    return client.post(
        V1.format(topic), content="v", headers={**headers, "Content-Type": "text/plain"}
    ).status_code


def v2(client: httpx.Client, headers: dict[str, str], topic: str = "single") -> int:
    return client.post(
        V2.format(topic), json={"value": {"type": "text", "data": "v"}}, headers=headers
    ).status_code


def iam_token(client: httpx.Client, api_key: str = API_KEY) -> httpx.Response:
    return client.post(
        "/identity/token",
        data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": api_key},
        headers={"Accept": "application/json"},
    )


@pytest.mark.parametrize(
    "headers",
    [
        basic("token", API_KEY),
        basic("anyone", API_KEY),
        basic("alice", "alice-password"),
        bearer(API_KEY),
        {"X-Auth-Token": API_KEY},
    ],
)
def test_v1_accepts_every_documented_style(client, headers) -> None:
    assert v1(client, headers) == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("token", "wrong"),
        basic("alice", "wrong"),
        bearer("wrong"),
        {"X-Auth-Token": "wrong"},
        {"Authorization": "Digest abc"},
        {"Authorization": "Basic !!!"},
    ],
)
def test_v1_rejects_bad_credentials(client, headers) -> None:
    assert v1(client, headers) == 401


def test_auth_comes_before_topic_lookup(client) -> None:
    assert v1(client, {}, topic="nope") == 401


def test_iam_token_response_has_ibm_fields(client) -> None:
    response = iam_token(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "expiration",
        "scope",
    }
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] == "not_supported"
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert API_KEY not in body["access_token"]


def test_iam_token_works_on_v1_and_v2(client) -> None:
    token = iam_token(client).json()["access_token"]
    assert v1(client, bearer(token)) == 200
    assert v2(client, bearer(token)) == 200


def test_tampered_token_is_401(client) -> None:
    token = iam_token(client).json()["access_token"]
    head, body, signature = token.split(".")
    assert v2(client, bearer(f"{head}.{body}.{signature[:-2]}AA")) == 401


def test_expired_token_is_401(client) -> None:
    token = iam_token(client).json()["access_token"]  # the fixture's tokens live 2 s
    assert v2(client, bearer(token)) == 200
    time.sleep(2.1)
    response = client.post(
        V2.format("single"), json={"value": {"type": "text", "data": "v"}}, headers=bearer(token)
    )
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_invalid_api_key_gets_iam_error(client) -> None:
    response = iam_token(client, "wrong")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "BXNIM0415E"


def test_unsupported_grant_type(client) -> None:
    response = client.post("/identity/token", data={"grant_type": "password", "apikey": API_KEY})
    assert response.status_code == 400


def test_permissions_answer_403(client) -> None:
    alice = basic("alice", "alice-password")
    assert v1(client, alice, "orders") == 200
    response = client.post(
        V1.format("secret"), content="v", headers={**alice, "Content-Type": "text/plain"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["kafka_error_code"] == 29
    assert v1(client, basic("token", API_KEY), "secret") == 200  # unlisted principals write all


def test_auth_can_be_switched_off() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es, httpx.Client(base_url=es.url) as c:
        assert v1(c, {}, "t") == 200
        assert v2(c, {}, "t") == 200
        assert es.api_key is None


def test_a_key_is_generated_when_none_is_given() -> None:
    with LocalEventStreams(topics={"t": 1}) as es, httpx.Client(base_url=es.url) as c:
        assert es.api_key
        assert v2(c, bearer(es.api_key), "t") == 200
        assert v2(c, {}, "t") == 401


def test_local_routes_need_credentials(client) -> None:
    assert client.get("/_local/topics").status_code == 401
    assert client.get("/_local/topics", headers=bearer()).json()["orders"] == 3


def test_secrets_stay_out_of_reprs(server: LocalEventStreams) -> None:
    assert API_KEY not in repr(server)
    assert API_KEY not in repr(server.config)
    assert "alice-password" not in repr(server.config)
