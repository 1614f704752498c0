"""The web UI inserts every stored field as text and links only http(s) URLs.

Browser-free: the UI's own ES modules (search_api/web/) run in Node.js against a small
recording DOM whose elements refuse ``innerHTML``/``outerHTML``/``insertAdjacentHTML`` (so
markup from data could not be parsed even if a module tried), and their render functions
(results, article view, facets, chips, timeline) are fed answers whose stored fields are
hostile: a ``<script>`` title, ``javascript:`` and ``data:`` URLs, markup in the source, the
author, a passage and a facet value. tests/browser checks the same in Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[1] / "search_api" / "web"

DOM = r"""
class Text { constructor(t) { this.text = t; } get textContent() { return this.text; }
  toJSON() { return { text: this.text }; } }
class Node {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; }
  append(...xs) {
    for (const x of xs) {
      if (x instanceof Fragment) this.children.push(...x.children);
      else this.children.push(typeof x === "string" ? new Text(x) : x);
    }
  }
  replaceChildren(...xs) { this.children = []; this.append(...xs); }
  set textContent(v) { this.children = [new Text(String(v))]; }
  get textContent() { return this.children.map((c) => c.textContent).join(""); }
  set innerHTML(v) { throw new Error("innerHTML used"); }
  set outerHTML(v) { throw new Error("outerHTML used"); }
  insertAdjacentHTML() { throw new Error("insertAdjacentHTML used"); }
  setAttribute(k, v) {
    if (/^on/i.test(k)) throw new Error("event handler attribute " + k);
    this.attrs[k] = String(v);
  }
  getAttribute(k) { return this.attrs[k] ?? null; }
  addEventListener() {}
  setPointerCapture() {}
  focus() {}
  getBoundingClientRect() { return { left: 0, width: 100 }; }
  toJSON() { return { tag: this.tag, attrs: this.attrs, children: this.children }; }
}
class Fragment extends Node { constructor() { super("#fragment"); } }
globalThis.document = {
  createElement: (tag) => new Node(tag),
  createElementNS: (ns, tag) => new Node("svg:" + tag),
  createDocumentFragment: () => new Fragment(),
  write() { throw new Error("document.write used"); },
};
"""

RUN = r"""
const { renderResults } = await import("./results.js");
const { renderArticle } = await import("./article.js");
const { renderFacets, renderChips, renderTotals } = await import("./overview.js");
const { renderTimeline } = await import("./timeline.js");
const data = JSON.parse(process.argv[2]);
const hooks = { articleHref: (id) => "?article=" + encodeURIComponent(id), openArticle() {},
  explained: async () => null, versions: async () => ({ versions: [] }), backHref: "?", back() {} };
const out = {};
const box = (name) => (out[name] = document.createElement("div"));
renderResults(box("results"), data.search, hooks);
renderTotals(box("totals"), data.search);
const state = { q: "x", source: ["<b>s</b>"], language: [], section: [], author: [],
  from: "", to: "" };
renderFacets(box("facets"), data.search.facets, state, () => {});
renderChips(box("chips"), state, () => {});
renderTimeline(box("timeline"), data.search.timeline, () => {});
renderArticle(box("article"), { detail: data.article, similar: data.search, versions: data.versions,
  matches: new Map([[data.article.paragraphs[0].paragraph_id, [[0, 3]]]]), query: "<q>" }, hooks);
