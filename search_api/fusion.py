"""Rank fusion as pure functions over ``(paragraph_id, score)`` lists (higher is better).

Two families, chosen per request:
- Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): ``sum_i w_i / (k + rank_i)``
  with ranks counted from 1. ``RRF_K = 60`` is the paper's constant. Note: ``k`` is a smoothing
  constant, *not* a top-k cut-off.
- Convex combination of normalised scores: ``alpha * lexical + (1 - alpha) * dense`` after
  per-list min-max (or z-score) normalisation; a document missing from a list gets that list's
  minimum normalised value (0 for min-max), as in Bruch et al., "An Analysis of Fusion Functions
  for Hybrid Retrieval" (TOIS 2023).

Every function returns hits sorted by fused score descending, ties broken by id ascending, so
results are deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Literal

import numpy as np
import numpy.typing as npt

from indexer.models import Hit

#: Cormack et al. 2009. A smoothing constant, not a cut-off.
RRF_K = 60
#: Weight of the lexical list in convex combination (1 - alpha goes to dense).
DEFAULT_ALPHA = 0.5

Normalisation = Literal["minmax", "zscore"]


def _sorted(scores: Mapping[str, float]) -> list[Hit]:
    # Two stable sorts (id, then score descending) beat one sort on a (-score, id) key here.
    items = sorted(scores.items())
    items.sort(key=itemgetter(1), reverse=True)
    return list(map(Hit._make, items))


def rrf(
    rankings: Sequence[Sequence[Hit]],
    *,
    k: int = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[Hit]:
    """Reciprocal rank fusion of ``rankings`` (each best first); ``weights`` default to 1 each."""
    if k <= 0:
        raise ValueError("rrf k must be positive")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.paragraph_id] = fused.get(hit.paragraph_id, 0.0) + weight / (k + rank)
    return _sorted(fused)


def normalise(hits: Sequence[Hit], method: Normalisation = "minmax") -> dict[str, float]:
    """Scores of ``hits`` mapped to a common scale.

    ``minmax``: ``(s - min) / (max - min)`` into [0, 1]; all-equal scores map to 1.
    ``zscore``: ``(s - mean) / std``; a zero std maps every score to 0.
    """
    if not hits:
        return {}
    values = normalised_scores([float(h.score) for h in hits], method)
    return dict(zip([h.paragraph_id for h in hits], values.tolist(), strict=True))


def normalised_scores(scores: Sequence[float], method: Normalisation) -> npt.NDArray[np.float64]:
    """:func:`normalise`'s values for ``scores`` (not empty), in their order: the one
    definition behind the dicts here and the arrays of search_api/search/head.py. The mean
    and the std are summed left to right as Python floats and each value is computed
    elementwise, so both give the same bits."""
    values = np.asarray(scores, dtype=np.float64)
    if method == "minmax":
        lo, hi = min(scores), max(scores)
        span = hi - lo
        return (values - lo) / span if span > 0 else np.ones(len(scores))
    if method == "zscore":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((v - mean) ** 2 for v in scores) / len(scores))
        return (values - mean) / std if std > 0 else np.zeros(len(scores))
    raise ValueError(f"unknown normalisation {method!r}")


def convex(
    lexical: Sequence[Hit],
    dense: Sequence[Hit],
    *,
    alpha: float = DEFAULT_ALPHA,
    method: Normalisation = "minmax",
) -> list[Hit]:
    """``alpha * norm(lexical) + (1 - alpha) * norm(dense)``; missing scores take the list min."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be within [0, 1]")
    return convex_many([lexical, dense], [alpha, 1 - alpha], method=method)


def convex_many(
    rankings: Sequence[Sequence[Hit]],
    weights: Sequence[float],
    *,
    method: Normalisation = "minmax",
    applies: Sequence[Callable[[str], bool] | None] | None = None,
    groups: Sequence[str] | None = None,
) -> list[Hit]:
    """Convex combination of N normalised lists, a paragraph missing from a list taking that
    list's minimum. With every list applying and weights adding up to 1 this is
    ``sum_i w_i * norm_i`` (Bruch et al.).

    A list may not *apply* to a paragraph (``applies[i]``: a predicate on paragraph ids,
    ``None``: every paragraph; an English encoder and a German paragraph): it then neither
    helps nor penalises it. Lists form ``groups`` (default: each its own): per paragraph, a
    group keeps its whole weight, shared by its lists that apply in proportion to their
    weights, and the score is the weighted mean over the groups with a list that applies. So
    with groups ``bm25, dense, dense`` the dense weight ``1 - alpha`` of a German paragraph goes
    wholly to the encoder that reads German, and BM25 keeps ``alpha``."""
    n = len(rankings)
    if len(weights) != n or (applies is not None and len(applies) != n):
        raise ValueError("one weight (and one predicate) per ranking")
    if groups is not None and len(groups) != n:
        raise ValueError("one group per ranking")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    normalised = [normalise(r, method) for r in rankings]
    floors = [min(v.values(), default=0.0) for v in normalised]
    preds = list(applies) if applies is not None else [None] * n
    labels = list(groups) if groups is not None else [str(i) for i in range(n)]
    ids: set[str] = set().union(*(v.keys() for v in normalised))
    if all(p is None for p in preds):  # the common case, without per-paragraph predicates
        parts = [(v, f, w) for v, f, w in zip(normalised, floors, weights, strict=True) if w]
        total_w = sum(w for _, _, w in parts)
        if total_w <= 0:
            return _sorted(dict.fromkeys(ids, 0.0))
        if len(parts) == 2:  # BM25 and one encoder: the same sum, without a generator per id
            (a, fa, wa), (b, fb, wb) = parts
            return _sorted(
                {pid: (0.0 + wa * a.get(pid, fa) + wb * b.get(pid, fb)) / total_w for pid in ids}
            )
        return _sorted({pid: sum(w * v.get(pid, f) for v, f, w in parts) / total_w for pid in ids})
    group_weight: dict[str, float] = {}
    for label, w in zip(labels, weights, strict=True):
        group_weight[label] = group_weight.get(label, 0.0) + w
    fused: dict[str, float] = {}
    for pid in ids:
        sums: dict[str, list[float]] = {}  # group -> [weighted score, weight of applying lists]
        for v, floor, w, pred, label in zip(
            normalised, floors, weights, preds, labels, strict=True
        ):
            if w == 0 or (pred is not None and not pred(pid)):
                continue
            acc = sums.setdefault(label, [0.0, 0.0])
            acc[0] += w * v.get(pid, floor)
            acc[1] += w
        total = sum(group_weight[g] for g in sums)
        fused[pid] = (
            sum(group_weight[g] * score / weight for g, (score, weight) in sums.items()) / total
            if total > 0
            else 0.0
        )
    return _sorted(fused)
