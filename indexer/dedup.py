"""Syndication: near-duplicate articles clustered into stories (MinHash/LSH, datasketch).

Contracts:
- An article's **signature** is the MinHash (``num_perm`` permutations) of the set of its word
  shingles (``shingle`` consecutive words of its title and paragraph texts, case-folded,
  ``\\w+`` tokens); an article with no word has none and is always a story of its own. A
  signature is stored in the catalog as ``num_perm`` little-endian uint32 (datasketch's hash
  values are below 2**32).
- Two articles are **near-duplicates** when the Jaccard similarity estimated from their
  signatures is at least ``threshold``. LSH only proposes candidates: the signature is cut
  into the ``b`` bands of ``r`` values :class:`datasketch.MinHashLSH` chooses for that
  threshold (:class:`Banding`), and two articles are candidates when one band of theirs is
  equal (they share a **bucket**). Every candidate is checked against the threshold.
- The buckets of every committed signature live in the catalog (table ``story_buckets``,
  written in the transaction of each commit or delete): nothing to rebuild, nothing to keep
  crash-safe but SQLite, and two writing processes see each other's articles.
- A **story** is a connected component of the near-duplicate graph (single linkage: a copy of
  a copy is the same story). Its id is the smallest article id among its members, so it is a
  pure function of the committed articles: re-ingesting a changed article or deleting one
  recomputes the components it touched (:meth:`StoryIndex.assign`), and an article that stops
  being a copy leaves its story, a story whose smallest member is deleted gets the next one's
  id, and a story split by a deletion becomes two.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+")
Signature = npt.NDArray[np.uint32]


def shingles(text: str, size: int) -> set[bytes]:
    """The set of ``size``-word shingles of ``text`` (the whole text when it is shorter)."""
    words = _WORD.findall(text.casefold())
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def signature(title: str, texts: Iterable[str], *, shingle: int, num_perm: int) -> bytes | None:
    """The stored signature of an article (module docstring), or None when it has no word."""
    grams = shingles("\n".join([title, *texts]), shingle)
    if not grams:
        return None
    mh = MinHash(num_perm=num_perm)
    mh.update_batch(list(grams))
    return np.asarray(mh.hashvalues, dtype="<u4").tobytes()


def decode(blob: bytes) -> Signature:
    """A stored signature as an array."""
    return np.frombuffer(blob, dtype="<u4")


def similarity(a: Signature, b: Signature) -> float:
    """The Jaccard similarity estimated from two signatures of the same ``num_perm``."""
    return float(np.count_nonzero(a == b)) / len(a)


#: ``story_threshold``'s default (:class:`indexer.settings.Settings`), and the banding a
#: catalog migrated to schema version 2 is filled with.
DEFAULT_THRESHOLD = 0.6
#: One LSH bucket of a signature: ``(band, key)``, ``key`` a signed 64-bit hash of the band's
#: ``rows`` hash values (two signatures share a bucket iff that band of theirs is equal, up to
#: 64-bit hash collisions, ~3e-8 per band at a million articles, which only add a candidate
#: that is checked against the threshold like any other).
Bucket = tuple[int, int]


@dataclass(frozen=True)
class Banding:
    """LSH banding: ``bands`` bands of ``rows`` hash values of a ``num_perm`` signature."""

    num_perm: int
    bands: int
    rows: int

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int) -> Banding:
        """The banding :class:`datasketch.MinHashLSH` chooses for ``threshold`` and
        ``num_perm`` (its ``b`` and ``r``, default false positive/negative weights)."""
        return _banding(threshold, num_perm)

    def buckets(self, sig: Signature) -> list[Bucket]:
        """The ``bands`` buckets of ``sig`` (none when it has another ``num_perm``)."""
        if len(sig) != self.num_perm:
            return []
        raw = np.ascontiguousarray(sig, dtype="<u4").tobytes()
        width = 4 * self.rows
        return [
            (
                band,
                int.from_bytes(
                    hashlib.blake2b(raw[band * width : (band + 1) * width], digest_size=8).digest(),
                    "little",
                    signed=True,
                ),
            )
            for band in range(self.bands)
        ]


@lru_cache(maxsize=32)
def _banding(threshold: float, num_perm: int) -> Banding:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return Banding(num_perm=num_perm, bands=int(lsh.b), rows=int(lsh.r))


@dataclass(frozen=True)
class StoryParams:
    """What ``meta.story_minhash`` records: signature parameters (fixed at an index's first
    clustering) and the banding its LSH buckets were written with (``banding`` None: none
    written yet, or a record from before schema version 2).

    Stored as JSON ``{"shingle", "num_perm", "threshold", "bands", "rows"}``; the version-1
    form ``"<shingle>x<num_perm>"`` is still read."""

    shingle: int
    num_perm: int
    threshold: float | None = None
    banding: Banding | None = None

    @classmethod
    def parse(cls, value: str) -> StoryParams:
        """The parameters in a ``meta.story_minhash`` value (either form)."""
        if not value.startswith("{"):
            legacy_shingle, legacy_perms = value.split("x")
            return cls(int(legacy_shingle), int(legacy_perms))
        raw = json.loads(value)
        num_perm = int(raw["num_perm"])
        banding = Banding(num_perm, int(raw["bands"]), int(raw["rows"])) if "bands" in raw else None
        threshold = float(raw["threshold"]) if raw.get("threshold") is not None else None
        return cls(int(raw["shingle"]), num_perm, threshold, banding)

    def dump(self) -> str:
        """The ``meta.story_minhash`` value (JSON form)."""
        out: dict[str, object] = {"shingle": self.shingle, "num_perm": self.num_perm}
        if self.banding is not None:
            out.update(threshold=self.threshold, bands=self.banding.bands, rows=self.banding.rows)
        return json.dumps(out, sort_keys=True)

    def banded(self, threshold: float) -> StoryParams:
        """These parameters with the banding for ``threshold``."""
        return replace(
            self, threshold=threshold, banding=Banding.for_threshold(threshold, self.num_perm)
        )


class StoryCatalog(Protocol):
    """What clustering reads from the catalog (:class:`indexer.catalog.Catalog` has it)."""

    def signatures(self, article_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Stored signatures of the given articles (any state); unknown ids are absent."""
        ...

    def clustered_signatures(self) -> Iterable[tuple[str, bytes]]:
        """``(article_id, signature)`` of every committed article that has one."""
        ...

    def story_members(self, article_ids: Sequence[str]) -> list[str]:
        """Every article sharing a story with one of ``article_ids`` (them included)."""
        ...


