"""The article table: an in-memory, columnar snapshot of every committed article.

Result sets, filters, facets, the timeline and date sorting work on *article ordinals*
(row numbers of this table) with numpy, so their cost does not grow with Python loops over
the set: a facet over 50,000 matching articles is one ``bincount``.

Contracts:
- A table is immutable and belongs to one catalog ``generation`` (see
  :meth:`indexer.catalog.Catalog.generation`); :class:`TableCache` builds a new one when the
  generation moves, so every view of one request sees the same committed content.
- Ordinals follow ``article_id`` order (the catalog returns rows sorted), so ties broken by
  ordinal are ties broken by article id.
- Filters on source, language, section and author compare case-insensitively (after Unicode
  case folding and trimming), and a column holds one value per folded form (spelled as most
  articles spell it), so a facet value counts exactly what filtering by it finds
  (``Inland`` and ``inland`` are one value); ``date_from``/``date_to`` are inclusive and
  never match an undated article. :func:`search_api.engine.filter_masks` (over
  :meth:`Column.mask` and :meth:`ArticleTable.date_mask`) is the one implementation of filter
  semantics for the result set; the retrievers' own filters only shape ranking candidates.
- ``story`` holds one code per story (articles sharing a near-duplicate cluster id share a
  code, :mod:`indexer.dedup`); an article not yet clustered (``story`` NULL) has a code of
  its own, so folding never merges it with anything.
- ``paragraph_articles`` maps a FAISS/lexical ``vec_id`` to its article ordinal, ``-1`` for a
  paragraph that is not committed (pending, deleted, unknown); ``positions`` maps it to its
  row in ``paragraph_vec_ids`` (the *paragraph position*). Positions run in article order
  (an article's paragraphs are adjacent, in vec_id order; ``paragraph_ordinals`` never
  decreases), so per-paragraph work of a set is boolean masks over positions, read out in
  article order by one ``flatnonzero``. The mapping is :class:`VecIdIndex` (built once per
  table over the sorted vec_ids): vec_ids are uniform 63-bit hashes, so their top bits
  bucket the sorted array evenly and a lookup is about two memory reads, not a binary search.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from indexer.catalog import Catalog

try:
    import newssearch_native
except ImportError:  # not built: VecIdIndex looks up with numpy
    newssearch_native = None  # type: ignore[assignment]

Mask = npt.NDArray[np.bool_]
Ordinals = npt.NDArray[np.int64]
#: ``published`` of an undated article (sorts before every real date).
UNDATED = np.iinfo(np.int64).min
FacetField = Literal["source", "language", "section", "author"]
FACET_FIELDS: tuple[FacetField, ...] = ("source", "language", "section", "author")


def fold(value: str) -> str:
    """The form filter values are compared in: trimmed and case-folded."""
    return value.strip().casefold()


@dataclass(frozen=True)
class Column:
    """A categorical column: per article a code into ``values`` (``-1`` = no value), or, for
    multi-valued fields (authors), CSR ``offsets`` into ``codes``. A code stands for every
    stored spelling with the same :func:`fold` (``spellings``); ``values`` shows the most
    frequent one."""

    values: tuple[str, ...]
    codes: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int64] | None = None
    spellings: tuple[tuple[str, ...], ...] = ()

    def codes_for(self, wanted: Iterable[str]) -> npt.NDArray[np.int32]:
        """Codes of the stored values equal to any of ``wanted`` case-insensitively."""
        folded = {fold(w) for w in wanted}
        return np.asarray(
            [i for i, v in enumerate(self.values) if fold(v) in folded], dtype=np.int32
        )

    def stored_values(self, wanted: Iterable[str]) -> tuple[str, ...]:
        """The stored spellings matching ``wanted`` case-insensitively (for backend filters)."""
        codes = [int(i) for i in self.codes_for(wanted)]
        if not self.spellings:
            return tuple(self.values[i] for i in codes)
        return tuple(v for i in codes for v in self.spellings[i])

    def mask(self, wanted: Sequence[str], n: int) -> Mask:
        """Articles having at least one of ``wanted`` (case-insensitive)."""
        codes = self.codes_for(wanted)
        if self.offsets is None:
            return np.isin(self.codes, codes)
        hit = np.isin(self.codes, codes)
        out = np.zeros(n, dtype=bool)
        owners = np.repeat(np.arange(n), np.diff(self.offsets))
        out[owners[hit]] = True
        return out

    def counts(self, members: Ordinals, n: int) -> tuple[npt.NDArray[np.int64], int]:
        """Per code, how many of ``members`` carry it; plus how many carry no value at all."""
        if self.offsets is None:
            codes = self.codes[members]
            have = codes >= 0
            counts = np.bincount(codes[have], minlength=len(self.values))
            return counts.astype(np.int64), int(len(members) - have.sum())
        starts, ends = self.offsets[members], self.offsets[members + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            return np.zeros(len(self.values), dtype=np.int64), len(members)
        idx = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        counts = np.bincount(self.codes[idx], minlength=len(self.values))
        return counts.astype(np.int64), int((lengths == 0).sum())

    def has_code(self, code: int, n: int) -> Mask:
        """Articles carrying the value with this code."""
        if self.offsets is None:
            out: Mask = np.equal(self.codes, code)
            return out
        owners = np.repeat(np.arange(n), np.diff(self.offsets))
        mask = np.zeros(n, dtype=bool)
        mask[owners[self.codes == code]] = True
        return mask

    def value_of(self, ordinal: int) -> list[str]:
        """The value(s) of one article."""
        if self.offsets is None:
            code = int(self.codes[ordinal])
            return [] if code < 0 else [self.values[code]]
        lo, hi = int(self.offsets[ordinal]), int(self.offsets[ordinal + 1])
        return [self.values[int(c)] for c in self.codes[lo:hi]]


@dataclass(frozen=True)
class VecIdIndex:
    """Paragraph position per vec_id over ``keys``, a sorted array of distinct non-negative
    vec_ids (the table's ``paragraph_vec_ids``, sorted): the position of the vec_id at index
    ``i`` of ``keys`` is ``values[i]`` (``i`` itself when ``values`` is None).

    Layout: ``keys`` split into ``2**bits`` buckets by their top ``bits`` bits (of 63), with
    at least twice as many buckets as keys; ``starts[b]`` is the index of the first key whose
    bucket is ``b`` or later (``len(keys)`` past the last). A vec_id is looked up at the start
    of its bucket and then at the following keys while they are smaller (keys are sorted, so
    the scan stops at the first key that is not): uniform hashes put about half a key in a
    bucket, so nearly every lookup is settled by the first read. Answers exactly what a binary
    search over ``keys`` answers, for any input (skewed keys only make it slower). The
    lookup runs in ``newssearch_native`` when it is installed (one pass, ~8x faster than the
    numpy passes), else in numpy; the same answers (tests/test_table.py).
    """

    keys: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    shift: int
    values: npt.NDArray[np.int64] | None = None
    #: The native copy (``newssearch_native.PositionMap``), made on first use.
    _native: list[Any] = field(default_factory=list, compare=False, repr=False)

    def native(self) -> Any:
        """This index as a ``newssearch_native.PositionMap`` (made once), or ``None`` when
        the module is not installed."""
        if newssearch_native is None:
            return None
        if not self._native:  # two threads may both make it: equal maps, no harm
            self._native.append(
                newssearch_native.PositionMap(self.keys, self.starts, self.shift, self.values)
            )
        return self._native[0]

    @classmethod
    def of(
        cls, keys: npt.NDArray[np.int64], values: npt.NDArray[np.int64] | None = None
    ) -> VecIdIndex:
        """The index over ``keys`` (sorted, distinct, non-negative) answering ``values``
        (one per key; None: the key's index)."""
        bits = max(1, len(keys).bit_length()) + 1
        shift = max(0, 63 - bits)
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        counts = np.bincount(keys >> shift, minlength=1 << (63 - shift))
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        if values is not None:
            values = np.ascontiguousarray(values, dtype=np.int64)
            if len(values) != len(keys):
                raise ValueError("one value per key")
        return cls(keys, starts, shift, values)

    def positions(
        self, vec_ids: npt.NDArray[np.int64], *, native: bool | None = None
    ) -> npt.NDArray[np.int64]:
        """Position per vec_id (``values`` at its index in ``keys``, or that index without
        ``values``), ``-1`` where it is not one of the keys. ``native``:
        look up in ``newssearch_native`` (True), in numpy (False), or the former when it is
        installed (None)."""
        vec_ids = np.ascontiguousarray(vec_ids, dtype=np.int64)
        if native or (native is None and newssearch_native is not None):
            native_map = self.native()
            if native_map is None:
                raise ImportError("newssearch_native is not installed (pip install ./native)")
            looked_up: npt.NDArray[np.int64] = native_map.lookup(vec_ids)
            return looked_up
        keys, n = self.keys, len(self.keys)
        if n == 0 or len(vec_ids) == 0:
            return np.full(len(vec_ids), -1, dtype=np.int64)
        # A negative id (FAISS's -1 padding) has a negative bucket: ``starts`` read from the
        # end, and every key is larger, so it is never found and never scanned on.
        at = self.starts[vec_ids >> self.shift]
        np.minimum(at, n - 1, out=at)
        found = keys[at]
        out: npt.NDArray[np.int64] = np.where(found == vec_ids, at, -1)
        rest = np.flatnonzero(found < vec_ids)
        at, wanted = at[rest], vec_ids[rest]
        while len(rest):
            at += 1
            np.minimum(at, n - 1, out=at)
            found = keys[at]
            hit = found == wanted
            out[rest[hit]] = at[hit]
            more = (found < wanted) & (at < n - 1)
            rest, at, wanted = rest[more], at[more], wanted[more]
        if self.values is not None:
            known = out >= 0
            out[known] = self.values[out[known]]
        return out


@dataclass(frozen=True)
class ArticleTable:
    """Every committed article of one generation, as columns (module docstring)."""

    generation: int
    ids: tuple[str, ...]
    published: npt.NDArray[np.int64]  # UTC epoch microseconds, UNDATED when unknown
    columns: dict[str, Column]
    #: vec_id per paragraph position: in article order, vec_id order within an article.
    paragraph_vec_ids: npt.NDArray[np.int64]
    paragraph_ordinals: npt.NDArray[np.int64]  # article ordinal per position (non-decreasing)
    #: Story code per article (module docstring); codes are 0..stories-1.
    story: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    #: Derived arrays computed once per table (see :meth:`date_rank`).
    _derived: dict[str, npt.NDArray[np.int64]] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: The vec_id -> position index, built on first use (see :meth:`positions`).
    _vec_index: list[VecIdIndex] = field(default_factory=list, compare=False, repr=False)

    def date_rank(self, descending: bool) -> npt.NDArray[np.int64]:
        """Per ordinal, its position when every article is sorted by date (newest first when
        ``descending``, else oldest first; undated last, then by ordinal). A fresh copy."""
        key = "date_desc" if descending else "date_asc"
        if key not in self._derived:
            undated = self.published == UNDATED
            when = np.where(undated, 0, self.published)
            order = np.lexsort((np.arange(self.size), -when if descending else when, undated))
            rank = np.empty(self.size, dtype=np.int64)
            rank[order] = np.arange(self.size)
            self._derived[key] = rank
        return self._derived[key].copy()

    @property
    def stories(self) -> int:
        """Number of distinct stories among the committed articles."""
        return int(self.story.max()) + 1 if len(self.story) else 0

    @property
    def size(self) -> int:
        """Number of committed articles."""
        return len(self.ids)

    @property
    def paragraphs(self) -> int:
        """Number of committed paragraphs (positions run from 0 to this, exclusive)."""
        return len(self.paragraph_vec_ids)

    def ordinal(self, article_id: str) -> int | None:
        """The ordinal of ``article_id`` or None when it is not committed."""
        # ids are sorted (SQLite's byte order of UTF-8 is Python's code-point order); a
        # binary search over the tuple needs no second copy of a million ids.
        i = bisect.bisect_left(self.ids, article_id)
        if i < len(self.ids) and self.ids[i] == article_id:
            return i
        return None

    def ordinals_of(self, article_ids: Iterable[str]) -> Ordinals:
        """Ordinals of the committed articles among ``article_ids`` (others dropped)."""
        found = [self.ordinal(a) for a in article_ids]
        return np.asarray([o for o in found if o is not None], dtype=np.int64)

    def vec_index(self) -> VecIdIndex:
        """The vec_id -> position index over ``paragraph_vec_ids`` (built once)."""
        if not self._vec_index:  # two threads may both build it: the same index, no harm
            order = np.argsort(self.paragraph_vec_ids, kind="stable")
            self._vec_index.append(VecIdIndex.of(self.paragraph_vec_ids[order], order))
        return self._vec_index[0]

    def positions(self, vec_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Paragraph position per ``vec_id`` (``-1`` where the paragraph is not committed)."""
        return self.vec_index().positions(vec_ids)

    def paragraph_articles(self, vec_ids: npt.NDArray[np.int64]) -> Ordinals:
        """Article ordinal per ``vec_id`` (``-1`` where the paragraph is not committed)."""
        return self.ordinals_at(self.positions(vec_ids))

    def ordinals_at(self, positions: npt.NDArray[np.int64]) -> Ordinals:
        """Article ordinal per paragraph position (``-1`` stays ``-1``)."""
        out: Ordinals = np.where(positions >= 0, self.paragraph_ordinals[positions], -1)
        return out

    def articles_mask(self, vec_ids: npt.NDArray[np.int64]) -> Mask:
        """Articles with at least one of the paragraphs ``vec_ids``."""
        pos = self.positions(vec_ids)
        return self.articles_at(pos[pos >= 0])

    def articles_at(self, positions: npt.NDArray[np.integer[Any]]) -> Mask:
        """Articles with a paragraph at one of ``positions`` (all valid)."""
        out = np.zeros(self.size, dtype=bool)
        mark(out, positions, self.paragraph_ordinals)
        return out

    def leaf_counts(
        self,
        leaves: Sequence[npt.NDArray[np.integer[Any]]],
        paragraphs: Mask | None = None,
    ) -> npt.NDArray[np.int64]:
        """Per article, how many of ``leaves`` (arrays of valid paragraph positions, one per
        query word or phrase) it has a paragraph in; with ``paragraphs`` (a mask over
        positions) every leaf's positions are also set in it. One native pass per leaf when
        ``newssearch_native`` is installed and the arrays are its kinds (int32, the leaf
        positions), else a sum of :meth:`articles_at` masks; the same result
        (tests/test_table.py)."""
        counts = np.zeros(self.size, dtype=np.int64)
        native = (
            newssearch_native is not None
            and all(leaf.dtype == np.int32 and leaf.flags.c_contiguous for leaf in leaves)
            and self.paragraph_ordinals.flags.c_contiguous
            and (paragraphs is None or paragraphs.flags.c_contiguous)
        )
        if native:
            via = self.paragraph_ordinals
            newssearch_native.count(counts, list(leaves), via, paragraphs)  # type: ignore[arg-type]
            return counts
        for leaf in leaves:
            counts += self.articles_at(leaf)
            if paragraphs is not None:
                paragraphs[leaf] = True
        return counts

    def date_mask(self, date_from: datetime | None, date_to: datetime | None) -> Mask:
        """Articles published within ``[date_from, date_to]`` (undated never match)."""
        out: Mask = np.not_equal(self.published, UNDATED)
        if date_from is not None:
            out &= self.published >= _epoch(date_from)
        if date_to is not None:
            out &= self.published <= _epoch(date_to)
        return out


def mark(
    out: Mask,
    index: npt.NDArray[np.integer[Any]],
    via: npt.NDArray[np.int64] | None = None,
) -> None:
    """``out[index] = True``, or ``out[via[index]] = True``: one native pass when
    ``newssearch_native`` is installed and the arrays are its kinds (int32 ``index``, the leaf
    positions), else numpy's fancy assignment; the same result (tests/test_table.py)."""
    native = (
        newssearch_native is not None
        and index.dtype == np.int32
        and out.flags.c_contiguous
        and index.flags.c_contiguous
        and (via is None or (via.dtype == np.int64 and via.flags.c_contiguous))
    )
    if native:
        newssearch_native.mark(out, index, via)  # type: ignore[arg-type]
    elif via is None:
        out[index] = True
    else:
        out[via[index]] = True


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _epoch(value: datetime) -> int:
    """Microseconds since 1970 (UTC), exact."""
    return (value.astimezone(UTC) - _EPOCH) // _MICROSECOND


def build_table(catalog: Catalog) -> ArticleTable:
    """Read every committed article and paragraph from ``catalog`` into a new table."""
    generation, rows, paragraphs = catalog.snapshot_rows()
    n = len(rows)
    ids = tuple(str(r[0]) for r in rows)
    published = np.full(n, UNDATED, dtype=np.int64)
    for i, r in enumerate(rows):
        if r[5]:
            published[i] = _epoch(datetime.fromisoformat(r[5]))
    columns = {
        "source": _single([r[1] for r in rows]),
        "language": _single([r[2] for r in rows]),
        "section": _single([r[3] for r in rows]),
        "author": _multi([json.loads(r[4]) for r in rows]),
    }
    index = {a: i for i, a in enumerate(ids)}
    vec = np.fromiter((p[0] for p in paragraphs), dtype=np.int64, count=len(paragraphs))
    owner = np.fromiter((index[p[1]] for p in paragraphs), dtype=np.int64, count=len(paragraphs))
    order = np.lexsort((vec, owner))  # article order, vec_id order within an article
    story = _story_codes([r[6] for r in rows])
    return ArticleTable(generation, ids, published, columns, vec[order], owner[order], story)


def _story_codes(stories: list[str | None]) -> npt.NDArray[np.int64]:
    """A code per distinct story id; each unclustered article (None) a code of its own."""
    codes: dict[str, int] = {}
    out = np.empty(len(stories), dtype=np.int64)
    for i, story in enumerate(stories):
        if story is None:
            out[i] = len(codes)
            codes[f"\x00{i}"] = out[i]
        else:
            out[i] = codes.setdefault(story, len(codes))
    return out


def _grouped(
    spelled: Iterable[str],
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], dict[str, int]]:
    """Distinct values grouped by :func:`fold` (ordered by folded form): per group the
    spelling shown (the most frequent, then the smallest) and every spelling; and the code of
    each spelling."""
    counts = Counter(v for v in spelled if v)
    groups: dict[str, list[str]] = {}
    for v in sorted(counts):
        groups.setdefault(fold(v), []).append(v)
    keys = sorted(groups)
    shown = tuple(min(groups[k], key=lambda v: (-counts[v], v)) for k in keys)
    code = {v: i for i, k in enumerate(keys) for v in groups[k]}
    return shown, tuple(tuple(groups[k]) for k in keys), code


def _single(values: list[str | None]) -> Column:
    shown, spellings, code = _grouped(v for v in values if v)
    codes = np.fromiter((code.get(v, -1) if v else -1 for v in values), np.int32, len(values))
    return Column(shown, codes, spellings=spellings)


def _multi(values: list[list[str]]) -> Column:
    shown, spellings, code = _grouped(v for vs in values for v in vs if v)
    per_article = [list(dict.fromkeys(code[v] for v in vs if v)) for vs in values]
    flat = [c for cs in per_article for c in cs]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(cs) for cs in per_article], out=offsets[1:])
    return Column(shown, np.asarray(flat, dtype=np.int32), offsets, spellings)


class TableCache:
    """Holds the table of the catalog's current generation; rebuilds it when that moves.

    ``on_change`` runs before a rebuild (the engine reloads the lexical searcher and FAISS
    there, so the stores are at least as new as the table).
    """

    def __init__(self, catalog: Catalog, on_change: Callable[[], None] | None = None) -> None:
        self.catalog = catalog
        self.on_change = on_change
        self._table: ArticleTable | None = None
        self._lock = threading.Lock()

    def current(self) -> ArticleTable:
        """The table of the current generation (built on first use and after each change)."""
        generation = self.catalog.generation()
        with self._lock:
            table = self._table
            if table is None or table.generation != generation:
                if table is not None and self.on_change is not None:
                    self.on_change()
                table = self._table = build_table(self.catalog)
            return table
