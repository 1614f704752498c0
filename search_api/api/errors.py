"""Every error answer of the API, in one place: ``application/problem+json`` (RFC 9457).

A typed error (:mod:`indexer.errors`) raised anywhere below a route becomes one problem::

    {"type": "urn:newssearch:problem:query-syntax", "title": "Query syntax error",
     "status": 400, "detail": "unterminated quote at position 3"}

with the status of :data:`KINDS` (first matching class): ``QuerySyntaxError`` and
``ResultSetTooLarge`` 400, ``Unauthorized`` 401, ``Forbidden`` 403, ``NotFound`` 404,
``StaleCursor`` 409, ``BackendUnavailable`` and ``IngestError`` 503. Request validation is a
422 whose ``errors`` name each offending field (``{"field": "query.sort", "message": ...}``)
and never echo the input: FastAPI's default sent every bad value back (a 10 MB body came back
whole, and a lone surrogate, which cannot be encoded, turned the 422 into a 500). Routing
errors (404 for an unknown path, 405) are problems too. Anything else is a 500 whose detail says
nothing but "internal error"; the exception goes to the log.

Every string of a problem is cut short (:data:`MAX_DETAIL`, :data:`MAX_FIELD`) and made
encodable, so no error answer can itself fail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from indexer.errors import (
    BackendUnavailable,
    Forbidden,
    IngestError,
    NotFound,
    QuerySyntaxError,
    ResultSetTooLarge,
    StaleCursor,
    Unauthorized,
)
from search_api.schemas import Problem

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
#: Longest ``detail`` / ``message`` sent, and longest ``field`` (a field path may hold a key
#: the client invented, of any length).
MAX_DETAIL, MAX_FIELD = 500, 120
#: Validation errors listed in one 422 (a batch of 1,000 bad records would list thousands).
MAX_ERRORS = 20
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Kind:
    """How one class of error is answered."""

    status: int
    slug: str
    title: str

    @property
    def type(self) -> str:
        """The problem's ``type`` URI: a URN naming the kind (it is not a page), or
        ``about:blank`` for plain HTTP errors, whose title is the status phrase."""
        return f"urn:newssearch:problem:{self.slug}" if self.slug else "about:blank"

    @classmethod
    def plain(cls, status: int) -> Kind:
        """A plain HTTP error (unknown path, method not allowed)."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return cls(status, "", phrase)


#: Typed errors and their answers, most specific first.
KINDS: tuple[tuple[type[Exception], Kind], ...] = (
    (QuerySyntaxError, Kind(400, "query-syntax", "Bad query")),
    (ResultSetTooLarge, Kind(400, "result-set-too-large", "Result set too large")),
    (Unauthorized, Kind(401, "unauthorized", "Missing or wrong API key")),
    (Forbidden, Kind(403, "writes-disabled", "Writes are disabled")),
    (NotFound, Kind(404, "not-found", "Not found")),
    (StaleCursor, Kind(409, "stale-cursor", "Index changed since the cursor was made")),
    (BackendUnavailable, Kind(503, "backend-unavailable", "A store is unavailable")),
    (IngestError, Kind(503, "ingest-failed", "Ingest failed")),
)
VALIDATION = Kind(422, "validation", "Invalid request")
INTERNAL = Kind(500, "internal", "Internal error")


