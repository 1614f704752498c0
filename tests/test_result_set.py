"""The result set's invariants on real data, on both lexical backends (DESIGN.md, "The result
set"): ``total`` = the articles paging yields (each exactly once, any page size, offset or
cursor) = export rows = facet totals = timeline sum (+ undated); filters only narrow the set
and compare case-insensitively; ``-x`` and phrases hold on the whole article; date sorts are
monotonic; a change of the index between pages is reported; and the two backends give the same
set for the same content.

Data: the session's real German index (``built_index``: the seed article plus gnad10k and
zeitgeist subsets; zeitgeist has dates, sources, repeated urls) and the same corpus ingested
into a real Elasticsearch node after it, so every vector comes from the session's embedding
cache (asserted: nothing is embedded twice). Checks are made against counts computed
independently from the catalog (article metadata and paragraph texts), not against the
engine's own arrays. German text has low similarities under the English MiniLM, whose
threshold (0.64) was calibrated on PolitiFact, so requests that want semantic members pass
``min_similarity=0.4``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from fastapi.testclient import TestClient

from indexer.embedder import Embedder
from indexer.errors import StaleCursor
from indexer.pipeline import delete, ingest
from indexer.query import parse_query
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.app import create_app
from search_api.engine import SearchEngine
from search_api.schemas import Facet, SearchRequest, SearchResponse
from search_api.search import membership
from tests.conftest import SEED, es_settings

BACKENDS = ["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
#: Below the English-calibrated 0.64: German paragraphs reach ~0.4-0.6 under MiniLM.
SEMANTIC = 0.4
MODES = ("bm25", "dense", "hybrid")
SORTS = ("relevance", "date_desc", "date_asc")
#: Queries for the paging and view invariants: plain words, OR, phrase, exclusion, groups,
#: a field, a long query (more than three words: ``match=auto`` reads it as ``any``) and the
#: empty query (every article).
QUERIES = (
    "",
    "Putin",
    "Putin Tokajew",
    "Regierung OR Polizei",
    "Krieg Ukraine",
    "Wien",
    '"Nur-Sultan"',
    "Putin -Tokajew",
    "(Regierung OR Polizei) Wien",
    "title:Putin",
    "Deutschland Regierung Polizei Wien Krieg Bundesregierung",
)
#: Queries whose words both backends' analysers reduce alike (checked per leaf in the parity
#: test, so a failure says whether the analysers or the set logic differ).
PARITY_QUERIES = (
    "Putin",
    "Putin Tokajew",
    "Putin -Tokajew",
    '"Nur-Sultan"',
    "Nur-Sultan Putin",
    "Deutschland",
    "Polizei OR Koalition",
    "Flüchtlinge Grenze",
    "Koalition Parlament",
    "Wahl Parlament",
    "Israel Gaza",
    "Trump Zölle",
    "Gespräche",
    "(Polizei OR Koalition) Wien",
    "Wien -Polizei",
    "Putin AND Moskau",
    "title:Putin",
)
API_KEY = "result-set-test-key"
#: The zeitgeist subset's file in ``german_corpus`` (dated articles, repeated urls).
ZEIT = "zeitgeist_subset.de.jsonl"


def request(q: str, mode: str = "hybrid", **kw: Any) -> SearchRequest:
    """A request; semantic members where the mode has them (module docstring)."""
    if mode != "bm25":
        kw.setdefault("min_similarity", SEMANTIC)
    return SearchRequest(q=q, mode=mode, **kw)


def query_params(req: SearchRequest, **extra: Any) -> dict[str, Any]:
    """``req`` as a query string for the REST API (lists repeat the parameter)."""
    return {**req.model_dump(mode="json", exclude_none=True), **extra}


def fold(value: str | None) -> str | None:
    return None if value is None else value.strip().casefold()


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded_stores(built_index: Settings, embedder: Embedder) -> Iterator[Stores]:
    """The session's embedded index (read-only here)."""
    opened = open_stores(built_index, embedder)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def es_stores(
    tmp_path_factory: pytest.TempPathFactory,
    german_corpus: Path,
    built_index: Settings,
    settings_for: Any,
    embedder: Embedder,
    es_url: str,
    es_client: Elasticsearch,
) -> Iterator[Stores]:
    """The same corpus on a real Elasticsearch node, ingested after ``built_index``: every
    paragraph's vector comes from the session cache (as in test_elasticsearch_e2e)."""
    settings = es_settings(settings_for, tmp_path_factory.mktemp("es-rs") / "de", es_url)
    stores = open_stores(settings, embedder)
    report = ingest(stores, [german_corpus])
    assert report.skipped == 0 and report.embedded == 0, report.as_dict()
    yield stores
    stores.close()
    es_client.indices.delete(index=settings.es_index, ignore_unavailable=True)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Stores:
    """The read-only corpus on one backend."""
    name = "embedded_stores" if request.param == "embedded" else "es_stores"
    stores: Stores = request.getfixturevalue(name)
    return stores


