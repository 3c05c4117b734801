"""Where connection settings come from, every auth style, and secrets kept out of sight."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

import es_pandas
from es_pandas import ConfigurationError, IAMAuth, LocalEventStreams, Producer
from es_pandas._config import resolve
from es_pandas._options import PRODUCE_OPTIONS, check_options

from .conftest import API_KEY, ENGINES, free_port, run

ROWS = pd.DataFrame({"v": range(20)})


def resolve_connection(options: dict | None = None, *, base: dict | None = None):
    """The settings of a call with ``options`` over a producer's ``base`` options."""
    layers = [check_options(o, PRODUCE_OPTIONS) for o in (options or {}, base or {})]
    return resolve(layers)


def ok(status: pd.DataFrame) -> bool:
    return bool((status["status"] == "ok").all())


@pytest.mark.parametrize(
    ("api_version", "options"),
    [
        ("v2", {"api_key": API_KEY}),
        ("v2", {"token": API_KEY}),
        ("v1", {"api_key": API_KEY}),
        ("v1", {"api_key": API_KEY, "auth_style": "x-auth-token"}),
        ("v1", {"api_key": API_KEY, "auth_style": "bearer"}),
        ("v1", {"user": "alice", "password": "alice-password"}),
    ],
)
def test_every_auth_style(es, api_version: str, options: dict) -> None:
    status = ROWS.es.produce(
        "single", url=es.url, api_version=api_version, progress=False, **options
    )
    assert ok(status)


def test_iam_exchange_and_refresh_mid_run(es) -> None:
    # The fixture's tokens live 2 s; at 10 rows/s this run lasts ~3 s, so the token
    # must be renewed (at 80% of its life) while requests are in flight.
    producer = Producer(es.url, api_key=API_KEY, iam=True, iam_url=es.iam_url, progress=False)
    auth = producer.settings.auth
    assert isinstance(auth, IAMAuth)
    status = producer.produce(pd.DataFrame({"v": range(30)}), "single", max_rate=10, concurrency=8)
    assert ok(status)
    assert auth.exchanges >= 2
    assert es.stats().get("401", 0) == 0  # renewed before expiry, never refused


def test_one_iam_exchange_for_many_concurrent_requests(hour_tokens) -> None:
    es = hour_tokens
    producer = Producer(es.url, api_key=API_KEY, iam=True, iam_url=es.iam_url, progress=False)
    status = producer.produce(pd.DataFrame({"v": range(300)}), "single", concurrency=64)
    assert ok(status)
    assert producer.settings.auth.exchanges == 1
    assert es.stats()["tokens_issued"] == 1


def test_iam_token_refused_then_renewed_on_401(hour_tokens) -> None:
    es = hour_tokens
    producer = Producer(es.url, api_key=API_KEY, iam=True, iam_url=es.iam_url, progress=False)
    producer.produce(pd.DataFrame({"v": [1]}), "single")
    es.script_faults(["401"])  # as if the token had been revoked
    status = producer.produce(pd.DataFrame({"v": [2]}), "single")
    assert ok(status)
    assert status.iloc[0]["attempts"] == 2
    assert producer.settings.auth.exchanges == 2


def test_iam_with_a_wrong_key_fails_fast(es) -> None:
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        ROWS.es.produce(
            "single", url=es.url, api_key="wrong", iam=True, iam_url=es.iam_url, progress=False
        )
    assert "BXNIM0415E" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_arguments_beat_producer_beat_credentials_beat_environment(tmp_path, monkeypatch):
    creds = tmp_path / "key.json"
    creds.write_text(
        json.dumps(
            {
                "kafka_http_url": "https://from-file",
                "user": "token",
                "api_key": "file-key",
                "apikey": "file-key",
            }
        )
    )
    monkeypatch.setenv("ES_PANDAS_URL", "https://from-env")
    monkeypatch.setenv("ES_PANDAS_API_KEY", "env-key")
    assert resolve_connection().url == "https://from-env"
    assert resolve_connection({"credentials": str(creds)}).url == "https://from-file"
    monkeypatch.setenv("ES_PANDAS_CREDENTIALS", str(creds))
    assert resolve_connection().url == "https://from-file"
    base = {"url": "https://from-producer", "api_key": "producer-key"}
    assert resolve_connection(base=base).url == "https://from-producer"
    assert resolve_connection({"url": "https://from-args"}, base=base).url == "https://from-args"


