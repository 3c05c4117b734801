"""What is in a file is what lands: ``es-pandas produce`` in a subprocess against the
local server, the bytes the server stores compared with what the file holds."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import lzma
import os
import re
import shutil
import tempfile
import threading
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import es_pandas
from es_pandas import ConfigurationError, LocalEventStreams
from es_pandas._formats import ReadOptions
from es_pandas._reading import read_frames

from .conftest import API_KEY, run

TRICKY = [
    # leading zeros, a card number, a 20-digit id, strings that readers take for null
    ("00042", "01234", "4111111111111111", "12345678901234567890", "NA"),
    ("00043", "00000", "5500005555555559", "00000000000000000001", "None"),
    ("00044", "007", "340000000000009", "99999999999999999999", "null"),
    ("00045", "1e5", "0", "-0", ""),
]
HEADER = ("id", "zip", "card", "big_id", "country")


def load(es: LocalEventStreams, topic: str) -> dict[str, dict]:
    """The stored records of ``topic`` by key, each value as its JSON."""
    return {r.key.decode(): json.loads(r.value) for r in es.read(topic)}


def write_csv(path: Path, rows: list[tuple[str, ...]], sep: str = ",", encoding="utf-8") -> Path:
    path.write_bytes("".join(sep.join(row) + "\n" for row in [HEADER, *rows]).encode(encoding))
    return path


def test_csv_text_lands_exactly_as_in_the_file(es, env, tmp_path) -> None:
    path = write_csv(tmp_path / "tricky.csv", TRICKY)
    es.create_topic("tricky", 1)
    result = run("produce", str(path), "--topic", "tricky", "--key-col", "id", env=env)
    assert result.returncode == 0, result.stderr
    stored = load(es, "tricky")
    for row in TRICKY:
        assert stored[row[0]] == dict(zip(HEADER[1:], row[1:], strict=True))


def test_tsv_and_a_separator_of_ones_own(es, env, tmp_path) -> None:
    es.create_topic("separated", 1)
    tsv = write_csv(tmp_path / "tricky.tsv", TRICKY, sep="\t")
    semicolons = write_csv(tmp_path / "semi.csv", TRICKY[:1], sep=";")
    for path, extra in ((tsv, []), (semicolons, ["--sep", ";"])):
        result = run(
            "produce", str(path), "--topic", "separated", "--key-col", "id", *extra, env=env
        )
        assert result.returncode == 0, result.stderr
    assert load(es, "separated")["00042"]["big_id"] == "12345678901234567890"


def test_na_values_are_the_only_nulls(es, env, tmp_path) -> None:
    path = write_csv(tmp_path / "nulls.csv", TRICKY)
    es.create_topic("nulls", 1)
    args = ["--na-values", "NA", "--na-values", ""]
    result = run("produce", str(path), "--topic", "nulls", "--key-col", "id", *args, env=env)
    assert result.returncode == 0, result.stderr
    country = {key: value["country"] for key, value in load(es, "nulls").items()}
    assert country == {"00042": None, "00043": "None", "00044": "null", "00045": None}


def mixed_file(path: Path, rows: int, odd_row: int) -> Path:
    """A zip column of numbers, one of them not a number, past the first chunk."""
    lines = ["id,zip,amount,express"]
    for i in range(rows):
        zip_code = "12AB3" if i == odd_row else str(10000 + i)
        lines.append(f"k{i},{zip_code},{i / 4},{'true' if i % 2 else 'false'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_type_never_depends_on_the_chunk(es, env, tmp_path) -> None:
    path = mixed_file(tmp_path / "mixed.csv", 300, odd_row=250)
    es.create_topic("mixed-text", 1)
    args = ["--key-col", "id", "--chunksize", "100"]
    result = run("produce", str(path), "--topic", "mixed-text", *args, env=env)
    assert result.returncode == 0, result.stderr
    stored = load(es, "mixed-text")
    assert {type(value["zip"]) for value in stored.values()} == {str}
    assert stored["k5"] == {"zip": "10005", "amount": "1.25", "express": "true"}


def test_inferred_types_hold_for_the_whole_file(es, env, tmp_path) -> None:
    path = mixed_file(tmp_path / "mixed.csv", 300, odd_row=250)
    es.create_topic("mixed-inferred", 1)
    status_out = tmp_path / "status.csv"
    args = ["--key-col", "id", "--chunksize", "100", "--infer-types"]
    result = run(
        "produce",
        str(path),
        "--topic",
        "mixed-inferred",
        *args,
        "--status-out",
        str(status_out),
        env=env,
    )
    assert result.returncode == 1, result.stderr
    stored = load(es, "mixed-inferred")
    assert len(stored) == 299 and "k250" not in stored
    assert {type(value["zip"]) for value in stored.values()} == {int}
    assert stored["k5"] == {"zip": 10005, "amount": 1.25, "express": True}
    status = pd.read_csv(status_out).set_index("row")
    assert status.loc[250, "status"] == "rejected"
    error = status.loc[250, "error"]
    assert "'zip'" in error and "'12AB3'" in error and "dtype={'zip': 'str'}" in error


def test_inference_leaves_numbers_that_read_as_thousands_too_as_text(es, tmp_path) -> None:
    """A German export's 1.000 is a thousand: inferred as the float 1.0, it landed as a
    thousandth of itself, exit 0. A column with a fraction of another shape is float."""
    path = tmp_path / "menge.csv"
    path.write_text("id;menge;umsatz;preis\nx;1.000;999;1.250\ny;2.500;1.234;0.5\nz;12;12.500;3\n")
    es.create_topic("thousands", 1)
    options = {"key_col": "id", "sep": ";", "infer_types": True, "progress": False}
    es_pandas.produce_file(path, "thousands", url=es.url, api_key=API_KEY, **options)
    assert load(es, "thousands") == {
        "x": {"menge": "1.000", "umsatz": "999", "preis": 1.25},
        "y": {"menge": "2.500", "umsatz": "1.234", "preis": 0.5},
        "z": {"menge": "12", "umsatz": "12.500", "preis": 3.0},
    }


def test_a_utf_8_file_read_as_cp1252_is_said_to_look_utf_8(tmp_path, caplog) -> None:
    """Without a byte order mark it landed garbled ('MÃ¼ller'), exit 0, without a word.
    It is said, not refused: cp1252 text that is valid UTF-8 is rare, not impossible."""
    path = tmp_path / "export.csv"
    path.write_bytes("id;name\n1;Müller\n2;Straße\n".encode())
    options = ReadOptions("csv", encoding="cp1252", sep=";")
    with caplog.at_level("WARNING", logger="es_pandas"):
        [(frame, _)] = list(read_frames(str(path), options, 100, "export.csv"))
    assert frame["name"].tolist() == ["MÃ¼ller", "StraÃŸe"]  # as cp1252 reads it
    assert caplog.messages == [
        "export.csv looks UTF-8: encoding='cp1252' reads its 'ü' as 'Ã¼'; if it is UTF-8, "
        "pass encoding='utf-8' (--encoding utf-8)"
    ]
    caplog.clear()
    # what was read ends inside its one character past ASCII: nothing to say (it raised)
    from es_pandas._encodings import say_if_utf8

    say_if_utf8("id;name\n1;Mü".encode()[:-1], "cp1252", "export.csv")
    path.write_bytes("id;name\n1;Müller\n".encode("cp1252"))
    with caplog.at_level("WARNING", logger="es_pandas"):
        list(read_frames(str(path), options, 100, "export.csv"))
    assert caplog.messages == []


def test_inference_keeps_leading_zeros(es, env, tmp_path) -> None:
    path = write_csv(tmp_path / "zeros.csv", TRICKY[:2])
    es.create_topic("zeros", 1)
    args = ["--key-col", "id", "--infer-types"]
    result = run("produce", str(path), "--topic", "zeros", *args, env=env)
    assert result.returncode == 0, result.stderr
    assert load(es, "zeros")["00042"]["zip"] == "01234"


def test_inference_takes_no_number_a_float_would_change(es, env, tmp_path) -> None:
    """Past int64 an integer was inferred a float: 18446744073709551615 landed as
    1.8446744073709552e+19; given int, such a value rejects its row."""
    path = tmp_path / "big.csv"
    path.write_text(
        "k,n,pi,x\na,18446744073709551615,3.14159265358979323846,1.10\n"
        "b,99999999999999999999,0.1,2\n"
    )
    es.create_topic("big-numbers", 1)
    args = ["--topic", "big-numbers", "--key-col", "k"]
    inferred = run("produce", str(path), *args, "--infer-types", env=env)
    status_out = tmp_path / "status.csv"
    typed = run(
        "produce", str(path), *args, "--dtype", "n=int", "--status-out", str(status_out), env=env
    )

    assert inferred.returncode == 0, inferred.stderr
    assert load(es, "big-numbers") == {
        "a": {"n": "18446744073709551615", "pi": "3.14159265358979323846", "x": 1.1},
        "b": {"n": "99999999999999999999", "pi": "0.1", "x": 2.0},
    }
    assert typed.returncode == 1, typed.stderr
    # the terminal's summary in flags; the status file keeps each row's error as it is
    assert "(--dtype n=int; --dtype n=str sends it as text)" in typed.stderr
    status = pd.read_csv(status_out, dtype=str, keep_default_na=False)
    assert status[["row", "status", "error"]].values.tolist() == [
        [
            "0",
            "rejected",
            "column 'n': '18446744073709551615' is out of range for an int "
            "(dtype={'n': 'int'}; dtype={'n': 'str'} sends it as text)",
        ],
        [
            "1",
            "rejected",
            "column 'n': '99999999999999999999' is out of range for an int "
            "(dtype={'n': 'int'}; dtype={'n': 'str'} sends it as text)",
        ],
    ]


def test_no_type_drops_a_sign_or_a_magnitude(es, tmp_path) -> None:
    """-0 is the int 0 (the text a rounding of a small negative writes: a column of ints
    does not turn float for it) and -0.0 in a float column; 1e-400 is no float: its
    float is 0, so given float it rejects its row, as 1e400 does."""
    path = tmp_path / "tiny.csv"
    path.write_text("k,n,x,f\na,-0,-0,1e-400\nb,5,2.5,2.5\n")
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "k"}
    es.create_topic("tiny-inferred", 1)
    es_pandas.produce_file(path, "tiny-inferred", infer_types=True, **options)
    assert load(es, "tiny-inferred") == {
        "a": {"n": 0, "x": -0.0, "f": "1e-400"},
        "b": {"n": 5, "x": 2.5, "f": "2.5"},
    }
    landed = load(es, "tiny-inferred")
    assert type(landed["b"]["n"]) is int and str(landed["a"]["x"]) == "-0.0"
    es.create_topic("tiny-typed", 1)
    status_out = tmp_path / "status.csv"
    typed = es_pandas.produce_file(
        path, "tiny-typed", dtype={"f": "float"}, status_out=str(status_out), **options
    )
    assert (typed.counts["ok"], typed.counts["rejected"]) == (1, 1), typed
    status = pd.read_csv(status_out, dtype=str, keep_default_na=False)
    assert status["error"][0] == (
        "column 'f': '1e-400' is out of range for a float (dtype={'f': 'float'}; "
        "dtype={'f': 'str'} sends it as text)"
    )


def test_dtype_gives_a_column_its_type(es, env, tmp_path) -> None:
    path = mixed_file(tmp_path / "typed.csv", 20, odd_row=7)
    es.create_topic("typed", 1)
    args = ["--key-col", "id", "--dtype", "zip=int", "--dtype", "express=bool"]
    result = run("produce", str(path), "--topic", "typed", *args, env=env)
    assert result.returncode == 1
    assert "'12AB3' is not an int" in result.stderr + result.stdout
    stored = load(es, "typed")
    assert stored["k3"] == {"zip": 10003, "amount": "0.75", "express": True}
    assert "k7" not in stored


def test_json_typed_column(es, env, tmp_path) -> None:
    path = tmp_path / "nested.csv"
    pd.DataFrame({"id": ["a"], "doc": ['{"x": [1, 2.5, null]}']}).to_csv(path, index=False)
    status = es_pandas.produce_file(
        path, "single", url=es.url, api_key=API_KEY, key_col="id", dtype={"doc": "json"}
    )
    assert status.counts["ok"] == 1
    assert json.loads(es.read("single")[-1].value) == {"doc": {"x": [1, 2.5, None]}}


def test_a_json_typed_column_holds_json_lines_to_their_rules(es, tmp_path) -> None:
    """A value of a json column is read as a JSON Lines line is: a field twice in one
    object, with two values, rejects its row (json.loads kept the last, {"a": 2}, without
    a word), and so does a number past a float64's range, shown as the file has it (it
    was "inf is not valid JSON")."""
    path = tmp_path / "docs.csv"
    docs = ['{"a":1,"a":2}', '{"x":{"a":1,"a":1}}', '[1,{"b":true,"b":1}]', "1e400", "[-2E999]"]
    pd.DataFrame({"id": [f"k{i}" for i in range(len(docs))], "doc": docs}).to_csv(path, index=False)
    es.create_topic("json-typed-twice", 1)
    status_out = tmp_path / "status.csv"
    summary = es_pandas.produce_file(
        path,
        "json-typed-twice",
        url=es.url,
        api_key=API_KEY,
        key_col="id",
        dtype={"doc": "json"},
        chunksize=2,
        status_out=str(status_out),
        progress=False,
    )
    assert summary.counts["rejected"] == 4
    remedy = " (dtype={'doc': 'json'}; dtype={'doc': 'str'} sends it as text)"
    assert pd.read_csv(status_out)["error"].fillna("").tolist() == [
        "column 'doc': '{\"a\":1,\"a\":2}' has the field 'a' twice in one object: a consumer "
        "would keep one of them" + remedy,
        "",
        "column 'doc': '[1,{\"b\":true,\"b\":1}]' has the field 'b' twice in one object: a "
        "consumer would keep one of them" + remedy,
        "column 'doc': '1e400' holds 1e400, past a float64's range, so it cannot be sent "
        "as it is" + remedy,
        "column 'doc': '[-2E999]' holds -2E999, past a float64's range, so it cannot be sent "
        "as it is" + remedy,
    ]
    # the same value twice is one field, as in a JSON Lines line
    assert load(es, "json-typed-twice") == {"k1": {"doc": {"x": {"a": 1}}}}


def test_a_latin_1_file_with_encoding(es, env, tmp_path) -> None:
    rows = [("k1", "Köln", "José", "Ærø", "ES")]
    path = write_csv(tmp_path / "latin.csv", rows, encoding="latin-1")
    es.create_topic("latin", 1)
    args = ["--key-col", "id"]
    refused = run("produce", str(path), "--topic", "latin", *args, env=env)
    assert refused.returncode == 2
    assert "latin.csv: cannot read line 2" in refused.stderr
    assert "--encoding" in refused.stderr
    result = run("produce", str(path), "--topic", "latin", *args, "--encoding", "latin-1", env=env)
    assert result.returncode == 0, result.stderr
    assert load(es, "latin")["k1"] == {
        "zip": "Köln",
        "card": "José",
        "big_id": "Ærø",
        "country": "ES",
    }


def test_a_utf_16_file_is_named_utf_16(es, env, tmp_path) -> None:
    """It starts with a byte order mark: the hint was cp1252 or latin-1 (latin-1 would
    read it, garbled)."""
    path = tmp_path / "wide.csv"
    path.write_bytes("id,city\nk1,Köln\n".encode("utf-16"))
    es.create_topic("wide", 1)
    args = ["--topic", "wide", "--key-col", "id"]
    refused = [
        run("produce", str(path), *args, *encoding, env=env)
        for encoding in ([], ["--encoding", "latin-1"])
    ]
    result = run("produce", str(path), *args, "--encoding", "utf-16", env=env)

    for answer in refused:
        assert answer.returncode == 2, answer.stderr
        assert "Error: wide.csv: cannot read it as " in answer.stderr
        assert (
            "it starts with a byte order mark, so it looks UTF-16: --encoding utf-16; "
            "nothing was sent"
        ) in answer.stderr
    assert result.returncode == 0, result.stderr
    assert load(es, "wide") == {"k1": {"city": "Köln"}}


@pytest.mark.parametrize("name", ["excel.csv", "excel.jsonl"])
def test_a_utf_8_file_read_as_cp1252_is_named_by_its_byte_order_mark(es, tmp_path, name) -> None:
    """Excel's "CSV UTF-8" starts with one: read as cp1252, every row landed, its first
    field named 'ï»¿id' and Müller as 'MÃ¼ller'."""
    path = tmp_path / name
    text = "id;city\nk1;Müller\n" if name.endswith(".csv") else '{"id":"k1","city":"Müller"}\n'
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    es.reset_stats()
    sep = {"sep": ";"} if name.endswith(".csv") else {}
    for encoding in ("cp1252", "latin-1"):
        with pytest.raises(
            es_pandas.ConfigurationError,
            match=rf"^{name}: cannot read it as [^:]+: it starts with a byte order mark, "
            "so it looks UTF-8: encoding='utf-8'",
        ):
            es_pandas.produce_file(
                path, "single", url=es.url, api_key=API_KEY, encoding=encoding, **sep
            )
    assert es.stats().get("requests", 0) == 0


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "rows.jsonl",
            {"dtype": {"v": "float"}},
            "dtype= is an option of reading CSV and TSV files: a JSON Lines file's values "
            "keep their JSON types",
        ),
        (
            "rows.parquet",
            {"decimal": ",", "infer_types": True, "encoding": "cp1252"},
            "decimal= and infer_types= and encoding= are options of reading CSV and TSV "
            "files: a Parquet file's columns keep their types",
        ),
    ],
)
def test_options_of_text_files_are_refused_for_others(tmp_path, name, options, message) -> None:
    # they were ignored: {"v":"1,5"} went as "1,5" with dtype float and decimal ','
    path = tmp_path / name
    frame = pd.DataFrame({"v": ["1,5"]})
    if name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    with pytest.raises(es_pandas.ConfigurationError) as raised:
        es_pandas.produce_file(path, "t", url="http://127.0.0.1:1", dry_run=True, **options)
    assert str(raised.value) == message


def test_a_big_endian_utf_16_pipe_is_named_utf_16(es, tmp_path) -> None:
    fifo = tmp_path / "wide.csv"
    os.mkfifo(fifo)
    text = codecs.BOM_UTF16_BE + "id,city\nk1,Köln\n".encode("utf-16-be")
    writer = threading.Thread(target=fifo.write_bytes, args=(text,), daemon=True)
    writer.start()
    with pytest.raises(es_pandas.ConfigurationError, match="it looks UTF-16: encoding='utf-16'"):
        es_pandas.produce_file(fifo, "single", url=es.url, api_key=API_KEY, key_col="id")
    writer.join()


def test_an_undecodable_line_of_an_old_mac_export_is_named_by_its_number(es, tmp_path) -> None:
    """Excel's "CSV (Macintosh)" ends its lines in \\r alone: the whole file was
    "line 1 (byte 30 of it)"."""
    path = tmp_path / "mac.csv"
    path.write_bytes("id;name\r1;Meyer\r2;Müller\r".encode("mac_roman"))
    with pytest.raises(
        es_pandas.ConfigurationError,
        match=r"^mac\.csv: cannot read line 3 \(byte 4 of it\) .*\(mac_roman for a Mac export",
    ):
        es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, sep=";")


def test_a_malformed_line_names_the_file_and_line_and_how_to_go_on(es, env, tmp_path) -> None:
    lines = ["id,n"] + [f"k{i},{i}" for i in range(150)]
    lines[121] = "k120,1,surplus"
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    status_out = tmp_path / "status.csv"
    es.create_topic("broken", 1)
    args = ["--key-col", "id", "--chunksize", "50", "--status-out", str(status_out)]
    result = run("produce", str(path), "--topic", "broken", *args, env=env)
    assert result.returncode == 2, result.stderr
    assert "broken.csv: " in result.stderr and "line 122" in result.stderr
    assert f"{status_out}" in result.stderr and "--resume" in result.stderr
    status = pd.read_csv(status_out)
    assert (status["status"] == "ok").sum() == 100


def test_json_lines_keep_their_types_across_chunks(es, env, tmp_path) -> None:
    rows = [{"id": f"j{i}", "n": None if i == 150 else i, "code": "00042"} for i in range(200)]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    es.create_topic("jsonl-types", 1)
    args = ["--key-col", "id", "--chunksize", "100"]
    result = run("produce", str(path), "--topic", "jsonl-types", *args, env=env)
    assert result.returncode == 0, result.stderr
    stored = load(es, "jsonl-types")
    assert stored["j101"] == {"n": 101, "code": "00042"}
    assert stored["j150"] == {"n": None, "code": "00042"}


def test_a_json_line_with_a_field_twice_in_one_object_is_rejected(es, tmp_path) -> None:
    # json.loads keeps the last; a frame whose columns would make one field twice is
    # refused, for a consumer keeps one of them
    path = tmp_path / "twice.jsonl"
    path.write_text(
        '{"id":"a","v":1,"v":1}\n{"id":"b","v":1,"v":1.0}\n\n{"id":"c","v":{"x":1,"x":2}}\n'
        '{"id":"d"}\n'
    )
    es.create_topic("jsonl-twice", 1)
    status_out = tmp_path / "status.csv"
    options = {"key_col": "id", "progress": False, "status_out": str(status_out)}
    summary = es_pandas.produce_file(
        path, "jsonl-twice", url=es.url, api_key=API_KEY, chunksize=2, **options
    )
    assert summary.counts["rejected"] == 2
    errors = pd.read_csv(status_out)["error"].tolist()
    assert (
        errors[1]
        == "line 2 has the field 'v' twice in one object: a consumer would keep one of them"
    )
    assert errors[2].startswith("line 4 has the field 'x' twice")
    # the same value twice is one field
    assert load(es, "jsonl-twice") == {"a": {"v": 1}, "d": {}}


def test_a_json_line_with_a_number_past_a_float64s_range_is_rejected_showing_it(
    es, tmp_path
) -> None:
    """json.loads reads 1e400 as inf: the row was rejected as "inf is not valid JSON",
    a number the file does not hold; and 1e-400 as 0, which was sent without a word."""
    path = tmp_path / "large.jsonl"
    path.write_text(
        '{"id":"a","v":1e400}\n{"id":"b","v":[1,-2E999]}\n{"id":"c","v":1e308}\n'
        '{"id":"d","v":-1e400,"w":{"x":1}}\n{"id":"e","v":0.0,"w":1e-400}\n'
        '{"id":"f","v":0.0,"w":5e-324}\n'
    )
    es.create_topic("jsonl-large", 1)
    status_out = tmp_path / "status.csv"
    options = {"key_col": "id", "progress": False, "status_out": str(status_out)}
    summary = es_pandas.produce_file(path, "jsonl-large", url=es.url, api_key=API_KEY, **options)
    assert summary.counts["rejected"] == 4
    assert pd.read_csv(status_out)["error"].dropna().tolist() == [
        "line 1, field 'v', holds 1e400, past a float64's range, so it cannot be sent as it is",
        "line 2 holds -2E999, past a float64's range, so it cannot be sent as it is",
        "line 4, field 'v', holds -1e400, past a float64's range, so it cannot be sent as it is",
        # its float is 0 (the 0.0 before it is not the field at fault)
        "line 5, field 'w', holds 1e-400, past a float64's range, so it cannot be sent as it is",
    ]
    assert load(es, "jsonl-large") == {"c": {"v": 1e308}, "f": {"v": 0.0, "w": 5e-324}}


def test_json_lines_take_a_utf_8_bom_and_name_the_file_once(es, env, tmp_path) -> None:
    """A byte order mark was refused ("Unexpected UTF-8 BOM"), as a CSV file's is not;
    an error read "d.jsonl: d.jsonl line 6", and one of encoding gave no hint."""
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(codecs.BOM_UTF8 + b'{"k":"a","v":1}\n{"k":"b","v":2}\n')
    broken = tmp_path / "d.jsonl"
    broken.write_text('{"k":"a"}\n' * 5 + '{"k":\n')
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"k":"a"}\n{"k":"b","city":"Köln"}\n'.encode("latin-1"))
    es.create_topic("marked", 1)
    args = ["--key-col", "k"]

    accepted = run("produce", str(marked), "--topic", "marked", *args, env=env)
    malformed, undecodable = (
        run("produce", str(path), "--topic", "single", *args, env=env) for path in (broken, latin)
    )

    assert accepted.returncode == 0, accepted.stderr
    assert load(es, "marked") == {"a": {"v": 1}, "b": {"v": 2}}
    assert malformed.returncode == 2
    assert "Error: d.jsonl: line 6: Expecting value" in malformed.stderr
    assert malformed.stderr.count("d.jsonl") == 1, malformed.stderr
    assert undecodable.returncode == 2
    assert (
        "Error: latin.jsonl: cannot read line 2 (byte 19 of it) as utf-8 (invalid start "
        "byte); pass --encoding the file's"
    ) in undecodable.stderr


@pytest.mark.parametrize(
    "encoding, data",
    [
        ("utf-16", '{"k":"a","city":"Köln"}\r\n\n{"k":"b","v":[1,"ÿ"]}\n'.encode("utf-16")),
        (
            "utf-16-le",
            codecs.BOM_UTF16_LE
            + '{"k":"a","city":"Köln"}\n{"k":"b","v":[1,"ÿ"]}'.encode("utf-16-le"),
        ),
        ("utf-32", '{"k":"a","city":"Köln"}\n{"k":"b","v":[1,"ÿ"]}\n'.encode("utf-32")),
    ],
)
def test_json_lines_in_utf_16_or_32_are_read_as_their_encoding_says(
    es, env, tmp_path, encoding: str, data: bytes
) -> None:
    """Windows PowerShell writes UTF-16. Such a file was split at the byte 0x0A, within
    its characters: even with --encoding utf-16 it could not be read."""
    path = tmp_path / "wide.jsonl"
    path.write_bytes(data)
    topic = f"wide-{encoding}"
    es.create_topic(topic, 1)
    args = ["--topic", topic, "--key-col", "k"]

    refused = run("produce", str(path), *args, env=env)
    result = run("produce", str(path), *args, "--encoding", encoding, env=env)

    assert refused.returncode == 2
    family = encoding[:6]
    assert (
        "wide.jsonl: cannot read it as utf-8: it starts with a byte order mark, so it "
        f"looks {family.upper()}: --encoding {family}"
    ) in refused.stderr
    assert result.returncode == 0, result.stderr
    assert load(es, topic) == {"a": {"city": "Köln"}, "b": {"v": [1, "ÿ"]}}


# A field some lines lack, one line's null and NaN beside it, a field first seen late,
# keys in another order than the first line's: (line, the value that lands)
SPARSE = [
    ('{"id":"r1","a":1,"b":"x"}', b'{"a":1,"b":"x"}'),
    ('{"id":"r2"}', b"{}"),
    ('{"id":"r3","a":null}', b'{"a":null}'),
    ('{"b":"y","id":"r4","c":[1.5]}', b'{"b":"y","c":[1.5]}'),
    ('{"id":"r5","a":NaN}', b'{"a":null}'),
]


def sparse_file(tmp_path: Path) -> Path:
    path = tmp_path / "sparse.jsonl"
    path.write_text("".join(line + "\n" for line, _ in SPARSE))
    return path


def test_a_field_a_json_line_lacks_stays_absent_whatever_its_chunk(es, tmp_path) -> None:
    """Fields in the order they first appear in the file, a null only where the line
    has one: each row lands byte for byte the same, its record id (a digest of it) and
    its fingerprint in the status file too, whichever rows share its chunk."""
    path = sparse_file(tmp_path)
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    landed, hashes = [], []
    for chunksize in (1, 2, 10):
        topic = f"sparse-{chunksize}"
        es.create_topic(topic, 1)
        status_out = tmp_path / f"status-{chunksize}.csv"
        summary = es_pandas.produce_file(
            path,
            topic,
            chunksize=chunksize,
            record_id="hash",
            status_out=str(status_out),
            **options,
        )
        assert summary.counts["ok"] == len(SPARSE), summary
        # by key: rows in flight together land in the order their answers come
        landed.append(sorted((r.key, r.value, r.headers) for r in es.read(topic)))
        hashes.append(pd.read_csv(status_out)["row_hash"].tolist())
    assert [value for _, value, _ in landed[0]] == [value for _, value in SPARSE]
    assert landed[1] == landed[0] and landed[2] == landed[0]
    assert hashes[1] == hashes[0] and hashes[2] == hashes[0]


def test_a_json_lines_load_resumes_with_other_chunks(es, tmp_path) -> None:
    path = sparse_file(tmp_path)
    status_out = tmp_path / "status.csv"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "key_col": "id"}
    es.create_topic("sparse-resume", 1)
    es_pandas.produce_file(
        path, "sparse-resume", chunksize=10, status_out=str(status_out), **options
    )
    again = es_pandas.produce_file(
        path, "sparse-resume", chunksize=1, resume=str(status_out), **options
    )
    assert again.carried == len(SPARSE) and again.counts["ok"] == len(SPARSE), again
    assert len(es.read("sparse-resume")) == len(SPARSE)


def test_a_key_header_or_record_id_a_json_line_lacks_is_null(es, tmp_path) -> None:
    """A null key or record id rejects its row, naming it and the column; a null header
    is left out."""
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"id":"k1","h":"x","rid":"i1","v":1}\n'
        '{"h":"y","rid":"i2","v":2}\n'
        '{"id":"k3","rid":"i3","v":3}\n'
        '{"id":"k4","h":"z","v":4}\n'
    )
    es.create_topic("absent-roles", 1)
    status_out = tmp_path / "status.csv"
    summary = es_pandas.produce_file(
        path,
        "absent-roles",
        url=es.url,
        api_key=API_KEY,
        progress=False,
        key_col="id",
        header_cols=["h"],
        record_id="rid",
        status_out=str(status_out),
    )
    assert summary.counts["rejected"] == 2, summary
    status = pd.read_csv(status_out, dtype=str, keep_default_na=False)
    assert status[["row", "status", "error"]].values.tolist() == [
        ["0", "ok", ""],
        ["1", "rejected", "column 'id': null key"],
        ["2", "ok", ""],
        ["3", "rejected", "column 'rid': null record id"],
    ]
    # by key: rows in flight together land in the order their answers come
    stored = sorted(es.read("absent-roles"), key=lambda record: record.key)
    assert [(r.key, json.loads(r.value)) for r in stored] == [
        (b"k1", {"rid": "i1", "v": 1}),
        (b"k3", {"rid": "i3", "v": 3}),
    ]
    assert [dict(r.headers) for r in stored] == [
        {"h": b"x", "es-pandas-record-id": b"i1"},
        {"es-pandas-record-id": b"i3"},
    ]


def test_a_dtype_for_a_column_the_file_lacks_is_a_usage_error(es, env, tmp_path) -> None:
    path = write_csv(tmp_path / "tricky.csv", TRICKY)
    result = run("produce", str(path), "--topic", "single", "--dtype", "zipp=int", env=env)
    assert result.returncode == 2
    assert "no column 'zipp'" in result.stderr


def test_a_name_missing_for_the_spaces_around_it_is_shown_with_them(es, env, tmp_path) -> None:
    """An Excel header cell with a space after its text: the columns were shown as
    "id , Name ,  Betrag"."""
    path = tmp_path / "spaced.csv"
    path.write_text("id ;Name ; Betrag\n1;a;1.5\n")
    args = ["--topic", "single", "--sep", ";"]

    typed = run("produce", str(path), *args, "--dtype", "Betrag=float", env=env)
    keyed = run("produce", str(path), *args, "--key-col", "id", env=env)

    columns = "['id ', 'Name ', ' Betrag']"
    assert typed.returncode == keyed.returncode == 2
    assert (
        f"--dtype: the file has no column 'Betrag'; its columns are {columns}: there is "
        "' Betrag', with spaces"
    ) in typed.stderr
    assert (
        f"--key-col: no column named 'id'; columns: {columns}: there is 'id ', with spaces"
    ) in keyed.stderr
    # each can be named with its spaces: a listed name in double quotes, as CSV quotes it
    listed = run("produce", str(path), *args, "--value-cols", "Name", env=env)
    assert (
        f"--value-cols: no column named 'Name'; columns: {columns}: there is 'Name ', with "
        'spaces (on the command line, in double quotes: "Name ")'
    ) in listed.stderr
    named = ["--key-col", "id ", "--value-cols", '"Name ", " Betrag"', "--dtype", " Betrag=float"]
    result = run("produce", str(path), *args, *named, env=env)
    assert result.returncode == 0, result.stderr
    (record,) = es.read("single")[-1:]
    assert (record.key, json.loads(record.value)) == (b"1", {"Name ": "a", " Betrag": 1.5})


def test_a_listed_name_in_double_quotes_is_all_that_is_inside_them(es, env, tmp_path) -> None:
    """As CSV quotes it: a doubled quote is a quote (the name keeps its spaces still), a
    name of spaces is a name, and spaces after the closing quote are trimmed. Unquoted,
    a name is trimmed even when the list holds it quoted too."""
    path = tmp_path / "quoted.csv"
    path.write_text('id,"q""x ", ,x ,x,"a,b"\n1,2,3,4,5,6\n')
    args = ["--topic", "single", "--key-col", "id"]
    named = run("produce", str(path), *args, "--value-cols", '" q""x " ," "  ,"a,b"', env=env)
    assert named.returncode == 2  # ' q"x ' is no column: the spaces inside quotes are kept
    assert "no column named ' q\"x '" in named.stderr
    result = run("produce", str(path), *args, "--value-cols", '"q""x " ," "  ,"a,b"', env=env)
    assert result.returncode == 0, result.stderr
    (record,) = es.read("single")[-1:]
    assert json.loads(record.value) == {'q"x ': "2", " ": "3", "a,b": "6"}
    both = run("produce", str(path), *args, "--value-cols", 'x ,"x "', env=env)
    assert both.returncode == 0, both.stderr
    (record,) = es.read("single")[-1:]
    assert json.loads(record.value) == {"x": "5", "x ": "4"}
    # a name missing for its spaces or its comma is shown quoted as the command line takes it
    spaced = run("produce", str(path), *args, "--value-cols", 'q"x', env=env)
    assert 'in double quotes: "q""x ")' in spaced.stderr
    comma = run("produce", str(path), *args, "--value-cols", "a,b", env=env)
    assert comma.returncode == 2
    assert "there is 'a,b' (on the command line, in double quotes: \"a,b\")" in comma.stderr


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ('"Betrag ,Menge', "a double quote opens '\"Betrag ,Menge' and none closes"),
        ('"Betrag "x,Menge', "'--value-cols': '\"Betrag \"x' has text after its closing quote"),
        ("id\nx", ""),  # a line break is a character of a name: no traceback
    ],
)
def test_a_listed_name_badly_quoted_is_a_usage_error(env, tmp_path, listed, message) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,Betrag ,Menge\n1,2,3\n")
    result = run("produce", str(path), "--topic", "single", "--value-cols", listed, env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dtype": {"zip": "integer"}}, "a column's type is one of str, int, float, bool, json"),
        ({"encoding": "klingon"}, "not a text encoding"),
        ({"sep": ";;"}, "one character"),
        ({"na_values": "NA"}, "a list of strings"),
    ],
)
def test_bad_reading_options(tmp_path, options: dict, message: str) -> None:
    path = write_csv(tmp_path / "tricky.csv", TRICKY)
    with pytest.raises(es_pandas.ConfigurationError, match=message):
        es_pandas.produce_file(path, "t", url="http://127.0.0.1:9", **options)


def test_dtype_takes_python_types_as_pandas_does(es, tmp_path) -> None:
    # dtype={"amount": float}, as read_csv takes it, was refused
    path = tmp_path / "typed.csv"
    path.write_text("id,amount,items,express,code\na,1.5,2,true,00042\n")
    es.create_topic("python-types", 1)
    dtype = {"amount": float, "items": int, "express": bool, "code": str}
    options = {"key_col": "id", "dtype": dtype, "progress": False}
    es_pandas.produce_file(path, "python-types", url=es.url, api_key=API_KEY, **options)
    assert load(es, "python-types") == {
        "a": {"amount": 1.5, "items": 2, "express": True, "code": "00042"}
    }
    with pytest.raises(ConfigurationError, match=r"amount=<class 'complex'>: a column's type"):
        es_pandas.produce_file(path, "t", url=es.url, dtype={"amount": complex})


@pytest.mark.parametrize(
    ("name", "suggestion"), [("delimiter", "did you mean 'sep'"), ("sepp", "did you mean 'sep'")]
)
def test_pandas_name_for_an_option_is_told_ours(tmp_path, name, suggestion) -> None:
    # read_csv's delimiter= is its sep=: it was told "did you mean 'limits'?"
    path = write_csv(tmp_path / "tricky.csv", TRICKY)
    with pytest.raises(TypeError, match=rf"unexpected keyword argument '{name}'; {suggestion}\?"):
        es_pandas.produce_file(path, "t", url="http://127.0.0.1:9", **{name: ";"})


def test_a_header_of_one_column_holding_another_separator_stops_the_load(es, env, tmp_path):
    # read with ',', a file separated by ';' is one column: every line would go as one
    # text field, every row ok
    frame = pd.DataFrame({"order_id": ["00042", "7"], "amount": ["1.5", "2"]})
    semi, tab = tmp_path / "semi.csv", tmp_path / "tab.csv"
    frame.to_csv(semi, sep=";", index=False)
    frame.to_csv(tab, sep="\t", index=False)
    options = {"url": es.url, "api_key": API_KEY, "progress": False}
    with pytest.raises(
        ConfigurationError, match=r"which holds ';': is it separated by ';' \(sep=';'\)"
    ):
        es_pandas.produce_file(semi, "single", **options)
    with pytest.raises(ConfigurationError, match=r"holds '\\t': is it a TSV file \(format='tsv'\)"):
        es_pandas.produce_file(tab, "single", **options)
    result = run("produce", str(semi), "--topic", "single", env=env)
    assert result.returncode == 2
    assert "is it separated by ';' (--sep ';')? If it is one column, say --sep ','" in (
        result.stderr
    )
    assert es.stats().get("200", 0) == 0
    # a quoted name holds it as a name does: one column
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"notes (a; b)"\nfine; thanks\n')
    assert es_pandas.produce_file(quoted, "single", **options).counts["ok"] == 1
    # said so, it is one column; and the separator it holds reads it as two
    assert es_pandas.produce_file(semi, "single", sep=",", **options).counts["ok"] == 2
    es_pandas.produce_file(semi, "single", sep=";", **options)
    values = [json.loads(r.value) for r in es.read("single")[-5:]]
    assert values[0] == {"notes (a; b)": "fine; thanks"}
    assert values[1] == {"order_id;amount": "00042;1.5"}
    assert values[3] == {"order_id": "00042", "amount": "1.5"}


def test_a_one_column_tsv_is_told_how_to_type_its_tab(es, env, tmp_path):
    # --sep '\t' is refused as two characters: the command line is told what a shell takes
    names = tmp_path / "names.tsv"
    names.write_text("Name, First\nSmith, John\n")
    result = run("produce", str(names), "--topic", "single", env=env)
    assert result.returncode == 2
    assert "If it is one column, say --sep $'\\t'" in result.stderr
    told = run("produce", str(names), "--topic", "single", "--sep", "\t", env=env)
    assert told.returncode == 0, told.stderr


# -- reasons, wherever a user looks ---------------------------------------------------


def rejecting_frame() -> pd.DataFrame:
    # two rows with a null key, one whose value cannot be JSON
    return pd.DataFrame({"k": ["a", None, "c", None], "v": [1.0, 2.0, float("inf"), 4.0]})


def test_produce_error_says_why_on_every_surface(es, tmp_path) -> None:
    options = {"url": es.url, "api_key": API_KEY, "key_col": "k", "errors": "raise"}
    path = tmp_path / "rows.jsonl"
    path.write_text('{"k": "a", "v": 1}\n{"k": null, "v": 2}\n{"k": "c", "v": 3}\n{"v": 4}\n')
    producer = es_pandas.Producer(**options)
    fronts = {
        "accessor": lambda: rejecting_frame().es.produce("single", **options),
        "Producer.produce": lambda: producer.produce(rejecting_frame(), "single"),
        "produce_file": lambda: es_pandas.produce_file(path, "single", **options),
        "Producer.produce_file": lambda: producer.produce_file(path, "single"),
    }
    for front, call in fronts.items():
        with pytest.raises(es_pandas.ProduceError) as raised:
            call()
        message = str(raised.value)
        assert "2 rejected" in message, front
        assert "2 rejected: column 'k': null key" in message, (front, message)


def test_the_cli_lists_the_most_frequent_errors(es, env, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    lines = ["k,v"] + [f"k{i},{i}" for i in range(30)] + [f",{i}" for i in range(3)]
    path.write_text("\n".join(lines) + "\n")
    args = ["--key-col", "k", "--na-values", ""]
    result = run("produce", str(path), "--topic", "single", *args, env=env)
    assert result.returncode == 1
    assert "most frequent errors:" in result.stderr
    assert "3 rejected: column 'k': null key" in result.stderr
    assert "--status-out FILE" in result.stderr


def test_rows_rejected_each_for_its_own_value_are_one_reason_in_the_summary(es, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    nulls = [f",{i}" for i in range(20)]
    # each its own error, past the 1,000 distinct errors a run keeps
    own = [f"k{i},x{i}" for i in range(1010)]
    path.write_text("\n".join(["k,v", *nulls, *own]) + "\n")
    options = {"key_col": "k", "na_values": [""], "dtype": {"v": "int"}, "progress": False}
    status_out = tmp_path / "status.csv"
    summary = es_pandas.produce_file(
        path, "single", url=es.url, api_key=API_KEY, status_out=str(status_out), **options
    )
    assert summary.why().splitlines() == [
        "most frequent errors:",
        "  1,010 rejected: column 'v': … is not an int (dtype={'v': 'int'}; "
        "dtype={'v': 'str'} sends it as text)",
        "     20 rejected: column 'k': null key",
    ]
    # each row keeps its own
    errors = pd.read_csv(status_out)["error"]
    assert (
        errors[1029] == "column 'v': 'x1009' is not an int (dtype={'v': 'int'}; "
        "dtype={'v': 'str'} sends it as text)"
    )


def test_a_value_not_of_its_type_is_told_the_option_that_makes_it_fit(es, tmp_path) -> None:
    """An Excel export's empty cells and errors, and decimal commas: each was told only
    that dtype={'v': 'str'} sends it as text."""
    path = tmp_path / "excel.csv"
    path.write_text("k;v\na;\nb;#DIV/0!\nc;#NV\nd;1,5\ne;-1.234,56\nf;x\ng;0.5\n")
    status_out = tmp_path / "status.csv"
    options = {"sep": ";", "dtype": {"v": "float"}, "status_out": str(status_out)}

    es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, **options)

    errors = pd.read_csv(status_out, keep_default_na=False)["error"].tolist()
    null = "; na_values= naming it makes it null, dtype={'v': 'str'} sends it as text)"
    comma = (
        ": decimal=',' reads a decimal comma (thousands='.' the points of 1.234,5); "
        "dtype={'v': 'str'} sends it as text)"
    )
    assert errors == [
        f"column 'v': '' is not a float (dtype={{'v': 'float'}}{null}",
        f"column 'v': '#DIV/0!' is not a float (dtype={{'v': 'float'}}{null}",
        f"column 'v': '#NV' is not a float (dtype={{'v': 'float'}}{null}",
        f"column 'v': '1,5' is not a float (dtype={{'v': 'float'}}{comma}",
        f"column 'v': '-1.234,56' is not a float (dtype={{'v': 'float'}}{comma}",
        "column 'v': 'x' is not a float (dtype={'v': 'float'}; "
        "dtype={'v': 'str'} sends it as text)",
        "",
    ]


def test_numbers_written_as_a_comma_locale_writes_them(es, env, tmp_path) -> None:
    """A German export: decimal=',' and thousands='.' read 1.234,5 as 1234.5; a number
    not written so (a point as a decimal mark, digits not grouped in threes) rejects its
    row, as any value not of its column's type does."""
    path = tmp_path / "de.csv"
    path.write_text(
        "k;menge;betrag;guess\na;1.234;1.234,5;1,5\nb;12;0,25;2,25\nc;7;1.5;-3\nd;1.23;1.23,4;4\n"
    )
    topic = "numbers-de"
    es.create_topic(topic, 1)
    options = ["--sep", ";", "--decimal", ",", "--thousands", ".", "--infer-types"]
    status_out = tmp_path / "status.csv"
    result = run(
        "produce", str(path), "-t", topic, "--key-col", "k", *options,
        "--dtype", "menge=int", "--dtype", "betrag=float", "--status-out", str(status_out),
        env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    values = {r.key: json.loads(r.value) for r in es.read(topic)}
    assert values == {
        b"a": {"menge": 1234, "betrag": 1234.5, "guess": 1.5},
        b"b": {"menge": 12, "betrag": 0.25, "guess": 2.25},
    }
    errors = pd.read_csv(status_out)["error"].tolist()
    assert errors[2] == (
        "column 'betrag': '1.5' is not a float (dtype={'betrag': 'float'}: with decimal=',' "
        "a point is no decimal mark; dtype={'betrag': 'str'} sends it as text)"
    )
    assert errors[3].startswith("column 'menge': '1.23' is not an int")
    # without them, each number says which option reads it
    plain = tmp_path / "plain.csv"
    run("produce", str(path), "-t", topic, "--sep", ";", "--dtype", "menge=int", "--dtype",
        "betrag=float", "--status-out", str(plain), env=env)  # fmt: skip
    errors = pd.read_csv(plain)["error"].tolist()
    assert errors[0] == (
        "column 'menge': '1.234' is not an int (dtype={'menge': 'int'}: thousands='.' reads digits "
        "grouped in threes; dtype={'menge': 'str'} sends it as text)"
    )
    assert errors[1].startswith(
        "column 'betrag': '0,25' is not a float (dtype={'betrag': 'float'}: decimal=',' reads a "
        "decimal comma"
    )


@pytest.mark.parametrize(
    ("decimal", "thousands", "values", "landed"),
    [
        (",", ".", ["0.001", "001.234", "-0.500,5", "-1.000,5", "0,5"], [-1000.5, 0.5]),
        (".", ",", ["0,001", "-00,001.5", "-1,000.5", "0.5"], [-1000.5, 0.5]),
    ],
)
def test_a_thousands_group_after_a_leading_zero_is_no_number(
    es, tmp_path, decimal, thousands, values, landed
) -> None:
    """0.001 in a German file is no thousand, nor 0,001 a one in an English one: no
    locale writes a 0 before a thousands separator. Each rejects its row, not sent as 1."""
    path = tmp_path / "zeros.csv"
    path.write_text("v\n" + "".join(f"{v}\n" for v in values))
    topic = f"zeros-{len(values)}"
    es.create_topic(topic, 1)
    summary = es_pandas.produce_file(
        path, topic, url=es.url, api_key=API_KEY, sep=";", decimal=decimal,
        thousands=thousands, dtype={"v": "float"}, errors="collect",
    )  # fmt: skip
    assert summary.counts["rejected"] == len(values) - len(landed)  # type: ignore[union-attr]
    assert [json.loads(r.value)["v"] for r in es.read(topic)] == landed


def test_a_number_the_options_given_do_not_read_says_which_would(tmp_path) -> None:
    path = tmp_path / "de.csv"
    path.write_text("v\n1.234,5\n")
    options = {"url": "http://127.0.0.1:1", "dry_run": True, "sep": ";", "dtype": {"v": "float"}}
    plan = es_pandas.produce_file(path, "t", decimal=",", **options)
    assert ": thousands='.' reads the points of 1.234,5; " in plan["error"][0]
    plan = es_pandas.produce_file(path, "t", decimal=",", thousands=" ", **options)
    assert ": with decimal=',' a point is no decimal mark; " in plan["error"][0]


def test_decimal_and_thousands_cannot_be_one_character(tmp_path) -> None:
    path = write_csv(tmp_path / "n.csv", [("k", "v"), ("a", "1")])
    both = r"^decimal= and thousands= are both '\.'"
    with pytest.raises(es_pandas.ConfigurationError, match=both):
        es_pandas.produce_file(path, "t", url="http://127.0.0.1:1", thousands=".", dry_run=True)
    with pytest.raises(es_pandas.ConfigurationError, match=r"^decimal must be one character"):
        es_pandas.produce_file(path, "t", url="http://127.0.0.1:1", decimal="e", dry_run=True)


@pytest.mark.parametrize(("errors", "code"), [(None, 1), ("raise", 1), ("collect", 0)])
def test_the_cli_errors_option_decides_the_exit_status(es, env, tmp_path, errors, code) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("k,v\na,1\n,2\nc,3\n")
    status_out = tmp_path / "status.csv"
    args = ["--key-col", "k", "--na-values", "", "--status-out", str(status_out)]
    args += ["--errors", errors] if errors else []

    result = run("produce", str(path), "--topic", "single", *args, env=env)

    assert result.returncode == code, result.stderr
    # the reasons are said either way, and every row's status is written
    assert "1 rejected: column 'k': null key" in result.stderr
    assert pd.read_csv(status_out)["status"].tolist() == ["ok", "rejected", "ok"]


# -- resuming -------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_a_status_file_that_is_the_file_being_sent_is_refused(es, env, tmp_path) -> None:
    """It would be written over: the input's rows gone, replaced by their status."""
    path = write_csv(tmp_path / "orders.csv", TRICKY)
    before = path.read_bytes()
    result = run("produce", str(path), "--topic", "single", "--status-out", str(path), env=env)
    assert result.returncode == 2
    assert "'" + str(path) + "' is the file being sent" in result.stderr
    assert path.read_bytes() == before and es.stats() == {}


def test_a_status_file_that_cannot_be_written_is_refused_naming_it(es, env, tmp_path) -> None:
    path = write_csv(tmp_path / "orders.csv", TRICKY)
    status_out = str(tmp_path / "no-such-folder" / "status.csv")
    result = run("produce", str(path), "--topic", "single", "--status-out", status_out, env=env)
    assert result.returncode == 2
    assert f"--status-out: cannot write {status_out!r}" in result.stderr
    assert "No such file or directory" in result.stderr and es.stats() == {}


def test_a_status_file_says_its_topic_and_resumes_only_a_load_to_it(es, env, tmp_path) -> None:
    """Carried to another topic, its ok rows would read ok and never be sent there."""
    path = write_csv(tmp_path / "orders.csv", TRICKY)
    status_out = tmp_path / "status.csv"
    es.create_topic("staging", 1)
    es.create_topic("production", 1)
    first = run("produce", str(path), "-t", "staging", "--status-out", str(status_out), env=env)
    assert first.returncode == 0, first.stderr
    assert set(pd.read_csv(status_out)["topic"]) == {"staging"}

    again = ["--resume", str(status_out), "--status-out", str(tmp_path / "again.csv")]
    refused = run("produce", str(path), "-t", "production", *again, env=env)

    assert refused.returncode == 2
    assert "of a load to topic 'staging', not 'production'" in refused.stderr
    assert es.read("production") == []
    resumed = run("produce", str(path), "-t", "staging", *again, env=env)
    assert resumed.returncode == 0 and len(es.read("staging")) == len(TRICKY)


def test_a_status_file_of_row_and_status_only_resumes_without_warnings(es, tmp_path) -> None:
    # pandas warned, filling False into maybe_duplicate, a float column when the file lacks it
    path = tmp_path / "rows.csv"
    path.write_text("k,v\na,1\nb,2\nc,3\n")
    resume = tmp_path / "old.csv"
    resume.write_text("row,status\n0,ok\n1,failed\n2,not_sent\n")
    es.create_topic("hand-made-resume", 1)
    status_out = tmp_path / "new.csv"
    es_pandas.produce_file(
        path,
        "hand-made-resume",
        url=es.url,
        api_key=API_KEY,
        key_col="k",
        resume=str(resume),
        status_out=str(status_out),
    )
    assert load(es, "hand-made-resume") == {"b": {"v": "2"}, "c": {"v": "3"}}
    status = pd.read_csv(status_out)
    assert status["status"].tolist() == ["ok"] * 3
    assert status["maybe_duplicate"].tolist() == [False] * 3


def test_the_progress_of_a_resumed_load_counts_the_rows_it_sends(es, tmp_path) -> None:
    # its total is the rows to send: with the rows carried counted as done, the bar
    # went past 100% (tqdm then drops its percentage and ETA), its rate the carried rows'
    path = tmp_path / "rows.csv"
    path.write_text("k,v\na,1\nb,2\nc,3\nd,4\n")
    resume = tmp_path / "old.csv"
    resume.write_text("row,status\n0,ok\n1,ok\n2,ok\n3,not_sent\n")
    events: list[es_pandas.ProgressEvent] = []
    es_pandas.produce_file(
        path, "single", url=es.url, api_key=API_KEY, resume=str(resume), progress=events.append
    )
    assert events[-1].finished
    assert events[-1].total == 1 and all(event.done <= 1 for event in events)
    assert events[-1].done == 1 and events[-1].counts["ok"] == 4


def test_resume_keeps_the_timestamps_of_every_carried_row(es, tmp_path) -> None:
    """A status file written before es_pandas wrote every timestamp to the millisecond:
    a chunk of whole seconds, then one with milliseconds. Read by the first value's
    shape, the second chunk's timestamps were dropped."""
    path = tmp_path / "rows.csv"
    path.write_text("k,v\na,1\nb,2\nc,3\n")
    resume = tmp_path / "old.csv"
    resume.write_text(
        "row,status,timestamp\n"
        "0,ok,2025-12-06 22:19:51+00:00\n"
        "1,ok,2025-12-06 22:19:52.049+00:00\n"
        "2,ok,2025-12-06 22:19:53.000120+00:00\n"
    )
    status_out = tmp_path / "new.csv"
    es_pandas.produce_file(
        path, "single", url=es.url, api_key=API_KEY, resume=str(resume), status_out=str(status_out)
    )
    assert pd.read_csv(status_out)["timestamp"].tolist() == [
        "2025-12-06 22:19:51.000000+00:00",
        "2025-12-06 22:19:52.049000+00:00",
        "2025-12-06 22:19:53.000120+00:00",
    ]


def test_a_status_file_whose_maybe_duplicate_is_not_a_bool_is_refused(es, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("k,v\na,1\n")
    resume = tmp_path / "old.csv"
    resume.write_text("row,status,maybe_duplicate\n0,failed,perhaps\n")
    with pytest.raises(es_pandas.ConfigurationError, match="cannot read the status file"):
        es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, resume=str(resume))


@pytest.mark.parametrize(
    ("start", "ending", "sep"),
    [(b"", b"\r\n", ";"), (codecs.BOM_UTF8, b"\n", ","), (b"", b"\r", "\t")],
)
def test_excels_sep_line_names_the_separator_and_is_no_row(
    es, tmp_path, start, ending, sep
) -> None:
    """Excel reads a first line ``sep=;`` as the file's separator: its header was taken
    for the header (one column, 'sep=;'), and with --sep ';' the lines had "more fields
    than its header"."""
    lines = [f"sep={sep}", "id;city;n", "k1;Köln;15", '"k2";"Berlin\nMitte";2', "k3;Bonn"]
    text = "\n".join(lines).replace(";", sep) + "\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(start + text.encode("cp1252").replace(b"\n", ending))
    topic = f"excel-sep-{len(start)}-{len(ending)}"
    es.create_topic(topic, 1)
    options = {"url": es.url, "api_key": API_KEY, "key_col": "id", "encoding": "cp1252"}
    if start:
        options["encoding"] = "utf-8"
        path.write_bytes(start + text.encode().replace(b"\n", ending))
    status_out = tmp_path / "status.csv"

    summary = es_pandas.produce_file(path, topic, status_out=str(status_out), **options)

    assert summary.total == 3
    assert load(es, topic) == {
        "k1": {"city": "Köln", "n": "15"},
        "k2": {"city": "Berlin" + ending.decode() + "Mitte", "n": "2"},
    }
    errors = pd.read_csv(status_out, keep_default_na=False)["error"].tolist()
    assert errors[2] == "line 6 has 2 of the header's 3 fields; column 'n' is missing"
    # the separator it names, or the same one given
    es_pandas.produce_file(path, topic, sep=sep, dry_run=True, **options)
    other = "," if sep != "," else ";"
    with pytest.raises(
        es_pandas.ConfigurationError,
        match=rf"^excel\.csv: its first line, {re.escape(repr('sep=' + sep))}, names its "
        rf"separator as Excel reads it, {re.escape(repr(sep))}, but sep={re.escape(repr(other))}",
    ):
        es_pandas.produce_file(path, topic, sep=other, **options)


def test_lines_with_a_field_more_than_the_header_stop_the_load(es, env, tmp_path) -> None:
    # pandas would take the first column as the index: every value one column off
    path = tmp_path / "trailing.csv"
    path.write_text("id,city\n1,Paris,\n2,Rome,\n")
    es.reset_stats()

    result = run("produce", str(path), "--topic", "single", "--key-col", "id", env=env)

    assert result.returncode == 2, result.stderr
    assert "trailing.csv: its lines have more fields than its header" in result.stderr
    assert "nothing was sent" in result.stderr and "--sep" in result.stderr
    assert es.stats().get("requests", 0) == 0


def test_rows_fixed_after_a_load_are_sent_by_resume(es, env, tmp_path) -> None:
    path = tmp_path / "keys.csv"
    path.write_text("id,v\na,1\n,2\nc,3\n,4\n")
    status_out = tmp_path / "status.csv"
    args = ["--topic", "single", "--key-col", "id", "--na-values", ""]
    args += ["--status-out", str(status_out)]
    assert run("produce", str(path), *args, env=env).returncode == 1
    path.write_text("id,v\na,1\nb,2\nc,3\nd,4\n")  # the two empty keys filled in
    es.reset_stats()

    result = run("produce", str(path), *args, "--resume", str(status_out), env=env)

    assert result.returncode == 0, result.stderr
    assert es.stats()["200"] == 2  # the two fixed rows (besides the v2 route check)
    assert (pd.read_csv(status_out)["status"] == "ok").all()


@pytest.mark.parametrize(
    ("name", "text"),
    [("mac.csv", "id;v\ra;1\rb;\rc;3\r"), ("excel.csv", "sep=;\nid;v\na;1\nb;\nc;3\n")],
)
def test_a_load_of_an_excel_export_resumes(es, tmp_path, name, text) -> None:
    """Its rows are counted as read: a Mac export's lines end in \\r alone, and had
    "0 rows", so --resume refused its status file as another file's."""
    path = tmp_path / name
    path.write_text(text, newline="")
    status_out = tmp_path / "status.csv"
    options = {"url": es.url, "api_key": API_KEY, "sep": ";", "dtype": {"v": "int"}}
    first = es_pandas.produce_file(path, "single", status_out=str(status_out), **options)
    assert first.counts["rejected"] == 1
    path.write_text(text.replace("b;", "b;2"), newline="")
    es.reset_stats()

    summary = es_pandas.produce_file(
        path, "single", status_out=str(status_out), resume=str(status_out), **options
    )

    assert summary.total == 3 and summary.counts["ok"] == 3
    assert es.stats()["200"] == 1  # the fixed row (besides the v2 route check)


def test_messages_naming_both_spellings_keep_the_command_lines() -> None:
    from es_pandas._cli._options import cli_words

    assert cli_words("load it again with resume= (--resume) that file") == (
        "load it again with --resume that file"
    )
    assert cli_words("with resume='s.csv' (--resume s.csv), or") == "with --resume s.csv, or"
    assert cli_words("pass encoding= the file's") == "pass --encoding the file's"


def test_the_cli_names_its_flags_but_never_rewrites_the_files_names(es, env, tmp_path) -> None:
    """Columns named as options are written as the file has them: the header was
    shown as ['order_id', '--record-id', '--encoding x']."""
    path = tmp_path / "orders.csv"
    path.write_text("order_id,record_id,encoding=x\n1,2,3\n")

    result = run("produce", str(path), "--topic", "single", "--key-col", "id", env=env)

    assert result.returncode == 2, result.stderr
    assert (
        "Error: --key-col: no column named 'id'; columns: ['order_id', 'record_id', 'encoding=x']"
    ) in result.stderr
    from es_pandas._cli._options import cli_words

    assert cli_words("column 'key_col': 'sep=;' is not an int; na_values= makes it null") == (
        "column 'key_col': 'sep=;' is not an int; --na-values makes it null"
    )
    assert cli_words("column \"it's key_col\" is not sep='x'") == (
        "column \"it's key_col\" is not --sep 'x'"
    )


def test_an_empty_file_or_an_undecodable_header_is_refused_naming_the_file(
    es, env, tmp_path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header = tmp_path / "header.csv"
    header.write_bytes(b"id,n\xeb\n1,2\n")  # Latin-1 in the header itself
    es.reset_stats()

    nothing = run("produce", str(empty), "--topic", "single", env=env)
    unreadable = run("produce", str(header), "--topic", "single", env=env)

    assert nothing.returncode == 2, nothing.stderr
    assert "Error: empty.csv: it is empty, without even a header line" in nothing.stderr
    assert len(nothing.stderr.splitlines()) == 1, nothing.stderr
    assert unreadable.returncode == 2
    assert "header.csv: cannot read line 1" in unreadable.stderr
    assert "--encoding" in unreadable.stderr and "nothing was sent" in unreadable.stderr
    assert es.stats().get("requests", 0) == 0


@pytest.mark.parametrize("source", ["file", "gzip", "stdin"])
def test_a_header_that_repeats_a_name_or_leaves_one_empty_is_refused(
    es, env, tmp_path, source
) -> None:
    """pandas renamed them: the row landed as {"a":"1","a.2":"2","Unnamed: 3":"3",
    "a.1":"4"}, fields the file does not have. Its header here is longer than one read
    of it (64 KiB)."""
    more = [f"c{i}" for i in range(12_000)]
    header = ",".join(["k", "a", "a", "", "a.1", *more])
    text = f"{header}\n" + ",".join(["x", "1", "2", "3", "4", *more]) + "\n"
    path = tmp_path / ("named.csv.gz" if source == "gzip" else "named.csv")
    path.write_bytes(gzip.compress(text.encode()) if source == "gzip" else text.encode())
    es.reset_stats()

    result = run(
        "produce",
        "-" if source == "stdin" else str(path),
        "--topic",
        "single",
        "--key-col",
        "k",
        env=env,
        stdin=text.encode() if source == "stdin" else None,
    )

    assert result.returncode == 2, result.stderr
    name = "stdin" if source == "stdin" else path.name
    assert (
        f"Error: {name}: its header has 'a' at columns 2 and 3, and no name at column 4: "
        "each column needs a name of its own"
    ) in result.stderr
    assert "nothing was sent" in result.stderr
    assert es.stats().get("requests", 0) == 0


def test_a_header_is_read_with_the_files_separator_encoding_and_quotes(es, tmp_path) -> None:
    options = {"url": es.url, "api_key": API_KEY, "key_col": "k", "sep": ";"}
    repeated = tmp_path / "repeated.csv"
    repeated.write_bytes('k;"Größe;cm";"Größe;cm";""\nx;1;2;3\n'.encode("latin-1"))
    distinct = tmp_path / "distinct.csv"
    distinct.write_bytes('k;a;a.1;"a;1";"Größe\ncm"\nx;1;2;3;4\n'.encode("latin-1"))
    es.create_topic("distinct-names", 1)

    with pytest.raises(
        es_pandas.ConfigurationError,
        match=r"^repeated\.csv: its header has 'Größe;cm' at columns 2 and 3: ",
    ):
        es_pandas.produce_file(repeated, "single", encoding="latin-1", **options)
    es_pandas.produce_file(distinct, "distinct-names", encoding="latin-1", **options)

    assert load(es, "distinct-names") == {"x": {"a": "1", "a.1": "2", "a;1": "3", "Größe\ncm": "4"}}


def test_excels_trailing_separators_are_columns_without_a_name_that_no_row_fills(
    es, tmp_path
) -> None:
    """A sheet formatted past its data exports id;name;; with every row: it was refused
    ("no name at columns 3 and 4") with no option to read it."""
    path = tmp_path / "trailing.csv"
    path.write_text("id;name;;\n1;Anna;;\n2;Bert;x;\n3;Cem;;\n")
    es.create_topic("trailing", 1)
    status_out = tmp_path / "status.csv"
    options = {"key_col": "id", "sep": ";", "progress": False, "status_out": str(status_out)}
    summary = es_pandas.produce_file(path, "trailing", url=es.url, api_key=API_KEY, **options)
    assert summary.counts["ok"] == 2 and summary.counts["rejected"] == 1
    assert load(es, "trailing") == {"1": {"name": "Anna"}, "3": {"name": "Cem"}}
    assert pd.read_csv(status_out)["error"].tolist()[1] == (
        "a value in column 3, which has no name in the header: no field to send it as"
    )


@pytest.mark.parametrize(
    ("name", "text"), [("empty.csv", ""), ("empty.tsv", ""), ("blank.csv", "\n\n")]
)
def test_a_csv_or_tsv_without_even_a_header_line_is_refused(es, tmp_path, name, text) -> None:
    # more likely an export that failed than a table of no rows, which has its header
    path = tmp_path / name
    path.write_text(text)
    es.reset_stats()
    with pytest.raises(es_pandas.ConfigurationError, match=rf"^{name}: it is empty, without"):
        es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, key_col="k")
    assert es.stats().get("requests", 0) == 0


def test_a_dry_run_given_a_callable_sends_nothing_and_says_so(es, tmp_path) -> None:
    """Its summary counts the requests that would go out as ok (as documented), but
    never reads as rows sent."""
    path = tmp_path / "orders.csv"
    path.write_text("id,amount\n1,9.5\n2,3\n3,\n")
    es.create_topic("planned", 1)
    es.reset_stats()
    plans: list[pd.DataFrame] = []
    summary = es_pandas.produce_file(
        path,
        "planned",
        key_col="id",
        url=es.url,
        api_key=API_KEY,
        chunksize=2,
        dry_run=plans.append,
    )
    assert [len(plan) for plan in plans] == [2, 1]
    assert es.stats().get("received", 0) == 0 and es.read("planned") == []
    assert isinstance(summary, es_pandas.Summary)
    assert summary.counts["ok"] == 3 and summary.sent == 0 and summary.rate is None
    assert str(summary) == "dry run: 3 requests, 0 rows rejected"
    assert "sent in" not in summary.table() and "sent in" not in summary._repr_html_()


def test_a_header_alone_and_an_empty_json_lines_file_are_loads_of_no_rows(es, tmp_path) -> None:
    header, jsonl = tmp_path / "header.csv", tmp_path / "empty.jsonl"
    header.write_text("k,v\n")
    jsonl.write_text("")  # one record a line: no line, no record
    for path in (header, jsonl):
        summary = es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY)
        assert summary.total == 0


