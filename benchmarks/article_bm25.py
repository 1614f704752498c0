"""An article-level BM25 signal beside the paragraph one, measured on every dev set and
direction (docs/evaluation.md, "Article-level BM25 (measured)").

    python benchmarks/article_bm25.py --indexes /tmp/mx/eval --root /tmp/article-bm25 --out a.json

The product scores paragraphs (BM25 and each encoder), fuses them and aggregates an article's
paragraphs into its score. This script asks whether BM25 over the *whole article* (title and
every paragraph as one document, the product's own embedded analysers) adds to that: for
each query it takes the product's hybrid ranking (``fold=false``, first 100 articles with
their scores) and re-ranks it by ``(1 - beta) * z(product) + beta * z(article BM25)`` (a
missing article takes the list's minimum), for several ``beta``; ``beta = 0`` is the product
by paragraphs alone (``article_weight=0``: the product blends the article signal itself since
it was adopted, search_api/search/article_signal.py).
``--smoke``: tiny copies of the data sets, built here (seconds; no figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, machine, zscores  # also puts the repository on sys.path
from encoders import DATA, RUNS, index_arguments, language_copy, smoke_copy

from indexer.lexical.embedded import EmbeddedBackend
from indexer.models import Filters
from indexer.pipeline import article_documents, ingest
from indexer.query import parse_query
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api import evaluation
from search_api.engine import SearchEngine
from search_api.grouping import article_of
from search_api.schemas import SearchRequest
from search_api.search import membership

BETAS = (0.0, 0.1, 0.2, 0.3, 0.5)
DEPTH = 100


def article_index(stores: Stores, path: Path) -> EmbeddedBackend:
    """A tantivy index of whole articles (title + every paragraph, one document each: the
    product's own :func:`indexer.pipeline.article_documents`)."""
    backend = EmbeddedBackend(path)
    backend.reset()
    ids = stores.catalog.committed_article_ids()
    for start in range(0, len(ids), 500):
        backend.upsert(article_documents(stores.catalog.paragraphs_of(ids[start : start + 500])))
    backend.commit()
    return backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args = index_arguments(parser)
    cache = args.cache or args.root / "cache.sqlite"
    names = list(dict.fromkeys(r[0] for r in RUNS))
    sets = {name: DATA / name for name in names}
    out: dict[str, Any] = {"machine": machine(), "betas": list(BETAS), "runs": []}
    if args.smoke:
        out["smoke"] = True
        sets = {name: smoke_copy(path, args.root) for name, path in sets.items()}
    for name in names:
        index = args.root / "plain" / name if args.smoke else args.indexes / name
        settings = Settings(index=index, lexical="embedded", embedding_cache=cache)
        stores = open_stores(settings)
        try:
            if args.smoke:
                ingest(stores, [sets[name]])
            articles = article_index(stores, args.root / "articles" / name)
            engine = SearchEngine(stores)
            for split, langs in ((s, ls) for n, s, ls in RUNS if n == name):
                for lang in langs:
                    data = evaluation.load_beir(language_copy(sets[name], lang, args.root), split)
                    runs: dict[float, dict[str, list[str]]] = {b: {} for b in BETAS}
                    for qid, text in data.queries.items():
                        q = evaluation.plain_query(text)
                        if not q:
                            continue
                        req = SearchRequest(q=q, fold=False, limit=DEPTH, article_weight=0)
                        resp = engine.search(req)
                        product = {
                            r.article_id: r.score for r in resp.results if r.score is not None
                        }
                        parsed = parse_query(q)
                        tree = membership.ranking_tree(parsed.root, plain=parsed.is_plain)
                        hits = articles.search(tree, Filters(), 500) if tree is not None else []
                        lexical = {article_of(h.paragraph_id): h.score for h in hits}
                        zp, floor_p = zscores(product)
                        zl, floor_l = zscores(lexical)
                        for beta in BETAS:
                            fused = {
                                a: (1 - beta) * zp.get(a, floor_p) + beta * zl.get(a, floor_l)
                                for a in product
                            }
                            runs[beta][qid] = sorted(fused, key=lambda a: (-fused[a], a))
                    row: dict[str, Any] = {"dataset": name, "split": split, "lang": lang}
                    for beta in BETAS:
                        metrics = evaluation.compute_metrics(data.qrels, runs[beta])
                        row[str(beta)] = {k: round(v, 4) for k, v in metrics.items()}
                    out["runs"].append(row)
                    print(row, file=sys.stderr, flush=True)
            articles.close()
        finally:
            stores.close()
    emit(out, args.out)


if __name__ == "__main__":
    main()
