"""``es-pandas schema FILE``: the Avro schema a load of FILE would infer, printed."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .._exceptions import ConfigurationError
from .._file_schema import file_schema
from .._options import SCHEMA_OPTIONS
from ._options import cli_words, flags, to_options
from ._produce import EXIT_CONFIG, fail

__all__ = ["schema"]


@click.command()
@click.argument("file", type=click.Path(allow_dash=True))
@click.option(
    "--topic",
    "-t",
    help="The topic the file would go to: an inferred record is named after it, as "
    "produce names it (else give --schema-name).",
)
@click.option(
    "--key",
    is_flag=True,
    help="Print the schema of the keys (produce's --key-format avro) instead: the "
    "--key-col column's.",
)
@flags(SCHEMA_OPTIONS)
def schema(file: str, topic: str | None, key: bool, **values: Any) -> None:
    """Print the Avro schema that es-pandas produce FILE --value-format avro infers
    and sends for FILE's values, as JSON ready to save as an .avsc file. Nothing is
    sent: no URL or credentials are needed.

    It is inferred as the load infers it: from FILE's first chunk (--chunksize rows)
    read with the same options (--format, --dtype, --infer-types, --na-values, ...),
    the key and header columns left out, every field nullable (a load does not see
    the later chunks before it sends). Give it the options you give produce, then give
    produce the saved file as --value-schema. The record is named after --topic, or
    --schema-name. Exit status: 0 printed, 2 usage or configuration error (no such
    file, a column whose values have no one Avro type).

    \b
    Examples:
      es-pandas schema orders.csv -t orders --key-col order_id --infer-types --na-values ""
      es-pandas schema orders.csv -t orders --key-col order_id --infer-types > orders.avsc
      es-pandas schema orders.csv --schema-name Order --schema-namespace com.example
      es-pandas schema orders.csv -t orders --key-col order_id --key
    """
    if file != "-" and not os.path.isfile(file):
        fail(
            f"{file!r} {'is a directory' if os.path.isdir(file) else 'does not exist'}", EXIT_CONFIG
        )
    try:
        found = file_schema(file, topic, key=key, **to_options(values, SCHEMA_OPTIONS))
    except ConfigurationError as exc:
        fail(cli_words(str(exc)), EXIT_CONFIG)
    except (OSError, ValueError) as exc:
        fail(str(exc), EXIT_CONFIG)
    click.echo(json.dumps(found, indent=2, ensure_ascii=False))
