"""Offsets under concurrent load, durability across kill -9, and persistence."""

from __future__ import annotations

import asyncio
import base64
import re
import signal
from collections import defaultdict

import aiohttp
import httpx
import pytest

from es_pandas import LocalEventStreams
from es_pandas.server import SQLiteStore, partition_for_key

from .conftest import start_server_process


async def _produce_concurrently(url: str, bodies: list[tuple[str | None, str]]) -> list[dict]:
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(key: str | None, value: str) -> dict:
            params = {"key": key} if key is not None else {}
            async with session.post(
                f"{url}/topics/t/records",
                data=value,
                params=params,
                headers={"Content-Type": "text/plain"},
            ) as response:
                assert response.status == 200, await response.text()
                return (await response.json())["metadata"]

        return await asyncio.gather(*(one(k, v) for k, v in bodies))


def test_offsets_under_concurrent_load_have_no_gap_and_no_repeat() -> None:
    bodies = [(f"key-{i % 37}" if i % 2 else None, f"value-{i}") for i in range(2000)]
    with LocalEventStreams(topics={"t": 3}, auth=False) as es:
        acks = asyncio.run(_produce_concurrently(es.url, bodies))
        records = es.read("t")
    by_partition = defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record.offset)
    assert sum(len(v) for v in by_partition.values()) == 2000
    for offsets in by_partition.values():
        assert offsets == list(range(len(offsets)))
    # every answer names the place where its own value was stored
    stored = {(r.partition, r.offset): r for r in records}
    for (key, value), ack in zip(bodies, acks, strict=False):
        record = stored[(ack["partition"], ack["offset"])]
        assert record.value == value.encode()
        if key is not None:
            assert ack["partition"] == partition_for_key(key.encode(), 3)


def test_records_survive_a_restart_on_the_same_file(tmp_path) -> None:
    db = str(tmp_path / "records.sqlite3")
    with LocalEventStreams(topics={"t": 2}, auth=False, db=db) as es:
        for i in range(5):
            httpx.post(f"{es.url}/topics/t/records", content=f"v{i}", params={"key": "k"})
    with LocalEventStreams(auth=False, db=db) as es:
        assert es.topics() == {"t": 2}
        ack = httpx.post(f"{es.url}/topics/t/records", content="v5", params={"key": "k"}).json()
        frame = es.records("t", decode=True)
    assert ack["metadata"]["offset"] == 5
    assert frame["value"].tolist() == [f"v{i}" for i in range(6)]


async def _load_until_killed(url: str, proc, kill_after: int) -> list[tuple[int, int, str]]:
    acked: list[tuple[int, int, str]] = []
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(worker_id: int) -> None:
            for i in range(10_000):
                value = f"w{worker_id}-{i}"
                try:
                    async with session.post(
                        f"{url}/topics/t/records",
                        data=value,
                        headers={"Content-Type": "text/plain"},
                    ) as response:
                        if response.status != 200:
                            return
                        metadata = (await response.json())["metadata"]
                except (TimeoutError, aiohttp.ClientError):
                    return
                acked.append((metadata["partition"], metadata["offset"], value))
                if len(acked) == kill_after:
                    proc.send_signal(signal.SIGKILL)

        await asyncio.gather(*(worker(w) for w in range(32)))
    return acked


def test_kill_9_loses_no_acknowledged_record(tmp_path) -> None:
    db = str(tmp_path / "records.sqlite3")
    proc, url = start_server_process("--no-auth", "--topic", "t:4", "--db", db)
    try:
        acked = asyncio.run(_load_until_killed(url, proc, kill_after=1500))
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert len(acked) >= 1500

    proc, url = start_server_process("--no-auth", "--db", db)
    try:
        stored = {
            (r["partition"], r["offset"]): base64.b64decode(r["value"]).decode()
            for r in httpx.get(f"{url}/_local/topics/t/records", timeout=30).json()
        }
        for partition, offset, value in acked:
            assert stored[(partition, offset)] == value
        # offsets go on from where the file left off
        ack = httpx.post(
            f"{url}/topics/t/records", content="after", headers={"Content-Type": "text/plain"}
        ).json()["metadata"]
        assert (ack["partition"], ack["offset"]) not in stored
    finally:
        proc.terminate()
        proc.wait(10)


async def _append_after_close(store: SQLiteStore) -> None:
    await store.start()
    record = await store.append("t", 0, None, b"v", ())
    assert record.offset == 0
    await store.close()


def test_store_can_be_used_directly() -> None:
    # The store keeps what it is given; topic checks are the server's job.
    asyncio.run(_append_after_close(SQLiteStore()))


@pytest.mark.parametrize("partitions", [1, 5])
def test_topics_created_at_run_time(partitions: int) -> None:
    with LocalEventStreams(auth=False) as es:
        es.create_topic("late", partitions)
        assert es.topics() == {"late": partitions}
        response = httpx.post(f"{es.url}/_local/topics", json={"name": "late"})
        assert response.status_code == 409
        response = httpx.post(f"{es.url}/_local/topics", json={"name": "api", "partitions": 2})
        assert response.status_code == 201
        assert httpx.get(f"{es.url}/_local/topics").json() == {"late": partitions, "api": 2}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (".", "Kafka forbids the topic names '.' and '..'"),
        ("..", "Kafka forbids the topic names '.' and '..'"),
        ("a/b c", "letters, digits, '.', '_' and '-', not ' /'"),
        ("t" * 201, "a topic name has 1 to 200 characters, not 201"),
    ],
)
def test_topics_kafka_or_ibm_cloud_forbids_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        LocalEventStreams(topics={name: 1}, auth=False)
    with LocalEventStreams(auth=False) as es:
        response = httpx.post(f"{es.url}/_local/topics", json={"name": name})
        assert response.status_code == 400
        assert reason in response.json()["error"]["message"]
        assert es.topics() == {}


def test_storage_failure_answers_503_and_loses_nothing_acknowledged(tmp_path) -> None:
    import sqlite3

    from starlette.testclient import TestClient

    from es_pandas.server import ServerConfig, create_app

    db = str(tmp_path / "records.sqlite3")
    app = create_app(
        ServerConfig(topics={"t": 1}, auth=False), store=SQLiteStore(db, busy_timeout=0.1)
    )
    with TestClient(app) as client:
        assert client.post("/topics/t/records", content="first").status_code == 200
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the file
        try:
            response = client.post("/topics/t/records", content="second")
            assert response.status_code == 503
            assert "storage unavailable" in response.json()["error"]["message"]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        ack = client.post("/topics/t/records", content="third").json()["metadata"]
        assert ack["offset"] == 1  # no gap where the failed write was
        values = [r["value"] for r in client.get("/_local/topics/t/records").json()]
    assert [base64.b64decode(v) for v in values] == [b"first", b"third"]
