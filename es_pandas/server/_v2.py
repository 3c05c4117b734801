"""``POST /v2/topics/{topic}/records``, the v2 dialect: the body is a JSON envelope
holding the value, the key and the headers, each typed (text, binary as base64, json,
avro). An avro key or value (``?serializer=confluent``) goes through :mod:`._schemas`:
checked, its schema registered, stored in the Confluent wire format."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ._errors import Reject, v2_error
from ._json import json_response, strict_json
from ._schemas import AvroPart, avro_part, check_serializer, encoded_size, frame_parts
from ._storage import Headers, Record

if TYPE_CHECKING:
    from ._app import ServerState

__all__ = ["produce_v2"]

_TYPES = ("text", "binary", "json", "avro")

#: reads an avro key or value: (its object, "key" or "value") -> the part, checked
AvroReader = Callable[[dict[str, Any], str], AvroPart]


def _check_content_type(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Reject(
            415,
            f"Unsupported content type {media!r}: use application/json",
            code="unsupported_media_type",
        )


def _data(part: Any, name: str, avro: AvroReader) -> bytes | AvroPart:
    if not isinstance(part, dict):
        raise Reject(400, f"'{name}' must be an object", code="invalid_type", target=name)
    kind = part.get("type")
    if kind is None:
        raise Reject(
            400, f"'type' field in '{name}' object is required", code="invalid_type", target="type"
        )
    # As documented, in lower case: IBM names no other spelling.
    if kind not in _TYPES:
        raise Reject(
            400,
            f"'type' field in '{name}' object must be one of {', '.join(_TYPES)}, not "
            f"{json.dumps(kind)}",
            code="invalid_type",
            target="type",
        )
    if "data" not in part:
        raise Reject(
            400, f"'data' field in '{name}' object is required", code="invalid_data", target="data"
        )
    data = part["data"]
    if kind == "json":
        if isinstance(data, str):
            try:
                strict_json(data)
            except ValueError:
                raise Reject(
                    400, f"'{name}' data is not valid JSON", code="invalid_data", target="data"
                ) from None
            return data.encode()
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    if not isinstance(data, str):
        raise Reject(400, f"'{name}' data must be a string", code="invalid_data", target="data")
    if kind == "binary":
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            raise Reject(
                400, f"'{name}' data is not valid base64", code="invalid_data", target="data"
            ) from None
    if kind == "avro":
        return avro(part, name)
    return data.encode()


def _headers(raw: Any) -> Headers:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Reject(400, "'headers' must be a list", code="invalid_headers", target="headers")
    headers = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or "value" not in item
        ):
            raise Reject(
                400,
                "each header needs a 'name' and a 'value'",
                code="invalid_headers",
                target="headers",
            )
        try:
            value = base64.b64decode(item.get("value") or "", validate=True)
        except (binascii.Error, TypeError):
            raise Reject(
                400,
                f"header {item['name']!r} value is not valid base64",
                code="invalid_headers",
                target="headers",
            ) from None
        headers.append((item["name"], value))
    return tuple(headers)


def _key_value_and_headers(
    body: bytes, avro: AvroReader
) -> tuple[bytes | AvroPart | None, bytes | AvroPart, Headers]:
    try:
        envelope = strict_json(body)
    except ValueError:
        raise Reject(400, "request body is not valid JSON", code="invalid_json") from None
    if not isinstance(envelope, dict):
        raise Reject(400, "request body must be a JSON object", code="invalid_json")
    if "value" not in envelope:
        raise Reject(400, "'value' object is required", code="missing_field", target="value")
    value = _data(envelope["value"], "value", avro)
    key = _data(envelope["key"], "key", avro) if envelope.get("key") is not None else None
    return key, value, _headers(envelope.get("headers"))


async def produce_v2(request: Request, state: ServerState) -> Response:
    topic = request.path_params["topic"]
    config = state.config
    try:
        principal = state.check_auth(request, bearer_only=True)
        partitions = await state.check_topic(topic, principal)
        _check_content_type(request)
        serializer = request.query_params.get("serializer")
        check_serializer(serializer)
        # The key and headers are in the body, so they are judged after it is read.
        body = await state.read_body(request, config.max_request_bytes)

        def avro(part: dict[str, Any], name: str) -> AvroPart:
            return avro_part(part, name, topic, serializer, config)

        key_part, value_part, headers = _key_value_and_headers(body, avro)
        if key_part is not None:
            state.check_size("key", encoded_size(key_part), config.max_key_bytes)
        state.check_size("value", encoded_size(value_part), config.max_value_bytes)
        # Schemas are registered once the request is known to be good.
        key, value = await frame_parts(state.registry, key_part, value_part)

        def success(record: Record) -> Response:
            metadata = state.metadata(record)
            return json_response(
                {"metadata": metadata} if config.v2_response == "metadata" else metadata
            )

        return await state.produce(topic, partitions, key, value, headers, success)
    except Reject as reject:
        return v2_error(reject)
