"""The search engine: orchestration of parse -> retrieve -> fuse -> ResultSet -> views.

Contracts:
- Every request is answered from one :class:`~search_api.search.resultset.ResultSet` (its
  definition and order: that module's docstring and docs/result-set.md). Pages, ``total``,
  facets, the timeline and export are views of it, so they always agree.
- Sets are computed against one :class:`~search_api.search.table.ArticleTable` (one index
  generation) and the last few are kept (LRU), so the next page, the facets or an export of
  the same query do not recompute them.
- Ranking: each retriever contributes its top ``candidates`` paragraphs within the filters
  (never more for deeper pages: the order must not depend on the page), fused as before.
- When the lexical backend is unavailable, bm25/hybrid answer from the semantic side alone
  and the response lists ``"lexical"`` in ``degraded``.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexer.errors import BackendUnavailable
from indexer.lexical.base import LexicalBackend, PositionSearch, VecIdSearch
from indexer.models import Filters, Hit
from indexer.query import Bool, Node, ParsedQuery, Phrase, Term, parse_query
from indexer.stores import Stores
from search_api.fusion import convex_many, rrf
from search_api.grouping import Aggregation, ArticleGroup, group_by_article
from search_api.schemas import (
    ArticleDetail,
    Facet,
    FusionInEffect,
    SearchRequest,
    SearchResponse,
    SimilarRequest,
    Stats,
    Timeline,
    Versions,
)
from search_api.search import cursor as cursors
from search_api.search import dense, head, membership
from search_api.search.article_signal import blend
from search_api.search.dense import DenseList
from search_api.search.leaves import LeafCache, Positions
from search_api.search.paragraphs import MatchingParagraphs
from search_api.search.resultset import (
    Arranged,
    Arrangement,
    ResultSet,
    fold_order,
    known_first,
    rank_head,
    sort_by_date,
    with_tail,
)
from search_api.search.table import ArticleTable, Mask, TableCache, mark
from search_api.search.tuned import effective_fusion, read_tuned

log = logging.getLogger(__name__)
#: Worker threads for the dense side of hybrid requests served concurrently.
DENSE_WORKERS = 4
#: Result sets kept for the next page / facets / export of the same request.
SET_CACHE = 16
#: A query with more distinct words and phrases than this collects their matches in a worker.
MATCHES_IN_WORKER_ABOVE = 4
_OR = re.compile(r'"[^"]*"|[()]|\bOR\b')


@dataclass
class Retrieved:
    """Both retrievers' outputs for one request, and what failed."""

    lexical: list[Hit] = field(default_factory=list)
    dense: list[Hit] = field(default_factory=list)
    #: Per query leaf, the table positions of every committed paragraph matching it.
    leaf_positions: dict[membership.Leaf, Positions] = field(default_factory=dict)
    #: The leaves outside any ``-x``: their matches are the set's matching paragraphs.
    positive: list[membership.Leaf] = field(default_factory=list)
    #: One ranked list per encoder taking part (search_api/search/dense.py).
    dense_lists: list[DenseList] = field(default_factory=list)
    semantic_ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    semantic_sims: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    degraded: list[str] = field(default_factory=list)
    #: BM25 over whole articles (``Stores.articles``), hybrid mode only.
    article_hits: list[Hit] = field(default_factory=list)
    #: The vec_ids of ``lexical`` and ``article_hits``, hit by hit, where the backend gave
    #: them (``None``: not given; search_api/search/head.py then looks articles up by id).
    lexical_vec: npt.NDArray[np.int64] | None = None
    article_vec: npt.NDArray[np.int64] | None = None


@dataclass(frozen=True)
class _Rrf:
    """An RRF fusion plan (:meth:`SearchEngine._fusion_plan`)."""

    rankings: list[head.Ranking]
    weights: list[float]
    k: int


def _has_explicit_or(text: str) -> bool:
    """True when ``OR`` joins top-level clauses (outside quotes and parentheses): then any one
    of them is enough. An ``OR`` inside a group only concerns that group."""
    depth = 0
    for m in _OR.finditer(text):
        token = m.group(0)
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        elif token == "OR" and depth == 0:
            return True
    return False


