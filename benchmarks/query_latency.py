"""End-to-end ``SearchEngine.search`` latency per mode at 10k, 100k and 1M paragraphs.

Index: built directly into the product's stores (catalog + lexical backend + VectorStore),
not through ``ingest``, so 1M paragraphs build in minutes: real paragraph texts (the news
corpora, then the full PolitiFact corpus, chunked by the product's chunker; past the real
pool, perturbed copies: 15 % of words dropped, new article ids), with vectors from
``common.vectors_at`` (real MiniLM vectors, then vectors synthesised from their statistics),
so no paragraph is embedded. Above the HNSW threshold the store reuses the graph built by
``faiss_recall.py`` for the same vectors (relabelled with the paragraphs' ids).

Measurement: a fresh process opens the stores (as ``newssearch serve`` does) and runs 200
real PolitiFact query sentences per mode, sequentially, with one torch thread and one FAISS
thread (the serving configuration). The query embedding is *included*: the query LRU cache
is disabled (size 0) and the queries are not in any cache, so every search embeds its query.
Serving memory is the RSS of that process after the queries. Besides wall-clock latency
it reports per-query CPU time (``*_cpu``): on a shared, loaded machine that is the figure
that estimates latency on an idle core.

Run: ``.venv/bin/python benchmarks/query_latency.py [--sizes 10000,100000,1000000]
[--backend embedded|elasticsearch --es-url URL] [--out FILE]``. ``--smoke``: a seconds-long run
that only shows the script works (2,000 paragraphs, 20 queries, 64 real vectors embedded into
the embedding cache if missing; no figures to quote).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DIR,
    MODEL_KEY,
    NEWS,
    SMOKE_REAL_VECTORS,
    Timer,
    emit,
    latency_summary,
    machine,
    politifact_articles,
    politifact_queries,
    rss_mb,
    vectors_at,
)

from indexer.catalog import Catalog, vec_id
from indexer.chunker import chunk_article
from indexer.models import Article, Paragraph
from indexer.pipeline import article_documents
from indexer.readers import read_paths
from indexer.settings import Settings
from indexer.vectors import DEFAULT_HNSW_THRESHOLD, VectorStore

Item = tuple[Article, list[Paragraph]]
#: ``--smoke``: sizes, queries and real vectors of a seconds-long run.
SMOKE_SIZES, SMOKE_QUERIES, SMOKE_REAL = "2000", 20, SMOKE_REAL_VECTORS


def real_items() -> Iterator[Item]:
    """(article, paragraphs) of the news corpora, then the full PolitiFact corpus."""
    for path in NEWS:
        lang = path.name.split(".")[-2]
        for article in read_paths([path]):
            if article.language is None:
                article = article.model_copy(update={"language": lang})
            yield article, chunk_article(article)
    for article in politifact_articles(full=True):
        yield article, chunk_article(article)


def items(n: int) -> Iterator[Item]:
    """Articles whose paragraphs add up to exactly ``n`` (perturbed copies past the pool)."""
    pool: list[Item] = []
    total = 0
    for art, paras in real_items():
        if not paras:
            continue
        pool.append((art, paras))
        if total + len(paras) >= n:
            yield art, paras[: n - total]
            return
        total += len(paras)
        yield art, paras
    rng = random.Random(7)
    rep = 0
    while True:
        rep += 1
        for art, paras in pool:
            aid = f"{art.article_id}~{rep}"
            new_art = art.model_copy(update={"article_id": aid})
            out = []
            for p in paras:
                words = [w for w in p.text.split() if rng.random() > 0.15] or p.text.split()
                text = " ".join(words)
                out.append(
                    replace(
                        p,
                        article_id=aid,
                        paragraph_id=Paragraph.make_id(aid, p.position),
                        text=text,
                        end=p.start + len(text),
                    )
                )
            take = out[: n - total]
            yield new_art, take
            total += len(take)
            if total >= n:
                return


def settings_for(directory: Path, backend: str, es_url: str | None) -> Settings:
    extra: dict[str, Any] = {"es_url": es_url} if es_url else {}
    return Settings(
        index=directory, lexical=backend, embedding_cache=None, model_threads=1, **extra
    )


def build(
    n: int, directory: Path, backend: str, es_url: str | None, real_limit: int | None = None
) -> dict[str, Any]:
    """Write ``n`` paragraphs into catalog, lexical backend and vector store at ``directory``.

    ``real_limit``: the real vectors behind ``vectors_at`` (``--smoke``)."""
    from indexer.stores import make_lexical

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    settings = settings_for(directory, backend, es_url)
    catalog = Catalog(directory / "catalog.sqlite")
    catalog.set_meta("model_key", MODEL_KEY)
    catalog.set_meta("dim", "384")
    if backend == "elasticsearch":  # start from empty Elasticsearch indexes
        from elasticsearch import Elasticsearch

        es = Elasticsearch(settings.es_hosts)
        for index in (settings.es_index, f"{settings.es_index}-articles"):
            es.options(ignore_status=404).indices.delete(index=index)
        es.close()
    lexical = make_lexical(settings)
    articles = make_lexical(settings, articles=True)
    ids: list[int] = []
    timings = {"read_chunk_s": 0.0, "catalog_s": 0.0, "lexical_s": 0.0}
    batch: list[Item] = []
    started = time.perf_counter()

    def flush() -> None:
        with Timer() as t:
            catalog.stage([(a, ps, a.content_hash()) for a, ps in batch])
            catalog.mark_committed([a.article_id for a, _ in batch])
        timings["catalog_s"] += t.seconds
        with Timer() as t:
            lexical.upsert([p for _, ps in batch for p in ps])
            articles.upsert(article_documents(p for _, ps in batch for p in ps))
        timings["lexical_s"] += t.seconds
        ids.extend(vec_id(p.paragraph_id) for _, ps in batch for p in ps)
        batch.clear()

    pending = 0
    for item in items(n):
        batch.append(item)
        pending += len(item[1])
        if pending >= 5000:
            flush()
            pending = 0
            if len(ids) % 100_000 < 5000:
                print(f"  {len(ids)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if batch:
        flush()
    with Timer() as t:
        lexical.commit()
        articles.commit()
    timings["lexical_s"] += t.seconds
    lexical.close()
    articles.close()
    catalog.close()
    timings["read_chunk_s"] = time.perf_counter() - started - sum(timings.values())
    with Timer() as t:
        path = directory / "vectors.faiss"
        if n > DEFAULT_HNSW_THRESHOLD:
            from faiss_recall import hnsw_path, hnsw_store

            cached, _ = hnsw_store(n, real_limit=real_limit)  # built (or found), same vectors
            del cached
            shutil.copyfile(hnsw_path(n, real_limit=real_limit), path)
            store = VectorStore(path, 384)
            store._labels()[:] = np.asarray(ids, dtype=np.int64)  # slot i holds vector i
            store._lookup = None
        else:
            store = VectorStore(path, 384)
            x = vectors_at(n, real_limit=real_limit)
            for i in range(0, n, 50_000):
                store.add(ids[i : i + 50_000], np.ascontiguousarray(x[i : i + 50_000]))
        store.save()
    timings["vectors_s"] = t.seconds
    return {
        "paragraphs": len(ids),
        "build_s": round(time.perf_counter() - started, 1),
        **{k: round(v, 1) for k, v in timings.items()},
        "index_kind": store.kind,
    }


def index_dir(n: int, backend: str, real_limit: int | None = None) -> Path:
    """Where the index of ``n`` paragraphs for ``backend`` is cached (shared by the scripts
    that measure search over these indexes, e.g. ``result_set.py``)."""
    tag = "" if real_limit is None else f"-r{real_limit}"
    return BENCH_DIR / f"index-{backend}-{n}{tag}"


def ensure_index(
    n: int,
    backend: str,
    es_url: str | None,
    real_limit: int | None = None,
    rebuild: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """The cached index of ``n`` paragraphs (built first when missing or with ``rebuild``) and
    its ``build.json`` (paragraphs, build seconds per step, FAISS kind)."""
    directory = index_dir(n, backend, real_limit)
    info_path = directory / "build.json"
    if rebuild or not info_path.exists():
        print(f"building {n} ...", file=sys.stderr)
        info_path.write_text(json.dumps(build(n, directory, backend, es_url, real_limit)))
    info: dict[str, Any] = json.loads(info_path.read_text())
    if "articles_s" not in info:  # built before the article-level store: fill it once
        info["articles_s"] = fill_article_store(directory, backend, es_url)
        info_path.write_text(json.dumps(info))
    return directory, info


def fill_article_store(directory: Path, backend: str, es_url: str | None) -> float:
    """Write the article-level store of a built index from its catalog (an index cached
    before that store existed; what ``newssearch repair`` does for it); returns seconds."""
    from indexer.stores import make_lexical

    settings = settings_for(directory, backend, es_url)
    catalog = Catalog(directory / "catalog.sqlite")
    store = make_lexical(settings, articles=True)
    started = time.perf_counter()
    try:
        store.reset()
        every = catalog.committed_article_ids()
        for i in range(0, len(every), 1000):
            store.upsert(article_documents(catalog.paragraphs_of(every[i : i + 1000])))
        store.commit()
    finally:
        store.close()
        catalog.close()
    seconds = round(time.perf_counter() - started, 1)
    print(f"  article store of {len(every)} articles: {seconds} s", file=sys.stderr)
    return seconds


def rebuild_lexical(directory: Path, backend: str, es_url: str | None) -> float:
    """Rewrite the lexical store of a built index from its catalog (after an analyser or
    schema change) with the product's ``rebuild_lexical``; returns seconds."""
    from indexer.pipeline import rebuild_lexical as rebuild
    from indexer.stores import make_lexical

    started = time.perf_counter()
    lexical = make_lexical(settings_for(directory, backend, es_url))
    catalog = Catalog(directory / "catalog.sqlite")
    rebuild(catalog, lexical)
    lexical.close()
    catalog.close()
    return time.perf_counter() - started


