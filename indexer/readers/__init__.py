"""Readers: turn files and directories of news into :class:`~indexer.models.Article` objects.

Public API::

    read_paths(paths, *, field_map=None, stats=None, on_problem=None) -> Iterator[Article]
    count_inputs(paths) -> int
    RecordProblem(path, line, reason)
    ReadStats(files, records, articles, skipped, problems)

Formats, chosen by extension (``.gz`` decompressed transparently, e.g. ``corpus.jsonl.gz``):

=================================  ===========================================================
``.txt``                           seed-style text, one article per file (:mod:`.seed`)
``.jsonl`` ``.ndjson`` ``.json``   one JSON object per line; ``.json`` may be an array
``.csv`` ``.tsv``                  header row + one record per row (:mod:`.records`)
``.html`` ``.htm``                 main text + metadata via trafilatura (:mod:`.html`)
=================================  ===========================================================

Field names are mapped automatically (:mod:`.mapping`); ``field_map`` overrides single fields.

Directories are walked recursively in sorted order (deterministic), skipping hidden entries
and files of other types. A directory in BEIR layout (``corpus.jsonl[.gz]`` next to
``queries.jsonl`` or ``qrels/``) contributes only its corpus file: queries and judgments are
not articles. Explicitly named files are always read (an unknown extension is a problem).

Reliability contract: ``read_paths`` never raises for bad input. Each unusable record, and each
file that cannot be read (missing, unreadable, binary, corrupt gzip), is a
:class:`RecordProblem` ``(file, 1-based line or None, reason)``: passed to ``on_problem``,
appended to ``stats.problems`` and counted in ``stats.skipped``; reading goes on with the next
record or file. Only a bad ``field_map`` raises (``ValueError``, before anything is read).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from indexer.models import Article
from indexer.readers.base import (
    FileReadError,
    ReadContext,
    Reader,
    ReadStats,
    RecordProblem,
    format_suffix,
)
from indexer.readers.html import read_html
from indexer.readers.mapping import canonical_field_map
from indexer.readers.records import read_csv, read_jsonl
from indexer.readers.seed import read_seed

READERS: dict[str, Reader] = {
    ".txt": read_seed,
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
    ".json": read_jsonl,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".html": read_html,
    ".htm": read_html,
}

_BEIR_CORPUS = ("corpus.jsonl", "corpus.jsonl.gz")
_BEIR_MARKERS = ("queries.jsonl", "queries.jsonl.gz", "qrels")


def _beir_corpus(names: Sequence[str]) -> str | None:
    corpus = next((name for name in _BEIR_CORPUS if name in names), None)
    if corpus and any(marker in names for marker in _BEIR_MARKERS):
        return corpus
    return None


def _walk(directory: Path, seen: set[Path]) -> Iterator[Path | RecordProblem]:
    try:
        real = directory.resolve()
        if real in seen:  # a symlink loop
            return
        seen.add(real)
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        yield RecordProblem(str(directory), None, f"cannot list directory: {reason}")
        return
    corpus = _beir_corpus([entry.name for entry in entries])
    if corpus:
        yield directory / corpus
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(path, seen)
        elif format_suffix(path) in READERS:
            yield path


def _discover(paths: Sequence[str | Path]) -> Iterator[Path | RecordProblem]:
    """Files to read, in order; a directory that cannot be listed is a problem instead."""
    for raw in [paths] if isinstance(paths, str | Path) else paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, set())
        else:
            yield path


def count_inputs(paths: Sequence[str | Path]) -> int:
    """Number of files :func:`read_paths` would open for ``paths`` (for progress bars)."""
    return sum(1 for item in _discover(paths) if isinstance(item, Path))


def _read_file(path: Path, context: ReadContext) -> Iterator[Article | RecordProblem]:
    if not path.exists():
        yield RecordProblem(str(path), None, "file not found")
        return
    reader = READERS.get(format_suffix(path))
    if reader is None:
        yield RecordProblem(str(path), None, f"unsupported file type {path.suffix!r}")
        return
    try:
        yield from reader(path, context)
    except FileReadError as exc:
        yield RecordProblem(str(path), exc.line, exc.reason)
    except Exception as exc:  # a reader bug must not abort the batch
        yield RecordProblem(str(path), None, f"unexpected error: {type(exc).__name__}: {exc}")


def read_paths(
    paths: Sequence[str | Path],
    *,
    field_map: Mapping[str, str] | None = None,
    stats: ReadStats | None = None,
    on_problem: Callable[[RecordProblem], None] | None = None,
) -> Iterator[Article]:
    """Stream the articles in ``paths`` (files and/or directories), in deterministic order.

    ``stats``, when given, is updated in place as items are produced (totals accumulate over
    calls). ``on_problem`` is called once per problem, as it happens. Raises ``ValueError`` at
    call time for an invalid ``field_map``; never raises for bad input files or records.
    """
    context = ReadContext(field_map=canonical_field_map(field_map))
    return _read_all(paths, context, stats if stats is not None else ReadStats(), on_problem)


def _read_all(
    paths: Sequence[str | Path],
    context: ReadContext,
    stats: ReadStats,
    on_problem: Callable[[RecordProblem], None] | None,
) -> Iterator[Article]:
    for found in _discover(paths):
        items: Iterator[Article | RecordProblem]
        if isinstance(found, RecordProblem):
            items = iter([found])
        else:
            stats.files += 1
            items = _read_file(found, context)
        for item in items:
            stats.records += 1
            if isinstance(item, Article):
                stats.articles += 1
                yield item
            else:
                stats.skipped += 1
                stats.problems.append(item)
                if on_problem is not None:
                    on_problem(item)


__all__ = ["ReadStats", "RecordProblem", "count_inputs", "read_paths"]