def test_stdin_is_refused_empty_as_csv_and_taken_empty_as_json_lines(es, env) -> None:
    csv = run("produce", "-", "--topic", "single", env=env, stdin=b"")
    jsonl = run("produce", "-", "--topic", "single", "--format", "jsonl", env=env, stdin=b"")

    assert csv.returncode == 2, csv.stderr
    assert "Error: stdin: it is empty, without even a header line" in csv.stderr
    assert jsonl.returncode == 0, jsonl.stderr
    assert "0 rows" in jsonl.stderr


def test_a_fifo_is_read_as_it_comes_not_counted_first(es, tmp_path) -> None:
    # counting its lines first used it up (and its seek failed): 'Illegal seek'
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=("k,v\n1,a\n2,b\n",), daemon=True)
    writer.start()
    es.reset_stats()
    summary = es_pandas.produce_file(fifo, "single", url=es.url, api_key=API_KEY, key_col="k")
    writer.join()
    assert summary.total == summary.counts["ok"] == 2
    assert es.stats()["200"] == 2


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("quoted.csv", 'k,v\na,1\nb,"2\nx"\nc,3\n'),  # 5 lines, 3 rows
        ("-", "k,v\na,1\nb,2\nc,3\n"),
        ("-", '{"k":"a"}\n\n{"k":"b"}\n{"k":"c"}\n'),
    ],
)
def test_a_load_that_stops_after_the_last_row_says_none_went_unread(
    es, env, tmp_path, name, text
) -> None:
    """It said "stopped after 3 of 3 rows; the file's rows from 3 on were not read"
    when it could not count the file's rows (stdin), or counted lines (a quoted field
    over two, a blank line)."""
    path = tmp_path / name
    if name != "-":
        path.write_text(text)
    format = ["--format", "jsonl"] if text.startswith("{") else []
    result = run(
        "produce",
        name if name == "-" else str(path),
        "--topic",
        "no-such-topic",
        *format,
        env=env,
        stdin=text.encode() if name == "-" else None,
    )
    assert result.returncode == 2, result.stderr
    assert "stopped after 3 of 3 rows" in result.stderr
    assert "not read" not in result.stderr


