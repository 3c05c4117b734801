"""One contender sending a realistic frame, in its own process, reporting what it cost.

Run by benchmarks.produce as ``python -m benchmarks._contenders NAME URL ROWS CONCURRENCY
[MAX_RATE]`` (URL: the Kafka contender's is the broker's host:port); prints one JSON
line: rows, ok, seconds, client CPU (getrusage of this process, all threads; the Dask
contenders add their worker processes'), peak RSS (this process's), and the RSS before
the frame was built.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

TOPIC = "bench"
#: the partitions of the Dask contenders' frame, whatever their number of workers
DASK_PARTITIONS = 8


def realistic_frame(rows: int) -> pd.DataFrame:
    """Orders with mixed dtypes and missing values, as a user would have them."""
    rng = np.random.default_rng(42)
    amount = rng.gamma(2.0, 30.0, rows).round(2)
    amount[rng.random(rows) < 0.03] = np.nan
    placed = pd.Timestamp("2026-11-01T08:00:00") + pd.to_timedelta(
        rng.integers(0, 30 * 86400, rows), unit="s"
    )
    return pd.DataFrame(
        {
            "order_id": np.arange(rows),
            "customer": pd.Series(rng.integers(1, 5000, rows)).map("C{:05d}".format),
            "placed_at": placed,
            "country": pd.Categorical(rng.choice(["DE", "FR", "JP", "US", "BR"], rows)),
            "items": pd.array(rng.integers(1, 9, rows), dtype="Int64"),
            "amount": amount,
            "express": rng.random(rows) < 0.2,
            "coupon": np.where(rng.random(rows) < 0.1, "WELCOME10", None),
        }
    )


def _records(frame: pd.DataFrame) -> list[dict]:
    # what a careful user does so json.dumps writes null, not the invalid NaN
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _envelope(record: dict) -> str:
    value = json.dumps(record, default=str)
    return json.dumps(
        {
            "key": {"type": "text", "data": str(record["order_id"])},
            "value": {"type": "json", "data": value},
        }
    )


HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def es_pandas_engine(
    engine: str, ordering: str = "key", keys: int | None = None, rate: str | None = None
) -> Callable[..., dict]:
    """df.es.produce; ``keys``: that many keys, row i's being i % keys, so each key's rows
    are interleaved with the others' (default: one key per row); ``rate``: max_rate
    whatever the scenario says."""

    def run(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None) -> dict:
        import es_pandas  # noqa: F401 - registers df.es

        if keys is not None:
            frame = frame.assign(order_id=frame["order_id"] % keys)
        status = frame.es.produce(
            TOPIC,
            key_col="order_id",
            url=url,
            engine=engine,
            concurrency=concurrency,
            max_rate=rate or max_rate,
            ordering=ordering,
            progress=False,
        )
        return {
            "ok": int((status["status"] == "ok").sum()),
            "status_bytes": int(status.memory_usage(deep=True).sum()),
        }

    return run


def es_pandas_file(status_out: bool) -> Callable[..., dict]:
    """produce_file on the frame written as CSV, with or without a status file (and so
    its journal); only the load is timed."""

    def run(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None) -> dict:
        import tempfile

        import es_pandas

        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/orders.csv"
            frame.to_csv(path, index=False)
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            summary = es_pandas.produce_file(
                path,
                TOPIC,
                key_col="order_id",
                url=url,
                concurrency=concurrency,
                max_rate=max_rate,
                progress=False,
                status_out=f"{folder}/status.csv" if status_out else None,
            )
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
        assert isinstance(summary, es_pandas.Summary)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"ok": summary.counts["ok"], "seconds": seconds, "cpu_seconds": cpu}

    return run


def es_pandas_calls(size: int) -> Callable[..., dict]:
    """df.es.produce on the frame's slices of ``size`` rows, one call after another, as
    a notebook makes them; timed after a first call (the import scenario has what that
    one adds: imports, the first connections)."""

    def run(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None) -> dict:
        import es_pandas  # noqa: F401 - registers df.es

        options = {
            "key_col": "order_id",
            "url": url,
            "concurrency": concurrency,
            "max_rate": max_rate,
            "progress": False,
        }
        frame.head(size).es.produce(TOPIC, **options)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        ok = 0
        for at in range(0, len(frame), size):
            status = frame.iloc[at : at + size].es.produce(TOPIC, **options)
            ok += int((status["status"] == "ok").sum())
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"ok": ok, "seconds": seconds, "cpu_seconds": cpu, "call_rows": size}

    return run


def requests_loop(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None):
    import requests

    ok = 0
    with requests.Session() as session:
        for record in _records(frame):
            answer = session.post(
                f"{url}/v2/topics/{TOPIC}/records",
                data=_envelope(record),
                headers=HEADERS,
                timeout=30,
            )
            ok += answer.status_code == 200
    return {"ok": ok}


def requests_threads(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None):
    import requests

    local = threading.local()

    def send(record: dict) -> bool:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        answer = session.post(
            f"{url}/v2/topics/{TOPIC}/records", data=_envelope(record), headers=HEADERS, timeout=30
        )
        return answer.status_code == 200

    with ThreadPoolExecutor(max_workers=min(concurrency, 32)) as pool:
        ok = sum(pool.map(send, _records(frame), chunksize=64))
    return {"ok": ok}


def bare_aiohttp(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None):
    """The best a skilled user writes in an afternoon: a worker pool, no retries, no status."""
    import aiohttp

    async def main() -> int:
        values = frame.to_json(orient="records", lines=True, date_format="iso").splitlines()
        keys = frame["order_id"].astype(str).tolist()
        rows = iter(range(len(frame)))
        ok = 0
        target = f"{url}/v2/topics/{TOPIC}/records"
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                nonlocal ok
                for i in rows:
                    body = json.dumps(
                        {
                            "key": {"type": "text", "data": keys[i]},
                            "value": {"type": "json", "data": values[i]},
                        }
                    )
                    async with session.post(target, data=body, headers=HEADERS) as answer:
                        await answer.read()
                        ok += answer.status == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok

    try:
        import uvloop

        return {"ok": uvloop.run(main())}
    except ImportError:
        return {"ok": asyncio.run(main())}


def es_pandas_kafka(frame: pd.DataFrame, bootstrap: str, concurrency: int, max_rate: float | None):
    """df.es.produce with protocol="kafka": librdkafka batches the records itself, so
    ``concurrency`` (REST's requests in flight) has nothing to set."""
    import es_pandas  # noqa: F401 - registers df.es

    status = frame.es.produce(
        TOPIC,
        key_col="order_id",
        protocol="kafka",
        bootstrap_servers=bootstrap,
        max_rate=max_rate,
        progress=False,
    )
    return {
        "ok": int((status["status"] == "ok").sum()),
        "status_bytes": int(status.memory_usage(deep=True).sum()),
    }


def _import_es_pandas() -> None:
    import es_pandas  # noqa: F401


def dask_workers(workers: int) -> Callable[..., dict]:
    """ddf.es.produce over REST from a dask.distributed LocalCluster of ``workers``
    processes of one thread each, the frame in DASK_PARTITIONS partitions.

    Timed: the run alone. The cluster's start, es_pandas' import on the workers (main
    imports it here before timing, too) and the frame's trip to the workers (persisted
    first: data that already lives in Dask) are not. CPU: this process (the client, the
    scheduler and the nannies, which a LocalCluster runs here) plus every process under
    it (the workers, multiprocessing's resource tracker), over the timed run."""

    def run(frame: pd.DataFrame, url: str, concurrency: int, max_rate: float | None) -> dict:
        import dask.dataframe as dd
        import psutil  # distributed's own dependency
        from distributed import Client, LocalCluster, wait

        import es_pandas  # noqa: F401 - registers ddf.es

        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                worker_dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(_import_es_pandas)
            ddf = dd.from_pandas(frame, npartitions=DASK_PARTITIONS).persist()
            wait(ddf)
            processes = psutil.Process().children(recursive=True)

            def workers_cpu() -> float:
                return sum(sum(p.cpu_times()[:2]) for p in processes)

            workers_before = workers_cpu()
            before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            summary = ddf.es.produce(
                TOPIC,
                key_col="order_id",
                url=url,
                concurrency=concurrency,
                max_rate=max_rate,
                progress=False,
            )
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            worker_cpu = workers_cpu() - workers_before
        own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {
            "ok": summary.counts["ok"],
            "seconds": seconds,
            "cpu_seconds": own + worker_cpu,
            "worker_cpu_seconds": worker_cpu,
            "worker_processes": len(processes),
            "partitions": DASK_PARTITIONS,
        }

    return run


CONTENDERS: dict[str, Callable[..., dict]] = {
    "es_pandas (aiohttp)": es_pandas_engine("aiohttp"),
    "es_pandas (httpx)": es_pandas_engine("httpx"),
    'es_pandas, max_rate="auto"': es_pandas_engine("aiohttp", rate="auto"),
    'ordering="key", distinct keys': es_pandas_engine("aiohttp"),
    'ordering="none", distinct keys': es_pandas_engine("aiohttp", ordering="none"),
    'ordering="key", 100 keys interleaved': es_pandas_engine("aiohttp", keys=100),
    'ordering="none", 100 keys interleaved': es_pandas_engine("aiohttp", ordering="none", keys=100),
    "es_pandas, 10-row calls": es_pandas_calls(10),
    "bare aiohttp script": bare_aiohttp,
    "produce_file": es_pandas_file(status_out=False),
    "produce_file --status-out": es_pandas_file(status_out=True),
    "requests.Session loop": requests_loop,
    "requests + 32 threads": requests_threads,
    'protocol="rest", aiohttp engine': es_pandas_engine("aiohttp"),
    'protocol="kafka"': es_pandas_kafka,
    **{f"Dask, {n} worker{'s' * (n > 1)}, REST": dask_workers(n) for n in (1, 2, 4)},
}


def _rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main() -> None:
    name, url, rows, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    max_rate = float(sys.argv[5]) if len(sys.argv) > 5 else None
    contender = CONTENDERS[name]
    import es_pandas  # noqa: F401 - every contender pays the same imports

    baseline_rss = _rss_now()
    frame = realistic_frame(rows)
    frame_bytes = int(frame.memory_usage(deep=True).sum())
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = contender(frame, url, concurrency, max_rate)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        json.dumps(
            {
                "contender": name,
                "rows": rows,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_rss": after.ru_maxrss * 1024,
                "baseline_rss": baseline_rss,
                "frame_bytes": frame_bytes,
                # a contender that times only part of its work says so
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
