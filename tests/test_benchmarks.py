"""The benchmark harness runs end to end (tiny sizes), so it cannot rot.

It asserts that every scenario ran and the report was written, never on the figures:
speed is measured in benchmarks/, not asserted in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.produce import ALL_SCENARIOS, report_names

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_every_report(tmp_path) -> None:
    pytest.importorskip("requests")
    pytest.importorskip("matplotlib")
    pytest.importorskip("confluent_kafka")
    pytest.importorskip("distributed")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.produce", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert set(report["summary"]) == {
        "cpu",
        "latency",
        "max_rate",
        "pressure",
        "pressure_halving",
        "journal",
        "ordering",
        "memory",
        "protocols",
    }
    assert set(report["summary"]["cpu"]) == {
        "es_pandas (aiohttp)",
        "es_pandas (httpx)",
        "bare aiohttp script",
        "requests.Session loop",
        "requests + 32 threads",
        "es_pandas, 10-row calls",
    }
    assert set(report["summary"]["ordering"]) == {
        'ordering="key", distinct keys',
        'ordering="none", distinct keys',
        'ordering="key", 100 keys interleaved',
        'ordering="none", 100 keys interleaved',
    }
    assert set(report["summary"]["protocols"]) == {
        'protocol="rest", aiohttp engine',
        'protocol="kafka"',
        "Dask, 1 worker, REST",
        "Dask, 2 workers, REST",
        "Dask, 4 workers, REST",
    }
    assert set(report["summary"]["memory"]) == {
        "es_pandas (aiohttp)",
        'protocol="kafka"',
    }
    (protocols,) = (r for r in report["results"] if r["scenario"]["name"] == "protocols")
    for run in protocols["runs"]:
        if run["contender"].startswith("Dask, "):
            # the client CPU counted every worker process, not the client's alone
            workers = int(run["contender"].split()[1])
            assert run["worker_processes"] >= workers and run["worker_cpu_seconds"] > 0
    for name, table in report["summary"].items():
        for contender, row in table.items():
            if (name, contender) != ("pressure", "bare aiohttp script"):  # it does not retry
                assert row["ok"] == row["rows"]  # every contender really sent every row
    assert {check["target"].split(",")[0] for check in report["targets"]}
    assert set(report["imports"]) == {"import pandas", "import es_pandas"}
    table = (tmp_path / "latest.md").read_text()
    assert "| contender |" in table and "**Targets**" in table and "import es_pandas" in table
    assert '| vs protocol="rest", aiohttp engine |' in table
    assert "es_pandas, 10-row calls: " in table and " ms a call, " in table
    assert "rows/s vs the bare aiohttp script (no latency; rounds " in table
    assert (tmp_path / "latest.png").stat().st_size > 1000


def test_a_run_of_some_scenarios_leaves_latest_to_the_full_run() -> None:
    started = datetime(2026, 12, 6, 20, 0, 5, tzinfo=UTC)
    assert report_names(started, list(ALL_SCENARIOS)) == ["20261206T200005Z", "latest"]
    assert report_names(started, ["protocols"]) == ["20261206T200005Z-protocols"]
    assert report_names(started, ["cpu", "latency"]) == ["20261206T200005Z-cpu-latency"]
