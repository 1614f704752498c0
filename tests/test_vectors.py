"""FAISS vector store: ids, replacement, filtered search, atomic save and reload from disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.vectors import VectorStore


def unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return out


@pytest.fixture
def data() -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(7)
    return [10**17 + i for i in range(50)], unit(rng.normal(size=(50, 8)))


def test_search_ranks_by_cosine(tmp_path: Path, data: tuple[list[int], np.ndarray]) -> None:
    ids, vecs = data
    store = VectorStore(tmp_path / "v.faiss", 8)
    store.add(ids, vecs)
    got = store.search(vecs[3], 5)
    assert got[0][0] == ids[3]
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)
    exact = sorted(((float(vecs[3] @ v), i) for i, v in zip(ids, vecs, strict=True)), reverse=True)
    assert [i for i, _ in got] == [i for _, i in exact[:5]]


def test_filtered_search_only_returns_allowed(
    tmp_path: Path, data: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = data
    store = VectorStore(tmp_path / "v.faiss", 8)
    store.add(ids, vecs)
    allowed = ids[40:43]
    got = store.search(vecs[3], 10, allowed)
    assert {i for i, _ in got} == set(allowed)
    assert store.search(vecs[3], 10, []) == []


def test_add_replaces_and_remove(tmp_path: Path, data: tuple[list[int], np.ndarray]) -> None:
    ids, vecs = data
    store = VectorStore(tmp_path / "v.faiss", 8)
    store.add(ids, vecs)
    store.add([ids[0]], vecs[1:2])
    assert len(store) == 50
    assert np.allclose(store.reconstruct([ids[0]])[0], vecs[1])
    assert store.remove([ids[0], 12345]) == 1
    assert len(store) == 49 and ids[0] not in store.ids()
    with pytest.raises(ValueError):
        store.add([1, 2], vecs[:1])


def test_save_is_atomic_and_reloads(tmp_path: Path, data: tuple[list[int], np.ndarray]) -> None:
    ids, vecs = data
    path = tmp_path / "v.faiss"
    store = VectorStore(path, 8)
    store.add(ids, vecs)
    store.save()
    assert path.exists() and not path.with_suffix(".faiss.tmp").exists()
    again = VectorStore(path, 8)
    assert again.ids() == set(ids)
    assert again.search(vecs[7], 1)[0][0] == ids[7]
    # A torn temp file from a crashed save never replaces the good index.
    path.with_suffix(".faiss.tmp").write_bytes(b"garbage")
    assert VectorStore(path, 8).ids() == set(ids)


def test_reload_if_changed_sees_other_writers(
    tmp_path: Path, data: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = data
    path = tmp_path / "v.faiss"
    reader = VectorStore(path, 8)
    writer = VectorStore(path, 8)
    writer.add(ids[:5], vecs[:5])
    writer.save()
    os.utime(path, (1, 1))  # make the change visible even within one mtime tick
    assert reader.reload_if_changed()
    assert len(reader) == 5
    assert not reader.reload_if_changed()


def test_dimension_mismatch_is_a_clear_error(
    tmp_path: Path, data: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = data
    store = VectorStore(tmp_path / "v.faiss", 8)
    store.add(ids, vecs)
    store.save()
    with pytest.raises(ValueError, match="8-dimensional"):
        VectorStore(tmp_path / "v.faiss", 16)


# -- HNSW mode (forced with a small threshold) ------------------------------------------------


def clustered(n: int, dim: int = 32, centres: int = 20, seed: int = 3) -> np.ndarray:
    """Unit vectors around random centres: structured like text embeddings, unlike noise."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, dim))
    return unit(c[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, dim)))


def exact_top(vecs: np.ndarray, ids: list[int], q: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vecs @ q), kind="stable")[:k]
    return [ids[i] for i in order]


def hnsw_store(path: Path, dim: int = 32, **kw: float) -> VectorStore:
    return VectorStore(path, dim, hnsw_threshold=200, ef_construction=64, **kw)  # type: ignore[arg-type]


@pytest.fixture
def big() -> tuple[list[int], np.ndarray]:
    return [5 * 10**15 + 7 * i for i in range(2000)], clustered(2000)


