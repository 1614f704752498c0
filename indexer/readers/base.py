"""Shared reader plumbing: problem/stat records, opening files, streaming decoded lines.

Contracts:
- Every reader is a function ``(path, context) -> Iterator[Article | RecordProblem]``; it yields a
  :class:`RecordProblem` for each record it cannot use and never raises for bad *content*.
- Low-level I/O failures (unreadable file, corrupt gzip stream) surface as :class:`FileReadError`
  carrying the last line reached; :func:`indexer.readers.read_paths` turns them into one problem.
- Files are streamed: at most one line (capped at :data:`MAX_LINE_BYTES`) is held at a time by
  the line-oriented readers; whole-file readers (seed text, HTML) refuse files above
  :data:`MAX_DOCUMENT_BYTES`.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from indexer.models import Article

#: Longest accepted line of a JSONL/CSV file; longer lines are reported and skipped.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: Largest accepted whole-file document (seed text, HTML).
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
#: Bytes sniffed at the start of a file to recognise binary content (NUL bytes).
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class RecordProblem:
    """One unusable record (or file): where it is and why it was skipped.

    ``line`` is 1-based; ``None`` when the problem concerns the whole file.
    """

    path: str
    line: int | None
    reason: str


@dataclass
class ReadStats:
    """Running totals of a :func:`indexer.readers.read_paths` call (updated in place).

    Invariants after a completed read: ``records == articles + skipped`` and
    ``skipped == len(problems)`` (a file that cannot be read counts as one skipped record).
    """

    files: int = 0
    records: int = 0
    articles: int = 0
    skipped: int = 0
    problems: list[RecordProblem] = field(default_factory=list)


class FileReadError(Exception):
    """The file itself cannot be (further) read; ``line`` is the last line reached, if any."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class ReadContext:
    """What a format reader needs besides the path.

    ``field_map`` maps canonical field names (see :mod:`indexer.readers.mapping`) to the
    record's column/key names chosen explicitly by the user.
    """

    field_map: Mapping[str, str] = field(default_factory=dict)


ReadItem = Article | RecordProblem
Reader = Callable[[Path, ReadContext], Iterator[ReadItem]]


def is_gzip(path: Path) -> bool:
    """True when ``path`` is to be decompressed transparently (``.gz`` suffix)."""
    return path.suffix.lower() == ".gz"


def format_suffix(path: Path) -> str:
    """The format extension of ``path`` ignoring ``.gz``: ``a.de.jsonl.gz`` -> ``.jsonl``."""
    name = path.name[:-3] if is_gzip(path) else path.name
    return Path(name).suffix.lower()


def base_stem(path: Path) -> str:
    """File name without ``.gz`` and format extension (``x.de.jsonl.gz`` -> ``x.de``)."""
    name = path.name[:-3] if is_gzip(path) else path.name
    return Path(name).stem


def open_binary(path: Path) -> BinaryIO:
    """Open ``path`` for binary reading, decompressing ``.gz`` on the fly.

    Raises :class:`FileReadError` when the file cannot be opened.
    """
    try:
        if is_gzip(path):
            return cast(BinaryIO, gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as exc:
        raise FileReadError(f"cannot open file: {exc.strerror or exc}") from exc


_STREAM_ERRORS = (OSError, EOFError, zlib.error)


def check_not_binary(fh: BinaryIO) -> None:
    """Raise :class:`FileReadError` when the first bytes of ``fh`` contain NUL (a binary file).

    ``fh`` must support ``peek`` (buffered files and gzip streams do); nothing is consumed.
    """
    try:
        head = fh.peek(SNIFF_BYTES)[:SNIFF_BYTES]  # type: ignore[attr-defined]
    except _STREAM_ERRORS as exc:
        raise FileReadError(f"cannot read file: {exc}") from exc
    if b"\x00" in head:
        raise FileReadError("binary file (NUL bytes), not text")


def iter_raw_lines(fh: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, raw_line)`` (1-based, line ending kept) from ``fh``.

    A line longer than :data:`MAX_LINE_BYTES` is consumed without being kept and yielded as
    ``(line_number, None)``. A UTF-8 byte-order mark at the start is dropped. Stream errors
    (corrupt gzip, I/O) raise :class:`FileReadError` with the line reached.
    """
    number = 0
    try:
        while True:
            line = fh.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            number += 1
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):
                    line = fh.readline(MAX_LINE_BYTES)
                yield number, None
                continue
            yield number, line
    except _STREAM_ERRORS as exc:
        raise FileReadError(f"cannot read file: {exc}", number + 1) from exc


def decode_line(raw: bytes) -> str:
    """Decode one line as strict UTF-8 (raises ``UnicodeDecodeError``)."""
    return raw.decode("utf-8", errors="strict")


def read_document(path: Path) -> str:
    """Read a whole small text document (seed text, HTML) as UTF-8 with normalised newlines.

    Raises :class:`FileReadError` for unreadable, oversized, binary or non-UTF-8 files; the
    invalid-UTF-8 case names the first offending line.
    """
    with open_binary(path) as fh:
        check_not_binary(fh)
        try:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
        except _STREAM_ERRORS as exc:
            raise FileReadError(f"cannot read file: {exc}") from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FileReadError(f"file larger than {MAX_DOCUMENT_BYTES} bytes")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileReadError(f"invalid UTF-8 ({exc.reason})", line) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")
