"""Mutual TLS and proxies end to end: the local server requiring a client certificate
(as on-premises Event Streams can), a real forward proxy process, and every way to
configure them (arguments, environment, command line). What is on premises alone
(PKCS#12, a certificate as the only credential, refused handshakes) is in
test_on_premises.py."""

from __future__ import annotations

import os
import pickle
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pandas as pd
import pytest

import es_pandas
from es_pandas import LocalEventStreams
from es_pandas._transports._handshake import tls_error

from .conftest import ENGINES, free_port
from .test_engines import ForwardProxy

ROWS = pd.DataFrame({"v": range(40)})


@pytest.fixture(scope="module")
def mtls_server(pki) -> Iterator[LocalEventStreams]:
    with LocalEventStreams(
        topics={"t": 1},
        auth=False,
        ssl_certfile=pki.server_pem,
        ssl_keyfile=pki.server_pem,
        client_ca=pki.ca_pem,
    ) as es:
        yield es


def ok(status: pd.DataFrame) -> bool:
    return bool((status["status"] == "ok").all())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("form", ["one PEM", "certificate and key"])
def test_mutual_tls(mtls_server, pki, engine: str, form: str) -> None:
    cert = pki.client_pem if form == "one PEM" else (pki.client_cert, pki.client_key)
    status = ROWS.es.produce(
        "t", url=mtls_server.url, verify=pki.ca_pem, cert=cert, engine=engine, progress=False
    )
    assert ok(status)
    assert len(mtls_server.read("t")) >= len(ROWS)


def test_a_producer_over_tls_pickles_for_another_process(mtls_server, pki) -> None:
    """A Producer handed to a worker process that is spawned (macOS' default; forkserver,
    Python 3.14's on Linux) is pickled: its TLS context, made once and kept, cannot be,
    and a copy makes its own."""
    producer = es_pandas.Producer(
        mtls_server.url, verify=pki.ca_pem, cert=pki.client_pem, progress=False
    )
    assert ok(producer.produce(ROWS, "t"))
    copy = pickle.loads(pickle.dumps(producer))
    assert ok(copy.produce(ROWS, "t"))


def test_client_certificate_from_the_environment(mtls_server, pki, monkeypatch) -> None:
    monkeypatch.setenv("ES_PANDAS_CLIENT_CERT", pki.client_cert)
    monkeypatch.setenv("ES_PANDAS_CLIENT_KEY", pki.client_key)
    monkeypatch.setenv("ES_PANDAS_CA_BUNDLE", pki.ca_pem)
    assert ok(ROWS.es.produce("t", url=mtls_server.url, progress=False))


