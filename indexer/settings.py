"""All configuration in one validated object, read from arguments, environment and defaults.

Environment variables use the ``NEWSSEARCH_`` prefix (``NEWSSEARCH_INDEX``,
``NEWSSEARCH_LEXICAL``, ``NEWSSEARCH_MODEL`` ...), except the Elasticsearch connection, which
also honours the conventional ``ES_URL``, ``ES_API_KEY``, ``ES_USERNAME``, ``ES_PASSWORD``.
Build one with ``Settings()`` (environment) or ``Settings(index=..., ...)`` (explicit values win).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.embedder import DEFAULT_BATCH_SIZE, DEFAULT_MODEL
from indexer.use_embedder import USE_MODEL


def _default_index() -> Path:
    return Path.home() / ".local" / "share" / "newssearch" / "index"


def _default_cache() -> Path:
    return Path.home() / ".cache" / "newssearch" / "embeddings.sqlite"


class Settings(BaseSettings):
    """NewsSearch configuration (see module docstring for the environment variables)."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSSEARCH_", extra="ignore", populate_by_name=True
    )

    index: Path = Field(default_factory=_default_index, description="Index directory.")
    lexical: Literal["embedded", "elasticsearch"] = "embedded"

    #: A sentence-transformers name or path, or ``use-multilingual-v3`` (Google's multilingual
    #: USE, 512-d, from the optional extra ``newssearch[multilingual]``; indexer/use_embedder.py).
    model: str = DEFAULT_MODEL
    #: More encoders beside ``model``, each a dense retriever of its own (indexer/spaces.py):
    #: by default the multilingual USE, so German and cross-lingual queries are searched by
    #: meaning while English keeps MiniLM (docs/evaluation.md, "Several encoders at once").
    #: Comma-separated in the environment (``NEWSSEARCH_EXTRA_MODELS=""``: none). An existing
    #: index keeps the extras it records unless this is set explicitly.
    extra_models: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [USE_MODEL])
    #: Each encoder's share of the dense weight ``1 - alpha`` (by model name; default
    #: :data:`indexer.spaces.DEFAULT_SHARES`), JSON in the environment.
    dense_shares: dict[str, float] = Field(default_factory=dict)
    model_file: Path | None = Field(
        None,
        description="Another copy of the USE ONNX graph (default: the nanoranker wheel's).",
    )
    #: ``onnx-int8``: the model exported once to ONNX and quantised to int8 (per channel),
    #: run by ONNX Runtime: 2.5x the passages/s of ``torch`` fp32 and a quarter of its query
    #: latency here, at cosine 0.99 to the fp32 vectors and the same dev nDCG
    #: (docs/evaluation.md). ``torch``: the sentence-transformers model as published.
    model_backend: Literal["onnx-int8", "torch"] = "onnx-int8"
    model_cache: Path | None = Field(
        None, description="Where onnx-int8 keeps exported models (~/.cache/newssearch/onnx)."
    )
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=4096)
    query_prefix: str = ""
    passage_prefix: str = ""
    model_threads: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices(
            "model_threads", "torch_threads", "NEWSSEARCH_MODEL_THREADS", "NEWSSEARCH_TORCH_THREADS"
        ),
        description="Threads of the embedding model (default: the library's choice).",
    )
    embedding_cache: Path | None = Field(default_factory=_default_cache)
    max_chunk_tokens: int = Field(200, ge=16)
    ingest_batch: int = Field(
        256,
        ge=1,
        le=10_000,
        description="Articles per batch (embedded together: larger batches pad less; "
        "256 reached 0.96 of raw encode throughput where 64 reached 0.77).",
    )
    commit_every: int = Field(
        4096, ge=1, description="Paragraphs between commits (FAISS save, lexical commit)."
    )

    # Syndication (indexer/dedup.py): near-duplicates share a story when the Jaccard
    # similarity of their word 3-shingles, estimated by 128-permutation MinHash, is at least
    # story_threshold. 0.6 measured on the shared corpora (benchmarks/stories.py,
    # docs/stories.md). The shingle size and permutations are recorded with the index at its
    # first clustering (signatures of other parameters do not compare); the threshold is
    # read at each ingest (``newssearch stories`` reclusters with a new one).
    story_threshold: float = Field(0.6, gt=0.0, le=1.0)
    story_shingle: int = Field(3, ge=1, le=20)
    story_num_perm: int = Field(128, ge=16, le=1024)

    es_url: str = Field(
        "http://127.0.0.1:9200",
        validation_alias=AliasChoices("ES_URL", "NEWSSEARCH_ES_URL", "es_url"),
    )
    es_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ES_API_KEY", "NEWSSEARCH_ES_API_KEY", "es_api_key")
    )
    es_username: str | None = Field(
        None, validation_alias=AliasChoices("ES_USERNAME", "NEWSSEARCH_ES_USERNAME", "es_username")
    )
    es_password: str | None = Field(
        None, validation_alias=AliasChoices("ES_PASSWORD", "NEWSSEARCH_ES_PASSWORD", "es_password")
    )
    es_verify_certs: bool = True
    es_ca_certs: str | None = None
    es_index_prefix: str = "newssearch"

    # Fusion defaults chosen on checkthat2021-politifact-1k train, reported on dev
    # (docs/evaluation.md): convex 0.3 * z(bm25) + 0.7 * z(dense), article score = decayed sum
    # of its paragraph scores, 500 candidates per retriever (1,000 gain 0.002 train nDCG@10
    # and cost a third more latency at 1M paragraphs, docs/benchmarks.md).
    fusion: Literal["rrf", "convex"] = "convex"
    rrf_k: int = Field(60, ge=1)
    alpha: float = Field(0.3, ge=0.0, le=1.0)
    normalisation: Literal["minmax", "zscore"] = "zscore"
    aggregate: Literal["max", "top2", "top3", "decay"] = "decay"
    #: Weight of BM25 over whole articles beside the fused paragraph scores in hybrid mode
    #: (search_api/search/article_signal.py; 0.2 chosen on PolitiFact train, no dev set loses).
    article_weight: float = Field(0.2, ge=0.0, le=0.9)
    candidates: int = Field(500, ge=10, le=10_000)

    serve_threads: int = Field(1, ge=1, description="Model/FAISS threads per query when serving.")
    api_key: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_limit: int = Field(100, ge=1)
    max_offset: int = Field(1_000_000, ge=0)
    min_similarity: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Semantic threshold for every request of this process that gives none "
        "(default: the index's calibrated value; see docs/result-set.md).",
    )
    max_semantic_paragraphs: int = Field(
        200_000,
        ge=1,
        description="Most paragraphs a semantic side may contribute to one result set; beyond "
        "it the request is refused (HTTP 400), never truncated.",
    )

    @field_validator("extra_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("index", "embedding_cache", "model_cache", "model_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def es_hosts(self) -> list[str]:
        """``ES_URL`` split on commas (several hosts of one cluster)."""
        return [h.strip() for h in self.es_url.split(",") if h.strip()]

    @property
    def es_index(self) -> str:
        """Elasticsearch index for this index directory: ``{prefix}-{directory name}``."""
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.index.name.lower())
        return f"{self.es_index_prefix}-{name.strip('-_') or 'default'}"
