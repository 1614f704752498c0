"""``search_api.client``: unit tests on a fake transport (a plain function), then the client
against a real ``newssearch serve`` on loopback over a copy of the session index."""

from __future__ import annotations

import csv
import inspect
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import search_api.client as client_module
from indexer.settings import Settings
from search_api.client import (
    APIError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NewsSearchClient,
    NotFound,
    SearchResults,
    ServerError,
    TimelineResults,
    Unauthorized,
    Unavailable,
)
from search_api.schemas import (
    ArticleDetail,
    ArticleIn,
    ArticleResult,
    SearchRequest,
    SimilarRequest,
    Stats,
    Timeline,
    TimelineBucket,
    Versions,
)
from tests.conftest import SEED_TITLE
from tests.live_server import API_KEY, running_server

Handler = Callable[[httpx.Request], httpx.Response]
PUBLIC = {
    "APIError",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "ExportInfo",
    "Forbidden",
    "InvalidRequest",
    "NewsSearchClient",
    "NotFound",
    "SearchResults",
    "ServerError",
    "TimelineResults",
    "Unauthorized",
    "Unavailable",
    "articles_to_dataframe",
}


def page_json(ids: list[str], total: int, offset: int = 0, next_: str | None = None) -> Any:
    return {
        "query": "x",
        "mode": "hybrid",
        "total": total,
        "offset": offset,
        "next": next_,
        "results": [
            {
                "rank": offset + i + 1,
                "article_id": a,
                "title": f"title {a}",
                "source": "ZEIT",
                "url": None,
                "published_at": "2022-02-10T09:00:00Z",
                "language": "de",
                "authors": ["Ann Lee", "Bo"],
                "score": 0.5,
                "matched": ["lexical"],
                "passages": [{"paragraph_id": f"{a}:1", "text": "text", "position": 1}],
            }
            for i, a in enumerate(ids)
        ],
    }


def fake(handler: Handler, **kwargs: Any) -> NewsSearchClient:
    return NewsSearchClient("http://test", transport=handler, **kwargs)


# -- surface -----------------------------------------------------------------------------------
def test_public_surface_is_explicit() -> None:
    """``__all__`` is the surface: exactly these names, and every public class or function
    defined in the module is in it."""
    assert set(client_module.__all__) == PUBLIC
    assert len(client_module.__all__) == len(PUBLIC)
    defined = {
        name
        for name, obj in vars(client_module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == client_module.__name__
    }
    assert defined == PUBLIC
    for name in PUBLIC:
        assert getattr(client_module, name).__doc__, name


def test_imports_without_pandas() -> None:
    code = "import sys; sys.modules['pandas'] = None; import search_api.client"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- requests ----------------------------------------------------------------------------------
def test_unknown_or_invalid_parameters_fail_before_any_request() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=page_json([], 0))

    with fake(handler) as client:
        with pytest.raises(ValidationError, match="weights"):
            client.search("x", weights=1)
        with pytest.raises(ValidationError, match="sort"):
            client.facets("x", sort="dated")
        with pytest.raises(ValidationError, match="limit"):
            list(client.iter_articles("x", limit=1000))
        with pytest.raises(ValidationError, match="format"):
            client.export(io.BytesIO(), "x", format="xlsx")
        with pytest.raises(TypeError):
            client.search(42)  # type: ignore[arg-type]
    assert sent == []


def test_request_model_keywords_and_text_are_one_request() -> None:
    bodies: list[Any] = []
    queries: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/search":
            bodies.append(json.loads(request.content))
            return httpx.Response(200, json=page_json(["a"], 1))
        queries.append(request.url.params)
        return httpx.Response(200, json=[])

    with fake(handler, api_key="k") as client:
        client.search(SearchRequest(q="Putin", sort="date_desc"), limit=5)
        client.search("Putin", source=["ZEIT", "Tagesschau"], lexical=False)
        client.search(q="Putin")
        client.facets("Putin", source=["ZEIT", "Tagesschau"], date_from="2022-01-01T00:00:00Z")
    assert bodies == [
        {"q": "Putin", "sort": "date_desc", "limit": 5},
        {"q": "Putin", "source": ["ZEIT", "Tagesschau"], "lexical": False},
        {"q": "Putin"},
    ]
    assert queries[0].get_list("source") == ["ZEIT", "Tagesschau"]
    assert queries[0]["date_from"] == "2022-01-01T00:00:00Z" and queries[0]["q"] == "Putin"


