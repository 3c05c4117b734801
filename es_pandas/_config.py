"""Where each option comes from, and the resolved :class:`Settings` of a run.

Sources, first wins: the call's arguments, then a ``Producer``'s, then the service
credentials JSON files they name (or ``ES_PANDAS_CREDENTIALS``), then the other
``ES_PANDAS_*`` variables, then the defaults of ``_options``. Credentials come whole
from the first source that has any (a user from the environment is never paired with
an API key from an argument).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from ._auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, IAMAuth
from ._checks import env_text
from ._credentials import credentials_source, read_credentials
from ._exceptions import ConfigurationError
from ._options import OPTIONS, PRODUCE_OPTIONS, check_options
from ._retry import Retry
from ._transports import TransportConfig, split_userinfo

__all__ = ["AUTH_OPTIONS", "DEFAULTS", "KAFKA_OPTIONS", "Settings", "resolve"]

logger = logging.getLogger("es_pandas")

_CREDENTIALS = ("api_key", "user", "password", "token")
# secrets that are no credentials: they open certificate files, and stay in the transport
_TLS_PASSWORDS = ("ca_password", "cert_password")
# what a credentials JSON says of its endpoint besides the URL (see _credentials.read_credentials):
# it goes with the URL, so a file is asked for it only if no source before the file
# gave the run's URL
_ENDPOINT_FIELDS = ("api_version", "verify", "ca_password", "cert", "cert_password")
# the options a credentials JSON gives
_KEY_FIELDS = ("url", "bootstrap_servers", "api_key", "user", "password", *_ENDPOINT_FIELDS)
#: every option's default, normalised as a value from any other source would be
#: (4 -> Retry(4))
DEFAULTS = {
    name: option.default
    if option.default is None
    else check_options({name: option.default}, [name])[name]
    for name, (_, option) in OPTIONS.items()
}
#: options that change which credentials a run uses, and how they are sent
AUTH_OPTIONS = tuple(name for name, (_, option) in OPTIONS.items() if option.auth)
#: the options besides the credentials that librdkafka's settings are made from
#: (``_librdkafka.kafka_config``): a call that gives any of them needs settings of its own
KAFKA_OPTIONS = ("timeout", "retries", "verify", "cert", "ca_password", "cert_password")


@dataclass(frozen=True)
class Settings:
    """A run's resolved options: every option set, plus what they make."""

    #: every option of a run, from its source or its default, checked (credentials
    #: and the TLS passwords excepted: they are in ``auth`` and ``transport``)
    options: Mapping[str, Any]
    #: the kafka_http_url, without user info (protocol kafka: kafka://<the brokers>):
    #: safe to show
    url: str
    auth: Auth | None
    transport: TransportConfig
    #: protocol kafka: librdkafka's settings, credentials included (never shown)
    kafka: Mapping[str, Any] | None = None

    @property
    def retry(self) -> Retry:
        return cast(Retry, self.options["retries"])

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.url!r}, api_version={self.options['api_version']!r}, "
            f"auth={self.auth!r}, transport={self.transport!r})"
        )


