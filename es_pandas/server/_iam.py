"""``POST /identity/token``: IBM Cloud IAM's API-key grant, answering with a bearer
token the produce routes accept."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ._body import BodyError, read_body
from ._json import json_response

if TYPE_CHECKING:
    from ._app import ServerState

__all__ = ["iam_error", "identity_token"]


def iam_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """IAM's error body; its ``context.requestId`` is the trace id of the answer."""
    context = {"requestId": str(uuid.uuid4()), "requestType": "incoming.Identity_Token"}
    body = {"context": context, "errorCode": code, "errorMessage": message}
    return json_response(body, status, headers)


async def identity_token(request: Request, state: ServerState) -> Response:
    fault = state.iam_faults.next_fault()
    if fault.status is not None:
        # IAM's codes for its own failures are not documented: a made-up one
        retry_after = state.iam_faults.config.retry_after
        headers = None if retry_after is None else {"Retry-After": str(round(retry_after))}
        return iam_error(fault.status, "BXNIM0000E", "IAM is unavailable [injected fault]", headers)
    try:
        body = await read_body(request, state.config.max_request_bytes)
    except BodyError as exc:
        # IAM's namespace: a 400 in IAM's error shape
        return json_response({"errorCode": "invalid_request", "errorMessage": exc.message}, 400)
    form = parse_qs(body.decode("latin-1"))
    grant = form.get("grant_type", [""])[0]
    if grant != "urn:ibm:params:oauth:grant-type:apikey":
        return iam_error(400, "BXNIM0109E", f"Unsupported grant type {grant!r}")
    api_key = form.get("apikey", [""])[0]
    token = state.auth.issue_token(api_key)
    if token is None:
        return iam_error(400, "BXNIM0415E", "Provided API key could not be found.")
    state.stats["tokens_issued"] += 1
    return json_response(token)
