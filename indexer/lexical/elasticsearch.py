"""Elasticsearch lexical backend: the production BM25 store for teams and large corpora.

Layout (same as the embedded backend): one document per paragraph, ``_id`` = ``paragraph_id``.
Text is analysed here, not by Elasticsearch: :mod:`indexer.lexical.analysis` (tantivy's
analysers, the embedded backend's own) turns the paragraph text and the article title into
tokens, which go into ``text_<lang>`` and ``title_<lang>``, where ``<lang>`` is
:func:`~indexer.lexical.base.analyzer_language` of the paragraph (``de``, ``en``, ``ru`` or
``std``), as one string: the tokens at their positions, :data:`GAP` where a position holds none
(a dropped long token), separated by spaces (:func:`~indexer.lexical.analysis.token_stream`).
Their one analyzer, ``newssearch_tokens`` (:func:`analysis`), splits on spaces and drops
``GAP`` keeping its position, so Elasticsearch indexes exactly the embedded backend's tokens at
its positions: a word or phrase matches the same paragraphs on both, whatever stemmer release
Lucene ships (Elasticsearch 8.14's Snowball is older than tantivy's; docs/elasticsearch.md).
The original text and title are kept, not indexed, in ``text`` and ``title``; ``_source``
leaves the token fields out. The token fields use an explicit BM25 similarity (k1=1.2,
b=0.75). Filter fields are ``keyword``s, the date is a ``date``, ``vec_id`` (the paragraph's
FAISS id) a ``long`` with doc values. The mapping is ``dynamic: strict`` and carries
``SCHEMA_VERSION`` in ``_meta``.

Contracts beyond :class:`~indexer.lexical.base.LexicalBackend`:

- Connection: the client is created on first use; each request times out after
  ``request_timeout`` seconds. Connection failures, timeouts, 5xx/429 answers after the client's
  retries and authentication failures raise :class:`~indexer.errors.BackendUnavailable`.
  Reads retry once, writes ``max_retries`` times (with the transport's backoff); bulk items
  rejected with 429 are retried by ``elasticsearch.helpers`` with exponential backoff.
- The index is created with the mapping on the first operation when it is missing; an existing
  index without NewsSearch's schema marker is refused (``BackendUnavailable``), never written.
  One with another NewsSearch schema version is outdated: searches, highlights,
  ``matching_vec_ids`` and ``upsert`` raise :class:`~indexer.lexical.base.LexicalIndexOutdated`
  (run ``newssearch repair --lexical``); ``reset`` deletes and recreates any index.
- Writes: ``upsert``/``delete_paragraphs`` go through ``helpers.streaming_bulk`` without a
  refresh; ``commit`` refreshes the index (visibility; durability is per bulk via the
  translog). Item failures are sorted: version conflicts (409) are counted and logged (a
  concurrent writer won; the catalog repairs any drift), every other failure raises
  :class:`~indexer.errors.IngestError` with a summary after the whole batch was tried.
- ``delete_articles`` refreshes, collects the paragraph ids of those articles with a scan and
  deletes them in bulk (``_delete_by_query`` lives in the reindex module, which not every
  8.x node has, e.g. the project's dev node), so it also removes not-yet-committed paragraphs.
- Queries are Query DSL built from the :mod:`indexer.query` tree: a term or phrase is
  analysed here into its per-language clauses (:func:`~indexer.lexical.analysis.clauses`),
  each a ``term`` (one token) or a ``match_phrase`` of its token string over that language's
  field, OR-ed; ``bool``; ``terms``/``range`` filters. User text only ever reaches
  Elasticsearch as analysed tokens, never as ``query_string`` syntax.
- Highlights are computed here from the paragraph text (the caller's ``known`` paragraphs, else
  fetched), exactly as the embedded backend marks them.
- ``matching_vec_ids`` reads every match of each leaf from one point in time, in pages of
  ``MATCH_PAGE`` sorted by ``_shard_doc`` with ``search_after`` (``vec_id`` from doc values),
  all unfinished leaves of a round in one ``_msearch``: exact, with no 10,000 cap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from elastic_transport import TransportError
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    Elasticsearch,
    helpers,
)

from indexer.catalog import vec_id
from indexer.errors import BackendUnavailable, IngestError
from indexer.lexical.analysis import (
    ANALYZER_LANGS,
    Pattern,
    check_leaf,
    clauses,
    highlight_with_fetch,
    positions,
    token_stream,
)
from indexer.lexical.base import REBUILD_ADVICE, LexicalIndexOutdated, analyzer_language
from indexer.models import Filters, Hit, Paragraph
from indexer.query import Node, Phrase, Term

log = logging.getLogger(__name__)

#: The analyzer of every token field (:func:`analysis`).
ANALYZER = "newssearch_tokens"
#: 1: the built-in language analyzers (stop words dropped), no ``vec_id``; 2: stop words
#: indexed, ``vec_id`` (Elasticsearch's german/english/russian analyzers without stop words);
#: 3: the embedded backend's analysis rebuilt from Elasticsearch's token filters (Lucene's
#: Snowball stemmers); 4: the embedded backend's tokens, analysed by NewsSearch, indexed as
#: they are (the original text in ``text``/``title``).
SCHEMA_VERSION = 4
#: Stands for a position that holds no token in a token string (never a token: it is not
#: alphanumeric).
GAP = "_"
#: Hits per page when :meth:`ElasticsearchBackend.matching_vec_ids` lists every match (the
#: default ``index.max_result_window``).
MATCH_PAGE = 10_000
_MATCH_FILTER_PATH = ",".join(
    f"responses.{key}"
    for key in ("status", "error", "pit_id", "hits.hits.fields", "hits.hits.sort")
)
SIMILARITY = "newssearch_bm25"
_KEYWORDS = ("paragraph_id", "article_id", "source", "language", "section", "authors")
_FILTER_FIELDS = (
    ("source", "sources"),
    ("language", "languages"),
    ("section", "sections"),
    ("authors", "authors"),
    ("article_id", "article_ids"),
)
BULK_CHUNK = 500
_RETRY_STATUS = (429, 502, 503, 504)


def analysis() -> dict[str, Any]:
    """The ``index.analysis`` settings: the analyzer ``newssearch_tokens`` of every token
    field, which gives back the tokens of a :func:`~indexer.lexical.analysis.token_stream`:

    1. tokenizer ``newssearch_spaces``: ``pattern`` splitting on one space;
    2. filter ``newssearch_gaps``: ``stop`` with the one stop word :data:`GAP` (case
       sensitive), which drops it and leaves its position empty, as tantivy's ``remove_long``
       leaves a dropped token's.

    Nothing else: no lowercase, no stemmer, no length limit; the tokens arrive analysed. Both
    types are standard ones (``stop`` is the server's, ``pattern`` analysis-common's; the dev
    node registers the same, tools/es-runner).
    """
    return {
        "tokenizer": {"newssearch_spaces": {"type": "pattern", "pattern": " "}},
        "filter": {"newssearch_gaps": {"type": "stop", "stopwords": [GAP], "ignore_case": False}},
        "analyzer": {
            ANALYZER: {
                "type": "custom",
                "tokenizer": "newssearch_spaces",
                "filter": ["newssearch_gaps"],
            }
        },
    }


def index_body(shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Settings and explicit mapping of a NewsSearch paragraph index.

    One shard by default, so BM25 statistics are exact (identical to a single Lucene index) and
    rankings match the embedded backend; more shards scale writes at the cost of per-shard IDF.
    """
    text: dict[str, Any] = {
        "text": {"type": "text", "index": False},
        "title": {"type": "text", "index": False},
    }
    for lang in ANALYZER_LANGS:
        for prefix in ("text", "title"):
            text[f"{prefix}_{lang}"] = {
                "type": "text",
                "analyzer": ANALYZER,
                "similarity": SIMILARITY,
            }
    return {
        "settings": {
            "index": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "similarity": {SIMILARITY: {"type": "BM25", "k1": 1.2, "b": 0.75}},
                "analysis": analysis(),
            }
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"newssearch_schema": SCHEMA_VERSION},
            "_source": {"excludes": [f"{prefix}_*" for prefix in ("text", "title")]},
            "properties": {
                **{key: {"type": "keyword"} for key in _KEYWORDS},
                "published_at": {"type": "date", "format": "strict_date_optional_time"},
                "position": {"type": "integer"},
                "start": {"type": "integer"},
                "end": {"type": "integer"},
                "vec_id": {"type": "long"},
                **text,
            },
        },
    }


