"""``protocol="kafka"``: rows written with the Kafka protocol (confluent-kafka) to a real
Kafka-protocol broker (Tansu), then read back with a consumer.

Tansu takes SASL SCRAM but not PLAIN (what IBM Cloud's API keys use): PLAIN is checked
as the settings librdkafka is given, not against a broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailed,
    ProduceAborted,
    Producer,
    ServiceUnavailable,
    TopicNotFoundError,
)
from es_pandas._cli._options import cli_words
from es_pandas._config import resolve
from es_pandas.server._kafka import read_topic

from .conftest import run, start
from .test_kafka import create, gateway  # noqa: F401 - the REST gateway fixture

pytest.importorskip("confluent_kafka")


def new_topic(kafka, partitions: int = 3) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"k-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(name, partitions)])[name].result(10)
    return name


def consume(kafka, topic: str) -> list:
    return read_topic({"bootstrap.servers": kafka.bootstrap}, topic, idle_seconds=1.5)


def orders(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "order_id": [f"{i:07d}" for i in range(n)],
            "customer": [f"{i % 613:05d}" for i in range(n)],
            "amount": rng.random(n),
            "qty": pd.array([None if i % 13 == 0 else i % 50 for i in range(n)], "Int64"),
            "note": [None if i % 11 == 0 else f"note {i} ✓" for i in range(n)],
            "region": [["eu", "us", "ap"][i % 3] for i in range(n)],
        }
    )


def test_50000_rows_land_once_each_where_the_status_frame_says(kafka) -> None:
    topic = new_topic(kafka, partitions=4)
    frame = orders(50_000)
    status = frame.es.produce(
        topic,
        key_col="customer",
        header_cols=["region"],
        record_id="order_id",
        protocol="kafka",
        bootstrap_servers=kafka.bootstrap,
        progress=False,
    )
    assert status.summary.counts["ok"] == len(frame), status.summary.why()
    assert status.index.equals(frame.index)
    assert status.attrs["api_version"] == "kafka"
    assert not status["maybe_duplicate"].any()
    assert status["http_status"].isna().all()  # not HTTP: no status code to show

    records = consume(kafka, topic)
    assert len(records) == len(frame)
    by_place = {(r.partition, r.offset): r for r in records}
    assert len(by_place) == len(frame)
    for row, (partition, offset) in enumerate(
        zip(status["partition"], status["offset"], strict=True)
    ):
        record = by_place[(partition, offset)]
        assert record.key == frame["customer"][row].encode()  # "00042" stays "00042"
        assert dict(record.headers)["region"] == frame["region"][row].encode()
        assert dict(record.headers)["es-pandas-record-id"] == frame["order_id"][row].encode()
        value = json.loads(record.value)
        assert value["order_id"] == frame["order_id"][row]
        assert value["qty"] == (None if pd.isna(frame["qty"][row]) else int(frame["qty"][row]))
    # Kafka's own per-key order: the rows of a key are written in row order
    for _, rows in status.groupby(frame["customer"]):
        assert rows["partition"].nunique() == 1
        assert rows["offset"].is_monotonic_increasing
    assert set(status["record_id"]) == set(frame["order_id"])


def test_a_row_lands_as_the_same_record_over_rest_and_over_kafka(kafka, gateway) -> None:  # noqa: F811
    """The value policy is one: the REST gateway (v1 and v2) and the Kafka protocol
    write the same key, value and headers for every row."""
    frame = pd.DataFrame(
        {
            "k": ["00042", "a/b c", "ü"],
            "when": pd.to_datetime(["2024-01-02 03:04:05.123456", None, "2024-06-30 00:00:00.5"]),
            "big": [2**63 - 1, -(2**53) - 1, 0],
            "ratio": [0.1, float("nan"), 1e300],
            "tags": [["x", 1], {"a": None}, []],
            "h": ["one", None, "three"],
        }
    )
    options = {"key_col": "k", "header_cols": ["h"], "record_id": "hash", "progress": False}
    landed = {}
    for how in ("v1", "v2", "kafka"):
        topic = f"same-{how}-{uuid.uuid4().hex[:6]}"
        create(gateway, topic, 1)
        if how == "kafka":
            status = frame.es.produce(
                topic, protocol="kafka", bootstrap_servers=kafka.bootstrap, **options
            )
        else:
            status = frame.es.produce(topic, url=gateway, api_version=how, **options)
        assert status.summary.counts["ok"] == 3, status.summary.why()
        landed[how] = [(r.key, r.value, r.headers) for r in consume(kafka, topic)]
        landed[how].append(status["record_id"].tolist())
    assert landed["kafka"] == landed["v1"] == landed["v2"]


def test_a_key_lands_in_the_partition_the_rest_api_puts_it_in(kafka, es) -> None:
    """Kafka's murmur2 placement, as IBM's REST producer and Java clients: a load that
    switches protocol keeps each key in one partition, and so in order."""
    frame = orders(300)
    options = {"key_col": "customer", "progress": False}
    rest = frame.es.produce("orders", credentials=es.credentials, **options)
    topic = new_topic(kafka, partitions=3)
    kafka_status = frame.es.produce(
        topic, protocol="kafka", bootstrap_servers=kafka.bootstrap, **options
    )
    assert (rest["status"] == "ok").all() and (kafka_status["status"] == "ok").all()
    assert kafka_status["partition"].tolist() == rest["partition"].tolist()
    placed = {(r.key.decode(), r.partition) for r in consume(kafka, topic)}
    assert placed == set(zip(frame["customer"], rest["partition"], strict=True))


def test_a_row_kafka_cannot_take_is_rejected_and_the_others_go(kafka, tmp_path) -> None:
    topic = new_topic(kafka, partitions=1)
    frame = pd.DataFrame({"v": ["small", "x" * 30_000, "also small"]})
    status = frame.es.produce(
        topic,
        value_col="v",
        protocol="kafka",
        bootstrap_servers=kafka.bootstrap,
        kafka_config={"message.max.bytes": 20_000},
        dead_letter=str(tmp_path / "dead.jsonl"),
        progress=False,
    )
    assert status["status"].tolist() == ["ok", "rejected", "ok"]
    assert "over the" in status["error"][1] and "message.max.bytes" in status["error"][1]
    assert [r.value for r in consume(kafka, topic)] == [b"small", b"also small"]
    [dead] = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert dead["v"] == "x" * 30_000 and dead["status"] == "rejected"


def test_dead_letters_that_cannot_be_written_stop_the_run_and_say_why(kafka, tmp_path) -> None:
    """A chunk's dead letters are written as Kafka's reports come in: a file that
    cannot take them (a Parquet column of one type, then another) ends the run with
    why, as over REST, not in asyncio's log with the run said to be fine."""
    pytest.importorskip("pyarrow")
    rows = 4_000
    frame = pd.DataFrame(
        {
            "k": [None if i % 2 else "a" for i in range(rows)],  # every other row rejected
            "v": [i if i < rows // 2 else f"s{i}" for i in range(rows)],
        }
    )
    with pytest.raises(ProduceAborted, match=r"cannot write the dead letters.*jsonl"):
        frame.es.produce(
            new_topic(kafka, partitions=1),
            key_col="k",
            protocol="kafka",
            bootstrap_servers=kafka.bootstrap,
            dead_letter=str(tmp_path / "dead.parquet"),
            chunksize=1_000,
            progress=False,
        )


def test_a_journal_that_cannot_be_written_leaves_no_row_kafka_has_as_not_sent(
    kafka, tmp_path, monkeypatch
) -> None:
    """A full disk mid-load: the records already handed to Kafka are still reported,
    so their rows end as Kafka says (ok), never not_sent; the row the journal could not
    mark, and those after it, were never sent."""
    from es_pandas import _journal

    path = tmp_path / "rows.csv"
    pd.DataFrame({"k": [f"k{i:04d}" for i in range(2_000)], "v": range(2_000)}).to_csv(
        path, index=False
    )
    marked: list[int] = []
    real_sending = _journal.Journal.sending

    def sending_until_the_disk_is_full(self, row: int) -> None:
        if len(marked) == 1_250:
            raise OSError(28, "No space left on device")
        marked.append(row)
        real_sending(self, row)

    monkeypatch.setattr(_journal.Journal, "sending", sending_until_the_disk_is_full)
    topic = new_topic(kafka)
    with pytest.raises(ProduceAborted, match="No space left") as caught:
        es_pandas.produce_file(
            path,
            topic,
            key_col="k",
            protocol="kafka",
            bootstrap_servers=kafka.bootstrap,
            status_out=str(tmp_path / "status.csv"),
            chunksize=500,
            progress=False,
        )
    status = pd.read_csv(tmp_path / "status.csv").set_index("row")["status"]
    raised = caught.value.status["status"]
    assert (status[raised.index] == raised).all()
    in_kafka = {record.key.decode() for record in consume(kafka, topic)}
    assert in_kafka == {f"k{row:04d}" for row in marked}
    assert (status[marked] == "ok").all()
    assert (status.drop(marked) == "not_sent").all()


def test_an_unknown_topic_stops_the_run_before_any_row(kafka) -> None:
    with pytest.raises(TopicNotFoundError, match="does not exist") as caught:
        orders(10).es.produce(
            "no-such-topic-" + uuid.uuid4().hex[:6],
            protocol="kafka",
            bootstrap_servers=kafka.bootstrap,
            progress=False,
        )
    assert (caught.value.status["status"] == "not_sent").all()


def test_a_topic_name_kafka_cannot_have_is_refused_before_the_broker_is_asked(kafka) -> None:
    # the rule REST runs check too (Kafka's own answer was TopicNotFoundError, "Invalid topic")
    message = "topic 'no such/topic!' cannot exist: Kafka's topic names are ASCII letters"
    with pytest.raises(es_pandas.ConfigurationError, match=message):
        orders(3).es.produce(
            "no such/topic!",
            protocol="kafka",
            bootstrap_servers=kafka.bootstrap,
            timeout=60,
            progress=False,
        )


def test_runs_stopped_before_any_row_leave_their_producers(kafka) -> None:
    """Runs that stop at the topic check (no such topic) with settings of their own:
    each leaves its producer, so that the process keeps at most a few of them, each
    with its poll thread (a run left in one kept it, and its thread, for good)."""
    for linger in range(8):
        with pytest.raises(TopicNotFoundError):
            orders(1).es.produce(
                "no-such-topic-" + uuid.uuid4().hex[:6],
                protocol="kafka",
                bootstrap_servers=kafka.bootstrap,
                kafka_config={"linger.ms": linger},
                progress=False,
            )
    polling = [thread for thread in threading.enumerate() if thread.name == "es-pandas-kafka"]
    assert len(polling) <= 4


def test_no_broker_fails_fast_with_the_reason() -> None:
    with pytest.raises(ConnectionFailed, match=r"127\.0\.0\.1:9.*Connection refused") as caught:
        orders(5).es.produce(
            "t", protocol="kafka", bootstrap_servers="127.0.0.1:9", timeout=60, progress=False
        )
    # a refused connection is known at once: the run does not wait out the timeout
    assert caught.value.summary.elapsed < 30


def test_tls_to_a_plaintext_listener_says_the_handshake_never_finished(kafka) -> None:
    # librdkafka's errors say only that every broker is down: why (a TLS handshake the
    # plaintext listener never answers) is in its log, which the message now quotes
    with pytest.raises(ConnectionFailed) as caught:
        orders(3).es.produce(
            "orders",
            protocol="kafka",
            bootstrap_servers=kafka.bootstrap,
            kafka_config={"security.protocol": "SSL", "socket.connection.setup.timeout.ms": 1000},
            timeout=10,
            progress=False,
        )
    assert re.search(
        "timed out in state SSL_HANDSHAKE: the broker never answered the TLS handshake, as "
        "a plaintext listener does not",
        str(caught.value),
    ), str(caught.value)


def test_an_http_server_as_a_broker_says_it_answered_http(es) -> None:
    """The REST URL's host:port as bootstrap_servers: librdkafka reads "HTTP" as the size
    of an answer and asked to raise receive.message.max.bytes."""
    with pytest.raises(ConnectionFailed) as caught:
        orders(3).es.produce(
            "orders",
            protocol="kafka",
            bootstrap_servers=es.url.removeprefix("http://"),
            timeout=10,
            progress=False,
        )
    assert "the server answered in HTTP, not the Kafka protocol" in str(caught.value), str(
        caught.value
    )
    assert "kafka_brokers_sasl" in str(caught.value)


def test_a_producer_that_reached_no_broker_stops_connecting() -> None:
    """It was kept for later runs, and went on connecting to the address (a test's HTTP
    server, filling later tests' logs) for as long as the process lived."""

    def polling() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == "es-pandas-kafka"]

    before = polling()
    with pytest.raises(ConnectionFailed):
        orders(1).es.produce(
            "t", protocol="kafka", bootstrap_servers="127.0.0.1:9", timeout=60, progress=False
        )
    assert polling() == before


