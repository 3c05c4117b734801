"""A lean install: what ``import es_pandas`` loads, and the extras named when missing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_loads_no_server_cli_or_http_library() -> None:
    # pyarrow refused, as without the parquet extra: pandas 3 imports it when present
    result = python(
        """
        import json, sys
        sys.modules["pyarrow"] = None
        import pandas
        before = {name.split(".")[0] for name in sys.modules}
        import es_pandas
        after = {name.split(".")[0] for name in sys.modules}
        ours = [name for name in sys.modules if name.startswith("es_pandas.")]
        print(json.dumps([sorted(after - before), ours]))
        """
    )
    assert result.returncode == 0, result.stderr
    added, ours = json.loads(result.stdout)
    heavy = {"aiohttp", "httpx", "uvicorn", "starlette", "anyio", "click", "sqlite3", "pyarrow"}
    heavy |= {"dask", "distributed"}  # ddf.es is registered when dask.dataframe loads
    assert not set(added) & heavy, set(added) & heavy
    assert "es_pandas" in added
    # the run machinery loads when a run starts: the engine, Kafka, files, Avro
    late = {"_run", "_engine", "_kafka", "_librdkafka", "_files", "_wire.records", "_wire.avro"}
    assert not {f"es_pandas.{name}" for name in late} & set(ours)


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--version"]], ids=" ".join)
def test_the_command_line_answers_without_importing_pandas(args: list[str]) -> None:
    # the console script as pyproject.toml declares it (an editable install's copy may lag)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    module, _, name = project["scripts"]["es-pandas"].partition(":")
    result = python(
        f"""
        import importlib, json, sys
        sys.argv = ["es-pandas", *{args!r}]
        main = getattr(importlib.import_module({module!r}), {name!r})
        try:
            main()
        except SystemExit as exit:
            loaded = {{name.split(".")[0] for name in sys.modules}}
            print(json.dumps([exit.code, sorted(loaded & {{"pandas", "numpy", "es_pandas"}})]))
        """
    )
    *output, last = result.stdout.splitlines()
    assert json.loads(last) == [0, []], result.stderr
    assert "es-pandas" in "\n".join(output)
    if args != ["--version"]:
        for command in ("demo", "produce", "schema", "serve"):
            assert re.search(rf"^  {command} +\S", "\n".join(output), re.M), command


def test_the_local_server_loads_on_first_use() -> None:
    result = python(
        """
        import sys
        import es_pandas
        assert "uvicorn" not in sys.modules
        server = es_pandas.LocalEventStreams
        from es_pandas import LocalEventStreams
        assert server is LocalEventStreams and "uvicorn" in sys.modules
        """
    )
    assert result.returncode == 0, result.stderr


# pyarrow not installed: the import machinery refuses it, pandas included
WITHOUT_PYARROW = "import sys; sys.modules['pyarrow'] = None\n"


def test_parquet_without_pyarrow_names_the_extra(tmp_path) -> None:
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"v": [1, 2]}).to_parquet(path)
    csv = tmp_path / "rows.csv"
    csv.write_text("v\n1\n")
    result = python(
        WITHOUT_PYARROW
        + f"""
import es_pandas
for call in (
    lambda: es_pandas.produce_file({str(path)!r}, "t", url="http://127.0.0.1:9"),
    lambda: es_pandas.produce_file({str(csv)!r}, "t", url="http://127.0.0.1:9",
                                   status_out="status.parquet"),
):
    try:
        call()
    except es_pandas.ConfigurationError as exc:
        print(exc)
"""
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all('pip install "eventstreams-pandas[parquet]"' in line for line in lines)


def test_csv_needs_no_pyarrow(tmp_path) -> None:
    from es_pandas import LocalEventStreams

    csv = tmp_path / "rows.csv"
    csv.write_text("k,v\n007,1\n008,2\n")
    with LocalEventStreams(topics={"t": 1}, auth=False) as es:
        result = python(
            WITHOUT_PYARROW
            + f"""
import es_pandas
print(es_pandas.produce_file({str(csv)!r}, "t", url={es.url!r}, key_col="k", progress=False))
"""
        )
        assert result.returncode == 0, result.stderr
        assert "2 ok" in result.stdout
        assert len(es.read("t")) == 2