def resolve(
    sources: Sequence[Mapping[str, Any]],
    *,
    auth: Auth | None = None,
    kafka: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge ``sources`` (checked options, first wins), the credentials files they name
    and the environment into :class:`Settings`, or raise one clear error.

    ``auth`` is reused instead of building credentials again when the winning
    credentials are the ones it was built from (a Producer's: its IAM token cache
    survives from call to call); ``kafka`` (librdkafka's settings, credentials
    included) likewise, for protocol kafka."""
    environment = _Layer(
        functools.partial(_from_environment, os.environ if environ is None else environ),
        lambda names: " and ".join(OPTIONS[name][1].env[0] for name in names),
    )
    origins = ("the arguments", "the Producer's options")
    layers = [
        _Layer(dict(source).get, functools.partial(_named, origin))
        for source, origin in zip(sources, origins, strict=False)
    ]
    # Credentials files (the sources', then ES_PANDAS_CREDENTIALS), read only if an
    # option falls through to them; then the environment, one variable at a time, so a
    # stale variable the call does not need cannot break it.
    layers += [
        _credentials_layer(functools.partial(dict(source).get, "credentials")) for source in sources
    ]
    layers += [_credentials_layer(functools.partial(environment.get, "credentials")), environment]

    url_source = next(
        (i for i, layer in enumerate(layers) if layer.get("url") is not None), len(layers)
    )

    def first(name: str) -> Any:
        asked = (
            layer
            for i, layer in enumerate(layers)
            if not (layer.file and i > url_source and name in _ENDPOINT_FIELDS)
        )
        found = next((value for layer in asked if (value := layer.get(name)) is not None), None)
        return DEFAULTS[name] if found is None else found

    # Credentials go into the Auth alone: not kept as options, and not looked up past
    # the source that has them. The brokers are looked up for protocol kafka only: a
    # REST run opens no credentials file for them.
    options: dict[str, Any] = {
        name: None if name in (*_CREDENTIALS, *_TLS_PASSWORDS, "bootstrap_servers") else first(name)
        for name in PRODUCE_OPTIONS
    }
    if options["protocol"] == "kafka":
        options["bootstrap_servers"] = first("bootstrap_servers")
        return _kafka_settings(layers, options, first, kafka)
    if options["url"] is None:
        # a credentials file given without one is what to fix, not where to look
        files = [layer.origin([]) for layer in layers if layer.file and layer.given()]
        kafka_given = first("bootstrap_servers") is not None
        raise ConfigurationError(
            (
                f"no Event Streams URL: {files[0]} has no kafka_http_url (or url); pass "
                "url=... (the kafka_http_url of your service credentials), or set "
                "ES_PANDAS_URL"
                if files
                else "no Event Streams URL: pass url=... (the kafka_http_url of your service "
                "credentials), credentials=..., or set ES_PANDAS_URL"
            )
            + ("; or protocol='kafka' to send to the bootstrap_servers given" * kafka_given)
        )
    if options["kafka_config"] is not None:
        # librdkafka's settings set nothing of a REST run: said, not ignored
        logger.warning(
            "kafka_config is not used: it sets the Kafka protocol's producer, and this "
            "run sends over REST (protocol='kafka' sends over Kafka)"
        )
    url, _, _ = split_userinfo(options["url"])
    options["url"] = url.rstrip("/")
    if auth is None:
        credentials, origin = _credentials(layers)
        auth = _auth(credentials, origin, options)
    _settle_api_version(options, auth)
    transport = _transport(options, first)
    # What the environment adds (proxies, CA bundles) and the files given are checked
    # now, not mid-run. A plain-http run given no files never needs the CA bundle,
    # whose loading takes a first call's 25 ms.
    endpoints = [options["url"], *([options["iam_url"]] if isinstance(auth, IAMAuth) else [])]
    tls = [transport.uses_tls(endpoint) for endpoint in endpoints]
    if any(tls) or isinstance(transport.verify, str) or transport.cert is not None:
        transport.ssl_context()
    return Settings(options, options["url"], auth, transport)


def _transport(options: Mapping[str, Any], first: Callable[[str], Any]) -> TransportConfig:
    return TransportConfig(
        timeout=options["timeout"],
        connections=options["concurrency"],
        verify=options["verify"],
        cert=options["cert"],
        ca_password=first("ca_password"),
        cert_password=first("cert_password"),
        proxy=options["proxy"],
        trust_env=options["trust_env"],
    )


def _kafka_settings(
    layers: Sequence[_Layer],
    options: dict[str, Any],
    first: Callable[[str], Any],
    config: Mapping[str, Any] | None,
) -> Settings:
    """protocol kafka: the brokers, and the credentials and TLS as librdkafka's settings
    (``config`` when they were made already)."""
    from ._librdkafka import kafka_config

    if options["bootstrap_servers"] is None:
        raise ConfigurationError(
            "protocol='kafka' needs the Kafka brokers: pass bootstrap_servers=... (the "
            "kafka_brokers_sasl of your service credentials), credentials=..., or set "
            "ES_PANDAS_BOOTSTRAP_SERVERS"
        )
    if options["on_key_error"] == "hold":
        # librdkafka has a key's next rows queued before an earlier one's report comes
        raise ConfigurationError(
            "on_key_error='hold' is the REST API's: protocol='kafka' hands a key's rows "
            "to Kafka before the earlier ones are confirmed, so it cannot hold them back"
        )
    if options["proxy"] is not None:
        raise ConfigurationError(
            "protocol='kafka' cannot go through an HTTP proxy (librdkafka speaks Kafka's "
            "own protocol); use protocol='rest' behind a proxy"
        )
    transport = _transport(options, first)
    transport.ssl_context()  # the CA bundle and certificate librdkafka is given, checked now
    if config is None:
        credentials, origin = _credentials(layers, url_credentials=False)
        _whole(credentials, origin)
        config = kafka_config(options, credentials, transport)
    return Settings(options, f"kafka://{options['bootstrap_servers']}", None, transport, config)


class _Layer:
    """One source of options, each read (and checked) only when a run asks for it, and
    able to say where the options it gave came from (a refused credential says so)."""

    def __init__(
        self,
        read: Callable[[str], Any],
        origin: Callable[[list[str]], str],
        *,
        file: bool = False,
        given: Callable[[], bool] = lambda: True,
    ) -> None:
        self._read = read
        self.origin = origin
        #: a credentials file
        self.file = file
        #: whether its source names one (a credentials file's: a file or JSON was given)
        self.given = given
        self._values: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self._values:
            self._values[name] = self._read(name)
        return self._values[name]


def _named(origin: str, names: list[str]) -> str:
    return origin


def _credentials_layer(source: Callable[[], Any]) -> _Layer:
    """The options in the credentials JSON that ``source()`` names, read on first use."""

    @functools.cache
    def fields() -> dict[str, Any]:
        where = source()
        return {} if where is None else read_credentials(where)

    def origin(names: list[str]) -> str:
        where = source()
        return "the credentials given" if isinstance(where, Mapping) else credentials_source(where)

    # Only what a credentials JSON holds: other options never open the file.
    return _Layer(
        lambda name: fields().get(name) if name in _KEY_FIELDS else None,
        origin,
        file=True,
        given=lambda: source() is not None,
    )


def _credentials(
    layers: Sequence[_Layer], url_credentials: bool = True
) -> tuple[dict[str, str], str]:
    """The credentials of the first source that has any (user info in its URL, with
    ``url_credentials``), and where they came from ("" when none)."""
    for layer in layers:
        credentials = {
            name: layer.get(name) for name in _CREDENTIALS if layer.get(name) is not None
        }
        if url_credentials and layer.get("url") is not None:
            _, user, password = split_userinfo(layer.get("url"))
            if user is not None:
                if credentials:
                    raise ConfigurationError(
                        "the URL carries credentials (user:password@) and so do other "
                        "options; give them one way"
                    )
                credentials = check_options({"user": user, "password": password}, _CREDENTIALS)
        if credentials:
            return credentials, layer.origin(list(credentials))
    return {}, ""


def _auth(credentials: Mapping[str, str], origin: str, options: Mapping[str, Any]) -> Auth | None:
    if credentials:
        _whole(credentials, origin)
        auth = _build_auth(credentials, options)
        auth.origin = origin
        return auth
    if options["iam"]:
        raise ConfigurationError("iam=True needs an API key (api_key=... or ES_PANDAS_API_KEY)")
    return None


def _whole(credentials: Mapping[str, str], origin: str) -> None:
    """Refuse a user name without its password, or a password without its user name,
    saying where it came from: credentials are never pieced together from two places
    (a user typed and the password in the environment, as advised for secrets)."""
    if "api_key" in credentials or "token" in credentials:
        return
    if ("user" in credentials) != ("password" in credentials):
        given, lacking = "user name", "password"
        if "password" in credentials:
            given, lacking = lacking, given
        raise ConfigurationError(
            f"the {given} from {origin} has no {lacking} with it: credentials come whole "
            "from one place (the arguments, a Producer, a credentials file or the "
            "environment), so give both there"
        )


def _build_auth(credentials: Mapping[str, str], options: Mapping[str, Any]) -> Auth:
    api_key = credentials.get("api_key")
    if api_key is None and credentials.get("user") == "token" and "password" in credentials:
        api_key = credentials["password"]  # IBM's convention: user "token", the key as password
    if options["iam"]:
        if api_key is None:
            raise ConfigurationError("iam=True needs an API key (api_key=... or ES_PANDAS_API_KEY)")
        return IAMAuth(api_key, options["iam_url"])
    if "token" in credentials:
        return BearerAuth(credentials["token"])
    if api_key is not None:
        # Bearer works with both versions on IBM Cloud, the only place API keys are
        style = options["auth_style"] or ("basic" if options["api_version"] == "v1" else "bearer")
        return APIKeyAuth(api_key, cast(Literal["bearer", "basic", "x-auth-token"], style))
    if "user" in credentials and "password" in credentials:
        return BasicAuth(credentials["user"], credentials["password"])
    raise ConfigurationError("a user name needs a password (and a password a user name)")


def _settle_api_version(options: dict[str, Any], auth: Auth | None) -> None:
    """Settle ``api_version="auto"`` where the options decide it, and refuse what v2
    cannot do. Basic and X-Auth-Token credentials and schema names exist only in v1."""
    version = options["api_version"]
    basic = auth is not None and not auth.bearer
    if version == "auto" and (basic or options["schemaname"] is not None):
        options["api_version"] = "v1"
    elif version == "v2" and basic:
        raise ConfigurationError(
            "the v2 API accepts only Bearer credentials: pass api_key=... (sent as Bearer), "
            "token=..., or iam=True; or use api_version='v1' for Basic or X-Auth-Token"
        )
    elif version == "v2" and options["schemaname"] is not None:
        raise ConfigurationError(
            "schemaname names a schema the v1 API way (on-premises Event Streams); the "
            "v2 API has no such parameter: use api_version='v1'"
        )
    if (options["schemaversion"] is None) != (options["schemaname"] is None):
        # The server looks a schema up by both: either alone fails every row.
        raise ConfigurationError(
            "schemaname= and schemaversion= go together: the registered schema and its version"
        )


def _from_environment(environ: Mapping[str, str], name: str) -> Any:
    """Option ``name`` from its environment variables (None when they are not set)."""
    option = OPTIONS[name][1]
    if not option.env:
        return None
    raw = [environ.get(variable) or None for variable in option.env]
    try:
        value = (option.from_env or env_text)(raw)
        return check_options({name: value}, [name]).get(name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{' / '.join(option.env)}: {exc}") from None
