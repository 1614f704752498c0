"""Every match of each query word, three ways: what a result set's exact lexical side costs.

Index: the cached embedded index of ``query_latency.py`` at each size (built when missing).
Queries: ``result_set.py``'s two sets (200 short search-box queries, 200 PolitiFact claims);
per query its distinct leaves (``membership.distinct_leaves``), as the engine asks for them.

Per query, all leaves at once, sequential, each way timed on the same leaves:

- ``tantivy_py``: ``EmbeddedBackend(native=False).matching_vec_ids`` (tantivy-py's hit list,
  one Python object per match) plus ``VecIdIndex.positions(native=False)`` (numpy) to table
  positions: the path without ``newssearch_native``;
- ``native_vec_ids``: ``Matcher.vec_ids`` plus the native ``PositionMap.lookup``;
- ``native_positions``: ``Matcher.positions`` (per-segment doc -> position arrays, built once
  per table before timing): what the engine uses.

The three must give the same positions per leaf (checked on every query; the script stops
otherwise). Printed: per way, ms per query p50 / p99 / mean and ns per match; matches and
leaves per query.

Run: ``.venv/bin/python benchmarks/word_matches.py [--sizes 1000000] [--queries 200]
[--out FILE]``; ``--smoke``: the 2,000-paragraph smoke index, 20 queries per set.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SMOKE_REAL_VECTORS, emit, latency_summary, machine
from query_latency import ensure_index
from result_set import claim_queries, short_queries

from indexer.catalog import Catalog
from indexer.lexical.embedded import EmbeddedBackend
from indexer.query import Term, parse_query
from search_api.search import membership
from search_api.search.table import build_table

WAYS = ("tantivy_py", "native_vec_ids", "native_positions")


def measure(directory: Path, queries: dict[str, list[str]]) -> dict[str, Any]:
    """Figures per query set on the index in ``directory``."""
    table = build_table(Catalog(directory / "catalog.sqlite"))
    index = table.vec_index()
    python = EmbeddedBackend(directory / "lexical", native=False)
    native = EmbeddedBackend(directory / "lexical", native=True)
    keys = index.native()
    started = time.perf_counter()
    native.matching_positions([Term("warm")], keys)  # builds the segment maps
    out: dict[str, Any] = {
        "paragraphs": table.paragraphs,
        "segment_maps_s": round(time.perf_counter() - started, 3),
    }
    for name, texts in queries.items():
        seconds: dict[str, list[float]] = {way: [] for way in WAYS}
        matches = leaves = 0
        for text in texts:
            wanted = membership.distinct_leaves(parse_query(text).root)
            if not wanted:
                continue
            leaves += len(wanted)
            got: dict[str, list[list[int]]] = {}
            t = time.perf_counter()
            mapped = [index.positions(v, native=False) for v in python.matching_vec_ids(wanted)]
            seconds["tantivy_py"].append(time.perf_counter() - t)
            got["tantivy_py"] = [sorted(p[p >= 0].tolist()) for p in mapped]
            t = time.perf_counter()
            looked = [index.positions(v, native=True) for v in native.matching_vec_ids(wanted)]
            seconds["native_vec_ids"].append(time.perf_counter() - t)
            got["native_vec_ids"] = [sorted(p[p >= 0].tolist()) for p in looked]
            t = time.perf_counter()
            direct = native.matching_positions(wanted, keys)
            seconds["native_positions"].append(time.perf_counter() - t)
            assert direct is not None
            got["native_positions"] = [sorted(p.tolist()) for p in direct]
            if not got["tantivy_py"] == got["native_vec_ids"] == got["native_positions"]:
                raise SystemExit(f"the ways disagree on {text!r}")
            matches += sum(len(p) for p in got["native_positions"])
        n = len(seconds["tantivy_py"])
        row: dict[str, Any] = {
            "queries": n,
            "leaves_per_query": round(leaves / max(n, 1), 1),
            "matches_per_query": round(matches / max(n, 1)),
        }
        for way in WAYS:
            summary = latency_summary(seconds[way])
            total = sum(seconds[way])
            row[way] = {**summary, "ns_per_match": round(total / max(matches, 1) * 1e9, 1)}
        out[name] = row
        print(name, row, file=sys.stderr, flush=True)
    python.close()
    native.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=None, help="default 1000000")
    ap.add_argument("--queries", type=int, default=None, help="per query set; default 200")
    ap.add_argument("--smoke", action="store_true", help="2,000 paragraphs, 20 queries per set")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = args.sizes or ("2000" if args.smoke else "1000000")
    nq = args.queries or (20 if args.smoke else 200)
    real_limit = SMOKE_REAL_VECTORS if args.smoke else None
    queries = {"short": short_queries(nq), "claims": claim_queries(nq)}
    result: dict[str, Any] = {"machine": machine(), "sizes": {}}
    if args.smoke:
        result["smoke"] = True
    for n in [int(s) for s in sizes.split(",")]:
        directory, _ = ensure_index(n, "embedded", None, real_limit)
        result["sizes"][n] = measure(directory, queries)
    result["machine_after"] = {"load_avg_1_5_15": machine()["load_avg_1_5_15"]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
