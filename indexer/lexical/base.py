"""The ``LexicalBackend`` Protocol: what every BM25 store (embedded, Elasticsearch) promises.

Contract (checked by ``tests/contract/lexical_contract.py`` for every implementation):
- ``upsert`` replaces any paragraph with the same ``paragraph_id``; writes become visible to
  ``search``/``fetch``/``count`` after ``commit`` (implementations may show them earlier).
- ``search`` returns at most ``limit`` hits, unique by ``paragraph_id``, sorted by score
  descending (higher is better; ties broken by ``paragraph_id`` ascending), only paragraphs
  that match both the query tree and the filters. Scores are BM25 (k1=1.2, b=0.75).
- The query is a tree of :mod:`indexer.query` nodes; ``Term``/``Phrase`` on field ``"text"``
  search the paragraph text, on ``"title"`` the article title. Text is analysed per language
  (stemming for German, English and Russian at least; a standard analyser otherwise); a query
  term is analysed with every language's analyser, so no query-language guess is needed.
- ``delete_articles`` removes every paragraph of the given articles; unknown ids are ignored.
- ``highlight`` returns, per paragraph id, the ``(start, end)`` character spans in that
  paragraph's text where query terms match; paragraphs that do not match map to ``[]``.
- Stop words are indexed like every other word (stemming stays), so phrases match exactly
  (``"Die Linke"``, ``"Nur-Sultan"``); which stop words a plain query leaves out is decided by
  the query parser (:mod:`indexer.query`), never by a backend.
- ``matching_vec_ids`` returns, per leaf, the FAISS ids of *every* matching paragraph (no
  limit, no filters): exactly the paragraphs ``search(leaf, Filters(), limit=everything)``
  returns, mapped through :func:`indexer.catalog.vec_id`.
- Errors: an unreachable store raises :class:`~indexer.errors.BackendUnavailable`. A store
  written by an older NewsSearch (other analysers or schema) raises
  :class:`LexicalIndexOutdated` (a ``BackendUnavailable``) from every search, highlight,
  ``matching_vec_ids`` and ``upsert``, with advice to run ``newssearch repair --lexical``;
  ``count``, ``paragraph_ids``, ``fetch``, deletes, ``reset`` and ``close`` still work on it, and
  ``reset`` turns it into a current, empty store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from indexer.errors import BackendUnavailable
from indexer.languages import STEMMED_LANGUAGES
from indexer.models import Filters, Hit, Paragraph
from indexer.query import Node, Phrase, Term

__all__ = [
    "STEMMED_LANGUAGES",
    "LexicalBackend",
    "LexicalIndexOutdated",
    "VecIdSearch",
    "analyzer_language",
]

#: What to run when a lexical store is outdated (also named in :class:`LexicalIndexOutdated`).
REBUILD_ADVICE = "run `newssearch repair --lexical` to rebuild it from the catalog"


class LexicalIndexOutdated(BackendUnavailable):
    """The lexical store was built by another NewsSearch version (other analysers or schema):
    it would answer wrongly, so it does not answer. ``newssearch repair --lexical`` rebuilds
    it (``LexicalBackend.reset`` and a rewrite from the catalog)."""


def analyzer_language(language: str | None) -> str:
    """The analyser key for a paragraph language: one of ``STEMMED_LANGUAGES`` or ``"std"``."""
    return language if language in STEMMED_LANGUAGES else "std"


@runtime_checkable
class LexicalBackend(Protocol):
    """A BM25 paragraph store. See the module docstring for the full contract."""

    name: str

    def upsert(self, paragraphs: Sequence[Paragraph]) -> None:
        """Insert or replace ``paragraphs`` (by ``paragraph_id``)."""

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        """Remove every paragraph belonging to ``article_ids``."""

    def delete_paragraphs(self, paragraph_ids: Iterable[str]) -> None:
        """Remove the given paragraphs; unknown ids are ignored."""

    def commit(self) -> None:
        """Make all previous writes durable and visible to readers."""

    def search(self, query: Node, filters: Filters, limit: int) -> list[Hit]:
        """BM25 top-``limit`` paragraphs matching ``query`` and ``filters``, best first."""

    def fetch(self, paragraph_ids: Sequence[str]) -> dict[str, Paragraph]:
        """Stored paragraphs by id; ids not stored are absent from the result."""

    def highlight(
        self,
        query: Node,
        paragraph_ids: Sequence[str],
        known: Mapping[str, Paragraph] | None = None,
    ) -> dict[str, list[tuple[int, int]]]:
        """Character spans of query matches in each paragraph's text.

        ``known`` optionally supplies paragraphs the caller already holds (same ids, same text
        as stored), so a backend that analyses text locally need not fetch them again.
        """

    def matching_vec_ids(self, leaves: Sequence[Term | Phrase]) -> list[npt.NDArray[np.int64]]:
        """For each leaf (a Term or Phrase on field "text" or "title"), the vec_ids
        (indexer.catalog.vec_id(paragraph_id)) of every stored, committed paragraph that matches
        it: no filters, no limit, distinct, any order. A leaf that analyses to nothing -> empty
        array. Raises BackendUnavailable when the store cannot be reached.

        One array per leaf, in the order of ``leaves`` (repeated leaves get equal arrays).
        A paragraph matches a leaf exactly when ``search(leaf, Filters(), limit)`` with a large
        enough ``limit`` returns it. Raises ``ValueError`` for any other node or field.
        """

    def count(self) -> int:
        """Number of stored paragraphs."""

    def paragraph_ids(self) -> Iterator[str]:
        """Every stored paragraph id (any order); used by ``check`` and ``repair``."""

    def reset(self) -> None:
        """Drop every paragraph and recreate the store empty, in the current schema and
        analysers (before a rebuild from the catalog)."""

    def close(self) -> None:
        """Release files, writers and connections. Idempotent."""


@runtime_checkable
class VecIdSearch(Protocol):
    """Optional fast path: a backend that can answer a search with FAISS ids directly."""

    def search_vec_ids(
        self, query: Node, filters: Filters, limit: int
    ) -> list[tuple[int, float]] | None:
        """``(vec_id, score)`` pairs of :meth:`LexicalBackend.search`, best first (ties in
        any order); ``None`` when the backend cannot answer this way (then use ``search``)."""


@runtime_checkable
class PositionSearch(Protocol):
    """Optional fast path: a backend that lists word matches as the positions a vec_id map
    (a ``newssearch_native.PositionMap``: the article table's) gives them, not as vec_ids."""

    def matching_positions(
        self, leaves: Sequence[Term | Phrase], keys: Any
    ) -> list[npt.NDArray[np.int32]] | None:
        """Per leaf, the position ``keys`` maps each match's vec_id to, for every match
        :meth:`LexicalBackend.matching_vec_ids` lists whose vec_id ``keys`` holds (any order);
        ``None`` when the backend cannot answer this way (then use ``matching_vec_ids``)."""
