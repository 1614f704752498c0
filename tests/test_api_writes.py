"""Write endpoints: API key required (constant-time compare), ingest and delete through REST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.catalog import vec_id
from indexer.embedder import Embedder
from indexer.pipeline import check
from indexer.stores import Stores, open_stores
from search_api.app import create_app

KEY = "s3cret-key"
ARTICLE = {
    "article_id": "api-1",
    "title": "Zebrafinken im Parlament",
    "body": "Der Ausschuss beriet über Zebrafinken.\n\nDie Abstimmung wurde vertagt.",
    "source": "testsource",
    "language": "de",
    "published_at": "2024-05-01T10:00:00Z",
}


@pytest.fixture
def writable(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> Iterator[tuple[TestClient, Stores]]:
    settings = settings_for(tmp_path / "idx", api_key=KEY)
    stores = open_stores(settings, embedder)
    with TestClient(create_app(settings, stores), raise_server_exceptions=False) as client:
        yield client, stores
    stores.close()


def test_writes_need_the_key(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    body = {"articles": [ARTICLE]}
    assert client.post("/articles", json=body).status_code == 401
    assert client.post("/articles", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.delete("/articles/api-1", headers={"X-API-Key": KEY[:-1]}).status_code == 401
    assert stores.catalog.counts()["articles"] == 0


def test_writes_are_disabled_without_a_configured_key(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx")
    stores = open_stores(settings, embedder)
    with TestClient(create_app(settings, stores)) as client:
        resp = client.post("/articles", json={"articles": [ARTICLE]}, headers={"X-API-Key": ""})
        assert resp.status_code == 403 and "NEWSSEARCH_API_KEY" in resp.text
    stores.close()


def test_ingest_search_reingest_delete(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    auth = {"X-API-Key": KEY}
    first = client.post("/articles", json={"articles": [ARTICLE]}, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["written"] == 1 and first.json()["paragraphs"] >= 1
    again = client.post("/articles", json={"articles": [ARTICLE]}, headers=auth).json()
    assert (again["written"], again["unchanged"]) == (0, 1)
    hits = client.get("/search", params={"q": "Zebrafinken", "mode": "bm25"}).json()
    assert hits["results"][0]["article_id"] == "api-1"
    pids = [p for p, _ in stores.catalog.iter_paragraph_ids()]
    gone = client.delete("/articles/api-1", headers=auth)
    assert gone.status_code == 200 and gone.json()["deleted_paragraphs"] == len(pids)
    assert client.get("/search", params={"q": "Zebrafinken", "mode": "bm25"}).json()["total"] == 0
    assert not stores.lexical.fetch(pids)
    assert not {vec_id(p) for p in pids} & stores.vectors.ids()
    assert check(stores).ok
    assert client.delete("/articles/api-1", headers=auth).status_code == 404


@pytest.mark.parametrize(
    "article",
    [
        {**ARTICLE, "body": ""},
        {**ARTICLE, "published_at": "yesterday"},
        {**ARTICLE, "unknown_field": 1},
        {k: v for k, v in ARTICLE.items() if k != "body"},
    ],
)
def test_invalid_articles_are_422(
    writable: tuple[TestClient, Stores], article: dict[str, Any]
) -> None:
    client, stores = writable
    resp = client.post("/articles", json={"articles": [article]}, headers={"X-API-Key": KEY})
    assert resp.status_code == 422
    assert stores.catalog.counts()["articles"] == 0


def test_naive_dates_are_400(writable: tuple[TestClient, Stores]) -> None:
    client, _ = writable
    article = {**ARTICLE, "published_at": "2024-05-01T10:00:00"}
    resp = client.post("/articles", json={"articles": [article]}, headers={"X-API-Key": KEY})
    assert resp.status_code == 400 and "timezone" in resp.text
