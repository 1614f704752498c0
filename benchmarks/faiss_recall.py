"""FAISS index type by size: HNSW recall@10 against exact search, and per-query latency.

Vectors: the real all-MiniLM-L6-v2 vectors of the PolitiFact-1k paragraphs (read from the
product's embedding cache, see ``common.real_paragraph_vectors``), topped up to each size with
vectors synthesised from a Gaussian mixture fitted on them (``common.synthesize``). Queries:
real PolitiFact query sentences embedded with the same model. Ground truth: exact inner
product (``IndexFlatIP``). HNSW is the product's :class:`indexer.vectors.VectorStore` forced
into HNSW mode; searches run one at a time with one FAISS thread (``configure_threads(1)``),
as the server runs them. Built HNSW stores are cached in the bench directory, so a rerun
only searches.

Run: ``.venv/bin/python benchmarks/faiss_recall.py [--sizes 10000,100000,1000000]
[--ef 32,64,96,128] [--out FILE]``. ``--smoke``: a seconds-long run that only shows the script
works (1,000 and 5,000 vectors from 64 real ones, embedded into the embedding cache if it lacks
them; 20 queries; no figures to quote).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DIR,
    SMOKE_REAL_VECTORS,
    Vectors,
    emit,
    latency_summary,
    machine,
    politifact_queries,
    query_vectors,
    real_vectors_cached,
    rss_mb,
    synthesize,
    vectors_at,
)

from indexer.vectors import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    VectorStore,
    configure_threads,
)

#: ``--smoke``: sizes, efSearch values and queries of a seconds-long run.
SMOKE_SIZES, SMOKE_EF, SMOKE_QUERIES = "1000,5000", "32,96", 20


def hnsw_path(
    n: int, m: int = HNSW_M, efc: int = HNSW_EF_CONSTRUCTION, real_limit: int | None = None
) -> Path:
    """Where :func:`hnsw_store` caches the store for ``n`` vectors."""
    tag = "" if real_limit is None else f"-r{real_limit}"
    return BENCH_DIR / f"hnsw-{n}-M{m}-efc{efc}{tag}.faiss"


def hnsw_store(
    n: int, m: int = HNSW_M, efc: int = HNSW_EF_CONSTRUCTION, real_limit: int | None = None
) -> tuple[VectorStore, float]:
    """The product's store in HNSW mode over ``vectors_at(n, real_limit=...)`` under ids
    ``0..n-1``.

    Built once (timed, all cores) and cached; returns the store and its build seconds.
    """
    path = hnsw_path(n, m, efc, real_limit)
    meta = path.with_suffix(".json")
    marker = path.with_suffix(".building")
    waited = 0
    while marker.exists() and not meta.exists() and waited < 3600:  # another run builds it
        if waited == 0:
            print(f"  waiting for the build of {path.name} by another run", file=sys.stderr)
        time.sleep(30)
        waited += 30
    if path.exists() and meta.exists():
        store = VectorStore(path, 384, hnsw_threshold=0, hnsw_m=m, ef_construction=efc)
        return store, float(json.loads(meta.read_text())["build_s"])
    x = vectors_at(n, real_limit=real_limit)
    path.unlink(missing_ok=True)
    marker.touch()
    store = VectorStore(path, x.shape[1], hnsw_threshold=0, hnsw_m=m, ef_construction=efc)
    configure_threads(None)
    started = time.perf_counter()
    step = 50_000
    for i in range(0, n, step):
        store.add(np.arange(i, min(i + step, n)).tolist(), np.ascontiguousarray(x[i : i + step]))
        print(
            f"  built {min(i + step, n)}/{n} ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )
    build_s = time.perf_counter() - started
    store.save()
    meta.write_text(json.dumps({"build_s": build_s}))
    marker.unlink(missing_ok=True)
    return store, build_s


def exact(x: Vectors, q: Vectors, k: int) -> tuple[np.ndarray, list[float]]:
    """Ground-truth ids (batch) and single-query exact latencies (one thread, 50 queries)."""
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(np.ascontiguousarray(x))
    configure_threads(None)
    _, truth = index.search(q, k)
    configure_threads(1)
    lat = []
    for row in q[:50]:
        s = time.perf_counter()
        index.search(row.reshape(1, -1), k)
        lat.append(time.perf_counter() - s)
    return truth, lat


def recall(got: list[list[int]], truth: np.ndarray, k: int) -> float:
    return float(
        np.mean([len(set(g) & set(t[:k].tolist())) / k for g, t in zip(got, truth, strict=True)])
    )


def realism(real: Vectors, q: Vectors) -> dict[str, Any]:
    """Real vs synthesised at the same size: neighbour similarities and HNSW recall."""
    fake = synthesize(real, len(real), seed=99)
    out: dict[str, Any] = {"n": len(real)}
    for name, x in (("real", real), ("synthetic", fake)):
        index = faiss.IndexFlatIP(x.shape[1])
        index.add(x)
        d, truth = index.search(q, 10)
        inner = x[np.random.default_rng(0).choice(len(x), min(500, len(x)), replace=False)]
        dd, _ = index.search(inner, 11)  # neighbour structure among corpus vectors
        store = VectorStore(Path("/nonexistent/x"), x.shape[1], hnsw_threshold=0)
        store.add(list(range(len(x))), x)
        got = [[i for i, _ in store.search(row, 10)] for row in q]
        out[name] = {
            "query_top1_cos": round(float(d[:, 0].mean()), 3),
            "query_top10_cos": round(float(d[:, 9].mean()), 3),
            "doc_nn1_cos": round(float(dd[:, 1].mean()), 3),
            "doc_nn10_cos": round(float(dd[:, 10].mean()), 3),
            "mean_pairwise_cos": round(float((x[:2000] @ x[:2000].T).mean()), 3),
            "hnsw_recall@10": round(recall(got, truth, 10), 4),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="default 10000,100000,1000000")
    ap.add_argument("--ef", default=None, help="default 32,64,96,128,192,256,512")
    ap.add_argument("--queries", type=int, default=None, help="default 200")
    ap.add_argument("--no-realism", action="store_true")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --sizes {SMOKE_SIZES} --ef {SMOKE_EF} --queries {SMOKE_QUERIES}, "
        f"{SMOKE_REAL_VECTORS} real vectors (embedded if the cache lacks them)",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else "10000,100000,1000000")
    efs = args.ef or (SMOKE_EF if args.smoke else "32,64,96,128,192,256,512")
    nq = args.queries or (SMOKE_QUERIES if args.smoke else 200)
    real_limit = SMOKE_REAL_VECTORS if args.smoke else None
    k = 10
    texts = politifact_queries(nq)
    q = query_vectors(texts)
    real = real_vectors_cached(real_limit)
    result: dict[str, Any] = {
        "machine": machine(),
        "real_vectors": len(real),
        "queries": len(texts),
        "hnsw": {"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        "sizes": {},
    }
    if args.smoke:
        result["smoke"] = True
    configure_threads(1)
    if not args.no_realism:
        result["realism"] = realism(real, q)
    for n in [int(s) for s in sizes.split(",")]:
        print(f"size {n} ...", file=sys.stderr)
        x = vectors_at(n, real_limit=real_limit)
        truth, exact_lat = exact(np.asarray(x), q, k)
        store, build_s = hnsw_store(n, real_limit=real_limit)
        configure_threads(1)
        row: dict[str, Any] = {
            "exact": latency_summary(exact_lat),
            "hnsw_build_s": round(build_s, 1),
            "rss_mb_with_store": round(rss_mb()),
            "ef": {},
        }
        for ef in [int(e) for e in efs.split(",")]:
            store.ef_search = ef
            for row_q in q[:20]:
                store.search(row_q, k)
            lat, got = [], []
            for row_q in q:
                s = time.perf_counter()
                hits = store.search(row_q, k)
                lat.append(time.perf_counter() - s)
                got.append([i for i, _ in hits])
            row["ef"][ef] = {"recall@10": round(recall(got, truth, k), 4), **latency_summary(lat)}
            print(f"  ef={ef}: {row['ef'][ef]}", file=sys.stderr)
        # Filtered search (the product's default efSearch): exact fallback vs widened HNSW.
        store.ef_search = None  # the product default for this size
        rng = np.random.default_rng(1)
        row["filtered"] = {}
        for frac in (0.01, 0.1, 0.5):
            allowed = np.sort(rng.choice(n, max(1, int(n * frac)), replace=False))
            allowed_list = allowed.tolist()
            sub = np.asarray(x)[allowed]
            index = faiss.IndexFlatIP(sub.shape[1])
            index.add(np.ascontiguousarray(sub))
            _, sub_truth = index.search(q[:50], k)
            lat, got = [], []
            for row_q in q[:50]:
                s = time.perf_counter()
                hits = store.search(row_q, k, allowed_list)
                lat.append(time.perf_counter() - s)
                got.append([i for i, _ in hits])
            truth_ids = allowed[sub_truth]
            row["filtered"][frac] = {
                "recall@10": round(recall(got, truth_ids, k), 4),
                **latency_summary(lat),
            }
            print(f"  filter {frac}: {row['filtered'][frac]}", file=sys.stderr)
        result["sizes"][n] = row
        del store
    result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
