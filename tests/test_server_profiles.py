"""The two deployments the local server imitates, `cloud` and `onprem`, over real
sockets (and real TLS for the client certificates), and `es-pandas serve --profile`."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server import ServerConfig, parse_schema_spec
from es_pandas.server._config import SCHEMA_HEADERS
from es_pandas.server._profiles import PROFILES

from .conftest import basic, bearer, start

ALICE = ("alice", "alice-password-0123")
TEXT = {"Content-Type": "text/plain"}
DEPRECATION = "0.9 has no currency: use 1.0.0"


@pytest.fixture(scope="module")
def onprem() -> Iterator[LocalEventStreams]:
    with LocalEventStreams(
        profile="onprem",
        topics={"orders": 3, "audit": 1},
        users=dict([ALICE, ("bob", "bob-password-0123")]),
        permissions={"bob": ["audit"]},
        schemas={"order": {"1.0.0": None, "0.9": DEPRECATION}},
    ) as es:
        yield es


def v1(es: LocalEventStreams, topic: str = "orders", **kwargs) -> httpx.Response:
    kwargs.setdefault("content", "v")
    kwargs["headers"] = {**TEXT, **kwargs.get("headers", {})}
    return httpx.post(f"{es.url}/topics/{topic}/records", **kwargs)


# -- what each profile serves -------------------------------------------------------


def test_cloud_is_the_default_profile() -> None:
    config = ServerConfig()
    assert (config.profile, config.v1_error_shape, config.max_request_bytes) == (
        "cloud",
        "v1.0",
        65536,
    )
    assert config.api_keys and not config.users  # a key is made, as before profiles


@pytest.mark.parametrize("path", ["/v2/topics/orders/records", "/identity/token"])
def test_onprem_has_no_v2_and_no_iam_route(onprem: LocalEventStreams, path: str) -> None:
    response = httpx.post(onprem.url + path, json={"value": {"type": "text", "data": "v"}})
    # the plain-text 404 of a path no route serves, as Go's net/http answers it
    assert response.status_code == 404
    assert response.text == "404 page not found\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_unknown_paths_get_the_plain_404_in_cloud_too() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        response = httpx.post(f"{es.url}/v3/topics/t/records", content="v")
    assert (response.status_code, response.text) == (404, "404 page not found\n")


def test_onprem_errors_have_the_v1_1_shape_with_an_incident(onprem: LocalEventStreams) -> None:
    response = v1(onprem, "nope", headers=basic(*ALICE))
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == body["error"]["error_code"] == 404
    assert body["message"] == body["error"]["message"]
    assert body["error"]["topic"] == "nope" and body["error"]["kafka_error_code"] == 3
    assert body["error"]["incident"]


def test_a_profile_default_gives_way_to_a_setting() -> None:
    with LocalEventStreams(profile="onprem", auth=False, v1_error_shape="v1.0") as es:
        body = v1(es, "nope").json()
    assert set(body) == {"error"}


def test_onprem_creates_topics_on_first_write_when_asked() -> None:
    with LocalEventStreams(profile="onprem", auth=False, auto_create_topics=True) as es:
        assert v1(es, "fresh").status_code == 200
        assert es.topics() == {"fresh": 1}


# -- credentials --------------------------------------------------------------------


def test_onprem_takes_users(onprem: LocalEventStreams) -> None:
    assert v1(onprem, headers=basic(*ALICE)).status_code == 200
    assert v1(onprem, headers=basic("alice", "wrong")).status_code == 401
    denied = v1(onprem, headers=basic("bob", "bob-password-0123"))
    assert denied.status_code == 403  # bob may write audit only


@pytest.mark.parametrize("headers", [bearer("anything"), {"X-Auth-Token": "anything"}, {}])
def test_onprem_takes_no_api_keys_or_tokens(onprem: LocalEventStreams, headers) -> None:
    response = v1(onprem, headers=headers)
    assert response.status_code == 401
    assert "Basic" in response.json()["message"]


def test_onprem_refuses_api_keys_in_its_configuration() -> None:
    with pytest.raises(ValueError, match="takes no API keys"):
        LocalEventStreams(profile="onprem", api_key="k")


def test_onprem_makes_a_user_when_none_is_given() -> None:
    with LocalEventStreams(profile="onprem", topics={"orders": 1}) as es:
        assert es.api_key is None
        assert es.user is not None
        name, password = es.user
        assert es.credentials == {"kafka_http_url": es.url, "user": name, "password": password}
        assert v1(es, headers=basic(name, password)).status_code == 200
        assert v1(es).status_code == 401
        # the client, with the credentials as they are
        rows = pd.DataFrame({"v": ["a", "b"]})
        status = rows.es.produce(
            "orders", credentials=es.credentials, api_version="v1", progress=False
        )
        assert (status["status"] == "ok").all()
        assert password not in repr(es) and password not in repr(es.config)


# -- schemas (on premises, v1.1.0) ----------------------------------------------------


def test_a_registered_schema_sets_the_schema_headers(onprem: LocalEventStreams) -> None:
    params = {"schemaname": "order", "schemaversion": "1.0.0", "headers": "h:01"}
    response = v1(onprem, headers=basic(*ALICE), params=params, content=b"\x02\x0a")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"metadata"}  # no Comment: the version is in use
    metadata = body["metadata"]
    [record] = onprem.read("orders", metadata["partition"], metadata["offset"], 1)
    assert record.value == b"\x02\x0a"
    schema = zip(SCHEMA_HEADERS, (b"order", b"1.0.0", b"BINARY"), strict=True)
    assert record.headers == (("h", b"\x01"), *schema)


def test_avro_json_is_the_json_encoding(onprem: LocalEventStreams) -> None:
    params = {"schemaname": "order", "schemaversion": "1.0.0", "schemavalidation": "true"}
    response = v1(
        onprem,
        headers={**basic(*ALICE), "Content-Type": "application/json"},
        params=params,
        content='{"id": 1}',
    )
    metadata = response.json()["metadata"]
    [record] = onprem.read("orders", metadata["partition"], metadata["offset"], 1)
    assert dict(record.headers)[SCHEMA_HEADERS[2]] == b"JSON"


def test_a_deprecated_version_comes_back_with_its_comment(onprem: LocalEventStreams) -> None:
    params = {"schemaname": "order", "schemaversion": "0.9"}
    response = v1(onprem, headers=basic(*ALICE), params=params)
    assert response.status_code == 200
    assert response.json()["Comment"] == DEPRECATION


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"schemaname": "invoice", "schemaversion": "1.0.0"}, "schema 'invoice' does not exist"),
        ({"schemaname": "order", "schemaversion": "2.0.0"}, "has no version '2.0.0'"),
    ],
)
def test_an_unknown_schema_is_404(onprem: LocalEventStreams, params, message: str) -> None:
    before = len(onprem.read("orders"))
    response = v1(onprem, headers=basic(*ALICE), params=params)
    assert response.status_code == 404
    body = response.json()
    assert message in body["message"]
    assert body["error"]["schema"] == params["schemaname"]
    assert "topic" in body["error"] and "kafka_error_code" not in body["error"]
    assert len(onprem.read("orders")) == before


@pytest.mark.parametrize(
    "params",
    [
        {"schemaname": "order"},
        {"schemaversion": "1.0.0"},
        {"schemaname": "order", "schemaversion": "1.0.0", "schemavalidation": "maybe"},
    ],
)
def test_incomplete_schema_parameters_are_400(onprem: LocalEventStreams, params) -> None:
    assert v1(onprem, headers=basic(*ALICE), params=params).status_code == 400


def test_cloud_v1_has_no_schema_parameters() -> None:
    with pytest.raises(ValueError, match="profile 'onprem'"):
        ServerConfig(schemas={"order": {"1": None}})
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        response = v1(es, "t", params={"schemaname": "order", "schemaversion": "1"})
        assert response.status_code == 200
        assert es.read("t")[0].headers == ()


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("order:1.0.0", ("order", "1.0.0", None)),
        (
            "order:0.9:use 1.0.0: it has the currency",
            ("order", "0.9", "use 1.0.0: it has the currency"),
        ),
    ],
)
def test_schema_specs(spec: str, parsed) -> None:
    assert parse_schema_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["order", "order:", ":1", "order:0.9:"])
def test_bad_schema_specs(spec: str) -> None:
    with pytest.raises(ValueError, match="NAME:VERSION"):
        parse_schema_spec(spec)


# -- both profiles: documented statuses and trace ids ---------------------------------


def test_v2_types_are_the_documented_lower_case_names() -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        url = f"{es.url}/v2/topics/t/records?serializer=confluent"
        avro = {"schema": '"string"', "data": '"x"'}
        for kind, data in [("text", "x"), ("binary", "AA=="), ("json", "[1]"), ("avro", avro)]:
            value = {"type": kind, **(data if isinstance(data, dict) else {"data": data})}
            assert httpx.post(url, json={"value": value}).status_code == 200
        response = httpx.post(url, json={"value": {"type": "Json", "data": "[1]"}})
    assert response.status_code == 400
    assert '"Json"' in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "trace"),
    [
        ("/topics/t/records", lambda body: body["error"]["incident"]),
        ("/v2/topics/t/records", lambda body: body["trace"]),
        ("/identity/token", lambda body: body["context"]["requestId"]),
    ],
)
def test_a_wrong_method_gets_the_paths_error_shape_and_a_trace_id(path: str, trace) -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        response = httpx.get(es.url + path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert trace(response.json())


def test_iam_errors_carry_a_request_id() -> None:
    with LocalEventStreams() as es:
        response = httpx.post(
            es.iam_url, data={"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": "x"}
        )
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "BXNIM0415E" and body["context"]["requestId"]


@pytest.mark.parametrize(
    ("path", "body", "trace"),
    [
        ("/topics/t/records", {"content": "v"}, lambda body: body["error"]["incident"]),
        (
            "/v2/topics/t/records",
            {"json": {"value": {"type": "text", "data": "v"}}},
            lambda body: body["trace"],
        ),
    ],
)
def test_a_failure_of_the_server_itself_is_a_500_with_a_trace_id(
    monkeypatch, path: str, body, trace
) -> None:
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:

        async def broken(topic: str) -> int:
            raise RuntimeError("the topic table is gone")

        monkeypatch.setattr(es.app.state.es.store, "partitions", broken)
        response = httpx.post(es.url + path, **body)
    assert response.status_code == 500
    assert trace(response.json())
    assert "table" not in response.text


# -- mutual TLS: the certificate names the user ----------------------------------------


@pytest.fixture(scope="module")
def mtls(pki, tmp_path_factory) -> Iterator[tuple[LocalEventStreams, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("kafkausers")
    certificates = {}
    for name, common_name in [("producer", "producer"), ("nameless", None)]:
        issued = pki.ca.issue_cert(f"{name}@example.com", common_name=common_name)
        certificates[name] = str(folder / f"{name}.pem")
        issued.private_key_and_cert_chain_pem.write_to_path(certificates[name])
    with LocalEventStreams(
        profile="onprem",
        topics={"orders": 1, "audit": 1},
        users=dict([ALICE]),
        permissions={"producer": ["orders"]},
        ssl_certfile=pki.server_pem,
        ssl_keyfile=pki.server_pem,
        client_ca=pki.ca_pem,
    ) as es:
        yield es, certificates


def tls_client(pki, certificate: str) -> httpx.Client:
    context = ssl.create_default_context(cafile=pki.ca_pem)
    context.load_cert_chain(certificate)
    return httpx.Client(verify=context, timeout=10)


def test_a_client_certificate_needs_no_basic_header(mtls, pki) -> None:
    es, certificates = mtls
    with tls_client(pki, certificates["producer"]) as client:
        url = f"{es.url}/topics/{{}}/records"
        assert client.post(url.format("orders"), content="v", headers=TEXT).status_code == 200
        # its common name is the user --permission names
        forbidden = client.post(url.format("audit"), content="v", headers=TEXT)
        assert forbidden.status_code == 403
        # credentials sent decide: alice may write audit, a wrong password may not
        alice = {**TEXT, **basic(*ALICE)}
        assert client.post(url.format("audit"), content="v", headers=alice).status_code == 200
        wrong = {**TEXT, **basic("alice", "wrong")}
        assert client.post(url.format("audit"), content="v", headers=wrong).status_code == 401


def test_a_certificate_without_a_common_name_names_no_user(mtls, pki) -> None:
    es, certificates = mtls
    with tls_client(pki, certificates["nameless"]) as client:
        response = client.post(f"{es.url}/topics/orders/records", content="v", headers=TEXT)
    assert response.status_code == 401
    assert "common name" in response.json()["message"]


def test_the_client_produces_with_a_certificate_alone(mtls, pki) -> None:
    es, certificates = mtls
    status = pd.DataFrame({"v": range(5)}).es.produce(
        "orders",
        url=es.url,
        verify=pki.ca_pem,
        cert=certificates["producer"],
        api_version="v1",
        progress=False,
    )
    assert (status["status"] == "ok").all()


# -- es-pandas serve --profile ------------------------------------------------------------


def serve(*args: str, until: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``es-pandas serve ARGS`` on a free port, and the lines it printed up to the first
    one holding ``until``: the server answers from then on."""
    proc = start("serve", "--port", "0", "--log-level", "warning", *args)
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        if until in line:
            break
    else:
        raise AssertionError("\n".join(lines))
    url = lines[0].rsplit(" ", 1)[-1]
    return proc, url, lines


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err


