"""Split an :class:`~indexer.models.Article` body into the paragraphs (chunks) that get indexed.

Contract of :func:`chunk_article` (pure, deterministic, near-linear time in the body length):

1. **Source paragraphs.** The body is cut into lines; blank (whitespace-only) lines separate
   blocks. Every line of a block is its own paragraph (bodies such as PolitiFact's use single
   newlines between paragraphs), unless the block looks hard-wrapped (see
   :func:`_hard_wrapped`), in which case the block is one paragraph. A body without newlines
   is one paragraph (then cut by rule 5).
2. **Boilerplate** (:mod:`indexer.boilerplate`): whole navigation lines and known widgets are
   dropped; a navigation phrase + separator glued to the start of a paragraph is cut off.
3. **Repeated title.** A last (or first) paragraph equal to the article title
   (whitespace- and case-insensitive) is dropped, unless it is the only paragraph.
4. **Headings.** Short lines without terminal sentence punctuation (:func:`_is_heading`) are
   attached to the paragraph that follows, joined with ``"\\n"``.
5. **Long paragraphs** are cut so that ``count_tokens(chunk.text) <= max_tokens``: at sentence
   boundaries, inside an over-long sentence at word boundaries, inside an over-long word at
   characters. Only a single character that alone exceeds ``max_tokens`` can exceed it.
6. **Short fragments** (text shorter than ``min_chars``) are merged into the following chunk,
   else into the previous one, whenever the merged text still fits ``max_tokens``; otherwise
   they stay as they are. Nothing but boilerplate (and invisible/whitespace-only text) is
   ever dropped.

Every chunk's text is whitespace-normalised (runs of whitespace inside a source paragraph become
one space; parts from different source paragraphs are joined with ``"\\n"``), stripped and never
empty. ``start``/``end`` are offsets into ``article.body``: ``body[start:end]`` runs from the
first kept character of the chunk to its last (so it may include stripped boilerplate between a
heading and its paragraph, but never a stripped prefix). Chunks are in body order, with
non-overlapping, increasing spans. An article whose body is empty or only boilerplate yields
no chunks.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from indexer import boilerplate
from indexer.models import Article, Paragraph

__all__ = ["TOKENS_PER_WORD", "chunk_article", "estimate_tokens", "normalize_text"]

#: Default token estimate per whitespace-separated word (:func:`estimate_tokens`).
TOKENS_PER_WORD = 1.3

_WHITESPACE = re.compile(r"\s+")
_LINE = re.compile(r"[^\r\n]+")
# Sentence end: terminal punctuation (a run counted once: the look-behind keeps this linear),
# optional closing quotes/brackets, then whitespace. The next sentence starts after it.
_TERMINAL = ".!?…。\uff01\uff1f"
_SENTENCE_END = re.compile(rf"(?<![{_TERMINAL}])[{_TERMINAL}]++[\"'”“»«\u2019)\]]*+\s+")
# Zero-width and BOM characters, stripped at the edges of a paragraph (never inside it).
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_EDGE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000" + _INVISIBLE
)
_CLOSERS = "\"'”“»«\u2019)]"
_HEADING_TERMINAL = _TERMINAL + ";"

#: A heading has at most this many characters and words (and no terminal punctuation).
_HEADING_MAX_CHARS = 100
_HEADING_MAX_WORDS = 12
#: Hard-wrap detection: line lengths of a hard-wrapped block (all lines but the last).
_WRAP_MIN, _WRAP_MAX, _WRAP_SPREAD = 30, 100, 30
#: Text longer than this is processed with regular expressions instead of ``str.split``
#: (which would hold every word of it in memory at once).
_SPLIT_COUNT_LIMIT = 100_000

_SENTENCE, _WORD, _CHAR = 0, 1, 2

Fits = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Part:
    """A kept span ``body[start:end]`` (trimmed) and its whitespace-normalised text."""

    start: int
    end: int
    text: str


_Chunk = tuple[_Part, ...]


def estimate_tokens(text: str) -> int:
    """Cheap token estimate: ``ceil(words * 1.3)`` (words = whitespace-separated runs).

    1.3 word pieces per word is typical for English news with a WordPiece vocabulary; German
    compounds tokenise longer, so pass the real tokenizer's count when it matters.
    """
    if len(text) <= _SPLIT_COUNT_LIMIT:
        words = len(text.split())
    else:
        words = sum(1 for _ in re.finditer(r"\S+", text))
    return math.ceil(words * TOKENS_PER_WORD)


def normalize_text(text: str) -> str:
    """``text`` with every whitespace run replaced by one space, stripped at both ends.

    Zero-width characters are stripped at the ends only (they may join characters inside).
    """
    if len(text) <= _SPLIT_COUNT_LIMIT:  # faster, but builds a list of all words
        return " ".join(text.split()).strip(_EDGE)
    return _WHITESPACE.sub(" ", text).strip(_EDGE)


def chunk_article(
    article: Article,
    *,
    max_tokens: int = 200,
    min_chars: int = 80,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Paragraph]:
    """The paragraphs to index for ``article``, numbered 0.. in body order.

    ``max_tokens`` bounds ``count_tokens(paragraph.text)`` (default counter:
    :func:`estimate_tokens`; 200 leaves room in MiniLM's 256-piece window); paragraphs shorter
    than ``min_chars`` characters are merged into a neighbour when that fits. See the module
    docstring for the full contract.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    count = count_tokens or estimate_tokens

    def fits(text: str) -> bool:
        return count(text) <= max_tokens

    body = article.body
    parts = _drop_title(_strip_boilerplate(body, _source_parts(body)), article.title)
    chunks = [chunk for group in _attach_headings(parts) for chunk in _pack(body, group, fits)]
    chunks = _merge_short(chunks, fits, min_chars)
    return [_paragraph(article, n, chunk) for n, chunk in enumerate(chunks)]


# --- 1. source paragraphs -------------------------------------------------------------------


def _make_part(body: str, start: int, end: int) -> _Part | None:
    """The trimmed part of ``body[start:end]``, or None when it holds nothing visible."""
    segment = body[start:end]
    stripped = segment.lstrip(_EDGE)
    if not stripped:
        return None
    start += len(segment) - len(stripped)
    end = start + len(stripped.rstrip(_EDGE))
    return _Part(start, end, normalize_text(body[start:end]))


def _blocks(body: str) -> Iterator[list[_Part]]:
    """Runs of non-blank lines, separated by blank lines (two or more line breaks)."""
    block: list[_Part] = []
    for match in _LINE.finditer(body):
        line = _make_part(body, match.start(), match.end())
        if line is None:
            continue
        if block:
            gap = body[block[-1].end : line.start]
            if max(gap.count("\n"), gap.count("\r")) >= 2:
                yield block
                block = []
        block.append(line)
    if block:
        yield block


def _source_parts(body: str) -> list[_Part]:
    """The body's paragraphs: one per line, or one per block when the block is hard-wrapped."""
    parts: list[_Part] = []
    for block in _blocks(body):
        if _hard_wrapped([line.text for line in block]):
            joined = _make_part(body, block[0].start, block[-1].end)
            parts.extend([joined] if joined else [])
        else:
            parts.extend(block)
    return parts


def _ends_sentence(text: str) -> bool:
    """True when ``text`` ends with terminal punctuation (closing quotes/brackets ignored)."""
    core = text.rstrip(_CLOSERS)
    return bool(core) and core[-1] in _HEADING_TERMINAL


def _hard_wrapped(lines: Sequence[str]) -> bool:
    """True for a block of at least 3 lines that reads as one hard-wrapped paragraph.

    All lines but the last are 30-100 characters long, within 30 characters of each other,
    and most of them end mid-sentence.
    """
    heads = [len(line) for line in lines[:-1]]
    if len(heads) < 2 or min(heads) < _WRAP_MIN or max(heads) > _WRAP_MAX:
        return False
    if max(heads) - min(heads) > _WRAP_SPREAD:
        return False
    open_ends = sum(1 for line in lines[:-1] if not _ends_sentence(line))
    return open_ends * 2 > len(heads)


# --- 2./3. boilerplate and repeated title ---------------------------------------------------


def _strip_boilerplate(body: str, parts: list[_Part]) -> list[_Part]:
    """``parts`` without widgets and navigation lines, with glued navigation prefixes cut."""
    texts = [part.text for part in parts]
    kept: list[_Part] = []
    index = 0
    while index < len(parts):
        widget = boilerplate.widget_length(texts, index)
        if widget:
            index += widget
            continue
        part = parts[index]
        index += 1
        if boilerplate.is_nav_line(part.text):
            continue
        window = body[part.start : min(part.end, part.start + 200)]
        cut = boilerplate.nav_prefix_length(window)
        trimmed = _make_part(body, part.start + cut, part.end) if cut else part
        if trimmed is not None and not (cut and boilerplate.is_nav_line(trimmed.text)):
            kept.append(trimmed)
    return kept


def _title_key(text: str) -> str:
    return normalize_text(text).casefold()


def _drop_title(parts: list[_Part], title: str) -> list[_Part]:
    """``parts`` without a last and a first paragraph equal to ``title`` (never all of them)."""
    key = _title_key(title)
    if not key:
        return parts
    if len(parts) > 1 and _title_key(parts[-1].text) == key:
        parts = parts[:-1]
    if len(parts) > 1 and _title_key(parts[0].text) == key:
        parts = parts[1:]
    return parts


# --- 4. headings ----------------------------------------------------------------------------


def _is_heading(text: str) -> bool:
    """Short (<= 100 chars, <= 12 words) and without terminal sentence punctuation."""
    if len(text) > _HEADING_MAX_CHARS or len(text.split()) > _HEADING_MAX_WORDS:
        return False
    return not _ends_sentence(text)


def _attach_headings(parts: list[_Part]) -> list[list[_Part]]:
    """Groups of parts: any headings followed by the paragraph they introduce.

    Headings at the very end form a group of their own (merged later as short fragments).
    """
    groups: list[list[_Part]] = []
    pending: list[_Part] = []
    for part in parts:
        pending.append(part)
        if not _is_heading(part.text):
            groups.append(pending)
            pending = []
    if pending:
        groups.append(pending)
    return groups


# --- 5. long paragraphs ---------------------------------------------------------------------


def _text(chunk: Sequence[_Part]) -> str:
    return "\n".join(part.text for part in chunk)


def _pack(body: str, group: list[_Part], fits: Fits) -> Iterator[_Chunk]:
    """``group`` as one chunk when it fits, else cut into fitting chunks (finest level last)."""
    whole = tuple(group)
    if fits(_text(whole)):
        yield whole
        return
    yield from _Cutter(body, group, fits).fill(group[0].start, group[-1].end, _SENTENCE)


class _Cutter:
    """Cuts the span of a group of parts into the longest chunks that fit, left to right."""

    def __init__(self, body: str, group: list[_Part], fits: Fits) -> None:
        self.body = body
        self.group = group
        self.ends = [part.end for part in group]
        self.fits = fits
        self.hints = {_SENTENCE: 1, _WORD: 1, _CHAR: 1}  # cuts taken by the last chunk, per level

    def parts(self, start: int, end: int) -> _Chunk:
        """The kept text of ``body[start:end]``: the overlapping pieces of the group's parts."""
        chunk: list[_Part] = []
        index = bisect_right(self.ends, start)
        while index < len(self.group) and self.group[index].start < end:
            part = self.group[index]
            index += 1
            if start <= part.start and part.end <= end:
                chunk.append(part)
                continue
            piece = _make_part(self.body, max(start, part.start), min(end, part.end))
            if piece is not None:
                chunk.append(piece)
        return tuple(chunk)

    def fill(self, start: int, end: int, level: int) -> Iterator[_Chunk]:
        """Fitting chunks covering ``[start, end)``, cut at ``level`` boundaries or finer."""
        pos = start
        while pos < end:
            fitting, offsets = self.longest_fit(pos, self.cuts(pos, end, level), self.hints[level])
            if fitting >= 0:
                stop = offsets[fitting]
                chunk = self.parts(pos, stop)
                self.hints[level] = fitting + 1
            elif level < _CHAR:
                stop = offsets[0]
                yield from self.fill(pos, stop, level + 1)
                chunk = ()
            else:  # a single character that alone exceeds the budget: emit it anyway
                stop = offsets[0]
                chunk = self.parts(pos, stop)
            if chunk:
                yield chunk
            pos = stop

    def cuts(self, pos: int, end: int, level: int) -> Iterator[int]:
        """Increasing cut offsets in ``(pos, end]`` at ``level``; the last one is ``end``."""
        if level == _CHAR:
            return iter(range(pos + 1, end + 1))
        if level == _WORD:
            return self._word_cuts(pos, end)
        return self._sentence_cuts(pos, end)

    def _word_cuts(self, pos: int, end: int) -> Iterator[int]:
        for match in _WHITESPACE.finditer(self.body, pos, end):
            if pos < match.start() and match.end() < end:
                yield match.end()
        yield end

    def _sentence_cuts(self, pos: int, end: int) -> Iterator[int]:
        index = bisect_right(self.ends, pos)
        last = pos
        while index < len(self.group) and self.group[index].start < end:
            part = self.group[index]
            index += 1
            stop = min(part.end, end)
            for match in _SENTENCE_END.finditer(self.body, max(pos, part.start), stop):
                cut = match.end()
                if cut < stop and not _continues_sentence(self.body[cut]):
                    yield cut
            yield stop
            last = stop
        if last < end:
            yield end

    def longest_fit(self, pos: int, cuts: Iterator[int], hint: int) -> tuple[int, list[int]]:
        """``(index of the furthest cut whose chunk from pos fits, or -1; cuts read so far)``.

        Galloping search around ``hint`` (how many cuts the previous chunk took: neighbouring
        chunks are alike), then binary search: O(log n) chunks measured, each at most about
        twice the result, and the cut offsets are only read as far as needed. Assumes that
        ``fits`` is monotone (a longer text never fits when a shorter prefix does not).
        """
        offsets = _LazyList(cuts)

        def fits_at(index: int) -> bool:
            return self.fits(_text(self.parts(pos, offsets.items[index])))

        index = offsets.clamp(max(hint, 1) - 1)
        step = 1
        if fits_at(index):
            fitting, failing = index, -1
            while failing < 0:
                probe = offsets.clamp(fitting + step)
                if probe == fitting:  # every cut fits
                    return fitting, offsets.items
                fitting, failing = (probe, -1) if fits_at(probe) else (fitting, probe)
                step *= 2
        else:
            fitting, failing = -1, index
            while fitting < 0 and failing > 0:
                probe = max(failing - step, 0)
                fitting, failing = (probe, failing) if fits_at(probe) else (-1, probe)
                step *= 2
        while failing - fitting > 1:
            middle = (fitting + failing) // 2
            fitting, failing = (middle, failing) if fits_at(middle) else (fitting, middle)
        return fitting, offsets.items


class _LazyList:
    """The items of an iterator, read only as far as asked for."""

    def __init__(self, items: Iterator[int]) -> None:
        self._source = items
        self.items: list[int] = []

    def clamp(self, index: int) -> int:
        """``index``, or the last index when the iterator ends before it (needs one item)."""
        while len(self.items) <= index:
            item = next(self._source, None)
            if item is None:
                break
            self.items.append(item)
        return min(index, len(self.items) - 1)


def _continues_sentence(char: str) -> bool:
    """Lower-case letter or digit after a full stop: no new sentence ("Nr. 1", "z. B. die")."""
    return char.islower() or char.isdigit()


# --- 6. short fragments ---------------------------------------------------------------------


def _merge_short(chunks: list[_Chunk], fits: Fits, min_chars: int) -> list[_Chunk]:
    """Merge chunks shorter than ``min_chars`` into the next chunk, else the previous one."""
    merged: list[_Chunk] = []
    carry: _Chunk = ()
    for chunk in chunks:
        current = chunk
        if carry:
            if fits(_text(carry + chunk)):
                current = carry + chunk
            else:
                _append_backwards(merged, carry, fits)
            carry = ()
        if len(_text(current)) < min_chars:
            carry = current
        else:
            merged.append(current)
    if carry:
        _append_backwards(merged, carry, fits)
    return merged


def _append_backwards(merged: list[_Chunk], fragment: _Chunk, fits: Fits) -> None:
    """Merge ``fragment`` into the last chunk of ``merged`` when that fits, else append it."""
    if merged and fits(_text(merged[-1] + fragment)):
        merged[-1] = merged[-1] + fragment
    else:
        merged.append(fragment)


# --- output ---------------------------------------------------------------------------------


def _paragraph(article: Article, position: int, chunk: _Chunk) -> Paragraph:
    return Paragraph(
        paragraph_id=Paragraph.make_id(article.article_id, position),
        article_id=article.article_id,
        position=position,
        text=_text(chunk),
        start=chunk[0].start,
        end=chunk[-1].end,
        title=article.title,
        source=article.source,
        language=article.language,
        section=article.section,
        authors=article.authors,
        published_at=article.published_at,
    )
