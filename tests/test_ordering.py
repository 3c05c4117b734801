"""Rows that share a key are written in row order (``ordering="key"``, the default),
whatever the latency, the retries and the concurrency; ``ordering="none"`` shows the
same runs do reorder without it."""

from __future__ import annotations

import asyncio
import functools
import json
import random
from collections.abc import Iterator

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import es_pandas
from es_pandas import LocalEventStreams, Retry
from es_pandas.transports import MockTransport, Response

from .conftest import API_KEY

QUICK = Retry(retries=20, backoff=0.001, max_backoff=0.005)


@pytest.fixture(scope="module")
def jittery() -> Iterator[LocalEventStreams]:
    with LocalEventStreams(topics={"t": 4}, api_key=API_KEY) as es:
        yield es


def rows(keys: int, per_key: int, *, adjacent: bool) -> pd.DataFrame:
    """``keys`` keys with ``per_key`` rows each, interleaved or each key's rows together;
    ``seq`` is the row's place among its key's rows."""
    pairs = [(k, n) for k in range(keys) for n in range(per_key)]
    if not adjacent:
        pairs.sort(key=lambda pair: (pair[1], pair[0]))
    return pd.DataFrame({"k": [f"key-{k}" for k, _ in pairs], "seq": [n for _, n in pairs]})


def keys_out_of_order(es: LocalEventStreams, topic: str = "t") -> tuple[int, list[int]]:
    """How many keys' records were written out of row order, and the seq of every
    record written (each row once: no seq of a key twice)."""
    records = es.records(topic, decode=True).sort_values(["partition", "offset"])
    written: dict[str, list[int]] = {}
    for key, value in zip(records["key"], records["value"], strict=True):
        # a CSV's values come as written: "12"
        written.setdefault(key, []).append(int(json.loads(value)["seq"]))
    disordered = sum(seqs != sorted(seqs) for seqs in written.values())
    return disordered, [seq for seqs in written.values() for seq in seqs]


@pytest.mark.parametrize("adjacent", [False, True], ids=["interleaved", "adjacent"])
def test_rows_of_a_key_land_in_row_order_through_latency_and_retries(
    jittery: LocalEventStreams, adjacent: bool
) -> None:
    frame = rows(50, 20, adjacent=adjacent)
    runs = {}
    for ordering in ("key", "none"):
        jittery.clear_faults()
        jittery.create_topic(f"t-{ordering}-{adjacent}", 4)
        # 0-20 ms per answer, and 1 first attempt in 20 answered 503 (not written)
        jittery.set_faults(latency=(0, 0.02), rates={"503": 0.05}, retry_after=None, seed=7)
        status = frame.es.produce(
            f"t-{ordering}-{adjacent}",
            url=jittery.url,
            api_key=API_KEY,
            key_col="k",
            ordering=ordering,
            retries=QUICK,
            progress=False,
        )
        assert (status["status"] == "ok").all()
        assert status["attempts"].max() > 1  # some rows were retried
        runs[ordering] = keys_out_of_order(jittery, f"t-{ordering}-{adjacent}")
    jittery.clear_faults()
    disordered, written = runs["key"]
    assert disordered == 0 and len(written) == len(frame)  # in order, each row once
    # the same run without ordering does reorder: the test can tell
    assert runs["none"][0] > 0


def ordered_engine(log: list[tuple[str, int]], flaky: set[int], in_flight: list[int]):
    """An engine whose server answers after a random pause, 503 to each first attempt of
    the rows in ``flaky``, and logs each record it writes."""
    attempted: set[int] = set()
    rng = random.Random(0)

    async def answer(method: str, url: str, headers, body: bytes) -> Response:
        if b'"value":{}' in body:  # api_version="auto"'s route check
            return Response(400, {}, b'{"trace":"t","error":{"code":"invalid_type"}}')
        envelope = json.loads(body)
        row = json.loads(envelope["value"]["data"])
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            await asyncio.sleep(rng.random() / 500)
            if row["row"] in flaky and row["row"] not in attempted:
                attempted.add(row["row"])
                return Response(503, {}, b"busy")
            log.append((envelope.get("key", {}).get("data"), row["row"]))
            offset = len(log)
            metadata = {"topic": "t", "partition": 0, "offset": offset, "timestamp": "1"}
            return Response(200, {}, json.dumps({"metadata": metadata}).encode())
        finally:
            in_flight[0] -= 1

    return functools.partial(MockTransport, answer)


@settings(max_examples=30, deadline=None)
@given(
    keys=st.lists(st.integers(0, 5), min_size=1, max_size=60),
    flaky=st.sets(st.integers(0, 59), max_size=15),
    concurrency=st.integers(1, 16),
)
def test_order_holds_for_any_keys_latencies_and_failures(
    keys: list[int], flaky: set[int], concurrency: int
) -> None:
    log: list[tuple[str, int]] = []
    frame = pd.DataFrame({"k": [f"k{k}" for k in keys], "row": range(len(keys))})
    status = frame.es.produce(
        "t",
        url="https://es.example",
        key_col="k",
        engine=ordered_engine(log, flaky, [0, 0]),
        concurrency=concurrency,
        retries=QUICK,
        progress=False,
    )
    assert (status["status"] == "ok").all()
    assert sorted(row for _, row in log) == list(range(len(keys)))  # each row once
    for key in set(frame["k"]):
        assert [row for k, row in log if k == key] == frame.index[frame["k"] == key].tolist()


