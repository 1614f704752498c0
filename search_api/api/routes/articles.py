"""``/articles``: one whole article, its story's other versions, the articles similar to it,
and writes.

An id in a path may hold any characters, ``/`` included (percent-encoded or not); a path
ending in ``/similar`` or ``/versions`` is always that resource, so an article whose id itself
ends in one of them can be found by search but has no detail path.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.convertors import Convertor, register_url_convertor

from indexer.errors import NotFound
from search_api.api.batch import Envelope, split_batch
from search_api.api.deps import ServiceDep, WriteAuth
from search_api.api.errors import responses
from search_api.schemas import (
    ArticleDetail,
    SearchResponse,
    SimilarRequest,
    Versions,
    WriteResult,
)


class ArticleIdConvertor(Convertor[str]):
    """A path segment run of any characters (``/`` included) that does not end in
    ``/similar`` or ``/versions``, so those resources are never also an article path."""

    regex = ".+(?<!/similar)(?<!/versions)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("article", ArticleIdConvertor())
router = APIRouter(prefix="/articles", tags=["articles"])
ArticleId = Annotated[
    str, Path(min_length=1, max_length=512, description="The article id.", examples=["gnad-17"])
]
ARTICLE_EXAMPLE: dict[str, Any] = {
    "article_id": "gnad-17",
    "title": "Regierung stellt Budget vor",
    "source": "DER STANDARD",
    "url": "https://www.derstandard.at/2000031234/regierung-budget",
    "published_at": "2016-03-01T00:00:00Z",
    "language": "de",
    "section": "Inland",
    "authors": ["Ann Lee"],
    "extra": {"label": "Inland"},
    "story": "gnad-17",
    "versions": 1,
    "generation": 7,
    "paragraphs": [
        {
            "paragraph_id": "gnad-17:0",
            "position": 0,
            "start": 0,
            "end": 57,
            "text": "Der Finanzminister legte am Dienstag den Entwurf vor.",
        }
    ],
}
SIMILAR_EXAMPLE: dict[str, Any] = {
    "query": "",
    "mode": "dense",
    "total": 14,
    "total_paragraphs": 31,
    "offset": 0,
    "limit": 10,
    "sort": "relevance",
    "match": "any",
    "min_similarity": 0.64,
    "generation": 7,
    "next": "eyJ2IjogMSwgImciOiA3LCAiayI6ICI1ZjNhIiwgIm8iOiAxMH0",
    "degraded": [],
    "took_ms": 9.1,
    "results": [
        {
            "rank": 1,
            "article_id": "gnad-204",
            "title": "Budgetentwurf: Opposition kritisiert Regierung",
            "source": "DER STANDARD",
            "url": None,
            "published_at": "2016-03-02T00:00:00Z",
            "language": "de",
            "section": "Inland",
            "authors": [],
            "score": 0.81,
            "matched": ["semantic"],
            "passages": [
                {
                    "paragraph_id": "gnad-204:0",
                    "text": "Die Opposition kritisierte den Budgetentwurf der Regierung.",
                    "score": None,
                    "position": 0,
                    "highlights": [],
                    "similarity": 0.81,
                    "explanation": None,
                }
            ],
        }
    ],
    "facets": None,
    "timeline": None,
}
VERSIONS_EXAMPLE: dict[str, Any] = {
    "article_id": "gnad-17",
    "story": "gnad-17",
    "generation": 7,
    "versions": [
        {
            "article_id": "bbabo-912",
            "title": "Regierung stellt Budget vor",
            "source": "bbabo.net",
            "url": "https://bbabo.net/news/regierung-budget",
            "published_at": "2016-03-02T08:00:00Z",
            "language": "de",
        }
    ],
}
WRITE_EXAMPLE: dict[str, Any] = {
    "articles": 3,
    "written": 1,
    "unchanged": 1,
    "paragraphs": 2,
    "deleted_paragraphs": 0,
    "problems": [
        {"index": 2, "field": "url", "reason": "url 'javascript:alert(1)' is not an http(s) url"}
    ],
}
ARTICLES_IN_EXAMPLE: dict[str, Any] = {
    "articles": [
        {
            "article_id": "api-1",
            "title": "Zebrafinken im Parlament",
            "body": "Der Ausschuss beriet über Zebrafinken.\n\nDie Abstimmung wurde vertagt.",
            "source": "testsource",
            "url": "https://example.org/zebrafinken",
            "language": "de",
            "published_at": "2024-05-01T10:00:00Z",
        }
    ]
}


@router.get(
    "/{article_id:path}/similar",
    response_model=SearchResponse,
    responses={
        **responses(400, 404, 409, 503),
        200: {"content": {"application/json": {"example": SIMILAR_EXAMPLE}}},
    },
    operation_id="similar_articles",
)
def similar_articles(
    service: ServiceDep, article_id: ArticleId, req: Annotated[SimilarRequest, Query()]
) -> SearchResponse:
    """Articles closest in meaning to this one, the article itself excluded.

    The set: articles with a paragraph whose cosine similarity to the article's vector (the
    mean of its paragraph vectors) is at least ``min_similarity`` (default: the index's
    calibrated threshold), within the filters; ``total`` is exact. Ranked by that best
    similarity (each result's ``score``) or by date; paged by ``offset`` or by the ``next``
    cursor, as ``/search``.
    """
    return service.engine.similar(article_id, req)


@router.get(
    "/{article_id:path}/versions",
    response_model=Versions,
    responses={
        **responses(404, 503),
        200: {"content": {"application/json": {"example": VERSIONS_EXAMPLE}}},
    },
    operation_id="article_versions",
)
def article_versions(service: ServiceDep, article_id: ArticleId) -> Versions:
    """The other articles of this article's story: its near-duplicate (syndicated) copies,
    each with source, date and url, oldest first, undated last, then by id (not the article
    itself; an empty list when it has none)."""
    return service.engine.versions(article_id)


@router.get(
    "/{article_id:article}",
    response_model=ArticleDetail,
    responses={
        **responses(404, 503),
        200: {"content": {"application/json": {"example": ARTICLE_EXAMPLE}}},
    },
    operation_id="get_article",
)
def get_article(service: ServiceDep, article_id: ArticleId) -> ArticleDetail:
    """The whole article: title, metadata and every paragraph with its position and its
    character offsets into the body (``body[start:end]`` is the text it was cut from)."""
    return service.engine.article(article_id)


@router.post(
    "",
    response_model=WriteResult,
    dependencies=[WriteAuth],
    responses={
        **responses(400, 401, 403, 503),
        200: {"content": {"application/json": {"example": WRITE_EXAMPLE}}},
    },
    operation_id="add_articles",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/ArticlesIn"},
                    "example": ARTICLES_IN_EXAMPLE,
                }
            },
        }
    },
)
def add_articles(service: ServiceDep, batch: Envelope) -> WriteResult:
    """Ingest a batch of articles (needs ``X-API-Key``); unchanged articles are skipped.

    Each article is checked on its own: the valid ones are ingested, each invalid one is
    listed in ``problems`` (its 0-based index, the field, the reason) and left out, so one bad
    record never costs the batch. A malformed envelope (no ``articles`` list, more than 1,000
    items) is a 422.
    """
    from indexer.pipeline import ingest_articles

    articles, problems = split_batch(batch.articles)
    result = WriteResult(problems=problems)
    if not articles:
        return result
    with service.write_lock:
        report = ingest_articles(service.stores, articles)
    result.articles = report.articles
    result.written = report.written
    result.unchanged = report.unchanged
    result.paragraphs = report.paragraphs
    return result


@router.delete(
    "/{article_id:article}",
    response_model=WriteResult,
    dependencies=[WriteAuth],
    responses={
        **responses(401, 403, 404, 503),
        200: {
            "content": {"application/json": {"example": {"articles": 1, "deleted_paragraphs": 4}}}
        },
    },
    operation_id="delete_article",
)
def delete_article(service: ServiceDep, article_id: ArticleId) -> WriteResult:
    """Remove an article from every store (needs ``X-API-Key``); 404 if unknown."""
    from indexer.pipeline import delete

    if not service.stores.catalog.articles([article_id]):
        raise NotFound(f"no article {article_id[:200]!r}")
    with service.write_lock:
        n = delete(service.stores, [article_id])
    return WriteResult(articles=1, deleted_paragraphs=n)
