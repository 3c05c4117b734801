"""``POST /topics/{topic}/records``, the v1 dialect: the body is the record value as
is, and the key and headers travel in the query string (hex where binary).

On premises (v1.1.0) the query may also name a schema and version (``schemaname``,
``schemaversion``, ``schemavalidation``): :mod:`._schemas` looks them up and sets the
record's schema headers. A deprecated version's comment comes back as the success
body's ``Comment``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ._errors import Reject, v1_error
from ._json import json_response, strict_json
from ._schemas import v1_schema
from ._storage import Headers, Record

if TYPE_CHECKING:
    from ._app import ServerState

__all__ = ["produce_v1"]

Query = dict[str, list[str]]

# media type -> whether the body must be JSON
_CONTENT_TYPES = {
    "text/plain": False,
    "application/json": True,
    "application/octet-stream": False,
    "text/xml": False,
    "application/xml": False,
    "application/vnd.ibm-event-streams.json.v1": True,
    "application/vnd.ibm-event-streams.binary.v1": False,
    "application/vnd.ibm-event-streams.text.v1": False,
}


def _must_be_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "application/octet-stream")
    media = content_type.split(";", 1)[0].strip().lower()
    if media.startswith("vnd."):
        media = "application/" + media
    must_be_json = _CONTENT_TYPES.get(media)
    if must_be_json is None:
        raise Reject(415, f"Unsupported content type {media!r}")
    return must_be_json


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise Reject(400, f"{what} is not valid base16 (hex)", code="invalid_hex") from None


def _query(query_string: bytes) -> Query:
    try:
        return parse_qs(query_string.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Reject(400, "the query string is not valid percent-encoded UTF-8") from None


def _key_and_headers(query: Query) -> tuple[bytes | None, Headers]:
    key_type = query.get("keyType", ["text"])[-1].lower()
    if key_type not in ("text", "binary"):
        raise Reject(400, f"unsupported key type {key_type!r}: use text or binary")
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
                raise Reject(400, f"malformed header {item!r}: expected name:hexvalue")
            pairs.append((name, _hex(value, f"header {name!r}")))
        headers = tuple(pairs)
    return key, headers


async def produce_v1(request: Request, state: ServerState) -> Response:
    topic = request.path_params["topic"]
    config = state.config
    try:
        # Only v1 carries record data (key, headers) in the URI, so only v1 limits it.
        state.check_uri(request.scope)
        principal = state.check_auth(request, bearer_only=False)
        partitions = await state.check_topic(topic, principal)
        must_be_json = _must_be_json(request)
        # The key, headers and schema are in the URI, so they are judged before the body
        # is read.
        query = _query(request.scope["query_string"])
        key, headers = _key_and_headers(query)
        if key is not None:
            state.check_size("key", len(key), config.max_key_bytes)
        schema = None
        if config.deployment.schemas:
            schema = v1_schema(query, state.registry, config, must_be_json)
        if schema is not None:
            headers += schema.headers
        # The body is the value: its limit applies while reading.
        value = await state.read_body(request, config.max_value_bytes)
        if must_be_json:
            try:
                strict_json(value)
            except ValueError:
                raise Reject(400, "Error parsing JSON message: body is not valid JSON") from None
        if schema is not None:
            schema.check(value)
        comment = schema.comment if schema is not None else None

        def success(record: Record) -> Response:
            body: dict[str, Any] = {"metadata": state.metadata(record)}
            if comment is not None:
                body["Comment"] = comment
            return json_response(body)

        return await state.produce(topic, partitions, key, value, headers, success)
    except Reject as reject:
        return v1_error(reject, topic, config.v1_error_shape)
