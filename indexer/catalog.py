"""The catalog: a SQLite record of every indexed article and paragraph.

It is the source of truth the two stores are checked against. Contracts:
- An article row carries ``content_hash`` and ``state``: ``pending`` while its paragraphs are
  being written to the stores, ``committed`` once both stores hold exactly its paragraphs.
  Ingest writes the catalog first (pending), then the stores, then flips to committed, so after
  a crash every article whose stores may disagree is still ``pending`` and is re-synced.
- Paragraph rows keep the text, offsets and the FAISS id (``vec_id``), a stable signed 63-bit
  hash of the paragraph id, so both stores agree on identity across runs.
- ``vec_id -> paragraph_id`` is immutable (a hash), so :meth:`Catalog.load_id_map` can hold it
  in memory for a serving process without ever going stale; ids it lacks come from SQLite.
- Dense-side filters are answered here (:meth:`Catalog.vec_ids_matching`), so FAISS and the
  lexical backend apply the same :class:`~indexer.models.Filters` semantics.
- The **generation** (:meth:`Catalog.generation`) is a counter bumped in the same transaction
  as every change of what is committed (:meth:`mark_committed`, :meth:`delete_articles`), so
  a reader that saw generation ``g`` twice saw the same committed content both times; result
  set cursors pin it.
- **Migrations** (:data:`MIGRATIONS`): the schema's version is SQLite's ``user_version``; opening
  an older catalog applies the missing steps in order, each in one transaction, never a
  rebuild. Version 1 adds each article's ``story`` (near-duplicate cluster id, see
  :mod:`indexer.dedup`) and ``minhash`` (its stored signature); articles of an index from
  before it have neither until ``newssearch stories`` clusters them. Version 2 adds
  ``story_buckets``, the LSH buckets of every committed signature (below), filled from the
  stored signatures by the migration (in batches, in its one transaction).
- ``story_buckets`` holds one row per ``(band, key, num)`` (:class:`indexer.dedup.Banding`;
  ``num`` is the article's number in ``story_ids``, so the rows do not repeat a url-long
  article id) for each **committed** article with a signature, with the banding recorded in
  ``meta.story_minhash`` (:class:`indexer.dedup.StoryParams`). :meth:`stage` and
  :meth:`delete_articles` remove an article's rows in their transaction; a commit's
  clustering (:meth:`put_buckets`, inside :meth:`transaction`) writes them.
- Stories change only in the transaction of a commit or delete (:meth:`mark_committed`,
  :meth:`delete_articles`, :meth:`set_stories`), each of which bumps the generation.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.dedup import DEFAULT_THRESHOLD, Banding, Bucket, StoryParams, decode
from indexer.models import Article, Filters, Paragraph

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'committed')),
    title TEXT NOT NULL,
    source TEXT,
    url TEXT,
    published_at TEXT,
    language TEXT,
    section TEXT,
    authors TEXT NOT NULL,
    extra TEXT NOT NULL,
    body_chars INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_state ON articles(state);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE TABLE IF NOT EXISTS paragraphs (
    paragraph_id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(article_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    vec_id INTEGER NOT NULL UNIQUE,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS paragraphs_article ON paragraphs(article_id);
-- Covering index: vec_id -> paragraph_id without touching the (text-heavy) table rows.
CREATE INDEX IF NOT EXISTS paragraphs_vec ON paragraphs(vec_id, paragraph_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_BUCKETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS story_ids (
    num INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS story_buckets (
    band INTEGER NOT NULL,
    key INTEGER NOT NULL,
    num INTEGER NOT NULL,
    PRIMARY KEY (band, key, num)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS story_buckets_num ON story_buckets(num);
"""
_BUCKET_BATCH = 5000


def _fill_buckets(db: sqlite3.Connection, banding: Banding) -> int:
    """Insert the buckets of every committed signature of ``banding.num_perm`` values, in
    batches of articles (call inside a transaction); returns the articles indexed."""
    last, indexed = "", 0
    while True:
        rows = db.execute(
            "SELECT article_id, minhash FROM articles WHERE state = 'committed' "
            "AND minhash IS NOT NULL AND article_id > ? ORDER BY article_id LIMIT ?",
            (last, _BUCKET_BATCH),
        ).fetchall()
        if not rows:
            return indexed
        for article_id, blob in rows:
            buckets = banding.buckets(decode(bytes(blob)))
            indexed += bool(buckets)
            _insert_buckets(db, article_id, buckets)
        last = rows[-1][0]