@pytest.fixture
def silent_broker() -> Iterator[tuple[str, threading.Event]]:
    """An address that takes connections and never answers (a broker hung, or a
    firewall's black hole): its bootstrap, and an event set once a client connected."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    connected = threading.Event()
    held = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            held.append(listener.accept()[0])
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", connected
    finally:
        listener.close()
        for connection in held:
            connection.close()


def test_ctrl_c_while_connecting_ends_the_load_at_once(silent_broker, tmp_path) -> None:
    """Ctrl-C as the topic is looked up: the load ends then, not when the lookup's
    timeout (60 s here) is up."""
    bootstrap, connected = silent_broker
    path = tmp_path / "rows.csv"
    path.write_text("v\n1\n2\n")
    status_out = tmp_path / "status.csv"
    proc = start(
        *["produce", str(path), "--topic", "t", "--protocol", "kafka", "--timeout", "60"],
        *["--bootstrap-servers", bootstrap, "--status-out", str(status_out)],
    )
    assert connected.wait(30), "the load never connected"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    assert pd.read_csv(status_out)["status"].tolist() == ["not_sent", "not_sent"]


def test_a_run_cancelled_while_connecting_leaves_no_thread_behind(silent_broker) -> None:
    """aproduce cancelled as the topic is looked up: the lookup's thread ends with it
    (asyncio.run waits for it otherwise, for the timeout)."""
    bootstrap, connected = silent_broker
    producer = Producer(protocol="kafka", bootstrap_servers=bootstrap, timeout=60)

    async def cancelled() -> None:
        def progress(event: es_pandas.ProgressEvent) -> None:
            # a tick of the run's, on its loop, once the producer it made has connected:
            # the run is looking the topic up by then
            if connected.is_set():
                task.cancel()

        frame = pd.DataFrame({"v": [1]})
        task = asyncio.ensure_future(producer.aproduce(frame, "t", progress=progress))
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(), 10)

    asyncio.run(cancelled())


@pytest.fixture(scope="module")
def scram_broker(tmp_path_factory):
    from tools.kafka_broker import running_broker

    log = tmp_path_factory.mktemp("kafka-scram") / "broker.log"
    with running_broker(log, "--authentication") as broker:
        yield broker


def test_refused_credentials_stop_the_run_and_never_show_the_password(scram_broker) -> None:
    password = "s3cret-" + uuid.uuid4().hex
    with pytest.raises(AuthenticationError) as caught:
        orders(5).es.produce(
            "t",
            protocol="kafka",
            bootstrap_servers=scram_broker.bootstrap,
            user="nobody",
            password=password,
            kafka_config={"security.protocol": "SASL_PLAINTEXT"},
            progress=False,
        )
    assert "SCRAM" in str(caught.value)
    shown = str(caught.value) + caught.value.status.to_string()
    assert password not in shown


def test_a_connection_is_set_up_within_the_timeout() -> None:
    # as over REST (0.8 x timeout, TLS and SASL included): with librdkafka's own 30 s, a
    # shorter timeout ended the run before a handshake that never finishes said so
    options = {"protocol": "kafka", "bootstrap_servers": "b-0.example:9093"}
    settings = resolve([{**options, "timeout": 3}])
    assert settings.kafka is not None
    assert settings.kafka["socket.connection.setup.timeout.ms"] == 2400
    # librdkafka's least; and kafka_config's own wins
    assert (
        resolve([{**options, "timeout": 0.5}]).kafka["socket.connection.setup.timeout.ms"] == 1000
    )
    own = {"socket.connection.setup.timeout.ms": 7000}
    assert (
        resolve([{**options, "kafka_config": own}]).kafka["socket.connection.setup.timeout.ms"]
        == 7000
    )


def test_credentials_become_sasl_settings_that_are_never_shown(tmp_path) -> None:
    """IBM Cloud's service key as librdkafka's settings (no broker here speaks PLAIN)."""
    key = tmp_path / "service-key.json"
    key.write_text(
        json.dumps(
            {
                "api_key": "the-api-key",
                "kafka_brokers_sasl": ["b-0.example:9093", "b-1.example:9093"],
                "kafka_http_url": "https://example.eventstreams.cloud.ibm.com",
                "user": "token",
                "password": "the-api-key",
            }
        )
    )
    settings = resolve([{"credentials": str(key), "protocol": "kafka"}])
    assert settings.kafka is not None
    assert settings.kafka["bootstrap.servers"] == "b-0.example:9093,b-1.example:9093"
    assert settings.kafka["security.protocol"] == "SASL_SSL"
    assert settings.kafka["sasl.mechanism"] == "PLAIN"
    assert settings.kafka["sasl.username"] == "token"
    assert settings.kafka["sasl.password"] == "the-api-key"
    assert settings.kafka["enable.idempotence"] is True and settings.kafka["acks"] == "all"
    producer = Producer(credentials=str(key), protocol="kafka")
    assert "the-api-key" not in repr(producer) + repr(producer.settings)
    plan = pd.DataFrame({"v": [1]}).es.produce("t", producer=producer, dry_run=True)
    assert "the-api-key" not in plan.to_string()

    scram = resolve(
        [{"protocol": "kafka", "bootstrap_servers": "h:1", "user": "alice", "password": "pw"}]
    )
    assert scram.kafka is not None and scram.kafka["sasl.mechanism"] == "SCRAM-SHA-512"
    mine = resolve(
        [
            {
                "protocol": "kafka",
                "bootstrap_servers": "h:1",
                "user": "alice",
                "password": "pw",
                "kafka_config": {"sasl.mechanism": "SCRAM-SHA-256", "linger.ms": 50},
            }
        ]
    )
    assert mine.kafka is not None
    assert mine.kafka["sasl.mechanism"] == "SCRAM-SHA-256" and mine.kafka["linger.ms"] == 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs the Kafka brokers"),
        ({"bootstrap_servers": "h:1", "token": "t"}, "bearer token"),
        ({"bootstrap_servers": "h:1", "proxy": "http://p:3128"}, "HTTP proxy"),
        ({"bootstrap_servers": "nohost"}, "is not host:port"),
        (
            {"bootstrap_servers": "h:1", "kafka_config": {"bootstrap.servers": "x"}},
            "es_pandas' own",
        ),
        ({"bootstrap_servers": "h:1", "value_format": "avro"}, "protocol='rest'"),
        ({"bootstrap_servers": "h:1", "on_key_error": "hold"}, "cannot hold them back"),
        ({"bootstrap_servers": "h:1", "kafka_config": {"acks": 0}}, "acks=0 has the broker"),
        ({"bootstrap_servers": "h:1", "kafka_config": {"transactional.id": "t"}}, "transactions"),
        ({"bootstrap_servers": "h:1", "timeout": 1000}, "timeout from 0.001 to 900 s"),
        ({"bootstrap_servers": "h:1", "timeout": 900, "retries": 3000}, "900 x 3001"),
        (
            {"bootstrap_servers": "h:1", "kafka_config": ["request.required.acks=0"]},
            "request.required.acks=0",
        ),
    ],
)
def test_settings_kafka_cannot_use_fail_before_anything_is_read(options, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        pd.DataFrame({"v": [1]}).es.produce("t", protocol="kafka", progress=False, **options)


@pytest.mark.parametrize(
    ("kafka_config", "message"),
    [
        ({"no.such.setting": 1}, 'No such configuration property: "no.such.setting"'),
        ({"message.max.bytes": "abc"}, '"message.max.bytes"'),
        ({"acks": 1}, "`acks` must be set to `all` when `enable.idempotence` is true"),
        ({"security.protocol": "SSL", "ssl.ca.location": "/no/such/ca.pem"}, "ssl.ca.location"),
    ],
)
def test_settings_librdkafka_refuses_fail_when_the_producer_is_made(kafka_config, message) -> None:
    """Refused before anything is read, as a ConfigurationError naming the setting, not
    as a run stopped at its first row by librdkafka's exception."""
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Producer(protocol="kafka", bootstrap_servers="h:1", kafka_config=kafka_config)


