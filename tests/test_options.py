"""The one option declaration and the one run path: None is "not set" everywhere,
precedence, derived docs, custom engines and dry runs down the real path."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from typing import ClassVar

import pandas as pd
import pytest

import es_pandas
from es_pandas import Producer
from es_pandas._options import OPTIONS, PRODUCE_OPTIONS
from es_pandas.transports import AsyncTransport, MockTransport, Response, TransportConfig

from .conftest import API_KEY

ROWS = pd.DataFrame({"v": range(12)})


def ok(status: pd.DataFrame) -> bool:
    return bool((status["status"] == "ok").all())


@pytest.mark.parametrize("name", PRODUCE_OPTIONS)
def test_none_means_not_set_everywhere(es, name: str, tmp_path) -> None:
    """Every option accepts None, on every front, as if it were left out."""
    connection = {"url": es.url, "api_key": API_KEY}
    options = {**connection, "progress": False, name: None}
    if name in connection:
        options[name] = None
        options.setdefault("credentials", es.credentials)
    assert ok(ROWS.es.produce("single", **options))
    assert ok(Producer(**options).produce(ROWS, "single"))
    assert ok(Producer(**{**connection, "progress": False}).produce(ROWS, "single", **{name: None}))
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    summary = es_pandas.produce_file(path, "single", **options)
    assert summary.counts["ok"] == len(ROWS)


def test_a_call_overrides_the_producer_and_none_inherits_it(es) -> None:
    producer = Producer(es.url, api_key=API_KEY, max_rate=5, concurrency=2, progress=False)
    events: list[es_pandas.ProgressEvent] = []
    status = producer.produce(ROWS, "single", max_rate=None, progress=events.append)
    assert ok(status) and events
    capped = (len(ROWS) - 1) / 5  # 2.2 s: the producer's cap holds
    assert status.attrs["elapsed"] >= capped
    fast = producer.produce(ROWS, "single", max_rate=float("inf"))
    assert ok(fast) and fast.attrs["elapsed"] < capped


def test_the_producer_keeps_its_credentials_across_calls(hour_tokens) -> None:
    es = hour_tokens
    producer = Producer(es.url, api_key=API_KEY, iam=True, iam_url=es.iam_url, progress=False)
    auth = producer.settings.auth
    producer.produce(ROWS, "single", concurrency=3, key_col=None)
    producer.produce(ROWS, "single", timeout=9)
    assert auth.exchanges == 1  # one token for every call that leaves credentials alone
    with pytest.raises(es_pandas.AuthenticationError):
        producer.produce(ROWS, "single", api_key="another-key")


def test_the_producer_reads_its_credentials_file_and_environment_once(
    es, tmp_path, monkeypatch
) -> None:
    """A service's Producer, made at start, goes by what its file and environment said
    then: a call with options of its own read them again, so one whose file was gone
    failed, and one whose file named another URL sent it the old credentials."""
    path = tmp_path / "service-key.json"
    path.write_text(json.dumps({"kafka_http_url": es.url, "api_key": API_KEY}))
    monkeypatch.setenv("ES_PANDAS_API_VERSION", "v2")
    producer = Producer(credentials=str(path), progress=False)
    path.unlink()
    monkeypatch.setenv("ES_PANDAS_API_VERSION", "v1")
    assert ok(producer.produce(ROWS, "single", concurrency=3))
    path.write_text(json.dumps({"kafka_http_url": "http://127.0.0.1:1", "api_key": "other-key"}))
    status = producer.produce(ROWS, "single", concurrency=3)
    assert ok(status) and status.attrs["api_version"] == "v2"


def test_unknown_keywords_are_type_errors_everywhere(es, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    ROWS.to_csv(path, index=False)
    for call in (
        lambda: ROWS.es.produce("single", url=es.url, concurency=3),
        lambda: Producer(es.url, concurency=3),
        lambda: Producer(es.url).produce(ROWS, "single", concurency=3),
        lambda: es_pandas.produce_file(path, "single", url=es.url, concurency=3),
        lambda: ROWS.es.produce("single", url=es.url, status_out="s.csv"),  # a file option
    ):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            call()


def test_the_docs_and_the_environment_come_from_the_declaration() -> None:
    for name in PRODUCE_OPTIONS:
        assert f"\n{name} : " in Producer.produce.__doc__, name
        assert f"\n{name} : " in pd.DataFrame().es.produce.__doc__, name
    documented = {v for _, option in OPTIONS.values() for v in option.env}
    assert set(es_pandas.ENVIRONMENT_VARIABLES) == documented
    assert es_pandas.ENVIRONMENT_VARIABLES["ES_PANDAS_CLIENT_KEY"] == "cert"


# -- engines and dry runs ---------------------------------------------------------------


class CountingTransport(AsyncTransport):
    """An engine of one's own: answers every row itself, as a tiny Event Streams."""

    instances: ClassVar[list[CountingTransport]] = []

    def __init__(self, config: TransportConfig) -> None:
        super().__init__(config)
        self.requests: list[tuple[str, str, Mapping[str, str], bytes]] = []
        self.closed = False
        CountingTransport.instances.append(self)

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        self.requests.append((method, url, headers, body))
        offset = len(self.requests) - 1
        metadata = {"topic": "t", "partition": 0, "offset": offset, "timestamp": "1700000000000"}
        return Response(200, {}, json.dumps({"metadata": metadata}).encode())

    async def aclose(self) -> None:
        self.closed = True


