"""End to end on real data: ingest -> both stores -> hybrid search, idempotence, edits, repair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexer.catalog import vec_id
from indexer.embedder import Embedder
from indexer.errors import BackendUnavailable
from indexer.models import Filters, Hit
from indexer.pipeline import check, delete, ingest, repair
from indexer.query import Node, parse_query
from indexer.stores import Stores, open_stores
from search_api import engine as engine_module
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest
from tests.conftest import SEED_TITLE, write_jsonl

#: Dense-mode tests of German text use the default thresholds (USE takes German queries).
GERMAN_MIN_SIMILARITY: float | None = None


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_seed_article_ranks_first(stores: Stores, mode: str) -> None:
    req = SearchRequest(
        q="Putin Tokajew Gespräche", mode=mode, match="any", min_similarity=GERMAN_MIN_SIMILARITY
    )
    resp = SearchEngine(stores).search(req)
    assert resp.results[0].title == SEED_TITLE
    assert resp.results[0].source == "Bbabo NET"
    assert resp.total >= len(resp.results) > 1
    scores = [r.score for r in resp.results if r.score is not None]
    assert scores == sorted(scores, reverse=True)


def test_seed_paragraphs_are_clean(stores: Stores) -> None:
    aid = next(a for a, m in _all_articles(stores).items() if m["title"] == SEED_TITLE)
    paragraphs = stores.catalog.paragraphs_of([aid])
    assert len(paragraphs) > 20
    assert not [p.text for p in paragraphs if "Zurück zu" in p.text]
    assert any(p.text.startswith("„Kasachstan ist unser strategischer") for p in paragraphs)
    assert paragraphs[-1].text != SEED_TITLE
    # every paragraph is in both stores
    assert set(stores.lexical.fetch([p.paragraph_id for p in paragraphs])) == {
        p.paragraph_id for p in paragraphs
    }
    assert {vec_id(p.paragraph_id) for p in paragraphs} <= stores.vectors.ids()


def _all_articles(stores: Stores) -> dict[str, Any]:
    ids = sorted({pid.rsplit(":", 1)[0] for pid, _ in stores.catalog.iter_paragraph_ids()})
    return stores.catalog.articles(ids)


def test_stores_agree_after_ingest(stores: Stores) -> None:
    div = check(stores)
    assert div.ok, div.as_dict()
    counts = stores.catalog.counts()
    assert counts["pending"] == 0
    assert stores.lexical.count() == counts["paragraphs"] == len(stores.vectors)


def test_passages_are_grouped_and_highlighted(stores: Stores) -> None:
    resp = SearchEngine(stores).search(SearchRequest(q="Tokajew", mode="bm25", explain=True))
    top = resp.results[0]
    assert len({r.article_id for r in resp.results}) == len(resp.results)
    assert 1 <= len(top.passages) <= 3
    for p in top.passages:
        assert p.paragraph_id.startswith(top.article_id + ":")
        assert [p.text[s:e] for s, e in p.highlights] and all(
            p.text[s:e].lower().startswith("tokajew") for s, e in p.highlights
        )
        assert p.explanation is not None and p.explanation.bm25_rank is not None


def test_filters_apply_to_both_retrievers(stores: Stores) -> None:
    engine = SearchEngine(stores)
    low = GERMAN_MIN_SIMILARITY
    for mode in ("bm25", "dense", "hybrid"):
        for source in ("Bbabo NET", "bbabo net"):  # filters compare case-insensitively
            req = SearchRequest(
                q="Russland Präsident", mode=mode, source=[source], match="any", min_similarity=low
            )
            resp = engine.search(req)
            assert {r.source for r in resp.results} == {"Bbabo NET"}, (mode, source)
        req = SearchRequest(
            q="Krieg in der Ukraine source:tagesschau", mode=mode, match="any", min_similarity=low
        )
        resp = engine.search(req)
        assert resp.results and {r.source for r in resp.results} == {"tagesschau"}, mode


def test_phrase_query_constrains_hybrid(stores: Stores) -> None:
    resp = SearchEngine(stores).search(SearchRequest(q='"Nur-Sultan"', mode="hybrid", passages=20))
    assert resp.results
    for r in resp.results:
        assert any("Nur-Sultan" in p.text for p in r.passages)


def test_paging_is_stable_and_disjoint(stores: Stores) -> None:
    engine = SearchEngine(stores)
    first = engine.search(SearchRequest(q="Regierung Krieg", limit=5))
    second = engine.search(SearchRequest(q="Regierung Krieg", limit=5, offset=5))
    both = engine.search(SearchRequest(q="Regierung Krieg", limit=10))
    assert [r.article_id for r in both.results] == [
        r.article_id for r in first.results + second.results
    ]
    assert first.total == both.total


class Unreachable:
    """A lexical backend whose node is down (logic test of degradation, not of a backend)."""

    name = "unreachable"

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def search(self, query: Node, filters: Filters, limit: int) -> list[Hit]:
        raise BackendUnavailable("node down")

    def matching_vec_ids(self, leaves: list[Node]) -> list[Any]:
        raise BackendUnavailable("node down")

    def highlight(self, query: Node, ids: list[str]) -> dict[str, list[tuple[int, int]]]:
        raise BackendUnavailable("node down")


@pytest.mark.parametrize("in_worker", [False, True], ids=["inline", "worker"])
def test_lexical_outage_degrades_to_dense(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, in_worker: bool
) -> None:
    # The word matches fail in this thread or in the worker that collects a long query's.
    monkeypatch.setattr(engine_module, "MATCHES_IN_WORKER_ABOVE", 0 if in_worker else 1000)
    real = stores.lexical
    stores.lexical = Unreachable(real)  # type: ignore[assignment]
    try:
        for mode in ("hybrid", "bm25"):
            resp = SearchEngine(stores).search(
                SearchRequest(q="Putin Tokajew Gespräche", mode=mode, min_similarity=0.45)
            )
            assert resp.degraded == ["lexical"]
            assert resp.total == len(resp.results) and resp.min_similarity == 0.45
            assert all(r.matched == ["semantic"] for r in resp.results)
            assert resp.results[0].title == SEED_TITLE
    finally:
        stores.lexical = real


def test_word_matches_collected_in_a_worker_give_the_same_set(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long query's word matches are collected in a worker beside BM25 (engine
    MATCHES_IN_WORKER_ABOVE): the set, its order, scores and matching paragraphs are the ones
    collecting them in the request thread gives."""
    q = "Regierung Krieg Putin Gespräche Kasachstan Wahl Merkel"
    got = []
    for threshold in (1000, 0):
        monkeypatch.setattr(engine_module, "MATCHES_IN_WORKER_ABOVE", threshold)
        rs = SearchEngine(stores).result_set(SearchRequest(q=q))
        got.append(rs)
    inline, worker = got
    assert inline.total > 5
    assert inline.order.tolist() == worker.order.tolist()
    assert np.array_equal(inline.scores, worker.scores, equal_nan=True)
    assert inline.match_vec_ids.tolist() == worker.match_vec_ids.tolist()
    assert inline.leaf_positions.keys() == worker.leaf_positions.keys()


