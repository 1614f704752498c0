"""Whole articles (``GET /articles/{id}``), their story's other versions
(``GET /articles/{id}/versions``) and what an index holds (``GET /stats``).

Contracts:
- Only committed articles exist for readers, as for search: an id that is unknown, deleted or
  still pending raises :class:`~indexer.errors.NotFound`.
- An article comes with every paragraph in position order, each with its character offsets
  into the article body as ingested (``body[start:end]`` is the text it was cut from, before
  boilerplate removal and heading attachment), and the index generation it was read at.
- ``extra`` is returned as stored, except that values JSON cannot carry (NaN, infinities)
  become strings.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import NotFound
from indexer.stores import Stores
from search_api.schemas import ArticleDetail, ParagraphOut, Stats, StoreStats, Version, Versions
from search_api.search.calibration import semantic_threshold
from search_api.search.table import UNDATED, ArticleTable
from search_api.search.tuned import effective_fusion, read_tuned


def article_detail(stores: Stores, table: ArticleTable, article_id: str) -> ArticleDetail:
    """The committed article ``article_id`` of ``table``'s generation (module docstring)."""
    if table.ordinal(article_id) is None:
        raise NotFound(f"no article {article_id[:200]!r}")
    info = stores.catalog.articles([article_id]).get(article_id)
    if info is None:  # deleted since the table was built
        raise NotFound(f"no article {article_id[:200]!r}")
    paragraphs = stores.catalog.paragraphs_of([article_id])
    return ArticleDetail(
        article_id=info["article_id"],
        title=info["title"],
        source=info["source"],
        url=info["url"],
        published_at=info["published_at"],
        language=info["language"],
        section=info["section"],
        authors=info["authors"],
        extra=json_safe(info["extra"]),
        story=info["story"],
        versions=len(story_versions(stores, table, article_id)),
        generation=table.generation,
        paragraphs=[
            ParagraphOut(
                paragraph_id=p.paragraph_id,
                position=p.position,
                start=p.start,
                end=p.end,
                text=p.text,
            )
            for p in sorted(paragraphs, key=lambda p: p.position)
        ],
    )


def story_versions(stores: Stores, table: ArticleTable, article_id: str) -> list[Version]:
    """The other committed articles of ``article_id``'s story in ``table``'s generation:
    oldest first, undated last, then by article id. Raises ``NotFound`` for an unknown id."""
    ordinal = table.ordinal(article_id)
    if ordinal is None:
        raise NotFound(f"no article {article_id[:200]!r}")
    same = np.flatnonzero(table.story == table.story[ordinal])
    same = same[same != ordinal]
    published = table.published[same]
    undated = published == UNDATED
    # lexsort: last key first; ordinal order is article id order.
    same = same[np.lexsort((same, np.where(undated, 0, published), undated))]
    ids = [table.ids[int(o)] for o in same]
    meta = stores.catalog.articles(ids)
    return [
        Version(
            article_id=a,
            title=meta[a]["title"],
            source=meta[a]["source"],
            url=meta[a]["url"],
            published_at=meta[a]["published_at"],
            language=meta[a]["language"],
        )
        for a in ids
        if a in meta
    ]


def versions(stores: Stores, table: ArticleTable, article_id: str) -> Versions:
    """``GET /articles/{id}/versions`` (see :func:`story_versions`)."""
    listed = story_versions(stores, table, article_id)
    story = stores.catalog.stories_of([article_id]).get(article_id)
    return Versions(
        article_id=article_id, story=story, generation=table.generation, versions=listed
    )


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its string (``"nan"``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def index_stats(stores: Stores, table: ArticleTable) -> Stats:
    """Counts, sizes on disk and the index's encoder and generation (``GET /stats``).

    Articles, paragraphs and languages count committed articles (what search sees);
    ``pending`` the articles whose last write has not committed. Sizes: the catalog (SQLite
    with its WAL), each encoder's vector store file and, for the embedded backend, the lexical
    index directory; Elasticsearch's size is not known here (``null``). ``encoders``: the
    primary encoder's key first, then the extras'. ``last_ingest`` is when the primary vector
    store was last saved, which every committing ingest, delete and repair does.
    """
    index = stores.settings.index
    paragraphs = len(table.paragraph_vec_ids)
    language = table.columns["language"]
    counts, missing = language.counts(np.arange(table.size, dtype=np.int64), table.size)
    languages = {language.values[i]: int(c) for i, c in enumerate(counts) if c}
    if missing:
        languages["unknown"] = missing
    catalog_path = stores.catalog.path
    sizes: list[tuple[str, int | None]] = [
        ("catalog", _size([catalog_path, *catalog_path.parent.glob(catalog_path.name + "-*")])),
        ("vectors", _size([stores.vectors.path])),
        *((f"vectors ({space.name})", _size([space.vectors.path])) for space in stores.extras),
        (
            f"lexical ({stores.lexical.name})",
            _size([index / "lexical"]) if stores.lexical.name == "embedded" else None,
        ),
    ]
    vectors = stores.vectors.path
    saved = datetime.fromtimestamp(vectors.stat().st_mtime, tz=UTC) if vectors.exists() else None
    model = stores.catalog.get_meta("model_key")
    return Stats(
        articles=table.size,
        paragraphs=paragraphs,
        pending=stores.catalog.counts()["pending"],
        stories=table.stories,
        unclustered=stores.catalog.story_counts()["unclustered"],
        languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        stores=[
            StoreStats(
                name=name,
                bytes=size,
                bytes_per_paragraph=round(size / paragraphs, 1) if size and paragraphs else None,
            )
            for name, size in sizes
        ],
        encoders=[*([model] if model else []), *(s.embedder.model_key for s in stores.extras)],
        lexical_backend=stores.lexical.name,
        index_generation=table.generation,
        min_similarity=semantic_threshold(stores),
        fusion=effective_fusion(stores.settings, read_tuned(stores.catalog)),
        last_ingest=saved,
    )
