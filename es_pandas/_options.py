"""The one declaration of every option of a run.

:class:`ProduceOptions` (and :class:`FileOptions`, its superset for files) is the only
place that names an option: its type (for editors and type checkers, through
``**options: Unpack[ProduceOptions]``), and, in the :class:`Option` it is annotated
with, its default, its help text, its environment variable, its command-line flags and
its validation. ``df.es.produce``, :class:`~es_pandas.Producer`, ``produce_file``, the
``es-pandas`` flags, the docstrings' parameter lists and ``ENVIRONMENT_VARIABLES`` are
all derived from it.

``None`` is the same as leaving an option out everywhere: the next source (a
``Producer``, the credentials file, the environment, the default) decides.

Longer than this project's ~400-line guide on purpose: the declaration is one class, so
that every option is in one place and read in one go.
"""

from __future__ import annotations

import difflib
import re
import textwrap
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from . import _checks as checks
from ._checks import ColumnType, Credentials
from ._progress import LINE_SECONDS, Progress
from ._retry import DOWN_SECONDS, Retry
from ._transports import Engine
from ._wire.dialect import RECORD_ID_HEADER
from ._wire.limits import Limits
from ._wire.values import AvroSchema

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "FILE_OPTIONS",
    "OPTIONS",
    "PRODUCE_OPTIONS",
    "SCHEMA_OPTIONS",
    "FileOptions",
    "Flag",
    "Option",
    "ProduceOptions",
    "check_options",
    "help_text",
    "parameters_doc",
]

HeaderSource = Sequence[Hashable] | Callable[[dict[Hashable, Any]], Mapping[str, object]]


@dataclass(frozen=True)
class Flag:
    """One command-line flag of an option whose flags are not simply ``--its-name``."""

    name: str
    #: None: the option's own
    help: str | None = None
    #: "value" takes an argument of ``type``; "switch" is a flag that is on or absent;
    #: "multiple" takes an argument each time it is given
    kind: Literal["value", "switch", "multiple"] = "value"
    type: type = str
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """The flag's value's name: ``--client-cert`` -> ``client_cert``."""
        return self.name.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Option:
    """What is known of an option besides its name and type."""

    help: str
    default: Any = None
    #: normalises a value from any source, or raises ConfigurationError naming the option
    check: Callable[[str, Any], Any] | None = None
    #: environment variables it is read from (several when one option takes several)
    env: tuple[str, ...] = ()
    #: turns the environment variables' values (in ``env`` order) into a value
    from_env: Callable[[list[str | None]], Any] | None = None
    #: it changes which credentials a run uses or how they are sent: a Producer's
    #: credentials (and IAM token) are built again when a call gives it
    auth: bool = False
    #: the CLI flags when they are not ``--name`` (derived from the type); empty: no flag
    flags: tuple[Flag, ...] | None = None
    #: turns the flags' values (by flag name, None when not given) into the option's value
    from_flags: Callable[[Mapping[str, Any]], Any] | None = None
    #: other spellings of the derived flag
    aliases: tuple[str, ...] = ()
    #: what the derived flag's value is called in --help, where its type would only
    #: say TEXT (as ``Flag.metavar``)
    metavar: str | None = None
    #: why there is no CLI twin, when there is none
    no_flag: str = ""
    #: the command line's default, where a script's exit status needs another one
    cli_default: Any = None
    #: the default as the docs show it, when ``default`` does not say it
    shows: str = ""
    #: what Python callers may also pass (the docstrings say it, the CLI does not)
    python: str = ""


# -- the declaration ------------------------------------------------------------------


