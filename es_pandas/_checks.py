"""How option values are checked and read: from arguments, the environment and the
command line. Each check takes the option's name (for the message) and a value, and
returns the value normalised or raises :class:`ConfigurationError` naming the option.

Just over this project's ~400-line guide: one small function per kind of value, which
the declaration in :mod:`._options` names; split, they would be looked for in two places.
"""

from __future__ import annotations

import codecs
import os
import re
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError
from ._progress import Progress
from ._retry import Retry
from ._transports import Engine, check_engine, check_proxy_url, split_userinfo
from ._wire.limits import Limits

Credentials = str | os.PathLike[str] | Mapping[str, Any]
#: a type ``dtype`` may give a column of a CSV or TSV file
ColumnType = Literal["str", "int", "float", "bool", "json"]
TYPES: tuple[str, ...] = typing.get_args(ColumnType)

# -- validation -------------------------------------------------------------------


def fail(name: str, expected: str, value: object) -> ConfigurationError:
    return ConfigurationError(f"{name} must be {expected}, not {value!r}")


def integer(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        # numbers.Integral takes numpy's integers too (a value from a frame or config)
        if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
            raise fail(name, f"an integer of at least {minimum}", value)
        return int(value)

    return check


def positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
        raise fail(name, "a positive number", value)
    return float(value)


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(name, "True or False", value)
    return value


def text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise fail(name, "a non-empty string", value)
    return value


def password(name: str, value: Any) -> str:
    """A secret that is never sent (a PKCS#12 bundle's password). The messages name
    the option, never the value."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string")
    if any(char in "\r\n" for char in value):
        raise ConfigurationError(
            f"{name} contains a line break (a trailing newline from a file?); remove it"
        )
    return value


def secret(name: str, value: Any) -> str:
    # Secrets go into request headers: a line break would end the header and start
    # another (header injection). HTTP allows Latin-1 there in theory, but the engines
    # disagree on sending it (aiohttp as UTF-8, httpx not at all), and no API key or
    # generated password is anything but printable ASCII.
    checked = password(name, value)
    if not (checked.isascii() and checked.isprintable()):
        raise ConfigurationError(
            f"{name} contains characters that cannot go into an HTTP header (control "
            "characters or anything but ASCII); check that it was copied whole"
        )
    return checked


def _address(name: str, value: Any) -> str:
    """A URL's text; anything else is named by its type alone, never shown: it may hold
    user info (user:password@) all the same (bytes, a list)."""
    if not isinstance(value, str) or not value:
        given = "an empty one" if isinstance(value, str) else f"a {type(value).__name__}"
        raise ConfigurationError(f"{name} must be a non-empty string, not {given}")
    return value


def url(name: str, value: Any) -> str:
    address = _address(name, value)
    # No message shows the URL whole: user info in it may hold a password.
    if not address.startswith(("http://", "https://")):
        try:
            shown = split_userinfo(address)[0]
        except ValueError:
            shown = address
        # without a scheme user info is not where a URL has it: all before any "@" goes
        shown = shown.rpartition("@")[2]
        raise ConfigurationError(f"{name} must start with http:// or https://: {shown!r}")
    if not (address.isascii() and address.isprintable()) or " " in address:
        # An engine may drop a line break silently and send to another path.
        raise ConfigurationError(
            f"{name} holds spaces, line breaks or other characters a URL cannot carry "
            "unencoded; percent-encode them"
        )
    try:
        parts = urlsplit(address)
    except ValueError:  # an unclosed [ of an IPv6 address
        raise ConfigurationError(f"{name} is not a valid URL") from None
    if parts.query or parts.fragment or address.endswith(("?", "#")):
        raise ConfigurationError(
            f"{name} must be the service's base URL, without a query or fragment"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        valid = False
    else:
        valid = bool(parts.hostname)
    if not valid or "@" in address[len(parts.scheme) + 3 + len(parts.netloc) :]:
        raise ConfigurationError(
            f"{name} is not a valid URL; if it holds user info (user:password@), "
            "percent-encode any '/', '?', '#' or '@' in it (%2F, %3F, %23, %40)"
        )
    segments = parts.path.split("/")
    api = next((at for at, segment in enumerate(segments) if segment in _API_PATH), None)
    if api is not None:
        # IBM's examples append /v2/topics/... to the URL: pasted whole, a run would
        # post every row to a route that is not there, or take v2's absence for v1's.
        raise ConfigurationError(
            f"{name} must be the service's base URL (the kafka_http_url) without the "
            f"API's own path: drop {'/' + '/'.join(segments[api:])!r}; es_pandas adds it"
        )
    return address


# path segments of the REST producer's own routes (/topics/..., /v2/topics/...)
_API_PATH = frozenset({"v1", "v2", "topics"})


def bootstrap_servers(name: str, value: Any) -> str:
    """host:port[,host:port...], or a list of them (a service key's kafka_brokers_sasl)."""
    listed = value.split(",") if isinstance(value, str) else value
    if isinstance(listed, (bytes, Mapping)) or not isinstance(listed, Iterable):
        raise fail(name, "host:port, comma-separated, or a list of them", value)
    servers = [text(name, server).strip() for server in listed]
    for server in servers:
        if "@" in server:
            # user:password@ as a URL takes it; shown, it would show the password
            raise ConfigurationError(
                f"{name}: a broker is host:port, without user info (user:password@, not "
                "shown); give the credentials as api_key= (--api-key), or user= (--user) "
                "and password= (--password)"
            )
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or "/" in server:
            raise ConfigurationError(f"{name}: {server!r} is not host:port")
    if not servers:
        raise fail(name, "at least one host:port", value)
    return ",".join(servers)


def kafka_config(name: str, value: Any) -> dict[str, Any]:
    """librdkafka settings: a mapping, or ``["key=value", ...]`` as the command line
    gives them. The messages name a setting, never its value: sasl.password and
    ssl.key.password are settings too."""
    if isinstance(value, Mapping):
        pairs = dict(value)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        pairs = {}
        for number, item in enumerate(value, 1):
            key, sep, setting = item.partition("=")
            if not sep or not key.strip():
                raise ConfigurationError(
                    f"{name}: setting {number} of {len(value)} is not KEY=VALUE (not shown: "
                    "it may hold a password)"
                )
            pairs[key.strip()] = setting
    else:
        raise ConfigurationError(
            f"{name} must be a dict of librdkafka settings (or KEY=VALUE strings), "
            f"not {type(value).__name__}"
        )
    for key, setting in pairs.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"{name}: a setting's name is a string, not {key!r}")
        if key in _KAFKA_OWN:
            raise ConfigurationError(f"{name}: {key!r} is es_pandas' own ({_KAFKA_OWN[key]})")
        if key == "transactional.id":
            # librdkafka then refuses every record produced outside a transaction
            raise ConfigurationError(
                f"{name}: es_pandas writes with an idempotent producer, not in transactions: "
                "transactional.id cannot be set"
            )
        if not isinstance(setting, (str, int, float, bool)):
            raise ConfigurationError(
                f"{name}[{key!r}] must be a string, number or bool, not {type(setting).__name__}"
            )
    for key in _ACKS:
        if key in pairs and str(pairs[key]).strip() == "0":
            # librdkafka reports such a record delivered once it is on the socket
            raise ConfigurationError(
                f"{name}: {key}=0 has the broker confirm nothing, so a row's status would "
                "say ok for a record no broker took; use acks=1 or all"
            )
    return pairs


# librdkafka's names of the setting of how many brokers confirm a record
_ACKS = ("acks", "request.required.acks")
# librdkafka settings es_pandas sets from its own options, or uses itself
_KAFKA_OWN = {
    "bootstrap.servers": "bootstrap_servers=",
    "on_delivery": "each record's report is the run's",
    "error_cb": "the run reads the producer's errors",
    "logger": "librdkafka logs to the es_pandas.librdkafka logger",
}


def proxy(name: str, value: Any) -> str:
    address = _address(name, value)
    check_proxy_url(address)
    return address


def endpoint(name: str, value: Any) -> str:
    """A URL that takes no credentials of its own (the IAM token endpoint)."""
    address = url(name, value)
    if split_userinfo(address)[1] is not None:
        raise ConfigurationError(f"{name} takes no user info (user:password@)")
    return address


def path(name: str, value: Any) -> str:
    """A file's path, ``~`` expanded as pandas' readers and writers expand it."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return os.path.expanduser(text(name, value))


def column(name: str, value: Any) -> Hashable:
    if not isinstance(value, Hashable):
        raise fail(name, "a column label", value)
    return value


def columns(name: str, value: Any) -> list[Hashable]:
    # any collection of labels: a list, a tuple, df.columns.drop("k"), a numpy array
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigurationError(
            f"{name} must be a list of column names; for one column write [{value!r}]"
        )
    return list(value)


def header_cols(name: str, value: Any) -> Any:
    return value if callable(value) else columns(name, value)


def avro_schema(name: str, value: Any) -> Any:
    """An Avro schema (a dict, JSON text, or an .avsc path) as its JSON, checked."""
    # Avro's modules load with the first option that is Avro's, not with es_pandas
    from ._wire.avro import load_schema

    return load_schema(value, name)


def avro_name(dotted: bool) -> Callable[[str, Any], str]:
    """An Avro name (``dotted``: a namespace, names joined by dots)."""
    pattern = _AVRO_NAMESPACE if dotted else _AVRO_NAME

    what = "namespace (names joined by dots)" if dotted else "name"

    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            rule = "a name is a letter or _, then letters, digits or _"
            raise fail(name, f"an Avro {what}; {rule}", value)
        return value

    return check


def token(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise fail(name, "a word (letters, digits, '_', '-', '.')", value)
    return value


_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AVRO_NAMESPACE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_TOKEN = re.compile(r"[A-Za-z0-9_.-]+")


# type/subtype, then parameters; no line breaks (a header value)
# ASCII only, and no line breaks: it is sent as the Content-Type header
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(?:[ \t]*;[ -~]*)?", re.ASCII)


def media_type(name: str, value: Any) -> str:
    if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value):
        raise fail(name, "a media type such as 'text/plain' or 'text/plain; charset=utf-8'", value)
    return value


def choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise fail(name, " or ".join(repr(c) for c in choices), value)
        return str(value)

    return check


def max_rate(name: str, value: Any) -> float | Literal["auto"]:
    if value == "auto":
        return "auto"
    # float("inf") stays: it is how a call lifts a Producer's cap (None would inherit it).
    try:
        return positive(name, value)
    except ConfigurationError:
        raise fail(name, "a positive number of requests per second, or 'auto'", value) from None


def max_rate_from_flags(values: Mapping[str, Any]) -> float | str | None:
    value = values["max_rate"]
    if value is None or value == "auto":
        return cast(str | None, value)
    try:
        return float(value)
    except ValueError:
        raise fail(
            "max_rate", "a positive number of requests per second, or 'auto'", value
        ) from None


def retries(name: str, value: Any) -> Retry:
    if isinstance(value, Retry):
        return value
    return Retry(retries=integer(0)(name, value))


def instance(kind: type) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, kind):
            raise fail(name, f"an es_pandas.{kind.__name__}", value)
        return value

    return check


def verify(name: str, value: Any) -> bool | str:
    return value if isinstance(value, bool) else path(name, value)


def cert(name: str, value: Any) -> str | tuple[str, str]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise fail(name, "a PEM path or a (certificate, key) pair of paths", value)
        return path(name, value[0]), path(name, value[1])
    return path(name, value)


def progress(name: str, value: Any) -> Progress:
    if not isinstance(value, bool) and not callable(value):
        raise fail(name, "True, False or a callable", value)
    return value  # type: ignore[no-any-return]


def credentials(name: str, value: Any) -> Credentials:
    return value if isinstance(value, Mapping) else path(name, value)


def engine(name: str, value: Any) -> Engine:
    return check_engine(value)


# -- reading the environment --------------------------------------------------------


def encoding(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(name, "the name of a text encoding", value)
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise ConfigurationError(f"{name}: {value!r} is not a text encoding Python knows") from None


def separator(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 1 or value in '\r\n"':
        raise fail(name, "one character (not a quote or a line break)", value)
    return value


def decimal_mark(name: str, value: Any) -> str:
    """A character of a number's writing: a decimal mark or a thousands separator."""
    if not isinstance(value, str) or len(value) != 1 or value in '0123456789+-eE\r\n"':
        raise fail(name, "one character (not a digit, a sign, e, a quote or a line break)", value)
    return value


def strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise fail(name, "a list of strings", value)
    values = tuple(value)
    if not all(isinstance(v, str) for v in values):
        raise fail(name, "a list of strings", value)
    return values


def dtype(name: str, value: Any) -> dict[str, str]:
    """``{"zip": "str"}`` (or ``{"zip": str}``, as pandas users write it), or
    ``["zip=str", ...]`` as the command line gives it."""
    pairs: list[tuple[str, object]]
    if isinstance(value, Mapping):
        pairs = [
            (str(column), kind.__name__ if kind in (str, int, float, bool) else kind)
            for column, kind in value.items()
        ]
    elif not isinstance(value, str) and isinstance(value, Iterable):
        pairs = [(column, kind) for column, _, kind in (str(v).partition("=") for v in value)]
    else:
        raise fail(name, "a mapping of column names to types", value)
    for column, kind in pairs:
        if kind not in TYPES:
            raise ConfigurationError(
                f"{name}: {column}={kind!r}: a column's type is one of {', '.join(TYPES)}"
            )
    return {column: str(kind) for column, kind in pairs}


def env_text(values: list[str | None]) -> str | None:
    return values[0].strip() or None if values[0] is not None else None


def env_bool(values: list[str | None]) -> bool | None:
    given = env_text(values)
    if given is None:
        return None
    if given.lower() in ("1", "true", "yes", "on"):
        return True
    if given.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"cannot read {given!r} as true or false")