@pytest.mark.parametrize(
    "kafka_config",
    [
        {"sasl.password": b"s3cret-in-bytes"},
        ["linger.ms=5", "sasl.password:s3cret-mistyped"],
        ["sasl.password=s3cret", 5],
        "sasl.password=s3cret-as-a-string",
    ],
)
def test_a_kafka_config_that_cannot_be_used_never_shows_its_values(kafka_config) -> None:
    with pytest.raises(ConfigurationError, match="kafka_config") as caught:
        pd.DataFrame({"v": [1]}).es.produce(
            "t", protocol="kafka", bootstrap_servers="h:1", kafka_config=kafka_config
        )
    assert "s3cret" not in str(caught.value)


def test_a_mistyped_kafka_config_flag_never_shows_its_value() -> None:
    result = run(
        *["produce", "-", "--topic", "t", "--protocol", "kafka", "--bootstrap-servers", "h:1"],
        *["--kafka-config", "sasl.password:s3cret"],
        stdin=b"v\n1\n",
    )
    assert result.returncode == 2 and "KEY=VALUE" in result.stderr, result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(
    "servers", ["token:s3cret@b-0.example:9093", ["b-0.example:9093", "kafka://u:s3cret@b-1:9093"]]
)
def test_credentials_in_the_broker_addresses_are_refused_unshown(servers) -> None:
    """User info as a REST URL takes it: as a broker it was taken for the host, and
    the password shown in the Producer's repr, the run's log line and its exception."""
    with pytest.raises(ConfigurationError, match="without user info") as caught:
        Producer(protocol="kafka", bootstrap_servers=servers)
    assert "s3cret" not in str(caught.value)
    # on the command line, each option as its flag (it read "--api-key ,")
    words = cli_words(str(caught.value))
    assert words.endswith("give the credentials as --api-key, or --user and --password")


