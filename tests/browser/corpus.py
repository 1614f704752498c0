"""The browser suite's corpus: a few dozen real articles with dates, sources and duplicates.

From ../shared/data/corpora (see its README): BBC politics articles (English, undated, with
``source`` set to "BBC News" since the file names none), four of them with their exact
duplicates (the file's own syndication-like copies, under other ids); tagesschau.de and
zeit.de items (German, dated by ``gathered_date``) over six months, most mentioning
:data:`QUERY`; and one crafted article whose stored fields are hostile but accepted by ingest
(markup in the title, source and author; ingest refuses a ``javascript:`` url, so that one is
injected into an API answer by the test itself).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA, jsonl_head, write_jsonl

#: A word the zeitgeist part is chosen around: its set spans both German sources and months.
QUERY = "Trump"
MONTHS = ("2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01")
#: Markup in stored fields: must stay text in the page (window.__pwned stays undefined).
HOSTILE_TITLE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> Trump'
HOSTILE_SOURCE = "<b>Evil Source</b>"
HOSTILE_AUTHOR = "<i onmouseover=window.__pwned=3>Mallory</i>"
HOSTILE_ID = "hostile-1"


def bbc_records() -> list[dict[str, Any]]:
    """Eight distinct BBC politics articles plus the exact duplicates of the first four."""
    politics = jsonl_head(
        SHARED_DATA / "corpora" / "bbc_news.en.jsonl", 10_000, lambda r: r["category"] == "politics"
    )
    by_text: dict[str, list[dict[str, Any]]] = {}
    for rec in politics:
        by_text.setdefault(rec["text"], []).append(rec)
    pairs = [group[:2] for group in by_text.values() if len(group) > 1][:4]
    singles = [group[0] for group in by_text.values() if len(group) == 1][:8]
    chosen = [rec for pair in pairs for rec in pair] + singles
    return [{**rec, "source": "BBC News"} for rec in chosen]


def duplicate_query() -> tuple[str, list[str]]:
    """Words from the start of the first duplicated BBC article's body (its title alone need
    not match: "Labour chooses Manchester" has a word its text lacks), and the ids of its
    copies."""
    first, second = bbc_records()[:2]
    assert first["text"] == second["text"]
    words = re.findall(r"\w+", first["text"])[:8]
    return " ".join(words), [first["id"], second["id"]]


def zeitgeist_records() -> list[dict[str, Any]]:
    """Per month, two tagesschau and two zeit items mentioning QUERY, plus one that does not."""
    wanted: dict[tuple[str, str, bool], int] = {}
    for month in MONTHS:
        for site in ("tagesschau", "zeit"):
            wanted[(month, site, True)] = 2
        wanted[(month, "zeit" if month < "2025-11" else "tagesschau", False)] = 1
    seen_urls: set[str] = set()
    out: list[dict[str, Any]] = []
    with (SHARED_DATA / "corpora" / "zeitgeist_tagesschau_zeit.de.jsonl").open(
        encoding="utf-8"
    ) as fh:
        for line in fh:
            rec = json.loads(line)
            site = "tagesschau" if "tagesschau" in rec["source"] else "zeit"
            key = (rec["gathered_date"][:7], site, QUERY in rec["content"])
            if wanted.get(key, 0) and rec["url"] not in seen_urls:
                wanted[key] -= 1
                seen_urls.add(rec["url"])
                out.append(rec)
    return out


def hostile_record() -> dict[str, Any]:
    """The crafted article: markup in its stored fields, accepted by ingest."""
    return {
        "id": HOSTILE_ID,
        "title": HOSTILE_TITLE,
        "text": f"{QUERY} said <b>nothing</b> & the press <script>alert(1)</script> listened.",
        "source": HOSTILE_SOURCE,
        "author": HOSTILE_AUTHOR,
        "url": "https://example.org/hostile",
        "language": "en",
        "published_at": "2025-10-15T12:00:00+00:00",
    }


def write_corpus(root: Path) -> Path:
    """Write the corpus as JSONL files under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "bbc_politics.en.jsonl", bbc_records())
    write_jsonl(root / "zeitgeist.de.jsonl", zeitgeist_records())
    write_jsonl(root / "crafted.en.jsonl", [hostile_record()])
    return root