def env_cert(values: list[str | None]) -> str | tuple[str, str] | None:
    certificate, key = (env_text([v]) for v in values)
    if key is not None and certificate is None:
        raise ConfigurationError("ES_PANDAS_CLIENT_KEY needs ES_PANDAS_CLIENT_CERT")
    return (certificate, key) if certificate and key else certificate


# -- the CLI's shapes of a few options ------------------------------------------------


def limits_from_flags(values: Mapping[str, Any]) -> Limits | None:
    given = {name: values[name] for name in Limits.__dataclass_fields__ if values[name] is not None}
    return Limits(**given) if given else None


def multiple(dest: str) -> Callable[[Mapping[str, Any]], tuple[str, ...] | None]:
    """A repeatable flag's values; None when it was not given."""

    def from_flags(values: Mapping[str, Any]) -> tuple[str, ...] | None:
        return tuple(values[dest]) or None

    return from_flags


def flag(dest: str) -> Callable[[Mapping[str, Any]], Any]:
    """The value of the one flag of an option whose flag is not its name."""

    def from_flags(values: Mapping[str, Any]) -> Any:
        return values[dest]

    return from_flags


def verify_from_flags(values: Mapping[str, Any]) -> bool | str | None:
    return False if values["no_verify"] else values["ca_bundle"]


def cert_from_flags(values: Mapping[str, Any]) -> str | tuple[str, str] | None:
    certificate, key = values["client_cert"], values["client_key"]
    if key is not None and certificate is None:
        raise ConfigurationError("--client-key needs --client-cert")
    return (certificate, key) if certificate and key else certificate
