"""Request and response models shared by the REST API, the CLI (``--json``) and the client.

The response is the product's output schema: ``{"query", "mode", "total", "results": [...]}``
with results in the requested sort; ``total`` is the exact number of articles in the result
set (docs/result-set.md), not just this page.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from indexer.errors import QuerySyntaxError, RecordError
from indexer.models import stable_hash
from indexer.readers.mapping import http_url, is_blank
from search_api.fusion import Normalisation
from search_api.grouping import Aggregation

Mode = Literal["bm25", "dense", "hybrid"]
Fusion = Literal["rrf", "convex"]


Sort = Literal["relevance", "date_desc", "date_asc"]
Match = Literal["auto", "all", "any"]
Interval = Literal["auto", "day", "week", "month", "year"]
FacetName = Literal["source", "language", "section", "author", "year", "month"]
SplitBy = Literal["source", "language", "section", "author"]
Format = Literal["csv", "jsonl"]
Level = Literal["article", "paragraph"]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """User text as the engine takes it: control characters (NUL, ...) removed, tabs and
    newlines kept; a lone surrogate (not text: it cannot be encoded) is refused (HTTP 422)."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("text contains a lone surrogate (invalid Unicode)")
    return _CONTROL.sub("", value)


CleanText = Annotated[str, AfterValidator(clean_text)]
#: Highest ``offset``; deeper pages are reached with ``cursor`` (no limit).
MAX_OFFSET = 1_000_000
_FilterList = Annotated[list[Annotated[CleanText, Field(max_length=500)]], Field(max_length=50)]


class SearchRequest(BaseModel):
    """One request over the result set: the query, the set's definition, and its views.

    The same model is the REST query string (``GET /search``, ``/facets``, ``/timeline``,
    ``/export``), the JSON body of ``POST /search``, the CLI's options and the engine's input;
    unknown parameters are refused. Filters combine with AND, values inside one filter with OR,
    and compare case-insensitively. See docs/result-set.md.
    """

    model_config = ConfigDict(extra="forbid")

    q: CleanText = Field(
        "",
        max_length=1000,
        description='Query text: words, "phrases", AND/OR/NOT, +/-, title:, source: ... '
        "Empty: every article within the filters.",
    )
    mode: Mode = Field(
        "hybrid",
        description="bm25: the lexical set, BM25-ranked; dense: the semantic set, ranked by "
        "similarity; hybrid: their union, ranked by fused scores.",
    )
    match: Match = Field(
        "any",
        description="How plain words combine for lexical membership: any (default: an "
        "article with one of them), all, or auto (all words when at most 3 were typed, any "
        "in longer queries); stop words count only where they are words.",
    )
    lexical: bool = Field(True, description="Include lexical matches in the set.")
    semantic: bool = Field(
        True, description="Include semantic matches (similarity >= min_similarity) in the set."
    )
    min_similarity: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity a paragraph needs to be a semantic match (default: the "
        "index's calibrated threshold).",
    )
    sort: Sort = Field("relevance", description="relevance, date_desc or date_asc (undated last).")
    limit: int = Field(10, ge=0, le=100, description="Articles per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Articles to skip.")
    cursor: str | None = Field(
        None,
        max_length=1000,
        description="The `next` token of the previous page (replaces offset; pins the index "
        "generation: 409 if the index changed).",
    )
    date_from: AwareDatetime | None = Field(
        None, description="Published at or after (ISO 8601 with zone)."
    )
    date_to: AwareDatetime | None = Field(
        None, description="Published at or before (ISO 8601 with zone)."
    )
    source: _FilterList = Field(default_factory=list, description="Only these sources.")
    language: _FilterList = Field(default_factory=list, description="Only these languages.")
    section: _FilterList = Field(default_factory=list, description="Only these sections.")
    author: _FilterList = Field(default_factory=list, description="Only these authors.")
    fusion: Fusion | None = Field(None, description="rrf or convex (default: settings).")
    rrf_k: int | None = Field(None, ge=1, le=10_000, description="RRF smoothing constant.")
    alpha: float | None = Field(None, ge=0.0, le=1.0, description="Convex weight of BM25.")
    normalisation: Normalisation | None = Field(
        None, description="Score normalisation of convex fusion: minmax or zscore."
    )
    aggregate: Aggregation | None = Field(
        None, description="Article score from paragraph scores: max, top2, top3 or decay."
    )
    article_weight: float | None = Field(
        None,
        ge=0.0,
        le=0.9,
        description="Weight of BM25 over whole articles beside the paragraph scores (hybrid; "
        "default 0.2, 0: paragraphs only).",
    )
    candidates: int | None = Field(
        None, ge=10, le=10_000, description="Paragraphs each retriever contributes to ranking."
    )
    passages: int = Field(3, ge=1, le=20, description="Matching paragraphs shown per article.")
    explain: bool = Field(False, description="Add each passage's retriever ranks and scores.")
    facets: bool = Field(False, description="Add facet counts over the whole set.")
    facet_size: int = Field(10, ge=1, le=1000, description="Values per facet before 'other'.")
    timeline: bool = Field(False, description="Add the timeline of the whole set.")
    interval: Interval = Field("auto", description="Timeline bucket: auto, day, week, month, year.")
    split_by: SplitBy | None = Field(
        None, description="Timeline series per value of this facet (top facet_size values)."
    )
    fold: bool = Field(
        True,
        description="Fold each story (near-duplicate copies) into its best article in the "
        "sort; total, facets, timeline and export then count stories. false: every article.",
    )

    def check(self) -> None:
        """Rules JSON Schema cannot express; ``QuerySyntaxError`` (HTTP 400) when broken."""
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QuerySyntaxError("date_from is after date_to")
        if self.cursor is not None and self.offset:
            raise QuerySyntaxError("give either cursor or offset, not both")

    def set_key(self) -> str:
        """A digest of every parameter that defines the set and its order (not the page)."""
        data = self.model_dump(
            mode="json",
            exclude={
                "limit",
                "offset",
                "cursor",
                "passages",
                "explain",
                "facets",
                "facet_size",
                "timeline",
                "interval",
                "split_by",
            },
        )
        return stable_hash(json.dumps(data, sort_keys=True, ensure_ascii=False))


