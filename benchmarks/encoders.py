"""Encoders side by side on every dev set and query language (docs/evaluation.md "Encoders").

    python benchmarks/encoders.py --encoder use --root /tmp/ml-eval --out use.json

For one encoder (``minilm`` = the default int8 all-MiniLM-L6-v2, ``use`` =
use-multilingual-v3): per data set, ingest the corpus into ``ROOT/<encoder>/<set>`` (embedded
backend, cache ``ROOT/cache.sqlite``), calibrate the semantic threshold on PolitiFact-1k
*train* (precision 0.5, docs/result-set.md) and store it in every index of the encoder, then run
``search_api.evaluation.evaluate`` for bm25 / dense / hybrid and ``dense-all`` (dense ranking
and ``hybrid-all``
(each without the threshold's set restriction, ``min_similarity=-1``) on each split and query
language (``queries.<lang>.jsonl`` swapped in through a symlinked copy of the data set). Also
measures the raw encoder throughput (paragraphs/s, 2 threads, no cache) and single-thread
query-embedding latency. Writes one JSON file.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import make_embedder, open_stores
from search_api import evaluation
from search_api.calibrate import calibrate
from search_api.search.calibration import META_KEY

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "relevance"
MODELS = {"minilm": "all-MiniLM-L6-v2", "use": "use-multilingual-v3"}
#: (data set, split, query languages); None = the set's own queries.jsonl.
RUNS: list[tuple[str, str, list[str | None]]] = [
    ("checkthat2021-politifact-1k", "dev", [None]),
    ("checkthat2021-politifact-1k", "train", [None]),
    ("gnad-xling", "test", ["de", "en", "ru"]),
    ("bbc-xling", "test", ["en", "de", "ru"]),
]
VARIANTS = {
    "dense-all": {"mode": "dense", "min_similarity": -1.0},
    "hybrid-all": {"mode": "hybrid", "min_similarity": -1.0},
}


def language_copy(dataset: Path, lang: str | None, root: Path) -> Path:
    """``dataset`` itself, or a copy (symlinks) whose queries.jsonl is queries.<lang>.jsonl."""
    if lang is None:
        return dataset
    copy = root / "data" / f"{dataset.name}-{lang}"
    copy.mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl.gz", "qrels"):
        if not (copy / name).exists():
            os.symlink(dataset / name, copy / name)
    target = copy / "queries.jsonl"
    if target.is_symlink() or target.exists():
        target.unlink()
    os.symlink(dataset / f"queries.{lang}.jsonl", target)
    return copy


def speed(settings: Settings, texts: list[str], queries: list[str]) -> dict[str, float]:
    """Raw passages/s (batched, the settings' threads) and one-thread query latency (ms)."""
    embedder = make_embedder(settings)
    embedder.embed_passages(texts[:8])
    started = time.perf_counter()
    embedder.embed_passages(texts)
    rate = len(texts) / (time.perf_counter() - started)
    single = make_embedder(settings, threads=1)
    single.embed_query("warm up")
    lat = []
    for q in queries:
        t = time.perf_counter()
        single.embed_query(q)
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "paragraphs_per_s": round(rate, 1),
        "query_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "query_p99_ms": round(float(np.percentile(lat, 99)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", choices=sorted(MODELS), required=True)
    parser.add_argument("--root", type=Path, default=Path("/tmp/ml-eval"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    evaluation.MEASURES["Recall@10"] = ir_measures.parse_measure("R@10")
    model = MODELS[args.encoder]
    out: dict[str, Any] = {"encoder": model, "ingest": {}, "runs": []}

    def settings_for(name: str) -> Settings:
        return Settings(
            index=args.root / args.encoder / name,
            model=model,
            lexical="embedded",
            embedding_cache=args.root / "cache.sqlite",
            model_threads=args.threads,
        )

    for name in dict.fromkeys(r[0] for r in RUNS):
        stores = open_stores(settings_for(name))
        try:
            started = time.perf_counter()
            report = ingest(stores, [DATA / name])
            seconds = time.perf_counter() - started
            out["ingest"][name] = {
                "seconds": round(seconds, 1),
                "paragraphs": report.as_dict().get("paragraphs"),
                "embedded": stores.embedder.computed,
                "total_paragraphs": stores.catalog.counts().get("paragraphs"),
            }
            print(name, out["ingest"][name], flush=True)
        finally:
            stores.close()

    stores = open_stores(settings_for("checkthat2021-politifact-1k"))
    try:
        result = calibrate(stores, DATA / "checkthat2021-politifact-1k", split="train")
    finally:
        stores.close()
    out["threshold"] = result.threshold
    print("threshold", result.threshold, flush=True)
    for name in dict.fromkeys(r[0] for r in RUNS):
        stores = open_stores(settings_for(name))
        stores.catalog.set_meta(META_KEY, str(result.threshold))
        stores.close()

    for name, split, langs in RUNS:
        for lang in langs:
            root = language_copy(DATA / name, lang, args.root)
            started = time.perf_counter()
            evaluated = evaluation.evaluate(
                root, settings_for(name), split=split, variants=VARIANTS, ingest_corpus=False
            )
            row: dict[str, Any] = {
                "dataset": name,
                "split": split,
                "lang": lang,
                "results": evaluated.results,
            }
            row["seconds"] = round(time.perf_counter() - started, 1)
            out["runs"].append(row)
            print(json.dumps(row), flush=True)

    with gzip.open(DATA / "gnad-xling" / "corpus.jsonl.gz", "rt") as fh:
        texts = [" ".join(json.loads(line)["text"].split()[:120]) for line in fh][:400]
    with (DATA / "gnad-xling" / "queries.en.jsonl").open() as fh:
        queries = [json.loads(line)["text"] for line in fh][:100]
    out["speed"] = speed(settings_for("speed"), texts, queries)
    print("speed", out["speed"], flush=True)
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