@pytest.fixture(scope="module")
def engine(backend: Stores) -> Iterator[SearchEngine]:
    eng = SearchEngine(backend)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def client(backend: Stores) -> Iterator[TestClient]:
    with TestClient(create_app(backend.settings, backend), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def catalog_articles(backend: Stores) -> dict[str, dict[str, Any]]:
    """Every committed article's metadata, read from the catalog."""
    return backend.catalog.articles(backend.catalog.committed_article_ids())


@pytest.fixture(scope="module")
def catalog_texts(backend: Stores) -> dict[str, list[str]]:
    """Per committed article: its title and its paragraph texts, read from the catalog."""
    ids = backend.catalog.committed_article_ids()
    out: dict[str, list[str]] = {a: [] for a in ids}
    for p in backend.catalog.paragraphs_of(ids):
        out[p.article_id].append(p.text)
    titles = backend.catalog.articles(ids)
    return {a: [titles[a]["title"], *texts] for a, texts in out.items()}


# -- paging helpers -------------------------------------------------------------------------------
MAX_PAGES = 1000


def walk_offset(engine: SearchEngine, req: SearchRequest, size: int) -> list[SearchResponse]:
    """Every page of ``req`` by offset."""
    pages: list[SearchResponse] = []
    offset = 0
    for _ in range(MAX_PAGES):
        page = engine.search(req.model_copy(update={"limit": size, "offset": offset}))
        pages.append(page)
        assert [r.rank for r in page.results] == list(
            range(offset + 1, offset + 1 + len(page.results))
        )
        offset += size
        if offset >= page.total:
            assert page.next is None
            return pages
        assert len(page.results) == size and page.next is not None
    raise AssertionError("paging did not end")


def walk_cursor(
    engine: SearchEngine, req: SearchRequest, sizes: Sequence[int]
) -> list[SearchResponse]:
    """Every page of ``req`` by ``next`` token, the page size cycling through ``sizes``."""
    pages = [engine.search(req.model_copy(update={"limit": sizes[0], "offset": 0}))]
    while pages[-1].next is not None:
        assert len(pages) < MAX_PAGES, "paging did not end"
        size = sizes[len(pages) % len(sizes)]
        pages.append(
            engine.search(req.model_copy(update={"limit": size, "cursor": pages[-1].next}))
        )
    return pages


def ids_of(pages: Sequence[SearchResponse]) -> list[str]:
    return [r.article_id for page in pages for r in page.results]


def members(engine: SearchEngine, req: SearchRequest) -> list[str]:
    """The whole set in order (pages of 100)."""
    return ids_of(walk_offset(engine, req, 100))


# -- paging ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_paging_yields_every_article_exactly_once(
    engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]], mode: str
) -> None:
    """At page sizes 7, 10 and 100 by offset and by cursor, in every sort: each article of
    the set exactly once, ``total`` of them, in one order, and ``total`` the same on every
    page."""
    sizes_seen: Counter[str] = Counter()
    for q in QUERIES:
        for sort in SORTS:
            req = request(q, mode, sort=sort)
            walks = {f"offset {n}": walk_offset(engine, req, n) for n in (7, 10, 100)}
            walks["cursor 7"] = walk_cursor(engine, req, [7])
            walks["cursor 10/3/7"] = walk_cursor(engine, req, [10, 3, 7])
            reference = ids_of(walks["offset 100"])
            total = walks["offset 100"][0].total
            for name, pages in walks.items():
                ids = ids_of(pages)
                where = f"{q!r} {mode} {sort} {name}"
                assert {p.total for p in pages} == {total}, where
                assert len({p.generation for p in pages}) == 1, where
                assert len(ids) == len(set(ids)) == total, where
                assert ids == reference, where
                assert set(ids) <= catalog_articles.keys(), where
            sizes_seen["empty" if total == 0 else "deep" if total > 20 else "some"] += 1
    # The queries must exercise something: deep sets (several pages of 7) and small ones.
    assert sizes_seen["deep"] >= 3 and sizes_seen["some"] >= 3, sizes_seen
    everything = request("", mode)
    assert engine.search(everything).total == len(catalog_articles)


def test_paging_by_cursor_over_the_api(client: TestClient) -> None:
    """The REST form: ``next`` tokens walk the whole set, page sizes may change."""
    for req in (request("", "bm25", sort="date_desc"), request("Regierung OR Polizei")):
        params = query_params(req)
        first = client.get("/search", params={**params, "limit": 100})
        assert first.status_code == 200, first.text
        expected = [r["article_id"] for r in first.json()["results"]]
        assert len(expected) == first.json()["total"] > 10
        ids: list[str] = []
        token: str | None = None
        for size in (4, 9, 2, 100):
            query = {**params, "limit": size, **({"cursor": token} if token else {})}
            body = client.get("/search", params=query).json()
            ids += [r["article_id"] for r in body["results"]]
            token = body["next"]
            if token is None:
                break
        assert token is None and ids == expected


