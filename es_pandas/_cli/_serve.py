"""``es-pandas serve``: the local Event Streams server.

Longer than this project's ~400-line guide: most of it is the command's option
declarations, each a click decorator with its help.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from errno import EACCES, EADDRINUSE
from typing import get_args

import click
from click.core import ParameterSource

from .._wire.limits import Limits
from ..server import FaultConfig, ServerConfig, parse_schema_spec
from ..server._compat import LEVELS
from ..server._config import SCHEMA_HEADERS
from ..server._faults import OverQuota
from ..server._profiles import PROFILES

__all__ = ["serve"]

_API_LIMITS = Limits()


class _ConfigurationError(click.ClickException):
    """One line, and status 2 as for the other configuration errors of the command line."""

    exit_code = 2


def _topics(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    from ..server import parse_topic_spec

    try:
        return dict(parse_topic_spec(v) for v in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _schemas(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, dict[str, str | None]]:
    schemas: dict[str, dict[str, str | None]] = {}
    for spec in values:
        try:
            name, version, comment = parse_schema_spec(spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        schemas.setdefault(name, {})[version] = comment
    return schemas


def _schema_headers(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, str, str]:
    names = tuple(value.split(","))
    if len(names) != 3 or not all(names):
        raise click.BadParameter(f"{value!r} is not ID,VERSION,ENCODING (three header names)")
    return names


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for item in values:
        name, sep, value = item.partition("=" if param.name != "users" else ":")
        if not sep or not name:
            raise click.BadParameter(
                f"{item!r} is not NAME{'=' if param.name != 'users' else ':'}VALUE"
            )
        pairs[name] = value
    return pairs


@click.command()
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default="cloud",
    show_default=True,
    help="The deployment imitated ("
    + "; ".join(f"{name}: {profile.summary}" for name, profile in PROFILES.items())
    + "). Other options override its defaults.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    callback=_topics,
    metavar="NAME[:PARTITIONS]",
    help="Create a topic (repeatable).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    envvar="ES_PANDAS_SERVER_API_KEYS",
    help="Accepted API key, --profile cloud (repeatable; env ES_PANDAS_SERVER_API_KEYS, "
    "space separated). Default: a random key, printed at start.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    callback=_pairs,
    metavar="NAME:PASSWORD",
    help="Accepted Basic-auth user, as on premises (repeatable). Default with --profile "
    "onprem: a user with a random password, printed at start.",
)
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    callback=_pairs,
    metavar="PRINCIPAL=T1,T2",
    help="Topics an API key, user or client certificate's common name may write; others "
    "answer 403 (repeatable).",
)
@click.option(
    "--admin-key",
    "admin_keys",
    multiple=True,
    envvar="ES_PANDAS_SERVER_ADMIN_KEYS",
    help="API key that may also create topics, set faults and reset stats under /_local "
    "(repeatable; env ES_PANDAS_SERVER_ADMIN_KEYS, space separated). Default: any key or "
    "user that --permission does not limit.",
)
@click.option("--no-auth", is_flag=True, help="Accept requests without credentials.")
@click.option(
    "--db",
    default=":memory:",
    metavar="FILE",
    show_default=True,
    help="SQLite file for the records; the default keeps them in memory.",
)
@click.option(
    "--bootstrap-servers",
    metavar="HOST:PORT[,...]",
    help="Store records in this Kafka cluster instead of SQLite (a REST gateway to Kafka).",
)
@click.option(
    "--kafka-config",
    multiple=True,
    callback=_pairs,
    metavar="KEY=VALUE",
    help="A librdkafka setting for --bootstrap-servers (repeatable).",
)
@click.option(
    "--schema",
    "schemas",
    multiple=True,
    callback=_schemas,
    metavar="NAME:VERSION[:COMMENT]",
    help="A schema version v1's schemaname/schemaversion may name, --profile onprem, "
    "with no schema text: besides the subjects registered in /_local/registry "
    "(repeatable); a COMMENT marks it deprecated, and answers then carry it.",
)
@click.option(
    "--schema-compatibility",
    type=click.Choice(LEVELS, case_sensitive=False),
    default="BACKWARD",
    show_default=True,
    metavar="LEVEL",
    help="The schema registry's rule for a subject's new schema versions, unless set through "
    "its API (/_local/registry/config): BACKWARD, the new schema reads the latest version's "
    "data; FORWARD, the other way; FULL, both; _TRANSITIVE, against every earlier version; NONE.",
)
@click.option(
    "--topic-record-name",
    "topic_record_names",
    multiple=True,
    default=["topic_record"],
    show_default=True,
    metavar="SPELLING",
    help="A v2 schema_name_strategy value taken for TopicRecord subjects "
    "(<topic>-<record>-value); IBM documents no spelling for it (repeatable; given, it "
    "replaces the default).",
)
@click.option(
    "--schema-headers",
    default=",".join(SCHEMA_HEADERS),
    callback=_schema_headers,
    metavar="ID,VERSION,ENCODING",
    help="The headers a v1 record sent with schemaname/schemaversion gets, --profile onprem: "
    "the schema's name, its version, its encoding (BINARY or JSON). Default: the names IBM "
    "documents for its serdes, com.ibm.eventstreams.schemaregistry.schema.id, .schema.version "
    "and .encoding; that its REST producer sets them is assumed.",
)
@click.option("--auto-create-topics", is_flag=True, help="Create unknown topics on first write.")
@click.option("--default-partitions", default=1, show_default=True, help="For auto-created topics.")
@click.option(
    "--max-key-bytes",
    default=_API_LIMITS.max_key_bytes,
    show_default=True,
    help="Longer keys are answered 400.",
)
@click.option(
    "--max-value-bytes",
    default=_API_LIMITS.max_value_bytes,
    show_default=True,
    help="Longer values are answered 400.",
)
@click.option(
    "--max-uri-bytes",
    default=_API_LIMITS.max_uri_bytes,
    show_default=True,
    help="Longer v1 URIs are answered 400.",
)
@click.option(
    "--max-request-bytes",
    default=_API_LIMITS.max_request_bytes,
    show_default=True,
    help="Longer request bodies are answered 400 (413 under /_local): v2's JSON envelope, "
    "and the body of every other route.",
)
@click.option(
    "--v2-response",
    type=click.Choice(["metadata", "flat"]),
    default="metadata",
    show_default=True,
    help="Shape of the v2 success body (not documented by IBM).",
)
@click.option(
    "--v1-error-shape",
    type=click.Choice(["v1.1", "v1.0"]),
    help="v1 error bodies: error_code and message at the top level and nested (v1.1, "
    "on premises), or nested only (v1.0, IBM Cloud's). Default: the profile's.",
)
@click.option(
    "--timestamp-format",
    type=click.Choice(["epoch_ms", "iso"]),
    default="epoch_ms",
    show_default=True,
    help="How answers give a record's timestamp (not documented by IBM).",
)
@click.option("--token-ttl", default=3600.0, show_default=True, help="IAM token lifetime (s).")
@click.option(
    "--idle-timeout",
    default=5.0,
    show_default=True,
    help="Close a connection that sends no request for this long (s).",
)
@click.option(
    "--request-timeout",
    default=30.0,
    show_default=True,
    help="Answer 408 to a request not received whole this long after its first byte (s).",
)
@click.option(
    "--latency",
    default="0",
    show_default=True,
    metavar="SECONDS|LOW-HIGH",
    help="Delay added to every produce answer.",
)
@click.option(
    "--fault-rate",
    "fault_rates",
    multiple=True,
    callback=_pairs,
    metavar="ACTION=RATE",
    help="Answer this fraction of requests with ACTION: 503, 429, 408+written, drop, ...",
)
@click.option(
    "--fault-script",
    default="",
    metavar="ACTION[xN],...",
    help="Actions for the first requests in order, e.g. '503x5,drop,ok'.",
)
@click.option("--retry-after", default=1.0, show_default=True, help="Retry-After on 429/503 (s).")
@click.option(
    "--quota",
    type=float,
    help="Requests per second, a burst of one second's worth at once; beyond it answers are "
    "delayed (or refused: --over-quota). Assumed behaviour: IBM documents delayed answers "
    "for byte throughput only, not what happens over its request rates.",
)
@click.option(
    "--over-quota",
    type=click.Choice(get_args(OverQuota)),
    default="delay",
    show_default=True,
    help="What --quota does to a request beyond it: delay its answer until its turn, or "
    "answer 429 Too Many Requests at once (with --retry-after), writing nothing.",
)
@click.option("--seed", type=int, help="Random seed for fault rates and latency.")
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--client-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="Require a client certificate signed by this CA (mutual TLS; with --ssl-certfile); "
    "its common name is the user of a request with no other credentials.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="How much the server logs; debug adds librdkafka's log (--bootstrap-servers).",
)
def serve(
    host: str,
    port: int,
    db: str,
    bootstrap_servers: str | None,
    kafka_config: dict[str, str],
    latency: str,
    fault_rates: dict[str, str],
    fault_script: str,
    retry_after: float,
    quota: float | None,
    over_quota: OverQuota,
    seed: int | None,
    log_level: str,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    client_ca: str | None,
    permissions: dict[str, str],
    no_auth: bool,
    api_keys: tuple[str, ...],
    **settings: object,
) -> None:
    """Run a local Event Streams REST producer, as IBM Cloud has it (v1 and v2 API, API
    keys, IAM tokens) or as on premises (--profile onprem: v1 only, users, schemas).

    \b
    Examples:
      es-pandas serve --topic orders:3
      es-pandas serve --profile onprem --topic orders:3 --schema orders:1.0.0
      es-pandas serve --port 8080 --topic orders:3 --api-key KEY --db records.sqlite3
      es-pandas serve --topic orders:3 --latency 0.01-0.05 --fault-rate 503=0.05 --quota 100
      es-pandas serve --topic orders:3 --quota 5 --over-quota 429 --retry-after 2
      es-pandas serve --topic orders:3 --no-auth --bootstrap-servers 127.0.0.1:9092
      es-pandas serve --topic orders:3 --schema-compatibility FULL
    """
    import uvicorn

    from ..server import KafkaStore, SQLiteStore, create_app
    from ..server._kafka import LIBRDKAFKA_LOG
    from ..server._run import bind_socket, raise_open_file_limit, uvicorn_config

    if client_ca and not ssl_certfile:
        raise click.UsageError("--client-ca (mutual TLS) needs --ssl-certfile")
    keys = [k for item in api_keys for k in item.split()]
    # the configuration makes a key (or on premises a user) when none is given
    generated = not no_auth and not keys and not settings["users"]
    if settings["v1_error_shape"] is None:
        del settings["v1_error_shape"]  # the profile's
    try:
        faults = FaultConfig(
            latency=latency,  # type: ignore[arg-type]
            rates={a: float(r) for a, r in fault_rates.items()},
            retry_after=retry_after,
            quota=quota,
            over_quota=over_quota,
            seed=seed,
        )
        config = ServerConfig(
            auth=not no_auth,
            api_keys=keys,
            permissions={p: t.split(",") for p, t in permissions.items()},
            faults=faults,
            **settings,  # type: ignore[arg-type]
        )
        store = KafkaStore(bootstrap_servers, kafka_config) if bootstrap_servers else None
        app = create_app(config, store=store or SQLiteStore(db))
        app.state.es.faults.script(filter(None, fault_script.split(",")))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if log_level == "debug":
        LIBRDKAFKA_LOG.addHandler(logging.StreamHandler())
        LIBRDKAFKA_LOG.setLevel(logging.DEBUG)
    if store is not None:
        try:
            store.check()
        except ConnectionError as exc:
            raise _ConfigurationError(
                f"{exc}: is a broker running there? (--kafka-config for TLS and SASL; "
                "--log-level debug shows librdkafka's log)"
            ) from None
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        # a port taken or refused has a way out; a host that is not this machine's has not
        hint = " (--port 0 picks a free port)" if exc.errno in (EADDRINUSE, EACCES) else ""
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
        ) from None
    scheme = "https" if ssl_certfile else "http"
    url = f"{scheme}://{host}:{sock.getsockname()[1]}"
    click.echo(f"Event Streams REST producer on {url}", err=True)
    backend = f"Kafka at {bootstrap_servers}" if bootstrap_servers else f"SQLite {db}"
    click.echo(f"  records: {backend}", err=True)
    click.echo(f"  profile: {config.profile}, {config.deployment.summary}", err=True)
    click.echo(
        f"  topics: {', '.join(f'{t}:{n}' for t, n in config.topics.items()) or '(none)'}", err=True
    )
    if config.schemas:
        click.echo(f"  schemas: {_describe_schemas(config.schemas)}", err=True)
    click.echo(
        f"  schema registry: {url}/_local/registry (compatibility {config.schema_compatibility})",
        err=True,
    )
    if faults.latency[1] or faults.rates or faults.quota or fault_script:
        click.echo(f"  faults: {_describe_faults(faults, fault_script)}", err=True)
    if no_auth:
        click.echo("  authentication: off", err=True)
    click.echo("Use it with:", err=True)
    for line in _connection_exports(config, url, generated, client_ca is not None):
        click.echo(f"  {line}", err=True)
    raise_open_file_limit()
    server = uvicorn.Server(
        uvicorn_config(
            app,
            log_level=log_level,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            client_ca=client_ca,
        )
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        sys.exit(130)  # uvicorn has shut down cleanly; no "Aborted!"


def _connection_exports(
    config: ServerConfig, url: str, generated: bool, client_certificates: bool
) -> list[str]:
    """The lines that give a client the settings this server takes. A key or password
    the user chose is a credential, and credentials never appear in output: the lines
    name where the user gave it instead."""
    # No API version: the client finds it (v1 for Basic credentials, and where there
    # is no v2 route, as in the onprem profile).
    lines = [f"export ES_PANDAS_URL={url}"]
    if config.auth:
        lines.append(_credentials_export(config, generated))
    if client_certificates:
        lines.append(
            "export ES_PANDAS_CLIENT_CERT='<a certificate --client-ca signed>' "
            "ES_PANDAS_CLIENT_KEY='<its private key>'"
        )
    return lines


def _credentials_export(config: ServerConfig, generated: bool) -> str:
    if generated and config.api_keys:
        [key] = config.api_keys
        return f"export ES_PANDAS_API_KEY={key}  # generated for this run"
    if generated:
        [(user, password)] = config.users.items()
        return (
            f"export ES_PANDAS_USER={user} ES_PANDAS_PASSWORD={password}  # generated for this run"
        )
    if config.api_keys:
        source = click.get_current_context().get_parameter_source("api_keys")
        where = (
            "a key from ES_PANDAS_SERVER_API_KEYS"
            if source is ParameterSource.ENVIRONMENT
            else "the key you gave --api-key"
        )
        return f"export ES_PANDAS_API_KEY='<{where}>'"
    return "export ES_PANDAS_USER='<NAME of --user>' ES_PANDAS_PASSWORD='<PASSWORD of --user>'"


def _describe_schemas(schemas: Mapping[str, Mapping[str, str | None]]) -> str:
    return ", ".join(
        f"{name}:{version}" + (" (deprecated)" if comment is not None else "")
        for name, versions in schemas.items()
        for version, comment in versions.items()
    )


def _describe_faults(faults: FaultConfig, script: str) -> str:
    parts = []
    low, high = faults.latency
    if high:
        parts.append(f"latency {low:g}s" if low == high else f"latency {low:g}-{high:g}s")
    parts += [f"{action} for {rate:.0%}" for action, rate in faults.rates.items()]
    if faults.quota:
        beyond = "answered 429" if faults.over_quota == "429" else "delayed"
        parts.append(f"quota {faults.quota:g} requests/s (beyond it {beyond})")
    if script:
        parts.append(f"script {script}")
    return ", ".join(parts)
