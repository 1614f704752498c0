"""The ranked head of a result set over arrays: fusion, grouping into articles and the
article-level BM25 signal, as numpy operations on article ordinals.

The reference is the chain of pure functions the engine composes
(:func:`search_api.fusion.convex_many`, :func:`search_api.grouping.group_by_article`,
:func:`search_api.search.article_signal.blend`, and the head of
:func:`search_api.search.resultset.rank`): :func:`ranked_head` gives the same groups, in the same
order, with the same scores to the last bit (tests/test_head.py checks it against the reference
on generated lists and on real queries). It does every floating-point operation the reference
does, elementwise and in the reference's order (sums left to right from 0, one term at a
time), so a tie or a near-tie falls the same way.

Why: the reference and ``rank``'s head cost ~6.4 ms (p50) of a request's serial part over
~1,000 candidates at 1M paragraphs (Python dicts and sorts keyed by strings, an article-id
binary search per group); this path ~4.4 ms (docs/benchmarks.md, ninth session). What remains
is mostly making the ``Hit`` and ``ArticleGroup`` objects the result set keeps.

Contract: :func:`ranked_head` answers ``None`` where it does not apply, and the caller runs the
reference: RRF fusion, a candidate list (or the article-level list) with a repeated id, or a
candidate whose paragraph the table does not hold (written after the table was read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.models import Hit
from search_api.fusion import Normalisation, normalised_scores
from search_api.grouping import DECAY, Aggregation, ArticleGroup, article_of
from search_api.search.table import ArticleTable, Mask

Floats = npt.NDArray[np.float64]
Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Ranking:
    """One candidate list: its hits in the list's order, and their vec_ids when the
    retriever gave them (``None``: the article ordinals are looked up by id)."""

    hits: Sequence[Hit]
    vec: Ids | None = None
    #: Articles whose paragraphs the list applies to (``None``: every article); see
    #: :func:`search_api.fusion.convex_many`'s ``applies``.
    scope: Mask | None = None


@dataclass(frozen=True)
class Fusion:
    """How the lists combine: ``convex_many``'s weights, groups and normalisation."""

    rankings: Sequence[Ranking]
    weights: Sequence[float]
    groups: Sequence[str]
    method: Normalisation


def _ordinals(table: ArticleTable, ranking: Ranking) -> Ids | None:
    """Article ordinal per hit of ``ranking`` (``None`` if one is not in the table)."""
    if ranking.vec is not None and len(ranking.vec) == len(ranking.hits):
        out = table.paragraph_articles(ranking.vec)
    else:
        found = [table.ordinal(article_of(h.paragraph_id)) for h in ranking.hits]
        if any(o is None for o in found):
            return None
        out = np.asarray(found, dtype=np.int64)
    return None if len(out) and int(out.min()) < 0 else out