def _remove_buckets(db: sqlite3.Connection, article_id: str) -> None:
    """Delete the LSH buckets of ``article_id`` and its number (call inside a transaction)."""
    row = db.execute("SELECT num FROM story_ids WHERE article_id = ?", (article_id,)).fetchone()
    if row is not None:
        db.execute("DELETE FROM story_buckets WHERE num = ?", (row[0],))
        db.execute("DELETE FROM story_ids WHERE num = ?", (row[0],))


def _insert_buckets(db: sqlite3.Connection, article_id: str, buckets: Sequence[Bucket]) -> None:
    """Give ``article_id`` (which has none) a number and its ``buckets`` (inside a
    transaction; nothing for no bucket)."""
    if not buckets:
        return
    cursor = db.execute("INSERT INTO story_ids (article_id) VALUES (?)", (article_id,))
    num = cursor.lastrowid
    db.executemany(
        "INSERT OR IGNORE INTO story_buckets VALUES (?, ?, ?)",
        [(band, key, num) for band, key in buckets],
    )


def _migrate_story_buckets(db: sqlite3.Connection) -> None:
    """Version 2: the ``story_buckets`` table, filled from the stored signatures with the
    banding for the default threshold (a writer with another one re-bands at its first
    write); the banding is recorded in ``meta.story_minhash``."""
    for statement in _BUCKETS_SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("DELETE FROM story_buckets")
    db.execute("DELETE FROM story_ids")
    row = db.execute("SELECT value FROM meta WHERE key = 'story_minhash'").fetchone()
    if row is None:
        return  # never clustered: no signature to index
    params = StoryParams.parse(str(row[0])).banded(DEFAULT_THRESHOLD)
    assert params.banding is not None
    _fill_buckets(db, params.banding)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('story_minhash', ?)", (params.dump(),))


#: Schema steps after :data:`SCHEMA` (version 0): entry ``i`` takes version ``i`` to ``i + 1``
#: (SQL statements, or a function run in the step's transaction).
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    """
    ALTER TABLE articles ADD COLUMN story TEXT;
    ALTER TABLE articles ADD COLUMN minhash BLOB;
    CREATE INDEX IF NOT EXISTS articles_story ON articles(story);
    """,
    _migrate_story_buckets,
)
SCHEMA_VERSION = len(MIGRATIONS)
_ARTICLE_COLUMNS = (
    "article_id, content_hash, state, title, source, url, published_at, language, section, "
    "authors, extra, body_chars, minhash"
)