def test_credentials_come_whole_from_one_source(monkeypatch) -> None:
    monkeypatch.setenv("ES_PANDAS_USER", "env-user")
    monkeypatch.setenv("ES_PANDAS_PASSWORD", "env-password")
    connection = resolve_connection({"url": "https://x", "api_key": "arg-key"})
    assert isinstance(connection.auth, es_pandas.BearerAuth)


@pytest.mark.parametrize(
    ("given", "environment", "message"),
    [
        (
            {"user": "alice"},
            {"ES_PANDAS_PASSWORD": "env-password"},
            "the user name from the arguments has no password with it",
        ),
        (
            {"password": "typed-password"},
            {"ES_PANDAS_USER": "alice"},
            "the password from the arguments has no user name with it",
        ),
        ({}, {"ES_PANDAS_PASSWORD": "env-password"}, "the password from ES_PANDAS_PASSWORD has"),
    ],
)
def test_half_a_user_says_which_half_and_where(
    es, monkeypatch, tmp_path, given, environment, message
) -> None:
    """A SCRAM user's name typed and its password in the environment, as the README
    advises for secrets: credentials come whole from one source, and the error says so."""
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        ROWS.es.produce("single", url=es.url, progress=False, **given)
    assert message in str(caught.value)
    assert "credentials come whole from one place" in str(caught.value)
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    flags = [f"--{name}={value}" for name, value in given.items()]
    result = run("produce", str(path), "--topic", "single", "--url", es.url, *flags)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    for secret in ("env-password", "typed-password"):
        assert secret not in str(caught.value) + result.stderr


def test_credentials_dict_shape(es) -> None:
    status = ROWS.es.produce("single", credentials=es.credentials, progress=False)
    assert ok(status)


def test_credentials_with_two_different_api_keys_are_refused(es) -> None:
    """IBM's service keys hold the key as api_key and apikey alike; two different ones
    are a hand edit gone wrong, and one of them would fail every row with 401."""
    given = {"kafka_http_url": es.url, "api_key": "one-key", "apikey": "another-key"}
    with pytest.raises(ConfigurationError, match="api_key and apikey hold different keys") as e:
        ROWS.es.produce("single", credentials=given)
    assert "one-key" not in str(e.value) and "another-key" not in str(e.value)
    same = {**given, "apikey": API_KEY, "api_key": f" {API_KEY}\n"}
    assert ok(ROWS.es.produce("single", credentials=same, progress=False))


def test_credentials_with_only_user_and_password(es) -> None:
    creds = {"kafka_http_url": es.url, "user": "alice", "password": "alice-password"}
    status = ROWS.es.produce("single", credentials=creds, api_version="v1", progress=False)
    assert ok(status)