def test_api_key_header_and_ids_are_quoted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"articles": 1, "deleted_paragraphs": 3})

    with fake(handler, api_key="secret") as client:
        assert client.delete("a/b c").deleted_paragraphs == 3
    assert seen[0].headers["X-API-Key"] == "secret"
    assert seen[0].url.raw_path == b"/articles/a%2Fb%20c"


# -- cursors -----------------------------------------------------------------------------------
def test_iter_articles_follows_cursors_to_the_last_page() -> None:
    pages = {None: (["a", "b"], "c1"), "c1": (["c", "d"], "c2"), "c2": (["e"], None)}
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        ids, nxt = pages[body.get("cursor")]
        return httpx.Response(200, json=page_json(ids, 5, next_=nxt))

    with fake(handler) as client:
        got = list(client.iter_articles("x", offset=0, facets=True, mode="bm25"))
    assert [a.article_id for a in got] == ["a", "b", "c", "d", "e"]
    assert all(isinstance(a, ArticleResult) for a in got)
    assert [b.get("cursor") for b in bodies] == [None, "c1", "c2"]
    assert all(b["limit"] == 100 and b["mode"] == "bm25" for b in bodies)
    assert all("facets" not in b and "offset" not in b for b in bodies)


def test_iter_articles_keeps_the_page_size_and_start_asked_for() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        first = "cursor" not in bodies[-1]
        nxt = "n" if first else None
        return httpx.Response(200, json=page_json(["a"] if first else ["b"], 9, 3, nxt))

    with fake(handler) as client:
        assert len(list(client.iter_articles("x", limit=1, offset=3))) == 2
    assert bodies == [{"q": "x", "limit": 1, "offset": 3}, {"q": "x", "limit": 1, "cursor": "n"}]


def test_a_stale_cursor_mid_walk_is_a_conflict() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "cursor" in json.loads(request.content):
            return httpx.Response(
                409,
                json={
                    "type": "about:blank",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "the index changed since this cursor was made",
                },
                headers={"Content-Type": "application/problem+json"},
            )
        return httpx.Response(200, json=page_json(["a"], 2, next_="c1"))

    with fake(handler) as client:
        walk = client.iter_articles("x")
        assert next(walk).article_id == "a"
        with pytest.raises(Conflict, match="index changed") as caught:
            next(walk)
    assert caught.value.status == 409


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (422, InvalidRequest),
        (500, ServerError),
        (503, Unavailable),
        (418, APIError),
    ],
)
def test_problem_json_becomes_the_exception_of_its_status(status: int, cls: type) -> None:
    problem = {
        "type": "https://newssearch/problems/x",
        "title": "Some title",
        "status": status,
        "detail": "what happened",
        "errors": [{"field": "sort", "message": "unknown value"}],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=problem)

    with fake(handler) as client, pytest.raises(APIError) as caught:
        client.search("x")
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.title, err.detail, err.type) == (
        status,
        "Some title",
        "what happened",
        "https://newssearch/problems/x",
    )
    assert err.errors == [{"field": "sort", "message": "unknown value"}]
    assert "sort: unknown value" in str(err) and str(status) in str(err)
    assert err.problem is not None and err.problem.status == status
    if status == 503:
        assert isinstance(err, ServerError)


def test_older_detail_bodies_and_non_json_answers_are_understood() -> None:
    answers = iter(
        [
            httpx.Response(400, json={"detail": "missing closing parenthesis"}),
            httpx.Response(
                422,
                json={
                    "detail": [
                        {
                            "loc": ["query", "sort"],
                            "msg": "Input should be 'relevance'",
                            "type": "x",
                        }
                    ]
                },
            ),
            httpx.Response(502, text="<html>bad gateway</html>"),
        ]
    )
    with fake(lambda request: next(answers)) as client:
        with pytest.raises(BadRequest) as bad:
            client.search("(x")
        assert (
            bad.value.detail == "missing closing parenthesis" and bad.value.title == "Bad Request"
        )
        with pytest.raises(InvalidRequest) as invalid:
            client.timeline("x")
        assert invalid.value.errors == [{"field": "sort", "message": "Input should be 'relevance'"}]
        with pytest.raises(ServerError) as gateway:
            client.stats()
        assert gateway.value.status == 502 and "bad gateway" in gateway.value.detail


