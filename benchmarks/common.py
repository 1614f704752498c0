"""Shared helpers for the benchmark scripts (not part of the product; see docs/benchmarks.md).

Everything heavy is cached under ``$NEWSSEARCH_BENCH_DIR`` (default
``/tmp/newssearch-bench``): embedded query vectors and synthesised vectors, so no text is
embedded twice across runs and the 1M-vector set is generated once.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indexer.chunker import chunk_article  # noqa: E402
from indexer.models import Article, Paragraph  # noqa: E402
from indexer.readers import read_paths  # noqa: E402

if TYPE_CHECKING:
    from indexer.embedder import SentenceTransformerEmbedder

Vectors = npt.NDArray[np.float32]

DATA = Path(os.environ.get("NEWSSEARCH_DATA", ROOT.parent / "shared" / "data"))
BENCH_DIR = Path(os.environ.get("NEWSSEARCH_BENCH_DIR", "/tmp/newssearch-bench"))
#: The product's embedding cache (``NEWSSEARCH_EMBEDDING_CACHE``, as ``Settings`` reads it).
EMBED_CACHE = Path(
    os.environ.get(
        "NEWSSEARCH_EMBEDDING_CACHE", Path.home() / ".cache" / "newssearch" / "embeddings.sqlite"
    )
)
MODEL_KEY = "all-MiniLM-L6-v2|q=|p="
POLITIFACT_1K = DATA / "relevance" / "checkthat2021-politifact-1k"
POLITIFACT_FULL = DATA / "relevance" / "checkthat2021-politifact"
#: News corpora; the language is the one their file name says.
NEWS = [
    DATA / "corpora" / "bbc_news.en.jsonl",
    DATA / "corpora" / "gnad10k_test.de.jsonl",
    DATA / "corpora" / "zeitgeist_tagesschau_zeit.de.jsonl",
]
#: ``--smoke`` runs use only this many real vectors (the first PolitiFact-1k paragraphs,
#: embedded into the embedding cache when it lacks them: seconds, once per cache).
SMOKE_REAL_VECTORS = 64


# -- machine and measurement ------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """CPU, cores, memory, load and library versions, for the record."""
    import faiss
    import tantivy  # noqa: F401

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    from importlib.metadata import version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "tantivy": version("tantivy"),
        "numpy": np.__version__,
    }


def rss_mb() -> float:
    """Resident set size of this process in MiB (from /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_size_mb(path: Path) -> float:
    """Bytes under ``path`` in MiB."""
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
    if path.is_file():
        total = path.stat().st_size
    return total / 2**20


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds and queries/s (sequential) of per-query timings."""
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(statistics.fmean(ms)), 2),
        "qps": round(1000 / float(statistics.fmean(ms)), 1),
    }


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.start


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print ``result`` as JSON and write it to ``out`` when given."""
    text = json.dumps(result, indent=2, ensure_ascii=False, default=str)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


# -- real text --------------------------------------------------------------------------------
def news_paragraphs(limit: int | None = None) -> list[Paragraph]:
    """Paragraphs of the news corpora (bbc_news, gnad10k, zeitgeist), chunked by the product.

    Articles without a language get the one their file name says (``.en.``/``.de.``), so no
    language detection skews the timing of what follows.
    """
    out: list[Paragraph] = []
    for path in NEWS:
        lang = path.name.split(".")[-2]
        for article in read_paths([path]):
            if article.language is None:
                article = article.model_copy(update={"language": lang})
            out.extend(chunk_article(article))
            if limit is not None and len(out) >= limit:
                return out[:limit]
    return out


def politifact_articles(full: bool = False) -> Iterator[Article]:
    """Articles of the PolitiFact corpus (1k subset, or the full 19k with ``full``)."""
    root = POLITIFACT_FULL if full else POLITIFACT_1K
    for article in read_paths([root / "corpus.jsonl.gz"]):
        if article.language is None:
            article = article.model_copy(update={"language": "en"})
        yield article


def plain(text: str) -> str:
    """``text`` as a plain bag of words: query-syntax characters and operators removed."""
    words = re.sub(r"[\"():+\-*^~\[\]{}\\/]", " ", text).split()
    return " ".join(w for w in words if w not in ("AND", "OR", "NOT"))


def politifact_queries(n: int = 200, offset: int = 0) -> list[str]:
    """``n`` query texts from the PolitiFact query set (591 in all), in file order, plain."""
    texts = []
    with (POLITIFACT_1K / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            texts.append(plain(json.loads(line)["text"]))
    return texts[offset : offset + n]


def news_titles(n: int = 200) -> list[str]:
    """``n`` real article titles, half English (BBC), half German (zeitgeist)."""
    out: list[str] = []
    for path in (NEWS[0], NEWS[2]):
        got = 0
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                title = plain(json.loads(line).get("title") or "")
                if title and i % 7 == 3:  # spread over the file
                    out.append(title)
                    got += 1
                if got >= n // 2:
                    break
    return out


# -- real vectors -----------------------------------------------------------------------------
@functools.cache
def fp32_model() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2 on torch fp32 (``MODEL_KEY``), loaded once per process."""
    from indexer.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def _cache_key(text: str) -> bytes:
    return hashlib.blake2b(f"{MODEL_KEY}\x1f{text}".encode(), digest_size=20).digest()


def cached_vectors(texts: Sequence[str], cache: Path = EMBED_CACHE) -> dict[str, Vectors]:
    """MiniLM vectors the product's embedding cache already holds for ``texts`` (no model)."""
    if not cache.exists():
        return {}
    db = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    keys = {_cache_key(t): t for t in texts}
    out: dict[str, Vectors] = {}
    items = list(keys)
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        rows = db.execute(
            f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
        )
        for key, blob in rows:
            out[keys[key]] = np.frombuffer(blob, dtype=np.float32).copy()
    db.close()
    return out


def real_paragraph_vectors(limit: int = 40_000, embed_missing: bool = False) -> Vectors:
    """Real MiniLM vectors of PolitiFact-1k paragraphs, read from the embedding cache.

    The paragraphs are chunked with the product's chunker and model tokenizer, exactly as
    ``newssearch ingest`` does, and looked up by their cache key, so every vector is a
    genuine all-MiniLM-L6-v2 paragraph vector (the cache may hold other models' vectors too).
    Articles are read until ``limit`` distinct paragraphs are found (all of them at the
    default). With ``embed_missing`` the paragraphs the cache lacks are embedded with the same
    fp32 model and stored in the cache (``--smoke`` runs use a few dozen paragraphs, so a
    fresh machine needs no ingest beforehand).
    """
    from indexer.embedder import CachedEmbedder

    model = fp32_model()
    texts: dict[str, None] = {}
    for article in politifact_articles():
        paragraphs = chunk_article(article, count_tokens=model.count_tokens)
        texts.update(dict.fromkeys(p.text for p in paragraphs))
        if len(texts) >= limit:
            break
    found = cached_vectors(list(texts))
    missing = [t for t in texts if t not in found]
    if embed_missing and missing:
        assert model.model_key == MODEL_KEY, model.model_key
        store = CachedEmbedder(model, EMBED_CACHE)
        found.update(zip(missing, store.embed_passages(missing), strict=True))
        store.close()
        print(f"real vectors: embedded {len(missing)} into {EMBED_CACHE}", file=sys.stderr)
    vecs = [found[t] for t in texts if t in found]
    print(
        f"real vectors: {len(vecs)} of {len(texts)} PolitiFact-1k paragraphs cached",
        file=sys.stderr,
    )
    if not vecs:
        raise SystemExit(
            f"no PolitiFact-1k paragraph vectors in {EMBED_CACHE}: run "
            "`NEWSSEARCH_MODEL_BACKEND=torch newssearch ingest "
            f"{POLITIFACT_1K}` first, or use --smoke (docs/benchmarks.md)"
        )
    return np.vstack(vecs[:limit]).astype(np.float32)


def query_vectors(texts: Sequence[str]) -> Vectors:
    """MiniLM query vectors for ``texts``, embedded once and kept in the bench directory."""
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    path = BENCH_DIR / f"queries-{digest}.npy"
    if path.exists():
        cached: Vectors = np.load(path)
        return cached
    emb = fp32_model()
    vecs = np.vstack([emb.embed_query(t) for t in texts]).astype(np.float32)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


# -- synthetic vectors ------------------------------------------------------------------------
def synthesize(real: Vectors, n: int, seed: int = 0, clusters: int = 1024) -> Vectors:
    """``n`` unit vectors drawn from a Gaussian mixture fitted on ``real`` vectors.

    Method: spherical k-means (``clusters`` centroids, FAISS) on the real vectors; each
    component is a Gaussian with the centroid as mean and the *full* empirical covariance of
    its members (sampled as the centroid plus a random N(0,1) combination of the members'
    residuals / sqrt(members)), weighted by its size. Samples are L2-normalised. This keeps
    the topical cluster structure and the within-topic correlations of MiniLM vectors,
    unlike isotropic noise, and never copies a real vector.
    """
    import faiss

    rng = np.random.default_rng(seed)
    k = max(1, min(clusters, len(real) // 30))
    km = faiss.Kmeans(real.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False)
    km.train(real)
    centroids = km.centroids
    assert centroids is not None  # set by train()
    _, assign = km.index.search(real, 1)
    assign = assign[:, 0]
    sizes = np.bincount(assign, minlength=k)
    counts = rng.multinomial(n, sizes / sizes.sum())
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    pos = 0
    for c in range(k):
        m = int(counts[c])
        if m == 0:
            continue
        members = real[assign == c]
        resid = members - centroids[c]
        z = rng.standard_normal((m, len(members))).astype(np.float32)
        out[pos : pos + m] = centroids[c] + z @ resid / np.sqrt(len(members))
        pos += m
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out[rng.permutation(n)]


def vectors_at(n: int, seed: int = 0, real_limit: int | None = None) -> Vectors:
    """``n`` vectors: every real one first, then synthesised ones; cached on disk.

    ``real_limit`` (``--smoke``): only that many real vectors, embedded if the cache lacks
    them (:func:`real_vectors_cached`); the cached file names say so.
    """
    tag = "" if real_limit is None else f"-r{real_limit}"
    path = BENCH_DIR / f"vectors-{n}-{seed}{tag}.npy"
    if path.exists():
        cached: Vectors = np.load(path, mmap_mode="r")
        return cached
    real = real_vectors_cached(real_limit)
    if n <= len(real):
        out = real[:n].copy()
    else:
        out = np.vstack([real, synthesize(real, n - len(real), seed)])
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


def real_vectors_cached(limit: int | None = None) -> Vectors:
    """:func:`real_paragraph_vectors`, kept in the bench directory after the first call.

    ``limit`` (``--smoke``): the first ``limit`` PolitiFact-1k paragraphs, those missing from
    the embedding cache embedded (see :func:`real_paragraph_vectors`).
    """
    tag = "" if limit is None else f"-{limit}"
    path = BENCH_DIR / f"real-politifact-1k{tag}.npy"
    if path.exists():
        cached: Vectors = np.load(path)
        return cached
    real = real_paragraph_vectors() if limit is None else real_paragraph_vectors(limit, True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, real)
    return real


def gz_lines(path: Path) -> Iterator[dict[str, Any]]:
    """JSON lines of a (gzipped) file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def zscores(scores: dict[str, float]) -> tuple[dict[str, float], float]:
    """``scores`` z-normalised (population std; all equal: 0), and the normalised minimum
    (the value of an entry a list lacks), for the article-level fusion experiments."""
    if not scores:
        return {}, 0.0
    mean, std = statistics.fmean(scores.values()), statistics.pstdev(scores.values()) or 1.0
    normal = {k: (v - mean) / std for k, v in scores.items()}
    return normal, min(normal.values())
