"""The page view: ``limit`` results of a result set from ``offset``, shaped for the response.

Folded (``fold=true``), each result is a story's representative with its ``story`` id and
``versions`` (the other articles of its story in the set).

Passages: for a ranked article, its best fused candidate paragraphs; for an article of the
tail, its matching paragraphs (semantic ones by similarity first). Highlights come from the
lexical backend for the shown paragraphs only.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from indexer.errors import BackendUnavailable
from indexer.models import Paragraph
from indexer.query import parse_query
from indexer.stores import Stores
from search_api.schemas import ArticleResult, Passage, SearchResponse
from search_api.search import membership
from search_api.search.cursor import Cursor
from search_api.search.explain import Explainer
from search_api.search.resultset import ResultSet
from search_api.search.tuned import effective_fusion, read_tuned


def page(stores: Stores, rs: ResultSet, offset: int, limit: int) -> SearchResponse:
    """The page of ``rs`` at ``offset`` (a response without ``took_ms``, facets, timeline)."""
    req = rs.request
    shown_order, shown_scores, shown_versions = rs.window(offset, offset + limit)
    ordinals = [int(o) for o in shown_order]
    ids = [rs.table.ids[o] for o in ordinals]
    # Per shown article: (paragraph id, fused score) of the passages to show.
    chosen: dict[int, list[tuple[str, float | None]]] = {}
    tail: dict[int, list[int]] = {}
    for o in ordinals:
        group = rs.groups.get(o)
        if group is not None:
            chosen[o] = [(h.paragraph_id, h.score) for h in group.hits[: req.passages]]
        else:
            tail[o] = [int(v) for v in rs.paragraphs_of(o)[0][: req.passages]]
    names = stores.catalog.paragraph_ids_for_vec_ids([v for vs in tail.values() for v in vs])
    for o, vecs in tail.items():
        chosen[o] = [(names[v], None) for v in vecs if v in names]
    shown = [pid for items in chosen.values() for pid, _ in items]
    paragraphs = stores.catalog.paragraphs(shown)
    meta = stores.catalog.articles(ids)
    spans = _highlights(stores, req.q, shown, paragraphs, rs.degraded)
    explain = None
    if req.explain:
        defaults = effective_fusion(stores.settings, read_tuned(stores.catalog))
        explain = Explainer(rs, req, stores.settings, defaults)
    sims_by_pid = _similarities(stores, rs, ordinals)
    results = []
    for i, o in enumerate(ordinals):
        info = meta.get(rs.table.ids[o])
        if info is None:  # deleted after the set was computed
            continue
        passages = []
        for pid, score in chosen[o]:
            para = paragraphs.get(pid)
            if para is None:
                continue
            passages.append(
                Passage(
                    paragraph_id=pid,
                    text=para.text,
                    score=score,
                    position=para.position,
                    highlights=spans.get(pid, []),
                    similarity=sims_by_pid.get(pid),
                    explanation=explain.passage(pid, score) if explain is not None else None,
                )
            )
        score = float(shown_scores[i])
        matched: list[Literal["lexical", "semantic"]] = []
        if rs.lexical[o]:
            matched.append("lexical")
        if rs.semantic[o]:
            matched.append("semantic")
        results.append(
            ArticleResult(
                rank=offset + i + 1,
                article_id=info["article_id"],
                title=info["title"],
                source=info["source"],
                url=info["url"],
                published_at=info["published_at"],
                language=info["language"],
                section=info["section"],
                authors=info["authors"],
                score=None if math.isnan(score) else score,
                matched=matched,
                passages=passages,
                explanation=explain.article(o, None if math.isnan(score) else score)
                if explain is not None
                else None,
                story=info["story"],
                versions=0 if shown_versions is None else int(shown_versions[i]),
            )
        )
    end = offset + len(ordinals)
    token = Cursor(rs.generation, req.set_key(), end).encode() if end < rs.total else None
    return SearchResponse(
        query=req.q,
        mode=req.mode,
        total=rs.total,
        total_articles=rs.total_articles,
        total_stories=rs.total_stories,
        total_paragraphs=rs.total_paragraphs,
        offset=offset,
        limit=limit,
        sort=req.sort,
        match=req.match,
        min_similarity=rs.min_similarity,
        generation=rs.generation,
        next=token,
        degraded=rs.degraded,
        results=results,
    )


def _highlights(
    stores: Stores,
    q: str,
    shown: list[str],
    paragraphs: dict[str, Paragraph],
    degraded: list[str],
) -> dict[str, list[tuple[int, int]]]:
    tree = membership.scoring_tree(parse_query(q).root)
    if tree is None or "lexical" in degraded or not shown:
        return {}
    try:
        return stores.lexical.highlight(tree, shown, paragraphs)
    except BackendUnavailable:
        return {}


def _similarities(stores: Stores, rs: ResultSet, ordinals: list[int]) -> dict[str, float]:
    """Similarity of the shown members' semantic paragraphs, by paragraph id."""
    vec: list[int] = []
    sims: list[float] = []
    for o in ordinals:
        v, s = rs.paragraphs_of(o)
        keep = ~np.isnan(s)
        vec.extend(int(x) for x in v[keep])
        sims.extend(float(x) for x in s[keep])
    if not vec:
        return {}
    names = stores.catalog.paragraph_ids_for_vec_ids(vec)
    return {names[v]: s for v, s in zip(vec, sims, strict=True) if v in names}