def leaf_query(leaf: Term | Phrase) -> dict[str, Any]:
    """Query DSL for one term or phrase: its per-language clauses
    (:func:`~indexer.lexical.analysis.clauses`), OR-ed; ``match_none`` when it analyses to
    nothing in every language."""
    per_field = [_clause(field, pattern) for field, pattern in clauses(leaf)]
    if not per_field:
        return {"match_none": {}}
    if len(per_field) == 1:
        return per_field[0]
    return {"bool": {"should": per_field, "minimum_should_match": 1}}


def _clause(field: str, pattern: Pattern) -> dict[str, Any]:
    """One token: a ``term`` query; several: a ``match_phrase`` of their token string, which
    the field's analyzer reads back at the same relative positions."""
    if len(pattern) == 1:
        return {"term": {field: pattern[0][1]}}
    return {"match_phrase": {field: token_stream(pattern, GAP)}}


def build_query(node: Node) -> dict[str, Any]:
    """Query DSL for a query tree.

    ``Term`` and ``Phrase`` -> :func:`leaf_query`: a paragraph matches a leaf exactly where the
    embedded backend's per-field clauses match it. ``Bool`` -> ``bool`` with
    ``minimum_should_match: 1`` when there is no ``must``. A ``Bool`` with no positive clause
    matches nothing.
    """
    if isinstance(node, Term | Phrase):
        return leaf_query(node)
    if not (node.must or node.should):
        return {"match_none": {}}
    clause: dict[str, Any] = {}
    for occur, parts in (("must", node.must), ("should", node.should), ("must_not", node.must_not)):
        if parts:
            clause[occur] = [build_query(p) for p in parts]
    if not node.must:
        clause["minimum_should_match"] = 1
    return {"bool": clause}