# -- filters --------------------------------------------------------------------------------------
def _filter_cases(articles: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Filters built from the catalog's own values, each with the predicate it means."""
    cases: list[tuple[str, dict[str, Any]]] = []
    for source in sorted({a["source"] for a in articles.values() if a["source"]}):
        cases.append(("source", {"source": [source]}))
    for section in sorted({a["section"].casefold() for a in articles.values() if a["section"]}):
        cases.append(("section", {"section": [section]}))
    cases.append(("language", {"language": ["de"]}))
    cases.append(("language", {"language": ["en"]}))
    dates = sorted(a["published_at"] for a in articles.values() if a["published_at"])
    assert len(dates) > 10, "the corpus needs dated articles"
    cases.append(("date", {"date_from": dates[len(dates) // 2]}))
    cases.append(("date", {"date_to": dates[len(dates) // 3]}))
    cases.append(("date", {"date_from": dates[2], "date_to": dates[-3]}))
    cases.append(("source+section", {"source": ["tagesschau", "zeit"], "section": ["inland"]}))
    return cases


def _predicate(article: dict[str, Any], filters: dict[str, Any]) -> bool:
    """What ``filters`` mean for one article, evaluated on its catalog row."""
    for dim in ("source", "language", "section"):
        wanted = filters.get(dim)
        if wanted and fold(article[dim]) not in {fold(w) for w in wanted}:
            return False
    when = article["published_at"]
    if "date_from" in filters and (when is None or when < filters["date_from"]):
        return False
    return not ("date_to" in filters and (when is None or when > filters["date_to"]))


@pytest.mark.parametrize("mode", MODES)
def test_a_filter_never_grows_the_set(
    engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]], mode: str
) -> None:
    """Adding a filter (source, language, date range, section) gives exactly the unfiltered
    set's members that pass it, per the catalog: ``total`` never grows, and a second filter
    never grows the first one's set."""
    cases = _filter_cases(catalog_articles)
    narrowed = 0
    for q in ("", "Putin", "Regierung OR Polizei", "Krieg Ukraine", "(Regierung OR Polizei) Wien"):
        base = members(engine, request(q, mode))
        for name, filters in cases:
            got = members(engine, request(q, mode, **filters))
            expected = [a for a in base if _predicate(catalog_articles[a], filters)]
            where = f"{q!r} {mode} {filters}"
            assert len(got) <= len(base), where
            assert set(got) == set(expected), where
            narrowed += len(got) < len(base)
            if name == "source":  # a second filter on top of the first
                both = members(
                    engine, request(q, mode, **filters, language=["de"], section=["inland"])
                )
                assert set(both) <= set(got), where
    assert narrowed > len(cases), "the filters must actually narrow some sets"


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_filters_are_case_insensitive(
    engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]], mode: str
) -> None:
    """``source=["bbabo net"]`` == ``["Bbabo NET"]`` == ``source:"BBABO NET"`` in the query;
    a section spelled two ways (``Inland``, ``inland``) is one filter value."""
    for q in ("", "Putin"):
        spellings = [
            request(q, mode, source=["Bbabo NET"]),
            request(q, mode, source=["bbabo net"]),
            request(q, mode, source=[" BBABO NET "]),
            request(f'{q} source:"bbabo net"'.strip(), mode),
        ]
        sets = [members(engine, r) for r in spellings]
        assert sets[0] and all(s == sets[0] for s in sets), (q, sets)
        assert {catalog_articles[a]["source"] for a in sets[0]} == {"Bbabo NET"}
    spelled = Counter(
        a["section"] for a in catalog_articles.values() if fold(a["section"]) == "inland"
    )
    assert len(spelled) >= 2, f"the corpus should spell a section two ways: {spelled}"
    for value in ("inland", "INLAND", "Inland"):
        got = members(engine, request("", mode, section=[value]))
        assert len(got) == sum(spelled.values()), value
    upper = members(engine, request("Regierung", mode, language=["DE"]))
    assert upper == members(engine, request("Regierung", mode, language=["de"])) and upper


# -- export ---------------------------------------------------------------------------------------
def _parse_export(text: str, fmt: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(manifest, rows) of an export, checking the manifest line's shape."""
    if fmt == "jsonl":
        lines = text.splitlines()
        head = json.loads(lines[0])
        assert list(head) == ["manifest"]
        return head["manifest"], [json.loads(line) for line in lines[1:]]
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows[0]) == 1 and rows[0][0].startswith("# "), rows[0]
    head = json.loads(rows[0][0][2:])
    assert list(head) == ["manifest"]
    header = rows[1]
    return head["manifest"], [dict(zip(header, r, strict=True)) for r in rows[2:]]


EXPORT_QUERIES = (
    ("", "bm25"),
    ("Putin", "bm25"),
    ("Regierung OR Polizei", "hybrid"),
    ("Krieg Ukraine", "dense"),
    ('"Nur-Sultan"', "hybrid"),
    ("Putin -Tokajew", "hybrid"),
)


def test_export_rows_equal_total_and_total_paragraphs(
    engine: SearchEngine, client: TestClient, backend: Stores
) -> None:
    """CSV and JSONL, engine and ``GET /export``: one row per article (``total``) or per
    matching paragraph (``total_paragraphs``), in the set's order, after the manifest."""
    for q, mode in EXPORT_QUERIES:
        req = request(q, mode, sort="date_asc" if q == "" else "relevance")
        first = engine.search(req.model_copy(update={"limit": 100}))
        order = ids_of([first])
        assert len(order) == first.total
        for fmt in ("csv", "jsonl"):
            for level in ("article", "paragraph"):
                where = f"{q!r} {mode} {fmt} {level}"
                text = "".join(engine.export(req, fmt, level))
                manifest, rows = _parse_export(text, fmt)
                expected = first.total if level == "article" else first.total_paragraphs
                assert len(rows) == expected == manifest["rows"], where
                assert manifest["total"] == first.total, where
                assert manifest["total_paragraphs"] == first.total_paragraphs, where
                assert manifest["index_generation"] == first.generation, where
                assert manifest["query"] == q and manifest["level"] == level, where
                exported = [r["article_id"] for r in rows]
                if level == "article":
                    assert exported == order, where
                    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
                else:
                    # Grouped by article in the set's order; each paragraph once.
                    assert list(dict.fromkeys(exported)) == [a for a in order if a in exported]
                    pids = [r["paragraph_id"] for r in rows]
                    assert len(set(pids)) == len(pids), where
                    assert all(p.split(":")[0] in exported for p in pids)
                resp = client.get("/export", params=query_params(req, format=fmt, level=level))
                assert resp.status_code == 200, resp.text
                assert resp.headers["x-newssearch-total"] == str(first.total)
                api_manifest, api_rows = _parse_export(resp.text, fmt)
                assert [r["article_id"] for r in api_rows] == exported, where
                assert api_manifest["rows"] == expected, where
        if mode == "bm25" and q:
            # Lexical paragraph rows really contain the word (checked on the exported text).
            _, rows = _parse_export("".join(engine.export(req, "jsonl", "paragraph")), "jsonl")
            assert rows and all(q.casefold() in r["text"].casefold() for r in rows if r["lexical"])
    assert backend.catalog.counts()["articles"] == engine.search(request("", "bm25")).total


# -- facets and timeline --------------------------------------------------------------------------
def _facet_map(facet: Facet) -> dict[str | None, int]:
    out: dict[str | None, int] = {fold(v.value): v.count for v in facet.values}
    assert len(out) == len(facet.values), f"two values of {facet.field} fold alike: {facet}"
    if facet.missing:
        out[None] = facet.missing
    assert facet.other == 0
    return out


def _catalog_counts(arts: Sequence[dict[str, Any]]) -> dict[str, dict[str | None, int]]:
    """Independent facet counts of catalog rows."""

    def when(a: dict[str, Any], fmt: str) -> str | None:
        published: datetime | None = a["published_at"]
        return published.astimezone(UTC).strftime(fmt) if published else None

    return {
        "source": dict(Counter(fold(a["source"]) for a in arts)),
        "language": dict(Counter(fold(a["language"]) for a in arts)),
        "section": dict(Counter(fold(a["section"]) for a in arts)),
        "year": dict(Counter(when(a, "%Y") for a in arts)),
        "month": dict(Counter(when(a, "%Y-%m") for a in arts)),
    }


FACET_QUERIES = (
    ("", "bm25"),
    ("Putin", "hybrid"),
    ("Regierung OR Polizei", "bm25"),
    ("Regierung OR Polizei", "hybrid"),
    ("Krieg Ukraine", "dense"),
    ("(Regierung OR Polizei) Wien", "bm25"),
    ("Deutschland Regierung Polizei Wien Krieg Bundesregierung", "hybrid"),
)


def test_facets_and_timeline_agree_with_the_catalog(
    client: TestClient, engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]]
) -> None:
    """``/facets`` equals counts computed from the catalog rows of every paged article (and
    adds up to ``total``); the ``/timeline`` counts plus ``undated`` add up to ``total``, per
    year equal to the catalog's, and ``corpus`` counts the index per interval."""
    corpus_years = Counter(
        a["published_at"].astimezone(UTC).year
        for a in catalog_articles.values()
        if a["published_at"]
    )
    for q, mode in FACET_QUERIES:
        req = request(q, mode)
        ids = members(engine, req)
        params = query_params(req)
        expected = _catalog_counts(list(engine.stores.catalog.articles(ids).values()))
        resp = client.get("/facets", params={**params, "facet_size": 1000})
        assert resp.status_code == 200, resp.text
        facets = {f.field: f for f in (Facet.model_validate(f) for f in resp.json())}
        for name in ("source", "language", "section", "year", "month"):
            where = f"{q!r} {mode} {name}"
            assert facets[name].total == len(ids), where
            assert _facet_map(facets[name]) == expected[name], where
            assert sum(v.count for v in facets[name].values) + facets[name].missing == len(ids)
        assert facets["author"].total == len(ids)
        for interval in ("year", "month", "day", "auto"):
            resp = client.get("/timeline", params={**params, "interval": interval})
            assert resp.status_code == 200, resp.text
            tl = resp.json()
            assert tl["total"] == len(ids)
            assert sum(b["count"] for b in tl["buckets"]) + tl["undated"] == len(ids), interval
            assert tl["undated"] == expected["year"].get(None, 0)
            if interval == "year":
                years = {b["start"][:4]: b["count"] for b in tl["buckets"] if b["count"]}
                assert years == {k: v for k, v in expected["year"].items() if k}
                for b in tl["buckets"]:
                    assert b["corpus"] == corpus_years[int(b["start"][:4])]


def test_a_facet_value_counts_what_filtering_by_it_finds(
    engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]]
) -> None:
    """Clicking a facet value gives as many articles as the facet said, for every value of
    source, language, section and year (``Inland`` and ``inland`` included)."""
    for q, mode in (("", "bm25"), ("Regierung OR Polizei", "hybrid")):
        req = request(q, mode)
        facets = {f.field: f for f in engine.facets(req.model_copy(update={"facet_size": 1000}))}
        for name in ("source", "language", "section"):
            for value in facets[name].values:
                got = engine.search(request(q, mode, **{name: [value.value]}))
                assert got.total == value.count, (q, name, value)
        for value in facets["year"].values:
            year = int(value.value)
            got = engine.search(
                request(
                    q,
                    mode,
                    date_from=datetime(year, 1, 1, tzinfo=UTC),
                    date_to=datetime(year, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                )
            )
            assert got.total == value.count, (q, value)


def test_facets_are_multi_select(
    engine: SearchEngine, client: TestClient, catalog_articles: dict[str, dict[str, Any]]
) -> None:
    """With ``source=[A]`` the source facet still lists the other sources with the counts they
    would have (the set without the source filter), while every other facet counts the
    filtered set; with a second filter, the source facet is the set under that filter only."""
    for q, mode in (("", "bm25"), ("Krieg OR Ukraine", "hybrid"), ("Krieg Ukraine", "bm25")):
        unfiltered = {f.field: f for f in engine.facets(request(q, mode, facet_size=1000))}
        sources = [v.value for v in unfiltered["source"].values]
        assert len(sources) >= 2, (q, sources)
        for source in sources[:3]:
            params = query_params(request(q, mode, source=[source]), facet_size=1000)
            resp = client.get("/facets", params=params)
            got = {f.field: f for f in (Facet.model_validate(f) for f in resp.json())}
            assert got["source"] == unfiltered["source"], (q, source)
            ids = members(engine, request(q, mode, source=[source]))
            expected = _catalog_counts(list(engine.stores.catalog.articles(ids).values()))
            for name in ("language", "section", "year"):
                assert got[name].total == len(ids)
                assert _facet_map(got[name]) == expected[name], (q, source, name)
        both = engine.facets(
            request(q, mode, source=sources[:1], section=["inland"], facet_size=1000)
        )
        only_section = engine.facets(request(q, mode, section=["inland"], facet_size=1000))
        assert [f for f in both if f.field == "source"] == [
            f for f in only_section if f.field == "source"
        ]


# -- lexical constraints on whole articles ---------------------------------------------------------
def _has(texts: Sequence[str], pattern: str) -> bool:
    return any(re.search(pattern, t, re.IGNORECASE) for t in texts)


@pytest.mark.parametrize("mode", MODES)
def test_exclusion_holds_on_the_whole_article(
    engine: SearchEngine, catalog_texts: dict[str, list[str]], mode: str
) -> None:
    """``Putin -Tokajew``: no article mentioning Tokajew in any paragraph or its title, in
    every mode; in bm25 mode every article that says Putin and never Tokajew."""
    got = members(engine, request("Putin -Tokajew", mode))
    assert not [a for a in got if _has(catalog_texts[a], r"tokajew")]
    putin = members(engine, request("Putin", mode))
    assert set(got) <= set(putin)
    if mode == "bm25":
        expected = {
            a
            for a, texts in catalog_texts.items()
            if _has(texts[1:], r"\bputin\b") and not _has(texts, r"tokajew")
        }
        assert expected and expected <= set(got)
        assert any(_has(catalog_texts[a], "tokajew") for a in putin)  # something was excluded


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_phrase_holds_within_a_paragraph(
    engine: SearchEngine, catalog_texts: dict[str, list[str]], mode: str
) -> None:
    """``"Nur-Sultan"``: every article of the set has it in some paragraph, and every article
    that has it is in the set (the phrase is a constraint in hybrid mode too)."""
    phrase = r"\bnur\W+sultan"
    got = members(engine, request('"Nur-Sultan"', mode))
    having = {a for a, texts in catalog_texts.items() if _has(texts[1:], phrase)}
    assert having and set(got) == having
    both = members(engine, request('"Nur-Sultan" Putin', mode, match="all"))
    assert set(both) == {a for a in having if _has(catalog_texts[a][1:], r"\bputin")}


def test_a_hyphenated_word_is_matched_whole_and_ranked_by_its_parts(
    engine: SearchEngine, catalog_texts: dict[str, list[str]]
) -> None:
    """Typed without quotes, ``Nur-Sultan`` is a set of exactly the articles with the phrase
    (as quoted), while BM25 fetches its ranking candidates by the parts ``nur`` and
    ``sultan`` (membership.ranking_tree): candidates with a part alone are fetched, and the
    set still holds only the phrase's articles."""
    phrase = r"\bnur\W+sultan"
    having = {a for a, texts in catalog_texts.items() if _has(texts[1:], phrase)}
    req = request("Nur-Sultan", "bm25")
    got = set(members(engine, req))
    assert having and got == having
    fetched = engine.stores.lexical.fetch(
        [h.paragraph_id for h in engine.result_set(req).lexical_hits]
    )
    alone = {
        p.article_id
        for p in fetched.values()
        if re.search(r"\b(nur|sultan)\b", p.text, re.I) and not re.search(phrase, p.text, re.I)
    }
    assert alone - having, "a part alone ranks: articles without the phrase were fetched"


@pytest.mark.parametrize("mode", MODES)
def test_the_ranked_head_over_arrays_is_the_reference_on_real_requests(
    engine: SearchEngine, mode: str
) -> None:
    """On each backend, for real candidate lists (hundreds of paragraphs, the article-level
    hits in hybrid mode), the engine's ranked head (search_api/search/head.py) is the
    reference chain's (ranked_groups), group for group and bit for bit, and it is the one
    the engine takes (not the fallback)."""
    table = engine.tables.current()
    for q in (*PARITY_QUERIES, "Regierung", "Wien -Polizei"):
        for extra in ({}, {"aggregate": "max"}, {"normalisation": "minmax", "alpha": 0.5}):
            req = request(q, mode, candidates=300, **extra)
            got = engine.candidates(req)
            fast, ordinals = engine._ranked_head(req, got, table)
            reference = engine.ranked_groups(req, got)
            assert ordinals is not None, (q, mode)
            view = [(g.article_id, g.score, list(g.hits), g.article_component) for g in fast]
            assert view == [
                (g.article_id, g.score, list(g.hits), g.article_component) for g in reference
            ], (q, mode, extra)
            assert ordinals.tolist() == [table.ordinal(g.article_id) for g in reference]


def test_boolean_operators_are_set_algebra_on_articles(engine: SearchEngine) -> None:
    """In bm25 mode the set of a boolean query is the set algebra of its words' sets (each
    word matched anywhere in the article): AND intersects, OR unites, ``-`` subtracts, a
    group's OR stays inside the group, and ``match`` applies to the top-level words."""

    def s(q: str, **kw: Any) -> set[str]:
        return set(members(engine, request(q, "bm25", **kw)))

    regierung, polizei, wien, putin, moskau = (
        s(w) for w in ("Regierung", "Polizei", "Wien", "Putin", "Moskau")
    )
    assert all((regierung, polizei, wien, putin, moskau))
    assert s("Putin AND Moskau") == putin & moskau
    assert s("Regierung OR Polizei") == regierung | polizei
    assert s("Regierung Wien", match="any") == regierung | wien
    assert s("Regierung Wien", match="all") == s("Regierung Wien", match="auto")
    assert s("Regierung Wien", match="all") == regierung & wien
    assert s("Regierung Wien") == s("Regierung Wien", match="any")  # the default
    assert s("Wien -Polizei") == wien - polizei
    assert s("Wien NOT Polizei") == wien - polizei
    assert s("+Wien Regierung") == wien
    for match in ("auto", "all"):
        grouped = s("(Regierung OR Polizei) Wien", match=match)
        assert grouped == (regierung | polizei) & wien, match
        assert grouped != regierung | polizei | wien
    assert s("(Regierung OR Polizei) Wien", match="any") == regierung | polizei | wien
    assert s("Regierung OR Polizei Wien") == regierung | polizei | wien
    assert s("(Regierung OR Polizei) AND Wien -Putin") == ((regierung | polizei) & wien) - putin


# -- date sort ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_date_sort_is_monotonic_over_all_pages(
    engine: SearchEngine, catalog_articles: dict[str, dict[str, Any]], mode: str
) -> None:
    """``date_desc`` / ``date_asc`` over every page (cursor, pages of 7): dates never go the
    wrong way, undated articles come last, and the dates are the catalog's."""
    seen_undated_after_dated = 0
    for q in (
        "",
        "Regierung OR Polizei",
        "Krieg Ukraine",
        "Deutschland Regierung Polizei Wien Krieg",
    ):
        relevance = members(engine, request(q, mode))
        for sort in ("date_desc", "date_asc"):
            results = [
                r
                for page in walk_cursor(engine, request(q, mode, sort=sort), [7])
                for r in page.results
            ]
            assert {r.article_id for r in results} == set(relevance), (q, sort)
            dates = [r.published_at for r in results]
            for r in results:
                assert r.published_at == catalog_articles[r.article_id]["published_at"]
            dated = [d for d in dates if d is not None]
            assert dates == dated + [None] * (len(dates) - len(dated)), (q, sort, "undated last")
            assert dated == sorted(dated, reverse=sort == "date_desc"), (q, sort)
            seen_undated_after_dated += bool(dated) and len(dated) < len(dates)
    assert seen_undated_after_dated >= 2


# -- a change of the index between pages ----------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def writable(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    german_corpus: Path,
    built_index: Settings,
    settings_for: Any,
    embedder: Embedder,
) -> Iterator[Stores]:
    """A small index of its own (the seed and the zeitgeist subset; vectors from the session
    cache) that a test may change."""
    if request.param == "elasticsearch":
        settings = es_settings(
            settings_for, tmp_path / "idx", request.getfixturevalue("es_url"), api_key=API_KEY
        )
    else:
        settings = settings_for(tmp_path / "idx", api_key=API_KEY)
    stores = open_stores(settings, embedder)
    ingest(stores, [german_corpus / SEED.name, german_corpus / ZEIT])
    yield stores
    stores.close()
    if request.param == "elasticsearch":
        es: Elasticsearch = request.getfixturevalue("es_client")
        es.indices.delete(index=settings.es_index, ignore_unavailable=True)


