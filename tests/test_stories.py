"""Stories on real near-duplicates (tests/conftest.py ``stories_corpus``): clustering at
ingest, folding in every view, ``/versions``, edits and deletes, and the catalog migration.

Expected stories are derived from the data, not listed: BBC copies are found by equal body
text plus the two known rewrites (conftest ``BBC_STORY_IDS``); zeitgeist repeats by their url.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from indexer.dedup import Banding, StoryIndex, StoryParams, decode
from indexer.embedder import Embedder
from indexer.models import Article
from indexer.pipeline import check, delete, ingest_articles
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.app import create_app
from search_api.cli import app as cli_app
from search_api.engine import SearchEngine
from search_api.schemas import SearchRequest, SearchResponse

BUCKET_ROWS = "SELECT band, key, article_id FROM story_buckets JOIN story_ids USING (num)"
QUERIES = ["", "pension strike", "Budget", "Gaza", "Regierung", "Labour election", "Ukraine"]


def expected_groups(stores: Stores) -> list[set[str]]:
    """The stories the corpus holds: BBC articles with the same body, the two known rewrites
    joined to their originals, zeitgeist records of one url."""
    ids = stores.catalog.committed_article_ids()
    meta = stores.catalog.articles(ids)
    groups: dict[str, set[str]] = defaultdict(set)
    bodies: dict[str, list[str]] = defaultdict(list)
    for p in stores.catalog.paragraphs_of(ids):
        bodies[p.article_id].append(p.text)
    for a in ids:
        url = meta[a]["url"]
        key = f"url:{url}" if url else "text:" + "\n".join(bodies[a])
        groups[key].add(a)
    merged = [set(g) for g in groups.values()]
    for x, y in (("politics/069", "politics/312"), ("politics/077", "politics/354")):
        gx = next(g for g in merged if x in g)
        gy = next(g for g in merged if y in g)
        if gx is not gy:
            gx |= gy
            merged.remove(gy)
    return merged


@pytest.fixture
def story_stores(stories_index: Settings, embedder: Embedder) -> Iterator[Stores]:
    opened = open_stores(stories_index, embedder)
    yield opened
    opened.close()


@pytest.fixture
def own_copy(tmp_path: Path, stories_index: Settings, embedder: Embedder) -> Iterator[Stores]:
    """A writable copy of the stories index."""
    target = tmp_path / "stories"
    shutil.copytree(stories_index.index, target)
    opened = open_stores(stories_index.model_copy(update={"index": target}), embedder)
    yield opened
    opened.close()


def stories_by_article(stores: Stores) -> dict[str, str | None]:
    return stores.catalog.stories_of(stores.catalog.committed_article_ids())


def test_copies_share_a_story_named_after_their_smallest_id(story_stores: Stores) -> None:
    stories = stories_by_article(story_stores)
    groups = expected_groups(story_stores)
    assert sum(len(g) > 1 for g in groups) == 9  # 4 BBC copies, 1 of 3, 4 zeitgeist repeats
    for group in groups:
        assert {stories[a] for a in group} == {min(group)}, sorted(group)
    assert len(set(stories.values())) == len(groups)


def pages(engine: SearchEngine, req: SearchRequest, size: int, cursor: bool) -> list[Any]:
    out: list[SearchResponse] = [engine.search(req.model_copy(update={"limit": size}))]
    while (out[-1].next if cursor else out[-1].offset + size < out[-1].total) and len(out) < 200:
        update: dict[str, Any] = (
            {"limit": size, "cursor": out[-1].next}
            if cursor
            else {"limit": size, "offset": out[-1].offset + size}
        )
        out.append(engine.search(req.model_copy(update=update)))
    return [r for p in out for r in p.results]


@pytest.mark.parametrize("sort", ["relevance", "date_desc", "date_asc"])
def test_folded_views_count_stories_and_agree(story_stores: Stores, sort: str) -> None:
    """total = stories paging yields (each once, any page size, cursors) = facet totals =
    timeline sum + undated = export rows; versions add up to total_articles; each story is
    represented by its first article in the unfolded order."""
    engine = SearchEngine(story_stores)
    stories = stories_by_article(story_stores)
    folded_some = False
    try:
        for q in QUERIES:
            base = SearchRequest(q=q, sort=sort, facets=True, timeline=True, limit=100)
            flat = engine.search(base.model_copy(update={"fold": False}))
            flat_ids = [
                r.article_id
                for r in pages(engine, base.model_copy(update={"fold": False}), 7, True)
            ]
            assert len(flat_ids) == flat.total == flat.total_articles, q
            assert all(r.versions == 0 for r in flat.results)
            first_of: dict[str | None, str] = {}
            for a in flat_ids:
                first_of.setdefault(stories[a], a)
            folded = engine.search(base)
            assert folded.total_articles == flat.total_articles, q
            assert folded.total == folded.total_stories == flat.total_stories == len(first_of)
            for size, cursor in ((1, False), (3, True), (100, False)):
                got = pages(engine, base, size, cursor)
                assert [r.article_id for r in got] == list(first_of.values()), (q, size)
                assert sum(1 + r.versions for r in got) == folded.total_articles, (q, size)
                for r in got:
                    assert r.story == stories[r.article_id]
                    assert r.versions == sum(stories[a] == r.story for a in flat_ids) - 1
            folded_some |= folded.total < flat.total
            for resp in (flat, folded):
                assert resp.facets is not None and resp.timeline is not None
                for facet in resp.facets:
                    if facet.field != "author":
                        listed = sum(v.count for v in facet.values) + facet.other + facet.missing
                        assert facet.total == listed == resp.total, (q, facet.field)
                tl = resp.timeline
                assert sum(b.count for b in tl.buckets) + tl.undated == resp.total, q
                assert all(b.count <= b.corpus for b in tl.buckets)
            for fold in (True, False):
                req = base.model_copy(update={"fold": fold})
                lines = "".join(engine.export(req, "jsonl", "article")).splitlines()
                rows = [json.loads(line) for line in lines[1:]]
                want = folded if fold else flat
                assert len(rows) == want.total, (q, fold)
                assert ("versions" in rows[0]) is fold if rows else True
                if fold:
                    assert sum(1 + r["versions"] for r in rows) == want.total_articles
    finally:
        engine.close()
    assert folded_some  # the queries do meet copies


def test_versions_endpoint_detail_and_stats(story_stores: Stores) -> None:
    stores = story_stores
    with TestClient(create_app(stores.settings, stores)) as client:
        groups = expected_groups(stores)
        meta = stores.catalog.articles(stores.catalog.committed_article_ids())
        for group in groups:
            for a in sorted(group):
                got = client.get(f"/articles/{a}/versions")
                assert got.status_code == 200, got.text
                body = got.json()
                assert body["article_id"] == a and body["story"] == min(group)
                listed = [v["article_id"] for v in body["versions"]]
                assert set(listed) == group - {a}
                dates = [meta[x]["published_at"] for x in listed]
                dated = [d for d in dates if d is not None]
                assert dates == sorted(dated) + [None] * (len(dates) - len(dated))
                undated = [x for x in listed if meta[x]["published_at"] is None]
                assert undated == sorted(undated)
                assert {"source", "url", "published_at", "title", "language"} <= set(
                    (body["versions"] or [{}])[0]
                ) or not listed
                detail = client.get(f"/articles/{a}").json()
                assert detail["story"] == min(group) and detail["versions"] == len(group) - 1
        missing = client.get("/articles/no-such-article/versions")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        stats = client.get("/stats").json()
        assert stats["stories"] == len(groups) and stats["unclustered"] == 0
        assert client.get("/search", params={"q": "Budget", "fold": "maybe"}).status_code == 422
        flat = client.get("/search", params={"q": "Budget", "fold": "false"}).json()
        folded = client.get("/search", params={"q": "Budget"}).json()
        assert folded["total_articles"] == flat["total"] >= folded["total"]


def test_an_edited_copy_leaves_its_story_and_a_deleted_representative_orphans_none(
    own_copy: Stores,
) -> None:
    stores = own_copy
    before = stories_by_article(stores)
    assert before["politics/004"] == before["politics/330"] == "politics/004"
    assert {before[a] for a in ("politics/069", "politics/311", "politics/312")} == {"politics/069"}
    # politics/330 rewritten into another text: no longer a copy of politics/004.
    other = stores.catalog.paragraphs_of(["politics/005"])
    edited = Article(
        article_id="politics/330",
        title="A different report",
        body="\n\n".join(p.text for p in other) + "\n\nAn added closing paragraph.",
        source="BBC",
    )
    report = ingest_articles(stores, [edited])
    assert report.written == 1
    after = stories_by_article(stores)
    assert after["politics/330"] != "politics/004" and after["politics/004"] == "politics/004"
    # ... it now retells politics/005, so it joins that story.
    assert after["politics/330"] == after["politics/005"] == after["politics/359"]
    # The story's smallest id deleted: the others keep one story, under the next id.
    delete(stores, ["politics/069"])
    after = stories_by_article(stores)
    assert "politics/069" not in after
    assert after["politics/311"] == after["politics/312"] == "politics/311"
    delete(stores, ["politics/311"])
    assert stories_by_article(stores)["politics/312"] == "politics/312"
    assert check(stores).ok
    # Search sees it: the folded view counts the edited stories.
    engine = SearchEngine(stores)
    try:
        resp = engine.search(SearchRequest(q="pension strike", limit=100))
        ids = [r.article_id for r in resp.results]
        assert "politics/312" in ids and all(
            r.versions == 0 for r in resp.results if r.article_id == "politics/312"
        )
    finally:
        engine.close()
    # A fresh process (the LSH index rebuilt from the catalog) agrees.
    settings = stores.settings
    reopened = open_stores(settings, stores.embedder.inner)
    try:
        ingest_articles(reopened, [edited.model_copy(update={"title": "A different report!"})])
        assert stories_by_article(reopened)["politics/330"] == after["politics/005"]
    finally:
        reopened.close()


def test_a_legacy_catalog_is_migrated_then_clustered_by_the_stories_command(
    own_copy: Stores, subprocess_env: dict[str, str]
) -> None:
    stores = own_copy
    want = stories_by_article(stores)
    path = stores.catalog.path
    settings = stores.settings
    embedder = stores.embedder.inner
    stores.close()
    # Make it a catalog from before stories: no story / minhash columns, schema version 0.
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX articles_story; ALTER TABLE articles DROP COLUMN story; "
        "ALTER TABLE articles DROP COLUMN minhash; PRAGMA user_version = 0;"
    )
    db.close()
    legacy = open_stores(settings, embedder)
    try:
        assert legacy.catalog.schema_version() == 2
        assert set(stories_by_article(legacy).values()) == {None}
        engine = SearchEngine(legacy)
        resp = engine.search(SearchRequest(q="Budget", limit=100))
        assert resp.total == resp.total_articles == resp.total_stories  # nothing folds yet
        assert engine.stats().unclustered == len(want)
        engine.close()
    finally:
        legacy.close()
    result = CliRunner().invoke(
        cli_app, ["stories", "--index", str(settings.index)], env=subprocess_env
    )
    assert result.exit_code == 0, result.output
    reopened = open_stores(settings, embedder)
    try:
        assert stories_by_article(reopened) == want
    finally:
        reopened.close()


def test_cli_versions(stories_index: Settings, subprocess_env: dict[str, str]) -> None:
    args = ["versions", "politics/069", "--index", str(stories_index.index)]
    result = CliRunner().invoke(cli_app, [*args, "--format", "json"], env=subprocess_env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert {v["article_id"] for v in body["versions"]} == {"politics/311", "politics/312"}
    table = CliRunner().invoke(cli_app, args, env=subprocess_env)
    assert "politics/312" in table.output and "2 other version" in table.output
    unknown = CliRunner().invoke(
        cli_app, ["versions", "nope", "--index", str(stories_index.index)], env=subprocess_env
    )
    assert unknown.exit_code == 2


def test_a_version_1_catalog_gets_its_buckets_from_the_stored_signatures(
    own_copy: Stores,
) -> None:
    """Migration 1 -> 2 fills ``story_buckets`` from the stored signatures (the same rows the
    commits wrote, the candidates datasketch's in-memory LSH proposes on these real
    signatures); a writer with another threshold re-bands once and clusters as a fresh
    in-memory index of that threshold would."""
    stores = own_copy
    want = stories_by_article(stores)
    path, settings, embedder = stores.catalog.path, stores.settings, stores.embedder.inner
    stores.close()
    db = sqlite3.connect(path)
    rows = sorted(db.execute(BUCKET_ROWS))
    assert rows  # written by the commits of the fixture's ingest
    db.executescript(
        "DROP TABLE story_buckets; DROP TABLE story_ids; "
        "DELETE FROM meta WHERE key = 'story_minhash'; "
        "INSERT INTO meta VALUES ('story_minhash', '3x128'); PRAGMA user_version = 1;"
    )
    db.close()
    migrated = open_stores(settings, embedder)
    try:
        assert migrated.catalog.schema_version() == 2
        assert stories_by_article(migrated) == want
        db = sqlite3.connect(path)
        assert sorted(db.execute(BUCKET_ROWS)) == rows
        db.close()
        params = StoryParams.parse(migrated.catalog.get_meta("story_minhash") or "")
        assert params.banding == Banding.for_threshold(0.6, 128) and params.threshold == 0.6
        sigs = {a: decode(b) for a, b in migrated.catalog.clustered_signatures()}
        lsh = MinHashLSH(threshold=0.6, num_perm=128)
        for a, sig in sigs.items():
            lsh.insert(a, LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64)))
        for sig in sigs.values():
            proposed = set(lsh.query(LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64))))
            assert migrated.catalog.bucket_candidates(params.banding.buckets(sig)) == proposed
        delete(migrated, ["politics/069"])  # works on the migrated buckets
        assert stories_by_article(migrated)["politics/312"] == "politics/311"
    finally:
        migrated.close()
    strict = open_stores(settings.model_copy(update={"story_threshold": 0.9}), embedder)
    try:
        ingest_articles(strict, [Article(article_id="zz-new", title="Fresh", body="A new text.")])
        params = StoryParams.parse(strict.catalog.get_meta("story_minhash") or "")
        assert params.banding == Banding.for_threshold(0.9, 128) and params.threshold == 0.9
        ids = strict.catalog.committed_article_ids()
        fresh = StoryIndex.load(strict.catalog, 0.9, 128).cluster_all(ids)
        assert strict.catalog.bucket_rows() == len(fresh) * params.banding.bands
        recomputed = StoryIndex(0.9, 128, strict.catalog).cluster_all(ids)
        assert recomputed == fresh
    finally:
        strict.close()
