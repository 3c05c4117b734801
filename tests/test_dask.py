"""ddf.es.produce on a dask.distributed cluster of two worker processes, against the
local server: every row once, statuses on the input's partitions, failing partitions
that keep the others' statuses, credentials out of the graph, one Producer per worker
process, and nothing sent before a lazy status is computed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas import ConfigurationError, LocalEventStreams, ProduceError, StatusFrame, Summary
from es_pandas._status import FAILED, REJECTED, STATUS_COLUMNS, StatusBook

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

SECRET = "dask-secret-key-0123456789"
ROWS = 240
PARTITIONS = 6


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def server():
    with LocalEventStreams(api_key=SECRET) as es:
        yield es


@pytest.fixture
def es(server, request):
    """The server, with a topic of this test's own, counts reset."""
    server.create_topic(request.node.name[:40], 3)
    server.reset_stats()
    server.clear_faults()
    return server


@pytest.fixture
def topic(request) -> str:
    return request.node.name[:40]


def orders(rows: int = ROWS) -> pd.DataFrame:
    # an index of its own, not 0..n-1: the status must be on it
    return pd.DataFrame(
        {"order_id": [f"o-{i}" for i in range(rows)], "amount": np.arange(rows) * 1.5},
        index=pd.Index(np.arange(rows) * 10 + 7, name="row"),
    )


def arrived(es: LocalEventStreams, topic: str) -> list[str]:
    """The order ids stored in ``topic``, once per record (the key, or in the value)."""
    return sorted(
        record.key.decode() if record.key else json.loads(record.value)["order_id"]
        for record in es.read(topic)
    )


def producers(client) -> dict[str, list[str]]:
    """Each worker process's cached Producers, by the digest of their options."""
    return client.run(lambda: list(es_pandas._dask._producers))


def test_lazy_status_is_on_the_input_partitions_and_sends_each_row_once(client, es, topic) -> None:
    frame = orders()
    ddf = dd.from_pandas(frame, npartitions=PARTITIONS)
    status = ddf.es.produce(topic, url=es.url, api_key=SECRET, compute=False)
    assert es.stats() == {}  # nothing sent yet

    status = status.persist()  # sent once, here
    distributed.wait(status)
    assert status.divisions == ddf.divisions
    empty = StatusBook(0).to_frame()
    assert status.dtypes.equals(empty.dtypes)
    for number in range(PARTITIONS):
        part = status.partitions[number].compute()
        assert isinstance(part, StatusFrame)
        assert part.index.equals(ddf.partitions[number].compute().index)

    computed = status.compute()
    assert computed.index.equals(frame.index)
    assert list(computed.columns) == list(STATUS_COLUMNS)
    assert (computed["status"] == "ok").all()
    # each status row names the record of its own row
    stored = {(r.partition, r.offset): json.loads(r.value)["order_id"] for r in es.read(topic)}
    places = zip(computed["partition"], computed["offset"], strict=True)
    assert [stored[place] for place in places] == frame["order_id"].tolist()
    assert arrived(es, topic) == sorted(frame["order_id"])  # once each

    summary = status.es.summary()  # counted on the workers, from the persisted status
    assert summary.counts["ok"] == ROWS and summary.total == ROWS
    assert len(es.read(topic)) == ROWS


def test_each_call_sends_its_rows_while_an_earlier_status_of_the_same_call_is_persisted(
    client, es, topic
) -> None:
    """Two calls with the same frame, topic and options made the same task keys: while
    the first's status was persisted, the second was handed its results, said every row
    ok and sent nothing."""
    ddf = dd.from_pandas(orders(60), npartitions=3)
    options = {"url": es.url, "api_key": SECRET, "key_col": "order_id"}
    first = ddf.es.produce(topic, compute=False, **options).persist()
    distributed.wait(first)
    assert len(es.read(topic)) == 60

    assert ddf.es.produce(topic, **options).counts["ok"] == 60
    assert len(es.read(topic)) == 120
    second = ddf.es.produce(topic, compute=False, **options).persist()
    distributed.wait(second)
    assert len(es.read(topic)) == 180
    # a status is one run: computing it again from its persisted results sends nothing
    assert (second.compute()["status"] == "ok").all()
    assert len(es.read(topic)) == 180


