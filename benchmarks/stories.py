"""Near-duplicate clustering (indexer/dedup.py) on the shared corpora, per threshold.

Reads each corpus with the product's readers and chunker (so the text is what ingest signs),
computes every signature once (timed: the cost ingest pays per article), then for each
threshold builds the LSH index and the stories (timed) and reports: stories with more than one
article, articles in them, linked pairs (within stories), exact duplicates of the body found
(the BBC set has 133), and a sample of linked pairs checked against their exact word-shingle
Jaccard (``--show N`` prints N sampled pairs' titles, for precision by inspection). JSON on
stdout (and ``--out``), the same as markdown tables on stderr.

    python benchmarks/stories.py                      # every corpus, thresholds 0.5 .. 0.9
    python benchmarks/stories.py --corpus bbc --threshold 0.6 --show 10
    python benchmarks/stories.py --smoke              # 300 BBC articles, one threshold
    python benchmarks/stories.py --buckets 10000,100000   # the catalog's LSH buckets

``--buckets N,...`` measures the catalog's ``story_buckets`` instead, on N synthetic
signatures (random, a tenth of them near-copies of another) in a real catalog: bytes per
article in SQLite (``dbstat``: table and index pages), time per article to write its buckets
(in transactions of 1,000, as commits do) and to look up its candidates, the first write of a
new process (open the catalog, cluster and commit one new copy), and for comparison the
time to fill the buckets from the stored signatures (what the migration to schema version 2
and a re-band for another threshold do), and for comparison the in-memory datasketch
``MinHashLSH`` a writing process used to rebuild at its first write.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import DATA as SHARED  # noqa: E402
from common import emit, machine  # noqa: E402

from indexer.catalog import Catalog  # noqa: E402
from indexer.chunker import chunk_article  # noqa: E402
from indexer.dedup import (  # noqa: E402
    Banding,
    StoryIndex,
    StoryParams,
    decode,
    shingles,
    signature,
)
from indexer.models import Article  # noqa: E402
from indexer.readers import read_paths  # noqa: E402

CORPORA = {
    "bbc": "bbc_news.en.jsonl",
    "zeitgeist": "zeitgeist_tagesschau_zeit.de.jsonl",
    # The same file with each day's gathering kept as its own record (id = url + gathered
    # date), as an archive of daily crawls keeps them; by default the id comes from the url
    # and a repeated item is one article, re-ingested.
    "zeitgeist-daily": "zeitgeist_tagesschau_zeit.de.jsonl",
    "gnad": "gnad10k_test.de.jsonl",
    "ru": "ru_news_samples.ru.jsonl",
}
DATA = SHARED / "corpora"
#: Article ids are urls by default: the bucket rows repeat the id (``--buckets``).
URL_LIKE = "https://www.example-news.com/2026/12/02/politik/story-"


class _Signatures:
    """A minimal :class:`indexer.dedup.StoryCatalog` over signatures in memory."""

    def __init__(self, sigs: dict[str, bytes]) -> None:
        self.sigs = sigs

    def signatures(self, article_ids: Sequence[str]) -> dict[str, bytes | None]:
        return {a: self.sigs.get(a) for a in article_ids}

    def clustered_signatures(self) -> list[tuple[str, bytes]]:
        return list(self.sigs.items())

    def story_members(self, article_ids: Sequence[str]) -> list[str]:
        return list(article_ids)


def load(name: str, limit: int | None) -> list[tuple[Article, list[str]]]:
    """Articles of one corpus with their paragraph texts (as ingest chunks them); a later
    record with an id already read replaces it, as in ingest."""
    path = DATA / CORPORA[name]
    with tempfile.TemporaryDirectory() as tmp:
        if name == "zeitgeist-daily":
            copy = Path(tmp) / "zeitgeist-daily.jsonl"
            with path.open(encoding="utf-8") as src, copy.open("w", encoding="utf-8") as dst:
                for line in src:
                    rec = json.loads(line)
                    rec["id"] = f"{rec.get('url')}|{rec.get('gathered_date')}"
                    dst.write(json.dumps(rec, ensure_ascii=False) + "\n")
            path = copy
        out: dict[str, tuple[Article, list[str]]] = {}
        for article in read_paths([path]):
            paragraphs = [p.text for p in chunk_article(article, max_tokens=200)]
            out.pop(article.article_id, None)
            out[article.article_id] = (article, paragraphs)
            if limit and len(out) >= limit:
                break
    return list(out.values())


def exact_jaccard(a: tuple[Article, list[str]], b: tuple[Article, list[str]], k: int) -> float:
    sa = shingles("\n".join([a[0].title, *a[1]]), k)
    sb = shingles("\n".join([b[0].title, *b[1]]), k)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def run(
    name: str,
    thresholds: list[float],
    shingle: int,
    perms: int,
    limit: int | None,
    show: int,
    seed: int,
) -> dict[str, Any]:
    articles = load(name, limit)
    by_id = {a.article_id: (a, p) for a, p in articles}
    started = time.perf_counter()
    sigs = {}
    for a, paragraphs in articles:
        blob = signature(a.title, paragraphs, shingle=shingle, num_perm=perms)
        if blob is not None:
            sigs[a.article_id] = blob
    sign_s = time.perf_counter() - started
    bodies = Counter(a.body.strip() for a, _ in articles)
    exact = {b for b, c in bodies.items() if c > 1}
    exact_copies = sum(c - 1 for c in bodies.values() if c > 1)
    out: dict[str, Any] = {
        "articles": len(by_id),
        "signature_ms_per_1k": round(sign_s / len(articles) * 1e6, 1),
        "paragraphs_per_article": round(sum(len(p) for _, p in articles) / len(articles), 2),
        "exact_copies": exact_copies,
        "thresholds": {},
    }
    say(
        f"\n## {name}: {len(by_id)} articles, signatures {sign_s / len(articles) * 1e6:.0f} "
        f"us/article ({sign_s / len(articles) * 1000 * 1000:.0f} ms per 1k), "
        f"exact body copies {exact_copies}"
    )
    say(
        "| threshold | stories >1 | articles in them | pairs | exact copies found | "
        "LSH+cluster ms/1k | sample precision (exact J >= t) |"
    )
    say("|---:|---:|---:|---:|---:|---:|---:|")
    rng = random.Random(seed)
    for t in thresholds:
        started = time.perf_counter()
        index = StoryIndex.load(_Signatures(sigs), t, perms)
        stories = index.cluster_all(list(by_id))
        took = time.perf_counter() - started
        groups: dict[str, list[str]] = {}
        for aid, story in stories.items():
            groups.setdefault(story, []).append(aid)
        multi = [g for g in groups.values() if len(g) > 1]
        pairs = [(x, y) for g in multi for x, y in combinations(sorted(g), 2)]
        found = 0
        for g in multi:
            texts = Counter(by_id[a][0].body.strip() for a in g)
            found += sum(c - 1 for b, c in texts.items() if c > 1 and b in exact)
        sample = rng.sample(pairs, min(len(pairs), 50))
        good = sum(exact_jaccard(by_id[x], by_id[y], shingle) >= t for x, y in sample)
        precision = f"{good}/{len(sample)}" if sample else "-"
        out["thresholds"][f"{t:.2f}"] = {
            "stories_with_copies": len(multi),
            "articles_in_them": sum(map(len, multi)),
            "pairs": len(pairs),
            "exact_copies_found": found,
            "cluster_ms_per_1k": round(took / len(by_id) * 1e6, 1),
            "sample_checked": len(sample),
            "sample_exact_jaccard_at_threshold": good,
        }
        say(
            f"| {t:.2f} | {len(multi)} | {sum(map(len, multi))} | {len(pairs)} | "
            f"{found} / {exact_copies} | {took / len(by_id) * 1e6:.0f} | {precision} |"
        )
        for x, y in sample[:show]:
            est = sum(decode(sigs[x]) == decode(sigs[y])) / perms if x in sigs and y in sigs else 0
            say(
                f"    {est:.2f} est / {exact_jaccard(by_id[x], by_id[y], shingle):.2f} exact  "
                f"{by_id[x][0].title[:60]!r} ({by_id[x][0].source}, "
                f"{by_id[x][0].published_at:%Y-%m-%d}) ~ {by_id[y][0].title[:60]!r} "
                f"({by_id[y][0].source})"
                if by_id[x][0].published_at
                else f"    {est:.2f} est  {by_id[x][0].title[:60]!r} ~ {by_id[y][0].title[:60]!r}"
            )

    return out


def synthetic(n: int, perms: int, seed: int, prefix: str) -> dict[str, bytes]:
    """``n`` random signatures, every tenth a copy of an earlier one with 20 % of its values
    replaced (estimated Jaccard ~0.8); ids ``prefix`` + a number."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32, (n, perms), dtype=np.uint64).astype("<u4")
    for i in range(10, n, 10):
        src = int(rng.integers(0, i))
        keep = rng.random(perms) >= 0.2
        sigs[i, keep] = sigs[src, keep]
    return {f"{prefix}{i:07d}": sigs[i].tobytes() for i in range(n)}