def test_a_custom_transport_subclass_is_an_engine() -> None:
    status = ROWS.es.produce(
        "t", url="https://es.example", api_key="k", engine=CountingTransport, progress=False
    )
    transport = CountingTransport.instances[-1]
    assert ok(status) and transport.closed
    # the first request asks whether the v2 route is there (api_version="auto")
    assert sorted(status["offset"]) == list(range(1, len(ROWS) + 1))
    method, url, headers, _ = transport.requests[1]
    assert (method, url) == ("POST", "https://es.example/v2/topics/t/records")
    assert headers["Authorization"] == "Bearer k" and headers["Accept-Encoding"] == "gzip, deflate"
    assert transport.config.timeout == 30.0 and transport.config.connections == 32


def test_a_mock_transport_answers_from_a_function() -> None:
    def busy(method: str, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        return Response(503, {"retry-after": "0"}, b'{"error":{"message":"brokers away"}}')

    status = ROWS.es.produce(
        "t",
        url="https://es.example",
        engine=functools.partial(MockTransport, busy),
        retries=1,
        progress=False,
    )
    assert (status["status"] == "failed").all()
    assert (status["attempts"] == 2).all()
    assert status["error"].str.contains("HTTP 503: brokers away").all()


def test_an_engine_that_is_not_a_transport_is_refused() -> None:
    with pytest.raises(es_pandas.ConfigurationError, match="not an es_pandas"):
        ROWS.es.produce("t", url="https://x", engine=dict, progress=False)
    with pytest.raises(es_pandas.ConfigurationError, match="made a list"):
        ROWS.es.produce("t", url="https://x", engine=lambda config: [], progress=False)


def test_aproduce_dry_run_inside_a_running_loop(es) -> None:
    async def notebook_cell() -> pd.DataFrame:
        return await ROWS.es.aproduce("single", url=es.url, api_key=API_KEY, dry_run=True)

    es.reset_stats()
    plan = asyncio.run(notebook_cell())
    assert es.stats() == {}
    assert plan.index.equals(ROWS.index)
    assert plan["url"].eq(f"{es.url}/v2/topics/single/records").all()
    assert API_KEY not in plan.to_string()


def test_a_dry_run_is_the_real_path(es) -> None:
    """What a dry run shows is what a run sends, byte for byte (secrets apart)."""
    frame = pd.DataFrame({"k": ["a", None, "c"], "v": [1.5, 2.0, float("inf")]})
    options = {
        "key_col": "k",
        "url": "https://es.example",
        "api_key": "k",
        "api_version": "v2",  # "auto" would ask the endpoint first, as no dry run does
        "progress": False,
    }
    plan = frame.es.produce("t", dry_run=True, **options)
    status = frame.es.produce("t", engine=CountingTransport, **options)
    sent = CountingTransport.instances[-1].requests
    assert status["status"].tolist() == ["ok", "rejected", "rejected"]
    assert plan["error"].isna().tolist() == [True, False, False]
    assert [(plan.loc[0, "method"], plan.loc[0, "url"], plan.loc[0, "body"].encode())] == [
        (method, url, body) for method, url, _, body in sent
    ]
    shown = {k: v for k, v in plan.loc[0, "headers"].items() if k != "Authorization"}
    assert shown == {k: v for k, v in sent[0][2].items() if k != "Authorization"}
    assert plan.loc[0, "headers"]["Authorization"] == "Bearer <redacted>"


def test_a_dry_run_with_iam_sends_nothing_anywhere(es) -> None:
    es.reset_stats()
    plan = ROWS.es.produce(
        "single", url=es.url, api_key=API_KEY, iam=True, iam_url=es.iam_url, dry_run=True
    )
    assert es.stats() == {}  # not even the token exchange
    assert plan.loc[0, "headers"]["Authorization"] == "Bearer <IAM token>"
