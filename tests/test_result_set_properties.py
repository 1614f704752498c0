"""Property tests of the result set on random small corpora in real stores on disk.

Each example writes 5-40 generated articles (a few paragraphs of words from a small made-up
vocabulary; random sources, sections, authors spelled in random case; random dates, some
undated; languages ``xx``/``yy``, so the standard analyser lowercases and never stems) into a
real index in a temporary directory: catalog, tantivy and FAISS, through
:func:`indexer.stores.open_stores` and :func:`indexer.pipeline.ingest_articles`. Random
requests (words, ``-word``, ``NOT word``, ``+word``, ``"phrases"``, ``a AND b``,
``a AND NOT b``, ``(a OR b)``, top-level ``OR``, ``title:``, ``match`` any/all/auto, the three
modes, filters, sorts, page sizes) are then checked for:

- paging: offset and cursor pages yield every article of the set exactly once, ``total`` of
  them, in one order; date sorts are monotonic with undated articles last;
- folding (``fold``, random per request; corpora hold copies of articles under other ids, some
  with a sentence added): the folded pages are the first article of each story in the
  unfolded order, each once; ``versions`` counts the rest of its story in the set, so
  ``total_articles`` = the unfolded total = sum of (1 + versions); every view below counts the
  unit of ``total``; exact copies share a story whose id is its smallest article id;
- one set, many views: ``total`` = facet totals = timeline sum + undated = export rows
  (``total_paragraphs`` at paragraph level), and each facet leaves out only its own filter;
- membership = a brute-force reference written here from the documented semantics
  (search_api/search/membership.py, resultset.py): a leaf matches an article when one of its
  paragraphs contains it (a phrase within one paragraph, ``title:`` against the title),
  ``-x`` excludes the whole article, ``match`` applies to the top-level words, semantic members
  have a paragraph at or above the threshold, filters compare case-insensitively. The
  reference reads the paragraphs the catalog stored, so chunking is not re-implemented.

The embedder is a small deterministic fake (the normalised mean of hash-seeded random unit
vectors per word): the properties are about paging and counting, not embedding quality, and
it makes semantic membership exactly computable here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.models import Article
from indexer.pipeline import ingest_articles
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.engine import SearchEngine
from search_api.grouping import ArticleGroup
from search_api.schemas import SearchRequest, SearchResponse
from search_api.search.calibration import FALLBACK
from search_api.search.membership import AUTO_ALL_UP_TO
from search_api.search.resultset import rank
from search_api.search.table import ArticleTable

VOCAB = (
    *("zorb", "quix", "blen", "frap", "dulm", "kest", "vorn", "plim", "trask", "glee"),
    *("wub", "snad", "mox", "yent", "drib", "hulv", "carn", "fesk", "lopa", "tizz"),
)
SOURCES = ("Alpha", "beta news", "GAMMA")
SECTIONS = ("Inland", "world")
AUTHORS = ("Ann Lee", "bo", "Cy Dub")
LANGUAGES = ("xx", "yy")
#: Similarities this close to the threshold may land on either side (float32 rounding in
#: FAISS); membership there is not asserted.
EPS = 1e-4
DIM = 24


# -- the fake embedder ----------------------------------------------------------------------------
def _word_vector(word: str) -> npt.NDArray[np.float32]:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


class WordHashEmbedder:
    """Deterministic stand-in for a sentence encoder (module docstring): the normalised mean of
    per-word random unit vectors, so texts sharing words are similar."""

    @property
    def dim(self) -> int:
        return DIM

    @property
    def model_key(self) -> str:
        return f"word-hash-{DIM}|q=|p="

    def _one(self, text: str) -> npt.NDArray[np.float32]:
        words = re.findall(r"\w+", text.lower()) or [""]
        v = np.mean([_word_vector(w) for w in words], axis=0)
        norm = float(np.linalg.norm(v))
        return (v / norm if norm > 0 else _word_vector("")).astype(np.float32)

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._one(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


EMBEDDER = WordHashEmbedder()


# -- corpora --------------------------------------------------------------------------------------
def spelled(values: Sequence[str]) -> st.SearchStrategy[str]:
    """One of ``values`` as stored or in lower or upper case."""
    cases: tuple[Callable[[str], str], ...] = (str.strip, str.lower, str.upper)
    return st.tuples(st.sampled_from(values), st.sampled_from(cases)).map(lambda vc: vc[1](vc[0]))


def sentences(pool: Sequence[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pool), min_size=3, max_size=9).map(
        lambda ws: " ".join(ws).capitalize() + "."
    )


@st.composite
def articles(draw: st.DrawFn, i: int) -> Article:
    # Each article talks about a few words of the vocabulary, so a word matches some articles.
    pool = draw(st.lists(st.sampled_from(VOCAB), min_size=3, max_size=8, unique=True))
    paragraphs = draw(st.lists(st.lists(sentences(pool), min_size=1, max_size=3), max_size=4))
    body = "\n\n".join(" ".join(p) for p in paragraphs) or draw(sentences(pool))
    title = " ".join(draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3))).title()
    when = draw(
        st.none()
        | st.datetimes(datetime(2019, 1, 1), datetime(2023, 12, 31), timezones=st.just(UTC))
    )
    return Article(
        article_id=f"a{i:02d}",
        title=title,
        body=body,
        source=draw(st.none() | spelled(SOURCES)),
        published_at=when,
        language=draw(spelled(LANGUAGES)),
        section=draw(st.none() | spelled(SECTIONS)),
        authors=tuple(draw(st.lists(spelled(AUTHORS), max_size=2))),
    )


@st.composite
def corpora(draw: st.DrawFn) -> list[Article]:
    n = draw(st.integers(5, 40))
    out = [draw(articles(i)) for i in range(n)]
    # Syndicated copies: the same title and body under another id, source, date ...; some
    # with a sentence added (a near-duplicate: it may or may not reach the threshold).
    for j in range(draw(st.integers(0, 6))):
        original = out[draw(st.integers(0, n - 1))]
        extra = draw(st.none() | sentences(VOCAB))
        meta = draw(articles(n + j))
        out.append(
            meta.model_copy(
                update={
                    "title": original.title,
                    "body": original.body + ("" if extra is None else "\n\n" + extra),
                }
            )
        )
    return out


@dataclass
class Doc:
    """What the reference knows of one stored article (read back from the catalog)."""

    meta: dict[str, Any]
    title: list[str]
    paragraphs: list[list[str]]
    vectors: npt.NDArray[np.float32]


def tokens(text: str) -> list[str]:
    """The standard analyser's tokens: alphanumeric runs, lowercased."""
    return re.findall(r"[^\W_]+", text.lower())