def test_a_dry_run_shows_the_records_and_connects_to_nothing() -> None:
    frame = pd.DataFrame({"k": ["00042", None], "v": [1.5, 2.5], "h": ["x", "y"]})
    plan = frame.es.produce(
        "orders",
        key_col="k",
        header_cols=["h"],
        protocol="kafka",
        bootstrap_servers="127.0.0.1:9",
        dry_run=True,
    )
    assert plan.columns.tolist() == ["topic", "key", "headers", "value", "error"]
    assert plan.loc[0, "key"] == "00042" and plan.loc[0, "value"] == '{"v":1.5}'
    assert plan.loc[0, "headers"] == {"h": "x"}
    assert plan.loc[1, "error"] == "column 'k': null key"


def test_the_protocol_comes_from_the_environment(kafka, monkeypatch) -> None:
    topic = new_topic(kafka, partitions=1)
    monkeypatch.setenv("ES_PANDAS_PROTOCOL", "kafka")
    monkeypatch.setenv("ES_PANDAS_BOOTSTRAP_SERVERS", kafka.bootstrap)
    status = pd.DataFrame({"v": [1, 2]}).es.produce(topic, progress=False)
    assert status.summary.counts["ok"] == 2
    assert len(consume(kafka, topic)) == 2


@contextlib.contextmanager
def frozen_after(broker, ok: int) -> Iterator[Callable[[es_pandas.ProgressEvent], None]]:
    """A progress callable that freezes ``broker`` (SIGSTOP) once ``ok`` rows are ok:
    the moment is the run's, not a clock's. The broker runs again on leaving, and the
    run must have frozen it."""
    froze = threading.Event()

    def progress(event: es_pandas.ProgressEvent) -> None:
        if event.counts["ok"] >= ok and not froze.is_set():
            broker.process.send_signal(signal.SIGSTOP)
            froze.set()

    try:
        yield progress
    finally:
        broker.process.send_signal(signal.SIGCONT)
    assert froze.is_set()


