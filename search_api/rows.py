"""Flat rows of the API's responses: one dict of scalars per row, for CSV, JSONL, plain-text
tables (the CLI's ``--format``) and data frames (the client's ``to_dataframe()``).

Contracts:
- One function per response kind; every row of one call has the same keys, in the same order.
- Values are ``None``, ``bool``, ``int``, ``float``, ``str`` or a list of ``str`` (authors);
  :func:`cell` turns a value into CSV text (lists joined with ``"; "``, as the export does).
- The columns of article rows are the export's (``search_api/search/export.py``) where both
  have them, plus the best passage, so a page and an export read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from search_api.schemas import ArticleDetail, ArticleResult, Facet, Timeline

Row = dict[str, Any]
#: Columns of :func:`article_rows`, :func:`facet_rows`, :func:`paragraph_rows` (also for an
#: empty result); :func:`timeline_rows` has these plus one per series value.
ARTICLE_COLUMNS = (
    "rank",
    "article_id",
    "score",
    "matched",
    "title",
    "source",
    "url",
    "published_at",
    "language",
    "section",
    "authors",
    "passage",
    "passage_similarity",
    "story",
    "versions",
)
FACET_COLUMNS = ("field", "value", "count", "kind")
TIMELINE_COLUMNS = ("start", "count", "corpus", "ratio")
PARAGRAPH_COLUMNS = ("article_id", "paragraph_id", "position", "start", "end", "text")


def article_rows(results: Iterable[ArticleResult]) -> list[Row]:
    """One row per article: rank, id, score, why it matched, metadata, its best passage."""
    out = []
    for r in results:
        best = r.passages[0] if r.passages else None
        out.append(
            {
                "rank": r.rank,
                "article_id": r.article_id,
                "score": r.score,
                "matched": "+".join(r.matched),
                "title": r.title,
                "source": r.source,
                "url": r.url,
                "published_at": r.published_at.isoformat() if r.published_at else None,
                "language": r.language,
                "section": r.section,
                "authors": list(r.authors),
                "passage": best.text if best else None,
                "passage_similarity": best.similarity if best else None,
                "story": r.story,
                "versions": r.versions,
            }
        )
    return out


def facet_rows(facets: Iterable[Facet]) -> list[Row]:
    """One row per facet value; ``kind`` is ``value``, or ``other`` (the values beyond
    ``facet_size``) and ``missing`` (no value) with an empty ``value``, when non-zero."""
    out: list[Row] = []
    for f in facets:
        out += [
            {"field": f.field, "value": v.value, "count": v.count, "kind": "value"}
            for v in f.values
        ]
        for kind, count in (("other", f.other), ("missing", f.missing)):
            if count:
                out.append({"field": f.field, "value": None, "count": count, "kind": kind})
    return out


def timeline_rows(timeline: Timeline) -> list[Row]:
    """One row per bucket (start, count, corpus, ratio); with ``split_by`` one more column per
    series value, named ``<split_by>:<value>`` (0 where the bucket has none)."""
    names: list[str] = []
    for b in timeline.buckets:
        for name in b.series or {}:
            if name not in names:
                names.append(name)
    out = []
    for b in timeline.buckets:
        row: Row = {
            "start": b.start.isoformat(),
            "count": b.count,
            "corpus": b.corpus,
            "ratio": b.ratio,
        }
        for name in names:
            row[f"{timeline.split_by}:{name}"] = (b.series or {}).get(name, 0)
        out.append(row)
    return out


def paragraph_rows(article: ArticleDetail) -> list[Row]:
    """One row per paragraph of a stored article (``body[start:end]`` is its source text)."""
    return [
        {
            "article_id": article.article_id,
            "paragraph_id": p.paragraph_id,
            "position": p.position,
            "start": p.start,
            "end": p.end,
            "text": p.text,
        }
        for p in article.paragraphs
    ]


def object_row(data: dict[str, Any]) -> Row:
    """A single object (stats, a check, a summary) as one row: nested values as JSON text."""
    return {
        key: json.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, dict | list) and not _strings(value)
        else value
        for key, value in data.items()
    }


def cell(value: Any) -> str:
    """A row value as CSV text: ``""`` for ``None``, lists joined with ``"; "``."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