class BucketStore(Protocol):
    """Where an index keeps its LSH buckets and signatures: :class:`MemoryBuckets`, or the
    catalog's ``story_buckets`` table (:class:`indexer.catalog.Catalog`)."""

    def put_buckets(self, article_id: str, buckets: Sequence[Bucket]) -> None:
        """Make ``buckets`` the buckets of ``article_id`` (none: it leaves the index)."""
        ...

    def bucket_candidates(self, buckets: Sequence[Bucket]) -> set[str]:
        """The distinct articles that share at least one of ``buckets``."""
        ...

    def signatures(self, article_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Stored signatures of the given articles; unknown ids are absent."""
        ...


class MemoryBuckets:
    """A :class:`BucketStore` in memory (tests, benchmarks; the product uses the catalog's)."""

    def __init__(self) -> None:
        self._table: dict[Bucket, set[str]] = {}
        self._of: dict[str, list[Bucket]] = {}
        self.sigs: dict[str, bytes] = {}

    def put_buckets(self, article_id: str, buckets: Sequence[Bucket]) -> None:
        """See :class:`BucketStore`."""
        for bucket in self._of.pop(article_id, []):
            members = self._table[bucket]
            members.discard(article_id)
            if not members:
                del self._table[bucket]
        if buckets:
            self._of[article_id] = list(buckets)
            for bucket in buckets:
                self._table.setdefault(bucket, set()).add(article_id)

    def bucket_candidates(self, buckets: Sequence[Bucket]) -> set[str]:
        """See :class:`BucketStore`."""
        return set().union(*(self._table.get(b, set()) for b in buckets))

    def signatures(self, article_ids: Sequence[str]) -> dict[str, bytes | None]:
        """See :class:`BucketStore`."""
        return {a: self.sigs[a] for a in article_ids if a in self.sigs}


class StoryIndex:
    """LSH over committed signatures (buckets in a :class:`BucketStore`), and the component
    search over it.

    With the catalog as its store it holds no state of its own: its buckets are written in
    the caller's transaction (a commit or delete), so it is never rebuilt and two writing
    processes see each other's articles. Not thread-safe: the one writer of an index owns it.
    """

    def __init__(self, threshold: float, num_perm: int, store: BucketStore | None = None) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"story threshold must be in (0, 1], not {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.banding = Banding.for_threshold(threshold, num_perm)
        self._memory: MemoryBuckets | None = None
        if store is None:
            store = self._memory = MemoryBuckets()
        self.store: BucketStore = store

    @classmethod
    def load(cls, catalog: StoryCatalog, threshold: float, num_perm: int) -> StoryIndex:
        """An in-memory index of every committed signature in ``catalog``."""
        index = cls(threshold, num_perm)
        for article_id, blob in catalog.clustered_signatures():
            index.put(article_id, decode(blob))
        return index

    def put(self, article_id: str, sig: Signature | None) -> None:
        """Insert, replace (``sig``) or remove (None) one article's signature. A catalog store
        holds the signature itself: only the buckets are written."""
        buckets = [] if sig is None else self.banding.buckets(sig)
        if self._memory is not None:
            self._memory.sigs.pop(article_id, None)
            if buckets and sig is not None:
                self._memory.sigs[article_id] = np.asarray(sig, dtype="<u4").tobytes()
        self.store.put_buckets(article_id, buckets)

    def neighbours(self, article_id: str) -> list[str]:
        """Indexed articles whose estimated Jaccard with ``article_id`` reaches the
        threshold (the article itself left out; none when it has no usable signature)."""
        blob = self.store.signatures([article_id]).get(article_id)
        if blob is None:
            return []
        sig = decode(blob)
        buckets = self.banding.buckets(sig)
        if not buckets:
            return []
        found = self.store.bucket_candidates(buckets)
        if article_id not in found:
            return []  # not indexed (e.g. pending): none, as before it is committed
        others = sorted(found - {article_id})
        sigs = self.store.signatures(others)
        out = []
        for other in others:
            theirs = sigs.get(other)
            if theirs is None:
                continue
            decoded = decode(theirs)
            if len(decoded) == self.num_perm and similarity(sig, decoded) >= self.threshold:
                out.append(other)
        return out

    def components(self, seeds: Iterable[str]) -> dict[str, str]:
        """For every article in a component holding one of ``seeds``: its story id."""
        out: dict[str, str] = {}
        for seed in seeds:
            if seed in out:
                continue
            component = {seed}
            frontier = [seed]
            while frontier:
                node = frontier.pop()
                for other in self.neighbours(node):
                    if other not in component:
                        component.add(other)
                        frontier.append(other)
            story = min(component)
            out.update(dict.fromkeys(component, story))
        return out

    def assign(
        self, catalog: StoryCatalog, changed: Sequence[str], removed: Sequence[str] = ()
    ) -> dict[str, str]:
        """Update the index for articles about to be committed (``changed``, their new
        signatures read from ``catalog``) or deleted (``removed``); returns the story id of
        every remaining article whose component they touched (write it in the same
        transaction as the commit or delete)."""
        gone = set(removed)
        seeds = set(catalog.story_members([*changed, *removed])) | set(changed)
        for article_id in removed:
            self.put(article_id, None)
        for article_id, blob in catalog.signatures(list(changed)).items():
            self.put(article_id, None if blob is None else decode(blob))
        return self.components(sorted(seeds - gone))

    def cluster_all(self, article_ids: Iterable[str]) -> dict[str, str]:
        """The story of every one of ``article_ids`` (all the index holds, plus any without a
        signature: each its own story)."""
        return self.components(sorted(article_ids))


def changed_stories(old: Mapping[str, str | None], new: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``new`` that differ from ``old`` (what a catalog update must write)."""
    return {a: s for a, s in new.items() if old.get(a) != s}
