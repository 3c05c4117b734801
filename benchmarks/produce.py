"""How fast and how lean df.es.produce is, against what a user would write instead.

    python -m benchmarks.produce                 # the full run (about 20 minutes here)
    python -m benchmarks.produce --quick         # a smoke run of every scenario
    python -m benchmarks.produce --scenarios protocols   # some scenarios only

The local server runs in its own process (and for the Kafka protocol a Tansu broker, in
its own); each contender runs in its own process, so CPU (getrusage) and peak RSS are the
client's alone. Contenders run side by side, interleaved over several rounds, and the
report gives medians and ratios from the same run: the machine is shared and noisy, so
absolute figures move between runs and ratios less so. Writes
benchmarks/results/<time>.json and .md, and latest.json/.md/.png; a run of some of the
scenarios writes <time>-<scenarios>.json and .md, and leaves latest.* to the full run.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tools.kafka_broker import Broker, free_port, running_broker

RESULTS = Path(__file__).resolve().parent / "results"
TOPIC = "bench"  # the contenders' (benchmarks._contenders.TOPIC)
AIOHTTP, HTTPX, BARE = "es_pandas (aiohttp)", "es_pandas (httpx)", "bare aiohttp script"
LOOP, THREADS = "requests.Session loop", "requests + 32 threads"
FILE, JOURNAL = "produce_file", "produce_file --status-out"
ORDERED, UNORDERED = 'ordering="key", distinct keys', 'ordering="none", distinct keys'
ORDERED_100, UNORDERED_100 = (
    'ordering="key", 100 keys interleaved',
    'ordering="none", 100 keys interleaved',
)
AUTO = 'es_pandas, max_rate="auto"'
CALLS = "es_pandas, 10-row calls"
REST, KAFKA = 'protocol="rest", aiohttp engine', 'protocol="kafka"'
DASK = [f"Dask, {n} worker{'s' * (n > 1)}, REST" for n in (1, 2, 4)]
CONCURRENCY = 64
IMPORTS = {"import pandas": "import pandas", "import es_pandas": "import pandas, es_pandas"}
ALL_SCENARIOS = (
    "import",
    "cpu",
    "latency",
    "max_rate",
    "pressure",
    "pressure_halving",
    "journal",
    "ordering",
    "memory",
    "protocols",
)
#: rows of every contender of the protocols scenario: here, under a second of the Kafka
#: protocol, about 20 s of Dask's slowest, a round in about 80 s
PROTOCOL_ROWS = 30_000


@dataclass
class Scenario:
    name: str
    title: str
    latency: float = 0.0
    quota: float | None = None
    #: what the quota does beyond it: "delay" or "429"
    over_quota: str = "delay"
    #: (seconds into each run, the quota from then on)
    quota_change: tuple[float, float] | None = None
    max_rate: float | None = None
    rows: dict[str, int] = field(default_factory=dict)  # contender -> rows to send
    rounds: int = 1
    #: a Tansu broker beside the server; the Kafka contender is given its host:port
    kafka: bool = False
    #: the contender the table's last column divides by
    reference: str = LOOP


def scenarios(
    rows: int, rounds: int, memory_rows: int, rate_seconds: float, protocol_rows: int
) -> list[Scenario]:
    return [
        Scenario(
            "cpu",
            "no added latency (CPU-bound)",
            rounds=rounds,
            rows={
                AIOHTTP: rows,
                BARE: rows,
                HTTPX: min(rows, 3000),
                LOOP: min(rows, 5000),
                THREADS: min(rows, 5000),
                # a notebook's small calls, one after another: what each call costs
                CALLS: min(rows, 2000),
            },
        ),
        Scenario(
            "latency",
            "20 ms server latency (latency-bound)",
            latency=0.02,
            rounds=rounds,
            rows={
                AIOHTTP: rows,
                BARE: rows,
                HTTPX: min(rows, 2000),
                LOOP: min(rows, 300),
                THREADS: min(rows, 4000),
            },
        ),
        Scenario(
            "max_rate",
            "max_rate=100 against a 100/s quota",
            quota=100,
            max_rate=100,
            rows={AIOHTTP: int(100 * rate_seconds)},
        ),
        Scenario(
            "pressure",
            "a 100/s quota that answers 429 beyond it (Retry-After 1 s)",
            quota=100,
            over_quota="429",
            rows={AIOHTTP: int(100 * rate_seconds), AUTO: int(100 * rate_seconds), BARE: 3000},
        ),
        Scenario(
            "pressure_halving",
            "the same quota, halved to 50/s half-way through the rows",
            quota=100,
            over_quota="429",
            quota_change=(rate_seconds / 2, 50),
            rows={AIOHTTP: int(100 * rate_seconds)},
        ),
        Scenario(
            "journal",
            "a CSV file, without and with --status-out (its crash journal)",
            rounds=rounds,
            rows={FILE: rows, JOURNAL: rows},
        ),
        Scenario(
            "ordering",
            'ordering="key" vs "none", no added latency: distinct keys, and 100 keys '
            "(row i's key i % 100)",
            rounds=rounds,
            rows={ORDERED: rows, UNORDERED: rows, ORDERED_100: rows, UNORDERED_100: rows},
        ),
        Scenario(
            "memory",
            f"{memory_rows:,} rows, memory: REST and the Kafka protocol (Tansu)",
            rows={AIOHTTP: memory_rows, KAFKA: memory_rows},
            kafka=True,
            reference=AIOHTTP,
        ),
        Scenario(
            "protocols",
            "REST, the Kafka protocol (Tansu) and Dask over REST, no added latency, no quota "
            "(on premises)",
            rounds=rounds,
            rows={name: protocol_rows for name in (REST, KAFKA, *DASK)},
            kafka=True,
            reference=REST,
        ),
    ]


def create_topic(bootstrap: str) -> None:
    """The REST server's topic on the broker too: the same name, the same 3 partitions."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 3)])[TOPIC].result(30)


