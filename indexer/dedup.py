"""Syndication: near-duplicate articles clustered into stories (MinHash/LSH, datasketch).

Contracts:
- An article's **signature** is the MinHash (``num_perm`` permutations) of the set of its word
  shingles (``shingle`` consecutive words of its title and paragraph texts, case-folded,
  ``\\w+`` tokens); an article with no word has none and is always a story of its own. A
  signature is stored in the catalog as ``num_perm`` little-endian uint32 (datasketch's hash
  values are below 2**32), so a process rebuilds the LSH index from the catalog, never from a
  file of its own: nothing to keep crash-safe but SQLite.
- Two articles are **near-duplicates** when the Jaccard similarity estimated from their
  signatures is at least ``threshold``. LSH (:class:`datasketch.MinHashLSH` tuned for that
  threshold) only proposes candidates; every candidate is checked against the threshold.
- A **story** is a connected component of the near-duplicate graph (single linkage: a copy of
  a copy is the same story). Its id is the smallest article id among its members, so it is a
  pure function of the committed articles: re-ingesting a changed article or deleting one
  recomputes the components it touched (:meth:`StoryIndex.assign`), and an article that stops
  being a copy leaves its story, a story whose smallest member is deleted gets the next one's
  id, and a story split by a deletion becomes two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash, MinHashLSH

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


class StoryIndex:
    """The LSH index of every committed signature, and the component search over it.

    Not thread-safe: the one writer of an index (ingest, the API's write lock) owns it.
    """

    def __init__(self, threshold: float, num_perm: int) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"story threshold must be in (0, 1], not {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._sigs: dict[str, Signature] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    @classmethod
    def load(cls, catalog: StoryCatalog, threshold: float, num_perm: int) -> StoryIndex:
        """An index of every committed signature in ``catalog``."""
        index = cls(threshold, num_perm)
        with index._lsh.insertion_session() as session:
            for article_id, blob in catalog.clustered_signatures():
                sig = decode(blob)
                if len(sig) != num_perm:
                    continue  # made with other parameters: reclustering recomputes it
                index._sigs[article_id] = sig
                session.insert(article_id, _lean(sig), check_duplication=False)
        return index

    def put(self, article_id: str, sig: Signature | None) -> None:
        """Insert, replace (``sig``) or remove (None) one article's signature."""
        if article_id in self._sigs:
            self._lsh.remove(article_id)
            del self._sigs[article_id]
        if sig is not None and len(sig) == self.num_perm:
            self._sigs[article_id] = sig
            self._lsh.insert(article_id, _lean(sig), check_duplication=False)

    def neighbours(self, article_id: str) -> list[str]:
        """Indexed articles whose estimated Jaccard with ``article_id`` reaches the
        threshold (the article itself left out; none when it is not indexed)."""
        sig = self._sigs.get(article_id)
        if sig is None:
            return []
        found = self._lsh.query(_lean(sig))
        return [
            str(o)
            for o in found
            if o != article_id and similarity(sig, self._sigs[o]) >= self.threshold
        ]

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


def _lean(sig: Signature) -> LeanMinHash:
    return LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64))


def changed_stories(old: Mapping[str, str | None], new: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``new`` that differ from ``old`` (what a catalog update must write)."""
    return {a: s for a, s in new.items() if old.get(a) != s}
