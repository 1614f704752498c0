"""What the browser tests do to a page and read back from it (the page's own ids and data
attributes, see docs/ui.md), plus the API answers they compare it with."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

PAGE_SIZE = 10


def ready(page: Any) -> None:
    """Wait until the page has rendered its latest request (``body[data-busy=false]``).

    Locators, not ``wait_for_function``: the page's CSP forbids the string evaluation that
    Playwright's polling predicates use."""
    page.locator("body[data-busy=false]").wait_for(state="attached")


def open_url(page: Any, query_string: str) -> None:
    """Load ``/{query_string}`` and wait for it."""
    page.goto("/" + query_string)
    ready(page)


def search(page: Any, q: str) -> None:
    """Type ``q`` in the box on the start page and press Enter, as a user does."""
    open_url(page, "")
    page.fill("#q", q)
    page.press("#q", "Enter")
    ready(page)


def shown_total(page: Any) -> int:
    """The total the page shows (its text, checked against its data attribute)."""
    total = page.locator("#total")
    value = int(total.get_attribute("data-total"))
    assert total.inner_text().replace(",", "") == str(value)
    return value


def shown_ids(page: Any) -> list[str]:
    """Article ids of the results on the page, in order."""
    return [str(li.get_attribute("data-article-id")) for li in page.locator("#results > li").all()]


def url_params(page: Any) -> dict[str, list[str]]:
    """The page's query string, parsed."""
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def api_search(api: httpx.Client, **params: Any) -> dict[str, Any]:
    """``GET /search`` with facets and timeline, as the page asks."""
    params = {"limit": PAGE_SIZE, "facets": "true", "timeline": "true", **params}
    resp = api.get("/search", params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def bar_counts(page: Any) -> list[int]:
    """The timeline's bar heights as counts (``data-count`` of each bar)."""
    return [int(r.get_attribute("data-count")) for r in page.locator("rect.bar").all()]


def facet_counts(page: Any, field: str) -> dict[str, int]:
    """Value -> count of one facet list on the page."""
    out: dict[str, int] = {}
    for label in page.locator(f"#facet-{field} label.facet-value").all():
        value = label.locator(".value").inner_text()
        out[value] = int(label.locator(".count").inner_text().replace(",", ""))
    return out


def api_facet_counts(body: dict[str, Any], field: str) -> dict[str, int]:
    """Value -> count of one facet of an API answer."""
    facet = next(f for f in body["facets"] if f["field"] == field)
    return {v["value"]: v["count"] for v in facet["values"]}
