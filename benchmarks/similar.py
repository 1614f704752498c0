"""``SearchEngine.similar`` latency (``GET /articles/{id}/similar``) per index size.

Index: the cached indexes of ``query_latency.py`` (same directories under the bench directory,
built by its ``build`` when missing: real paragraph texts; real MiniLM vectors, then vectors
synthesised from their statistics). Past the real vectors an article's paragraph vectors are
unrelated draws, so the *set sizes* here are not those of a real corpus; what is measured is
the cost of the set at the sizes it reaches (reported beside the latencies).

Articles: ``--articles`` committed articles spread evenly over the article table
(deterministic). Measurement (a fresh process, stores opened and warmed up as ``newssearch
serve`` does, one FAISS thread), per article, sequentially:

- ``first_page``: the first page (limit 10, default threshold: the index's calibrated value,
  0.64 for MiniLM), its set computed (the engine's set cache is cleared before);
- ``first_page_cached``: the same request again (the set from the cache: page shaping only);
- ``next_page``: the page its ``next`` cursor points to (cached set);
- ``filtered_by_date``: ``sort=date_desc`` with a ``date_from`` filter, set computed;
- ``low_threshold``: ``min_similarity=0.5`` (larger sets), set computed;
- ``strict_threshold``: ``min_similarity=0.8``, set computed: on the synthetic vectors the
  sets at the default threshold are far larger than a real corpus's (thousands of articles
  where the German test corpus has 0-3 at 0.64), so this shows the cost at real set sizes;
- ``vector_and_range``: the part of ``first_page`` spent reading the article's vectors and
  the FAISS range search (``search_api/search/similar.py``), to show where time goes;
- set sizes (``total``, ``total_paragraphs``) and the requests refused as too large, and the
  first page's latency split by set size (``first_page_by_set_size``: up to 1,000 matching
  paragraphs an HNSW store answers with one search, larger sets take several).

``*_cpu`` is this process's CPU time per request: on a loaded shared machine it estimates the
latency on idle cores.

Run: ``.venv/bin/python benchmarks/similar.py [--sizes 100000,1000000] [--articles 200]
[--real N] [--out FILE] [--md FILE]``. JSON on stdout, a Markdown table on stderr (and in
``--md``). ``--real N`` builds missing indexes from only N real vectors (embedded into the
embedding cache if missing; the full run wants the 40k of PolitiFact-1k cached). ``--smoke``:
a seconds-long run that only shows the script works (2,000 paragraphs, 20 articles, 64 real
vectors; no figures to quote).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SMOKE_REAL_VECTORS, Timer, emit, latency_summary, machine, rss_mb
from query_latency import ensure_index, settings_for

from indexer.errors import ResultSetTooLarge
from search_api.schemas import SimilarRequest

if TYPE_CHECKING:
    from search_api.engine import SearchEngine

#: ``--smoke``: size, articles and real vectors of a seconds-long run.
SMOKE_SIZES, SMOKE_ARTICLES, SMOKE_REAL = "2000", 20, SMOKE_REAL_VECTORS
#: A threshold at which the synthetic stores' sets are as small as real corpora's at 0.64.
STRICT_THRESHOLD = 0.8
#: Sets up to this many paragraphs (minus the article's own) come from one HNSW search.
SMALL_SET = 1000
STAGES = (
    "first_page",
    "first_page_cached",
    "next_page",
    "filtered_by_date",
    "low_threshold",
    "strict_threshold",
    "vector_and_range",
)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    s, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - s, time.process_time() - c


def sizes_summary(values: list[int]) -> dict[str, float]:
    """Median, p90 and max of per-article set sizes."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": float(statistics.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": max(values),
        "zero": sum(1 for v in values if v == 0),
    }


