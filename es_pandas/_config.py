"""Connection settings from arguments, a Producer, a credentials JSON or the
environment (in that order), and the run's tunables, each default named once."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._auth import IBM_IAM_URL as IBM_IAM_URL
from ._auth import APIKeyAuth, Auth, BasicAuth, BearerAuth, IAMAuth
from ._exceptions import ConfigurationError

__all__ = [
    "CONNECTION_SETTINGS",
    "DEFAULT_CONCURRENCY",
    "ENVIRONMENT_VARIABLES",
    "Connection",
    "Limits",
    "Retry",
    "resolve_connection",
]

DEFAULT_CONCURRENCY = 32
DEFAULT_TIMEOUT = 30.0
DEFAULT_CHUNKSIZE = 10_000
DEFAULT_FAIL_AFTER = 3

#: environment variable -> what it sets
ENVIRONMENT_VARIABLES = {
    "ES_PANDAS_URL": "the kafka_http_url",
    "ES_PANDAS_API_KEY": "an API key",
    "ES_PANDAS_USER": "a user name for Basic auth",
    "ES_PANDAS_PASSWORD": "the password for ES_PANDAS_USER",
    "ES_PANDAS_TOKEN": "a static bearer token",
    "ES_PANDAS_IAM": "1 to exchange the API key for IAM tokens",
    "ES_PANDAS_IAM_URL": "the IAM token endpoint",
    "ES_PANDAS_CREDENTIALS": "path of a service-credentials JSON file",
    "ES_PANDAS_API_VERSION": "v1 or v2",
    "ES_PANDAS_CA_BUNDLE": "a CA bundle to verify TLS with",
}

_CREDENTIAL_FIELDS = ("api_key", "user", "password", "token")


@dataclass(frozen=True)
class Retry:
    """Which outcomes are retried, how often and how long to wait between tries.

    Waits are capped exponential backoff with full jitter, ``Retry-After`` when the
    server sends one. Statuses in ``ambiguous`` (and timeouts or broken connections
    after the request went out) may have written the record: a row whose tries
    are all used up after one of them ends ``unknown``, not ``failed``.
    """

    retries: int = 4
    backoff: float = 0.25
    max_backoff: float = 10.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    ambiguous: frozenset[int] = frozenset({408, 500, 502, 504})

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ConfigurationError("retries must be 0 or more")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError("backoff times must be 0 or more")


@dataclass(frozen=True)
class Limits:
    """The API's size limits, checked before sending (rows over them are ``rejected``)."""

    max_key_bytes: int = 4096
    max_value_bytes: int = 65536
    max_uri_bytes: int = 10 * 1024


@dataclass(frozen=True)
class Connection:
    """Where to send and how to authenticate; validated once, secrets kept out of reprs."""

    url: str
    auth: Auth | None = field(default=None, repr=True)
    api_version: Literal["v1", "v2"] = "v2"
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT


def _load_credentials(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read credentials file {str(path)!r}: {exc}") from None
    except ValueError:
        raise ConfigurationError(f"credentials file {str(path)!r} is not valid JSON") from None


def _from_credentials(creds: Mapping[str, Any]) -> dict[str, Any]:
    # IBM service keys carry the key as api_key and apikey, and as password with user "token".
    api_key = creds.get("api_key") or creds.get("apikey")
    settings: dict[str, Any] = {"url": creds.get("kafka_http_url")}
    if api_key:
        settings["api_key"] = api_key
    elif creds.get("password"):
        settings["user"] = creds.get("user")
        settings["password"] = creds["password"]
    return settings


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "url": environ.get("ES_PANDAS_URL"),
        "api_key": environ.get("ES_PANDAS_API_KEY"),
        "user": environ.get("ES_PANDAS_USER"),
        "password": environ.get("ES_PANDAS_PASSWORD"),
        "token": environ.get("ES_PANDAS_TOKEN"),
        "iam_url": environ.get("ES_PANDAS_IAM_URL"),
        "api_version": environ.get("ES_PANDAS_API_VERSION"),
        "verify": environ.get("ES_PANDAS_CA_BUNDLE"),
    }
    if environ.get("ES_PANDAS_IAM"):
        settings["iam"] = environ["ES_PANDAS_IAM"].lower() in ("1", "true", "yes", "on")
    return settings


