"""The search page inserts every stored field as text and links only http(s) URLs.

Browser-free: the page's own script (search_api/web/index.html) runs in Node.js against a
small recording DOM whose elements refuse ``innerHTML``/``outerHTML``/``insertAdjacentHTML``
(so markup from data could not be parsed even if the script tried), and its ``render`` is
fed a result whose stored fields are hostile: a ``<script>`` title, a ``javascript:`` URL,
markup in the source and a passage. The browser suite of the UI issue covers real Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "search_api" / "web" / "index.html"

DOM = r"""
class Node {
  constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this._text = ""; }
  append(...xs) { for (const x of xs) this.children.push(typeof x === "string" ? new Text(x) : x); }
  replaceChildren(...xs) { this.children = []; this.append(...xs); }
  set textContent(v) { this.children = [new Text(String(v))]; }
  get textContent() { return this.children.map((c) => c.textContent).join(""); }
  set innerHTML(v) { throw new Error("innerHTML used"); }
  set outerHTML(v) { throw new Error("outerHTML used"); }
  insertAdjacentHTML() { throw new Error("insertAdjacentHTML used"); }
  set href(v) { this.attrs.href = v; }
  get href() { return this.attrs.href; }
  set className(v) { this.attrs.class = v; }
  set rel(v) { this.attrs.rel = v; }
  addEventListener() {}
  toJSON() { return { tag: this.tag, attrs: this.attrs, children: this.children }; }
}
class Text { constructor(t) { this.text = t; } get textContent() { return this.text; }
  toJSON() { return { text: this.text }; } }
class Fragment extends Node { constructor() { super("#fragment"); } }
const nodes = {};
globalThis.document = {
  getElementById: (id) => (nodes[id] ||= new Node("#" + id)),
  createElement: (tag) => new Node(tag),
  createDocumentFragment: () => new Fragment(),
  write() { throw new Error("document.write used"); },
};
globalThis.history = { replaceState() {} };
globalThis.location = { search: "" };
globalThis.fetch = async () => { throw new Error("no network in this test"); };
"""


def _script() -> str:
    html = PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1, "the page keeps its code in one inline script"
    return scripts[0]


def test_page_code_never_parses_markup() -> None:
    code = _script()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in code, sink


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_stored_fields_are_rendered_as_text_and_only_http_links(tmp_path: Path) -> None:
    hostile = {
        "total": 2,
        "total_paragraphs": 2,
        "mode": "hybrid",
        "took_ms": 1.0,
        "degraded": [],
        "results": [
            {
                "article_id": "a1",
                "title": "<script>alert(1)</script>",
                "url": "javascript:alert(document.domain)",
                "source": "<img src=x onerror=alert(2)>",
                "published_at": None,
                "language": "de",
                "section": None,
                "score": 0.5,
                "passages": [{"text": "<b>bold</b> & <i>x</i>", "highlights": [[0, 3]]}],
            },
            {
                "article_id": "a2",
                "title": "Fine",
                "url": "https://example.org/a2",
                "source": "S",
                "published_at": "2022-02-10T00:00:00Z",
                "language": "de",
                "section": None,
                "score": None,
                "passages": [],
            },
        ],
    }
    program = tmp_path / "render.js"
    program.write_text(
        DOM + _script() + f"\nrender({json.dumps(hostile)});\n"
        "console.log(JSON.stringify(document.getElementById('results')));\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        ["node", str(program)], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    tree = json.loads(run.stdout.strip().splitlines()[-1])

    def walk(node: dict[str, object]) -> list[dict[str, object]]:
        out = [node]
        for child in node.get("children", []):  # type: ignore[union-attr]
            out.extend(walk(child))  # type: ignore[arg-type]
        return out

    every = walk(tree)
    links = [n for n in every if n.get("tag") == "a"]
    assert [n["attrs"]["href"] for n in links] == ["https://example.org/a2"]  # type: ignore[index]
    texts = "".join(str(n["text"]) for n in every if "text" in n)
    # The hostile strings arrive as text, whole, and no element was made from them.
    assert "<script>alert(1)</script>" in texts and "<img src=x onerror=alert(2)>" in texts
    assert "<b>bold</b> & <i>x</i>" in texts.replace("\n", "")
    assert not [n for n in every if n.get("tag") in ("script", "img", "b", "i")]
