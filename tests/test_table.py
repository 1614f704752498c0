"""VecIdIndex (search_api/search/table.py): vec_id -> paragraph position, exactly what a
binary search over the sorted vec_ids gives, for uniform hashes and skewed keys alike, in
numpy and in the native module (``newssearch_native``) alike; ``mark`` and
``ArticleTable.leaf_counts`` likewise on both paths."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.catalog import vec_id
from search_api.search.table import ArticleTable, VecIdIndex, mark
from tests.native import INSTALLED, NATIVE, REASON

MAX = (1 << 63) - 1


def by_binary_search(keys: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> list[int]:
    if len(keys) == 0:
        return [-1] * len(ids)
    pos = np.searchsorted(keys, ids).clip(0, len(keys) - 1)
    return np.where(keys[pos] == ids, pos, -1).tolist()


@pytest.mark.parametrize("native", NATIVE)
@settings(max_examples=200, deadline=None)
@given(
    keys=st.sets(st.integers(0, MAX) | st.integers(0, 50), max_size=60),
    others=st.lists(st.integers(-(1 << 63), MAX) | st.integers(-3, 60), max_size=40),
    data=st.data(),
)
def test_positions_are_a_binary_search(
    native: bool, keys: set[int], others: list[int], data: st.DataObject
) -> None:
    arr = np.asarray(sorted(keys), dtype=np.int64)
    present = data.draw(st.lists(st.sampled_from(sorted(keys)), max_size=40)) if keys else []
    ids = np.asarray(present + others, dtype=np.int64)
    got = VecIdIndex.of(arr).positions(ids, native=native)
    assert got.dtype == np.int64
    assert got.tolist() == by_binary_search(arr, ids)
    # With values (a table's article-order positions): the value at the key's index.
    values = np.asarray(data.draw(st.permutations(range(len(arr)))), dtype=np.int64)
    mapped = VecIdIndex.of(arr, values).positions(ids, native=native)
    assert mapped.tolist() == [-1 if i < 0 else int(values[i]) for i in by_binary_search(arr, ids)]


@pytest.mark.parametrize("native", NATIVE)
def test_real_vec_ids_at_scale(native: bool) -> None:
    keys = np.unique(np.asarray([vec_id(f"a{i}:{i % 7}") for i in range(20_000)], np.int64))
    rng = np.random.default_rng(0)
    ids = np.concatenate([rng.choice(keys, 5_000), rng.integers(-5, MAX, 1_000), [-1, MAX, 0]])
    assert VecIdIndex.of(keys).positions(ids, native=native).tolist() == by_binary_search(keys, ids)
    assert VecIdIndex.of(keys[:0]).positions(ids, native=native).tolist() == [-1] * len(ids)
    assert VecIdIndex.of(keys).positions(ids[:0], native=native).tolist() == []


@settings(max_examples=100, deadline=None)
@given(
    size=st.integers(1, 50),
    data=st.data(),
)
def test_mark_is_fancy_assignment(size: int, data: st.DataObject) -> None:
    """table.mark (native for int32 indexes) marks what numpy's ``out[index] = True`` does."""
    via = np.asarray(data.draw(st.lists(st.integers(0, size - 1), max_size=60)), dtype=np.int64)
    index = data.draw(st.lists(st.integers(0, max(len(via) - 1, 0)), max_size=80))
    idx = np.asarray(index if len(via) else [], dtype=np.int32)
    for kind in (np.int32, np.int64):
        direct = np.zeros(size, dtype=bool)
        mark(direct, np.asarray(idx % size, dtype=kind))
        expect = np.zeros(size, dtype=bool)
        expect[idx % size] = True
        assert direct.tolist() == expect.tolist()
        through = np.zeros(size, dtype=bool)
        mark(through, np.asarray(idx, dtype=kind), via)
        expect = np.zeros(size, dtype=bool)
        expect[via[idx]] = True
        assert through.tolist() == expect.tolist()


@pytest.mark.parametrize("native", NATIVE)
def test_mark_refuses_indexes_out_of_range(native: bool) -> None:
    kind = np.int32 if native else np.int64  # int32 goes native where it is installed
    with pytest.raises(IndexError):
        mark(np.zeros(3, dtype=bool), np.asarray([0, 3], dtype=kind))
    with pytest.raises(IndexError):
        mark(np.zeros(3, dtype=bool), np.asarray([1], dtype=kind), np.asarray([0, 5], np.int64))
    with pytest.raises(IndexError):
        mark(np.zeros(3, dtype=bool), np.asarray([2], dtype=kind), np.asarray([0, 1], np.int64))


@pytest.mark.parametrize("native", NATIVE)
@settings(max_examples=150, deadline=None)
@given(
    owners=st.lists(st.integers(0, 12), min_size=1, max_size=60),
    extra=st.integers(0, 3),
    data=st.data(),
)
def test_leaf_counts_count_each_leaf_once_per_article(
    native: bool, owners: list[int], extra: int, data: st.DataObject
) -> None:
    """ArticleTable.leaf_counts (native for int32 positions): per article, how many leaves have
    a paragraph in it, however many of its paragraphs they match; the paragraph mask is the
    union of the leaves' positions. Articles without a matching paragraph count 0."""
    ordinals = np.asarray(sorted(owners), dtype=np.int64)  # non-decreasing, as a table's
    size = int(ordinals[-1]) + 1 + extra
    p = len(ordinals)
    ids = tuple(f"a{i:03d}" for i in range(size))
    table = ArticleTable(
        1, ids, np.zeros(size, np.int64), {}, np.arange(p, dtype=np.int64), ordinals
    )
    kind = np.int32 if native else np.int64
    leaves = [
        np.asarray(data.draw(st.lists(st.integers(0, p - 1), max_size=30)), dtype=kind)
        for _ in range(data.draw(st.integers(0, 6)))
    ]
    marked = np.zeros(p, dtype=bool)
    counts = table.leaf_counts(leaves, marked)
    expect = [sum(any(ordinals[i] == a for i in leaf) for leaf in leaves) for a in range(size)]
    assert counts.dtype == np.int64
    assert counts.tolist() == expect
    union = {int(i) for leaf in leaves for i in leaf}
    assert marked.tolist() == [i in union for i in range(p)]
    assert table.leaf_counts(leaves).tolist() == expect  # without the paragraph mask


@pytest.mark.native
@pytest.mark.skipif(not INSTALLED, reason=REASON)
def test_native_count_refuses_indexes_out_of_range() -> None:
    import newssearch_native

    via = np.asarray([0, 1, 1], dtype=np.int64)
    leaf = np.asarray([0, 3], dtype=np.int32)
    with pytest.raises(IndexError):
        newssearch_native.count(np.zeros(2, np.int64), [leaf], via)
    with pytest.raises(IndexError):  # a position whose article is past ``counts``
        newssearch_native.count(np.zeros(1, np.int64), [np.asarray([2], np.int32)], via)
    with pytest.raises(IndexError):
        newssearch_native.count(np.zeros(2, np.int64), [np.asarray([-1], np.int32)], via)
    with pytest.raises(ValueError):
        newssearch_native.count(np.zeros(2, np.int64), [], via, np.zeros(2, dtype=bool))
