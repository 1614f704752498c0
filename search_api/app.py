"""The FastAPI application: thin routes that parse, delegate to :class:`SearchEngine`, shape.

Errors are mapped to HTTP status codes here and only here: ``QuerySyntaxError`` -> 400,
request validation -> 422, ``BackendUnavailable`` -> 503, anything else -> 500 with a generic
message (details go to the log, never to the client).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from indexer.errors import (
    BackendUnavailable,
    IngestError,
    QuerySyntaxError,
    ResultSetTooLarge,
    StaleCursor,
)
from indexer.models import Article, stable_article_id
from indexer.settings import Settings
from indexer.stores import Stores, make_embedder, open_stores
from search_api.engine import SearchEngine
from search_api.schemas import (
    ArticleIn,
    ArticlesIn,
    ErrorDetail,
    ExportRequest,
    Facet,
    SearchRequest,
    SearchResponse,
    Timeline,
    WriteResult,
)

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: Error statuses each route can answer, declared so the OpenAPI spec documents them.
SEARCH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDetail,
        "description": "Query syntax error, a foreign cursor, or a set beyond the bounds.",
    },
    409: {"model": ErrorDetail, "description": "The cursor's index generation is gone."},
    503: {"model": ErrorDetail, "description": "A store is unavailable."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **SEARCH_ERRORS,
    401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
    403: {"model": ErrorDetail, "description": "Write endpoints are disabled (no key set)."},
    404: {"model": ErrorDetail, "description": "No such article."},
}
#: How often (seconds) a serving process looks for commits made by an ingest process.
REFRESH_INTERVAL = 2.0


class Service:
    """The open stores and engine of one app, refreshed when another process commits."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = SearchEngine(stores)
        self._checked = 0.0
        self._lock = threading.Lock()
        #: One write at a time per process (the embedded index has a single writer).
        self.write_lock = threading.Lock()

    def refresh(self) -> None:
        """Pick up new commits (FAISS file, lexical segments) at most every few seconds."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked < REFRESH_INTERVAL:
                return
            self._checked = now
        self.stores.vectors.reload_if_changed()
        refresh: Callable[[], None] | None = getattr(self.stores.lexical, "refresh", None)
        if refresh is not None:
            with suppress(BackendUnavailable):
                refresh()


def configure_serving_threads(n: int) -> None:
    """One torch and one FAISS thread per query by default: on 2 cores, parallel work inside
    one small query costs more than it saves and halves throughput under concurrent load
    (measured, docs/benchmarks.md). Not applied to ingest, which wants every core."""
    import torch

    from indexer.vectors import configure_threads

    torch.set_num_threads(n)
    configure_threads(n)


def get_service(request: Request) -> Service:
    """The app's :class:`Service` (override in tests with ``app.dependency_overrides``)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def require_api_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Allow a write only with the configured key (constant-time compare).

    No key configured means writes are disabled (403); a missing or wrong key is 401.
    """
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        raise HTTPException(403, "write endpoints are disabled: set NEWSSEARCH_API_KEY")
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(401, "missing or wrong X-API-Key header")


WriteAuth = Depends(require_api_key)


def to_article(item: ArticleIn) -> Article:
    """The domain article for an API item (id derived when not given)."""
    date = item.published_at.isoformat() if item.published_at else None
    if item.published_at is not None and item.published_at.tzinfo is None:
        raise QuerySyntaxError("published_at needs a timezone (e.g. 2022-02-10T00:00:00Z)")
    return Article(
        article_id=item.article_id or stable_article_id(item.url, item.source, item.title, date),
        title=item.title,
        body=item.body,
        source=item.source,
        url=item.url,
        published_at=item.published_at,
        language=item.language,
        section=item.section,
        authors=tuple(item.authors),
        extra=dict(item.extra),
    )


def create_app(settings: Settings | None = None, stores: Stores | None = None) -> FastAPI:
    """Build the app. Stores are opened in the lifespan (or taken as given, for tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = stores is None
        if own:
            configure_serving_threads(settings.serve_threads)
        opened = stores or open_stores(
            settings, make_embedder(settings, threads=settings.serve_threads)
        )
        service = app.state.service = Service(opened)
        log.info("ready: %d paragraphs", service.engine.warm_up())
        try:
            yield
        finally:
            service.engine.close()
            if own:
                opened.close()

    app = FastAPI(
        title="NewsSearch",
        version="0.1.0",
        description="Hybrid BM25 + dense search over news, grouped by article.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )

    @app.exception_handler(QuerySyntaxError)
    async def _bad_query(_: Request, exc: QuerySyntaxError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(IngestError)
    async def _ingest_failed(_: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes every offending input: a 10 MB body comes back whole, and
        # an input that cannot be encoded (a lone surrogate) turned the 422 into a 500.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300], "type": e["type"]}
            for e in exc.errors()[:20]
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(StaleCursor)
    async def _stale(_: Request, exc: StaleCursor) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(ResultSetTooLarge)
    async def _too_large(_: Request, exc: ResultSetTooLarge) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(BackendUnavailable)
    async def _unavailable(_: Request, exc: BackendUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    @app.get(
        "/search",
        response_model=SearchResponse,
        responses=SEARCH_ERRORS,
        operation_id="search",
    )
    def search_get(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> SearchResponse:
        """A page of the result set (query-string form; lists: repeat the parameter).

        Same JSON as ``newssearch search --format json``. Unknown parameters are refused (422).
        """
        service.refresh()
        return service.engine.search(req)

    @app.post(
        "/search",
        response_model=SearchResponse,
        responses=SEARCH_ERRORS,
        operation_id="search_post",
    )
    def search_post(service: ServiceDep, req: SearchRequest) -> SearchResponse:
        """A page of the result set (JSON body form), for scripts with many filters."""
        service.refresh()
        return service.engine.search(req)

    @app.get("/facets", response_model=list[Facet], responses=SEARCH_ERRORS, operation_id="facets")
    def facets(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> list[Facet]:
        """Article counts per source, language, section, author, year and month over the
        whole set; a facet's own filter does not hide its other values."""
        service.refresh()
        return service.engine.facets(req)

    @app.get("/timeline", response_model=Timeline, responses=SEARCH_ERRORS, operation_id="timeline")
    def timeline(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> Timeline:
        """Articles of the set per day / week / month / year (``interval``), with the
        corpus per interval and their ratio; ``split_by`` adds a series per facet value."""
        service.refresh()
        return service.engine.timeline(req)

    @app.get(
        "/export",
        responses={**SEARCH_ERRORS, 200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
        operation_id="export",
        response_class=StreamingResponse,
    )
    def export(service: ServiceDep, req: Annotated[ExportRequest, Query()]) -> StreamingResponse:
        """Every article (``level=article``) or matching paragraph (``level=paragraph``) of
        the set, streamed as CSV or JSONL; the first line is the manifest."""
        service.refresh()
        search = SearchRequest.model_validate(req.model_dump(exclude={"format", "level"}))
        rs = service.engine.result_set(search)
        from search_api.search.export import export as stream

        media = "text/csv" if req.format == "csv" else "application/x-ndjson"
        name = f"newssearch-export-{rs.generation}.{req.format}"
        return StreamingResponse(
            stream(service.stores, rs, req.format, req.level),
            media_type=f"{media}; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-NewsSearch-Total": str(rs.total),
            },
        )

    @app.post(
        "/articles", response_model=WriteResult, dependencies=[WriteAuth], responses=WRITE_ERRORS
    )
    def add_articles(service: ServiceDep, batch: ArticlesIn) -> WriteResult:
        """Ingest articles (needs ``X-API-Key``). Unchanged articles are skipped."""
        from indexer.pipeline import ingest_articles

        articles = [to_article(item) for item in batch.articles]
        with service.write_lock:
            report = ingest_articles(service.stores, articles)
        return WriteResult(
            articles=report.articles,
            written=report.written,
            unchanged=report.unchanged,
            paragraphs=report.paragraphs,
        )

    @app.delete(
        "/articles/{article_id}",
        response_model=WriteResult,
        dependencies=[WriteAuth],
        responses=WRITE_ERRORS,
    )
    def delete_article(service: ServiceDep, article_id: str) -> WriteResult:
        """Remove an article from every store (needs ``X-API-Key``); 404 if unknown."""
        from indexer.pipeline import delete

        if not service.stores.catalog.articles([article_id]):
            raise HTTPException(404, f"no article {article_id!r}")
        with service.write_lock:
            n = delete(service.stores, [article_id])
        return WriteResult(articles=1, deleted_paragraphs=n)

    @app.get("/health")
    def health(service: ServiceDep) -> dict[str, Any]:
        """Liveness plus index counts and whether the lexical backend answers."""
        counts = service.stores.catalog.counts()
        try:
            lexical_ok, lexical_count = True, service.stores.lexical.count()
        except BackendUnavailable:
            lexical_ok, lexical_count = False, None
        return {
            "status": "ok" if lexical_ok else "degraded",
            "lexical_backend": service.stores.lexical.name,
            "lexical_ok": lexical_ok,
            "lexical_paragraphs": lexical_count,
            "vectors": len(service.stores.vectors),
            **counts,
        }

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app