def test_environment_alone(es, monkeypatch) -> None:
    monkeypatch.setenv("ES_PANDAS_URL", es.url)
    monkeypatch.setenv("ES_PANDAS_API_KEY", API_KEY)
    assert ok(ROWS.es.produce("single", progress=False))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "ES_PANDAS_URL"),
        ({"url": "ftp://x"}, "http://"),
        ({"url": "https://x", "api_version": "v3"}, "api_version"),
        ({"url": "https://x", "user": "u", "password": "p", "api_version": "v2"}, "Bearer"),
        (
            {"url": "https://x", "api_key": "k", "auth_style": "basic", "api_version": "v2"},
            "Bearer",
        ),
        ({"url": "https://x", "schemaname": "s", "api_version": "v2"}, "v1"),
        ({"url": "https://x", "schemaversion": "1"}, "schemaname= and schemaversion= go together"),
        ({"url": "https://x", "schemaname": "s"}, "schemaname= and schemaversion= go together"),
        ({"url": "https://x", "text_content_type": "text plain"}, "media type"),
        ({"url": "https://x", "iam": True}, "API key"),
        ({"url": "https://x", "user": "u", "api_version": "v1"}, "password"),
        ({"url": "https://x", "credentials": "/no/such/file.json"}, "cannot read"),
        ({"url": "https://x", "timeout": 0}, "timeout"),
    ],
)
def test_configuration_errors_are_clear(monkeypatch, options: dict, message: str) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=message):
        ROWS.es.produce("t", progress=False, **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"max_rate": 0}, "max_rate"),
        ({"engine": "curl"}, "aiohttp, httpx"),
        ({"errors": "ignore"}, "errors"),
        ({"key_col": "nope"}, "nope"),
        ({"value_col": "v", "value_cols": ["v"]}, "value_col"),
    ],
)
def test_option_errors_are_clear(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ROWS.es.produce("t", url="https://x", api_key="k", progress=False, **options)


def test_tls_is_verified_by_default(tmp_path, monkeypatch) -> None:
    trustme = pytest.importorskip("trustme")
    assert resolve_connection({"url": "https://x"}).transport.verify is True
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    settings = resolve_connection({"url": "https://x", "verify": str(bundle)})
    assert settings.transport.verify == str(bundle)
    # a bundle that cannot be used fails before anything is sent, naming where it came from
    with pytest.raises(ConfigurationError, match="no CA bundle"):
        resolve_connection({"url": "https://x", "verify": str(tmp_path / "missing.pem")})
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(ConfigurationError, match=r"verify: .* is neither a PEM file"):
        resolve_connection({"url": "https://x", "verify": str(empty)})
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "gone.pem"))
    with pytest.raises(ConfigurationError, match=r"SSL_CERT_FILE: cannot read .*gone\.pem"):
        resolve_connection({"url": "https://x"})
    with pytest.raises(ConfigurationError, match=r"SSL_CERT_FILE: cannot read .*gone\.pem"):
        resolve_connection({"url": "http://x", "proxy": "https://proxy:3128"})
    # a plain-http run needs no CA bundle: the environment's cannot break it
    assert resolve_connection({"url": "http://x"}).transport.verify is True


def test_the_environment_is_read_only_as_far_as_needed(tmp_path, monkeypatch) -> None:
    # stale variables for what a call gives itself cannot break it
    monkeypatch.setenv("ES_PANDAS_API_VERSION", "v3")
    monkeypatch.setenv("ES_PANDAS_CREDENTIALS", str(tmp_path / "gone.json"))
    settings = resolve_connection({"url": "https://x", "api_key": "a-key", "api_version": "v1"})
    assert settings.options["api_version"] == "v1"
    with pytest.raises(ConfigurationError, match="ES_PANDAS_API_VERSION"):
        resolve_connection({"url": "https://x", "api_key": "a-key"})
    with pytest.raises(ConfigurationError, match="cannot read credentials file"):
        resolve_connection({"api_version": "v1"})  # the URL falls through to the file


def test_credentials_may_be_the_json_itself_and_it_is_never_shown(es, monkeypatch) -> None:
    monkeypatch.setenv("ES_PANDAS_CREDENTIALS", json.dumps(es.credentials))
    assert ok(ROWS.es.produce("single", progress=False))
    broken = '{"kafka_http_url": "' + es.url + '", "apikey": "' + API_KEY + '"'  # no brace
    with pytest.raises(ConfigurationError, match="not valid JSON") as caught:
        ROWS.es.produce("single", credentials=broken)
    assert API_KEY not in str(caught.value)
    # nor in the exception it hides: json's error holds the whole text as its doc
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_a_credentials_file_that_is_not_json_says_where(tmp_path) -> None:
    """A password file edited by hand at 3 a.m.: "is not valid JSON" alone left the
    one on call to find the missing comma; json's own message quotes no text."""
    saved = tmp_path / "creds.json"
    saved.write_text('{"url": "https://x",\n "user": "etl",\n "password": "S3cr3t" "x": 1}')
    with pytest.raises(ConfigurationError) as caught:
        ROWS.es.produce("single", credentials=str(saved))
    message = str(caught.value)
    assert message.endswith("is not valid JSON: Expecting ',' delimiter at line 3, column 23")
    assert "S3cr3t" not in message


