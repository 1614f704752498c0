"""The one factory that turns :class:`~indexer.settings.Settings` into open stores.

An index directory holds ``catalog.sqlite``, ``vectors.faiss`` (the primary encoder's),
``vectors.<encoder>.faiss`` per extra encoder (indexer/spaces.py; by default the multilingual
USE beside MiniLM) and, for the embedded backend, ``lexical/``. The encoders an index was
built with are recorded in the catalog; opening it with a different primary model is refused
with a clear error instead of mixing vector spaces, and so is asking explicitly for other
extras than it records.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from indexer.catalog import Catalog
from indexer.dedup import StoryIndex, StoryParams
from indexer.embedder import CachedEmbedder, Embedder, SentenceTransformerEmbedder
from indexer.errors import BackendUnavailable, NewsSearchError
from indexer.lexical.base import LexicalBackend
from indexer.reembed import finish_reembed
from indexer.settings import Settings
from indexer.spaces import (
    ExtrasMismatch,
    Space,
    base_name,
    languages_of,
    record_extras,
    recorded_extras,
    same_encoder,
    space_file,
)
from indexer.use_embedder import USE_BATCH, UseEmbedder, is_use_model
from indexer.vectors import VectorStore


@dataclass
class Stores:
    """Everything an ingest or a search needs, opened together and closed together."""

    settings: Settings
    catalog: Catalog
    lexical: LexicalBackend
    vectors: VectorStore
    embedder: CachedEmbedder
    #: The extra encoders (indexer/spaces.py), each with its own vector store.
    extras: list[Space] = field(default_factory=list)
    #: Whole articles (title + every paragraph, one document each) for the article-level BM25
    #: signal (search_api/search/articles_bm25.py); same backend kind as ``lexical``.
    articles: LexicalBackend | None = None

    @property
    def spaces(self) -> list[Space]:
        """Every dense space: the primary encoder first, then the extras."""
        primary = Space(
            base_name(self.embedder.model_key),
            self.embedder,
            self.vectors,
            languages_of(self.embedder.model_key),
        )
        return [primary, *self.extras]

    def refresh_readers(self) -> None:
        """Make this process's readers at least as new as the last commit of any process:
        every encoder's vector store reloads a newer file, and the lexical stores (paragraphs
        and whole articles) reopen their searchers; a lexical backend that does not answer is
        left to the next search (which reports it)."""
        for space in self.spaces:
            space.vectors.reload_if_changed()
        for backend in (self.lexical, self.articles):
            refresh: Callable[[], None] | None = getattr(backend, "refresh", None)
            if refresh is not None:
                with suppress(BackendUnavailable):
                    refresh()

    def story_params(self) -> tuple[int, int]:
        """``(shingle, num_perm)`` of this index's signatures: recorded at the first use,
        from the settings (signatures made with other parameters would not compare)."""
        params = self._recorded_story_params()
        return params.shingle, params.num_perm

    def _recorded_story_params(self) -> StoryParams:
        recorded = self.catalog.get_meta("story_minhash")
        if recorded is None:
            params = StoryParams(self.settings.story_shingle, self.settings.story_num_perm)
            self.catalog.set_meta("story_minhash", params.dump())
            return params
        return StoryParams.parse(recorded)

    def story_index(self, *, rebuild: bool = False) -> StoryIndex:
        """The LSH index of the committed signatures, its buckets in the catalog: nothing is
        loaded. Call it inside the write's :meth:`~indexer.catalog.Catalog.transaction` (only
        writers need it: ingest, delete, ``newssearch stories``). When the recorded banding is
        not the one for this writer's ``story_threshold`` (a threshold with other bands, or a
        catalog migrated with the default one), or with ``rebuild`` (signatures stored outside a
        commit: ``newssearch stories``), every bucket is rewritten first, in that transaction."""
        params = self._recorded_story_params()
        wanted = params.banded(self.settings.story_threshold)
        if rebuild or params.banding != wanted.banding:
            self.catalog.rebuild_buckets(wanted)
        return StoryIndex(self.settings.story_threshold, params.num_perm, self.catalog)

    def close(self) -> None:
        """Close every store. Idempotent."""
        self.lexical.close()
        if self.articles is not None:
            self.articles.close()
        self.catalog.close()
        self.embedder.close()
        for space in self.extras:
            space.embedder.close()


def make_lexical(settings: Settings, *, articles: bool = False) -> LexicalBackend:
    """The lexical backend chosen by ``settings.lexical``: of paragraphs, or with
    ``articles`` of whole articles (``articles/`` beside ``lexical/``; Elasticsearch index
    ``<index>-articles``)."""
    if settings.lexical == "elasticsearch":
        from indexer.lexical.elasticsearch import ElasticsearchBackend

        auth = (settings.es_username, settings.es_password or "") if settings.es_username else None
        return ElasticsearchBackend(
            hosts=settings.es_hosts,
            index=settings.es_index + ("-articles" if articles else ""),
            api_key=settings.es_api_key,
            basic_auth=auth,
            verify_certs=settings.es_verify_certs,
            ca_certs=settings.es_ca_certs,
        )
    from indexer.lexical.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.index / ("articles" if articles else "lexical"))


def make_embedder(
    settings: Settings, *, threads: int | None = None, model: str | None = None
) -> Embedder:
    """The embedder ``settings`` describe (loaded lazily), or encoder ``model`` configured by
    them; ``threads`` overrides ``settings.model_threads`` (serving uses one per query)."""
    threads = threads or settings.model_threads
    name = model or settings.model
    if model is not None and not is_use_model(model):
        # An extra sentence-transformers encoder: its own name, no prefixes of the primary's.
        settings = settings.model_copy(
            update={"model": model, "query_prefix": "", "passage_prefix": ""}
        )
    if is_use_model(name):
        # Its own ONNX graph (tokenizer inside): model_backend does not apply.
        # Its best batch here is 8 (146 paragraphs/s against 82 at 32: the graph pads inside);
        # an explicitly set batch_size still wins.
        batch = settings.batch_size if "batch_size" in settings.model_fields_set else USE_BATCH
        return UseEmbedder(graph=settings.model_file, batch_size=batch, threads=threads)
    if settings.model_backend == "onnx-int8":
        from indexer.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder(
            settings.model,
            batch_size=settings.batch_size,
            query_prefix=settings.query_prefix,
            passage_prefix=settings.passage_prefix,
            threads=threads,
            cache_dir=settings.model_cache,
        )
    return SentenceTransformerEmbedder(
        settings.model,
        batch_size=settings.batch_size,
        query_prefix=settings.query_prefix,
        passage_prefix=settings.passage_prefix,
        threads=threads,
    )


class EncoderMismatch(NewsSearchError, ValueError):
    """The index was built with another encoder than the one asked for; the message names
    both, how to use the index's own encoder and how to switch the index to the other."""

    def __init__(self, index: Path, recorded: str, requested: str) -> None:
        self.index, self.recorded, self.requested = index, recorded, requested
        name = recorded.split("|", 1)[0]
        backend = "onnx-int8" if "|onnx-int8|" in recorded else "torch"
        use = f"NEWSSEARCH_MODEL={name}"
        if not is_use_model(name):
            use += f" NEWSSEARCH_MODEL_BACKEND={backend}"
        super().__init__(
            f"index {index} was built with embedding model {recorded!r}, not {requested!r} "
            f"(vectors of two encoders are not comparable); search it with {use}, or "
            f"re-embed it: newssearch reembed --model {requested.split('|', 1)[0]} "
            f"--index {index}"
        )


