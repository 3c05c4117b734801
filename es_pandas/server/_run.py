"""Running the app under uvicorn: in the foreground (``es-pandas serve``) or on a
background thread (:class:`LocalEventStreams`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import socket
import ssl
import sys
from typing import Any, cast

import uvicorn

from ._config import ServerConfig
from ._protocol import ServerProtocol

__all__ = ["bind_socket", "raise_open_file_limit", "uvicorn_config"]


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one, known before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, asyncio turns Nagle's algorithm off on each connection (uvloop does
    # either way): left on, a response's head and body, written apart, wait out the
    # client's delayed ACK, about 40 ms a request on a kept-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def raise_open_file_limit() -> None:
    """Lift this process's soft limit on open files to the hard one: each connection
    is a file, and a soft limit of 1024 (common on Linux) would let a thousand idle
    clients shut out the rest."""
    if sys.platform == "win32":
        return  # no such limit
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and soft != resource.RLIM_INFINITY:
        # macOS may report an unlimited hard limit and refuse it: the soft one stays
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_config(
    app: Any,
    *,
    log_level: str = "warning",
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    client_ca: str | None = None,
) -> uvicorn.Config:
    """uvicorn's settings for ``app``, made by :func:`create_app`, whose
    :class:`ServerConfig` gives the connections' timeouts.

    ``client_ca`` makes TLS mutual: only clients whose certificate it signed connect,
    as on-premises Event Streams can be set up."""
    config: ServerConfig = app.state.es.config
    protocol = functools.partial(
        ServerProtocol, idle_timeout=config.idle_timeout, request_timeout=config.request_timeout
    )
    return uvicorn.Config(
        app,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ssl_ca_certs=client_ca,
        ssl_cert_reqs=ssl.CERT_REQUIRED if client_ca else ssl.CERT_NONE,
        # uvicorn takes a protocol class; it only ever calls it with keywords
        http=cast(type[asyncio.Protocol], protocol),
        # uvicorn's own idle timer runs after each answer; ServerProtocol's covers it
        timeout_keep_alive=math.ceil(config.idle_timeout),
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