def test_a_credentials_file_saved_with_a_byte_order_mark_is_read(es, tmp_path) -> None:
    # Windows PowerShell 5's Set-Content -Encoding UTF8, and older Notepads, write one
    saved = tmp_path / "service-key.json"
    saved.write_bytes(b"\xef\xbb\xbf" + json.dumps(es.credentials).encode())
    assert ok(ROWS.es.produce("single", credentials=str(saved), progress=False))


def test_the_service_key_ibmcloud_prints_is_read_as_it_is(es, tmp_path) -> None:
    # ibmcloud resource service-key NAME --output json: a list of the key, its fields
    # under "credentials" beside the resource key's own (its "url" is an API path)
    printed = [
        {
            "name": "es-pandas-key",
            "url": "/v2/resource_keys/abc",
            "credentials": es.credentials,
        }
    ]
    saved = tmp_path / "printed.json"
    saved.write_text(json.dumps(printed))
    assert ok(ROWS.es.produce("single", credentials=str(saved), progress=False))
    assert ok(ROWS.es.produce("single", credentials=json.dumps(printed), progress=False))
    assert ok(ROWS.es.produce("single", credentials=printed[0], progress=False))
    saved.write_text(json.dumps(printed * 2))
    with pytest.raises(ConfigurationError, match="is a list of 2 service keys") as caught:
        ROWS.es.produce("single", credentials=str(saved), progress=False)
    assert API_KEY not in str(caught.value)
    # the list itself (a CI secret holds it as it was printed): never shown
    for given in (json.dumps(printed * 2), "[" + json.dumps(printed[0]), json.dumps([API_KEY])):
        with pytest.raises(ConfigurationError, match="the credentials JSON given") as caught:
            ROWS.es.produce("single", credentials=given, progress=False)
        assert API_KEY not in str(caught.value)


def test_a_credentials_file_without_a_url_is_named(tmp_path, monkeypatch) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    saved = tmp_path / "service-key.json"
    saved.write_text(json.dumps({"apikey": API_KEY}))
    message = r"credentials file '.*service-key\.json' has no kafka_http_url \(or url\)"
    with pytest.raises(ConfigurationError, match=message) as caught:
        ROWS.es.produce("t", credentials=str(saved), progress=False)
    assert API_KEY not in str(caught.value)
    monkeypatch.setenv("ES_PANDAS_CREDENTIALS", str(saved))
    with pytest.raises(ConfigurationError, match=message):
        ROWS.es.produce("t", progress=False)


def test_kafka_settings_on_a_rest_run_are_said_not_ignored(es, monkeypatch, caplog) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # the brokers given and no URL: the protocol is what is missing
    with pytest.raises(ConfigurationError, match="or protocol='kafka' to send to the bootst"):
        ROWS.es.produce("t", bootstrap_servers="127.0.0.1:9092", progress=False)
    with caplog.at_level(logging.WARNING, logger="es_pandas"):
        status = ROWS.es.produce(
            "single", url=es.url, api_key=API_KEY, kafka_config={"linger.ms": 5}, progress=False
        )
    assert ok(status)
    assert "kafka_config is not used: it sets the Kafka protocol's producer" in caplog.text


