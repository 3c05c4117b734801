"""``es-pandas produce FILE``: a file into a topic, one record per row."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, NoReturn

import click
import pandas as pd

from _es_pandas_cli import EXIT_INTERRUPTED

from .._exceptions import (
    ConfigurationError,
    ProduceAborted,
    ProduceError,
    ProduceInterrupted,
    ServiceUnavailable,
)
from .._options import FILE_OPTIONS, PRODUCE_OPTIONS
from .._producer import produce_file
from .._status import Summary
from ._options import cli_words, flags, to_options

__all__ = [
    "EXIT_CONFIG",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_ALL_OK",
    "EXIT_TEMPFAIL",
    "EXIT_TERMINATED",
    "fail",
    "produce",
]

EXIT_NOT_ALL_OK = 1
EXIT_CONFIG = 2
EXIT_TEMPFAIL = 75  # sysexits.h: a temporary failure, the invoker is invited to retry
EXIT_TERMINATED = 128 + signal.SIGTERM  # as a shell reports a job SIGTERM ended


def fail(message: str, code: int) -> NoReturn:
    """Exit with ``code``, saying why in one line on stderr."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.command()
@click.argument("file", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option("--topic", "-t", required=True, help="The topic to produce to.")
@click.option(
    "--dry-run", is_flag=True, help="Print the requests as JSON lines instead of sending them."
)
@flags([*FILE_OPTIONS, *PRODUCE_OPTIONS])
def produce(file: str, topic: str, dry_run: bool, **values: Any) -> None:
    """Send every row of FILE (CSV, TSV, JSON Lines, Parquet; - for CSV on stdin) to
    --topic as one record each, streaming it in chunks.

    Connection settings come from the options, --credentials, or the ES_PANDAS_*
    environment variables. Exit status: 0 every row ok (or --errors collect), 1 some
    rows not ok, 2 usage or configuration error, or the run stopped early on something
    to fix (credentials refused, no such topic, a server never reached), 75 the run
    stopped early because a service is down (try again later, with --resume), 130
    interrupted, 143 terminated by SIGTERM (either way, the rows in flight are waited
    for, and the status so far is written).

    \b
    Examples (the first with a service-credentials file, the others with
    ES_PANDAS_CREDENTIALS, or ES_PANDAS_URL and ES_PANDAS_API_KEY, set):
      es-pandas produce orders.csv --topic orders --key-col order_id --credentials service-key.json
      es-pandas produce orders.csv -t orders --key-col order_id --status-out status.csv
      es-pandas produce orders.csv -t orders --resume status.csv --status-out status.csv
      es-pandas produce orders.csv -t orders --dtype items=int --na-values "" --dry-run
      head -100 orders.csv | es-pandas produce - -t orders --max-rate 50
    """
    status_out = values.get("status_out")
    if dry_run and status_out:
        raise click.UsageError("a --dry-run sends nothing, so it writes no --status-out")
    terminated: list[int] = []
    try:
        options = to_options(values, [*FILE_OPTIONS, *PRODUCE_OPTIONS])
        with _terminate_as_interrupt(terminated):
            summary = produce_file(
                file, topic, dry_run=_print_requests if dry_run else False, **options
            )
    except ConfigurationError as exc:
        fail(cli_words(str(exc)), EXIT_CONFIG)
    except ProduceAborted as exc:
        if isinstance(exc.__cause__, BrokenPipeError):
            _reader_gone()
            return
        where = f"; per-row status in {status_out}" if status_out else ""
        message = cli_words(str(exc)) + ("" if status_out and status_out in str(exc) else where)
        if not isinstance(exc, ServiceUnavailable):
            fail(message, EXIT_CONFIG)
        if status_out:
            message += f"; try again later with --resume {status_out}"
        fail(message, EXIT_TEMPFAIL)
    except ProduceInterrupted as exc:
        click.echo(exc.summary.table(), err=True)
        where = f"; the status so far is in {status_out}" if status_out else ""
        if terminated:
            fail(f"terminated (SIGTERM){where}", EXIT_TERMINATED)
        fail(f"interrupted{where}", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        if not terminated:
            raise
        # SIGTERM while the load was set up (a FIFO waiting for its writer): nothing sent
        fail("terminated (SIGTERM)", EXIT_TERMINATED)
    except ProduceError as exc:  # --errors raise (the default): rows are not ok
        _report(exc.summary, dry_run, status_out)
        sys.exit(EXIT_NOT_ALL_OK)
    except (OSError, ValueError) as exc:
        fail(str(exc), EXIT_CONFIG)
    assert isinstance(summary, Summary)
    _report(summary, dry_run, status_out)
    if dry_run and summary.counts["ok"] != summary.total and options["errors"] == "raise":
        sys.exit(EXIT_NOT_ALL_OK)


@contextlib.contextmanager
def _terminate_as_interrupt(terminated: list[int]) -> Iterator[None]:
    """SIGTERM (``timeout``, systemd, a scheduler stopping a job) stops the load as
    Ctrl-C does, the status so far written; without this it killed the process, leaving
    no status file and the rows in flight unknown. Each SIGTERM is appended to
    ``terminated``; only the first stops the load, as a first Ctrl-C does (GNU timeout
    signals the job and then its process group, and a wrapper script may pass on the
    one it got: a second Ctrl-C would drop the rows in flight)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        terminated.append(signum)
        if len(terminated) > 1:
            return  # the load is stopping already, its rows in flight waited for
        interrupt = signal.getsignal(signal.SIGINT)
        if callable(interrupt):
            interrupt(signum, frame)  # the run's Ctrl-C count, or KeyboardInterrupt
        else:
            # SIGINT ignored (a job a shell started in the background): the run
            # counts a KeyboardInterrupt as a Ctrl-C all the same
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread sets handlers (the command run on a thread)
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(summary: Summary, dry_run: bool, status_out: str | None) -> None:
    """The counts, and why rows are not ok, on stderr."""
    if dry_run:
        click.echo(str(summary), err=True)
    else:
        click.echo(summary.table(), err=True)
    if summary.counts["ok"] != summary.total:
        click.echo(cli_words(summary.why()), err=True)
        if not status_out and not dry_run and summary.dead_letters is None:
            click.echo("every row's status and error: --status-out FILE", err=True)


def _reader_gone() -> None:
    """The reader of a dry run went away (``| head``): stop quietly, as other command
    line tools do, and keep Python from complaining about stdout at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_requests(plan: pd.DataFrame) -> None:
    """Each row's request as a JSON line; a rejected row's line has its error instead."""
    for row, request in zip(plan.index, plan.to_dict("records"), strict=True):
        # object columns keep None, the error column pd.NA: neither is a field
        record = {
            "row": row,
            **{k: v for k, v in request.items() if v is not None and v is not pd.NA},
        }
        if isinstance(record.get("body"), bytes):
            record["body"] = record["body"].hex()
        click.echo(json.dumps(record, default=str))
