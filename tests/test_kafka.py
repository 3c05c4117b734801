"""The whole path with a real Kafka-protocol broker: DataFrame -> es_pandas -> local
server (as a REST gateway) -> broker -> a confluent-kafka consumer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import httpx
import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas import LocalEventStreams, Retry
from es_pandas.server import partition_for_key
from es_pandas.server._kafka import read_topic

from .conftest import free_port, start_server_process


def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def gateway(kafka):
    """``es-pandas serve --bootstrap-servers`` in its own process (no auth, for brevity)."""
    proc, url = start_server_process(
        "--no-auth",
        "--bootstrap-servers",
        kafka.bootstrap,
        "--kafka-config",
        "message.timeout.ms=2500",
        "--max-value-bytes",
        "2000000",
        "--kafka-config",
        "message.max.bytes=200000",
    )
    yield url
    proc.terminate()
    proc.wait(30)


def create(url: str, topic: str, partitions: int) -> None:
    response = httpx.post(f"{url}/_local/topics", json={"name": topic, "partitions": partitions})
    assert response.status_code == 201, response.text


def consume(kafka, topic: str) -> list:
    return read_topic({"bootstrap.servers": kafka.bootstrap}, topic, idle_seconds=2.0)


def rows(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "key": [f"customer-{i % 997}" for i in range(n)],
            "amount": rng.random(n),
            "note": [None if i % 11 == 0 else f"note {i} ✓" for i in range(n)],
            "source": "es_pandas-test",
            "batch": [f"b{i // 1000}" for i in range(n)],
        }
    )


@pytest.mark.parametrize("api_version", ["v1", "v2"])
def test_20000_rows_arrive_exactly_as_sent(kafka, gateway, api_version: str) -> None:
    topic = topic_name()
    create(gateway, topic, 4)
    frame = rows(20_000)
    status = frame.es.produce(
        topic,
        key_col="key",
        value_cols=["id", "amount", "note"],
        header_cols=["source", "batch"],
        url=gateway,
        api_version=api_version,
        concurrency=64,
        progress=False,
    )
    assert (status["status"] == "ok").all(), status.summary
    records = consume(kafka, topic)
    assert len(records) == 20_000
    by_id = {json.loads(r.value)["id"]: r for r in records}
    assert len(by_id) == 20_000  # nothing doubled
    for row, place in zip(frame.itertuples(), status.itertuples(), strict=True):
        record = by_id[row.id]
        assert record.key == row.key.encode()
        value = json.loads(record.value)
        note = None if pd.isna(row.note) else row.note
        assert value == {"id": row.id, "amount": row.amount, "note": note}
        assert record.headers == (("source", b"es_pandas-test"), ("batch", row.batch.encode()))
        assert (record.partition, record.offset) == (place.partition, place.offset)
        assert record.partition == partition_for_key(record.key, 4)


def test_keyed_placement_is_the_same_as_sqlite_mode(kafka, gateway) -> None:
    topic = topic_name()
    create(gateway, topic, 6)
    frame = pd.DataFrame({"k": [f"user-{i}" for i in range(300)], "v": range(300)})
    via_kafka = frame.es.produce(topic, key_col="k", url=gateway, progress=False)
    with LocalEventStreams(topics={topic: 6}, auth=False) as es:
        via_sqlite = frame.es.produce(topic, key_col="k", url=es.url, progress=False)
    assert via_kafka["partition"].tolist() == via_sqlite["partition"].tolist()
    placed = {r.key.decode(): r.partition for r in consume(kafka, topic)}
    assert all(placed[k] == partition_for_key(k.encode(), 6) for k in frame["k"])


def test_answers_carry_kafkas_own_metadata(kafka, gateway) -> None:
    topic = topic_name()
    create(gateway, topic, 1)
    before = time.time() * 1000
    answer = httpx.post(
        f"{gateway}/topics/{topic}/records", content="hello", headers={"Content-Type": "text/plain"}
    ).json()["metadata"]
    record = consume(kafka, topic)[0]
    assert (answer["partition"], answer["offset"]) == (record.partition, record.offset)
    assert int(answer["timestamp"]) == record.timestamp >= before - 1000


def test_unknown_topic_fails_fast(gateway) -> None:
    httpx.delete(f"{gateway}/_local/stats")
    with pytest.raises(es_pandas.TopicNotFoundError):
        rows(1000).es.produce("no-such-topic", url=gateway, progress=False, concurrency=32)
    # the v2 route check, then the probe rows
    assert httpx.get(f"{gateway}/_local/stats").json()["requests"] <= 4


def test_kafka_errors_map_to_rest_statuses(gateway) -> None:
    topic = topic_name()
    create(gateway, topic, 1)
    # over the producer's message.max.bytes (set to 200000 for this gateway)
    response = httpx.post(
        f"{gateway}/topics/{topic}/records",
        content=b"x" * 300_000,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["kafka_error_code"] == 10


def test_faults_and_a_stopped_broker_leave_every_row_accounted_for(kafka, gateway) -> None:
    if kafka.process is None:
        pytest.skip("pausing the broker needs the tests' own broker")
    topic = topic_name()
    create(gateway, topic, 3)
    httpx.put(
        f"{gateway}/_local/faults",
        json={
            "rates": {"503": 0.04, "drop": 0.02, "drop+written": 0.02, "500+written": 0.02},
            "retry_after": 0,
            "seed": 9,
        },
    )
    httpx.delete(f"{gateway}/_local/stats")
    frame = pd.DataFrame({"id": range(4000), "k": [f"k{i % 50}" for i in range(4000)]})
    events = []

    def progress(event) -> None:
        events.append(event)
        if len(events) == 5:  # about a second in: freeze the broker for a while
            kafka.process.send_signal(signal.SIGSTOP)
        if len(events) == 25:
            kafka.process.send_signal(signal.SIGCONT)

    try:
        status = frame.es.produce(
            topic,
            key_col="k",
            url=gateway,
            progress=progress,
            concurrency=32,
            retries=Retry(retries=3, backoff=0.2, max_backoff=1.0),
            timeout=10,
            max_rate=800,
        )
    finally:
        kafka.process.send_signal(signal.SIGCONT)
        httpx.delete(f"{gateway}/_local/faults")
    answers = httpx.get(f"{gateway}/_local/stats").json()
    assert answers.get("408", 0) > 0  # the frozen broker's deliveries timed out
    copies = Counter(json.loads(r.value)["id"] for r in consume(kafka, topic))
    counts = status["status"].value_counts()
    assert status["status"].isin(["ok", "failed", "unknown"]).all()  # every row definite
    assert counts["ok"] > 3000
    for row, place in zip(frame.itertuples(), status.itertuples(), strict=True):
        n = copies.get(row.id, 0)
        if place.status == "ok":
            assert n >= 1, row.id
            assert n == 1 or place.maybe_duplicate, (row.id, n)
        elif place.status == "failed":
            assert n == 0, (row.id, place.error)
    extra = sum(n - 1 for n in copies.values() if n > 1)
    flagged = int(status["maybe_duplicate"].sum()) + int(counts.get("unknown", 0))
    assert extra <= 4 * flagged  # every extra copy belongs to a row that reports ambiguity
    assert extra > 0  # the written faults did make duplicates, and they were flagged


def serve_without_kafka(*args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    address = f"127.0.0.1:{free_port()}"  # bound and closed: nothing listens there
    result = subprocess.run(
        [
            *(sys.executable, "-m", "es_pandas", "serve", "--port", "0", "--no-auth"),
            *("--bootstrap-servers", address, *args),
        ],
        capture_output=True,
        text=True,
        timeout=20,  # librdkafka reports a refused connection at once; no wait for a timeout
    )
    return result, address


def test_serve_without_a_reachable_kafka_says_so_in_one_line() -> None:
    pytest.importorskip("confluent_kafka")
    result, address = serve_without_kafka()
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()  # no banner, no librdkafka log, no traceback
    assert line.startswith(f"Error: cannot reach Kafka at {address} ("), line
    assert "Connection refused" in line and "--kafka-config" in line


def test_librdkafkas_log_is_shown_when_asked_for() -> None:
    pytest.importorskip("confluent_kafka")
    result, address = serve_without_kafka("--log-level", "debug")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert any("rdkafka" in line and address in line for line in lines[:-1])
    assert lines[-1].startswith(f"Error: cannot reach Kafka at {address} (")


def test_the_readme_consumer_recipe_drops_duplicates_by_record_id(kafka, gateway) -> None:
    from confluent_kafka import Consumer, TopicPartition

    from .test_readme import blocks

    [recipe] = [block for block in blocks("python") if "def unique_messages" in block]
    namespace: dict[str, object] = {}
    exec(compile(recipe, "README consumer recipe", "exec"), namespace)
    topic = topic_name()
    create(gateway, topic, 1)
    # each written, then answered 500: the retry writes a second copy next to the first
    httpx.put(
        f"{gateway}/_local/faults", json={"script": ["500+written", "ok"] * 2, "retry_after": 0}
    )
    try:
        status = pd.DataFrame({"id": range(5)}).es.produce(
            topic, url=gateway, record_id="hash", concurrency=1, progress=False
        )
    finally:
        httpx.delete(f"{gateway}/_local/faults")
    assert (status["status"] == "ok").all() and status["maybe_duplicate"].sum() == 2
    assert [json.loads(r.value)["id"] for r in consume(kafka, topic)] == [0, 0, 1, 1, 2, 3, 4]
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": topic, "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        unique = namespace["unique_messages"](consumer)  # type: ignore[operator]
        messages = [next(unique) for _ in range(5)]
    finally:
        consumer.close()
    assert [json.loads(m.value())["id"] for m in messages] == [0, 1, 2, 3, 4]
    ids = [dict(m.headers())["es-pandas-record-id"].decode() for m in messages]
    assert ids == status["record_id"].tolist()
