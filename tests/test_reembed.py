"""An index records its encoder and refuses another; ``newssearch reembed`` switches it
(indexer/reembed.py), crash-safely and through the embedding cache. The indexes here have one
encoder (``extra_models=[]``): the switch of the primary encoder is what is tested; extras
are tests/test_encoders.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import indexer.reembed as reembed_module
from indexer.embedder import CachedEmbedder, Embedder
from indexer.pipeline import check, ingest
from indexer.reembed import PENDING_KEY, reembed, staged_path
from indexer.stores import EncoderMismatch, open_stores
from indexer.use_embedder import UseEmbedder, use_available
from search_api.cli import app
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest
from search_api.search.calibration import CALIBRATED, semantic_threshold
from tests.conftest import write_jsonl

pytestmark = [
    pytest.mark.multilingual,
    pytest.mark.skipif(
        not use_available(), reason="optional extra newssearch[multilingual] is not installed"
    ),
]

SENFGAS = (
    "Im Norden Syriens haben Kämpfer nach Angaben von Ärzten Senfgas gegen Dorfbewohner "
    "eingesetzt. Die Organisation für das Verbot chemischer Waffen untersucht den Angriff."
)
TOPICS = [
    ("Wahl", "Die Koalition streitet über das neue Wahlrecht für den Bundestag."),
    ("Haushalt", "Der Finanzminister legt den Haushalt für das kommende Jahr vor."),
    ("Schulen", "Lehrer fordern mehr Geld für die Sanierung der Schulgebäude."),
    ("Bahn", "Die Bahn kündigt einen neuen Fahrplan mit mehr Zügen nach Wien an."),
    ("Klima", "Das Klimaschutzgesetz soll den Ausstoß von Kohlendioxid halbieren."),
    ("Renten", "Die Regierung plant eine Reform der Renten für Selbständige."),
    ("Budget", "Parliament passed the budget after a long night of negotiations."),
    ("Floods", "Floods forced thousands of people to leave their homes in the north."),
    ("Trade", "The trade agreement lowers tariffs on cars and farm products."),
    ("Police", "Police arrested two men after a protest outside the embassy."),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """13 articles, 27 paragraphs: German and English, one of them on mustard gas in Syria."""
    records = [{"id": "senfgas", "title": "Senfgas in Syrien", "text": SENFGAS}]
    for i, (title, text) in enumerate(TOPICS):
        body = f"{text}\n\n{text.replace('.', ' am Montag.')}\n\nBericht Nummer {i}."
        records.append({"id": f"a{i}", "title": title, "text": body})
    records += [{"id": f"s{i}", "title": "Kurz", "text": f"Kurzmeldung {i}."} for i in range(2)]
    return write_jsonl(tmp_path / "articles.jsonl", records)


@pytest.fixture
def use() -> CachedEmbedder:
    return CachedEmbedder(UseEmbedder(threads=2), None)


def _minilm_index(settings: Any, embedder: Embedder, corpus: Path) -> None:
    stores = open_stores(settings, embedder)
    try:
        report = ingest(stores, [corpus])
        assert report.written == 13 and check(stores).ok
        stores.catalog.set_meta("min_similarity", "0.64")  # MiniLM's, recorded at first search
    finally:
        stores.close()


def test_index_records_its_encoder_and_refuses_another(
    tmp_path: Path, settings_for: Any, embedder: Embedder, corpus: Path
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)
    stores = open_stores(settings, embedder)
    assert stores.catalog.get_meta("model_key") == embedder.model_key
    assert stores.catalog.get_meta("dim") == "384"
    stores.close()
    with pytest.raises(EncoderMismatch) as caught:
        open_stores(settings, UseEmbedder())
    message = str(caught.value)
    assert "all-MiniLM-L6-v2" in message and "use-multilingual-v3" in message
    assert f"newssearch reembed --model use-multilingual-v3 --index {settings.index}" in message
    open_stores(settings, embedder).close()  # its own encoder still opens it


def test_the_cli_refuses_another_encoder_with_a_message_not_a_traceback(
    tmp_path: Path, settings_for: Any, embedder: Embedder, corpus: Path
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)
    env = {"NEWSSEARCH_MODEL": "use-multilingual-v3"}
    for args in (["search", "Wahl"], ["check"]):
        result = CliRunner().invoke(app, [*args, "--index", str(settings.index)], env=env)
        assert result.exit_code == 2, result.output
        assert "newssearch reembed --model use-multilingual-v3" in " ".join(result.output.split())
        assert "Traceback" not in result.output and result.exception is not None
        assert isinstance(result.exception, SystemExit)


def test_reembed_switches_an_index_and_search_works_after_it(
    tmp_path: Path, settings_for: Any, embedder: Embedder, corpus: Path, use: CachedEmbedder
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)
    stores = open_stores(settings, embedder)
    generation = stores.catalog.generation()
    paragraphs = stores.catalog.counts()["paragraphs"]
    stores.close()

    from indexer.catalog import Catalog

    catalog = Catalog(settings.index / "catalog.sqlite")
    seen: list[tuple[int, int]] = []
    report = reembed(catalog, settings.index, use, on_progress=lambda d, t: seen.append((d, t)))
    catalog.close()
    assert report.previous == embedder.model_key and report.dim == 512
    assert report.paragraphs == paragraphs == seen[-1][0] == seen[-1][1]

    with pytest.raises(EncoderMismatch):
        open_stores(settings, embedder)  # the index is now in USE's space only
    stores = open_stores(settings, use.inner)
    try:
        assert stores.catalog.get_meta("model_key") == use.model_key
        assert stores.catalog.get_meta("dim") == "512" and stores.vectors.dim == 512
        assert stores.catalog.get_meta("min_similarity") is None  # MiniLM's threshold dropped
        assert semantic_threshold(stores) == CALIBRATED["use-multilingual-v3"] == 0.63
        assert stores.catalog.generation() == generation + 1
        assert check(stores).ok and len(stores.vectors) == paragraphs
        assert not staged_path(settings.index).exists()
        engine = SearchEngine(stores)
        for query in ("chemical weapons mustard gas Syria", "горчичный газ в Сирии"):
            resp = engine.search(SearchRequest(q=query, mode="dense", min_similarity=0.2))
            assert resp.results[0].article_id == "senfgas", query
        hybrid = engine.search(SearchRequest(q="Senfgas Syrien", mode="hybrid"))
        assert hybrid.results[0].article_id == "senfgas"
    finally:
        stores.close()


def test_reembed_reuses_the_cache_and_the_cli_switches_back(
    tmp_path: Path, settings_for: Any, embedder: Embedder, corpus: Path, subprocess_env: Any
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)
    runner = CliRunner()
    env = {"NEWSSEARCH_EMBEDDING_CACHE": str(settings.embedding_cache)}
    args = ["reembed", "--model", "use-multilingual-v3", "--index", str(settings.index)]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["model_key"].startswith("use-multilingual-v3|")
    back = ["reembed", "--model", "all-MiniLM-L6-v2", "--index", str(settings.index)]
    done = runner.invoke(app, back, env=env)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["embedded"] == 0 and summary["paragraphs"] > 0  # all from the cache
    again = runner.invoke(app, args, env=env)
    assert json.loads(again.stdout)["embedded"] == 0
    stores = open_stores(settings.model_copy(update={"model": "use-multilingual-v3"}))
    assert check(stores).ok
    stores.close()


def test_a_crash_while_embedding_leaves_the_index_as_it_was(
    tmp_path: Path, settings_for: Any, embedder: Embedder, corpus: Path
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)

    class Crashing(UseEmbedder):
        calls = 0

        def embed_passages(self, texts: Any) -> Any:
            Crashing.calls += 1
            if Crashing.calls > 1:
                raise RuntimeError("killed")
            return super().embed_passages(texts)

    from indexer.catalog import Catalog

    catalog = Catalog(settings.index / "catalog.sqlite")
    monkey = pytest.MonkeyPatch()
    monkey.setattr(reembed_module, "BATCH", 8)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            reembed(catalog, settings.index, CachedEmbedder(Crashing(), None))
    finally:
        monkey.undo()
        catalog.close()
    stores = open_stores(settings, embedder)
    assert stores.catalog.get_meta("model_key") == embedder.model_key
    assert stores.catalog.get_meta(PENDING_KEY) is None and check(stores).ok
    stores.close()


def test_a_crash_after_the_staged_store_is_complete_rolls_forward(
    tmp_path: Path,
    settings_for: Any,
    embedder: Embedder,
    corpus: Path,
    use: CachedEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(tmp_path / "idx", extra_models=[])
    _minilm_index(settings, embedder, corpus)
    calls = {"n": 0}
    real_finish = reembed_module.finish_reembed

    def crash_at_switch(catalog: Any, index: Path) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:  # the switch itself: the process dies before os.replace
            raise SystemExit("killed")
        return real_finish(catalog, index)

    from indexer.catalog import Catalog

    catalog = Catalog(settings.index / "catalog.sqlite")
    monkeypatch.setattr(reembed_module, "finish_reembed", crash_at_switch)
    with pytest.raises(SystemExit):
        reembed(catalog, settings.index, use)
    catalog.close()
    monkeypatch.undo()
    assert staged_path(settings.index).exists()
    stores = open_stores(settings, use.inner)  # completes the switch
    try:
        assert stores.catalog.get_meta("model_key") == use.model_key
        assert stores.vectors.dim == 512 and check(stores).ok
        assert not staged_path(settings.index).exists()
    finally:
        stores.close()
