"""The local Event Streams REST producer as an ASGI (Starlette) application.

Routes in IBM's namespace: ``POST /topics/{topic}/records`` (v1),
``POST /v2/topics/{topic}/records`` (v2) and ``POST /identity/token`` (IAM API-key
grant). Everything else this server offers lives under ``/_local``, which IBM's
API does not use: topics, stored records, faults and request counts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._auth import Authenticator, Denied
from ._config import ServerConfig, check_topic_name
from ._faults import OK, Fault, FaultConfig, FaultInjector
from ._partitioner import Partitioner
from ._storage import Headers, Record, SQLiteStore, Store, StoreError, TopicExistsError

__all__ = ["ABORT_EXTENSION", "ServerState", "create_app"]

logger = logging.getLogger("es_pandas.server")

#: ASGI scope extension through which the server can drop a connection with no answer
ABORT_EXTENSION = "es_pandas.abort"

_V1_CONTENT_TYPES = {
    "text/plain": False,
    "application/json": True,
    "application/octet-stream": False,
    "text/xml": False,
    "application/xml": False,
    "application/vnd.ibm-event-streams.json.v1": True,
    "application/vnd.ibm-event-streams.binary.v1": False,
    "application/vnd.ibm-event-streams.text.v1": False,
}
_V2_TYPES = ("text", "binary", "json", "avro")
_V2_MORE_INFO = "https://cloud.ibm.com/apidocs/event-streams/restproducer_v2"
# Kafka protocol error codes, sent as ``kafka_error_code`` in v1 errors
_KAFKA_UNKNOWN_TOPIC = 3
_KAFKA_MESSAGE_TOO_LARGE = 10
_KAFKA_TOPIC_AUTHORIZATION_FAILED = 29
_STATUS_TEXT = {
    408: "request timed out producing to Event Streams",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "Event Streams brokers unavailable",
    504: "gateway timeout",
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _strict_json(data: str | bytes) -> Any:
    """``json.loads`` without Python's extensions (NaN, Infinity), as other parsers do."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return _STRICT_DECODER.decode(text)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