def _fuse(fusion: Fusion, table: ArticleTable) -> tuple[list[str], Ids, Floats] | None:
    """``convex_many`` of the lists: the fused paragraph ids best first (ties by id), their
    article ordinals and scores; ``None`` where :func:`ranked_head` does not apply."""
    ids: dict[str, int] = {}  # paragraph id -> its index in the union
    where: list[Ids] = []
    values: list[Floats] = []
    floors: list[float] = []
    ordinal_parts: list[Ids] = []
    for ranking in fusion.rankings:
        pids = [h.paragraph_id for h in ranking.hits]
        if len(set(pids)) != len(pids):
            return None  # normalise's dict keeps the last of a repeated id
        ordinals = _ordinals(table, ranking)
        if ordinals is None:
            return None
        at = np.asarray([ids.setdefault(p, len(ids)) for p in pids], dtype=np.int64)
        scores = [float(h.score) for h in ranking.hits]
        norm = normalised_scores(scores, fusion.method) if scores else np.zeros(0)
        where.append(at)
        values.append(norm)
        floors.append(float(norm.min()) if len(norm) else 0.0)
        ordinal_parts.append(ordinals)
    n = len(ids)
    names = list(ids)
    article = np.full(n, -1, dtype=np.int64)
    for at, ordinals in zip(where, ordinal_parts, strict=True):
        article[at] = ordinals
    # Per list: its normalised value for every paragraph of the union (its floor if absent).
    full = []
    for at, norm, floor in zip(where, values, floors, strict=True):
        column = np.full(n, floor)
        column[at] = norm
        full.append(column)
    weights = list(fusion.weights)
    if all(r.scope is None for r in fusion.rankings):
        parts = [(c, w) for c, w in zip(full, weights, strict=True) if w]
        total_w = sum(w for _, w in parts)
        if total_w <= 0:
            fused = np.zeros(n)
        else:
            acc = np.zeros(n)
            for column, w in parts:  # ((0 + w1 * v1) + w2 * v2) + ..., then / total
                acc = acc + w * column
            fused = acc / total_w
    elif _contiguous(fusion.groups):
        fused = _fuse_scoped(fusion, full, article)
    else:
        return None  # a paragraph's groups could then sum in another order than the reference's
    if np.isnan(fused).any():
        return None
    order = _best_first(fused, names)
    return [names[i] for i in order.tolist()], article[order], fused[order]


def _best_first(scores: Floats, names: list[str]) -> Ids:
    """Indexes ordering ``scores`` descending, ties by ``names`` ascending (fusion._sorted):
    one numpy sort, then each run of equal scores (rare, short) sorted by name."""
    order: Ids = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(tied):
        # Runs of equal scores: [start, end) in ``order``.
        starts = tied[np.r_[True, np.diff(tied) > 1]]
        ends = tied[np.r_[np.diff(tied) > 1, True]] + 2
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            run = order[a:b].tolist()
            order[a:b] = sorted(run, key=names.__getitem__)
    return order


def _contiguous(labels: Sequence[str]) -> bool:
    """Each group's lists stand together (``bm25, dense, dense``): then every paragraph's
    groups come in one order, the order :func:`_fuse_scoped` sums them in."""
    seen: set[str] = set()
    previous = None
    for label in labels:
        if label != previous and label in seen:
            return False
        seen.add(label)
        previous = label
    return True