def buckets_run(n: int, threshold: float, perms: int, seed: int, prefix: str) -> dict[str, Any]:
    """The catalog's LSH buckets at ``n`` articles (module docstring)."""
    import numpy as np
    from datasketch import LeanMinHash, MinHashLSH

    sigs = synthetic(n, perms, seed, prefix)
    banding = Banding.for_threshold(threshold, perms)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.sqlite"
        catalog = Catalog(path)
        ids = list(sigs)
        for i in range(0, n, 5000):
            chunk = ids[i : i + 5000]
            catalog.stage([(Article(article_id=a, body="x"), [], "h") for a in chunk], sigs)
            catalog.mark_committed(chunk)
        started = time.perf_counter()
        for i in range(0, n, 1000):
            with catalog.transaction():
                for a in ids[i : i + 1000]:
                    catalog.put_buckets(a, banding.buckets(decode(sigs[a])))
        insert_s = time.perf_counter() - started
        started = time.perf_counter()  # what the migration to version 2 and a re-band do
        indexed = catalog.rebuild_buckets(StoryParams(3, perms).banded(threshold))
        fill_s = time.perf_counter() - started
        assert indexed == n, indexed
        sample = random.Random(seed).sample(ids, min(n, 2000))
        started = time.perf_counter()
        found = sum(
            len(catalog.bucket_candidates(banding.buckets(decode(sigs[a])))) for a in sample
        )
        lookup_s = time.perf_counter() - started
        catalog.close()
        stat = sqlite3.connect(path)
        db_bytes = stat.execute(  # the bucket and id tables with their indexes
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('story_buckets', "
            "'story_buckets_num', 'story_ids', 'sqlite_autoindex_story_ids_1')"
        ).fetchone()[0]
        stat.close()
        # First write of a new process: open, cluster one new copy of an article, commit.
        copy = "t-new"
        started = time.perf_counter()
        fresh = Catalog(path)
        fresh.stage([(Article(article_id=copy, body="x"), [], "h")], {copy: sigs[ids[0]]})
        with fresh.transaction():
            stories = StoryIndex(threshold, perms, fresh).assign(fresh, [copy])
            fresh.mark_committed([copy], stories)
        first_write_s = time.perf_counter() - started
        assert stories[copy] == stories[ids[0]], stories
        fresh.close()
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=perms)
    with lsh.insertion_session() as session:
        for a, blob in sigs.items():
            hv = decode(blob).astype(np.uint64)
            session.insert(a, LeanMinHash(seed=1, hashvalues=hv), check_duplication=False)
    rebuild_s = time.perf_counter() - started
    out = {
        "articles": n,
        "id_chars": len(prefix) + 7,
        "bands": banding.bands,
        "rows": banding.rows,
        "bucket_bytes_per_article": round(db_bytes / n),
        "insert_us_per_article": round(insert_s / n * 1e6, 1),
        "lookup_us_per_article": round(lookup_s / len(sample) * 1e6, 1),
        "candidates_per_lookup": round(found / len(sample), 2),
        "first_write_ms": round(first_write_s * 1000, 1),
        "fill_from_signatures_s": round(fill_s, 2),
        "old_in_memory_rebuild_s": round(rebuild_s, 2),
    }
    say(
        f"| {n} | {len(prefix) + 7} | {banding.bands}x{banding.rows} | "
        f"{out['bucket_bytes_per_article']} B | "
        f"{out['insert_us_per_article']} us | {out['lookup_us_per_article']} us | "
        f"{out['first_write_ms']} ms | {out['fill_from_signatures_s']} s | "
        f"{out['old_in_memory_rebuild_s']} s |"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), action="append")
    parser.add_argument("--threshold", type=float, action="append")
    parser.add_argument("--shingle", type=int, default=3)
    parser.add_argument("--perms", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--show", type=int, default=0, help="Sample pairs to print.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="300 BBC articles, t=0.6.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    parser.add_argument(
        "--buckets",
        default=None,
        help="Comma-separated sizes: measure the catalog's LSH buckets on synthetic signatures.",
    )
    args = parser.parse_args()
    if args.buckets:
        t = (args.threshold or [0.6])[0]
        say(
            "| articles | id chars | bands | bytes/article | insert | lookup | first write "
            "| fill (migration) | old rebuild |"
        )
        say("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        sizes = [int(x) for x in args.buckets.split(",")]
        emit(
            {
                "machine": machine(),
                "threshold": t,
                "num_perm": args.perms,
                "buckets": [
                    buckets_run(n, t, args.perms, args.seed, prefix)
                    for n in sizes
                    for prefix in ("s", URL_LIKE)
                ],
            },
            args.out,
        )
        return
    if args.smoke:
        args.corpus, args.threshold, args.limit = ["bbc"], [0.6], 300
    thresholds = args.threshold or [0.5, 0.6, 0.7, 0.8, 0.9]
    result: dict[str, Any] = {
        "smoke": bool(args.smoke),
        "machine": machine(),
        "shingle": args.shingle,
        "num_perm": args.perms,
        "corpora": {
            name: run(name, thresholds, args.shingle, args.perms, args.limit, args.show, args.seed)
            for name in args.corpus or sorted(CORPORA)
        },
    }
    emit(result, args.out)


def say(line: str) -> None:
    """A line of the markdown report (stderr: stdout is the JSON)."""
    print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