def test_a_frame_of_one_key_goes_one_request_at_a_time() -> None:
    log: list[tuple[str, int]] = []
    in_flight = [0, 0]
    frame = pd.DataFrame({"k": ["same"] * 300, "row": range(300)})
    status = frame.es.produce(
        "t",
        url="https://es.example",
        key_col="k",
        engine=ordered_engine(log, set(), in_flight),
        concurrency=32,
        progress=False,
    )
    assert (status["status"] == "ok").all()
    assert in_flight[1] == 1 and [row for _, row in log] == list(range(300))
    # without a key column, the same rows go 32 at a time
    in_flight[:] = [0, 0]
    frame.drop(columns="k").es.produce(
        "t",
        url="https://es.example",
        engine=ordered_engine([], set(), in_flight),
        concurrency=32,
        progress=False,
    )
    assert in_flight[1] > 1


def test_hold_keeps_a_keys_later_rows_after_a_failure(jittery: LocalEventStreams) -> None:
    jittery.clear_faults()
    jittery.create_topic("held", 1)
    frame = pd.DataFrame({"k": ["a", "a", "b", "a", "b"], "seq": range(5)})
    jittery.set_faults(script=["400"])  # the first row, sent first (the probe)
    status = frame.es.produce(
        "held",
        url=jittery.url,
        api_key=API_KEY,
        key_col="k",
        on_key_error="hold",
        concurrency=4,
        progress=False,
    )
    assert status["status"].tolist() == ["failed", "not_sent", "ok", "not_sent", "ok"]
    assert status["error"][1].startswith("held back: an earlier row of its key ended failed")
    assert sorted(jittery.records("held", decode=True)["key"]) == ["b", "b"]
    # continue, the default, sends them
    jittery.set_faults(script=["400"])
    status = frame.es.produce("held", url=jittery.url, api_key=API_KEY, key_col="k", progress=False)
    assert status["status"].tolist() == ["failed", "ok", "ok", "ok", "ok"]
    jittery.clear_faults()


@pytest.mark.parametrize("chunksize", [2, 1000])
def test_hold_keeps_a_keys_later_rows_after_a_rejected_row(
    jittery: LocalEventStreams, chunksize: int
) -> None:
    """A row that cannot be sent holds its key's later rows too, in its chunk and in
    later ones; the rows of the key before it go."""
    jittery.clear_faults()
    jittery.create_topic(f"rejected-{chunksize}", 1)
    frame = pd.DataFrame(
        {"k": ["a", "a", "b", "a", "b", "a"], "v": ["1", None, "2", "3", "4", "5"]},
        index=list("uvwxyz"),
    )
    status = frame.es.produce(
        f"rejected-{chunksize}",
        url=jittery.url,
        api_key=API_KEY,
        key_col="k",
        value_col="v",
        on_key_error="hold",
        chunksize=chunksize,
        progress=False,
    )
    assert status["status"].tolist() == ["ok", "rejected", "ok", "not_sent", "ok", "not_sent"]
    assert status["error"]["v"].startswith("column 'v'")
    assert "ended failed, unknown or rejected" in status["error"]["x"]
    assert status.summary.held_keys == 1
    assert "1 key held back after a row ended failed, unknown or rejected" in str(status.summary)
    written = jittery.records(f"rejected-{chunksize}", decode=True)
    assert sorted(written["value"]) == ["1", "2", "4"]


def test_ordering_options_are_checked() -> None:
    with pytest.raises(es_pandas.ConfigurationError, match="ordering"):
        pd.DataFrame({"v": [1]}).es.produce("t", url="https://x", ordering="time")
    with pytest.raises(es_pandas.ConfigurationError, match="on_key_error"):
        pd.DataFrame({"v": [1]}).es.produce("t", url="https://x", on_key_error="skip")


def test_order_holds_across_a_files_chunks(jittery: LocalEventStreams, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    rows(10, 30, adjacent=True).to_csv(path, index=False)  # each key spans chunks of 7
    jittery.clear_faults()
    jittery.create_topic("chunked", 4)
    jittery.set_faults(latency=(0, 0.01), rates={"503": 0.05}, retry_after=None, seed=3)
    summary = es_pandas.produce_file(
        path,
        "chunked",
        url=jittery.url,
        api_key=API_KEY,
        key_col="k",
        chunksize=7,
        retries=QUICK,
        progress=False,
    )
    jittery.clear_faults()
    assert summary.counts["ok"] == 300
    disordered, written = keys_out_of_order(jittery, "chunked")
    assert disordered == 0 and len(written) == 300