class ExportRequest(SearchRequest):
    """A search request plus the export's shape (``GET /export``, ``newssearch export``)."""

    format: Format = Field("csv", description="csv or jsonl.")
    level: Level = Field(
        "article",
        description="article (one row per article) or paragraph (one row per matching paragraph).",
    )


class EncoderScore(BaseModel):
    """One encoder's part in a paragraph's score (an index with several encoders)."""

    encoder: str
    rank: int | None = None
    score: float | None = Field(None, description="Cosine similarity among its candidates.")
    normalised: float | None = None
    component: float | None = None


class Explanation(BaseModel):
    """Where a paragraph's score came from: its rank (1-based) and raw score in each
    retriever's candidates, each retriever's normalised score and its weighted component of
    the fused score (``fused_score`` = ``bm25_component`` + ``dense_component``). With several
    encoders, ``dense_*`` are the first encoder's and ``encoders`` lists each one;
    ``dense_component`` is then the sum of theirs."""

    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_normalised: float | None = None
    dense_normalised: float | None = None
    bm25_component: float | None = None
    dense_component: float | None = None
    fused_score: float | None = None
    encoders: list[EncoderScore] = Field(default_factory=list)


class Contribution(BaseModel):
    """One candidate paragraph's part in its article's score."""

    paragraph_id: str
    fused_score: float
    weight: float = Field(description="Its weight in the aggregation (decay: 1, 0.5, 0.25 ...).")
    contribution: float = Field(description="fused_score x weight; they add up to the score.")


class ArticleExplanation(BaseModel):
    """Why an article is in the set and how its score was made (``explain=true``)."""

    why: list[Literal["lexical", "semantic"]] = Field(
        description="lexical: it matches the query on the whole article; semantic: a paragraph "
        "is at or above the similarity threshold."
    )
    matched_terms: list[str] = Field(description="Query words and phrases the article contains.")
    best_similarity: float | None = Field(
        None, description="Its best paragraph's similarity, where above the threshold."
    )
    threshold: float | None = None
    fusion: str = Field(description="How paragraph scores were fused, with its parameters.")
    aggregate: str = Field(description="How the article score comes from paragraph scores.")
    ranked: bool = Field(
        description="False for a member beyond every retriever's ranked candidates (the tail)."
    )
    score: float | None = None
    contributions: list[Contribution] = Field(default_factory=list)
    article_bm25: float | None = Field(
        None,
        description="The part of score from BM25 over the whole article (hybrid mode): "
        "score = sum of contributions + article_bm25.",
    )


