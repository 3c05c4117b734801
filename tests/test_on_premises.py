"""On-premises connection settings end to end (Event Streams in Cloud Pak for
Integration): a KafkaUser's client certificate as the only credential, the cluster CA
and the user's certificate as PKCS#12 bundles with passwords, a credentials JSON of
those settings, and a refused TLS handshake stopping the run with one clear error.
The local server requires client certificates, as such an endpoint can; every
certificate comes from trustme."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import es_pandas
from es_pandas import ConfigurationError, LocalEventStreams, Producer
from es_pandas._config import resolve
from es_pandas.transports import TransportConfig

from .conftest import ENGINES, PKI, pkcs12_bundle, run, truststore

pkcs12 = pytest.importorskip("cryptography.hazmat.primitives.serialization.pkcs12")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

ROWS = pd.DataFrame({"v": range(30)})
CA_PASSWORD = "ca-pass-W7q"
USER_PASSWORD = "user-pass-K2z"


@dataclass(frozen=True)
class Bundles:
    """What an on-premises administrator hands out, as files."""

    ca_p12: str  # es-cert.p12: the cluster CA, a Java truststore under CA_PASSWORD
    user_p12: str  # user.p12: the KafkaUser's key and certificate under USER_PASSWORD
    user_crt: str
    user_key: str
    encrypted_key: str  # user.key encrypted under USER_PASSWORD
    stranger_p12: str  # a user of another CA, under USER_PASSWORD
    expired_pem: str  # key and a certificate of the right CA that expired in 2020
    folder: Path


@pytest.fixture(scope="module")
def bundles(pki: PKI, tmp_path_factory) -> Bundles:
    folder = tmp_path_factory.mktemp("onprem")
    truststore(folder / "es-cert.p12", pki.ca_pem, CA_PASSWORD)
    key = serialization.load_pem_private_key(Path(pki.client_key).read_bytes(), None)
    (folder / "user.key.enc").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(USER_PASSWORD.encode()),
        )
    )
    expired = pki.ca.issue_cert(
        "old@example.com",
        not_before=datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC),
        not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    )
    expired.private_key_and_cert_chain_pem.write_to_path(str(folder / "expired.pem"))
    return Bundles(
        ca_p12=str(folder / "es-cert.p12"),
        user_p12=pkcs12_bundle(folder / "user.p12", pki.client_pem, USER_PASSWORD),
        user_crt=pki.client_cert,
        user_key=pki.client_key,
        encrypted_key=str(folder / "user.key.enc"),
        stranger_p12=pkcs12_bundle(folder / "stranger.p12", pki.stranger_pem, USER_PASSWORD),
        expired_pem=str(folder / "expired.pem"),
        folder=folder,
    )


@pytest.fixture(scope="module")
def mtls(pki: PKI) -> Iterator[LocalEventStreams]:
    """An endpoint that takes mutual TLS alone (its certificate is the credential)."""
    with LocalEventStreams(
        topics={"t": 1},
        auth=False,
        ssl_certfile=pki.server_pem,
        ssl_keyfile=pki.server_pem,
        client_ca=pki.ca_pem,
    ) as es:
        yield es


@pytest.fixture(scope="module")
def scram(pki: PKI) -> Iterator[LocalEventStreams]:
    """An endpoint that requires a client certificate and a SCRAM user as well."""
    with LocalEventStreams(
        topics={"t": 1, "other": 1},
        users={"alice": "alice-password"},
        permissions={"alice": ["t"]},
        ssl_certfile=pki.server_pem,
        ssl_keyfile=pki.server_pem,
        client_ca=pki.ca_pem,
    ) as es:
        yield es


def ok(status: pd.DataFrame) -> bool:
    return bool((status["status"] == "ok").all())


# -- a client certificate alone --------------------------------------------------------


def identities(pki: PKI, bundles: Bundles) -> dict[str, dict[str, object]]:
    """Every way to give the cluster CA and the KafkaUser's certificate."""
    return {
        "PEM files": {"verify": pki.ca_pem, "cert": (bundles.user_crt, bundles.user_key)},
        "one PEM": {"verify": pki.ca_pem, "cert": pki.client_pem},
        "encrypted PEM key": {
            "verify": pki.ca_pem,
            "cert": (bundles.user_crt, bundles.encrypted_key),
            "cert_password": USER_PASSWORD,
        },
        "PKCS#12": {
            "verify": bundles.ca_p12,
            "ca_password": CA_PASSWORD,
            "cert": bundles.user_p12,
            "cert_password": USER_PASSWORD,
        },
    }


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("form", ["PEM files", "one PEM", "encrypted PEM key", "PKCS#12"])
def test_a_client_certificate_alone_is_a_whole_configuration(
    mtls, pki, bundles, engine: str, form: str, monkeypatch
) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    options = identities(pki, bundles)[form]
    producer = Producer(mtls.url, api_version="v1", engine=engine, progress=False, **options)
    assert producer.settings.auth is None
    before = len(mtls.read("t"))
    status = producer.produce(ROWS, "t")
    assert ok(status), status["error"].iloc[0]
    assert len(mtls.read("t")) == before + len(ROWS)


