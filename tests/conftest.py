from __future__ import annotations

import base64
import inspect
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from _es_pandas_cli import main
from es_pandas import LocalEventStreams
from tools.kafka_broker import free_port

API_KEY = "test-api-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalEventStreams]:
    """One local server per test module; tests that change faults clear them."""
    with LocalEventStreams(
        topics={"orders": 3, "single": 1, "secret": 1},
        api_key=API_KEY,
        users={"alice": "alice-password"},
        permissions={"alice": ["orders", "single"]},
        token_ttl=2,
    ) as es:
        yield es


@pytest.fixture
def es(server: LocalEventStreams) -> Iterator[LocalEventStreams]:
    server.clear_faults()
    server.reset_stats()
    yield server
    wait_until_answered(server)
    server.clear_faults()


def wait_until_answered(es: LocalEventStreams) -> None:
    """Until the server has answered every request that reached it. A test that stops
    its client mid-run (cancelled, or timed out before the latency it set) leaves
    requests the server answers later: they took the next test's scripted faults (a
    cancelled aproduce run twice saw its 503s go to the first run's requests), and
    counted in its stats and topics."""
    deadline = time.monotonic() + 60
    # "received" less "requests" is how many are being answered (a count reset while
    # some were makes it less)
    while (stats := es.stats()).get("received", 0) > stats.get("requests", 0):
        assert time.monotonic() < deadline, f"requests never answered: {stats}"
        time.sleep(0.005)


@pytest.fixture
def hour_tokens() -> Iterator[LocalEventStreams]:
    """A server of its own whose IAM tokens live an hour, as IBM's do, for tests that
    count token exchanges. The suite's live 2 s from a whole second, so a renewal comes
    due from 0.6 s after one is issued: a run that outlasted it on a loaded machine
    counted one exchange more."""
    with LocalEventStreams(topics={"single": 1}, api_key=API_KEY) as es:
        yield es


@pytest.fixture
def client(server: LocalEventStreams) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def start(
    *args: str, env: dict[str, str] | None = None, stdin: int | None = None
) -> subprocess.Popen[str]:
    """``es-pandas ARGS`` started in a subprocess as a shell starts a foreground job,
    SIGINT at its default: a job started in the background (a CI runner's) inherits it
    ignored, and would never see the test's Ctrl-C."""
    return subprocess.Popen(
        [sys.executable, "-m", "es_pandas", *args],
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_answers(es: LocalEventStreams, answered: int, proc: subprocess.Popen[str]) -> None:
    """Until the local server has answered ``answered`` rows: an event, not a clock.
    The server counts an answer before the client reads it: a Ctrl-C or SIGTERM then
    finds those rows in flight and waits for them (GRACE_SECONDS), but a cancel or a
    SIGKILL does not, so this says nothing of what the client had read."""
    deadline = time.monotonic() + 60
    while es.stats().get("200", 0) < answered:
        assert proc.poll() is None and time.monotonic() < deadline, "the load ended or stalled"
        time.sleep(0.005)


def run(
    *args: str, env: dict[str, str] | None = None, stdin: bytes | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``es-pandas ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "es_pandas", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def env(es: LocalEventStreams) -> dict[str, str]:
    # Secrets through the environment, never on the command line.
    return {"ES_PANDAS_URL": es.url, "ES_PANDAS_API_KEY": API_KEY}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cli_commands(
    command: click.Command = main, path: str = "es-pandas"
) -> Iterator[tuple[str, click.Command]]:
    """Every command of the command line, as typed (``es-pandas produce``), group or not."""
    yield path, command
    if isinstance(command, click.Group):
        context = click.Context(command, info_name=path)
        for name in command.list_commands(context):
            subcommand = command.get_command(context, name)
            assert subcommand is not None, name
            yield from cli_commands(subcommand, f"{path} {name}")


def help_examples(command: click.Command) -> list[str]:
    """The example command lines of a command's help: its indented lines naming es-pandas."""
    indented = re.findall(r"^ {2,}(\S.*)$", inspect.cleandoc(command.help or ""), re.M)
    return [line for line in indented if re.search(r"\bes-pandas\b", line)]


def start_server_process(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``es-pandas serve`` in a subprocess; returns it and its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "es_pandas",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode())  # type: ignore[union-attr]
        try:
            httpx.get(url + "/_local/topics", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """A running Kafka-protocol broker (see tools/kafka_broker.py)."""
    pytest.importorskip("confluent_kafka")
    from tools.kafka_broker import running_broker

    with running_broker(tmp_path_factory.mktemp("kafka") / "broker.log") as broker:
        yield broker


#: every HTTP engine; the engine tests run on each
ENGINES = ["aiohttp", "httpx"]


@dataclass(frozen=True)
class PKI:
    """A test CA, a server certificate for 127.0.0.1, a client certificate it signed and
    one it did not, as trustme objects and PEM files."""

    ca: Any
    server: Any
    ca_pem: str
    server_pem: str
    client_pem: str  # key and chain in one file
    client_cert: str
    client_key: str
    stranger_pem: str  # a client certificate from another CA


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> PKI:
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("producer@example.com")
    stranger = trustme.CA().issue_cert("stranger@example.com")
    files = {
        "ca_pem": ca.cert_pem,
        "server_pem": server.private_key_and_cert_chain_pem,
        "client_pem": client.private_key_and_cert_chain_pem,
        "client_cert": client.cert_chain_pems[0],
        "client_key": client.private_key_pem,
        "stranger_pem": stranger.private_key_and_cert_chain_pem,
    }
    paths = {}
    for name, blob in files.items():
        paths[name] = str(folder / f"{name}.pem")
        blob.write_to_path(paths[name])
    return PKI(ca=ca, server=server, **paths)


def pkcs12_bundle(path: Path, pem: str, password: str) -> str:
    """A user.p12: the key and certificate chain of the PEM file ``pem``, under
    ``password``, as Event Streams hands a KafkaUser's out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    blob = Path(pem).read_bytes()
    key = serialization.load_pem_private_key(blob, None)
    leaf, *chain = x509.load_pem_x509_certificates(blob)
    encryption = serialization.BestAvailableEncryption(password.encode())
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"user", key, leaf, chain, encryption)  # type: ignore[arg-type]
    )
    return str(path)


def truststore(path: Path, ca_pem: str, password: str) -> str:
    """An es-cert.p12: the CA certificate of the PEM file ``ca_pem`` as a Java
    truststore under ``password``, as Event Streams hands its cluster CA out."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = x509.load_pem_x509_certificate(Path(ca_pem).read_bytes())
    path.write_bytes(
        pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(ca, b"ca.crt")],
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    return str(path)
