"""Writes notebooks/*.ipynb from the cells below, outputs cleared.

Run: python tools/make_notebooks.py.

Notebooks are generated so their source stays reviewable as Python; tests execute them."""

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent.parent / "notebooks"

QUICKSTART = [
    new_markdown_cell(
        "# es_pandas quickstart\n\n"
        "Send a DataFrame to Event Streams, one record per row, and read what happened to "
        "each row. This notebook runs against es_pandas' local Event Streams server, so it "
        "needs no IBM Cloud account; to use your own instance, replace `url=` and "
        '`api_key=` with `credentials="service-key.json"`. The progress bar is an ipywidgets '
        'widget: `pip install "eventstreams-pandas[notebook]"`.'
    ),
    new_code_cell(
        "import numpy as np\n"
        "import pandas as pd\n\n"
        "import es_pandas\n\n"
        'es = es_pandas.LocalEventStreams(topics={"orders": 3}).start()\n'
        "es"
    ),
    new_code_cell(
        "rng = np.random.default_rng(7)\n"
        "orders = pd.DataFrame({\n"
        '    "order_id": [f"ORD-{i:05d}" for i in range(2000)],\n'
        '    "placed_at": pd.date_range(\n'
        '        "2026-11-26 09:00", periods=2000, freq="s", tz="Europe/Paris"\n'
        "    ),\n"
        '    "amount": rng.gamma(2.0, 30.0, 2000).round(2),\n'
        '    "coupon": rng.choice(["WELCOME10", None], 2000, p=[0.1, 0.9]),\n'
        "})\n"
        "orders.head()"
    ),
    new_markdown_cell(
        "## See the requests first\n\n"
        "`dry_run=True` goes down the same path as a real run, into a transport that records "
        "instead of sending: these are the exact requests, credentials masked."
    ),
    new_code_cell(
        "orders.head(3).es.produce(\n"
        '    "orders", key_col="order_id", url=es.url, api_key=es.api_key, dry_run=True\n'
        ")"
    ),
    new_markdown_cell("## Produce\n\nIn Jupyter the progress bar is a widget."),
    new_code_cell(
        'status = orders.es.produce("orders", key_col="order_id", url=es.url, api_key=es.api_key)\n'
        "status"
    ),
    new_code_cell("status.summary"),
    new_markdown_cell(
        "## When the server misbehaves\n\n"
        "The local server can inject faults. With retries switched off, some rows end "
        "`failed` (a 503: not written) or `unknown` (a 500: it may have been written)."
    ),
    new_code_cell(
        'es.set_faults(rates={"503": 0.1, "500": 0.03}, retry_after=0, seed=3)\n'
        "status = orders.es.produce(\n"
        '    "orders", key_col="order_id", url=es.url, api_key=es.api_key, retries=0\n'
        ")\n"
        'status["status"].value_counts()'
    ),
    new_markdown_cell(
        "## Retry the rows that are not ok\n\n"
        "Pass the slice back in, and take in its status with `status.update`: whole rows, "
        "so no old error stays behind. `unknown` rows may already be in Kafka: including "
        "them means at-least-once delivery, and `update` flags those now ok as "
        "`maybe_duplicate`."
    ),
    new_code_cell(
        "es.clear_faults()\n"
        'retry = orders.loc[status["status"] != "ok"].es.produce(\n'
        '    "orders", key_col="order_id", url=es.url, api_key=es.api_key\n'
        ")\n"
        "status.update(retry)\n"
        'status.value_counts(["status", "maybe_duplicate"])'
    ),
    new_markdown_cell("## What landed in the topic"),
    new_code_cell(
        'records = es.records("orders", decode=True)\nrecords.groupby("partition").size()'
    ),
    new_code_cell("records.head()"),
    new_markdown_cell(
        "## A Producer for many calls\n\n"
        "Every option of `produce` can be a `Producer`'s default; a call's own options "
        "come first. The connection settings are checked once, and an IAM token is shared."
    ),
    new_code_cell(
        "producer = es_pandas.Producer(\n"
        '    es.url, api_key=es.api_key, key_col="order_id", concurrency=64\n'
        ")\n"
        'producer.produce(orders.head(500), "orders", max_rate=200).summary'
    ),
    new_markdown_cell(
        "## Connecting to your own Event Streams\n\n"
        '- **IBM Cloud**: `credentials="service-key.json"` (the service key from the '
        "console); `max_rate=` keeps under your plan's quota (Lite 5/s, Standard 100/s); "
        "`iam=True` exchanges the API key for IAM tokens.\n"
        '- **On premises** (Cloud Pak for Integration): `api_version="v1"`, the cluster\'s '
        'CA as `verify="es-cert.pem"`, and a SCRAM user as `user=`/`password=`, or the '
        'KafkaUser\'s certificate for mutual TLS as `cert=("user.crt", "user.key")`.\n'
        "- **Proxies**: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` are honoured, or give "
        '`proxy="http://proxy:3128"`.\n'
        '- **Engines**: aiohttp by default; `engine="httpx"` uses httpx. Both follow no '
        "redirects and send credentials nowhere but your URL.\n"
        '- **Extras**: `pip install "eventstreams-pandas[parquet]"` for Parquet files, '
        "`[notebook]` for this widget, `[speed]` for uvloop."
    ),
    new_code_cell("es.stop()"),
]

