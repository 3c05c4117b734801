"""Who is calling the local server: Basic, Bearer, X-Auth-Token, IAM-style tokens and
client certificates."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config import ServerConfig

__all__ = ["CLIENT_CERT_EXTENSION", "Authenticator", "Denied", "certificate_user"]

#: ASGI scope extension holding the client certificate the TLS handshake verified, as
#: :meth:`ssl.SSLSocket.getpeercert` gives it; uvicorn passes none, so the server's own
#: protocol adds it (see ``_run.py``)
CLIENT_CERT_EXTENSION = "es_pandas.client_cert"


@dataclass(frozen=True, slots=True)
class Denied:
    """Why a request was not authenticated (the text goes into a 401 body)."""

    reason: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def certificate_user(scope: Mapping[str, Any]) -> str | None:
    """The common name of the request's verified client certificate (on premises, a
    KafkaUser's certificate names the user); "" for a certificate without one, None
    for no certificate."""
    certificate = scope.get("extensions", {}).get(CLIENT_CERT_EXTENSION)
    if not certificate:
        return None
    names = [v for rdn in certificate.get("subject", ()) for k, v in rdn if k == "commonName"]
    return names[0] if names else ""


class Authenticator:
    """Resolves a request's credentials to a principal (an API key or user name).

    Issued tokens are JWTs signed with a per-server secret, carrying ``iat`` and
    ``exp`` like IBM IAM's, so a client may read their lifetime the way IBM's SDK
    does. The API key itself never goes into a token.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.enabled = config.auth
        self._takes_api_keys = config.deployment.api_keys
        # An admin key is an API key that may also change the server (see _admin)
        keys = (*config.api_keys, *config.admin_keys)
        self._api_keys = frozenset(keys)
        self._users = dict(config.users)
        self._by_fingerprint = {_fingerprint(k): k for k in keys}
        self._secret = secrets.token_bytes(32)
        self.token_ttl = config.token_ttl

    def issue_token(self, api_key: str) -> dict[str, object] | None:
        """An IAM ``/identity/token`` answer for ``api_key``, or None if it is unknown."""
        if api_key not in self._api_keys:
            return None
        now = int(time.time())
        expires = now + max(1, round(self.token_ttl))
        payload = {
            "iam_id": "iam-ServiceId-" + _fingerprint(api_key),
            "sub": _fingerprint(api_key),
            "iat": now,
            "exp": expires,
            "jti": secrets.token_hex(8),
        }
        head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
        signature = _b64url(hmac.new(self._secret, f"{head}.{body}".encode(), "sha256").digest())
        return {
            "access_token": f"{head}.{body}.{signature}",
            "refresh_token": "not_supported",
            "token_type": "Bearer",
            "expires_in": expires - now,
            "expiration": expires,
            "scope": "ibm openid",
        }

    def _token_principal(self, token: str) -> str | Denied:
        head, _, rest = token.partition(".")
        body, _, signature = rest.partition(".")
        expected = hmac.new(self._secret, f"{head}.{body}".encode(), "sha256").digest()
        try:
            valid = hmac.compare_digest(_unb64url(signature), expected)
            claims = json.loads(_unb64url(body)) if valid else None
        except (binascii.Error, ValueError):
            valid = False
        if not valid or not isinstance(claims, dict):
            return Denied("invalid bearer token")
        if claims.get("exp", 0) <= time.time():
            return Denied("token expired")
        api_key = self._by_fingerprint.get(str(claims.get("sub")))
        return api_key if api_key is not None else Denied("invalid bearer token")

    def authenticate(
        self, headers: Mapping[str, str], *, bearer_only: bool, certificate_user: str | None = None
    ) -> str | Denied:
        """The principal behind ``headers`` (lower-cased names), or why not. Credentials
        sent decide; without any, a verified client certificate's ``certificate_user``
        is the principal (not on v2, which takes only Bearer)."""
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if not self._takes_api_keys and (scheme == "bearer" or "x-auth-token" in headers):
            return Denied(
                "on-premises Event Streams takes Basic credentials of a SCRAM user, or a "
                "client certificate: no API keys or tokens"
            )
        if scheme == "bearer" and credentials:
            if credentials in self._api_keys:
                return credentials
            if credentials.count(".") == 2:
                return self._token_principal(credentials)
            return Denied("invalid API key or token")
        if bearer_only:
            # The v2 API accepts only Bearer (API key or IAM token).
            if authorization or "x-auth-token" in headers:
                return Denied("this endpoint accepts only 'Authorization: Bearer <token>'")
            return Denied("missing 'Authorization: Bearer <token>' header")
        if scheme == "basic" and credentials:
            try:
                user, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return Denied("malformed Basic credentials")
            if password in self._api_keys:
                return password
            expected = self._users.get(user)
            if expected is not None and hmac.compare_digest(expected, password):
                return user
            return Denied(
                "invalid user name or " + ("API key" if self._takes_api_keys else "password")
            )
        token = headers.get("x-auth-token")
        if token is not None:
            return token if token in self._api_keys else Denied("invalid X-Auth-Token")
        if authorization:
            return Denied(f"unsupported authorization scheme {scheme!r}")
        if certificate_user is not None:
            return certificate_user or Denied("the client certificate has no common name")
        if not self._takes_api_keys:
            return Denied("missing credentials: send Basic credentials or a client certificate")
        return Denied("missing credentials: send Basic, Bearer or X-Auth-Token")
