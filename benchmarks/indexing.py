"""Ingest throughput against raw ``model.encode`` on the same paragraphs, in the same run.

Input: the first BBC News articles (duplicates removed) adding up to about ``--paragraphs``
paragraphs, written to a temporary JSONL file and ingested by the product's ``ingest`` into a
fresh index with a *fresh, empty* embedding cache (a temporary file), so every paragraph goes
through the model. The raw baseline encodes exactly the paragraph texts ingest produces (same
chunker, same model object, same batch size, normalised) by calling the model directly: the
embedder's ``embed_passages`` without cache or pipeline, i.e. ``SentenceTransformer.encode``
for ``--model-backend torch`` and the ONNX Runtime session for ``onnx-int8`` (the default).
The baseline runs before and after the ingest and the two are averaged, which cancels slow
drift of a shared machine's load; it runs in a worker thread, as ingest's embedder does
(torch was measured faster in a worker thread than in the main thread on this machine).
The figure is ``ingest_pps / raw_pps`` (target >= 0.9).

Run: ``.venv/bin/python benchmarks/indexing.py [--paragraphs 1500]
[--backend embedded|elasticsearch --es-url URL] [--model-backend onnx-int8|torch] [--out FILE]``.
``--smoke``: a seconds-long run that only shows the script works (about 60 paragraphs, each
still embedded three times, as in a full run; no figures to quote).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import NEWS, Timer, emit, machine

from indexer.embedder import Embedder
from indexer.pipeline import ingest, prepare
from indexer.readers import read_paths
from indexer.settings import Settings
from indexer.stores import make_embedder, open_stores

#: ``--smoke``: paragraphs of a seconds-long run.
SMOKE_PARAGRAPHS = 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paragraphs", type=int, default=None, help="default 1500")
    ap.add_argument("--backend", default="embedded", choices=["embedded", "elasticsearch"])
    ap.add_argument("--es-url", default=None)
    ap.add_argument("--model-backend", default="onnx-int8", choices=["onnx-int8", "torch"])
    ap.add_argument(
        "--smoke", action="store_true", help=f"tiny run: --paragraphs {SMOKE_PARAGRAPHS}"
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    target = args.paragraphs or (SMOKE_PARAGRAPHS if args.smoke else 1500)
    work = Path(tempfile.mkdtemp(prefix="ingestbench-"))
    try:
        model = make_embedder(Settings(model_backend=args.model_backend))
        model.embed_passages(["warm up"] * 32)
        texts = select(target, work / "input.jsonl", model)
        print(f"{len(texts)} paragraphs", file=sys.stderr)

        def encode_all() -> float:
            with Timer() as t:
                model.embed_passages(texts)
            return len(texts) / t.seconds

        def raw() -> float:
            # In a worker thread, like ingest's embedder thread: on this machine torch runs
            # measurably faster there than in the main thread, which would skew the ratio.
            out: list[float] = []
            worker = threading.Thread(target=lambda: out.append(encode_all()))
            worker.start()
            worker.join()
            return out[0]

        raw_before = raw()
        print(f"raw encode: {raw_before:.1f} paragraphs/s", file=sys.stderr)
        extra: dict[str, Any] = {"es_url": args.es_url} if args.es_url else {}
        settings = Settings(
            index=work / "index",
            lexical=args.backend,
            model_backend=args.model_backend,
            embedding_cache=work / "fresh-cache.sqlite",
            **extra,
        )
        stores = open_stores(settings, embedder=model)
        try:
            report = ingest(stores, [work / "input.jsonl"])
        finally:
            stores.close()
        ingest_pps = report.paragraphs / report.seconds
        print(f"ingest: {ingest_pps:.1f} paragraphs/s", file=sys.stderr)
        raw_after = raw()
        raw_pps = (raw_before + raw_after) / 2
        emit(
            {
                **({"smoke": True} if args.smoke else {}),
                "machine": machine(),
                "backend": args.backend,
                "model_backend": args.model_backend,
                "paragraphs": len(texts),
                "ingest": {**report.as_dict(), "paragraphs_per_s": round(ingest_pps, 2)},
                "raw_encode_paragraphs_per_s": {
                    "before": round(raw_before, 2),
                    "after": round(raw_after, 2),
                    "mean": round(raw_pps, 2),
                },
                "ratio": round(ingest_pps / raw_pps, 3),
            },
            args.out,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def select(target: int, path: Path, model: Embedder) -> list[str]:
    """Write unique BBC articles totalling ~``target`` paragraphs; return the paragraph texts."""
    seen: set[str] = set()
    lines: list[str] = []
    texts: list[str] = []
    with NEWS[0].open(encoding="utf-8") as src:
        for line in src:
            record = json.loads(line)
            if record["text"] in seen:
                continue
            seen.add(record["text"])
            path.write_text(line, encoding="utf-8")
            article = next(iter(read_paths([path])))
            _, paragraphs = prepare(article, model.count_tokens, 200)
            new = [p.text for p in paragraphs]
            if set(new) & set(texts):
                continue
            lines.append(line)
            texts.extend(new)
            if len(texts) >= target:
                break
    path.write_text("".join(lines), encoding="utf-8")
    return texts


if __name__ == "__main__":
    main()
