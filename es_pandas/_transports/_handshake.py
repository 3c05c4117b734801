"""Why a TLS connection failed, in the same words whichever engine saw it.

With TLS 1.3 a server checks the client's certificate only after the client's side of
the handshake is done, so the client has sent its request by the time a refusal comes:
as an alert on its first read, or as a reset or a closed connection that looks like
any connection broken before the answer (a server that closes with the request unread
resets the connection, and the alert is lost; some servers send none). An alert is
read where it is found. A connection broken before an origin has ever answered is
told apart by a probe: one more TLS connection, on which nothing is sent. A server
that refused the certificate closes it at once; one that accepted it sends its
session tickets and waits for a request.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._base import (
    RemoteProtocolError,
    TLSError,
    TransportError,
    basic_token,
    host_of,
    origin_of,
)

if TYPE_CHECKING:
    from ._base import Proxy, TransportConfig

__all__ = ["HandshakeCheck", "tls_error"]

_GIVEN = "the client certificate given as cert= (--client-cert)"
_NO_ALERT = (
    "it takes only certificates signed by a CA it trusts (on premises: a KafkaUser's "
    "user.crt or user.p12), unexpired and not revoked"
)
# Java's TLS (Kafka's, Event Streams') says certificate_unknown of an expired or a
# stranger's certificate alike: such alerts say what the server takes.
_NOT_ACCEPTED = f"the server does not accept it: {_NO_ALERT}"
# TLS alerts a server sends about the client's certificate (ssl's reason names)
_REFUSALS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it received none",
    "SSLV3_ALERT_NO_CERTIFICATE": "it received none",
    "TLSV1_ALERT_UNKNOWN_CA": "it is not signed by a CA the server trusts",
    "SSLV3_ALERT_BAD_CERTIFICATE": _NOT_ACCEPTED,
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": _NOT_ACCEPTED,
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": _NOT_ACCEPTED,
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "it has expired",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "it has been revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "the server denies it access",
}


def tls_error(url: str, cause: BaseException | None, cert: bool) -> TLSError:
    """A failed TLS handshake with ``url``'s host, from the SSL error under it (if any),
    in the same words whichever engine saw it; ``cert``: a client certificate was
    given."""
    host = host_of(url)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return TLSError(
            f"the certificate of {host} is not trusted: {cause.verify_message.rstrip('.')}",
            "verify",
            verify_code=cause.verify_code,
        )
    reason = getattr(cause, "reason", None)
    if reason == "WRONG_VERSION_NUMBER":
        return TLSError(
            f"{host} does not speak TLS: is the URL http:// rather than https://?", "plain"
        )
    if reason in _REFUSALS:
        return _refused(cert, f"{_REFUSALS[reason]} (TLS alert {reason})")
    reason = f": {reason or cause}" if cause is not None else " (cut off)"
    return TLSError(f"the TLS handshake with {host} failed{reason}", "handshake")


def _refused(cert: bool, why: str = _NO_ALERT) -> TLSError:
    """The server refused the TLS handshake for the client certificate, or its absence."""
    if not cert:
        return TLSError(
            "the server refused the TLS handshake: it requires a client certificate "
            "(mutual TLS): pass cert= (--client-cert)",
            "client-cert",
        )
    return TLSError(f"the server refused the TLS handshake with {_GIVEN}: {why}", "client-cert")


class HandshakeCheck:
    """One transport's view of its origins: which have answered (TLS works there), and
    what the probe found of the others. Both engines consult it the same way."""

    def __init__(self, config: TransportConfig) -> None:
        self._config = config
        self._answered: set[str] = set()
        self._probed: dict[str, bool] = {}

    def answered(self, url: str) -> None:
        """An answer came from ``url``'s origin."""
        self._answered.add(origin_of(url))

    async def explain(self, url: str, error: TransportError, exc: BaseException) -> TransportError:
        """``error``, what the engine made of ``exc``, or the refused handshake under it."""
        cert = self._config.cert is not None
        alert = _alert(exc)
        if alert is not None:
            return tls_error(url, alert, cert)
        # broken off after the request went out, or during the handshake
        broken = isinstance(error, RemoteProtocolError) or (
            isinstance(error, TLSError) and error.kind == "handshake"
        )
        origin = origin_of(url)
        if not broken or not url.startswith("https:") or origin in self._answered:
            return error
        if origin not in self._probed:
            self._probed[origin] = await asyncio.to_thread(_probe, self._config, url)
        return _refused(cert) if self._probed[origin] else error


def _alert(exc: BaseException | None) -> ssl.SSLError | None:
    """The TLS alert about the client certificate under ``exc``, if there is one."""
    while exc is not None:
        if isinstance(exc, ssl.SSLError) and getattr(exc, "reason", None) in _REFUSALS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _probe(config: TransportConfig, url: str) -> bool:
    """Whether the server closes a TLS connection on which nothing was sent, right
    after the handshake: it refused the client's certificate (or its absence). False
    when that cannot be told (no connection, a handshake that fails, an https:// proxy,
    or no session tickets before the connect timeout)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    deadline = time.monotonic() + config.connect_timeout
    proxy = config.proxy_for(url)
    if proxy is not None and proxy.url.startswith("https:"):
        return False  # TLS inside TLS: not probed
    address = (host, port) if proxy is None else _address(proxy.url)
    try:
        sock = socket.create_connection(address, timeout=config.connect_timeout)
    except OSError:
        return False
    with sock:
        try:
            if proxy is not None:
                _tunnel(sock, proxy, host_of(url))
            tls = config.ssl_context().wrap_socket(sock, server_hostname=host)
        except (OSError, ValueError):
            return False
        with tls:
            # Before TLS 1.3 the server has checked the certificate inside the handshake.
            return tls.version() == "TLSv1.3" and _closes(tls, deadline)


def _closes(tls: ssl.SSLSocket, deadline: float) -> bool:
    """Whether the server ends the connection before sending its session tickets."""
    tls.setblocking(False)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([tls], [], [], remaining)[0]:
            return False
        try:
            data = tls.recv(1)
        except ssl.SSLWantReadError:
            # a record that was not data: the tickets, once the certificate was accepted
            if tls.session is not None and tls.session.has_ticket:
                return False
            continue
        except OSError:  # an alert (ssl.SSLError), a reset
            return True
        return not data


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 80


def _tunnel(sock: socket.socket, proxy: Proxy, target: str) -> None:
    """Through an http:// proxy: a CONNECT tunnel to ``target`` (host:port)."""
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.auth is not None:
        lines.append(f"Proxy-Authorization: Basic {basic_token(*proxy.auth)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the proxy closed the connection")
        head += chunk
    if head.split(b" ", 2)[1:2] != [b"200"]:
        raise ConnectionError("the proxy refused the tunnel")
