"""The export view: the complete result set as CSV or JSONL, streamed, with a manifest.

Contracts:
- Rows follow the set's order (the request's sort); ``level=article`` gives one row per
  result (``total`` rows: stories when folded, with their ``story`` and ``versions``, else
  articles: ``fold=false`` exports every version), ``level=paragraph`` one per matching
  paragraph of those results (``total_paragraphs`` rows) — there is no cap: the set is exact
  and complete.
- The first line is the manifest: for JSONL ``{"manifest": {...}}``; for CSV one quoted cell
  ``# {"manifest": ...}`` (skip it with ``skiprows=1``), then the header row. The manifest
  names the query, every parameter, the encoder, the lexical backend, the index generation,
  the semantic threshold, the time and the totals, so an export can be cited and reproduced.
- Memory stays flat: articles are read from the catalog :data:`CHUNK` at a time and each
  chunk is yielded before the next is read; a consumer that stops iterating stops the work.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from indexer.stores import Stores
from search_api.search.resultset import ResultSet

#: Articles read from the catalog per step.
CHUNK = 500
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
    "matching_paragraphs",
    "story",
)
PARAGRAPH_COLUMNS = (
    "rank",
    "article_id",
    "paragraph_id",
    "position",
    "lexical",
    "similarity",
    "text",
    "title",
    "source",
    "published_at",
    "language",
)


def manifest(stores: Stores, rs: ResultSet, fmt: str, level: str) -> dict[str, Any]:
    """What a citation of this export needs (module docstring)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        product = version("newssearch")
    except PackageNotFoundError:  # a source checkout without an install
        product = "unknown"
    params = rs.request.model_dump(mode="json", exclude={"cursor", "offset", "limit"})
    return {
        "product": f"newssearch {product}",
        "query": rs.request.q,
        "parameters": params,
        "format": fmt,
        "level": level,
        "total": rs.total,
        "total_articles": rs.total_articles,
        "total_stories": rs.total_stories,
        "total_paragraphs": rs.total_paragraphs,
        "rows": rs.total if level == "article" else rs.total_paragraphs,
        "encoder": stores.catalog.get_meta("model_key"),
        "lexical_backend": stores.lexical.name,
        "index_generation": rs.generation,
        "min_similarity": rs.min_similarity,
        "degraded": rs.degraded,
        "exported_at": datetime.now(UTC).isoformat(),
    }


def export(stores: Stores, rs: ResultSet, fmt: str, level: str) -> Iterator[str]:
    """Text chunks of the export (module docstring). ``fmt``: csv|jsonl; ``level``:
    article|paragraph."""
    if fmt not in ("csv", "jsonl") or level not in ("article", "paragraph"):
        raise ValueError("format must be csv or jsonl and level article or paragraph")
    head = manifest(stores, rs, fmt, level)
    columns = article_columns(rs) if level == "article" else PARAGRAPH_COLUMNS
    if fmt == "jsonl":
        yield json.dumps({"manifest": head}, ensure_ascii=False) + "\n"
    else:
        yield _csv_rows([["# " + json.dumps({"manifest": head}, ensure_ascii=False)], columns])
    rows = _article_rows if level == "article" else _paragraph_rows
    for start in range(0, rs.total, CHUNK):
        batch = list(rows(stores, rs, start, min(start + CHUNK, rs.total)))
        if fmt == "jsonl":
            yield "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch)
        else:
            yield _csv_rows([[_cell(r[c]) for c in columns] for r in batch])


def article_columns(rs: ResultSet) -> tuple[str, ...]:
    """The article-level columns: :data:`ARTICLE_COLUMNS`, plus ``versions`` when folded."""
    return (*ARTICLE_COLUMNS, "versions") if rs.fold else ARTICLE_COLUMNS


def _csv_rows(rows: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def _article_rows(stores: Stores, rs: ResultSet, start: int, end: int) -> Iterator[dict[str, Any]]:
    ordinals = [int(o) for o in rs.order[start:end]]
    meta = stores.catalog.articles([rs.table.ids[o] for o in ordinals])
    for i, o in enumerate(ordinals):
        info = meta.get(rs.table.ids[o])
        if info is None:  # deleted after the set was computed: keep the row, say so
            info = {
                "article_id": rs.table.ids[o],
                "title": None,
                "source": None,
                "url": None,
                "published_at": None,
                "language": None,
                "section": None,
                "authors": [],
                "story": None,
            }
        score = float(rs.scores[start + i])
        published = info["published_at"]
        yield {
            "rank": start + i + 1,
            "article_id": rs.table.ids[o],
            "score": None if math.isnan(score) else round(score, 6),
            "matched": _matched(rs, o),
            "title": info["title"],
            "source": info["source"],
            "url": info["url"],
            "published_at": published.isoformat() if published else None,
            "language": info["language"],
            "section": info["section"],
            "authors": list(info["authors"]),
            "matching_paragraphs": rs.paragraph_count(o),
            "story": info["story"],
            **({"versions": rs.versions_at(start + i)} if rs.fold else {}),
        }


def _paragraph_rows(
    stores: Stores, rs: ResultSet, start: int, end: int
) -> Iterator[dict[str, Any]]:
    ordinals = [int(o) for o in rs.order[start:end]]
    rows = [rs.paragraph_rows(o) for o in ordinals]
    vec_ids = [int(v) for vec, _, _ in rows for v in vec]
    names = stores.catalog.paragraph_ids_for_vec_ids(vec_ids)
    paragraphs = stores.catalog.paragraphs([names[v] for v in vec_ids if v in names])
    for i, (o, (vecs, sims, lexical)) in enumerate(zip(ordinals, rows, strict=True)):
        for j in range(len(vecs)):
            vid = int(vecs[j])
            para = paragraphs.get(names.get(vid, ""))
            sim = float(sims[j])
            published = para.published_at if para else None
            yield {
                "rank": start + i + 1,
                "article_id": rs.table.ids[o],
                "paragraph_id": para.paragraph_id if para else names.get(vid),
                "position": para.position if para else None,
                "lexical": bool(lexical[j]),
                "similarity": None if math.isnan(sim) else round(sim, 6),
                "text": para.text if para else None,
                "title": para.title if para else None,
                "source": para.source if para else None,
                "published_at": published.isoformat() if published else None,
                "language": para.language if para else None,
            }


def _matched(rs: ResultSet, ordinal: int) -> str:
    sides = [
        name for name, mask in (("lexical", rs.lexical), ("semantic", rs.semantic)) if mask[ordinal]
    ]
    return "+".join(sides)
