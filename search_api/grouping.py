"""Group ranked paragraphs into ranked articles (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from indexer.models import Hit


@dataclass
class ArticleGroup:
    """An article's score (its best paragraph's) and its paragraphs, best first."""

    article_id: str
    score: float
    hits: list[Hit] = field(default_factory=list)


def article_of(paragraph_id: str) -> str:
    """The article id of a ``{article_id}:{n}`` paragraph id."""
    return paragraph_id.rsplit(":", 1)[0]


def group_by_article(hits: Sequence[Hit]) -> list[ArticleGroup]:
    """Articles ordered by their best paragraph's score (ties: first seen in ``hits`` order).

    ``hits`` must be sorted best first; each group keeps its paragraphs in that order.
    """
    groups: dict[str, ArticleGroup] = {}
    for hit in hits:
        aid = article_of(hit.paragraph_id)
        group = groups.get(aid)
        if group is None:
            groups[aid] = ArticleGroup(aid, hit.score, [hit])
        else:
            group.hits.append(hit)
    return sorted(groups.values(), key=lambda g: -g.score)
