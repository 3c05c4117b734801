"""Everything under ``/_local``, a path IBM's API does not use: topics, stored
records, faults and request counts, for tests and demos to set up and inspect."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ._config import check_topic_name
from ._errors import Reject, v1_error
from ._faults import FaultConfig
from ._json import json_response
from ._storage import Record, TopicExistsError

if TYPE_CHECKING:
    from ._app import Handler, ServerState

__all__ = [
    "clear_faults",
    "clear_stats",
    "create_topic",
    "get_faults",
    "get_stats",
    "list_topics",
    "read_records",
    "record_json",
    "script_faults",
    "set_faults",
]


def _guarded(endpoint: Handler) -> Handler:
    """Same credentials as the produce routes; bad input is answered in the v1 shape."""

    async def guarded(request: Request, state: ServerState) -> Response:
        try:
            state.check_auth(request, bearer_only=False)
            return await endpoint(request, state)
        except Reject as reject:
            return v1_error(reject, None, state.config.v1_error_shape)
        except (ValueError, TypeError, KeyError) as exc:
            return v1_error(Reject(400, str(exc)), None, state.config.v1_error_shape)

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


@_guarded
async def list_topics(request: Request, state: ServerState) -> Response:
    return json_response(state.store.topics())


@_guarded
async def create_topic(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body())
    name = check_topic_name(str(body["name"]))
    partitions = int(body.get("partitions", state.config.default_partitions))
    if partitions < 1:
        raise ValueError("a topic needs at least one partition")
    try:
        await state.create_topic(name, partitions)
    except TopicExistsError:
        reject = Reject(409, f"topic '{name}' already exists")
        return v1_error(reject, name, state.config.v1_error_shape)
    return json_response({"name": name, "partitions": partitions}, 201)


@_guarded
async def read_records(request: Request, state: ServerState) -> Response:
    topic = request.path_params["topic"]
    if await state.store.partitions(topic) is None:
        raise Reject(404, f"topic '{topic}' does not exist")
    query = request.query_params
    partition = int(query["partition"]) if "partition" in query else None
    offset = int(query.get("offset", 0))
    limit = int(query["limit"]) if "limit" in query else None
    records = await state.store.read(topic, partition, offset, limit)
    return json_response([record_json(r) for r in records])


def _faults_json(state: ServerState) -> Response:
    return json_response({**state.faults.config.to_json(), "script": state.faults.scripted})


@_guarded
async def get_faults(request: Request, state: ServerState) -> Response:
    return _faults_json(state)


@_guarded
async def set_faults(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body() or b"{}")
    script = body.pop("script", None)
    state.faults.configure(FaultConfig(**body))
    if script:
        state.faults.script(script)
    return _faults_json(state)


@_guarded
async def script_faults(request: Request, state: ServerState) -> Response:
    body = json.loads(await request.body())
    state.faults.script(body["actions"])
    return json_response({"script": state.faults.scripted})


@_guarded
async def clear_faults(request: Request, state: ServerState) -> Response:
    state.faults.reset()
    return Response(status_code=204)


@_guarded
async def get_stats(request: Request, state: ServerState) -> Response:
    return json_response(dict(state.stats))


@_guarded
async def clear_stats(request: Request, state: ServerState) -> Response:
    state.stats.clear()
    return Response(status_code=204)