def test_a_change_between_pages_is_reported(writable: Stores, german_corpus: Path) -> None:
    """Engine: after a delete or an ingest, the cursor of page 1 is refused with StaleCursor;
    offset paging goes on but reports another generation (and the new total)."""
    engine = SearchEngine(writable)
    try:
        req = request("", "bm25", limit=5)
        first = engine.search(req)
        assert first.total > 10 and first.next is not None
        second = engine.search(req.model_copy(update={"cursor": first.next}))
        assert second.generation == first.generation and second.next is not None
        victim = ids_of([first])[0]
        assert delete(writable, [victim]) > 0
        with pytest.raises(StaleCursor):
            engine.search(req.model_copy(update={"cursor": first.next}))
        with pytest.raises(StaleCursor):
            engine.search(req.model_copy(update={"cursor": second.next}))
        by_offset = engine.search(req.model_copy(update={"offset": 5}))
        assert by_offset.generation != first.generation
        assert by_offset.total == first.total - 1
        # Ingesting it again (vectors from the cache) moves the generation once more.
        report = ingest(writable, [german_corpus / SEED.name, german_corpus / ZEIT])
        assert report.written == 1 and report.embedded == 0
        again = engine.search(req.model_copy(update={"offset": 5}))
        assert again.generation not in (first.generation, by_offset.generation)
        assert again.total == first.total
        with pytest.raises(StaleCursor):
            engine.search(req.model_copy(update={"cursor": by_offset.next}))
        fresh = walk_cursor(engine, req, [5])
        assert len(set(ids_of(fresh))) == fresh[0].total == first.total
    finally:
        engine.close()