class SearchEngine:
    """Answers :class:`SearchRequest` s over open :class:`~indexer.stores.Stores`."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.settings = stores.settings
        self.tables = TableCache(stores.catalog, on_change=self._reload_stores)
        #: Runs the dense side of hybrid requests (one task per request in flight).
        self._pool = ThreadPoolExecutor(max_workers=DENSE_WORKERS, thread_name_prefix="dense")
        self._sets: OrderedDict[tuple[str, int], ResultSet] = OrderedDict()
        self._sets_lock = threading.Lock()
        #: Every paragraph matching each query word / phrase, per generation (LRU by bytes).
        self.leaves = LeafCache()
        #: (index generation, the fusion defaults in effect then): see :meth:`fusion_defaults`.
        self._fusion: tuple[int, FusionInEffect] | None = None

    def warm_up(self) -> int:
        """Ready a long-lived serving process; returns the paragraphs in the id map.

        Loads the model (seconds, better spent now than on the first user's query), the
        FAISS-id -> paragraph-id map (about a second per million paragraphs), the article
        table and each vector store's slots of its paragraphs (filtered searches), then moves
        every object alive so far into the garbage collector's permanent generation
        (``gc.freeze``): the model and the map are ~0.5M tracked objects, and each full
        collection walking them stalled a query for ~400 ms (the p99 of hybrid search at
        1M). :meth:`close` undoes the freeze.
        """
        self.stores.embedder.embed_query("warm-up")
        size = self.stores.catalog.load_id_map()
        table = self.tables.current()
        for space in self.stores.spaces:  # filtered and language-scoped dense searches
            space.vectors.prepare_within(table.paragraph_vec_ids)
        gc.collect()
        gc.freeze()
        return size

    def close(self) -> None:
        """Stop the worker threads and unfreeze the collector (the stores stay open)."""
        self._pool.shutdown(wait=True)
        gc.unfreeze()

    def _reload_stores(self) -> None:
        """Before a new table is built: make the stores' readers at least as new."""
        self.stores.refresh_readers()

    # -- the set ------------------------------------------------------------------------------
    def result_set(self, req: SearchRequest) -> ResultSet:
        """The request's result set on the current index generation (cached, LRU)."""
        req.check()
        table = self.tables.current()
        return self._cached((req.set_key(), table.generation), lambda: self._compute(req, table))

    def _cached(self, key: tuple[str, int], build: Callable[[], ResultSet]) -> ResultSet:
        """The set cached under ``key`` (LRU of :data:`SET_CACHE`), else ``build()`` and keep
        it, unless a retriever failed (then the next request asks again: it may be back)."""
        with self._sets_lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        built = build()
        if built.degraded:
            return built
        with self._sets_lock:
            self._sets[key] = built
            while len(self._sets) > SET_CACHE:
                self._sets.popitem(last=False)
        return built

    def candidates(self, req: SearchRequest) -> Retrieved:
        """The retrievers' ranked candidate lists for ``req`` (``lexical`` and ``dense``,
        before fusion), e.g. to sweep fusion parameters over them (benchmarks/tune_fusion.py)."""
        table = self.tables.current()
        parsed = parse_query(req.q)
        masks = filter_masks(req, parsed, table)
        in_filters = np.ones(table.size, dtype=bool)
        for mask in masks.values():
            in_filters &= mask
        return self._retrieve(req, parsed, table, masks, in_filters)

    def _compute(self, req: SearchRequest, table: ArticleTable) -> ResultSet:
        parsed = parse_query(req.q)
        masks = filter_masks(req, parsed, table)
        in_filters = np.ones(table.size, dtype=bool)
        for mask in masks.values():
            in_filters &= mask
        root = parsed.root
        constrained = not parsed.is_plain
        got = self._retrieve(req, parsed, table, masks, in_filters)
        threshold = min((d.threshold for d in got.dense_lists), default=0.0)
        lexical_down = "lexical" in got.degraded
        # Which sides decide membership.
        use_lexical = req.mode != "dense" and req.lexical and root is not None and not lexical_down
        use_semantic = bool(parsed.free_text) and (
            (req.mode == "dense" and req.semantic)
            or (req.mode == "hybrid" and req.semantic and not (constrained and req.lexical))
            or (req.mode != "dense" and lexical_down)
        )
        size = table.size
        masks_by_leaf: dict[membership.Leaf, Mask] = {}

        def leaf_mask(leaf: membership.Leaf) -> Mask:
            if leaf not in masks_by_leaf:
                masks_by_leaf[leaf] = table.articles_at(got.leaf_positions[leaf])
            return masks_by_leaf[leaf]

        lexical = np.zeros(size, dtype=bool)
        coord = np.zeros(size, dtype=np.int64)
        # Paragraphs matching a positive leaf (MatchingParagraphs), marked with the counts.
        lex_para = np.zeros(table.paragraphs, dtype=bool)
        words = membership.flat_words(root) if use_lexical else None
        if root is None and not parsed.free_text:
            lexical = np.ones(size, dtype=bool)  # no query: every article within the filters
        elif use_lexical and words is not None:
            # A plain query: membership.evaluate as one count per article (flat_words).
            coord = table.leaf_counts([got.leaf_positions[leaf] for leaf in words], lex_para)
            at_least: int | npt.NDArray[np.int64] = 1
            if isinstance(root, Bool) and not _has_explicit_or(req.q):
                at_least = np.clip(_needed(req, root, table), 1, max(len(words), 1))
            lexical = coord >= at_least
        elif use_lexical and root is not None:
            need = _needed(req, root, table) if not _has_explicit_or(req.q) else 1
            lexical = membership.evaluate(root, leaf_mask, size, top_msm=need)
            coord = membership.should_count(root, leaf_mask, size)
            for leaf in got.positive:
                if leaf in got.leaf_positions:
                    mark(lex_para, got.leaf_positions[leaf])
        semantic = np.zeros(size, dtype=bool)
        sem_positions = table.positions(got.semantic_ids)
        sem_ordinals = table.ordinals_at(sem_positions)
        if use_semantic:
            semantic[sem_ordinals[sem_ordinals >= 0]] = True
            if root is not None and not lexical_down:
                semantic &= ~_excluded(root, leaf_mask, size)
        unfiltered = lexical | semantic
        members = unfiltered & in_filters
        lexical &= members
        semantic &= members
        best = np.full(size, -np.inf)
        known = sem_ordinals >= 0
        np.maximum.at(best, sem_ordinals[known], got.semantic_sims[known].astype(np.float64))
        groups, group_ordinals = self._ranked_head(req, got, table)
        head, head_scores, ranked = rank_head(table, members, groups, group_ordinals)
        matches = MatchingParagraphs(
            table,
            lex_para,
            lexical,
            sem_positions if use_semantic else None,
            got.semantic_sims,
            semantic,
        )
        by_date = req.sort != "relevance" or (root is None and not parsed.free_text)

        def arrange() -> Arranged:
            order, scores = with_tail(table, members, head, head_scores, coord, best)
            if by_date:
                order, perm = sort_by_date(table, order, descending=req.sort != "date_asc")
                scores = scores[perm]
            match_vec, match_ord, match_sim, match_lex = matches.arrays()
            member_order = order
            versions = None
            if req.fold:
                order, scores, versions = fold_order(table, order, scores)
                # The folded set's matching paragraphs are its representatives'.
                keep = np.zeros(size, dtype=bool)
                keep[order] = True
                shown = keep[match_ord]
                match_vec, match_ord = match_vec[shown], match_ord[shown]
                match_sim, match_lex = match_sim[shown], match_lex[shown]
            return Arranged(
                order, scores, match_vec, match_ord, match_sim, match_lex, versions, member_order
            )

        if by_date:  # a page of a date order reads the whole order: nothing to defer
            arrangement = Arrangement(arrange())
        else:
            first = known_first(table, members, head, head_scores, coord, best, req.fold, matches)
            arrangement = Arrangement(later=arrange, known=first)
        return ResultSet(
            request=req,
            table=table,
            arrangement=arrangement,
            lexical=lexical,
            semantic=semantic,
            groups=ranked,
            lexical_hits=got.lexical,
            dense_hits=got.dense,
            unfiltered=unfiltered,
            filter_masks=masks,
            min_similarity=threshold if use_semantic and got.dense_lists else None,
            degraded=got.degraded,
            leaf_positions={
                _leaf_label(leaf): got.leaf_positions[leaf]
                for leaf in got.positive
                if leaf in got.leaf_positions
            },
            fold=req.fold,
            dense_lists=got.dense_lists,
        )

    def _retrieve(
        self,
        req: SearchRequest,
        parsed: ParsedQuery,
        table: ArticleTable,
        masks: dict[str, Mask],
        in_filters: Mask,
    ) -> Retrieved:
        """Ranking candidates and membership evidence from BM25 and each encoder.

        The dense side (query embedding, FAISS; one task per encoder taking part,
        search_api/search/dense.py) runs in worker threads while the lexical side runs in
        this one: the models and FAISS release the GIL, so on two cores a hybrid request costs
        about the slowest retriever, not the sum. A long query's exact word matches (more than
        :data:`MATCHES_IN_WORKER_ABOVE` words and phrases) are collected in a worker too, beside
        BM25 (both native, without the GIL): a claim's p99 at 1M paragraphs ~107 -> 88 ms.
        """
        got = Retrieved()
        depth = req.candidates or self.settings.candidates
        root = parsed.root
        wants_lexical = req.mode != "dense" and root is not None
        wants_dense = bool(parsed.free_text) and req.mode != "bm25"
        need_range = (
            wants_dense
            and req.semantic
            and (req.mode == "dense" or parsed.is_plain or not req.lexical)
        )
        limit = self.settings.max_semantic_paragraphs
        every = self.stores.spaces
        spaces = dense.taking_part(self.stores, parsed.free_text) if parsed.free_text else []
        shares = dense.shares(self.stores, spaces) if spaces else []
        thresholds = dense.thresholds(self.stores, spaces, parsed.free_text, req.min_similarity)

        def dense_side(i: int, with_range: bool) -> DenseList:
            space = spaces[i]
            scope = dense.scope_of(table, space, every)
            if scope is not None and not scope.any():  # no article in its languages
                return DenseList(space.name, [], shares[i], scope, thresholds[i], *_no_matches())
            inside = in_filters if scope is None else in_filters & scope
            filtered = len(masks) > 0 or scope is not None
            vector = space.embedder.embed_query(parsed.free_text)
            ids, sims = _no_matches()
            if with_range and not filtered:  # one HNSW search for both
                found, ids, sims = space.vectors.search_with_range(
                    vector, depth, thresholds[i], limit
                )
            elif filtered:  # the paragraphs of the articles inside, as a mask of the table's
                selected = inside[table.paragraph_ordinals]
                found = space.vectors.search_within(
                    vector, depth, table.paragraph_vec_ids, selected
                )
                if with_range:
                    ids, sims = space.vectors.range_search(vector, thresholds[i], limit)
            else:
                found = space.vectors.search(vector, depth)
            names = self.stores.catalog.paragraph_ids_for_vec_ids([i for i, _ in found])
            named = [(i, s) for i, s in found if i in names]
            hits = [Hit(names[i], s) for i, s in named]
            out = DenseList(space.name, hits, shares[i], scope, thresholds[i], *_no_matches())
            out.vec = np.asarray([i for i, _ in named], dtype=np.int64)
            if with_range:
                out.ids, out.sims = dense.in_scope(table, scope, ids, sims)
            return out

        def all_dense(with_range: bool) -> list[DenseList]:
            return [dense_side(i, with_range) for i in range(len(spaces))]

        # One task per encoder, submitted from this thread (a task never waits for another).
        pending: list[Future[DenseList]] = []
        if wants_dense:
            pending = [self._pool.submit(dense_side, i, need_range) for i in range(len(spaces))]
        # Dense mode still needs the lexical matches of the excluded leaves: ``-x`` excludes in
        # every mode (resultset), and the semantic side is filtered with them.
        excluded = _excluded_leaves(root) if req.mode == "dense" and need_range else []
        if wants_lexical and root is not None:
            try:
                leaves = membership.distinct_leaves(root)
                # A long query's word matches (tens of ms at 1M paragraphs, without the GIL)
                # are collected in a worker while BM25 runs here; a short query's cost less
                # than the hand-off (docs/benchmarks.md, result set).
                matches = None
                if len(leaves) > MATCHES_IN_WORKER_ABOVE:
                    matches = self._pool.submit(self._leaf_positions, table, leaves)
                else:
                    got.leaf_positions = self._leaf_positions(table, leaves)
                got.positive = membership.distinct_leaves(root, positive_only=True)
                tree = membership.ranking_tree(root, plain=parsed.is_plain)
                if tree is not None:
                    filters = backend_filters(req, parsed, table)
                    got.lexical, got.lexical_vec = self._lexical_hits(tree, filters, depth)
                    store = self.stores.articles
                    if req.mode == "hybrid" and store is not None:
                        got.article_hits, got.article_vec = self._lexical_hits(
                            tree, filters, depth, store
                        )
                if matches is not None:
                    got.leaf_positions = matches.result()
            except BackendUnavailable as exc:
                log.warning("lexical backend unavailable, answering dense-only: %s", exc)
                got.degraded.append("lexical")
                got.leaf_positions, got.positive = {}, []
        elif excluded:
            try:
                got.leaf_positions = self._leaf_positions(table, excluded)
            except BackendUnavailable as exc:
                log.warning("lexical backend unavailable, not applying exclusions: %s", exc)
                got.degraded.append("lexical")
        down = "lexical" in got.degraded and bool(parsed.free_text)
        if pending:
            got.dense_lists = [p.result() for p in pending]
            if down and not need_range:  # dense stands in for bm25: it needs the matches
                got.dense_lists = all_dense(True)
        elif down:  # dense stands in for bm25
            got.dense_lists = all_dense(True)
        got.dense = got.dense_lists[0].hits if got.dense_lists else []
        got.semantic_ids, got.semantic_sims = dense.union_max(
            [d.ids for d in got.dense_lists], [d.sims for d in got.dense_lists]
        )
        return got

    def _leaf_positions(
        self, table: ArticleTable, leaves: list[membership.Leaf]
    ) -> dict[membership.Leaf, npt.NDArray[np.int32]]:
        """Every committed match of each leaf as table positions (cached: LeafCache)."""
        backend = self.stores.lexical
        direct = backend.matching_positions if isinstance(backend, PositionSearch) else None
        return self.leaves.positions(table, leaves, backend.matching_vec_ids, direct)

    def _lexical_hits(
        self, tree: Node, filters: Filters, depth: int, backend: LexicalBackend | None = None
    ) -> tuple[list[Hit], npt.NDArray[np.int64] | None]:
        """BM25 top-``depth`` documents of ``backend`` (default: the paragraph store), best
        first (ties by id). Read as vec_ids where the backend can (no stored document loaded),
        named through the catalog: an article document's id ``{article_id}:0`` has the vec_id
        of the article's first paragraph, so it is named alike. With the hits, their vec_ids
        where the backend gave them (else ``None``)."""
        backend = self.stores.lexical if backend is None else backend
        if isinstance(backend, VecIdSearch):
            pairs = backend.search_vec_ids(tree, filters, depth)
            if pairs is not None:
                names = self.stores.catalog.paragraph_ids_for_vec_ids([i for i, _ in pairs])
                named = [(-s, names[i], i) for i, s in pairs if i in names]
                named.sort()  # best first, ties by paragraph id (ids are distinct)
                hits = [Hit(name, -negated) for negated, name, _ in named]
                return hits, np.asarray([i for _, _, i in named], dtype=np.int64)
        return backend.search(tree, filters, depth), None

    def ranked_groups(self, req: SearchRequest, got: Retrieved) -> list[ArticleGroup]:
        """The fused paragraphs grouped into articles, best first, and in hybrid mode blended
        with the article-level BM25 signal (search_api/search/article_signal.py). The
        reference chain of pure functions that :meth:`_ranked_head` computes over arrays."""
        groups = group_by_article(self._fuse(req, got), self._aggregate(req))
        if req.mode != "hybrid" or not got.article_hits:
            return groups
        return blend(groups, got.article_hits, self._article_weight(req))

    def _ranked_head(
        self, req: SearchRequest, got: Retrieved, table: ArticleTable
    ) -> tuple[list[ArticleGroup], npt.NDArray[np.int64] | None]:
        """:meth:`ranked_groups` and the groups' article ordinals, over arrays
        (search_api/search/head.py: the same groups, ~2 ms sooner at 1M paragraphs); the
        reference, with ``None`` ordinals, where that does not apply."""
        plan = self._fusion_plan(req, got)
        if not isinstance(plan, _Rrf):
            articles = None
            if req.mode == "hybrid" and got.article_hits:
                articles = head.Ranking(got.article_hits, got.article_vec)
            fast = head.ranked_head(
                plan if isinstance(plan, head.Fusion) else None,
                plan if isinstance(plan, head.Ranking) else None,
                self._aggregate(req),
                articles,
                self._article_weight(req),
                table,
            )
            if fast is not None:
                return fast
        return self.ranked_groups(req, got), None

    def _aggregate(self, req: SearchRequest) -> Aggregation:
        return req.aggregate or self.settings.aggregate

    def _article_weight(self, req: SearchRequest) -> float:
        weight = self.settings.article_weight if req.article_weight is None else req.article_weight
        return float(weight)

    def _fuse(self, req: SearchRequest, got: Retrieved) -> list[Hit]:
        """One ranked paragraph list from the candidate lists (:meth:`_fusion_plan`)."""
        plan = self._fusion_plan(req, got)
        if isinstance(plan, head.Ranking):
            return list(plan.hits)
        rankings = [r.hits for r in plan.rankings]
        if isinstance(plan, _Rrf):
            return rrf(rankings, k=plan.k, weights=plan.weights)
        table = self.tables.current()
        applies = [dense.applies(table, r.scope) for r in plan.rankings]
        return convex_many(
            rankings, plan.weights, method=plan.method, applies=applies, groups=plan.groups
        )

    def _fusion_plan(self, req: SearchRequest, got: Retrieved) -> head.Ranking | head.Fusion | _Rrf:
        """How the candidate lists make one ranking, per the request's mode: one list as it
        is (bm25 mode: BM25; dense mode with one encoder: its own cosine ranking), or BM25
        with weight ``alpha`` and each encoder with its share of ``1 - alpha`` (convex), or RRF
        with weight 1 for BM25 and the shares for the encoders; in dense mode the encoders
        alone."""
        lexical = head.Ranking(got.lexical, got.lexical_vec)
        if req.mode == "bm25" and "lexical" not in got.degraded:
            return lexical
        lists = [d for d in got.dense_lists if d.hits]
        use_lexical = req.mode != "dense" and bool(got.lexical)
        if not lists:
            return lexical if use_lexical else head.Ranking([])
        if not use_lexical and len(lists) == 1:
            return head.Ranking(lists[0].hits, lists[0].vec)
        defaults = self.fusion_defaults()
        method = req.fusion or defaults.fusion
        total = sum(d.share for d in lists) or 1.0
        shares = [d.share / total for d in lists]
        rankings = [head.Ranking(d.hits, d.vec, d.scope) for d in lists]
        if method == "convex":
            alpha = defaults.alpha if req.alpha is None else req.alpha
            alpha = alpha if use_lexical else 0.0
            weights = [(1 - alpha) * s for s in shares]
            groups = ["dense"] * len(rankings)
            if use_lexical:
                rankings, weights = [lexical, *rankings], [alpha, *weights]
                groups = ["bm25", *groups]
            norm = req.normalisation or defaults.normalisation
            return head.Fusion(rankings, weights, groups, norm)
        weights = shares
        if use_lexical:
            rankings, weights = [lexical, *rankings], [1.0, *weights]
        return _Rrf(rankings, weights, req.rrf_k or defaults.rrf_k)

    def fusion_defaults(self) -> FusionInEffect:
        """The fusion a request gets for the parameters it leaves out: the operator's explicit
        setting, else the index's tuned value (``newssearch tune``), else the built-in default
        (search_api/search/tuned.py). Read from the catalog once per index generation."""
        generation = self.tables.current().generation
        cached = self._fusion
        if cached is None or cached[0] != generation:
            tuned = read_tuned(self.stores.catalog)
            cached = self._fusion = (generation, effective_fusion(self.settings, tuned))
        return cached[1]

    # -- views --------------------------------------------------------------------------------
    def search(self, req: SearchRequest) -> SearchResponse:
        """One page of the set (plus facets / timeline when asked).

        Raises ``QuerySyntaxError`` for an unparseable query or a foreign cursor,
        ``StaleCursor`` when the cursor's index generation is gone, ``ResultSetTooLarge``
        when the semantic side exceeds ``max_semantic_paragraphs``.
        """
        from search_api.search.pages import page

        started = time.perf_counter()
        offset = req.offset
        req.check()
        rs = self.result_set(req)
        if req.cursor is not None:
            token = cursors.decode(req.cursor)
            cursors.check(token, req.set_key(), rs.generation)
            offset = token.offset
        # A cached set carries the request that built it; the page shows this request's
        # passages and explanations (they are not part of the set).
        response = page(self.stores, dataclasses.replace(rs, request=req), offset, req.limit)
        if req.facets:
            response.facets = self.facets(req, rs)
        if req.timeline:
            response.timeline = self.timeline(req, rs)
        response.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return response

    def facets(self, req: SearchRequest, rs: ResultSet | None = None) -> list[Facet]:
        """Facet counts over the whole set (each facet without its own filter)."""
        from search_api.search.facets import all_facets

        return all_facets(rs or self.result_set(req), req.facet_size)

    def timeline(self, req: SearchRequest, rs: ResultSet | None = None) -> Timeline:
        """The set per day / week / month / year, with the corpus per interval."""
        from search_api.search.timeline import timeline

        return timeline(rs or self.result_set(req), req.interval, req.split_by, req.facet_size)

    def export(
        self, req: SearchRequest, fmt: str = "jsonl", level: str = "article"
    ) -> Iterator[str]:
        """Every article (or matching paragraph) of the set, in the request's sort, as CSV or
        JSONL text chunks; the first JSONL line / the CSV's manifest comes first."""
        from search_api.search.export import export

        return export(self.stores, self.result_set(req), fmt, level)

    # -- articles -----------------------------------------------------------------------------
    def article(self, article_id: str) -> ArticleDetail:
        """The committed article with every paragraph and its offsets into the body.

        Raises :class:`~indexer.errors.NotFound` for an unknown (or not yet committed) id.
        """
        from search_api.search.articles import article_detail

        return article_detail(self.stores, self.tables.current(), article_id)

    def versions(self, article_id: str) -> Versions:
        """The other articles of ``article_id``'s story (near-duplicate copies), oldest
        first, undated last, then by id. Raises ``NotFound`` for an unknown id."""
        from search_api.search.articles import versions

        return versions(self.stores, self.tables.current(), article_id)

    def similar(self, article_id: str, req: SimilarRequest) -> SearchResponse:
        """A page of the articles closest to ``article_id`` (search_api/search/similar.py):
        a similarity-threshold set with exact ``total``, filters, sort, offset / cursor paging,
        the article itself excluded; cached like search sets.

        Raises ``NotFound`` for an unknown article, ``QuerySyntaxError`` for bad dates or a
        foreign cursor, ``StaleCursor`` and ``ResultSetTooLarge`` as :meth:`search` does.
        """
        from search_api.search.pages import page
        from search_api.search.similar import SimilarSet, similar_set

        started = time.perf_counter()
        spec = SimilarSet.of(article_id, req)
        spec.check()
        table = self.tables.current()

        def build() -> ResultSet:
            masks = filter_masks(spec, parse_query(""), table)
            limit = self.settings.max_semantic_paragraphs
            return similar_set(self.stores, table, spec, masks, limit)

        rs = self._cached((spec.set_key(), table.generation), build)
        offset = spec.offset
        if spec.cursor is not None:
            token = cursors.decode(spec.cursor)
            cursors.check(token, spec.set_key(), rs.generation)
            offset = token.offset
        # A cached set carries the request that built it: this page shows this request's
        # passages (they are not part of the set).
        response = page(self.stores, dataclasses.replace(rs, request=spec), offset, spec.limit)
        response.took_ms = round((time.perf_counter() - started) * 1000, 2)
        return response

    def stats(self) -> Stats:
        """What the index holds: counts, languages, sizes on disk per store, encoder, index
        generation and the last ingest (search_api/search/articles.py)."""
        from search_api.search.articles import index_stats

        return index_stats(self.stores, self.tables.current())


def _no_matches() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    return np.zeros(0, np.int64), np.zeros(0, np.float32)


def filter_masks(req: SearchRequest, parsed: ParsedQuery, table: ArticleTable) -> dict[str, Mask]:
    """One mask per filter dimension in use (request and query filters: both must hold)."""
    masks: dict[str, Mask] = {}
    n = table.size
    for dim, own, key in (
        ("source", req.source, "sources"),
        ("language", req.language, "languages"),
        ("section", req.section, "sections"),
        ("author", req.author, "authors"),
    ):
        column = table.columns[dim]
        mask = None
        for values in (own, parsed.filters.get(key, ())):
            if values:
                m = column.mask(list(values), n)
                mask = m if mask is None else mask & m
        if mask is not None:
            masks[dim] = mask
    if req.date_from or req.date_to:
        masks["date"] = table.date_mask(req.date_from, req.date_to)
    return masks


def backend_filters(req: SearchRequest, parsed: ParsedQuery, table: ArticleTable) -> Filters:
    """The request's filters in the stored spellings, for the retrievers' ranking candidates."""

    def values(dim: str, own: list[str], key: str) -> tuple[str, ...]:
        column = table.columns[dim]
        chosen: set[str] | None = None
        for wanted in (own, parsed.filters.get(key, ())):
            if wanted:
                stored = set(column.stored_values(wanted))
                chosen = stored if chosen is None else chosen & stored
        if chosen is None:
            return ()
        return tuple(sorted(chosen)) or ("\x00no-match",)

    return Filters(
        date_from=req.date_from,
        date_to=req.date_to,
        sources=values("source", req.source, "sources"),
        languages=values("language", req.language, "languages"),
        sections=values("section", req.section, "sections"),
        authors=values("author", req.author, "authors"),
    )


def _excluded_leaves(root: Node | None) -> list[membership.Leaf]:
    """The distinct leaves under the query's top-level ``-x`` / ``NOT x``."""
    if not isinstance(root, Bool):
        return []
    return list(
        dict.fromkeys(leaf for part in root.must_not for leaf in membership.iter_leaves(part))
    )


def _leaf_label(leaf: membership.Leaf) -> str:
    """A query word or phrase as a user would write it."""
    text = leaf.text if isinstance(leaf, Term) else '"' + " ".join(leaf.words) + '"'
    return text if leaf.field == "text" else f"{leaf.field}:{text}"


def _needed(req: SearchRequest, root: Node, table: ArticleTable) -> npt.NDArray[np.int64]:
    """Per article, how many top-level words it must contain (membership.needed), counting
    a stop word only in articles of the languages where it is a word (indexer.query)."""
    words = membership.top_level_words(root)
    if not membership.needs_every_word(req.match, words):
        return np.ones(table.size, dtype=np.int64)  # one word is enough, wherever
    counts = np.full(table.size, words, dtype=np.int64)
    if isinstance(root, Bool) and not root.must:
        # Stop words by their languages: a claim's many English ones are one mask.
        stops = Counter(
            node.stop_in
            for node in dict.fromkeys(root.should)
            if isinstance(node, Term) and node.stop_in
        )
        for languages, n in stops.items():
            counts -= n * table.columns["language"].mask(list(languages), table.size)
    return membership.needed(req.match, counts, words)


def _excluded(root: Node, leaf_mask: Callable[[membership.Leaf], Mask], size: int) -> Mask:
    """Articles excluded by the query's top-level ``-x`` / ``NOT x``."""
    out = np.zeros(size, dtype=bool)
    if isinstance(root, Term | Phrase):
        return out
    for part in root.must_not:
        out |= membership.evaluate(part, leaf_mask, size)
    return out