class ProduceOptions(TypedDict, total=False):
    """The options of a run, all keyword-only and all optional; ``None`` is the same as
    leaving one out.

    Used as ``**options: Unpack[ProduceOptions]``, so editors complete them and type
    checkers check them; each field's :class:`Option` holds the rest.
    """

    # Rows to records
    key_col: Annotated[
        Hashable | None,
        Option(
            "The column whose values are the record keys; a null key rejects its row.",
            check=checks.column,
            metavar="COLUMN",
        ),
    ]
    value_col: Annotated[
        Hashable | None,
        Option(
            "One column as the whole value: bytes as binary, str as text, anything else "
            "as JSON (override with {value_type}).",
            check=checks.column,
            metavar="COLUMN",
        ),
    ]
    value_cols: Annotated[
        Sequence[Hashable] | None,
        Option(
            "The columns of the JSON object value; default: every column but the key "
            "and the header columns.",
            check=checks.columns,
        ),
    ]
    value_type: Annotated[
        Literal["json", "text", "binary"] | None,
        Option(
            "How {value_col} is sent; default: by each value's type.",
            check=checks.choice(("json", "text", "binary")),
        ),
    ]
    value_format: Annotated[
        Literal["json", "avro"] | None,
        Option(
            "json: the value columns as a JSON object (or {value_col} by {value_type}). "
            "avro: an Avro record of the value columns (or {value_col}'s values) under "
            "{value_schema}, checked row by row (a value that does not fit rejects its "
            "row); v2 sends it with its schema for the schema registry "
            "(?serializer=confluent), v1 as Avro binary with {schemaname}. Needs the "
            "avro extra.",
            default="json",
            check=checks.choice(("json", "avro")),
        ),
    ]
    value_schema: Annotated[
        AvroSchema | None,
        Option(
            "The Avro schema of the values: the path of an .avsc file, or the schema as "
            "JSON text; default (v2 only): inferred from the frame's dtypes and values, "
            "a file's from its first chunk with every field nullable "
            "(es_pandas.infer_schema shows it).",
            python="Or the schema as a dict.",
            check=checks.avro_schema,
            metavar="PATH|JSON",
        ),
    ]
    key_format: Annotated[
        Literal["text", "avro"] | None,
        Option(
            "text: keys as text (bytes as binary). avro (v2 only): the {key_col} values "
            "as Avro, under {key_schema}.",
            default="text",
            check=checks.choice(("text", "avro")),
        ),
    ]
    key_schema: Annotated[
        AvroSchema | None,
        Option(
            "The Avro schema of the keys, as {value_schema}; default: inferred from the "
            'key column ("string", "long", ...).',
            python="Or the schema as a dict.",
            check=checks.avro_schema,
            metavar="PATH|JSON",
        ),
    ]
    schema_name: Annotated[
        str | None,
        Option(
            "The name of an inferred Avro record; default: the topic, each character an "
            "Avro name cannot hold as _ (and _ before a leading digit). An inferred key "
            "record is <name>_key.",
            check=checks.avro_name(dotted=False),
            metavar="NAME",
        ),
    ]
    schema_namespace: Annotated[
        str | None,
        Option(
            "The namespace of an inferred Avro record.",
            check=checks.avro_name(dotted=True),
            metavar="NAMESPACE",
        ),
    ]
    schema_strategy: Annotated[
        str | None,
        Option(
            "How the registry names an Avro schema's subject (v2 schema_name_strategy): "
            "topic (<topic>-value), record (<namespace.name>-value) or topic_record "
            "(<topic>-<namespace.name>-value). IBM's spelling of topic_record is "
            "unconfirmed: any other word is sent as it is.",
            default="topic",
            check=checks.token,
            metavar="topic|record|topic_record",
        ),
    ]
    header_cols: Annotated[
        HeaderSource | None,
        Option(
            "Kafka headers: columns, each sent under its name (nulls omitted).",
            python="Or a function from the row as {column: value} to {name: str | bytes}.",
            check=checks.header_cols,
        ),
    ]
    record_id: Annotated[
        Hashable | None,
        Option(
            "Give each record a header ({record_id_header}) with a stable id, the same on "
            "every attempt and in every run that sends the row, for consumers to drop "
            "duplicates: hash (a BLAKE2b digest of the key, value and headers, 32 hex "
            "digits; identical rows share it) or a column's value as text (a null id rejects "
            "its row). The status gets a record_id column.",
            check=checks.column,
            metavar="hash|COLUMN",
        ),
    ]
    record_id_header: Annotated[
        str | None,
        Option(
            "The name of the {record_id} header.",
            default=RECORD_ID_HEADER,
            check=checks.text,
        ),
    ]
    schemaname: Annotated[
        str | None,
        Option(
            "On premises (v1): the registered schema the values conform to, sent as the "
            "schemaname query parameter. With {value_format} avro the values are Avro "
            "binary written by {value_schema} (that schema); else they go as they are: "
            "Avro binary with {value_type} binary, Avro JSON with json.",
            check=checks.text,
        ),
    ]
    schemaversion: Annotated[
        str | None,
        Option("The version of {schemaname}, sent as schemaversion.", check=checks.text),
    ]
    text_content_type: Annotated[
        str | None,
        Option(
            "The Content-Type of v1 text values (IBM lists text/plain).",
            default="text/plain",
            check=checks.media_type,
        ),
    ]
    # Where and how to connect
    protocol: Annotated[
        Literal["rest", "kafka"] | None,
        Option(
            "rest: one REST request per row to {url}. kafka: the Kafka protocol to "
            "{bootstrap_servers} with confluent-kafka (the kafka extra), thousands of rows "
            "a second past the REST quota: the same rows, records and status frame; the "
            "same credentials as SASL; an idempotent producer (a retry writes nothing "
            "twice); Kafka keeps each key's order; each record may take timeout x "
            "(retries + 1) seconds before it is unknown.",
            default="rest",
            check=checks.choice(("rest", "kafka")),
            env=("ES_PANDAS_PROTOCOL",),
            auth=True,
        ),
    ]
    bootstrap_servers: Annotated[
        str | Sequence[str] | None,
        Option(
            "The Kafka brokers for {protocol} kafka, host:port[,host:port...]: the "
            "kafka_brokers_sasl of your service credentials.",
            python="Or a list of host:port.",
            check=checks.bootstrap_servers,
            env=("ES_PANDAS_BOOTSTRAP_SERVERS",),
            metavar="HOST:PORT[,...]",
            auth=True,
        ),
    ]
    kafka_config: Annotated[
        Mapping[str, Any] | None,
        Option(
            "librdkafka settings for {protocol} kafka, over es_pandas' own: "
            "sasl.mechanism, security.protocol, linger.ms, message.max.bytes ...",
            python="A dict.",
            check=checks.kafka_config,
            flags=(
                Flag(
                    "--kafka-config",
                    "A librdkafka setting for --protocol kafka (repeat for several).",
                    kind="multiple",
                    metavar="KEY=VALUE",
                ),
            ),
            from_flags=checks.multiple("kafka_config"),
            auth=True,
        ),
    ]
    url: Annotated[
        str | None,
        Option(
            "The kafka_http_url of your service credentials. User info in it "
            "(https://user:password@host) is taken as credentials and never shown.",
            check=checks.url,
            env=("ES_PANDAS_URL",),
            metavar="URL",
            auth=True,
        ),
    ]
    credentials: Annotated[
        Credentials | None,
        Option(
            "A credentials JSON file: IBM Cloud's service key (its kafka_http_url, "
            "kafka_brokers_sasl, and api_key or apikey, or user and password), or on "
            "premises url, bootstrap_servers, user, "
            "password, api_version, ca_bundle, ca_password, client_cert, client_key and "
            "client_cert_password (paths from the file's folder).",
            python="Or the same as a dict.",
            check=checks.credentials,
            env=("ES_PANDAS_CREDENTIALS",),
            metavar="PATH",
            auth=True,
        ),
    ]
    api_key: Annotated[
        str | None,
        Option(
            "An API key: sent as Bearer (with {api_version} v1, Basic token:<key>, or as "
            "{auth_style} says), or exchanged for IAM tokens ({iam}). On a command line, "
            "which other users can see, prefer ES_PANDAS_API_KEY or {credentials}.",
            check=checks.secret,
            env=("ES_PANDAS_API_KEY",),
            auth=True,
        ),
    ]
    user: Annotated[
        str | None,
        Option(
            "A user name for Basic auth (v1; on premises, a SCRAM user).",
            check=checks.secret,
            env=("ES_PANDAS_USER",),
            auth=True,
        ),
    ]
    password: Annotated[
        str | None,
        Option(
            "The password of {user}.", check=checks.secret, env=("ES_PANDAS_PASSWORD",), auth=True
        ),
    ]
    token: Annotated[
        str | None,
        Option("A static bearer token.", check=checks.secret, env=("ES_PANDAS_TOKEN",), auth=True),
    ]
    iam: Annotated[
        bool | None,
        Option(
            "Exchange the API key for IAM access tokens, renewed before they expire.",
            default=False,
            check=checks.boolean,
            env=("ES_PANDAS_IAM",),
            from_env=checks.env_bool,
            auth=True,
        ),
    ]
    iam_url: Annotated[
        str | None,
        Option(
            "The IAM token endpoint.",
            default="https://iam.cloud.ibm.com/identity/token",
            check=checks.endpoint,
            env=("ES_PANDAS_IAM_URL",),
            metavar="URL",
            auth=True,
        ),
    ]
    auth_style: Annotated[
        Literal["bearer", "basic", "x-auth-token"] | None,
        Option(
            "How v1 sends an API key; v2 takes Bearer only.",
            check=checks.choice(("bearer", "basic", "x-auth-token")),
            shows="basic on v1, bearer on v2",
            auth=True,
        ),
    ]
    api_version: Annotated[
        Literal["auto", "v1", "v2"] | None,
        Option(
            "The REST producer API: v2 (JSON envelope, IBM Cloud), v1 (value as the body; "
            "on-premises Event Streams has only v1), or auto: v1 with Basic credentials "
            "or a {schemaname}, else v2 if the endpoint has a v2 route (asked once per "
            "run with a request that cannot write a record), else v1.",
            default="auto",
            check=checks.choice(("auto", "v1", "v2")),
            env=("ES_PANDAS_API_VERSION",),
            auth=True,
        ),
    ]
    success_body: Annotated[
        Literal["event-streams", "any"] | None,
        Option(
            "Which 2xx answers make a row ok. event-streams: until a row gets Event "
            "Streams' success body (JSON with metadata, or partition and offset), a 2xx "
            "with another body says the URL is not Event Streams: its row ends unknown, "
            "and {fail_after} in a row stop the run. any: every 2xx.",
            default="event-streams",
            check=checks.choice(("event-streams", "any")),
            env=("ES_PANDAS_SUCCESS_BODY",),
        ),
    ]
    verify: Annotated[
        bool | str | None,
        Option(
            "TLS verification: True (certifi's CA bundle, or SSL_CERT_FILE), False, or "
            "the path of a CA bundle: PEM, or PKCS#12 with {ca_password} (on premises: "
            "the cluster's es-cert.pem or es-cert.p12).",
            default=True,
            check=checks.verify,
            env=("ES_PANDAS_CA_BUNDLE",),
            flags=(
                Flag(
                    "--ca-bundle",
                    "Verify TLS with this CA bundle: PEM, or PKCS#12 with --ca-password.",
                    metavar="PATH",
                ),
                Flag("--no-verify", "Do not verify TLS certificates.", kind="switch"),
            ),
            from_flags=checks.verify_from_flags,
        ),
    ]
    ca_password: Annotated[
        str | None,
        Option(
            "The password of a PKCS#12 CA bundle given as {verify}. On a command line, "
            "which other users can see, prefer ES_PANDAS_CA_PASSWORD.",
            check=checks.password,
            env=("ES_PANDAS_CA_PASSWORD",),
        ),
    ]
    cert: Annotated[
        str | tuple[str, str] | None,
        Option(
            "A client certificate for mutual TLS, alone or with other credentials (on "
            "premises: the KafkaUser's): one PEM file with the key and the certificate "
            "chain, a (certificate, key) pair of PEM files (user.crt, user.key), or a "
            "PKCS#12 bundle (user.p12) with {cert_password}.",
            check=checks.cert,
            env=("ES_PANDAS_CLIENT_CERT", "ES_PANDAS_CLIENT_KEY"),
            from_env=checks.env_cert,
            flags=(
                Flag(
                    "--client-cert",
                    "Client certificate for mutual TLS: PEM (with its key, or with "
                    "--client-key), or PKCS#12 (with --client-cert-password).",
                    metavar="PATH",
                ),
                Flag("--client-key", "Its private key, if not in --client-cert.", metavar="PATH"),
            ),
            from_flags=checks.cert_from_flags,
        ),
    ]
    cert_password: Annotated[
        str | None,
        Option(
            "The password of {cert}: of a PKCS#12 bundle, or of an encrypted PEM key. "
            "On a command line, which other users can see, prefer "
            "ES_PANDAS_CLIENT_CERT_PASSWORD.",
            check=checks.password,
            env=("ES_PANDAS_CLIENT_CERT_PASSWORD",),
            flags=(
                Flag(
                    "--client-cert-password",
                    "The password of --client-cert (PKCS#12) or of its encrypted key; "
                    "ES_PANDAS_CLIENT_CERT_PASSWORD keeps it off the command line, where "
                    "other users can see it.",
                    metavar="TEXT",
                ),
            ),
            from_flags=checks.flag("client_cert_password"),
        ),
    ]
    proxy: Annotated[
        str | None,
        Option(
            "An HTTP proxy for every request (http://[user:password@]host:port); default: "
            "HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, except the hosts in NO_PROXY.",
            check=checks.proxy,
            metavar="URL",
        ),
    ]
    trust_env: Annotated[
        bool | None,
        Option(
            "Honour the standard HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, "
            "SSL_CERT_FILE and SSL_CERT_DIR variables.",
            default=True,
            check=checks.boolean,
        ),
    ]
    timeout: Annotated[
        float | None,
        Option(
            "Seconds a request may take, from connecting to the answer's last byte.",
            default=30.0,
            check=checks.positive,
        ),
    ]
    # The run
    concurrency: Annotated[
        int | None,
        Option("Requests in flight at once.", default=32, check=checks.integer(1)),
    ]
    ordering: Annotated[
        Literal["key", "none"] | None,
        Option(
            "key: rows that share a key are written in row order (one request in flight "
            "per key, a retry holds the key's later rows; a frame with one key goes one "
            "request at a time). none: no order. Rows without a key have none.",
            default="key",
            check=checks.choice(("key", "none")),
        ),
    ]
    on_key_error: Annotated[
        Literal["continue", "hold"] | None,
        Option(
            "When a row of a key ends failed, unknown or rejected ({ordering} key): continue sends "
            "the key's later rows; hold keeps them not_sent, saying why.",
            default="continue",
            check=checks.choice(("continue", "hold")),
        ),
    ]
    max_rate: Annotated[
        float | Literal["auto"] | None,
        Option(
            "Requests per second at most (IBM Cloud: Lite 5, Standard 100), or auto. In any case "
            "the run slows down when the server pushes back (429, or many 503s) and "
            "speeds up again as answers come back clean; auto also slows down when "
            "answers come back slower (IBM Cloud delays answers over a plan's quota).",
            python="float('inf') lifts a Producer's cap.",
            check=checks.max_rate,
            shows="no cap",
            flags=(
                Flag(
                    "--max-rate",
                    metavar="N|auto",
                ),
            ),
            from_flags=checks.max_rate_from_flags,
        ),
    ]
    retries: Annotated[
        int | Retry | None,
        Option(
            "Retries per row after connection errors, timeouts, 408, 429 and 5xx.",
            python="Or an es_pandas.Retry, for backoff and statuses.",
            default=4,
            check=checks.retries,
        ),
    ]
    engine: Annotated[
        Engine | None,
        Option(
            "The HTTP library: aiohttp or httpx.",
            python="Or an es_pandas.transports.AsyncTransport subclass.",
            default="aiohttp",
            check=checks.engine,
        ),
    ]
    fail_after: Annotated[
        int | None,
        Option(
            "Stop the run after this many answers in a row that are about the run, not "
            "the row (401, 403, 404, 405, 501, redirects, web pages, 2xx without Event "
            "Streams' success body: {success_body}), or that never come; and, before "
            "any row is ok, after this many rows failed, every retry spent, in a run of "
            "5xx and 408 answers (at least 10, and {concurrency}). After one such row, "
            f"such answers for {DOWN_SECONDS} s stop it too: a run that has written rows "
            "rides out a shorter outage.",
            default=3,
            check=checks.integer(1),
        ),
    ]
    chunksize: Annotated[
        int | None,
        Option(
            "Rows read and encoded at a time.",
            default=10_000,
            check=checks.integer(1),
            aliases=("--chunk-rows",),
        ),
    ]
    limits: Annotated[
        Limits | None,
        Option(
            "The API's size limits, checked before sending: rows over them are rejected.",
            python="An es_pandas.Limits.",
            default=Limits(),
            check=checks.instance(Limits),
            flags=(
                Flag(
                    "--max-key-bytes",
                    f"Longer keys reject their row. [default: {Limits.max_key_bytes}]",
                    type=int,
                ),
                Flag(
                    "--max-value-bytes",
                    f"Longer values reject their row. [default: {Limits.max_value_bytes}]",
                    type=int,
                ),
                Flag(
                    "--max-uri-bytes",
                    "Longer v1 URIs (key, headers) reject their row. "
                    f"[default: {Limits.max_uri_bytes}]",
                    type=int,
                ),
                Flag(
                    "--max-request-bytes",
                    "Longer v2 request bodies (the JSON envelope) reject their row. "
                    f"[default: {Limits.max_request_bytes}]",
                    type=int,
                ),
            ),
            from_flags=checks.limits_from_flags,
            shows=(
                "es_pandas.Limits(): key 4096, value 65536, v1 URI 10240, v2 request 65536 bytes"
            ),
        ),
    ]
    progress: Annotated[
        Progress | None,
        Option(
            "A progress bar: by default where someone can see it (a widget in Jupyter, "
            "text on a terminal, nothing in CI); turned on, always (where stderr is a file "
            f"or a pipe, a job's log, a line every {LINE_SECONDS:g} s); turned off, never.",
            python="True, False, or a callable receiving es_pandas.ProgressEvent.",
            check=checks.progress,
            shows="where someone can see it",
        ),
    ]
    errors: Annotated[
        Literal["collect", "raise"] | None,
        Option(
            "collect: return the status frame; raise: raise es_pandas.ProduceError "
            "(carrying it) when any row is not ok. On the command line raise exits 1 "
            "with the most frequent errors, and collect exits 0 (the rows not ok are in "
            "--status-out).",
            default="collect",
            cli_default="raise",
            check=checks.choice(("collect", "raise")),
        ),
    ]
    dead_letter: Annotated[
        str | None,
        Option(
            "Write every row that does not end ok here (.jsonl, .csv or .parquet), as the "
            "run goes and in input order: its columns, then status, error, http_status, "
            "trace and attempts. Fix it and send it again: those five columns are "
            "dropped from a file or frame that has them all.",
            check=checks.path,
            metavar="PATH",
        ),
    ]


