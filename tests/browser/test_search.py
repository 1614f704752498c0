"""The search view in Chromium: results, facets, timeline, paging, export, errors, state.

Every expectation is read from the API of the same server (``api``), so the tests check
that the page shows what the API answers, whatever the corpus holds.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.corpus import QUERY
from tests.browser.helpers import (
    PAGE_SIZE,
    api_facet_counts,
    api_search,
    bar_counts,
    facet_counts,
    open_url,
    ready,
    search,
    shown_ids,
    shown_total,
    url_params,
)


def test_a_typed_query_shows_results_grouped_by_article_with_highlights(
    page: Any, api: httpx.Client, artifacts: Path
) -> None:
    search(page, QUERY)
    expected = api_search(api, q=QUERY)
    assert expected["total"] > PAGE_SIZE  # the corpus is built so that the set spans pages
    assert url_params(page)["q"] == [QUERY]
    assert shown_total(page) == expected["total"]
    # One item per article, in the API's order, each with its passages.
    assert shown_ids(page) == [r["article_id"] for r in expected["results"]]
    for li, result in zip(page.locator("#results > li").all(), expected["results"], strict=True):
        expect(li.locator("h3 a.title")).to_have_text(result["title"] or "(untitled)")
        assert li.locator("blockquote.passage").count() == len(result["passages"])
        meta = li.locator(".meta").first.inner_text()
        assert (result["source"] or "unknown source") in meta
        assert (result["published_at"] or "undated")[:10] in meta
        # "+N versions" exactly where the answer has other versions (none without stories).
        expander = li.locator("button.toggle[aria-controls$='-versions']")
        assert expander.count() == (1 if result.get("versions", 0) > 0 else 0)
    marks = page.locator("#results mark").all_inner_texts()
    spans = sum(len(p["highlights"]) for r in expected["results"] for p in r["passages"])
    assert marks and len(marks) == spans
    assert {m.lower() for m in marks} == {QUERY.lower()}


def test_clicking_a_facet_filters_results_counts_and_timeline(
    page: Any, api: httpx.Client, artifacts: Path
) -> None:
    open_url(page, f"?q={QUERY}&interval=month")
    before = api_search(api, q=QUERY, interval="month")
    assert facet_counts(page, "source") == api_facet_counts(before, "source")
    assert bar_counts(page) == [b["count"] for b in before["timeline"]["buckets"]]
    # The source with the fewest articles (but some): selecting it must shrink the set.
    sources = api_facet_counts(before, "source")
    source = min((s for s in sources if 1 < sources[s] < before["total"]), key=sources.get)
    n = sources[source]
    page.locator("#facet-source label.facet-value", has_text=source).locator("input").check()
    ready(page)
    after = api_search(api, q=QUERY, interval="month", source=source)
    assert url_params(page)["source"] == [source]
    assert shown_total(page) == after["total"] == n < before["total"]
    assert shown_ids(page) == [r["article_id"] for r in after["results"]]
    for meta in page.locator("#results > li > .meta").all_inner_texts():
        assert meta.startswith(source)
    assert bar_counts(page) == [b["count"] for b in after["timeline"]["buckets"]]
    assert sum(bar_counts(page)) < sum(b["count"] for b in before["timeline"]["buckets"])
    assert facet_counts(page, "language") == api_facet_counts(after, "language")
    assert api_facet_counts(after, "language") != api_facet_counts(before, "language")
    # Multi-select: the facet still lists (and counts) the other sources.
    assert facet_counts(page, "source") == sources
    expect(page.locator("#chips .chip", has_text=f"source: {source}")).to_be_visible()
    page.screenshot(path=str(artifacts / "search.png"), full_page=False)
    # A second source adds its articles; removing the chips returns to the whole set.
    other = max(sources, key=sources.get)
    page.locator("#facet-source label.facet-value", has_text=other).locator("input").check()
    ready(page)
    assert sorted(url_params(page)["source"]) == sorted([source, other])
    assert shown_total(page) == api_search(api, q=QUERY, source=[source, other])["total"]
    page.get_by_role("button", name="Clear all filters").click()
    ready(page)
    assert shown_total(page) == before["total"] and "source" not in url_params(page)


def test_brushing_the_timeline_filters_by_date(page: Any, api: httpx.Client) -> None:
    open_url(page, f"?q={QUERY}&interval=month")
    buckets = api_search(api, q=QUERY, interval="month")["timeline"]["buckets"]
    assert len(buckets) >= 3
    first, last = page.locator("rect.bar").nth(1), page.locator("rect.bar").nth(2)
    a, b = first.bounding_box(), last.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] - 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] - 2, steps=5)
    page.mouse.up()
    ready(page)
    start = date.fromisoformat(buckets[1]["start"])
    end = date.fromisoformat(buckets[3]["start"]) if len(buckets) > 3 else None
    params = url_params(page)
    assert params["from"] == [start.isoformat()]
    if end is not None:
        assert date.fromisoformat(params["to"][0]).toordinal() == end.toordinal() - 1
    to = params["to"][0]
    expected = api_search(
        api, q=QUERY, interval="month", date_from=f"{start}T00:00:00Z", date_to=f"{to}T23:59:59Z"
    )
    assert shown_total(page) == expected["total"] == buckets[1]["count"] + buckets[2]["count"]
    assert page.locator("#date-from").input_value() == start.isoformat()
    assert page.locator("#date-to").input_value() == to
    expect(page.locator("#chips .chip", has_text="date:")).to_be_visible()
    for meta in page.locator("#results > li > .meta").all_inner_texts():
        day = meta.split(" · ")[1]
        assert start.isoformat() <= day <= to, meta
    # A click on one bar keeps that bucket only.
    page.locator("rect.bar").first.click()
    ready(page)
    assert url_params(page)["from"] == [start.isoformat()]
    assert shown_total(page) == buckets[1]["count"] == sum(bar_counts(page))
    assert len(bar_counts(page)) == 1


def test_the_date_inputs_and_the_interval_menu(page: Any, api: httpx.Client) -> None:
    open_url(page, f"?q={QUERY}")
    buckets = api_search(api, q=QUERY, interval="month")["timeline"]["buckets"]
    start, end = buckets[1]["start"], buckets[-2]["start"]
    page.fill("#date-from", start)
    page.fill("#date-to", end)
    page.get_by_role("button", name="Apply dates").click()
    ready(page)
    assert url_params(page)["from"] == [start] and url_params(page)["to"] == [end]
    expected = api_search(api, q=QUERY, date_from=f"{start}T00:00:00Z", date_to=f"{end}T23:59:59Z")
    assert shown_total(page) == expected["total"] < api_search(api, q=QUERY)["total"]
    page.select_option("#interval", "week")
    ready(page)
    weekly = api_search(
        api, q=QUERY, interval="week", date_from=f"{start}T00:00:00Z", date_to=f"{end}T23:59:59Z"
    )
    assert url_params(page)["interval"] == ["week"]
    assert bar_counts(page) == [b["count"] for b in weekly["timeline"]["buckets"]]
    assert len(bar_counts(page)) > len(buckets) - 2
    page.get_by_role("button", name=f"Remove filter date: {start} to {end}").click()
    ready(page)
    assert "from" not in url_params(page) and page.locator("#date-from").input_value() == ""


def test_paging_to_the_last_page_yields_every_article_once(page: Any, api: httpx.Client) -> None:
    search(page, QUERY)
    total = shown_total(page)
    pages = -(-total // PAGE_SIZE)
    assert pages >= 2
    seen = shown_ids(page)
    while page.locator("#pager a[rel=next]").count():
        page.locator("#pager a[rel=next]").click()
        ready(page)
        seen += shown_ids(page)
    assert len(seen) == len(set(seen)) == total
    assert url_params(page)["page"] == [str(pages)]
    expect(page.locator("#pager .page-of")).to_have_text(f"page {pages} of {pages}")
    # "Last" from the first page lands on the same, shorter page.
    page.get_by_role("link", name="First page").click()
    ready(page)
    page.get_by_role("link", name="Last page").click()
    ready(page)
    assert len(shown_ids(page)) == total - (pages - 1) * PAGE_SIZE
    assert shown_ids(page) == seen[(pages - 1) * PAGE_SIZE :]


def _rows(path: Path, fmt: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if fmt == "jsonl":
        return json.loads(lines[0])["manifest"], [json.loads(x) for x in lines[1:] if x]
    manifest = json.loads(next(csv.reader([lines[0]]))[0].removeprefix("# "))["manifest"]
    return manifest, list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))


def test_export_buttons_download_the_whole_filtered_set(
    page: Any, api: httpx.Client, tmp_path: Path
) -> None:
    open_url(page, f"?q={QUERY}")
    source = max(
        api_facet_counts(api_search(api, q=QUERY), "source").items(), key=lambda kv: kv[1]
    )[0]
    page.locator("#facet-source label.facet-value", has_text=source).locator("input").check()
    ready(page)
    total = shown_total(page)
    paragraphs = int(page.locator("#total-paragraphs").get_attribute("data-count"))
    assert total == api_search(api, q=QUERY, source=source)["total"]
    for fmt in ("csv", "jsonl"):
        for level, expected in (("article", total), ("paragraph", paragraphs)):
            with page.expect_download() as info:
                page.locator(f"#export a[data-format={fmt}][data-level={level}]").click()
            path = tmp_path / f"{fmt}-{level}"
            info.value.save_as(path)
            manifest, rows = _rows(path, fmt)
            assert len(rows) == expected, (fmt, level)
            assert manifest["query"] == QUERY
            if level == "article":
                assert {r["source"] for r in rows} == {source}
    ids = [r["article_id"] for r in _rows(tmp_path / "csv-article", "csv")[1]]
    assert ids[:PAGE_SIZE] == shown_ids(page)


def test_a_syntax_error_shows_the_problem_detail(page: Any, api: httpx.Client) -> None:
    bad = f"({QUERY}"
    problem = api.get("/search", params={"q": bad}).json()
    assert problem["status"] == 400
    search(page, bad)
    box = page.locator("#problem")
    expect(box).to_have_attribute("role", "alert")
    expect(box.locator(".detail")).to_have_text(problem["detail"])
    expect(box).to_contain_text(problem["title"])
    assert (
        page.locator("#results > li").count() == 0 or not page.locator("#search-view").is_visible()
    )
    assert page.locator("#q").input_value() == bad


def test_a_position_in_the_problem_is_pointed_at(page: Any) -> None:
    """The parser's messages name no position today; a problem that does (as the issue asks
    the UI to handle) is served here by intercepting the answer."""
    bad = 'Trump "Putin'

    def answer(route: Any) -> None:
        route.fulfill(
            status=400,
            content_type="application/problem+json",
            body=json.dumps(
                {
                    "type": "urn:newssearch:problem:query-syntax",
                    "title": "Bad query",
                    "status": 400,
                    "detail": "unterminated quote at position 6",
                }
            ),
        )

    page.route("**/search?*", answer)
    search(page, bad)
    expect(page.locator("#problem mark.at")).to_have_text('"')
    expect(page.locator("#problem .query-at")).to_have_text(bad)


def test_no_results_says_so(page: Any, api: httpx.Client) -> None:
    q = "zqxjvw"
    assert api_search(api, q=q, mode="bm25")["total"] == 0
    open_url(page, f"?q={q}&mode=bm25")
    expect(page.locator("#no-results")).to_contain_text("No articles match")
    assert shown_total(page) == 0 and page.locator("#results > li").count() == 0


def test_a_degraded_answer_shows_the_banner(browser: Any, degraded_url: str) -> None:
    """A real outage: the second server's lexical backend is an Elasticsearch nobody runs."""
    body = httpx.get(f"{degraded_url}/search", params={"q": QUERY}, timeout=60).json()
    assert body["degraded"] == ["lexical"]
    context = browser.new_context(base_url=degraded_url)
    try:
        page = context.new_page()
        open_url(page, f"?q={QUERY}")
        banner = page.locator("#degraded")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("keyword (lexical) search is unavailable")
        assert shown_total(page) == body["total"]
    finally:
        context.close()


