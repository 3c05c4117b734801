"""The local Event Streams REST producer as an ASGI (Starlette) application.

Routes in IBM's namespace: ``POST /topics/{topic}/records`` (v1, :mod:`._v1`) and,
in the ``cloud`` profile (:mod:`._profiles`), ``POST /v2/topics/{topic}/records`` (v2,
:mod:`._v2`) and ``POST /identity/token`` (IAM API-key grant, :mod:`._iam`).
Everything else this server offers lives under ``/_local`` (:mod:`._admin`), which
IBM's API does not use: topics, stored records, faults and request counts, and the
schema registry (``/_local/registry``, :mod:`._registry_api`).

This module holds what the routes share: :class:`ServerState`, whose checks every
produce request goes through in either dialect, the routing table, and the answers to
errors no route handles (a wrong method, a failure of the server itself), which get
their path's error shape and trace id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import _admin, _registry_api
from ._auth import Authenticator, Denied, certificate_user
from ._body import BodyError, read_body
from ._config import ServerConfig, check_topic_name
from ._errors import (
    KAFKA_MESSAGE_TOO_LARGE,
    KAFKA_TOPIC_AUTHORIZATION_FAILED,
    KAFKA_UNKNOWN_TOPIC,
    STATUS_TEXT,
    Reject,
    not_found,
    v1_error,
    v2_error,
)
from ._faults import OK, Fault, FaultInjector
from ._iam import iam_error, identity_token
from ._partitioner import Partitioner
from ._registry import SchemaRegistry, registry_log
from ._storage import Headers, Record, SQLiteStore, Store, StoreError
from ._v1 import produce_v1
from ._v2 import produce_v2

__all__ = ["ABORT_EXTENSION", "Handler", "ServerState", "create_app"]

logger = logging.getLogger("es_pandas.server")

#: ASGI scope extension through which the server can drop a connection with no answer
ABORT_EXTENSION = "es_pandas.abort"

#: the answer to a request beyond a quota that refuses (``over_quota="429"``)
_OVER_QUOTA = Fault(status=429, written=False)


class _DropConnection(Response):
    """Closes the connection without answering, as a crashed proxy or broker would."""

    def __init__(self) -> None:
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        abort = scope.get("extensions", {}).get(ABORT_EXTENSION)
        if abort is not None:
            abort()
            # Let the server see the lost connection before this app returns.
            await asyncio.sleep(0)
            return
        # Under another ASGI server: start an answer and never finish it, which
        # servers handle by closing the connection.
        await send({"type": "http.response.start", "status": 500, "headers": []})


class ServerState:
    """The server's moving parts, shared by the routes (``app.state.es``)."""

    def __init__(self, config: ServerConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.auth = Authenticator(config)
        self.faults = FaultInjector(config.faults)
        #: scripted faults of the IAM route alone (IAM is another service than the producer)
        self.iam_faults = FaultInjector()
        self.partitioner = Partitioner()
        self.registry = SchemaRegistry(registry_log(store), config.schema_compatibility)
        self.stats: Counter[str] = Counter()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._topic_lock = asyncio.Lock()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.store.start()
        existing = self.store.topics()
        for name, partitions in self.config.topics.items():
            if name not in existing:
                await self.store.create_topic(name, partitions)
        await self.registry.start()

    async def create_topic(self, name: str, partitions: int) -> None:
        async with self._topic_lock:
            await self.store.create_topic(name, partitions)

    # -- the checks every produce request goes through -----------------------

    def check_uri(self, scope: Scope) -> None:
        query = scope["query_string"]
        size = len(scope["raw_path"]) + (len(query) + 1 if query else 0)
        if size > self.config.max_uri_bytes:
            # IBM documents 400 for it, not HTTP's 414
            raise Reject(
                400, f"request URI is {size} bytes, over the {self.config.max_uri_bytes}-byte limit"
            )

    def check_auth(self, request: Request, *, bearer_only: bool) -> str | None:
        if not self.auth.enabled:
            return None
        principal = self.auth.authenticate(
            request.headers,
            bearer_only=bearer_only,
            certificate_user=certificate_user(request.scope),
        )
        if isinstance(principal, Denied):
            raise Reject(401, f"unauthorized: {principal.reason}", code="unauthorized")
        return principal

    async def check_topic(self, topic: str, principal: str | None) -> int:
        partitions = await self.store.partitions(topic)
        if partitions is None and self.config.auto_create_topics:
            try:
                check_topic_name(topic)
                async with self._topic_lock:
                    if await self.store.partitions(topic) is None:
                        await self.store.create_topic(topic, self.config.default_partitions)
            except ValueError as exc:
                raise Reject(400, str(exc), code="invalid_topic") from None
            partitions = await self.store.partitions(topic)
        if partitions is None:
            raise Reject(
                404,
                f"topic '{topic}' does not exist",
                code="topic_not_found",
                kafka_error_code=KAFKA_UNKNOWN_TOPIC,
            )
        allowed = self.config.permissions.get(principal) if principal is not None else None
        if allowed is not None and topic not in allowed and "*" not in allowed:
            raise Reject(
                403,
                f"not authorized to produce to topic '{topic}'",
                code="forbidden",
                kafka_error_code=KAFKA_TOPIC_AUTHORIZATION_FAILED,
            )
        return partitions

    def check_size(self, what: str, size: int, limit: int) -> None:
        if size > limit:
            raise Reject(
                400,
                f"{what} is {size} bytes, over the {limit}-byte limit",
                code=f"{what}_too_large",
                target=what,
                kafka_error_code=KAFKA_MESSAGE_TOO_LARGE,
            )

    async def read_body(self, request: Request, limit: int) -> bytes:
        """The whole body, refused once it passes ``limit`` bytes or if there is none."""
        try:
            body = await read_body(request, limit)
        except BodyError as exc:
            if exc.status != 413:
                raise Reject(400, exc.message) from None
            # IBM answers 400, in the words of Go's http.MaxBytesReader
            raise Reject(
                400,
                "http: request body too large",
                code="request_too_large",
                kafka_error_code=KAFKA_MESSAGE_TOO_LARGE,
            ) from None
        if not body:
            raise Reject(411, "Length Required: the request contained no data")
        return body

    # -- writing -----------------------------------------------------------------

    async def produce(
        self,
        topic: str,
        partitions: int,
        key: bytes | None,
        value: bytes,
        headers: Headers,
        success: Callable[[Record], Response],
    ) -> Response:
        fault = OK
        if self.faults.active:
            turn = await self.faults.delay()
            if turn != "within":
                self.stats["throttled"] += 1
            if turn == "refused":
                # The quota answers it, so it takes no scripted or random fault.
                raise self.injected(_OVER_QUOTA, "over the request quota")
            fault = self.faults.next_fault()
        record = None
        if fault.written:
            partition = self.partitioner.partition(topic, key, partitions)
            try:
                record = await self.store.append(topic, partition, key, value, headers)
            except StoreError as exc:
                raise Reject(
                    exc.status,
                    exc.message,
                    code="kafka_error",
                    kafka_error_code=exc.kafka_error_code,
                ) from exc
            except Exception as exc:
                logger.exception("storage failed")
                raise Reject(503, f"storage unavailable: {exc}", code="unavailable") from exc
        if fault.drop:
            return _DropConnection()
        if fault.status is not None:
            raise self.injected(fault)
        assert record is not None
        return success(record)

    def injected(self, fault: Fault, why: str = "injected fault") -> Reject:
        status = fault.status
        assert status is not None
        headers = None
        retry_after = self.faults.config.retry_after
        if status in (429, 503) and retry_after is not None:
            headers = {"Retry-After": str(round(retry_after))}
        message = STATUS_TEXT.get(status, "injected failure")
        return Reject(status, f"{message} [{why}]", code="injected", headers=headers)

    def metadata(self, record: Record) -> dict[str, Any]:
        if self.config.timestamp_format == "iso":
            stamp = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            timestamp = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        else:
            timestamp = str(record.timestamp)
        return {
            "topic": record.topic,
            "timestamp": timestamp,
            "partition": record.partition,
            "offset": record.offset,
        }


#: a route's code; the routing table hands it the request and the app's state
Handler = Callable[[Request, ServerState], Awaitable[Response]]


def _counted(handler: Handler) -> Handler:
    async def counted(request: Request, state: ServerState) -> Response:
        # "received" less "requests" is how many are being answered now
        state.stats["received"] += 1
        response = await handler(request, state)
        state.stats["requests"] += 1
        state.stats[
            "dropped" if isinstance(response, _DropConnection) else str(response.status_code)
        ] += 1
        return response

    return counted


def _route(path: str, method: str, handler: Handler) -> Route:
    async def endpoint(request: Request) -> Response:
        return await handler(request, request.app.state.es)

    return Route(path, endpoint, methods=[method])


def _error_in_path_dialect(request: Request, reject: Reject) -> Response:
    """An error no route answered, in the shape of the API its path belongs to."""
    path = request.url.path
    if path.startswith("/v2/"):
        return v2_error(reject)
    if path == "/identity/token":
        return iam_error(reject.status, reject.code, reject.message, reject.headers)
    config: ServerConfig = request.app.state.es.config
    return v1_error(reject, request.path_params.get("topic"), config.v1_error_shape)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return not_found()  # no route serves the path
    headers = dict(exc.headers or {})
    code = exc.detail.lower().replace(" ", "_")  # "method_not_allowed"
    reject = Reject(exc.status_code, exc.detail, code=code, headers=headers)
    return _error_in_path_dialect(request, reject)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, so the server logs it.
    reject = Reject(500, "internal server error", code="internal_error")
    return _error_in_path_dialect(request, reject)


def create_app(config: ServerConfig | None = None, *, store: Store | None = None) -> Starlette:
    """A Starlette (ASGI) application serving the Event Streams REST producer API.

    ``store`` defaults to an in-memory SQLite store; pass
    ``SQLiteStore("records.sqlite3")`` to keep records across restarts.
    """
    config = config or ServerConfig()
    state = ServerState(config, store or SQLiteStore())

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        await state.start()
        try:
            yield
        finally:
            await state.registry.close()
            await state.store.close()

    ibm_routes = [_route("/topics/{topic}/records", "POST", _counted(produce_v1))]
    if config.deployment.v2:
        ibm_routes.append(_route("/v2/topics/{topic}/records", "POST", _counted(produce_v2)))
    if config.deployment.iam:
        ibm_routes.append(_route("/identity/token", "POST", identity_token))
    app = Starlette(
        routes=[
            *ibm_routes,
            _route("/_local/topics", "GET", _admin.list_topics),
            _route("/_local/topics", "POST", _admin.create_topic),
            _route("/_local/topics/{topic}/records", "GET", _admin.read_records),
            _route("/_local/faults", "GET", _admin.get_faults),
            _route("/_local/faults", "PUT", _admin.set_faults),
            _route("/_local/faults", "DELETE", _admin.clear_faults),
            _route("/_local/faults/script", "POST", _admin.script_faults),
            _route("/_local/stats", "GET", _admin.get_stats),
            _route("/_local/stats", "DELETE", _admin.clear_stats),
            *(
                _route(_registry_api.PREFIX + path, method, handler)
                for path, method, handler in _registry_api.ROUTES
            ),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.es = state
    return app