def start_server(scenario: Scenario) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "es_pandas",
        "serve",
        "--no-auth",
        "--topic",
        f"{TOPIC}:3",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--latency",
        str(scenario.latency),
    ]
    if scenario.quota:
        command += ["--quota", str(scenario.quota), "--over-quota", scenario.over_quota]
    proc = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/_local/stats", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the local server did not start")


def process_cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, from /proc (the server's CPU, measured from outside);
    NaN for a server that is not a process here."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_contender(name: str, url: str, rows: int, max_rate: float | None) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks._contenders",
        name,
        url,
        str(rows),
        str(CONCURRENCY),
    ]
    if max_rate:
        command.append(str(max_rate))
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_scenario(scenario: Scenario, log) -> dict:
    with contextlib.ExitStack() as stack:
        broker = None
        if scenario.kafka:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            broker = stack.enter_context(running_broker(folder / "broker.log"))
            create_topic(broker.bootstrap)
        return run_rounds(scenario, broker, log)


def run_rounds(scenario: Scenario, broker: Broker | None, log) -> dict:
    proc, url = start_server(scenario)
    runs = []
    try:
        for round_number in range(scenario.rounds):
            for name, rows in scenario.rows.items():
                # the Kafka contender's server is the broker (whose CPU is unknown when
                # KAFKA_BOOTSTRAP names one outside)
                target, server = url, proc.pid
                if name == KAFKA:
                    assert broker is not None
                    target = broker.bootstrap
                    server = None if broker.process is None else broker.process.pid
                httpx.delete(f"{url}/_local/stats")
                change = None
                if scenario.quota:
                    # each contender starts with a full quota (its burst included)
                    faults = {"latency": scenario.latency, "over_quota": scenario.over_quota}
                    httpx.put(f"{url}/_local/faults", json={**faults, "quota": None})
                    httpx.put(f"{url}/_local/faults", json={**faults, "quota": scenario.quota})
                    if scenario.quota_change:
                        after, quota = scenario.quota_change
                        change = threading.Timer(
                            after,
                            httpx.put,
                            (f"{url}/_local/faults",),
                            {"json": {**faults, "quota": quota}},
                        )
                        change.start()
                server_cpu = process_cpu_seconds(server)
                result = run_contender(name, target, rows, scenario.max_rate)
                if change is not None:
                    change.cancel()
                result["server_cpu_seconds"] = process_cpu_seconds(server) - server_cpu
                result["round"] = round_number
                result["server"] = httpx.get(f"{url}/_local/stats").json()
                runs.append(result)
                log(
                    f"  {scenario.name} round {round_number + 1}: {name}: "
                    f"{result['rows'] / result['seconds']:,.0f} rows/s, "
                    f"{result['cpu_seconds'] / result['rows'] * 1e6:,.0f} us/row"
                )
    finally:
        proc.terminate()
        proc.wait(30)
    return {"scenario": scenario.__dict__, "runs": runs}