def test_cached_word_matches_follow_the_index(writable: Stores, german_corpus: Path) -> None:
    """The per-word matches the engine caches (``SearchEngine.leaves``) give the same sets as
    fresh ones, and never outlive the index state they were read on: after a delete and a
    re-ingest the same words find exactly the new state."""
    engine = SearchEngine(writable)
    try:
        queries = [request(q, "bm25") for q in QUERIES if q] + [request("Putin Tokajew")]
        warm = {r.q + r.mode: (engine.search(r), members(engine, r)) for r in queries}
        assert engine.leaves.hits > 0  # the second pass (members) read the cache
        engine.leaves.clear()
        engine._sets.clear()
        for r in queries:
            assert members(engine, r) == warm[r.q + r.mode][1], r.q
        putin = request("Putin", "bm25", limit=100)
        before = members(engine, putin)
        assert before
        assert delete(writable, [before[0]]) > 0
        after = members(engine, putin)
        assert after == before[1:] or sorted(after) == sorted(before[1:])
        ingest(writable, [german_corpus / SEED.name, german_corpus / ZEIT])
        assert sorted(members(engine, putin)) == sorted(before)
    finally:
        engine.close()


def test_a_change_between_pages_is_a_409_over_the_api(writable: Stores) -> None:
    """API: page 1, then ``DELETE /articles/{id}`` or ``POST /articles``; the cursor of page
    1 is a 409 with a message; offset paging reports another generation."""
    with TestClient(create_app(writable.settings, writable), raise_server_exceptions=False) as c:
        headers = {"X-API-Key": API_KEY}
        params: dict[str, Any] = {"q": "", "mode": "bm25", "limit": 4}
        first = c.get("/search", params=params).json()
        assert first["next"] and first["total"] > 8
        ok = c.get("/search", params={**params, "cursor": first["next"]})
        assert ok.status_code == 200
        victim = first["results"][-1]["article_id"]
        assert c.delete(f"/articles/{victim}", headers=headers).status_code == 200
        stale = c.get("/search", params={**params, "cursor": first["next"]})
        assert stale.status_code == 409 and "index changed" in stale.json()["detail"]
        moved = c.get("/search", params={**params, "offset": 4}).json()
        assert moved["generation"] != first["generation"]
        assert moved["total"] == first["total"] - 1
        article = {
            "article_id": "result-set-new",
            "title": "Ein neuer Artikel",
            "body": "Die Regierung in Wien beschloss am Dienstag ein neues Gesetz.",
            "source": "test",
            "language": "de",
        }
        wrote = c.post("/articles", json={"articles": [article]}, headers=headers)
        assert wrote.status_code == 200 and wrote.json()["written"] == 1
        stale = c.get("/search", params={**params, "cursor": moved["next"]})
        assert stale.status_code == 409
        after = c.get("/search", params={**params, "offset": 4}).json()
        assert after["generation"] != moved["generation"]
        assert after["total"] == first["total"]