def test_compute_returns_the_summary_and_each_worker_process_has_one_producer(
    client, es, topic, caplog
) -> None:
    ddf = dd.from_pandas(orders(), npartitions=PARTITIONS)
    before = producers(client)
    events = []
    options = {"url": es.url, "api_key": SECRET, "key_col": "order_id", "timeout": 29.5}
    with caplog.at_level("INFO", logger="es_pandas"):
        summary = ddf.es.produce(topic, progress=events.append, **options)
    assert isinstance(summary, Summary)
    assert summary.counts["ok"] == ROWS and summary.total == ROWS
    assert summary.elapsed > 0 and summary.api_version == "v2"
    assert arrived(es, topic) == sorted(orders()["order_id"])
    line = rf"with Dask, {PARTITIONS} partitions: {ROWS} rows at [\d,]+ rows/s; {ROWS} ok in"
    assert any(re.search(line, message) for message in caplog.messages), caplog.messages
    assert [(e.done, e.total, e.finished) for e in events] == [(ROWS, ROWS, True)]

    # api_version="auto" asks the endpoint once per Producer: once per worker process
    # here, though six partitions were sent
    new = {worker: set(now) - set(before[worker]) for worker, now in producers(client).items()}
    assert es.stats()["400"] == sum(len(digests) for digests in new.values()) <= 2
    assert all(len(digests) <= 1 for digests in new.values())
    # the next run of the same options reuses them: no new question, no new producer
    # (and under distributed's progress bar, each row still goes once)
    es.reset_stats()
    assert ddf.es.produce(topic, progress=True, **options).counts["ok"] == ROWS
    assert "400" not in es.stats()
    assert len(es.read(topic)) == 2 * ROWS
    assert {w: set(d) for w, d in producers(client).items()} == {
        worker: set(before[worker]) | new[worker] for worker in new
    }


def rejected_partition() -> tuple[pd.DataFrame, dd.DataFrame]:
    """Three partitions; the second's keys are all null, so each of its rows is rejected."""
    frame = orders(90)
    frame["order_id"] = frame["order_id"].astype(object)
    frame.iloc[30:60, 0] = None
    return frame, dd.from_pandas(frame, npartitions=3)


def test_a_partition_whose_rows_are_rejected_keeps_the_others_ok(client, es, topic) -> None:
    frame, ddf = rejected_partition()
    status = ddf.es.produce(topic, url=es.url, api_key=SECRET, key_col="order_id", compute=False)
    computed = status.compute()
    assert computed.index.equals(frame.index)
    assert computed["status"].tolist() == ["ok"] * 30 + ["rejected"] * 30 + ["ok"] * 30
    assert len(es.read(topic)) == 60

    # errors="raise": every partition is sent, then the rows not ok are raised together
    with pytest.raises(ProduceError) as raised:
        ddf.es.produce(topic, url=es.url, api_key=SECRET, key_col="order_id", errors="raise")
    assert raised.value.status.index.equals(frame.index[30:60])
    assert (raised.value.status["status"] == "rejected").all()
    assert raised.value.summary.counts == {
        "ok": 60,
        "failed": 0,
        "unknown": 0,
        "rejected": 30,
        "not_sent": 0,
    }
    assert str(raised.value).endswith(
        "most frequent errors:\n  30 rejected: column 'order_id': null key"
    )
    assert len(es.read(topic)) == 120


def test_a_partition_whose_run_stops_keeps_the_others_statuses(client, es, topic) -> None:
    """The second partition's inferred Avro schema (strings) is incompatible with the one
    registered (longs): its run stops with SchemaError; the first's rows are ok."""
    options = {"url": es.url, "api_key": SECRET, "value_format": "avro", "fail_after": 2}
    pd.DataFrame({"v": [1]}).es.produce(topic, progress=False, **options)
    parts = [
        pd.DataFrame({"v": range(20)}, index=range(20)),
        pd.DataFrame({"v": [f"s{i}" for i in range(20)]}, index=range(20, 40)),
    ]
    meta = pd.DataFrame({"v": pd.Series([], dtype=object)})
    from dask import delayed

    # each partition's own dtype: the meta is what they have in common
    ddf = dd.from_delayed(
        [delayed(p) for p in parts], meta=meta, divisions=[0, 20, 39], verify_meta=False
    )
    status = ddf.es.produce(topic, compute=False, **options).compute()
    assert status.index.equals(pd.RangeIndex(40))
    assert (status["status"].iloc[:20] == "ok").all()
    second = status.iloc[20:]
    assert second["status"].value_counts().to_dict() == {
        "failed": 2,
        "not_sent": 18,
        "ok": 0,
        "unknown": 0,
        "rejected": 0,
    }
    stopped = second.loc[second["status"] == "not_sent", "error"]
    assert stopped.str.startswith("the partition's run stopped (SchemaError): ").all()
    assert len(es.read(topic)) == 21