def medians(result: dict) -> dict[str, dict]:
    table: dict[str, dict] = {}
    for name in result["scenario"]["rows"]:
        runs = [r for r in result["runs"] if r["contender"] == name]
        table[name] = {
            "rows": runs[0]["rows"],
            "ok": min(r["ok"] for r in runs),
            "rows_per_s": statistics.median(r["rows"] / r["seconds"] for r in runs),
            "rows_per_s_by_round": [r["rows"] / r["seconds"] for r in runs],
            "cpu_us_per_row": statistics.median(r["cpu_seconds"] / r["rows"] * 1e6 for r in runs),
            # the Dask contenders': the part of cpu_us_per_row spent in the worker processes
            "worker_cpu_us_per_row": statistics.median(
                r.get("worker_cpu_seconds", 0) / r["rows"] * 1e6 for r in runs
            ),
            "server_us_per_row": statistics.median(
                r["server_cpu_seconds"] / r["rows"] * 1e6 for r in runs
            ),
            "peak_rss_mb": max(r["peak_rss"] for r in runs) / 2**20,
            "growth_mb": max(r["peak_rss"] - r["baseline_rss"] for r in runs) / 2**20,
            "frame_mb": runs[0]["frame_bytes"] / 2**20,
            "status_mb": runs[0].get("status_bytes", 0) / 2**20,
            "throttled": max(r["server"].get("throttled", 0) for r in runs),
            "refused_share": statistics.median(
                r["server"].get("429", 0) / max(1, r["server"].get("requests", 0)) for r in runs
            ),
            "ok_per_s": statistics.median(r["ok"] / r["seconds"] for r in runs),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "partitions": runs[0].get("partitions"),  # the Dask contenders'
            "call_rows": runs[0].get("call_rows"),  # the small calls' rows per call
        }
    return table


def import_times(rounds: int, log) -> dict[str, dict]:
    """Seconds to import pandas, and pandas with es_pandas, each in a fresh process,
    interleaved; what a notebook pays at start."""
    times: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(rounds):
        for name, statement in IMPORTS.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", statement], check=True)
            times[name].append(time.perf_counter() - started)
    table = {name: {"seconds": statistics.median(values)} for name, values in times.items()}
    log(
        "  import: pandas {:.3f} s, pandas + es_pandas {:.3f} s".format(
            *(row["seconds"] for row in table.values())
        )
    )
    return table


def memory_budget(row: dict) -> float:
    """The most a run of either protocol may grow its process by, in MB (issue 6's
    target): the frame and the status frame, which the caller holds anyway, plus 150."""
    return row["frame_mb"] + row["status_mb"] + 150


def paired(table: dict[str, dict], name: str, reference: str) -> tuple[float, str]:
    """The ratio of two contenders' median rows/s, and the range of their ratio round by
    round (each round runs one after the other): how far this machine's noise moves it."""
    ratio = table[name]["rows_per_s"] / table[reference]["rows_per_s"]
    rounds = [
        ours / theirs
        for ours, theirs in zip(
            table[name]["rows_per_s_by_round"],
            table[reference]["rows_per_s_by_round"],
            strict=True,
        )
    ]
    return ratio, f"rounds {min(rounds):.2f}-{max(rounds):.2f}"