console.log(JSON.stringify(out));
"""

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


def _result(article_id: str, url: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "rank": 1,
        "article_id": article_id,
        "title": SCRIPT,
        "url": url,
        "source": IMG,
        "published_at": None,
        "language": "de",
        "section": "<i>s</i>",
        "authors": [IMG],
        "score": 0.5,
        "matched": ["lexical"],
        "versions": 1,
        "passages": [
            {
                "paragraph_id": f"{article_id}:0",
                "text": "<b>bold</b> & <i>x</i>",
                "position": 0,
                "highlights": [[0, 3]],
                "score": 0.5,
            }
        ],
        **extra,
    }


HOSTILE: dict[str, Any] = {
    "search": {
        "query": "x",
        "mode": "hybrid",
        "total": 3,
        "total_paragraphs": 3,
        "offset": 0,
        "took_ms": 1.0,
        "degraded": [],
        "min_similarity": 0.6,
        "results": [
            _result("a1", "javascript:alert(document.domain)"),
            _result("a2", "data:text/html,<script>alert(3)</script>"),
            _result("a3", "https://example.org/a3"),
        ],
        "facets": [
            {
                "field": "source",
                "total": 3,
                "other": 0,
                "missing": 0,
                "values": [{"value": IMG, "count": 3}],
            }
        ],
        "timeline": {
            "interval": "month",
            "total": 3,
            "undated": 0,
            "corpus_undated": 0,
            "buckets": [{"start": "2022-02-01", "count": 3, "corpus": 9, "ratio": 0.3}],
        },
    },
    "article": {
        "article_id": "a1",
        "title": SCRIPT,
        "source": IMG,
        "url": " JavaScript:alert(4)",
        "published_at": None,
        "language": "de",
        "authors": [IMG],
        "story": "<s>",
        "extra": {"<k>": "<v onclick=alert(5)>"},
        "versions": 1,
        "paragraphs": [
            {"paragraph_id": "a1:0", "position": 0, "start": 0, "end": 9, "text": f"{SCRIPT} body"}
        ],
    },
    "versions": {
        "article_id": "a1",
        "story": "<s>",
        "versions": [
            {
                "article_id": "v1",
                "title": IMG,
                "source": SCRIPT,
                "url": "javascript:alert(6)",
                "published_at": None,
                "language": "en",
            }
        ],
    },
}


def _modules() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(WEB.glob("*.js"))}


def test_ui_code_never_parses_markup() -> None:
    modules = _modules()
    assert {"app.js", "state.js", "api.js", "dom.js", "results.js", "article.js"} <= set(modules)
    sinks = (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setHTMLUnsafe",
        "DOMParser",
        "createContextualFragment",
    )
    for name, code in modules.items():
        for sink in sinks:
            assert sink not in code, (name, sink)
        assert not re.search(r"setAttribute\(\s*[\"']on", code), name


def test_the_page_has_no_inline_script_or_style() -> None:
    """The CSP forbids inline code, so the page must have none (it would not run)."""
    html = (WEB / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert all('type="module"' in attrs for attrs, _ in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html) and "<style" not in html
    assert not re.search(r"\sstyle\s*=", html) and "javascript:" not in html


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_stored_fields_are_rendered_as_text_and_only_http_links(tmp_path: Path) -> None:
    for name, code in _modules().items():
        (tmp_path / name).write_text(code, encoding="utf-8")
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (tmp_path / "run.js").write_text(DOM + RUN, encoding="utf-8")
    run = subprocess.run(
        ["node", "run.js", json.dumps(HOSTILE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    views = json.loads(run.stdout.strip().splitlines()[-1])

    def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
        out = [node]
        for child in node.get("children", []):
            out.extend(walk(child))
        return out

    every = [n for view in views.values() for n in walk(view)]
    hrefs = [n["attrs"]["href"] for n in every if n.get("tag") == "a"]
    external = [h for h in hrefs if not h.startswith("?")]
    assert external == ["https://example.org/a3"]  # a3's "original"; no javascript:, no data:
    texts = "".join(str(n["text"]) for n in every if "text" in n)
    # The hostile strings arrive as text, whole, and no element was made from them.
    for hostile in (
        SCRIPT,
        IMG,
        "<b>bold</b> & <i>x</i>",
        "<v onclick=alert(5)>",
        " JavaScript:alert(4)",
    ):
        assert hostile.replace("<b>bold</b>", "") in texts or hostile in texts, hostile
    assert SCRIPT in texts and IMG in texts and " JavaScript:alert(4)" in texts
    tags = {str(n.get("tag")) for n in every}
    assert not tags & {"script", "img", "b", "i", "s", "iframe", "v"}
    # Highlights are <mark> elements holding the matched characters as text.
    marks = [n for n in every if n.get("tag") == "mark"]
    assert marks and all(m["children"][0]["text"] in ("<b>", "<sc") for m in marks)
