"""The direct-run host (``fal.run``) under ``/run``: PROTOCOL.md section 3.

``POST /run/{id}[/{sub-path}]`` answers the output at once (or the failure, with its status):
no queue, so invalid input is a 422 right away. The endpoint's behaviour still applies: the call
takes its queue time plus processing time, and a start timeout shorter than the queue time ends it
with a user-timeout 504. ``GET`` takes the input from the query string (fal-js ``method: "get"``).
"""

from __future__ import annotations

import asyncio
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._controls import Failure
from ._produce import Outcome
from ._queue_routes import annotate, parse_body, parse_start_timeout, read_body
from ._state import ServerState

__all__ = ["routes"]


def _respond(outcome: Outcome, request_id: str) -> Response:
    headers = {**outcome.headers, "x-fal-request-id": request_id}
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def routes(state: ServerState) -> list[BaseRoute]:
    """The run route; it catches every path under ``/run``, so it goes after ``/stream``."""

    async def run(request: Request) -> Response:
        denied = state.auth_error(request)
        if denied is not None:
            return denied
        path = request.path_params["path"]
        resolved = state.resolve(path)
        if resolved is None:
            return JSONResponse({"detail": f"Application '{path}' not found"}, status_code=404)
        endpoint_id, _ = resolved
        request_id = str(uuid.uuid4())
        annotate(request, endpoint_id=endpoint_id, request_id=request_id)
        start_timeout = parse_start_timeout(request)
        if isinstance(start_timeout, JSONResponse):
            return start_timeout
        if request.method == "GET":
            arguments: object = dict(request.query_params)
            rejection = None
        else:
            raw = await read_body(request)
            if isinstance(raw, JSONResponse):
                return raw
            arguments, rejection = parse_body(raw)
        if rejection is not None:
            return _respond(rejection, request_id)
        errors = state.input_errors(endpoint_id, arguments)
        if errors:
            return _respond(Outcome.from_failure(Failure(422, errors)), request_id)
        behaviour = state.controls.behaviour(endpoint_id)
        if start_timeout is not None and behaviour.queue_time > start_timeout:
            await asyncio.sleep(start_timeout)
            timeout = Failure(
                504,
                "Request timed out",
                error_type="request_timeout",
                headers={"x-fal-request-timeout-type": "user"},
            )
            return _respond(Outcome.from_failure(timeout), request_id)
        wait = behaviour.queue_time + behaviour.processing_time
        if wait > 0:
            await asyncio.sleep(wait)
        return _respond(await state.producer.produce(endpoint_id, arguments), request_id)

    return [Route("/run/{path:path}", run, methods=["POST", "GET", "PUT"], name="run")]