def build_filters(filters: Filters) -> list[dict[str, Any]]:
    """``bool.filter`` clauses (no effect on scores) for ``filters``."""
    out: list[dict[str, Any]] = []
    for field, attr in _FILTER_FIELDS:
        values: tuple[str, ...] = getattr(filters, attr)
        if values:
            out.append({"terms": {field: list(values)}})
    if filters.date_from or filters.date_to:
        bounds: dict[str, str] = {}
        if filters.date_from:
            bounds["gte"] = filters.date_from.astimezone(UTC).isoformat()
        if filters.date_to:
            bounds["lte"] = filters.date_to.astimezone(UTC).isoformat()
        out.append({"range": {"published_at": bounds}})
    return out


def build_search(query: Node, filters: Filters, limit: int) -> dict[str, Any]:
    """The complete ``_search`` body: query, filters, sort by score then ``paragraph_id``."""
    return {
        "query": {"bool": {"must": [build_query(query)], "filter": build_filters(filters)}},
        "size": limit,
        "sort": [{"_score": {"order": "desc"}}, {"paragraph_id": {"order": "asc"}}],
        "track_scores": True,
        "track_total_hits": False,
        "_source": False,
    }


def to_document(p: Paragraph) -> dict[str, Any]:
    """The document of a paragraph: text and title as they are, and as token strings under
    their analyser's fields (left out of ``_source``)."""
    lang = analyzer_language(p.language)
    return {
        "paragraph_id": p.paragraph_id,
        "article_id": p.article_id,
        "position": p.position,
        "start": p.start,
        "end": p.end,
        "vec_id": vec_id(p.paragraph_id),
        "source": p.source,
        "language": p.language,
        "section": p.section,
        "authors": list(p.authors),
        "published_at": p.published_at.astimezone(UTC).isoformat() if p.published_at else None,
        "text": p.text,
        "title": p.title,
        f"text_{lang}": token_stream(positions(p.text, lang), GAP),
        f"title_{lang}": token_stream(positions(p.title, lang), GAP),
    }


def from_document(src: Mapping[str, Any]) -> Paragraph:
    """Inverse of :func:`to_document` (from the ``_source`` it keeps). An index of schema 3 or
    older held the text under its analyser's field: read from there (what ``fetch`` of an
    outdated index needs)."""
    lang = next((x for x in ANALYZER_LANGS if f"text_{x}" in src), "std")
    text = src["text"] if "text" in src else src.get(f"text_{lang}")
    title = src["title"] if "title" in src else src.get(f"title_{lang}")
    published = src.get("published_at")
    return Paragraph(
        paragraph_id=src["paragraph_id"],
        article_id=src["article_id"],
        position=int(src["position"]),
        text=text or "",
        start=int(src["start"]),
        end=int(src["end"]),
        title=title or "",
        source=src.get("source"),
        language=src.get("language"),
        section=src.get("section"),
        authors=tuple(src.get("authors") or ()),
        published_at=datetime.fromisoformat(published) if published else None,
    )


