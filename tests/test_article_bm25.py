"""The article-level BM25 store (``Stores.articles``: one document per article, title and
every paragraph) kept with the paragraph stores by ingest, edits, deletes, check and repair,
and its signal in hybrid ranking (search_api/search/article_signal.py), on real indexes
written to disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from indexer.embedder import Embedder
from indexer.models import Hit
from indexer.pipeline import check, delete, ingest, repair
from indexer.stores import Stores, open_stores
from search_api.engine import SearchEngine
from search_api.grouping import ArticleGroup
from search_api.schemas import SearchRequest
from search_api.search.article_signal import blend
from tests.conftest import write_jsonl


def held(stores: Stores) -> list[str]:
    assert stores.articles is not None
    return sorted(p.rpartition(":")[0] for p in stores.articles.paragraph_ids())


def test_every_committed_article_is_one_document(stores: Stores) -> None:
    assert held(stores) == sorted(stores.catalog.committed_article_ids())
    assert check(stores).ok


def test_edits_deletes_and_repair_keep_the_article_store_right(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx")
    stores = open_stores(settings, embedder)
    ingest(stores, [small_corpus])
    assert stores.articles is not None and len(held(stores)) == 5
    path = small_corpus / "gnad.de.jsonl"
    recs = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    recs[0]["text"] = "Der Zebrafink-Ausschuss tagte überraschend. " * 3
    write_jsonl(path, recs)
    ingest(stores, [small_corpus])
    resp = SearchEngine(stores).search(SearchRequest(q="Zebrafink", mode="bm25"))
    assert [r.article_id for r in resp.results] == [recs[0]["id"]]
    delete(stores, [recs[1]["id"]])
    assert recs[1]["id"] not in held(stores) and len(held(stores)) == 4
    assert check(stores).ok
    stores.close()
    shutil.rmtree(tmp_path / "idx" / "articles")  # an index from before the article store
    stores = open_stores(settings, embedder)
    div = check(stores)
    assert len(div.missing_articles) == 4 and not div.ok
    embedded_before = sum(s.embedder.computed for s in stores.spaces)
    repair(stores)
    assert check(stores).ok and len(held(stores)) == 4
    assert sum(s.embedder.computed for s in stores.spaces) == embedded_before  # text only
    stores.close()


def test_hybrid_scores_add_the_article_part_and_weight_zero_turns_it_off(stores: Stores) -> None:
    engine = SearchEngine(stores)
    q = "Putin Tokajew Kasachstan"
    on = engine.search(SearchRequest(q=q, explain=True, fold=False, limit=20))
    off = engine.search(SearchRequest(q=q, explain=True, fold=False, limit=20, article_weight=0))
    assert {r.article_id for r in on.results} and on.total == off.total  # the set is the same
    parts = [r.explanation.article_bm25 for r in on.results if r.explanation]
    assert any(p for p in parts) and all(
        r.explanation and r.explanation.article_bm25 == 0.0 for r in off.results if r.score
    )
    for r in off.results:
        if r.explanation and r.explanation.ranked and r.score is not None:
            total = sum(c.contribution for c in r.explanation.contributions)
            assert total == pytest.approx(r.score)


def test_blend_orders_as_the_convex_mix_of_z_scores() -> None:
    groups = [ArticleGroup("a", 3.0), ArticleGroup("b", 2.0), ArticleGroup("c", 1.0)]
    articles = [Hit("c:0", 9.0), Hit("b:0", 1.0)]  # "a" is missing: it takes the minimum
    # (1 - w) z(aggregated) + w z(article): at w = 0.8 c leads, at w = 0.5 a still does
    assert [g.article_id for g in blend(groups, articles, 0.8)] == ["c", "a", "b"]
    out = blend(groups, articles, 0.5)
    assert [g.article_id for g in out] == ["a", "c", "b"]
    aggregated = {"a": 3.0, "b": 2.0, "c": 1.0}
    for g in out:
        assert g.score == pytest.approx(aggregated[g.article_id] + g.article_component)
    assert blend(groups, articles, 0.0) is groups and blend(groups, [], 0.5) is groups
