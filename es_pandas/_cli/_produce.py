"""``es-pandas produce FILE``: a file into a topic, one record per row."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, NoReturn

import click

from .._accessor import PRODUCE_KEYWORDS
from .._exceptions import ConfigurationError, ProduceAborted, ProduceInterrupted
from .._files import FORMATS, file_format, produce_file, read_chunks
from .._status import Summary
from ._options import connection_options, produce_options, to_produce_keywords

__all__ = ["EXIT_CONFIG", "EXIT_INTERRUPTED", "EXIT_NOT_ALL_OK", "produce", "summary_table"]

EXIT_NOT_ALL_OK = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


def summary_table(summary: Summary) -> str:
    width = max(len(f"{n:,}") for n in summary.counts.values())
    lines = [f"  {name:<9} {n:>{width},}" for name, n in summary.counts.items()]
    elapsed = summary.elapsed or 0.0
    rate = f", {summary.rate:,.0f} rows/s" if summary.rate else ""
    sent = summary.total - summary.carried
    lines.append(f"  {sent:,} rows in {elapsed:.1f}s{rate}")
    if summary.carried:
        lines.append(f"  {summary.carried:,} rows carried from --resume (not sent again)")
    return "\n".join(lines)


# Python keyword names in library messages -> the flags a CLI user types
_KEYWORD = re.compile(
    r"\b(" + "|".join(sorted(PRODUCE_KEYWORDS, key=len, reverse=True)) + r")(=|:)"
)


def cli_words(message: str) -> str:
    def flag(match: re.Match[str]) -> str:
        name, separator = match.groups()
        return "--" + name.replace("_", "-") + (":" if separator == ":" else " ")

    return _KEYWORD.sub(flag, message).replace(" ...", "")


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


@click.command()
@click.argument("file", type=click.Path(exists=True, allow_dash=True, dir_okay=False))
@click.option("--topic", "-t", required=True, help="The topic to produce to.")
@click.option(
    "--format",
    "file_format_",
    type=click.Choice(FORMATS),
    help="The file's format (default: from its extension; stdin: csv).",
)
@click.option(
    "--status-out",
    type=click.Path(dir_okay=False),
    help="Write each row's status here (.csv or .parquet).",
)
@click.option(
    "--resume",
    type=click.Path(exists=True, dir_okay=False),
    help="A status file of an earlier load: send only rows not ok there.",
)
@click.option(
    "--retry-unknown",
    is_flag=True,
    help="With --resume, also send rows whose outcome was unknown (may duplicate).",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the requests as JSON lines instead of sending them."
)
@produce_options
@connection_options
def produce(
    file: str,
    topic: str,
    file_format_: str | None,
    status_out: str | None,
    resume: str | None,
    retry_unknown: bool,
    dry_run: bool,
    **options: Any,
) -> None:
    """Send every row of FILE (CSV, TSV, JSON Lines, Parquet; - for CSV on stdin) to
    --topic as one record each, streaming it in chunks.

    Connection settings come from the options, --credentials, or the ES_PANDAS_*
    environment variables. Exit status: 0 every row ok, 1 some rows not ok,
    2 usage or configuration error, 130 interrupted (the status so far is written).
    """
    keywords = to_produce_keywords(options)
    try:
        if dry_run:
            _dry_run(file, file_format_, topic, keywords)
            return
        summary = produce_file(
            file,
            topic,
            format=file_format_,
            status_out=status_out,
            resume=resume,
            retry_unknown=retry_unknown,
            **keywords,
        )
    except ConfigurationError as exc:
        _fail(cli_words(str(exc)), EXIT_CONFIG)
    except ProduceAborted as exc:
        where = f"; per-row status in {status_out}" if status_out else ""
        _fail(f"{exc}{where}", EXIT_CONFIG)
    except ProduceInterrupted as exc:
        if exc.summary is not None:
            click.echo(summary_table(exc.summary), err=True)
        where = f"; the status so far is in {status_out}" if status_out else ""
        _fail(f"interrupted{where}", EXIT_INTERRUPTED)
    except (OSError, ValueError) as exc:
        _fail(str(exc), EXIT_CONFIG)
    click.echo(summary_table(summary), err=True)
    if summary.counts["ok"] != summary.total:
        sys.exit(EXIT_NOT_ALL_OK)


def _dry_run(path: str, fmt: str | None, topic: str, keywords: dict[str, Any]) -> None:
    try:
        _print_requests(path, fmt, topic, keywords)
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _print_requests(path: str, fmt: str | None, topic: str, keywords: dict[str, Any]) -> None:
    offset = 0
    for chunk in read_chunks(path, file_format(path, fmt), keywords["chunksize"]):
        chunk.index = range(offset, offset + len(chunk))
        offset += len(chunk)
        plan = chunk.es.produce(topic, dry_run=True, **keywords)
        for row, request in plan.iterrows():
            record = {"row": row, **{k: v for k, v in request.items() if v is not None}}
            if isinstance(record.get("body"), bytes):
                record["body"] = record["body"].hex()
            if record.get("error") is not None and not isinstance(record["error"], str):
                record.pop("error")
            click.echo(json.dumps(record, default=str))
