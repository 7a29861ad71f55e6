"""Errors in the API's JSON shape, as Laravel words them: no route, wrong method,
bad parameters, and a bug (whose traceback goes to the log, never to the client);
and a client that left while its body was read (logged as a 499, nothing else)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

CLIENT_LEFT = 499  # nginx's "client closed request": in the access line, sent to no one


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_left)
    app.add_exception_handler(Exception, _server_error)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):
        raise error
    route = request.url.path.lstrip("/")
    headers = dict(error.headers or {})
    message = error.detail
    if error.status_code == 404 and message == "Not Found":  # no route: Laravel's words
        message = f"The route {route} could not be found."
    elif error.status_code == 405 and "Allow" in headers:
        # Every route's methods on the path, not only the first route that matched it
        # (GET and DELETE of /_proxy/requests are two routes).
        allowed = set(headers["Allow"].replace(" ", "").split(","))
        allowed |= _methods_on(request.app.router.routes, request.scope)
        if "GET" in allowed:
            allowed.add("HEAD")  # answered as GET without a body (edge.asgi)
        listed = ", ".join(sorted(allowed))
        headers["Allow"] = listed
        message = (
            f"The {request.method} method is not supported for route {route}. "
            f"Supported methods: {listed}."
        )
    return JSONResponse({"message": message}, status_code=error.status_code, headers=headers)


def _methods_on(routes: Iterable[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route whose path matches the request's."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            found |= route.methods or set()
        elif (included := getattr(route, "original_router", None)) is not None:
            found |= _methods_on(included.routes, scope)  # FastAPI >= 0.165's include_router
    return found


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        raise error
    errors: dict[str, list[str]] = {}
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"][1:]) or "request"
        errors.setdefault(field, []).append(str(problem["msg"]))
    first = next(iter(errors.values()))[0]
    return JSONResponse({"message": first, "errors": errors}, status_code=422)


async def _client_left(request: Request, error: Exception) -> Response:
    # The client hung up while its body was being read: nobody to answer, no bug to log.
    return Response(status_code=CLIENT_LEFT)


async def _server_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette logs the traceback for the operator; the client gets Laravel's body.
    return JSONResponse({"message": "Server Error"}, status_code=500)
