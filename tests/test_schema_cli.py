"""``es-pandas schema FILE``: the schema it prints is the one ``es-pandas produce
--value-format avro`` sends for the same file and options, as the local server's
schema registry holds it; saved as an .avsc file, it sends the same records; its
errors are one line and exit 2; its flags are produce's, from the same declarations."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import httpx
import pandas as pd
import pytest

from es_pandas import LocalEventStreams
from es_pandas._cli._produce import produce
from es_pandas._cli._schema import schema
from es_pandas._formats import ReadOptions
from es_pandas._options import SCHEMA_OPTIONS

from .conftest import bearer, run

CSV = """id,qty,price,paid,note,src
a1,3,9.5,true,first,web
a2,,10.25,false,,shop
a3,7,0.5,true,third,web
a4,1,2,false,,web
a5,2,3.75,true,fifth,shop
a6,5,1.5,false,sixth,web
"""


def jsonl(path: Path) -> Path:
    rows = [
        {"id": i, "name": f"n{i}", "tags": ["x"] * (i % 3), "attrs": {"k": i}, "score": i / 4}
        for i in range(9)
    ]
    rows[4]["score"] = None
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def parquet(path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(6)],
            "ref": range(100, 106),
            "qty": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "price": [Decimal("1.25"), Decimal("10.50"), None, Decimal("3.00")] + [None] * 2,
            "at": pd.date_range("2026-11-01 08:00", periods=6, freq="h", tz="Europe/Paris"),
            "day": [date(2026, 11, d) for d in range(1, 7)],
            "ok": pd.array([True, False, None, True, True, False], dtype="boolean"),
        }
    )
    frame.to_parquet(path, index=False)
    return path


def topic_of(es: LocalEventStreams) -> str:
    topic = f"schema-{uuid.uuid4().hex[:8]}"
    es.create_topic(topic, 2)
    return topic


def registered(es: LocalEventStreams, subject: str) -> Any:
    """The latest schema the registry holds under ``subject``, as JSON."""
    answer = httpx.get(
        f"{es.registry_url}/subjects/{subject}/versions/latest", headers=bearer(), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return json.loads(answer.json()["schema"])


def printed(*args: str, env: dict[str, str] | None = None) -> Any:
    result = run("schema", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


# Each: the file, the reading and column options given to both commands, its rows.
CASES = {
    "csv": (
        lambda tmp: (tmp / "orders.csv", CSV),
        ["--key-col", "id", "--header-cols", "src", "--dtype", "qty=int", "--infer-types",
         "--na-values", "", "--chunksize", "4", "--schema-namespace", "com.example"],
        6,
    ),
    "jsonl": (
        lambda tmp: (jsonl(tmp / "rows.jsonl"), None),
        ["--key-col", "id", "--value-cols", "name,tags,attrs,score", "--chunk-rows", "5",
         "--schema-name", "Row"],
        9,
    ),
    "parquet": (
        lambda tmp: (parquet(tmp / "rows.parquet"), None),
        ["--key-col", "id", "--record-id", "ref", "--format", "parquet"],
        6,
    ),
}  # fmt: skip


def made(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    make, options, _ = CASES[case]
    path, text = make(tmp_path)
    if text is not None:
        path.write_text(text)
    return path, options


@pytest.mark.parametrize("case", list(CASES))
def test_the_printed_schema_is_the_one_produce_registers(es, env, tmp_path, case: str) -> None:
    path, options = made(tmp_path, case)
    topic = topic_of(es)
    es.reset_stats()
    # no URL, no credentials: nothing is asked of any server
    offline = {"ES_PANDAS_URL": "", "ES_PANDAS_API_KEY": "", "ES_PANDAS_CREDENTIALS": ""}
    schema_printed = printed(str(path), "--topic", topic, *options, env=offline)
    assert es.stats() == {}
    sent = run("produce", str(path), "--topic", topic, "--value-format", "avro", *options, env=env)
    assert sent.returncode == 0, sent.stderr
    assert schema_printed == registered(es, f"{topic}-value")
    assert all(
        field["type"][0] == "null" and field["default"] is None
        for field in schema_printed["fields"]
    )


def test_the_options_shape_the_schema(tmp_path) -> None:
    """The cases above check what they say: the roles and reading options shape the
    schema (a test that cannot fail is a defect)."""
    path, options = made(tmp_path, "csv")
    csv = printed(str(path), "-t", "t", *options)
    assert csv["namespace"] == "com.example"
    assert [f["name"] for f in csv["fields"]] == ["qty", "price", "paid", "note"]
    assert [f["type"][1] for f in csv["fields"]] == ["long", "double", "boolean", "string"]
    plain = printed(str(path), "-t", "t", "--key-col", "id")
    assert {f["type"][1] for f in plain["fields"]} == {"string"}
    path, options = made(tmp_path, "jsonl")
    assert printed(str(path), "-t", "t", *options)["name"] == "Row"
    path, options = made(tmp_path, "parquet")
    types = {f["name"]: f["type"][1] for f in printed(str(path), "-t", "t", *options)["fields"]}
    # the record id column stays in the value, as produce sends it
    assert types["ref"] == types["qty"] == "long"
    assert types["at"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert types["price"]["logicalType"] == "decimal"


@pytest.mark.parametrize("case", ["csv", "jsonl"])
def test_the_key_schema_is_the_one_produce_registers(es, env, tmp_path, case: str) -> None:
    path, options = made(tmp_path, case)
    topic = topic_of(es)
    key = printed(str(path), "-t", topic, *options, "--key")
    assert key == ("string" if case == "csv" else "long")
    sent = run(
        "produce", str(path), "-t", topic, "--value-format", "avro", "--key-format", "avro",
        *options, env=env,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert key == registered(es, f"{topic}-key")


@pytest.mark.parametrize("case", list(CASES))
def test_the_saved_schema_sends_the_same_records(es, env, tmp_path, case: str) -> None:
    path, options = made(tmp_path, case)
    inferred, given = topic_of(es), topic_of(es)
    avsc = tmp_path / "value.avsc"
    result = run("schema", str(path), "-t", inferred, *options)
    assert result.returncode == 0, result.stderr
    avsc.write_text(result.stdout)
    for topic, extra in ((inferred, []), (given, ["--value-schema", str(avsc)])):
        sent = run(
            "produce", str(path), "-t", topic, "--value-format", "avro", *options, *extra,
            "--status-out", str(tmp_path / f"{topic}.csv"), env=env,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert (pd.read_csv(tmp_path / f"{topic}.csv")["status"] == "ok").all()
    # rows of different keys may be written in any order
    one, other = (
        es.records(topic)[["partition", "key", "value", "headers"]].sort_values("key")
        for topic in (inferred, given)
    )
    assert len(one) == CASES[case][2]
    pd.testing.assert_frame_equal(one.reset_index(drop=True), other.reset_index(drop=True))
    assert registered(es, f"{inferred}-value") == registered(es, f"{given}-value")


def test_only_the_first_chunk_is_read(tmp_path) -> None:
    """As a load infers its schema before its second chunk is read: a line past it
    that cannot be read, or a value that does not fit, is not seen."""
    path = tmp_path / "rows.csv"
    path.write_text("id,qty\na,1\nb,2\nc,three\nd,4,extra\n")
    found = printed(str(path), "-t", "t", "--infer-types", "--chunksize", "2")
    assert found["fields"][1] == {"name": "qty", "type": ["null", "long"], "default": None}
    whole = run("schema", str(path), "-t", "t", "--infer-types")
    assert whole.returncode == 2 and "Expected 2 fields in line 5" in whole.stderr


def test_stdin() -> None:
    result = run("schema", "-", "--schema-name", "Order", stdin=b"id,qty\na,1\nb,2\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "Order"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nofile.csv", "-t", "t"], "Error: 'nofile.csv' does not exist"),
        ([".", "-t", "t"], "Error: '.' is a directory"),
        (["mixed.jsonl", "-t", "t"], "Error: column 'qty' holds values of several types"),
        (["orders.csv"], "Error: give a topic or --schema-name"),
        (["orders.csv", "-t", "t", "--key"], "Error: the key schema needs --key-col"),
        (["orders.csv", "-t", "t", "--dtype", "nope=int"], "Error: --dtype: the file has no"),
        (["orders.csv", "-t", "t", "--key-col", "nope"], "Error: --key-col: no column named"),
        (
            ["orders.csv", "-t", "t", "--key-col", "id", "--value-cols", "note,id"],
            "Error: column 'id' is listed in --key-col and --value-cols",
        ),
        (["orders.csv", "-t", "t", "--schema-name", "9x"], "--schema-name must be an Avro name"),
        (["orders.csv", "-t", "."], "Error: topic '.' cannot exist: Kafka forbids"),
        (["empty.csv", "-t", "t"], "Error: empty.csv: it is empty, without even a header line"),
        (["empty.jsonl", "-t", "t"], "Error: empty.jsonl has no rows to infer a schema from"),
    ],
)
def test_errors_exit_2_in_one_line(tmp_path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orders.csv").write_text(CSV)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "mixed.jsonl").write_text('{"qty": 1}\n{"qty": "two"}\n')
    result = run("schema", *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr


def _shown(command: click.Command) -> dict[str, str]:
    """Each option's flags -> what --help says it takes."""
    context = click.Context(command)
    return dict(
        record[0].rsplit(" ", 1)
        for param in command.get_params(context)
        if (record := param.get_help_record(context)) and " " in record[0]
    )


