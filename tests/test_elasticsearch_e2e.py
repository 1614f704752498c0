"""End to end on a real Elasticsearch node: ingest -> hybrid search, parity with the embedded
backend, and a node that stops and comes back while the API is serving."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from indexer.embedder import Embedder
from indexer.models import Filters
from indexer.pipeline import check, ingest
from indexer.query import parse_query
from indexer.stores import Stores, open_stores
from search_api.app import create_app
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest
from search_api.search import membership
from tests.conftest import SEED_TITLE, es_settings, ingested_es_stores
from tests.plugins.es_node import ES_NODE, _free_port

pytestmark = pytest.mark.elasticsearch

#: Queries for the parity check: names, topics and phrases from the German test corpus.
PARITY_QUERIES = [
    "Putin Tokajew Gespräche",
    "Flüchtlinge Grenze",
    "Regierung Koalition",
    "Wahl Parlament",
    "Russland Kasachstan Sicherheit",
    "Bundeskanzler",
    "Krieg Ukraine",
    "Steuern Budget",
    "Integration Sprache",
    "Polizei Ermittlungen",
    "Europäische Union",
    "Präsident Rede",
]


@pytest.fixture(scope="module")
def es_stores(
    tmp_path_factory: pytest.TempPathFactory,
    german_corpus: Path,
    settings_for: Any,
    embedder: Embedder,
    es_url: str,
    es_client: Elasticsearch,
) -> Iterator[Stores]:
    index = tmp_path_factory.mktemp("es-index") / "de"
    with ingested_es_stores(settings_for, index, es_url, es_client, embedder, german_corpus) as s:
        yield s


@pytest.mark.multilingual
@pytest.mark.parametrize(
    "q",
    [
        "Putin and Tokayev discuss the future of Kazakhstan",
        "Путин и Токаев обсудили отношения России и Казахстана",
    ],
)
def test_cross_lingual_queries_find_the_seed_on_elasticsearch(es_stores: Stores, q: str) -> None:
    """The default configuration (MiniLM + USE), dense mode: English and Russian queries find
    the German seed article among the first three, as on the embedded backend."""
    resp = SearchEngine(es_stores).search(SearchRequest(q=q, mode="dense"))
    assert SEED_TITLE in [r.title for r in resp.results[:3]]


def test_the_article_store_lives_on_elasticsearch_too(es_stores: Stores) -> None:
    """One document per committed article in ``<index>-articles`` (article-level BM25)."""
    assert es_stores.articles is not None
    held = sorted(p.rpartition(":")[0] for p in es_stores.articles.paragraph_ids())
    assert held == sorted(es_stores.catalog.committed_article_ids())
    assert check(es_stores).ok


def test_seed_first_on_elasticsearch(es_stores: Stores) -> None:
    for mode in ("hybrid", "bm25"):
        resp = SearchEngine(es_stores).search(SearchRequest(q="Putin Tokajew Gespräche", mode=mode))
        assert resp.degraded == []
        assert resp.results[0].title == SEED_TITLE, mode
        assert any(p.highlights for p in resp.results[0].passages)


def test_stores_agree_on_elasticsearch(es_stores: Stores) -> None:
    div = check(es_stores)
    assert div.ok, div.as_dict()
    assert es_stores.lexical.count() == es_stores.catalog.counts()["paragraphs"]


def test_bm25_rankings_agree_with_the_embedded_backend(es_stores: Stores, stores: Stores) -> None:
    """Both index the same tokens (tantivy's analysis) and score BM25 with k1=1.2, b=0.75:
    the same top 10 in the same order, with the same scores (Elasticsearch's ``BM25`` type
    keeps the (k1 + 1) factor that Lucene's own BM25Similarity drops, as tantivy does)."""
    assert es_stores.catalog.counts() == stores.catalog.counts()
    for q in [*PARITY_QUERIES, "Nur-Sultan Tokajew", "Baden-Württemberg Regierung"]:
        parsed = parse_query(q)
        assert parsed.root is not None
        # the typed tree, and the one the engine ranks by (split words as their tokens)
        for tree in (parsed.root, membership.ranking_tree(parsed.root, plain=parsed.is_plain)):
            assert tree is not None
            es_hits = es_stores.lexical.search(tree, Filters(), 10)
            emb_hits = stores.lexical.search(tree, Filters(), 10)
            assert emb_hits, q
            assert [h.paragraph_id for h in es_hits] == [h.paragraph_id for h in emb_hits], q
            for es_hit, emb_hit in zip(es_hits, emb_hits, strict=True):
                assert es_hit.score == pytest.approx(emb_hit.score, rel=1e-4), q


def test_filters_and_filter_syntax_on_elasticsearch(es_stores: Stores) -> None:
    engine = SearchEngine(es_stores)
    for mode in ("bm25", "hybrid"):
        resp = engine.search(SearchRequest(q="Deutschland Ukraine source:tagesschau", mode=mode))
        assert resp.results and {r.source for r in resp.results} == {"tagesschau"}


def _node(command: str, port: int, data: Path) -> str:
    proc = subprocess.run(
        [str(ES_NODE), command, "--port", str(port), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def test_node_outage_degrades_then_recovers(
    tmp_path: Path, german_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    """A dedicated node: ingest, serve, stop the node (dense-only answers flagged as degraded,
    no 500, no hang), start it again on the same data (full answers again)."""
    port, data = _free_port(), tmp_path / "node"
    url = _node("start", port, data)
    try:
        settings = es_settings(settings_for, tmp_path / "idx", url)
        stores = open_stores(settings, embedder)
        ingest(stores, [german_corpus / "bbabo-2022-putin-tokajew.de.txt"])
        # MiniLM (English) rates German text low: a lower threshold keeps semantic members.
        params = {"q": "Putin Tokajew Gespräche", "mode": "hybrid", "min_similarity": 0.45}
        with TestClient(create_app(settings, stores), raise_server_exceptions=False) as client:
            full = client.get("/search", params=params).json()
            assert full["degraded"] == [] and full["results"][0]["title"] == SEED_TITLE
            _node("stop", port, data)
            # The set computed before the outage is still the set of this index generation.
            cached = client.get("/search", params=params).json()
            assert cached["degraded"] == [] and cached["total"] == full["total"]
            fresh = {**params, "q": "Tokajew Putin Gespräche Kasachstan"}  # not computed yet
            down = client.get("/search", params=fresh)
            assert down.status_code == 200
            assert down.json()["degraded"] == ["lexical"]
            assert down.json()["results"][0]["title"] == SEED_TITLE
            bm25 = client.get("/search", params={**fresh, "mode": "bm25"})
            assert bm25.status_code == 200 and bm25.json()["degraded"] == ["lexical"]
            health = client.get("/health").json()
            assert health["status"] == "degraded" and health["lexical_ok"] is False
            _node("start", port, data)
            back = client.get("/search", params=fresh).json()
            assert back["degraded"] == [] and back["results"][0]["title"] == SEED_TITLE
            assert any(p["highlights"] for p in back["results"][0]["passages"])
        stores.close()
    finally:
        subprocess.run(
            [str(ES_NODE), "stop", "--data", str(data)], check=False, capture_output=True
        )
