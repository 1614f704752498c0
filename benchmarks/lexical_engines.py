"""Embedded lexical engine choice: tantivy (the product's backend) vs SQLite FTS5 vs bm25s.

All three see the same tokens: every paragraph is analysed by the product's per-language
tantivy analyser (simple tokenizer, long-token filter, lowercase, Snowball stemmer), tantivy
through its own fields, FTS5 and bm25s from pre-analysed text. Queries are analysed the same
way; FTS5 gets one column per analyser language like tantivy's ``text_<lang>`` fields, bm25s
(one field only) the union of the query's stems.

Measured: index build time, size on disk, sequential query latency (top-200, the engine's
candidate depth) and the cost of an incremental update (replace 1,000 paragraphs, delete
1,000). Run: ``.venv/bin/python benchmarks/lexical_engines.py [--limit N] [--out FILE]``.
bm25s is optional (``pip install bm25s``); without it that column is skipped. ``--smoke``: a
seconds-long run that only shows the script works (2,500 paragraphs, 20 queries; no figures
to quote).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Timer,
    dir_size_mb,
    emit,
    latency_summary,
    machine,
    news_paragraphs,
    news_titles,
    politifact_articles,
    politifact_queries,
)

from indexer.chunker import chunk_article
from indexer.lexical.analysis import ANALYZER_LANGS, build_analyzer
from indexer.lexical.base import analyzer_language
from indexer.lexical.embedded import EmbeddedBackend
from indexer.models import Filters, Paragraph
from indexer.query import parse_query

DEPTH = 200
#: ``--smoke``: paragraphs (at least 2,000: the update and delete steps take 1,000 each) and
#: queries (half PolitiFact claims, half news titles) of a seconds-long run.
SMOKE_LIMIT, SMOKE_QUERIES = 2500, 20
ANALYZERS = {lang: build_analyzer(lang) for lang in ANALYZER_LANGS}


def analyse(p: Paragraph) -> tuple[str, list[str]]:
    lang = analyzer_language(p.language)
    return lang, list(ANALYZERS[lang].analyze(p.text))


def query_stems(q: str) -> dict[str, list[str]]:
    return {lang: list(dict.fromkeys(a.analyze(q))) for lang, a in ANALYZERS.items()}


def bench_tantivy(paras: list[Paragraph], queries: list[str], work: Path) -> dict[str, Any]:
    path = work / "tantivy"
    backend = EmbeddedBackend(path)
    with Timer() as t:
        for i in range(0, len(paras), 1000):
            backend.upsert(paras[i : i + 1000])
        backend.commit()
    roots = [parse_query(q).root for q in queries]
    for root in roots[:20]:  # warm up
        if root is not None:
            backend.search(root, Filters(), DEPTH)
    lat = []
    for root in roots:
        if root is None:
            continue
        s = time.perf_counter()
        backend.search(root, Filters(), DEPTH)
        lat.append(time.perf_counter() - s)
    changed = [replace(p, text=p.text + " amended") for p in paras[:1000]]
    with Timer() as up:
        backend.upsert(changed)
        backend.commit()
    with Timer() as rm:
        backend.delete_paragraphs([p.paragraph_id for p in paras[1000:2000]])
        backend.commit()
    result = {
        "index_s": round(t.seconds, 2),
        "docs_per_s": round(len(paras) / t.seconds),
        "size_mb": round(dir_size_mb(path), 1),
        "query": latency_summary(lat),
        "update_1000_s": round(up.seconds, 3),
        "delete_1000_s": round(rm.seconds, 3),
        "incremental": "yes (delete by term + add, segment merges in the background)",
        "stores_original_text": True,
    }
    backend.close()
    return result


def bench_fts5(paras: list[Paragraph], queries: list[str], work: Path) -> dict[str, Any]:
    path = work / "fts5.sqlite"
    cols = [f"text_{lang}" for lang in ANALYZER_LANGS]
    with Timer() as t:
        rows = []
        for n, p in enumerate(paras):
            lang, toks = analyse(p)
            row: list[Any] = [n, p.paragraph_id] + [""] * len(cols)
            row[2 + ANALYZER_LANGS.index(lang)] = " ".join(toks)
            rows.append(row)
        db = sqlite3.connect(path)
        db.execute(
            f"CREATE VIRTUAL TABLE t USING fts5(pid UNINDEXED, {', '.join(cols)}, "
            "tokenize='unicode61 remove_diacritics 0')"
        )
        db.executemany(f"INSERT INTO t(rowid, pid, {', '.join(cols)}) VALUES (?,?,?,?,?,?)", rows)
        db.commit()
    sql = "SELECT pid, bm25(t) FROM t WHERE t MATCH ? ORDER BY rank LIMIT ?"
    lat = []
    for i, q in enumerate([*queries[:20], *queries]):  # 20 warm-up queries first
        s = time.perf_counter()
        parts = [
            f"text_{lang} : ({' OR '.join(chr(34) + x + chr(34) for x in stems)})"
            for lang, stems in query_stems(q).items()
            if stems
        ]
        if parts:
            db.execute(sql, (" OR ".join(parts), DEPTH)).fetchall()
        if i >= 20:
            lat.append(time.perf_counter() - s)
    with Timer() as up:
        for n, p in enumerate(paras[:1000]):
            lang, toks = analyse(p)
            db.execute("DELETE FROM t WHERE rowid = ?", (n,))
            row = [n, p.paragraph_id] + [""] * len(cols)
            row[2 + ANALYZER_LANGS.index(lang)] = " ".join([*toks, "amend"])
            db.execute(f"INSERT INTO t(rowid, pid, {', '.join(cols)}) VALUES (?,?,?,?,?,?)", row)
        db.commit()
    with Timer() as rm:
        db.executemany("DELETE FROM t WHERE rowid = ?", [(n,) for n in range(1000, 2000)])
        db.commit()
    db.close()
    return {
        "index_s": round(t.seconds, 2),
        "docs_per_s": round(len(paras) / t.seconds),
        "size_mb": round(dir_size_mb(path), 1),
        "query": latency_summary(lat),
        "update_1000_s": round(up.seconds, 3),
        "delete_1000_s": round(rm.seconds, 3),
        "incremental": "yes (by rowid; an external paragraph-id -> rowid map is needed)",
        "stores_original_text": False,
    }


def bench_bm25s(paras: list[Paragraph], queries: list[str], work: Path) -> dict[str, Any]:
    try:
        import bm25s
    except ImportError:
        return {"skipped": "bm25s not installed (pip install bm25s)"}
    with Timer() as t:
        corpus = [analyse(p)[1] for p in paras]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
    retriever.save(str(work / "bm25s"))
    vocab = retriever.vocab_dict
    lat = []
    for i, q in enumerate([*queries[:20], *queries]):
        s = time.perf_counter()
        stems = {x for v in query_stems(q).values() for x in v if x in vocab}
        if stems:
            retriever.retrieve([list(stems)], k=DEPTH, show_progress=False, n_threads=1)
        if i >= 20:
            lat.append(time.perf_counter() - s)
    with Timer() as rebuild:  # no incremental API: an update is a full re-index
        again = bm25s.BM25()
        again.index(corpus[2000:], show_progress=False)
    return {
        "index_s": round(t.seconds, 2),
        "docs_per_s": round(len(paras) / t.seconds),
        "size_mb": round(dir_size_mb(work / "bm25s"), 1),
        "query": latency_summary(lat),
        "update_1000_s": round(rebuild.seconds, 3),
        "delete_1000_s": round(rebuild.seconds, 3),
        "incremental": "no: any change re-indexes the corpus (timed as update/delete)",
        "stores_original_text": False,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="paragraphs (default 40000)")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny run: --limit {SMOKE_LIMIT}, {SMOKE_QUERIES} queries",
    )
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    args = ap.parse_args()
    limit = args.limit or (SMOKE_LIMIT if args.smoke else 40_000)
    half = (SMOKE_QUERIES if args.smoke else 200) // 2
    with Timer() as load:
        paras = news_paragraphs(limit)
        for article in politifact_articles():
            if len(paras) >= limit:
                break
            paras.extend(chunk_article(article))
        paras = paras[:limit]
    queries = politifact_queries(half) + news_titles(half)
    print(
        f"{len(paras)} paragraphs ({load.seconds:.0f} s to read and chunk), {len(queries)} queries",
        file=sys.stderr,
    )
    work = Path(tempfile.mkdtemp(prefix="lexbench-"))
    try:
        result: dict[str, Any] = {
            "machine": machine(),
            "paragraphs": len(paras),
            "mean_chars": round(float(np.mean([len(p.text) for p in paras]))),
            "queries": len(queries),
            "depth": DEPTH,
        }
        if args.smoke:
            result["smoke"] = True
        for name, fn in (("tantivy", bench_tantivy), ("fts5", bench_fts5), ("bm25s", bench_bm25s)):
            print(f"running {name} ...", file=sys.stderr)
            result[name] = fn(paras, queries, work)
        result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
        emit(result, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