def _zipped(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_a_compressed_file_lands_as_its_text_does(es, tmp_path, suffix) -> None:
    text = write_csv(tmp_path / "plain.csv", TRICKY).read_bytes()
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
    path = tmp_path / f"tricky.csv{suffix}"
    if suffix == ".zip":
        _zipped(path, {"tricky.csv": text})
    else:
        path.write_bytes(compress[suffix](text))
    topic = f"compressed{suffix.replace('.', '-')}"
    es.create_topic(topic, 1)

    summary = es_pandas.produce_file(path, topic, url=es.url, api_key=API_KEY, key_col="id")

    assert summary.counts["ok"] == len(TRICKY)
    stored = load(es, topic)
    for row in TRICKY:
        assert stored[row[0]] == dict(zip(HEADER[1:], row[1:], strict=True))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a.csv": b"k\n1\n", "b.csv": b"k\n2\n"}, "holds one file; this one holds 2"),
        ({}, "holds one file; this one holds 0"),
        (None, r"cannot be read as a \.zip archive \(File is not a zip file\)"),
    ],
)
def test_a_zip_archive_is_read_when_it_holds_one_file(es, tmp_path, members, message) -> None:
    path = tmp_path / "orders.csv.zip"
    if members is None:
        path.write_bytes(b"k\n1\n")
    else:
        _zipped(path, members)
    es.reset_stats()
    with pytest.raises(es_pandas.ConfigurationError, match=rf"^orders\.csv\.zip: .*{message}"):
        es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, key_col="k")
    assert es.stats().get("requests", 0) == 0


