"""Credentials as request headers: Basic, Bearer, X-Auth-Token and IAM API-key exchange.

An :class:`Auth` is plain configuration and can be shared between runs; the IAM
token it fetched is cached on it. Nothing here depends on the HTTP library: the
IAM exchange goes through whatever transport the run uses.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

from ._exceptions import ConfigurationError, EventStreamsError
from ._transports import (
    DEFAULT_HEADERS,
    Redactor,
    Response,
    TransportError,
    basic_token,
    redact,
    split_userinfo,
)
from ._wire import parse_error

__all__ = [
    "APIKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "IAMAuth",
    "IAMError",
    "IAMUnavailable",
    "Send",
    "StaticAuth",
    "XAuthTokenAuth",
]

Send = Callable[[str, str, Mapping[str, str], bytes], Awaitable[Response]]

IBM_IAM_URL = "https://iam.cloud.ibm.com/identity/token"
_IAM_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
#: seconds until a renewal that found IAM unavailable is tried again, at most
_RENEW_AGAIN = 60.0

logger = logging.getLogger("es_pandas")


class Auth(ABC):
    """Headers that authenticate a request. Subclasses that can renew themselves
    (IAM) set ``renewable`` and override :meth:`refresh`."""

    #: whether the headers are ``Authorization: Bearer`` (v2 accepts no other)
    bearer = False
    #: whether :meth:`refresh` can renew the credentials after a 401
    renewable = False
    #: where the credentials came from, for messages ("ES_PANDAS_API_KEY", ...)
    origin = ""
    #: the service the credentials are exchanged with (IAM), for messages
    service = ""

    @abstractmethod
    async def headers(self, send: Send) -> Mapping[str, str]:
        """The headers to add to a request; ``send`` lets an auth make requests of its own."""

    async def refresh(self, send: Send, rejected: Mapping[str, str]) -> bool:
        """After a 401: renew the credentials if possible; True if worth retrying."""
        return False

    def static_headers(self) -> Mapping[str, str] | None:
        """The headers, when they are the same for every request (None otherwise)."""
        return None

    def shown_headers(self) -> dict[str, str]:
        """What the headers look like with the secrets masked, for dry runs."""
        return {"Authorization": f"<set by {type(self).__name__}>"}

    def secrets(self) -> list[str]:
        """The secret strings it holds now, to take out of any text shown to a user
        (a server may echo a credential back in its error message)."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class StaticAuth(Auth):
    """The same headers on every request."""

    def __init__(self, headers: dict[str, str], secrets: list[str] | None = None) -> None:
        self._headers = headers
        self._secrets = [*(secrets or ()), *headers.values()]

    def secrets(self) -> list[str]:
        return self._secrets

    async def headers(self, send: Send) -> Mapping[str, str]:
        return self._headers

    def static_headers(self) -> Mapping[str, str]:
        return self._headers

    def shown_headers(self) -> dict[str, str]:
        return {
            name: f"{value.partition(' ')[0]} <redacted>"
            if name == "Authorization"
            else "<redacted>"
            for name, value in self._headers.items()
        }


class BasicAuth(StaticAuth):
    """``Authorization: Basic`` with a user name and password (or ``token`` and an API key)."""

    def __init__(self, user: str, password: str) -> None:
        encoded = basic_token(user, password)
        super().__init__({"Authorization": f"Basic {encoded}"}, [password, encoded])
        self.user = user

    def __repr__(self) -> str:
        return f"<BasicAuth user={self.user!r}>"


class BearerAuth(StaticAuth):
    """``Authorization: Bearer <token>`` with a static token or API key."""

    bearer = True

    def __init__(self, token: str) -> None:
        super().__init__({"Authorization": f"Bearer {token}"}, [token])


class XAuthTokenAuth(StaticAuth):
    """``X-Auth-Token: <api key>`` (v1 only)."""

    def __init__(self, api_key: str) -> None:
        super().__init__({"X-Auth-Token": api_key}, [api_key])


def APIKeyAuth(api_key: str, style: Literal["bearer", "basic", "x-auth-token"] = "bearer") -> Auth:
    """An API key sent the way ``style`` says: Bearer (v1 and v2), Basic ``token:<key>``
    or ``X-Auth-Token`` (v1 only)."""
    if style == "bearer":
        return BearerAuth(api_key)
    if style == "basic":
        return BasicAuth("token", api_key)
    if style == "x-auth-token":
        return XAuthTokenAuth(api_key)
    raise ConfigurationError(f"unknown auth style {style!r}: use bearer, basic or x-auth-token")


