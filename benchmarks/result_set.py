"""Result-set views: first page, facets + timeline, deep cursor paging and export, per size.

Index: the cached indexes of ``query_latency.py`` (same directories under the bench directory,
built by its ``build`` when missing: real paragraph texts, real and synthesised vectors).

Queries, two sets of 200 each:

- ``short``: search-box queries of 2-4 words derived from the news corpora's titles, half
  English (BBC), half German (zeitgeist; gnad10k has no titles): the runs of 2, 3 and 4
  adjacent content words (no stop word, no digit, 3+ letters) found in the most distinct
  titles, ties broken by a hash of the words (deterministic; :func:`short_queries`);
- ``claims``: the PolitiFact claims ``query_latency.py`` uses (the first 200 of at most 60
  words).

Measurement (a fresh process, the stores opened and warmed up as ``newssearch serve`` does,
one model / FAISS thread, query LRU cache off so every computed set embeds its query),
product defaults (hybrid, limit 10), sequential, per query:

- (a) ``first_page``: the first page, its result set computed (the engine's set cache and
  its cache of per-word matches, ``SearchEngine.leaves``, are cleared before the request: a
  query nothing of which was asked before);
- (a') ``reshaped``: right after (a), the same words sorted by date (``sort=date_desc``),
  the set recomputed (set cache cleared) but the per-word matches cached: what a facet click,
  a filter, a sort or a page-size change of the query just asked costs;
- (b) ``facets_timeline``: the same with ``facets=true&timeline=true``, set computed as well
  (cache cleared); ``facets_timeline_cached``: the same request again on the cached set (what
  the views add);
- (c) ``page50_cached``: page 1, then ``next`` followed 49 times; the 50th request is timed.
  The engine keeps the last result sets (``SearchEngine._sets``), so it is a cache hit (the
  JSON counts the hits); ``page50_uncached``: the same cursor request after clearing the cache
  (the set recomputed, as in a fresh process). Only queries with more than 490 articles have
  a page 50 (counted);
- (e) ``filtered``: the first page with a filter on the index's largest source (caches cleared
  as in (a)): a filter keeping most of the index, which the dense side answers through a
  FAISS selector over the kept paragraphs (``VectorStore.search_within``);
- set sizes: ``total`` and ``total_paragraphs`` of each query (median, p90, max);
- (d) ``export``: ``engine.export(req, "csv", "article")`` consumed to the end for large sets
  (``q=""`` = every article, and the two most frequent content words of the news and
  PolitiFact-1k bodies in English and in German), set computation included; articles/s and the
  process's peak RSS growth during the export (RSS sampled every 5 ms from /proc, plus the
  growth of ``ru_maxrss``).

``*_cpu`` is the CPU time of this process per request (all its threads): on a loaded shared
machine it estimates the latency on idle cores. Elasticsearch's own work is not in it.

Run: ``.venv/bin/python benchmarks/result_set.py [--sizes 100000,1000000]
[--backend embedded|elasticsearch --es-url URL] [--out FILE] [--md FILE]``. JSON on stdout,
a Markdown table on stderr (and in ``--md``). ``--smoke``: a seconds-long run that only shows
the script works (2,000 paragraphs, 20 queries per set, page 5 instead of 50, 64 real vectors
embedded into the embedding cache if missing; no figures to quote).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    NEWS,
    SMOKE_REAL_VECTORS,
    Timer,
    emit,
    gz_lines,
    latency_summary,
    machine,
    politifact_queries,
    rss_mb,
)
from query_latency import ensure_index, settings_for

from indexer.errors import ResultSetTooLarge
from indexer.languages import is_stop_word
from search_api.schemas import SearchRequest

if TYPE_CHECKING:
    from search_api.engine import SearchEngine

#: ``--smoke``: size, queries per set, the deep page and real vectors of a seconds-long run.
SMOKE_SIZES, SMOKE_QUERIES, SMOKE_PAGE, SMOKE_REAL = "2000", 20, 5, SMOKE_REAL_VECTORS
#: Per language of the short queries: how many of 2, 3 and 4 words.
SHORT_MIX = {2: 50, 3: 30, 4: 20}
_WORD = re.compile(r"[^\W\d_]{3,}")
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def _content(token: str) -> bool:
    return _WORD.fullmatch(token) is not None and not is_stop_word(token)


def _runs(title: str) -> Iterator[list[str]]:
    """Maximal runs of adjacent content words of a title."""
    run: list[str] = []
    for token in _TOKEN.findall(title):
        if _content(token):
            run.append(token)
        else:
            if run:
                yield run
            run = []
    if run:
        yield run


def _tie(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def short_queries(n: int = 200) -> list[str]:
    """``n`` search-box queries of 2-4 words from news titles (module docstring).

    Per language (English: BBC; German: zeitgeist) and per length, the word
    n-grams occurring in the most distinct titles (case-insensitively; shown in their most
    frequent spelling); a query already chosen in another length or language is skipped.
    English and German alternate, lengths cycle 2, 3, 4 in the ratio of :data:`SHORT_MIX`.
    """
    groups = {"en": [NEWS[0]], "de": [NEWS[2]]}
    per_lang = -(-n // 2)
    scale = per_lang / sum(SHORT_MIX.values())
    quota = {k: max(1, round(v * scale)) for k, v in SHORT_MIX.items()}
    quota[2] += per_lang - sum(quota.values())
    chosen: dict[str, list[str]] = {}
    seen: set[str] = set()
    for lang, paths in groups.items():
        titles: dict[str, None] = {}
        for path in paths:
            for record in gz_lines(path):
                title = str(record.get("title") or "").strip()
                if title:
                    titles[title] = None
        picked: list[str] = []
        for size, want in quota.items():
            df: Counter[str] = Counter()
            spelling: dict[str, Counter[str]] = {}
            for title in titles:
                grams: set[str] = set()
                for run in _runs(title):
                    for i in range(len(run) - size + 1):
                        surface = " ".join(run[i : i + size])
                        key = surface.casefold()
                        grams.add(key)
                        spelling.setdefault(key, Counter())[surface] += 1
                df.update(grams)
            ranked = sorted(df, key=lambda k: (-df[k], _tie(k)))
            got = [k for k in ranked if k not in seen][:want]
            seen.update(got)
            picked.extend(spelling[k].most_common(1)[0][0] for k in got)
        chosen[lang] = picked
    out: list[str] = []
    for en, de in zip(chosen["en"], chosen["de"], strict=False):
        out.extend((en, de))
    return out[:n]


def broad_words(per_language: int = 2) -> list[str]:
    """The content words in the most bodies (news corpora and PolitiFact-1k), per language."""
    from common import POLITIFACT_1K

    sources: dict[str, list[Path]] = {
        "en": [NEWS[0], POLITIFACT_1K / "corpus.jsonl.gz"],
        "de": [NEWS[1], NEWS[2]],
    }
    out: list[str] = []
    for paths in sources.values():
        df: Counter[str] = Counter()
        for path in paths:
            for record in gz_lines(path):
                body = str(record.get("text") or record.get("content") or "")
                df.update({t.casefold() for t in _TOKEN.findall(body) if _content(t)})
        ranked = sorted(df, key=lambda k: (-df[k], k))
        out.extend(ranked[:per_language])
    return out


def claim_queries(n: int) -> list[str]:
    """``query_latency.py``'s queries: PolitiFact claims of at most 60 words (parser cap)."""
    return [q for q in politifact_queries(591) if len(q.split()) <= 60][:n]