class FileOptions(ProduceOptions, total=False):
    """:class:`ProduceOptions`, and how a file is read and accounted for."""

    format: Annotated[
        Literal["csv", "tsv", "jsonl", "parquet"] | None,
        Option(
            "The file's format; default: from its extension, before any .gz, .bz2, .xz or "
            ".zip (stdin: csv).",
            check=checks.choice(("csv", "tsv", "jsonl", "parquet")),
        ),
    ]
    encoding: Annotated[
        str | None,
        Option(
            "The text encoding of a CSV, TSV or JSON Lines file.",
            default="utf-8",
            check=checks.encoding,
        ),
    ]
    sep: Annotated[
        str | None,
        Option(
            "The field separator of a CSV or TSV file.",
            check=checks.separator,
            shows="',' (csv), tab (tsv)",
        ),
    ]
    na_values: Annotated[
        Sequence[str] | None,
        Option(
            "Strings of a CSV or TSV file that are null; by default none is, and NA, "
            "None, null and the empty string are sent as they are.",
            check=checks.strings,
            flags=(
                Flag(
                    "--na-values",
                    "A string that is null (repeat for several; '' for empty fields).",
                    kind="multiple",
                    metavar="TEXT",
                ),
            ),
            from_flags=checks.multiple("na_values"),
        ),
    ]
    decimal: Annotated[
        str | None,
        Option(
            "The decimal mark of the numbers of a CSV or TSV file's int and float "
            "columns ({dtype}, {infer_types}): ',' reads 1,5 as 1.5, as a German or "
            "French export writes it (a point is then no decimal mark: 1.5 is rejected).",
            default=".",
            check=checks.decimal_mark,
            metavar="CHAR",
        ),
    ]
    thousands: Annotated[
        str | None,
        Option(
            "The thousands separator of the numbers of a CSV or TSV file's int and float "
            "columns ({dtype}, {infer_types}): '.' reads 1.234 as 1234 and, with "
            "{decimal} ',', 1.234,5 as 1234.5; digits must be grouped in threes.",
            check=checks.decimal_mark,
            metavar="CHAR",
        ),
    ]
    dtype: Annotated[
        Mapping[str, ColumnType | type[str | int | float | bool]] | None,
        Option(
            "Types of columns of a CSV or TSV file (str, int, float, bool, json); a "
            "value that is not of its column's type rejects its row. Other columns are "
            "text, as in the file, unless {infer_types}.",
            python="A dict of column names to type names, or to Python types as pandas "
            "takes them ({'amount': float}).",
            check=checks.dtype,
            flags=(
                Flag(
                    "--dtype",
                    "A column's type, as COLUMN=TYPE with TYPE one of str, int, float, "
                    "bool, json (repeat for several).",
                    kind="multiple",
                    metavar="COL=TYPE",
                ),
            ),
            from_flags=checks.multiple("dtype"),
        ),
    ]
    infer_types: Annotated[
        bool | None,
        Option(
            "Infer the types of a CSV or TSV file's columns (but the key's) from its "
            "first chunk: int, float or bool where every value is written as one "
            "and reads back the same (007 and 18446744073709551615 stay text; 1.10 is "
            "the float 1.1; a column whose fractions all read as thousands too, 1.000 "
            "or 2.500, stays text, unless {thousands} is given); later rows whose value "
            "does not fit are rejected.",
            default=False,
            check=checks.boolean,
        ),
    ]
    status_out: Annotated[
        str | None,
        Option(
            "Write each row's status here (.csv or .parquet), numbered from 0 in row.",
            check=checks.path,
            metavar="PATH",
        ),
    ]
    resume: Annotated[
        str | None,
        Option(
            "A status file of an earlier load of the file to the topic: its ok rows are not "
            "sent again, nor its "
            "unknown ones unless {retry_unknown}.",
            check=checks.path,
            metavar="PATH",
        ),
    ]
    retry_unknown: Annotated[
        bool | None,
        Option(
            "With {resume}, send the rows whose outcome was unknown again (they may be "
            "written twice; they are flagged maybe_duplicate).",
            default=False,
            check=checks.boolean,
        ),
    ]