def test_refused_credentials_raise_once_every_partition_has_stopped(client, es, topic) -> None:
    """It returned a Summary of rows failed and not sent, saying nowhere why."""
    with pytest.raises(es_pandas.AuthenticationError):
        orders(ROWS // PARTITIONS).es.produce(topic, url=es.url, api_key="x", progress=False)
    one_partitions_requests = es.stats()["requests"]
    es.reset_stats()
    ddf = dd.from_pandas(orders(), npartitions=PARTITIONS)
    with pytest.raises(es_pandas.AuthenticationError) as caught:
        ddf.es.produce(topic, url=es.url, api_key="not-the-key", key_col="order_id")
    message = str(caught.value)
    assert message.startswith(f"{PARTITIONS} of {PARTITIONS} partitions stopped early, the first")
    assert "not-the-key" not in message
    summary = caught.value.summary
    assert summary.counts["ok"] == 0 and summary.total == ROWS
    assert caught.value.status.empty  # no row comes back with compute=True
    assert es.read(topic) == []
    # each worker process met the refusal once; its later partitions stopped at once
    assert es.stats()["requests"] <= 2 * one_partitions_requests


def test_a_partition_after_a_run_wide_stop_is_not_sent_with_why(client, es) -> None:
    """Each partition used to meet the stop itself: a Kafka or REST endpoint that does
    not answer cost a timeout per partition, and a service down 30 s per partition."""
    topic = "no-such-topic-yet"
    ddf = dd.from_pandas(orders(), npartitions=PARTITIONS)
    status = ddf.es.produce(topic, url=es.url, api_key=SECRET, compute=False).compute()
    assert status["status"].isin(["failed", "not_sent"]).all()
    not_sent = status["status"] == "not_sent"
    partition = np.arange(ROWS) // (ROWS // PARTITIONS)
    errors = status.loc[not_sent, "error"].groupby(partition[not_sent]).first()
    assert len(errors) == PARTITIONS
    met = errors.str.startswith("the partition's run stopped (TopicNotFoundError): ")
    skipped = errors.str.startswith(
        "not sent: another partition's run stopped (TopicNotFoundError): "
    )
    assert (met | skipped).all() and 1 <= met.sum() <= 2  # once per worker process


def test_computing_a_lazy_status_again_later_tries_afresh(es, monkeypatch) -> None:
    """A stop is held for the partitions of one compute, not for the next compute of
    the same status (once the topic is created, say)."""
    import dask

    topic = "created-after-the-first-compute"
    ddf = dd.from_pandas(orders(60), npartitions=3)
    status = ddf.es.produce(topic, url=es.url, api_key=SECRET, compute=False)
    with dask.config.set(scheduler="sync"):
        assert (status.compute()["status"] != "ok").all()
        es.create_topic(topic, 1)
        held = status.compute()["error"]
        assert held.str.startswith("not sent: another partition's run stopped").all()
        monkeypatch.setattr(es_pandas._dask, "_STOP_HELD_SECONDS", 0.0)
        assert (status.compute()["status"] == "ok").all()
    assert len(es.read(topic)) == 60


@pytest.mark.parametrize("errors", ["collect", "raise"])
def test_a_stopped_partition_raises(client, es, errors: str) -> None:
    """As above: the second partition's schema is refused; the first's rows still land."""
    topic = f"stopped-{errors}"
    es.create_topic(topic, 3)
    options = {"url": es.url, "api_key": SECRET, "value_format": "avro", "fail_after": 2}
    pd.DataFrame({"v": [1]}).es.produce(topic, progress=False, **options)
    parts = [
        pd.DataFrame({"v": range(20)}, index=range(20)),
        pd.DataFrame({"v": [f"s{i}" for i in range(20)]}, index=range(20, 40)),
    ]
    from dask import delayed

    ddf = dd.from_delayed(
        [delayed(p) for p in parts],
        meta=pd.DataFrame({"v": pd.Series([], dtype=object)}),
        divisions=[0, 20, 39],
        verify_meta=False,
    )
    with pytest.raises(es_pandas.SchemaError) as caught:
        ddf.es.produce(topic, errors=errors, **options)
    assert str(caught.value).startswith("1 of 2 partitions stopped early, the first with: ")
    assert caught.value.summary.counts["ok"] == 20
    not_ok = caught.value.status
    assert len(not_ok) == (20 if errors == "raise" else 0)
    assert len(es.read(topic)) == 21


def test_credentials_stay_out_of_the_graph_and_are_resolved_on_the_client(
    client, es, topic, tmp_path, monkeypatch
) -> None:
    # The workers started before these were set: only the client can see them.
    key_file = tmp_path / "service-key.json"
    key_file.write_text(json.dumps(es.credentials))
    monkeypatch.setenv("ES_PANDAS_CREDENTIALS", str(key_file))
    ddf = dd.from_pandas(orders(60), npartitions=3)
    status = ddf.es.produce(topic, compute=False)
    graph = status.__dask_graph__()
    # what each task is called with, as the dashboard's task pages show it (a Task's
    # arguments; before dask 2025.1 a task is a tuple of the function and its arguments)
    calls = repr(
        [(task.args, task.kwargs) if hasattr(task, "args") else task for task in graph.values()]
    )
    shown = [
        calls,
        str(dict(graph)),
        repr(dict(graph)),
        repr(status),
        str(status.expr),
        str(list(graph)),
        str(status.__dask_keys__()),
        status.expr.__dask_tokenize__(),
    ]
    for text in shown:
        assert SECRET not in text
        assert str(key_file) not in text
    assert "(credentials not shown)" in calls
    assert status.compute()["status"].eq("ok").all()

    monkeypatch.delenv("ES_PANDAS_CREDENTIALS")
    monkeypatch.setenv("ES_PANDAS_URL", es.url)
    monkeypatch.setenv("ES_PANDAS_API_KEY", SECRET)
    assert ddf.es.produce(topic).counts["ok"] == 60
    assert len(es.read(topic)) == 120


def test_a_topic_kafka_cannot_have_is_refused_before_a_graph_is_built() -> None:
    ddf = dd.from_pandas(pd.DataFrame({"v": range(4)}), npartitions=2)
    for compute in (True, False):
        with pytest.raises(ConfigurationError, match="topic 'a/b' cannot exist"):
            ddf.es.produce("a/b", url="http://127.0.0.1:9", compute=compute)


def test_dead_letters_go_to_one_file_per_partition(client, es, topic, tmp_path) -> None:
    frame, ddf = rejected_partition()
    options = {"url": es.url, "api_key": SECRET, "key_col": "order_id"}
    with pytest.raises(ConfigurationError, match=r"needs a \*"):
        ddf.es.produce(topic, dead_letter=str(tmp_path / "dead.jsonl"), **options)
    summary = ddf.es.produce(topic, dead_letter=str(tmp_path / "dead-*.jsonl"), **options)
    assert summary.dead_letters == (str(tmp_path / "dead-*.jsonl"), 30)
    files = sorted(tmp_path.iterdir())
    assert [path.name for path in files] == ["dead-0.jsonl", "dead-1.jsonl", "dead-2.jsonl"]
    assert files[0].read_text() == files[2].read_text() == ""  # no row of theirs failed
    dead = pd.read_json(files[1], lines=True)
    assert dead["amount"].tolist() == frame["amount"].iloc[30:60].tolist()


def test_a_partition_not_sent_after_a_run_wide_stop_writes_its_dead_letters(es, tmp_path) -> None:
    """A partition stopped at once by another's stop wrote no dead-letter file: its
    rows were in no file to send again (300 of 400 here), and the summary counted them
    nowhere."""
    import dask

    ddf = dd.from_pandas(orders(), npartitions=4)
    dead_letter = str(tmp_path / "dead-*.jsonl")
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(es_pandas.TopicNotFoundError) as caught,
    ):
        ddf.es.produce("not-a-topic", url=es.url, api_key=SECRET, dead_letter=dead_letter)
    assert caught.value.summary.dead_letters == (dead_letter, ROWS)
    files = sorted(tmp_path.iterdir())
    assert [path.name for path in files] == [f"dead-{n}.jsonl" for n in range(4)]
    dead = pd.concat(pd.read_json(path, lines=True) for path in files)
    assert sorted(dead["order_id"]) == sorted(orders()["order_id"])
    assert dead["status"].isin(["failed", "not_sent"]).all()


