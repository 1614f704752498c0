"""Ingest: readers -> chunker -> embedder -> stores, with a commit protocol between the stores.

Stages run concurrently so the embedder (the bottleneck) is never idle: a reader thread reads,
detects languages, skips unchanged articles and chunks; an embedder thread embeds; the calling
thread writes. Queues are bounded, so memory stays bounded whatever the input size.

Commit protocol (see :mod:`indexer.catalog`): for each batch the catalog first records the
articles as ``pending`` with their new paragraphs, then the lexical backend and FAISS are
written, and every ``commit_every`` paragraphs both stores are committed (FAISS saved
atomically) and only then are those articles marked ``committed``. A crash anywhere leaves
the affected articles pending; :func:`repair` (run at the start of every ingest) rewrites them
and removes orphans, so the stores converge to the catalog.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexer.catalog import Catalog, vec_id
from indexer.chunker import chunk_article
from indexer.dedup import changed_stories, signature
from indexer.errors import BackendUnavailable, IngestError
from indexer.language import detect_language
from indexer.lexical.base import LexicalBackend
from indexer.models import Article, Paragraph
from indexer.readers import ReadStats, RecordProblem, read_paths
from indexer.stores import Stores
from indexer.vectors import Vectors

#: (article as indexed, its paragraphs, content hash of the article as read). The hash is taken
#: before language detection fills in a missing language, so re-reading the same record
#: yields the same hash and is recognised as unchanged.
Batch = list[tuple[Article, list[Paragraph], str]]


@dataclass
class IngestReport:
    """What an ingest did. ``problems`` lists every skipped record with file, line and reason;
    ``embedded`` counts texts that went through an encoder (a paragraph once per encoder of
    the index that had no cached vector for it)."""

    files: int = 0
    records: int = 0
    articles: int = 0
    unchanged: int = 0
    written: int = 0
    paragraphs: int = 0
    skipped: int = 0
    embedded: int = 0
    seconds: float = 0.0
    repaired: int = 0
    problems: list[RecordProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (problems reduced to a count; see the error report file)."""
        return {
            "files": self.files,
            "records": self.records,
            "articles": self.articles,
            "unchanged": self.unchanged,
            "written": self.written,
            "paragraphs": self.paragraphs,
            "skipped": self.skipped,
            "embedded": self.embedded,
            "repaired": self.repaired,
            "seconds": round(self.seconds, 2),
        }


def prepare(
    article: Article, count_tokens: Callable[[str], int] | None, max_tokens: int
) -> tuple[Article, list[Paragraph]]:
    """Fill in a missing language and cut ``article`` into paragraphs."""
    if article.language is None:
        lang = detect_language(f"{article.title}\n{article.body[:2000]}")
        if lang:
            article = article.model_copy(update={"language": lang})
    return article, chunk_article(article, max_tokens=max_tokens, count_tokens=count_tokens)


#: A batch also ends once its bodies add up to this many characters, so that large batches
#: (good for the embedder: one length-sorted pool, ~1,000 paragraphs) stay bounded in memory
#: whatever the articles' size (four batches can be queued between stages).
BATCH_MAX_CHARS = 4_000_000


def _batches(articles: Iterable[Article], size: int) -> Iterator[list[Article]]:
    batch: dict[str, Article] = {}
    chars = 0
    for article in articles:
        # A duplicate id inside one batch: the later record wins, like a later batch would.
        batch.pop(article.article_id, None)
        batch[article.article_id] = article
        chars += len(article.body)
        if len(batch) >= size or chars >= BATCH_MAX_CHARS:
            yield list(batch.values())
            batch, chars = {}, 0
    if batch:
        yield list(batch.values())


def ingest(
    stores: Stores,
    paths: Sequence[str | Path],
    *,
    field_map: Mapping[str, str] | None = None,
    batch_articles: int | None = None,
    commit_every: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_problem: Callable[[RecordProblem], None] | None = None,
) -> IngestReport:
    """Ingest every article under ``paths`` into ``stores``; see the module docstring.

    ``on_progress(articles, paragraphs)`` is called after each written batch. Raises
    :class:`IngestError` when a store fails after its retries; what was committed before stays.
    Skipped records are in ``report.problems`` (and passed to ``on_problem`` as they occur).
    """
    stats = ReadStats()
    articles = read_paths(paths, field_map=field_map, stats=stats, on_problem=on_problem)
    report = ingest_articles(
        stores,
        articles,
        batch_articles=batch_articles,
        commit_every=commit_every,
        on_progress=on_progress,
    )
    report.files, report.records = stats.files, stats.records
    report.skipped, report.problems = stats.skipped, list(stats.problems)
    return report


