"""Record-oriented formats: JSON Lines (``.jsonl``/``.ndjson``/``.json``) and CSV/TSV.

Contracts:
- Streaming: one line (JSONL) or one record (CSV, bounded by the csv field size limit) is in
  memory at a time. A ``.json`` file whose first character is ``[`` is a JSON array and is
  loaded whole, up to :data:`~indexer.readers.base.MAX_DOCUMENT_BYTES`.
- Each physical line is decoded as strict UTF-8; a line that is not valid UTF-8 is one
  problem (for CSV, the record containing it).
- Problems carry the 1-based line on which the record starts. Blank lines are not records.
- JSONL: invalid JSON and non-object values are problems. CSV: the first row is the header
  (duplicate/blank column names are made unique); rows with broken quoting or a column count
  different from the header's are problems and the lines after the broken record's first line
  are parsed again, so one stray quote loses one record, not the rest of the file.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indexer.errors import RecordError
from indexer.readers.base import (
    MAX_DOCUMENT_BYTES,
    FileReadError,
    ReadContext,
    ReadItem,
    RecordProblem,
    check_not_binary,
    decode_line,
    format_suffix,
    iter_raw_lines,
    open_binary,
)
from indexer.readers.mapping import record_to_article

#: Largest CSV field accepted (the csv module's default of 128 KiB is too small for articles).
CSV_FIELD_LIMIT = 16 * 1024 * 1024


def _to_item(record: Any, path: Path, line: int, context: ReadContext) -> ReadItem:
    if not isinstance(record, dict):
        return RecordProblem(str(path), line, f"not a JSON object ({type(record).__name__})")
    try:
        return record_to_article(record, path, context.field_map)
    except RecordError as exc:
        return RecordProblem(str(path), line, str(exc))


def _json_array(path: Path, context: ReadContext, raw: bytes) -> Iterator[ReadItem]:
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise FileReadError(f"JSON array file larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        records = json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileReadError(f"invalid JSON array: {exc}") from exc
    if not isinstance(records, list):  # pragma: no cover - guarded by the caller's sniffing
        raise FileReadError("not a JSON array")
    for number, record in enumerate(records, start=1):
        yield _to_item(record, path, number, context)


def read_jsonl(path: Path, context: ReadContext) -> Iterator[ReadItem]:
    """Yield one Article or RecordProblem per non-blank line of a JSON Lines file.

    For a ``.json`` JSON-array file, the "line" of a problem is the 1-based array position.
    """
    with open_binary(path) as fh:
        check_not_binary(fh)
        if format_suffix(path) == ".json" and fh.peek(64).lstrip()[:1] == b"[":  # type: ignore[attr-defined]
            yield from _json_array(path, context, fh.read(MAX_DOCUMENT_BYTES + 1))
            return
        for number, raw in iter_raw_lines(fh):
            if raw is None:
                yield RecordProblem(str(path), number, "line too long")
                continue
            try:
                text = decode_line(raw).rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield RecordProblem(str(path), number, f"invalid UTF-8 ({exc.reason})")
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                yield RecordProblem(str(path), number, f"invalid JSON: {exc}")
                continue
            yield _to_item(record, path, number, context)


class _BadLine(Exception):
    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.reason = reason


class _LineFeed:
    """Decoded lines for ``csv.reader`` with the lines of the current record kept for replay."""

    def __init__(self, raw_lines: Iterator[tuple[int, bytes | None]]) -> None:
        self._raw = raw_lines
        self._replay: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self._replay:
            number, text = self._replay.popleft()
        else:
            number, raw = next(self._raw)
            if raw is None:
                raise _BadLine(number, "line too long")
            try:
                text = decode_line(raw)
            except UnicodeDecodeError as exc:
                raise _BadLine(number, f"invalid UTF-8 ({exc.reason})") from exc
        self.taken.append((number, text))
        return text

    def start_record(self) -> None:
        """Forget the lines of the previous record."""
        self.taken = []

    def start_line(self) -> int | None:
        """Line number on which the current record started."""
        return self.taken[0][0] if self.taken else None

    def replay_after_first(self) -> None:
        """Push back every line of the current record but its first, to be parsed again."""
        self._replay.extendleft(reversed(self.taken[1:]))
        self.taken = []


def _unique_header(row: list[str]) -> list[str]:
    header: list[str] = []
    for index, name in enumerate(row):
        name = name.strip() or f"column_{index + 1}"
        candidate, suffix = name, 2
        while candidate in header:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        header.append(candidate)
    return header


def read_csv(path: Path, context: ReadContext) -> Iterator[ReadItem]:
    """Yield one Article or RecordProblem per data row of a CSV (``,``) or TSV (tab) file."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    delimiter = "\t" if format_suffix(path) == ".tsv" else ","
    with open_binary(path) as fh:
        check_not_binary(fh)
        feed = _LineFeed(iter_raw_lines(fh))
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        while True:
            feed.start_record()
            try:
                row = next(reader)
            except StopIteration:
                return
            except _BadLine as exc:
                first = feed.start_line() or exc.number
                yield RecordProblem(str(path), first, f"{exc.reason} at line {exc.number}")
                continue
            except csv.Error as exc:
                yield RecordProblem(str(path), feed.start_line(), f"broken CSV quoting: {exc}")
                feed.replay_after_first()
                continue
            start = feed.start_line()
            if not row or not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _unique_header(row)
                continue
            if len(row) != len(header):
                reason = f"expected {len(header)} columns, found {len(row)}"
                yield RecordProblem(str(path), start, reason)
                if len(feed.taken) > 1:
                    feed.replay_after_first()
                continue
            yield _to_item(dict(zip(header, row, strict=True)), path, start or 0, context)