def targets(summary: dict[str, dict[str, dict]], imports: dict[str, dict] | None) -> list[dict]:
    checks = []

    def check(name: str, value: float, goal: str, met: bool) -> None:
        checks.append({"target": name, "measured": value, "goal": goal, "met": bool(met)})

    if "cpu" in summary:
        cpu = summary["cpu"]
        check(
            "client CPU per row, aiohttp engine, 64 in flight",
            cpu[AIOHTTP]["cpu_us_per_row"],
            "<= 150 us",
            cpu[AIOHTTP]["cpu_us_per_row"] <= 150,
        )
        ratio, spread = paired(cpu, AIOHTTP, BARE)
        check(
            f"rows/s vs the bare aiohttp script (no latency; {spread})",
            ratio,
            ">= 1.0x",
            ratio >= 1.0,
        )
        ratio = cpu[AIOHTTP]["rows_per_s"] / cpu[LOOP]["rows_per_s"]
        check("rows/s vs the requests.Session loop (no latency)", ratio, ">= 6x", ratio >= 6)
    if "latency" in summary:
        lat = summary["latency"]
        ratio = lat[AIOHTTP]["rows_per_s"] / lat[LOOP]["rows_per_s"]
        check("rows/s vs the requests.Session loop (20 ms)", ratio, ">= 50x", ratio >= 50)
        share = lat[AIOHTTP]["rows_per_s"] / (CONCURRENCY / 0.02)
        check("rows/s at 20 ms as a share of 64/0.02", share, ">= 85%", share >= 0.85)
        ratio, spread = paired(lat, AIOHTTP, BARE)
        check(
            f"rows/s vs the bare aiohttp script (20 ms; {spread})", ratio, ">= 1.0x", ratio >= 1.0
        )
    if "journal" in summary:
        files = summary["journal"]
        ratio = files[JOURNAL]["rows_per_s"] / files[FILE]["rows_per_s"]
        check("file rows/s with --status-out vs without", ratio, ">= 0.95x", ratio >= 0.95)
    if "ordering" in summary:
        order = summary["ordering"]
        ratio = order[ORDERED]["rows_per_s"] / order[UNORDERED]["rows_per_s"]
        check('rows/s ordering="key" vs "none", distinct keys', ratio, ">= 0.9x", ratio >= 0.9)
        ratio = order[ORDERED_100]["rows_per_s"] / order[UNORDERED_100]["rows_per_s"]
        # more keys than requests in flight, so keeping each key's order need not wait
        check(
            'rows/s ordering="key" vs "none", 100 keys',
            ratio,
            ">= 0.9x (as distinct keys: 100 keys > 64 in flight)",
            ratio >= 0.9,
        )
    if imports:
        extra = imports["import es_pandas"]["seconds"] - imports["import pandas"]["seconds"]
        check(
            "import es_pandas, seconds on top of import pandas", extra, "<= 0.15 s", extra <= 0.15
        )
    if "max_rate" in summary:
        rate = summary["max_rate"][AIOHTTP]
        achieved = rate["rows"] / rate["seconds"]
        error = abs(achieved - 100) / 100
        check(
            f"max_rate=100 accuracy over {rate['seconds']:.0f} s", error, "within 3%", error <= 0.03
        )
        check(
            "answers throttled by the 100/s quota", rate["throttled"], "0", rate["throttled"] == 0
        )
    if "pressure" in summary:
        for name in (AIOHTTP, AUTO):
            row = summary["pressure"][name]
            share = row["ok_per_s"] / 100
            check(f"{name}: rows/s as a share of a 100/s quota answering 429", share, ">= 90%",
                  share >= 0.9)  # fmt: skip
            check(f"{name}: share of requests refused 429", row["refused_share"], "<= 2%",
                  row["refused_share"] <= 0.02)  # fmt: skip
        row = summary["pressure"][BARE]
        check(f"{BARE} (64 in flight, no back-pressure): share of requests refused 429",
              row["refused_share"], "reported", True)  # fmt: skip
    if "pressure_halving" in summary:
        row = summary["pressure_halving"][AIOHTTP]
        # the first half of the time at 100/s, the rest at 50/s
        half = row["rows"] / 200
        best = row["rows"] / (half + (row["rows"] - 100 * half) / 50)
        share = row["ok_per_s"] / best
        check("quota halved mid-run: rows/s as a share of what the quota allowed", share,
              ">= 90%", share >= 0.9)  # fmt: skip
    for name, mem in summary.get("memory", {}).items():
        budget = memory_budget(mem)
        check(
            f"{name}: peak RSS growth for {mem['rows']:,} rows (MB)",
            mem["growth_mb"],
            f"<= frame + status + 150 = {budget:.0f} MB",
            mem["growth_mb"] <= budget,
        )
    return checks