def test_a_partition_reports_its_errors_as_a_run_counts_them() -> None:
    """Errors alike as one (the values that differ as …); past the distinct errors a
    run's tally keeps, the rest are counted by status."""
    book = StatusBook(2006)
    for position in range(1002):
        book.fail(position, REJECTED, f"column 'v': {position} is not allowed")
    for position in range(1002, 2004):
        # each its own column: none alike
        book.fail(position, REJECTED, f"column 'c{position}': null key")
    for position in (2004, 2005):
        book.fail(position, FAILED, "HTTP 500")
    tally = es_pandas._dask._partition_tally(book.to_frame())
    errors = tally.loc[0, "errors"]
    assert len(errors) == 1001
    assert errors[0] == ("rejected", "column 'v': … is not allowed", 1002)
    assert ("failed", "HTTP 500", 2) in errors
    # 1,004 kinds: the 1,000 most frequent kept
    assert errors[-1] == ("rejected", "(other errors)", 4)
    assert sum(n for _, _, n in errors) == 2006
    assert tally.loc[0, "rejected"] == 2004 and tally.loc[0, "not_sent"] == 0


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("first", ["es_pandas", "dask.dataframe"])
def test_ddf_es_is_registered_whichever_is_imported_first(first: str) -> None:
    result = python(
        f"""
        import importlib, sys
        importlib.import_module({first!r})
        if {first!r} == "es_pandas":
            assert "dask" not in sys.modules, "import es_pandas imported dask"
        import dask.dataframe as dd
        import es_pandas
        assert dd.DataFrame.es is es_pandas._dask.DaskEventStreamsAccessor
        """
    )
    assert result.returncode == 0, result.stderr