# -- records with fewer fields than the header ----------------------------------------

# pandas pads a record short of fields with empty strings, which are not in the file: its
# row is rejected. An empty field written as one (k1, k3) is a value. k6 is the last line
# of a download cut short, without its line break.
SHORT = 'id,a,b\nk1,,3\nk2\nk3,é,\n\nk4,5\nk5,"x,\ny",7\nk6,8'
SHORT_ERRORS = {
    1: "line 3 has 1 of the header's 3 fields; columns 'a' and 'b' are missing",
    3: "line 6 has 2 of the header's 3 fields; column 'b' is missing",
    5: "line 9 has 2 of the header's 3 fields; column 'b' is missing",
}


def _short_file(tmp_path: Path, source: str) -> tuple[str, bytes | None, list[str], str]:
    """SHORT as ``source`` holds it: what to load, stdin's bytes, the options, and k5's
    value of ``a`` (a quoted separator and line break)."""
    sep = "\t" if source == "tsv" else ","
    newline = "\r\n" if source == "crlf" else "\n"
    text = SHORT.replace(",", sep).replace("\n", newline)
    quoted = f"x{sep}{newline}y"
    if source == "stdin":
        return "-", text.encode(), [], quoted
    name = "short.tsv" if source == "tsv" else "short.csv.gz" if source == "gzip" else "short.csv"
    data = text.encode("cp1252" if source == "cp1252" else "utf-8")
    options = ["--encoding", "cp1252"] if source == "cp1252" else []
    if source == "bom":
        data = codecs.BOM_UTF8 + data
    elif source == "gzip":
        data = gzip.compress(data)
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name), None, options, quoted