def vec_id(paragraph_id: str) -> int:
    """Stable FAISS id of a paragraph: the first 63 bits of its blake2b hash (never negative)."""
    digest = hashlib.blake2b(paragraph_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Catalog:
    """SQLite catalog at ``path`` (created if missing). Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        # 32 MB of page cache (default 2 MB): the LSH buckets' inserts land at random keys.
        self._db.execute("PRAGMA cache_size=-32768")
        self._tx_depth = 0
        self._db.executescript(SCHEMA)
        self._migrate()
        #: Set by :meth:`load_id_map`: sorted vec_ids, their paragraph ids, and ids learnt since.
        self._id_map: tuple[npt.NDArray[np.int64], npt.NDArray[np.object_], dict[int, str]] | None
        self._id_map = None

    def _migrate(self) -> None:
        """Apply the missing :data:`MIGRATIONS` (module docstring)."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"catalog {self.path} has schema version {version}, newer than this release's "
                f"{SCHEMA_VERSION}; upgrade newssearch"
            )
        for step in range(version, SCHEMA_VERSION):
            with self._tx():
                migration = MIGRATIONS[step]
                if callable(migration):
                    migration(self._db)
                else:
                    for statement in migration.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {step + 1}")

    def schema_version(self) -> int:
        """The catalog's schema version (``PRAGMA user_version``)."""
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- meta ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored setting (e.g. the embedding model an index was built with), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def replace_meta(self, values: Mapping[str, str | None]) -> None:
        """Set (or, for ``None``, delete) several settings in one transaction that also bumps
        the generation: a reader sees all of them changed or none (an encoder switch)."""
        with self._lock, self._tx():
            for key, value in values.items():
                if value is None:
                    self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            self._bump_generation()

    def generation(self) -> int:
        """The index generation: bumped by every commit or delete (0 for a new index)."""
        value = self.get_meta("generation")
        return int(value) if value else 0

    def _bump_generation(self) -> None:
        """Increment the generation (call inside the write transaction that changes content)."""
        self._db.execute(
            "INSERT INTO meta VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- writes -------------------------------------------------------------------------------
    def committed_hashes(self, article_ids: Sequence[str]) -> dict[str, str]:
        """``content_hash`` of the given articles that are committed."""
        out: dict[str, str] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id, content_hash FROM articles "
                    f"WHERE state = 'committed' AND article_id IN ({marks})",
                    chunk,
                )
                out.update({r[0]: r[1] for r in rows})
        return out

    def stage(
        self,
        items: Sequence[tuple[Article, Sequence[Paragraph], str]],
        signatures: Mapping[str, bytes | None] | None = None,
    ) -> dict[str, list[int]]:
        """Record ``(article, paragraphs, content_hash)`` items as pending, replacing older
        versions (and their LSH buckets: a pending article is in none), in one transaction.
        ``content_hash`` is what :meth:`committed_hashes` will
        return for the article (the hash of the record as read, see ``indexer.pipeline``);
        ``signatures`` its near-duplicate signature (:mod:`indexer.dedup`). An article's
        ``story`` is kept until its commit assigns the new one.

        Returns, per article id, the ``vec_id`` of paragraphs it had before (to be removed
        from the stores).
        """
        old: dict[str, list[int]] = {}
        with self._lock, self._tx():
            for article, paragraphs, content_hash in items:
                rows = self._db.execute(
                    "SELECT vec_id FROM paragraphs WHERE article_id = ?", (article.article_id,)
                )
                old[article.article_id] = [int(r[0]) for r in rows]
                self._db.execute(
                    "DELETE FROM paragraphs WHERE article_id = ?", (article.article_id,)
                )
                _remove_buckets(self._db, article.article_id)
                self._db.execute(
                    f"INSERT INTO articles ({_ARTICLE_COLUMNS}) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(article_id) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in _ARTICLE_COLUMNS.split(", ")[1:]),
                    (
                        article.article_id,
                        content_hash,
                        "pending",
                        article.title,
                        article.source,
                        article.url,
                        _iso(article.published_at),
                        article.language,
                        article.section,
                        json.dumps(list(article.authors), ensure_ascii=False),
                        json.dumps(article.extra, ensure_ascii=False, default=str),
                        len(article.body),
                        (signatures or {}).get(article.article_id),
                    ),
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO paragraphs VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (
                            p.paragraph_id,
                            p.article_id,
                            p.position,
                            vec_id(p.paragraph_id),
                            p.text,
                            p.start,
                            p.end,
                            p.text_hash(),
                        )
                        for p in paragraphs
                    ],
                )
        return old

    def mark_committed(
        self, article_ids: Iterable[str], stories: Mapping[str, str] | None = None
    ) -> None:
        """Flip the given articles to ``committed`` (both stores now hold their paragraphs),
        write ``stories`` (article id -> story id) and bump the generation, in one
        transaction."""
        with self._lock, self._tx():
            self._db.executemany(
                "UPDATE articles SET state = 'committed' WHERE article_id = ?",
                [(a,) for a in article_ids],
            )
            self._write_stories(stories or {})
            self._bump_generation()

    def set_stories(self, stories: Mapping[str, str]) -> None:
        """Write ``stories`` (article id -> story id) and bump the generation."""
        with self._lock, self._tx():
            self._write_stories(stories)
            self._bump_generation()

    def set_signatures(self, signatures: Mapping[str, bytes | None]) -> None:
        """Store near-duplicate signatures (reclustering an index from before them)."""
        with self._lock, self._tx():
            self._db.executemany(
                "UPDATE articles SET minhash = ? WHERE article_id = ?",
                [(blob, a) for a, blob in signatures.items()],
            )

    def _write_stories(self, stories: Mapping[str, str]) -> None:
        self._db.executemany(
            "UPDATE articles SET story = ? WHERE article_id = ?",
            [(s, a) for a, s in stories.items()],
        )

    def delete_articles(
        self, article_ids: Iterable[str], stories: Mapping[str, str] | None = None
    ) -> list[int]:
        """Remove articles, their paragraphs and LSH buckets and write ``stories`` (the
        remaining members' new story ids), bumping the generation, in one transaction;
        returns the removed paragraphs' vec_ids."""
        removed: list[int] = []
        with self._lock, self._tx():
            self._bump_generation()
            self._write_stories(stories or {})
            for aid in article_ids:
                rows = self._db.execute(
                    "SELECT vec_id FROM paragraphs WHERE article_id = ?", (aid,)
                )
                removed.extend(int(r[0]) for r in rows)
                self._db.execute("DELETE FROM paragraphs WHERE article_id = ?", (aid,))
                _remove_buckets(self._db, aid)
                self._db.execute("DELETE FROM articles WHERE article_id = ?", (aid,))
        return removed

    # -- stories ------------------------------------------------------------------------------
    def signatures(self, article_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Stored signatures of the given articles (any state); unknown ids are absent."""
        return self._column_by_id("minhash", article_ids)

    def put_buckets(self, article_id: str, buckets: Sequence[Bucket]) -> None:
        """Make ``buckets`` the LSH buckets of ``article_id`` (none: it leaves the index), in
        the current transaction (:meth:`transaction`) or one of its own."""
        with self._lock, self._tx():
            _remove_buckets(self._db, article_id)
            _insert_buckets(self._db, article_id, buckets)

    def bucket_candidates(self, buckets: Sequence[Bucket]) -> set[str]:
        """The distinct articles sharing at least one of ``buckets`` (one indexed lookup of
        ``(band, key)`` per bucket)."""
        out: set[str] = set()
        with self._lock:
            for chunk in _chunks(list(buckets), 200):
                nums = " UNION ".join(
                    ["SELECT num FROM story_buckets WHERE band = ? AND key = ?"] * len(chunk)
                )
                sql = f"SELECT article_id FROM story_ids WHERE num IN ({nums})"
                rows = self._db.execute(sql, [v for bucket in chunk for v in bucket])
                out.update(str(r[0]) for r in rows)
        return out

    def rebuild_buckets(self, params: StoryParams) -> int:
        """Replace every LSH bucket with those of ``params.banding`` (another threshold than
        the recorded one) and record ``params``, in one transaction; returns the articles
        indexed."""
        if params.banding is None:
            raise ValueError("rebuild_buckets needs a banding")
        with self._lock, self._tx():
            self._db.execute("DELETE FROM story_buckets")
            self._db.execute("DELETE FROM story_ids")
            indexed = _fill_buckets(self._db, params.banding)
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('story_minhash', ?)", (params.dump(),)
            )
        return indexed

    def bucket_rows(self) -> int:
        """Rows of ``story_buckets`` (tests, benchmarks)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM story_buckets").fetchone()[0])

    def _column_by_id(self, column: str, article_ids: Sequence[str]) -> dict[str, Any]:
        """``column`` (a name from this module, never user input) of the given articles."""
        out: dict[str, Any] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id, {column} FROM articles WHERE article_id IN ({marks})",
                    chunk,
                )
                out.update({r[0]: r[1] for r in rows})
        return out

    def clustered_signatures(self) -> Iterator[tuple[str, bytes]]:
        """``(article_id, signature)`` of every committed article that has one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT article_id, minhash FROM articles "
                "WHERE state = 'committed' AND minhash IS NOT NULL"
            ).fetchall()
        for article_id, blob in rows:
            yield str(article_id), bytes(blob)

    def stories_of(self, article_ids: Sequence[str]) -> dict[str, str | None]:
        """The story id of each given article (None before clustering)."""
        return self._column_by_id("story", article_ids)

    def story_members(self, article_ids: Sequence[str]) -> list[str]:
        """Every article sharing a story with one of ``article_ids`` (them included, when
        they exist), in id order."""
        stories = sorted({s for s in self.stories_of(article_ids).values() if s is not None})
        found = set(self.stories_of(article_ids))
        with self._lock:
            for chunk in _chunks(stories, 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT article_id FROM articles WHERE story IN ({marks})", chunk
                )
                found.update(r[0] for r in rows)
        return sorted(found)

    def story_counts(self) -> dict[str, int]:
        """Committed articles with and without a story (``clustered``, ``unclustered``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(story), COUNT(*) - COUNT(story) FROM articles "
                "WHERE state = 'committed'"
            ).fetchone()
        return {"clustered": int(row[0]), "unclustered": int(row[1])}

    # -- reads --------------------------------------------------------------------------------
    def pending_articles(self) -> list[str]:
        """Ids of articles whose store writes may be incomplete."""
        with self._lock:
            rows = self._db.execute("SELECT article_id FROM articles WHERE state = 'pending'")
            return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        """Numbers of articles (by state) and paragraphs."""
        with self._lock:
            arts = dict(self._db.execute("SELECT state, COUNT(*) FROM articles GROUP BY state"))
            paras = self._db.execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0]
        return {
            "articles": sum(arts.values()),
            "pending": int(arts.get("pending", 0)),
            "paragraphs": int(paras),
        }

    def paragraphs_of(self, article_ids: Sequence[str]) -> list[Paragraph]:
        """Paragraphs (with denormalised article fields) of the given articles, in order."""
        sql = _PARA_SELECT + " WHERE p.article_id IN ({}) ORDER BY p.article_id, p.position"
        return self._select_paragraphs(sql, list(article_ids))

    def paragraphs(self, paragraph_ids: Sequence[str]) -> dict[str, Paragraph]:
        """Paragraphs by id; unknown ids are absent."""
        rows = self._select_paragraphs(
            _PARA_SELECT + " WHERE p.paragraph_id IN ({})", list(paragraph_ids)
        )
        return {p.paragraph_id: p for p in rows}

    def paragraph_ids_for_vec_ids(self, ids: Sequence[int]) -> dict[int, str]:
        """Map FAISS ids back to paragraph ids (ids not in the catalog are absent)."""
        out: dict[int, str] = {}
        rest = list(ids)
        extra: dict[int, str] | None = None
        if self._id_map is not None:
            keys, names, extra = self._id_map
            if len(keys) and rest:
                # Sorted, the binary searches share their first steps (cache lines): ~1/3
                # cheaper over a million keys.
                wanted = np.sort(np.asarray(rest, dtype=np.int64))
                pos = np.searchsorted(keys, wanted).clip(0, len(keys) - 1)
                found = keys[pos] == wanted
                out = dict(zip(wanted[found].tolist(), names[pos[found]].tolist(), strict=True))
                rest = wanted[~found].tolist()
            out.update({i: extra[i] for i in rest if i in extra})
            rest = [i for i in rest if i not in extra]
        with self._lock:
            for chunk in _chunks(rest, 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT vec_id, paragraph_id FROM paragraphs WHERE vec_id IN ({marks})", chunk
                )
                got = {int(r[0]): str(r[1]) for r in rows}
                out.update(got)
                if extra is not None:
                    extra.update(got)
        return out

    def load_id_map(self) -> int:
        """Hold every ``vec_id -> paragraph_id`` in memory (for serving); returns its size.

        Sorted numpy arrays (about 80 bytes a paragraph), looked up by binary search. Never
        stale: the mapping is a hash, so paragraphs committed later are read from SQLite on
        first sight and remembered, and a deleted paragraph's entry is never asked for again.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT vec_id, paragraph_id FROM paragraphs ORDER BY vec_id"
            ).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        names = np.empty(len(rows), dtype=object)
        names[:] = [r[1] for r in rows]
        self._id_map = (keys, names, {})
        return len(rows)

    def articles(self, article_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Article metadata rows (no body) by id."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for chunk in _chunks(list(article_ids), 500):
                marks = ",".join("?" * len(chunk))
                cur = self._db.execute(
                    "SELECT article_id, title, source, url, published_at, language, section, "
                    f"authors, extra, story FROM articles WHERE article_id IN ({marks})",
                    chunk,
                )
                for r in cur:
                    out[r[0]] = {
                        "article_id": r[0],
                        "title": r[1],
                        "source": r[2],
                        "url": r[3],
                        "published_at": _dt(r[4]),
                        "language": r[5],
                        "section": r[6],
                        "authors": json.loads(r[7]),
                        "extra": json.loads(r[8]),
                        "story": r[9],
                    }
        return out

    def snapshot_rows(
        self,
    ) -> tuple[int, list[tuple[Any, ...]], list[tuple[int, str]]]:
        """One consistent read of what search needs in memory (see
        ``search_api.search.table``): ``(generation, articles, paragraphs)`` where articles are
        ``(article_id, source, language, section, authors_json, published_at_iso, story)`` of every
        committed article and paragraphs ``(vec_id, article_id)`` of their paragraphs."""
        with self._lock:
            # A deferred transaction: one WAL read snapshot for the three reads, no write lock.
            self._db.execute("BEGIN")
            try:
                gen, arts, paras = self._snapshot_reads()
            finally:
                self._db.execute("COMMIT")
        return (int(gen[0]) if gen else 0), arts, paras

    def _snapshot_reads(self) -> tuple[Any, list[tuple[Any, ...]], list[tuple[int, str]]]:
        gen = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        arts = self._db.execute(
            "SELECT article_id, source, language, section, authors, published_at, story "
            "FROM articles WHERE state = 'committed' ORDER BY article_id"
        ).fetchall()
        paras = self._db.execute(
            "SELECT p.vec_id, p.article_id FROM paragraphs p JOIN articles a "
            "USING (article_id) WHERE a.state = 'committed'"
        ).fetchall()
        return gen, arts, paras

    def committed_article_ids(self) -> list[str]:
        """Ids of every committed article."""
        with self._lock:
            rows = self._db.execute("SELECT article_id FROM articles WHERE state = 'committed'")
            return [r[0] for r in rows]

    def iter_paragraph_ids(self, *, include_pending: bool = False) -> Iterator[tuple[str, int]]:
        """Every ``(paragraph_id, vec_id)`` of committed (or, optionally, all) articles."""
        where = "" if include_pending else " WHERE a.state = 'committed'"
        with self._lock:
            rows = self._db.execute(
                "SELECT p.paragraph_id, p.vec_id FROM paragraphs p "
                "JOIN articles a USING (article_id)" + where
            ).fetchall()
        for pid, vid in rows:
            yield pid, int(vid)

    def vec_ids_matching(self, filters: Filters) -> list[int]:
        """FAISS ids of committed paragraphs whose article passes ``filters``."""
        where: list[str] = ["a.state = 'committed'"]
        args: list[str] = []
        for column, values in (
            ("a.source", filters.sources),
            ("a.language", filters.languages),
            ("a.section", filters.sections),
            ("a.article_id", filters.article_ids),
        ):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
        if filters.authors:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(a.authors) j WHERE j.value IN "
                f"({','.join('?' * len(filters.authors))}))"
            )
            args.extend(filters.authors)
        if filters.date_from:
            where.append("a.published_at >= ?")
            args.append(_iso(filters.date_from) or "")
        if filters.date_to:
            where.append("a.published_at <= ?")
            args.append(_iso(filters.date_to) or "")
        sql = (
            "SELECT p.vec_id FROM paragraphs p JOIN articles a USING (article_id) WHERE "
            + " AND ".join(where)
        )
        with self._lock:
            return [int(r[0]) for r in self._db.execute(sql, args)]

    def close(self) -> None:
        """Close the database. Idempotent."""
        with self._lock:
            self._db.close()

    # -- helpers ------------------------------------------------------------------------------
    def _select_paragraphs(self, sql: str, ids: list[str]) -> list[Paragraph]:
        out: list[Paragraph] = []
        with self._lock:
            for chunk in _chunks(ids, 500):
                rows = self._db.execute(sql.format(",".join("?" * len(chunk))), chunk)
                out.extend(_paragraph(r) for r in rows)
        return out

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    def transaction(self) -> _Transaction:
        """A write transaction (``BEGIN IMMEDIATE``: other writers wait) holding this
        catalog's lock; the writes of this catalog inside it join it instead of committing
        on their own, and it commits at the end or rolls everything back on an exception.
        A commit's clustering runs in one, so what it reads cannot change before it writes."""
        return _Transaction(self)


_PARA_SELECT = (
    "SELECT p.paragraph_id, p.article_id, p.position, p.text, p.start, p.end, a.title, "
    "a.source, a.language, a.section, a.authors, a.published_at "
    "FROM paragraphs p JOIN articles a USING (article_id)"
)


def _paragraph(r: tuple[Any, ...]) -> Paragraph:
    return Paragraph(
        paragraph_id=r[0],
        article_id=r[1],
        position=r[2],
        text=r[3],
        start=r[4],
        end=r[5],
        title=r[6],
        source=r[7],
        language=r[8],
        section=r[9],
        authors=tuple(json.loads(r[10])),
        published_at=_dt(r[11]),
    )


class _Transaction:
    """Reentrant: only the outermost one begins and ends the SQLite transaction."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def __enter__(self) -> None:
        self.catalog._lock.acquire()
        try:
            if self.catalog._tx_depth == 0:
                self.catalog._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.catalog._lock.release()
            raise
        self.catalog._tx_depth += 1

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.catalog._tx_depth -= 1
            if self.catalog._tx_depth == 0:
                self.catalog._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.catalog._lock.release()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