CSV_BATCH_LOAD = [
    new_markdown_cell(
        "# Loading a CSV in chunks\n\n"
        "`es_pandas.produce_file` (and its command-line twin `es-pandas produce`) streams a "
        "file in chunks, so a file larger than memory loads with flat memory, and writes "
        "each row's status to a file you can resume from. CSV, TSV and JSON Lines need "
        'nothing more; Parquet needs `pip install "eventstreams-pandas[parquet]"`.'
    ),
    new_code_cell(
        "import tempfile\nfrom pathlib import Path\n\n"
        "import numpy as np\nimport pandas as pd\n\n"
        "import es_pandas\n\n"
        'es = es_pandas.LocalEventStreams(topics={"orders": 3}).start()\n'
        "es.set_faults(latency=(0.001, 0.02), seed=1)  # a little network-like latency\n"
        "work = Path(tempfile.mkdtemp())"
    ),
    new_code_cell(
        "rng = np.random.default_rng(11)\n"
        "rows = 20_000\n"
        "pd.DataFrame({\n"
        '    "order_id": [f"ORD-{i:06d}" for i in range(rows)],\n'
        '    "amount": rng.gamma(2.0, 30.0, rows).round(2),\n'
        '    "country": rng.choice(["DE", "FR", "JP", "US"], rows),\n'
        '}).to_csv(work / "orders.csv", index=False)\n'
        '(work / "orders.csv").stat().st_size'
    ),
    new_code_cell(
        "summary = es_pandas.produce_file(\n"
        '    work / "orders.csv", "orders", key_col="order_id", chunksize=5_000,\n'
        '    status_out=str(work / "status.csv"), url=es.url, api_key=es.api_key, concurrency=64,\n'
        ")\n"
        "summary"
    ),
    new_code_cell('status = pd.read_csv(work / "status.csv")\nstatus.head()'),
    new_code_cell(
        'ax = status["latency_ms"].plot.hist(bins=50, title="Latency per row (ms)")\n'
        'ax.set_xlabel("ms");'
    ),
    new_code_cell('status["status"].value_counts().plot.bar(title="Rows by status");'),
    new_code_cell("es.stop()"),
]

