from __future__ import annotations

import importlib
from typing import Any

from .._exceptions import ConfigurationError
from ._base import AsyncTransport

__all__ = ["build_transport", "check_engine", "engine_names"]

_ENGINES = {
    "aiohttp": ("._aiohttp", "AiohttpTransport", "aiohttp"),
    "httpx": ("._httpx", "HttpxTransport", "httpx"),
    "httptools": ("._httptools", "HttptoolsTransport", "httptools"),
}


def engine_names() -> list[str]:
    return list(_ENGINES)


def check_engine(engine: str | type[AsyncTransport]) -> None:
    """Refuse an unknown name, a non-transport class or an engine that is not installed."""
    if isinstance(engine, type):
        if not issubclass(engine, AsyncTransport):
            raise ConfigurationError(
                f"engine {engine.__name__} is not an es_pandas AsyncTransport subclass"
            )
        return
    if engine not in _ENGINES:
        raise ConfigurationError(
            f"unknown engine {engine!r}; choose one of {', '.join(_ENGINES)} "
            "or pass an AsyncTransport subclass"
        )
    module, _, package = _ENGINES[engine]
    try:
        importlib.import_module(module, __package__)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {engine} engine needs {package}: pip install {package}"
        ) from exc


def build_transport(engine: str | type[AsyncTransport], **options: Any) -> AsyncTransport:
    check_engine(engine)
    if isinstance(engine, type):
        return engine(**options)
    module, name, _ = _ENGINES[engine]
    return getattr(importlib.import_module(module, __package__), name)(**options)
