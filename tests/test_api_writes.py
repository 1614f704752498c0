"""Write endpoints on real stores (embedded and Elasticsearch): the API key, ingest of the good
records of a batch with a problem per bad one, delete, and what reads see after writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from indexer.catalog import vec_id
from indexer.embedder import Embedder
from indexer.pipeline import check
from indexer.stores import Stores, open_stores
from search_api.app import create_app

KEY = "s3cret-key"
AUTH = {"X-API-Key": KEY}
BACKENDS = ["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
ARTICLE = {
    "article_id": "api-1",
    "title": "Zebrafinken im Parlament",
    "body": "Der Ausschuss beriet über Zebrafinken.\n\nDie Abstimmung wurde vertagt.",
    "source": "testsource",
    "language": "de",
    "published_at": "2024-05-01T10:00:00Z",
}


@pytest.fixture(params=BACKENDS)
def writable(
    request: pytest.FixtureRequest, tmp_path: Path, settings_for: Any, embedder: Embedder
) -> Iterator[tuple[TestClient, Stores]]:
    extra: dict[str, Any] = {}
    if request.param == "elasticsearch":
        es_url: str = request.getfixturevalue("es_url")
        extra = {"lexical": "elasticsearch", "es_url": es_url, "es_index_prefix": uuid4().hex[:10]}
    settings = settings_for(tmp_path / "idx", api_key=KEY, **extra)
    stores = open_stores(settings, embedder)
    with TestClient(create_app(settings, stores), raise_server_exceptions=False) as client:
        yield client, stores
    stores.close()
    if request.param == "elasticsearch":
        es: Elasticsearch = request.getfixturevalue("es_client")
        es.indices.delete(index=settings.es_index, ignore_unavailable=True)


def post(client: TestClient, *articles: Any) -> dict[str, Any]:
    resp = client.post("/articles", json={"articles": list(articles)}, headers=AUTH)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_writes_need_the_key(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    body = {"articles": [ARTICLE]}
    for resp in (
        client.post("/articles", json=body),
        client.post("/articles", json=body, headers={"X-API-Key": "wrong"}),
        client.delete("/articles/api-1", headers={"X-API-Key": KEY[:-1]}),
    ):
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["type"] == "urn:newssearch:problem:unauthorized"
        assert resp.json()["detail"] == "missing or wrong X-API-Key header"
    assert stores.catalog.counts()["articles"] == 0


def test_writes_are_disabled_without_a_configured_key(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    settings = settings_for(tmp_path / "idx")
    stores = open_stores(settings, embedder)
    with TestClient(create_app(settings, stores)) as client:
        resp = client.post("/articles", json={"articles": [ARTICLE]}, headers={"X-API-Key": ""})
        assert resp.status_code == 403 and "NEWSSEARCH_API_KEY" in resp.json()["detail"]
        assert resp.json()["type"] == "urn:newssearch:problem:writes-disabled"
        assert client.delete("/articles/x", headers=AUTH).status_code == 403
    stores.close()


def test_ingest_search_read_similar_reingest_delete(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    first = post(client, ARTICLE)
    assert (first["written"], first["problems"]) == (1, []) and first["paragraphs"] >= 1
    again = post(client, ARTICLE)
    assert (again["written"], again["unchanged"]) == (0, 1)
    hits = client.get("/search", params={"q": "Zebrafinken", "mode": "bm25"}).json()
    assert hits["results"][0]["article_id"] == "api-1"
    article = client.get("/articles/api-1").json()
    assert article["title"] == ARTICLE["title"] and article["published_at"].startswith("2024-05")
    body = str(ARTICLE["body"])
    for p in article["paragraphs"]:
        assert body[p["start"] : p["end"]].split() == p["text"].split()
    # A syndicated copy (same text, other id) is the most similar article; itself is not.
    post(client, {**ARTICLE, "article_id": "api-copy", "source": "copysource"})
    similar = client.get("/articles/api-1/similar").json()
    assert [r["article_id"] for r in similar["results"]] == ["api-copy"]
    assert similar["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert similar["total"] == 1
    stats = client.get("/stats").json()
    assert (stats["articles"], stats["languages"]) == (2, {"de": 2})
    pids = [p for p, _ in stores.catalog.iter_paragraph_ids() if p.startswith("api-1:")]
    gone = client.delete("/articles/api-1", headers=AUTH)
    assert gone.status_code == 200 and gone.json()["deleted_paragraphs"] == len(pids)
    assert client.get("/search", params={"q": "Zebrafinken", "mode": "bm25"}).json()["total"] == 1
    assert not stores.lexical.fetch(pids)
    assert not {vec_id(p) for p in pids} & stores.vectors.ids()
    assert check(stores).ok
    assert client.delete("/articles/api-1", headers=AUTH).status_code == 404
    assert client.get("/articles/api-1").status_code == 404
    assert client.get("/articles/api-1/similar").status_code == 404


def test_a_cursor_of_similar_articles_goes_stale_after_a_write(
    writable: tuple[TestClient, Stores],
) -> None:
    client, _ = writable
    post(client, *({**ARTICLE, "article_id": f"c-{i}"} for i in range(4)))
    first = client.get("/articles/c-0/similar", params={"limit": 1}).json()
    assert first["total"] == 3 and first["next"]
    post(client, {**ARTICLE, "article_id": "c-9"})
    stale = client.get("/articles/c-0/similar", params={"limit": 1, "cursor": first["next"]})
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:newssearch:problem:stale-cursor"


def test_ids_with_slashes_and_unicode(writable: tuple[TestClient, Stores]) -> None:
    client, _ = writable
    post(client, {**ARTICLE, "article_id": "zeit.de/politik/2024/ä b"})
    for path in (
        "/articles/zeit.de/politik/2024/ä b",
        "/articles/zeit.de%2Fpolitik%2F2024%2F%C3%A4%20b",
    ):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.text)
        assert resp.json()["article_id"] == "zeit.de/politik/2024/ä b"
    assert client.get("/articles/zeit.de/politik/2024/ä b/similar").status_code == 200
    assert client.delete("/articles/zeit.de/politik/2024/ä b", headers=AUTH).status_code == 200


BAD_RECORDS: list[tuple[Any, str | None, str]] = [
    ({**ARTICLE, "body": ""}, "body", "at least 1 character"),
    ({**ARTICLE, "body": " \n\t  "}, "body", "no text"),
    ({**ARTICLE, "body": "\u200b\ufeff"}, "body", "no text"),
    ({**ARTICLE, "published_at": "yesterday"}, "published_at", "datetime"),
    ({**ARTICLE, "published_at": "2024-05-01T10:00:00"}, "published_at", "timezone"),
    ({**ARTICLE, "unknown_field": 1}, "unknown_field", "Extra inputs"),
    ({k: v for k, v in ARTICLE.items() if k != "body"}, "body", "Field required"),
    ({**ARTICLE, "url": "javascript:alert(document.domain)"}, "url", "not an http(s) url"),
    ({**ARTICLE, "url": "data:text/html,<b>x</b>"}, "url", "not an http(s) url"),
    ({**ARTICLE, "url": "/relative/path"}, "url", "absolute http(s) url"),
    ({**ARTICLE, "title": "T \ud800 x"}, "title", "unicode"),
    ({**ARTICLE, "authors": ["A \udc00"]}, "authors.0", "unicode"),
    ({**ARTICLE, "extra": {"k": float("nan")}}, "extra.k", "finite"),
    ("not an object", None, "not a JSON object (str)"),
    (None, None, "not a JSON object (NoneType)"),
]


@pytest.mark.parametrize(("record", "field", "reason"), BAD_RECORDS)
def test_bad_records_are_reported_and_the_good_ones_ingested(
    writable: tuple[TestClient, Stores], record: Any, field: str | None, reason: str
) -> None:
    """A batch used to be refused whole (422) for one bad article."""
    client, stores = writable
    good = {**ARTICLE, "article_id": "good-1"}
    # Sent as raw JSON: a lone surrogate or NaN travels as JSON allows it.
    content = json.dumps({"articles": [good, record]})
    resp = client.post(
        "/articles", content=content, headers={**AUTH, "content-type": "application/json"}
    )
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert (result["articles"], result["written"]) == (1, 1)
    (problem,) = result["problems"]
    assert problem["index"] == 1 and problem["field"] == field
    assert reason.lower() in problem["reason"].lower() and len(problem["reason"]) < 300
    assert stores.catalog.committed_article_ids() == ["good-1"]
    assert check(stores).ok


def test_a_stored_url_is_only_ever_http(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    result = post(
        client,
        {**ARTICLE, "article_id": "x1", "url": "javascript:alert(document.domain)"},
        {**ARTICLE, "article_id": "x2", "url": " JaVaScRiPt:alert(1)"},
        {**ARTICLE, "article_id": "x3", "url": "java\tscript:alert(1)"},
        {**ARTICLE, "article_id": "ok", "url": "https://example.org/zebrafinken"},
    )
    assert [p["index"] for p in result["problems"]] == [0, 1, 2] and result["written"] == 1
    assert stores.catalog.committed_article_ids() == ["ok"]
    page = client.get("/search", params={"q": "Zebrafinken", "mode": "bm25"}).json()
    assert [r["url"] for r in page["results"]] == ["https://example.org/zebrafinken"]


def test_an_all_bad_batch_writes_nothing_and_says_why(writable: tuple[TestClient, Stores]) -> None:
    client, stores = writable
    result = post(client, {"body": " "}, {"body": "x", "url": "vbscript:x"})
    assert (result["articles"], result["written"]) == (0, 0)
    assert [(p["index"], p["field"]) for p in result["problems"]] == [(0, "body"), (1, "url")]
    assert stores.catalog.counts()["articles"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"articles": []}, "body.articles"),
        ({"articles": [ARTICLE] * 1001}, "body.articles"),
        ({"items": [ARTICLE]}, "body.items"),
        ([ARTICLE], "body"),
    ],
)
def test_a_broken_envelope_is_422(
    writable: tuple[TestClient, Stores], body: Any, field: str
) -> None:
    client, stores = writable
    resp = client.post("/articles", json=body, headers=AUTH)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"] for e in resp.json()["errors"]}
    assert stores.catalog.counts()["articles"] == 0