def test_protocol_kafka_writes_each_partition_once_with_one_producer_per_worker(
    client, kafka
) -> None:
    """The Kafka protocol from the workers, to the tests' broker: every row once, where
    its status says; the SASL password (shipped in librdkafka's settings) out of the
    graph; one librdkafka producer per worker process, kept for the next run."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from es_pandas.server._kafka import read_topic

    topic = f"dask-kafka-{np.random.default_rng().integers(1 << 30)}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(topic, 3)])[topic].result(10)
    frame = orders(3_000)
    ddf = dd.from_pandas(frame, npartitions=PARTITIONS)
    options = {
        "protocol": "kafka",
        "bootstrap_servers": kafka.bootstrap,
        "key_col": "order_id",
        # Tansu here takes no SASL: the password is shipped all the same, and unused
        "user": "alice",
        "password": SECRET,
        "kafka_config": {"security.protocol": "PLAINTEXT"},
    }
    status = ddf.es.produce(topic, compute=False, **options)
    assert SECRET not in str(dict(status.__dask_graph__())) + repr(status)
    computed = status.compute()
    assert (computed["status"] == "ok").all(), computed["error"].value_counts()
    assert computed.index.equals(frame.index)
    stored = {
        (r.partition, r.offset): r.key.decode()
        for r in read_topic({"bootstrap.servers": kafka.bootstrap}, topic, idle_seconds=1.5)
    }
    places = zip(computed["partition"], computed["offset"], strict=True)
    assert [stored[place] for place in places] == frame["order_id"].tolist()
    assert len(stored) == len(frame)

    summary = ddf.es.produce(topic, **options)  # computed: the same producers again
    assert summary.counts["ok"] == len(frame)
    kept = client.run(lambda: len(es_pandas._librdkafka._producers))
    assert set(kept.values()) == {1}, kept


def test_a_run_wide_stop_is_held_from_when_it_was_met_not_from_each_skip(monkeypatch) -> None:
    """Held from each skip, a lazy status computed again every few seconds (while the
    topic is being created) was never tried afresh."""
    import time

    from es_pandas import _dask

    # met a second ago, well within the time it is held: met a second before it ran
    # out, a second's pause between two lines (a loaded machine) let it run out before
    # the skip that should find it
    met = time.monotonic() - 1
    monkeypatch.setitem(_dask._stops, "call", ("TopicNotFoundError", "no topic", met))
    assert _dask._stop_met("call") == ("TopicNotFoundError", "no topic")
    assert _dask._stops["call"][2] == met  # a skip does not hold it longer
    _dask._stops["call"] = ("TopicNotFoundError", "no topic", met - _dask._STOP_HELD_SECONDS)
    assert _dask._stop_met("call") is None and "call" not in _dask._stops


def test_a_service_that_stops_answering_mid_call_raises_service_unavailable(
    es, topic, monkeypatch
) -> None:
    """A partition whose run it answered, then stopped answering, stops as
    ServiceUnavailable; one that starts after (on another worker process: no stop
    held) never reached it, ConnectionFailed. The call raised a bare ProduceAborted for
    the two: the outage said neither "try again later" nor what it was."""
    import dask

    monkeypatch.setattr(es_pandas._dask, "_STOP_HELD_SECONDS", 0.0)  # as another process
    es.script_faults(["ok"] * 10 + ["drop"] * 100)
    ddf = dd.from_pandas(orders(40), npartitions=2)
    options = {"url": es.url, "api_key": SECRET, "api_version": "v2", "retries": 0}
    try:
        with (
            dask.config.set(scheduler="sync"),
            pytest.raises(es_pandas.ProduceAborted) as caught,
        ):
            ddf.es.produce(topic, concurrency=1, **options)
    finally:
        es.clear_faults()
    assert type(caught.value) is es_pandas.ServiceUnavailable, repr(caught.value)
    assert str(caught.value).startswith("2 of 2 partitions stopped early, the first with: ")
    assert "stopped answering" in str(caught.value)


def test_a_partition_whose_worker_is_lost_mid_run_flags_the_rows_it_may_have_written_twice(
    client, es, topic, tmp_path
) -> None:
    """Dask runs a partition again when the worker running it dies (the OOM killer, a
    node lost): the rows the first run wrote were written again, and the summary said
    every row ok once, no possible duplicate."""
    marker = str(tmp_path / "killed")

    def die_once(row: dict) -> dict:
        # on the first run of the second partition's row 45, its worker process dies
        if row["order_id"] == "o-105" and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(0.5)  # the rows before it reach the server
            os._exit(1)
        return {}

    frame = orders(180)
    options = {"url": es.url, "api_key": SECRET, "key_col": "order_id", "concurrency": 1}
    status = dd.from_pandas(frame, npartitions=3).es.produce(
        topic, header_cols=die_once, chunksize=5, compute=False, **options
    )
    computed = status.compute()
    assert os.path.exists(marker)
    landed = Counter(record.key.decode() for record in es.read(topic))
    twice = {key for key, n in landed.items() if n > 1}
    assert twice and set(landed) == set(frame["order_id"])
    assert (computed["status"] == "ok").all()
    # the lost worker's partitions: the one it was running, and any whose status it held
    flagged = set(frame.loc[computed["maybe_duplicate"], "order_id"])
    assert twice <= flagged

    # the scheduler keeps each partition's runs while a status may be computed again:
    # a call that computes its own keeps none once it has them
    before = client.get_metadata([es_pandas._dask._RUNS])
    assert dd.from_pandas(frame, npartitions=3).es.produce(topic, **options).counts["ok"] == 180
    kept = client.get_metadata([es_pandas._dask._RUNS])
    assert [kept[call] for call in set(kept) - set(before)] == [{}]


def test_a_column_no_value_of_which_can_be_sent_is_refused_before_a_graph_is_built() -> None:
    """As df.es.produce refuses it before anything is sent: the graph was built, and
    each partition's run refused it on the workers, once computed."""
    frame = pd.DataFrame(
        {"k": ["a", "b"], "v": [1, 2], "p": pd.period_range("2024-01", periods=2, freq="M")}
    )
    ddf = dd.from_pandas(frame, npartitions=2)
    url = "http://127.0.0.1:9"  # never asked
    with pytest.raises(ConfigurationError) as caught:
        frame.es.produce("t", key_col="k", url=url, api_key=SECRET)
    with pytest.raises(ConfigurationError, match=r"^column 'p' is period") as raised:
        ddf.es.produce("t", key_col="k", url=url, api_key=SECRET, compute=False)
    assert str(raised.value) == str(caught.value)
    # a column that is not sent is no matter
    status = ddf.es.produce("t", key_col="k", value_cols=["v"], url=url, compute=False)
    assert status.npartitions == 2
    # nor is what else a run refuses in its columns before it sends anything
    with pytest.raises(ConfigurationError, match="key_col"):
        ddf.es.produce("t", key_col="K", value_cols=["v"], url=url, compute=False)
    with pytest.raises(ConfigurationError, match="no value columns left"):
        ddf[["k"]].es.produce("t", key_col="k", url=url, compute=False)