def test_flat_below_threshold_converts_to_hnsw_above(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    store = hnsw_store(tmp_path / "v.faiss")
    store.add(ids[:200], vecs[:200])
    assert store.kind == "flat"
    store.add(ids[200:], vecs[200:])
    assert store.kind == "hnsw" and len(store) == 2000 and store.ids() == set(ids)
    assert np.allclose(store.reconstruct([ids[5], ids[1500]]), vecs[[5, 1500]])
    with pytest.raises(KeyError):
        store.reconstruct([42])


def test_hnsw_recall_against_exact(tmp_path: Path, big: tuple[list[int], np.ndarray]) -> None:
    ids, vecs = big
    store = hnsw_store(tmp_path / "v.faiss")
    store.add(ids, vecs)
    queries = clustered(50, seed=11)
    hits = 0
    for q in queries:
        got = store.search(q, 10)
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
        hits += len({i for i, _ in got} & set(exact_top(vecs, ids, q, 10)))
    assert hits / (10 * len(queries)) >= 0.95


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_range_search_and_search_with_range(
    tmp_path: Path, big: tuple[list[int], np.ndarray], kind: str
) -> None:
    """range_search: every vector at or above the threshold (exact on a flat store; on HNSW
    what its widening top-k finds); search_with_range answers search (no filter) and
    range_search at once, from one graph search under HNSW. More qualifying vectors than the
    maximum is ResultSetTooLarge, never a cut set."""
    from indexer.errors import ResultSetTooLarge

    ids, vecs = big
    store = VectorStore(tmp_path / "v.faiss", 32, hnsw_threshold=200 if kind == "hnsw" else 5000)
    store.add(ids, vecs)
    assert store.kind == kind
    removed = ids[1:2000:9]
    store.remove(removed)
    live = [i for i in ids if i not in set(removed)]
    rows = {i: r for i, r in zip(ids, vecs, strict=True)}
    for n, q in enumerate(clustered(8, seed=5)):
        sims = sorted(((float(rows[i] @ q), i) for i in live), reverse=True)
        threshold = sims[[40, 300, 1300][n % 3]][0]  # past HNSW's first top-1,024 once
        expect = {i for s, i in sims if s >= threshold}
        found, scores = store.range_search(q, threshold, 5000)
        got = set(found.tolist())
        assert len(got) == len(found) and bool((scores >= threshold).all())
        if kind == "flat":
            assert got == expect
        else:
            assert got <= expect and len(got) >= 0.95 * len(expect)
        top, both_ids, both_scores = store.search_with_range(q, 50, threshold, 5000)
        assert set(both_ids.tolist()) == got
        assert np.allclose(np.sort(both_scores), np.sort(scores))
        assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
        assert len(top) == 50 and not {i for i, _ in top} & set(removed)
        alone = store.search(q, 50)
        if kind == "flat":
            assert top == alone
        else:  # the wider beam finds at least as many of the true top 50
            best = {i for _, i in sims[:50]}
            assert len({i for i, _ in top} & best) >= len({i for i, _ in alone} & best)
        with pytest.raises(ResultSetTooLarge):
            store.search_with_range(q, 50, threshold, len(expect) // 2)
    assert store.search_with_range(clustered(1)[0], 10, 2.0, 10)[1].tolist() == []


def test_hnsw_remove_and_replace_use_tombstones(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    store = hnsw_store(tmp_path / "v.faiss", compact_fraction=0.9)
    store.add(ids, vecs)
    assert store.remove([ids[0], ids[1], 12345]) == 2
    assert store.remove([ids[0]]) == 0
    assert len(store) == 1998 and store.tombstones == 2
    assert ids[0] not in store.ids()
    # Removed vectors are never returned, even for a query equal to them.
    assert all(i not in (ids[0], ids[1]) for i, _ in store.search(vecs[0], 50))
    # Replacing an id moves it: its old vector is no longer found under it.
    store.add([ids[2]], vecs[1000:1001])
    assert len(store) == 1998 and store.tombstones == 3
    assert np.allclose(store.reconstruct([ids[2]])[0], vecs[1000])
    top = store.search(vecs[1000], 2)
    assert {i for i, _ in top} == {ids[2], ids[1000]}
    assert ids[2] not in {i for i, _ in store.search(vecs[2], 1)}
    # Removed ids can come back.
    store.add([ids[0]], vecs[:1])
    assert store.search(vecs[0], 1)[0][0] == ids[0]
    with pytest.raises(ValueError, match="non-negative"):
        store.add([-5], vecs[:1])


def test_hnsw_filtered_search_selective_and_wide(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    store = hnsw_store(tmp_path / "v.faiss")
    store.add(ids, vecs)
    store.remove(ids[:10])
    q = vecs[0]
    # Very selective: 3 allowed ids (one removed, one unknown) -> exactly the live ones.
    got = store.search(q, 10, [ids[5], ids[700], ids[1900], 999])
    assert {i for i, _ in got} == {ids[700], ids[1900]}
    # Wide filter (half the store) still fills k with allowed ids only, near-exactly ranked.
    allowed = ids[::2]
    got = store.search(q, 20, allowed)
    assert len(got) == 20 and {i for i, _ in got} <= set(allowed[5:])
    live = [i for i in allowed if i not in ids[:10]]
    sub = vecs[[ids.index(i) for i in live]]
    assert len({i for i, _ in got} & set(exact_top(sub, live, q, 20))) >= 18
    assert store.search(q, 10, []) == []


def test_hnsw_save_reload_keeps_tombstones_and_compacts(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    path = tmp_path / "v.faiss"
    store = hnsw_store(path, compact_fraction=0.2)
    store.add(ids, vecs)
    store.remove(ids[:100])
    store.save()
    again = hnsw_store(path)
    assert again.kind == "hnsw" and again.tombstones == 100 and len(again) == 1900
    assert again.ids() == set(ids[100:])
    assert again.search(vecs[150], 1)[0][0] == ids[150]
    assert ids[50] not in {i for i, _ in again.search(vecs[50], 10)}
    # Past the tombstone fraction, save compacts: tombstones gone, contents unchanged.
    again.remove(ids[100:500])
    again.save()
    assert again.tombstones == 0 and len(again) == 1500
    third = hnsw_store(path)
    assert third.kind == "hnsw" and third.tombstones == 0 and third.ids() == set(ids[500:])
    assert np.allclose(third.reconstruct([ids[600]])[0], vecs[600])


def test_compaction_below_half_threshold_goes_back_to_flat(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    store = hnsw_store(tmp_path / "v.faiss")
    store.add(ids[:300], vecs[:300])
    assert store.kind == "hnsw"
    store.remove(ids[:250])
    store.compact()
    assert store.kind == "flat" and len(store) == 50 and store.ids() == set(ids[250:300])


def test_reload_if_changed_switches_index_type(
    tmp_path: Path, big: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = big
    path = tmp_path / "v.faiss"
    reader = hnsw_store(path)
    writer = hnsw_store(path)
    writer.add(ids, vecs)
    writer.save()
    os.utime(path, (1, 1))
    assert reader.reload_if_changed() and reader.kind == "hnsw" and len(reader) == 2000


def test_duplicate_ids_in_one_add_keep_the_last_row(
    tmp_path: Path, data: tuple[list[int], np.ndarray]
) -> None:
    ids, vecs = data
    flat = VectorStore(tmp_path / "a.faiss", 8)
    hnsw = VectorStore(tmp_path / "b.faiss", 8, hnsw_threshold=1)
    hnsw.add(ids[10:20], vecs[10:20])
    for store, size in ((flat, 2), (hnsw, 12)):
        store.add([ids[0], ids[1], ids[0]], vecs[:3])
        assert len(store) == size
        assert np.allclose(store.reconstruct([ids[0]])[0], vecs[2])


def test_configure_threads_applies_in_searching_threads(
    tmp_path: Path, data: tuple[list[int], np.ndarray]
) -> None:
    import threading

    import faiss

    from indexer.vectors import configure_threads

    ids, vecs = data
    store = VectorStore(tmp_path / "v.faiss", 8)
    store.add(ids, vecs)
    seen: list[int] = []

    def worker() -> None:
        store.search(vecs[0], 3)
        seen.append(faiss.omp_get_max_threads())

    configure_threads(1)
    try:
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert seen == [1]
        with pytest.raises(ValueError):
            configure_threads(0)
    finally:
        configure_threads(None)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_within_is_search_of_the_masked_ids_through_every_change(
    tmp_path: Path, big: tuple[list[int], np.ndarray], kind: str
) -> None:
    """search_within(universe, mask) answers what search(allowed=universe[mask]) does, with
    tombstones, unknown ids in the universe, and after each add, removal, compaction and
    reload (the cached translation must follow the store)."""
    ids, vecs = big
    path = tmp_path / "v.faiss"
    store = hnsw_store(path) if kind == "hnsw" else VectorStore(path, 32, hnsw_threshold=5000)
    store.add(ids, vecs)
    universe = np.asarray([*ids, 12345], dtype=np.int64)  # one id the store never held
    rng = np.random.default_rng(11)
    masks = [rng.random(len(universe)) < share for share in (0.002, 0.05, 0.5, 0.97)]
    masks.append(np.zeros(len(universe), dtype=bool))
    store.prepare_within(universe)

    def check(note: str) -> None:
        for mask in masks:
            for q in (vecs[0], vecs[777]):
                got = store.search_within(q, 25, universe, mask)
                assert got == store.search(q, 25, universe[mask]), (note, int(mask.sum()))
                assert {i for i, _ in got} <= set(universe[mask].tolist())

    check("fresh")
    store.remove(ids[:300])  # tombstones under HNSW
    check("removed")
    store.add(ids[:50], vecs[100:150])  # replaced vectors: new slots
    check("re-added")
    store.save()
    other = hnsw_store(path) if kind == "hnsw" else VectorStore(path, 32, hnsw_threshold=5000)
    other.add([ids[1999]], vecs[:1])
    other.save()
    assert store.reload_if_changed()
    check("reloaded")
    store.compact()
    check("compacted")
    with pytest.raises(ValueError, match="one flag per universe row"):
        store.search_within(vecs[0], 5, universe, masks[0][:-1])
