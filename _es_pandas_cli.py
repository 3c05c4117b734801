"""The ``es-pandas`` command group, the console script's entry point.

It lives outside the ``es_pandas`` package on purpose: importing anything inside it runs
``es_pandas/__init__.py``, which imports pandas to register ``df.es``, and ``es-pandas
--help`` or a mistyped command should answer at once. Each subcommand's module (in
``es_pandas._cli``) is imported only when that subcommand runs or shows its help.
"""

from __future__ import annotations

import importlib

import click

__all__ = ["main"]

EXIT_INTERRUPTED = 130

#: name -> (module, one-line summary for ``es-pandas --help``); the module defines a
#: click command of the same name
COMMANDS = {
    "demo": (
        "es_pandas._cli._demo",
        "Load a sample orders CSV into an embedded local Event Streams and explain it.",
    ),
    "produce": (
        "es_pandas._cli._produce",
        "Send a CSV, TSV, JSON Lines or Parquet file to a topic, one record per row.",
    ),
    "schema": (
        "es_pandas._cli._schema",
        "Print the Avro schema that produce --value-format avro infers for a file.",
    ),
    "serve": ("es_pandas._cli._serve", "Run a local Event Streams REST producer server."),
}


class _LazyGroup(click.Group):
    """Lists its commands from ``COMMANDS`` and imports one only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = getattr(importlib.import_module(COMMANDS[cmd_name][0]), cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        # Ctrl-C anywhere (importing pandas, opening a file) is an interrupt, exit
        # status 130 as shells expect, never click's "Aborted!" with status 1.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("Error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eventstreams-pandas", prog_name="es-pandas")
def main() -> None:
    """Send pandas DataFrames and data files to IBM Event Streams, one record per row,
    and run a local Event Streams server.

    \b
    Examples:
      es-pandas demo
      es-pandas produce orders.csv --topic orders --key-col order_id --credentials service-key.json
      es-pandas serve --port 8080 --topic orders:3

    Each command's --help has more.
    """
