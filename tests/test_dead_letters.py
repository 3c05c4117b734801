"""Dead letters: the rows not ok, written as the run goes, fixed and sent again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas import ConfigurationError

from .conftest import API_KEY, run, start, wait_for_answers

FORMATS = ["jsonl", "csv", "parquet"]
DEAD_COLUMNS = ["status", "error", "http_status", "trace", "attempts"]


def rows() -> pd.DataFrame:
    # keys that are text of digits: they must come back as written, zeros and all
    return pd.DataFrame(
        {
            "id": ["00001", "00002", None, "00004", "00005", "00006"],
            "v": ["a", "b", "c", "d", "e", "f"],
        }
    )


def read(path: Path) -> pd.DataFrame:
    """A dead-letter file as its user would read it, keys as written."""
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_parquet(path)


def write(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def fix(path: Path) -> pd.DataFrame:
    """The user's fix: a key for the row that had none; the file written back as it is,
    status columns and all."""
    letters = read(path)
    letters.loc[letters["v"] == "c", "id"] = "00003"
    write(letters, path)
    return letters


def keys(es, topic: str) -> list[str]:
    return sorted(r.key.decode() for r in es.read(topic))


def check_letters(path: Path) -> None:
    letters = read(path)
    assert list(letters.columns) == ["id", "v", *DEAD_COLUMNS]
    # in input order: the row that failed (the second), then the one rejected (the third)
    assert letters["v"].tolist() == ["b", "c"]
    assert letters["id"].tolist()[0] == "00002"
    assert letters["status"].tolist() == ["failed", "rejected"]
    assert int(letters["http_status"][0]) == 400
    assert "null key" in str(letters["error"][1])
    assert API_KEY.encode() not in path.read_bytes()


@pytest.mark.parametrize("kind", FORMATS)
def test_dead_letters_from_python_fixed_and_sent_again(es, tmp_path, kind) -> None:
    topic = f"dead-{kind}"
    es.create_topic(topic, 1)
    path = tmp_path / f"failed.{kind}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    # the second row's request is refused; one row at a time, so it is that row's
    es.set_faults(retry_after=None, script=["ok", "400"])
    status = rows().es.produce(
        topic, dead_letter=str(path), concurrency=1, chunksize=2, api_version="v2", **options
    )
    assert status["status"].tolist() == ["ok", "failed", "rejected", "ok", "ok", "ok"]
    assert f"2 dead letters (rows not ok) in {path}" in str(status.summary)
    check_letters(path)

    fix(path)
    again = tmp_path / f"again.{kind}"
    summary = es_pandas.produce_file(path, topic, dead_letter=str(again), **options)
    assert summary.counts["ok"] == 2 and summary.total == 2, summary
    assert summary.dead_letters == (str(again), 0)
    assert keys(es, topic) == ["00001", "00002", "00003", "00004", "00005", "00006"]
    # the status columns were not sent as the record's value
    assert {json.dumps(json.loads(r.value), sort_keys=True) for r in es.read(topic)[-2:]} == {
        '{"v": "b"}',
        '{"v": "c"}',
    }


def test_json_lines_dead_letters_keep_every_float_as_it_was(es, tmp_path) -> None:
    """Sent again, they send what was meant: floats at full precision (pandas' to_json
    keeps 10 digits) and an infinity as Infinity (it writes null, which would land as
    it is), so the row is rejected again until it is fixed."""
    es.create_topic("dead-floats", 1)
    path = tmp_path / "failed.jsonl"
    frame = pd.DataFrame({"id": ["a", "b"], "x": [1.5, float("inf")], "y": [2.5, 1 / 3]})
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    frame.es.produce("dead-floats", dead_letter=str(path), **options)
    (letter,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert (letter["id"], letter["x"], letter["y"]) == ("b", float("inf"), 1 / 3)

    as_it_is = es_pandas.produce_file(path, "dead-floats", **options)
    assert as_it_is.counts["rejected"] == 1, as_it_is
    path.write_text(path.read_text().replace("Infinity", "0.30000000000000004"))
    fixed = es_pandas.produce_file(path, "dead-floats", **options)
    assert fixed.counts["ok"] == 1, fixed
    values = [json.loads(r.value) for r in es.read("dead-floats")]
    assert values == [{"x": 1.5, "y": 2.5}, {"x": 0.1 + 0.2, "y": 1 / 3}]


def test_json_lines_dead_letters_keep_nested_floats_as_they_were(es, tmp_path) -> None:
    """Floats inside dicts and lists too: pandas' to_json writes them with 10 digits and
    an infinity as null. Sent again, the failed row lands exact and the rejected one
    (an infinity, at any depth) is rejected again until fixed."""
    es.create_topic("dead-nested", 1)
    path = tmp_path / "failed.jsonl"
    exact = {"p": 0.1 + 0.2, "q": [1 / 3, 2.5, None], "r": {"s": [1e-7, 2**0.5]}}
    frame = pd.DataFrame({"id": ["a", "b"], "n": [exact, {"p": [float("-inf")], "q": 1 / 3}]})
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    es.set_faults(retry_after=None, script=["400"])  # the first row's request
    frame.es.produce("dead-nested", dead_letter=str(path), concurrency=1, **options)
    letters = [json.loads(line) for line in path.read_text().splitlines()]
    assert [letter["n"] for letter in letters] == [exact, {"p": [float("-inf")], "q": 1 / 3}]

    as_they_are = es_pandas.produce_file(path, "dead-nested", **options)
    assert as_they_are.counts["ok"] == 1 and as_they_are.counts["rejected"] == 1, as_they_are
    path.write_text(path.read_text().replace("-Infinity", "-1.5e-300"))
    fixed = es_pandas.produce_file(path, "dead-nested", **options)
    assert fixed.counts["ok"] == 2, fixed
    first, *fixed_rows = [json.loads(r.value) for r in es.read("dead-nested")]
    assert first == {"n": exact}
    # the fixed file's two rows were in flight together: either may land first
    assert sorted(fixed_rows, key=json.dumps) == sorted(
        [{"n": exact}, {"n": {"p": [-1.5e-300], "q": 1 / 3}}], key=json.dumps
    )


def test_json_lines_dead_letters_keep_times_as_they_were_sent(es, tmp_path) -> None:
    """Timestamps, dates and durations, at any depth, as the value policy sends them:
    pandas' to_json keeps milliseconds, turns offsets into UTC and dates into
    timestamps, so a dead letter sent again as it is would land changed."""
    es.create_topic("dead-times", 1)
    path = tmp_path / "failed.jsonl"
    frame = pd.DataFrame(
        {
            "id": ["a", None],
            "ts": pd.to_datetime(["2026-11-26 09:00:00.123456789"] * 2),
            "tz": pd.to_datetime(["2026-11-26 09:00"] * 2).tz_localize("Europe/Paris"),
            "td": pd.to_timedelta(["1.5s"] * 2),
            "o": [date(1969, 7, 20), {"at": pd.Timestamp("1969-07-20 20:17:40.5", tz="UTC")}],
        }
    )
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    frame.es.produce("dead-times", dead_letter=str(path), **options)
    (letter,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert {name: letter[name] for name in ["ts", "tz", "td", "o"]} == {
        "ts": "2026-11-26T09:00:00.123456789",
        "tz": "2026-11-26T09:00:00+01:00",
        "td": "P0DT0H0M1.5S",
        "o": {"at": "1969-07-20T20:17:40.500000+00:00"},
    }

    path.write_text(path.read_text().replace('"id":null', '"id":"b"'))
    es_pandas.produce_file(path, "dead-times", **options)
    sent, again = [json.loads(r.value) for r in es.read("dead-times")]
    assert {name: again[name] for name in ["ts", "tz", "td"]} == {
        name: sent[name] for name in ["ts", "tz", "td"]
    }


def test_json_lines_dead_letters_hold_bytes_as_they_were_sent(es, tmp_path) -> None:
    """Bytes as the value policy sends them, base64: pandas' to_json decoded them as
    UTF-8, and bytes that are not stopped the run."""
    es.create_topic("dead-bytes", 1)
    path = tmp_path / "failed.jsonl"
    frame = pd.DataFrame({"id": ["a", None, None], "b": [b"\xff", b"\xff\x00", {"n": b"ok"}]})
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    status = frame.es.produce("dead-bytes", dead_letter=str(path), **options)
    assert status["status"].tolist() == ["ok", "rejected", "rejected"]
    letters = [json.loads(line) for line in path.read_text().splitlines()]
    assert [letter["b"] for letter in letters] == ["/wA=", {"n": "b2s="}]

    path.write_text(path.read_text().replace('"id":null', '"id":"b"'))
    es_pandas.produce_file(path, "dead-bytes", **options)
    sent, *again = [json.loads(r.value) for r in es.read("dead-bytes")]
    assert sent == {"b": "/w=="} and [value["b"] for value in again] == ["/wA=", {"n": "b2s="}]


def test_csv_dead_letters_hold_values_as_they_were_sent_not_as_reprs(es, tmp_path) -> None:
    """pandas' to_csv writes Python's reprs (b'\\x01a', {'a': array([1, 2])}, True),
    which nothing reads back: each value that is not text is written as the value
    policy sent it, so --dtype col=json and --infer-types read it back."""
    es.create_topic("dead-csv-sent", 1)
    path = tmp_path / "failed.csv"
    frame = pd.DataFrame(
        {
            "id": [None, "a"],
            "b": [b"\x01a", b"x"],
            "d": [{"a": np.array([1, 2])}, {}],
            "flag": [True, False],
            "ts": pd.to_datetime(["2026-11-26 09:00:00.123456789"] * 2),
            "s": ["00042", "x"],
        }
    )
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    frame.es.produce("dead-csv-sent", dead_letter=str(path), **options)
    letter = pd.read_csv(path, dtype=str, keep_default_na=False).iloc[0]
    assert letter[["b", "d", "flag", "ts", "s"]].tolist() == [
        "AWE=",
        '{"a":[1,2]}',
        "true",
        "2026-11-26T09:00:00.123456789",
        "00042",
    ]

    path.write_text(path.read_text().replace("\n,", "\nb,", 1))
    es_pandas.produce_file(path, "dead-csv-sent", infer_types=True, dtype={"d": "json"}, **options)
    sent = json.loads(es.read("dead-csv-sent")[-1].value)
    assert sent == {
        "b": "AWE=",
        "d": {"a": [1, 2]},
        "flag": True,
        "ts": "2026-11-26T09:00:00.123456789",
        "s": "00042",
    }


SPARSE = '{"id":"a","x":1,"y":"p"}\n{"id":"b","y":"q"}\n{"id":"c","x":null,"y":"r"}\n'


@pytest.mark.parametrize("kind", FORMATS)
def test_a_field_a_json_line_lacked_stays_out_of_its_dead_letter(es, tmp_path, kind) -> None:
    """JSON Lines leave it out, so the dead letter sent again lands as the row would
    have; CSV has an empty field for it, Parquet a null (as for a null)."""
    source = tmp_path / "rows.jsonl"
    source.write_text(SPARSE)
    path = tmp_path / f"failed.{kind}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    es.create_topic(f"dead-sparse-{kind}", 1)
    es.set_faults(retry_after=None, script=["ok", "400"])  # the second row's request
    es_pandas.produce_file(
        source, f"dead-sparse-{kind}", dead_letter=str(path), concurrency=1, **options
    )
    if kind == "jsonl":
        (letter,) = [json.loads(line) for line in path.read_text().splitlines()]
        assert list(letter) == ["id", "y", *DEAD_COLUMNS]
        es.create_topic("sparse-as-sent", 1)
        es_pandas.produce_file(source, "sparse-as-sent", **options)
        es_pandas.produce_file(path, f"dead-sparse-{kind}", **options)
        [(key, value)] = [(r.key, r.value) for r in es.read(f"dead-sparse-{kind}")[2:]]
        as_sent = {r.key: r.value for r in es.read("sparse-as-sent")}
        assert (key, value) == (b"b", as_sent[b"b"]) == (b"b", b'{"y":"q"}')
    else:
        letters = read(path)
        assert letters[["id", "y"]].values.tolist() == [["b", "q"]]
        if kind == "csv":
            assert letters["x"].tolist() == [""]
        else:
            assert letters["x"].isna().all()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_csv_and_parquet_dead_letters_have_the_first_chunks_fields(es, tmp_path, kind) -> None:
    """A field first seen after a JSON Lines file's first chunk: left out where no dead
    letter has it, else the run stops saying to write them to .jsonl."""
    source = tmp_path / "rows.jsonl"
    source.write_text('{"id":"a","y":0}\n{"id":"b","y":1,"x":1}\n{"id":"c","y":2,"x":2}\n')
    path = tmp_path / f"failed.{kind}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    # the first row fails, the second is ok, the third fails
    es.set_faults(retry_after=None, script=["400", "ok", "400"])
    with pytest.raises(es_pandas.ProduceAborted, match=r"write them to \.jsonl") as caught:
        es_pandas.produce_file(
            source, "single", dead_letter=str(path), concurrency=1, chunksize=1, **options
        )
    assert "the field(s) 'x'" in str(caught.value)
    assert read(path)["id"].tolist() == ["a"]


@pytest.mark.parametrize("kind", FORMATS)
def test_a_later_chunks_field_named_as_a_dead_letter_column_stops_the_run(
    es, tmp_path, kind
) -> None:
    """The first chunk's columns are refused before anything is sent; a field first
    seen later is only seen once its chunk's dead letters are written: its values are
    not written over (a .jsonl file of them had status "rejected" for "shipped")."""
    source = tmp_path / "rows.jsonl"
    source.write_text('{"id":"a","y":0}\n{"id":null,"y":1,"status":"shipped"}\n')
    path = tmp_path / f"failed.{kind}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    with pytest.raises(es_pandas.ProduceAborted, match="the field 'status', which a dead"):
        es_pandas.produce_file(source, "single", dead_letter=str(path), chunksize=1, **options)
    assert read(path).empty


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_a_frame_of_dead_letters_drops_their_status_columns(es, tmp_path, kind) -> None:
    topic = f"dead-frame-{kind}"
    es.create_topic(topic, 1)
    path = tmp_path / f"failed.{kind}"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    rows().es.produce(topic, dead_letter=str(path), **options)
    letters = fix(path)
    assert list(letters.columns) == ["id", "v", *DEAD_COLUMNS]
    status = letters.es.produce(topic, **options)
    assert status["status"].tolist() == ["ok"]
    assert json.loads(es.read(topic)[-1].value) == {"v": "c"}
    assert keys(es, topic) == ["00001", "00002", "00003", "00004", "00005", "00006"]


@pytest.mark.parametrize("kind", FORMATS)
def test_dead_letters_from_the_command_line_fixed_and_sent_again(es, env, tmp_path, kind) -> None:
    topic = f"dead-cli-{kind}"
    es.create_topic(topic, 1)
    source = tmp_path / "rows.csv"
    source.write_text("id,v\n00001,a\n00002,b\n,c\n00004,d\n00005,e\n00006,f\n")
    path = tmp_path / f"failed.{kind}"
    es.set_faults(retry_after=None, script=["ok", "400"])
    common = ["--topic", topic, "--key-col", "id", "--api-version", "v2"]
    result = run(
        "produce",
        str(source),
        *common,
        *["--concurrency", "1", "--chunksize", "2", "--dead-letter", str(path)],
        *["--na-values", ""],  # the empty key is null
        env=env,
    )
    assert result.returncode == 1, result.stderr
    assert f"2 dead letters (rows not ok) in {path}" in result.stderr
    assert "--status-out FILE" not in result.stderr  # the dead letters say it
    check_letters(path)

    fix(path)
    result = run("produce", str(path), *common, env=env)
    assert result.returncode == 0, result.stderr
    assert keys(es, topic) == ["00001", "00002", "00003", "00004", "00005", "00006"]


def test_an_interrupted_load_leaves_its_dead_letters_whole(es, env, tmp_path) -> None:
    total = 3000
    source = tmp_path / "rows.csv"
    source.write_text("v\n" + "".join(f"{i}\n" for i in range(total)))
    path, status_out = tmp_path / "failed.csv", tmp_path / "status.csv"
    es.create_topic("dead-interrupt", 2)
    es.set_faults(latency=0.02)
    proc = start(
        *["produce", str(source), "--topic", "dead-interrupt", "--dead-letter", str(path)],
        *["--status-out", str(status_out), "--concurrency", "8", "--chunksize", "300"],
        env=env,
    )
    wait_for_answers(es, 400, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status = pd.read_csv(status_out)
    letters = pd.read_csv(path)
    # every row read and not ok, in file order, and nothing else
    not_ok = status.loc[status["status"] != "ok", ["row", "status"]]
    assert 0 < len(not_ok) < total
    assert letters["v"].tolist() == not_ok["row"].tolist()
    assert letters["status"].tolist() == not_ok["status"].tolist()


INTERRUPT_ME = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    import es_pandas

    url, path = sys.argv[1], sys.argv[2]
    frame = pd.DataFrame({"v": range(5000)}, index=range(10_000, 15_000))
    try:
        frame.es.produce(
            "dead-interrupt-frame", url=url, api_key=sys.argv[3], concurrency=8, chunksize=250,
            progress=False, dead_letter=path,
        )
    except es_pandas.ProduceInterrupted as exc:
        status = exc.status
        print(json.dumps(status.index[status["status"] != "ok"].tolist()), flush=True)
    """
)


