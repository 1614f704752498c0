"""LeafCache (search_api/search/leaves.py): per-generation, byte-bounded, failure-safe.

Unit tests of the cache logic over hand-made tables; that cached matches give the same sets
as fresh ones on real indexes of both backends is tests/test_result_set.py
(``test_cached_word_matches_follow_the_index``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from indexer.errors import BackendUnavailable
from indexer.query import Phrase, Term
from search_api.search.leaves import LeafCache
from search_api.search.membership import Leaf
from search_api.search.table import ArticleTable


def table(generation: int, vec_ids: list[int]) -> ArticleTable:
    """A table of one article per paragraph (vec_ids sorted)."""
    vec = np.asarray(sorted(vec_ids), dtype=np.int64)
    owners = np.arange(len(vec), dtype=np.int64)
    return ArticleTable(
        generation, tuple(f"a{i}" for i in owners), np.zeros(len(vec), np.int64), {}, vec, owners
    )


class Backend:
    """Answers ``matching_vec_ids`` from a dict, counting calls."""

    def __init__(self, matches: dict[Leaf, list[int]]) -> None:
        self.matches = matches
        self.calls: list[list[Leaf]] = []
        self.down = False

    def __call__(self, leaves: Sequence[Leaf]) -> list[npt.NDArray[np.int64]]:
        if self.down:
            raise BackendUnavailable("down")
        self.calls.append(list(leaves))
        return [np.asarray(self.matches.get(leaf, []), dtype=np.int64) for leaf in leaves]


A, B, P = Term("a"), Term("b"), Phrase(("a", "b"))


def test_hits_are_what_a_fetch_gives_and_skip_the_backend() -> None:
    backend = Backend({A: [30, 10, 99], B: [20], P: []})
    t = table(1, [10, 20, 30])
    cache = LeafCache()
    first = cache.positions(t, [A, B, P, A], backend)
    assert {leaf: sorted(v.tolist()) for leaf, v in first.items()} == {A: [0, 2], B: [1], P: []}
    assert backend.calls == [[A, B, P]]  # one call, each leaf once; 99 is not committed
    again = cache.positions(t, [B, A], backend)
    assert backend.calls == [[A, B, P]] and cache.hits == 2
    assert all(np.array_equal(again[k], first[k]) for k in (A, B))


def test_a_new_generation_is_fetched_again() -> None:
    backend = Backend({A: [10, 30]})
    cache = LeafCache()
    cache.positions(table(1, [10, 20, 30]), [A], backend)
    moved = cache.positions(table(2, [5, 10, 30]), [A], backend)
    assert len(backend.calls) == 2
    assert sorted(moved[A].tolist()) == [1, 2]  # positions in the new table


def test_the_budget_is_bytes_least_recently_used_out_first() -> None:
    leaves = [Term(f"w{i}") for i in range(4)]
    backend = Backend({leaf: [10, 20, 30, 40] for leaf in leaves})  # 16 bytes each
    t = table(1, [10, 20, 30, 40])
    cache = LeafCache(max_bytes=40)
    cache.positions(t, leaves[:2], backend)
    cache.positions(t, leaves[:1], backend)  # w0 used again: w1 is now the oldest
    cache.positions(t, leaves[2:3], backend)  # 48 bytes > 40: w1 goes
    backend.calls.clear()
    cache.positions(t, leaves[:3], backend)
    assert backend.calls == [[leaves[1]]]
    huge = LeafCache(max_bytes=8)  # a leaf bigger than the budget is never kept
    huge.positions(t, leaves[:1], backend)
    huge.positions(t, leaves[:1], backend)
    assert huge.hits == 0


def test_a_failing_backend_caches_nothing() -> None:
    backend = Backend({A: [10]})
    t = table(1, [10])
    cache = LeafCache()
    backend.down = True
    with pytest.raises(BackendUnavailable):
        cache.positions(t, [A], backend)
    backend.down = False
    assert cache.positions(t, [A], backend)[A].tolist() == [0]
    assert cache.hits == 0 and len(backend.calls) == 1