class Passage(BaseModel):
    """A matching paragraph of a result article."""

    paragraph_id: str
    text: str
    score: float | None = Field(
        None, description="Fused paragraph score (null beyond the ranked candidates)."
    )
    position: int
    highlights: list[tuple[int, int]] = Field(
        default_factory=list, description="Character spans of query matches in `text`."
    )
    similarity: float | None = Field(
        None, description="Cosine similarity to the query when it is a semantic match."
    )
    explanation: Explanation | None = None


class ArticleResult(BaseModel):
    """One article of the result set with its best matching paragraphs."""

    rank: int = Field(description="1-based position in the whole set, in the requested sort.")
    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None
    language: str | None
    section: str | None = None
    authors: list[str] = Field(default_factory=list)
    score: float | None = Field(
        description="Fused article score; null for set members beyond every retriever's "
        "ranked candidates (they follow the scored ones, see docs/result-set.md)."
    )
    matched: list[Literal["lexical", "semantic"]] = Field(
        default_factory=list, description="Why the article is in the set."
    )
    passages: list[Passage]
    explanation: ArticleExplanation | None = None
    story: str | None = Field(
        None, description="Near-duplicate cluster id (null before the index is clustered)."
    )
    versions: int = Field(
        0,
        description="Other articles of its story in the set (folded into this one); 0 when "
        "none or with fold=false.",
    )


class FacetValue(BaseModel):
    """One value of a facet and how many results of the set carry it (stories when
    folded: each counted under its representative's value)."""

    value: str
    count: int


class Facet(BaseModel):
    """Article counts per value over the set, with this facet's own filter left out."""

    field: FacetName
    total: int = Field(
        description="Results counted (the set without this facet's filter; stories when folded)."
    )
    values: list[FacetValue]
    other: int = Field(0, description="Articles counted under values beyond facet_size.")
    missing: int = Field(0, description="Articles with no value for this field.")


class TimelineBucket(BaseModel):
    """One interval of the timeline."""

    start: date
    count: int = Field(
        description="Results of the set (stories when folded) published in the interval."
    )
    corpus: int = Field(
        description="Articles (stories when folded) in the index within the filters in it."
    )
    ratio: float = Field(description="count / corpus (normalised attention), 0 when empty.")
    series: dict[str, int] | None = Field(None, description="count per split_by value.")


class Timeline(BaseModel):
    """Articles of the set per interval; the counts plus ``undated`` add up to ``total``."""

    interval: Literal["day", "week", "month", "year"]
    total: int
    undated: int
    corpus_undated: int
    split_by: SplitBy | None = None
    buckets: list[TimelineBucket]


class SearchResponse(BaseModel):
    """A page of the result set (see docs/result-set.md)."""

    query: str
    mode: Mode
    total: int = Field(
        description="Exact number of results paging yields: stories with fold=true, else articles."
    )
    total_articles: int = Field(0, description="Articles in the set, folded or not.")
    total_stories: int = Field(0, description="Stories in the set, folded or not.")
    total_paragraphs: int = Field(
        0,
        description="Paragraphs of the results paging yields that match (lexically or "
        "semantically).",
    )
    offset: int = 0
    limit: int = 10
    sort: Sort = "relevance"
    match: Match = "any"
    min_similarity: float | None = Field(None, description="The semantic threshold applied.")
    generation: int = Field(0, description="Index generation the set was computed on.")
    next: str | None = Field(None, description="Cursor of the next page; null on the last.")
    degraded: list[str] = Field(
        default_factory=list, description="Retrievers that failed; results come from the rest."
    )
    took_ms: float = 0.0
    results: list[ArticleResult]
    facets: list[Facet] | None = None
    timeline: Timeline | None = None


def _has_text(value: str) -> str:
    if is_blank(value):
        raise ValueError("no text: only whitespace or invisible characters")
    return value