def test_a_refused_certificate_user_is_named_not_missing_credentials(scram, pki) -> None:
    # The certificate gets through TLS, but the endpoint wants a SCRAM user as well:
    # the user the certificate stands for is what was refused.
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        ROWS.es.produce(
            "t",
            url=scram.url,
            api_version="v1",
            verify=pki.ca_pem,
            cert=pki.client_pem,
            progress=False,
        )
    message = str(caught.value)
    assert "client certificate's user was refused" in message
    assert "no credentials were configured" not in message
    assert "cert=" in message and "user= (--user) and password= (--password)" in message
    status = ROWS.es.produce(
        "t",
        url=scram.url,
        api_version="v1",
        verify=pki.ca_pem,
        cert=pki.client_pem,
        user="alice",
        password="alice-password",
        progress=False,
    )
    assert ok(status)


# -- PKCS#12 and passwords -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ca_password": "wrong-ca-pass"}, "verify: cannot open the PKCS#12 .*: wrong password"),
        ({"ca_password": None}, "verify: .*protected by a password: pass it as ca_password="),
        ({"cert_password": "wrong-user-pass"}, "cert: cannot open the PKCS#12 .*: wrong password"),
        ({"cert_password": None}, "cert: .*protected by a password: pass it as cert_password="),
    ],
)
def test_pkcs12_passwords_wrong_or_missing_are_named_never_shown(
    mtls, bundles, options: dict, message: str, monkeypatch
) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    given = {
        "verify": bundles.ca_p12,
        "ca_password": CA_PASSWORD,
        "cert": bundles.user_p12,
        "cert_password": USER_PASSWORD,
        **options,
    }
    with pytest.raises(ConfigurationError, match=message) as caught:
        Producer(mtls.url, api_version="v1", **given)
    for secret in (CA_PASSWORD, USER_PASSWORD, "wrong-ca-pass", "wrong-user-pass"):
        assert secret not in str(caught.value)


def test_files_that_are_neither_pem_nor_pkcs12_are_named(mtls, pki, bundles, tmp_path) -> None:
    der = tmp_path / "ca.der"
    ca = x509.load_pem_x509_certificate(Path(pki.ca_pem).read_bytes())
    der.write_bytes(ca.public_bytes(serialization.Encoding.DER))
    text = tmp_path / "notes.txt"
    text.write_text("the certificate is in the other folder\n")
    for path in (der, text):
        with pytest.raises(ConfigurationError, match=r"verify: .* is neither a PEM file"):
            Producer(mtls.url, verify=str(path))
        with pytest.raises(ConfigurationError, match=r"cert: .* is neither a PEM file"):
            Producer(mtls.url, verify=pki.ca_pem, cert=str(path))
    with pytest.raises(ConfigurationError, match="holds no private key and certificate"):
        Producer(mtls.url, verify=pki.ca_pem, cert=bundles.ca_p12, cert_password=CA_PASSWORD)
    # the two ways a CA certificate is commonly saved wrong say how to fix them
    pem = Path(pki.ca_pem).read_bytes()
    encoded = tmp_path / "es-cert.b64"
    encoded.write_bytes(base64.b64encode(pem))  # kubectl get secret -o jsonpath=...
    with pytest.raises(ConfigurationError, match=r"in base64 .*: decode it first, base64 -d"):
        Producer(mtls.url, verify=str(encoded))
    wide = tmp_path / "es-cert-utf16.pem"
    wide.write_text(pem.decode(), encoding="utf-16")  # PowerShell 5's > writes UTF-16
    with pytest.raises(ConfigurationError, match=r"it is UTF-16 text .*: save it as UTF-8"):
        Producer(mtls.url, verify=str(wide))
    with pytest.raises(ConfigurationError, match="a PKCS#12 bundle holds its own key"):
        Producer(mtls.url, cert=(bundles.user_p12, bundles.user_key))


