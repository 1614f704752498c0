"""The vector store: a FAISS inner-product index over normalised vectors with stable int64 ids.

Contracts:
- Ids are the catalog's ``vec_id`` (stable 63-bit hashes of paragraph ids, never negative;
  negative ids are refused because ``-1`` marks a tombstone). Adding an id that is present
  replaces its vector; adding the same id twice in one call keeps the last row.
- ``search`` returns ``(vec_id, score)`` best first, score = cosine similarity (higher is
  better), only among ``allowed`` ids when given. A filter never starves the top-k: every
  search returns ``min(k, live allowed vectors)`` hits.
- ``save`` is atomic: the whole store (index *and* tombstones, which live inside the index
  file as ``-1`` labels) is written to a temporary file in the same directory, fsynced and
  renamed over the old one, so a crash leaves either the old or the new store, never a torn
  one. The constructor loads the saved store (or starts empty); :meth:`reload_if_changed`
  picks up a newer save made by another process.
- ``len(store)`` and :meth:`ids` count live vectors only (tombstones excluded).

Index type, chosen by size (figures: docs/benchmarks.md, measured on 2 cores):

- **Exact** (``IndexIDMap2(IndexFlatIP)``) while the store holds at most ``hnsw_threshold``
  vectors (default 100k): ~20 ms per query at 100k on one thread, exact, true removals.
- **HNSW** (``IndexIDMap(IndexHNSWFlat)``, inner-product metric, ``M=32``,
  ``efConstruction=100``) above it: exact search would cost ~195 ms at 1M on one thread;
  HNSW answers in ~1-5 ms. The search beam ``efSearch`` grows with the store
  (:func:`default_ef_search`): 96 up to 200k vectors (recall@10 0.98 at 100k), 512 above
  (0.95 at 1M), measured against exact search on MiniLM vectors by
  ``benchmarks/faiss_recall.py`` (docs/benchmarks.md). A search for ``k`` results never
  uses a beam narrower than ``k``.
- **Conversion** flat -> HNSW happens automatically inside :meth:`add` (or :meth:`save`, for a
  store loaded from an older file) as soon as the count exceeds the threshold; it rebuilds the
  graph from the stored vectors once (~3 min per 100k vectors on 2 busy cores). Loading never
  converts, so read-only processes never pay for it. A compaction that leaves fewer than
  ``hnsw_threshold // 2`` live vectors goes back to exact (hysteresis, so a store hovering
  around the threshold does not flip back and forth).
- **Removal under HNSW**: an HNSW graph cannot drop nodes, so a removed or replaced vector
  becomes a *tombstone*: its label is set to ``-1`` in the id map, searches exclude it with an
  ``IDSelector`` (it still routes graph traversal, which keeps recall), and it costs memory
  until compaction. When tombstones exceed ``compact_fraction`` (default 20 %) of the stored
  slots, :meth:`save` rebuilds the index from the live vectors (also available as
  :meth:`compact`). Amortised this is cheap: 20 % of a 1M store is 200k re-embedded
  paragraphs, hours of embedding against minutes of rebuilding. Every ``save`` rewrites the
  whole file (1.7 GB at 1M vectors, a few seconds), once per ingest commit.
- **Filtered search under HNSW**: a filter that keeps at most ``FILTER_EXACT_FRACTION`` of
  the live vectors (or at most ``FILTER_EXACT_MAX`` of them) is answered exactly over just the
  allowed vectors (their slots as an ``IDSelectorBitmap`` over the flat storage), because HNSW
  with a selective selector wastes its beam on excluded nodes and can return fewer than k.
  Wider filters run HNSW with the selector and a beam widened by the inverse selectivity; if
  that still returns fewer than k, the exact path answers.
- **Filters as a mask over a fixed id array** (:meth:`VectorStore.search_within`): a caller
  that filters the same id array again and again (the article table's paragraph vec_ids) gives
  that array and a row mask instead of an id list. The store translates the array into HNSW
  slots once (kept while the array lives and the store is unchanged), so a filter costs a mask
  gather instead of a sorted lookup of every allowed id (a filter keeping ~976k of 1M vectors:
  ~280 ms per search for the id list, docs/benchmarks.md).

Threads: FAISS parallelises a single query over OpenMP threads, which on a busy 2-core server
only adds contention (measured: one FAISS thread and one torch thread per query halve
latency under concurrent load). :func:`configure_threads` sets the number of FAISS threads
used by :meth:`VectorStore.search`; a serving process calls ``configure_threads(1)`` at
start-up (the API's lifespan), ingest processes leave the default.
OpenMP's thread count is a per-thread setting, so the store applies it in every thread that
searches (a web server's worker threads included), not just the one that called it.
"""

