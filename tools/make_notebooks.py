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


def write(name: str, cells: list) -> None:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, HERE / name)


if __name__ == "__main__":
    write("quickstart.ipynb", QUICKSTART)
    write("csv_batch_load.ipynb", CSV_BATCH_LOAD)
    # the project's lint and format apply to notebooks too
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(HERE)], check=True)
