"""A ``POST /articles`` batch, record by record: the good ones become articles, the bad ones
problems (index, field, reason), so one bad record never costs the rest of the batch.

The envelope (``{"articles": [...]}``, 1 to 1,000 items) is validated as a whole (a 422 when
it is broken); each item is validated on its own against
:class:`~search_api.schemas.ArticleIn`: not an object, an unknown field, an empty or
whitespace-only body, a lone surrogate in any text, a date without a zone or not a date, a url
that is not http(s) (``javascript:alert(1)``) are each reported for that item only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indexer.models import Article, stable_article_id
from search_api.api.errors import field_name, message
from search_api.schemas import ArticleIn, RecordProblemOut

#: Most articles in one request (as :class:`~search_api.schemas.ArticlesIn` declares).
MAX_BATCH = 1000


class Envelope(BaseModel):
    """The request body as parsed: the items are checked one by one (module docstring).
    The OpenAPI spec documents the body as :class:`~search_api.schemas.ArticlesIn`."""

    model_config = ConfigDict(extra="forbid")

    articles: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


def to_article(item: ArticleIn) -> Article:
    """The domain article for a valid item (id derived when not given)."""
    date = item.published_at.isoformat() if item.published_at else None
    return Article(
        article_id=item.article_id or stable_article_id(item.url, item.source, item.title, date),
        title=item.title,
        body=item.body,
        source=item.source,
        url=item.url,
        published_at=item.published_at,
        language=item.language,
        section=item.section,
        authors=tuple(item.authors),
        extra=dict(item.extra),
    )


def split_batch(items: list[Any]) -> tuple[list[Article], list[RecordProblemOut]]:
    """The articles of the valid items (in order) and one problem per invalid item."""
    articles: list[Article] = []
    problems: list[RecordProblemOut] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            reason = f"not a JSON object ({type(item).__name__})"
            problems.append(RecordProblemOut(index=index, field=None, reason=reason))
            continue
        try:
            articles.append(to_article(ArticleIn.model_validate(item)))
        except ValidationError as exc:
            errors = exc.errors()
            first = errors[0]
            reason = message(dict(first))
            if len(errors) > 1:
                reason += f" (and {len(errors) - 1} more)"
            loc = first.get("loc", ())
            field = field_name(loc) if loc else None
            problems.append(RecordProblemOut(index=index, field=field, reason=reason))
    return articles, problems