def _declared(options: type) -> dict[str, tuple[Any, Option]]:
    hints = typing.get_type_hints(options, include_extras=True)
    return {name: (hint.__origin__, hint.__metadata__[0]) for name, hint in hints.items()}


#: every option: name -> (type, Option), in declaration order
OPTIONS: dict[str, tuple[Any, Option]] = _declared(FileOptions)
#: the names of the options of a run (of a DataFrame)
PRODUCE_OPTIONS: tuple[str, ...] = tuple(ProduceOptions.__annotations__)
#: the names of the options that only a file load has
FILE_OPTIONS: tuple[str, ...] = tuple(name for name in OPTIONS if name not in PRODUCE_OPTIONS)
#: the names of the options that decide the Avro schemas a file load infers: how the
#: file is read (its first chunk is what they are inferred from), the columns' roles,
#: and the record's names (``es-pandas schema`` takes these)
SCHEMA_OPTIONS: tuple[str, ...] = (
    "key_col",
    "value_col",
    "value_cols",
    "schema_name",
    "schema_namespace",
    "header_cols",
    "record_id",
    "chunksize",
    "format",
    "encoding",
    "sep",
    "na_values",
    "decimal",
    "thousands",
    "dtype",
    "infer_types",
)
#: environment variable -> the option it sets
ENVIRONMENT_VARIABLES: dict[str, str] = {
    variable: name for name, (_, option) in OPTIONS.items() for variable in option.env
}