@contextmanager
def index_of(corpus: list[Article]) -> Iterator[tuple[Stores, dict[str, Doc]]]:
    """``corpus`` in real stores in a temporary directory, and the reference's view of it."""
    with tempfile.TemporaryDirectory(prefix="rs-props-") as tmp:
        settings = Settings(index=Path(tmp) / "idx", embedding_cache=None)
        stores = open_stores(settings, EMBEDDER)
        try:
            report = ingest_articles(stores, corpus)
            assert report.written == len(corpus)
            ids = [a.article_id for a in corpus]
            meta = stores.catalog.articles(ids)
            paras: dict[str, list[str]] = {a: [] for a in ids}
            for p in stores.catalog.paragraphs_of(ids):
                paras[p.article_id].append(p.text)
            docs = {
                a: Doc(
                    meta=meta[a],
                    title=tokens(meta[a]["title"]),
                    paragraphs=[tokens(t) for t in paras[a]],
                    vectors=EMBEDDER.embed_passages(paras[a]),
                )
                for a in ids
            }
            yield stores, docs
        finally:
            stores.close()


# -- queries and their reference semantics ---------------------------------------------------------
@dataclass(frozen=True)
class Clause:
    """One top-level clause; ``kind`` is how it is written (see :meth:`text`)."""

    kind: str
    words: tuple[str, ...]

    def text(self) -> str:
        w = self.words
        if self.kind == "phrase":
            return '"' + " ".join(w) + '"'
        if self.kind == "and":
            return f"{w[0]} AND {w[1]}"
        if self.kind == "andnot":
            return f"{w[0]} AND NOT {w[1]}"
        if self.kind == "group":
            return "(" + " OR ".join(w) + ")"
        prefix = {"word": "", "title": "title:", "plus": "+", "minus": "-", "not": "NOT "}
        return prefix[self.kind] + w[0]

    def positive_words(self) -> tuple[str, ...]:
        """Words the dense retriever reads (excluded ones are not looked for)."""
        if self.kind in ("minus", "not"):
            return ()
        return self.words[:1] if self.kind == "andnot" else self.words