def test_an_interrupted_frame_leaves_its_dead_letters_whole(es, tmp_path) -> None:
    script = tmp_path / "interrupt_me.py"
    script.write_text(INTERRUPT_ME)
    path = tmp_path / "failed.jsonl"
    es.create_topic("dead-interrupt-frame", 2)
    es.set_faults(latency=0.02)
    proc = subprocess.Popen(
        [sys.executable, str(script), es.url, str(path), API_KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_answers(es, 400, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    not_ok = json.loads(out)
    letters = pd.read_json(path, lines=True, dtype=False)
    assert 0 < len(not_ok) < 5000
    # the rows' own values, in input order: v is the label less 10,000
    assert letters["v"].tolist() == [label - 10_000 for label in not_ok]


def test_dead_letters_are_refused_where_they_cannot_work(es, tmp_path) -> None:
    options = {"url": es.url, "api_key": API_KEY, "progress": False}
    frame = pd.DataFrame({"v": [1]})
    with pytest.raises(ConfigurationError, match="dry run sends nothing"):
        frame.es.produce("single", dry_run=True, dead_letter=str(tmp_path / "d.jsonl"), **options)
    with pytest.raises(ConfigurationError, match=r"\.jsonl, \.csv or \.parquet"):
        frame.es.produce("single", dead_letter=str(tmp_path / "d.txt"), **options)
    with pytest.raises(ConfigurationError, match="a column 'status'"):
        pd.DataFrame({"v": [1], "status": ["new"]}).es.produce(
            "single", dead_letter=str(tmp_path / "d.jsonl"), **options
        )
    source = tmp_path / "rows.jsonl"
    source.write_text('{"v": 1}\n')
    with pytest.raises(ConfigurationError, match="is the file being sent"):
        es_pandas.produce_file(source, "single", dead_letter=str(source), **options)
    with pytest.raises(ConfigurationError, match="one file"):
        es_pandas.produce_file(
            source,
            "single",
            dead_letter=str(tmp_path / "s.csv"),
            status_out=str(tmp_path / "s.csv"),
            **options,
        )
    # said before anything is sent, not once every row has gone
    missing = tmp_path / "no-such-folder" / "d.jsonl"
    with pytest.raises(ConfigurationError, match=r"cannot write .*d\.jsonl.*: there is no folder"):
        frame.es.produce("single", dead_letter=str(missing), **options)
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(ConfigurationError, match=r"cannot write .*d\.csv.*: it is a folder"):
        frame.es.produce("single", dead_letter=str(tmp_path / "d.csv"), **options)
    assert es.stats() == {}


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_dead_letter_too_deep_to_write_ends_the_run_with_every_rows_status(
    es, tmp_path, suffix
) -> None:
    deep: object = 1
    for _ in range(3000):  # past what pandas' writers recurse into
        deep = [deep]
    rows = pd.DataFrame({"k": ["deep", "flat"], "v": [deep, [1.5]]})
    with pytest.raises(es_pandas.ProduceAborted, match="nested too deeply to write") as ended:
        rows.es.produce(
            "single",
            key_col="k",
            url=es.url,
            api_key=API_KEY,
            progress=False,
            dead_letter=str(tmp_path / f"letters{suffix}"),
        )
    assert ended.value.status["status"].tolist() == ["rejected", "ok"]


@pytest.mark.parametrize(
    ("values", "chunksize", "statuses"),
    [
        # the file's types come from the first chunk, whose column x has no one type
        ([1, "b", {"d": 1}], None, ["ok", "rejected", "ok"]),
        # a Parquet column has one type; the second chunk's values are not the first's
        (["a", "b", 3, 4], 2, ["ok", "ok", "rejected", "ok"]),
        # an int past int64 (Python ints of an object column): pyarrow overflows
        ([1, 2**70, 3], None, ["ok", "rejected", "ok"]),
    ],
)
def test_dead_letters_parquet_cannot_hold_stop_the_run_saying_why(
    es, tmp_path, values: list, chunksize: int | None, statuses: list[str]
) -> None:
    ids = [str(n) for n in range(1, len(values) + 1)]
    ids[statuses.index("rejected")] = None  # a null key: that row's dead letter
    frame = pd.DataFrame({"id": ids, "x": values})
    with pytest.raises(es_pandas.ProduceAborted, match="cannot write the dead letters") as caught:
        frame.es.produce(
            "single",
            url=es.url,
            api_key=API_KEY,
            progress=False,
            key_col="id",
            chunksize=chunksize,
            dead_letter=str(tmp_path / "failed.parquet"),
        )
    assert "write them to .jsonl" in str(caught.value)
    assert caught.value.status["status"].tolist() == statuses


def test_a_column_of_ones_own_named_status_is_sent(es) -> None:
    # only all five dead-letter columns make a frame dead letters
    frame = pd.DataFrame({"status": ["new"], "error": ["none"]})
    frame.es.produce("single", url=es.url, api_key=API_KEY, progress=False)
    assert json.loads(es.read("single")[-1].value) == {"status": "new", "error": "none"}


def test_a_frame_joined_with_its_status_is_sent_as_the_frame_was(es) -> None:
    # df.join(status), filtered to the rows to send again, lost the five dead-letter
    # columns and sent the other five (partition, offset, ...) in every value, so its
    # record ids were not the first run's either
    frame = pd.DataFrame({"id": ["a", "b"], "v": [1, 2]})
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    first = frame.es.produce("single", record_id="hash", **options)
    again = frame.join(first).es.produce("single", record_id="hash", **options)
    assert json.loads(es.read("single")[-1].value) == {"v": 2}
    assert again["record_id"].tolist() == first["record_id"].tolist()
    # without record ids, and with a record_id column of one's own apart from them
    own = frame.assign(record_id=["r1", "r2"]).join(first.drop(columns="record_id"))
    own.es.produce("single", **options)
    assert json.loads(es.read("single")[-1].value) == {"v": 2, "record_id": "r2"}
