"""The contract every HTTP engine honours, and the parts of it no engine builds alone.

An engine is an :class:`AsyncTransport` subclass made from one :class:`TransportConfig`.
Everything about a connection that is not the request itself lives in that config, and
the two things engines must agree on byte for byte are built here once: the TLS
context (:meth:`TransportConfig.ssl_context`) and the proxy a URL goes through
(:meth:`TransportConfig.proxy_for`). An engine never follows redirects, never takes a
1xx answer as final, decodes ``gzip`` and ``deflate``, caps the decoded answer at
``max_answer_bytes``, bounds the whole request by ``timeout`` and maps every exception
its library raises to :class:`TransportError` with a correct ``sent`` flag.

Longer than this project's ~400-line guide on purpose: this is the whole contract
an engine honours (its configuration, errors, answer and decoder), in one place for
engine authors.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import ssl
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from ..__version__ import __version__
from .._exceptions import ConfigurationError, EventStreamsError
from ._certs import load_identity, trust_arguments

__all__ = [
    "CLOSED_UNANSWERED",
    "AnswerTooLarge",
    "AsyncTransport",
    "ConnectError",
    "ConnectTimeout",
    "Decoder",
    "Proxy",
    "ProxyError",
    "Redactor",
    "RemoteProtocolError",
    "Response",
    "ResponseTimeout",
    "TLSError",
    "TransportConfig",
    "TransportError",
    "basic_token",
    "body_error",
    "check_proxy_url",
    "describe",
    "form_secrets",
    "header_secrets",
    "host_of",
    "proxy_unreachable",
    "redact",
    "split_userinfo",
]

# The connection gets a budget strictly inside the request's: with equal deadlines the
# request timer may fire first while still connecting, and a request that never left
# would be reported as possibly sent.
_CONNECT_SHARE = 0.8
_SECRET_HEADERS = ("authorization", "x-auth-token", "proxy-authorization")
#: on every request es_pandas makes, the IAM exchange's too, so that no engine's own
#: defaults show (aiohttp would also offer br and zstd when their libraries are there)
DEFAULT_HEADERS = {
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"eventstreams-pandas/{__version__}",
}
# The IAM token exchange shares the pool with the rows' requests: room for it, so a
# renewal never waits behind a full pool.
_SPARE_CONNECTIONS = 2
_SHORTEST_SECRET = 4


class TransportError(EventStreamsError):
    """The request got no usable HTTP answer.

    ``sent`` is False only when the engine knows the request never reached the server
    (connecting, the TLS handshake or the proxy failed): only then is a retry sure not
    to duplicate the record. ``answer`` holds the status and headers (and what was read
    of the body) when they arrived before the failure: the server has answered, and its
    status, not the failure, says what became of the record."""

    sent = True

    def __init__(self, message: str, *, answer: Response | None = None) -> None:
        super().__init__(message)
        self.answer = answer


class ConnectError(TransportError):
    """No connection to the server (or its proxy) could be made; the request was not sent."""

    sent = False


class ConnectTimeout(ConnectError):
    """Connecting took longer than its share of the timeout; the request was not sent."""


class TLSError(ConnectError):
    """The TLS handshake failed: an untrusted or wrong certificate on either side.

    ``kind`` is ``"verify"`` when the server's certificate was not trusted,
    ``"plain"`` when the server does not speak TLS at all, ``"client-cert"`` when the
    server refused the client certificate (or its absence), and ``"handshake"`` when
    the server broke the handshake off for a reason it did not say. With TLS 1.3 a
    refused client certificate is known only after the request was written, but the
    server never read it: not sent either. ``verify_code`` is OpenSSL's code for why the
    server's certificate was not trusted (``X509_V_ERR_*``), when known."""

    def __init__(
        self,
        message: str,
        kind: Literal["verify", "plain", "client-cert", "handshake"],
        *,
        verify_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.verify_code = verify_code

    def __reduce__(self) -> tuple[object, ...]:
        # the default would rebuild it from the message alone, without its kind
        return type(self), (*self.args, self.kind), self.__dict__


class ProxyError(ConnectError):
    """The proxy would not open a tunnel to the server (it answered its CONNECT with an
    error, such as 407 for credentials); the request was not sent."""


class ResponseTimeout(TransportError):
    """No complete answer within the timeout; the server may have processed the request."""


class RemoteProtocolError(TransportError):
    """After the request went out, the connection broke or the answer was malformed or too big."""


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer, whatever its status: engines never raise on 3xx, 4xx or 5xx."""

    status: int
    #: header names in lower case
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Proxy:
    """Where a request goes through: the proxy's URL without credentials (safe to
    show), the credentials that were in it, and where it was given (for messages)."""

    url: str
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    source: str = "proxy="

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.user is None else (self.user, self.password or "")

    def secrets(self) -> list[str]:
        """Its credentials as a proxy may echo them back (the password, and the token
        of the Basic header they are sent in), to take out of what is shown."""
        if self.user is None:
            return []
        token = basic_token(self.user, self.password or "")
        return [secret for secret in (self.password, token) if secret]

    def address(self) -> str:
        """The URL with its credentials, for a library that reads them from there."""
        if self.user is None:
            return self.url
        parts = urlsplit(self.url)
        userinfo = f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}"
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


@dataclass(frozen=True)
class TransportConfig:
    """Everything about the connection that is not the request itself; every engine
    honours every field the same way."""

    #: seconds for a whole request, from connecting to the answer's last byte
    timeout: float = 30.0
    #: connections to keep open at most (the run's concurrency)
    connections: int = 32
    #: a larger answer (after decoding) ends the request as a protocol error
    max_answer_bytes: int = 4 * 2**20
    #: True: verify TLS with the default CA bundle (certifi's, as requests and httpx do);
    #: False: do not verify; a path: that CA bundle file (PEM or PKCS#12) or certificate
    #: directory
    verify: bool | str = True
    #: a client certificate for mutual TLS: one PEM file holding the key and the
    #: certificate chain, a PKCS#12 bundle, or a ``(certificate, key)`` pair of PEM files
    cert: str | tuple[str, str] | None = None
    #: the password of a PKCS#12 CA bundle in :attr:`verify` (or SSL_CERT_FILE)
    ca_password: str | None = field(default=None, repr=False)
    #: the password of :attr:`cert`: of a PKCS#12 bundle, or of an encrypted PEM key
    cert_password: str | None = field(default=None, repr=False)
    #: send every request through this HTTP proxy (``http://[user:password@]host:port``)
    proxy: str | None = None
    #: honour HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR,
    #: as requests and httpx do
    trust_env: bool = True

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        if self.connections < 1:
            raise ConfigurationError("connections must be at least 1")
        if self.max_answer_bytes < 1:
            raise ConfigurationError("max_answer_bytes must be positive")
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise ConfigurationError(f"verify: no CA bundle at {self.verify!r}")
        for path in (self.cert,) if isinstance(self.cert, str) else self.cert or ():
            if not os.path.isfile(path):
                raise ConfigurationError(f"cert: no certificate file at {path!r}")
        if self.proxy is not None:
            _parse_proxy(self.proxy)

    def __getstate__(self) -> dict[str, object]:
        # The TLS context it keeps cannot be pickled: a copy (another process's, a
        # Producer handed to a spawned worker) makes its own.
        return {name: value for name, value in self.__dict__.items() if name != "_ssl_context"}

    def __repr__(self) -> str:
        proxy = None if self.proxy is None else split_userinfo(self.proxy)[0]
        return (
            f"TransportConfig(timeout={self.timeout!r}, connections={self.connections!r}, "
            f"verify={self.verify!r}, cert={self.cert!r}, proxy={proxy!r}, "
            f"trust_env={self.trust_env!r})"
        )

    @property
    def pool_size(self) -> int:
        """Connections an engine may open: :attr:`connections`, and room for IAM."""
        return self.connections + _SPARE_CONNECTIONS

    @property
    def connect_timeout(self) -> float:
        """Seconds to connect (TCP, proxy tunnel and TLS), inside :attr:`timeout`."""
        return self.timeout * _CONNECT_SHARE

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings of every engine: trust as :attr:`verify` says, and
        :attr:`cert` presented when the server asks for a client certificate. Built
        once: a bundle that cannot be read fails before anything is sent."""
        return self._ssl_context

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext:
        if self.verify is False:
            trust: tuple[str, str | None, str | None] | None = None
        else:
            trust = self._trust()
        cert = (self.cert,) if isinstance(self.cert, str) else self.cert or ()
        files = [path for path in (*(trust or ())[1:], *cert) if path is not None]
        return _tls_context(trust, self.ca_password, self.cert, self.cert_password, _stamps(files))

    def _trust(self) -> tuple[str, str | None, str | None]:
        """Where the CA certificates come from (for messages), and the bundle file or
        certificate directory to verify with."""
        source, location = "verify", self.verify if isinstance(self.verify, str) else None
        if location is None and self.trust_env:
            for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
                source, location = variable, os.environ.get(variable) or None
                if location is not None:
                    break
        if location is None:
            import certifi

            return "certifi", certifi.where(), None
        return (source, None, location) if os.path.isdir(location) else (source, location, None)

    def proxy_for(self, url: str) -> Proxy | None:
        """The proxy ``url`` goes through: :attr:`proxy`, else (with :attr:`trust_env`)
        the scheme's or ALL_PROXY from the environment; none when NO_PROXY names the
        host (with :attr:`trust_env`, also for an explicit proxy, as requests does).
        Worked out once per origin: engines ask for every request."""
        origin = origin_of(url)
        if origin not in self._proxies:
            self._proxies[origin] = self._choose_proxy(url)
        return self._proxies[origin]

    def secrets(self) -> list[str]:
        """The credentials of the proxies requests have gone through so far: a proxy's
        answer may echo them back."""
        return [s for proxy in self._proxies.values() if proxy is not None for s in proxy.secrets()]

    def uses_tls(self, url: str) -> bool:
        """Whether a request to ``url`` needs :meth:`ssl_context`: the URL or the proxy
        it goes through is https."""
        proxy = self.proxy_for(url)
        return url.startswith("https:") or (proxy is not None and proxy.url.startswith("https:"))

    @cached_property
    def _proxies(self) -> dict[str, Proxy | None]:
        return {}

    def _choose_proxy(self, url: str) -> Proxy | None:
        # urllib.request (with http.client and email) loads at a run's first URL, not
        # with es_pandas: import time
        import urllib.request

        parts = urlsplit(url)
        environment = self._environment_proxies
        # proxy_bypass_environment is public, but missing from typeshed's stubs
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if environment is not None and (
            bypass(parts.netloc, environment)
            or _in_networks(parts.hostname, environment.get("no", ""))
        ):
            return None
        chosen, source = self.proxy, "proxy"
        if chosen is None and environment is not None:
            source = f"{parts.scheme.upper()}_PROXY"
            chosen = environment.get(parts.scheme)
            if not chosen:
                source, chosen = "ALL_PROXY", environment.get("all")
        if not chosen:
            return None
        try:
            given = "proxy=" if source == "proxy" else f"the {source} environment variable"
            return _parse_proxy(chosen, given)
        except ConfigurationError as exc:
            if source == "proxy":
                raise
            reason = str(exc).removeprefix("proxy: ")
            raise ConfigurationError(
                f"the {source} environment variable: {reason}; exempt the host with NO_PROXY, "
                "or leave the environment's proxies out with trust_env=False"
            ) from None

    @cached_property
    def _environment_proxies(self) -> dict[str, str] | None:
        import urllib.request

        return urllib.request.getproxies_environment() if self.trust_env else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    return "/".join(url.split("/", 3)[:3])


