"""FAISS vector store: ids, replacement, filtered search, atomic save and reload from disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexer.vectors import VectorStore


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


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
