"""The FastAPI application: routers, the lifespan that opens the stores, one error mapping.

Routes (``search_api.api.routes``) parse, delegate to :class:`~search_api.engine.SearchEngine`
and shape; every error answer is ``application/problem+json`` (:mod:`search_api.api.errors`).
Operation ids are stable (clients and the UI rely on them): ``search``, ``search_post``,
``facets``, ``timeline``, ``export``, ``get_article``, ``similar_articles``, ``add_articles``,
``delete_article``, ``health``, ``stats``.

Serving stays torch-free with the default ONNX encoder: threads are configured without
importing torch unless the torch backend serves (:func:`configure_serving_threads`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from indexer.settings import Settings
from indexer.stores import Stores, make_embedder, open_stores
from search_api.api import errors
from search_api.api.deps import Service
from search_api.api.routes import articles, meta, search, ui
from search_api.schemas import ArticlesIn

log = logging.getLogger(__name__)
DESCRIPTION = """Hybrid BM25 + dense search over news, grouped by article.

Every request defines one exact result set (docs/result-set.md): `/search` pages it,
`/facets`, `/timeline` and `/export` are views of the same set. `/articles/{id}` is one whole
article, `/articles/{id}/similar` the articles closest to it. Writes (`POST /articles`,
`DELETE /articles/{id}`) need the `X-API-Key` header. Errors are `application/problem+json`
(`type`, `title`, `status`, `detail`; `errors` with each offending `field` for a 422).
"""
TAGS = [
    {"name": "search", "description": "The result set of a query and its views."},
    {"name": "articles", "description": "Whole articles, similar articles, writes."},
    {"name": "meta", "description": "Health and what the index holds."},
]


#: An example per parameter name, for the spec (every parameter is shown with one).
PARAMETER_EXAMPLES: dict[str, Any] = {
    "q": "Putin Tokajew",
    "mode": "hybrid",
    "match": "any",
    "lexical": True,
    "semantic": True,
    "min_similarity": 0.64,
    "sort": "date_desc",
    "limit": 10,
    "offset": 0,
    "cursor": "eyJ2IjogMSwgImciOiA3LCAiayI6ICI1ZjNhIiwgIm8iOiAxMH0",
    "date_from": "2022-01-01T00:00:00Z",
    "date_to": "2022-12-31T23:59:59Z",
    "source": ["tagesschau"],
    "language": ["de"],
    "section": ["Inland"],
    "author": ["Ann Lee"],
    "fusion": "convex",
    "rrf_k": 60,
    "alpha": 0.3,
    "normalisation": "zscore",
    "aggregate": "decay",
    "article_weight": 0.2,
    "candidates": 500,
    "passages": 3,
    "explain": False,
    "facets": True,
    "facet_size": 10,
    "timeline": True,
    "interval": "month",
    "split_by": "source",
    "fold": True,
    "format": "csv",
    "level": "article",
    "article_id": "gnad-17",
    "X-API-Key": "s3cret-key",
}


def configure_serving_threads(n: int, model_backend: str) -> None:
    """One model and one FAISS thread per query by default: on 2 cores, parallel work inside
    one small query costs more than it saves and halves throughput under concurrent load
    (measured, docs/benchmarks.md). Not applied to ingest, which wants every core.

    The ONNX encoder takes its thread count when it is made (``make_embedder(threads=n)``), so
    torch is imported (a second and ~300 MB) only when the torch backend serves."""
    from indexer.vectors import configure_threads

    configure_threads(n)
    if model_backend == "torch":
        import torch

        torch.set_num_threads(n)


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document (cached): FastAPI's, with every 4xx/5xx body declared as
    ``application/problem+json`` and ``POST /articles``' body as
    :class:`~search_api.schemas.ArticlesIn` (the route parses items one by one)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    for operations in spec["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                example = PARAMETER_EXAMPLES.get(parameter["name"])
                if example is not None and "example" not in parameter:
                    parameter["example"] = example
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content[errors.PROBLEM_JSON] = content.pop("application/json")
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    body = ArticlesIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ArticlesIn"] = body
    schemas.pop("Envelope", None)
    app.openapi_schema = spec
    return spec


def create_app(settings: Settings | None = None, stores: Stores | None = None) -> FastAPI:
    """Build the app. Stores are opened in the lifespan (or taken as given, for tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = stores is None
        if own:
            configure_serving_threads(settings.serve_threads, settings.model_backend)
        opened = stores or open_stores(
            settings, make_embedder(settings, threads=settings.serve_threads)
        )
        service = app.state.service = Service(opened)
        log.info("ready: %d paragraphs", service.engine.warm_up())
        if not settings.api_key:
            log.info("writes are disabled: set NEWSSEARCH_API_KEY to enable them")
        try:
            yield
        finally:
            service.engine.close()
            if own:
                opened.close()

    app = FastAPI(
        title="NewsSearch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=TAGS,
    )
    app.state.settings = settings
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"]
        )
    errors.install(app)
    routers = [search.router, articles.router, meta.router, ui.router]
    for router in routers[:-1]:
        app.include_router(router)
    ui.install(app)
    app.state.api_routes = [route for router in routers for route in router.routes]
    app.openapi = lambda: openapi_schema(app)  # type: ignore[method-assign]
    return app
