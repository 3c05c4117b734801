"""A user's typed code, checked by tests/test_lint.py with mypy --strict: what the
public API promises an editor and a type checker (each ignore below is an error
mypy must find: strict mode fails on an ignore it does not need)."""

from typing import assert_type

import pandas as pd

import es_pandas


def send(frame: pd.DataFrame, producer: es_pandas.Producer) -> None:
    assert_type(producer.produce(frame, "t", key_col="id"), es_pandas.StatusFrame)
    assert_type(producer.produce(frame, "t", dry_run=True), pd.DataFrame)
    assert_type(es_pandas.produce_file("orders.csv", "t"), es_pandas.Summary)
    assert_type(es_pandas.produce_file("orders.csv", "t", dry_run=print), es_pandas.Summary)
    assert_type(es_pandas.produce_file("orders.csv", "t", dry_run=True), pd.DataFrame)
    assert_type(producer.produce_file("orders.csv", "t", status_out="s.csv"), es_pandas.Summary)
    producer.produce(frame, "t", key_colum="id")  # type: ignore[call-overload]
    producer.produce(frame, "t", retries="x")  # type: ignore[call-overload]
    producer.produce(frame, "t", errors="ignore")  # type: ignore[call-overload]
    es_pandas.Producer(max_rate="fast")  # type: ignore[arg-type]
    es_pandas.produce_file("orders.csv", "t", sep=1)  # type: ignore[call-overload]


async def asend(frame: pd.DataFrame, producer: es_pandas.Producer) -> None:
    assert_type(await producer.aproduce(frame, "t"), es_pandas.StatusFrame)