KAFKA_SEMANTICS = [
    new_markdown_cell(
        "# Order, duplicates and dead letters\n\n"
        "A consumer that folds a key's events (a customer's orders, an account's balance) "
        "needs them in the order they happened, once each, and none lost. The REST API takes "
        "one record per request and has no idempotency key, so es_pandas does what it can "
        "on the sending side: it writes each key's rows in row order, gives each record an id "
        "that consumers can drop duplicates by, and writes the rows that did not make it to "
        "a file you can send again. Each is shown here against the local server, with "
        "seeded faults that make the point."
    ),
    new_code_cell(
        "import json\nimport tempfile\nfrom pathlib import Path\n\n"
        "import numpy as np\nimport pandas as pd\n\n"
        "import es_pandas\n\n"
        "es = es_pandas.LocalEventStreams(\n"
        "    topics={\n"
        '        name: 4 for name in ["unordered", "ordered", "held", "ids", "dead", "typed"]\n'
        "    }\n"
        ").start()\n"
        "work = Path(tempfile.mkdtemp())\n\n"
        "rng = np.random.default_rng(14)\n"
        "orders = pd.DataFrame({\n"
        '    "order_id": [f"ORD-{i:04d}" for i in range(120)],  # in row order\n'
        '    "customer": rng.choice(["C-A", "C-B", "C-C", "C-D"], 120),\n'
        '    "amount": rng.gamma(2.0, 30.0, 120).round(2),\n'
        "})\n"
        "orders.head()"
    ),
    new_markdown_cell(
        "## Order per key\n\n"
        "120 orders of four customers, the customer as the key. The server answers after "
        "0 to 20 ms at random, and 503 to one request in twenty (retried; `retry_after=0` "
        'keeps it quick). First with `ordering="none"`: up to 32 requests in flight, so a '
        'customer\'s orders race each other. Then with the default, `ordering="key"`.'
    ),
    new_code_cell(
        "runs = {}\n"
        'for ordering, topic in [("none", "unordered"), ("key", "ordered")]:\n'
        '    es.set_faults(latency=(0, 0.02), rates={"503": 0.05}, retry_after=0, seed=12)\n'
        "    status = orders.es.produce(\n"
        '        topic, key_col="customer", ordering=ordering, credentials=es.credentials\n'
        "    )\n"
        '    assert (status["status"] == "ok").all()\n'
        '    retried = (status["attempts"] > 1).sum()\n'
        '    runs[ordering] = f"{status.summary}, {retried} rows retried"\n'
        "es.clear_faults()\n"
        "runs"
    ),
    new_markdown_cell(
        "Read the records back by partition and offset (a key's records are all in one "
        "partition), and count, per customer, the orders that are not where row order puts "
        "them."
    ),
    new_code_cell(
        "def out_of_order(topic):\n"
        '    """Per customer, how many of its records the topic holds out of row order."""\n'
        '    records = es.records(topic, decode=True).sort_values(["partition", "offset"])\n'
        '    assert records["value"].is_unique  # each order once\n'
        '    stored = records["value"].map(lambda value: json.loads(value)["order_id"])\n'
        '    return stored.groupby(records["key"]).agg(lambda ids: (ids != sorted(ids)).sum())\n'
        "\n\n"
        "misplaced = pd.DataFrame(\n"
        '    {"none": out_of_order("unordered"), "key": out_of_order("ordered")}\n'
        ').rename_axis(index="customer", columns="ordering")\n'
        'assert (misplaced["key"] == 0).all()  # the guarantee\n'
        'assert (misplaced["none"] > 0).any()  # and without it, the race shows\n'
        "misplaced"
    ),
    new_markdown_cell(
        'With `ordering="key"` a customer has one request in flight at a time, and a row '
        "being retried holds back the customer's later rows until it ends. Customers still "
        "go in parallel, but four customers means four requests in flight at most, and a "
        "frame with a single key goes one request at a time. Where the consumer does not "
        'care about order, `ordering="none"` is the fast choice.'
    ),
    new_markdown_cell(
        "## When a row of a key fails: `on_key_error`\n\n"
        "A row that fails breaks its key's order if the key's later rows go on without it: "
        'sent again, it lands after them. By default (`on_key_error="continue"`) they '
        'go on; `"hold"` keeps them back as `not_sent`, to be sent again after the failed '
        "row, in order. Here the server refuses the first row (a scripted 400, which is not "
        "retried). The scripted answer reaches the first row because it goes alone: until "
        "a row gets an answer about itself, es_pandas sends one at a time, so a wrong URL "
        "or credential costs a few requests, not 32."
    ),
    new_code_cell(
        "few = orders.head(12)\n"
        'es.script_faults(["400"])\n'
        "status = few.es.produce(\n"
        '    "held", key_col="customer", on_key_error="hold", credentials=es.credentials\n'
        ")\n"
        'first = few["customer"] == few.loc[0, "customer"]\n'
        'assert status.loc[0, "status"] == "failed"\n'
        'assert (status.loc[first, "status"].iloc[1:] == "not_sent").all()\n'
        'assert (status.loc[~first, "status"] == "ok").all()  # the other customers went\n'
        "status"
    ),
    new_code_cell('few.join(status[["status", "error"]]).loc[first]'),
    new_markdown_cell(
        "## Record ids: dropping duplicates in the consumer\n\n"
        "At-least-once delivery means duplicates: a request whose answer is lost may "
        "have written its record, and the retry writes it again. So does a job that runs "
        'twice. `record_id="hash"` puts a header on each record, `es-pandas-record-id`, '
        "with a digest of its key, value and headers: the same on every try and in every "
        'run that sends the row again. (A column works too: `record_id="order_id"`; '
        "`hash` is for frames without one.)\n\n"
        "Here the server writes the first row and then answers 500 (`500+written`), so "
        "es_pandas retries it and it is written twice; then the same rows are sent again."
    ),
    new_code_cell(
        'es.script_faults(["500+written"])\n'
        'send = {"key_col": "customer", "record_id": "hash", "credentials": es.credentials}\n'
        'status = few.es.produce("ids", **send)\n'
        'again = few.es.produce("ids", **send)  # the same rows, once more\n'
        'assert (status["status"] == "ok").all() and status.loc[0, "maybe_duplicate"]\n'
        'assert again["record_id"].equals(status["record_id"])  # same rows, same ids\n'
        'status[["status", "error", "attempts", "maybe_duplicate", "record_id"]].head()'
    ),
    new_markdown_cell(
        "The topic now holds 25 records for 12 rows: the first customer's first order "
        "three times. Each copy carries the same id in its headers."
    ),
    new_code_cell(
        'records = es.records("ids", decode=True)\n'
        'print(records.loc[0, "headers"])\n'
        'records["record_id"] = records["headers"].map(\n'
        '    lambda headers: dict(headers)["es-pandas-record-id"]\n'
        ")\n"
        'records.loc[records["key"] == "C-A", ["partition", "offset", "value", "record_id"]]'
    ),
    new_markdown_cell(
        "A consumer keeps the ids it has seen and skips a record whose id it has seen "
        "before; in pandas, `drop_duplicates`:"
    ),
    new_code_cell(
        'unique = records.drop_duplicates("record_id")  # the first copy of each\n'
        "assert len(records) == 2 * len(few) + 1\n"
        'assert len(unique) == len(few) and set(unique["record_id"]) == set(status["record_id"])\n'
        'unique.loc[unique["key"] == "C-A", ["partition", "offset", "value", "record_id"]]'
    ),
    new_markdown_cell(
        "## Dead letters: fix the rows, send the file\n\n"
        '`dead_letter="failed.jsonl"` writes every row that does not end ok to a file, with '
        "its own columns and why: `status`, `error`, `http_status`, `trace` and `attempts`. "
        "Here the server answers the first row 503 five times (an outage longer than its "
        'four retries), and `on_key_error="hold"` keeps that customer\'s later rows back, '
        "so the file holds all of them, in row order."
    ),
    new_code_cell(
        'es.set_faults(retry_after=0, script=["503x5"])\n'
        "status = few.es.produce(\n"
        '    "dead",\n'
        '    key_col="customer",\n'
        '    on_key_error="hold",\n'
        '    dead_letter=str(work / "failed.jsonl"),\n'
        "    credentials=es.credentials,\n"
        ")\n"
        "status.summary"
    ),
    new_code_cell(
        '# dtype=False: pandas would read a key such as "00042" as the number 42\n'
        'dead = pd.read_json(work / "failed.jsonl", lines=True, dtype=False)\n'
        'not_ok = few.loc[status["status"] != "ok", "order_id"]\n'
        'assert dead["order_id"].tolist() == not_ok.tolist()  # every row not ok, in row order\n'
        "dead"
    ),
    new_markdown_cell(
        "Fix what the errors say and send the file again as it is; here the fix is the "
        "server coming back. A frame with all five status columns is taken for dead "
        "letters: the five are dropped, and the rows go as they would have the first time."
    ),
    new_code_cell(
        "es.clear_faults()\n"
        'resent = pd.read_json(work / "failed.jsonl", lines=True, dtype=False).es.produce(\n'
        '    "dead", key_col="customer", credentials=es.credentials\n'
        ")\n"
        'assert (resent["status"] == "ok").all()\n'
        'assert len(es.records("dead")) == len(few)\n'
        'assert (out_of_order("dead") == 0).all()  # each customer\'s orders, once, in order\n'
        "resent"
    ),
    new_markdown_cell(
        "## Typed records: Avro and the schema registry\n\n"
        'With `value_format="avro"` each value is an Avro record, checked against a schema '
        "before it is sent; Event Streams keeps the schema in its registry and stores the "
        "record in the Confluent wire format, which any Confluent deserializer reads. The "
        "schema is inferred from the dtypes: review it (and save it as an `.avsc` to pin "
        "it with `value_schema=`)."
    ),
    new_code_cell(
        "from decimal import Decimal\n\n"
        "typed = orders.head(4).assign(\n"
        '    amount=lambda d: d["amount"].map(lambda a: Decimal(f"{a:.2f}")),\n'
        '    placed_at=pd.date_range("2026-11-26 09:00", periods=4, freq="min", tz="UTC"),\n'
        '    note=["gift", None, None, "rush"],\n'
        ")\n"
        'schema = es_pandas.infer_schema(typed.drop(columns="order_id"), topic="typed")\n'
        "print(json.dumps(schema, indent=2))"
    ),
    new_markdown_cell(
        "Send it, and read it back: the local server decodes each record with the schema "
        "its registry holds under the id in the record's first bytes (magic byte 0, then "
        "the id): the values that went in, Decimals and instants included."
    ),
    new_code_cell(
        "status = typed.es.produce(\n"
        '    "typed", key_col="order_id", value_format="avro", credentials=es.credentials\n'
        ")\n"
        'assert (status["status"] == "ok").all()\n'
        'stored = es.records("typed")\n'
        'print(es.records("typed", decode=False)["value"][0][:5])  # framing: 0, schema id\n'
        'pd.DataFrame(stored["value"].tolist(), index=stored["key"].map(bytes.decode))'
    ),
    new_code_cell("es.stop()"),
]


