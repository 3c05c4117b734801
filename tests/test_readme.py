"""Every code block in the README runs, so the README cannot rot; so does every example
in the command line's --help.

The first Python block runs alone, as a newcomer runs it: in an empty folder with no
credentials. Then Python blocks run in order in one namespace; shell blocks run line by line.
They run in a scratch folder holding what the README assumes the reader has from then on:
`service-key.json` (IBM's service-credentials shape, pointing at a local server),
`orders.csv` (the bundled sample), and what an on-premises cluster hands out: `es-cert.pem`,
a KafkaUser's `user.crt` and `user.key`, and its SCRAM password in `SCRAM_PASSWORD`. The
README's on-premises endpoint is an `onprem` local server: over TLS with the SCRAM user for
the Python blocks, over mutual TLS for the shell blocks (the local server's `client_ca`
requires a certificate).
Two kinds of shell line are not run here: `pip install ...` (the test environment is the
installed project) and the test command itself (it is what runs this test). `es-pandas
serve` runs in the background on a free port instead of the README's (and with the tests'
Kafka broker for `--bootstrap-servers`), until it answers; then it is stopped. The blocks
that use `protocol="kafka"` go to the tests' Kafka broker, named instead of the service key:
IBM Cloud signs in with SASL PLAIN, which the broker (Tansu) does not take. The --help
examples after the first `es-pandas produce` assume connection settings in the environment:
there `ES_PANDAS_CREDENTIALS=service-key.json`.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import httpx
import pandas as pd
import pytest

from es_pandas import LocalEventStreams, produce_file
from es_pandas._sample import SAMPLE
from es_pandas._status import STATUSES
from es_pandas._wire import EncodedRecord
from es_pandas._wire.records import RecordEncoder

from .conftest import cli_commands, free_port, help_examples

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
TEST_COMMAND = 'pip install -e ".[dev]" && python -m pytest'


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def test_the_test_command_is_what_ci_runs() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert TEST_COMMAND in blocks("bash")[0]
    assert TEST_COMMAND in ci.splitlines()


def test_the_readme_has_only_runnable_blocks() -> None:
    languages = {lang for lang, _ in BLOCK.findall(README.read_text())}
    assert languages <= {"bash", "python"}


#: the on-premises endpoint the README's examples name; an onprem server stands in
ONPREM_URL = "https://es-rest-producer.apps.example.com"
SCRAM_PASSWORD = "scram-password-0123456789"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, pki, monkeypatch_module):
    folder = tmp_path_factory.mktemp("readme")
    # what an on-premises cluster hands out: its CA, and a KafkaUser's certificate
    shutil.copy(pki.ca_pem, folder / "es-cert.pem")
    user = pki.ca.issue_cert("my-user.example", common_name="my-user")
    user.cert_chain_pems[0].write_to_path(folder / "user.crt")
    user.private_key_pem.write_to_path(folder / "user.key")
    monkeypatch_module.setenv("SCRAM_PASSWORD", SCRAM_PASSWORD)
    onprem = {
        "profile": "onprem",
        "topics": {"orders": 3},
        "users": {"my-user": SCRAM_PASSWORD},
        "ssl_certfile": pki.server_pem,
        "ssl_keyfile": pki.server_pem,
    }
    with (
        LocalEventStreams(topics={"orders": 3}) as es,
        LocalEventStreams(**onprem) as scram,
        LocalEventStreams(**onprem, client_ca=pki.ca_pem) as mtls,
    ):
        (folder / "service-key.json").write_text(json.dumps(es.credentials))
        shutil.copy(SAMPLE, folder / "orders.csv")
        yield folder, es, Onprem(scram, mtls)


class Onprem(NamedTuple):
    """The README's on-premises endpoint, as its Python and its shell blocks meet it."""

    scram: LocalEventStreams
    mtls: LocalEventStreams


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_first_python_block_runs_on_a_fresh_machine(tmp_path) -> None:
    """The first example is copied and pasted before anything else is set up: a fresh
    interpreter in an empty folder, no ES_PANDAS_* variables, no credentials file."""
    (tmp_path / "first.py").write_text(blocks("python")[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ES_PANDAS_")}
    result = subprocess.run(
        [sys.executable, "first.py"],
        cwd=tmp_path,
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 ok in "), result.stdout
    assert "A-1" in result.stdout  # what the local server stored
    assert [p.name for p in tmp_path.iterdir()] == ["first.py"]


def _kafka_stand_in(block: str, kafka) -> str:
    """A block that uses the Kafka protocol, sent to the tests' broker (see above)."""
    if 'protocol="kafka"' not in block and "--protocol kafka" not in block:
        return block
    _ensure_topic(kafka, "orders")
    block = block.replace(
        'credentials="service-key.json"', f'bootstrap_servers="{kafka.bootstrap}"'
    )
    return block.replace("--credentials service-key.json", f"--bootstrap-servers {kafka.bootstrap}")


def _ensure_topic(kafka, name: str) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    try:
        admin.create_topics([NewTopic(name, 3)])[name].result(10)
    except KafkaException as exc:
        if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise


def test_python_blocks(scratch, kafka, monkeypatch) -> None:
    folder, es, onprem = scratch
    monkeypatch.chdir(folder)
    namespace: dict[str, object] = {"__name__": "readme"}
    for number, block in enumerate(blocks("python")):
        block = _kafka_stand_in(block.replace(ONPREM_URL, onprem.scram.url), kafka)
        try:
            exec(compile(block, f"README python block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"README python block {number} failed:\n{block}") from exc
    assert len(es.read("orders")) >= 3
    assert len(onprem.scram.read("orders")) >= 3


def _shell_lines(block: str) -> list[str]:
    lines = []
    for line in block.splitlines():
        if not line.strip() or line.strip() == TEST_COMMAND:
            continue
        lines.append(re.sub(r"pip install [^&]*&& ", "", line))
    return lines


def _shell_env(**variables: str) -> dict[str, str]:
    # the console scripts of the Python running the tests, as an activated venv has them
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "CI": "true", "PATH": path, **variables}


def _run_line(line: str, folder: Path, env: dict[str, str], kafka) -> None:
    if line.startswith("es-pandas serve"):
        _serve(line.replace("127.0.0.1:9092", kafka.bootstrap), folder, env)
        return
    result = subprocess.run(
        line, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{line}\n{result.stderr}"


def test_shell_blocks(scratch, kafka) -> None:
    folder, _, onprem = scratch
    env = _shell_env()
    for block in blocks("bash"):
        block = _kafka_stand_in(block.replace(ONPREM_URL, onprem.mtls.url), kafka)
        for line in _shell_lines(block):
            _run_line(line, folder, env, kafka)
    assert len(onprem.mtls.read("orders")) >= 3000


def test_help_examples(scratch, kafka) -> None:
    folder, *_ = scratch
    env = _shell_env(ES_PANDAS_CREDENTIALS="service-key.json")
    examples = [line for _, command in cli_commands() for line in help_examples(command)]
    for line in dict.fromkeys(examples):  # once each, in order
        _run_line(line, folder, env, kafka)


def _serve(line: str, folder: Path, env: dict[str, str]) -> None:
    port = free_port()
    command = re.sub(r"--port \d+", f"--port {port}", line)
    if command == line:
        command += f" --port {port}"
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=folder,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert f":{port}" in proc.stderr.readline()
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                httpx.get(f"http://127.0.0.1:{port}/_local/topics", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{command} never answered"
                time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_the_retry_idiom_sends_again_what_resume_does(scratch, monkeypatch) -> None:
    """The README's Python retry sends again the rows `--resume` sends again (failed,
    rejected, not_sent), not the unknown ones, which may be in Kafka already; its block
    for sending those anyway flags them maybe_duplicate, as `--retry-unknown` does."""
    folder, es, _ = scratch
    monkeypatch.chdir(folder)
    [retry] = [block for block in blocks("python") if "status.update(retry)" in block]
    [resend] = [block for block in blocks("python") if "status.update(resent)" in block]
    orders = pd.DataFrame({"order_id": list(STATUSES), "amount": range(5)})
    orders.to_csv("resume-orders.csv", index=False)
    pd.DataFrame({"row": range(5), "status": list(STATUSES)}).to_csv("resume.csv", index=False)

    def sent(produce: Callable[[], object]) -> list[str]:
        before = {(r.partition, r.offset) for r in es.read("orders")}
        produce()
        return sorted(
            r.key.decode() for r in es.read("orders") if (r.partition, r.offset) not in before
        )

    options = {"key_col": "order_id", "credentials": "service-key.json", "progress": False}
    resumed = sent(
        lambda: produce_file("resume-orders.csv", "orders", resume="resume.csv", **options)
    )
    status = orders.es.produce("orders", **options)
    status["status"] = pd.Categorical(list(STATUSES), dtype=status["status"].dtype)
    namespace = {"orders": orders, "status": status}
    assert sent(lambda: exec(retry, namespace)) == resumed == ["failed", "not_sent", "rejected"]
    assert sent(lambda: exec(resend, namespace)) == ["unknown"]
    assert (status["status"] == "ok").all()
    assert status["maybe_duplicate"].tolist() == [False, False, True, False, False]


def test_the_value_policy_shows_how_timedeltas_are_sent() -> None:
    """The README's value policy gives the exact wire form of timedeltas, negative and
    nanosecond ones included: each example is what the encoder sends."""
    policy = README.read_text().partition("### Value policy")[2].partition("\n## ")[0]
    spans = pd.to_timedelta(["1 days 2 hours 3 min 4.5 s", "1 ns", "-1 ns", "-1.5 s"])
    frame = pd.DataFrame({"span": spans})
    for record in RecordEncoder("t", ["span"], api_version="v1").encode(frame, 0):
        assert isinstance(record, EncodedRecord)
        text = json.loads(record.body)["span"]
        assert f"`{text}`" in policy, text


def test_readme_lists_every_environment_variable() -> None:
    import es_pandas

    text = README.read_text()
    for name in es_pandas.ENVIRONMENT_VARIABLES:
        assert name in text, name


def test_the_options_table_is_the_declaration() -> None:
    """The README's option table is what tools/readme_options.py makes of the one
    declaration of options: a new or changed option shows here or this fails."""
    spec = importlib.util.spec_from_file_location(
        "readme_options", README.parent / "tools" / "readme_options.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.block() in README.read_text(), "run: python tools/readme_options.py"


def test_the_examples_help_shows_for_produce_run_as_written() -> None:
    doc = pd.DataFrame().es.produce.__doc__
    assert doc is not None and "Examples" in doc
    runner = doctest.DocTestRunner()
    runner.run(doctest.DocTestParser().get_doctest(doc, {}, "df.es.produce", None, 0))
    failed, attempted = runner.summarize(verbose=False)
    assert (failed, attempted) == (0, 6)
