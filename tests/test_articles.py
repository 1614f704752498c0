"""SearchEngine.article / similar / stats on real stores, against references computed here."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexer.catalog import vec_id
from indexer.chunker import chunk_article
from indexer.embedder import Embedder
from indexer.errors import NotFound, QuerySyntaxError, StaleCursor
from indexer.models import Article
from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.app import create_app
from search_api.engine import SearchEngine
from search_api.schemas import SimilarRequest
from tests.conftest import SEED_TITLE


@pytest.fixture(scope="module")
def engine(built_index: Settings, embedder: Embedder) -> Iterator[SearchEngine]:
    stores = open_stores(built_index, embedder)
    eng = SearchEngine(stores)
    yield eng
    eng.close()
    stores.close()


def seed_id(engine: SearchEngine) -> str:
    table = engine.tables.current()
    for aid, info in engine.stores.catalog.articles(list(table.ids)).items():
        if info["title"] == SEED_TITLE:
            return aid
    raise AssertionError("seed article not indexed")


def reference_similar(stores: Stores, article_id: str, threshold: float) -> list[tuple[str, float]]:
    """Every other committed article with its best paragraph cosine to the article's mean
    vector, at or above ``threshold``, most similar first (ties by id): brute force, over the
    encoders that understand the article's language (its mean vector in each one's store), each
    among the articles of its languages (or of languages no other encoder reads)."""
    own = stores.catalog.paragraphs_of([article_id])
    language = own[0].language
    spaces = [s for s in stores.spaces if s.applies(language)] or stores.spaces
    languages = {
        p.article_id: p.language
        for p in stores.catalog.paragraphs_of(
            sorted({pid.rsplit(":", 1)[0] for pid, _ in stores.catalog.iter_paragraph_ids()})
        )
    }
    best: dict[str, float] = {}
    for space in spaces:
        others = [s for s in stores.spaces if s.name != space.name]
        mean = space.vectors.reconstruct([vec_id(p.paragraph_id) for p in own]).mean(axis=0)
        mean /= np.linalg.norm(mean)
        for pid, vid in stores.catalog.iter_paragraph_ids():
            aid = pid.rsplit(":", 1)[0]
            lang = languages[aid]
            read_elsewhere = any(o.applies(lang) for o in others)
            if aid == article_id or not (space.applies(lang) or not read_elsewhere):
                continue
            sim = float(space.vectors.reconstruct([vid])[0] @ mean)
            if sim >= threshold:
                best[aid] = max(best.get(aid, -1.0), sim)
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))


def test_similar_articles_of_a_german_article_come_from_the_multilingual_encoder(
    engine: SearchEngine,
) -> None:
    """MiniLM (English) does not take part for a German article beside USE: its set is USE's
    (the English model's own set differs)."""
    stores = engine.stores
    aid = seed_id(engine)
    assert stores.catalog.paragraphs_of([aid])[0].language == "de"
    assert [s.name for s in stores.spaces] == ["all-MiniLM-L6-v2", "use-multilingual-v3"]
    page = engine.similar(aid, SimilarRequest(min_similarity=0.5, limit=100))
    got = [(r.article_id, r.score) for r in page.results]
    assert got and [a for a, _ in got] == [a for a, _ in reference_similar(stores, aid, 0.5)]
    use = stores.spaces[1]
    own = stores.catalog.paragraphs_of([aid])
    mean = use.vectors.reconstruct([vec_id(p.paragraph_id) for p in own]).mean(axis=0)
    best = got[0]
    top = stores.catalog.paragraphs_of([best[0]])
    sims = use.vectors.reconstruct([vec_id(p.paragraph_id) for p in top]) @ (
        mean / np.linalg.norm(mean)
    )
    assert float(sims.max()) == pytest.approx(best[1], abs=1e-4)


@pytest.mark.parametrize("threshold", [0.3, 0.45, 0.6])
def test_similar_is_the_brute_force_set_in_order(engine: SearchEngine, threshold: float) -> None:
    aid = seed_id(engine)
    expected = reference_similar(engine.stores, aid, threshold)
    got: list[tuple[str, float]] = []
    page = engine.similar(aid, SimilarRequest(min_similarity=threshold, limit=7))
    total = page.total
    while True:
        got += [(r.article_id, r.score or math.nan) for r in page.results]
        if page.next is None:
            break
        page = engine.similar(
            aid, SimilarRequest(min_similarity=threshold, limit=7, cursor=page.next)
        )
    assert total == len(expected) == len(got)
    assert [a for a, _ in got] == [a for a, _ in expected]
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], abs=1e-4)
    assert page.min_similarity == threshold and page.mode == "dense"


def test_similar_paragraph_count_and_passages(engine: SearchEngine) -> None:
    aid = seed_id(engine)
    page = engine.similar(aid, SimilarRequest(min_similarity=0.45, limit=100, passages=20))
    shown = sum(len(r.passages) for r in page.results)
    assert page.total_paragraphs == shown  # every matching paragraph, none over 20 per article
    for r in page.results:
        assert all(p.paragraph_id.startswith(r.article_id + ":") for p in r.passages)
        assert all((p.similarity or 0) >= 0.45 for p in r.passages)


