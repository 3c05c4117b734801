"""Engines by name, imported on first use: ``import es_pandas`` loads no HTTP library."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Literal

from .._exceptions import ConfigurationError
from ._base import AsyncTransport, TransportConfig

__all__ = ["ENGINES", "Engine", "EngineName", "build_transport", "check_engine"]

EngineName = Literal["aiohttp", "httpx"]
#: an engine's name, or anything that makes a transport from a config: an
#: :class:`AsyncTransport` subclass, or e.g. ``functools.partial(MockTransport, handler)``
Engine = EngineName | Callable[[TransportConfig], AsyncTransport]

#: name -> (module, class, the distribution to install)
ENGINES: dict[str, tuple[str, str, str]] = {
    "aiohttp": ("._aiohttp", "AiohttpTransport", "aiohttp"),
    "httpx": ("._httpx", "HttpxTransport", "httpx"),
}


def check_engine(engine: object) -> Engine:
    """Refuse an unknown name, a class that is not a transport, or an engine whose
    library is not installed, before anything is sent."""
    if isinstance(engine, type):
        if not issubclass(engine, AsyncTransport):
            raise ConfigurationError(
                f"engine: {engine.__name__} is not an es_pandas.transports.AsyncTransport subclass"
            )
        return engine
    if callable(engine):
        return engine
    if engine not in ENGINES:
        raise ConfigurationError(
            f"engine: unknown engine {engine!r}; choose one of {', '.join(ENGINES)}, "
            "or pass an es_pandas.transports.AsyncTransport subclass"
        )
    # Installed, without importing it: the HTTP library loads when a run starts.
    distribution = ENGINES[str(engine)][2]
    if importlib.util.find_spec(distribution) is None:
        raise ConfigurationError(_missing(str(engine)))
    return engine  # type: ignore[return-value]


def _missing(name: str) -> str:
    distribution = ENGINES[name][2]
    return f"engine: the {name} engine needs {distribution}: pip install {distribution}"


def _engine_class(name: str) -> type[AsyncTransport]:
    module, cls, _ = ENGINES[name]
    try:
        return getattr(importlib.import_module(module, __package__), cls)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise ConfigurationError(_missing(name)) from exc


def build_transport(engine: Engine, config: TransportConfig) -> AsyncTransport:
    factory = _engine_class(engine) if isinstance(engine, str) else engine
    transport = factory(config)
    if not isinstance(transport, AsyncTransport):
        raise ConfigurationError(
            f"engine: {engine!r} made a {type(transport).__name__}, not an AsyncTransport"
        )
    return transport