def test_a_broker_stopped_mid_run_leaves_no_row_ok_that_is_not_in_kafka(tmp_path) -> None:
    """Tansu frozen (SIGSTOP) once 2,000 rows are written: the first records then in
    flight end unknown when their time is up, the run stops as ServiceUnavailable without
    waiting out the others' (unknown too), and every row it says ok is in the topic,
    where it says, once the broker is back."""
    from tools.kafka_broker import running_broker

    with running_broker(tmp_path / "broker.log") as broker:
        topic = new_topic(broker, partitions=2)
        frame = orders(20_000)
        with (
            frozen_after(broker, ok=2_000) as progress,
            pytest.raises(ServiceUnavailable, match="stopped writing") as caught,
        ):
            frame.es.produce(
                topic,
                key_col="order_id",
                protocol="kafka",
                bootstrap_servers=broker.bootstrap,
                # librdkafka gives a record 2 s; Tansu keeps no record it lost
                timeout=1,
                retries=1,
                max_rate=4_000.0,
                progress=progress,
            )
        status = caught.value.status
        counts = Counter(status["status"])
        assert counts["unknown"] > 0 and counts["not_sent"] > 0, counts
        assert set(counts) <= {"ok", "unknown", "not_sent"}
        errors = Counter(status["error"][status["status"] == "unknown"])
        # those sent in the second before the run stopped would have waited 2 s more
        assert errors["the run stopped before Kafka reported it: the record may have been written"]
        records = {(r.partition, r.offset): r.key for r in consume(broker, topic)}
        ok = status[status["status"] == "ok"]
        for row, partition, offset in zip(ok.index, ok["partition"], ok["offset"], strict=True):
            assert records[(partition, offset)] == frame["order_id"][row].encode()
        # an unknown row is there, or not: never twice
        assert len(records) == len(set(records.values()))