def test_configs_with_the_same_tls_settings_share_one_context(pki, tmp_path: Path) -> None:
    """A notebook's produce calls do not each load the CA bundle again, yet a bundle
    replaced on disk is read again, and one that cannot be read fails every time."""
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(pki.ca_pem).read_bytes())
    first = TransportConfig(verify=str(bundle)).ssl_context()
    assert TransportConfig(verify=str(bundle), timeout=5).ssl_context() is first
    assert TransportConfig(verify=False).ssl_context() is not first
    bundle.write_bytes(Path(pki.ca_pem).read_bytes() + b"\n")
    assert TransportConfig(verify=str(bundle)).ssl_context() is not first
    bundle.write_text("not a certificate")
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="is neither a PEM file"):
            TransportConfig(verify=str(bundle)).ssl_context()


def test_an_encrypted_key_without_its_password_is_refused_not_prompted(mtls, pki, bundles):
    cert = (bundles.user_crt, bundles.encrypted_key)
    with pytest.raises(ConfigurationError, match="is encrypted: pass its password as cert_pass"):
        Producer(mtls.url, verify=pki.ca_pem, cert=cert)
    with pytest.raises(ConfigurationError, match="wrong password in cert_password=") as caught:
        Producer(mtls.url, verify=pki.ca_pem, cert=cert, cert_password="not-it")
    assert "not-it" not in str(caught.value)


def test_the_client_key_never_reaches_the_disk_in_the_clear(mtls, bundles, monkeypatch, tmp_path):
    """The ssl module loads keys from files only: what it is given is encrypted, and
    gone once loaded."""
    # new files: the process reuses the context it made of the same files before
    user_p12 = tmp_path / "user.p12"
    user_p12.write_bytes(Path(bundles.user_p12).read_bytes())
    written: dict[str, bytes] = {}
    unlink = os.unlink

    def read_then_unlink(path: str) -> None:
        written[path] = Path(path).read_bytes()
        unlink(path)

    monkeypatch.setattr(os, "unlink", read_then_unlink)
    Producer(
        mtls.url,
        verify=bundles.ca_p12,
        ca_password=CA_PASSWORD,
        cert=str(user_p12),
        cert_password=USER_PASSWORD,
    )
    monkeypatch.undo()
    ((path, content),) = written.items()
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in content
    assert b"-----BEGIN PRIVATE KEY-----" not in content
    assert b"BEGIN EC PRIVATE KEY" not in content and b"BEGIN RSA PRIVATE KEY" not in content
    assert not os.path.exists(path)


