"""``ingest --dry-run``: read and chunk everything, embed and write nothing.

Proves the readers and the chunker hold on a corpus too large to embed here (the full
PolitiFact set, ~0.5M paragraphs) and reports what a real ingest would index. Token counts use
the chunker's cheap estimate instead of the model tokenizer, and languages are not detected,
so no model is loaded.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from indexer.chunker import chunk_article
from indexer.readers import ReadStats, read_paths


def dry_run(
    paths: Sequence[str | Path],
    *,
    field_map: Mapping[str, str] | None = None,
    max_tokens: int = 200,
) -> dict[str, Any]:
    """Counts (files, records, articles, paragraphs, skipped, seconds) and the problem list."""
    started = time.monotonic()
    stats = ReadStats()
    articles = paragraphs = longest = 0
    for article in read_paths(list(paths), field_map=field_map, stats=stats):
        chunks = chunk_article(article, max_tokens=max_tokens)
        articles += 1
        paragraphs += len(chunks)
        longest = max([longest, *(len(c.text) for c in chunks)])
    return {
        "dry_run": True,
        "files": stats.files,
        "records": stats.records,
        "articles": articles,
        "paragraphs": paragraphs,
        "skipped": stats.skipped,
        "longest_paragraph_chars": longest,
        "seconds": round(time.monotonic() - started, 2),
        "problems": list(stats.problems),
    }
