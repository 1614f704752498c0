"""A Python client for a NewsSearch server (``newssearch serve``), on httpx.

::

    from search_api.client import NewsSearchClient

    with NewsSearchClient("http://127.0.0.1:8000") as client:
        page = client.search("Putin Tokajew", sort="date_desc", limit=20)
        ids = [a.article_id for a in client.iter_articles("Regierung", source=["ZEIT"])]
        client.export("regierung.csv", "Regierung", format="csv")

Contracts:
- Requests are the server's own models: a method takes a request model
  (:class:`~search_api.schemas.SearchRequest`, ``ExportRequest``, ``SimilarRequest``), or the
  query text, or keyword arguments, or a model plus keyword overrides; they are validated by
  that model before anything is sent, so an unknown or invalid parameter raises pydantic's
  ``ValidationError`` without a request.
- Answers are the server's response models (``SearchResponse``, ``Timeline``, ``Facet``,
  ``ArticleDetail``, ``Stats``, ``Health``, ``WriteResult``); :class:`SearchResults` and
  :class:`TimelineResults` are those models plus ``to_dataframe()`` (pandas, an optional
  extra: ``pip install 'newssearch[pandas]'``, imported only when called).
- Every error the server answers raises an :class:`APIError` subclass chosen by the status
  (:class:`BadRequest` 400, :class:`Unauthorized` 401, :class:`Forbidden` 403,
  :class:`NotFound` 404, :class:`Conflict` 409 (a stale cursor), :class:`InvalidRequest` 422,
  :class:`ServerError` 5xx, :class:`Unavailable` 503) carrying the problem details (``status``,
  ``title``, ``detail``, ``errors``, ``type``); a server that cannot be reached raises
  :class:`ConnectionFailed`. Both ``application/problem+json`` and the older ``{"detail"}``
  bodies are understood.
- ``transport`` is any ``httpx.BaseTransport`` or a plain function ``Request -> Response``
  (wrapped in ``httpx.MockTransport``), so a test fake is a function.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from search_api.rows import ARTICLE_COLUMNS, TIMELINE_COLUMNS, article_rows, timeline_rows
from search_api.schemas import (
    ArticleDetail,
    ArticleIn,
    ArticleResult,
    ExportRequest,
    Facet,
    Health,
    Problem,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    Stats,
    Timeline,
    Versions,
    WriteResult,
)

if TYPE_CHECKING:
    import pandas

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "ExportInfo",
    "Forbidden",
    "InvalidRequest",
    "NewsSearchClient",
    "NotFound",
    "SearchResults",
    "ServerError",
    "TimelineResults",
    "Unauthorized",
    "Unavailable",
    "articles_to_dataframe",
]

#: Articles per request when :meth:`NewsSearchClient.iter_articles` is given no ``limit``
#: (the server's maximum: fewest round trips).
PAGE_SIZE = 100
#: Articles per ``POST /articles`` request (the server's maximum batch).
INGEST_BATCH = 1000
#: Seconds to wait for a server answer; a first query embeds, a large set takes seconds.
TIMEOUT = 60.0
Transport = httpx.BaseTransport | Callable[[httpx.Request], httpx.Response]
_M = TypeVar("_M", bound=BaseModel)


# -- errors ------------------------------------------------------------------------------------
class APIError(Exception):
    """The server answered with an error (or, for :class:`ConnectionFailed`, not at all).

    ``status`` (HTTP status, ``None`` without an answer), ``title`` (the kind of problem),
    ``detail`` (what happened, for a person), ``errors`` (validation problems:
    ``[{"field", "message"}]``), ``type`` (a URI naming the problem) as in RFC 9457.
    """

    def __init__(
        self,
        status: int | None,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        type: str = "about:blank",
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.type = type
        head = f"{status} {title}" if status is not None else title
        message = f"{head}: {detail}" if detail and detail != title else head
        if self.errors:
            message += " (" + "; ".join(f"{e['field']}: {e['message']}" for e in self.errors) + ")"
        super().__init__(message)

    @property
    def problem(self) -> Problem | None:
        """The problem details as the server's model (``None`` without an answer)."""
        if self.status is None:
            return None
        return Problem(
            type=self.type,
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors or None,
        )


class ConnectionFailed(APIError):
    """No answer: the server could not be reached, or did not answer in time."""


class BadRequest(APIError):
    """400: a query syntax error, a cursor of another query, or a set beyond the bounds."""


