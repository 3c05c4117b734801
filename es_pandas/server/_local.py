"""The local server in a background thread, for tests, notebooks and demos."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any, Literal, TypeVar

import pandas as pd
import uvicorn

from ._app import create_app
from ._config import ServerConfig
from ._faults import FaultConfig, OverQuota
from ._kafka import KafkaStore
from ._run import bind_socket, uvicorn_config
from ._schemas import NOT_AVRO, avro_datum
from ._storage import Headers, Record, SQLiteStore, Store

__all__ = ["LocalEventStreams"]

T = TypeVar("T")


class LocalEventStreams:
    """A local Event Streams REST producer on a free port, run on a background thread.

        >>> with LocalEventStreams(topics={"orders": 3}) as es:
        ...     es.url, es.api_key          # where and how to connect
        ...     es.records("orders")        # what has been stored, as a DataFrame
        ...     es.registry_url             # its schema registry, Confluent's API

    Keyword arguments are :class:`ServerConfig` fields (``profile="onprem"``,
    ``auth=False``, ``api_keys=[...]``, ``users={...}``, ``schemas={...}``,
    ``faults=FaultConfig(...)``, ``schema_compatibility="FULL"``, ...). ``db`` is a
    SQLite path, for the records and the schema registry; the default keeps them in
    memory. ``bootstrap_servers`` (and ``kafka_config``, librdkafka settings) store them
    in a Kafka cluster instead (the registry in topic ``_schemas``), making the server a
    REST producer gateway. ``ssl_certfile`` and ``ssl_keyfile`` serve HTTPS;
    ``client_ca`` then requires a client certificate signed by that CA (mutual TLS),
    whose common name is the user of a request that sends no other credentials.
    """

    def __init__(
        self,
        topics: Mapping[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str = ":memory:",
        api_key: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        client_ca: str | None = None,
        bootstrap_servers: str | None = None,
        kafka_config: Mapping[str, str] | None = None,
        **config: Any,
    ) -> None:
        if api_key is not None:
            config["api_keys"] = [api_key, *config.get("api_keys", ())]
        self.config = ServerConfig(topics=dict(topics or {}), **config)
        self.host = host
        self._port = port
        if client_ca and not ssl_certfile:
            raise ValueError("client_ca (mutual TLS) needs ssl_certfile")
        self._ssl = (ssl_certfile, ssl_keyfile, client_ca)
        self._store: Store = (
            KafkaStore(bootstrap_servers, kafka_config) if bootstrap_servers else SQLiteStore(db)
        )
        self.app = create_app(self.config, store=self._store)
        self._state = self.app.state.es
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"<LocalEventStreams {where} topics={self.topics()}>"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> LocalEventStreams:
        if self._server is not None:
            return self
        sock = bind_socket(self.host, self._port)
        self._port = sock.getsockname()[1]
        certfile, keyfile, client_ca = self._ssl
        server = uvicorn.Server(
            uvicorn_config(
                self.app, ssl_certfile=certfile, ssl_keyfile=keyfile, client_ca=client_ca
            )
        )
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start() or stop()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="es-pandas-local-server", daemon=True)
        self._thread.start()
        while not server.started:
            if not self._thread.is_alive():
                self._server = None
                raise RuntimeError("the local Event Streams server did not start") from self._error
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(10)
        self._server = None

    close = stop

    def __enter__(self) -> LocalEventStreams:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- connecting ----------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The ``kafka_http_url`` to give a client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._ssl[0] else "http"
        return f"{scheme}://{host}:{self._port}"

    @property
    def api_key(self) -> str | None:
        return next(iter(self.config.api_keys), None)

    @property
    def user(self) -> tuple[str, str] | None:
        """A user name and password that work (Basic, v1), if the server has users."""
        return next(iter(self.config.users.items()), None)

    @property
    def credentials(self) -> dict[str, Any]:
        """Credentials pointing at this server: IBM Cloud's service-credentials dict, or
        in the ``onprem`` profile a user's name and password."""
        if not self.config.deployment.api_keys:
            user, password = self.user or (None, None)
            return {"kafka_http_url": self.url, "user": user, "password": password}
        key = self.api_key
        return {
            "kafka_http_url": self.url,
            "user": "token",
            "api_key": key,
            "apikey": key,
            "password": key,
        }

    @property
    def registry_url(self) -> str:
        """The server's schema registry, for Confluent's clients and deserializers
        (``schema.registry.url``); it takes the credentials of ``/_local``."""
        return f"{self.url}/_local/registry"

    @property
    def iam_url(self) -> str:
        """Where this server issues IAM-style tokens for an API key (``cloud`` profile)."""
        return f"{self.url}/identity/token"

    # -- inspecting and steering ---------------------------------------------------

    def _call(self, coro: Any) -> Any:
        loop = self._state.loop
        if self._server is None or loop is None:
            coro.close()
            raise RuntimeError("the local Event Streams server is not running")
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(60)

    def topics(self) -> dict[str, int]:
        return self._store.topics()

    def create_topic(self, name: str, partitions: int = 1) -> None:
        self._call(self._state.create_topic(name, partitions))

    def read(
        self, topic: str, partition: int | None = None, offset: int = 0, limit: int | None = None
    ) -> list[Record]:
        """Stored records of ``topic`` as :class:`Record` objects, by partition and offset.
        A topic the server does not have is a KeyError: an empty list would read as
        "nothing landed" when the name is wrong."""
        topics = self.topics()
        if topic not in topics:
            raise KeyError(f"no topic {topic!r} here; the topics are {sorted(topics)}")
        records: list[Record] = self._call(self._store.read(topic, partition, offset, limit))
        return records

    def records(self, topic: str, *, decode: bool | Literal["avro"] = "avro") -> pd.DataFrame:
        """Stored records of ``topic`` as a DataFrame: partition, offset, timestamp,
        key, value, headers.

        ``decode``: ``"avro"`` (the default) reads Avro keys and values whose schema the
        server's registry holds (the Confluent wire format of v2's avro; v1's schema
        headers) into Python objects, with the registered schema, and leaves everything
        else bytes; ``True`` also makes other keys and values and header values str;
        ``False`` leaves every key and value the bytes stored."""
        rows = self.read(topic)
        registry = self._state.registry
        schema_headers = self.config.schema_headers if self.config.deployment.schemas else ()

        def readable(data: bytes | None, headers: Headers, from_headers: tuple[str, ...]) -> Any:
            if decode is False:
                return data
            datum = avro_datum(registry, data, headers, from_headers)
            if datum is not NOT_AVRO:
                return datum
            return _text(data) if decode is True else data

        frame = pd.DataFrame(
            {
                "partition": pd.array([r.partition for r in rows], dtype="Int32"),
                "offset": pd.array([r.offset for r in rows], dtype="Int64"),
                "timestamp": pd.to_datetime([r.timestamp for r in rows], unit="ms", utc=True),
                # object columns: a record without a key reads None whatever the others
                # hold (a column of str alone would make it NaN)
                "key": pd.Series([readable(r.key, r.headers, ()) for r in rows], dtype=object),
                "value": pd.Series(
                    [readable(r.value, r.headers, schema_headers) for r in rows], dtype=object
                ),
                "headers": [
                    [(n, _text(v) if decode is True else v) for n, v in r.headers] for r in rows
                ],
            }
        )
        return frame

    def set_faults(
        self,
        *,
        latency: float | tuple[float, float] = 0.0,
        rates: Mapping[str, float] | None = None,
        retry_after: float | None = 1.0,
        quota: float | None = None,
        over_quota: OverQuota = "delay",
        seed: int | None = None,
        script: Iterable[str] = (),
    ) -> None:
        """Replace the fault settings (see :class:`FaultConfig`, which also tells what a
        change of ``quota`` mid-run keeps); ``script`` queues actions for the next
        requests, e.g. ``["503"] * 5``."""
        self._state.faults.configure(
            FaultConfig(
                # FaultConfig turns a single latency into a (low, high) range itself
                latency=latency,  # type: ignore[arg-type]
                rates=dict(rates or {}),
                retry_after=retry_after,
                quota=quota,
                over_quota=over_quota,
                seed=seed,
            )
        )
        self._state.faults.script(script)

    def script_faults(self, actions: Iterable[str]) -> None:
        """Queue fault actions for the next requests, one each."""
        self._state.faults.script(actions)

    def script_iam_faults(self, actions: Iterable[str]) -> None:
        """Queue answers of the IAM token route for its next requests, one each: a
        status such as ``"503"``, or ``"ok"``. Its Retry-After is 0: IAM is quick to
        come back in tests."""
        faults = self._state.iam_faults
        faults.configure(FaultConfig(retry_after=0))
        faults.script(actions)

    def clear_faults(self) -> None:
        self._state.faults.reset()
        self._state.iam_faults.reset()

    def stats(self) -> dict[str, int]:
        """Counts of produce requests answered, by status (plus ``requests``, ``dropped``,
        ``received``, which counts them as they arrive, and ``throttled``: beyond the
        quota, held back over a millisecond or refused)."""
        return dict(self._state.stats)

    def reset_stats(self) -> None:
        self._state.stats.clear()


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")
