"""The benchmark harness runs end to end (tiny sizes), so it cannot rot.

It asserts that every scenario ran and the report was written, never on the figures:
speed is measured in benchmarks/, not asserted in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_writes_every_report(tmp_path) -> None:
    pytest.importorskip("requests")
    pytest.importorskip("matplotlib")
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
    }
    assert set(report["summary"]["cpu"]) == {
        "es_pandas (aiohttp)",
        "es_pandas (httpx)",
        "bare aiohttp script",
        "requests.Session loop",
        "requests + 32 threads",
    }
    assert set(report["summary"]["ordering"]) == {
        'ordering="key", distinct keys',
        'ordering="none", distinct keys',
        'ordering="key", 100 keys interleaved',
        'ordering="none", 100 keys interleaved',
    }
    for name, table in report["summary"].items():
        for contender, row in table.items():
            if (name, contender) != ("pressure", "bare aiohttp script"):  # it does not retry
                assert row["ok"] == row["rows"]  # every contender really sent every row
    assert {check["target"].split(",")[0] for check in report["targets"]}
    assert set(report["imports"]) == {"import pandas", "import es_pandas"}
    table = (tmp_path / "latest.md").read_text()
    assert "| contender |" in table and "**Targets**" in table and "import es_pandas" in table
    assert (tmp_path / "latest.png").stat().st_size > 1000
