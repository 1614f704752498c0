"""REST API over a real index: schema, errors as 4xx with messages, health, docs, UI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from indexer.settings import Settings
from indexer.stores import Stores
from search_api.app import create_app
from tests.conftest import SEED_TITLE


@pytest.fixture
def client(built_index: Settings, stores: Stores) -> Iterator[TestClient]:
    with TestClient(create_app(built_index, stores), raise_server_exceptions=False) as c:
        yield c


def test_search_returns_the_output_schema(client: TestClient) -> None:
    resp = client.get("/search", params={"q": "Putin Tokajew", "limit": 3})
    assert resp.status_code == 200
    body = resp.json()
    assert {"query", "mode", "total", "total_paragraphs", "next", "generation", "results"} <= (
        body.keys()
    )
    assert body["query"] == "Putin Tokajew" and body["mode"] == "hybrid"
    assert len(body["results"]) == min(3, body["total"]) and body["total"] >= 1
    top = body["results"][0]
    assert top["title"] == SEED_TITLE
    assert {
        "article_id",
        "title",
        "source",
        "url",
        "published_at",
        "language",
        "score",
        "matched",
        "rank",
        "passages",
    } <= top.keys()
    assert top["rank"] == 1 and "lexical" in top["matched"]
    assert {"paragraph_id", "text", "score"} <= top["passages"][0].keys()


def test_post_search_and_list_filters(client: TestClient) -> None:
    body = {
        "q": "Russland Krieg",
        "mode": "bm25",
        "match": "any",
        "source": ["Bbabo NET", "zeit"],
        "limit": 50,
    }
    resp = client.post("/search", json=body)
    assert resp.status_code == 200
    assert {r["source"] for r in resp.json()["results"]} == {"Bbabo NET", "zeit"}
    resp = client.get("/search", params=[("q", "Krieg"), ("source", "zeit"), ("mode", "bm25")])
    assert {r["source"] for r in resp.json()["results"]} == {"zeit"}


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"q": '"unclosed'}, 400, "unterminated quote"),
        ({"q": "a)"}, 400, "closing parenthesis"),
        ({"q": "x", "limit": 1000}, 422, "less than or equal to 100"),
        ({"q": "x", "mode": "magic"}, 422, "bm25"),
        ({"q": "x" * 1001}, 422, "at most 1000"),
        ({"q": "x", "sort": "dated"}, 422, "date_desc"),
        ({"q": "x", "weights": "1,2"}, 422, "weights"),
        ({"q": "x", "cursor": "not-a-cursor"}, 400, "cursor"),
        ({"q": "x", "cursor": "abc", "offset": 5}, 400, "either cursor or offset"),
        (
            {"q": "x", "date_from": "2022-02-02T00:00:00Z", "date_to": "2021-01-01T00:00:00Z"},
            400,
            "after",
        ),
        ({"q": "x", "date_from": "2022-01-01", "date_to": "2023-01-01T00:00:00Z"}, 422, "zone"),
        ({"q": "x", "date_from": "not-a-date"}, 422, "datetime"),
    ],
)
def test_bad_requests_are_4xx_with_a_message(
    client: TestClient, params: dict[str, object], status: int, fragment: str
) -> None:
    resp = client.get("/search", params=params)
    assert resp.status_code == status
    assert fragment in resp.text
    assert "Traceback" not in resp.text


def test_health_and_docs(client: TestClient, stores: Stores) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["lexical_ok"] is True
    assert health["paragraphs"] == health["lexical_paragraphs"] == health["vectors"] > 0
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/search", "/facets", "/timeline", "/export"} <= spec["paths"].keys()


def test_ui_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<form id="search-form"' in page.text


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    """A lone surrogate used to turn the 422 into a 500 (the echo could not be encoded), and a
    10 MB body came back whole."""
    resp = client.post(
        "/search",
        content='{"q": "Putin \\ud800 x"}',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "q"]
    huge = "x" * 10_000_000
    resp = client.post("/search", json={"q": huge})
    assert resp.status_code == 422 and len(resp.content) < 2_000
    resp = client.get("/search", params={"q": "Putin\x00\x07 Tokajew", "mode": "bm25"})
    assert resp.status_code == 200 and resp.json()["query"] == "Putin Tokajew"
