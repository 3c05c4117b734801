"""The ``es-pandas`` command: ``produce``, ``demo`` and ``serve``."""

from __future__ import annotations

import click

from ..__version__ import __version__
from ._demo import demo
from ._produce import produce
from ._serve import serve

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="es-pandas")
def main() -> None:
    """Send pandas DataFrames and data files to IBM Event Streams, one record per row,
    and run a local Event Streams server."""


main.add_command(produce)
main.add_command(demo)
main.add_command(serve)
