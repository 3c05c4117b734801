"""The two deployments as users meet them, with the settings a user would write and no
others: IBM Cloud from a service key, on premises from a SCRAM user or a client
certificate. The local server plays each (its `cloud` and `onprem` profiles) over real
sockets and real TLS; IBM Cloud itself cannot run here."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import es_pandas
from es_pandas import LocalEventStreams

from .conftest import pkcs12_bundle, run, truststore

ORDERS = pd.DataFrame(
    {"order_id": ["00042", "00043", "00044"], "amount": [19.99, 5.0, 7.5]},
    index=["a", "b", "c"],
)
SCRAM = ("kafka-user", "scram-password-0123456789")
UUID = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def stored(es: LocalEventStreams, topic: str = "orders") -> list[tuple[str, dict]]:
    records = es.records(topic, decode=True)
    return sorted(zip(records["key"], map(json.loads, records["value"]), strict=True))


# -- IBM Cloud -----------------------------------------------------------------------------


@pytest.fixture
def service_key(tmp_path: Path) -> Iterator[tuple[LocalEventStreams, Path]]:
    """A cloud server, and the service key JSON as the IBM Cloud console hands it out."""
    with LocalEventStreams(topics={"orders": 3}) as es:
        path = tmp_path / "service-key.json"
        key = {
            **es.credentials,
            "instance_id": "00000000-0000-0000-0000-000000000000",
            "kafka_admin_url": es.url,
            "kafka_brokers_sasl": ["broker-0.example:9093"],
            "iam_apikey_name": "auto-generated-apikey",
        }
        path.write_text(json.dumps(key))
        yield es, path


def test_ibm_cloud_from_a_service_key_with_iam_failing_twice(service_key) -> None:
    es, path = service_key
    es.script_iam_faults(["503", "503"])
    frame = ORDERS.assign(blob=[b"x" * 100, b"y" * 50_000, b"z" * 100])
    status = frame.es.produce(
        "orders",
        credentials=str(path),
        iam=True,
        iam_url=es.iam_url,
        key_col="order_id",
        value_col="blob",
        progress=False,
    )
    # IAM's two 503s were retried; the run is on v2, the cloud's API
    assert es.stats()["tokens_issued"] == 1 and status.attrs["api_version"] == "v2"
    assert status["status"].tolist() == ["ok", "rejected", "ok"]
    # 50,000 bytes go as 66,668 of base64: over the 64 KB the request payload may have
    assert status.loc["b", "error"].startswith("column 'blob': the v2 request body")
    assert status.loc["b", "error"].endswith("over the 65536-byte limit")
    records = es.records("orders")
    assert sorted(records["key"]) == [b"00042", b"00044"]


def test_ibm_cloud_errors_keep_their_trace_id(service_key) -> None:
    es, path = service_key
    es.set_faults(retry_after=None, script=["ok", "503", "503", "ok"])
    status = ORDERS.es.produce(
        "orders",
        credentials=str(path),
        key_col="order_id",
        retries=1,
        concurrency=1,
        progress=False,
    )
    assert status["status"].tolist() == ["ok", "failed", "ok"]
    # the id of v2's error answer, for IBM support
    assert UUID.match(status.loc["b", "trace"]) and status["trace"].isna().sum() == 2


def test_the_cli_on_ibm_cloud_from_a_service_key(service_key, tmp_path: Path) -> None:
    es, path = service_key
    es.script_iam_faults(["503"])
    orders = tmp_path / "orders.csv"
    ORDERS.to_csv(orders, index=False)
    args = ["--topic", "orders", "--key-col", "order_id", "--credentials", str(path)]
    result = run("produce", str(orders), *args, "--iam", "--iam-url", es.iam_url, env={})
    assert result.returncode == 0, result.stderr
    assert es.api_key not in result.stderr + result.stdout
    # the key column as it is in the file, not as pandas would guess it (42)
    assert sorted(es.records("orders", decode=True)["key"]) == ["00042", "00043", "00044"]


# -- on premises ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_user(pki, tmp_path_factory) -> dict[str, str]:
    """The KafkaUser's certificate as the cluster hands it out: user.crt and user.key,
    the user's name as the common name, signed by the cluster's client CA."""
    issued = pki.ca.issue_cert("kafka-user.example", common_name=SCRAM[0])
    folder = tmp_path_factory.mktemp("kafka-user")
    files = {"crt": issued.cert_chain_pems[0], "key": issued.private_key_pem}
    paths = {name: str(folder / f"user.{name}") for name in files}
    for name, blob in files.items():
        blob.write_to_path(paths[name])
    return paths


def onprem_server(pki, **options: object) -> LocalEventStreams:
    """On-premises Event Streams: v1 only, a SCRAM user, the cluster's own CA."""
    return LocalEventStreams(
        profile="onprem",
        topics={"orders": 3},
        users=dict([SCRAM]),
        ssl_certfile=pki.server_pem,
        ssl_keyfile=pki.server_pem,
        **options,
    )