def _link(value: str) -> str:
    """An absolute http(s) url (a stored url is rendered as a link: never ``javascript:``)."""
    try:
        url = http_url(value)
    except RecordError as exc:
        raise ValueError(str(exc)) from exc
    if url is None:
        raise ValueError("url must be an absolute http(s) url")
    return url


_Finite = Annotated[float, Field(allow_inf_nan=False)]
#: Extra metadata: scalar values (JSON allows NaN and Infinity, the responses do not).
_Extra = dict[CleanText, int | _Finite | bool | CleanText | None]


class ArticleIn(BaseModel):
    """An article sent to ``POST /articles``. Without ``article_id`` one is derived from the
    url, else from source + title + date, so resending the same article is idempotent.

    Text fields are :data:`CleanText` (a lone surrogate is refused, control characters are
    removed); ``body`` must hold text, ``url`` must be an absolute http(s) url, and
    ``published_at`` needs a zone. ``POST /articles`` checks each article on its own and
    reports the ones that fail (``WriteResult.problems``) instead of refusing the batch.
    """

    model_config = ConfigDict(extra="forbid")

    article_id: CleanText | None = Field(None, min_length=1, max_length=512)
    title: CleanText = Field("", max_length=2000)
    body: Annotated[CleanText, AfterValidator(_has_text)] = Field(
        min_length=1, max_length=5_000_000
    )
    source: CleanText | None = Field(None, max_length=500)
    url: Annotated[CleanText, AfterValidator(_link)] | None = Field(
        None, max_length=4000, description="An absolute http(s) url."
    )
    published_at: AwareDatetime | None = Field(None, description="ISO 8601 with a zone.")
    language: CleanText | None = Field(None, max_length=16)
    section: CleanText | None = Field(None, max_length=500)
    authors: list[Annotated[CleanText, Field(max_length=500)]] = Field(
        default_factory=list, max_length=100
    )
    extra: _Extra = Field(default_factory=dict)


class ArticlesIn(BaseModel):
    """A batch of articles to ingest (at most 1,000 per request)."""

    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(min_length=1, max_length=1000)


class WriteResult(BaseModel):
    """What a write request changed; ``problems`` lists the records left out and why."""

    articles: int = 0
    written: int = 0
    unchanged: int = 0
    paragraphs: int = 0
    deleted_paragraphs: int = 0
    problems: list[RecordProblemOut] = Field(default_factory=list)


class ErrorDetail(BaseModel):
    """Every 4xx/5xx answer: a human-readable ``detail`` (never a stack trace)."""

    detail: str


class ParagraphOut(BaseModel):
    """One paragraph of a stored article; ``body[start:end]`` is the text it was cut from."""

    paragraph_id: str
    position: int
    start: int
    end: int
    text: str


class ArticleDetail(BaseModel):
    """A whole stored article (``GET /articles/{id}``, ``newssearch show``)."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None
    language: str | None
    section: str | None = None
    authors: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)
    story: str | None = Field(
        None, description="Near-duplicate cluster id (null before the index is clustered)."
    )
    versions: int = Field(0, description="Other articles of its story (GET .../versions).")
    generation: int = Field(0, description="Index generation it was read at.")
    paragraphs: list[ParagraphOut]


class Version(BaseModel):
    """Another article of the same story (a syndicated or near-identical copy)."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published_at: datetime | None
    language: str | None


class Versions(BaseModel):
    """The other articles of an article's story (``GET /articles/{id}/versions``), oldest
    first, undated last, then by article id."""

    article_id: str
    story: str | None
    generation: int = Field(0, description="Index generation it was read at.")
    versions: list[Version]