def test_after_a_run_the_broker_stopped_the_next_run_writes_again(tmp_path) -> None:
    """A run stopped because its records went unconfirmed (Tansu frozen past their
    time) leaves its producer to no later run: the one librdkafka had then was fenced
    by the broker on every record of every later run of the process."""
    from tools.kafka_broker import running_broker

    with running_broker(tmp_path / "broker.log") as broker:
        # the same settings for both runs: they share a producer unless it is left
        producer = Producer(
            protocol="kafka", bootstrap_servers=broker.bootstrap, timeout=2, retries=1
        )
        frame = orders(5_000)
        with (
            frozen_after(broker, ok=500) as freeze,
            pytest.raises(ServiceUnavailable, match="stopped writing"),
        ):
            producer.produce(frame, new_topic(broker), max_rate=2_000.0, progress=freeze)
        topic = new_topic(broker)
        status = producer.produce(frame, topic, progress=False)
        assert status.summary.counts["ok"] == len(frame), status.summary.why()
        assert len(consume(broker, topic)) == len(frame)


def test_a_calls_timeout_and_retries_hold_over_a_producers(tmp_path) -> None:
    """A Producer's call with its own timeout and retries: a record gets those (1 s
    here), not the Producer's (40 s), before it is unknown."""
    from tools.kafka_broker import running_broker

    with running_broker(tmp_path / "broker.log") as broker:
        producer = Producer(
            protocol="kafka", bootstrap_servers=broker.bootstrap, timeout=20, retries=1
        )
        with (
            frozen_after(broker, ok=500) as freeze,
            pytest.raises(ServiceUnavailable, match="stopped writing") as caught,
        ):
            producer.produce(
                orders(5_000),
                new_topic(broker),
                timeout=1,
                retries=0,
                max_rate=2_000.0,
                progress=freeze,
            )
        assert caught.value.summary.elapsed < 20


