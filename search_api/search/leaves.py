"""Which committed paragraphs match each query word or phrase, cached per index generation.

Lexical membership needs, per leaf of the query (:class:`~indexer.query.Term`,
:class:`~indexer.query.Phrase`), *every* paragraph that matches it
(:meth:`LexicalBackend.matching_vec_ids`), as paragraph positions of the
:class:`~search_api.search.table.ArticleTable`. That is the costly part of a set on a large
index (a common word matches a third of a million paragraphs at 1M), and the same leaves come
back with every facet click, filter change, sort and refinement of a query. So
:class:`LeafCache` keeps them per ``(generation, leaf)``:

- a hit is exactly what a fetch would give on that generation: a new generation is a new key
  (entries of old generations age out of the LRU), and positions only exist in their table;
- the cache is bounded by bytes (:data:`LEAF_CACHE_BYTES`), least recently used out first; a
  leaf larger than the whole budget is not kept;
- a backend failure (``BackendUnavailable``) propagates and caches nothing.

A backend that lists matches as positions itself (``fetch_positions``: the embedded backend
with ``newssearch_native``, given the table's native position map) is asked that way; the
others (Elasticsearch; tantivy-py alone) give vec_ids, mapped here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from search_api.search.membership import Leaf
from search_api.search.table import ArticleTable

Positions = npt.NDArray[np.int32]
#: Default budget: about 16M paragraph positions.
LEAF_CACHE_BYTES = 64 << 20
Fetch = Callable[[Sequence[Leaf]], list[npt.NDArray[np.int64]]]
FetchPositions = Callable[[Sequence[Leaf], Any], list[npt.NDArray[np.int32]] | None]


class LeafCache:
    """LRU of leaf -> matching paragraph positions, per generation (module docstring)."""

    def __init__(self, max_bytes: int = LEAF_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, Leaf], Positions] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def positions(
        self,
        table: ArticleTable,
        leaves: Sequence[Leaf],
        fetch: Fetch,
        fetch_positions: FetchPositions | None = None,
    ) -> dict[Leaf, Positions]:
        """Per distinct leaf, the positions in ``table`` of the committed paragraphs matching
        it; the leaves not cached are fetched with one call: ``fetch_positions(leaves, map)``
        with the table's native position map where both exist and it answers, else
        ``fetch(leaves)`` (vec_ids)."""
        wanted = list(dict.fromkeys(leaves))
        out: dict[Leaf, Positions] = {}
        with self._lock:
            for leaf in wanted:
                found = self._entries.get((table.generation, leaf))
                if found is not None:
                    self._entries.move_to_end((table.generation, leaf))
                    out[leaf] = found
            self.hits += len(out)
            self.misses += len(wanted) - len(out)
        missing = [leaf for leaf in wanted if leaf not in out]
        if not missing:
            return out
        keys = table.vec_index().native() if fetch_positions is not None else None
        direct = fetch_positions(missing, keys) if fetch_positions and keys is not None else None
        if direct is not None:
            out.update(zip(missing, direct, strict=True))
        else:
            for leaf, vec_ids in zip(missing, fetch(missing), strict=True):
                pos = table.positions(vec_ids)
                out[leaf] = pos[pos >= 0].astype(np.int32)
        with self._lock:
            for leaf in missing:
                self._keep((table.generation, leaf), out[leaf])
        return out

    def _keep(self, key: tuple[int, Leaf], value: Positions) -> None:
        if value.nbytes > self.max_bytes or key in self._entries:
            return
        self._entries[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self) -> None:
        """Forget every entry (benchmarks time cold sets with it)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