def test_no_server_is_connection_failed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with fake(handler) as client, pytest.raises(ConnectionFailed) as caught:
        client.health()
    assert caught.value.status is None and caught.value.problem is None
    assert "connection refused" in str(caught.value)


# -- export, ingest, frames --------------------------------------------------------------------
def export_handler(fmt: str, fail_after: int | None = None) -> Handler:
    manifest = {"manifest": {"rows": 2, "total": 2, "query": "x"}}
    if fmt == "jsonl":
        head = json.dumps(manifest) + "\n"
        rows = ['{"article_id": "a", "title": "Grüße"}\n', '{"article_id": "b", "title": "ö"}\n']
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(
            [["# " + json.dumps(manifest)], ["article_id", "title"], ["a", "Grüße"], ["b", "ö"]]
        )
        head, *rest = buf.getvalue().splitlines(keepends=True)
        rows = rest
    data = (head + "".join(rows)).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(data), 7):  # splits the two-byte characters too
            if fail_after is not None and i >= fail_after:
                raise httpx.ReadError("connection reset")
            yield data[i : i + 7]

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get("format", "csv") == fmt
        return httpx.Response(200, content=chunks())

    return handler


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_streams_to_a_path_or_a_file(fmt: str, tmp_path: Path) -> None:
    target = tmp_path / f"out.{fmt}"
    with fake(export_handler(fmt)) as client:
        info = client.export(target, "x", format=fmt)
        text = io.StringIO()
        client.export(text, SearchRequest(q="x"), format=fmt)
    assert info.manifest["query"] == "x" and info.rows == 2
    assert info.bytes == target.stat().st_size
    assert text.getvalue() == target.read_text(encoding="utf-8")
    assert "Grüße" in text.getvalue()
    assert not list(tmp_path.glob("*.part"))


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with fake(export_handler("csv", fail_after=20)) as client, pytest.raises(ConnectionFailed):
        client.export(target, "x")
    assert list(tmp_path.iterdir()) == []