@pytest.fixture(scope="module")
def onprem_tls(pki) -> Iterator[LocalEventStreams]:
    """An endpoint that takes mutual TLS: a client certificate is required."""
    with onprem_server(pki, client_ca=pki.ca_pem) as es:
        yield es


@pytest.fixture(scope="module")
def onprem(pki) -> Iterator[LocalEventStreams]:
    """An endpoint that takes TLS and Basic only (mutual TLS is an endpoint's choice)."""
    with onprem_server(pki) as es:
        yield es


def test_onprem_with_a_scram_user_and_no_api_version(onprem, pki) -> None:
    onprem.reset_stats()
    status = ORDERS.es.produce(
        "orders",
        url=onprem.url,
        user=SCRAM[0],
        password=SCRAM[1],
        verify=pki.ca_pem,
        key_col="order_id",
        progress=False,
    )
    assert (status["status"] == "ok").all() and status.attrs["api_version"] == "v1"
    # Basic credentials mean v1: nothing asked for a v2 route
    assert onprem.stats()["requests"] == len(ORDERS)
    assert ("00042", {"amount": 19.99}) in stored(onprem)


def test_onprem_with_a_client_certificate_alone(onprem_tls, pki, kafka_user) -> None:
    status = ORDERS.es.produce(
        "orders",
        url=onprem_tls.url,
        cert=(kafka_user["crt"], kafka_user["key"]),
        verify=pki.ca_pem,
        key_col="order_id",
        progress=False,
    )
    assert (status["status"] == "ok").all()
    # "auto" asked, found no v2 route, and said so
    assert status.attrs["api_version"] == "v1" and "no v2 route" in str(status.summary)


def test_onprem_with_pkcs12_bundles(onprem_tls, pki, kafka_user, tmp_path: Path) -> None:
    """es-cert.p12 and user.p12, each with its password, as the cluster hands them out."""
    pytest.importorskip("cryptography")
    both = tmp_path / "user.pem"
    both.write_text(Path(kafka_user["key"]).read_text() + Path(kafka_user["crt"]).read_text())
    status = ORDERS.es.produce(
        "orders",
        url=onprem_tls.url,
        verify=truststore(tmp_path / "es-cert.p12", pki.ca_pem, "ca-password"),
        ca_password="ca-password",
        cert=pkcs12_bundle(tmp_path / "user.p12", str(both), "user-password"),
        cert_password="user-password",
        progress=False,
    )
    assert (status["status"] == "ok").all() and status.attrs["api_version"] == "v1"


def test_onprem_with_a_wrong_certificate_stops_with_one_clear_error(onprem_tls, pki) -> None:
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ORDERS.es.produce(
            "orders",
            url=onprem_tls.url,
            cert=pki.stranger_pem,  # a user of another cluster
            verify=pki.ca_pem,
            progress=False,
        )
    message = str(caught.value)
    assert "refused the TLS handshake" in message and "cert=" in message and "\n" not in message
    assert caught.value.status["status"].value_counts()["not_sent"] >= len(ORDERS) - 1