from __future__ import annotations

import math
import os
import threading
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

#: Above this many vectors the store switches from exact search to HNSW.
DEFAULT_HNSW_THRESHOLD = 100_000
#: HNSW graph degree (links per node on layers > 0; 2*M on the base layer).
HNSW_M = 32
#: Beam width while building the graph.
HNSW_EF_CONSTRUCTION = 100
#: Beam width while searching up to :data:`HNSW_LARGE` vectors (recall@10 0.98 at 100k) ...
HNSW_EF_SEARCH = 96
#: ... and above it (recall@10 0.95 at 1M); see benchmarks/faiss_recall.py.
HNSW_EF_SEARCH_LARGE = 512
HNSW_LARGE = 200_000
#: Tombstones above this fraction of stored slots trigger a rebuild at :meth:`save`.
COMPACT_FRACTION = 0.2
#: Filters keeping at most this fraction of live vectors are answered exactly under HNSW ...
FILTER_EXACT_FRACTION = 0.05
#: ... and so are filters keeping at most this many vectors.
FILTER_EXACT_MAX = 20_000
#: Cap on the widened HNSW beam for filtered searches.
MAX_EF_SEARCH = 2048
_TOMBSTONE = -1
#: ``faiss`` seen as untyped, for the parts its stubs lack (HNSW parameters, downcasts).
_faiss: Any = faiss

_threads_lock = threading.Lock()
_search_threads: int | None = None
_local = threading.local()


def configure_threads(n: int | None) -> None:
    """Use ``n`` OpenMP threads for every FAISS search made by :class:`VectorStore`.

    ``None`` restores FAISS's default (one thread per core). Call it once at start-up of a
    serving process (``configure_threads(1)``); it takes effect in whichever thread searches.
    Ingest processes should leave it unset so HNSW graph building uses every core.
    """
    global _search_threads
    if n is not None and n < 1:
        raise ValueError("thread count must be >= 1")
    with _threads_lock:
        _search_threads = n
    _apply_threads()


def _apply_threads() -> None:
    wanted = _search_threads
    if getattr(_local, "threads", None) == wanted:
        return
    faiss.omp_set_num_threads(wanted if wanted is not None else os.cpu_count() or 1)
    _local.threads = wanted


def _distinct(arr: IdArray) -> IdArray:
    """Sorted distinct values (sort-based: numpy's hash-based ``unique`` is ~10x slower on
    hundreds of thousands of ids)."""
    arr = np.sort(arr)
    if len(arr) > 1:
        arr = arr[np.append(True, arr[1:] != arr[:-1])]
    return arr


def default_ef_search(n: int) -> int:
    """The HNSW search beam for a store of ``n`` vectors (recall@10 >= 0.95 vs exact)."""
    return HNSW_EF_SEARCH if n <= HNSW_LARGE else HNSW_EF_SEARCH_LARGE


