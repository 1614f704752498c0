"""VecIdIndex (search_api/search/table.py): vec_id -> paragraph position, exactly what a
binary search over the sorted vec_ids gives, for uniform hashes and skewed keys alike, in
numpy and in the native module (``newssearch_native``) alike."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.catalog import vec_id
from search_api.search.table import VecIdIndex, mark
from tests.native import NATIVE

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