def _in_networks(host: str | None, no_proxy: str) -> bool:
    """Whether ``host`` is an IP address in a network NO_PROXY names (``10.0.0.0/8``),
    as requests and curl read it; urllib matches names only."""
    import ipaddress  # with the run's first URL, as urllib.request

    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    for entry in no_proxy.split(","):
        try:
            if "/" in entry and address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue  # not a network: urllib has read it as a name
    return False


def _parse_proxy(url: str, source: str = "proxy=") -> Proxy:
    bare, user, password = split_userinfo(url)
    check_proxy_url(bare)
    return Proxy(bare, user, password, source)


def check_proxy_url(url: str) -> None:
    """Refuse what no engine can use as a proxy, naming it without credentials."""
    try:
        bare, user, password = split_userinfo(url)
        parts = urlsplit(bare)
    except ValueError:  # an unclosed [ of an IPv6 address
        raise ConfigurationError(
            "proxy: not a proxy URL (http://[user:password@]host:port)"
        ) from None
    scheme = parts.scheme
    if "@" in bare and not bare.startswith(("http://", "https://")):
        # user info where no host can be read (user:password@host:port): never shown
        raise ConfigurationError(
            "proxy: not a proxy URL: it needs its scheme, http://[user:password@]host:port"
        )
    if parts.query or parts.fragment or "@" in parts.path or bare.endswith(("?", "#")):
        # A '/', '?' or '#' in the credentials ends the host early: the URL's host would
        # be read from inside the password, and the URL could not be shown.
        raise ConfigurationError(
            "proxy: not a proxy URL (http://[user:password@]host:port); percent-encode "
            "any '/', '?', '#' or '@' in its user info (%2F, %3F, %23, %40)"
        )
    if scheme not in ("http", "https") or not parts.hostname:
        socks = " (SOCKS is not supported)" if scheme.startswith("socks") else ""
        raise ConfigurationError(f"proxy: {bare!r} is not an http:// or https:// proxy URL{socks}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number from 0 to 65535
    except ValueError:
        # An engine would fail each request on it, naming the URL whole: credentials too.
        raise ConfigurationError(f"proxy: {bare!r} has no valid port number") from None
    # Proxy credentials become a header too, and the engines encode anything but
    # printable ASCII differently.
    for part in (user or "", password or ""):
        if not (part.isascii() and part.isprintable()):
            raise ConfigurationError(
                f"proxy: the credentials in {bare!r} hold characters a header cannot carry"
            )


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``url`` without ``user:password@``, and the user and password it held (decoded)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, password = userinfo.partition(":")
    return (
        urlunsplit(parts._replace(netloc=host)),
        unquote(user),
        unquote(password) if sep else None,
    )


class AnswerTooLarge(Exception):
    """The answer's body passed ``max_answer_bytes``; ``head`` is what was read of it."""

    def __init__(self, cap: int, head: bytes) -> None:
        super().__init__(f"the answer is larger than {cap:,} bytes")
        self.head = head


class Decoder:
    """Decodes a gzip or deflate body as it arrives, never past ``cap`` bytes (a few KB
    of gzip can expand to gigabytes). Several codings (``Content-Encoding: deflate,
    gzip``, or the header twice) are undone in reverse order, each step never holding
    more than ``cap`` bytes either. A body with a coding other than these passes through
    as it is, as httpx does without its optional decoders: the status still decides the
    row."""

    def __init__(self, coding: str | None, cap: int) -> None:
        codings = [c.strip().lower() for c in (coding or "").split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        self._cap = cap
        self._size = 0
        # the last coding applied is undone first
        known = all(c in _WBITS for c in codings)
        self._steps = [_Inflater(c) for c in reversed(codings)] if known else []
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self._pass(data, 0)

    def _pass(self, data: bytes, step: int) -> None:
        if step == len(self._steps):
            self._keep(data)
            return
        # an inner step's output is as bounded as the answer: cap + 1 at a time
        room = self._cap + 1 - self._size if step == len(self._steps) - 1 else self._cap + 1
        for out in self._steps[step].inflate(data, room):
            self._pass(out, step + 1)

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        self._parts.append(data)
        if self._size > self._cap:
            raise AnswerTooLarge(self._cap, b"".join(self._parts)[: self._cap])

    def body(self) -> bytes:
        for step in range(len(self._steps)):
            self._pass(self._steps[step].flush(), step + 1)
        return b"".join(self._parts)


# wbits: gzip framing; deflate's zlib framing (raw deflate is tried when that fails)
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class _Inflater:
    """One coding of :class:`Decoder`, undone in pieces of at most ``room`` bytes."""

    def __init__(self, coding: str) -> None:
        self._zlib = zlib.decompressobj(_WBITS[coding])
        # "deflate" is often sent without its zlib header
        self._raw_fallback = coding == "deflate"

    def inflate(self, data: bytes, room: int) -> Iterator[bytes]:
        while data:
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._zlib, self._raw_fallback = zlib.decompressobj(-zlib.MAX_WBITS), False
                continue
            self._raw_fallback = False
            yield out
            data = self._zlib.unconsumed_tail

    def flush(self) -> bytes:
        return self._zlib.flush()


#: why a request ended with the connection closed and no answer, in every engine's words
CLOSED_UNANSWERED = "the server closed the connection before answering"


def proxy_unreachable(config: TransportConfig, url: str, why: str) -> ConnectError:
    """The proxy ``url`` goes through could not be connected to: it is named, and so is
    where it was given (an environment variable a user may not know is set)."""
    proxy = config.proxy_for(url)
    if proxy is None:
        return ConnectError(f"cannot connect to the proxy: {why}")
    given = "" if proxy.source == "proxy=" else f" ({proxy.source})"
    return ConnectError(f"cannot connect to the proxy {proxy.url}{given}: {why}")


def body_error(
    exc: BaseException,
    head: Response,
    *,
    timed_out: bool,
    timeout: float,
    headers: Mapping[str, str],
) -> TransportError:
    """A failure reading the body of an answer whose head arrived: it carries the head,
    so the status still says what became of the record."""
    if timed_out:
        return ResponseTimeout(
            f"the answer's body did not come within the {timeout:g}s timeout", answer=head
        )
    reason = str(exc) if isinstance(exc, AnswerTooLarge) else describe(exc, headers)
    return RemoteProtocolError(f"the answer's body could not be read: {reason}", answer=head)


def host_of(url: str) -> str:
    """``host:port`` of ``url``, for messages."""
    return urlsplit(url).netloc.rpartition("@")[2]


def describe(exc: BaseException, headers: Mapping[str, str]) -> str:
    """A library exception as one line for a row's ``error``, credentials scrubbed: a
    library may echo a header it could not send. Libraries often wrap the error that
    says what happened in ones that say nothing (httpx's ``ReadError()``): follow the
    chain to the first with words."""
    cause: BaseException | None = exc
    while cause is not None and not str(cause).strip():
        cause = cause.__cause__ or cause.__context__
    secrets = header_secrets(headers)
    text = type(exc).__name__
    if cause is not None:
        # scrubbed before its whitespace is collapsed: a secret's own spaces would go too
        words = " ".join(redact(str(cause), secrets).split())
        text = words if cause is exc else f"{text} ({type(cause).__name__}: {words})"
    return redact(text, secrets)[:500]


def basic_token(user: str, password: str) -> str:
    """The credentials of an ``Authorization: Basic`` header (UTF-8, RFC 7617)."""
    return base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The credentials in request headers: each value, its part after the scheme
    (``Bearer``, ``Basic``), and a Basic password, which a library or server may quote."""
    secrets = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, credentials = value.partition(" ")
            secrets += [value, credentials]
            if scheme.lower() == "basic":
                # not base64, or not UTF-8: sent as it is
                with contextlib.suppress(ValueError):
                    secrets.append(base64.b64decode(credentials).decode().partition(":")[2])
    return secrets


def form_secrets(headers: Mapping[str, str], body: bytes) -> list[str]:
    """The credentials in a form body, where a token endpoint such as IAM takes them
    (OAuth's ``apikey``, ``password``, ``client_secret``): each field's value, as sent
    and decoded. ``grant_type`` only names the exchange."""
    kind = next((v for n, v in headers.items() if n.lower() == "content-type"), "")
    if not kind.lower().startswith("application/x-www-form-urlencoded"):
        return []
    secrets = []
    for pair in body.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if unquote_plus(name) != "grant_type":
            secrets += [value, unquote_plus(value)]
    return secrets


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret in it replaced. Secrets of a few characters are left:
    no real key is that short, and replacing them would mangle the message."""
    for secret in sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


class Redactor:
    """Takes secrets out of answers before anything reads them: a server may echo a
    credential back, and a message cut to its length would keep the part of it before
    the cut. Each secret goes as sent and as JSON escapes it. On every answer's path:
    the forms are worked out again only when the secrets change (a renewed token)."""

    __slots__ = ("_bytes", "_forms", "_secrets")

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._forms: tuple[str, ...] = ()
        self._bytes: tuple[bytes, ...] = ()

    def __call__(self, answer: Response, secrets: Iterable[str]) -> Response:
        secrets = tuple(secrets)
        if secrets != self._secrets:
            self._learn(secrets)
        if not self._forms:
            return answer
        body = answer.body
        for form in self._bytes:
            if form in body:
                body = body.replace(form, b"<redacted>")
        headers = answer.headers
        values = "\n".join(headers.values())
        if any(form in values for form in self._forms):
            headers = {name: redact(value, self._forms) for name, value in headers.items()}
        if body is answer.body and headers is answer.headers:
            return answer
        return Response(answer.status, headers, body)

    def _learn(self, secrets: tuple[str, ...]) -> None:
        forms = {
            form
            for secret in secrets
            if len(secret) >= _SHORTEST_SECRET
            for form in (secret, json.dumps(secret)[1:-1], secret.replace("/", "\\/"))
        }
        # the longest first: a secret may hold another
        self._forms = tuple(sorted(forms, key=len, reverse=True))
        self._bytes = tuple(form.encode() for form in self._forms)
        self._secrets = secrets


class AsyncTransport(ABC):
    """Sends one request and returns the answer; an engine subclasses this.

    ``__init__(config)`` takes a :class:`TransportConfig`. :meth:`send` returns every
    HTTP answer, whatever its status, and raises only :class:`TransportError`
    subclasses, for requests that got no usable answer, with ``sent`` telling whether
    the server may have seen them. ``asyncio.CancelledError`` always propagates.
    """

    def __init__(self, config: TransportConfig) -> None:
        self.config = config

    @abstractmethod
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Response: ...

    @abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _stamps(paths: Iterable[str]) -> tuple[tuple[int, int, int] | None, ...]:
    """What tells a file's versions apart: a CA bundle or a certificate replaced on
    disk makes a new context."""
    stamps: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            found = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append((found.st_ino, found.st_mtime_ns, found.st_size))
    return tuple(stamps)


# Loading a CA bundle (certifi's holds about 150 certificates) was most of a small
# frame's produce call in a notebook: calls with the same TLS settings and files share
# one context, which engines only read from. Failures are not cached.
@functools.lru_cache(maxsize=8)
def _tls_context(
    trust: tuple[str, str | None, str | None] | None,
    ca_password: str | None,
    cert: str | tuple[str, str] | None,
    cert_password: str | None,
    stamps: tuple[tuple[int, int, int] | None, ...],
) -> ssl.SSLContext:
    """The context of :meth:`TransportConfig.ssl_context`; ``trust`` as
    :meth:`TransportConfig._trust` says (None: verify nothing), ``stamps`` the files'."""
    if trust is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        source, cafile, capath = trust
        # a file may be PKCS#12 (es-cert.p12): read here, into memory
        arguments = (
            {"capath": capath} if cafile is None else trust_arguments(cafile, ca_password, source)
        )
        try:
            context = ssl.create_default_context(**arguments)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"{source}: cannot use {cafile or capath!r} as CA certificates: "
                f"{getattr(exc, 'reason', None) or exc.strerror or exc}"
            ) from None
    if cert is not None:
        load_identity(context, cert, cert_password)
    return context