def test_help_names_what_each_flag_takes() -> None:
    shown = _shown(schema)
    assert shown["--key-col"] == shown["--value-col"] == "COLUMN"
    assert shown["--value-cols"] == shown["--header-cols"] == "A,B,..."
    assert shown["--record-id"] == "hash|COLUMN"
    assert shown["--schema-name"] == "NAME"
    assert shown["--schema-namespace"] == "NAMESPACE"
    assert shown["--dtype"] == "COL=TYPE"
    assert shown["--chunksize, --chunk-rows"] == "INTEGER"
    assert shown["--format"] == "[csv|tsv|jsonl|parquet]"
    text = {flag for flag, metavar in shown.items() if metavar == "TEXT"}
    assert text == {"-t, --topic", "--encoding", "--sep", "--na-values"}
    produced = _shown(produce)
    assert {flag: produced[flag] for flag in shown} == shown


def test_the_flags_are_produces_from_the_same_declarations() -> None:
    """A flag for each option of ``SCHEMA_OPTIONS`` and nothing else, each as produce
    has it; its help too, but where it names a flag of produce's that this command
    lacks."""
    ours = {p.name: p for p in schema.params}
    theirs = {p.name: p for p in produce.params}
    assert set(ours) == {"file", "topic", "key", *SCHEMA_OPTIONS}
    for name in SCHEMA_OPTIONS:
        one, other = ours[name], theirs[name]
        assert (one.opts, one.secondary_opts, one.metavar, repr(one.type)) == (
            other.opts,
            other.secondary_opts,
            other.metavar,
            repr(other.type),
        ), name
        assert isinstance(one, click.Option) and isinstance(other, click.Option)
        assert (one.help or "").replace("produce's ", "") == other.help, name
    assert "(override with produce's --value-type)" in (ours["value_col"].help or "")
    assert "(override with --value-type)" in (theirs["value_col"].help or "")


def test_the_schema_options_cover_every_way_of_reading_a_file() -> None:
    """A new reading option changes what a schema is inferred from: it must be here."""
    assert {f.name for f in dataclasses.fields(ReadOptions)} <= set(SCHEMA_OPTIONS)