def test_secrets_never_appear_in_reprs_logs_errors_or_frames(es, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    secret = API_KEY
    producer = Producer(es.url, api_key=secret, progress=False)
    status = producer.produce(ROWS, "single")
    es.script_faults(["400"])
    failed = producer.produce(pd.DataFrame({"v": [1]}), "single")
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        ROWS.es.produce("single", url=es.url, api_key="another-secret", progress=False)
    texts = [
        repr(producer),
        repr(producer.settings),
        str(producer.settings.auth),
        status.to_string(),
        failed.to_string(),
        str(caught.value),
        caught.value.status.to_string(),
        caplog.text,
        repr(IAMAuth(secret)),
        repr(es_pandas.BasicAuth("u", secret)),
    ]
    for text in texts:
        assert secret not in text
        assert "another-secret" not in text


def test_a_local_server_without_auth_needs_no_credentials(monkeypatch) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        assert ok(ROWS.es.produce("t", url=es.url, progress=False))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    with LocalEventStreams(
        topics={"t": 1}, auth=False, ssl_certfile=str(cert_path), ssl_keyfile=str(key_path)
    ) as es:
        yield es, str(ca_path)


@pytest.mark.parametrize("engine", ENGINES)
def test_tls_with_a_ca_bundle(tls_server, engine: str) -> None:
    es, ca_path = tls_server
    assert es.url.startswith("https://")
    status = ROWS.es.produce("t", url=es.url, verify=ca_path, engine=engine, progress=False)
    assert ok(status)


@pytest.mark.parametrize("engine", ENGINES)
def test_tls_verification_is_on_by_default(tls_server, engine: str) -> None:
    es, _ = tls_server
    with pytest.raises(es_pandas.ConnectionFailed, match=r"(?i)certificate"):
        ROWS.es.produce("t", url=es.url, engine=engine, progress=False)


def test_secrets_from_files_and_the_environment_are_stripped(es, tmp_path, monkeypatch) -> None:
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ES_PANDAS_URL", f" {es.url}\n")
    monkeypatch.setenv("ES_PANDAS_API_KEY", f"{API_KEY}\n")  # as `export KEY=$(cat key)` leaves it
    assert ok(ROWS.es.produce("single", progress=False))
    monkeypatch.delenv("ES_PANDAS_API_KEY")
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"kafka_http_url": es.url, "apikey": f"  {API_KEY}\r\n"}))
    assert ok(ROWS.es.produce("single", credentials=str(key_file), progress=False))
    # an argument is taken as given: a line break in it is refused, not silently cut
    with pytest.raises(ConfigurationError, match="api_key contains a line break") as caught:
        ROWS.es.produce("single", url=es.url, api_key=f"{API_KEY}\n")
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_user_info_in_the_url_is_credentials_and_never_shown(es, caplog, api_version) -> None:
    caplog.set_level(logging.DEBUG)
    host = es.url.split("://")[1]
    url = f"http://token:{API_KEY}@{host}"  # IBM's convention: user "token", the key
    producer = Producer(url, api_version=api_version, progress=False)
    status = producer.produce(ROWS, "single")
    assert ok(status)
    assert producer.settings.url == es.url
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        ROWS.es.produce("single", url=f"http://alice:wrong-pass@{host}", api_version="v1")
    shown = [repr(producer), repr(producer.settings), str(caught.value), caplog.text]
    assert not any(API_KEY in text or "wrong-pass" in text for text in shown)


@pytest.mark.parametrize(
    "url",
    [
        "https://es.example/base\r\nX-Evil: 1",
        "https://es.example/ base",
        "https://es.example/?tenant=1",
        "https://es.example/#top",
        "https://user:pa/ss@es.example",
        "https://user:pa?ss@es.example",
    ],
)
def test_urls_that_are_not_one_base_url_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ROWS.es.produce("t", url=url, api_key="a-key")
    assert "pa/ss" not in str(caught.value) and "pa?ss" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("htp://user:s3cret@es.example:8080", "'htp://es.example:8080'"),
        ("user:s3cret@es.example", "'es.example'"),
        ("es.example:8080", "'es.example:8080'"),
    ],
)
def test_a_url_without_a_scheme_of_http_is_shown_as_given_but_its_user_info(url, shown) -> None:
    with pytest.raises(ConfigurationError, match="must start with http:// or https://") as caught:
        ROWS.es.produce("t", url=url, api_key="a-key")
    assert str(caught.value).endswith(shown) and "s3cret" not in str(caught.value)


