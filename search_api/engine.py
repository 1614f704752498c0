"""The search engine: parse -> BM25 top-N + dense top-N -> fuse -> group by article -> page.

Contracts:
- Each retriever over-fetches ``candidates`` paragraphs (at least ``10 x (offset + limit)``)
  before fusion, as txtai and pyserini do, so fusion and grouping see enough of each list.
- Filters (request fields plus ``source:``/``lang:``/... in the query) restrict both retrievers
  identically: the lexical backend applies them in its query, FAISS through an id selector
  built from the catalog.
- A query with operators or phrases (``+a``, ``-b``, ``"a b"``, ``title:x``) is a constraint:
  in hybrid mode dense hits that do not satisfy it are dropped; in dense mode it is ignored
  beyond its words.
- When the lexical backend is unavailable, bm25/hybrid answer from the dense retriever alone
  and the response lists ``"lexical"`` in ``degraded``.
"""

from __future__ import annotations

import gc
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from indexer.errors import BackendUnavailable, QuerySyntaxError
from indexer.lexical.base import VecIdSearch
from indexer.models import Filters, Hit
from indexer.query import Node, ParsedQuery, parse_query
from indexer.stores import Stores
from search_api.fusion import convex, rrf
from search_api.grouping import ArticleGroup, group_by_article
from search_api.schemas import ArticleResult, Explanation, Passage, SearchRequest, SearchResponse

log = logging.getLogger(__name__)
#: Lexical candidates fetched to test dense hits against a constraint query (hybrid mode).
CONSTRAINT_POOL = 2000
#: Worker threads for the dense side of hybrid requests served concurrently.
DENSE_WORKERS = 4


@dataclass
class Retrieved:
    """Both retrievers' lists for one request, and what failed."""

    lexical: list[Hit]
    dense: list[Hit]
    degraded: list[str]


def request_filters(req: SearchRequest, parsed: ParsedQuery) -> Filters:
    """Request filters merged with the query's field filters (both must hold)."""

    def merged(own: list[str], key: str) -> tuple[str, ...]:
        extra = parsed.filters.get(key, ())
        if own and extra:
            both = tuple(v for v in own if v in extra)
            return both or ("\x00no-match",)
        return tuple(own) or tuple(extra)

    if req.date_from and req.date_to and req.date_from > req.date_to:
        raise QuerySyntaxError("date_from is after date_to")
    for value in (req.date_from, req.date_to):
        if value is not None and value.tzinfo is None:
            raise QuerySyntaxError("dates need a timezone (e.g. 2022-02-10T00:00:00Z)")
    return Filters(
        date_from=req.date_from,
        date_to=req.date_to,
        sources=merged(req.source, "sources"),
        languages=merged(req.language, "languages"),
        sections=merged(req.section, "sections"),
        authors=merged(req.author, "authors"),
    )


