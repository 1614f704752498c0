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
query-embedding latency. Prints the result as JSON (progress on stderr) and writes it to
``--out``. ``--smoke``: the same steps on a few judged queries and a dozen filler articles per
data set (seconds; the figures mean nothing).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA as SHARED_DATA  # also puts the repository on sys.path
from common import emit, machine

from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import make_embedder, open_stores
from search_api import evaluation
from search_api.calibrate import calibrate
from search_api.search.calibration import META_KEY

DATA = SHARED_DATA / "relevance"
#: ``--smoke``: judged queries (and their known items) kept per data set, plus filler articles.
SMOKE_QUERIES, SMOKE_FILLER = 3, 12
#: ``--encoder`` -> (primary encoder, extra encoders); ``minilm+use`` is the product default.
MODELS: dict[str, tuple[str, list[str]]] = {
    "minilm": ("all-MiniLM-L6-v2", []),
    "use": ("use-multilingual-v3", []),
    "minilm+use": ("all-MiniLM-L6-v2", ["use-multilingual-v3"]),
}
#: Hybrid searches timed per configuration (PolitiFact claims, then gnad-xling English topics).
LATENCY_QUERIES = 200
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


def smoke_copy(dataset: Path, root: Path) -> Path:
    """A tiny copy of ``dataset``: per qrels split its first :data:`SMOKE_QUERIES` judged
    queries (every query language) with their judged articles, plus filler articles."""
    copy = root / "data" / f"smoke-{dataset.name}"
    (copy / "qrels").mkdir(parents=True, exist_ok=True)
    docs: set[str] = set()
    queries: set[str] = set()
    for qrels in sorted((dataset / "qrels").glob("*.tsv")):
        header, *lines = qrels.read_text(encoding="utf-8").splitlines()
        judged = [line.split("\t") for line in lines if int(line.split("\t")[2]) > 0]
        chosen = list(dict.fromkeys(qid for qid, *_ in judged))[:SMOKE_QUERIES]
        kept = [row for row in judged if row[0] in chosen]
        queries.update(chosen)
        docs.update(row[1] for row in kept)
        body = [header, *("\t".join(row) for row in kept)]
        (copy / "qrels" / qrels.name).write_text("\n".join(body) + "\n", encoding="utf-8")
    with gzip.open(dataset / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [
            line for n, line in enumerate(fh) if n < SMOKE_FILLER or json.loads(line)["_id"] in docs
        ]
    with gzip.open(copy / "corpus.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(rows)
    for source in dataset.glob("queries*.jsonl"):
        lines = source.read_text(encoding="utf-8").splitlines()
        picked = [line for line in lines if json.loads(line)["_id"] in queries]
        (copy / source.name).write_text("\n".join(picked) + "\n", encoding="utf-8")
    return copy


def index_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the options of the scripts that measure a variant of existing evaluation indexes
    (``--indexes DIR/<data set>`` or ``--smoke``, ``--root``, ``--cache``, ``--out``)."""
    parser.add_argument("--indexes", type=Path, help="DIR/<data set>: the evaluation indexes.")
    parser.add_argument("--root", type=Path, required=True, help="Work directory.")
    parser.add_argument("--cache", type=Path, default=None, help="Embedding cache file.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="A seconds-long run (tiny data).")
    args = parser.parse_args()
    if not args.smoke and args.indexes is None:
        parser.error("--indexes is required (or --smoke)")
    return args


def speed(settings: Settings, texts: list[str], queries: list[str]) -> dict[str, float]:
    """Raw passages/s (batched, the settings' threads) and one-thread query latency (ms) of
    every encoder of ``settings`` together (a paragraph and a query go through each)."""
    names = [settings.model, *settings.extra_models]
    embedders = [make_embedder(settings, model=name) for name in names]
    for embedder in embedders:
        embedder.embed_passages(texts[:8])
    started = time.perf_counter()
    for embedder in embedders:
        embedder.embed_passages(texts)
    rate = len(texts) / (time.perf_counter() - started)
    singles = [make_embedder(settings, threads=1, model=name) for name in names]
    for single in singles:
        single.embed_query("warm up")
    lat = []
    for q in queries:
        t = time.perf_counter()
        for single in singles:
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
    parser.add_argument("--smoke", action="store_true", help="A seconds-long run (tiny data).")
    args = parser.parse_args()
    sets = {name: DATA / name for name in dict.fromkeys(r[0] for r in RUNS)}
    if args.smoke:
        sets = {name: smoke_copy(path, args.root) for name, path in sets.items()}
    evaluation.MEASURES["Recall@10"] = ir_measures.parse_measure("R@10")
    model, extras = MODELS[args.encoder]
    out: dict[str, Any] = {"encoder": args.encoder, "machine": machine(), "ingest": {}, "runs": []}
    if args.smoke:
        out["smoke"] = True

    def settings_for(name: str) -> Settings:
        return Settings(
            index=args.root / args.encoder / name,
            model=model,
            extra_models=extras,
            lexical="embedded",
            embedding_cache=args.root / "cache.sqlite",
            model_threads=args.threads,
        )

    for name in dict.fromkeys(r[0] for r in RUNS):
        stores = open_stores(settings_for(name))
        try:
            started = time.perf_counter()
            report = ingest(stores, [sets[name]])
            seconds = time.perf_counter() - started
            out["ingest"][name] = {
                "seconds": round(seconds, 1),
                "paragraphs": report.as_dict().get("paragraphs"),
                "embedded": sum(s.embedder.computed for s in stores.spaces),
                "total_paragraphs": stores.catalog.counts().get("paragraphs"),
            }
            print(name, out["ingest"][name], file=sys.stderr, flush=True)
        finally:
            stores.close()

    stores = open_stores(settings_for("checkthat2021-politifact-1k"))
    try:
        result = calibrate(stores, sets["checkthat2021-politifact-1k"], split="train")
    finally:
        stores.close()
    out["threshold"] = result.threshold
    print("threshold", result.threshold, file=sys.stderr, flush=True)
    for name in dict.fromkeys(r[0] for r in RUNS):
        stores = open_stores(settings_for(name))
        stores.catalog.set_meta(META_KEY, str(result.threshold))
        stores.close()

    for name, split, langs in RUNS:
        for lang in langs:
            root = language_copy(sets[name], lang, args.root)
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
            print(json.dumps(row), file=sys.stderr, flush=True)

    with gzip.open(DATA / "gnad-xling" / "corpus.jsonl.gz", "rt") as fh:
        texts = [" ".join(json.loads(line)["text"].split()[:120]) for line in fh]
    with (DATA / "gnad-xling" / "queries.en.jsonl").open() as fh:
        queries = [json.loads(line)["text"] for line in fh]
    texts, queries = (texts[:16], queries[:10]) if args.smoke else (texts[:400], queries[:100])
    out["speed"] = speed(settings_for("speed"), texts, queries)
    claims = evaluation.load_beir(sets["checkthat2021-politifact-1k"], "dev").queries
    timed = [*claims.values(), *queries][: 10 if args.smoke else LATENCY_QUERIES]
    out["search"] = search_latency(settings_for("checkthat2021-politifact-1k"), timed)
    emit(out, args.out)


def search_latency(settings: Settings, queries: list[str]) -> dict[str, float]:
    """p50 / p99 (ms) of a hybrid first page on an index of this configuration, one model and
    one FAISS thread (serving), every query embedded (not cached) and its set computed afresh."""
    from indexer.vectors import configure_threads
    from search_api.engine import SearchEngine
    from search_api.schemas import SearchRequest

    configure_threads(1)
    stores = open_stores(settings.model_copy(update={"model_threads": 1}))
    try:
        engine = SearchEngine(stores)
        engine.warm_up()
        lat = []
        for q in queries:
            text = evaluation.plain_query(q)
            if not text:
                continue
            engine._sets.clear()
            t = time.perf_counter()
            engine.search(SearchRequest(q=text, fold=False))
            lat.append((time.perf_counter() - t) * 1000)
        engine.close()
    finally:
        stores.close()
    return {
        "queries": len(lat),
        "hybrid_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "hybrid_p99_ms": round(float(np.percentile(lat, 99)), 1),
    }


if __name__ == "__main__":
    main()