@pytest.mark.parametrize("option", ["url", "proxy"])
@pytest.mark.parametrize(
    "given",
    [
        b"http://user:s3cret@es.example:8080",  # read from a file opened "rb"
        ["http://user:s3cret@es.example:8080"],
        "http://user:s3cret@[::1:8080",  # an unclosed IPv6 address
    ],
    ids=["bytes", "list", "ipv6"],
)
def test_a_url_that_is_not_one_is_refused_without_its_user_info(option, given) -> None:
    # the message showed the value itself, or a ValueError came out of urllib
    with pytest.raises(ConfigurationError, match=option) as caught:
        ROWS.es.produce("t", **{"url": "http://es.example", option: given}, api_key="a-key")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://127.0.0.1:8765/v2", "/v2"),
        ("https://es.example/v2/topics/orders/records", "/v2/topics/orders/records"),
        ("https://user:secret@es.example/topics/orders/records", "/topics/orders/records"),
        ("https://gw.example/eventstreams/v1/", "/v1/"),
    ],
)
def test_a_url_with_the_apis_own_path_is_refused_before_anything_is_sent(
    url: str, path: str
) -> None:
    # IBM's curl examples append /v2/topics/<topic>/records to the kafka_http_url
    with pytest.raises(ConfigurationError, match=f"drop {path!r}; es_pandas adds it") as caught:
        ROWS.es.produce("orders", url=url, api_key="a-key")
    assert "secret" not in str(caught.value)


def test_a_url_with_a_gateways_path_is_taken() -> None:
    """A path that is not the API's own (a gateway's prefix) goes before the routes."""
    plan = ROWS.head(1).es.produce(
        "orders", url="https://gw.example/eventstreams", api_key="a-key", dry_run=True
    )
    assert plan["url"].tolist() == ["https://gw.example/eventstreams/v2/topics/orders/records"]


def test_proxy_credentials_must_be_header_safe() -> None:
    with pytest.raises(ConfigurationError, match="credentials in 'http://proxy:3128'"):
        ROWS.es.produce("t", url="https://es.example", proxy="http://u:p%C3%A9ss@proxy:3128")


@pytest.mark.parametrize("char", ["/", "?", "#"])
@pytest.mark.parametrize("source", ["proxy", "HTTP_PROXY"])
def test_proxy_credentials_with_a_reserved_character_are_refused_unshown(
    monkeypatch, char: str, source: str
) -> None:
    # Unencoded, the URL's host is read from inside the password: it was sent to DNS,
    # or shown whole in every row's error.
    proxy = f"http://proxy-user:pa{char}ss-s3cret@proxy:3128"
    options = {"proxy": proxy} if source == "proxy" else {}
    if source != "proxy":
        monkeypatch.setenv(source, proxy)
    with pytest.raises(ConfigurationError, match=f"{source}.*percent-encode") as raised:
        ROWS.es.produce(
            "t", url=f"http://127.0.0.1:{free_port()}", api_key="a-key", progress=False, **options
        )
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("source", ["proxy", "HTTPS_PROXY"])
def test_a_proxy_url_with_credentials_but_no_scheme_asks_for_it_unshown(
    monkeypatch, source: str
) -> None:
    # it was asked to percent-encode characters it does not hold
    proxy = "proxy-user:s3cret@proxy:3128"
    options = {"proxy": proxy} if source == "proxy" else {}
    if source != "proxy":
        monkeypatch.setenv(source, proxy)
    with pytest.raises(
        ConfigurationError, match=f"{source}.*it needs its scheme, http://"
    ) as raised:
        ROWS.es.produce(
            "t", url=f"https://127.0.0.1:{free_port()}", api_key="a-key", progress=False, **options
        )
    assert "s3cret" not in str(raised.value)


def test_a_wrong_key_on_a_small_frame_still_raises(es) -> None:
    with pytest.raises(es_pandas.AuthenticationError):
        ROWS.head(2).es.produce("single", url=es.url, api_key="wrong-key", progress=False)


