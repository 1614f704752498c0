"""Embedding backends: torch fp32 sentence-transformers against int8 ONNX Runtime.

Texts: the first ``--paragraphs`` paragraphs (default 500) of the PolitiFact-1k corpus, chunked
by the product's chunker with the model's token counter (as ``newssearch ingest`` does), and
``--queries`` real PolitiFact query sentences (default 100; 10-60 words). Model: the bundled
all-MiniLM-L6-v2 for both backends.

Measured, in this order:

- ``export``: :class:`indexer.onnx_embedder.OnnxEmbedder` exporting into a fresh, empty cache
  directory (seconds, first use) and a second instance loading that cache (seconds).
- ``passages``: passages/s embedding all paragraphs with batch 32 on 2 threads
  (``torch.set_num_threads(2)``; ONNX ``intra_op_num_threads=2``), after a warm-up batch.
  The backends alternate for ``--rounds`` rounds (default 2) and each reports its best round
  and all rounds, which cancels most drift of a shared machine's load. ``*_cpu_s`` is process
  CPU time of the best round.
- ``query``: per-query latency of ``embed_query`` with 1 thread (the serving configuration),
  every query once per round after 10 warm-up queries, alternating backends per round; wall
  clock (``latency``) and process CPU time (``cpu``: the estimate for an idle core).
- ``quality``: cosine of int8 to fp32 vectors (paragraphs, embedded in batches; and queries),
  and ranking agreement over the paragraphs: share of queries whose top-1 paragraph is the
  same, mean overlap of the top-10 sets, share of int8 top-1s within the fp32 top 3, and,
  where the top-1 differs, the mean fp32 score gap between the two picks (small = near-tie).

Run: ``.venv/bin/python benchmarks/embedding_backends.py [--paragraphs 500] [--queries 100]
[--rounds 2] [--onnx-cache DIR] [--out FILE]``. ``--onnx-cache``: use (and keep) that ONNX cache
instead of exporting into a fresh temporary one, so ``export_s`` times a load when the model is
already there. ``--smoke``: a seconds-long run that only shows the script works (32
paragraphs, 12 queries, one round, the product's own ONNX cache; no figures to quote).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    Vectors,
    emit,
    latency_summary,
    machine,
    politifact_articles,
    politifact_queries,
    rss_mb,
)

from indexer.chunker import chunk_article
from indexer.embedder import SentenceTransformerEmbedder
from indexer.onnx_embedder import OnnxEmbedder, default_cache_dir
from indexer.settings import Settings

BATCH = 32
#: ``--smoke``: paragraphs, queries (at least the 10 warm-up ones) and rounds of a short run.
SMOKE_PARAGRAPHS, SMOKE_QUERIES, SMOKE_ROUNDS = 32, 12, 1


def paragraphs(n: int, count_tokens: Callable[[str], int]) -> list[str]:
    """The first ``n`` distinct PolitiFact-1k paragraphs, chunked as ingest chunks them."""
    seen: dict[str, None] = {}
    for article in politifact_articles():
        for p in chunk_article(article, count_tokens=count_tokens):
            seen.setdefault(p.text, None)
        if len(seen) >= n:
            break
    return list(seen)[:n]


def timed_passes(embed: Callable[[Sequence[str]], Vectors], texts: list[str]) -> dict[str, Any]:
    """Wall and CPU seconds of one ``embed(texts)``, plus the vectors."""
    c = time.process_time()
    with Timer() as t:
        vectors = embed(texts)
    return {"s": t.seconds, "cpu_s": time.process_time() - c, "vectors": vectors}


def query_timings(
    embed: Callable[[str], Vectors], queries: list[str]
) -> tuple[list[float], list[float]]:
    """Per-query wall and CPU seconds of ``embed`` (after 10 warm-up queries)."""
    for q in queries[:10]:
        embed(q)
    wall, cpu = [], []
    for q in queries:
        s, c = time.perf_counter(), time.process_time()
        embed(q)
        wall.append(time.perf_counter() - s)
        cpu.append(time.process_time() - c)
    return wall, cpu


def top_k(queries: Vectors, passages: Vectors, k: int) -> np.ndarray[Any, Any]:
    """Indices of the ``k`` best passages per query, best first."""
    scores = queries @ passages.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=None, help="default 500")
    ap.add_argument("--queries", type=int, default=None, help="default 100")
    ap.add_argument("--rounds", type=int, default=None, help="default 2")
    ap.add_argument(
        "--onnx-cache", type=Path, help="ONNX cache to use and keep (default: a fresh one)"
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --paragraphs {SMOKE_PARAGRAPHS} --queries {SMOKE_QUERIES} "
        f"--rounds {SMOKE_ROUNDS}, the product's ONNX cache (NEWSSEARCH_MODEL_CACHE, "
        f"default {default_cache_dir()})",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    n_paragraphs = args.paragraphs or (SMOKE_PARAGRAPHS if args.smoke else 500)
    n_queries = args.queries or (SMOKE_QUERIES if args.smoke else 100)
    rounds = args.rounds or (SMOKE_ROUNDS if args.smoke else 2)
    onnx_cache: Path | None = args.onnx_cache
    if args.smoke and onnx_cache is None:
        onnx_cache = Settings().model_cache or default_cache_dir()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    result: dict[str, Any] = {"machine": machine(), "batch_size": BATCH}
    if args.smoke:
        result["smoke"] = True
    fp32 = SentenceTransformerEmbedder(batch_size=BATCH)
    texts = paragraphs(n_paragraphs, fp32.count_tokens)
    queries = politifact_queries(n_queries)
    result["texts"] = {
        "paragraphs": len(texts),
        "paragraph_tokens_mean": round(float(np.mean([fp32.count_tokens(t) for t in texts])), 1),
        "queries": len(queries),
        "query_words_mean": round(float(np.mean([len(q.split()) for q in queries])), 1),
    }
    print(f"{len(texts)} paragraphs, {len(queries)} queries", file=sys.stderr)

    cache = onnx_cache or Path(tempfile.mkdtemp(prefix="onnx-bench-"))
    try:
        with Timer() as t_export:
            int8_2 = OnnxEmbedder(batch_size=BATCH, threads=2, cache_dir=cache)
            _ = int8_2.dim
        with Timer() as t_load:
            int8_1 = OnnxEmbedder(batch_size=BATCH, threads=1, cache_dir=cache)
            _ = int8_1.dim
        result["export"] = {
            "fresh_cache": onnx_cache is None,
            "export_s": round(t_export.seconds, 2),
            "load_cached_s": round(t_load.seconds, 2),
            "model_file_mb": round(int8_2.model_path.stat().st_size / 2**20, 1),
            "probe_min_cosine": int8_2.meta.get("probe_min_cosine"),
        }
        print(f"export {t_export.seconds:.1f} s, load {t_load.seconds:.2f} s", file=sys.stderr)

        # -- throughput, 2 threads ------------------------------------------------------------
        torch.set_num_threads(2)
        fp32.embed_passages(texts[:BATCH])
        int8_2.embed_passages(texts[:BATCH])
        runs: dict[str, list[dict[str, Any]]] = {"torch_fp32": [], "onnx_int8": []}
        backends: dict[str, Callable[[Sequence[str]], Vectors]] = {
            "torch_fp32": fp32.embed_passages,
            "onnx_int8": int8_2.embed_passages,
        }
        for r in range(rounds):
            for name, embed in backends.items():
                runs[name].append(timed_passes(embed, texts))
                pps = len(texts) / runs[name][-1]["s"]
                print(f"round {r}: {name} {pps:.1f} passages/s", file=sys.stderr)
        passages: dict[str, Any] = {}
        for name, rows in runs.items():
            best = min(rows, key=lambda row: row["s"])
            passages[name] = {
                "passages_per_s": round(len(texts) / best["s"], 1),
                "rounds_passages_per_s": [round(len(texts) / row["s"], 1) for row in rows],
                "cpu_s": round(best["cpu_s"], 2),
            }
        passages["speedup"] = round(
            passages["onnx_int8"]["passages_per_s"] / passages["torch_fp32"]["passages_per_s"], 2
        )
        result["passages_2_threads"] = passages

        # -- single-query latency, 1 thread ---------------------------------------------------
        torch.set_num_threads(1)
        walls: dict[str, list[float]] = {"torch_fp32": [], "onnx_int8": []}
        cpus: dict[str, list[float]] = {"torch_fp32": [], "onnx_int8": []}
        query_backends: dict[str, Callable[[str], Vectors]] = {
            "torch_fp32": fp32.embed_query,
            "onnx_int8": int8_1.embed_query,
        }
        for _ in range(rounds):
            for name, embed_one in query_backends.items():
                wall, cpu = query_timings(embed_one, queries)
                walls[name] += wall
                cpus[name] += cpu
        result["query_1_thread"] = {
            name: {"latency": latency_summary(walls[name]), "cpu": latency_summary(cpus[name])}
            for name in walls
        }

        # -- quality --------------------------------------------------------------------------
        ref_p = runs["torch_fp32"][0]["vectors"]
        got_p = runs["onnx_int8"][0]["vectors"]
        ref_q = np.vstack([fp32.embed_query(q) for q in queries])
        got_q = np.vstack([int8_1.embed_query(q) for q in queries])
        cos_p = (ref_p * got_p).sum(axis=1)
        cos_q = (ref_q * got_q).sum(axis=1)
        top_ref, top_got = top_k(ref_q, ref_p, 10), top_k(got_q, got_p, 10)
        overlap = [len(set(a) & set(b)) / 10 for a, b in zip(top_ref, top_got, strict=True)]
        differ = top_ref[:, 0] != top_got[:, 0]
        qrows = np.arange(len(queries))
        fp32_scores = ref_q @ ref_p.T
        gap = fp32_scores[qrows, top_ref[:, 0]] - fp32_scores[qrows, top_got[:, 0]]
        result["quality"] = {
            "paragraph_cosine_mean": round(float(cos_p.mean()), 4),
            "paragraph_cosine_min": round(float(cos_p.min()), 4),
            "query_cosine_mean": round(float(cos_q.mean()), 4),
            "query_cosine_min": round(float(cos_q.min()), 4),
            "top1_agreement": round(float((top_ref[:, 0] == top_got[:, 0]).mean()), 3),
            "top10_overlap_mean": round(float(np.mean(overlap)), 3),
            "int8_top1_in_fp32_top3": round(
                float(np.mean([g in r[:3] for g, r in zip(top_got[:, 0], top_ref, strict=True)])),
                3,
            ),
            # Where the top-1 differs: how much lower fp32 scores int8's pick (near-ties?).
            "top1_differs_fp32_score_gap_mean": round(float(gap[differ].mean()), 4)
            if differ.any()
            else 0.0,
        }
        result["rss_mb"] = round(rss_mb())
    finally:
        if onnx_cache is None:
            shutil.rmtree(cache, ignore_errors=True)
    result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