def test_a_number_column_goes_as_the_dask_frames_type_whatever_its_partitions_dtype(
    es, topic
) -> None:
    """Partitions of files of two schemas (an int column, and the same with a null,
    float in pandas): each partition's ints went as its dtype said, 1 from one, 3.0
    from the other. A value the frame's type cannot hold as it is rejects its row."""
    import dask

    def part(number: int) -> pd.DataFrame:
        if number == 0:
            return pd.DataFrame({"k": ["a", "b"], "n": [1, 2], "f": [0.5, 1.5]})
        return pd.DataFrame(
            {"k": ["c", "d", "e", "g"], "n": [3.0, np.nan, 2.5, 4.0], "f": [5, 6, 2**53 + 1, 7]}
        )

    ddf = dd.from_map(part, range(2))
    assert ddf.dtypes.to_dict() == {"k": ddf.dtypes["k"], "n": "int64", "f": "float64"}
    with dask.config.set(scheduler="sync"):
        status = ddf.es.produce(topic, url=es.url, api_key=SECRET, key_col="k", compute=False)
        status = status.compute()
    landed = {r.key.decode(): r.value for r in es.read(topic)}
    assert landed == {
        "a": b'{"n":1,"f":0.5}',
        "b": b'{"n":2,"f":1.5}',
        "c": b'{"n":3,"f":5.0}',
        "d": b'{"n":null,"f":6.0}',
        "g": b'{"n":4,"f":7.0}',
    }
    assert status["status"].tolist() == ["ok"] * 4 + ["rejected", "ok"]
    assert status["error"].iloc[4] == (
        "column 'n': 2.5 cannot be sent as an int, the Dask frame's type of the column "
        "(this partition's is float64)"
    )