def test_the_iam_exchange_sends_the_rows_headers() -> None:
    # es_pandas names them, so no engine's own defaults (aiohttp's br/zstd) show
    from es_pandas.transports import MockTransport, Response

    seen: list[dict[str, str]] = []

    def iam(method, url, headers, body):  # records what each request carried
        seen.append(dict(headers))
        if url.endswith("/identity/token"):
            token = {"access_token": "a.b.c", "expires_in": 3600}
            return Response(200, {}, json.dumps(token).encode())
        return Response(200, {}, b'{"metadata":{"partition":0,"offset":0}}')

    import functools

    ROWS.head(1).es.produce(
        "t",
        url="https://es.example",
        api_key="a-key",
        iam=True,
        iam_url="https://iam.example/identity/token",
        engine=functools.partial(MockTransport, iam),
        progress=False,
    )
    exchange, _route_check, row = seen
    for name in ("User-Agent", "Accept-Encoding", "Accept"):
        assert exchange[name] == row[name], name


def test_a_row_renewing_its_token_when_the_run_stops_ends_on_its_401() -> None:
    # Row 1 is answered 401 and renews the token; while IAM takes its time, three rows
    # are answered 403 (about the run), which stops it. Row 1 then ends on its 401,
    # not as never sent: it was. (A transport answering from a function: the timing
    # is the test's, not a server's.)
    import asyncio
    import functools

    from es_pandas.transports import MockTransport, Response

    tokens = 0
    refreshing, stopped = asyncio.Event(), asyncio.Event()
    forbidden = 0

    async def answer(method, url, headers, body):
        nonlocal tokens, forbidden
        if url.endswith("/identity/token"):
            tokens += 1
            if tokens > 1:
                refreshing.set()
                await stopped.wait()
            token = {"access_token": f"a.b.{tokens}", "expires_in": 3600}
            return Response(200, {}, json.dumps(token).encode())
        data = json.loads(body)["value"].get("data")
        row = None if data is None else json.loads(data)["v"]
        if row in (None, 0):  # the v2 route check, and the first row
            return Response(200, {}, b'{"metadata":{"partition":0,"offset":0}}')
        if row == 1 and tokens == 1:
            return Response(401, {}, b'{"error_code":40101,"message":"token expired"}')
        await refreshing.wait()
        forbidden += 1
        if forbidden == 3:
            stopped.set()
        return Response(403, {}, b'{"error_code":40301,"message":"not allowed"}')

    with pytest.raises(es_pandas.PermissionDeniedError) as caught:
        ROWS.es.produce(
            "t",
            url="https://es.example",
            api_key="a-key",
            iam=True,
            iam_url="https://iam.example/identity/token",
            engine=functools.partial(MockTransport, answer),
            concurrency=4,
            progress=False,
        )
    row = caught.value.status.loc[1]
    assert (row["status"], row["http_status"], row["attempts"]) == ("failed", 401, 1)
    assert "token expired" in row["error"]


def test_refused_credentials_say_where_they_came_from(es, tmp_path, monkeypatch) -> None:
    """A wrong key set long ago in a shell profile is found from the message alone."""
    creds = tmp_path / "old-key.json"
    creds.write_text(json.dumps({"kafka_http_url": es.url, "api_key": "stale-file-key"}))
    monkeypatch.setenv("ES_PANDAS_API_KEY", "stale-env-key")
    cases = [
        ({}, "ES_PANDAS_API_KEY"),
        ({"api_key": "typed-key"}, "the arguments"),
        ({"credentials": str(creds)}, f"credentials file {str(creds)!r}"),
        ({"credentials": creds.read_text()}, "the credentials JSON given"),
    ]
    for options, origin in cases:
        with pytest.raises(es_pandas.AuthenticationError) as caught:
            ROWS.es.produce("single", url=es.url, progress=False, **options)
        message = str(caught.value)
        assert message.startswith(f"the credentials from {origin} were refused: "), message
        assert not any(secret in message for secret in ("stale-", "typed-key")), message
    # A call that changes how the Producer's key is used: the key is still the Producer's.
    producer = Producer(es.url, api_key="stale-producer-key", progress=False)
    with pytest.raises(es_pandas.AuthenticationError, match="from the Producer's options"):
        producer.produce(ROWS, "single", auth_style="bearer")


