"""``es-pandas demo``: the whole path on a fresh machine, against the embedded server."""

from __future__ import annotations

from typing import Any

import click

from .._producer import produce_file
from .._sample import SAMPLE
from .._status import Summary
from ..server import LocalEventStreams
from ._options import flags, to_options

__all__ = ["demo"]


@click.command()
@click.option(
    "--fault-rate",
    default=0.02,
    show_default=True,
    help="Share of requests the local server answers 503, to show retries.",
)
@flags(["concurrency", "progress"])
def demo(fault_rate: float, **values: Any) -> None:
    """Load a sample orders CSV into a local Event Streams and explain what happened.

    \b
    Examples:
      es-pandas demo
      es-pandas demo --fault-rate 0.2 --concurrency 8
    """
    sample = str(SAMPLE)
    with LocalEventStreams(topics={"orders": 3}) as es:
        es.set_faults(rates={"503": fault_rate} if fault_rate else {}, retry_after=0, seed=1)
        click.echo(
            f"A local Event Streams is running at {es.url} with topic 'orders' (3 partitions).",
            err=True,
        )
        click.echo(f"Sending {sample} one record per row, keyed by order_id...", err=True)
        summary = produce_file(
            sample,
            "orders",
            key_col="order_id",
            # a CSV holds text: the demo asks for numbers and nulls where the file has them
            infer_types=True,
            na_values=("",),
            credentials=es.credentials,
            **to_options(values, ["concurrency", "progress"]),
        )
        assert isinstance(summary, Summary)
        click.echo(summary.table(), err=True)
        stats = es.stats()
        records = es.records("orders", decode=True)
        _explain(summary, stats, records)


def _explain(summary: Summary, stats: dict[str, int], records: Any) -> None:
    first = records.sort_values(["partition", "offset"]).iloc[0]
    by_partition = {int(p): int(n) for p, n in records.groupby("partition").size().items()}
    outcome = (
        "so every row still ended ok."
        if summary.counts["ok"] == summary.total
        else f"and the rows ended: {summary}."
    )
    click.echo(
        f"""
What just happened
  Each of the {summary.total:,} CSV rows became one Kafka record: key = order_id, value = the
  other columns as a JSON object. A CSV holds text; the demo asked for numbers where every
  value of a column reads back as one (--infer-types, never the key) and for empty fields as
  null (--na-values ""). They went out as concurrent HTTP requests to the Event Streams
  REST producer API (v2).
  The local server answered {stats.get("503", 0):,} requests with 503 on purpose;
  es_pandas retried them, {outcome}
  Records per partition (Kafka's key partitioner): {by_partition}
  First record: partition {first["partition"]}, offset {first["offset"]}, key {first["key"]!r}
    value {first["value"]}

Point it at your own Event Streams (service credentials from the IBM Cloud console):
  es-pandas produce orders.csv --topic orders --key-col order_id --infer-types --na-values "" \\
    --credentials service-key.json
or from Python:
  import es_pandas
  status = df.es.produce("orders", key_col="order_id", credentials="service-key.json")
""",
        err=True,
    )