class SimilarRequest(BaseModel):
    """Articles closest to one article (``GET /articles/{id}/similar``): the same filters,
    threshold, sort and paging as a search, without a query."""

    model_config = ConfigDict(extra="forbid")

    min_similarity: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity to the article a paragraph needs (default: the "
        "index's calibrated threshold).",
    )
    sort: Sort = Field(
        "relevance",
        description="relevance (most similar first), date_desc or date_asc (undated last).",
    )
    limit: int = Field(10, ge=0, le=100, description="Articles per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Articles to skip.")
    cursor: str | None = Field(
        None, max_length=1000, description="The `next` token of the previous page."
    )
    date_from: AwareDatetime | None = Field(
        None, description="Published at or after (ISO 8601 with zone)."
    )
    date_to: AwareDatetime | None = Field(
        None, description="Published at or before (ISO 8601 with zone)."
    )
    source: _FilterList = Field(default_factory=list, description="Only these sources.")
    language: _FilterList = Field(default_factory=list, description="Only these languages.")
    section: _FilterList = Field(default_factory=list, description="Only these sections.")
    author: _FilterList = Field(default_factory=list, description="Only these authors.")
    passages: int = Field(3, ge=1, le=20, description="Most similar paragraphs per article.")


class RecordProblemOut(BaseModel):
    """A record of a write batch that was not ingested, and why."""

    index: int = Field(description="0-based position of the record in the batch.")
    field: str | None = Field(None, description="The offending field, when one is to blame.")
    reason: str


class StoreStats(BaseModel):
    """Size of one store on disk."""

    name: str
    bytes: int | None = Field(None, description="Null where the store is remote (Elasticsearch).")
    bytes_per_paragraph: float | None = None


FusionOrigin = Literal["setting", "tuned", "default"]


class TunedFusion(BaseModel):
    """The fusion ``newssearch tune`` chose for an index on judged data (catalog meta
    ``fusion``): the winning method and, per method, its best parameters (so a request or
    setting naming the other method still gets tuned parameters), with the evidence."""

    model_config = ConfigDict(extra="ignore")
    fusion: Fusion
    alpha: float = Field(ge=0.0, le=1.0, description="Best convex lexical weight.")
    normalisation: Normalisation = Field(description="Best convex normalisation.")
    rrf_k: int = Field(ge=1, description="Best RRF k.")
    metric: str = Field(description="What was maximised, e.g. nDCG@10.")
    value: float = Field(description="The winner's mean of ``metric`` on the split.")
    dataset: str
    split: str
    queries: int
    date: datetime
    bm25: float | None = Field(None, description="``metric`` of bm25 mode on the split.")
    dense: float | None = Field(None, description="``metric`` of dense mode on the split.")
    grid: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict, description="The parameters swept, per method."
    )
    measured_with: dict[str, Any] = Field(
        default_factory=dict, description="Settings the sweep held fixed (aggregate, ...)."
    )


class FusionInEffect(BaseModel):
    """The fusion a request gets when it names none of its own (``GET /stats``): per field
    the operator's explicit setting, else the index's tuned value, else the built-in default."""

    fusion: Fusion
    alpha: float
    normalisation: Normalisation
    rrf_k: int
    origin: dict[str, FusionOrigin] = Field(
        description="Per field: setting (set explicitly, e.g. NEWSSEARCH_ALPHA), tuned "
        "(newssearch tune) or default."
    )
    tuned: TunedFusion | None = Field(None, description="The index's tuned fusion, if any.")


class Stats(BaseModel):
    """What an index holds (``GET /stats``)."""

    articles: int
    paragraphs: int
    pending: int
    stories: int | None = Field(
        None, description="Distinct stories (an unclustered article counts as its own)."
    )
    unclustered: int = Field(0, description="Articles not yet clustered (newssearch stories).")
    languages: dict[str, int]
    stores: list[StoreStats]
    encoders: list[str]
    lexical_backend: str
    index_generation: int
    min_similarity: float
    fusion: FusionInEffect | None = Field(
        None, description="Fusion defaults in effect (newssearch tune, docs/evaluation.md)."
    )
    last_ingest: datetime | None = None


class Health(BaseModel):
    """Liveness (``GET /health``): the index's counts and whether the lexical backend answers."""

    status: Literal["ok", "degraded"] = Field(
        description="degraded: the lexical backend does not answer (search is dense-only)."
    )
    lexical_backend: str
    lexical_ok: bool
    lexical_paragraphs: int | None = Field(description="Null when the backend does not answer.")
    vectors: int
    articles: int
    pending: int
    paragraphs: int


class Problem(BaseModel):
    """An error answer (``application/problem+json``, RFC 9457)."""

    type: str = Field("about:blank", description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[dict[str, str]] | None = Field(
        None, description="Validation problems: the offending field and the message."
    )