def test_similar_pages_are_cached_and_cursors_checked(engine: SearchEngine) -> None:
    aid = seed_id(engine)
    req = SimilarRequest(min_similarity=0.3, limit=3)
    first = engine.similar(aid, req)
    sets = len(engine._sets)
    second = engine.similar(aid, req.model_copy(update={"cursor": first.next}))
    assert len(engine._sets) == sets and second.offset == 3
    with pytest.raises(QuerySyntaxError):
        engine.similar(aid, req.model_copy(update={"cursor": "garbage"}))
    with pytest.raises(QuerySyntaxError):
        engine.similar(aid, req.model_copy(update={"cursor": first.next, "min_similarity": 0.5}))
    with pytest.raises(NotFound):
        engine.similar("no-such-id", req)


def test_article_detail_is_the_catalog_record(engine: SearchEngine) -> None:
    aid = seed_id(engine)
    article = engine.article(aid)
    stored = engine.stores.catalog.paragraphs_of([aid])
    assert [(p.paragraph_id, p.position, p.start, p.end, p.text) for p in article.paragraphs] == [
        (p.paragraph_id, p.position, p.start, p.end, p.text) for p in stored
    ]
    assert article.generation == engine.stores.catalog.generation()
    with pytest.raises(NotFound):
        engine.article("no-such-id")


def test_stats_counts_languages_and_sizes(engine: SearchEngine) -> None:
    stats = engine.stats()
    table = engine.tables.current()
    languages: dict[str, int] = {}
    for info in engine.stores.catalog.articles(list(table.ids)).values():
        key = info["language"] or "unknown"
        languages[key] = languages.get(key, 0) + 1
    assert stats.languages == languages and list(stats.languages) == sorted(
        languages, key=lambda k: (-languages[k], k)
    )
    assert stats.articles == table.size and stats.paragraphs == len(engine.stores.vectors)
    catalog = next(s for s in stats.stores if s.name == "catalog")
    assert catalog.bytes is not None and catalog.bytes >= (
        engine.stores.catalog.path.stat().st_size
    )


@pytest.fixture
def own(tmp_path: Path, settings_for: Any, embedder: Embedder) -> Iterator[Stores]:
    stores = open_stores(settings_for(tmp_path / "idx", api_key="k"), embedder)
    yield stores
    stores.close()


def test_pending_articles_are_not_readable_and_counted_as_pending(own: Stores) -> None:
    body = "Ein Artikel über den Haushalt des Bundes.\n\nDie Debatte dauerte lange."
    done = Article(article_id="done", title="Fertig", body=body, language="de")
    half = Article(article_id="half", title="Halb", body=body, language="de")
    from indexer.pipeline import ingest_articles

    ingest_articles(own, [done])
    own.catalog.stage([(half, chunk_article(half), half.content_hash())])  # crash before commit
    engine = SearchEngine(own)
    try:
        assert engine.article("done").title == "Fertig"
        with pytest.raises(NotFound):
            engine.article("half")
        with pytest.raises(NotFound):
            engine.similar("half", SimilarRequest())
        stats = engine.stats()
        assert (stats.articles, stats.pending) == (1, 1)
        assert engine.similar("done", SimilarRequest(min_similarity=-1)).total == 0
    finally:
        engine.close()


def test_similar_cursor_goes_stale_when_the_index_changes(own: Stores) -> None:
    from indexer.pipeline import ingest_articles

    body = "Der Landtag debattierte über die Schulpolitik des Landes."
    ingest_articles(own, [Article(article_id=f"s{i}", body=body) for i in range(3)])
    engine = SearchEngine(own)
    try:
        first = engine.similar("s0", SimilarRequest(limit=1))
        assert first.total == 2 and first.next
        ingest_articles(own, [Article(article_id="s9", body=body)])
        with pytest.raises(StaleCursor):
            engine.similar("s0", SimilarRequest(limit=1, cursor=first.next))
        assert engine.similar("s0", SimilarRequest()).total == 3
    finally:
        engine.close()


def test_extra_values_json_cannot_carry_are_read_back_as_text(own: Stores, tmp_path: Path) -> None:
    """A JSONL record may hold NaN (Python's json reads it); GET /articles/{id} must not fail
    encoding it."""
    path = tmp_path / "nan.jsonl"
    path.write_text('{"id": "n1", "text": "Ein Text.", "score": NaN, "x": [Infinity]}\n')
    report = ingest(own, [path])
    assert report.written == 1
    with TestClient(create_app(own.settings, own), raise_server_exceptions=False) as client:
        resp = client.get("/articles/n1")
    assert resp.status_code == 200, resp.text
    assert resp.json()["extra"] == {"score": "nan", "x": ["inf"]}
    json.loads(resp.text)  # strict JSON
