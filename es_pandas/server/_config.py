"""Settings of the local Event Streams server, validated once."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from .._wire.limits import Limits, topic_name_problem
from ._compat import check_level
from ._faults import FaultConfig
from ._profiles import FROM_PROFILE, PROFILES, Profile, ProfileName

__all__ = [
    "GENERATED_USER",
    "MAX_PARTITIONS",
    "SCHEMA_HEADERS",
    "ServerConfig",
    "check_partitions",
    "parse_schema_spec",
    "parse_topic_spec",
]

#: IBM Cloud's limit on a topic name's length, tighter than Kafka's
_CLOUD_TOPIC_NAME_CHARS = 200

# The server enforces the API's documented limits unless told otherwise.
_API_LIMITS = Limits()

#: the user made when the ``onprem`` profile authenticates and no user is given
GENERATED_USER = "es-pandas"

#: far more than an Event Streams plan allows a topic; a Kafka backend would create them all
MAX_PARTITIONS = 10_000

#: the headers of a v1 record sent with a schema (schemaname, schemaversion): its name,
#: its version and the encoding of the data, as IBM names them for records its serdes
#: write; that the REST producer sets these very names is assumed, as IBM does not say
SCHEMA_HEADERS = (
    "com.ibm.eventstreams.schemaregistry.schema.id",
    "com.ibm.eventstreams.schemaregistry.schema.version",
    "com.ibm.eventstreams.schemaregistry.encoding",
)


def check_topic_name(name: str) -> str:
    if (problem := topic_name_problem(name, _CLOUD_TOPIC_NAME_CHARS)) is not None:
        raise ValueError(f"invalid topic name {name!r}: {problem}")
    return name


def check_partitions(count: int, what: str = "a topic") -> int:
    if not 1 <= count <= MAX_PARTITIONS:
        raise ValueError(f"{what} needs 1 to {MAX_PARTITIONS} partitions, not {count}")
    return count


def parse_topic_spec(spec: str) -> tuple[str, int]:
    """``"orders:3"`` -> ``("orders", 3)``; ``"orders"`` -> ``("orders", 1)``."""
    name, _, partitions = spec.partition(":")
    try:
        count = int(partitions) if partitions else 1
    except ValueError:
        raise ValueError(f"invalid topic {spec!r}: expected NAME or NAME:PARTITIONS") from None
    return check_topic_name(name), check_partitions(count, f"topic {spec!r}")


def parse_schema_spec(spec: str) -> tuple[str, str, str | None]:
    """``"orders:1.0.0"`` -> ``("orders", "1.0.0", None)``; a third part is the comment
    of a deprecated version: ``"orders:0.9:use 1.0.0"`` -> ``("orders", "0.9", "use 1.0.0")``."""
    name, _, rest = spec.partition(":")
    version, deprecated, comment = rest.partition(":")
    if not name or not version or (deprecated and not comment):
        raise ValueError(
            f"invalid schema {spec!r}: expected NAME:VERSION, or NAME:VERSION:COMMENT for "
            "a deprecated version"
        )
    return name, version, comment if deprecated else None


@dataclass(frozen=True)
class ServerConfig:
    """Everything the local server can be told; every field has a working default.

    ``profile`` is the deployment imitated (see :mod:`._profiles`): ``"cloud"`` (v1
    and v2, API keys, IAM) or ``"onprem"`` (v1 only, users and client certificates,
    schemas); it also sets the defaults of the fields that default to ``FROM_PROFILE``.

    ``api_keys`` are accepted as Basic passwords (v1), Bearer tokens and
    ``X-Auth-Token`` values (v1); the ``onprem`` profile has none. ``users`` maps
    user names to passwords for Basic auth, as on-premises Event Streams (SCRAM
    credentials) does. When ``auth`` is on and neither is given, one random API key
    is made, or on premises one user (:data:`GENERATED_USER`) with a random
    password. ``permissions`` maps a principal (an API key, a user name, or the
    common name of a client certificate) to the topics it may write; principals not
    listed may write every topic, listed ones get 403 elsewhere. ``schemas`` maps a
    schema name to its versions, each to None or, when deprecated, the comment that
    successful answers then carry (``onprem`` only); v1's ``schemaname`` also names
    the subjects of the schema registry.

    The schema registry (``/_local/registry``, Confluent's API) holds the schemas of v2
    ``avro`` records and of v1's ``schemaname``. ``schema_compatibility`` is the level
    a subject's new version must pass unless one is set through its API (BACKWARD,
    FORWARD, FULL, their ``_TRANSITIVE`` variants, or NONE); ``topic_record_names`` are
    the ``schema_name_strategy`` values taken for TopicRecord, whose spelling IBM does
    not document; ``schema_headers`` name the headers a v1 record sent with a schema
    gets (its name, version and encoding).

    ``admin_keys`` are API keys that may also change the server through
    ``/_local`` (faults, topics, stats reset). Without them, every principal that
    ``permissions`` does not limit may; with ``auth`` off, everyone may.
    """

    topics: Mapping[str, int] = field(default_factory=dict)
    profile: ProfileName = "cloud"
    auth: bool = True
    api_keys: Collection[str] = ()
    users: Mapping[str, str] = field(default_factory=dict)
    permissions: Mapping[str, Collection[str]] = field(default_factory=dict)
    admin_keys: Collection[str] = ()
    auto_create_topics: bool = False
    default_partitions: int = 1
    max_key_bytes: int = _API_LIMITS.max_key_bytes
    max_value_bytes: int = _API_LIMITS.max_value_bytes
    max_uri_bytes: int = _API_LIMITS.max_uri_bytes
    #: bytes of a v2 request body, the JSON envelope (IBM Cloud's 64 KB payload limit)
    max_request_bytes: int = _API_LIMITS.max_request_bytes
    #: the v2 success body, which IBM does not document: v1's ``{"metadata": {...}}``
    #: or the same fields at the top level
    v2_response: Literal["metadata", "flat"] = "metadata"
    #: v1.1.0 errors carry ``error_code``/``message`` at the top level and nested;
    #: v1.0.0 (and IBM Cloud's examples) only nested
    v1_error_shape: Literal["v1.1", "v1.0"] = FROM_PROFILE
    #: ``metadata.timestamp`` is a string; its format is not documented
    timestamp_format: Literal["epoch_ms", "iso"] = "epoch_ms"
    token_ttl: float = 3600.0
    schemas: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    schema_compatibility: str = "BACKWARD"
    topic_record_names: Collection[str] = ("topic_record",)
    schema_headers: tuple[str, str, str] = SCHEMA_HEADERS
    #: seconds a connection may wait for a request (its first, or the next one)
    idle_timeout: float = 5.0
    #: seconds a request may take to arrive whole, head and body, from its first byte
    request_timeout: float = 30.0
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        for setting in fields(self):
            if getattr(self, setting.name) is FROM_PROFILE:
                object.__setattr__(self, setting.name, getattr(self.deployment, setting.name))
        for name, partitions in self.topics.items():
            check_topic_name(name)
            check_partitions(partitions, f"topic {name!r}")
        check_partitions(self.default_partitions, "default_partitions")
        if (self.api_keys or self.admin_keys) and not self.deployment.api_keys:
            raise ValueError(
                f"the {self.profile} profile takes no API keys: on-premises Event Streams "
                "authenticates users (Basic with a SCRAM user's name and password) or "
                "client certificates"
            )
        if self.auth and not self.api_keys and not self.users:
            if self.deployment.api_keys:
                object.__setattr__(self, "api_keys", (secrets.token_urlsafe(24),))
            else:
                object.__setattr__(self, "users", {GENERATED_USER: secrets.token_urlsafe(24)})
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "schemas", self._checked_schemas())
        object.__setattr__(self, "schema_compatibility", check_level(self.schema_compatibility))
        self._check_schema_names()
        object.__setattr__(self, "admin_keys", tuple(self.admin_keys))
        if self.admin_keys and not self.auth:
            raise ValueError("admin keys (--admin-key) need auth: without it /_local is open")
        for name in ("idle_timeout", "request_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        object.__setattr__(
            self, "permissions", {p: frozenset(t) for p, t in self.permissions.items()}
        )
        for name in ("max_key_bytes", "max_value_bytes", "max_uri_bytes", "max_request_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
        if self.v2_response not in ("metadata", "flat"):
            raise ValueError("v2_response must be 'metadata' or 'flat'")
        if self.v1_error_shape not in ("v1.1", "v1.0"):
            raise ValueError("v1_error_shape must be 'v1.1' or 'v1.0'")
        if self.timestamp_format not in ("epoch_ms", "iso"):
            raise ValueError("timestamp_format must be 'epoch_ms' or 'iso'")

    @property
    def deployment(self) -> Profile:
        """What the profile serves and takes."""
        return PROFILES[self.profile]

    def _checked_schemas(self) -> dict[str, dict[str, str | None]]:
        if self.schemas and not self.deployment.schemas:
            raise ValueError(
                f"the {self.profile} profile has no v1 schema parameters: they are on-premises "
                "Event Streams' (v1.1.0), profile 'onprem'"
            )
        schemas = {}
        for name, versions in self.schemas.items():
            if not isinstance(name, str) or not name or not versions:
                raise ValueError(f"schema {name!r} needs a name and at least one version")
            for version, comment in versions.items():
                if not isinstance(version, str) or not version:
                    raise ValueError(f"schema {name!r} has an invalid version {version!r}")
                if comment is not None and (not isinstance(comment, str) or not comment):
                    raise ValueError(
                        f"schema {name!r} version {version!r}: a deprecation comment is a "
                        "non-empty string (None for a version in use)"
                    )
            schemas[name] = dict(versions)
        return schemas

    def _check_schema_names(self) -> None:
        names = tuple(self.topic_record_names)
        if isinstance(self.topic_record_names, str) or not all(
            isinstance(n, str) and n and n not in ("topic", "record") for n in names
        ):
            raise ValueError(
                "topic_record_names are schema_name_strategy values for TopicRecord: "
                f"non-empty, and not 'topic' or 'record' ({self.topic_record_names!r})"
            )
        object.__setattr__(self, "topic_record_names", names)
        headers = tuple(self.schema_headers)
        if (
            len(headers) != 3
            or len(set(headers)) != 3
            or not all(isinstance(h, str) and h for h in headers)
        ):
            raise ValueError(
                "schema_headers are three distinct header names: the schema's id (name), "
                f"version and encoding ({self.schema_headers!r})"
            )
        object.__setattr__(self, "schema_headers", headers)

    def __repr__(self) -> str:
        # Keys and passwords stay out of reprs, logs and tracebacks.
        return (
            f"ServerConfig(profile={self.profile!r}, topics={dict(self.topics)!r}, "
            f"auth={self.auth}, api_keys=<{len(self.api_keys)} hidden>, "
            f"admin_keys=<{len(self.admin_keys)} hidden>, "
            f"users={sorted(self.users)!r})"
        )
