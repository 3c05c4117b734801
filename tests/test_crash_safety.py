"""A file load killed outright (``kill -9``: nothing of es_pandas runs after it) resumes
without a silent duplicate: the status file's journal says which rows may be in Kafka.

Each trial kills the CLI when the local server has answered a number of rows drawn
from the trial's seed (an event, not a clock), sometimes twice, then resumes with
``--retry-unknown`` and compares the status file with what the server stored.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import es_pandas
from es_pandas._exceptions import ConfigurationError
from es_pandas._journal import Journal, read_journal
from es_pandas._status import FAILED, REJECTED, UNKNOWN, StatusBook
from es_pandas._status_lock import StatusLock

from .conftest import API_KEY, run, start, wait_for_answers
from .test_cli import frame, write

ROWS = 2000
# more for a soak run: CRASH_TRIALS=40 python -m pytest tests/test_crash_safety.py
TRIALS = int(os.environ.get("CRASH_TRIALS", "6"))


def _killed_at(args: list[str], es, env: dict[str, str], answered: int) -> int:
    """``es-pandas ARGS`` killed with SIGKILL once the server has answered ``answered``
    more rows; its return code (0 if it finished first)."""
    before = es.stats().get("200", 0)
    proc = start(*args, env=env)
    deadline = time.monotonic() + 60
    while es.stats().get("200", 0) - before < answered and proc.poll() is None:
        assert time.monotonic() < deadline, "the load never got that far"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGKILL), err
    return proc.returncode


@pytest.mark.parametrize("seed", range(TRIALS))
def test_a_load_killed_at_any_moment_resumes_with_every_row_once_or_flagged(
    es, env, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    topic = f"crash-{seed}"
    es.create_topic(topic, 2)
    # uneven answers, so rows end out of order around every kill
    es.set_faults(latency=(0.0, 0.004), seed=seed)
    path = write(frame(ROWS), tmp_path / "rows.csv")
    status_out = tmp_path / ("status.parquet" if seed % 6 == 5 else "status.csv")
    load = ["produce", str(path), "--topic", topic, "--status-out", str(status_out)]
    load += ["--chunksize", "300", "--concurrency", "16"]
    resume = ["--resume", str(status_out), "--retry-unknown"]

    _killed_at(load, es, env, answered=rng.randrange(1, ROWS // 2))
    if seed % 2:
        # the resumed load dies too: its journal must still hold the first one's rows
        _killed_at([*load, *resume], es, env, answered=rng.randrange(1, ROWS // 4))
    es.clear_faults()
    result = run(*load, *resume, env=env)

    assert result.returncode == 0, result.stderr
    final = (
        pd.read_parquet(status_out) if status_out.suffix == ".parquet" else pd.read_csv(status_out)
    ).set_index("row")
    assert final.index.tolist() == list(range(ROWS))
    assert (final["status"] == "ok").all()
    assert not Path(f"{status_out}.journal").exists()

    stored = es.records(topic, decode=True)
    stored["row"] = stored["value"].map(lambda v: int(json.loads(v)["id"].split("-")[1]))
    copies = stored["row"].value_counts()
    assert set(copies.index) == set(range(ROWS)), "a row is missing from the store"
    twice = set(copies.index[copies > 1])
    flagged = set(final.index[final["maybe_duplicate"]])
    assert twice <= flagged, f"rows stored twice without maybe_duplicate: {twice - flagged}"
    # each row's partition and offset are those of a record holding that row
    where = stored.set_index(["partition", "offset"])["row"]
    pointed = where.loc[list(zip(final["partition"], final["offset"], strict=True))]
    assert pointed.tolist() == final.index.tolist()


def test_a_new_load_does_not_start_over_a_dead_loads_journal(es, env, tmp_path: Path) -> None:
    path = write(frame(400), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    load = ["produce", str(path), "--topic", "single", "--status-out", str(status_out)]
    _killed_at([*load, "--chunksize", "100"], es, env, answered=50)

    result = run(*load, env=env)

    assert result.returncode == 2
    assert "stopped without finishing" in result.stderr
    assert f"--resume {status_out}" in result.stderr


def test_a_second_load_of_a_status_file_at_once_is_refused(es, env, tmp_path: Path) -> None:
    """Two cron jobs at once (last night's still running): the second read the first's
    live journal as a dead load's, "resuming from its journal", and sent the rows the
    first was sending (4,697 duplicates of 5,000 rows); a new load was told to remove
    the journal of a load that was not dead."""
    path = write(frame(600), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    es.create_topic("two-at-once", 1)
    load = ["produce", str(path), "-t", "two-at-once", "--status-out", str(status_out)]
    es.set_faults(latency=0.02)
    first = start(*load, "--chunksize", "100", "--concurrency", "4", env=env)
    wait_for_answers(es, 20, first)

    again = run(*load, "--resume", str(status_out), env=env)
    anew = run(*load, env=env)
    _, err = first.communicate(timeout=60)

    assert first.returncode == 0, err
    for result in (again, anew):
        assert result.returncode == 2, result.stderr
        assert f"another load (process {first.pid}) is using {status_out} now" in result.stderr
        assert "stopped without finishing" not in result.stderr
    assert len(es.read("two-at-once")) == 600  # each row once
    assert not (tmp_path / "status.csv.lock").exists()
    es.clear_faults()
    assert run(*load, "--resume", str(status_out), env=env).returncode == 0


def test_a_status_file_on_a_full_disk_is_locked_all_the_same(tmp_path, monkeypatch) -> None:
    """The lock's process id could not be written on a full disk: the load stopped
    with "[Errno 28] No space left on device", naming no file, before its journal's
    error could name it."""
    status = str(tmp_path / "status.csv")
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    held = StatusLock(status, None)
    monkeypatch.setattr(os, "write", real_write)
    with pytest.raises(ConfigurationError, match=f"another load is using {status} now"):
        StatusLock(None, status)
    held.release()
    assert not os.path.exists(f"{status}.lock")
    StatusLock(status, status).release()


def test_a_journal_the_disk_cannot_take_at_the_start_leaves_no_file(tmp_path, monkeypatch) -> None:
    """status.csv.journal.new was left beside the status file of a load that a full
    disk stopped before it began."""
    earlier = StatusBook(1).to_frame(pd.Index([0], name="row"))
    earlier["row_hash"] = pd.array(["h0"], dtype="string")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        Journal(str(tmp_path / "s.csv.journal"), "orders", earlier, ahead=4)
    assert list(tmp_path.iterdir()) == []


def test_a_journal_reads_as_the_rows_it_recorded_and_unknown_for_those_it_may_have_sent(
    tmp_path: Path,
) -> None:
    book = StatusBook(4)
    book.ok(0, 200, 1, 17, 1_700_000_000_123, 1, 0.01, False)
    book.fail(2, REJECTED, 'column "n": not a number, "x"')
    book.fail(3, FAILED, "HTTP 400: no, (x)", http_status=400, attempts=1, trace='a,"b"')
    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", None, ahead=2)
    journal.chunk(np.arange(10, 17), StatusBook(7))  # rows 10 to 16 to send
    journal.sending(10)  # rows up to 12 may now be in flight
    journal.ended(10, book, 0)
    journal.ended(11, book, 2)
    journal.ended(12, book, 1)  # never sent: nothing to record
    journal.ended(13, book, 3)
    journal.sending(13)
    journal.flush()
    with open(journal.path, "ab") as handle:
        # a line of an es_pandas from before the trace field
        handle.write(b"14,failed,503,,,,2,4.5,0,HTTP 503\n")
        # the process dies writing a line: half of it reaches the disk
        handle.write(b"16,ok,200,0,")

    frame = read_journal(journal.path).set_index("row")

    assert frame.loc[10, "status"] == "ok" and frame.loc[10, "offset"] == 17
    assert frame.loc[10, "timestamp"] == pd.Timestamp(1_700_000_000_123, unit="ms", tz="UTC")
    assert frame.loc[11, "status"] == "rejected"
    assert frame.loc[11, "error"] == 'column "n": not a number, "x"'
    assert frame.loc[13, ["error", "trace"]].tolist() == ["HTTP 400: no, (x)", 'a,"b"']
    assert frame.loc[14, "error"] == "HTTP 503" and pd.isna(frame.loc[14, "trace"])
    assert frame.loc[[10, 11, 12], "trace"].isna().all()
    # rows 0-9 were carried or rejected before, or skipped: within the mark, unknown
    unknown = frame.index[frame["status"] == "unknown"].tolist()
    assert unknown == [*range(10), 12, 15]
    assert 16 not in frame.index


def test_a_journal_keeps_the_traces_of_the_rows_it_carries(tmp_path: Path) -> None:
    book = StatusBook(3)
    book.fail(0, UNKNOWN, "HTTP 500: x", http_status=500, attempts=4, trace="t-0")
    book.ok(1, 200, 0, 1, 1_700_000_000_123, 1, 0.01, False)
    book.fail(2, FAILED, "HTTP 400: y", http_status=400, attempts=1)
    earlier = book.to_frame(pd.Index([5, 6, 7], name="row"))
    earlier["row_hash"] = pd.array(["h5", "h6", "h7"], dtype="string")

    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", earlier, ahead=2)
    journal.close(finished=False)
    frame = read_journal(journal.path).set_index("row")

    # the failed row is sent again, not carried
    assert frame["status"].tolist() == ["unknown", "ok"]
    assert frame["trace"].tolist()[0] == "t-0" and frame["trace"][6:].isna().all()


def test_a_row_sent_again_and_in_flight_when_killed_reads_unknown(tmp_path: Path) -> None:
    book = StatusBook(3)
    book.fail(0, FAILED, "HTTP 400: no", http_status=400, attempts=1)
    book.fail(1, REJECTED, "column 'n': not a number")
    earlier = book.to_frame(pd.Index([0, 1, 2], name="row"))  # row 2 not_sent
    earlier["row_hash"] = pd.array(["h0", "h1", "h2"], dtype="string")
    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", earlier, ahead=3)
    journal.chunk(np.arange(3), StatusBook(3))
    journal.sending(0)  # the resumed load sends them again, and is killed

    frame = read_journal(journal.path).set_index("row")

    # each may be in Kafka now: sent again as failed, it could be written twice
    assert frame.loc[[0, 1, 2], "status"].tolist() == ["unknown"] * 3


def test_a_journal_the_disk_cannot_take_lets_no_row_out_unrecorded(tmp_path, monkeypatch) -> None:
    """A full disk mid-load: the mark covering the rows about to go out was taken as
    made though its write failed, so the rows after the first went out with no mark on
    disk, and the resume read them as never sent and sent them again (28 duplicates of
    5,000 rows, no word: found by a cron trial on a 64 KiB tmpfs)."""
    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", None, ahead=4)
    journal.chunk(np.arange(20), StatusBook(20))
    journal.sending(0)  # rows up to 4 may be in flight, on disk
    real_write, room = os.write, [3]

    def full(fd: int, data: bytes) -> int:
        if fd != journal._fd:
            return real_write(fd, data)
        if not room[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = real_write(fd, data[: room[0]])  # a line cut short, then nothing
        room[0] -= written
        return written

    monkeypatch.setattr(os, "write", full)
    for row in (5, 6, 9):
        with pytest.raises(OSError, match="No space left on device") as caught:
            journal.sending(row)  # not sent: its mark is not on disk
        assert caught.value.filename == journal.path
    journal.ended(4, StatusBook(1), 0)
    journal.close(finished=False)  # nothing more written after the cut line
    monkeypatch.setattr(os, "write", real_write)

    frame = read_journal(journal.path).set_index("row")

    assert frame.index.tolist() == [0, 1, 2, 3, 4]
    assert (frame["status"] == "unknown").all()
    assert Path(journal.path).read_bytes().endswith(b"\nthr")


def test_resuming_a_dead_load_with_the_wrong_file_keeps_its_journal(es, env, tmp_path) -> None:
    topic = "crash-wrong-file"
    es.create_topic(topic, 1)
    path = write(frame(600), tmp_path / "rows.csv")
    other = write(frame(600).assign(text="another file"), tmp_path / "other.csv")
    status_out = tmp_path / "status.csv"
    load = ["--topic", topic, "--status-out", str(status_out), "--chunksize", "100"]
    resume = ["--resume", str(status_out), "--retry-unknown"]
    _killed_at(["produce", str(path), *load], es, env, answered=150)
    journal = Path(f"{status_out}.journal")
    assert journal.exists()

    refused = run("produce", str(other), *load, *resume, env=env)

    assert refused.returncode == 2 and "not the row" in refused.stderr, refused.stderr
    assert journal.exists(), "the dead load's journal is its only record"
    result = run("produce", str(path), *load, *resume, env=env)
    assert result.returncode == 0, result.stderr
    stored = es.records(topic, decode=True)["value"].map(lambda v: json.loads(v)["id"])
    assert set(stored) == {f"id-{i}" for i in range(600)}


def test_resuming_a_dead_load_to_another_topic_is_refused(es, env, tmp_path) -> None:
    es.create_topic("crash-staging", 1)
    es.create_topic("crash-production", 1)
    path = write(frame(600), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    load = ["--status-out", str(status_out), "--chunksize", "100"]
    _killed_at(["produce", str(path), "--topic", "crash-staging", *load], es, env, answered=150)

    refused = run(
        "produce",
        str(path),
        "--topic",
        "crash-production",
        *load,
        "--resume",
        str(status_out),
        env=env,
    )

    assert refused.returncode == 2, refused.stderr
    assert "of a load to topic 'crash-staging', not 'crash-production'" in refused.stderr
    assert Path(f"{status_out}.journal").exists() and es.read("crash-production") == []


@pytest.mark.parametrize("record_id", ["hash", "id"])
def test_a_load_killed_twice_keeps_every_rows_record_id(
    es, env, tmp_path: Path, record_id: str
) -> None:
    topic = f"crash-ids-{record_id}"
    es.create_topic(topic, 2)
    es.create_topic(f"{topic}-ref", 1)
    path = write(frame(ROWS), tmp_path / "rows.csv")
    # the ids a load that is never killed gives the rows
    reference = tmp_path / "reference.csv"
    ids = ["--record-id", record_id]
    clean = run(
        "produce", str(path), "-t", f"{topic}-ref", *ids, "--status-out", str(reference), env=env
    )
    assert clean.returncode == 0, clean.stderr
    expected = pd.read_csv(reference, dtype={"record_id": "string"})["record_id"]
    assert expected.notna().all()

    status_out = tmp_path / "status.csv"
    load = ["produce", str(path), "--topic", topic, "--status-out", str(status_out), *ids]
    load += ["--chunksize", "300", "--concurrency", "16"]
    resume = ["--resume", str(status_out)]
    # some rows fail, to be sent again; rows end out of order around each kill
    es.set_faults(latency=(0.0, 0.004), rates={"400": 0.05}, seed=7)
    _killed_at(load, es, env, answered=500)
    # the resumed load carries the first one's rows into its own journal, and dies too,
    # early: with rows that failed before in flight
    _killed_at([*load, *resume], es, env, answered=10)
    es.clear_faults()
    # rows in flight at either kill stay unknown, carried with the ids they went with
    result = run(*load, *resume, "--errors", "collect", env=env)

    assert result.returncode == 0, result.stderr
    final = pd.read_csv(status_out, dtype={"record_id": "string"}).set_index("row")
    assert final.index.tolist() == list(range(ROWS))
    assert set(final["status"]) == {"ok", "unknown"}, final["status"].value_counts()
    # every row: rows ended before a kill, carried, in flight, and sent after it
    wrong = final.index[final["record_id"].ne(expected).fillna(True)]
    assert not len(wrong), final.loc[wrong[:5], ["status", "error", "record_id"]]
    # and an ok row's id is the header of the record it points at
    stored = es.records(topic, decode=True).set_index(["partition", "offset"])
    ok = final[final["status"] == "ok"]
    at = list(zip(ok["partition"].astype(int), ok["offset"].astype(int), strict=True))
    headers = stored.loc[at, "headers"].map(lambda pairs: dict(pairs)["es-pandas-record-id"])
    assert headers.tolist() == ok["record_id"].tolist()
    # and none was sent once more unflagged (those rows in flight read unknown)
    copies = stored["value"].map(lambda v: int(json.loads(v)["id"].split("-")[1])).value_counts()
    twice = set(copies.index[copies > 1])
    flagged = set(final.index[final["maybe_duplicate"]])
    assert twice <= flagged, f"rows stored twice without maybe_duplicate: {twice - flagged}"


def test_a_journal_keeps_the_record_id_of_every_row_it_may_have_sent(tmp_path: Path) -> None:
    earlier = StatusBook(3, record_ids=True).to_frame(pd.Index([0, 1, 3], name="row"))
    earlier["status"] = ["ok", "unknown", "unknown"]
    earlier["record_id"] = pd.array(['a,"b"', "r1", "r3"], dtype="string")
    earlier["row_hash"] = pd.array(["h0", "h1", "h3"], dtype="string")
    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", earlier, ahead=5)
    # a chunk, rows 1 to 4 (1 and 3 sent again), encoded: row 3 is rejected now
    book = StatusBook(4, record_ids=True)
    assert book.record_ids is not None
    journal.chunk(np.arange(1, 5), book)
    book.record_ids.update({0: "x1", 1: "x2", 3: "x\n4"})
    book.fail(2, REJECTED, "column 'id': null record id")
    journal.ended(3, book, 2)
    # the chunk after it, handed over before it is encoded
    later = StatusBook(1, record_ids=True)
    assert later.record_ids is not None
    journal.chunk(np.array([5]), later)
    journal.sending(1)
    # rows up to 4 may now be in flight, not 5 and 6: their chunk is not sent yet
    assert read_journal(journal.path)["row"].max() == 4
    later.record_ids[0] = "x5"  # encoded
    journal.sending(5)  # a mark of its own, with its chunk's ids
    journal.ended(1, book, 0)  # answered, but the process is killed before the next mark

    frame = read_journal(journal.path).set_index("row")

    unknown = "unknown"
    assert frame["status"].tolist() == ["ok", unknown, unknown, "rejected", unknown, unknown]
    assert frame["record_id"].fillna("-").tolist() == ['a,"b"', "x1", "x2", "-", "x\n4", "x5"]


def test_a_status_file_the_disk_cannot_take_leaves_the_one_there_was(
    es, tmp_path: Path, monkeypatch
) -> None:
    """A full disk while the status file was written: the status.csv.partial cut short
    replaced the earlier load's status.csv, whose rows the journal (kept) still held,
    so the file a reader opens said less than before the load. It stays beside it."""
    from es_pandas._tables import TableWriter

    topic = "crash-status-full"
    es.create_topic(topic, 1)
    path = write(frame(300), tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    options = {"url": es.url, "api_key": API_KEY, "progress": False, "chunksize": 100}
    es_pandas.produce_file(path, topic, status_out=str(status_out), **options)
    earlier = status_out.read_bytes()
    real_write, chunks = TableWriter.write, []

    def full(self: TableWriter, frame: pd.DataFrame, schema: object = None) -> None:
        chunks.append(len(frame))
        if len(chunks) > 1:
            raise OSError(errno.ENOSPC, "No space left on device", self.path)
        real_write(self, frame, schema)

    monkeypatch.setattr(TableWriter, "write", full)
    with pytest.raises(es_pandas.ProduceAborted, match="No space left on device"):
        es_pandas.produce_file(path, topic, status_out=str(status_out), **options)

    assert status_out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "rows.csv",
        "status.csv",
        "status.csv.journal",
        "status.csv.partial",
    ]


def test_a_journal_cut_inside_a_quoted_field_reads_as_its_whole_lines(
    tmp_path, monkeypatch
) -> None:
    """A full disk cut the journal's write just after a line break inside a quoted
    record id (or error): the line break was taken as a line's end, and the resume
    stopped with pandas' 'EOF inside string' rather than read the lines before it."""
    journal = Journal(str(tmp_path / "s.csv.journal"), "orders", None, ahead=4)
    book = StatusBook(4, record_ids=True)
    assert book.record_ids is not None
    journal.chunk(np.arange(4), book)
    book.record_ids.update({0: "x0", 1: "x\n1", 2: "x2", 3: "x3"})
    real_write = os.write
    room = [len(b'id,0,x0\nid,1,"x\n')]

    def full(fd: int, data: bytes) -> int:
        if fd != journal._fd:
            return real_write(fd, data)
        if not room[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = real_write(fd, data[: room[0]])
        room[0] -= written
        return written

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left on device"):
        journal.sending(0)
    journal.close(finished=False)
    monkeypatch.setattr(os, "write", real_write)
    assert Path(journal.path).read_bytes().endswith(b'\nid,1,"x\n')

    frame = read_journal(journal.path)

    assert frame.empty  # no mark reached the disk: no row went out


def test_a_resumed_load_whose_earlier_rows_cannot_be_kept_keeps_its_journal(
    es, tmp_path: Path, monkeypatch
) -> None:
    """A resumed load stopped early (a changed row) whose write of the earlier load's
    status of the rows it never reached failed: the error was logged, the status file
    put in place without those rows and the journal, which had them, removed, so the
    next resume sent the earlier load's ok rows again."""
    from es_pandas._files import StatusWriter

    topic = "keep-the-rest-fails"
    es.create_topic(topic, 1)
    data = frame(40)
    path = write(data, tmp_path / "rows.csv")
    status_out = tmp_path / "status.csv"
    options = {"url": es.url, "api_key": API_KEY, "key_col": "id", "chunksize": 10}
    es_pandas.produce_file(path, topic, status_out=str(status_out), **options)
    changed = data.copy()
    changed.loc[32, "text"] = "rewritten"
    write(changed, path)
    real_write = StatusWriter.write

    def full(self: StatusWriter, frame: pd.DataFrame, hashes: pd.Series) -> None:
        if frame.index.min() >= 30:  # the rows this load never reached
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, frame, hashes)

    monkeypatch.setattr(StatusWriter, "write", full)
    with pytest.raises(es_pandas.ProduceAborted, match="row 32 of rows"):
        es_pandas.produce_file(
            path, topic, status_out=str(status_out), resume=str(status_out), **options
        )
    monkeypatch.setattr(StatusWriter, "write", real_write)
    write(data, path)

    es_pandas.produce_file(
        path, topic, status_out=str(status_out), resume=str(status_out), **options
    )

    assert len(es.read(topic)) == 40  # each row once
