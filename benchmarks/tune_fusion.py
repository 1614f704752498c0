"""Fusion sweep: choose RRF k / weights, convex alpha / normalisation, candidate depth and the
article-score aggregation from data (tune on one split, report on another).

Usage (the index must already hold the corpus, e.g. built by ``newssearch ingest`` or
``newssearch eval``; nothing is embedded here except the queries)::

    .venv/bin/python benchmarks/tune_fusion.py \\
        /work/shared/data/relevance/checkthat2021-politifact-1k \\
        --index /work/eval-index/politifact-1k [--full] [--json-out sweep.json]

How it mirrors the product exactly:
- every query is turned into plain words with :func:`search_api.evaluation.plain_query` and
  retrieved ONCE with ``SearchEngine.retrieve`` (the engine's own BM25 and dense lists, filters
  and constraint handling) at the deepest depth of the sweep;
- a configuration truncates both lists to its candidate depth (what
  ``SearchRequest.candidates`` does), fuses them with the product's :func:`rrf` / :func:`convex`
  exactly as ``SearchEngine.fuse`` does (falling back to the non-empty list), groups the
  paragraphs into articles with :func:`search_api.grouping.group_by_article` and its
  ``aggregate`` option, and keeps the top 100 articles;
- metrics are :func:`search_api.evaluation.compute_metrics` (nDCG@10, MAP@100, MRR@10,
  Recall@100, mean over all judged queries).

The sweep is staged (``--full`` runs the whole grid instead): stage 1 sweeps RRF k x lexical
weight and convex alpha x normalisation at depth 200 with ``max`` aggregation; stage 2 crosses
the best three settings of each family on the tuning split (and both single retrievers) with
every depth and aggregation. The configuration with the best tuning-split nDCG@10 wins.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from indexer.models import Hit  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from indexer.stores import open_stores  # noqa: E402
from search_api.engine import SearchEngine  # noqa: E402
from search_api.evaluation import (  # noqa: E402
    BeirDataset,
    compute_metrics,
    load_beir,
    plain_query,
)
from search_api.fusion import Normalisation, convex, rrf  # noqa: E402
from search_api.grouping import AGGREGATIONS, Aggregation, group_by_article  # noqa: E402
from search_api.schemas import SearchRequest  # noqa: E402

DEPTHS = (50, 100, 200, 500, 1000)
RRF_KS = (10, 30, 60, 100)
#: Lexical weight in weighted RRF (the dense list keeps weight 1).
RRF_LEX_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
NORMS: tuple[Normalisation, ...] = ("minmax", "zscore")
STAGE1_DEPTH = 200
TOP_ARTICLES = 100

Lists = dict[str, tuple[list[Hit], list[Hit]]]


@dataclass(frozen=True)
class Config:
    """One point of the sweep. ``method``: bm25, dense, rrf or convex."""

    method: str
    depth: int
    aggregate: Aggregation = "max"
    k: int = 60
    lex_weight: float = 1.0
    alpha: float = 0.5
    norm: Normalisation = "minmax"

    @property
    def family(self) -> str:
        """The fusion setting without depth and aggregation (used to pick stage-2 seeds)."""
        if self.method == "rrf":
            return f"rrf k={self.k} w_lex={self.lex_weight:g}"
        if self.method == "convex":
            return f"convex alpha={self.alpha:g} {self.norm}"
        return self.method

    @property
    def label(self) -> str:
        """Human-readable name of the whole configuration."""
        return f"{self.family} depth={self.depth} agg={self.aggregate}"


def retrieve_all(engine: SearchEngine, queries: dict[str, str], depth: int) -> Lists:
    """Both retrievers' paragraph lists per query, as ``SearchEngine.search`` would fetch them."""
    out: Lists = {}
    for qid, text in queries.items():
        q = plain_query(text)
        if not q:
            out[qid] = ([], [])
            continue
        req = SearchRequest(q=q, mode="hybrid", candidates=min(depth, 10_000))
        got = engine.candidates(req)
        if got.degraded:
            raise SystemExit(f"retriever unavailable: {got.degraded}")
        out[qid] = (got.lexical, got.dense)
    return out


def fused(config: Config, lexical: Sequence[Hit], dense: Sequence[Hit]) -> list[Hit]:
    """The paragraph ranking of ``config`` (the logic of ``SearchEngine.fuse``)."""
    lex, den = list(lexical[: config.depth]), list(dense[: config.depth])
    if config.method == "bm25":
        return lex
    if config.method == "dense" or not lex:
        return den
    if not den:
        return lex
    if config.method == "convex":
        return convex(lex, den, alpha=config.alpha, method=config.norm)
    return rrf([lex, den], k=config.k, weights=[config.lex_weight, 1.0])


def score(config: Config, lists: Lists, data: BeirDataset) -> dict[str, float]:
    """Metrics of ``config`` on the queries of ``data``."""
    run: dict[str, list[str]] = {}
    for qid in data.queries:
        lexical, dense = lists[qid]
        groups = group_by_article(fused(config, lexical, dense), config.aggregate)
        run[qid] = [g.article_id for g in groups[:TOP_ARTICLES]]
    return compute_metrics(data.qrels, run)


def stage1() -> list[Config]:
    """Fusion settings at the current depth with ``max`` aggregation, plus single retrievers."""
    singles = [Config(m, STAGE1_DEPTH) for m in ("bm25", "dense")]
    rrfs = [
        Config("rrf", STAGE1_DEPTH, k=k, lex_weight=w)
        for k, w in itertools.product(RRF_KS, RRF_LEX_WEIGHTS)
    ]
    convexes = [
        Config("convex", STAGE1_DEPTH, alpha=a, norm=n) for a, n in itertools.product(ALPHAS, NORMS)
    ]
    return singles + rrfs + convexes