SHOULD_KINDS = ("word", "word", "word", "phrase", "and", "andnot", "group", "title")


def clauses(kinds: Sequence[str]) -> st.SearchStrategy[Clause]:
    def words_for(kind: str) -> st.SearchStrategy[Clause]:
        n = {"phrase": (2, 3), "and": (2, 2), "andnot": (2, 2), "group": (2, 3)}.get(kind, (1, 1))
        return st.lists(st.sampled_from(VOCAB), min_size=n[0], max_size=n[1]).map(
            lambda ws: Clause(kind, tuple(ws))
        )

    return st.sampled_from(kinds).flatmap(words_for)


@dataclass(frozen=True)
class Query:
    should: tuple[Clause, ...]
    must: tuple[Clause, ...]
    must_not: tuple[Clause, ...]
    top_or: bool

    def text(self) -> str:
        joiner = " OR " if self.top_or else " "
        parts = [joiner.join(c.text() for c in self.should)]
        parts += [c.text() for c in (*self.must, *self.must_not)]
        return " ".join(p for p in parts if p)

    @property
    def plain(self) -> bool:
        return not self.must and not self.must_not and all(c.kind == "word" for c in self.should)

    def free_text(self) -> str:
        return " ".join(w for c in (*self.should, *self.must) for w in c.positive_words())


@st.composite
def queries(draw: st.DrawFn) -> Query | None:
    if draw(st.integers(0, 14)) == 0:
        return None  # the empty query: every article within the filters
    plain = draw(st.booleans())
    should = draw(st.lists(clauses(("word",) if plain else SHOULD_KINDS), max_size=4))
    must = () if plain else tuple(draw(st.lists(clauses(("plus",)), max_size=2)))
    must_not = () if plain else tuple(draw(st.lists(clauses(("minus", "not")), max_size=2)))
    if not should and not must:
        should = [draw(clauses(("word",)))]
    top_or = len(should) >= 2 and draw(st.integers(0, 3)) == 0
    return Query(tuple(should), must, tuple(must_not), top_or)


def _has_phrase(toks: list[str], words: tuple[str, ...]) -> bool:
    n = len(words)
    return any(tuple(toks[i : i + n]) == words for i in range(len(toks) - n + 1))


def paragraph_matches(doc: Doc, kind: str, words: tuple[str, ...]) -> list[bool]:
    """Per paragraph of ``doc``: does it match the leaf (a word, a phrase, a title word)?"""
    if kind == "title":
        return [words[0] in doc.title] * len(doc.paragraphs)
    if kind == "phrase":
        return [_has_phrase(p, words) for p in doc.paragraphs]
    return [words[0] in p for p in doc.paragraphs]


def article_has(doc: Doc, kind: str, words: tuple[str, ...]) -> bool:
    return any(paragraph_matches(doc, kind, words))


def clause_matches(doc: Doc, c: Clause) -> bool:
    """Article-level boolean semantics of one clause (membership.py docstring)."""
    w = c.words
    if c.kind in ("word", "plus", "minus", "not"):
        return article_has(doc, "word", w)
    if c.kind in ("phrase", "title"):
        return article_has(doc, c.kind, w)
    if c.kind == "and":
        return article_has(doc, "word", w[:1]) and article_has(doc, "word", w[1:])
    if c.kind == "andnot":
        return article_has(doc, "word", w[:1]) and not article_has(doc, "word", w[1:])
    assert c.kind == "group"
    return any(article_has(doc, "word", (x,)) for x in w)


def positive_leaves(c: Clause) -> list[tuple[str, tuple[str, ...]]]:
    """The clause's leaves outside any NOT: their paragraphs are the matching paragraphs."""
    if c.kind in ("minus", "not"):
        return []
    if c.kind in ("phrase", "title"):
        return [(c.kind, c.words)]
    words = c.words[:1] if c.kind == "andnot" else c.words
    return [("word", (x,)) for x in words]


