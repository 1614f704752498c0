"""The dense side of a request: one retriever per encoder of the index (indexer/spaces.py).

Contracts:
- An encoder takes part in a request only when it understands the query's language
  (:func:`indexer.language.detect_language` of the free text; a query too short to tell counts
  as understood by every encoder; when none does, all take part), and then it ranks and admits
  only paragraphs of articles in its languages, of unknown language, or in languages no other
  encoder of the index understands (:func:`scope_of`): beside USE, MiniLM (an English model)
  neither ranks German paragraphs nor makes them semantic matches; alone, it ranks them all.
- Each retriever returns its top ``depth`` paragraphs within the filters (best first, ties by
  id) and, when the set needs it, every paragraph at or above *its own* encoder's threshold
  (similarity scales differ by encoder, search_api/search/calibration.py). The semantic side
  of the set is the union over the retrievers; a paragraph found by several keeps its highest
  similarity.
- Weights: encoder ``i`` gets ``share_i / sum(shares)`` of the dense weight, over the
  encoders that take part (:func:`indexer.spaces.share_of`); per paragraph, the dense weight
  is shared by those whose scope holds it (``search_api.fusion.convex_many``'s groups).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.language import detect_language
from indexer.models import Hit
from indexer.spaces import Space, share_of
from indexer.stores import Stores
from search_api.grouping import article_of
from search_api.search.calibration import is_short, semantic_threshold
from search_api.search.table import ArticleTable, Mask

Ids = npt.NDArray[np.int64]
Sims = npt.NDArray[np.float32]


@dataclass
class DenseList:
    """One encoder's ranked candidates and its semantic matches for a request."""

    name: str
    hits: list[Hit]
    #: Share of the dense weight (the shares of a request's lists add up to 1).
    share: float
    #: Articles whose paragraphs this encoder may rank (``None``: every article).
    scope: Mask | None
    threshold: float
    ids: Ids
    sims: Sims
    #: The vec_ids of ``hits``, hit by hit (search_api/search/head.py).
    vec: Ids | None = None

    def applies_to(self, table: ArticleTable) -> Callable[[str], bool] | None:
        """Predicate on paragraph ids: inside this encoder's :attr:`scope` (``None``: all)."""
        return applies(table, self.scope)


def applies(table: ArticleTable, scope: Mask | None) -> Callable[[str], bool] | None:
    """Predicate on paragraph ids: the paragraph's article is in ``scope`` or not in
    ``table`` (``None`` for no scope: every paragraph)."""
    if scope is None:
        return None

    def inside(paragraph_id: str) -> bool:
        ordinal = table.ordinal(article_of(paragraph_id))
        return ordinal is None or bool(scope[ordinal])

    return inside


def taking_part(stores: Stores, text: str) -> list[Space]:
    """The index's encoders that understand the language of query ``text`` (module
    docstring); every encoder when none does, so a query is never left without one."""
    spaces = stores.spaces
    if len(spaces) == 1:
        return spaces
    return understanding(stores, detect_language(text))


def understanding(stores: Stores, language: str | None) -> list[Space]:
    """The index's encoders that understand text in ``language`` (unknown: all); every
    encoder when none does."""
    spaces = stores.spaces
    return [s for s in spaces if s.applies(language)] or spaces


def in_scope(table: ArticleTable, scope: Mask | None, ids: Ids, sims: Sims) -> tuple[Ids, Sims]:
    """The ``(ids, sims)`` of paragraphs whose article ``scope`` holds (all with ``None``);
    a paragraph not in ``table`` (not committed) is kept."""
    if scope is None:
        return ids, sims
    ordinals = table.paragraph_articles(ids)
    keep = (ordinals < 0) | scope[ordinals.clip(0)]
    return ids[keep], sims[keep]


def scope_of(table: ArticleTable, space: Space, spaces: list[Space]) -> Mask | None:
    """The articles ``space`` ranks: those in its languages, of unknown language, or in a
    language no other encoder of the index (``spaces``) understands (an English-only index
    still ranks its German articles as well as it can); ``None`` when that is all of them."""
    if space.languages is None:
        return None
    others = [s for s in spaces if s.name != space.name]
    if any(s.languages is None for s in others):
        covered: set[str] | None = None  # another encoder reads every language
    else:
        covered = set().union(*(s.languages or () for s in others))
    column = table.columns["language"]
    wanted = set(space.languages)
    if covered is not None:
        wanted |= {v for v in column.values if v.lower() not in covered}
    scope = column.mask(sorted(wanted), table.size)
    if column.offsets is None:
        scope |= column.codes < 0
    return None if bool(scope.all()) else scope


def shares(stores: Stores, spaces: list[Space]) -> list[float]:
    """The dense-weight shares of ``spaces`` (adding up to 1)."""
    raw = [share_of(s.name, stores.settings.dense_shares) for s in spaces]
    total = sum(raw)
    return [r / total if total > 0 else 1 / len(raw) for r in raw]


def thresholds(
    stores: Stores, spaces: list[Space], text: str, override: float | None
) -> list[float]:
    """Each space's semantic threshold for query ``text`` (short and long queries have their
    own, search_api/search/calibration.py; one ``override`` applies to all)."""
    short = is_short(text)
    return [semantic_threshold(stores, override, space=s.name, short=short) for s in spaces]


def union_max(ids: list[Ids], sims: list[Sims]) -> tuple[Ids, Sims]:
    """The union of several ``(ids, sims)`` answers, each id once with its highest sim."""
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if len(ids) == 1:
        return ids[0], sims[0]
    all_ids, all_sims = np.concatenate(ids), np.concatenate(sims)
    order = np.lexsort((-all_sims, all_ids))
    all_ids, all_sims = all_ids[order], all_sims[order]
    first = np.ones(all_ids.size, dtype=bool)
    first[1:] = all_ids[1:] != all_ids[:-1]
    return all_ids[first], all_sims[first].astype(np.float32)