def compile_bytecode() -> None:
    """Write es_pandas' bytecode, as pip does when it installs a package. Without it a
    process under PYTHONDONTWRITEBYTECODE (this machine sets it) compiles every es_pandas
    module it imports, the ones a first run imports late too, inside the timed run,
    while aiohttp, pandas and the rest come compiled from site-packages."""
    root = Path(__file__).resolve().parent.parent
    for package in ("es_pandas", "benchmarks", "tools"):
        compileall.compile_dir(root / package, quiet=1)


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def protocols_note(table: dict[str, dict]) -> str:
    """What the protocols table's columns hold for the Kafka and Dask contenders."""
    split = "; ".join(
        f"{name.split(',')[1].strip()} {row['cpu_us_per_row'] - row['worker_cpu_us_per_row']:,.0f}"
        f" + {row['worker_cpu_us_per_row']:,.0f}"
        for name, row in table.items()
        if name in DASK
    )
    partitions = table[DASK[0]]["partitions"]
    return (
        f"The {KAFKA} row's server is the Tansu broker: its CPU, in its own process. "
        f"Dask: {partitions} partitions persisted on the workers before the clock "
        "starts; the cluster's start is not timed. Its client CPU is the client process's "
        "(the Dask client, the scheduler and the nannies, which a LocalCluster runs in it) "
        "plus every process under it (the worker processes, multiprocessing's resource "
        "tracker), over the timed run; peak RSS is the client process's alone. Client "
        f"process + worker processes, us/row: {split}."
    )


def calls_note(row: dict) -> str:
    """What one of a notebook's small calls costs, from the small-calls contender."""
    size = row["call_rows"]
    return (
        f"{CALLS}: {size / row['rows_per_s'] * 1000:.1f} ms a call, "
        f"{row['cpu_us_per_row'] * size / 1000:.1f} ms of client CPU; each call after "
        "the first in its process (the import scenario has what the first adds)."
    )


