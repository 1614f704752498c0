"""The title as context of each paragraph's embedding, measured on every dev set and direction
(docs/evaluation.md, "Titles as embedding context").

    python benchmarks/title_context.py --indexes /tmp/mx/eval --root /tmp/title-ctx --out t.json

Today each paragraph is embedded alone. This script copies each evaluation index (``--indexes
DIR/<data set>``: the product's default encoders, MiniLM + USE, built by ``newssearch ingest``
or ``eval``), re-embeds every paragraph of every encoder as ``title + "\\n" + paragraph``
(through the embedding cache), and runs ``search_api.evaluation.evaluate`` (bm25 / dense /
hybrid, ``fold=false``) on the original and the copy for each split and query language.
Lexical data and membership rules are unchanged, so only the dense rankings and the semantic
sets move. ``--smoke``: tiny copies of the data sets, built here (seconds; no figures).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import emit, machine  # also puts the repository on sys.path
from encoders import DATA, RUNS, index_arguments, language_copy, smoke_copy

from indexer.catalog import vec_id
from indexer.pipeline import check, ingest
from indexer.settings import Settings
from indexer.spaces import same_encoder
from indexer.stores import open_stores
from indexer.vectors import VectorStore
from search_api import evaluation

BATCH = 512


def with_title(index: Path, settings: Settings, only: str | None = None) -> dict[str, int]:
    """Re-embed every paragraph of ``index`` as title + paragraph, in every space (or only in
    encoder ``only``'s); returns the paragraphs written and the texts really embedded. The
    index must pass ``check`` after."""
    stores = open_stores(settings.model_copy(update={"index": index}))
    try:
        ids = [pid for pid, _ in stores.catalog.iter_paragraph_ids()]
        embedded = 0
        for space in stores.spaces:
            if only is not None and not same_encoder(space.name, only):
                continue
            path = space.vectors.path
            fresh = VectorStore(path.with_name(path.name + ".title"), space.embedder.dim)
            before = space.embedder.computed
            for start in range(0, len(ids), BATCH):
                found = stores.catalog.paragraphs(ids[start : start + BATCH])
                paragraphs = [found[p] for p in ids[start : start + BATCH] if p in found]
                texts = [f"{p.title}\n{p.text}" if p.title else p.text for p in paragraphs]
                fresh.add(
                    [vec_id(p.paragraph_id) for p in paragraphs],
                    space.embedder.embed_passages(texts),
                )
            fresh.save()
            embedded += space.embedder.computed - before
            fresh.path.replace(path)
        written = len(ids)
    finally:
        stores.close()
    stores = open_stores(settings.model_copy(update={"index": index}))
    try:
        assert check(stores).ok, "the re-embedded copy diverges from its catalog"
    finally:
        stores.close()
    return {"paragraphs": written, "embedded": embedded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="Re-embed only this encoder's space (default: all).")
    args = index_arguments(parser)
    cache = args.cache or args.root / "cache.sqlite"
    names = list(dict.fromkeys(r[0] for r in RUNS))
    sets = {name: DATA / name for name in names}
    out: dict[str, Any] = {"machine": machine(), "only": args.only, "reembed": {}, "runs": []}
    if args.smoke:
        out["smoke"] = True
        sets = {name: smoke_copy(path, args.root) for name, path in sets.items()}

    def settings(index: Path) -> Settings:
        return Settings(index=index, lexical="embedded", embedding_cache=cache)

    originals: dict[str, Path] = {}
    for name in names:
        if args.smoke:
            originals[name] = args.root / "plain" / name
            stores = open_stores(settings(originals[name]))
            try:
                ingest(stores, [sets[name]])
            finally:
                stores.close()
        else:
            originals[name] = args.indexes / name
        copy = args.root / "title" / name
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(originals[name], copy)
        started = time.perf_counter()
        out["reembed"][name] = {
            **with_title(copy, settings(copy), args.only),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(name, out["reembed"][name], file=sys.stderr, flush=True)

    for name, split, langs in RUNS:
        for lang in langs:
            data = language_copy(sets[name], lang, args.root)
            row: dict[str, Any] = {"dataset": name, "split": split, "lang": lang}
            for variant, index in (
                ("plain", originals[name]),
                ("title", args.root / "title" / name),
            ):
                report = evaluation.evaluate(
                    data, settings(index), split=split, ingest_corpus=False
                )
                row[variant] = report.results
            out["runs"].append(row)
            print(row, file=sys.stderr, flush=True)
    emit(out, args.out)


if __name__ == "__main__":
    main()