def _fuse_scoped(fusion: Fusion, full: list[Floats], article: Ids) -> Floats:
    """``convex_many`` with lists that apply to some articles only: per paragraph, each
    group's weight shared by its applying lists, the weighted mean over the groups with one
    (the reference's per-paragraph loop, as masked array steps in its order)."""
    n = len(article)
    labels = list(fusion.groups)
    weights = list(fusion.weights)
    group_weight: dict[str, float] = {}
    for label, w in zip(labels, weights, strict=True):
        group_weight[label] = group_weight.get(label, 0.0) + w
    applies = [
        np.ones(n, dtype=bool) if r.scope is None else r.scope[article] for r in fusion.rankings
    ]
    # Per group, in the order of first appearance: [weighted score, weight of applying lists].
    sums: dict[str, tuple[Floats, Floats, Mask]] = {}
    for column, w, label, applying in zip(full, weights, labels, applies, strict=True):
        if w == 0:
            continue
        score, weight, present = sums.setdefault(
            label, (np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool))
        )
        score += np.where(applying, w * column, 0.0)
        weight += np.where(applying, w, 0.0)
        present |= applying
    total = np.zeros(n)
    mean = np.zeros(n)
    for label, (_, _, present) in sums.items():
        total = total + np.where(present, group_weight[label], 0.0)
    for label, (score, weight, present) in sums.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            part = group_weight[label] * score / weight
        mean = mean + np.where(present, part, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Floats = np.where(total > 0, mean / np.where(total > 0, total, 1.0), 0.0)
    return out


def _group(
    names: list[str], article: Ids, scores: Floats, aggregate: Aggregation
) -> tuple[Ids, Floats, list[list[Hit]]]:
    """``group_by_article`` of the fused list: the articles best first (ties by first seen),
    their scores and hits."""
    firsts, first_at, inverse = np.unique(article, return_index=True, return_inverse=True)
    # Groups in order of first appearance, and each hit's rank within its group.
    seen = np.argsort(first_at, kind="stable")
    group_of = np.empty(len(firsts), dtype=np.int64)
    group_of[seen] = np.arange(len(firsts))
    g = group_of[inverse.reshape(-1)]
    hits: list[list[Hit]] = [[] for _ in range(len(firsts))]
    made = map(Hit._make, zip(names, scores.tolist(), strict=True))
    for k, hit in zip(g.tolist(), made, strict=True):
        hits[k].append(hit)
    # Each hit's rank within its group: its index among the group's hits in list order.
    by_group = np.argsort(g, kind="stable")
    size = np.bincount(g, minlength=len(firsts))
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    within = np.empty(len(g), dtype=np.int64)
    within[by_group] = np.arange(len(g)) - starts[g[by_group]]
    if aggregate == "max":
        total = scores[first_at[seen]]
    else:
        depth = {"top2": 2, "top3": 3}.get(aggregate, int(size.max()))
        total = np.zeros(len(firsts))
        single = size == 1
        for k in range(depth):  # sum left to right from 0, one term per step
            take = within == k
            term = scores[take] * (DECAY**k) if aggregate == "decay" else scores[take]
            step = np.zeros(len(firsts))
            step[g[take]] = term
            total = total + np.where(size > k, step, 0.0)
        total = np.where(single, scores[first_at[seen]], total)  # one paragraph: its score
    order = np.argsort(-total, kind="stable")
    return firsts[seen][order], total[order], [hits[i] for i in order]


def ranked_head(
    fusion: Fusion | None,
    direct: Ranking | None,
    aggregate: Aggregation,
    articles: Ranking | None,
    article_weight: float,
    table: ArticleTable,
) -> tuple[list[ArticleGroup], Ids] | None:
    """The engine's ranked groups (``SearchEngine.ranked_groups``) and their article
    ordinals: ``fusion`` of several lists, or one list taken as it is (``direct``), grouped by
    ``aggregate``, then with ``article_weight`` re-scored by the article-level hits
    ``articles``. ``None`` where this does not apply (module docstring)."""
    if direct is not None:
        ordinals = _ordinals(table, direct)
        if ordinals is None or len({h.paragraph_id for h in direct.hits}) != len(direct.hits):
            return None
        names = [h.paragraph_id for h in direct.hits]
        scores = np.asarray([float(h.score) for h in direct.hits], dtype=np.float64)
        fused: tuple[list[str], Ids, Floats] | None = (names, ordinals, scores)
    elif fusion is not None:
        fused = _fuse(fusion, table)
    else:
        return [], np.zeros(0, dtype=np.int64)
    if fused is None:
        return None
    names, article, scores = fused
    if not names:
        return [], np.zeros(0, dtype=np.int64)
    ordinals, totals, hits = _group(names, article, scores, aggregate)
    parts = np.zeros(len(ordinals))
    if article_weight > 0 and len(ordinals) >= 2 and articles is not None and articles.hits:
        found = _ordinals(table, articles)
        if found is None or len(set(found.tolist())) != len(found):
            return None  # blend's dict keeps the last of an article listed twice
        values = [float(h.score) for h in articles.hits]
        z = normalised_scores(values, "zscore")
        floor = float(z.min())
        by_article = np.full(table.size, floor)
        by_article[found] = z
        spread = float(np.std(totals)) or 1.0
        factor = article_weight / (1 - article_weight) * spread
        parts = factor * by_article[ordinals]
        totals = totals + parts
        order = np.argsort(-totals, kind="stable")
        ordinals, totals, parts = ordinals[order], totals[order], parts[order]
        hits = [hits[i] for i in order]
    ids = table.ids
    aids = [ids[o] for o in ordinals.tolist()]
    groups = list(map(ArticleGroup, aids, totals.tolist(), hits, parts.tolist()))
    return groups, ordinals