def test_passwords_never_appear_in_reprs_dry_runs_logs_or_errors(mtls, bundles, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    producer = Producer(
        mtls.url,
        api_version="v1",
        verify=bundles.ca_p12,
        ca_password=CA_PASSWORD,
        cert=bundles.user_p12,
        cert_password=USER_PASSWORD,
        progress=False,
    )
    plan = producer.produce(ROWS.head(3), "t", dry_run=True)
    status = producer.produce(ROWS.head(3), "t")
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        producer.produce(ROWS.head(3), "t", cert=bundles.stranger_p12)
    shown = [
        repr(producer),
        repr(producer.settings),
        repr(producer.settings.transport),
        repr(dict(producer.settings.options)),
        plan.to_string(),
        status.to_string(),
        str(caught.value),
        caught.value.status.to_string(),
        caplog.text,
    ]
    for text in shown:
        assert CA_PASSWORD not in text and USER_PASSWORD not in text


def test_pkcs12_without_cryptography_names_the_extra(bundles) -> None:
    from .test_install import python

    result = python(
        f"""
        import sys
        sys.modules["cryptography"] = None  # as if not installed
        import es_pandas
        try:
            es_pandas.Producer("https://127.0.0.1:9", verify={bundles.ca_p12!r}, ca_password="x")
        except es_pandas.ConfigurationError as exc:
            print(exc)
        es_pandas.Producer("https://127.0.0.1:9", verify={bundles.user_crt!r})  # PEM: fine
        """
    )
    assert result.returncode == 0, result.stderr
    assert "is a PKCS#12 bundle" in result.stdout
    assert 'pip install "eventstreams-pandas[pkcs12]"' in result.stdout


# -- a credentials JSON of on-premises settings ----------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_an_on_premises_credentials_file(scram, pki, bundles, tmp_path, engine, monkeypatch):
    # the files next to the JSON, named relative to it, read from another folder
    folder = tmp_path / "cluster"
    folder.mkdir()
    for path in (bundles.ca_p12, bundles.user_p12):
        shutil.copy(path, folder)
    credentials = folder / "es-credentials.json"
    credentials.write_text(
        json.dumps(
            {
                "url": scram.url,
                "api_version": "v1",
                "user": "alice",
                "password": "alice-password",
                "ca_bundle": "es-cert.p12",
                "ca_password": CA_PASSWORD,
                "client_cert": "user.p12",
                "client_cert_password": USER_PASSWORD,
            }
        )
    )
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    producer = Producer(credentials=str(credentials), engine=engine, progress=False)
    assert ok(producer.produce(ROWS, "t"))
    assert isinstance(producer.settings.auth, es_pandas.BasicAuth)
    # a call's arguments still come first: this user may not write "other"
    with pytest.raises(es_pandas.PermissionDeniedError, match="credentials file"):
        producer.produce(ROWS, "other")


def test_a_credentials_dict_with_a_certificate_and_key(mtls, pki, bundles, monkeypatch) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(Path(bundles.encrypted_key).parent)
    credentials = {
        "url": mtls.url,
        "api_version": "v1",
        "ca_bundle": pki.ca_pem,
        "client_cert": bundles.user_crt,
        "client_key": "user.key.enc",  # a dict's relative paths: from the working folder
        "client_cert_password": USER_PASSWORD,
    }
    assert ok(ROWS.es.produce("t", credentials=credentials, progress=False))
    with pytest.raises(ConfigurationError, match="credentials: client_key needs client_cert"):
        Producer(credentials={"url": mtls.url, "client_key": bundles.user_key})


def test_a_credentials_files_endpoint_settings_go_with_its_url(mtls, pki, tmp_path, monkeypatch):
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    file = tmp_path / "es-credentials.json"
    file.write_text(
        json.dumps({"url": mtls.url, "api_version": "v1", "client_cert": pki.client_pem})
    )
    settings = Producer(credentials=str(file)).settings
    assert settings.transport.cert == pki.client_pem
    assert settings.options["api_version"] == "v1"
    # a URL from before the file: another endpoint, which the file says nothing of
    settings = Producer("https://elsewhere.example", credentials=str(file)).settings
    assert settings.transport.cert is None and settings.options["api_version"] == "auto"
    # a file without a URL: its settings go with the URL from after it
    file.write_text(json.dumps({"ca_bundle": pki.ca_pem}))
    resolved = resolve([{"credentials": str(file)}], environ={"ES_PANDAS_URL": mtls.url})
    assert resolved.url == mtls.url and resolved.transport.verify == pki.ca_pem


def test_an_ibm_cloud_service_key_is_read_as_before(tmp_path) -> None:
    key = tmp_path / "service-key.json"
    key.write_text(
        json.dumps(
            {
                "kafka_http_url": "https://abc.svc01.us-south.eventstreams.cloud.ibm.com",
                "url": "https://ignored.example",
                "api_key": "the-key-0123",
                "apikey": "the-key-0123",
                "user": "token",
                "password": "the-key-0123",
            }
        )
    )
    settings = Producer(credentials=str(key)).settings
    assert settings.url == "https://abc.svc01.us-south.eventstreams.cloud.ibm.com"
    assert isinstance(settings.auth, es_pandas.BearerAuth)  # the API key, as v2 sends it
    assert settings.options["api_version"] == "auto"  # the endpoint decides
    assert settings.transport.verify is True and settings.transport.cert is None


# -- a refused handshake -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cert", [None, "stranger", "expired"])
def test_a_refused_handshake_stops_the_run_with_one_clear_error(
    mtls, pki, bundles, engine: str, cert: str | None
) -> None:
    """With TLS 1.3 the local server refuses the certificate after the client's side
    of the handshake, by closing the connection with the request unread: no alert."""
    given = {
        None: None,
        "stranger": (bundles.stranger_p12, USER_PASSWORD),
        "expired": (bundles.expired_pem, None),
    }[cert]
    big = pd.DataFrame({"v": range(5_000)})
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        big.es.produce(
            "t",
            url=mtls.url,
            api_version="v1",
            verify=pki.ca_pem,
            cert=given and given[0],
            cert_password=given and given[1],
            engine=engine,
            progress=False,
        )
    message = str(caught.value)
    assert "the server refused the TLS handshake" in message
    if cert is None:
        assert (
            "it requires a client certificate (mutual TLS): pass cert= (--client-cert)" in message
        )
    else:
        assert "with the client certificate given as cert= (--client-cert)" in message
        assert "signed by a CA it trusts" in message
    assert "Traceback" not in message and "SSL" not in message
    status = caught.value.status
    # the request never reached the server: failed (not unknown), tried once
    first = status.iloc[0]
    assert (first["status"], first["attempts"]) == ("failed", 1)
    assert status["status"].value_counts()["not_sent"] == len(big) - 1


def test_an_untrusted_server_names_the_ca_setting(mtls, pki) -> None:
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ROWS.es.produce("t", url=mtls.url, cert=pki.client_pem, progress=False)
    assert "is not trusted" in str(caught.value)
    assert "verify= (--ca-bundle)" in str(caught.value)


@pytest.fixture(scope="module")
def expired_server(pki: PKI, tmp_path_factory) -> Iterator[LocalEventStreams]:
    """An endpoint whose own certificate, from the right CA, expired in 2020."""
    path = tmp_path_factory.mktemp("expired-server") / "server.pem"
    pki.ca.issue_cert(
        "127.0.0.1",
        not_before=datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC),
        not_after=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    ).private_key_and_cert_chain_pem.write_to_path(str(path))
    with LocalEventStreams(
        topics={"t": 1}, auth=False, ssl_certfile=str(path), ssl_keyfile=str(path)
    ) as es:
        yield es


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ["another CA", "expired", "another host name"])
def test_an_untrusted_server_says_what_to_fix_when_a_ca_was_given(
    mtls, expired_server, pki, tmp_path, engine: str, case: str
) -> None:
    """The CA hint is for a CA bundle that is missing or wrong, and says which."""
    other_ca = tmp_path / "other-ca.pem"
    pytest.importorskip("trustme").CA().cert_pem.write_to_path(str(other_ca))
    url, verify, expected = {
        "another CA": (
            mtls.url,
            str(other_ca),
            "the CA bundle given as verify= (--ca-bundle) does not hold the CA that signed "
            "it: pass the one that does (on premises: the cluster's es-cert.pem)",
        ),
        "expired": (
            expired_server.url,
            pki.ca_pem,
            "certificate has expired; the server's certificate must be renewed (or this "
            "machine's clock is wrong)",
        ),
        "another host name": (
            mtls.url.replace("127.0.0.1", "localhost"),
            pki.ca_pem,
            "Hostname mismatch, certificate is not valid for 'localhost'; use the host name "
            "the server's certificate names in the URL",
        ),
    }[case]
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ROWS.es.produce(
            "t", url=url, verify=verify, cert=pki.client_pem, engine=engine, progress=False
        )
    assert expected in str(caught.value)
    assert "pass its certificate as verify=" not in str(caught.value)


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory):
    pytest.importorskip("proxy")
    from .test_engines import ForwardProxy

    proxy = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_refused_handshake_through_a_proxy(mtls, pki, forward_proxy, engine: str) -> None:
    # the check of the handshake goes through the proxy's tunnel too
    with pytest.raises(es_pandas.ConnectionFailed, match="requires a client certificate"):
        ROWS.es.produce(
            "t",
            url=mtls.url,
            api_version="v1",
            verify=pki.ca_pem,
            proxy=forward_proxy.url,
            trust_env=False,
            engine=engine,
            progress=False,
        )
    status = ROWS.es.produce(
        "t",
        url=mtls.url,
        api_version="v1",
        verify=pki.ca_pem,
        cert=pki.client_pem,
        proxy=forward_proxy.url,
        trust_env=False,
        engine=engine,
        progress=False,
    )
    assert ok(status)