class PeakRss:
    """``with PeakRss() as p: ...; p.growth_mb``: peak RSS above the start, sampled."""

    def __init__(self, every_s: float = 0.005) -> None:
        self.every_s = every_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakRss:
        self.start = rss_mb()
        self.max_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        self.growth_mb = self.peak - self.start
        self.maxrss_growth_mb = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - self.max_start
        )


def sizes_summary(values: list[int]) -> dict[str, float]:
    """Median, p90 and max of per-query set sizes."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": float(statistics.median(values)),
        "p90": float(np.percentile(values, 90)),
        "max": max(values),
        "zero": sum(1 for v in values if v == 0),
    }


def measure(
    directory: Path, backend: str, es_url: str | None, nq: int, deep: int
) -> dict[str, Any]:
    """Open the stores like the server does and time every view (runs in a fresh process)."""
    from indexer.catalog import Catalog
    from indexer.embedder import CachedEmbedder
    from indexer.stores import Stores, make_embedder, make_lexical
    from indexer.vectors import VectorStore, configure_threads
    from search_api.engine import SearchEngine

    configure_threads(1)
    settings = settings_for(directory, backend, es_url)
    inner = make_embedder(settings, threads=1)
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
    table = engine.tables.current()
    out: dict[str, Any] = {
        "index_kind": stores.vectors.kind,
        "paragraphs": len(stores.vectors),
        "articles": table.size,
        "open_s": round(open_t.seconds, 2),
        "rss_serving_mb": round(rss_mb()),
        "deep_page": deep,
    }
    source, share = largest_source(table)
    out["filter"] = {"source": source, "article_share": round(share, 3)}
    short = short_queries(nq + 10)
    claims = claim_queries(nq + 10)
    for q in short[nq:] + claims[nq:]:  # warm-up queries, not measured
        engine.search(SearchRequest(q=q))
        engine.search(SearchRequest(q=q, facets=True, timeline=True))
    out["export"] = export_figures(engine)
    for name, queries in (("short", short[:nq]), ("claims", claims[:nq])):
        print(f"  {name} queries ...", file=sys.stderr)
        out[name] = query_figures(engine, queries, deep, source)
    out["rss_end_mb"] = round(rss_mb())
    engine.close()
    stores.close()
    return out


def largest_source(table: Any) -> tuple[str | None, float]:
    """The source with the most articles in ``table`` and its share of them (None: none)."""
    column = table.columns["source"]
    if not column.values:
        return None, 0.0
    counts = {v: int(column.mask([v], table.size).sum()) for v in column.values}
    best = max(sorted(counts), key=lambda v: counts[v])
    return best, counts[best] / max(table.size, 1)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    s, c = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - s, time.process_time() - c


def query_figures(
    engine: SearchEngine, queries: list[str], deep: int, source: str | None = None
) -> dict[str, Any]:
    """(a)-(c), (e) with a filter on ``source`` (when given) and the set sizes over
    ``queries`` (module docstring)."""
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    totals: list[int] = []
    paragraphs: list[int] = []
    refused: list[str] = []
    hits = 0

    def record(stage: str, fn: Callable[[], Any]) -> Any:
        value, w, c = _timed(fn)
        wall.setdefault(stage, []).append(w)
        cpu.setdefault(stage, []).append(c)
        return value

    words = [len(q.split()) for q in queries]
    for q in queries:
        req = SearchRequest(q=q)
        try:
            engine._sets.clear()
            engine.leaves.clear()
            first = record("first_page", functools.partial(engine.search, req))
            totals.append(first.total)
            paragraphs.append(first.total_paragraphs)
            engine._sets.clear()
            resort = SearchRequest(q=q, sort="date_desc")
            record("reshaped", functools.partial(engine.search, resort))
            views = SearchRequest(q=q, facets=True, timeline=True)
            engine._sets.clear()
            engine.leaves.clear()
            record("facets_timeline", functools.partial(engine.search, views))
            record("facets_timeline_cached", functools.partial(engine.search, views))
            if source is not None:
                engine._sets.clear()
                engine.leaves.clear()
                filtered = SearchRequest(q=q, source=[source])
                record("filtered", functools.partial(engine.search, filtered))
        except ResultSetTooLarge as exc:
            refused.append(f"{q[:60]}: {exc}")
            continue
        # (c): page 1 was just computed for ``req`` (cached); follow ``next`` to page ``deep``.
        response = first
        page = 1
        while response.next is not None and page < deep - 1:
            response = engine.search(SearchRequest(q=q, cursor=response.next))
            page += 1
        if response.next is None or page != deep - 1:
            continue
        deep_req = SearchRequest(q=q, cursor=response.next)
        cached = (deep_req.set_key(), engine.tables.current().generation) in engine._sets
        hits += int(cached)
        got = record("page_deep_cached", functools.partial(engine.search, deep_req))
        assert got.offset == (deep - 1) * 10, got.offset
        engine._sets.clear()
        record("page_deep_uncached", functools.partial(engine.search, deep_req))
    out: dict[str, Any] = {
        "queries": len(queries),
        "words": {"median": statistics.median(words), "min": min(words), "max": max(words)},
        "total": sizes_summary(totals),
        "total_paragraphs": sizes_summary(paragraphs),
        "refused_too_large": refused,
        "deep_page_queries": len(wall.get("page_deep_cached", [])),
        "deep_page_cache_hits": hits,
    }
    stages = ("first_page", "reshaped", "facets_timeline", "facets_timeline_cached", "filtered")
    for stage in stages:
        out[stage] = latency_summary(wall[stage]) if stage in wall else None
        out[stage + "_cpu"] = latency_summary(cpu[stage]) if stage in cpu else None
    for stage in ("page_deep_cached", "page_deep_uncached"):
        out[stage] = latency_summary(wall[stage]) if stage in wall else None
        out[stage + "_cpu"] = latency_summary(cpu[stage]) if stage in cpu else None
    if out["first_page"] and out["facets_timeline"]:
        out["ratio_b_to_a_p50"] = round(
            out["facets_timeline"]["p50_ms"] / out["first_page"]["p50_ms"], 2
        )
        out["ratio_b_to_a_p99"] = round(
            out["facets_timeline"]["p99_ms"] / out["first_page"]["p99_ms"], 2
        )
    return out


def export_figures(engine: SearchEngine) -> list[dict[str, Any]]:
    """(d): CSV article exports of large sets, each from a cleared set cache."""
    import gc

    rows: list[dict[str, Any]] = []
    for q in ["", *broad_words()]:
        req = SearchRequest(q=q)
        engine._sets.clear()
        gc.collect()
        lines = 0
        size = 0
        with PeakRss() as mem, Timer() as total_t:
            with Timer() as set_t:
                chunks = engine.export(req, "csv", "article")  # computes the set
            for chunk in chunks:
                lines += chunk.count("\n")
                size += len(chunk)
        rs = engine.result_set(req)
        articles = rs.total
        # Manifest cell and header row come first (search_api/search/export.py); a quoted
        # title may hold a newline, so the line count is a lower bound check only.
        assert lines >= articles + 2, (lines, articles)
        rows.append(
            {
                "q": q,
                "articles": articles,
                "total_paragraphs": rs.total_paragraphs,
                "set_s": round(set_t.seconds, 3),
                "export_s": round(total_t.seconds, 3),
                "articles_per_s": round(articles / total_t.seconds),
                "csv_mb": round(size / 2**20, 1),
                "rss_growth_mb": round(mem.growth_mb, 1),
                "ru_maxrss_growth_mb": round(mem.maxrss_growth_mb, 1),
            }
        )
        print(f"  export {q!r}: {json.dumps(rows[-1])}", file=sys.stderr)
    engine._sets.clear()
    return rows


def _ms(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "n/a"
    return f"{summary['p50_ms']:.1f} / {summary['p99_ms']:.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The figures as Markdown tables (the doc's layout)."""
    lines = [
        f"backend {result['backend']}, load {result['machine']['load_avg_1_5_15']} before, "
        f"{result['machine_after']['load_avg_1_5_15']} after; (e) filters on "
        + ", ".join(
            f"{n}: {row.get('filter', {}).get('source')!r} "
            f"({row.get('filter', {}).get('article_share', 0):.0%} of the articles)"
            for n, row in result["sizes"].items()
        ),
        "",
        "| paragraphs | queries | (a) first page | (a') reshaped | (b) + facets + timeline "
        "| b / a (p50, p99) | b on cached set | (c) page N cached | (c) page N uncached "
        "| pages N reached | total median / max | total_paragraphs median / max "
        "| (e) + source filter |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, row in result["sizes"].items():
        for name in ("short", "claims"):
            r = row[name]
            lines.append(
                f"| {int(n):,} | {name} | {_ms(r['first_page'])} | {_ms(r.get('reshaped'))} "
                f"| {_ms(r['facets_timeline'])} "
                f"| {r.get('ratio_b_to_a_p50', 'n/a')}, {r.get('ratio_b_to_a_p99', 'n/a')} "
                f"| {_ms(r['facets_timeline_cached'])} | {_ms(r['page_deep_cached'])} "
                f"| {_ms(r['page_deep_uncached'])} | {r['deep_page_queries']} of {r['queries']} "
                f"| {r['total'].get('median', 0):,.0f} / {r['total'].get('max', 0):,} "
                f"| {r['total_paragraphs'].get('median', 0):,.0f} / "
                f"{r['total_paragraphs'].get('max', 0):,} | {_ms(r.get('filtered'))} |"
            )
    lines += [
        "",
        "| paragraphs | export q | articles | set | export (set included) | articles/s "
        "| CSV | peak RSS growth |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, row in result["sizes"].items():
        for e in row["export"]:
            lines.append(
                f"| {int(n):,} | `{e['q'] or '(empty)'}` | {e['articles']:,} | {e['set_s']} s "
                f"| {e['export_s']} s | {e['articles_per_s']:,} | {e['csv_mb']} MB "
                f"| {e['rss_growth_mb']} MB |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="default 100000,1000000")
    ap.add_argument("--backend", default="embedded", choices=["embedded", "elasticsearch"])
    ap.add_argument("--es-url", default=None)
    ap.add_argument("--queries", type=int, default=None, help="per query set; default 200")
    ap.add_argument("--page", type=int, default=None, help="the deep page of (c); default 50")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --sizes {SMOKE_SIZES}, --queries {SMOKE_QUERIES}, --page {SMOKE_PAGE}, "
        f"{SMOKE_REAL} real vectors (embedded if the cache lacks them)",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--md", type=Path, help="also write the Markdown tables here")
    args = ap.parse_args()
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else "100000,1000000")
    nq = args.queries or (SMOKE_QUERIES if args.smoke else 200)
    deep = args.page or (SMOKE_PAGE if args.smoke else 50)
    real_limit = SMOKE_REAL if args.smoke else None
    if args.measure:
        print(json.dumps(measure(args.measure, args.backend, args.es_url, nq, deep)))
        return
    result: dict[str, Any] = {"machine": machine(), "backend": args.backend, "sizes": {}}
    if args.smoke:
        result["smoke"] = True
    result["short_queries_sample"] = short_queries(nq)[:10]
    for n in [int(s) for s in sizes.split(",")]:
        directory, info = ensure_index(n, args.backend, args.es_url, real_limit, args.rebuild)
        print(f"measuring {n} ...", file=sys.stderr)
        cmd = [sys.executable, __file__, "--measure", str(directory), "--backend", args.backend]
        cmd += ["--queries", str(nq), "--page", str(deep)]
        if args.es_url:
            cmd += ["--es-url", args.es_url]
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