# -- both backends --------------------------------------------------------------------------------
def _view(engine: SearchEngine, req: SearchRequest) -> dict[str, Any]:
    """Everything a request's set shows apart from its order: members, counts, facets,
    timeline."""
    page = engine.search(req.model_copy(update={"limit": 100, "facets": True, "timeline": True}))
    assert page.total <= 100 and page.facets is not None and page.timeline is not None
    return {
        "ids": sorted(r.article_id for r in page.results),
        "total": page.total,
        "total_paragraphs": page.total_paragraphs,
        "facets": [f.model_dump() for f in page.facets],
        "timeline": page.timeline.model_dump(),
        "degraded": page.degraded,
    }


@pytest.mark.elasticsearch
def test_both_backends_give_the_same_set(embedded_stores: Stores, es_stores: Stores) -> None:
    """Same content, same request: the same article ids, totals, facets and timeline on
    tantivy and on Elasticsearch (bm25 and hybrid; dense is the same FAISS either way), for
    queries whose every leaf matches the same paragraphs on both (checked first)."""
    assert embedded_stores.catalog.counts() == es_stores.catalog.counts()
    a, b = SearchEngine(embedded_stores), SearchEngine(es_stores)
    try:
        for q in PARITY_QUERIES:
            leaves = membership.distinct_leaves(parse_query(q).root)
            matches_a = [set(m.tolist()) for m in embedded_stores.lexical.matching_vec_ids(leaves)]
            matches_b = [set(m.tolist()) for m in es_stores.lexical.matching_vec_ids(leaves)]
            assert matches_a == matches_b, f"the analysers differ on {q!r}"
            for mode in MODES:
                for extra in ({}, {"source": ["zeit", "gnad10k_subset.de"]}, {"match": "any"}):
                    req = request(q, mode, **extra)
                    assert _view(a, req) == _view(b, req), (q, mode, extra)
    finally:
        a.close()
        b.close()