#: the connection keywords of ``produce``, ``Producer`` and :func:`resolve_connection`
CONNECTION_SETTINGS = (
    "url",
    "api_key",
    "user",
    "password",
    "token",
    "iam",
    "iam_url",
    "auth_style",
    "credentials",
    "api_version",
    "verify",
    "timeout",
)


def resolve_connection(
    settings: Mapping[str, Any] | None = None,
    *,
    base: Connection | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """Merge the sources into one :class:`Connection`, or raise one clear error.

    ``settings`` holds the caller's arguments (names in ``CONNECTION_SETTINGS``).
    Each setting comes from the first source that has it, except credentials, which
    come whole from the first source that has any (a user from the environment is
    never paired with an API key from an argument).
    """
    settings = dict(settings or {})
    unknown = set(settings) - set(CONNECTION_SETTINGS)
    if unknown:
        raise TypeError(f"unknown connection settings: {sorted(unknown)}")
    environ = os.environ if environ is None else environ
    auth_style = settings.pop("auth_style", None)
    credentials = settings.pop("credentials", None)
    layers: list[dict[str, Any]] = [settings]
    if base is not None:
        layers.append(
            {
                "url": base.url,
                "auth": base.auth,
                "api_version": base.api_version,
                "verify": base.verify,
                "timeout": base.timeout,
            }
        )
    credentials = credentials or environ.get("ES_PANDAS_CREDENTIALS")
    if credentials:
        layers.append(_from_credentials(_load_credentials(credentials)))
    layers.append(_from_environment(environ))

    def first(name: str, default: Any = None) -> Any:
        return next((lay[name] for lay in layers if lay.get(name) is not None), default)

    resolved_url = first("url")
    if not resolved_url:
        raise ConfigurationError(
            "no Event Streams URL: pass url=... (the kafka_http_url of your service "
            "credentials), credentials=..., or set ES_PANDAS_URL"
        )
    if not str(resolved_url).startswith(("http://", "https://")):
        raise ConfigurationError(f"the URL must start with http:// or https://: {resolved_url!r}")
    version = first("api_version", "v2")
    if version not in ("v1", "v2"):
        raise ConfigurationError(f"api_version must be 'v1' or 'v2', not {version!r}")

    auth: Auth | None = None
    for layer in layers:
        if layer.get("auth") is not None:
            auth = layer["auth"]
            break
        if any(layer.get(name) for name in _CREDENTIAL_FIELDS):
            auth = _build_auth(layer, version, auth_style, first("iam", False), first("iam_url"))
            break
    if first("iam", False) and not isinstance(auth, IAMAuth):
        raise ConfigurationError("iam=True needs an API key (api_key=... or ES_PANDAS_API_KEY)")
    if version == "v2" and auth is not None and not auth.bearer:
        raise ConfigurationError(
            "the v2 API accepts only Bearer credentials: pass api_key (sent as Bearer), "
            "token, or iam=True; or use api_version='v1' for Basic or X-Auth-Token"
        )
    timeout_value = float(first("timeout", DEFAULT_TIMEOUT))
    if timeout_value <= 0:
        raise ConfigurationError("timeout must be a positive number of seconds")
    return Connection(
        url=str(resolved_url).rstrip("/"),
        auth=auth,
        api_version=version,
        verify=first("verify", True),
        timeout=timeout_value,
    )


def _build_auth(
    layer: Mapping[str, Any],
    version: str,
    style: str | None,
    iam: bool,
    iam_url: str | None,
) -> Auth:
    if layer.get("token"):
        return BearerAuth(layer["token"])
    if layer.get("api_key"):
        if iam:
            return IAMAuth(layer["api_key"], iam_url or IBM_IAM_URL)
        return APIKeyAuth(layer["api_key"], style or ("bearer" if version == "v2" else "basic"))  # type: ignore[arg-type]
    if layer.get("user") and layer.get("password"):
        return BasicAuth(layer["user"], layer["password"])
    raise ConfigurationError("a user name needs a password (and a password a user name)")
