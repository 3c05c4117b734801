"""The /_local routes: who may see and change what, and bad input answered 4xx, never 500."""

from __future__ import annotations

import json

import httpx
import pytest

from es_pandas import LocalEventStreams

from .conftest import basic, bearer, run, start_server_process

ALICE = basic("alice", "alice-password")  # may write orders and single, not secret

# Each change under /_local, as method, path and body
CHANGES = [
    ("POST", "/_local/topics", {"name": "made-by-someone"}),
    ("PUT", "/_local/faults", {"rates": {"503": 1.0}}),
    ("POST", "/_local/faults/script", {"actions": ["503"]}),
    ("DELETE", "/_local/faults", None),
    ("DELETE", "/_local/stats", None),
]


def change(client: httpx.Client, method: str, path: str, body: object, auth: dict[str, str]):
    return client.request(method, path, json=body, headers=auth)


def test_a_limited_principal_sees_only_its_topics(es, client) -> None:
    assert client.get("/_local/topics", headers=ALICE).json() == {"orders": 3, "single": 1}
    assert client.get("/_local/topics/orders/records", headers=ALICE).status_code == 200
    for topic in ("secret", "no-such-topic"):  # a topic's existence is not told either
        response = client.get(f"/_local/topics/{topic}/records", headers=ALICE)
        assert response.status_code == 403
        assert response.json()["message"] == f"not authorized to read topic '{topic}'"
    # reading faults and stats changes nothing
    assert client.get("/_local/faults", headers=ALICE).status_code == 200
    assert client.get("/_local/stats", headers=ALICE).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_a_limited_principal_changes_nothing(es, client, method, path, body) -> None:
    es.script_faults(["ok"])
    before = (es.topics(), es.stats(), client.get("/_local/faults", headers=bearer()).json())
    response = change(client, method, path, body, ALICE)
    assert response.status_code == 403
    assert "--permission" in response.json()["message"]
    after = (es.topics(), es.stats(), client.get("/_local/faults", headers=bearer()).json())
    assert after == before


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_an_unlimited_principal_administers_when_there_is_no_admin_key(
    es, client, method, path, body
) -> None:
    if path == "/_local/topics":
        body = {"name": f"made-{len(es.topics())}"}
    assert change(client, method, path, body, bearer()).status_code in (200, 201, 204)


@pytest.fixture(scope="module")
def guarded():
    with LocalEventStreams(
        topics={"t": 1}, api_key="user-key-0123456789", admin_keys=["admin-key-0123456789"]
    ) as es:
        yield es


@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_with_admin_keys_only_they_change_the_server(guarded, method, path, body) -> None:
    user, admin = bearer("user-key-0123456789"), bearer("admin-key-0123456789")
    with httpx.Client(base_url=guarded.url) as client:
        refused = change(client, method, path, body, user)
        assert refused.status_code == 403
        assert refused.json()["message"].endswith("needs an admin key (--admin-key)")
        assert "admin-key-0123456789" not in refused.text
        if path == "/_local/topics":
            body = {"name": f"made-{len(guarded.topics())}"}
        assert change(client, method, path, body, admin).status_code in (200, 201, 204)
        # the user key still reads everything; the admin key writes records too
        assert client.get("/_local/topics", headers=user).status_code == 200
        guarded.clear_faults()
        value = {"value": {"type": "text", "data": "v"}}
        assert client.post("/v2/topics/t/records", json=value, headers=admin).status_code == 200


def test_the_helpers_own_methods_need_no_key(guarded) -> None:
    guarded.set_faults(script=["503"])
    guarded.create_topic(f"helper-{len(guarded.topics())}")
    guarded.reset_stats()
    guarded.clear_faults()


def test_reading_a_topic_the_server_does_not_have_says_so(es) -> None:
    # an empty result would read as "nothing landed" when the name is mistyped
    with pytest.raises(KeyError, match="no topic 'nosuch' here; the topics are"):
        es.records("nosuch")


def test_admin_keys_stay_secret_and_need_auth() -> None:
    with LocalEventStreams(admin_keys=["admin-key-0123456789"]) as es:
        assert "admin-key-0123456789" not in repr(es) + repr(es.config)
        assert es.api_key != "admin-key-0123456789"  # a key to produce with is made
    with pytest.raises(ValueError, match="need auth"):
        LocalEventStreams(auth=False, admin_keys=["admin-key-0123456789"])


def test_without_auth_everything_is_open() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es, httpx.Client(base_url=es.url) as c:
        for method, path, body in CHANGES:
            assert change(c, method, path, body, {}).status_code in (200, 201, 204)


