"""The Universal Sentence Encoder multilingual v3 behind the Embedder protocol
(indexer/use_embedder.py): the real graph from the ``multilingual`` extra, loaded and run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.embedder import CachedEmbedder, Embedder
from indexer.settings import Settings
from indexer.stores import make_embedder
from indexer.use_embedder import (
    USE_BATCH,
    USE_DIM,
    MissingExtraError,
    UseEmbedder,
    bundled_graph,
    use_available,
)

needs_extra = pytest.mark.skipif(
    not use_available(), reason="optional extra newssearch[multilingual] is not installed"
)
pytestmark = pytest.mark.multilingual

EN = "The parliament passed the budget after a long night of negotiations."
DE = "Das Parlament hat den Haushalt nach einer langen Verhandlungsnacht verabschiedet."
RU = "Парламент принял бюджет после долгой ночи переговоров."
UNRELATED = "Die Katze schläft am liebsten in der warmen Sonne auf dem Balkon."


@pytest.fixture(scope="module")
def use() -> UseEmbedder:
    if not use_available():
        pytest.skip("optional extra newssearch[multilingual] is not installed")
    return UseEmbedder(threads=2)


@needs_extra
def test_use_is_an_embedder_with_normalised_512d_vectors(use: UseEmbedder) -> None:
    assert isinstance(use, Embedder)
    vectors = use.embed_passages([EN, DE, RU, UNRELATED])
    assert vectors.shape == (4, USE_DIM) and vectors.dtype == np.float32 and use.dim == 512
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert use.embed_query(EN).shape == (USE_DIM,)
    assert use.embed_passages([]).shape == (0, USE_DIM)


@needs_extra
def test_a_translation_is_closer_than_an_unrelated_sentence(use: UseEmbedder) -> None:
    en, de, ru, other = use.embed_passages([EN, DE, RU, UNRELATED])
    # Measured: en-de 0.78, en-ru 0.92, en-unrelated 0.01 (MiniLM, English-only, gives en-de
    # well below that).
    assert float(en @ de) > 0.6 > 0.2 > float(en @ other)
    assert float(en @ ru) > 0.6 and float(de @ ru) > float(de @ other) + 0.4
    query = use.embed_query("budget vote in parliament")
    assert float(query @ de) > float(query @ other) + 0.2


@needs_extra
def test_vectors_do_not_depend_on_input_order(use: UseEmbedder) -> None:
    texts = [EN, DE, RU, UNRELATED, "Kurz.", "Ein etwas längerer Satz über die Wahl in Wien."]
    forward = use.embed_passages(texts)
    backward = use.embed_passages(texts[::-1])[::-1]
    np.testing.assert_array_equal(forward, backward)


@needs_extra
def test_chosen_by_name_in_settings_with_its_own_batch_size() -> None:
    embedder = make_embedder(Settings(model="use-multilingual-v3"))
    assert isinstance(embedder, UseEmbedder)
    assert embedder.batch_size == USE_BATCH
    assert embedder.model_key.split("|", 1)[0] == "use-multilingual-v3"
    assert make_embedder(Settings(model="use-multilingual-v3", batch_size=3)).batch_size == 3  # type: ignore[attr-defined]
    assert bundled_graph().name == "universal-sentence-encoder-multilingual.onnx"
    assert embedder.model_path.stat().st_size > 10_000_000


@needs_extra
def test_another_copy_of_the_graph_is_loaded_from_model_file(tmp_path: Path) -> None:
    copy = tmp_path / "use.onnx"
    copy.symlink_to(bundled_graph())
    embedder = make_embedder(Settings(model="use-multilingual-v3", model_file=copy))
    assert isinstance(embedder, UseEmbedder) and embedder.model_path == copy
    assert embedder.embed_query(EN).shape == (USE_DIM,)
    broken = make_embedder(Settings(model="use-multilingual-v3", model_file=tmp_path / "no.onnx"))
    with pytest.raises(FileNotFoundError, match=r"NEWSSEARCH_MODEL_FILE.*no\.onnx"):
        broken.embed_query(EN)


def test_missing_extra_is_a_clear_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "nanoranker" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert not use_available()
    with pytest.raises(MissingExtraError, match=r"newssearch\[multilingual\]"):
        make_embedder(Settings(model="use-multilingual-v3")).embed_query("x")


@needs_extra
def test_cache_entries_of_two_encoders_never_mix(
    use: UseEmbedder, embedder: Embedder, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.sqlite"
    texts = [EN, DE]
    minilm = CachedEmbedder(embedder, cache)
    first = minilm.embed_passages(texts)
    shared = CachedEmbedder(use, cache)  # same file, same texts, other encoder
    got = shared.embed_passages(texts)
    assert shared.computed == 2  # nothing answered from MiniLM's entries
    assert got.shape == (2, USE_DIM) and first.shape == (2, 384)
    np.testing.assert_allclose(got, use.embed_passages(texts), atol=1e-6)
    again = CachedEmbedder(embedder, cache)
    np.testing.assert_array_equal(again.embed_passages(texts), first)
    assert again.computed == 0
    for c in (minilm, shared, again):
        c.close()
