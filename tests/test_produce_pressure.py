"""Back-pressure in real runs against the local server: push-back slows the whole run
and the run says so (summary, status attrs, progress); a 503 now and then does not.
The controller's arithmetic is in test_pressure.py; how close it gets to a quota is
measured by benchmarks/produce.py (scenario "pressure")."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pandas as pd
import pytest

import es_pandas
from es_pandas import LocalEventStreams, ProgressEvent

from .conftest import API_KEY, run

ROWS = pd.DataFrame({"k": [f"k{i}" for i in range(300)], "v": range(300)})


@pytest.fixture(scope="module")
def es() -> Iterator[LocalEventStreams]:
    with LocalEventStreams(topics={"t": 2}, api_key=API_KEY) as server:
        yield server


def produce(es: LocalEventStreams, **options) -> es_pandas.StatusFrame:
    options = {"url": es.url, "api_key": API_KEY, "key_col": "k", "progress": False, **options}
    return ROWS.es.produce("t", **options)


def test_429s_slow_the_run_and_it_says_so(es: LocalEventStreams, tmp_path) -> None:
    es.set_faults(retry_after=0)
    # refused after a second's worth of answers: a rate to start from
    es.script_faults(["okx100", "429x20"])
    events: list[ProgressEvent] = []
    status = produce(es, progress=events.append)
    assert (status["status"] == "ok").all()
    slowdown = status.summary.slowdown
    assert isinstance(slowdown, es_pandas.Slowdown) and slowdown.answers >= 1
    assert status.attrs["slowdown"]["answers"] == slowdown.answers
    status.to_parquet(tmp_path / "status.parquet")  # attrs are plain data, written as JSON
    assert "the server pushed back (" in str(status.summary)
    last = events[-1]
    assert last.finished and last.max_rate == pytest.approx(slowdown.final, rel=0.5)
    assert last.eta == 0
    ongoing = es_pandas.ProgressEvent(100, 300, last.counts, 1.0, max_rate=20.0)
    assert ongoing.eta == 10  # 200 rows at the 20/s it is held to, not at 100/s so far


def test_a_503_now_and_then_does_not_slow_the_run(es: LocalEventStreams) -> None:
    es.set_faults(rates={"503": 0.05}, retry_after=0, seed=5)
    status = produce(es)
    assert (status["status"] == "ok").all()
    assert (status["attempts"] > 1).any()  # the 503s came
    assert status.attrs["slowdown"] is None
    assert "pushed back" not in str(status.summary)


def test_503s_one_after_another_slow_the_run(es: LocalEventStreams) -> None:
    es.set_faults(retry_after=0)
    es.script_faults(["ok", "ok", "503x40"])
    status = produce(es)
    assert (status["status"] == "ok").all()
    assert status.attrs["slowdown"]["answers"] >= 1


def test_max_rate_auto_and_its_flag(es: LocalEventStreams) -> None:
    es.clear_faults()
    status = produce(es, max_rate="auto")
    assert (status["status"] == "ok").all()
    env = {"ES_PANDAS_URL": es.url, "ES_PANDAS_API_KEY": API_KEY}
    csv = ROWS.to_csv(index=False).encode()
    args = ("produce", "-", "--topic", "t", "--key-col", "k", "--max-rate")
    result = run(*args, "auto", stdin=csv, env=env)
    assert result.returncode == 0, result.stderr
    assert "300" in result.stderr
    with pytest.raises(es_pandas.ConfigurationError, match="max_rate must be a positive number"):
        produce(es, max_rate="fast")
    result = run(*args, "fast", stdin=csv, env=env)
    assert result.returncode == 2
    assert "--max-rate must be a positive number of requests per second, or 'auto'" in (
        result.stderr
    )


def test_a_producers_max_rate_caps_its_calls_together(es: LocalEventStreams) -> None:
    """A service's Producer(max_rate=...), reused for calls of a row or two, from one
    thread or several: each call kept a rate of its own, so each call's first request
    went at once (a row a call at 10/s sent 170 requests/s) and concurrent calls each
    had the whole rate."""
    es.clear_faults()
    producer = es_pandas.Producer(es.url, api_key=API_KEY, max_rate=20, progress=False)
    one = ROWS.head(1)
    producer.produce(one, "t")  # the v2 route asked, and a first request at once
    started = time.monotonic()
    for _ in range(10):
        assert (producer.produce(one, "t")["status"] == "ok").all()
    assert time.monotonic() - started >= 9 / 20
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        statuses = list(pool.map(lambda _: producer.produce(ROWS.head(5), "t"), range(4)))
    assert all((status["status"] == "ok").all() for status in statuses)
    assert time.monotonic() - started >= 19 / 20
    # a call that lifts the cap is not held by the others
    started = time.monotonic()
    producer.produce(ROWS.head(20), "t", max_rate=float("inf"))
    assert time.monotonic() - started < 19 / 20