class VectorStore:
    """FAISS vectors persisted at ``path``; thread-safe (one lock around the index).

    ``hnsw_threshold``, ``hnsw_m``, ``ef_construction``, ``ef_search`` (``None``: by size,
    :func:`default_ef_search`) and ``compact_fraction`` tune the index type and HNSW (see the
    module docstring); tests lower ``hnsw_threshold`` to exercise HNSW on small data.
    """

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD,
        hnsw_m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int | None = None,
        compact_fraction: float = COMPACT_FRACTION,
    ) -> None:
        self.path = path
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.compact_fraction = compact_fraction
        self._lock = threading.RLock()
        self._mtime: float | None = None
        self._dead = 0
        self._hnsw = False
        self._lookup: tuple[IdArray, IdArray] | None = None
        #: Bumped whenever an HNSW slot's id may change (load, add, removal, rebuild; a flat
        #: store has no slots, and becomes HNSW only through a rebuild).
        self._version = 0
        #: search_within's translation: (the id array, the version, its slots).
        self._universe: tuple[weakref.ref[IdArray], int, IdArray] | None = None
        self._index: Any = self._new_flat()
        self._set_index(self._load_or_new())

    # -- index construction -------------------------------------------------------------------
    def _new_flat(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _new_hnsw(self) -> faiss.Index:
        inner = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = self.ef_construction
        return faiss.IndexIDMap(inner)

    def _set_index(self, index: Any) -> None:
        inner = _faiss.downcast_index(index.index)
        self._index = index
        self._hnsw = isinstance(inner, faiss.IndexHNSW)
        self._lookup = None
        self._version += 1
        self._dead = int(np.count_nonzero(self._labels() < 0)) if self._hnsw else 0

    def _load_or_new(self) -> faiss.Index:
        if not self.path.exists():
            return self._new_flat()
        index = faiss.read_index(str(self.path))
        if index.d != self.dim:
            raise ValueError(
                f"{self.path} holds {index.d}-dimensional vectors but the model makes {self.dim}; "
                "use a new index directory or the model the index was built with"
            )
        self._mtime = self.path.stat().st_mtime
        return index

    def _build(self, ids: IdArray, vectors: Vectors, hnsw: bool) -> None:
        """Replace the index by a fresh one of the given type holding ``vectors`` under ``ids``."""
        index = self._new_hnsw() if hnsw else self._new_flat()
        step = 65_536
        for i in range(0, len(ids), step):
            index.add_with_ids(
                np.ascontiguousarray(vectors[i : i + step]), np.ascontiguousarray(ids[i : i + step])
            )
        self._set_index(index)

    def _live(self) -> tuple[IdArray, Vectors]:
        """Copies of every live id and its vector (both index types)."""
        if self._hnsw:
            labels = self._labels()
            slots = np.flatnonzero(labels >= 0)
            return labels[slots].copy(), self._storage()[slots].copy()
        n = int(self._index.ntotal)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        inner = _faiss.downcast_index(self._index.index)
        vecs = faiss.rev_swig_ptr(inner.get_xb(), n * self.dim).reshape(n, self.dim).copy()
        return ids, vecs

    # -- HNSW internals -----------------------------------------------------------------------
    def _labels(self) -> IdArray:
        """Writable view of the id map (slot -> id, -1 = tombstone); invalid after an add."""
        id_map = self._index.id_map
        n = int(id_map.size())
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        view: IdArray = faiss.rev_swig_ptr(id_map.data(), n)
        return view

    def _storage(self) -> Vectors:
        """Read-only view of the HNSW base vectors, one row per slot."""
        inner = _faiss.downcast_index(self._index.index)
        flat = _faiss.downcast_index(inner.storage)
        n = int(flat.ntotal)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        view: Vectors = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim)
        return view

    def _slots(self, ids: IdArray) -> IdArray:
        """HNSW slot of each id, -1 where the id is not live."""
        labels = self._labels()
        if self._lookup is None:
            live = np.flatnonzero(labels >= 0)
            order = np.argsort(labels[live], kind="stable")
            self._lookup = (labels[live][order], live[order].astype(np.int64))
        keys, slots = self._lookup
        if len(keys) == 0 or len(ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        found = slots[pos]
        # The lookup may predate removals: a slot only counts while its label is still the id.
        ok = (keys[pos] == ids) & (labels[found] == ids)
        out: IdArray = np.where(ok, found, -1).astype(np.int64)
        return out

    def _kill(self, ids: IdArray) -> int:
        slots = self._slots(ids)
        slots = slots[slots >= 0]
        self._version += 1
        self._labels()[slots] = _TOMBSTONE
        self._dead += len(slots)
        return len(slots)

    def _bitmap(self, slots: IdArray) -> npt.NDArray[np.uint8]:
        """A FAISS bitmap (little bit order) with the bits of ``slots`` set."""
        mask = np.zeros(int(self._index.ntotal), dtype=bool)
        mask[slots] = True
        bitmap: npt.NDArray[np.uint8] = np.packbits(mask, bitorder="little")
        return bitmap

    def _by_slot(self, scores: Any, found: Any) -> list[tuple[int, float]]:
        labels = self._labels()
        return [
            (int(labels[s]), float(d)) for s, d in zip(found[0], scores[0], strict=True) if s >= 0
        ]

    def _exact_over_slots(self, q: Vectors, k: int, slots: IdArray) -> list[tuple[int, float]]:
        """Exact top-k among the given HNSW slots (a bitmap selector over the flat storage)."""
        flat = _faiss.downcast_index(_faiss.downcast_index(self._index.index).storage)
        bitmap = self._bitmap(slots)  # must outlive the search: the selector points into it
        sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
        scores, found = flat.search(q, min(k, len(slots)), params=params)
        return self._by_slot(scores, found)

    def _hnsw_search(
        self, q: Vectors, k: int, slots: IdArray | None, selectivity: float
    ) -> list[tuple[int, float]]:
        """HNSW top-k, among ``slots`` when given (a bitmap selector on the graph's own ids,
        which avoids translating every visited node through the id map)."""
        base = self.ef_search or default_ef_search(int(self._index.ntotal) - self._dead)
        ef = max(base, k)
        if slots is not None:
            bitmap = self._bitmap(slots)
            sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
            ef = min(max(ef, math.ceil(ef / selectivity)), max(MAX_EF_SEARCH, k))
            inner = _faiss.downcast_index(self._index.index)
            params = _faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
            scores, found = inner.search(q, k, params=params)
            return self._by_slot(scores, found)
        # Tombstones carry the label -1: keep labels >= 0 (translated by the id map).
        live = faiss.IDSelectorNot(faiss.IDSelectorRange(-(2**63), 0)) if self._dead else None
        params = _faiss.SearchParametersHNSW(sel=live, efSearch=ef)
        scores, found = self._index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]

    # -- public API ---------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"flat"`` (exact) or ``"hnsw"``."""
        return "hnsw" if self._hnsw else "flat"

    @property
    def tombstones(self) -> int:
        """Removed or replaced vectors still held by an HNSW graph (0 for flat)."""
        return self._dead

    def reload_if_changed(self) -> bool:
        """Reload from disk when another process saved a newer store; True if reloaded."""
        if not self.path.exists():
            return False
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return False
        with self._lock:
            self._set_index(self._load_or_new())
        return True

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Insert or replace vectors (rows of ``vectors``, L2-normalised) under ``ids``.

        Converts the store to HNSW when the count passes ``hnsw_threshold``.
        """
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {(len(ids), self.dim)} vectors, got {vectors.shape}")
        arr = np.asarray(ids, dtype=np.int64)
        if (arr < 0).any():
            raise ValueError("vector ids must be non-negative")
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        order = np.argsort(arr, kind="stable")
        repeated = arr[order][1:] == arr[order][:-1]
        if repeated.any():  # keep the last row of a repeated id
            keep = np.sort(order[np.append(~repeated, True)])
            arr, vecs = arr[keep], np.ascontiguousarray(vecs[keep])
        with self._lock:
            if self._hnsw:
                self._kill(arr)
                self._index.add_with_ids(vecs, arr)
                self._lookup = None
                self._version += 1
            else:
                self._index.remove_ids(faiss.IDSelectorBatch(arr))
                self._index.add_with_ids(vecs, arr)
                self._maybe_convert()

    def _maybe_convert(self) -> None:
        if not self._hnsw and self._index.ntotal > self.hnsw_threshold:
            self._build(*self._live(), hnsw=True)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove ``ids`` (unknown ones ignored); returns how many were removed."""
        arr = _distinct(np.fromiter(ids, dtype=np.int64))
        if arr.size == 0:
            return 0
        with self._lock:
            if self._hnsw:
                return self._kill(arr)
            return int(self._index.remove_ids(faiss.IDSelectorBatch(arr)))

    def search(
        self, query: Vectors, k: int, allowed: Sequence[int] | IdArray | None = None
    ) -> list[tuple[int, float]]:
        """Top-``k`` ``(id, cosine)`` for one normalised query vector, best first.

        With ``allowed``, only those ids are candidates (unknown ids are ignored).
        """
        _apply_threads()
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:
            live = len(self)
            if live == 0 or k <= 0:
                return []
            if allowed is not None and len(allowed) == 0:
                return []
            if not self._hnsw:
                params = None
                if allowed is not None:
                    sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                    params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
                scores, found = self._index.search(q, min(k, live), params=params)
                return [
                    (int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0
                ]
            if allowed is None:
                want = min(k, live)
                hits = self._hnsw_search(q, want, None, 1.0)
                if len(hits) < want:  # starved by tombstones: exact over every live vector
                    hits = self._exact_over_slots(q, want, np.flatnonzero(self._labels() >= 0))
                return hits
            # Duplicates are harmless here (they set the same bit), so no costly de-duplication.
            slots = self._slots(np.asarray(allowed, dtype=np.int64))
            slots = slots[slots >= 0]
            if len(slots) == 0:
                return []
            if len(slots) > 1 and not (slots[1:] > slots[:-1]).all():
                slots = _distinct(slots)
            return self._among_slots(q, k, slots, live)

    def _among_slots(
        self, q: Vectors, k: int, slots: IdArray, live: int
    ) -> list[tuple[int, float]]:
        """Top-``k`` among distinct live HNSW ``slots`` (module docstring, filtered search):
        exact when the filter is selective, else HNSW with a bitmap selector and a widened
        beam, exact again if that returns fewer than k. Call with the lock held."""
        want = min(k, len(slots))
        selectivity = len(slots) / live
        if len(slots) <= FILTER_EXACT_MAX or selectivity <= FILTER_EXACT_FRACTION:
            return self._exact_over_slots(q, want, slots)
        hits = self._hnsw_search(q, want, slots, selectivity)
        if len(hits) < want:
            hits = self._exact_over_slots(q, want, slots)
        return hits

    def prepare_within(self, universe: IdArray) -> None:
        """Translate ``universe`` for :meth:`search_within` now (a serving process's warm-up:
        ~0.25 s per million ids), not on the first filtered search. Nothing for a flat store."""
        with self._lock:
            if self._hnsw:
                self._universe_slots(universe)

    def _universe_slots(self, universe: IdArray) -> IdArray:
        """HNSW slot of each row of ``universe`` (-1: not live), kept while ``universe`` lives
        and the store is unchanged. Call with the lock held."""
        cached = self._universe
        if cached is not None and cached[0]() is universe and cached[1] == self._version:
            return cached[2]
        slots = self._slots(np.asarray(universe, dtype=np.int64))
        self._universe = (weakref.ref(universe), self._version, slots)
        return slots

    def search_within(
        self, query: Vectors, k: int, universe: IdArray, selected: npt.NDArray[np.bool_]
    ) -> list[tuple[int, float]]:
        """:meth:`search` with ``allowed = universe[selected]``: ``universe`` an int64 id array
        the caller keeps and filters again (distinct ids), ``selected`` a bool mask over its
        rows. Under HNSW the array is translated to slots once per array and store state (the
        module docstring); a flat store searches the ids."""
        if len(selected) != len(universe):
            raise ValueError("selected must have one flag per universe row")
        _apply_threads()
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with self._lock:  # reentrant: search takes it again
            if not self._hnsw:
                return self.search(query, k, universe[selected])
            live = len(self)
            if live == 0 or k <= 0:
                return []
            slots = self._universe_slots(universe)[selected]
            slots = slots[slots >= 0]
            if len(slots) == 0:
                return []
            return self._among_slots(q, k, slots, live)

    def range_search(
        self, query: Vectors, threshold: float, max_results: int
    ) -> tuple[IdArray, Vectors]:
        """Every live ``(id, cosine)`` with cosine >= ``threshold``, as two arrays (any order).

        Flat (exact) stores answer with FAISS's range search: exact. HNSW stores have no exact
        range search, so this asks for the top-k with k growing (x4 from 1,024) until the k-th
        similarity falls below ``threshold``: the answer is every vector at or above the
        threshold *that HNSW's top-k finds*, i.e. it misses what a top-k search at that depth
        misses (recall@10 0.95-0.98 in benchmarks/faiss_recall.py). Raises
        :class:`~indexer.errors.ResultSetTooLarge` when more than ``max_results`` vectors
        qualify (the caller must not present a truncated set as complete).
        """
        return self._range(query, threshold, max_results, 0)[1:]

    def search_with_range(
        self, query: Vectors, k: int, threshold: float, max_results: int
    ) -> tuple[list[tuple[int, float]], IdArray, Vectors]:
        """:meth:`search` (no filter) and :meth:`range_search` of one query at once.

        Flat stores answer each exactly, as those two would. Under HNSW the range's first
        top-k search (k at least ``k`` and 1,024) also gives the top-``k``: one graph search
        instead of two (the dense side of a hybrid request at 1M vectors), its beam as wide
        as that k (the top-``k`` finds at least what a search for ``k`` alone finds, as
        HNSW recall grows with the beam).
        """
        top, found, scores = self._range(query, threshold, max_results, k)
        if top is None:
            top = self.search(query, k)
        return top, found, scores

    def _range(
        self, query: Vectors, threshold: float, max_results: int, k: int
    ) -> tuple[list[tuple[int, float]] | None, IdArray, Vectors]:
        """:meth:`range_search`'s answer, and under HNSW the top-``k`` of its first search
        (``None`` for a flat store, or ``k`` 0)."""
        from indexer.errors import ResultSetTooLarge

        _apply_threads()
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # FAISS keeps inner products strictly above the radius: step one ulp down for ">=".
        radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))
        top: list[tuple[int, float]] | None = None
        with self._lock:
            live = len(self)
            if live == 0:
                none: list[tuple[int, float]] | None = [] if k > 0 else None
                return none, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            if not self._hnsw:
                lims, sims, ids = self._index.range_search(q, radius)
                found, scores = ids[lims[0] : lims[1]], sims[lims[0] : lims[1]]
            else:
                depth = min(max(1024, k), live)
                while True:
                    hits = self.search(query, depth)
                    if top is None and k > 0:
                        top = hits[:k]
                    if len(hits) < depth or hits[-1][1] < threshold or depth >= live:
                        break
                    if depth > max_results:
                        break
                    depth = min(depth * 4, live)
                found = np.asarray([i for i, _ in hits], dtype=np.int64)
                scores = np.asarray([s for _, s in hits], dtype=np.float32)
                keep = scores >= threshold
                found, scores = found[keep], scores[keep]
        if len(found) > max_results:
            raise ResultSetTooLarge(
                f"more than {max_results:,} paragraphs are at or above similarity "
                f"{threshold:.3f}; raise min_similarity, add filters or set semantic=false"
            )
        return top, found.astype(np.int64), scores.astype(np.float32)

    def ids(self) -> set[int]:
        """Every stored (live) id."""
        with self._lock:
            if self._index.ntotal == 0:
                return set()
            if self._hnsw:
                labels = self._labels()
                return {int(i) for i in labels[labels >= 0]}
            id_map = self._index.id_map
            return {int(i) for i in faiss.vector_to_array(id_map)}

    def reconstruct(self, ids: Sequence[int]) -> Vectors:
        """Stored vectors for ``ids``, one row each; ``KeyError`` for an unknown id."""
        arr = np.asarray(ids, dtype=np.int64)
        with self._lock:
            if len(arr) == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            if self._hnsw:
                slots = self._slots(arr)
                if (slots < 0).any():
                    raise KeyError(int(arr[np.argmax(slots < 0)]))
                out: Vectors = self._storage()[slots].astype(np.float32)
                return out
            rows = []
            for i in arr:
                try:
                    rows.append(self._index.reconstruct(int(i)))
                except RuntimeError as exc:
                    raise KeyError(int(i)) from exc
            return np.vstack(rows).astype(np.float32)

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.ntotal) - self._dead

    def compact(self) -> None:
        """Rebuild the index from its live vectors, dropping tombstones.

        The result is HNSW unless fewer than ``hnsw_threshold // 2`` vectors are live.
        """
        with self._lock:
            ids, vecs = self._live()
            self._build(ids, vecs, hnsw=len(ids) >= self.hnsw_threshold // 2)

    def save(self) -> None:
        """Persist atomically (temp file in the same directory, fsync, rename, fsync dir).

        Before writing, a flat store above the threshold is converted to HNSW, and an HNSW
        store whose tombstones exceed ``compact_fraction`` of its slots is compacted.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with self._lock:
            self._maybe_convert()
            if self._hnsw and self._dead > self.compact_fraction * self._index.ntotal:
                self.compact()
            faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._mtime = self.path.stat().st_mtime
