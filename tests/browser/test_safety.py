"""Stored data stays inert in Chromium: markup in stored fields is text, only http(s) URLs
become links, and the Content-Security-Policy forbids inline script."""

from __future__ import annotations

import json
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.corpus import (
    HOSTILE_AUTHOR,
    HOSTILE_ID,
    HOSTILE_SOURCE,
    HOSTILE_TITLE,
    QUERY,
)
from tests.browser.helpers import open_url, ready

MARKUP = "script, img, b, i, iframe, object"


def _pwned(page: Any) -> Any:
    return page.evaluate("() => window.__pwned")


def test_markup_in_stored_fields_is_shown_as_text(page: Any, api: httpx.Client) -> None:
    stored = api.get(f"/articles/{HOSTILE_ID}").json()
    assert stored["title"] == HOSTILE_TITLE  # ingest kept the markup: the page must cope
    open_url(page, f"?q={QUERY}")
    item = page.locator(f"#results > li[data-article-id='{HOSTILE_ID}']")
    expect(item.locator("a.title")).to_have_text(HOSTILE_TITLE)
    meta = item.locator(".meta").inner_text()
    assert HOSTILE_SOURCE in meta and HOSTILE_AUTHOR in meta
    expect(page.locator("#facet-source")).to_contain_text(HOSTILE_SOURCE)
    assert page.locator(f"#main :is({MARKUP})").count() == 0
    item.locator(".meta").hover()
    item.locator("a.title").click()
    ready(page)
    expect(page.locator("#article-title")).to_have_text(HOSTILE_TITLE)
    expect(page.locator("#article-view .metadata")).to_contain_text(HOSTILE_AUTHOR)
    assert page.locator(f"#main :is({MARKUP})").count() == 0
    assert _pwned(page) is None


def test_a_javascript_url_in_an_answer_never_becomes_a_link(page: Any) -> None:
    """Ingest refuses ``javascript:`` URLs, so one is put into the API's answers on their way
    to the page (as a store written by another tool, or an older release, could hold it)."""
    bad = {
        0: "javascript:window.__pwned=7",
        1: "data:text/html,<script>alert(1)</script>",
        2: "JaVaScRiPt:window.__pwned=8",
        3: "https://example.org/fine",
    }

    def tamper_search(route: Any) -> None:
        body = route.fetch().json()
        for i, url in bad.items():
            if i < len(body["results"]):
                body["results"][i]["url"] = url
        route.fulfill(json=body)

    def tamper_article(route: Any) -> None:
        body = route.fetch().json()
        body["url"] = bad[0]
        route.fulfill(json=body)

    page.route("**/search?*", tamper_search)
    page.route("**/articles/*", tamper_article)
    open_url(page, f"?q={QUERY}")
    links = page.locator("#results a").evaluate_all("els => els.map(a => a.href)")
    assert not [h for h in links if not h.startswith(("http://", "https://"))]
    assert page.locator("#results a[href='https://example.org/fine']").count() == 1
    first = page.locator("#results > li").first
    expect(first.locator(".url-text")).to_have_text("original")
    first.locator(".url-text").click()
    first.locator("a.title").click()
    ready(page)
    url_cell = page.locator("#article-view .metadata .url-text")
    expect(url_cell).to_have_text(bad[0])
    url_cell.click()
    hrefs = page.locator("#main a").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.lower().startswith(("javascript:", "data:"))]
    assert _pwned(page) is None


def test_the_csp_forbids_inline_script(page: Any) -> None:
    response = page.goto("/")
    ready(page)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    module = page.request.get("/static/app.js")
    assert module.headers["content-security-policy"] == csp
    # An inline script that found its way into the page does not run.
    ran = page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.__pwned = 5';
        document.body.append(s);
        const a = document.createElement('a');
        a.setAttribute('onclick', 'window.__pwned = 6');
        document.body.append(a);
        a.click();
        return window.__pwned;
    }""")
    assert ran is None
    assert json.loads(json.dumps(_pwned(page))) is None
