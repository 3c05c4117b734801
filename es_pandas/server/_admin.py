"""Everything under ``/_local``, a path IBM's API does not use: topics, stored
records, faults and request counts, for tests and demos to set up and inspect.

With authentication on, a caller needs the produce routes' credentials, and sees
only the topics ``permissions`` lets it write. Changing the server (creating
topics, setting faults, resetting stats) needs an admin key, or, when the server
has none, a principal that ``permissions`` does not limit.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ._body import BodyError, read_body
from ._config import check_partitions, check_topic_name
from ._errors import Reject, v1_error
from ._faults import FaultConfig
from ._json import json_response, strict_json
from ._storage import Record, TopicExistsError

if TYPE_CHECKING:
    from ._app import Handler, ServerState

__all__ = [
    "Access",
    "clear_faults",
    "clear_stats",
    "create_topic",
    "get_faults",
    "get_stats",
    "json_object",
    "list_topics",
    "local_access",
    "read_records",
    "record_json",
    "script_faults",
    "set_faults",
]

# Not IBM's namespace, so one shape whatever the profile: the message at the top level
# (for scripts) and nested (as v1's errors have it)
_SHAPE: Final = "v1.1"

_FAULT_SETTINGS = frozenset(FaultConfig.__dataclass_fields__) | {"script"}


@dataclass(frozen=True, slots=True)
class Access:
    """What the caller may do here."""

    topics: frozenset[str] | None  # the topics it may see; None: all of them
    admin: bool  # whether it may change the server


def local_access(request: Request, state: ServerState, change: str | None = None) -> Access:
    """What the caller may do under ``/_local``; Reject 403 if ``change`` (what the
    route changes) is not among it."""
    if not state.auth.enabled:
        return Access(None, admin=True)
    principal = state.check_auth(request, bearer_only=False)
    config = state.config
    if principal in config.admin_keys:
        return Access(None, admin=True)
    allowed = config.permissions.get(principal) if principal is not None else None
    topics = None if allowed is None or "*" in allowed else frozenset(allowed)
    access = Access(topics, admin=topics is None and not config.admin_keys)
    if change is not None and not access.admin:
        needs = (
            "an admin key (--admin-key)"
            if config.admin_keys
            else "a principal that --permission does not limit to some topics"
        )
        raise Reject(403, f"{change} needs {needs}", code="forbidden")
    return access


Endpoint = Callable[[Request, "ServerState", Access], Awaitable[Response]]


def _local(change: str | None = None) -> Callable[[Endpoint], Handler]:
    """A ``/_local`` route; ``change`` says what it changes, which needs an admin.
    Every refusal, bad input included, is a 4xx in the v1 shape."""

    def route(endpoint: Endpoint) -> Handler:
        async def guarded(request: Request, state: ServerState) -> Response:
            try:
                access = local_access(request, state, change)
                return await endpoint(request, state, access)
            except Reject as reject:
                return v1_error(reject, None, _SHAPE)
            except ValueError as exc:  # the settings' own checks
                return v1_error(Reject(400, str(exc)), None, _SHAPE)

        return guarded

    return route


async def json_object(request: Request, state: ServerState) -> dict[str, Any]:
    """The body as a JSON object; no body is an empty one."""
    try:
        body = await read_body(request, state.config.max_request_bytes)
    except BodyError as exc:
        raise Reject(exc.status, exc.message) from None
    if not body.strip():
        return {}
    try:
        value = strict_json(body)
    except ValueError as exc:
        raise Reject(400, f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Reject(400, f"the body must be a JSON object, not {type(value).__name__}")
    return value


def _whole_number(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Reject(400, f"{what} must be a whole number, not {value!r:.80}")
    return value


def _actions(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise Reject(400, f"fault actions must be a list of strings, not {value!r:.80}")
    return value


def _query_number(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise Reject(400, f"'{name}' must be a whole number >= 0, not {value!r:.80}")
    return int(value)


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


@_local()
async def list_topics(request: Request, state: ServerState, access: Access) -> Response:
    topics = state.store.topics()
    if access.topics is not None:
        topics = {name: n for name, n in topics.items() if name in access.topics}
    return json_response(topics)


@_local("creating topics")
async def create_topic(request: Request, state: ServerState, access: Access) -> Response:
    body = await json_object(request, state)
    name = body.get("name")
    if not isinstance(name, str):
        raise Reject(400, f"'name' must be a topic name, not {name!r:.80}")
    check_topic_name(name)
    partitions = _whole_number(
        body.get("partitions", state.config.default_partitions), "'partitions'"
    )
    check_partitions(partitions)
    try:
        await state.create_topic(name, partitions)
    except TopicExistsError:
        reject = Reject(409, f"topic '{name}' already exists")
        return v1_error(reject, name, _SHAPE)
    return json_response({"name": name, "partitions": partitions}, 201)


@_local()
async def read_records(request: Request, state: ServerState, access: Access) -> Response:
    topic = request.path_params["topic"]
    if access.topics is not None and topic not in access.topics:
        raise Reject(403, f"not authorized to read topic '{topic}'", code="forbidden")
    if await state.store.partitions(topic) is None:
        raise Reject(404, f"topic '{topic}' does not exist")
    partition = _query_number(request, "partition")
    offset = _query_number(request, "offset") or 0
    limit = _query_number(request, "limit")
    records = await state.store.read(topic, partition, offset, limit)
    return json_response([record_json(r) for r in records])


def _faults_json(state: ServerState) -> Response:
    return json_response({**state.faults.config.to_json(), "script": state.faults.scripted})


@_local()
async def get_faults(request: Request, state: ServerState, access: Access) -> Response:
    return _faults_json(state)


@_local("changing faults")
async def set_faults(request: Request, state: ServerState, access: Access) -> Response:
    body = await json_object(request, state)
    unknown = sorted(set(body) - _FAULT_SETTINGS)
    if unknown:
        raise Reject(400, f"unknown fault settings {unknown}: use {sorted(_FAULT_SETTINGS)}")
    script = body.pop("script", None)
    config = FaultConfig(**body)
    # The script is checked whole before it is queued, and the settings before they
    # apply: a refused body changes nothing
    state.faults.script(_actions([] if script is None else script), replace=True)
    state.faults.configure(config)
    return _faults_json(state)


@_local("changing faults")
async def script_faults(request: Request, state: ServerState, access: Access) -> Response:
    body = await json_object(request, state)
    state.faults.script(_actions(body.get("actions")))
    return json_response({"script": state.faults.scripted})


@_local("changing faults")
async def clear_faults(request: Request, state: ServerState, access: Access) -> Response:
    state.faults.reset()
    return Response(status_code=204)


@_local()
async def get_stats(request: Request, state: ServerState, access: Access) -> Response:
    return json_response(dict(state.stats))


@_local("resetting stats")
async def clear_stats(request: Request, state: ServerState, access: Access) -> Response:
    state.stats.clear()
    return Response(status_code=204)
