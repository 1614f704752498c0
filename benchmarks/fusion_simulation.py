"""Article-level fusion of BM25, MiniLM and USE, simulated over the runs of the two
single-encoder indexes (docs/evaluation.md, "Several encoders at once" and "Query-adaptive
fusion (measured)").

    python benchmarks/fusion_simulation.py --root /tmp/ml-eval --out sim.json

Reads the indexes ``benchmarks/encoders.py`` builds (``ROOT/minilm/<set>``, ``ROOT/use/<set>``):
per query of every dev set and direction, BM25's and MiniLM's candidate paragraphs from the
MiniLM index and USE's from the USE index (``SearchEngine.candidates``, every paragraph a
semantic member), each grouped into articles by their best paragraph. It then fuses the three
article lists by a convex combination of z-scores (a missing article takes the list's minimum)
under several rules and reports nDCG@10 per set and direction, and the worst margin over the
best single list:

- ``static``: fixed weights (BM25, MiniLM, USE) for every query;
- ``routed``: MiniLM only where query and corpus are English (the rule the product adopted);
- ``adaptive-p``: ``routed``, each list's weight multiplied by its confidence for this query,
  ``((top1 - mean(top 2-11)) / std) ** p`` (a peaked list counts more).

An article-level simulation, not the product (which fuses paragraphs); it chooses between
rules, and the product is then measured (``newssearch eval``). ``--smoke``: tiny indexes built
here (seconds; no figures).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, machine, zscores  # also puts the repository on sys.path
from encoders import DATA, MODELS, RUNS, language_copy, smoke_copy

from indexer.models import Hit
from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import open_stores
from search_api import evaluation
from search_api.engine import SearchEngine
from search_api.grouping import article_of
from search_api.schemas import SearchRequest

Lists = tuple[dict[str, float], dict[str, float], dict[str, float]]
#: Weights (BM25, MiniLM, USE) of the rules measured.
STATIC = {
    "static-0.3-0.35-0.35": (0.3, 0.35, 0.35),
    "static-0.3-0.56-0.14": (0.3, 0.56, 0.14),
    "static-0.2-0.4-0.4": (0.2, 0.4, 0.4),
    "static-0.3-0.14-0.56": (0.3, 0.14, 0.56),
}
ROUTED_EN, ROUTED_OTHER = (0.3, 0.63, 0.07), (0.3, 0.0, 0.7)
POWERS = (0.5, 1.0, 2.0)


def by_article(hits: list[Hit]) -> dict[str, float]:
    """Each article's best paragraph score."""
    out: dict[str, float] = {}
    for h in hits:
        a = article_of(h.paragraph_id)
        out[a] = max(out.get(a, h.score), h.score)
    return out


def confidence(scores: dict[str, float]) -> float:
    """How far this list's best score stands out: (top1 - mean of the next 10) / std."""
    values = sorted(scores.values(), reverse=True)
    if len(values) < 11:
        return 1.0
    std = statistics.pstdev(values) or 1.0
    return max((values[0] - statistics.fmean(values[1:11])) / std, 0.0)


def fuse(lists: Lists, weights: tuple[float, ...]) -> list[str]:
    """Article ids by the convex combination of the lists' z-scores."""
    normal = [zscores(s) for s in lists]
    keys = set().union(*(n for n, _ in normal))
    fused = {
        k: sum(w * n.get(k, floor) for w, (n, floor) in zip(weights, normal, strict=True) if w)
        for k in keys
    }
    return sorted(fused, key=lambda k: (-fused[k], k))[:100]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="encoders.py's --root.")
    parser.add_argument("--cache", type=Path, default=None, help="Embedding cache file.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true", help="A seconds-long run (tiny data).")
    args = parser.parse_args()
    cache = args.cache or args.root / "cache.sqlite"
    names = list(dict.fromkeys(r[0] for r in RUNS))
    sets = {name: DATA / name for name in names}
    out: dict[str, Any] = {"machine": machine(), "runs": []}
    if args.smoke:
        out["smoke"] = True
        sets = {name: smoke_copy(path, args.root) for name, path in sets.items()}

    def engine_for(encoder: str, name: str) -> SearchEngine:
        model, _ = MODELS[encoder]
        settings = Settings(
            index=args.root / encoder / name, model=model, extra_models=[], embedding_cache=cache
        )
        stores = open_stores(settings)
        if args.smoke:
            ingest(stores, [sets[name]])
        return SearchEngine(stores)

    for name in names:
        minilm, use = engine_for("minilm", name), engine_for("use", name)
        for split, langs in ((s, ls) for n, s, ls in RUNS if n == name):
            for lang in langs:
                data = evaluation.load_beir(language_copy(sets[name], lang, args.root), split)
                english = lang in (None, "en") and name != "gnad-xling"
                lists: dict[str, Lists] = {}
                for qid, text in data.queries.items():
                    q = evaluation.plain_query(text)
                    if not q:
                        continue
                    req = SearchRequest(q=q, mode="hybrid", min_similarity=-1.0, fold=False)
                    m, u = minilm.candidates(req), use.candidates(req)
                    lists[qid] = (by_article(m.lexical), by_article(m.dense), by_article(u.dense))
                rules: dict[str, tuple[float, float, float]] = {
                    "bm25": (1.0, 0.0, 0.0),
                    "minilm": (0.0, 1.0, 0.0),
                    "use": (0.0, 0.0, 1.0),
                    **STATIC,
                    "routed": ROUTED_EN if english else ROUTED_OTHER,
                }
                row: dict[str, Any] = {"dataset": name, "split": split, "lang": lang}
                for rule, weights in rules.items():
                    run = {qid: fuse(ls, weights) for qid, ls in lists.items()}
                    row[rule] = round(evaluation.compute_metrics(data.qrels, run)["nDCG@10"], 4)
                base = ROUTED_EN if english else ROUTED_OTHER
                for power in POWERS:
                    run = {
                        qid: fuse(
                            ls,
                            tuple(
                                w * confidence(s) ** power for w, s in zip(base, ls, strict=True)
                            ),
                        )
                        for qid, ls in lists.items()
                    }
                    metrics = evaluation.compute_metrics(data.qrels, run)
                    row[f"adaptive-{power}"] = round(metrics["nDCG@10"], 4)
                out["runs"].append(row)
                print(row, file=sys.stderr, flush=True)
        for engine in (minilm, use):
            engine.close()
            engine.stores.close()
    measured = [k for k in out["runs"][0] if k not in ("dataset", "split", "lang")]
    best_single = [max(r["bm25"], r["minilm"], r["use"]) for r in out["runs"]]
    out["summary"] = {
        rule: {
            "mean": round(statistics.fmean(r[rule] for r in out["runs"]), 4),
            "worst_margin": round(
                min(r[rule] - b for r, b in zip(out["runs"], best_single, strict=True)), 4
            ),
        }
        for rule in measured
    }
    emit(out, args.out)


if __name__ == "__main__":
    main()