def test_serve_takes_admin_keys_from_the_flag_and_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ES_PANDAS_SERVER_ADMIN_KEYS", "env-admin-0123456789 env-other-0123456789")
    proc, url = start_server_process("--api-key", "cli-user-0123456789", "--admin-key", "cli-a")
    try:
        faults = f"{url}/_local/faults"
        assert httpx.delete(faults, headers=bearer("cli-user-0123456789")).status_code == 403
        assert httpx.delete(faults, headers=bearer("cli-a")).status_code == 204
        assert httpx.delete(faults, headers=bearer("env-admin-0123456789")).status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"cli-a" not in err
    # the flag wins over the environment, as for --api-key; alone, the environment counts
    proc, url = start_server_process("--api-key", "cli-user-0123456789")
    try:
        for key in ("env-admin-0123456789", "env-other-0123456789"):
            assert httpx.delete(f"{url}/_local/stats", headers=bearer(key)).status_code == 204
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_serve_refuses_admin_keys_without_auth() -> None:
    result = run("serve", "--no-auth", "--admin-key", "k")
    assert result.returncode == 2
    assert "--admin-key" in result.stderr and "Traceback" not in result.stderr


def test_serve_says_why_it_cannot_listen(es) -> None:
    taken = es.url.rsplit(":", 1)[1]
    busy = run("serve", "--no-auth", "--port", taken)
    assert busy.returncode == 1 and "--port 0 picks a free port" in busy.stderr
    for port in ("70000", "-1"):
        out_of_range = run("serve", "--no-auth", "--port", port)
        assert out_of_range.returncode == 2 and "0<=x<=65535" in out_of_range.stderr
    for result in (busy, out_of_range):
        assert "Traceback" not in result.stderr


# -- bad input: every one a 400 with a message, and nothing changed ----------------------

BAD_BODIES = {
    "/_local/faults": [
        b"{",
        b"\xff\xfe",
        b"[1, 2]",
        b"null",
        b'"503"',
        b'{"latency": NaN}',
        b'{"unknown": 1}',
        b'{"rates": [1]}',
        b'{"rates": null}',
        b'{"rates": {"503": "half"}}',
        b'{"rates": {"503": true}}',
        b'{"rates": {"teapot": 0.5}}',
        b'{"rates": {"503": 0.7, "429": 0.7}}',
        b'{"latency": "soon"}',
        b'{"latency": [1, 2, 3]}',
        b'{"latency": -1}',
        b'{"latency": [2, 1]}',
        b'{"latency": null}',
        b'{"latency": {"a": 1}}',
        b'{"retry_after": "later"}',
        b'{"retry_after": -1}',
        b'{"quota": 0}',
        b'{"quota": "fast"}',
        b'{"over_quota": "reject"}',
        b'{"over_quota": 429}',
        b'{"seed": [1]}',
        b'{"script": "503"}',
        b'{"script": [503]}',
        b'{"script": ["teapot"]}',
        b'{"script": ["503x"]}',
        b'{"script": ["503xmany"]}',
        b'{"script": ["503x99999999999"]}',
    ],
    "/_local/faults/script": [
        b"{}",
        b"[]",
        b'{"actions": "503"}',
        b'{"actions": [null]}',
        b'{"actions": ["drop+lost"]}',
        b'{"actions": {"503": 1}}',
    ],
    "/_local/topics": [
        b"",
        b"{}",
        b"[]",
        b'{"name": 5}',
        b'{"name": null}',
        b'{"name": "a b"}',
        b'{"name": ".."}',
        b'{"name": "' + b"x" * 201 + b'"}',
        b'{"name": "fresh", "partitions": 0}',
        b'{"name": "fresh", "partitions": "3"}',
        b'{"name": "fresh", "partitions": 1.5}',
        b'{"name": "fresh", "partitions": true}',
        b'{"name": "fresh", "partitions": 100000}',
        b'{"name": "fresh", "partitions": 1000000000000000000000000000000}',
    ],
}
SWEEP = [(path, body) for path, bodies in BAD_BODIES.items() for body in bodies]


@pytest.mark.parametrize(("path", "body"), SWEEP)
def test_a_bad_body_is_answered_400(es, client, path: str, body: bytes) -> None:
    method = "PUT" if path == "/_local/faults" else "POST"
    auth = bearer()
    before = (es.topics(), client.get("/_local/faults", headers=auth).json())
    response = client.request(method, path, content=body, headers=auth)
    assert response.status_code == 400, response.text
    assert response.json()["message"]
    assert (es.topics(), client.get("/_local/faults", headers=auth).json()) == before


@pytest.mark.parametrize(
    "query", ["partition=x", "offset=-1", "limit=1e3", "limit=", "partition=0x1"]
)
def test_bad_record_queries_are_answered_400(client, query: str) -> None:
    response = client.get(f"/_local/topics/orders/records?{query}", headers=bearer())
    assert response.status_code == 400
    name = query.partition("=")[0]
    assert response.json()["message"].startswith(f"'{name}' must be a whole number")


def test_good_bodies_still_work(es, client) -> None:
    auth = bearer()
    settings = {"latency": [0, 0.001], "rates": {"503": 0.0}, "retry_after": None, "seed": 7}
    response = client.put("/_local/faults", content=json.dumps(settings), headers=auth)
    assert response.status_code == 200
    assert response.json()["latency"] == [0, 0.001] and response.json()["seed"] == 7
    response = client.post("/_local/faults/script", json={"actions": ["503x2", "ok"]}, headers=auth)
    assert response.json()["script"] == ["503", "503", "ok"]
    response = client.put("/_local/faults", content=b"", headers=auth)  # no body: defaults
    assert response.status_code == 200 and response.json()["rates"] == {}