@pytest.mark.parametrize("source", ["csv", "tsv", "cp1252", "gzip", "crlf", "bom", "stdin"])
def test_a_row_short_of_the_headers_fields_is_rejected_naming_its_line(
    es, env, tmp_path, source
) -> None:
    path, stdin, options, quoted = _short_file(tmp_path, source)
    topic = f"short-{source}"
    es.create_topic(topic, 1)
    status_out, dead = tmp_path / "status.csv", tmp_path / "dead.jsonl"
    args = ["--topic", topic, "--key-col", "id", "--chunksize", "2", *options]
    args += ["--status-out", str(status_out), "--dead-letter", str(dead)]

    result = run("produce", path, *args, env=env, stdin=stdin)

    assert result.returncode == 1, result.stderr
    assert load(es, topic) == {
        "k1": {"a": "", "b": "3"},
        "k3": {"a": "é", "b": ""},
        "k5": {"a": quoted, "b": "7"},
    }
    status = pd.read_csv(status_out, keep_default_na=False).set_index("row")
    assert status["status"].tolist() == ["ok", "rejected", "ok", "rejected", "ok", "rejected"]
    assert status["error"][status["status"] == "rejected"].to_dict() == SHORT_ERRORS
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(letter["id"], letter["error"]) for letter in letters] == [
        ("k2", SHORT_ERRORS[1]),
        ("k4", SHORT_ERRORS[3]),
        ("k6", SHORT_ERRORS[5]),
    ]
    # the summary counts the rows short of one field as one reason
    assert "2 rejected: line … has 2 of the header's 3 fields; column 'b' is missing" in (
        result.stderr
    )