def test_the_cli_loads_over_kafka_and_resumes_an_interrupted_load(kafka, tmp_path) -> None:
    rows = 20_000
    path = tmp_path / "orders.csv"
    orders(rows).to_csv(path, index=False)
    topic = new_topic(kafka, partitions=2)
    status_out = tmp_path / "status.csv"
    env = {"ES_PANDAS_PROTOCOL": "kafka", "ES_PANDAS_BOOTSTRAP_SERVERS": kafka.bootstrap}
    proc = start(
        *["produce", str(path), "--topic", topic, "--key-col", "customer"],
        *["--status-out", str(status_out), "--max-rate", "3000", "--chunksize", "1000"],
        env=env,
    )
    # Interrupt mid-load, on an event (the broker holds 3,000 records), not a clock.
    watch_until_written(kafka, topic, 3_000, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    first = pd.read_csv(status_out, dtype={"status": str})
    assert 0 < (first["status"] == "ok").sum() < rows

    result = run(
        *["produce", str(path), "--topic", topic, "--key-col", "customer"],
        *["--protocol", "kafka", "--resume", str(status_out), "--status-out", str(status_out)],
        env={"ES_PANDAS_BOOTSTRAP_SERVERS": kafka.bootstrap},
    )
    final = pd.read_csv(status_out)
    assert result.returncode == int((final["status"] == "unknown").any()), result.stderr
    assert final["row"].tolist() == list(range(rows))
    written = Counter(json.loads(r.value)["order_id"] for r in consume(kafka, topic))
    unknown = set(final.loc[final["status"] == "unknown", "row"])
    for row in range(rows):
        if row not in unknown:
            assert written[f"{row:07d}"] == 1, (row, written[f"{row:07d}"])


def watch_until_written(kafka, topic: str, records: int, proc) -> None:
    """Until the topic holds ``records`` records (its partitions' end offsets)."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "watch"})
    try:
        deadline = time.monotonic() + 60
        while True:
            ends = [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                for p in (0, 1)
            ]
            if sum(ends) >= records:
                return
            assert proc.poll() is None and time.monotonic() < deadline, "the load ended or stalled"
    finally:
        consumer.close()


def test_every_broker_gone_mid_run_is_said_at_once(tmp_path, caplog) -> None:
    """Tansu killed once 2,000 rows are written: librdkafka waits out the records' time
    for a broker to come back (150 s at the defaults); the log says so at once."""
    from tools.kafka_broker import running_broker

    killed = threading.Event()
    with running_broker(tmp_path / "broker.log") as broker:
        topic = new_topic(broker, partitions=1)

        def progress(event: es_pandas.ProgressEvent) -> None:
            if event.counts["ok"] >= 2_000 and not killed.is_set():
                broker.process.kill()
                killed.set()

        with (
            caplog.at_level(logging.WARNING, logger="es_pandas"),
            pytest.raises(ServiceUnavailable),
        ):
            orders(20_000).es.produce(
                topic,
                protocol="kafka",
                bootstrap_servers=broker.bootstrap,
                timeout=1,
                retries=1,
                max_rate=4_000.0,
                progress=progress,
            )
    assert killed.is_set()
    assert re.search(
        r"every Kafka broker at .* is unreachable \(.*\): the records in flight wait up to 2 s",
        caplog.text,
    ), caplog.text


def test_a_producers_max_rate_caps_its_kafka_calls_together(kafka) -> None:
    """The README's Producer caps its calls together by its max_rate: over REST it did,
    and over Kafka each call kept a rate of its own (4 calls at once under max_rate=20
    wrote their 40 rows in half a second)."""
    import concurrent.futures
    import time

    topic = new_topic(kafka, partitions=1)
    producer = Producer(
        protocol="kafka", bootstrap_servers=kafka.bootstrap, max_rate=20, progress=False
    )
    producer.produce(orders(1), topic)  # librdkafka connected, and a first record at once
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        statuses = list(pool.map(lambda _: producer.produce(orders(10), topic), range(4)))
    assert all((status["status"] == "ok").all() for status in statuses)
    assert time.monotonic() - started >= 39 / 20
