"""``/search``, ``/facets``, ``/timeline``, ``/export``: views of one result set.

Each takes the :class:`~search_api.schemas.SearchRequest` fields as the query string (``POST
/search`` as a JSON body; lists repeat the parameter) and delegates to the engine; the set's
definition is docs/result-set.md. Unknown parameters are refused (422).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from search_api.api.deps import ServiceDep
from search_api.api.errors import responses
from search_api.schemas import ExportRequest, Facet, SearchRequest, SearchResponse, Timeline

router = APIRouter(tags=["search"])
#: Statuses every view of the set may answer besides 200 (422 and 500 are always added).
ERRORS = responses(400, 409, 503)
SEARCH_EXAMPLE: dict[str, Any] = {
    "query": "Putin Tokajew",
    "mode": "hybrid",
    "total": 2,
    "total_paragraphs": 5,
    "offset": 0,
    "limit": 10,
    "sort": "relevance",
    "match": "any",
    "min_similarity": 0.64,
    "generation": 7,
    "next": None,
    "degraded": [],
    "took_ms": 21.5,
    "results": [
        {
            "rank": 1,
            "article_id": "5f3a9c0e1b2d4a67",
            "title": "Weltraum, Waffen und Proteste: Worüber Putin und Tokajew sprachen",
            "source": "Bbabo NET",
            "url": None,
            "published_at": "2022-02-10T00:00:00Z",
            "language": "de",
            "section": "Politik",
            "authors": [],
            "score": 1.83,
            "matched": ["lexical", "semantic"],
            "passages": [
                {
                    "paragraph_id": "5f3a9c0e1b2d4a67:1",
                    "text": "Putin und Tokajew sprachen drei Stunden lang.",
                    "score": 1.21,
                    "position": 1,
                    "highlights": [[0, 5], [10, 17]],
                    "similarity": 0.66,
                    "explanation": None,
                }
            ],
        }
    ],
    "facets": None,
    "timeline": None,
}
FACETS_EXAMPLE: list[dict[str, Any]] = [
    {
        "field": "source",
        "total": 122,
        "values": [{"value": "tagesschau", "count": 80}, {"value": "zeit", "count": 40}],
        "other": 0,
        "missing": 2,
    }
]
TIMELINE_EXAMPLE: dict[str, Any] = {
    "interval": "month",
    "total": 122,
    "undated": 2,
    "corpus_undated": 40,
    "split_by": None,
    "buckets": [
        {"start": "2022-01-01", "count": 70, "corpus": 700, "ratio": 0.1, "series": None},
        {"start": "2022-02-01", "count": 50, "corpus": 1000, "ratio": 0.05, "series": None},
    ],
}


def _ok(example: Any) -> dict[int | str, dict[str, Any]]:
    return {**ERRORS, 200: {"content": {"application/json": {"example": example}}}}


@router.get(
    "/search", response_model=SearchResponse, responses=_ok(SEARCH_EXAMPLE), operation_id="search"
)
def search(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> SearchResponse:
    """A page of the result set (query-string form; lists: repeat the parameter).

    Same JSON as ``newssearch search --json``. ``next`` is the cursor of the following page.
    """
    return service.engine.search(req)


@router.post(
    "/search",
    response_model=SearchResponse,
    responses=_ok(SEARCH_EXAMPLE),
    operation_id="search_post",
)
def search_post(service: ServiceDep, req: SearchRequest) -> SearchResponse:
    """A page of the result set (JSON body form), for scripts with many filters."""
    return service.engine.search(req)


@router.get(
    "/facets", response_model=list[Facet], responses=_ok(FACETS_EXAMPLE), operation_id="facets"
)
def facets(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> list[Facet]:
    """Article counts per source, language, section, author, year and month over the
    whole set; a facet's own filter does not hide its other values."""
    return service.engine.facets(req)


@router.get(
    "/timeline", response_model=Timeline, responses=_ok(TIMELINE_EXAMPLE), operation_id="timeline"
)
def timeline(service: ServiceDep, req: Annotated[SearchRequest, Query()]) -> Timeline:
    """Articles of the set per day / week / month / year (``interval``), with the
    corpus per interval and their ratio; ``split_by`` adds a series per facet value."""
    return service.engine.timeline(req)


EXPORT_EXAMPLE_CSV = (
    '"# {""manifest"": {""query"": ""Regierung"", ""total"": 2, ...}}"\n'
    "rank,article_id,score,matched,title,source,url,published_at,language,section,authors,"
    "matching_paragraphs\n"
    "1,gnad-17,0.83,lexical,Regierung stellt Budget vor,DER STANDARD,,"
    "2016-03-01T00:00:00+00:00,de,Inland,,2\n"
)


@router.get(
    "/export",
    responses={
        **ERRORS,
        200: {
            "description": "The set as CSV or JSONL; the first line is the manifest.",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": EXPORT_EXAMPLE_CSV},
                "application/x-ndjson": {
                    "schema": {"type": "string"},
                    "example": '{"manifest": {"query": "Regierung", "total": 2}}\n'
                    '{"rank": 1, "article_id": "gnad-17", "title": "Regierung ..."}\n',
                },
            },
            "headers": {
                "X-NewsSearch-Total": {
                    "description": "Articles in the set (the rows of level=article).",
                    "schema": {"type": "string"},
                }
            },
        },
    },
    operation_id="export",
    response_class=StreamingResponse,
)
def export(service: ServiceDep, req: Annotated[ExportRequest, Query()]) -> StreamingResponse:
    """Every article (``level=article``) or matching paragraph (``level=paragraph``) of
    the set, streamed as CSV or JSONL; the first line is the manifest."""
    from search_api.search.export import export as stream

    search = SearchRequest.model_validate(req.model_dump(exclude={"format", "level"}))
    rs = service.engine.result_set(search)
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