def _short_rows(data: bytes, chunk_rows: int, sep: str = ",") -> dict[int, str]:
    """The rows es_pandas finds short of fields in ``data`` as a CSV file, by row, with
    why; checked against pandas' own tokenizer (:func:`_short_by_pandas`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "rows.csv")
        path.write_bytes(data)
        frames = list(read_frames(str(path), ReadOptions("csv", sep=sep), chunk_rows, path.name))
    short, offset = {}, 0
    for frame, problems in frames:
        short |= {offset + position: why for position, why in problems.items()}
        offset += len(frame)
    if frames:
        rows = pd.concat([frame for frame, _ in frames], ignore_index=True)
        # rows short of fields (not those of a quoted field with text after it)
        counts = {
            row: re.fullmatch(r"line [\d,]+ has (\d+) of the header's .*", why)
            for row, why in short.items()
        }
        fields = {row: int(count[1]) for row, count in counts.items() if count}
        for most in range(1, len(rows.columns)):
            ours = [tuple(rows.iloc[row, :most]) for row, count in fields.items() if count <= most]
            assert ours == _short_by_pandas(data, sep, most), (data, most)
    return short


def _short_by_pandas(data: bytes, sep: str, most: int) -> list[tuple[str, ...]]:
    """The records of ``data`` that have at most ``most`` fields, in order, padded to as
    many, as pandas' tokenizer tells them: after a first line and a row of ``most``
    fields, it skips every record with more (the header too)."""
    first = sep.join(map(str, range(most))).encode() + b"\n"
    # a byte order mark is the file's first bytes, or another field's
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    frame = pd.read_csv(
        io.BytesIO(bom + first + first + data.removeprefix(bom)),
        sep=sep,
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
    )
    return [tuple(row) for row in frame.iloc[1:].itertuples(index=False)]


@pytest.mark.parametrize("chunk_rows", [1, 1000])
@pytest.mark.parametrize(
    ("text", "short"),
    [
        # a record starts on its first line; a quoted line break is one of a field
        ('a,b,c\n"x\ny",1\n2,3,4\n', {0: (2, 2, "column 'c' is")}),
        ('a,b,c\n"1,""\n",2,3\n"4\n\n5"\n', {1: (4, 1, "columns 'b' and 'c' are")}),
        ("a,b,c\r\n1,2\r\n3,4,5\r\n", {0: (2, 2, "column 'c' is")}),
        ("a,b,c\r1,2\r3,4,5\r", {0: (2, 2, "column 'c' is")}),  # lines of a lone \r
        ("a,b,c\n1,2,3\n4,5", {1: (3, 2, "column 'c' is")}),  # no line break at the end
        ('\ufeff"a\nx",b,c\n1,2\n', {0: (3, 2, "column 'c' is")}),  # a byte order mark
        ("a,b,c\n\n1\n  \n\t\n2,3,4\n\n \n", {0: (3, 1, "columns 'b' and 'c' are")}),
        ("\n\na,b\n1\n", {0: (4, 1, "column 'b' is")}),  # blank lines before the header
        ('a,b\n"  "\n', {0: (2, 1, "column 'b' is")}),  # quoted spaces are a field
        ("a,b,c\n", {}),  # a header alone
        ("a,b,c", {}),
        ('a\n1\n\n""\n  \n', {}),  # one column: no row is short
        ('a,b\n"' + "x" * 200_000 + '",1\n2\n', {1: (3, 1, "column 'b' is")}),  # over 128 KiB
    ],
)
def test_records_are_told_apart_and_counted_as_pandas_does(text, short, chunk_rows) -> None:
    limit = csv.field_size_limit()
    found = _short_rows(text.encode(), chunk_rows)
    width = 2 if text.startswith(("\n", 'a,b\n"')) else 3
    assert found == {
        row: f"line {line} has {fields} of the header's {width} fields; {missing} missing"
        for row, (line, fields, missing) in short.items()
    }
    assert csv.field_size_limit() == limit  # the process's, put back


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 4),
    sep=st.sampled_from([",", "\t", ";", " "]),
    pieces=st.lists(
        st.sampled_from(["a", "é", "S", '"', '""', "\n", "\r\n", " ", "\t", "\x00"]),
        max_size=40,
    ),
    chunk_rows=st.integers(1, 4),
)
def test_short_rows_are_those_pandas_tokenizer_finds(width, sep, pieces, chunk_rows) -> None:
    """Any text of fields, quotes, line breaks and blanks: pandas may refuse it (a
    quote never closed, a line of more fields than the header), else each row the
    count finds short is one pandas' tokenizer finds short by as many fields; and a row
    is rejected for text after a closing quote only where the csv module, strict,
    refuses the file, and one is if it does (of more than one column)."""
    header = sep.join(f"h{i}" for i in range(width)) + "\n"
    data = (header + "".join(pieces).replace("S", sep)).encode()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            pd.read_csv(
                io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False, index_col=False
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        return
    found = _short_rows(data, chunk_rows, sep)
    text = io.StringIO(data.decode(), newline="")
    try:
        for _ in csv.reader(text, delimiter=sep, strict=True):
            pass
    except csv.Error:
        strict = False
    else:
        strict = True
    # a row short of fields is rejected as such, whatever its quotes; a file of one
    # column has no fields to count, and is not read for quotes either
    quotes = any("follows the closing quote" in why for why in found.values())
    assert bool(found) if width > 1 and not strict else not quotes, found


def test_records_split_between_two_of_pandas_reads_are_counted_whole(es, tmp_path) -> None:
    """pandas reads 256 KiB at a time, and a chunk of rows can end with a read: a
    \\r\\n, a character of two bytes and a quoted line break each split between two
    reads, right after a chunk's last row, a short row on each."""
    block, chunk = 1 << 18, 500
    rows = ["id,a,b\r\n"]

    def at(offset: int, row: str, split: int) -> None:
        """Filler rows to the next whole chunk, then ``row``, its character ``split`` at
        byte ``offset``."""
        filled = sum(len(r.encode()) for r in rows)
        gap = offset - filled - len(row[:split].encode())
        count = chunk * (gap // (chunk * 30) + 1) - (len(rows) - 1) % chunk
        for number in range(count):
            size = gap // count + (number < gap % count) - len("f000000,,y\r\n")
            rows.append(f"f{len(rows):06d},{'x' * size},y\r\n")
        rows.append(row)

    at(block - 1, "s1,1\r\n", 4)  # \r the last byte of a read, \n the first of the next
    at(2 * block - 1, "é2,1\r\n", 0)  # é's two bytes in two reads
    at(3 * block - 1, 'q,"x\r\ny",z\r\n', 4)  # the quoted \r\n in two
    rows.append("s3\r\n")
    data = "".join(rows).encode()
    assert [data.index(mark.encode()) for mark in ("s1,1\r", "é2", 'q,"x\r')] == [
        block - 5,
        2 * block - 1,
        3 * block - 5,
    ]
    assert [rows.index(row) % chunk for row in ("s1,1\r\n", "é2,1\r\n")] == [1, 1]
    path = tmp_path / "blocks.csv"
    path.write_bytes(data)

    # planned, not sent: 25,000 rows would take the local server seconds
    plan = es_pandas.produce_file(
        path, "blocks", url=es.url, api_key=API_KEY, key_col="id", chunksize=chunk, dry_run=True
    )

    line = {row.split(",")[0].strip(): number for number, row in enumerate(rows, start=1)}
    assert plan["error"].dropna().tolist() == [
        f"line {line['s1']:,} has 2 of the header's 3 fields; column 'b' is missing",
        f"line {line['é2']:,} has 2 of the header's 3 fields; column 'b' is missing",
        # q's quoted line break is a line of the file
        f"line {line['s3'] + 1:,} has 1 of the header's 3 fields; columns 'a' and 'b' are missing",
    ]
    assert len(plan) == len(rows) - 1 and plan["error"].isna().sum() == len(rows) - 4
    q = json.loads(plan["body"].iloc[-2])
    assert (q["key"]["data"], json.loads(q["value"]["data"])) == ("q", {"a": "x\r\ny", "b": "z"})


# -- quoted fields with text after their closing quote -------------------------------

QUOTE_TIP = 'in CSV a quote in a value is written doubled, in a quoted field ("12"" ruler")'


@pytest.mark.parametrize("chunk_rows", [1, 1000])
@pytest.mark.parametrize(
    ("text", "sep", "rejected"),
    [
        ('a,b\n1,"x"y\n2,z\n', ",", {0: "line 2, column 'b': 'y' follows"}),
        ('a\tb\n1\t"x" y\n', "\t", {0: "line 2, column 'b': ' y' follows"}),
        ('a,b,c\n"x" ,1,2\n', ",", {0: "line 2, column 'a': ' ' follows"}),
        # a quote that opens a field closes lines later: the lines between are one row
        (
            'a\tb\n1\t"ab\n2\tcd\n3\tef"g\n4\th\n',
            "\t",
            {
                0: "line 2, column 'b': 'g' follows the closing quote of its quoted field on "
                "line 4, which CSV reads as more of the value, without the quotes, and lines "
                "2 to 4 as this one row"
            },
        ),
        ('a,b\n1,"x"y\n2\n', ",", {0: "line 2, column 'b'", 1: "line 3 has 1 of"}),
        # quoted as CSV quotes: no text after a closing quote
        ('a,b\n1,"x""y"\n2,"p,\nq"\r\n3,"z"\r\n', ",", {}),
        ('a,b\n1,x"y"z\n2,"""q"""\n', ",", {}),  # a quote inside an unquoted field is text
    ],
)
def test_a_quoted_field_with_text_after_its_closing_quote_rejects_its_row(
    text, sep, rejected, chunk_rows
) -> None:
    """pandas adds what follows a closing quote to the value, without the quotes: '"x"y'
    was sent as 'xy', and a quote opening a field of a file whose quotes are not CSV's
    joined the lines up to the next quote into one row, each of them lost, all ok."""
    found = _short_rows(text.encode(), chunk_rows, sep)
    assert found.keys() == rejected.keys()
    for row, start in rejected.items():
        assert found[row].startswith(start), found[row]
        if "follows" in start:
            assert found[row].endswith(QUOTE_TIP)


def test_a_tsv_file_whose_quotes_are_text_loses_no_row_without_a_word(es, env, tmp_path) -> None:
    """A TSV export that does not quote (PostgreSQL's, MySQL's) with a value opening with
    a quote: lines 2 to 4 went as one row, 'abc\\n2\\tdef\\n3\\tghix', and the load said 2
    rows ok."""
    path = tmp_path / "export.tsv"
    path.write_text('id\tv\n1\t"abc\n2\tdef\n3\tghi"x\n4\tlast\n')
    es.create_topic("tsv-quotes", 1)
    status_out = tmp_path / "status.csv"
    args = ["--topic", "tsv-quotes", "--key-col", "id", "--status-out", str(status_out)]
    result = run("produce", str(path), *args, env=env)
    assert result.returncode == 1, result.stderr
    assert load(es, "tsv-quotes") == {"4": {"v": "last"}}
    [error] = pd.read_csv(status_out)["error"].dropna().tolist()
    assert error.startswith("line 2, column 'v': 'x' follows the closing quote of its quoted")
    assert "lines 2 to 4 as this one row" in error


def test_spaces_pandas_loses_at_the_end_of_a_read_do_not_stop_the_load() -> None:
    """pandas drops the spaces that start a line when they end one of its 256 KiB reads
    ("  k" is read " k": its own loss, left as it was); the records are told apart all
    the same, and the short row after it is found."""
    rows = ["id,a,b\n"]
    while (size := sum(map(len, rows))) < (1 << 18) - 40:
        rows.append(f"f{len(rows):06d},{'x' * 10},y\n")
    rows.append(f"g,{'x' * ((1 << 18) - 1 - size - 5)},y\n")
    data = ("".join(rows) + "  k,1,2\nshort,1\n").encode()
    assert data.index(b"  k") == (1 << 18) - 1

    assert _short_rows(data, 100_000) == {
        len(rows): f"line {len(rows) + 2:,} has 2 of the header's 3 fields; column 'b' is missing"
    }


def test_a_short_row_neither_types_the_file_nor_is_blamed_on_a_type(es, tmp_path) -> None:
    """Its padding is not in the file: an int column whose short row's "" is no int
    stays an int column, and the row is rejected as short, not as '' is not an int."""
    path = tmp_path / "typed.csv"
    path.write_text("id,n,m\nk1,1,2\nk2,3\nk3,4,5\n")
    options = {"url": es.url, "api_key": API_KEY, "key_col": "id", "errors": "raise"}
    for topic, typed in (
        ("inferred-short", {"infer_types": True}),
        ("typed-short", {"dtype": {"m": "int"}}),
    ):
        es.create_topic(topic, 1)
        with pytest.raises(es_pandas.ProduceError) as raised:
            es_pandas.produce_file(path, topic, **typed, **options)
        assert raised.value.status["error"].dropna().to_dict() == {
            1: "line 3 has 2 of the header's 3 fields; column 'm' is missing"
        }
    assert load(es, "inferred-short") == {"k1": {"n": 1, "m": 2}, "k3": {"n": 4, "m": 5}}
    assert load(es, "typed-short") == {"k1": {"n": "1", "m": 2}, "k3": {"n": "4", "m": 5}}


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"id,a,b\rk1,1,2\r\r,,3\rk3,4,5\r", 4),
        # a separator more than the header's, which pandas drops: as many as two lines hold
        (b"id,a\r\r,,\rk3,4\r", 3),
    ],
)
def test_a_line_pandas_would_read_a_column_off_stops_the_load(es, tmp_path, data, line) -> None:
    """pandas drops a separator that starts the line after a blank one ended by a lone
    \\r (old Mac line ends): ",,3" landed as {"a": "3", "b": ""}, its fields moved."""
    path = tmp_path / "mac.csv"
    path.write_bytes(data)
    es.reset_stats()
    with pytest.raises(
        es_pandas.ConfigurationError,
        match=rf"^mac\.csv: line {line}: it starts with a separator, after a blank line that "
        r"ends in a lone \\r, and pandas would drop that separator, .*; end the file's lines "
        r"in \\n or \\r\\n; nothing was sent$",
    ):
        es_pandas.produce_file(path, "single", url=es.url, api_key=API_KEY, key_col="id")
    assert es.stats().get("requests", 0) == 0