def measure(directory: Path, backend: str, es_url: str | None, nq: int) -> dict[str, Any]:
    """Open the stores like the server does and time every mode (runs in a fresh process)."""
    from indexer.embedder import CachedEmbedder
    from indexer.stores import Stores, make_embedder, make_lexical
    from indexer.vectors import configure_threads
    from search_api.engine import SearchEngine
    from search_api.schemas import SearchRequest

    rss_start = rss_mb()
    configure_threads(1)
    settings = settings_for(directory, backend, es_url)
    inner = make_embedder(settings, threads=1)
    inner.embed_query("warm up the model")
    rss_model = rss_mb()
    with Timer() as open_t:
        stores = Stores(
            settings,
            Catalog(directory / "catalog.sqlite"),
            make_lexical(settings),
            VectorStore(directory / "vectors.faiss", 384),
            CachedEmbedder(inner, None, query_cache_size=0),
            articles=make_lexical(settings, articles=True),  # as open_stores does
        )
        engine = SearchEngine(stores)
        engine.warm_up()  # as ``newssearch serve`` does at start-up
    # Queries the parser accepts (it caps a query at 64 terms; 11 of 591 have over 60 words).
    queries = [q for q in politifact_queries(591) if len(q.split()) <= 60]
    warm, queries = queries[nq : nq + 10], queries[:nq]
    out: dict[str, Any] = {
        "index_kind": stores.vectors.kind,
        "paragraphs": len(stores.vectors),
        "open_s": round(open_t.seconds, 2),
    }
    for q in warm:
        for mode in ("bm25", "dense", "hybrid"):
            engine.search(SearchRequest(q=q, mode=mode))
    embed_lat, embed_cpu = [], []
    for q in queries[:50]:
        s, c = time.perf_counter(), time.process_time()
        inner.embed_query(q + " ")
        embed_lat.append(time.perf_counter() - s)
        embed_cpu.append(time.process_time() - c)
    out["query_embedding_only"] = latency_summary(embed_lat)
    out["query_embedding_only_cpu"] = latency_summary(embed_cpu)
    for mode in ("bm25", "dense", "hybrid"):
        lat, cpu = [], []
        for q in queries:
            s, c = time.perf_counter(), time.process_time()
            engine.search(SearchRequest(q=q, mode=mode))
            lat.append(time.perf_counter() - s)
            cpu.append(time.process_time() - c)
        out[mode] = latency_summary(lat)
        # CPU seconds this process spent per query: what the query costs on an idle core
        # (all work runs in this thread with one torch and one FAISS thread), free of the
        # waiting-for-a-CPU that dominates wall time on a loaded machine. Not meaningful for
        # Elasticsearch, whose work happens in the JVM.
        out[mode + "_cpu"] = latency_summary(cpu)
    out["rss_mb"] = {
        "python_and_model": round(rss_model),
        "process_start": round(rss_start),
        "serving_total": round(rss_mb()),
        "stores": round(rss_mb() - rss_model),
    }
    engine.close()
    stores.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="default 10000,100000,1000000")
    ap.add_argument("--backend", default="embedded", choices=["embedded", "elasticsearch"])
    ap.add_argument("--es-url", default=None)
    ap.add_argument("--queries", type=int, default=None, help="default 200")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --sizes {SMOKE_SIZES}, --queries {SMOKE_QUERIES}, "
        f"{SMOKE_REAL} real vectors (embedded if the cache lacks them)",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    ap.add_argument(
        "--rebuild-lexical",
        action="store_true",
        help="rewrite only the lexical store of cached indexes from their catalogs",
    )
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else "10000,100000,1000000")
    nq = args.queries or (SMOKE_QUERIES if args.smoke else 200)
    real_limit = SMOKE_REAL if args.smoke else None
    if args.measure:
        print(json.dumps(measure(args.measure, args.backend, args.es_url, nq)))
        return
    result: dict[str, Any] = {"machine": machine(), "backend": args.backend, "sizes": {}}
    if args.smoke:
        result["smoke"] = True
    for n in [int(s) for s in sizes.split(",")]:
        directory, info = ensure_index(n, args.backend, args.es_url, real_limit, args.rebuild)
        info_path = directory / "build.json"
        if args.rebuild_lexical:
            print(f"rewriting the lexical store at {n} ...", file=sys.stderr)
            info["lexical_rebuild_s"] = round(rebuild_lexical(directory, args.backend, args.es_url))
            info_path.write_text(json.dumps(info))
        print(f"measuring {n} ...", file=sys.stderr)
        cmd = [
            sys.executable,
            __file__,
            "--measure",
            str(directory),
            "--backend",
            args.backend,
            "--queries",
            str(nq),
        ]
        if args.es_url:
            cmd += ["--es-url", args.es_url]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(f"measurement at {n} failed")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        result["sizes"][n] = {"build": info, **row}
        print(json.dumps(result["sizes"][n]), file=sys.stderr)
    result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