class ElasticsearchBackend:
    """:class:`~indexer.lexical.base.LexicalBackend` on one Elasticsearch index.

    ``hosts`` are node URLs of one cluster, ``index`` the full index name (the caller adds any
    prefix). Authentication: ``api_key`` or ``basic_auth``; TLS: ``verify_certs``/``ca_certs``.
    Nothing connects until the first operation.
    """

    name = "elasticsearch"

    def __init__(
        self,
        hosts: list[str],
        index: str,
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        request_timeout: float = 10.0,
        max_retries: int = 3,
        shards: int = 1,
        replicas: int = 0,
    ) -> None:
        if not hosts:
            raise ValueError("at least one Elasticsearch host is required")
        self.hosts = list(hosts)
        self.index = index
        self._api_key = api_key
        self._basic_auth = basic_auth
        self._verify_certs = verify_certs
        self._ca_certs = ca_certs
        self._timeout = request_timeout
        self._max_retries = max_retries
        self._shards = shards
        self._replicas = replicas
        self._client: Elasticsearch | None = None
        self._ready = False
        self._lock = threading.Lock()
        #: Why the index must not answer (another schema version), or ``None``; set when the
        #: index is first checked.
        self.outdated: str | None = None
        self._match_page = MATCH_PAGE

    # -- connection -----------------------------------------------------------------------------
    def _es(self) -> Elasticsearch:
        """The client, created on first use, with the index created when missing."""
        client = self._connect()
        with self._lock:
            if not self._ready:
                with self._guard("prepare the index"):
                    self._ensure_index(client)
                self._ready = True
        return client

    def _connect(self) -> Elasticsearch:
        """The client, created on first use (the index is not checked)."""
        with self._lock:
            if self._client is None:
                kwargs: dict[str, Any] = {
                    "request_timeout": self._timeout,
                    "max_retries": self._max_retries,
                    "retry_on_timeout": True,
                    "retry_on_status": _RETRY_STATUS,
                    "verify_certs": self._verify_certs,
                }
                if self._api_key:
                    kwargs["api_key"] = self._api_key
                if self._basic_auth:
                    kwargs["basic_auth"] = self._basic_auth
                if self._ca_certs:
                    kwargs["ca_certs"] = self._ca_certs
                self._client = Elasticsearch(self.hosts, **kwargs)
            return self._client

    def _reader(self) -> Elasticsearch:
        """The client for reads: one retry only, so a dead node fails fast."""
        return self._es().options(max_retries=1)

    def _ensure_index(self, client: Elasticsearch) -> None:
        if not client.indices.exists(index=self.index):
            try:
                client.indices.create(index=self.index, **index_body(self._shards, self._replicas))
                log.info("created Elasticsearch index %s", self.index)
                return
            except ApiError as err:
                if err.error != "resource_already_exists_exception":
                    raise
        mapping = client.indices.get_mapping(index=self.index)
        self.outdated = None
        for name, body in mapping.body.items():
            version = body.get("mappings", {}).get("_meta", {}).get("newssearch_schema")
            if not isinstance(version, int):
                raise BackendUnavailable(
                    f"Elasticsearch index {name!r} exists but was not created by NewsSearch "
                    f"(schema {version!r}, expected {SCHEMA_VERSION}); "
                    "delete it or choose another index prefix"
                )
            if version != SCHEMA_VERSION:
                built = "an older NewsSearch" if version < SCHEMA_VERSION else "a newer one"
                self.outdated = (
                    f"Elasticsearch index {name!r} was built by {built} (schema {version}, "
                    f"this version needs {SCHEMA_VERSION}, which analyses text differently) and "
                    f"would answer wrongly; {REBUILD_ADVICE}"
                )

    def _current(self) -> Elasticsearch:
        """The client, after checking that the index is in the current schema version
        (else ``LexicalIndexOutdated``)."""
        client = self._es()
        if self.outdated is not None:
            raise LexicalIndexOutdated(self.outdated)
        return client

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn connection-level failures into ``BackendUnavailable`` with a clear message."""
        where = ", ".join(self.hosts)
        try:
            yield
        except (AuthenticationException, AuthorizationException) as err:
            raise BackendUnavailable(
                f"Elasticsearch at {where} refused the credentials while trying to {action}: "
                f"{err.message}"
            ) from err
        except ApiError as err:
            if err.status_code in _RETRY_STATUS:
                raise BackendUnavailable(
                    f"Elasticsearch at {where} is unavailable (HTTP {err.status_code}) while "
                    f"trying to {action}: {err.message}"
                ) from err
            raise
        except TransportError as err:
            raise BackendUnavailable(
                f"cannot reach Elasticsearch at {where} to {action}: {err.message}"
            ) from err

    # -- writes ---------------------------------------------------------------------------------
    def upsert(self, paragraphs: Sequence[Paragraph]) -> None:
        """Index (insert or replace) paragraphs by id; visible after :meth:`commit`."""
        self._current()
        self._bulk(
            (
                {
                    "_op_type": "index",
                    "_index": self.index,
                    "_id": p.paragraph_id,
                    "_source": to_document(p),
                }
                for p in paragraphs
            ),
            "index paragraphs",
        )

    def delete_paragraphs(self, paragraph_ids: Iterable[str]) -> None:
        """Delete paragraphs by id; unknown ids are ignored. Visible after :meth:`commit`."""
        self._bulk(
            ({"_op_type": "delete", "_index": self.index, "_id": pid} for pid in paragraph_ids),
            "delete paragraphs",
        )

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        """Delete every paragraph of ``article_ids`` (see the module docstring for how)."""
        wanted = sorted(set(article_ids))
        if not wanted:
            return
        es = self._es()
        with self._guard("delete articles"):
            es.indices.refresh(index=self.index)
            ids: list[str] = []
            for start in range(0, len(wanted), 1000):
                query = {"terms": {"article_id": wanted[start : start + 1000]}}
                ids.extend(
                    hit["_id"]
                    for hit in helpers.scan(
                        es, index=self.index, query={"query": query}, _source=False, size=1000
                    )
                )
        self.delete_paragraphs(ids)

    def _bulk(self, actions: Iterable[dict[str, Any]], action: str) -> None:
        es = self._es().options(request_timeout=max(self._timeout, 60.0))
        conflicts: list[str] = []
        failures: list[str] = []
        total = 0
        with self._guard(action):
            for ok, item in helpers.streaming_bulk(
                es,
                actions,
                chunk_size=BULK_CHUNK,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=self._max_retries,
                initial_backoff=1,
                max_backoff=30,
            ):
                total += 1
                if ok:
                    continue
                op, result = next(iter(item.items()))
                status = result.get("status")
                if op == "delete" and status == 404:
                    continue  # deleting an unknown id is a no-op by contract
                if status == 409:
                    conflicts.append(str(result.get("_id")))
                else:
                    error = result.get("error")
                    reason = error.get("reason", error) if isinstance(error, dict) else error
                    failures.append(f"{result.get('_id')}: HTTP {status}: {reason}")
        if conflicts:
            log.warning(
                "%s: %d version conflicts in %s (first: %s)",
                self.index,
                len(conflicts),
                action,
                ", ".join(conflicts[:5]),
            )
        if failures:
            raise IngestError(
                f"Elasticsearch rejected {len(failures)} of {total} operations to {action} in "
                f"index {self.index!r}; first errors: " + "; ".join(failures[:5])
            )

    def commit(self) -> None:
        """Refresh the index: every previous write becomes visible to searches and counts."""
        es = self._es()
        with self._guard("refresh the index"):
            es.options(request_timeout=max(self._timeout, 60.0)).indices.refresh(index=self.index)

    def refresh(self) -> None:
        """Nothing to reload: Elasticsearch readers always see the latest refresh."""

    # -- reads ----------------------------------------------------------------------------------
    def search(self, query: Node, filters: Filters, limit: int) -> list[Hit]:
        """BM25 top-``limit`` hits, best first (ties by ``paragraph_id``)."""
        self._current()
        if limit <= 0:
            return []
        es = self._reader()
        with self._guard("search"):
            resp = es.search(index=self.index, **build_search(query, filters, limit))
        hits = [Hit(str(h["_id"]), float(h["_score"])) for h in resp["hits"]["hits"]]
        hits.sort(key=lambda h: (-h.score, h.paragraph_id))
        return hits

    def fetch(self, paragraph_ids: Sequence[str]) -> dict[str, Paragraph]:
        """Stored paragraphs by id (real-time: also not-yet-committed writes)."""
        if not paragraph_ids:
            return {}
        es = self._reader()
        with self._guard("fetch paragraphs"):
            resp = es.mget(index=self.index, ids=list(dict.fromkeys(paragraph_ids)))
        return {
            str(doc["_id"]): from_document(doc["_source"])
            for doc in resp["docs"]
            if doc.get("found")
        }

    def highlight(
        self,
        query: Node,
        paragraph_ids: Sequence[str],
        known: Mapping[str, Paragraph] | None = None,
    ) -> dict[str, list[tuple[int, int]]]:
        """Spans of tokens that match a positive query term, per paragraph: marked here from
        the text as the embedded backend marks it (:mod:`indexer.lexical.analysis`), the
        paragraphs in ``known`` read from there, the others fetched."""
        self._current()
        return highlight_with_fetch(query, paragraph_ids, known, self.fetch)

    def matching_vec_ids(self, leaves: Sequence[Term | Phrase]) -> list[npt.NDArray[np.int64]]:
        """FAISS ids of every paragraph visible to searches that matches each leaf (no limit,
        no filters); see the module docstring for how they are paged."""
        for leaf in leaves:
            check_leaf(leaf)
        self._current()
        distinct = list(dict.fromkeys(leaves))
        if not distinct:
            return []
        es = self._reader()
        found: dict[Term | Phrase, list[int]] = {leaf: [] for leaf in distinct}
        with self._guard("list matching paragraphs"):
            pit = str(es.open_point_in_time(index=self.index, keep_alive="1m")["id"])
            try:
                pit = self._page_matches(es, pit, distinct, found)
            finally:
                es.options(ignore_status=404).close_point_in_time(id=pit)
        arrays = {leaf: np.array(ids, dtype=np.int64) for leaf, ids in found.items()}
        return [arrays[leaf] for leaf in leaves]

    def _page_matches(
        self,
        es: Elasticsearch,
        pit: str,
        leaves: list[Term | Phrase],
        found: dict[Term | Phrase, list[int]],
    ) -> str:
        """Fill ``found`` with every match of each leaf; returns the latest point-in-time id."""
        after: dict[Term | Phrase, list[Any] | None] = dict.fromkeys(leaves)
        while after:
            searches: list[dict[str, Any]] = []
            for leaf, cursor in after.items():
                body: dict[str, Any] = {
                    # Filter context: no scores to compute, cacheable.
                    "query": {"bool": {"filter": [build_query(leaf)]}},
                    "size": self._match_page,
                    "pit": {"id": pit, "keep_alive": "1m"},
                    "sort": [{"_shard_doc": "asc"}],
                    "_source": False,
                    "stored_fields": "_none_",
                    "docvalue_fields": ["vec_id"],
                    "track_total_hits": False,
                }
                if cursor is not None:
                    body["search_after"] = cursor
                searches.extend(({}, body))
            # Only the fields read (less JSON to build and parse). Every item keeps its
            # "status", so the responses stay aligned with the searches.
            resp = es.msearch(searches=searches, filter_path=_MATCH_FILTER_PATH)
            for leaf, item in zip(list(after), resp["responses"], strict=True):
                if "error" in item or item.get("status", 200) != 200:
                    error = item.get("error", "no reason given")
                    reason = error.get("reason", error) if isinstance(error, dict) else error
                    raise BackendUnavailable(
                        f"Elasticsearch failed to list the matches of {leaf!r} in index "
                        f"{self.index!r} (HTTP {item.get('status')}): {reason}"
                    )
                pit = str(item.get("pit_id") or pit)
                hits = item.get("hits", {}).get("hits", [])
                found[leaf].extend(int(hit["fields"]["vec_id"][0]) for hit in hits)
                if len(hits) < self._match_page:
                    del after[leaf]
                else:
                    after[leaf] = hits[-1]["sort"]
        return pit

    def count(self) -> int:
        """Number of paragraphs visible to searches (i.e. as of the last refresh)."""
        es = self._reader()
        with self._guard("count paragraphs"):
            return int(es.count(index=self.index)["count"])

    def paragraph_ids(self) -> Iterator[str]:
        """Every paragraph id visible to searches (scroll via ``helpers.scan``)."""
        es = self._es()
        with self._guard("list paragraph ids"):
            for hit in helpers.scan(
                es, index=self.index, query={"query": {"match_all": {}}}, _source=False, size=2000
            ):
                yield str(hit["_id"])

    def reset(self) -> None:
        """Delete the Elasticsearch index (whatever its mapping) and create it again with the
        current mapping."""
        with self._guard("reset the index"):
            self._connect().options(ignore_status=404).indices.delete(index=self.index)
        with self._lock:
            self._ready = False
            self.outdated = None
        self._es()

    def close(self) -> None:
        """Close the HTTP connections. Idempotent; a later call reconnects lazily."""
        with self._lock:
            client, self._client, self._ready = self._client, None, False
        if client is not None:
            client.close()
