"""``/health`` and ``/stats``: is the service up, and what does its index hold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from indexer.errors import BackendUnavailable
from search_api.api.deps import ServiceDep
from search_api.api.errors import responses
from search_api.schemas import Health, Stats

router = APIRouter(tags=["meta"])
STATS_EXAMPLE: dict[str, Any] = {
    "articles": 1071,
    "paragraphs": 3120,
    "pending": 0,
    "stories": 1043,
    "unclustered": 0,
    "languages": {"de": 1069, "en": 2},
    "stores": [
        {"name": "catalog", "bytes": 9_043_968, "bytes_per_paragraph": 2898.7},
        {"name": "vectors", "bytes": 4_867_245, "bytes_per_paragraph": 1560.0},
        {
            "name": "vectors (use-multilingual-v3)",
            "bytes": 6_464_045,
            "bytes_per_paragraph": 2072.0,
        },
        {"name": "lexical (embedded)", "bytes": 3_180_544, "bytes_per_paragraph": 1019.4},
    ],
    "encoders": ["all-MiniLM-L6-v2|onnx-int8|q=|p=", "use-multilingual-v3|onnx-int8|q=|p="],
    "lexical_backend": "embedded",
    "index_generation": 12,
    "min_similarity": 0.64,
    "last_ingest": "2026-12-01T21:04:13Z",
}


HEALTH_EXAMPLE: dict[str, Any] = {
    "status": "ok",
    "lexical_backend": "embedded",
    "lexical_ok": True,
    "lexical_paragraphs": 3120,
    "vectors": 3120,
    "articles": 1071,
    "pending": 0,
    "paragraphs": 3120,
}


@router.get(
    "/health",
    response_model=Health,
    responses={
        **responses(validation=False),
        200: {"content": {"application/json": {"example": HEALTH_EXAMPLE}}},
    },
    operation_id="health",
)
def health(service: ServiceDep) -> Health:
    """Liveness plus index counts and whether the lexical backend answers (``degraded``
    when it does not: search then answers from the dense side alone)."""
    counts = service.stores.catalog.counts()
    lexical_count: int | None
    try:
        lexical_ok, lexical_count = True, service.stores.lexical.count()
    except BackendUnavailable:
        lexical_ok, lexical_count = False, None
    return Health(
        status="ok" if lexical_ok else "degraded",
        lexical_backend=service.stores.lexical.name,
        lexical_ok=lexical_ok,
        lexical_paragraphs=lexical_count,
        vectors=len(service.stores.vectors),
        **counts,
    )


@router.get(
    "/stats",
    response_model=Stats,
    responses={
        **responses(validation=False),
        200: {"content": {"application/json": {"example": STATS_EXAMPLE}}},
    },
    operation_id="stats",
)
def stats(service: ServiceDep) -> Stats:
    """What the index holds: committed articles and paragraphs, pending articles, articles
    per language, bytes on disk per store and per paragraph, the encoder, the index
    generation, the semantic threshold and when the index last changed (``last_ingest``)."""
    return service.engine.stats()