def required(match: str, n: int) -> int:
    """How many top-level should clauses an article needs (membership.py docstring)."""
    if match == "any":
        return 1
    if match == "all" or n <= AUTO_ALL_UP_TO:
        return n
    return 1


def lexical_match(doc: Doc, q: Query, match: str) -> bool:
    if any(clause_matches(doc, c) for c in q.must_not):
        return False
    if q.must:
        return all(clause_matches(doc, c) for c in q.must)
    distinct = list(dict.fromkeys(q.should))  # a word typed twice counts once
    need = 1 if q.top_or else required(match, len(distinct))
    return sum(clause_matches(doc, c) for c in distinct) >= need


def passes(doc: Doc, req: SearchRequest, skip: str | None = None) -> bool:
    """The request's filters on one article (case-insensitive; dates inclusive, undated never
    pass), except the dimension ``skip``."""
    m = doc.meta

    def fold(v: str | None) -> str | None:
        return None if v is None else v.strip().casefold()

    for dim in ("source", "language", "section"):
        wanted = {fold(w) for w in getattr(req, dim)}
        if dim != skip and wanted and fold(m[dim]) not in wanted:
            return False
    wanted = {fold(w) for w in req.author}
    if skip != "author" and wanted and not wanted & {fold(a) for a in m["authors"]}:
        return False
    if skip == "date" or not (req.date_from or req.date_to):
        return True
    when = m["published_at"]
    if when is None:
        return False
    return not ((req.date_from and when < req.date_from) or (req.date_to and when > req.date_to))


@dataclass
class Expected:
    """The reference's answer for one request."""

    lexical: set[str]  # before filters
    semantic: set[str]  # before filters
    #: Articles with a paragraph within EPS of the threshold (either answer is right).
    uncertain: set[str]
    paragraphs: int | None  # None when uncertain

    def members(
        self, docs: dict[str, Doc], req: SearchRequest, skip: str | None = None
    ) -> set[str]:
        return {a for a in self.lexical | self.semantic if passes(docs[a], req, skip)}


def reference(docs: dict[str, Doc], q: Query | None, req: SearchRequest) -> Expected:
    """The set the documented semantics define (module docstring)."""
    if q is None:
        return Expected(set(docs), set(), set(), 0)
    constrained = not q.plain
    free = q.free_text()
    use_lexical = req.mode != "dense" and req.lexical
    use_semantic = bool(free) and (
        (req.mode == "dense" and req.semantic)
        or (req.mode == "hybrid" and req.semantic and not (constrained and req.lexical))
    )
    lexical = {a for a, d in docs.items() if use_lexical and lexical_match(d, q, req.match)}
    semantic: set[str] = set()
    uncertain: set[str] = set()
    sims: dict[str, npt.NDArray[np.float32]] = {}
    threshold = FALLBACK if req.min_similarity is None else req.min_similarity
    if use_semantic:
        vector = EMBEDDER.embed_query(free)
        for a, d in docs.items():
            sims[a] = d.vectors @ vector
            if any(clause_matches(d, c) for c in q.must_not):
                continue
            if (sims[a] >= threshold + EPS).any():
                semantic.add(a)
            elif (sims[a] > threshold - EPS).any():
                uncertain.add(a)
    leaves = [leaf for c in (*q.should, *q.must) for leaf in positive_leaves(c)]
    count = 0
    for a, d in docs.items():
        if not passes(d, req):
            continue
        lex = [False] * len(d.paragraphs)
        if a in lexical:
            for kind, words in leaves:
                lex = [x or y for x, y in zip(lex, paragraph_matches(d, kind, words), strict=True)]
        sem = [bool(s >= threshold) for s in sims[a]] if a in semantic else [False] * len(lex)
        count += sum(x or y for x, y in zip(lex, sem, strict=True))
    # A paragraph of a member (or candidate) on the edge: the paragraph count may differ.
    edge = any(
        (abs(sims[a] - threshold) < EPS).any() for a in semantic | uncertain if passes(docs[a], req)
    )
    return Expected(lexical, semantic, uncertain, None if edge else count)


# -- requests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    query: Query | None
    req: SearchRequest
    page_sizes: tuple[int, ...]