class IAMAuth(Auth):
    """Exchanges an API key for an IAM access token and renews it before it expires.

    As IBM's SDK does, the token is renewed once 80% of its lifetime has passed;
    one exchange runs at a time however many requests are waiting, and a 401 on
    a request triggers one early renewal. A renewal that finds IAM unavailable keeps
    the token in hand while it is valid, and is tried again later (as IBM's SDK does).
    """

    bearer = True
    renewable = True

    def __init__(self, api_key: str, url: str = IBM_IAM_URL, *, refresh_fraction: float = 0.8):
        self._api_key = api_key
        self.url = url
        self._refresh_fraction = refresh_fraction
        self._token: str | None = None
        # the token before it: requests sent with it may be answered after a renewal
        self._previous: str | None = None
        self._refresh_at = 0.0
        self._expires = 0.0
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self.exchanges = 0
        self.service = f"IAM at {split_userinfo(url)[0]}"

    def __repr__(self) -> str:
        return f"<IAMAuth url={split_userinfo(self.url)[0]!r}>"

    def __getstate__(self) -> dict[str, Any]:
        # A lock belongs to its event loop: a copy (a Dask worker's) makes its own.
        return {**self.__dict__, "_locks": {}}

    def shown_headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer <IAM token>"}

    def secrets(self) -> list[str]:
        return [self._api_key, *(token for token in (self._token, self._previous) if token)]

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: each run may have its own loop.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {loop: asyncio.Lock()}
            lock = self._locks[loop]
        return lock

    async def headers(self, send: Send) -> Mapping[str, str]:
        token = self._token
        now = time.time()
        if token is None or now >= self._refresh_at:
            if token is not None and now < self._expires and self._lock().locked():
                # Another request is renewing it: go with the token in hand, still
                # valid, rather than wait out IAM's retries should IAM be unwell.
                return {"Authorization": f"Bearer {token}"}
            token = await self._exchange(send, stale=token, renewing=True)
        return {"Authorization": f"Bearer {token}"}

    async def refresh(self, send: Send, rejected: Mapping[str, str]) -> bool:
        await self._exchange(send, stale=rejected.get("Authorization", "")[7:] or None)
        return True

    async def _exchange(self, send: Send, stale: str | None, renewing: bool = False) -> str:
        async with self._lock():
            # Another request may have renewed the token while this one waited (or,
            # IAM unavailable, put its renewal off).
            if (
                self._token is not None
                and (self._token != stale or renewing)
                and time.time() < self._refresh_at
            ):
                return self._token
            try:
                return await self._renew(send)
            except (IAMUnavailable, TransportError) as exc:
                now = time.time()
                if not renewing or self._token is None or now >= self._expires:
                    raise
                # IAM is unwell, but the token in hand is valid: keep it, and try
                # again later, at least once more before it expires.
                left = self._expires - now
                self._refresh_at = now + min(_RENEW_AGAIN, left / 2)
                logger.warning(
                    "could not renew the IAM token (%s); the current one, valid for %.0f s"
                    " more, is kept",
                    exc,
                    left,
                )
                return self._token

    async def _renew(self, send: Send) -> str:
        """A new token from IAM, and when to renew it."""
        body = urlencode({"grant_type": _IAM_GRANT, "apikey": self._api_key}).encode()
        answer = await send(
            "POST",
            self.url,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                **DEFAULT_HEADERS,
            },
            body,
        )
        if answer.status != 200:
            # the key out before the message is cut to its length, or part of it would stay
            body = Redactor()(answer, [self._api_key]).body
            reason = redact(parse_error(answer.status, body), [self._api_key])
            if answer.status == 429 or answer.status >= 500:
                # IAM itself is unwell, retries spent: the key may well be fine
                raise IAMUnavailable(f"the token exchange answered {reason}")
            raise IAMError(f"IAM token exchange failed: {reason}")
        token, grant = _access_token(answer.body)
        # As IBM's SDK does, go by the token's own exp/iat claims: they do not
        # drift with the time the answer took to arrive.
        claims = _jwt_claims(token)
        now = time.time()
        lifetime = _seconds(grant.get("expires_in")) or 3600.0
        expires = claims.get("exp") or _seconds(grant.get("expiration")) or now + lifetime
        issued = claims.get("iat") or now
        refresh_at = expires - (1 - self._refresh_fraction) * (expires - issued)
        if refresh_at <= now:
            # Claims that say the token is already old (a skewed clock on either
            # side): go by its lifetime from now, or every request would exchange.
            refresh_at = now + self._refresh_fraction * lifetime
            expires = now + lifetime
        self._previous, self._token = self._token, token
        self._refresh_at = refresh_at
        self._expires = expires
        self.exchanges += 1
        return token


def _seconds(value: object) -> float | None:
    """A positive, finite number of seconds from an answer, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 < value < float("inf") else None


def _jwt_claims(token: str) -> dict[str, float]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, RecursionError):
        return {}
    if not isinstance(claims, dict):
        return {}
    return {k: v for k in ("exp", "iat") if (v := _seconds(claims.get(k))) is not None}


def _access_token(body: bytes) -> tuple[str, dict[str, object]]:
    """The token of an IAM answer, or IAMError: it goes into a header, so it must be
    a header-safe string."""
    try:
        grant = json.loads(body)
    except (ValueError, RecursionError):
        grant = None
    token = grant.get("access_token") if isinstance(grant, dict) else None
    if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
        raise IAMError("IAM answered 200 without a usable access_token")
    return token, grant


class IAMError(EventStreamsError):
    """The IAM token exchange failed; the run turns this into :class:`AuthenticationError`."""


class IAMUnavailable(TransportError):
    """IAM gave no usable answer (429, 5xx) once the run's retries were spent: the run
    treats it as a service down (ServiceUnavailable), not as refused credentials."""