class _Reject(Exception):
    """A request that fails validation; becomes an error answer in the route's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = "invalid_request",
        target: str | None = None,
        kafka_error_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.target = target
        self.kafka_error_code = kafka_error_code
        self.headers = headers


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
        self.partitioner = Partitioner()
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

    async def create_topic(self, name: str, partitions: int) -> None:
        async with self._topic_lock:
            await self.store.create_topic(name, partitions)

    # -- the checks every produce request goes through -----------------------

    def check_uri(self, scope: Scope) -> None:
        query = scope["query_string"]
        size = len(scope["raw_path"]) + (len(query) + 1 if query else 0)
        if size > self.config.max_uri_bytes:
            raise _Reject(
                414, f"request URI is {size} bytes, over the {self.config.max_uri_bytes}-byte limit"
            )

    def check_auth(self, request: Request, *, bearer_only: bool) -> str | None:
        if not self.auth.enabled:
            return None
        principal = self.auth.authenticate(request.headers, bearer_only=bearer_only)
        if isinstance(principal, Denied):
            raise _Reject(401, f"unauthorized: {principal.reason}", code="unauthorized")
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
                raise _Reject(400, str(exc), code="invalid_topic") from None
            partitions = await self.store.partitions(topic)
        if partitions is None:
            raise _Reject(
                404,
                f"topic '{topic}' does not exist",
                code="topic_not_found",
                kafka_error_code=_KAFKA_UNKNOWN_TOPIC,
            )
        allowed = self.config.permissions.get(principal) if principal is not None else None
        if allowed is not None and topic not in allowed and "*" not in allowed:
            raise _Reject(
                403,
                f"not authorized to produce to topic '{topic}'",
                code="forbidden",
                kafka_error_code=_KAFKA_TOPIC_AUTHORIZATION_FAILED,
            )
        return partitions

    def check_size(self, what: str, size: int, limit: int) -> None:
        if size > limit:
            raise _Reject(
                400,
                f"{what} is {size} bytes, over the {limit}-byte limit",
                code=f"{what}_too_large",
                target=what,
                kafka_error_code=_KAFKA_MESSAGE_TOO_LARGE,
            )

    async def read_body(self, request: Request, limit: int) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _Reject(
                400,
                "http: request body too large",
                code="request_too_large",
                kafka_error_code=_KAFKA_MESSAGE_TOO_LARGE,
            )
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Reject(
                    400,
                    "http: request body too large",
                    code="request_too_large",
                    kafka_error_code=_KAFKA_MESSAGE_TOO_LARGE,
                )
            chunks.append(chunk)
        return b"".join(chunks)

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
            # Answers held back by the quota over a millisecond count as throttled.
            if await self.faults.delay() > 0.001:
                self.stats["throttled"] += 1
            fault = self.faults.next_fault()
        record = None
        if fault.written:
            partition = self.partitioner.partition(topic, key, partitions)
            try:
                record = await self.store.append(topic, partition, key, value, headers)
            except StoreError as exc:
                raise _Reject(
                    exc.status,
                    exc.message,
                    code="kafka_error",
                    kafka_error_code=exc.kafka_error_code,
                ) from exc
            except Exception as exc:
                logger.exception("storage failed")
                raise _Reject(503, f"storage unavailable: {exc}", code="unavailable") from exc
        if fault.drop:
            return _DropConnection()
        if fault.status is not None:
            raise self.injected(fault)
        assert record is not None
        return success(record)

    def injected(self, fault: Fault) -> _Reject:
        status = fault.status
        assert status is not None
        headers = None
        retry_after = self.faults.config.retry_after
        if status in (429, 503) and retry_after is not None:
            headers = {"Retry-After": str(round(retry_after))}
        message = _STATUS_TEXT.get(status, "injected failure")
        return _Reject(status, f"{message} [injected fault]", code="injected", headers=headers)

    def metadata(self, record: Record) -> dict[str, Any]:
        if self.config.timestamp_format == "iso":
            stamp = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc)
            timestamp = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        else:
            timestamp = str(record.timestamp)
        return {
            "topic": record.topic,
            "timestamp": timestamp,
            "partition": record.partition,
            "offset": record.offset,
        }

    # -- error bodies ------------------------------------------------------------

    def v1_error(self, reject: _Reject, topic: str | None) -> Response:
        nested: dict[str, Any] = {"error_code": reject.status, "message": reject.message}
        if reject.kafka_error_code is not None:
            nested["kafka_error_code"] = reject.kafka_error_code
        if topic is not None:
            nested["topic"] = topic
        nested["incident"] = str(uuid.uuid4())
        body: dict[str, Any] = {"error": nested}
        if self.config.v1_error_shape == "v1.1":
            body = {"error_code": reject.status, "message": reject.message, "error": nested}
        return _json(body, reject.status, reject.headers)

    @staticmethod
    def v2_error(reject: _Reject) -> Response:
        error: dict[str, Any] = {
            "code": reject.code,
            "message": reject.message,
            "more_info": _V2_MORE_INFO,
        }
        if reject.target is not None:
            error["target"] = {"type": "field", "name": reject.target}
        return _json({"trace": str(uuid.uuid4()), "error": error}, reject.status, reject.headers)


def _state(request: Request) -> ServerState:
    return request.app.state.es


def _counted(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def counted(request: Request) -> Response:
        response = await endpoint(request)
        stats = _state(request).stats
        stats["requests"] += 1
        stats[
            "dropped" if isinstance(response, _DropConnection) else str(response.status_code)
        ] += 1
        return response

    return counted


# -- v1 --------------------------------------------------------------------------


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise _Reject(400, f"{what} is not valid base16 (hex)", code="invalid_hex") from None


def _v1_query(query_string: bytes) -> tuple[bytes | None, Headers]:
    try:
        query = parse_qs(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise _Reject(400, "the query string is not valid percent-encoded UTF-8") from None
    key_type = query.get("keyType", ["text"])[-1].lower()
    if key_type not in ("text", "binary"):
        raise _Reject(400, f"unsupported key type {key_type!r}: use text or binary")
    key = None
    if "key" in query:
        raw = query["key"][-1]
        key = _hex(raw, "binary key") if key_type == "binary" else raw.encode()
    headers: Headers = ()
    if query.get("headers", [""])[-1]:
        pairs = []
        for item in query["headers"][-1].split(","):
            name, sep, value = item.partition(":")
            if not sep or not name:
                raise _Reject(400, f"malformed header {item!r}: expected name:hexvalue")
            pairs.append((name, _hex(value, f"header {name!r}")))
        headers = tuple(pairs)
    return key, headers


@_counted
async def produce_v1(request: Request) -> Response:
    state = _state(request)
    topic = request.path_params["topic"]
    config = state.config
    try:
        state.check_uri(request.scope)
        principal = state.check_auth(request, bearer_only=False)
        partitions = await state.check_topic(topic, principal)
        content_type = request.headers.get("content-type", "application/octet-stream")
        media = content_type.split(";", 1)[0].strip().lower()
        if media.startswith("vnd."):
            media = "application/" + media
        must_parse = _V1_CONTENT_TYPES.get(media)
        if must_parse is None:
            raise _Reject(415, f"Unsupported content type {media!r}")
        key, headers = _v1_query(request.scope["query_string"])
        if key is not None:
            state.check_size("key", len(key), config.max_key_bytes)
        value = await state.read_body(request, config.max_value_bytes)
        if not value:
            raise _Reject(411, "Length Required: the request contained no data")
        if must_parse:
            try:
                _strict_json(value)
            except ValueError:
                raise _Reject(400, "Error parsing JSON message: body is not valid JSON") from None
        return await state.produce(
            topic,
            partitions,
            key,
            value,
            headers,
            lambda record: _json({"metadata": state.metadata(record)}),
        )
    except _Reject as reject:
        return state.v1_error(reject, topic)


# -- v2 --------------------------------------------------------------------------


def _v2_data(part: Any, name: str) -> bytes:
    if not isinstance(part, dict):
        raise _Reject(400, f"'{name}' must be an object", code="invalid_type", target=name)
    kind = part.get("type")
    if kind is None:
        raise _Reject(
            400, f"'type' field in '{name}' object is required", code="invalid_type", target="type"
        )
    kind = str(kind).lower()
    if kind not in _V2_TYPES:
        raise _Reject(
            400,
            f"'type' field in '{name}' object must be one of {', '.join(_V2_TYPES)}",
            code="invalid_type",
            target="type",
        )
    if "data" not in part:
        raise _Reject(
            400, f"'data' field in '{name}' object is required", code="invalid_data", target="data"
        )
    data = part["data"]
    if kind == "json":
        if isinstance(data, str):
            try:
                _strict_json(data)
            except ValueError:
                raise _Reject(
                    400, f"'{name}' data is not valid JSON", code="invalid_data", target="data"
                ) from None
            return data.encode()
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    if not isinstance(data, str):
        raise _Reject(400, f"'{name}' data must be a string", code="invalid_data", target="data")
    if kind == "binary":
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            raise _Reject(
                400, f"'{name}' data is not valid base64", code="invalid_data", target="data"
            ) from None
    return data.encode()


def _v2_headers(raw: Any) -> Headers:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Reject(400, "'headers' must be a list", code="invalid_headers", target="headers")
    headers = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or "value" not in item
        ):
            raise _Reject(
                400,
                "each header needs a 'name' and a 'value'",
                code="invalid_headers",
                target="headers",
            )
        try:
            value = base64.b64decode(item.get("value") or "", validate=True)
        except (binascii.Error, TypeError):
            raise _Reject(
                400,
                f"header {item['name']!r} value is not valid base64",
                code="invalid_headers",
                target="headers",
            ) from None
        headers.append((item["name"], value))
    return tuple(headers)


@_counted
async def produce_v2(request: Request) -> Response:
    state = _state(request)
    topic = request.path_params["topic"]
    config = state.config
    try:
        principal = state.check_auth(request, bearer_only=True)
        partitions = await state.check_topic(topic, principal)
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise _Reject(
                415,
                f"Unsupported content type {media!r}: use application/json",
                code="unsupported_media_type",
            )
        body = await state.read_body(request, config.max_request_bytes)
        if not body:
            raise _Reject(411, "Length Required: the request contained no data")
        try:
            envelope = _strict_json(body)
        except ValueError:
            raise _Reject(400, "request body is not valid JSON", code="invalid_json") from None
        if not isinstance(envelope, dict):
            raise _Reject(400, "request body must be a JSON object", code="invalid_json")
        if "value" not in envelope:
            raise _Reject(400, "'value' object is required", code="missing_field", target="value")
        value = _v2_data(envelope["value"], "value")
        key = _v2_data(envelope["key"], "key") if envelope.get("key") is not None else None
        headers = _v2_headers(envelope.get("headers"))
        if key is not None:
            state.check_size("key", len(key), config.max_key_bytes)
        state.check_size("value", len(value), config.max_value_bytes)

        def success(record: Record) -> Response:
            metadata = state.metadata(record)
            return _json({"metadata": metadata} if config.v2_response == "metadata" else metadata)

        return await state.produce(topic, partitions, key, value, headers, success)
    except _Reject as reject:
        return state.v2_error(reject)


# -- IAM ---------------------------------------------------------------------------


async def identity_token(request: Request) -> Response:
    state = _state(request)
    form = parse_qs((await request.body()).decode("latin-1"))
    grant = form.get("grant_type", [""])[0]
    if grant != "urn:ibm:params:oauth:grant-type:apikey":
        return _json(
            {"errorCode": "BXNIM0109E", "errorMessage": f"Unsupported grant type {grant!r}"}, 400
        )
    api_key = form.get("apikey", [""])[0]
    token = state.auth.issue_token(api_key)
    if token is None:
        return _json(
            {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."},
            400,
        )
    state.stats["tokens_issued"] += 1
    return _json(token)


# -- /_local ---------------------------------------------------------------------


def _local(
    endpoint: Callable[[Request, ServerState], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        state = _state(request)
        try:
            state.check_auth(request, bearer_only=False)
            return await endpoint(request, state)
        except _Reject as reject:
            return state.v1_error(reject, None)
        except (ValueError, TypeError, KeyError) as exc:
            return state.v1_error(_Reject(400, str(exc)), None)

    return guarded


def record_json(record: Record) -> dict[str, Any]:
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": None if record.key is None else base64.b64encode(record.key).decode(),
        "value": base64.b64encode(record.value).decode(),
        "headers": [
            {"name": name, "value": base64.b64encode(value).decode()}
            for name, value in record.headers
        ],
    }


@_local
async def list_topics(request: Request, state: ServerState) -> Response:
    return _json(state.store.topics())


@_local
async def create_topic(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body())
    name = check_topic_name(str(body["name"]))
    partitions = int(body.get("partitions", state.config.default_partitions))
    if partitions < 1:
        raise ValueError("a topic needs at least one partition")
    try:
        await state.create_topic(name, partitions)
    except TopicExistsError:
        return state.v1_error(_Reject(409, f"topic '{name}' already exists"), name)
    return _json({"name": name, "partitions": partitions}, 201)


@_local
async def read_records(request: Request, state: ServerState) -> Response:
    topic = request.path_params["topic"]
    if await state.store.partitions(topic) is None:
        raise _Reject(404, f"topic '{topic}' does not exist")
    query = request.query_params
    partition = int(query["partition"]) if "partition" in query else None
    offset = int(query.get("offset", 0))
    limit = int(query["limit"]) if "limit" in query else None
    records = await state.store.read(topic, partition, offset, limit)
    return _json([record_json(r) for r in records])


def _faults_json(state: ServerState) -> Response:
    return _json({**state.faults.config.to_json(), "script": state.faults.scripted})


@_local
async def get_faults(request: Request, state: ServerState) -> Response:
    return _faults_json(state)


@_local
async def set_faults(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body() or b"{}")
    script = body.pop("script", None)
    state.faults.configure(FaultConfig(**body))
    if script:
        state.faults.script(script)
    return _faults_json(state)


@_local
async def script_faults(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body())
    state.faults.script(body["actions"])
    return _json({"script": state.faults.scripted})


@_local
async def clear_faults(request: Request, state: ServerState) -> Response:
    state.faults.reset()
    return Response(status_code=204)


@_local
async def get_stats(request: Request, state: ServerState) -> Response:
    return _json(dict(state.stats))


@_local
async def clear_stats(request: Request, state: ServerState) -> Response:
    state.stats.clear()
    return Response(status_code=204)


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
            await state.store.close()

    app = Starlette(
        routes=[
            Route("/topics/{topic}/records", produce_v1, methods=["POST"]),
            Route("/v2/topics/{topic}/records", produce_v2, methods=["POST"]),
            Route("/identity/token", identity_token, methods=["POST"]),
            Route("/_local/topics", list_topics, methods=["GET"]),
            Route("/_local/topics", create_topic, methods=["POST"]),
            Route("/_local/topics/{topic}/records", read_records, methods=["GET"]),
            Route("/_local/faults", get_faults, methods=["GET"]),
            Route("/_local/faults", set_faults, methods=["PUT"]),
            Route("/_local/faults", clear_faults, methods=["DELETE"]),
            Route("/_local/faults/script", script_faults, methods=["POST"]),
            Route("/_local/stats", get_stats, methods=["GET"]),
            Route("/_local/stats", clear_stats, methods=["DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.es = state
    return app