def pick_articles(engine: SearchEngine, n: int) -> list[str]:
    """``n`` committed article ids spread evenly over the table (deterministic)."""
    ids = engine.tables.current().ids
    step = max(1, len(ids) // max(n, 1))
    return list(ids[::step][:n])


def measure(directory: Path, n_articles: int, low: bool = True) -> dict[str, Any]:
    """Open the stores like the server does and time the similar views (fresh process)."""
    from indexer.catalog import Catalog
    from indexer.embedder import CachedEmbedder
    from indexer.stores import Stores, make_embedder, make_lexical
    from indexer.vectors import VectorStore, configure_threads
    from search_api.engine import SearchEngine
    from search_api.search.similar import article_vector

    configure_threads(1)
    settings = settings_for(directory, "embedded", None)
    with Timer() as open_t:
        stores = Stores(
            settings,
            Catalog(directory / "catalog.sqlite"),
            make_lexical(settings),
            VectorStore(directory / "vectors.faiss", 384),
            CachedEmbedder(make_embedder(settings, threads=1), None, query_cache_size=0),
        )
        engine = SearchEngine(stores)
        engine.warm_up()  # as ``newssearch serve`` does at start-up
    articles = pick_articles(engine, n_articles + 5)
    warm, articles = articles[:5], articles[5:]
    for aid in warm:  # not measured: first lookups (slot map, SQLite pages)
        engine.similar(aid, SimilarRequest())
    since = datetime(2000, 1, 1, tzinfo=UTC)
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    totals: list[int] = []
    paragraphs: list[int] = []
    low_totals: list[int] = []
    strict_totals: list[int] = []
    refused: list[str] = []

    def record(stage: str, fn: Callable[[], Any]) -> Any:
        value, w, c = _timed(fn)
        wall.setdefault(stage, []).append(w)
        cpu.setdefault(stage, []).append(c)
        return value

    limit = stores.settings.max_semantic_paragraphs
    for aid in articles:
        default = SimilarRequest()
        try:
            engine._sets.clear()
            first = record("first_page", functools.partial(engine.similar, aid, default))
            totals.append(first.total)
            paragraphs.append(first.total_paragraphs)
            record("first_page_cached", functools.partial(engine.similar, aid, default))
            if first.next is not None:
                nxt = default.model_copy(update={"cursor": first.next})
                record("next_page", functools.partial(engine.similar, aid, nxt))
            dated = SimilarRequest(sort="date_desc", date_from=since)
            engine._sets.clear()
            record("filtered_by_date", functools.partial(engine.similar, aid, dated))
            engine._sets.clear()
            strict = record(
                "strict_threshold",
                functools.partial(
                    engine.similar, aid, SimilarRequest(min_similarity=STRICT_THRESHOLD)
                ),
            )
            strict_totals.append(strict.total_paragraphs)
            if low:
                engine._sets.clear()
                lower = record(
                    "low_threshold",
                    functools.partial(engine.similar, aid, SimilarRequest(min_similarity=0.5)),
                )
                low_totals.append(lower.total)
        except ResultSetTooLarge as exc:
            refused.append(f"{aid}: {exc}")
            continue

        def vector_and_range(aid: str = aid, threshold: float = first.min_similarity) -> Any:
            vector = article_vector(stores, aid)
            assert vector is not None
            return stores.vectors.range_search(vector, threshold, limit)

        record("vector_and_range", vector_and_range)
    out: dict[str, Any] = {
        "index_kind": stores.vectors.kind,
        "paragraphs": len(stores.vectors),
        "articles": engine.tables.current().size,
        "open_s": round(open_t.seconds, 2),
        "measured_articles": len(articles),
        "threshold": engine.stats().min_similarity,
        "total": sizes_summary(totals),
        "total_paragraphs": sizes_summary(paragraphs),
        "total_at_0.5": sizes_summary(low_totals),
        f"total_paragraphs_at_{STRICT_THRESHOLD}": sizes_summary(strict_totals),
        "refused_too_large": refused,
    }
    for stage in STAGES:
        out[stage] = latency_summary(wall[stage]) if stage in wall else None
        out[stage + "_cpu"] = latency_summary(cpu[stage]) if stage in cpu else None
    # The first page by set size: up to SMALL_SET matching paragraphs an HNSW store answers
    # with one top-1,024 search; larger sets need searches with k x4 (indexer/vectors.py).
    pairs = list(zip(paragraphs, wall.get("first_page", []), strict=False))
    out["first_page_by_set_size"] = {
        f"<= {SMALL_SET} paragraphs": latency_summary([w for n, w in pairs if n <= SMALL_SET])
        if any(n <= SMALL_SET for n, _ in pairs)
        else None,
        f"> {SMALL_SET} paragraphs": latency_summary([w for n, w in pairs if n > SMALL_SET])
        if any(n > SMALL_SET for n, _ in pairs)
        else None,
    }
    out["rss_mb"] = round(rss_mb())
    engine.close()
    stores.close()
    return out


def _ms(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "n/a"
    return f"{summary['p50_ms']:.1f} / {summary['p99_ms']:.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The figures as a Markdown table (p50 / p99 ms)."""
    lines = [
        f"load {result['machine']['load_avg_1_5_15']} before, "
        f"{result['machine_after']['load_avg_1_5_15']} after; p50 / p99 ms (CPU p50 in brackets)",
        "",
        "| paragraphs | FAISS | articles | first page | cached | next page | date filter + sort "
        "| min_similarity 0.5 | min_similarity 0.8 | vectors + range search "
        "| total median / max |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, row in result["sizes"].items():
        cells = [
            f"{_ms(row[s])} ({row[s + '_cpu']['p50_ms']:.1f})" if row[s] else "n/a" for s in STAGES
        ]
        lines.append(
            f"| {int(n):,} | {row['index_kind']} | {row['measured_articles']} | "
            + " | ".join(cells)
            + f" | {row['total'].get('median', 0):,.0f} / {row['total'].get('max', 0):,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="default 100000,1000000")
    ap.add_argument("--articles", type=int, default=None, help="default 200")
    ap.add_argument("--real", type=int, default=None, help="real vectors of a missing index")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --sizes {SMOKE_SIZES}, --articles {SMOKE_ARTICLES}, --real {SMOKE_REAL}",
    )
    ap.add_argument(
        "--skip-low",
        action="store_true",
        help="leave out min_similarity=0.5 (seconds per request on large HNSW stores)",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--md", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else "100000,1000000")
    n_articles = args.articles or (SMOKE_ARTICLES if args.smoke else 200)
    real_limit = args.real if args.real is not None else (SMOKE_REAL if args.smoke else None)
    if args.measure:
        print(json.dumps(measure(args.measure, n_articles, low=not args.skip_low)))
        return
    result: dict[str, Any] = {"machine": machine(), "sizes": {}}
    if args.smoke:
        result["smoke"] = True
    for n in [int(s) for s in sizes.split(",")]:
        directory, info = ensure_index(n, "embedded", None, real_limit, args.rebuild)
        print(f"measuring {n} ...", file=sys.stderr)
        cmd = [sys.executable, __file__, "--measure", str(directory)]
        cmd += ["--articles", str(n_articles)] + (["--skip-low"] if args.skip_low else [])
        load_before = machine()["load_avg_1_5_15"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"measurement at {n} failed")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        result["sizes"][n] = {
            "build": info,
            "load_before": load_before,
            "load_after": machine()["load_avg_1_5_15"],
            **row,
        }
    result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
    emit(result, args.out)
    table = markdown(result)
    print(table, file=sys.stderr)
    if args.md is not None:
        args.md.write_text(table)


if __name__ == "__main__":
    main()
