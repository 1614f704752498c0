"""Request and response models shared by the REST API, the CLI (``--json``) and the client.

The response is the product's output schema: ``{"query", "mode", "total", "results": [...]}``
with results best first; ``total`` counts matching articles in the fused candidate pool, not
just this page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from search_api.fusion import Normalisation
from search_api.grouping import Aggregation

Mode = Literal["bm25", "dense", "hybrid"]
Fusion = Literal["rrf", "convex"]


class SearchRequest(BaseModel):
    """One search. Filters combine with AND; values inside one filter with OR."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(max_length=1000, description="Query text (see docs/query-syntax.md).")
    mode: Mode = "hybrid"
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)
    date_from: datetime | None = None
    date_to: datetime | None = None
    source: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    section: list[str] = Field(default_factory=list)
    author: list[str] = Field(default_factory=list)
    fusion: Fusion | None = None
    rrf_k: int | None = Field(None, ge=1, le=10_000)
    alpha: float | None = Field(None, ge=0.0, le=1.0)
    normalisation: Normalisation | None = Field(
        None, description="Score normalisation of convex fusion: minmax or zscore."
    )
    aggregate: Aggregation | None = Field(
        None, description="Article score from paragraph scores: max, top2, top3 or decay."
    )
    candidates: int | None = Field(None, ge=10, le=10_000)
    passages: int = Field(3, ge=1, le=20, description="Matching paragraphs shown per article.")
    explain: bool = False


class Explanation(BaseModel):
    """Where a paragraph came from: rank (1-based) and score in each retriever, and fused."""

    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    fused_score: float


class Passage(BaseModel):
    """A matching paragraph of a result article."""

    paragraph_id: str
    text: str
    score: float
    position: int
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="Character spans of query matches in `text`."
    )
    explanation: Explanation | None = None


class ArticleResult(BaseModel):
    """One article of the result list with its best matching paragraphs."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None
    language: str | None
    section: str | None = None
    authors: list[str] = Field(default_factory=list)
    score: float
    passages: list[Passage]


class SearchResponse(BaseModel):
    """A page of grouped results."""

    query: str
    mode: Mode
    total: int
    offset: int = 0
    limit: int = 10
    degraded: list[str] = Field(
        default_factory=list, description="Retrievers that failed; results come from the rest."
    )
    took_ms: float = 0.0
    results: list[ArticleResult]


class ArticleIn(BaseModel):
    """An article sent to ``POST /articles``. Without ``article_id`` one is derived from the
    url, else from source + title + date, so resending the same article is idempotent."""

    model_config = ConfigDict(extra="forbid")

    article_id: str | None = Field(None, min_length=1, max_length=512)
    title: str = Field("", max_length=2000)
    body: str = Field(min_length=1, max_length=5_000_000)
    source: str | None = Field(None, max_length=500)
    url: str | None = Field(None, max_length=4000)
    published_at: datetime | None = Field(None, description="ISO 8601 with a zone.")
    language: str | None = Field(None, max_length=16)
    section: str | None = Field(None, max_length=500)
    authors: list[str] = Field(default_factory=list, max_length=100)
    extra: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ArticlesIn(BaseModel):
    """A batch of articles to ingest (at most 1,000 per request)."""

    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(min_length=1, max_length=1000)


class WriteResult(BaseModel):
    """What a write request changed."""

    articles: int = 0
    written: int = 0
    unchanged: int = 0
    paragraphs: int = 0
    deleted_paragraphs: int = 0


class ErrorDetail(BaseModel):
    """Every 4xx/5xx answer: a human-readable ``detail`` (never a stack trace)."""

    detail: str