def test_paths_starting_with_a_tilde_are_in_the_home_folder(es, pki, tmp_path, monkeypatch) -> None:
    """As pandas' readers and writers take them; "~/rows.csv" was looked for in a folder
    named "~" (and a CA bundle given so in ES_PANDAS_CA_BUNDLE was not found)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "rows.csv").write_text("k,v\na,1\nb,x\n")
    es.create_topic("tilde", 1)
    summary = es_pandas.produce_file(
        "~/rows.csv",
        "tilde",
        url=es.url,
        api_key=API_KEY,
        dtype={"v": "int"},
        status_out="~/status.csv",
        dead_letter="~/dead.jsonl",
        progress=False,
    )
    assert summary.counts["ok"] == 1 and summary.counts["rejected"] == 1
    assert len(pd.read_csv(tmp_path / "status.csv")) == 2
    assert (tmp_path / "dead.jsonl").exists()
    shutil.copy(pki.ca_pem, tmp_path / "es-cert.pem")
    shutil.copy(pki.client_pem, tmp_path / "user.pem")
    monkeypatch.setenv("ES_PANDAS_CA_BUNDLE", "~/es-cert.pem")
    transport = es_pandas.Producer(es.url, cert="~/user.pem").settings.transport
    assert transport.verify == str(tmp_path / "es-cert.pem")
    assert transport.cert == str(tmp_path / "user.pem")
