"""HTML pages (``.html``/``.htm``): main text and metadata extracted with trafilatura.

Contracts:
- Navigation, headers, footers and comments are left out (trafilatura's main-content
  extraction, comments excluded); the body is the extracted text blocks joined by blank lines,
  without a first block that merely repeats the title.
- Metadata: title, url (canonical/og:url), site name (else the url's site name, else the file
  stem) as source, publication date (htmldate, original rather than last-modified date),
  authors, first category as section, the page's declared language (``<html lang>``), else
  the file name's (``*.de.html``).
- A page without extractable main text is one :class:`RecordProblem` (line ``None``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.errors import RecordError
from indexer.readers.base import ReadContext, ReadItem, RecordProblem, read_document
from indexer.readers.mapping import record_to_article

_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)", re.I
)
_DATE_PARAMS = {"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


def _extract(html: str) -> dict[str, Any] | None:
    import trafilatura  # imported lazily: pulls in lxml, htmldate, justext

    document = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params=dict(_DATE_PARAMS),
    )
    if document is None:
        return None
    result = document if isinstance(document, dict) else document.as_dict()
    return dict(result)


def _declared_language(html: str) -> str | None:
    """The ``<html lang="...">`` attribute, if any."""
    match = _HTML_LANG.search(html, 0, 4096)
    return match.group(1) if match else None


def html_to_record(html: str) -> dict[str, Any] | None:
    """The flat record (title, text, url, source, date, ...) of one page; ``None`` if empty."""
    extracted = _extract(html)
    if extracted is None:
        return None
    title = (extracted.get("title") or "").strip()
    blocks = [line.strip() for line in (extracted.get("text") or "").split("\n")]
    blocks = [line for line in blocks if line]
    if blocks and title and blocks[0] == title:
        blocks = blocks[1:]
    categories = extracted.get("categories") or []
    record: dict[str, Any] = {
        "title": title,
        "text": "\n\n".join(blocks),
        "url": extracted.get("url"),
        "source": extracted.get("sitename"),
        "date": extracted.get("date"),
        "author": extracted.get("author"),
        "section": categories[0] if categories else None,
        "language": extracted.get("language") or _declared_language(html),
    }
    if extracted.get("description"):
        record["description"] = extracted["description"]
    if extracted.get("tags"):
        record["tags"] = list(extracted["tags"])
    return record


def read_html(path: Path, context: ReadContext) -> Iterator[ReadItem]:
    """Yield the single Article (or RecordProblem) of one HTML page."""
    del context  # HTML fields are fixed by the extractor
    record = html_to_record(read_document(path))
    if record is None or not record["text"]:
        yield RecordProblem(str(path), None, "no main text found in HTML")
        return
    try:
        yield record_to_article(record, path)
    except RecordError as exc:
        yield RecordProblem(str(path), None, str(exc))