# -- the command line ----------------------------------------------------------------------


def test_the_command_line_from_flags_and_from_the_environment(mtls, bundles, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    base = ["produce", str(path), "--topic", "t", "--api-version", "v1"]
    clean = {name: "" for name in es_pandas.ENVIRONMENT_VARIABLES}
    flags = {
        "--url": mtls.url,
        "--ca-bundle": bundles.ca_p12,
        "--ca-password": CA_PASSWORD,
        "--client-cert": bundles.user_p12,
        "--client-cert-password": USER_PASSWORD,
    }
    result = run(*base, *(word for pair in flags.items() for word in pair), env=clean)
    assert result.returncode == 0, result.stderr
    assert f"{len(ROWS)} rows" in result.stderr
    env = {
        **clean,
        "ES_PANDAS_URL": mtls.url,
        "ES_PANDAS_CA_BUNDLE": bundles.ca_p12,
        "ES_PANDAS_CA_PASSWORD": CA_PASSWORD,
        "ES_PANDAS_CLIENT_CERT": bundles.user_p12,
        "ES_PANDAS_CLIENT_CERT_PASSWORD": USER_PASSWORD,
    }
    result = run(*base, env=env)
    assert result.returncode == 0, result.stderr
    dry = run(*base, "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("\n") == len(ROWS)
    for output in (result, dry):
        for secret in (CA_PASSWORD, USER_PASSWORD):
            assert secret not in output.stdout + output.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"ES_PANDAS_CLIENT_CERT_PASSWORD": "wrong-user-pass"},
            "wrong password in --client-cert-password, ES_PANDAS_CLIENT_CERT_PASSWORD",
        ),
        (
            {"ES_PANDAS_CLIENT_CERT": "stranger"},
            "refused the TLS handshake with the client certificate given as --client-cert:",
        ),
        (
            {"ES_PANDAS_CLIENT_CERT": ""},
            "it requires a client certificate (mutual TLS): pass --client-cert",
        ),
    ],
)
def test_the_command_line_names_its_flags(mtls, bundles, tmp_path, variables, message) -> None:
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    env = {
        **{name: "" for name in es_pandas.ENVIRONMENT_VARIABLES},
        "ES_PANDAS_URL": mtls.url,
        "ES_PANDAS_API_VERSION": "v1",
        "ES_PANDAS_CA_BUNDLE": bundles.ca_p12,
        "ES_PANDAS_CA_PASSWORD": CA_PASSWORD,
        "ES_PANDAS_CLIENT_CERT": bundles.user_p12,
        "ES_PANDAS_CLIENT_CERT_PASSWORD": USER_PASSWORD,
        **variables,
    }
    if env["ES_PANDAS_CLIENT_CERT"] == "stranger":
        env["ES_PANDAS_CLIENT_CERT"] = bundles.stranger_p12
    result = run("produce", str(path), "--topic", "t", env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    for secret in (CA_PASSWORD, USER_PASSWORD, "wrong-user-pass"):
        assert secret not in result.stderr + result.stdout