def open_stores(settings: Settings, embedder: Embedder | None = None) -> Stores:
    """Open (creating if needed) the index at ``settings.index``.

    Completes an interrupted encoder switch (:func:`indexer.reembed.finish_reembed`), then
    raises :class:`EncoderMismatch` (a ``ValueError``) when the index was built with another
    embedding model than ``embedder`` / the settings' one, and
    :class:`~indexer.spaces.ExtrasMismatch` when the settings name other extra encoders
    explicitly than the index records. A new index records the settings' extras; an existing
    one opens with those it records (none for an index from before extras).
    """
    settings.index.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.index / "catalog.sqlite")
    finish_reembed(catalog, settings.index)  # a switch of encoder a crash interrupted
    inner = embedder or make_embedder(settings)
    recorded = catalog.get_meta("model_key")
    if recorded is not None and recorded != inner.model_key:
        catalog.close()
        raise EncoderMismatch(settings.index, recorded, inner.model_key)
    cached = CachedEmbedder(inner, settings.embedding_cache)
    dim_meta = catalog.get_meta("dim")
    dim = int(dim_meta) if dim_meta else cached.dim
    if recorded is None:
        catalog.set_meta("model_key", inner.model_key)
        catalog.set_meta("dim", str(dim))
    try:
        extras = _open_extras(settings, catalog, fresh=recorded is None)
    except BaseException:
        cached.close()
        catalog.close()
        raise
    lexical = make_lexical(settings)
    catalog.set_meta("lexical", lexical.name)
    vectors = VectorStore(settings.index / "vectors.faiss", dim)
    articles = make_lexical(settings, articles=True)
    return Stores(settings, catalog, lexical, vectors, cached, extras, articles)


def _open_extras(settings: Settings, catalog: Catalog, *, fresh: bool) -> list[Space]:
    """The extra spaces to open: a new index's from the settings, an existing index's as it
    records them (indexer/spaces.py's rules)."""
    asked = "extra_models" in settings.model_fields_set
    recorded = recorded_extras(catalog)
    if recorded is None and not fresh:
        recorded = []  # an index from before extra encoders
    if recorded is None:
        names = [n for n in settings.extra_models if not same_encoder(n, settings.model)]
    else:
        names = [str(e["name"]) for e in recorded]
        asked_for = [n for n in settings.extra_models if not same_encoder(n, settings.model)]
        if asked and (
            len(asked_for) != len(names)
            or not all(same_encoder(a, r) for a, r in zip(asked_for, names, strict=True))
        ):
            raise ExtrasMismatch(settings.index, names, settings.extra_models)
    spaces: list[Space] = []
    try:
        for name in names:
            inner = make_embedder(settings, model=name)
            cached = CachedEmbedder(inner, settings.embedding_cache)
            if recorded is not None:
                keys = {str(e["name"]): str(e["key"]) for e in recorded}
                if keys.get(name) != inner.model_key:
                    raise EncoderMismatch(settings.index, keys.get(name, ""), inner.model_key)
            spaces.append(
                Space(
                    name,
                    cached,
                    VectorStore(space_file(settings.index, name), cached.dim),
                    languages_of(name),
                )
            )
    except BaseException:
        for space in spaces:
            space.embedder.close()
        raise
    if recorded is None:
        record_extras(catalog, spaces)
    return spaces