class Unauthorized(APIError):
    """401: a write without the right ``X-API-Key`` (``api_key=``)."""


class Forbidden(APIError):
    """403: the server has writes disabled (no ``NEWSSEARCH_API_KEY``)."""


class NotFound(APIError):
    """404: no such article (or no such endpoint on this server)."""


class Conflict(APIError):
    """409: the cursor's index generation is gone (the index changed): start again."""


class InvalidRequest(APIError):
    """422: the server refused a parameter; ``errors`` names each one."""


class ServerError(APIError):
    """5xx: the server failed."""


class Unavailable(ServerError):
    """503: a store (the lexical backend, the vectors) is unavailable."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    503: Unavailable,
}


def _error_from(response: httpx.Response) -> APIError:
    """The :class:`APIError` for an error answer, from its problem+json (or ``{"detail"}``)."""
    status = response.status_code
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = response.reason_phrase or "Error"
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    title, detail, errors, kind = reason, "", None, "about:blank"
    if isinstance(body, dict) and "title" in body and "status" in body:
        title = str(body["title"])
        detail = str(body.get("detail") or "")
        kind = str(body.get("type") or kind)
        raw = body.get("errors")
        if isinstance(raw, list):
            errors = [
                {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                for e in raw
                if isinstance(e, dict)
            ]
    elif isinstance(body, dict) and "detail" in body:
        if isinstance(body["detail"], list):  # FastAPI's validation list
            errors = [_legacy_error(e) for e in body["detail"] if isinstance(e, dict)]
            detail = "invalid request"
        else:
            detail = str(body["detail"])
    else:
        detail = response.text[:500]
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, title, detail, errors, kind)


def _legacy_error(error: dict[str, Any]) -> dict[str, str]:
    loc = [str(p) for p in error.get("loc", ())]
    if loc and loc[0] in ("query", "body", "path", "header"):
        loc = loc[1:]
    return {"field": ".".join(loc) or "request", "message": str(error.get("msg", ""))}


# -- results -----------------------------------------------------------------------------------
def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("to_dataframe() needs pandas: pip install 'newssearch[pandas]'") from exc
    return pandas


def articles_to_dataframe(articles: Iterable[ArticleResult]) -> pandas.DataFrame:
    """One row per article (``search_api.rows.article_rows`` columns; ``published_at`` as
    UTC datetimes), e.g. of everything :meth:`NewsSearchClient.iter_articles` yields."""
    pd = _pandas()
    rows = article_rows(articles)
    frame = pd.DataFrame(rows, columns=list(ARTICLE_COLUMNS))
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame


class SearchResults(SearchResponse):
    """A page of the result set (``SearchResponse``) with :meth:`to_dataframe`."""

    def to_dataframe(self) -> pandas.DataFrame:
        """This page's articles, one row each (see :func:`articles_to_dataframe`)."""
        return articles_to_dataframe(self.results)


