"""Service credentials JSON, as IBM Cloud issues it (a service key, or what ``ibmcloud
resource service-key`` prints) or as one is written for on-premises Event Streams, read
as options. The JSON may be given itself, as CI secrets hold it; it is never shown."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._exceptions import ConfigurationError
from ._options import check_options

__all__ = ["credentials_source", "read_credentials"]

_NOT_JSON = object()


def credentials_source(source: str | os.PathLike[str]) -> str:
    """A credentials source as messages name it (never the JSON itself: it holds a key)."""
    given = os.fspath(source)
    return "the credentials JSON given" if _inline(given) else f"credentials file {given!r}"


def _inline(given: str) -> bool:
    """Whether ``given`` is a credentials JSON itself, an object or the list ibmcloud
    prints, rather than a file's path."""
    return given.lstrip().startswith(("{", "["))


def _service_key(found: object, where: str) -> dict[str, Any]:
    """The fields of a service key: the JSON IBM Cloud's console gives, or what
    ``ibmcloud resource service-key NAME --output json`` prints (a list of the key,
    its fields under ``credentials``)."""
    if isinstance(found, list):
        if len(found) != 1:
            raise ConfigurationError(
                f"{where} is a list of {len(found)} service keys, as ibmcloud resource "
                "service-keys prints them: keep the one to use"
            )
        found = found[0]
    if not isinstance(found, Mapping):
        raise ConfigurationError(f"{where} is not a JSON object")
    nested = found.get("credentials")
    # the key's own fields beside it: a file of one's own, which it is part of
    if isinstance(nested, Mapping) and not {"kafka_http_url", "api_key", "apikey"} & found.keys():
        return dict(nested)
    return dict(found)


def read_credentials(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A credentials JSON as options.

    IBM Cloud's service keys carry ``kafka_http_url``, ``kafka_brokers_sasl`` (for
    protocol kafka) and the API key as ``api_key`` and ``apikey``, and again as
    ``password`` with the user "token". On premises, where no such file is issued, one
    may be written with ``url`` (the REST producer endpoint), ``bootstrap_servers``,
    ``user`` and ``password`` (a SCRAM user), ``api_version``, and the
    certificate files: ``ca_bundle`` (es-cert.pem or es-cert.p12) with ``ca_password``,
    and ``client_cert`` (user.crt, or user.p12) with ``client_key`` (user.key) or
    ``client_cert_password``. Relative paths are from the JSON file's folder."""
    folder = ""
    if isinstance(source, Mapping):
        fields, where = _service_key(source, "credentials"), "credentials"
    else:
        given = os.fspath(source)
        where = credentials_source(given)
        # The JSON itself (as CI secrets hold it): never shown, it holds the key.
        inline = _inline(given)
        why = ""
        try:
            # utf-8-sig: a byte order mark, as Windows PowerShell 5 writes, is not JSON
            parsed = json.loads(given if inline else Path(given).read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {where}: {exc.strerror}") from None
        except ValueError as exc:
            # raised below, outside this block: json's error, kept as the new one's
            # __context__ even "from None", holds the whole text (the key) as its doc;
            # its message and position quote none of it
            parsed = _NOT_JSON
            if isinstance(exc, json.JSONDecodeError):
                why = f": {exc.msg} at line {exc.lineno}, column {exc.colno}"
        if parsed is _NOT_JSON:
            raise ConfigurationError(f"{where} is not valid JSON{why}")
        fields = _service_key(parsed, where)
        folder = "" if inline else os.path.dirname(given)

    def text(*keys: str) -> str | None:
        value = next((fields[key] for key in keys if fields.get(key)), None)
        return value.strip() if isinstance(value, str) else value

    def path(key: str) -> str | None:
        value = text(key)
        return os.path.join(folder, os.path.expanduser(value)) if isinstance(value, str) else value

    keys = [key for key in (text("api_key"), text("apikey")) if key is not None]
    if len(keys) == 2 and keys[0] != keys[1]:
        # IBM's service keys hold one key under both names: two are a hand edit gone wrong
        raise ConfigurationError(f"{where}: api_key and apikey hold different keys: keep one")
    found: dict[str, Any] = {
        "url": text("kafka_http_url", "url"),
        "bootstrap_servers": text("kafka_brokers_sasl", "bootstrap_servers"),
        "api_key": text("api_key", "apikey"),
    }
    if found["api_key"] is None:
        found["user"], found["password"] = text("user"), text("password")
    certificate, key = path("client_cert"), path("client_key")
    if key is not None and certificate is None:
        raise ConfigurationError(f"{where}: client_key needs client_cert")
    found |= {
        "api_version": text("api_version"),
        "verify": path("ca_bundle"),
        "ca_password": text("ca_password"),
        "cert": (certificate, key) if key is not None else certificate,
        "cert_password": text("client_cert_password"),
    }
    try:
        return check_options(found, list(found))
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
