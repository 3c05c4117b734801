"""``es-pandas produce`` and ``es-pandas demo`` end to end, through a subprocess."""

from __future__ import annotations

import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner, Result

import es_pandas
from es_pandas._accessor import EventStreamsAccessor
from es_pandas._cli._options import cli_words
from es_pandas._cli._produce import produce
from es_pandas._options import OPTIONS

from .conftest import (
    API_KEY,
    cli_commands,
    free_port,
    help_examples,
    run,
    start,
    wait_for_answers,
)


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"id-{i}" for i in range(rows)],
            "n": pd.array([i if i % 7 else None for i in range(rows)], dtype="Int64"),
            "text": [f"row {i} ü" for i in range(rows)],
            "price": [i / 3 for i in range(rows)],
        }
    )


def write(data: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        data.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        data.to_csv(path, index=False, sep="\t")
    elif path.suffix == ".jsonl":
        # json, not DataFrame.to_json, which rounds floats to 10 digits
        rows = data.astype(object).where(data.notna(), None).to_dict("records")
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        data.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_streams_in_chunks(es, env, tmp_path, suffix: str) -> None:
    data = frame(250)
    path = write(data, tmp_path / f"rows{suffix}")
    topic = f"format-{suffix[1:]}"
    es.create_topic(topic, 3)
    status_out = tmp_path / "status.csv"
    result = run(
        "produce",
        str(path),
        "--topic",
        topic,
        "--key-col",
        "id",
        "--chunksize",
        "64",
        "--status-out",
        str(status_out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert API_KEY not in result.stdout + result.stderr
    assert "250 rows" in result.stderr
    records = es.read(topic)
    assert len(records) == 250
    values = {r.key.decode(): json.loads(r.value) for r in records}
    if suffix in (".csv", ".tsv"):
        # text, exactly as the file holds it (test_file_reading has the rest)
        assert values["id-7"] == {"n": "", "text": "row 7 ü", "price": str(7 / 3)}
        assert values["id-8"]["n"] == "8"
    else:
        assert values["id-7"] == {"n": None, "text": "row 7 ü", "price": 7 / 3}
        assert values["id-8"]["n"] == 8
    status = pd.read_csv(status_out)
    assert status["row"].tolist() == list(range(250))
    assert (status["status"] == "ok").all()
    # each row's timestamp as Kafka keeps it, to the millisecond in every chunk
    stamps = status["timestamp"]
    assert stamps.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+00:00").all()
    stored = {(r.partition, r.offset): r.timestamp for r in records}
    at = zip(status["partition"], status["offset"], strict=True)
    milliseconds = (pd.to_datetime(stamps) - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1ms")
    assert [stored[where] for where in at] == milliseconds.tolist()


def test_stdin(es, env) -> None:
    csv = frame(5).to_csv(index=False).encode()
    result = run("produce", "-", "--topic", "single", stdin=csv, env=env)
    assert result.returncode == 0, result.stderr
    assert "5 rows" in result.stderr


def test_parquet_status_out(es, env, tmp_path) -> None:
    path = write(frame(30), tmp_path / "rows.csv")
    result = run(
        "produce",
        str(path),
        "--topic",
        "single",
        "--status-out",
        str(tmp_path / "status.parquet"),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    status = pd.read_parquet(tmp_path / "status.parquet")
    assert len(status) == 30 and set(status["status"]) == {"ok"}


def test_some_rows_not_ok_exits_1(es, env, tmp_path) -> None:
    data = frame(10)
    data.loc[3, "id"] = None
    path = write(data, tmp_path / "rows.csv")
    result = run(
        "produce",
        str(path),
        "--topic",
        "single",
        "--key-col",
        "id",
        "--status-out",
        str(tmp_path / "s.csv"),
        "--na-values",
        "",
        env=env,
    )
    assert result.returncode == 1
    status = pd.read_csv(tmp_path / "s.csv")
    assert status.loc[3, "status"] == "rejected"
    assert "null key" in status.loc[3, "error"]
    assert re.search(r"rejected +1\n", result.stderr)


@pytest.mark.parametrize(
    ("args", "extra_env", "message"),
    [
        (["--topic", "nope"], {}, "does not exist"),
        (["--topic", "single", "--key-col", "missing"], {}, "missing"),
        (["--topic", "single"], {"ES_PANDAS_API_KEY": "wrong-key"}, "401"),
        (["--topic", "single"], {"ES_PANDAS_URL": ""}, "ES_PANDAS_URL"),
        (["--topic", "single", "--format", "xml"], {}, "xml"),
        # an empty shell variable ("$COLUMNS") is no columns, not every column
        (["--topic", "single", "--value-cols", ""], {}, "--value-cols is empty"),
    ],
)
def test_configuration_errors_exit_2(es, env, tmp_path, args, extra_env, message) -> None:
    path = write(frame(100), tmp_path / "rows.csv")
    result = run("produce", str(path), *args, env={**env, **extra_env})
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert API_KEY not in result.stderr + result.stdout
    assert "wrong-key" not in result.stderr + result.stdout


def test_a_service_down_exits_75_and_one_never_reached_exits_2(es, env, tmp_path) -> None:
    """cron and schedulers tell "try again later" (EX_TEMPFAIL) from "fix it"."""
    path = write(frame(200), tmp_path / "rows.csv")
    args = ["produce", str(path), "--topic", "single", "--retries", "0", "--concurrency", "4"]
    es.set_faults(rates={"503": 1.0}, retry_after=None)
    try:
        down = run(*args, "--status-out", str(tmp_path / "status.csv"), env=env)
    finally:
        es.clear_faults()
    assert down.returncode == 75, down.stderr
    assert "is unavailable" in down.stderr and "status.csv" in down.stderr
    # what the one on call does at 3 a.m.
    status_out = tmp_path / "status.csv"
    assert f"try again later with --resume {status_out}" in down.stderr, down.stderr
    nowhere = run(*args, env={**env, "ES_PANDAS_URL": f"http://127.0.0.1:{free_port()}"})
    assert nowhere.returncode == 2, nowhere.stderr
    assert "cannot reach" in nowhere.stderr


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        (".", "Kafka forbids the topic names '.' and '..'"),
        ("..", "Kafka forbids the topic names '.' and '..'"),
        ("orders/eu", "Kafka's topic names are ASCII letters, digits, '.', '_' and '-', not '/'"),
    ],
)
def test_topics_kafka_cannot_have_exit_2_with_the_reason(
    es, env, tmp_path, topic: str, reason: str
) -> None:
    path = write(frame(3), tmp_path / "rows.csv")
    es.reset_stats()
    result = run("produce", str(path), "--topic", topic, env=env)
    assert result.returncode == 2, result.stderr
    assert f"topic {topic!r} cannot exist: {reason}" in result.stderr
    assert "Traceback" not in result.stderr
    assert es.stats().get("received", 0) == 0


def test_unknown_extension_exits_2(env, tmp_path) -> None:
    path = tmp_path / "rows.data"
    path.write_text("a\n1\n")
    result = run("produce", str(path), "--topic", "single", env=env)
    assert result.returncode == 2 and "--format" in result.stderr


def test_dry_run_prints_requests_without_secrets(es, env, tmp_path) -> None:
    es.reset_stats()
    path = write(frame(3), tmp_path / "rows.csv")
    result = run("produce", str(path), "--topic", "orders", "--key-col", "id", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["row"] for line in lines] == [0, 1, 2]
    assert lines[0]["url"].endswith("/v2/topics/orders/records")
    assert API_KEY not in result.stdout
    assert es.stats() == {}


def test_resume_after_an_interrupted_load_sends_each_row_once(es, env, tmp_path) -> None:
    rows = 3000
    path = write(frame(rows), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    es.create_topic("resume", 2)
    es.set_faults(latency=0.02)
    proc = start(
        *["produce", str(path), "--topic", "resume", "--status-out", str(status_out)],
        *["--concurrency", "8", "--chunksize", "500"],
        env=env,
    )
    # Interrupt mid-load, on an event (the server has answered 500 rows), not a clock.
    wait_for_answers(es, 500, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    es.clear_faults()
    first = pd.read_csv(status_out)
    assert 0 < (first["status"] == "ok").sum() < rows
    # the summary's count and rate are of the rows sent, not of the rows not_sent
    sent = int(re.search(r"([\d,]+) rows sent in", err).group(1).replace(",", ""))
    assert sent == first["status"].isin(["ok", "failed", "unknown"]).sum() < rows, err

    result = run(
        "produce",
        str(path),
        "--topic",
        "resume",
        "--resume",
        str(status_out),
        "--status-out",
        str(status_out),
        env=env,
    )
    final = pd.read_csv(status_out)
    # rows still unknown (in flight at the interrupt) keep the exit status at 1
    assert result.returncode == int((final["status"] == "unknown").any()), result.stderr
    assert final["row"].tolist() == list(range(rows))
    assert set(final["status"]) <= {"ok", "unknown"}

    texts = [json.loads(r.value)["text"] for r in es.read("resume")]
    expected = [f"row {i} ü" for i in range(rows)]
    unknown = set(final.loc[final["status"] == "unknown", "row"])
    sent = pd.Series(texts).value_counts()
    for i, text in enumerate(expected):
        if i in unknown:
            continue  # may be there, or not: the interrupted run could not tell
        assert sent.get(text, 0) == 1, (i, sent.get(text, 0))
    assert len(texts) <= rows


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_sigterm_stops_a_load_as_ctrl_c_does(es, env, tmp_path, sigint: str) -> None:
    """timeout, systemd and schedulers stop a job with SIGTERM: it killed the load,
    leaving no status file and the rows in flight unknown. A job a shell started in
    the background has SIGINT ignored; SIGTERM stops it all the same."""
    rows = 2000
    path = write(frame(rows), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    topic = f"terminated-{sigint}"
    es.create_topic(topic, 1)
    es.set_faults(latency=0.02)
    handler = signal.SIG_DFL if sigint == "default" else signal.SIG_IGN
    command = [sys.executable, "-m", "es_pandas", "produce", str(path), "--topic", topic]
    options = ["--status-out", str(status_out), "--concurrency", "8", "--chunksize", "500"]
    proc = subprocess.Popen(
        [*command, *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        preexec_fn=lambda: signal.signal(signal.SIGINT, handler),
    )
    wait_for_answers(es, 300, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    es.clear_faults()
    assert proc.returncode == 143, err
    assert f"Error: terminated (SIGTERM); the status so far is in {status_out}" in err
    if sigint == "default":  # the run's own handler, which hears which signal it was
        assert "terminated (SIGTERM): waiting up to" in err and "Ctrl-C" not in err, err
    status = pd.read_csv(status_out)  # the rows read so far, in file order
    assert status["row"].tolist() == list(range(len(status)))
    assert 300 <= (status["status"] == "ok").sum() < rows
    # the rows in flight were waited for: each sent row is ok, as the server has it
    assert set(status["status"]) <= {"ok", "not_sent"}
    assert len(es.read(topic)) == (status["status"] == "ok").sum()


def test_a_sigterm_sent_twice_still_waits_for_the_rows_in_flight(es, env, tmp_path) -> None:
    """GNU timeout signals the job and then its process group, and a wrapper script may
    pass systemd's SIGTERM on: the second was taken for a second Ctrl-C, which drops
    the rows in flight (unknown, maybe in Kafka twice once sent again)."""
    path = write(frame(2000), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    es.create_topic("terminated-twice", 1)
    es.set_faults(latency=0.4)
    command = [sys.executable, "-m", "es_pandas", "produce", str(path), "-t", "terminated-twice"]
    proc = subprocess.Popen(
        [*command, "--status-out", str(status_out), "--concurrency", "8"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    wait_for_answers(es, 16, proc)
    proc.send_signal(signal.SIGTERM)
    # The second once the run says the first stopped it, its rows in flight for up to
    # 0.4 s more: on what the run says, not after a sleep (0.1 s), which a loaded
    # machine may not handle the first within, and the two then test nothing
    said = []
    for line in iter(proc.stderr.readline, ""):
        said.append(line)
        if "waiting up to" in line:
            break
    assert said and "waiting up to" in said[-1], "".join(said)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    err = "".join(said) + err
    es.clear_faults()
    assert proc.returncode == 143, err
    status = pd.read_csv(status_out)
    assert set(status["status"]) == {"ok", "not_sent"}
    assert len(es.read("terminated-twice")) == (status["status"] == "ok").sum()


def test_sigterm_before_the_load_starts_exits_as_terminated(env, tmp_path, monkeypatch) -> None:
    """A SIGTERM while the load was being set up (waiting for a FIFO's writer) exited
    130, 'interrupted', as Ctrl-C."""
    import es_pandas._cli._produce as module

    def set_up(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises at once
        raise AssertionError("SIGTERM did not stop the load")

    monkeypatch.setattr(module, "produce_file", set_up)
    path = write(frame(2), tmp_path / "rows.csv")
    result = CliRunner().invoke(produce, [str(path), "-t", "single"], env=env)
    assert result.exit_code == 143, result.output
    assert "Error: terminated (SIGTERM)" in result.output


def test_the_command_runs_on_a_thread_other_than_the_main_one(es, env, tmp_path) -> None:
    """Only the main thread may set a signal handler: on another (a scheduler's task
    running the command in-process) it read 'Error: signal only works in main thread
    of the main interpreter', exit 2, and sent nothing."""
    import threading

    es.create_topic("on-a-thread", 1)
    path = write(frame(3), tmp_path / "rows.csv")
    results: list[Result] = []
    thread = threading.Thread(
        target=lambda: results.append(
            CliRunner().invoke(produce, [str(path), "-t", "on-a-thread"], env=env)
        )
    )
    thread.start()
    thread.join()
    assert results[0].exit_code == 0, results[0].output
    assert len(es.read("on-a-thread")) == 3


def test_resume_can_retry_unknown_rows(es, env, tmp_path) -> None:
    path = write(frame(4), tmp_path / "rows.csv")
    status = pd.DataFrame({"row": [0, 1, 2], "status": ["ok", "unknown", "failed"]})
    status.to_csv(tmp_path / "old.csv", index=False)
    before = len(es.read("single"))
    run("produce", str(path), "--topic", "single", "--resume", str(tmp_path / "old.csv"), env=env)
    assert len(es.read("single")) == before + 2  # rows 2 and 3
    run(
        "produce",
        str(path),
        "--topic",
        "single",
        "--resume",
        str(tmp_path / "old.csv"),
        "--retry-unknown",
        env=env,
    )
    assert len(es.read("single")) == before + 5  # rows 1, 2 and 3


def test_demo() -> None:
    result = run("demo", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "3,000 rows" in result.stderr
    assert "What just happened" in result.stderr
    assert "--credentials" in result.stderr


def test_every_option_has_a_cli_twin_generated_from_its_declaration() -> None:
    params = {p.name: p for p in produce.params}
    twins = {"file", "topic", "dry_run"}  # the command's own
    for name, (_, option) in OPTIONS.items():
        if option.no_flag:
            continue
        flags = [flag.dest for flag in option.flags] if option.flags else [name]
        twins.update(flags)
        for flag in flags:
            assert flag in params, name
            assert params[flag].default in (None, False), (name, "a flag left out is not set")
        if option.flags is None and option.default is not None:
            shown = option.shows or option.cli_default or option.default
            assert f"default: {shown}]" in params[name].help, name
        if option.flags is None and option.env:
            assert f"[env: {', '.join(option.env)}" in params[name].help, name
    assert set(params) == twins


def test_help_names_what_each_flag_takes() -> None:
    """A column, a path, a URL or the choices, where click alone would say TEXT; TEXT
    is left to values that are free text."""
    context = click.Context(produce)
    shown = dict(
        record[0].rsplit(" ", 1)
        for param in produce.get_params(context)
        if (record := param.get_help_record(context)) and " " in record[0]
    )
    assert shown["--record-id"] == "hash|COLUMN"
    assert shown["--key-col"] == shown["--value-col"] == "COLUMN"
    assert shown["--status-out"] == shown["--resume"] == shown["--dead-letter"] == "PATH"
    assert shown["--credentials"] == "PATH" and shown["--proxy"] == "URL"
    text = {flag for flag, metavar in shown.items() if metavar == "TEXT"}
    assert text == {
        "-t, --topic",
        "--encoding",
        "--sep",
        "--na-values",
        "--record-id-header",
        "--schemaname",
        "--schemaversion",
        "--text-content-type",
        "--api-key",
        "--user",
        "--password",
        "--token",
        "--ca-password",
        "--client-cert-password",
    }


def test_messages_name_flags_but_leave_arrow_types_as_they_are() -> None:
    arrow_type = "extension<arrow.fixed_shape_tensor[value_type=int32, shape=[2]]>[pyarrow]"
    message = f"column 'c' is {arrow_type}: pass value_type='text' or key_col=..."
    assert (
        cli_words(message) == f"column 'c' is {arrow_type}: pass --value-type 'text' or --key-col"
    )


def test_a_message_opening_with_an_assignment_names_the_flag_once() -> None:
    # the on-premises Avro refusal opens so; "format" is an option of its own
    message = "value_format='avro' on v1 (on premises) needs schemaname= (the registered schema)"
    assert cli_words(message) == (
        "--value-format 'avro' on v1 (on premises) needs --schemaname (the registered schema)"
    )
    assert cli_words("cert='user.p12' is refused") == "--client-cert 'user.p12' is refused"
    assert cli_words("url: not an http(s) URL") == "--url: not an http(s) URL"


def test_a_mapping_in_a_message_is_one_flag_per_item() -> None:
    """Python's dtype={'n': 'int'} is --dtype n=int; a column named like an option
    ('topic') stays a column, and one the shell would split is quoted."""
    message = "column 'topic': 'x' is not an int (dtype={'topic': 'int'}; dtype={'a b': 'str'})"
    assert cli_words(message) == (
        "column 'topic': 'x' is not an int (--dtype topic=int; --dtype 'a b=str')"
    )


def test_a_quoted_value_that_reads_like_a_mapping_stays_as_it_is() -> None:
    """A file's value (or column name) shown in a message, user={"id": 5}, was taken for
    the option's mapping and shown as the flag: '--user id=5'."""
    message = """column 'n': 'user={"id": 5}' is not an int (dtype={'n': 'str'} sends it as text)"""
    assert cli_words(message) == (
        """column 'n': 'user={"id": 5}' is not an int (--dtype n=str sends it as text)"""
    )
    assert cli_words("column 'dtype={}' is empty") == "column 'dtype={}' is empty"


def test_an_option_set_false_is_named_by_its_no_flag() -> None:
    """A proxy that could not be reached said to leave the environment's proxies out
    with "--trust-env False", which the command line refuses (Got unexpected extra
    argument): its flag is --no-trust-env."""
    hint = "or leave the environment's proxies out with trust_env=False"
    assert cli_words(hint) == "or leave the environment's proxies out with --no-trust-env"
    assert cli_words("verify=False turns it off") == "--no-verify turns it off"
    assert cli_words("with retry_unknown=False") == "with --no-retry-unknown"


def test_every_front_takes_the_declared_options() -> None:
    fronts = [
        EventStreamsAccessor.produce,
        EventStreamsAccessor.aproduce,
        es_pandas.Producer.__init__,
        es_pandas.Producer.produce,
        es_pandas.Producer.aproduce,
    ]
    for front in fronts:
        options = inspect.signature(front).parameters["options"]
        assert options.annotation == "Unpack[ProduceOptions]", front
    for front in (es_pandas.produce_file, es_pandas.Producer.produce_file):
        assert inspect.signature(front).parameters["options"].annotation == "Unpack[FileOptions]"


def test_every_command_has_an_example_and_every_option_a_description() -> None:
    commands = dict(cli_commands())
    assert set(commands) >= {"es-pandas", "es-pandas demo", "es-pandas produce", "es-pandas serve"}
    for path, command in commands.items():
        assert any(f"{path} " in line for line in help_examples(command)), path
        for param in command.get_params(click.Context(command)):
            if isinstance(param, click.Option):
                assert param.help and param.help.strip(), (path, param.opts)


def test_resume_counts_carried_rows_and_exits_1_while_rows_are_unknown(es, env, tmp_path):
    path = write(frame(4), tmp_path / "rows.csv")
    pd.DataFrame(
        {
            "row": [0, 1, 2, 3],
            "status": ["ok", "unknown", "ok", "ok"],
            "maybe_duplicate": [True, False, False, False],
        }
    ).to_csv(tmp_path / "old.csv", index=False)
    result = run(
        "produce", str(path), "--topic", "single", "--resume", str(tmp_path / "old.csv"), env=env
    )
    assert result.returncode == 1  # row 1 is still unknown
    assert re.search(r"unknown +1\n", result.stderr)
    assert "4 rows carried from --resume" in result.stderr
    # the carried rows' possible duplicates are the load's as much as its own
    assert "1 possible duplicate in Kafka (ok rows flagged maybe_duplicate" in result.stderr
    assert "1 unknown row may or may not be in Kafka: it may be written twice if sent" in (
        result.stderr
    )


def test_dead_letters_of_a_resumed_load_say_the_unknown_rows_carried_are_not_in_them(
    es, env, tmp_path
):
    """A cron job's second night: "unknown 32" above "0 dead letters (rows not ok)", and
    the first night's dead letters, which had those rows, written over."""
    path = write(frame(4), tmp_path / "rows.csv")
    pd.DataFrame({"row": [0, 1, 2, 3], "status": ["ok", "unknown", "failed", "ok"]}).to_csv(
        tmp_path / "old.csv", index=False
    )
    dead = tmp_path / "dead.jsonl"
    resume = ["--resume", str(tmp_path / "old.csv"), "--dead-letter", str(dead)]

    result = run("produce", str(path), "--topic", "single", *resume, env=env)

    assert result.returncode == 1
    assert (
        f"0 dead letters (rows not ok) in {dead}; the 1 row not ok carried from the earlier "
        "load is not in it (the status file has it)"
    ) in result.stderr


def test_retried_unknown_rows_are_flagged_as_possible_duplicates(es, env, tmp_path):
    path = write(frame(2), tmp_path / "rows.csv")
    pd.DataFrame({"row": [0, 1], "status": ["unknown", "failed"]}).to_csv(
        tmp_path / "old.csv", index=False
    )
    result = run(
        "produce",
        str(path),
        "--topic",
        "single",
        "--resume",
        str(tmp_path / "old.csv"),
        "--retry-unknown",
        "--status-out",
        str(tmp_path / "new.csv"),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    status = pd.read_csv(tmp_path / "new.csv")
    assert status["maybe_duplicate"].tolist() == [True, False]


def test_cli_messages_speak_in_flags(env, tmp_path) -> None:
    path = write(frame(3), tmp_path / "rows.csv")
    result = run("produce", str(path), "--topic", "single", "--key-col", "nope", env=env)
    assert "--key-col" in result.stderr and "key_col" not in result.stderr
    result = run("produce", str(path), "--topic", "single", env={**env, "ES_PANDAS_URL": ""})
    assert "--url" in result.stderr and "url=" not in result.stderr


def test_missing_file_and_bad_status_out_are_usage_errors(env, tmp_path) -> None:
    result = run("produce", str(tmp_path / "nofile.csv"), "--topic", "single", env=env)
    assert result.returncode == 2 and "does not exist" in result.stderr
    path = write(frame(3), tmp_path / "rows.csv")
    result = run("produce", str(path), "--topic", "single", "--status-out", "s.json", env=env)
    assert result.returncode == 2 and ".csv or .parquet" in result.stderr


def test_dry_run_into_a_closed_pipe_is_quiet(env, tmp_path) -> None:
    path = write(frame(3000), tmp_path / "rows.csv")
    result = subprocess.run(
        f"{sys.executable} -m es_pandas produce {path} --topic single --dry-run | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert result.stdout.count("\n") == 1
    assert "Error" not in result.stderr and "Broken pipe" not in result.stderr


def test_text_bar_in_a_terminal_without_a_size(es, env, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI silences bars; a terminal user sees them
    pytest.importorskip("pty")
    import pty

    path = write(frame(50), tmp_path / "rows.csv")
    command = [sys.executable, "-m", "es_pandas", "produce", str(path), "--topic", "single"]
    output = bytearray()

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        output.extend(data)
        return data

    os.environ.update(env)
    try:
        pty.spawn(command, read)
    finally:
        for name in env:
            os.environ.pop(name)
    text = output.decode(errors="replace")
    assert "50/50" in text and "ok=50" in text  # the bar drew, though the pty has no size


def test_ctrl_c_while_the_file_is_being_opened_exits_130(env, tmp_path) -> None:
    # A named pipe nobody writes to yet: the command blocks opening it, an event the
    # test can see (its own open for writing returns), not a moment it has to guess.
    # The Ctrl-C lands in the open or in the read after it, which waits for the write
    # end held open here: only the Ctrl-C can end the command.
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    status_out = tmp_path / "status.csv"
    proc = start(
        "produce", str(fifo), "--topic", "single", "--status-out", str(status_out), env=env
    )
    with open(fifo, "w"):
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Aborted" not in err and "Traceback" not in err and "Warning" not in err
    # nothing was read: no journal is left to refuse the next load into status.csv
    assert os.listdir(tmp_path) == ["rows.csv"]


def test_ctrl_c_while_a_pipe_waits_for_its_writer_exits_130(es, env) -> None:
    # The run reads on a thread of its own, where Python never raises a Ctrl-C: a read
    # waiting for a writer that stalls (stdin held open here) once outlasted every
    # Ctrl-C. JSON Lines are read line by line, and one row at a time is in flight (the
    # waiting read holds up the run's loop, answers included): all 50 are answered
    # before the read of the 51st waits.
    proc = start(
        *["produce", "-", "-t", "single", "--format", "jsonl", "--chunksize", "10"],
        *["--concurrency", "1"],
        env=env,
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        proc.stdin.write("".join(json.dumps({"n": n}) + "\n" for n in range(50)))
        proc.stdin.flush()
        wait_for_answers(es, 50, proc)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stdin.close()
    assert "rows from 50 on were not read" in err and "Error: interrupted" in err, err
    assert "Traceback" not in err


def test_a_dry_run_plans_only_what_resume_would_send(env, tmp_path) -> None:
    path = write(frame(5), tmp_path / "rows.csv")
    earlier = tmp_path / "earlier.csv"
    pd.DataFrame({"row": [0, 1, 2], "status": ["ok", "unknown", "failed"]}).to_csv(earlier)

    result = run(
        "produce", str(path), "-t", "orders", "--dry-run", "--resume", str(earlier), env=env
    )

    assert [json.loads(line)["row"] for line in result.stdout.splitlines()] == [2, 3, 4]
    assert "dry run: 3 requests, 0 rows rejected, 2 rows carried from --resume" in result.stderr


def test_resume_refuses_the_status_file_of_another_file(es, env, tmp_path) -> None:
    status_out = tmp_path / "status.csv"
    first = write(frame(20), tmp_path / "first.csv")
    assert (
        run(
            "produce", str(first), "-t", "orders", "--status-out", str(status_out), env=env
        ).returncode
        == 0
    )
    other = tmp_path / "other.csv"
    shorter = tmp_path / "shorter.csv"
    write(frame(20).assign(text="another file"), other)
    write(frame(10), shorter)
    es.reset_stats()

    for path, reason in [(other, "row 0 of other.csv is not the row"), (shorter, "has 10 rows")]:
        result = run("produce", str(path), "-t", "orders", "--resume", str(status_out), env=env)
        assert result.returncode == 2, result.stderr
        assert reason in result.stderr and "another file" in result.stderr, result.stderr
    assert es.stats().get("requests", 0) == 0


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_resumed_load_that_stops_early_keeps_the_earlier_status_of_the_rest(
    es, env, tmp_path, suffix: str
) -> None:
    """A resumed load that stopped before the file's end (here: a later chunk's row
    changed; a SIGTERM or a service down alike) wrote only the rows it read, so the next
    night's --resume of that status file sent the earlier load's ok rows again."""
    topic = f"resume-stopped-{suffix[1:]}"
    es.create_topic(topic, 1)
    data = frame(40)
    data.loc[[5, 25], "id"] = ""  # null keys, rejected until filled in
    path = write(data, tmp_path / "rows.csv")
    status_out = tmp_path / f"status{suffix}"
    args = ["-t", topic, "--key-col", "id", "--na-values", "", "--chunksize", "10"]
    args += ["--status-out", str(status_out)]
    assert run("produce", str(path), *args, env=env).returncode == 1
    fixed = data.copy()
    fixed.loc[[5, 25], "id"] = ["id-5", "id-25"]
    changed = fixed.copy()
    changed.loc[32, "text"] = "rewritten"  # a row the first load wrote
    write(changed, path)
    resume = ["--resume", str(status_out)]

    result = run("produce", str(path), *args, *resume, env=env)

    assert result.returncode == 2, result.stderr
    assert "row 32 of rows.csv is not the row" in result.stderr
    assert "the file's rows from 30 on were not read" in result.stderr
    status = table(status_out)
    assert status["row"].tolist() == list(range(40))
    assert (status["status"] == "ok").all()
    write(fixed, path)  # the file as the first load read it
    result = run("produce", str(path), *args, *resume, env=env)
    assert result.returncode == 0, result.stderr
    assert "0 rows sent" in result.stderr
    assert len(es.read(topic)) == 40  # each row once


def table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def test_an_interrupted_load_says_which_rows_it_never_read(es, env, tmp_path) -> None:
    path = write(frame(3000), tmp_path / "rows.csv")
    es.set_faults(latency=0.02)
    args = ["produce", str(path), "-t", "orders", "--chunksize", "200", "--concurrency", "4"]
    proc = start(*args, env=env)
    wait_for_answers(es, 20, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    read_to = int(re.search(r"rows from ([\d,]+) on were not read", err).group(1).replace(",", ""))
    assert 0 < read_to < 3000 and read_to % 200 == 0, err