SCALING_OUT = [
    new_markdown_cell(
        "# Past the REST quota and past one machine\n\n"
        "The REST producer API takes one request per record, and IBM Cloud caps requests per "
        "second by plan. The same service key opens the Kafka protocol too "
        '(`protocol="kafka"`), and a Dask DataFrame is sent from its workers '
        "(`ddf.es.produce`). This notebook runs all three on this machine: the REST API against "
        "es_pandas' local server, the Kafka protocol against the Kafka broker that "
        "`KAFKA_BOOTSTRAP` names (`host:port`; any Kafka, or a Tansu on your laptop), and Dask "
        'on a local cluster. `pip install "eventstreams-pandas[notebook]"` installs what it uses.'
    ),
    new_markdown_cell(
        "## The quota, in hours\n\n"
        "Whatever the client does, a REST load takes at least rows / quota seconds."
    ),
    new_code_cell(
        "rows = 10_000_000\n"
        'for plan, quota in {"Lite": 5, "Standard": 100, "Enterprise": 200}.items():\n'
        '    print(f"{plan:>10}: {rows / quota / 3600:8,.1f} hours at {quota} requests/s")'
    ),
    new_code_cell(
        "import os\n\n"
        "import numpy as np\n"
        "import pandas as pd\n\n"
        "import es_pandas\n\n"
        'es = es_pandas.LocalEventStreams(topics={"orders": 3}).start()\n'
        "rng = np.random.default_rng(7)\n"
        "n = 5_000\n"
        "orders = pd.DataFrame({\n"
        '    "order_id": [f"ORD-{i:06d}" for i in range(n)],\n'
        '    "customer": [f"C-{i % 997:04d}" for i in range(n)],\n'
        '    "amount": rng.gamma(2.0, 30.0, n).round(2),\n'
        "})"
    ),
    new_markdown_cell(
        "## REST\n\n"
        "One request per row, 32 in flight. On premises there is no quota: the rows/s here is "
        "what one process gets from a server on the same machine."
    ),
    new_code_cell(
        "rest = orders.es.produce(\n"
        '    "orders", key_col="customer", url=es.url, api_key=es.api_key\n'
        ")\n"
        "rest"
    ),
    new_code_cell("rest.summary"),
    new_markdown_cell(
        "## The Kafka protocol\n\n"
        'The same call with `protocol="kafka"` and the brokers: against IBM Cloud, '
        '`credentials="service-key.json"` gives both (its `kafka_brokers_sasl` and API key). '
        "The rows become the same records (keys, values, headers), written by confluent-kafka's "
        "idempotent producer; the status frame's partition and offset are the broker's."
    ),
    new_code_cell(
        "from confluent_kafka.admin import AdminClient, NewTopic\n\n"
        'bootstrap = os.environ["KAFKA_BOOTSTRAP"]  # host:port of a Kafka broker\n'
        'topic = f"orders-{os.getpid()}"\n'
        'admin = AdminClient({"bootstrap.servers": bootstrap})\n'
        "admin.create_topics([NewTopic(topic, 3)])[topic].result(10)\n\n"
        "kafka = orders.es.produce(\n"
        '    topic, key_col="customer", protocol="kafka", bootstrap_servers=bootstrap\n'
        ")\n"
        "kafka"
    ),
    new_code_cell(
        'print(f"REST:  {rest.summary}")\n'
        'print(f"Kafka: {kafka.summary}")\n'
        'print(f"Kafka / REST: {kafka.summary.rate / rest.summary.rate:.1f}x")'
    ),
    new_markdown_cell(
        "## Dask\n\n"
        "Each partition is sent by the worker process that holds it, with one producer per "
        "worker; the summary is counted on the workers. Both protocols work. On a 2-core "
        "laptop, more workers than cores add nothing: Dask pays where the data already lives "
        "in Dask, or where one process cannot keep up with the endpoint."
    ),
    new_code_cell(
        "import dask.dataframe as dd\n"
        "from distributed import Client, LocalCluster\n\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)\n"
        "client = Client(cluster)\n"
        "ddf = dd.from_pandas(orders, npartitions=4)\n"
        "over_rest = ddf.es.produce(\n"
        '    "orders", key_col="customer", url=es.url, api_key=es.api_key, progress=True\n'
        ")\n"
        "over_kafka = ddf.es.produce(\n"
        '    topic, key_col="customer", protocol="kafka", bootstrap_servers=bootstrap\n'
        ")\n"
        'print(f"Dask, REST:  {over_rest}")\n'
        'print(f"Dask, Kafka: {over_kafka}")'
    ),
    new_markdown_cell(
        "## Which to use\n\n"
        '| | REST (`protocol="rest"`) | Kafka protocol (`protocol="kafka"`) | Dask '
        "(`ddf.es.produce`) |\n"
        "|---|---|---|---|\n"
        "| rate | the plan's quota on IBM Cloud (5-200 rows/s) | thousands of rows/s per "
        "process | either protocol's, per worker |\n"
        "| network | HTTPS, through proxies | Kafka's port to every broker (no HTTP proxy) | "
        "as the protocol |\n"
        "| Avro | inferred and registered | not yet | as the protocol |\n"
        "| use it for | notebooks, small and medium loads, locked-down networks | loads past "
        "the quota | data that lives in Dask |\n\n"
        'The README\'s "Performance" section has the figures measured side by side.'
    ),
    new_code_cell("client.close()\ncluster.close()\nes.stop()"),
]


def write(name: str, cells: list) -> None:
    notebook = new_notebook(cells=cells)
    # nbformat draws cell ids at random: fixed ones keep a regenerated notebook unchanged
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{Path(name).stem}-{number}"
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
    write("csv_batch_load.ipynb", CSV_BATCH_LOAD)
    write("kafka_semantics.ipynb", KAFKA_SEMANTICS)
    write("scaling_out.ipynb", SCALING_OUT)
    # the project's lint and format apply to notebooks too
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(HERE)], check=True)
