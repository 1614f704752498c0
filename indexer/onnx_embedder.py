"""Int8-quantised ONNX Runtime backend for sentence-transformers models.

:class:`OnnxEmbedder` satisfies the :class:`indexer.embedder.Embedder` protocol with the same
contracts as :class:`indexer.embedder.SentenceTransformerEmbedder` (float32, L2-normalised,
shape ``(n, dim)``; passage/query prefixes), but runs an int8 copy of the transformer in ONNX
Runtime. Its vectors are close to, not equal to, the torch fp32 vectors, so its ``model_key``
differs and an index built with one backend cannot be searched with the other.

Measured for all-MiniLM-L6-v2 on the 2-core machine (``benchmarks/embedding_backends.py``,
500 PolitiFact paragraphs, 100 PolitiFact query sentences): 140 passages/s against 57 for
torch fp32 (batch 32, 2 threads); one query on one thread p50 8 ms / p99 23 ms against
30 / 56 ms; cosine to fp32 0.992 on average (min 0.978; German paragraphs, on which the
English model is weaker: 0.985 / 0.974). Model file 22 MB; export about 5 s once torch is
loaded (15 s in a fresh process); loading the cached file 0.1 s.

Recipe (``RECIPE_VERSION``), run once per model and cached on disk:

1. Load the model with sentence-transformers (eager attention) and export its transformer
   (``model[0].auto_model``) with the TorchScript exporter (``torch.onnx.export(dynamo=False)``,
   opset 17; the dynamo exporter would need ``onnxscript``): inputs ``input_ids``,
   ``attention_mask`` (and ``token_type_ids`` where the model takes them) with dynamic batch
   and sequence axes, output the token embeddings.
2. Quantise with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, **per-channel,
   reduce_range**). Per-tensor quantisation is not good enough (cosine ~0.89 to fp32 for
   MiniLM). ONNX Runtime's transformer graph optimiser before quantising was measured and gave
   no speed-up on top of ONNX Runtime's own load-time graph optimisations, so it is not used.
3. Check the int8 model against the torch model on a few probe sentences (cosine >= 0.9,
   else :class:`ExportError`), then write ``model-int8.onnx``, ``tokenizer.json`` (the model's
   fast tokenizer as sentence-transformers configured it) and ``meta.json`` (pooling, window,
   dimension, input names) into ``<cache_dir>/<model>-<key>/``.

The cache key hashes the local model directory's path, the sizes and mtimes of its files
(top level and module folders), the recipe version and the versions of onnxruntime, onnx,
torch, transformers and sentence-transformers: any change there exports again into a new
directory. Files are written to temporary names and ``os.replace``-d into place, the model file
last, so a reader that sees ``model-int8.onnx`` sees a complete cache entry; exporters take an
exclusive ``fcntl.flock`` on ``<entry>/.lock`` and re-check, so concurrent processes export
once and never corrupt the entry. Loading a cached entry needs only ``onnxruntime`` and
``tokenizers`` (no torch import).

Inference: texts are tokenised with the cached fast tokenizer (truncated to the model's
``max_seq_length``, 256 for MiniLM), sorted by (token length, text), padded per batch, run
through one ``InferenceSession`` (CPU, ``intra_op_num_threads=threads`` when given, one inter-op
thread), pooled as the model's ``1_Pooling/config.json`` says (mean, CLS, max or
mean-sqrt-len over the attention mask) and L2-normalised, then put back in input order.
Dynamic quantisation scales activations per batch tensor, so a text's vector depends on its
batch-mates about as much as on quantisation itself: embedded in a batch of 32 versus alone,
cosine 0.988 on average (min 0.975) on 100 German paragraphs, while both stay ~0.985 from
fp32 whatever the batch size. Batches are formed in (length, text) order, so they do not
depend on the input order. ``embed_query(t)`` equals ``embed_passages([t])[0]`` bit for bit
when the prefixes are equal (same single-row input).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer.embedder import DEFAULT_BATCH_SIZE, DEFAULT_MODEL, Vectors, resolve_model

#: Bump when the export/quantisation recipe changes: old cache entries are then ignored.
RECIPE_VERSION = 1
MODEL_FILE = "model-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "meta.json"
OUTPUT_NAME = "token_embeddings"
ONNX_OPSET = 17
#: Pooling modes of sentence-transformers' ``Pooling`` module that this backend reproduces.
SUPPORTED_POOLING = ("mean", "cls", "max", "mean_sqrt_len_tokens")
#: Minimum cosine between the int8 model and the torch model on the probe sentences.
MIN_PROBE_COSINE = 0.9
_PROBES = (
    "Parliament passed the budget after a long night of negotiations.",
    "Der Bundestag hat am Donnerstag über das neue Heizungsgesetz abgestimmt, nach wochenlangem "
    "Streit in der Koalition.",
    "Tax cuts",
)
_LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_KNOWN_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}
_VERSIONED = ("onnxruntime", "onnx", "torch", "transformers", "sentence-transformers")

#: Exports run by this process (all instances); lets tests prove a cache hit did not export.
EXPORTS = 0
_exports_lock = threading.Lock()


class UnsupportedModelError(ValueError):
    """The model's sentence-transformers pipeline cannot be reproduced by this backend."""