def expand(seeds: Sequence[Config]) -> list[Config]:
    """Every depth x aggregation for each seed."""
    return [
        Config(**{**asdict(s), "depth": d, "aggregate": a})
        for s in seeds
        for d, a in itertools.product(DEPTHS, AGGREGATIONS)
    ]


def run_configs(
    configs: Sequence[Config],
    lists: Lists,
    tune: BeirDataset,
    report: BeirDataset,
    done: dict[Config, tuple[dict[str, float], dict[str, float]]],
    log: Callable[[str], None],
) -> None:
    """Score every config not yet in ``done`` on both splits."""
    todo = [c for c in configs if c not in done]
    started = time.monotonic()
    for i, config in enumerate(todo, start=1):
        done[config] = (score(config, lists, tune), score(config, lists, report))
        if i % 25 == 0:
            log(f"  {i}/{len(todo)} configs ({time.monotonic() - started:.0f}s)")


def best_families(
    done: dict[Config, tuple[dict[str, float], dict[str, float]]], method: str, n: int
) -> list[Config]:
    """The ``n`` best configs of ``method`` by tuning nDCG@10 (distinct fusion settings)."""
    ranked = sorted((c for c in done if c.method == method), key=lambda c: -done[c][0]["nDCG@10"])
    seen: set[str] = set()
    out: list[Config] = []
    for c in ranked:
        if c.family not in seen:
            seen.add(c.family)
            out.append(c)
        if len(out) == n:
            break
    return out


def table(
    rows: Sequence[Config],
    done: dict[Config, tuple[dict[str, float], dict[str, float]]],
    tune_split: str,
    report_split: str,
) -> str:
    """A Markdown table: tuning nDCG@10, then all four report-split metrics."""
    head = (
        f"| configuration | {tune_split} nDCG@10 | {report_split} nDCG@10 | {report_split} MAP "
        f"| {report_split} MRR@10 | {report_split} R@100 |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for c in rows:
        t, r = done[c]
        lines.append(
            f"| {c.label} | {t['nDCG@10']:.4f} | {r['nDCG@10']:.4f} | {r['MAP']:.4f} "
            f"| {r['MRR@10']:.4f} | {r['Recall@100']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep; prints Markdown tables to stdout, progress to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dataset", type=Path, help="BEIR data set directory")
    parser.add_argument("--index", type=Path, required=True, help="index holding the corpus")
    parser.add_argument("--tune-split", default="train")
    parser.add_argument("--report-split", default="dev")
    parser.add_argument("--full", action="store_true", help="the whole grid, not staged")
    parser.add_argument("--top", type=int, default=25, help="rows of the ranked table")
    parser.add_argument("--json-out", type=Path, help="also write every result as JSON here")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tune = load_beir(args.dataset, args.tune_split)
    report = load_beir(args.dataset, args.report_split)
    stores = open_stores(Settings(index=args.index))
    try:
        engine = SearchEngine(stores)
        started = time.monotonic()
        lists = retrieve_all(engine, {**tune.queries, **report.queries}, max(DEPTHS))
        log(f"retrieved {len(lists)} queries in {time.monotonic() - started:.0f}s")
    finally:
        stores.close()

    done: dict[Config, tuple[dict[str, float], dict[str, float]]] = {}
    if args.full:
        grid = stage1()
        run_configs(expand(grid), lists, tune, report, done, log)
    else:
        run_configs(stage1(), lists, tune, report, done, log)
        seeds = [
            *best_families(done, "bm25", 1),
            *best_families(done, "dense", 1),
            *best_families(done, "rrf", 3),
            *best_families(done, "convex", 3),
        ]
        run_configs(expand(seeds), lists, tune, report, done, log)

    def by_tune(c: Config) -> tuple[float, float]:
        return (-done[c][0]["nDCG@10"], -done[c][0]["MAP"])

    ranked = sorted(done, key=by_tune)
    print(
        f"## {tune.name}: tune on {args.tune_split} ({len(tune.queries)} queries), "
        f"report on {args.report_split} ({len(report.queries)} queries)\n"
    )
    print("### Best configurations by tuning nDCG@10\n")
    print(table(ranked[: args.top], done, args.tune_split, args.report_split))
    print("\n### Best of each method (by tuning nDCG@10)\n")
    per_method = [best_families(done, m, 1)[0] for m in ("bm25", "dense", "rrf", "convex")]
    print(table(per_method, done, args.tune_split, args.report_split))
    print("\n### Reference points (depth 200 / 1000, agg=max)\n")
    refs = [
        c
        for c in done
        if c.aggregate == "max"
        and c.depth in (STAGE1_DEPTH, 1000)
        and (
            c.method in ("bm25", "dense")
            or c.family in ("rrf k=60 w_lex=1", "convex alpha=0.5 minmax")
        )
    ]
    print(
        table(
            sorted(refs, key=lambda c: (c.method, c.depth)),
            done,
            args.tune_split,
            args.report_split,
        )
    )
    for method in ("rrf", "convex"):
        print(f"\n### {method}: stage-1 grid (depth {STAGE1_DEPTH}, agg=max)\n")
        grid = [
            c
            for c in done
            if c.method == method and c.depth == STAGE1_DEPTH and c.aggregate == "max"
        ]
        print(table(sorted(grid, key=by_tune), done, args.tune_split, args.report_split))
    chosen = ranked[0]
    print(f"\nchosen: {chosen.label}")
    if args.json_out:
        payload: list[dict[str, Any]] = [
            {"config": asdict(c), args.tune_split: t, args.report_split: r}
            for c, (t, r) in done.items()
        ]
        args.json_out.write_text(json.dumps(payload, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
