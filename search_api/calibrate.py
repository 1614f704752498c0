"""``newssearch calibrate``: the semantic thresholds of an index, from relevance judgments.

An article is a *semantic match* of a query when one of its paragraphs has cosine similarity
at or above the threshold (docs/result-set.md). Each encoder of the index (``encoder``: the
primary one by default, or an extra one by name) has two thresholds, chosen by two rules:

- **long queries** (pasted claims, more than ``SHORT_QUERY_WORDS`` words): semantic matches
  are mostly relevant: the lowest similarity ``t`` (on :data:`GRID`) at which, over every
  judged query of the split, at least ``precision`` of the articles whose best paragraph
  reaches ``t`` are judged relevant. Precision is counted against the judgments only
  (unjudged relevant articles count as wrong), so the threshold errs on the strict side.
- **short queries** (``short``, search-box queries; known-item judgments, one or a few judged
  articles per query): the highest ``t`` that the best judged article of at least ``recall``
  of the queries reaches (3 in 4 by default), i.e. the (1 - ``recall``) quantile of those
  similarities rounded down to the grid. A query whose judged articles have no paragraph at
  or above :data:`FLOOR` reaches nothing.

``--write`` stores the value where searches read it (:func:`~search_api.search.calibration.
meta_key`: ``min_similarity``/``min_similarity_short``, ``@<encoder>`` for an extra encoder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.spaces import Space, same_encoder
from indexer.stores import Stores
from search_api.evaluation import load_beir, plain_query
from search_api.search.table import build_table

#: Thresholds tried, from 0.10 to 0.95.
GRID = tuple(round(0.10 + 0.01 * i, 2) for i in range(86))
#: Similarity below which no paragraph is looked at (saves memory; far below any threshold).
FLOOR = 0.10


@dataclass
class Calibration:
    """The chosen threshold and, per tried threshold, precision, recall and set size
    (``known_items``: the share of queries whose best judged article reaches it)."""

    threshold: float
    precision: float
    queries: int
    curve: list[dict[str, float]] = field(default_factory=list)
    #: The encoder calibrated (its model name) and which of its thresholds.
    encoder: str = ""
    short: bool = False
    #: The share of known items the short threshold keeps (``short`` only).
    recall: float | None = None


class UnknownEncoder(ValueError):
    """``calibrate`` was asked for an encoder the index does not have."""


def space_named(stores: Stores, encoder: str | None) -> Space:
    """The index's encoder ``encoder`` (a model name or key; ``None``: the primary one);
    :class:`UnknownEncoder` naming the index's encoders when it has none of that name."""
    spaces = stores.spaces
    if encoder is None:
        return spaces[0]
    for space in spaces:
        if same_encoder(space.name, encoder):
            return space
    names = ", ".join(s.name for s in spaces)
    raise UnknownEncoder(f"the index has no encoder {encoder!r}; its encoders: {names}")


def calibrate(
    stores: Stores,
    dataset_dir: Path,
    *,
    split: str = "train",
    precision: float = 0.5,
    encoder: str | None = None,
    short: bool = False,
    recall: float = 0.75,
    on_query: Callable[[int], None] | None = None,
) -> Calibration:
    """Choose encoder ``encoder``'s threshold for long queries (or with ``short`` for short
    ones) on ``dataset_dir``'s ``split`` (module docstring). The corpus must already be
    ingested into ``stores``. Raises :class:`UnknownEncoder`, and ``ValueError`` for a
    ``precision`` or ``recall`` outside (0, 1]."""
    for name, value in (("precision", precision), ("recall", recall)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], not {value}")
    space = space_named(stores, encoder)
    dataset = load_beir(dataset_dir, split)
    table = build_table(stores.catalog)
    grid = np.asarray(GRID)
    members = np.zeros(len(grid))
    relevant_members = np.zeros(len(grid))
    relevant_total = 0
    #: Per query, the best similarity of a judged article (-inf: none reaches FLOOR).
    known = np.full(len(dataset.queries), -np.inf)
    for n, (qid, text) in enumerate(sorted(dataset.queries.items()), start=1):
        judged = {doc for doc, score in dataset.qrels[qid].items() if score > 0}
        relevant_total += len(judged)
        vector = space.embedder.embed_query(plain_query(text))
        ids, sims = space.vectors.range_search(
            vector, FLOOR, stores.settings.max_semantic_paragraphs
        )
        ordinals = table.paragraph_articles(ids)
        keep = ordinals >= 0
        best = np.full(table.size, -np.inf)
        np.maximum.at(best, ordinals[keep], sims[keep].astype(np.float64))
        found = np.flatnonzero(best > -np.inf)
        scores = best[found]
        is_relevant = np.asarray([table.ids[o] in judged for o in found], dtype=bool)
        if is_relevant.any():
            known[n - 1] = scores[is_relevant].max()
        members += (scores[None, :] >= grid[:, None]).sum(axis=1)
        relevant_members += ((scores[None, :] >= grid[:, None]) & is_relevant[None, :]).sum(axis=1)
        if on_query is not None:
            on_query(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(members > 0, relevant_members / members, 1.0)
    found_share = relevant_members / max(relevant_total, 1)
    queries = len(dataset.queries)
    reached = (known[None, :] >= grid[:, None]).sum(axis=1) / max(queries, 1)
    curve = [
        {
            "threshold": float(t),
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "known_items": round(float(k), 4),
            "members_per_query": round(float(m) / max(queries, 1), 2),
        }
        for t, p, r, k, m in zip(grid, prec, found_share, reached, members, strict=True)
    ]
    if short:
        # The highest grid point at least ``recall`` of the queries' known items reach (the
        # share only falls as the threshold rises); the lowest when none does.
        ok = np.flatnonzero(reached >= recall - 1e-12)
        chosen = float(grid[ok[-1]]) if len(ok) else float(grid[0])
    else:
        ok = np.flatnonzero(prec >= precision)
        chosen = float(grid[ok[0]]) if len(ok) else float(grid[-1])
    return Calibration(
        chosen, precision, queries, curve, space.name, short, recall if short else None
    )
