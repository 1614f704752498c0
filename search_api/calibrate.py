"""``newssearch calibrate``: the semantic threshold of an index, from relevance judgments.

An article is a *semantic match* of a query when one of its paragraphs has cosine similarity
at or above the threshold (docs/result-set.md). The threshold is chosen so that semantic
matches are mostly relevant: the lowest similarity ``t`` at which, over every judged query of
the split, at least ``precision`` of the articles whose best paragraph reaches ``t`` are judged
relevant. Precision is counted against the judgments only (unjudged relevant articles count
as wrong), so the threshold errs on the strict side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.stores import Stores
from search_api.evaluation import load_beir, plain_query
from search_api.search.table import build_table

#: Thresholds tried, from 0.10 to 0.95.
GRID = tuple(round(0.10 + 0.01 * i, 2) for i in range(86))
#: Similarity below which no paragraph is looked at (saves memory; far below any threshold).
FLOOR = 0.10


@dataclass
class Calibration:
    """The chosen threshold and, per tried threshold, precision, recall and set size."""

    threshold: float
    precision: float
    queries: int
    curve: list[dict[str, float]] = field(default_factory=list)


def calibrate(
    stores: Stores,
    dataset_dir: Path,
    *,
    split: str = "train",
    precision: float = 0.5,
    on_query: Callable[[int], None] | None = None,
) -> Calibration:
    """Choose the semantic threshold for ``stores`` on ``dataset_dir``'s ``split`` (module
    docstring). The corpus must already be ingested into ``stores``."""
    dataset = load_beir(dataset_dir, split)
    table = build_table(stores.catalog)
    grid = np.asarray(GRID)
    members = np.zeros(len(grid))
    relevant_members = np.zeros(len(grid))
    relevant_total = 0
    for n, (qid, text) in enumerate(sorted(dataset.queries.items()), start=1):
        judged = {doc for doc, score in dataset.qrels[qid].items() if score > 0}
        relevant_total += len(judged)
        vector = stores.embedder.embed_query(plain_query(text))
        ids, sims = stores.vectors.range_search(
            vector, FLOOR, stores.settings.max_semantic_paragraphs
        )
        ordinals = table.paragraph_articles(ids)
        keep = ordinals >= 0
        best = np.full(table.size, -np.inf)
        np.maximum.at(best, ordinals[keep], sims[keep].astype(np.float64))
        found = np.flatnonzero(best > -np.inf)
        scores = best[found]
        is_relevant = np.asarray([table.ids[o] in judged for o in found], dtype=bool)
        members += (scores[None, :] >= grid[:, None]).sum(axis=1)
        relevant_members += ((scores[None, :] >= grid[:, None]) & is_relevant[None, :]).sum(axis=1)
        if on_query is not None:
            on_query(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(members > 0, relevant_members / members, 1.0)
    recall = relevant_members / max(relevant_total, 1)
    queries = len(dataset.queries)
    curve = [
        {
            "threshold": float(t),
            "precision": round(float(p), 4),
            "recall": round(float(r), 4),
            "members_per_query": round(float(m) / max(queries, 1), 2),
        }
        for t, p, r, m in zip(grid, prec, recall, members, strict=True)
    ]
    ok = np.flatnonzero(prec >= precision)
    chosen = float(grid[ok[0]]) if len(ok) else float(grid[-1])
    return Calibration(chosen, precision, queries, curve)