def safe_text(value: object, limit: int = MAX_DETAIL) -> str:
    """``value`` as a short string that can be encoded as UTF-8 (lone surrogates replaced)."""
    text = _SURROGATES.sub("\ufffd", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class ProblemResponse(JSONResponse):
    """A JSON response with the problem media type."""

    media_type = PROBLEM_JSON


def problem(
    kind: Kind,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    """The response for one problem (strings shortened and made encodable)."""
    body = Problem(
        type=kind.type,
        title=kind.title,
        status=kind.status,
        detail=safe_text(detail) or kind.title,
        errors=errors,
    )
    return ProblemResponse(
        body.model_dump(exclude_none=True), status_code=kind.status, headers=headers
    )


#: The last part of a location naming which member of a union failed, not a field.
_UNION_MEMBER = re.compile(r".*\[.*\]|int|float|bool|str|none")


def field_name(loc: Sequence[Any]) -> str:
    """A location as a dotted path: ``("query", "sort")`` -> ``query.sort`` (a union member's
    tag at the end, e.g. ``function-after[clean_text(), str]``, is left out)."""
    parts = [str(part) for part in loc]
    if len(parts) > 2 and _UNION_MEMBER.fullmatch(parts[-1]):
        parts.pop()
    return safe_text(".".join(parts) or "request", MAX_FIELD)


def message(error: dict[str, Any]) -> str:
    """A pydantic error's message without the ``Value error,`` prefix of custom validators."""
    text = str(error.get("msg", ""))
    return safe_text(text.removeprefix("Value error, "), MAX_DETAIL)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """``[{"field", "message"}]``, one per field (its first error), at most
    :data:`MAX_ERRORS`; the input is never echoed."""
    out: dict[str, str] = {}
    for e in errors:
        out.setdefault(field_name(e.get("loc", ())), message(e))
        if len(out) >= MAX_ERRORS:
            break
    return [{"field": field, "message": text} for field, text in out.items()]


def _kind_of(exc: Exception) -> Kind | None:
    for cls, kind in KINDS:
        if isinstance(exc, cls):
            return kind
    return None


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route answers on this path (Starlette's 405 names only the first
    route's: ``OPTIONS /search`` said ``Allow: GET`` although ``POST /search`` exists).
    The routes are the routers' own (``app.state.api_routes``, set by ``create_app``)."""
    methods: set[str] = set()
    for route in getattr(request.app.state, "api_routes", ()):
        match, _ = route.matches({**request.scope, "method": "\x00"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return methods


def install(app: FastAPI) -> None:
    """Register the handlers on ``app`` (see the module docstring)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = validation_errors(exc.errors())
        first = errors[0] if errors else {"field": "request", "message": "invalid"}
        more = len(exc.errors()) - 1
        detail = f"{first['field']}: {first['message']}" + (f" (and {more} more)" if more else "")
        return problem(VALIDATION, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        kind = Kind.plain(exc.status_code)
        detail = exc.detail if isinstance(exc.detail, str) else kind.title
        return problem(kind, detail, headers=headers or None)

    for cls, kind in KINDS:

        async def _typed(_: Request, exc: Exception, kind: Kind = kind) -> ProblemResponse:
            return problem(kind, str(exc))

        app.add_exception_handler(cls, _typed)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> ProblemResponse:
        kind = _kind_of(exc)
        if kind is not None:  # raised inside a middleware or a streamed body
            return problem(kind, str(exc))
        log.exception("unhandled error", exc_info=exc)
        return problem(INTERNAL, "internal error")


def responses(*statuses: int, validation: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers, each a :class:`Problem`
    with a description and an example (rendered as ``application/problem+json`` by
    :func:`search_api.api.app.openapi_schema`). 500 is added to every route, 422 to every
    route with parameters or a body (``validation``)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 500, *([422] if validation else [])}):
        description, example = EXAMPLES[status]
        out[status] = {
            "model": Problem,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    return out


def _example(kind: Kind, detail: str, **extra: Any) -> dict[str, Any]:
    out = {"type": kind.type, "title": kind.title, "status": kind.status, "detail": detail}
    return {**out, **extra}


_BY_SLUG = {kind.slug: kind for _, kind in KINDS}
#: Per status: the description in the spec and an example problem.
EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The query cannot be parsed, the cursor belongs to another request, the set would "
        "exceed a bound (raise min_similarity, add filters or set semantic=false), or a body "
        "is not JSON.",
        _example(_BY_SLUG["query-syntax"], "unterminated quote at position 0"),
    ),
    401: (
        "Missing or wrong X-API-Key header.",
        _example(_BY_SLUG["unauthorized"], "missing or wrong X-API-Key header"),
    ),
    403: (
        "Writes are disabled on this server: it has no NEWSSEARCH_API_KEY.",
        _example(
            _BY_SLUG["writes-disabled"], "write endpoints are disabled: set NEWSSEARCH_API_KEY"
        ),
    ),
    404: (
        "No committed article has this id.",
        _example(_BY_SLUG["not-found"], "no article 'gnad-4711'"),
    ),
    409: (
        "The index changed since the cursor was made; start again from the first page.",
        _example(
            _BY_SLUG["stale-cursor"],
            "the index changed since this cursor was made (generation 7, now 8); the set may "
            "differ: start again from the first page",
        ),
    ),
    422: (
        "A parameter or body field is invalid or unknown (each named in errors, the input "
        "never echoed).",
        _example(
            VALIDATION,
            "query.sort: Input should be 'relevance', 'date_desc' or 'date_asc'",
            errors=[
                {
                    "field": "query.sort",
                    "message": "Input should be 'relevance', 'date_desc' or 'date_asc'",
                }
            ],
        ),
    ),
    500: (
        "An unexpected error (logged on the server; no details are sent).",
        _example(INTERNAL, "internal error"),
    ),
    503: (
        "A store (e.g. Elasticsearch) is unavailable.",
        _example(_BY_SLUG["backend-unavailable"], "Elasticsearch at http://es:9200 unreachable"),
    ),
}