def stories_of(stores: Stores) -> dict[str, str]:
    """Every committed article's story as the catalog holds it."""
    found = stores.catalog.stories_of(stores.catalog.committed_article_ids())
    assert None not in found.values()
    return {a: str(s) for a, s in found.items()}


def representatives(
    docs: dict[str, Doc],
    stories: dict[str, str],
    flat_order: list[str],
    base: set[str],
    sort: str,
) -> list[str]:
    """One article per story of ``base`` (resultset.py docstring): its first member in the
    unfolded order of the set, else its first article by date (newest first for date_desc,
    else oldest first; undated last, then by id)."""
    chosen: dict[str, str] = {}
    for a in flat_order:
        if a in base:
            chosen.setdefault(stories[a], a)

    def by_date(a: str) -> tuple[bool, float, str]:
        when = docs[a].meta["published_at"]
        if when is None:
            return (True, 0.0, a)
        stamp = when.timestamp()
        return (False, -stamp if sort == "date_desc" else stamp, a)

    for a in sorted(base - set(flat_order), key=by_date):
        chosen.setdefault(stories[a], a)
    return list(chosen.values())


@st.composite
def cases(draw: st.DrawFn) -> Case:
    q = draw(queries())
    mode = draw(st.sampled_from(("bm25", "dense", "hybrid", "hybrid")))
    fields: dict[str, Any] = {
        "q": "" if q is None else q.text(),
        "mode": mode,
        "match": draw(st.sampled_from(("auto", "all", "any"))),
        "sort": draw(st.sampled_from(("relevance", "date_desc", "date_asc"))),
        "min_similarity": draw(st.sampled_from((None, 0.2, 0.35, 0.5, 0.7))),
        "facet_size": draw(st.integers(1, 4)),
    }
    if draw(st.integers(0, 4)) == 0:
        fields["lexical"], fields["semantic"] = draw(
            st.sampled_from(((True, False), (False, True)))
        )
    for dim, pool in (
        ("source", (*SOURCES, "delta")),
        ("language", (*LANGUAGES, "zz")),
        ("section", SECTIONS),
        ("author", AUTHORS),
    ):
        if draw(st.integers(0, 5)) == 0:
            fields[dim] = draw(st.lists(spelled(pool), min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        bounds = draw(
            st.lists(
                st.datetimes(datetime(2019, 1, 1), datetime(2023, 12, 31), timezones=st.just(UTC)),
                min_size=2,
                max_size=2,
            )
        )
        lo, hi = sorted(bounds)
        which = draw(st.sampled_from(("from", "to", "both")))
        if which != "to":
            fields["date_from"] = lo
        if which != "from":
            fields["date_to"] = hi
    fields["fold"] = draw(st.booleans())
    sizes = tuple(draw(st.lists(st.sampled_from((1, 3, 7, 100)), min_size=1, max_size=3)))
    return Case(q, SearchRequest(**fields), sizes)


# -- the views ------------------------------------------------------------------------------------
def offset_pages(engine: SearchEngine, req: SearchRequest, size: int) -> list[SearchResponse]:
    pages = [engine.search(req.model_copy(update={"limit": size, "offset": 0}))]
    while pages[-1].offset + size < pages[-1].total:
        assert len(pages) <= 100
        offset = pages[-1].offset + size
        pages.append(engine.search(req.model_copy(update={"limit": size, "offset": offset})))
    return pages


def cursor_pages(
    engine: SearchEngine, req: SearchRequest, sizes: Sequence[int]
) -> list[SearchResponse]:
    pages = [engine.search(req.model_copy(update={"limit": sizes[0]}))]
    while pages[-1].next is not None:
        assert len(pages) <= 100
        size = sizes[len(pages) % len(sizes)]
        pages.append(
            engine.search(req.model_copy(update={"limit": size, "cursor": pages[-1].next}))
        )
    return pages


def ids(pages: Sequence[SearchResponse]) -> list[str]:
    return [r.article_id for p in pages for r in p.results]


def check_case(
    engine: SearchEngine, docs: dict[str, Doc], stories: dict[str, str], case: Case
) -> None:
    req = case.req
    where = f"q={req.q!r} request={req.model_dump(exclude_defaults=True)}"
    first = engine.search(req.model_copy(update={"limit": 100, "facets": True, "timeline": True}))
    total = first.total
    order = ids([first]) if total <= 100 else ids(offset_pages(engine, req, 100))

    # Paging: every result once, total of them, one order, by offset and by cursor.
    assert len(order) == len(set(order)) == total, where
    for size in case.page_sizes:
        assert ids(offset_pages(engine, req, size)) == order, f"{where} offset {size}"
    assert ids(cursor_pages(engine, req, case.page_sizes)) == order, f"{where} cursor"

    # Folding: the first article of each story in the unfolded order; versions add up.
    flat_req = req.model_copy(update={"fold": False})
    flat_first = engine.search(flat_req.model_copy(update={"limit": 100}))
    flat = ids(offset_pages(engine, flat_req, 100))
    assert first.total_articles == flat_first.total == len(flat), where
    reps = representatives(docs, stories, flat, set(flat), req.sort)
    assert first.total_stories == flat_first.total_stories == len(reps), where
    if req.fold:
        assert order == reps, where
        results = [r for p in offset_pages(engine, req, 100) for r in p.results]
        assert sum(1 + r.versions for r in results) == len(flat), where
        for r in results:
            assert r.story == stories[r.article_id], where
            assert r.versions == sum(stories[a] == r.story for a in flat) - 1, where
    else:
        assert order == flat and all(r.versions == 0 for r in first.results), where

    # Membership equals the reference.
    expected = reference(docs, case.query, req)
    want = expected.members(docs, req)
    uncertain = {a for a in expected.uncertain if passes(docs[a], req)}
    got = set(flat)
    assert want <= got <= want | uncertain, (
        f"{where}\nmissing {sorted(want - got)}\nextra {sorted(got - want - uncertain)}"
    )
    if expected.paragraphs is not None and not uncertain and not req.fold:
        assert first.total_paragraphs == expected.paragraphs, where

    def counted(base: set[str]) -> list[str]:
        """What a view counts of ``base``: every article, or one per story when folded."""
        return representatives(docs, stories, flat, base, req.sort) if req.fold else list(base)

    # Facets: each over the set without its own filter; single-valued ones add up.
    assert first.facets is not None and first.timeline is not None
    for facet in first.facets:
        skip = "date" if facet.field in ("year", "month") else facet.field
        base = counted(expected.members(docs, req, skip=skip))
        if not uncertain:
            assert facet.total == len(base), f"{where} {facet.field}"
        listed = sum(v.count for v in facet.values) + facet.other
        if facet.field == "author":
            per_article = [
                len({a.strip().casefold() for a in docs[x].meta["authors"]}) for x in base
            ]
            if not uncertain:
                assert listed == sum(per_article), where
                assert facet.missing == per_article.count(0), where
        else:
            assert listed + facet.missing == facet.total, f"{where} {facet.field}"
        assert len(facet.values) <= req.facet_size
        if facet.field in ("year", "month"):  # newest first
            labels = [v.value for v in facet.values]
            assert labels == sorted(labels, reverse=True), f"{where} {facet.field}"
        else:  # most frequent first
            counts = [v.count for v in facet.values]
            assert counts == sorted(counts, reverse=True), f"{where} {facet.field}"
        assert len({v.value.casefold() for v in facet.values}) == len(facet.values)
    facets = {f.field: f for f in first.facets}
    for name in ("source", "language", "section", "year"):
        if not getattr(req, name, None) and not (name == "year" and (req.date_from or req.date_to)):
            assert facets[name].total == total, f"{where} {name}"

    # Timeline: buckets + undated = total.
    tl = first.timeline
    assert tl.total == total
    assert sum(b.count for b in tl.buckets) + tl.undated == total, where
    assert tl.undated == sum(docs[a].meta["published_at"] is None for a in order), where

    # Export: one row per article (in the set's order) or per matching paragraph.
    for fmt in ("jsonl", "csv"):
        for level in ("article", "paragraph"):
            text = "".join(engine.export(req, fmt, level))
            if fmt == "jsonl":
                lines = text.splitlines()
                assert list(json.loads(lines[0])) == ["manifest"]
                rows = [json.loads(line)["article_id"] for line in lines[1:]]
            else:
                table = list(csv.reader(io.StringIO(text)))
                assert len(table[0]) == 1 and table[0][0].startswith('# {"manifest"')
                assert table[1][:2] == ["rank", "article_id"]
                rows = [r[1] for r in table[2:]]
            wanted = total if level == "article" else first.total_paragraphs
            assert len(rows) == wanted, f"{where} {fmt} {level}"
            if level == "article":
                assert rows == order, f"{where} {fmt}"

    # Date sorts: monotonic over the whole set, undated last.
    if req.sort != "relevance":
        dates = [docs[a].meta["published_at"] for a in order]
        dated = [d for d in dates if d is not None]
        assert dates == dated + [None] * (len(dates) - len(dated)), where
        assert dated == sorted(dated, reverse=req.sort == "date_desc"), where


def check_stories(stores: Stores, stories: dict[str, str], corpus: list[Article]) -> None:
    """Exact copies (same title and body) share a story; a story's id is its smallest
    article id; the articles of a story are linked by pairs whose signatures reach the
    threshold (its near-duplicate graph is connected)."""
    from indexer.dedup import decode, similarity

    by_text: dict[tuple[str, str], set[str]] = {}
    for a in corpus:
        by_text.setdefault((a.title, a.body), set()).add(a.article_id)
    for same in by_text.values():
        assert len({stories[a] for a in same}) == 1, sorted(same)
    members: dict[str, list[str]] = {}
    for a, s in stories.items():
        members.setdefault(s, []).append(a)
    threshold = stores.settings.story_threshold
    for story, group in members.items():
        assert story == min(group)
        sigs = {a: decode(b) for a, b in stores.catalog.signatures(group).items() if b}
        reached, frontier = {group[0]}, [group[0]]
        while frontier:
            x = frontier.pop()
            for y in group:
                if y not in reached and similarity(sigs[x], sigs[y]) >= threshold:
                    reached.add(y)
                    frontier.append(y)
        assert reached == set(group), story


PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(corpus=corpora(), requests=st.lists(cases(), min_size=4, max_size=8))
def test_result_set_invariants_on_random_corpora(
    corpus: list[Article], requests: list[Case]
) -> None:
    """Paging, views and membership (module docstring) for random requests on a random corpus."""
    with index_of(corpus) as (stores, docs):
        engine = SearchEngine(stores)
        try:
            stories = stories_of(stores)
            check_stories(stores, stories, corpus)
            for case in requests:
                check_case(engine, docs, stories, case)
        finally:
            engine.close()


def check_known_first(engine: SearchEngine, req: SearchRequest) -> None:
    """A fresh set's first-page views, read before its order is arranged (the head, the
    counts, one article's matching paragraphs: resultset.Known), equal the arranged set's."""
    engine._sets.clear()
    rs = engine.result_set(req)
    where = f"q={req.q!r} request={req.model_dump(exclude_defaults=True)}"
    known = rs.arrangement.known
    if known is None:  # a date order is arranged at once
        assert rs.arrangement.ready is not None, where
        return
    assert rs.arrangement.ready is None, where
    covered = len(known.head) if len(known.head) < known.total else known.total
    windows = {
        (a, a + n): rs.window(a, a + n) for n in (1, 3, 10) for a in range(0, covered - n + 1)
    }
    shown = [int(o) for o in known.head[:covered]]
    rows = {o: rs.paragraph_rows(o) for o in shown}
    counts = (rs.total, rs.total_articles, rs.total_stories, rs.total_paragraphs)
    assert rs.arrangement.ready is None, f"{where}: a first page arranged the set"

    arranged = rs.arrangement.get()
    members = arranged.order if arranged.member_order is None else arranged.member_order
    stories = len(np.unique(rs.table.story[members])) if len(members) else 0
    assert counts == (len(arranged.order), len(members), stories, len(arranged.match_vec_ids)), (
        where
    )
    for (a, b), (order, scores, versions) in windows.items():
        assert order.tolist() == arranged.order[a:b].tolist(), (where, a, b)
        assert np.array_equal(scores, arranged.scores[a:b], equal_nan=True), (where, a, b)
        want = None if arranged.versions is None else arranged.versions[a:b].tolist()
        assert (None if versions is None else versions.tolist()) == want, (where, a, b)
    for o, (vec, sim, lexical) in rows.items():
        want = rs.paragraph_rows(o)  # now read from the arranged arrays
        assert vec.tolist() == want[0].tolist(), (where, o)
        assert np.array_equal(sim, want[1], equal_nan=True), (where, o)
        assert lexical.tolist() == want[2].tolist(), (where, o)


@PROPERTY_SETTINGS
@given(
    corpus=corpora(),
    requests=st.lists(
        st.tuples(
            st.one_of(
                st.builds(
                    lambda words, mode, match, sim: SearchRequest(
                        q=" ".join(words), mode=mode, match=match, min_similarity=sim
                    ),
                    st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3),
                    st.sampled_from(("bm25", "dense", "hybrid", "hybrid")),
                    st.sampled_from(("any", "all")),
                    st.sampled_from((None, 0.2, 0.35)),
                ),
                cases().map(lambda case: case.req),
            ),
            st.sampled_from((10, 12, None)),
            st.booleans(),
        ),
        min_size=6,
        max_size=10,
    ),
)
def test_first_page_views_before_the_set_is_arranged(
    corpus: list[Article], requests: list[tuple[SearchRequest, int | None, bool]]
) -> None:
    """What a first page reads before the rest of the set is ordered (check_known_first),
    on random corpora with copies (stories of several articles, in the head and in the tail)
    and few candidates (a long tail)."""
    with index_of(corpus) as (stores, _):
        engine = SearchEngine(stores)
        try:
            for req, depth, fold in requests:
                update = {"candidates": depth, "sort": "relevance", "fold": fold}
                check_known_first(engine, req.model_copy(update=update))
        finally:
            engine.close()


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(
    corpus=corpora(),
    requests=st.lists(
        st.tuples(queries(), st.sampled_from(("auto", "all", "any"))), min_size=20, max_size=40
    ),
)
def test_lexical_membership_equals_the_reference(
    corpus: list[Article], requests: list[tuple[Query | None, str]]
) -> None:
    """Many boolean queries per corpus, bm25 mode: the set is exactly the brute-force one."""
    with index_of(corpus) as (stores, docs):
        engine = SearchEngine(stores)
        try:
            for q, match in requests:
                # Membership is of articles: unfolded (folding is checked above).
                req = SearchRequest(
                    q="" if q is None else q.text(), mode="bm25", match=match, fold=False
                )
                rs = engine.result_set(req)
                got = {rs.table.ids[o] for o in rs.order}
                expected = reference(docs, q, req)
                assert got == expected.members(docs, req), (req.q, match)
                assert rs.total_paragraphs == expected.paragraphs, (req.q, match)
        finally:
            engine.close()


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.booleans(),  # a member
            st.one_of(st.integers(0, 6), st.integers(120, 140)),  # coord (past the packed key)
            st.one_of(st.just(float("-inf")), st.floats(-1.0, 1.0, width=32)),
        ),
        max_size=40,
    ),
    head=st.lists(st.integers(0, 39), max_size=5, unique=True),
)
def test_rank_orders_the_tail_by_coord_then_similarity_then_ordinal(
    rows: list[tuple[bool, int, float]], head: list[int]
) -> None:
    """resultset.rank: the ranked groups first, then every other member by coord (descending),
    best similarity (descending, none last) and ordinal, exactly as a sort by that triple."""
    n = len(rows)
    vec = np.arange(1000, 1000 + n, dtype=np.int64)
    ids = tuple(f"a{i:03d}" for i in range(n))  # sorted, as the catalog gives them
    t = ArticleTable(1, ids, np.zeros(n, np.int64), {}, vec, np.arange(n, dtype=np.int64))
    members = np.asarray([r[0] for r in rows], dtype=bool)
    coord = np.asarray([r[1] for r in rows], dtype=np.int64)
    best = np.asarray([r[2] for r in rows], dtype=np.float64)
    groups = [ArticleGroup(ids[i], 10.0 - k, []) for k, i in enumerate(head) if i < n]
    order, scores, ranked = rank(t, members, groups, coord, best)
    first = [int(g.article_id[1:]) for g in groups if members[int(g.article_id[1:])]]
    rest = sorted(
        (i for i in range(n) if members[i] and i not in first),
        key=lambda i: (-coord[i], -best[i], i),
    )
    assert order.tolist() == first + rest
    assert set(ranked) == set(first) and len(scores) == len(order)
