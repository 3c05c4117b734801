"""Options shared by ``produce`` and ``demo``; each is the twin of a keyword of
``DataFrame.es.produce`` with the same name and default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .._config import DEFAULT_CHUNKSIZE, DEFAULT_CONCURRENCY, DEFAULT_FAIL_AFTER, Limits, Retry
from .._transports import engine_names

__all__ = ["connection_options", "produce_options", "to_produce_keywords"]

F = Callable[..., Any]


def _columns(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def _stack(*decorators: F) -> F:
    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


connection_options = _stack(
    click.option("--url", help="The kafka_http_url (or ES_PANDAS_URL)."),
    click.option(
        "--credentials",
        type=click.Path(dir_okay=False),
        help="A service-credentials JSON file (kafka_http_url, api_key, ...).",
    ),
    click.option(
        "--api-key",
        help="An API key. Prefer ES_PANDAS_API_KEY or --credentials: "
        "command lines are visible to other users.",
    ),
    click.option("--user", help="User name for Basic auth (v1)."),
    click.option("--password", help="Password for --user (or ES_PANDAS_PASSWORD)."),
    click.option("--token", help="A static bearer token (or ES_PANDAS_TOKEN)."),
    click.option("--iam/--no-iam", default=None, help="Exchange the API key for IAM tokens."),
    click.option("--iam-url", help="The IAM token endpoint (default: IBM Cloud's)."),
    click.option(
        "--auth-style",
        type=click.Choice(["bearer", "basic", "x-auth-token"]),
        help="How v1 sends an API key (default: basic token:<key>; v2: bearer).",
    ),
    click.option("--api-version", type=click.Choice(["v1", "v2"]), help="Default: v2."),
    click.option(
        "--ca-bundle",
        type=click.Path(exists=True, dir_okay=False),
        help="Verify TLS with this CA bundle.",
    ),
    click.option("--no-verify", is_flag=True, help="Do not verify TLS certificates."),
    click.option("--timeout", type=float, help="Seconds to wait for an answer (default 30)."),
)

produce_options = _stack(
    click.option("--key-col", help="Column with the record key."),
    click.option("--value-col", help="One column as the whole value."),
    click.option("--value-cols", callback=_columns, help="Columns of the JSON value (a,b,c)."),
    click.option(
        "--value-type",
        type=click.Choice(["json", "text", "binary"]),
        help="How --value-col is sent (default: by the value's type).",
    ),
    click.option("--header-cols", callback=_columns, help="Columns sent as Kafka headers."),
    click.option(
        "--concurrency",
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight at once.",
    ),
    click.option("--max-rate", type=float, help="Requests per second at most."),
    click.option(
        "--retries",
        default=Retry().retries,
        show_default=True,
        help="Retries per row for connection errors, timeouts, 408, 429, 5xx.",
    ),
    click.option(
        "--engine", type=click.Choice(engine_names()), default="aiohttp", show_default=True
    ),
    click.option(
        "--fail-after",
        default=DEFAULT_FAIL_AFTER,
        show_default=True,
        help="Stop after this many 401/403/404 answers in a row.",
    ),
    click.option(
        "--chunksize",
        "--chunk-rows",
        "chunksize",
        default=DEFAULT_CHUNKSIZE,
        show_default=True,
        help="Rows read and encoded at a time.",
    ),
    click.option(
        "--max-key-bytes",
        default=Limits().max_key_bytes,
        show_default=True,
        help="Rows with longer keys are rejected without sending.",
    ),
    click.option(
        "--max-value-bytes",
        default=Limits().max_value_bytes,
        show_default=True,
        help="Rows with longer values are rejected without sending.",
    ),
    click.option(
        "--max-uri-bytes",
        default=Limits().max_uri_bytes,
        show_default=True,
        help="v1 rows whose URI (key, headers) is longer are rejected.",
    ),
    click.option(
        "--progress/--no-progress",
        default=None,
        help="A progress bar (default: when stderr is a terminal).",
    ),
)


def to_produce_keywords(options: dict[str, Any]) -> dict[str, Any]:
    """CLI option values -> ``DataFrame.es.produce`` keywords."""
    keywords = dict(options)
    keywords["limits"] = Limits(
        keywords.pop("max_key_bytes"),
        keywords.pop("max_value_bytes"),
        keywords.pop("max_uri_bytes"),
    )
    ca_bundle, no_verify = keywords.pop("ca_bundle"), keywords.pop("no_verify")
    keywords["verify"] = False if no_verify else ca_bundle
    return keywords