def test_client_certificate_on_the_command_line(mtls_server, pki, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "es_pandas",
            "produce",
            str(path),
            "--topic",
            "t",
            "--url",
            mtls_server.url,
            "--ca-bundle",
            pki.ca_pem,
            "--client-cert",
            pki.client_cert,
            "--client-key",
            pki.client_key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"{len(ROWS)} rows" in result.stderr


def test_unusable_client_certificates_are_configuration_errors(mtls_server, pki, tmp_path) -> None:
    with pytest.raises(es_pandas.ConfigurationError, match="no certificate file"):
        ROWS.es.produce("t", url=mtls_server.url, cert=str(tmp_path / "none.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(es_pandas.ConfigurationError, match=r"neither a PEM file .* nor a PKCS#12"):
        ROWS.es.produce("t", url=mtls_server.url, cert=str(garbage), progress=False)
    with pytest.raises(es_pandas.ConfigurationError, match="cannot load"):
        # a key that is not the certificate's
        ROWS.es.produce(
            "t", url=mtls_server.url, cert=(pki.client_cert, pki.stranger_pem), progress=False
        )


@pytest.mark.parametrize(
    ("pair", "python", "command_line"),
    [
        (
            ("client_cert", None),
            "holds no private key: pass its key file as well, cert=(certificate, key) "
            "(--client-key",
            "holds no private key: pass its key file as well, --client-key",
        ),
        (
            ("client_key", "client_cert"),
            "holds no certificate: are the certificate and its key swapped?",
            "holds no certificate: are the certificate and its key swapped?",
        ),
        (
            ("client_cert", "stranger_pem"),
            "the key is not this certificate's: give the key issued with it",
            "the key is not this certificate's: give the key issued with it",
        ),
    ],
)
def test_a_certificate_and_key_that_do_not_go_together_say_what_to_fix(
    mtls_server, pki, tmp_path, pair, python: str, command_line: str
) -> None:
    certificate, key = (getattr(pki, name) if name else None for name in pair)
    cert = certificate if key is None else (certificate, key)
    with pytest.raises(es_pandas.ConfigurationError) as caught:
        ROWS.es.produce("t", url=mtls_server.url, verify=pki.ca_pem, cert=cert, progress=False)
    assert python in str(caught.value)
    assert "PEM lib" not in str(caught.value) and "_ssl.c" not in str(caught.value)
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    flags = ["--url", mtls_server.url, "--ca-bundle", pki.ca_pem, "--client-cert", certificate]
    flags += ["--client-key", key] if key else []
    result = subprocess.run(
        [sys.executable, "-m", "es_pandas", "produce", str(path), "--topic", "t", *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert command_line in result.stderr


# -- proxies -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory) -> Iterator[ForwardProxy]:
    pytest.importorskip("proxy")
    proxy = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_run_through_a_proxy(es, forward_proxy, engine: str) -> None:
    status = ROWS.es.produce(
        "single",
        url=es.url,
        api_key=es.api_key,
        proxy=forward_proxy.url,
        engine=engine,
        progress=False,
    )
    assert ok(status)
    # proxy.py logs a connection's last request when it closes
    assert forward_proxy.saw(f"POST 127.0.0.1:{es.port}/v2/topics/single/records")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_iam_exchange_goes_through_the_proxy_too(es, forward_proxy, engine: str) -> None:
    status = ROWS.es.produce(
        "single",
        url=es.url,
        api_key=es.api_key,
        iam=True,
        iam_url=es.iam_url,
        proxy=forward_proxy.url,
        engine=engine,
        progress=False,
    )
    assert ok(status)
    assert forward_proxy.saw(f"POST 127.0.0.1:{es.port}/identity/token")


def test_proxy_flags_and_environment_on_the_command_line(es, forward_proxy, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    ROWS.head(5).to_csv(path, index=False)
    env = {
        **os.environ,
        "ES_PANDAS_URL": es.url,
        "ES_PANDAS_API_KEY": es.api_key or "",
        # a proxy that is not there: a run that used it would fail
        "HTTP_PROXY": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    command = [sys.executable, "-m", "es_pandas", "produce", str(path), "--topic", "single"]

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *flags], env=env, capture_output=True, text=True, timeout=120
        )

    result = run()
    assert result.returncode == 2 and "proxy" in result.stderr
    result = run("--no-trust-env")
    assert result.returncode == 0, result.stderr
    result = run("--no-trust-env", "--proxy", forward_proxy.url)
    assert result.returncode == 0, result.stderr
    assert forward_proxy.saw(f"POST 127.0.0.1:{es.port}/v2/topics/single/records")


@pytest.fixture(scope="module")
def authenticating_proxy(tmp_path_factory) -> Iterator[ForwardProxy]:
    pytest.importorskip("proxy")
    proxy = ForwardProxy(
        tmp_path_factory.mktemp("auth-proxy"), "--basic-auth", "proxy-user:proxy-s3cret"
    )
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_proxy_credentials_are_sent_and_never_shown(
    es, authenticating_proxy, engine: str, caplog
) -> None:
    with pytest.raises(es_pandas.ConnectionFailed, match="407"):
        ROWS.es.produce(
            "single",
            url=es.url,
            api_key=es.api_key,
            proxy=authenticating_proxy.url,
            engine=engine,
            progress=False,
        )
    secret_proxy = authenticating_proxy.url.replace("http://", "http://proxy-user:proxy-s3cret@")
    producer = es_pandas.Producer(
        es.url, api_key=es.api_key, proxy=secret_proxy, engine=engine, progress=False
    )
    status = producer.produce(ROWS.head(3), "single")
    assert ok(status)
    shown = [repr(producer), repr(producer.settings), status.to_string(), caplog.text]
    assert not any("proxy-s3cret" in text for text in shown)


def test_a_socks_proxy_is_refused_clearly(es) -> None:
    with pytest.raises(es_pandas.ConfigurationError, match="SOCKS is not supported"):
        ROWS.es.produce("single", url=es.url, proxy="socks5://127.0.0.1:1080", progress=False)


def test_an_unreachable_proxy_stops_the_run(es) -> None:
    with pytest.raises(es_pandas.ConnectionFailed, match="proxy"):
        ROWS.es.produce(
            "single",
            url=es.url,
            api_key=es.api_key,
            proxy=f"http://127.0.0.1:{free_port()}",
            retries=0,
            progress=False,
        )


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("engine", ENGINES)
def test_a_proxy_whose_name_does_not_resolve_is_named(es, engine: str, scheme: str) -> None:
    # aiohttp said "cannot connect to 127.0.0.1", the server, which is up
    url = es.url.replace("http://", f"{scheme}://")
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ROWS.es.produce(
            "single",
            url=url,
            api_key=es.api_key,
            proxy="http://no-such-proxy.invalid:3128",
            engine=engine,
            retries=0,
            progress=False,
        )
    assert "cannot connect to the proxy http://no-such-proxy.invalid:3128" in str(caught.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_proxy_from_the_environment_that_is_not_there_says_how_to_go_around_it(
    es, engine: str, monkeypatch
) -> None:
    # a user may not know HTTP_PROXY is set: the message names it, not only a refused port
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ROWS.es.produce("single", url=es.url, api_key=es.api_key, engine=engine, retries=0)
    message = str(caught.value)
    assert "cannot connect to the proxy http://127.0.0.1:" in message
    assert "(the HTTP_PROXY environment variable)" in message
    assert "exempt the host from the environment's proxy with NO_PROXY" in message
    assert "trust_env=False" in message
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")  # a network, as requests and curl take it
    assert ok(ROWS.es.produce("single", url=es.url, api_key=es.api_key, engine=engine))


@pytest.mark.parametrize("engine", ENGINES)
def test_plain_http_to_an_https_server_asks_for_https(mtls_server, pki, engine: str) -> None:
    # the server closes a connection that does not start a TLS handshake, unanswered
    url = mtls_server.url.replace("https://", "http://")
    with pytest.raises(es_pandas.ConnectionFailed) as caught:
        ROWS.es.produce("t", url=url, cert=pki.client_pem, engine=engine, retries=0)
    assert str(caught.value).startswith(
        f"cannot reach {url}: the server closed the connection before answering"
    )
    assert "Event Streams takes HTTPS: if this server does too, the URL is https://" in str(
        caught.value
    )


@pytest.mark.parametrize(
    "alert", ["SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_BAD_CERTIFICATE"]
)
def test_an_alert_that_does_not_say_why_says_what_the_server_takes(alert: str) -> None:
    # Java's TLS sends certificate_unknown for an expired certificate and a stranger's
    # alike; OpenSSL's servers (above) say which.
    refusal = ssl.SSLError(1, f"[SSL: {alert}] alert")
    refusal.reason = alert
    message = str(tls_error("https://es.example:443", refusal, cert=True))
    assert message == (
        "the server refused the TLS handshake with the client certificate given as cert= "
        "(--client-cert): the server does not accept it: it takes only certificates signed "
        "by a CA it trusts (on premises: a KafkaUser's user.crt or user.p12), unexpired "
        f"and not revoked (TLS alert {alert})"
    )