def test_ingest_sends_batches_and_numbers_problems_across_them() -> None:
    batches: list[list[Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)["articles"]
        batches.append(batch)
        problems = [
            {"index": i, "field": "body", "reason": "empty"}
            for i, a in enumerate(batch)
            if a["body"] == "-"
        ]
        return httpx.Response(
            200, json={"articles": len(batch), "written": len(batch) - len(problems),
                       "paragraphs": 2, "problems": problems}
        )  # fmt: skip

    articles: list[Any] = [{"title": f"t{i}", "body": "-" if i == 3 else "text"} for i in range(4)]
    articles.append(ArticleIn(title="t4", body="text", published_at="2024-05-01T10:00:00Z"))
    with fake(handler, api_key="k") as client:
        result = client.ingest(articles, batch_size=2)
        with pytest.raises(ValueError, match="batch_size"):
            client.ingest(articles, batch_size=1001)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[2] == [{"title": "t4", "body": "text", "published_at": "2024-05-01T10:00:00Z",
                           "authors": [], "extra": {}}]  # fmt: skip
    assert (result.articles, result.written, result.paragraphs) == (5, 4, 6)
    assert [(p.index, p.field) for p in result.problems] == [(3, "body")]


def test_to_dataframe_of_results_and_timelines() -> None:
    pd = pytest.importorskip("pandas")
    page = SearchResults.model_validate(page_json(["a", "b"], 2))
    frame = page.to_dataframe()
    assert list(frame["article_id"]) == ["a", "b"] and frame["authors"][0] == ["Ann Lee", "Bo"]
    assert str(frame["published_at"].dt.tz) == "UTC"
    assert {"rank", "score", "matched", "title", "passage"} <= set(frame.columns)
    empty = SearchResults.model_validate(page_json([], 0)).to_dataframe()
    assert len(empty) == 0 and "article_id" in empty.columns
    tl = TimelineResults.model_validate(
        Timeline(
            interval="month",
            total=3,
            undated=0,
            corpus_undated=0,
            split_by="source",
            buckets=[
                TimelineBucket(start=date(2022, 1, 1), count=2, corpus=4, ratio=0.5,
                               series={"ZEIT": 2}),
                TimelineBucket(start=date(2022, 2, 1), count=1, corpus=1, ratio=1.0,
                               series={"BBC": 1}),
            ],
        ).model_dump()
    )  # fmt: skip
    tf = tl.to_dataframe()
    assert list(tf.columns) == ["start", "count", "corpus", "ratio", "source:ZEIT", "source:BBC"]
    assert list(tf["source:BBC"]) == [0, 1] and tf["start"][0] == pd.Timestamp("2022-01-01")


def test_to_dataframe_without_pandas_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    page = SearchResults.model_validate(page_json(["a"], 1))
    with pytest.raises(ImportError, match=r"newssearch\[pandas\]"):
        page.to_dataframe()


# -- against a live server ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(
    built_index: Settings,
    subprocess_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``newssearch serve`` over a copy of the session index (these tests write to it)."""
    root = tmp_path_factory.mktemp("client-server")
    index = root / "index"
    shutil.copytree(built_index.index, index)
    with running_server(index, subprocess_env, root / "server.log") as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[NewsSearchClient]:
    with NewsSearchClient(server, api_key=API_KEY) as c:
        yield c


def test_live_search_facets_timeline_agree(client: NewsSearchClient) -> None:
    health = client.health()
    assert health.status == "ok" and health.articles > 0
    page = client.search("Regierung Ukraine", match="any", facets=True, limit=5)
    assert isinstance(page, SearchResults) and page.total > 5 and len(page.results) == 5
    assert page.facets is not None
    facets = client.facets("Regierung Ukraine", match="any")
    assert [f.model_dump() for f in facets] == [f.model_dump() for f in page.facets]
    tl = client.timeline("Regierung Ukraine", match="any", interval="month")
    assert sum(b.count for b in tl.buckets) + tl.undated == page.total
    assert int(tl.to_dataframe()["count"].sum()) + tl.undated == page.total


def test_live_iter_articles_over_more_than_three_pages(client: NewsSearchClient) -> None:
    first = client.search("", limit=20)
    assert first.total > 3 * 20  # every article of the index: more than three pages of 20
    ids = [a.article_id for a in client.iter_articles("", limit=20)]
    assert len(ids) == len(set(ids)) == first.total
    assert ids[:20] == [a.article_id for a in first.results]


@pytest.mark.parametrize(("fmt", "level"), [("csv", "article"), ("jsonl", "paragraph")])
def test_live_export_rows_equal_total(
    client: NewsSearchClient, tmp_path: Path, fmt: str, level: str
) -> None:
    req = SearchRequest(q="Regierung Ukraine", match="any", source=["ZEIT", "Tagesschau"])
    page = client.search(req, limit=0)
    target = tmp_path / f"export.{fmt}"
    info = client.export(target, req, format=fmt, level=level)
    with target.open(encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            rows = list(csv.DictReader(fh.readlines()[1:]))
        else:
            rows = [json.loads(line) for line in fh.readlines()[1:]]
    expected = page.total if level == "article" else page.total_paragraphs
    assert len(rows) == info.rows == expected > 0
    assert info.manifest["total"] == page.total and info.manifest["level"] == level
    assert {r["article_id"] for r in rows} <= {a.article_id for a in client.iter_articles(req)}


def test_live_errors_are_exceptions_with_the_problem(server: str, client: NewsSearchClient) -> None:
    with pytest.raises(BadRequest) as bad:
        client.search("(Putin")
    raw = httpx.get(f"{server}/search", params={"q": "(Putin"})
    assert raw.status_code == 400
    assert raw.headers["content-type"].startswith("application/problem+json")
    problem = raw.json()
    assert bad.value.status == problem["status"] == 400 and "parenthes" in bad.value.detail
    assert (bad.value.title, bad.value.detail, bad.value.type) == (
        problem["title"],
        problem["detail"],
        problem["type"],
    )
    assert bad.value.problem is not None and bad.value.problem.model_dump(exclude_none=True) == {
        k: v for k, v in problem.items() if v is not None
    }
    with pytest.raises(NotFound) as missing:
        client.delete("no-such-article")
    assert "no-such-article" in missing.value.detail
    with pytest.raises(NotFound):
        client.article("no-such-article")
    with NewsSearchClient(server, api_key="wrong") as wrong, pytest.raises(Unauthorized):
        wrong.delete("no-such-article")


def test_live_ingest_makes_an_old_cursor_a_conflict(client: NewsSearchClient) -> None:
    page = client.search("", limit=10)
    assert page.next is not None
    result = client.ingest(
        [
            {
                "article_id": "client-test-1",
                "title": "Kartoffelernte im Allgäu",
                "body": "Die Kartoffelernte im Allgäu fiel in diesem Jahr reich aus.",
                "source": "Testquelle",
                "published_at": "2022-03-01T08:00:00Z",
                "language": "de",
            }
        ]
    )
    assert (result.articles, result.written) == (1, 1)
    with pytest.raises(Conflict) as stale:
        client.search("", cursor=page.next)
    assert stale.value.status == 409
    hit = client.search("Kartoffelernte", mode="bm25")
    assert [a.article_id for a in hit.results] == ["client-test-1"]
    assert client.delete("client-test-1").deleted_paragraphs >= 1
    assert client.search("Kartoffelernte", mode="bm25").total == 0


def test_live_article_similar_stats(client: NewsSearchClient) -> None:
    hit = client.search("Putin Tokajew Gespräche", limit=1).results[0]
    article = client.article(hit.article_id)
    assert isinstance(article, ArticleDetail) and article.title == SEED_TITLE
    assert [p.position for p in article.paragraphs] == sorted(
        p.position for p in article.paragraphs
    )
    similar = client.similar(hit.article_id, min_similarity=0.3, limit=5)
    assert isinstance(similar, SearchResults) and similar.total >= len(similar.results) > 0
    assert hit.article_id not in {a.article_id for a in similar.results}
    again = client.similar(hit.article_id, SimilarRequest(min_similarity=0.3), limit=5)
    assert again.results == similar.results and again.total == similar.total
    with pytest.raises(ValidationError, match="q"):
        client.similar(hit.article_id, q="not a field of SimilarRequest")
    stats = client.stats()
    assert isinstance(stats, Stats) and stats.articles == client.health().articles
    assert stats.languages.get("de", 0) > 0


def test_live_ingest_reports_bad_records_and_keeps_the_rest(client: NewsSearchClient) -> None:
    result = client.ingest(
        [
            {"article_id": "client-good", "title": "Gut", "body": "Ein gültiger Text."},
            {"article_id": "client-bad", "title": "Schlecht", "body": "Text",
             "url": "javascript:alert(1)"},
        ]
    )  # fmt: skip
    assert result.written == 1 and [(p.index, p.field) for p in result.problems] == [(1, "url")]
    assert client.article("client-good").title == "Gut"
    with pytest.raises(NotFound):
        client.article("client-bad")
    client.delete("client-good")


def test_live_versions_of_a_syndicated_copy(client: NewsSearchClient) -> None:
    """A copy of the seed under another id and source joins its story: ``versions()`` lists
    it (typed), the seed's detail counts it, and search folds the two into one result."""
    hit = client.search("Putin Tokajew Gespräche", limit=1).results[0]
    seed = client.article(hit.article_id)
    assert client.versions(seed.article_id).versions == []
    copy = ArticleIn(
        article_id="aggregator-copy-of-the-seed",
        title=seed.title,
        body="\n\n".join(p.text for p in seed.paragraphs),
        source="aggregator.example",
        url="https://aggregator.example/putin-tokajew",
    )
    assert client.ingest([copy]).written == 1
    found = client.versions(seed.article_id)
    assert isinstance(found, Versions) and found.story == seed.story
    assert [(v.article_id, v.source, v.url) for v in found.versions] == [
        (copy.article_id, copy.source, copy.url)
    ]
    assert client.article(seed.article_id).versions == 1
    folded = client.search("Putin Tokajew Gespräche", limit=100)
    flat = client.search("Putin Tokajew Gespräche", limit=100, fold=False)
    assert flat.total == folded.total + 1 == folded.total_articles
    story = [r for r in folded.results if r.story == seed.story]
    assert len(story) == 1 and story[0].versions == 1
    with pytest.raises(NotFound):
        client.versions("no-such-article")