class SearchEngine:
    """Answers :class:`SearchRequest` s over open :class:`~indexer.stores.Stores`."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.settings = stores.settings
        #: Runs the dense side of hybrid requests (one task per request in flight).
        self._pool = ThreadPoolExecutor(max_workers=DENSE_WORKERS, thread_name_prefix="dense")

    def warm_up(self) -> int:
        """Ready a long-lived serving process; returns the paragraphs in the id map.

        Loads the model (seconds, better spent now than on the first user's query) and the
        FAISS-id -> paragraph-id map (about a second per million paragraphs), then moves every
        object alive so far into the garbage collector's permanent generation
        (``gc.freeze``): the model and the map are ~0.5M tracked objects, and each full
        collection walking them stalled a query for ~400 ms (the p99 of hybrid search at 1M).
        :meth:`close` undoes the freeze.
        """
        self.stores.embedder.embed_query("warm-up")
        size = self.stores.catalog.load_id_map()
        gc.collect()
        gc.freeze()
        return size

    def close(self) -> None:
        """Stop the worker threads and unfreeze the collector (the stores stay open)."""
        self._pool.shutdown(wait=True)
        gc.unfreeze()

    def search(self, req: SearchRequest) -> SearchResponse:
        """Run one search. Raises ``QuerySyntaxError`` for an unparseable query."""
        started = time.perf_counter()
        parsed = parse_query(req.q)
        filters = request_filters(req, parsed)
        depth = max(req.candidates or self.settings.candidates, 10 * (req.offset + req.limit))
        got = self.retrieve(req, parsed, filters, depth)
        fused = self.fuse(req, got)
        groups = group_by_article(fused, req.aggregate or self.settings.aggregate)
        page = groups[req.offset : req.offset + req.limit]
        results = self._shape(req, parsed, page, got)
        return SearchResponse(
            query=req.q,
            mode=req.mode,
            total=len(groups),
            offset=req.offset,
            limit=req.limit,
            degraded=got.degraded,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            results=results,
        )

    def retrieve(
        self, req: SearchRequest, parsed: ParsedQuery, filters: Filters, depth: int
    ) -> Retrieved:
        """The lexical and dense candidate lists the mode asks for.

        In hybrid mode the dense side (query embedding, FAISS) runs in a worker thread while
        the lexical search runs in this one: the model and FAISS release the GIL, so on two
        cores a hybrid request costs about the slower retriever, not the sum of both.
        """
        degraded: list[str] = []
        lexical: list[Hit] = []
        dense: list[Hit] = []
        wants_lexical = req.mode in ("bm25", "hybrid") and parsed.root is not None
        pending: Future[list[Hit]] | None = None
        if req.mode != "bm25" and parsed.free_text:
            if wants_lexical:
                pending = self._pool.submit(self.dense, parsed.free_text, filters, depth)
            else:
                dense = self.dense(parsed.free_text, filters, depth)
        if wants_lexical and parsed.root is not None:
            pool = depth if parsed.is_plain or req.mode == "bm25" else max(depth, CONSTRAINT_POOL)
            try:
                lexical = self.lexical(parsed.root, filters, pool)
            except BackendUnavailable as exc:
                log.warning("lexical backend unavailable, answering dense-only: %s", exc)
                degraded.append("lexical")
        if pending is not None:
            dense = pending.result()
        elif req.mode == "bm25" and degraded and parsed.free_text:
            # Dense stands in for bm25 when the lexical backend is down.
            dense = self.dense(parsed.free_text, filters, depth)
        if req.mode == "hybrid" and not parsed.is_plain and "lexical" not in degraded:
            allowed = {h.paragraph_id for h in lexical}
            dense = [h for h in dense if h.paragraph_id in allowed]
        lexical = lexical[:depth]
        return Retrieved(lexical, dense, degraded)

    def lexical(self, root: Node, filters: Filters, depth: int) -> list[Hit]:
        """BM25 top-``depth`` paragraphs, best first (ties by paragraph id)."""
        backend = self.stores.lexical
        if isinstance(backend, VecIdSearch):
            pairs = backend.search_vec_ids(root, filters, depth)
            if pairs is not None:
                names = self.stores.catalog.paragraph_ids_for_vec_ids([i for i, _ in pairs])
                hits = [Hit(names[i], s) for i, s in pairs if i in names]
                hits.sort(key=lambda h: (-h.score, h.paragraph_id))
                return hits
        return backend.search(root, filters, depth)

    def dense(self, text: str, filters: Filters, depth: int) -> list[Hit]:
        """Top-``depth`` paragraphs by cosine similarity to ``text`` within ``filters``."""
        stores = self.stores
        vector = stores.embedder.embed_query(text)
        allowed = None if filters.is_empty() else stores.catalog.vec_ids_matching(filters)
        found = stores.vectors.search(vector, depth, allowed)
        names = stores.catalog.paragraph_ids_for_vec_ids([i for i, _ in found])
        return [Hit(names[i], s) for i, s in found if i in names]

    def fuse(self, req: SearchRequest, got: Retrieved) -> list[Hit]:
        """One ranked paragraph list from the retrieved lists, per the request's mode."""
        if req.mode == "bm25" and "lexical" not in got.degraded:
            return got.lexical
        if req.mode == "dense" or not got.lexical:
            return got.dense
        if not got.dense:
            return got.lexical
        method = req.fusion or self.settings.fusion
        if method == "convex":
            alpha = self.settings.alpha if req.alpha is None else req.alpha
            norm = req.normalisation or self.settings.normalisation
            return convex(got.lexical, got.dense, alpha=alpha, method=norm)
        return rrf([got.lexical, got.dense], k=req.rrf_k or self.settings.rrf_k)

    def _shape(
        self,
        req: SearchRequest,
        parsed: ParsedQuery,
        page: list[ArticleGroup],
        got: Retrieved,
    ) -> list[ArticleResult]:
        stores = self.stores
        shown = [h for g in page for h in g.hits[: req.passages]]
        paragraphs = stores.catalog.paragraphs([h.paragraph_id for h in shown])
        meta = stores.catalog.articles([g.article_id for g in page])
        spans: dict[str, list[tuple[int, int]]] = {}
        if parsed.root is not None and "lexical" not in got.degraded and shown:
            try:
                spans = stores.lexical.highlight(
                    parsed.root, [h.paragraph_id for h in shown], paragraphs
                )
            except BackendUnavailable:
                spans = {}
        ranks = _ranks(got) if req.explain else {}
        results = []
        for group in page:
            info = meta.get(group.article_id)
            if info is None:  # deleted between retrieval and shaping
                continue
            passages = []
            for hit in group.hits[: req.passages]:
                para = paragraphs.get(hit.paragraph_id)
                if para is None:
                    continue
                passages.append(
                    Passage(
                        paragraph_id=hit.paragraph_id,
                        text=para.text,
                        score=hit.score,
                        position=para.position,
                        highlights=spans.get(hit.paragraph_id, []),
                        explanation=_explain(ranks, hit) if req.explain else None,
                    )
                )
            results.append(
                ArticleResult(
                    article_id=group.article_id,
                    title=info["title"],
                    source=info["source"],
                    url=info["url"],
                    published_at=info["published_at"],
                    language=info["language"],
                    section=info["section"],
                    authors=info["authors"],
                    score=group.score,
                    passages=passages,
                )
            )
        return results


def _ranks(got: Retrieved) -> dict[str, dict[str, tuple[int, float]]]:
    out: dict[str, dict[str, tuple[int, float]]] = {"bm25": {}, "dense": {}}
    for name, hits in (("bm25", got.lexical), ("dense", got.dense)):
        for rank, h in enumerate(hits, start=1):
            out[name][h.paragraph_id] = (rank, h.score)
    return out


def _explain(ranks: dict[str, dict[str, tuple[int, float]]], hit: Hit) -> Explanation:
    bm25 = ranks["bm25"].get(hit.paragraph_id)
    dense = ranks["dense"].get(hit.paragraph_id)
    return Explanation(
        bm25_rank=bm25[0] if bm25 else None,
        bm25_score=bm25[1] if bm25 else None,
        dense_rank=dense[0] if dense else None,
        dense_score=dense[1] if dense else None,
        fused_score=hit.score,
    )