def test_a_column_option_naming_the_index_is_refused_before_a_graph_is_built(caplog) -> None:
    """ddf.set_index("order_id") then key_col="order_id": the graph was built, and each
    partition's run refused it on the workers, once computed; a named index not sent
    was said on the workers' logs only."""
    ddf = dd.from_pandas(orders(20), npartitions=2)
    options = {"url": "http://127.0.0.1:9", "api_key": SECRET, "compute": False}
    with pytest.raises(ConfigurationError, match="'order_id' is the frame's index"):
        ddf.set_index("order_id").es.produce("t", key_col="order_id", **options)
    with caplog.at_level("WARNING", logger="es_pandas"):
        ddf.es.produce("t", key_col="order_id", **options)
    assert any("index ('row') is not sent" in message for message in caplog.messages)


def test_a_partition_refused_for_its_own_columns_keeps_the_others_statuses(es, topic) -> None:
    """A partition whose own dtype no value of can be sent (complex, where the Dask
    frame says float): its run is refused before it sends, as df.es.produce's is. That
    failed the whole compute, every other partition's status lost with their rows sent."""
    import dask

    def part(number: int) -> pd.DataFrame:
        if number == 0:
            return pd.DataFrame({"k": ["a", "b"], "v": [0.5, 1.5]})
        return pd.DataFrame({"k": ["c"], "v": [1 + 2j]})

    ddf = dd.from_map(part, range(2), meta=part(0).iloc[:0], enforce_metadata=False)
    with dask.config.set(scheduler="sync"), pytest.raises(es_pandas.ProduceAborted) as raised:
        ddf.es.produce(topic, url=es.url, api_key=SECRET, key_col="k", errors="raise")
    assert "1 of 2 partitions stopped early, the first with: column 'v'" in str(raised.value)
    status = raised.value.status
    assert status["status"].tolist() == ["not_sent"]
    assert status["error"].iloc[0].startswith("not sent: this partition was refused: column 'v'")
    assert raised.value.summary.counts["ok"] == 2
    assert sorted(r.key.decode() for r in es.read(topic)) == ["a", "b"]
