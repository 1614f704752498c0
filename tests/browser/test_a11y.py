"""Accessibility (axe-core), the 360 px layout and the render time of first results."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any
from urllib.parse import quote

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.corpus import QUERY
from tests.browser.helpers import open_url, ready, search


def _serious(page: Any) -> list[str]:
    result = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - "
        + "; ".join(n["target"][0] for n in v["nodes"][:3])
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _views(page: Any) -> Any:
    """Each main view in turn (yields its name): start, results with an explanation and the
    syntax help open, the article view, a syntax error."""
    open_url(page, "")
    yield "start"
    open_url(page, f"?q={QUERY}&interval=month")
    page.locator("details.syntax summary").click()
    page.locator("#results > li").first.get_by_role("button", name="Why this result?").click()
    expect(page.locator("#results > li .panel[id$='-explain']").first).to_contain_text(
        "In the set because"
    )
    yield "results"
    page.locator("#results > li a.title").first.click()
    ready(page)
    yield "article"
    search(page, f"({QUERY}")
    expect(page.locator("#problem")).to_be_visible()
    yield "error"


def test_axe_finds_no_serious_or_critical_violations(page: Any) -> None:
    found = {name: _serious(page) for name in _views(page)}
    assert found == {"start": [], "results": [], "article": [], "error": []}


def test_keyboard_focus_survives_the_rerender(page: Any) -> None:
    """Filtering re-renders the facets; the box just ticked with the keyboard keeps focus, a
    removed chip hands it to the results heading, and so does a new page."""
    open_url(page, f"?q={QUERY}")
    box = page.locator("#facet-language input").first
    value = box.get_attribute("value")
    box.focus()
    page.keyboard.press("Space")
    ready(page)
    focused = "() => [document.activeElement.id, document.activeElement.dataset.focusKey]"
    assert page.evaluate(focused) == ["", f"facet:language:{value}"]
    assert page.locator("#facet-language input:checked").get_attribute("value") == value
    page.locator("#chips .chip-remove").first.focus()
    page.keyboard.press("Enter")
    ready(page)
    assert page.evaluate(focused)[0] == "results-h"
    page.locator("#pager a[rel=next]").focus()
    page.keyboard.press("Enter")
    ready(page)
    assert page.evaluate(focused)[0] == "results-h" and "page=2" in page.url


def test_360px_wide_needs_no_horizontal_scroll(
    browser: Any, base_url: str, artifacts: Path
) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        widths = {}
        for name in _views(page):
            widths[name] = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if name == "results":
                page.screenshot(path=str(artifacts / "mobile.png"))
        assert {n: w for n, w in widths.items() if w[0] > w[1]} == {}
    finally:
        context.close()


#: Queries of the demo sample's docs (docs/api.md, docs/result-set.md).
DEMO_QUERIES = ("Regierung", "Putin -Tokajew", "Flüchtlinge Österreich", "")


def test_first_results_render_time_is_measured(
    browser: Any, demo_url: str, artifacts: Path
) -> None:
    """Records (prints, and writes render.json) the time from the API's answer to the rendered
    first results (page, totals, timeline, facets) on the demo sample, as the page measures it
    (``window.__newssearch``): a figure for docs/benchmarks.md, not a timed assertion."""
    context = browser.new_context(base_url=demo_url, viewport={"width": 1280, "height": 900})
    figures: dict[str, Any] = {}
    try:
        page = context.new_page()
        for q in DEMO_QUERIES:
            render, paint = [], []
            for _ in range(6):
                page.goto(f"/?q={quote(q)}")
                ready(page)
                expect(page.locator("#results > li").first).to_be_visible()
                page.wait_for_timeout(50)  # let the frame after the render be painted
                timing = page.evaluate("() => window.__newssearch")
                assert timing["renders"] == 1 and len(timing["renderMs"]) == 1
                render.append(timing["renderMs"][0])
                paint.append(timing["paintMs"])
            assert all(0 < ms < 60_000 for ms in render + paint)
            figures[q or "(empty: every article)"] = {
                "render_ms_median": round(statistics.median(render[1:]), 1),
                "render_ms_max": round(max(render[1:]), 1),
                "to_next_frame_ms_median": round(statistics.median(paint[1:]), 1),
                "first_load_render_ms": round(render[0], 1),
            }
    finally:
        context.close()
    (artifacts / "render.json").write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    print("\nfirst results render (ms after the API answered):")
    for q, figure in figures.items():
        print(f"  {q}: {json.dumps(figure)}")
