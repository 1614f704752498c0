"""Domain objects shared by every stage: :class:`Article`, :class:`Paragraph`, :class:`Filters`.

Contracts:
- ``Article.article_id`` is given by the source or derived by :func:`stable_article_id`
  (a hash of the url, else of source+title+date), so re-ingesting a record yields the same id.
- ``Paragraph.paragraph_id`` is ``f"{article_id}:{position}"``; ``start``/``end`` are character
  offsets into ``Article.body`` (``body[start:end]`` is the text the paragraph was cut from,
  before boilerplate removal and heading attachment).
- ``published_at`` is timezone-aware (UTC assumed when the source gives none) or ``None``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator


def stable_hash(*parts: str, length: int = 16) -> str:
    """Hex digest (``length`` chars) of ``parts`` joined by a unit separator; stable across runs."""
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()
    return digest[:length]


def stable_article_id(url: str | None, source: str | None, title: str, date: str | None) -> str:
    """Article id derived from the url when there is one, else from source, title and date."""
    if url:
        return stable_hash("url", url.strip())
    return stable_hash("sta", source or "", title.strip(), date or "")


class Article(BaseModel):
    """One news item as read from a source, before chunking."""

    model_config = ConfigDict(frozen=True)

    article_id: str = Field(min_length=1)
    title: str = ""
    body: str
    source: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    section: str | None = None
    authors: tuple[str, ...] = ()
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("published_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("published_at must be timezone-aware")
        return value

    def content_hash(self) -> str:
        """Hash of every field that affects what gets indexed; changes when the article changes."""
        return stable_hash(
            self.title,
            self.body,
            self.source or "",
            self.url or "",
            self.published_at.isoformat() if self.published_at else "",
            self.language or "",
            self.section or "",
            "\x1e".join(self.authors),
            length=32,
        )


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One indexed chunk of an article, with the article fields filters and facets need."""

    paragraph_id: str
    article_id: str
    position: int
    text: str
    start: int
    end: int
    title: str = ""
    source: str | None = None
    language: str | None = None
    section: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None

    @staticmethod
    def make_id(article_id: str, position: int) -> str:
        """The paragraph id for ``position`` (0-based) in ``article_id``."""
        return f"{article_id}:{position}"

    def text_hash(self) -> str:
        """Hash of the text that is embedded; equal hashes are never embedded twice."""
        return stable_hash(self.text, length=32)


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions applied identically by every retriever (lexical, dense).

    Empty tuples and ``None`` mean "no restriction". ``date_from``/``date_to`` are inclusive and
    timezone-aware; articles without a date never match a date restriction.
    """

    date_from: datetime | None = None
    date_to: datetime | None = None
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = field(default=())

    def is_empty(self) -> bool:
        """True when the filters restrict nothing."""
        return not (
            self.date_from
            or self.date_to
            or self.sources
            or self.languages
            or self.sections
            or self.authors
            or self.article_ids
        )

    def matches(self, paragraph: Paragraph) -> bool:
        """Reference semantics of the filters for one paragraph (used by tests and fallbacks)."""
        if self.sources and paragraph.source not in self.sources:
            return False
        if self.languages and paragraph.language not in self.languages:
            return False
        if self.sections and paragraph.section not in self.sections:
            return False
        if self.authors and not set(self.authors) & set(paragraph.authors):
            return False
        if self.article_ids and paragraph.article_id not in self.article_ids:
            return False
        if self.date_from or self.date_to:
            if paragraph.published_at is None:
                return False
            if self.date_from and paragraph.published_at < self.date_from:
                return False
            if self.date_to and paragraph.published_at > self.date_to:
                return False
        return True


class Hit(NamedTuple):
    """A retriever's answer: a paragraph id and its score, higher is better.

    A named tuple, not a frozen dataclass: every search builds thousands of these, and a tuple
    is created in less than half the time.
    """

    paragraph_id: str
    score: float