def test_the_cli_on_premises_from_flags(onprem_tls, pki, kafka_user, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    ORDERS.to_csv(path, index=False)
    result = run(
        "produce",
        str(path),
        "--topic",
        "orders",
        "--key-col",
        "order_id",
        "--url",
        onprem_tls.url,
        "--ca-bundle",
        pki.ca_pem,
        "--client-cert",
        kafka_user["crt"],
        "--client-key",
        kafka_user["key"],
        env={},
    )
    assert result.returncode == 0, result.stderr
    assert "no v2 route" in result.stderr


def scram_environment(onprem: LocalEventStreams, pki) -> dict[str, str]:
    """The variables an on-premises load with a SCRAM user is run with."""
    return {
        "ES_PANDAS_URL": onprem.url,
        "ES_PANDAS_USER": SCRAM[0],
        "ES_PANDAS_PASSWORD": SCRAM[1],
        "ES_PANDAS_CA_BUNDLE": pki.ca_pem,
    }


def test_the_cli_on_premises_from_the_environment(onprem, pki, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    ORDERS.to_csv(path, index=False)
    environment = scram_environment(onprem, pki)
    result = run("produce", str(path), "--topic", "orders", env=environment)
    assert result.returncode == 0, result.stderr
    assert SCRAM[1] not in result.stderr + result.stdout


def test_the_cli_without_credentials_names_each_flag_once(onprem, pki, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    ORDERS.to_csv(path, index=False)
    environment = {"ES_PANDAS_URL": onprem.url, "ES_PANDAS_CA_BUNDLE": pki.ca_pem}
    result = run("produce", str(path), "--topic", "orders", env=environment)
    assert result.returncode == 2, result.stderr
    assert "a SCRAM user as --user and --password or a client certificate" in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--schemaname", "no-such", "--schemaversion", "1"], "is not registered"),
        (["--schemaname", "order"], "go together"),
    ],
)
def test_the_cli_names_both_schema_flags(onprem, pki, tmp_path: Path, flags, message) -> None:
    path = tmp_path / "orders.csv"
    ORDERS.to_csv(path, index=False)
    environment = scram_environment(onprem, pki)
    result = run("produce", str(path), "--topic", "orders", *flags, env=environment)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "--schemaname and --schemaversion" in result.stderr


def test_onprem_schemas_by_name_and_version(pki, caplog) -> None:
    caplog.set_level(logging.WARNING, "es_pandas")
    schemas = {"order": {"1.0.0": None, "0.9": "0.9 has no currency: use 1.0.0"}}
    with LocalEventStreams(
        profile="onprem", topics={"orders": 1}, users=dict([SCRAM]), schemas=schemas
    ) as es:
        login = {"url": es.url, "user": SCRAM[0], "password": SCRAM[1], "progress": False}
        frame = pd.DataFrame({"v": [b"\x02\x0aavro"] * 20})
        status = frame.es.produce(
            "orders", value_col="v", schemaname="order", schemaversion="0.9", **login
        )
        assert (status["status"] == "ok").all()
        headers = dict(es.records("orders", decode=True)["headers"][0])
        with pytest.raises(es_pandas.SchemaError) as caught:
            frame.es.produce(
                "orders", value_col="v", schemaname="no-such", schemaversion="1", **login
            )
    # the deprecation note, once for the run, not once a row
    notes = [r.getMessage() for r in caplog.records if "has no currency" in r.getMessage()]
    assert len(notes) == 1
    assert headers["com.ibm.eventstreams.schemaregistry.schema.version"] == "0.9"
    # an unknown schema names itself, with the incident id of v1.1's error
    message = str(caught.value)
    assert message.startswith(
        "the schema named by schemaname= and schemaversion= is not registered"
    )
    assert "no-such" in message and "trace " in message


def test_onprem_refuses_v2_with_one_clear_error(onprem, pki) -> None:
    with pytest.raises(es_pandas.EndpointError) as caught:
        ORDERS.es.produce(
            "orders",
            url=onprem.url,
            token="a-token",
            api_version="v2",
            verify=pki.ca_pem,
            progress=False,
        )
    assert "has no v2 route" in str(caught.value) and "api_version='v1'" in str(caught.value)
