"""Stories on a real Elasticsearch node: the same stories, folded set, counts, facets and
timeline as the embedded backend, for the same corpus (folding is backend-independent:
it lives in the result set, over the catalog's story column)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from indexer.embedder import Embedder
from indexer.pipeline import delete
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest
from tests.conftest import ingested_es_stores

pytestmark = pytest.mark.elasticsearch

#: Requests whose *unfolded* set cannot depend on the lexical backend (every article; the
#: semantic side) or is plain English words both analysers treat alike.
REQUESTS: list[dict[str, Any]] = [
    {"q": ""},
    {"q": "", "sort": "date_asc"},
    {"q": "pension strike", "mode": "dense", "min_similarity": 0.3},
    {"q": "Gaza Krieg", "mode": "dense", "min_similarity": 0.3, "sort": "date_desc"},
    {"q": "pension", "mode": "bm25", "sort": "date_desc"},
    {"q": "budget", "mode": "bm25", "sort": "date_asc"},
]


@pytest.fixture(scope="module")
def es_story_stores(
    tmp_path_factory: pytest.TempPathFactory,
    stories_corpus: Path,
    settings_for: Any,
    embedder: Embedder,
    es_url: str,
    es_client: Elasticsearch,
) -> Iterator[Stores]:
    index = tmp_path_factory.mktemp("es-stories") / "stories"
    with ingested_es_stores(settings_for, index, es_url, es_client, embedder, stories_corpus) as s:
        yield s


@pytest.fixture(scope="module")
def embedded_story_stores(stories_index: Settings, embedder: Embedder) -> Iterator[Stores]:
    opened = open_stores(stories_index, embedder)
    yield opened
    opened.close()


def _all(engine: SearchEngine, req: SearchRequest) -> tuple[list[tuple[str, int]], Any]:
    first = engine.search(req.model_copy(update={"limit": 100, "facets": True, "timeline": True}))
    rows = [(r.article_id, r.versions) for r in first.results]
    page = first
    while page.next:
        page = engine.search(req.model_copy(update={"limit": 100, "cursor": page.next}))
        rows += [(r.article_id, r.versions) for r in page.results]
    return rows, first


def test_same_stories_and_folded_views_on_both_backends(
    es_story_stores: Stores, embedded_story_stores: Stores
) -> None:
    es_ids = es_story_stores.catalog.committed_article_ids()
    assert es_story_stores.catalog.stories_of(es_ids) == embedded_story_stores.catalog.stories_of(
        embedded_story_stores.catalog.committed_article_ids()
    )
    es_engine, local = SearchEngine(es_story_stores), SearchEngine(embedded_story_stores)
    folded_some = False
    try:
        for params in REQUESTS:
            for fold in (True, False):
                req = SearchRequest(**params, fold=fold)
                es_rows, es_first = _all(es_engine, req)
                local_rows, local_first = _all(local, req)
                assert es_first.degraded == [] and es_first.total > 0, params
                where = f"{params} fold={fold}"
                assert es_first.total == local_first.total == len(es_rows), where
                assert es_first.total_articles == local_first.total_articles, where
                assert es_first.total_stories == local_first.total_stories, where
                # Date sorts break ties by relevance, which BM25 scores may order apart.
                assert sorted(es_rows) == sorted(local_rows), where
                assert es_first.facets == local_first.facets, where
                assert es_first.timeline == local_first.timeline, where
                folded_some |= fold and es_first.total < es_first.total_articles
    finally:
        es_engine.close()
        local.close()
    assert folded_some


def test_deleting_a_representative_on_elasticsearch_keeps_its_copies_together(
    es_story_stores: Stores,
) -> None:
    stores = es_story_stores
    before = stores.catalog.stories_of(["politics/005", "politics/359"])
    assert before == {"politics/005": "politics/005", "politics/359": "politics/005"}
    engine = SearchEngine(stores)
    try:
        req = SearchRequest(q="", limit=100)
        folded = engine.search(req)
        delete(stores, ["politics/005"])
        assert stores.catalog.stories_of(["politics/359"]) == {"politics/359": "politics/359"}
        after = engine.search(req)
        assert after.total == folded.total and after.total_articles == folded.total_articles - 1
        shown = {r.article_id: r.versions for r in after.results}
        assert shown.get("politics/359") == 0
    finally:
        engine.close()