def memory_note(table: dict[str, dict]) -> str:
    """What the memory table's peak RSS is made of: the growth above the process's start
    (es_pandas imported, no frame yet), against the frame and the status frame."""
    parts = "; ".join(
        f"{name}: {row['growth_mb']:,.0f} MB above the start, with a {row['frame_mb']:,.0f} MB "
        f"frame and a {row['status_mb']:,.0f} MB status frame"
        for name, row in table.items()
    )
    return f"Peak RSS, {parts}."


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"Run {report['started']} on {m['cpus']} x {m['cpu']}, Python {m['python']}, "
        f"load average at start {m['load_average'][0]:.1f}; client and server share the "
        f"machine; {CONCURRENCY} requests in flight; es_pandas' bytecode compiled first, "
        "as pip installs it; medians over each scenario's interleaved rounds.",
        "",
    ]
    for name, table in report["summary"].items():
        scenario = next(r["scenario"] for r in report["results"] if r["scenario"]["name"] == name)
        reference = scenario.get("reference", LOOP)
        rounds = scenario["rounds"]
        lines += [
            f"**{scenario['title']}** "
            f"({'one round' if rounds == 1 else f'{rounds} interleaved rounds'})",
            "",
            "| contender | rows | rows/s | client CPU us/row | server CPU us/row | peak RSS MB "
            f"| vs {reference} |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        base = table.get(reference, {}).get("rows_per_s")
        for contender, row in table.items():
            ratio = f"{row['rows_per_s'] / base:,.2f}x" if base else ""
            lines.append(
                f"| {contender} | {row['rows']:,} | {row['rows_per_s']:,.0f} | "
                f"{row['cpu_us_per_row']:,.0f} | {row['server_us_per_row']:,.0f} | "
                f"{row['peak_rss_mb']:,.0f} | {ratio} |"
            )
        lines.append("")
        if name == "protocols":
            lines += [protocols_note(table), ""]
        if CALLS in table:
            lines += [calls_note(table[CALLS]), ""]
        if name == "memory":
            lines += [memory_note(table), ""]
    if report.get("imports"):
        lines += [
            "**Import time** (fresh process, median)",
            "",
            "| statement | seconds |",
            "|---|---:|",
        ]
        lines += [
            f"| `{IMPORTS[name]}` | {row['seconds']:.3f} |"
            for name, row in report["imports"].items()
        ]
        lines.append("")
    if report["targets"]:
        lines += ["**Targets**", "", "| target | measured | goal | met |", "|---|---:|---|---|"]
    for check in report["targets"]:
        value = check["measured"]
        shown = (
            f"{value:.1%}"
            if any(word in check["target"] for word in ("share", "accuracy"))
            else f"{value:,.2f}"
        )
        lines.append(
            f"| {check['target']} | {shown} | {check['goal']} | {'yes' if check['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ("cpu", "latency") if n in report["summary"]]
    if not names:
        return
    contenders = list(report["summary"][names[0]])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(contenders)
    for i, contender in enumerate(contenders):
        values = [report["summary"][n].get(contender, {}).get("rows_per_s", 0) for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=contender)
    titles = {"cpu": "no added latency", "latency": "20 ms latency"}
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], [titles[n] for n in names])
    ax.set_yscale("log")
    ax.set_ylabel("rows/s (log scale)")
    ax.set_title(f"Rows per second, {CONCURRENCY} in flight, {report['machine']['cpus']} cores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--rate-seconds", type=float, default=30.0)
    parser.add_argument(
        "--protocol-rows",
        type=int,
        default=PROTOCOL_ROWS,
        help="rows of each contender of the protocols scenario",
    )
    parser.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="a smoke run with tiny sizes")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds, args.memory_rows, args.rate_seconds = 300, 1, 3000, 1.0
        args.protocol_rows = 300
    wanted = args.scenarios.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    started = datetime.now(UTC)
    report: dict = {
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "rounds": args.rounds,
        "results": [],
        "summary": {},
    }
    chosen = scenarios(
        args.rows, args.rounds, args.memory_rows, args.rate_seconds, args.protocol_rows
    )
    for scenario in chosen:
        if scenario.name in wanted:
            print(f"{scenario.title}", file=sys.stderr)
            result = run_scenario(scenario, lambda line: print(line, file=sys.stderr))
            report["results"].append(result)
            report["summary"][scenario.name] = medians(result)
    if "import" in wanted:
        print("import time", file=sys.stderr)
        report["imports"] = import_times(args.rounds * 5, lambda line: print(line, file=sys.stderr))
    report["targets"] = targets(report["summary"], report.get("imports"))
    text = markdown(report)
    names = report_names(started, wanted)
    for name in names:
        (args.out / f"{name}.json").write_text(json.dumps(report, indent=1, default=str))
        (args.out / f"{name}.md").write_text(text)
    if "latest" in names:
        plot(report, args.out / "latest.png")
    print(text)
    return args.out / f"{names[-1]}.md"


def report_names(started: datetime, wanted: list[str]) -> list[str]:
    """The names a run's report is written under: its time, and latest for a run of
    every scenario; a run of some has their names after its time, and latest stays
    the last full run's."""
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    if set(wanted) >= set(ALL_SCENARIOS):
        return [stamp, "latest"]
    return [f"{stamp}-{'-'.join(wanted)}"]


if __name__ == "__main__":
    main()
