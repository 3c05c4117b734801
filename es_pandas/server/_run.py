"""Running the app under uvicorn: in the foreground (``es-pandas serve``) or on a
background thread (:class:`LocalEventStreams`)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._app import ABORT_EXTENSION
from ._auth import CLIENT_CERT_EXTENSION

__all__ = ["bind_socket", "uvicorn_config"]


class _AbortableProtocol(HttpToolsProtocol):
    """Gives the app a way to drop the connection with no answer at all, which the
    ASGI interface has no message for (used by the ``drop`` fault), and the client
    certificate the TLS handshake verified, which uvicorn does not pass on."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # ASGI types extensions as dicts; this one is a callable the app may call.
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}  # type: ignore[dict-item]
        # asyncio's (and uvloop's) TLS transports keep it from the handshake
        certificate = self.transport.get_extra_info("peercert")
        if certificate:
            self.scope["extensions"][CLIENT_CERT_EXTENSION] = certificate


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one, known before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(
    app: Any,
    *,
    log_level: str = "warning",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    client_ca: str | None = None,
) -> uvicorn.Config:
    """``client_ca`` makes TLS mutual: only clients whose certificate it signed connect,
    as on-premises Event Streams can be set up."""
    return uvicorn.Config(
        app,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_ca_certs=client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED if client_ca else ssl.CERT_NONE,
        http=_AbortableProtocol,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        backlog=2048,
        # Nothing here sits behind a proxy, and IBM's answers carry no Server header;
        # both cost CPU on every request.
        proxy_headers=False,
        server_header=False,
    )
