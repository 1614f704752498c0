"""Seed-style plain text (``.txt``): one article per file.

Layout (the project's reference document ``bbabo-2022-putin-tokajew.de.txt``)::

    Bbabo NET                       <- line 1: site name      -> Article.source
                                    <- blank lines anywhere in the header are ignored
    Nachrichten                     <- next non-empty line: section
    Weltraum, Waffen und Proteste…  <- next non-empty line: title
    <body: paragraphs, headings, boilerplate, repeated title — kept exactly as written>

Contracts:
- The body is the text after the title line with only outer whitespace stripped (newlines
  normalised to ``\\n``); cleaning (boilerplate, trailing repeated title) is the chunker's job.
- A file with the three header lines but nothing after them is a problem (title only).
- When there are fewer than three non-empty lines or one of them is longer than
  :data:`MAX_HEADER_CHARS`, the file is read as plain text: a short first line followed by more
  text becomes the title, the rest the body; the source is the file stem.
- Language comes from the file name (``*.de.txt``); ``article_id`` is
  :func:`~indexer.models.stable_article_id` of source and title.
- An empty file or one without body text is one :class:`RecordProblem` (line ``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexer.models import Article, stable_article_id
from indexer.readers.base import (
    ReadContext,
    ReadItem,
    RecordProblem,
    base_stem,
    read_document,
)
from indexer.readers.names import language_from_path

#: Longest line accepted as a header line (site, section, title).
MAX_HEADER_CHARS = 300


def _header_lines(lines: list[str], count: int) -> tuple[list[str], int]:
    """The first ``count`` non-empty lines (stripped) and the index of the line after them."""
    found: list[str] = []
    index = 0
    while index < len(lines) and len(found) < count:
        if lines[index].strip():
            found.append(lines[index].strip())
        index += 1
    return found, index


def parse_seed_text(text: str, path: Path) -> Article | RecordProblem:
    """Parse the whole text of one ``.txt`` file read from ``path``."""
    lines = text.split("\n")
    header, after = _header_lines(lines, 3)
    body = "\n".join(lines[after:]).strip()
    if len(header) == 3 and all(len(line) <= MAX_HEADER_CHARS for line in header):
        source, section, title = header
    else:
        first, after = _header_lines(lines, 1)
        rest = "\n".join(lines[after:]).strip()
        if first and rest and len(first[0]) <= MAX_HEADER_CHARS:
            title, body = first[0], rest
        else:
            title, body = "", text.strip()
        source, section = base_stem(path), ""
    if not body:
        reason = "no body text (title only)" if title else "empty file"
        return RecordProblem(str(path), None, reason)
    return Article(
        article_id=stable_article_id(None, source, title, None),
        title=" ".join(title.split()),
        body=body,
        source=source,
        language=language_from_path(path),
        section=section or None,
    )


def read_seed(path: Path, context: ReadContext) -> Iterator[ReadItem]:
    """Yield the single Article (or RecordProblem) of a seed-style ``.txt`` file."""
    del context  # no field mapping for free text
    yield parse_seed_text(read_document(path), path)