def ingest_articles(
    stores: Stores,
    articles: Iterable[Article],
    *,
    batch_articles: int | None = None,
    commit_every: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest ``articles`` (already read) into ``stores`` with the commit protocol above."""
    batch_articles = batch_articles or stores.settings.ingest_batch
    commit_every = commit_every or stores.settings.commit_every
    started = time.monotonic()
    report = IngestReport()
    report.repaired = repair(stores)
    computed_before = _computed(stores)
    count_tokens = stores.embedder.count_tokens
    max_tokens = stores.settings.max_chunk_tokens
    # None marks the end of a queue.
    to_embed: queue.Queue[Batch | None] = queue.Queue(maxsize=4)
    to_write: queue.Queue[tuple[Batch, list[Vectors]] | None] = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def produce() -> None:
        # Ids already queued in this run: a later record with the same id (syndicated or
        # re-gathered copies) must be written after the earlier one even if the catalog's
        # committed hash matches it, because the earlier one may still be queued, unwritten.
        queued: set[str] = set()
        try:
            for group in _batches(articles, batch_articles):
                known = stores.catalog.committed_hashes([a.article_id for a in group])
                fresh = [
                    a
                    for a in group
                    if a.article_id in queued or known.get(a.article_id) != a.content_hash()
                ]
                queued.update(a.article_id for a in fresh)
                report.unchanged += len(group) - len(fresh)
                report.articles += len(group)
                if fresh:
                    to_embed.put(
                        [(*prepare(a, count_tokens, max_tokens), a.content_hash()) for a in fresh]
                    )
        except BaseException as exc:  # surfaced in the writer thread
            failure.append(exc)
        finally:
            to_embed.put(None)

    def embed() -> None:
        try:
            while (batch := to_embed.get()) is not None:
                texts = [p.text for _, paras, _ in batch for p in paras]
                to_write.put((batch, [s.embedder.embed_passages(texts) for s in spaces]))
        except BaseException as exc:
            failure.append(exc)
            while to_embed.get() is not None:  # drain so the producer can finish
                pass
        finally:
            to_write.put(None)

    spaces = stores.spaces
    threads = [
        threading.Thread(target=produce, daemon=True),
        threading.Thread(target=embed, daemon=True),
    ]
    for t in threads:
        t.start()
    pending: list[str] = []
    since_commit = 0
    try:
        while (item := to_write.get()) is not None:
            batch, vectors = item
            _write(stores, batch, vectors)
            pending.extend(a.article_id for a, _, _ in batch)
            n = sum(len(p) for _, p, _ in batch)
            report.written += len(batch)
            report.paragraphs += n
            since_commit += n
            if since_commit >= commit_every:
                _commit(stores, pending)
                pending, since_commit = [], 0
            if on_progress:
                on_progress(report.articles, report.paragraphs)
        if failure:
            raise failure[0]
        _commit(stores, pending)
    except BackendUnavailable as exc:
        raise IngestError(f"a store became unavailable, ingest stopped: {exc}") from exc
    finally:
        for t in threads:
            t.join(timeout=1)
    report.embedded = _computed(stores) - computed_before
    report.seconds = time.monotonic() - started
    return report


def article_documents(paragraphs: Iterable[Paragraph]) -> list[Paragraph]:
    """One document per article of ``paragraphs`` (in their order): the title and every
    paragraph's text, with the article's fields, id ``{article_id}:0`` (the article-level
    BM25 store, ``Stores.articles``)."""
    by_article: dict[str, list[Paragraph]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article_id, []).append(p)
    docs = []
    for article_id, parts in by_article.items():
        parts.sort(key=lambda p: p.position)
        first = parts[0]
        text = "\n".join(p.text for p in parts)
        docs.append(
            Paragraph(
                Paragraph.make_id(article_id, 0),
                article_id,
                0,
                text,
                0,
                len(text),
                title=first.title,
                source=first.source,
                language=first.language,
                section=first.section,
                authors=first.authors,
                published_at=first.published_at,
            )
        )
    return docs


def _computed(stores: Stores) -> int:
    """Texts really embedded so far, over every encoder of the index."""
    return sum(s.embedder.computed for s in stores.spaces)


def _write(stores: Stores, batch: Batch, vectors: list[Vectors]) -> None:
    """Stage ``batch`` in the catalog and write it to the lexical store and to every dense
    space (``vectors``: one array per space of :attr:`Stores.spaces`, rows per paragraph)."""
    shingle, num_perm = stores.story_params()
    signatures = {
        a.article_id: signature(
            a.title, (p.text for p in paras), shingle=shingle, num_perm=num_perm
        )
        for a, paras, _ in batch
    }
    old = stores.catalog.stage(batch, signatures)
    stores.lexical.delete_articles([a.article_id for a, _, _ in batch])
    gone = [v for ids in old.values() for v in ids]
    paragraphs = [p for _, paras, _ in batch for p in paras]
    stores.lexical.upsert(paragraphs)
    if stores.articles is not None:
        stores.articles.delete_articles([a.article_id for a, _, _ in batch])
        stores.articles.upsert(article_documents(paragraphs))
    ids = [vec_id(p.paragraph_id) for p in paragraphs]
    for space, rows in zip(stores.spaces, vectors, strict=True):
        space.vectors.remove(gone)
        space.vectors.add(ids, rows)


def _commit(stores: Stores, article_ids: list[str]) -> None:
    """Commit both stores, then flip ``article_ids`` to committed with their stories (one
    catalog transaction: a crash before it leaves them pending, with their old stories)."""
    stores.lexical.commit()
    if stores.articles is not None:
        stores.articles.commit()
    for space in stores.spaces:
        space.vectors.save()
    if article_ids:
        with stores.catalog.transaction():
            stories = stores.story_index().assign(stores.catalog, article_ids)
            stores.catalog.mark_committed(article_ids, _changed(stores, stories))


def delete(stores: Stores, article_ids: Sequence[str]) -> int:
    """Remove articles from the catalog and both stores; returns paragraphs removed. The
    stories they belonged to are recomputed in the same catalog transaction."""
    with stores.catalog.transaction():
        stories = stores.story_index().assign(stores.catalog, [], article_ids)
        removed = stores.catalog.delete_articles(article_ids, _changed(stores, stories))
    stores.lexical.delete_articles(article_ids)
    if stores.articles is not None:
        stores.articles.delete_articles(article_ids)
    for space in stores.spaces:
        space.vectors.remove(removed)
    _commit(stores, [])
    return len(removed)


def _changed(stores: Stores, stories: dict[str, str]) -> dict[str, str]:
    return changed_stories(stores.catalog.stories_of(list(stories)), stories)


def recluster(
    stores: Stores, *, on_progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Cluster every committed article into stories afresh (``newssearch stories``).

    Computes the signature of every committed article that lacks one (an index from before
    stories: from its stored paragraphs), rewrites the LSH buckets with the banding of the
    current ``story_threshold`` and writes every story that changed, in one transaction. Returns
    ``articles``, ``signed`` (signatures computed), ``stories`` and ``changed``.
    """
    catalog = stores.catalog
    shingle, num_perm = stores.story_params()
    ids = catalog.committed_article_ids()
    have = catalog.signatures(ids)
    missing = [a for a in ids if have.get(a) is None]
    signed = 0
    for i in range(0, len(missing), 500):
        chunk = missing[i : i + 500]
        texts: dict[str, list[str]] = {a: [] for a in chunk}
        titles: dict[str, str] = {}
        for p in catalog.paragraphs_of(chunk):
            texts[p.article_id].append(p.text)
            titles[p.article_id] = p.title
        catalog.set_signatures(
            {
                a: signature(titles.get(a, ""), texts[a], shingle=shingle, num_perm=num_perm)
                for a in chunk
            }
        )
        signed += len(chunk)
        if on_progress:
            on_progress(signed)
    with catalog.transaction():
        index = stores.story_index(rebuild=True)  # signatures just computed have no bucket
        stories = index.cluster_all(ids)
        changed = _changed(stores, stories)
        if changed:
            catalog.set_stories(changed)
    return {
        "articles": len(ids),
        "signed": signed,
        "stories": len(set(stories.values())),
        "changed": len(changed),
    }


@dataclass
class Divergence:
    """Differences between the catalog and the stores; empty lists mean they agree."""

    pending: list[str]
    missing_lexical: list[str]
    extra_lexical: list[str]
    missing_vectors: list[str]
    extra_vectors: list[int]
    #: Committed articles the article-level store lacks / articles it holds the catalog does
    #: not know (``Stores.articles``).
    missing_articles: list[str] = field(default_factory=list)
    extra_articles: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when catalog, lexical backend and FAISS hold exactly the same paragraphs."""
        return not (
            self.pending
            or self.missing_lexical
            or self.extra_lexical
            or self.missing_vectors
            or self.extra_vectors
            or self.missing_articles
            or self.extra_articles
        )

    def as_dict(self) -> dict[str, object]:
        """Counts plus up to 20 example ids per kind."""
        out: dict[str, object] = {"ok": self.ok}
        for key in (
            "pending",
            "missing_lexical",
            "extra_lexical",
            "missing_vectors",
            "extra_vectors",
            "missing_articles",
            "extra_articles",
        ):
            values = getattr(self, key)
            out[key] = {"count": len(values), "examples": [str(v) for v in values[:20]]}
        return out


def check(stores: Stores) -> Divergence:
    """Compare the catalog with both stores.

    ``missing_*``: committed paragraphs a store lacks; ``extra_*``: paragraphs a store holds that
    the catalog does not know at all; ``pending``: articles whose last write did not commit.
    """
    committed = dict(stores.catalog.iter_paragraph_ids())
    known = dict(stores.catalog.iter_paragraph_ids(include_pending=True))
    lexical = set(stores.lexical.paragraph_ids())
    stored = [space.vectors.ids() for space in stores.spaces]
    known_vecs = set(known.values())
    return Divergence(
        pending=stores.catalog.pending_articles(),
        missing_lexical=sorted(set(committed) - lexical),
        extra_lexical=sorted(lexical - set(known)),
        missing_vectors=sorted(
            p for p, v in committed.items() if any(v not in ids for ids in stored)
        ),
        extra_vectors=sorted(set[int]().union(*stored) - known_vecs),
        **_article_divergence(stores),
    )


def _article_divergence(stores: Stores) -> dict[str, list[str]]:
    if stores.articles is None:
        return {}
    held = {p.rpartition(":")[0] for p in stores.articles.paragraph_ids()}
    committed = set(stores.catalog.committed_article_ids())
    known = committed | set(stores.catalog.pending_articles())
    return {
        "missing_articles": sorted(committed - held),
        "extra_articles": sorted(held - known),
    }


def repair(stores: Stores) -> int:
    """Make every store hold exactly the catalog's paragraphs (and the article-level store its
    articles); returns paragraphs rewritten.

    Paragraphs a store holds but the catalog does not are deleted; pending articles and
    articles with a paragraph missing from a store are rewritten from the catalog (vectors come
    from the embedding cache, so nothing already embedded is embedded again).
    """
    div = check(stores)
    if div.ok:
        return 0
    stores.lexical.delete_paragraphs(div.extra_lexical)
    if stores.articles is not None:
        stores.articles.delete_articles(div.extra_articles)
    for space in stores.spaces:
        space.vectors.remove(div.extra_vectors)
    rewrite = set(div.pending)
    rewrite.update(p.rsplit(":", 1)[0] for p in (*div.missing_lexical, *div.missing_vectors))
    paragraphs = stores.catalog.paragraphs_of(sorted(rewrite))
    for i in range(0, len(paragraphs), 512):
        chunk = paragraphs[i : i + 512]
        ids = [vec_id(p.paragraph_id) for p in chunk]
        stores.lexical.upsert(chunk)
        for space in stores.spaces:
            space.vectors.add(ids, space.embedder.embed_passages([p.text for p in chunk]))
    if stores.articles is not None:
        # The article store is derived text only: rewritten without touching paragraphs (an
        # index from before it gets it here, at its next ingest or `newssearch repair`).
        whole = sorted(rewrite | set(div.missing_articles))
        for i in range(0, len(whole), 1000):
            chunk_ids = whole[i : i + 1000]
            stores.articles.delete_articles(chunk_ids)
            stores.articles.upsert(article_documents(stores.catalog.paragraphs_of(chunk_ids)))
    _commit(stores, sorted(rewrite))
    return len(paragraphs)


def rebuild_lexical(
    catalog: Catalog,
    lexical: LexicalBackend,
    batch_articles: int = 2000,
    articles: LexicalBackend | None = None,
) -> int:
    """Rewrite the lexical store (and the article-level one, when given) from the catalog;
    returns paragraphs written.

    For an analyser or schema change (e.g. an embedded index from before stop words and the
    ``vec_id`` column, which then answers through the slow path): the store is reset and every
    committed article's paragraphs are written again from the catalog's text. Vectors are not
    touched and nothing is embedded. Pending articles are left to :func:`repair`.
    """
    lexical.reset()
    if articles is not None:
        articles.reset()
    ids = catalog.committed_article_ids()
    written = 0
    for i in range(0, len(ids), batch_articles):
        paragraphs = catalog.paragraphs_of(ids[i : i + batch_articles])
        lexical.upsert(paragraphs)
        if articles is not None:
            articles.upsert(article_documents(paragraphs))
        written += len(paragraphs)
    lexical.commit()
    if articles is not None:
        articles.commit()
    return written


def write_problems(problems: Iterable[RecordProblem], path: Path) -> int:
    """Write problems as JSON lines (``path``, ``line``, ``reason``); returns how many."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for p in problems:
            fh.write(
                json.dumps({"path": p.path, "line": p.line, "reason": p.reason}, ensure_ascii=False)
                + "\n"
            )
            n += 1
    return n