class ExportError(RuntimeError):
    """Exporting or quantising the model failed, or the result does not match the model."""


def default_cache_dir() -> Path:
    """``~/.cache/newssearch/onnx``: where exported models are kept by default."""
    return Path.home() / ".cache" / "newssearch" / "onnx"


@dataclass(frozen=True)
class _Pipeline:
    """What the model directory says about pooling and casing (read before any export)."""

    pooling: str
    do_lower_case: bool
    module_dirs: tuple[str, ...]


@dataclass(frozen=True)
class _Runtime:
    """Everything inference needs, built once by :meth:`OnnxEmbedder._load`."""

    session: Any  # onnxruntime.InferenceSession
    tokenizer: Any  # tokenizers.Tokenizer, truncating, no padding
    counter: Any  # tokenizers.Tokenizer, no truncation (count_tokens only)
    input_names: tuple[str, ...]
    pooling: str
    dim: int
    max_seq_length: int
    pad_id: int
    pad_type_id: int
    do_lower_case: bool
    path: Path
    meta: dict[str, Any]


class OnnxEmbedder:
    """A sentence-transformers model run as int8 ONNX; see the module docstring.

    Loaded lazily and thread-safely on first use (``dim``, ``max_tokens``, ``embed_*``,
    ``count_tokens``); the first use for a model not yet in ``cache_dir`` exports it (5-15 s
    for MiniLM, needs torch and sentence-transformers), later ones only load the file.
    ``threads`` sets ONNX Runtime's intra-op threads for this instance (``None``: one per
    physical core); unlike torch, the setting is per session, not process-wide.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        query_prefix: str = "",
        passage_prefix: str = "",
        threads: int | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if threads is not None and threads < 1:
            raise ValueError("threads must be at least 1 (or None for the default)")
        self.model_name = model
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.threads = threads
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    # -- protocol -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Vector dimension (the transformer's hidden size for the supported poolings)."""
        return self._load().dim

    @property
    def max_tokens(self) -> int:
        """The model's input window in tokens (sentence-transformers' ``max_seq_length``)."""
        return self._load().max_seq_length

    @property
    def model_key(self) -> str:
        """Model name, backend and prefixes; differs from the torch embedder's key."""
        return f"{self.model_name}|onnx-int8|q={self.query_prefix}|p={self.passage_prefix}"

    @property
    def model_path(self) -> Path:
        """The cached int8 model file this instance runs (exports it if needed)."""
        return self._load().path

    @property
    def meta(self) -> dict[str, Any]:
        """The cache entry's ``meta.json`` (recipe, versions, export seconds, probe cosine)."""
        return dict(self._load().meta)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Normalised vectors for ``texts`` (passage prefix applied), shape ``(n, dim)``."""
        runtime = self._load()
        if not texts:
            return np.zeros((0, runtime.dim), dtype=np.float32)
        return _embed(runtime, [self.passage_prefix + t for t in texts], self.batch_size)

    def embed_query(self, text: str) -> Vectors:
        """Normalised vector for one query (query prefix applied), shape ``(dim,)``."""
        vector: Vectors = _embed(self._load(), [self.query_prefix + text], 1)[0]
        return vector

    def count_tokens(self, text: str) -> int:
        """Word-piece count of ``text`` without special tokens and without truncation.

        Same value as :meth:`SentenceTransformerEmbedder.count_tokens`. Uses a tokenizer
        instance of its own, so it is safe to call while another thread embeds.
        """
        counter = self._load().counter
        return len(counter.encode(text, add_special_tokens=False).ids)

    # -- loading ------------------------------------------------------------------------------
    def _load(self) -> _Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                path = ensure_exported(self.model_name, self.cache_dir)
                self._runtime = _open_runtime(path, self.threads)
            return self._runtime


# -- inference ------------------------------------------------------------------------------
def _embed(runtime: _Runtime, texts: list[str], batch_size: int) -> Vectors:
    """Normalised vectors for ``texts`` (already prefixed), in input order."""
    if runtime.do_lower_case:
        texts = [t.lower() for t in texts]
    if len(texts) == 1:
        encodings = [runtime.tokenizer.encode(texts[0])]
    else:
        encodings = runtime.tokenizer.encode_batch(texts)
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
    # Sorted by (length, text): little padding, and batches that do not depend on the
    # input order (int8 vectors depend slightly on their batch-mates).
    order = np.array(sorted(range(len(texts)), key=lambda i: (lengths[i], texts[i])))
    out = np.empty((len(texts), runtime.dim), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        rows = order[start : start + batch_size]
        width = int(lengths[rows].max())
        ids = np.full((len(rows), width), runtime.pad_id, dtype=np.int64)
        types = np.full((len(rows), width), runtime.pad_type_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            enc = encodings[i]
            n = len(enc.ids)
            ids[r, :n] = enc.ids
            types[r, :n] = enc.type_ids
            mask[r, :n] = 1
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {name: arrays[name] for name in runtime.input_names}
        hidden = runtime.session.run([OUTPUT_NAME], feeds)[0]
        out[rows] = _pool(np.asarray(hidden, dtype=np.float32), mask, runtime.pooling)
    return out


# -- pooling ----------------------------------------------------------------------------------
def _pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64], mode: str) -> Vectors:
    """Pool token vectors ``(b, seq, d)`` over ``mask`` ``(b, seq)``, then L2-normalise."""
    weights = mask.astype(np.float32)
    if mode == "cls":
        pooled = hidden[:, 0, :]
    elif mode == "max":
        pooled = np.where(weights[:, :, None] > 0, hidden, np.float32(-1e9)).max(axis=1)
    else:
        summed = np.einsum("bsd,bs->bd", hidden, weights)
        counts = np.maximum(weights.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = summed / (np.sqrt(counts) if mode == "mean_sqrt_len_tokens" else counts)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
    return np.ascontiguousarray(pooled / norms, dtype=np.float32)


# -- model directory and cache key ------------------------------------------------------------
def local_model_dir(model: str) -> Path:
    """The local directory holding ``model``: the bundled MiniLM, a path, or a hub snapshot.

    For a hub name the local Hugging Face cache is consulted first (also as
    ``sentence-transformers/<name>``); if the model is not there, sentence-transformers
    downloads it (needs the hub) and the snapshot directory is returned.
    """
    resolved = resolve_model(model)
    if Path(resolved).is_dir():
        return Path(resolved).resolve()
    found = _hub_snapshot(resolved)
    if found is None:
        from sentence_transformers import SentenceTransformer

        SentenceTransformer(resolved, device="cpu")  # downloads into the hub cache
        found = _hub_snapshot(resolved)
    if found is None:
        raise UnsupportedModelError(f"cannot find a local copy of model {model!r}")
    return found


def _hub_snapshot(name: str) -> Path | None:
    from huggingface_hub import snapshot_download

    candidates = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo in candidates:
        try:
            return Path(snapshot_download(repo, local_files_only=True)).resolve()
        except Exception:  # not cached (or not a valid repo id): try the next spelling
            continue
    return None


def read_pipeline(model_dir: Path) -> _Pipeline:
    """Pooling and casing from ``modules.json`` and its module configs.

    Accepted pipelines: ``Transformer, Pooling[, Normalize]`` (or no ``modules.json``, which
    sentence-transformers treats as mean pooling). Raises :class:`UnsupportedModelError` for
    anything else (Dense layers, several or unsupported pooling modes ...).
    """
    modules_file = model_dir / "modules.json"
    do_lower_case = _read_json(model_dir / "sentence_bert_config.json").get("do_lower_case")
    if not modules_file.exists():
        return _Pipeline("mean", bool(do_lower_case), ())
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise UnsupportedModelError(
            f"{model_dir}: module pipeline {kinds} is not supported by the ONNX backend "
            "(need Transformer, Pooling and optionally Normalize)"
        )
    dirs = tuple(str(m.get("path", "")) for m in modules if m.get("path"))
    transformer_dir = model_dir / str(modules[0].get("path", ""))
    if do_lower_case is None:
        do_lower_case = _read_json(transformer_dir / "sentence_bert_config.json").get(
            "do_lower_case"
        )
    pooling_cfg = _read_json(model_dir / str(modules[1].get("path", "")) / "config.json")
    return _Pipeline(_pooling_mode(pooling_cfg, model_dir), bool(do_lower_case), dirs)


def _pooling_mode(cfg: dict[str, Any], model_dir: Path) -> str:
    raw = cfg.get("pooling_mode")
    if raw is None:
        modes = [mode for key, mode in _LEGACY_POOLING_KEYS.items() if cfg.get(key)]
    else:
        modes = [raw] if isinstance(raw, str) else list(raw)
    if not modes:  # sentence-transformers' default
        modes = ["mean"]
    if len(modes) != 1 or modes[0] not in SUPPORTED_POOLING:
        raise UnsupportedModelError(
            f"{model_dir}: pooling {modes} is not supported by the ONNX backend "
            f"(supported: one of {', '.join(SUPPORTED_POOLING)})"
        )
    return str(modes[0])


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def cache_key(model_dir: Path) -> str:
    """Hex key of everything the exported file depends on (see the module docstring)."""
    pipeline = read_pipeline(model_dir)
    files: dict[str, list[int]] = {}
    for sub in ("", *pipeline.module_dirs):
        folder = model_dir / sub
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.is_file():
                st = entry.stat()
                files[str(entry.relative_to(model_dir))] = [st.st_size, st.st_mtime_ns]
    material = {
        "recipe": RECIPE_VERSION,
        "opset": ONNX_OPSET,
        "model_dir": str(model_dir),
        "files": files,
        "versions": {package: _version(package) for package in _VERSIONED},
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.blake2b(blob, digest_size=10).hexdigest()


def cache_entry(model: str, cache_dir: Path, model_dir: Path | None = None) -> Path:
    """The cache directory for ``model`` (which need not exist yet)."""
    model_dir = model_dir or local_model_dir(model)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model.rstrip("/").rsplit("/", 1)[-1])[:60]
    return cache_dir / f"{slug}-{cache_key(model_dir)}"


def ensure_exported(model: str, cache_dir: Path) -> Path:
    """Path of the cached int8 model for ``model``, exporting it first if it is missing.

    Safe under concurrency: exporters serialise on an exclusive ``flock`` of the entry's lock
    file and re-check, and every file is written under a temporary name then replaced, the
    model file last (its presence marks a complete entry).
    """
    model_dir = local_model_dir(model)
    entry = cache_entry(model, cache_dir, model_dir)
    target = entry / MODEL_FILE
    if target.is_file():
        return target
    entry.mkdir(parents=True, exist_ok=True)
    with _exclusive(entry / ".lock"):
        if not target.is_file():
            for stale in entry.glob("*.tmp-*"):  # left by an exporter that died
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)
            _export(model_dir, entry)
    return target


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# -- export -----------------------------------------------------------------------------------
def _export(model_dir: Path, entry: Path) -> None:
    """Export, quantise and check ``model_dir``; write the cache files into ``entry``."""
    global EXPORTS
    started = time.perf_counter()
    pipeline = read_pipeline(model_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    # Eager attention exports to plain MatMul/Softmax ops that ONNX Runtime fuses and runs fast.
    st = SentenceTransformer(
        str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    meta = _describe(st, model_dir, pipeline)
    tokenizer_json = _plain_tokenizer_json(st.tokenizer.backend_tokenizer.to_str())
    with tempfile.TemporaryDirectory(dir=entry, prefix="export.tmp-") as work:
        int8 = _to_int8_onnx(st, meta["input_names"], Path(work))
        # Check the quantised graph against the torch model, on inputs of other shapes than
        # the export's dummy batch (catches shapes frozen into the graph, broken quantisation).
        reference = np.asarray(
            st.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True),
            dtype=np.float32,
        )
        got = _embed(_runtime(int8, meta, tokenizer_json, threads=1), list(_PROBES), 8)
        cosine = float((got * reference).sum(axis=1).min())
        if not cosine >= MIN_PROBE_COSINE:
            raise ExportError(
                f"{model_dir}: int8 ONNX vectors disagree with the model (cosine {cosine:.3f})"
            )
        meta["probe_min_cosine"] = round(cosine, 4)
        meta["export_seconds"] = round(time.perf_counter() - started, 2)
        _write_atomic(entry / TOKENIZER_FILE, tokenizer_json.encode())
        _write_atomic(entry / META_FILE, json.dumps(meta, indent=2).encode())
        with int8.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(int8, entry / MODEL_FILE)  # last: its presence marks a complete entry
    with _exports_lock:
        EXPORTS += 1


def _describe(st: Any, model_dir: Path, pipeline: _Pipeline) -> dict[str, Any]:
    """The ``meta.json`` facts inference needs, read from the loaded model; raises
    :class:`UnsupportedModelError` for what this backend cannot run."""
    import inspect

    auto = st[0].auto_model
    tokenizer = st.tokenizer
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise UnsupportedModelError(f"{model_dir}: the ONNX backend needs a fast tokenizer")
    accepted = inspect.signature(auto.forward).parameters
    names = [n for n in tokenizer.model_input_names if n in accepted]
    if not {"input_ids", "attention_mask"} <= set(names) <= _KNOWN_INPUTS:
        raise UnsupportedModelError(f"{model_dir}: unsupported model inputs {names}")
    max_len = int(st.max_seq_length or 0)
    positions = int(getattr(auto.config, "max_position_embeddings", 0) or 0)
    if positions and (max_len <= 0 or max_len > positions):
        max_len = positions
    if max_len <= 0:
        raise UnsupportedModelError(f"{model_dir}: cannot tell the model's max_seq_length")
    if tokenizer.pad_token_id is None:
        raise UnsupportedModelError(f"{model_dir}: the tokenizer has no padding token")
    return {
        "recipe": RECIPE_VERSION,
        "model_dir": str(model_dir),
        "input_names": names,
        "pooling": pipeline.pooling,
        "do_lower_case": pipeline.do_lower_case,
        "dim": int(auto.config.hidden_size),
        "max_seq_length": max_len,
        "pad_id": int(tokenizer.pad_token_id),
        "pad_type_id": int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        "versions": {p: _version(p) for p in _VERSIONED},
    }


def _to_int8_onnx(st: Any, input_names: list[str], work: Path) -> Path:
    """Export ``st``'s transformer to ``work``/model-fp32.onnx, quantise it to int8 (dynamic,
    per-channel, reduce_range) and return the int8 file's path; raises :class:`ExportError`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            hidden: torch.Tensor = self.model(**dict(zip(input_names, inputs, strict=True)))[0]
            return hidden

    auto = st[0].auto_model.eval()
    dummy = st.tokenizer(
        ["NewsSearch export", "a longer dummy sentence so that the batch needs padding"],
        padding=True,
        return_tensors="pt",
    )
    fp32, int8 = work / "model-fp32.onnx", work / MODEL_FILE
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings, the legacy-exporter notice
            torch.onnx.export(
                TokenEmbeddings(auto),
                tuple(dummy[n] for n in input_names),
                str(fp32),
                input_names=input_names,
                output_names=[OUTPUT_NAME],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*input_names, OUTPUT_NAME]},
                opset_version=ONNX_OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        with warnings.catch_warnings(), _quiet_root_logger():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                fp32, int8, per_channel=True, reduce_range=True, weight_type=QuantType.QInt8
            )
    except Exception as exc:
        raise ExportError(f"exporting the model to int8 ONNX failed: {exc}") from exc
    return int8


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop root-logger records (``quantize_dynamic`` calls ``logging.warning`` directly) and
    keep that call from installing a default handler via ``basicConfig``."""
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    drop = logging.Filter("a logger name no record has")  # rejects records of the root logger
    if placeholder is not None:
        root.addHandler(placeholder)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        if placeholder is not None:
            root.removeHandler(placeholder)


# -- runtime ----------------------------------------------------------------------------------
def _make_tokenizers(tokenizer_json: str, max_len: int) -> tuple[Any, Any]:
    """(truncating tokenizer for the model, non-truncating one for counting), no padding."""
    from tokenizers import Tokenizer

    model_tok = Tokenizer.from_str(tokenizer_json)
    model_tok.no_padding()
    model_tok.enable_truncation(max_length=max_len)
    counter = Tokenizer.from_str(tokenizer_json)
    counter.no_padding()
    counter.no_truncation()
    return model_tok, counter


def _plain_tokenizer_json(tokenizer_json: str) -> str:
    """``tokenizer_json`` without padding or truncation state (the shipped file may carry
    e.g. fixed padding to 128; inference sets both itself)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer.to_str()


def _session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _open_runtime(path: Path, threads: int | None) -> _Runtime:
    """Load a complete cache entry (``path`` is its model file)."""
    entry = path.parent
    meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
    tokenizer_json = (entry / TOKENIZER_FILE).read_text(encoding="utf-8")
    return _runtime(path, meta, tokenizer_json, threads)


def _runtime(
    path: Path, meta: dict[str, Any], tokenizer_json: str, threads: int | None
) -> _Runtime:
    tokenizer, counter = _make_tokenizers(tokenizer_json, int(meta["max_seq_length"]))
    return _Runtime(
        session=_session(path, threads),
        tokenizer=tokenizer,
        counter=counter,
        input_names=tuple(meta["input_names"]),
        pooling=str(meta["pooling"]),
        dim=int(meta["dim"]),
        max_seq_length=int(meta["max_seq_length"]),
        pad_id=int(meta["pad_id"]),
        pad_type_id=int(meta["pad_type_id"]),
        do_lower_case=bool(meta["do_lower_case"]),
        path=path,
        meta=meta,
    )
