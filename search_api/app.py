"""The FastAPI application: thin routes that parse, delegate to :class:`SearchEngine`, shape.

Errors are mapped to HTTP status codes here and only here: ``QuerySyntaxError`` -> 400,
request validation -> 422, ``BackendUnavailable`` -> 503, anything else -> 500 with a generic
message (details go to the log, never to the client).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse

from indexer.errors import BackendUnavailable, QuerySyntaxError
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.engine import SearchEngine
from search_api.schemas import Fusion, Mode, SearchRequest, SearchResponse

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: How often (seconds) a serving process looks for commits made by an ingest process.
REFRESH_INTERVAL = 2.0


class Service:
    """The open stores and engine of one app, refreshed when another process commits."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = SearchEngine(stores)
        self._checked = 0.0
        self._lock = threading.Lock()

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


def get_service(request: Request) -> Service:
    """The app's :class:`Service` (override in tests with ``app.dependency_overrides``)."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def search_params(
    q: Annotated[str, Query(max_length=1000, description="Query text.")],
    mode: Mode = "hybrid",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    source: Annotated[list[str] | None, Query()] = None,
    language: Annotated[list[str] | None, Query()] = None,
    section: Annotated[list[str] | None, Query()] = None,
    author: Annotated[list[str] | None, Query()] = None,
    fusion: Fusion | None = None,
    rrf_k: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    alpha: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    candidates: Annotated[int | None, Query(ge=10, le=10_000)] = None,
    passages: Annotated[int, Query(ge=1, le=20)] = 3,
    explain: bool = False,
) -> SearchRequest:
    """Query-string parameters as a :class:`SearchRequest` (lists: repeat the parameter)."""
    return SearchRequest(
        q=q,
        mode=mode,
        limit=limit,
        offset=offset,
        date_from=date_from,
        date_to=date_to,
        source=source or [],
        language=language or [],
        section=section or [],
        author=author or [],
        fusion=fusion,
        rrf_k=rrf_k,
        alpha=alpha,
        candidates=candidates,
        passages=passages,
        explain=explain,
    )


def create_app(settings: Settings | None = None, stores: Stores | None = None) -> FastAPI:
    """Build the app. Stores are opened in the lifespan (or taken as given, for tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = stores is None
        opened = stores or open_stores(settings)
        app.state.service = Service(opened)
        try:
            yield
        finally:
            if own:
                opened.close()

    app = FastAPI(
        title="NewsSearch",
        version="0.1.0",
        description="Hybrid BM25 + dense search over news, grouped by article.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )

    @app.exception_handler(QuerySyntaxError)
    async def _bad_query(_: Request, exc: QuerySyntaxError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(BackendUnavailable)
    async def _unavailable(_: Request, exc: BackendUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"detail": "internal error"})

    @app.get("/search", response_model=SearchResponse)
    def search_get(
        service: ServiceDep, req: Annotated[SearchRequest, Depends(search_params)]
    ) -> SearchResponse:
        """Search (query-string form). Same JSON as ``newssearch search --json``."""
        service.refresh()
        return service.engine.search(req)

    @app.post("/search", response_model=SearchResponse)
    def search_post(service: ServiceDep, req: SearchRequest) -> SearchResponse:
        """Search (JSON body form), for scripts with many filters."""
        service.refresh()
        return service.engine.search(req)

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
