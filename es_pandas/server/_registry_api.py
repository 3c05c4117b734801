"""``/_local/registry``: the schema registry (:mod:`._registry`) through Confluent's
Schema Registry API, so Confluent's clients and deserializers read what the server
stored (``schema.registry.url`` = ``<server>/_local/registry``).

Routes: ``GET /subjects``, ``GET /subjects/{subject}/versions``,
``GET /subjects/{subject}/versions/{version}`` (a number, ``latest`` or -1),
``GET /subjects/{subject}/versions/{version}/schema``, ``POST /subjects/{subject}/versions``
(register), ``POST /subjects/{subject}`` (is this schema registered?),
``GET /schemas/ids/{id}`` (query parameters such as ``subject`` and ``format`` are
taken and ignored), ``GET``/``PUT /config`` and ``/config/{subject}``. Errors are
Confluent's: ``{"error_code": 40401, "message": ...}``. Avro schemas only.

Credentials as for the rest of ``/_local``; registering and setting levels change the
server, so they take what changing it takes (an admin key, when the server has them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ._admin import json_object, local_access
from ._avro import AvroSchemaError, AvroUnavailable, parse_schema
from ._errors import Reject
from ._json import json_response
from ._registry import RegistryError, parse_version
from ._storage import StoreError

if TYPE_CHECKING:
    from ._app import Handler, ServerState

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/_local/registry"

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

Endpoint = Callable[[Request, "ServerState"], Awaitable[Any]]


def _json(body: Any, status: int = 200) -> Response:
    response = json_response(body, status)
    response.headers["Content-Type"] = _CONTENT_TYPE
    return response


def _error(status: int, error_code: int, message: str) -> Response:
    return _json({"error_code": error_code, "message": message}, status)


def _route(change: str | None = None) -> Callable[[Endpoint], Handler]:
    """A registry route answering the JSON its endpoint returns (or the response it
    returns); ``change`` says what it changes, which takes an admin."""

    def route(endpoint: Endpoint) -> Handler:
        async def guarded(request: Request, state: ServerState) -> Response:
            try:
                local_access(request, state, change)
                body = await endpoint(request, state)
            except RegistryError as exc:
                return _error(exc.status, exc.error_code, exc.message)
            except Reject as reject:  # credentials, or a body that is not a JSON object
                code = {401: 40101, 403: 40301}.get(reject.status, reject.status)
                return _error(reject.status, code, reject.message)
            except AvroUnavailable as exc:
                return _error(500, 50001, str(exc))
            except StoreError as exc:
                return _error(exc.status, 50002, f"the registry's storage: {exc.message}")
            return body if isinstance(body, Response) else _json(body)

        return guarded

    return route


def _schema_of(body: dict[str, Any]) -> Any:
    kind = body.get("schemaType", "AVRO")
    if kind != "AVRO":
        raise RegistryError(422, 42201, f"Invalid schema: only AVRO schemas, not {kind!r}")
    if body.get("references"):
        raise RegistryError(422, 42201, "Invalid schema: schema references are not supported")
    text = body.get("schema")
    if not isinstance(text, str):
        raise RegistryError(422, 42201, "Invalid schema: 'schema' is the schema as a JSON string")
    try:
        return parse_schema(text)
    except AvroSchemaError as exc:
        raise RegistryError(422, 42201, f"Invalid schema: {exc}") from None


def _id(request: Request) -> int:
    text = request.path_params["id"]
    if not text.isdigit():
        raise RegistryError(404, 40403, f"Schema {text} not found")
    return int(text)


@_route()
async def subjects(request: Request, state: ServerState) -> Any:
    return state.registry.subjects()


@_route()
async def versions(request: Request, state: ServerState) -> Any:
    return state.registry.versions(request.path_params["subject"])


@_route()
async def version(request: Request, state: ServerState) -> Any:
    wanted = parse_version(request.path_params["version"])
    return state.registry.version(request.path_params["subject"], wanted).to_json()


@_route()
async def version_schema(request: Request, state: ServerState) -> Any:
    """The schema itself, as Confluent answers ``.../versions/{version}/schema``."""
    wanted = parse_version(request.path_params["version"])
    text = state.registry.version(request.path_params["subject"], wanted).schema
    return Response(text, media_type=_CONTENT_TYPE)


@_route("registering schemas")
async def register(request: Request, state: ServerState) -> Any:
    schema = _schema_of(await json_object(request, state))
    registered = await state.registry.register(request.path_params["subject"], schema)
    return {"id": registered.id}


@_route()
async def lookup(request: Request, state: ServerState) -> Any:
    schema = _schema_of(await json_object(request, state))
    return state.registry.lookup(request.path_params["subject"], schema).to_json()


@_route()
async def schema_by_id(request: Request, state: ServerState) -> Any:
    return {"schema": state.registry.text(_id(request))}


@_route()
async def get_config(request: Request, state: ServerState) -> Any:
    subject = request.path_params.get("subject")
    if subject is None:
        return {"compatibilityLevel": state.registry.compatibility()}
    level = state.registry.subject_compatibility(subject)
    if level is None:
        if request.query_params.get("defaultToGlobal", "").lower() != "true":
            raise RegistryError(
                404,
                40408,
                f"Subject '{subject}' does not have subject-level compatibility configured",
            )
        level = state.registry.compatibility()
    return {"compatibilityLevel": level}


@_route("setting compatibility levels")
async def set_config(request: Request, state: ServerState) -> Any:
    body = await json_object(request, state)
    level = body.get("compatibility")
    if not isinstance(level, str):
        raise RegistryError(422, 42203, "Invalid compatibility level: give 'compatibility'")
    subject = request.path_params.get("subject")
    return {"compatibility": await state.registry.set_compatibility(subject, level)}


#: (path under PREFIX, method, handler)
ROUTES: list[tuple[str, str, Handler]] = [
    ("/subjects", "GET", subjects),
    ("/subjects/{subject}/versions", "GET", versions),
    ("/subjects/{subject}/versions", "POST", register),
    ("/subjects/{subject}/versions/{version}", "GET", version),
    ("/subjects/{subject}/versions/{version}/schema", "GET", version_schema),
    ("/subjects/{subject}", "POST", lookup),
    ("/schemas/ids/{id}", "GET", schema_by_id),
    ("/config", "GET", get_config),
    ("/config", "PUT", set_config),
    ("/config/{subject}", "GET", get_config),
    ("/config/{subject}", "PUT", set_config),
]