def test_mode_toggle_sort_and_slash_key(page: Any, api: httpx.Client) -> None:
    open_url(page, f"?q={QUERY}")
    page.locator("#results-h").click()
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "q"
    page.get_by_label("keyword", exact=True).check()
    ready(page)
    assert url_params(page)["mode"] == ["bm25"]
    assert shown_total(page) == api_search(api, q=QUERY, mode="bm25")["total"]
    page.select_option("#sort", "date_asc")
    ready(page)
    expected = api_search(api, q=QUERY, mode="bm25", sort="date_asc")
    assert shown_ids(page) == [r["article_id"] for r in expected["results"]]
    days = [m.split(" · ")[1] for m in page.locator("#results > li > .meta").all_inner_texts()]
    dated = [d for d in days if d != "undated"]
    assert dated == sorted(dated) and dated


def test_reload_and_back_forward_restore_the_state(page: Any, api: httpx.Client) -> None:
    search(page, QUERY)
    unfiltered = shown_ids(page)
    page.select_option("#sort", "date_desc")
    ready(page)
    newest = shown_ids(page)
    assert newest != unfiltered
    sources = api_facet_counts(api_search(api, q=QUERY), "source")
    source = max(sources, key=sources.get)
    page.locator("#facet-source label.facet-value", has_text=source).locator("input").check()
    ready(page)
    page.locator("#pager a[rel=next]").click()
    ready(page)
    filtered_p2 = shown_ids(page)
    expected = api_search(api, q=QUERY, sort="date_desc", source=source, offset=PAGE_SIZE)
    assert filtered_p2 == [r["article_id"] for r in expected["results"]]

    def state() -> tuple[Any, ...]:
        box = page.locator("#facet-source label.facet-value", has_text=source).locator("input")
        return (
            page.locator("#q").input_value(),
            page.locator("#sort").input_value(),
            box.is_checked(),
            page.locator("#chips .chip").count(),
            shown_ids(page),
        )

    on_p2 = state()
    page.reload()
    ready(page)
    assert state() == on_p2 == (QUERY, "date_desc", True, 1, filtered_p2)
    page.go_back()  # page 1 of the filtered set
    ready(page)
    assert "page" not in url_params(page) and url_params(page)["source"] == [source]
    page.go_back()  # unfiltered, newest first
    ready(page)
    assert state() == (QUERY, "date_desc", False, 0, newest)
    page.go_back()  # relevance
    ready(page)
    assert shown_ids(page) == unfiltered and page.locator("#sort").input_value() == "relevance"
    for _ in range(3):
        page.go_forward()
        ready(page)
    assert state() == on_p2
