"""Rejected requests and the error bodies each dialect answers them with.

A check raises :class:`Reject` with everything either dialect might show; the route
catches it and renders the fields its dialect has: v1 ``error_code``, ``message``,
``kafka_error_code``, ``topic``, ``schema`` and ``incident``; v2 ``trace`` and
``error{code, message, more_info, target}``. Every error answer carries a trace id
(v1 ``incident``, v2 ``trace``). A path no route serves gets Go's plain-text 404, as
IBM's REST producer (a Go server, by its error texts) presumably answers.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from starlette.responses import PlainTextResponse, Response

from ._json import json_response

__all__ = [
    "KAFKA_MESSAGE_TOO_LARGE",
    "KAFKA_TOPIC_AUTHORIZATION_FAILED",
    "KAFKA_UNKNOWN_TOPIC",
    "STATUS_TEXT",
    "Reject",
    "not_found",
    "v1_error",
    "v2_error",
]

# Kafka protocol error codes, sent as ``kafka_error_code`` in v1 errors
KAFKA_UNKNOWN_TOPIC = 3
KAFKA_MESSAGE_TOO_LARGE = 10
KAFKA_TOPIC_AUTHORIZATION_FAILED = 29

#: messages of the statuses a fault can inject
STATUS_TEXT = {
    408: "request timed out producing to Event Streams",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "Event Streams brokers unavailable",
    504: "gateway timeout",
}

_V2_MORE_INFO = "https://cloud.ibm.com/apidocs/event-streams/restproducer_v2"


class Reject(Exception):
    """A request that fails validation; becomes an error answer in the route's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = "invalid_request",
        target: str | None = None,
        kafka_error_code: int | None = None,
        schema: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.target = target
        self.kafka_error_code = kafka_error_code
        self.schema = schema
        self.headers = headers


def v1_error(reject: Reject, topic: str | None, shape: Literal["v1.1", "v1.0"]) -> Response:
    nested: dict[str, Any] = {"error_code": reject.status, "message": reject.message}
    if reject.kafka_error_code is not None:
        nested["kafka_error_code"] = reject.kafka_error_code
    if topic is not None:
        nested["topic"] = topic
    if reject.schema is not None:
        nested["schema"] = reject.schema
    nested["incident"] = str(uuid.uuid4())
    body: dict[str, Any] = {"error": nested}
    if shape == "v1.1":
        body = {"error_code": reject.status, "message": reject.message, "error": nested}
    return json_response(body, reject.status, reject.headers)


def v2_error(reject: Reject) -> Response:
    error: dict[str, Any] = {
        "code": reject.code,
        "message": reject.message,
        "more_info": _V2_MORE_INFO,
    }
    if reject.target is not None:
        error["target"] = {"type": "field", "name": reject.target}
    return json_response(
        {"trace": str(uuid.uuid4()), "error": error}, reject.status, reject.headers
    )


def not_found() -> Response:
    """Go's ``http.NotFound``: what a path no route serves gets."""
    return PlainTextResponse(
        "404 page not found\n", 404, headers={"X-Content-Type-Options": "nosniff"}
    )