def test_serve_onprem_prints_a_generated_user() -> None:
    proc, url, lines = serve(
        "--profile", "onprem", "--topic", "orders", "--schema", "order:1", until="ES_PANDAS_USER="
    )
    try:
        assert "  profile: onprem, " + PROFILES["onprem"].summary in lines
        assert "  schemas: order:1" in lines
        exports = lines[-1].split()
        assert exports[:2] == ["export", "ES_PANDAS_USER=es-pandas"]
        password = exports[2].removeprefix("ES_PANDAS_PASSWORD=")
        assert lines[-1].endswith("# generated for this run")
        auth = basic("es-pandas", password)
        params = {"schemaname": "order", "schemaversion": "1"}
        response = httpx.post(
            f"{url}/topics/orders/records", content="v", headers={**auth, **TEXT}, params=params
        )
        assert response.status_code == 200
        assert httpx.post(f"{url}/v2/topics/orders/records", headers=auth).status_code == 404
    finally:
        stop(proc)


def test_serve_onprem_never_shows_a_chosen_password() -> None:
    secret = "chosen-password-0123456789"
    proc, url, lines = serve(
        "--profile", "onprem", "--user", f"carol:{secret}", until="ES_PANDAS_USER="
    )
    try:
        assert lines[-1] == (
            "  export ES_PANDAS_USER='<NAME of --user>' ES_PANDAS_PASSWORD='<PASSWORD of --user>'"
        )
        response = httpx.post(
            f"{url}/topics/t/records", content="v", headers=basic("carol", secret)
        )
        assert response.status_code == 404  # carol is in; the topic is not
    finally:
        err = stop(proc)
    assert secret not in "\n".join(lines) + err


def test_serve_onprem_without_auth_needs_only_the_url() -> None:
    """No API version to give: the client finds there is no v2 route, and uses v1."""
    proc, url, lines = serve(
        "--profile", "onprem", "--no-auth", "--topic", "t", until="ES_PANDAS_URL"
    )
    try:
        assert lines[-1] == f"  export ES_PANDAS_URL={url}"
        status = pd.DataFrame({"v": range(3)}).es.produce("t", url=url, progress=False)
    finally:
        stop(proc)
    assert (status["status"] == "ok").all() and status.attrs["api_version"] == "v1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "onprem", "--api-key", "k"], "takes no API keys"),
        (["--schema", "order:1"], "profile 'onprem'"),
        (["--profile", "onprem", "--schema", "order"], "NAME:VERSION"),
    ],
)
def test_serve_refuses_what_the_profile_has_not(args: list[str], message: str) -> None:
    proc = start("serve", "--port", "0", *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert message in err and "Traceback" not in err