@pytest.mark.elasticsearch
def test_backends_agree_on_every_query(embedded_stores: Stores, es_stores: Stores) -> None:
    """Over a wider list of queries, words Lucene's own Snowball stems unlike tantivy's
    included (-erin, -et, -ln, "meldet": Elasticsearch indexes tantivy's tokens): every leaf
    matches the same paragraphs on both backends, and the sets are equal."""
    words = "Regierung Krieg Ukraine Sicherheit Bundeskanzler Wien Polizei Russland Kasachstan"
    diverging = "Bundeskanzlerin berichtet meldete Regeln System Budget Sprecherin"
    queries = [
        *words.split(),
        *diverging.split(),
        "Krieg Ukraine",
        "Russland Kasachstan Sicherheit",
        "Wien -Polizei",
        "Ukraine meldet",
        '"Die Bundeskanzlerin"',
    ]
    a, b = SearchEngine(embedded_stores), SearchEngine(es_stores)
    matched = 0
    try:
        for q in queries:
            leaves = membership.distinct_leaves(parse_query(q).root)
            matched += q in diverging and all(
                len(x) for x in es_stores.lexical.matching_vec_ids(leaves)
            )
            for leaf, x, y in zip(
                leaves,
                embedded_stores.lexical.matching_vec_ids(leaves),
                es_stores.lexical.matching_vec_ids(leaves),
                strict=True,
            ):
                assert set(x.tolist()) == set(y.tolist()), (q, leaf)
            for mode in ("bm25", "hybrid"):
                for match in ("auto", "any", "all"):
                    req = request(q, mode, match=match)
                    assert _view(a, req) == _view(b, req), (q, mode, match)
    finally:
        a.close()
        b.close()
    assert matched >= 3  # the corpus has the diverging words: they are put to the test


@pytest.mark.elasticsearch
def test_backends_agree_on_german_stems(embedded_stores: Stores, es_stores: Stores) -> None:
    a, b = SearchEngine(embedded_stores), SearchEngine(es_stores)
    try:
        for q in ("Sicherheit", "Ukraine"):
            req = request(q, "bm25")
            assert members(a, req) and set(members(a, req)) == set(members(b, req)), q
    finally:
        a.close()
        b.close()
