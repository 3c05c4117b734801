"""``POST /identity/token``: IBM Cloud IAM's API-key grant, answering with a bearer
token the produce routes accept."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ._body import BodyError, read_body
from ._json import json_response

if TYPE_CHECKING:
    from ._app import ServerState

__all__ = ["identity_token"]


async def identity_token(request: Request, state: ServerState) -> Response:
    try:
        body = await read_body(request, state.config.max_request_bytes)
    except BodyError as exc:
        # IAM's namespace: a 400 in IAM's error shape
        return json_response({"errorCode": "invalid_request", "errorMessage": exc.message}, 400)
    form = parse_qs(body.decode("latin-1"))
    grant = form.get("grant_type", [""])[0]
    if grant != "urn:ibm:params:oauth:grant-type:apikey":
        return json_response(
            {"errorCode": "BXNIM0109E", "errorMessage": f"Unsupported grant type {grant!r}"}, 400
        )
    api_key = form.get("apikey", [""])[0]
    token = state.auth.issue_token(api_key)
    if token is None:
        return json_response(
            {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."},
            400,
        )
    state.stats["tokens_issued"] += 1
    return json_response(token)