def check_options(options: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    """The options that are set (not None), each validated and normalised."""
    for name in options:
        if name not in allowed:
            raise TypeError(f"unexpected keyword argument {name!r}{_suggestion(name, allowed)}")
    checked = {}
    for name, value in options.items():
        if value is not None:
            check = OPTIONS[name][1].check
            checked[name] = check(name, value) if check else value
    return checked


# pandas' read_csv names, by the option that is theirs here
_PANDAS_NAMES = {"delimiter": "sep"}


def _suggestion(name: str, allowed: Sequence[str]) -> str:
    if name in OPTIONS:
        return " (an option of loading files: es_pandas.produce_file, es-pandas produce)"
    ours = _PANDAS_NAMES.get(name)
    close = [ours] if ours in allowed else difflib.get_close_matches(name, allowed, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def help_text(option: Option, *, flag: Callable[[str], str] = str) -> str:
    """An option's help, its references to other options spelled by ``flag``."""
    return option.help.format_map({name: flag(name) for name in OPTIONS})


def parameters_doc(names: Sequence[str]) -> str:
    """The numpydoc lines of ``names``, from the declaration (for docstrings)."""
    lines = []
    for name in names:
        kind, option = OPTIONS[name]
        default = option.shows or (repr(option.default) if option.default is not None else "")
        lines.append(f"{name} : {_type_text(kind)}" + (f", default {default}" if default else ""))
        text = " ".join(filter(None, [help_text(option), option.python]))
        lines += [f"    {line}" for line in textwrap.wrap(text, 84)]
    return "\n".join(lines)


def _type_text(kind: Any) -> str:
    if typing.get_origin(kind) is Literal:
        return "{" + ", ".join(repr(arg) for arg in typing.get_args(kind)) + "}"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(kind) if m is not type(None)]
        return " | ".join(_type_text(member) for member in members)
    text = getattr(kind, "__name__", None) if not typing.get_args(kind) else None
    # module paths say nothing to a reader of the docs
    return text or re.sub(r"\b(?:collections\.abc|typing|os|es_pandas\.[\w.]+)\.", "", str(kind))