class TimelineResults(Timeline):
    """The timeline of the result set (``Timeline``) with :meth:`to_dataframe`."""

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per bucket: start (datetime), count, corpus, ratio, and with ``split_by``
        one column per series value (``source:ZEIT``, ...)."""
        pd = _pandas()
        rows = timeline_rows(self)
        frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else list(TIMELINE_COLUMNS))
        frame["start"] = pd.to_datetime(frame["start"])
        return frame


@dataclass(frozen=True)
class ExportInfo:
    """What :meth:`NewsSearchClient.export` wrote: the manifest (first line), the data rows
    it announces (``total`` articles, or ``total_paragraphs`` at paragraph level) and the
    bytes written (manifest included)."""

    manifest: dict[str, Any]
    rows: int
    bytes: int


# -- the client --------------------------------------------------------------------------------
class NewsSearchClient:
    """A NewsSearch server's REST API as typed Python calls (module docstring).

    ``base_url``: the server (``http://127.0.0.1:8000``); ``api_key``: sent as ``X-API-Key``
    (needed by :meth:`ingest` and :meth:`delete`); ``transport``: see the module docstring;
    ``timeout``: seconds per request. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        transport: Transport | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            transport = httpx.MockTransport(transport)
        headers = {"User-Agent": "newssearch-client", "Accept": "application/json"}
        if api_key is not None:
            headers["X-API-Key"] = api_key
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, transport=transport, timeout=timeout
        )

    def __enter__(self) -> NewsSearchClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- reading -------------------------------------------------------------------------------
    def search(self, request: SearchRequest | str | None = None, /, **params: Any) -> SearchResults:
        """One page of the result set (``POST /search``): the query text or a
        ``SearchRequest``, and/or its fields as keywords (``sort="date_desc", limit=50``)."""
        req = _request(SearchRequest, request, params)
        return self._call(SearchResults, "POST", "/search", json=_body(req))

    def iter_articles(
        self, request: SearchRequest | str | None = None, /, **params: Any
    ) -> Iterator[ArticleResult]:
        """Every article of the set, in order, following ``next`` cursors to the last page.

        Pages hold ``limit`` articles when given, else :data:`PAGE_SIZE`; ``offset`` starts
        the walk deeper. Raises :class:`Conflict` when the index changes during the walk
        (the set it pinned is gone): start again.
        """
        req = _request(SearchRequest, request, params)
        update: dict[str, Any] = {"facets": False, "timeline": False}
        if "limit" not in req.model_fields_set or req.limit == 0:
            update["limit"] = PAGE_SIZE
        req = req.model_copy(update=update)
        while True:
            page = self._call(SearchResults, "POST", "/search", json=_body(req))
            yield from page.results
            if not page.next or not page.results:
                return
            req = req.model_copy(update={"cursor": page.next, "offset": 0})

    def facets(self, request: SearchRequest | str | None = None, /, **params: Any) -> list[Facet]:
        """Facet counts over the whole set (``GET /facets``)."""
        req = _request(SearchRequest, request, params)
        response = self._send("GET", "/facets", params=_query(req))
        return [Facet.model_validate(f) for f in response.json()]

    def timeline(
        self, request: SearchRequest | str | None = None, /, **params: Any
    ) -> TimelineResults:
        """The set per interval (``GET /timeline``; ``interval``, ``split_by``)."""
        req = _request(SearchRequest, request, params)
        return self._call(TimelineResults, "GET", "/timeline", params=_query(req))

    def export(
        self,
        destination: str | os.PathLike[str] | IO[bytes] | IO[str],
        request: SearchRequest | str | None = None,
        /,
        **params: Any,
    ) -> ExportInfo:
        """Stream the complete set (``GET /export``; ``format=csv|jsonl``,
        ``level=article|paragraph``) into a file path or an open file (text or binary).

        A path is written to ``<path>.part`` and renamed when the export is complete, so a
        failed export never leaves a truncated file under the name asked for.
        """
        if isinstance(request, SearchRequest) and not isinstance(request, ExportRequest):
            request = ExportRequest.model_validate(request.model_dump(exclude_unset=True))
        req = _request(ExportRequest, request, params)
        if isinstance(destination, str | os.PathLike):
            path = Path(destination)
            part = path.with_name(path.name + ".part")
            try:
                with part.open("wb") as fh:
                    info = self._stream_export(req, fh)
                part.replace(path)
            finally:
                part.unlink(missing_ok=True)
            return info
        return self._stream_export(req, destination)

    def _stream_export(self, req: ExportRequest, out: IO[bytes] | IO[str]) -> ExportInfo:
        text = isinstance(out, io.TextIOBase)
        decoder = codecs.getincrementaldecoder("utf-8")()  # a character may span two chunks
        head = b""
        written = 0
        try:
            with self._http.stream("GET", "/export", params=_query(req)) as response:
                if response.is_error:
                    response.read()
                    raise _error_from(response)
                for chunk in response.iter_bytes():
                    if b"\n" not in head:
                        head += chunk
                    written += len(chunk)
                    if text:
                        cast(IO[str], out).write(decoder.decode(chunk))
                    else:
                        cast(IO[bytes], out).write(chunk)
        except httpx.TransportError as exc:
            raise ConnectionFailed(None, "connection failed", str(exc)) from exc
        if text:
            cast(IO[str], out).write(decoder.decode(b"", final=True))
        manifest = _manifest(head.split(b"\n", 1)[0].decode("utf-8"), req.format)
        return ExportInfo(manifest=manifest, rows=int(manifest.get("rows", 0)), bytes=written)

    def article(self, article_id: str) -> ArticleDetail:
        """A whole stored article with its paragraphs (``GET /articles/{id}``)."""
        return self._call(ArticleDetail, "GET", f"/articles/{_segment(article_id)}")

    def similar(
        self, article_id: str, request: SimilarRequest | None = None, /, **params: Any
    ) -> SearchResults:
        """Articles closest to one article (``GET /articles/{id}/similar``): filters,
        threshold, sort and paging as in a search (``SimilarRequest``)."""
        req = _request(SimilarRequest, request, params)
        path = f"/articles/{_segment(article_id)}/similar"
        return self._call(SearchResults, "GET", path, params=_query(req))

    def versions(self, article_id: str) -> Versions:
        """The other articles of its story, oldest first (``GET /articles/{id}/versions``)."""
        return self._call(Versions, "GET", f"/articles/{_segment(article_id)}/versions")

    def stats(self) -> Stats:
        """What the index holds (``GET /stats``)."""
        return self._call(Stats, "GET", "/stats")

    def health(self) -> Health:
        """Liveness and index counts (``GET /health``); ``status`` is ``ok``, or ``degraded``
        when the lexical backend does not answer (search is then dense-only)."""
        return self._call(Health, "GET", "/health")

    # -- writing -------------------------------------------------------------------------------
    def ingest(
        self, articles: Iterable[ArticleIn | Mapping[str, Any]], batch_size: int = INGEST_BATCH
    ) -> WriteResult:
        """Ingest articles (``POST /articles``, needs ``api_key``), sent in batches of
        ``batch_size``; the counts are summed. As the server does, a record it cannot take
        (no body, a url that is not http(s), ...) does not cost the others: it is listed in
        ``problems``, whose ``index`` is the record's position in ``articles``."""
        if not 1 <= batch_size <= INGEST_BATCH:
            raise ValueError(f"batch_size must be 1..{INGEST_BATCH}")
        total = WriteResult()
        batch: list[Any] = []
        start = 0

        def send() -> None:
            result = self._call(
                WriteResult,
                "POST",
                "/articles",
                json={"articles": batch},
            )
            for name in ("articles", "written", "unchanged", "paragraphs", "deleted_paragraphs"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.problems += [
                p.model_copy(update={"index": p.index + start}) for p in result.problems
            ]

        for item in articles:
            if isinstance(item, ArticleIn):
                batch.append(item.model_dump(mode="json", exclude_none=True))
            else:
                batch.append(to_jsonable_python(dict(item)))
            if len(batch) == batch_size:
                send()
                start += len(batch)
                batch = []
        if batch:
            send()
        return total

    def delete(self, article_id: str) -> WriteResult:
        """Remove an article from every store (``DELETE /articles/{id}``, needs ``api_key``);
        :class:`NotFound` if the index has no such article."""
        return self._call(WriteResult, "DELETE", f"/articles/{_segment(article_id)}")

    # -- plumbing ------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        params: httpx.QueryParams | None = None,
        json: Any = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            raise ConnectionFailed(None, "connection failed", str(exc)) from exc
        if response.is_error:
            raise _error_from(response)
        return response

    def _call(
        self,
        model: type[_M],
        method: str,
        path: str,
        params: httpx.QueryParams | None = None,
        json: Any = None,
    ) -> _M:
        return model.model_validate_json(self._send(method, path, params, json).content)


def _request(model: type[_M], request: Any, params: dict[str, Any]) -> _M:
    """``request`` (a model, the query text or ``None``) with ``params`` on top, validated."""
    if request is None:
        base: dict[str, Any] = {}
    elif isinstance(request, str):
        base = {"q": request}
    elif isinstance(request, model):
        if not params:
            return request
        base = request.model_dump(exclude_unset=True)
    else:
        raise TypeError(f"expected {model.__name__}, query text or keywords, got {request!r}")
    return model.model_validate({**base, **params})


def _body(req: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = req.model_dump(mode="json", exclude_defaults=True)
    return data


def _query(req: BaseModel) -> httpx.QueryParams:
    """The query string of the fields that differ from their defaults (lists repeated)."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in req.model_dump(mode="json", exclude_defaults=True).items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            pairs.append((name, json.dumps(item) if isinstance(item, bool) else str(item)))
    return httpx.QueryParams(pairs)


def _segment(article_id: str) -> str:
    if not article_id:
        raise ValueError("article_id must not be empty")
    return quote(article_id, safe="")


def _manifest(line: str, fmt: str) -> dict[str, Any]:
    """The manifest of an export's first line (JSONL: ``{"manifest"}``; CSV: one quoted
    cell ``# {"manifest": ...}``); ``{}`` when the line is not one."""
    if fmt == "csv":
        cells = next(csv.reader([line]), [""])
        line = cells[0].removeprefix("# ") if cells else ""
    try:
        data = json.loads(line)
    except ValueError:
        return {}
    found = data.get("manifest") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}
