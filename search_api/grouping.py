"""Group ranked paragraphs into ranked articles (pure functions).

An article's score comes from the fused scores of its paragraphs in the candidate lists,
best first (``s_0 >= s_1 >= ...``), by one of :data:`AGGREGATIONS`:

- ``max``: ``s_0`` (the best paragraph);
- ``top2`` / ``top3``: ``s_0 + s_1`` / ``s_0 + s_1 + s_2`` (fewer paragraphs: what there is);
- ``decay``: ``sum_i s_i * DECAY**i`` (every matching paragraph counts, each half the last).

Chosen on checkthat2021-politifact-1k (see docs/evaluation.md): several matching paragraphs
are evidence that the article is about the query, not just mentions it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from indexer.models import Hit

Aggregation = Literal["max", "top2", "top3", "decay"]
AGGREGATIONS: tuple[Aggregation, ...] = get_args(Aggregation)
#: Weight ratio between an article's i-th and (i+1)-th best paragraph in ``decay``.
DECAY = 0.5


@dataclass(slots=True)
class ArticleGroup:
    """An article's score (see :func:`article_score`) and its paragraphs, best first."""

    article_id: str
    score: float
    hits: list[Hit] = field(default_factory=list)
    #: The article-level BM25 part of ``score`` (search_api/search/article_signal.py).
    article_component: float = 0.0


def article_of(paragraph_id: str) -> str:
    """The article id of a ``{article_id}:{n}`` paragraph id."""
    return paragraph_id.rpartition(":")[0]


def article_score(scores: Sequence[float], aggregate: Aggregation = "max") -> float:
    """One article score from its paragraph ``scores`` sorted best first (module docstring)."""
    if aggregate == "max":
        return scores[0]
    if aggregate == "top2":
        return sum(scores[:2])
    if aggregate == "top3":
        return sum(scores[:3])
    if aggregate == "decay":
        return sum(s * DECAY**i for i, s in enumerate(scores))
    raise ValueError(f"unknown aggregation {aggregate!r}")


def group_by_article(hits: Sequence[Hit], aggregate: Aggregation = "max") -> list[ArticleGroup]:
    """Articles ordered by :func:`article_score` (ties: first seen in ``hits`` order).

    ``hits`` must be sorted best first; each group keeps its paragraphs in that order.
    """
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregate!r}")
    members: dict[str, list[Hit]] = {}
    for hit in hits:  # the hot loop of every search: kept to plain dict and list operations
        aid = article_of(hit.paragraph_id)
        found = members.get(aid)
        if found is None:
            members[aid] = [hit]
        else:
            found.append(hit)
    groups = [
        ArticleGroup(
            aid,
            found[0].score
            if aggregate == "max" or len(found) == 1
            else article_score([h.score for h in found], aggregate),
            found,
        )
        for aid, found in members.items()
    ]
    groups.sort(key=lambda g: -g.score)
    return groups