# -- api_version="auto" -------------------------------------------------------------------


def on_premises(requests: list[tuple[str, bytes]]):
    """An engine answering as on-premises Event Streams' REST producer does: no v2
    route (Go's plain-text 404 of an unknown path), v1 as documented. (The local server's
    onprem profile does the same over a socket: see tests/test_deployments.py.)"""
    from es_pandas.transports import MockTransport, Response

    def answer(method: str, url: str, headers, body: bytes) -> Response:
        requests.append((url, body))
        if "/v2/" in url:
            return Response(404, {"content-type": "text/plain"}, b"404 page not found\n")
        offset = len(requests)
        metadata = {"topic": "t", "timestamp": "1", "partition": 0, "offset": offset}
        return Response(
            200, {"content-type": "application/json"}, json.dumps({"metadata": metadata}).encode()
        )

    import functools

    return functools.partial(MockTransport, answer)


def test_auto_falls_back_to_v1_where_there_is_no_v2_route(caplog) -> None:
    requests: list[tuple[str, bytes]] = []
    caplog.set_level(logging.INFO, "es_pandas")
    status = ROWS.es.produce(
        "t", url="https://es.example", api_key="k", engine=on_premises(requests), progress=False
    )
    assert ok(status) and status.attrs["api_version"] == "v1"
    # one request asked for the v2 route, with nothing a server could store as a record
    (check_url, check_body), *rows = requests
    assert check_url == "https://es.example/v2/topics/t/records" and check_body == b'{"value":{}}'
    assert [url for url, _ in rows] == ["https://es.example/topics/t/records"] * len(ROWS)
    assert "sent with the v1 API: the endpoint has no v2 route" in str(status.summary)
    said = [r.getMessage() for r in caplog.records if "no v2 route" in r.getMessage()]
    assert len(said) == 1


def test_an_explicit_v2_without_a_v2_route_stops_with_one_clear_error() -> None:
    requests: list[tuple[str, bytes]] = []
    with pytest.raises(es_pandas.EndpointError) as caught:
        ROWS.es.produce(
            "t",
            url="https://es.example",
            api_key="k",
            api_version="v2",
            engine=on_premises(requests),
            progress=False,
        )
    message = str(caught.value)
    assert message.startswith("https://es.example has no v2 route (HTTP 404: 404 page not found)")
    assert "on-premises Event Streams offers only the v1 API" in message
    assert "api_version='v1' (--api-version v1" in message
    assert len(requests) == 3  # fail_after rows, one at a time
    assert (caught.value.status["status"] != "ok").all()


@pytest.mark.parametrize(
    "options",
    [
        {"user": "alice", "password": "secret"},  # on premises: a SCRAM user
        {"api_key": "k", "auth_style": "x-auth-token"},
        {"api_key": "k", "schemaname": "orders", "schemaversion": "1"},
    ],
)
def test_auto_means_v1_without_asking_for_what_only_v1_has(options: dict) -> None:
    requests: list[tuple[str, bytes]] = []
    status = ROWS.es.produce(
        "t", url="https://es.example", engine=on_premises(requests), progress=False, **options
    )
    assert ok(status) and status.attrs["api_version"] == "v1"
    assert all("/v2/" not in url for url, _ in requests) and len(requests) == len(ROWS)
    assert "no v2 route" not in str(status.summary)


def test_a_producer_asks_for_the_v2_route_once() -> None:
    requests: list[tuple[str, bytes]] = []
    producer = Producer(url="https://es.example", api_key="k", engine=on_premises(requests))
    for _ in range(3):
        status = producer.produce(ROWS, "t", progress=False)
        assert ok(status) and status.attrs["api_version"] == "v1"
        assert "no v2 route" in str(status.summary)
    assert sum("/v2/" in url for url, _ in requests) == 1
    assert len(requests) == 1 + 3 * len(ROWS)