def test_reingest_unchanged_embeds_nothing(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx", embedding_cache=None)  # no cache: the model must run
    stores = open_stores(settings, embedder)
    first = ingest(stores, [small_corpus])
    # every paragraph through every encoder of the index (MiniLM and USE by default)
    assert len(stores.spaces) == 2
    assert first.articles == 5 and first.embedded == 2 * first.paragraphs > 40
    again = ingest(stores, [small_corpus])
    assert (again.articles, again.unchanged, again.written, again.embedded) == (5, 5, 0, 0)
    assert check(stores).ok
    stores.close()


def test_edited_article_replaces_its_paragraphs_in_both_stores(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    stores = open_stores(settings_for(tmp_path / "idx"), embedder)
    ingest(stores, [small_corpus])
    path = small_corpus / "gnad.de.jsonl"
    recs = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    aid = recs[0]["id"]
    old = stores.catalog.paragraphs_of([aid])
    recs[0]["text"] = "Der Zebrafink-Ausschuss tagte überraschend. " * 3
    write_jsonl(path, recs)
    report = ingest(stores, [small_corpus])
    assert (report.written, report.unchanged) == (1, 4)
    new = stores.catalog.paragraphs_of([aid])
    assert len(new) == 1 and len(old) > 1
    gone = [p.paragraph_id for p in old if p.paragraph_id not in {n.paragraph_id for n in new}]
    assert gone
    assert not stores.lexical.fetch(gone)
    assert not {vec_id(g) for g in gone} & stores.vectors.ids()
    hits = stores.lexical.search(_q("Zebrafink"), Filters(), 10)
    assert [h.paragraph_id for h in hits] == [new[0].paragraph_id]
    old_word = old[-1].text.split()[-1].strip(".,")
    assert all(
        h.paragraph_id.rsplit(":", 1)[0] != aid or h.paragraph_id == new[0].paragraph_id
        for h in stores.lexical.search(_q(old_word), Filters(), 50)
    )
    assert check(stores).ok
    # delete removes it everywhere
    assert delete(stores, [aid]) == 1
    assert not stores.lexical.fetch([new[0].paragraph_id])
    assert vec_id(new[0].paragraph_id) not in stores.vectors.ids()
    assert check(stores).ok
    stores.close()


def _q(text: str) -> Node:
    root = parse_query(text).root
    assert root is not None
    return root


def test_check_finds_and_repair_fixes_divergence(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    stores = open_stores(settings_for(tmp_path / "idx"), embedder)
    ingest(stores, [small_corpus])
    pids = [p for p, _ in stores.catalog.iter_paragraph_ids()]
    stores.lexical.delete_paragraphs(pids[:2])
    stores.lexical.commit()
    stores.vectors.remove([vec_id(pids[5])])
    stores.vectors.add([123456789], stores.vectors.reconstruct([vec_id(pids[6])]))
    div = check(stores)
    assert div.missing_lexical == sorted(pids[:2])
    assert div.missing_vectors == [pids[5]]
    assert div.extra_vectors == [123456789]
    assert not div.ok
    before = stores.embedder.computed
    assert repair(stores) > 0
    assert stores.embedder.computed == before  # rewritten from the embedding cache
    assert check(stores).ok
    stores.close()


def test_reingest_is_idempotent_when_language_is_detected(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    """Records without a language get one detected; that must not make them look changed."""
    src = tmp_path / "nolang.jsonl"  # no language field, none in the file name
    write_jsonl(
        src,
        [
            {"id": "n1", "title": "Wahl", "text": "Die Regierung hat die Wahl in Wien verloren."},
            {"id": "n2", "title": "Vote", "text": "The government lost the vote in parliament."},
        ],
    )
    stores = open_stores(settings_for(tmp_path / "idx"), embedder)
    ingest(stores, [src])
    meta = stores.catalog.articles(["n1", "n2"])
    assert (meta["n1"]["language"], meta["n2"]["language"]) == ("de", "en")
    again = ingest(stores, [src])
    assert (again.unchanged, again.written, again.embedded) == (2, 0, 0)
    stores.close()


def test_later_duplicate_wins_across_batches_on_reingest(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    """Two versions of one id in one input (re-gathered stories): the last one must end up
    indexed on every run, even when the catalog already holds that last version."""
    src = tmp_path / "dups.de.jsonl"
    old = {"id": "d1", "title": "Wahl", "text": "Alte Fassung der Meldung über die Wahl."}
    new = {"id": "d1", "title": "Wahl", "text": "Neue Fassung der Meldung über die Wahl."}
    filler = [{"id": f"f{i}", "title": "F", "text": f"Füllmeldung Nummer {i}."} for i in range(6)]
    write_jsonl(src, [old, *filler, new])
    stores = open_stores(settings_for(tmp_path / "idx", ingest_batch=2), embedder)
    for _ in range(2):
        ingest(stores, [src])
        assert [p.text for p in stores.catalog.paragraphs_of(["d1"])] == [new["text"]]
        assert check(stores).ok
    stores.close()


def test_index_of_another_model_backend_is_refused_with_the_setting_to_use(
    tmp_path: Path, settings_for: Any, embedder: Embedder, torch_embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx")
    open_stores(settings, torch_embedder).close()  # records the torch model's key
    with pytest.raises(ValueError, match="NEWSSEARCH_MODEL_BACKEND=torch"):
        open_stores(settings, embedder)
    open_stores(settings, torch_embedder).close()  # the model it was built with still opens


def test_repair_lexical_rebuilds_an_old_embedded_index_from_the_catalog(
    tmp_path: Path, small_corpus: Path, settings_for: Any, subprocess_env: dict[str, str]
) -> None:
    import shutil
    import subprocess
    import sys

    from tests.lexical.test_embedded_backend import _legacy_index

    index = tmp_path / "idx"
    cli = [sys.executable, "-m", "search_api"]
    run = subprocess.run(
        [*cli, "ingest", str(small_corpus), "--index", str(index), "--json"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    paragraphs = json.loads(run.stdout)["paragraphs"]
    # Swap in a lexical store in the first release's schema (no vec_id column, one stray doc).
    shutil.rmtree(index / "lexical")
    _legacy_index(index / "lexical")
    run = subprocess.run(
        [*cli, "repair", "--index", str(index), "--lexical"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"lexical_rebuilt": paragraphs, "rewritten": 0}
    stores = open_stores(settings_for(index))
    try:
        assert check(stores).ok
        assert getattr(stores.lexical, "has_vec_ids", False)
        hits = SearchEngine(stores).search(SearchRequest(q="Putin Tokajew", mode="bm25"))
        assert hits.results and hits.results[0].title == SEED_TITLE
    finally:
        stores.close()


def test_a_cached_set_shows_each_requests_own_passages(stores: Stores) -> None:
    """The set is cached per query; passages and explanations belong to the page request."""
    engine = SearchEngine(stores)
    one = engine.search(SearchRequest(q="Tokajew", mode="bm25", passages=1))
    many = engine.search(SearchRequest(q="Tokajew", mode="bm25", passages=5, explain=True))
    assert max(len(r.passages) for r in one.results) == 1
    assert max(len(r.passages) for r in many.results) > 1
    assert all(p.explanation is not None for r in many.results for p in r.passages)


def test_stop_words_count_only_in_their_languages(stores: Stores) -> None:
    """German articles: "war" is a German stop word (skipped, not required), "the" is not."""
    engine = SearchEngine(stores)

    def members(q: str) -> set[str]:
        req = SearchRequest(q=q, mode="bm25", match="all", limit=100)
        return {r.article_id for r in engine.search(req).results}

    regierung = members("Regierung")
    assert regierung and members("war Regierung") == regierung
    assert members("the Regierung") < regierung  # a word in German fields: required


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_explanations_add_up(stores: Stores, fusion: str) -> None:
    """explain=true: why each article is in the set, the words it contains, and scores that
    add up: passage components to the fused score, contributions to the article score."""
    req = SearchRequest(
        q="Putin Tokajew Kasachstan",
        match="any",
        fusion=fusion,
        explain=True,
        passages=20,
        min_similarity=GERMAN_MIN_SIMILARITY,
    )
    resp = SearchEngine(stores).search(req)
    assert resp.results
    for r in resp.results:
        ex = r.explanation
        assert ex is not None and ex.why == r.matched and ex.fusion.startswith(fusion)
        assert set(ex.matched_terms) <= {"Putin", "Tokajew", "Kasachstan"}
        if "lexical" in ex.why:
            text = " ".join(p.text for p in stores.catalog.paragraphs_of([r.article_id]))
            text += " " + r.title
            assert ex.matched_terms and all(t[:5] in text for t in ex.matched_terms)
        if ex.ranked:
            assert r.score is not None
            article = ex.article_bm25 or 0.0  # BM25 over the whole article (hybrid)
            assert sum(c.contribution for c in ex.contributions) + article == pytest.approx(r.score)
            assert ex.article_bm25 is not None and ex.article_bm25 != 0.0
        for p in r.passages:
            e = p.explanation
            assert e is not None and e.fused_score == p.score
            if p.score is not None and e.bm25_component is not None:
                assert e.bm25_component + (e.dense_component or 0.0) == pytest.approx(p.score)
    top = resp.results[0].explanation
    assert top is not None and set(top.matched_terms) == {"Putin", "Tokajew", "Kasachstan"}
