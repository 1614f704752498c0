"""German decompounding for BM25: does splitting compounds help German retrieval?

``Bundestagswahl`` is one token to the Snowball stemmer, so a query for ``Wahl`` does not
match it, nor ``Korruptionsanklage`` an article about an ``Anklage wegen Korruption``. A
decompounder adds a compound's parts as extra tokens (Elasticsearch's
``dictionary_decompounder`` / ``hyphenation_decompounder`` put them at the compound's
position). This script measures that on the embedded backend, BM25 only (nothing embedded):

- data: ``gnad-xling`` (120 known-item German topics over 1,028 DER STANDARD articles),
  ``queries.de.jsonl``, split ``test``; articles read and chunked by the product (language
  detected where the corpus gives none, as ``newssearch ingest`` does);
- index: one :class:`~indexer.lexical.embedded.EmbeddedBackend` (the product's analysers) per
  variant; a decompounded German paragraph (text and title) gets the parts of its compounds
  appended. tantivy's BM25 counts every token of a field in its length, also one at the same
  position, so for the bag-of-words queries here this scores exactly like parts indexed at
  the compound's position (only phrases over a part would differ; the queries have none);
- query: ``plain_query`` of the topic, each compound word followed by its parts (optional
  terms, like the synonym clause Elasticsearch builds for same-position tokens), parsed by the
  product's parser; top-500 paragraphs grouped per article with the product's default
  ``decay`` aggregation, as ``newssearch eval --modes bm25`` does;
- variants: ``baseline``, ``index`` (parts indexed only), ``query`` (parts searched only),
  ``both``; per splitter:

  - ``charsplit``: CharSplit (Tuggener 2016, n-gram probabilities from 1M Wikipedia nouns),
    the PyPI package ``split-words`` (MIT; optional: ``pip install split-words``, else
    skipped with the reason). A word of at least ``MIN_WORD`` letters is split at the best
    position when its score is at least ``MIN_SCORE`` and both parts have at least
    ``MIN_PART`` letters; parts are split again the same way;
  - ``vocabulary``: a dictionary decompounder (Elasticsearch's ``dictionary_decompounder``
    idea, no dependency) whose dictionary is the corpus's own German vocabulary (words seen
    at least ``MIN_COUNT`` times): a word splits into a known head and a known body (a
    linking ``s`` allowed), longest head first, recursively.

Metrics: nDCG@10 and MRR@10 from ``search_api.evaluation.compute_metrics``, Recall@10 with
ir-measures. Run: ``.venv/bin/python benchmarks/decompound.py [--out FILE]``; ``--smoke``: a
seconds-long run on the first 100 articles and their topics (no figures to quote). Results:
docs/evaluation.md, "German decompounding (measured)".
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import ir_measures

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, emit, machine

from indexer.chunker import chunk_article
from indexer.language import detect_language
from indexer.languages import is_stop_word
from indexer.lexical.embedded import EmbeddedBackend
from indexer.models import Filters, Paragraph
from indexer.query import parse_query
from indexer.readers import read_paths
from search_api.evaluation import compute_metrics, load_qrels, plain_query
from search_api.grouping import group_by_article

GNAD = DATA / "relevance" / "gnad-xling"
#: Paragraph candidates per query (``Settings.candidates``) and articles ranked.
CANDIDATES, LIMIT = 500, 100
#: CharSplit: words shorter than this are never split; a split needs this score and parts
#: this long. Fixed before measuring (from CharSplit's examples: ``Regie|rung`` scores 0.15,
#: ``Ver|handlungen`` 0.45, ``Bundestags|wahl`` 0.92), not tuned on the topics.
MIN_WORD, MIN_SCORE, MIN_PART = 8, 0.5, 4
#: Vocabulary splitter: a dictionary word occurs this often in the German paragraphs.
MIN_COUNT = 3
#: ``--smoke``: articles read (and the topics judged on them).
SMOKE_ARTICLES = 100
_WORD = re.compile(r"[^\W\d_]+")
VARIANTS = ("index", "query", "both")


class Splitter(Protocol):
    """A decompounder: the parts of a lower-case word, ``()`` when it is no compound."""

    def __call__(self, word: str) -> tuple[str, ...]: ...


def charsplit_splitter() -> Splitter | str:
    """CharSplit from ``split-words``, or why it is unavailable."""
    try:
        from split_words import Splitter as CharSplit
    except ImportError:
        return "split-words is not installed (pip install split-words)"
    model = CharSplit()

    @cache
    def split(word: str) -> tuple[str, ...]:
        if len(word) < MIN_WORD:
            return ()
        score, body, head = model.split_compound(word)[0]
        body, head = body.lower(), head.lower()
        if score < MIN_SCORE or min(len(body), len(head)) < MIN_PART:
            return ()
        return (body, *split(body), head, *split(head))

    return split


def vocabulary_splitter(texts: Iterable[str]) -> Splitter:
    """A dictionary decompounder over the words of ``texts`` seen at least ``MIN_COUNT`` times."""
    counts = Counter(w for text in texts for w in _WORD.findall(text.lower()))
    vocab = {w for w, n in counts.items() if n >= MIN_COUNT and len(w) >= MIN_PART}
    vocab -= {w for w in vocab if is_stop_word(w)}

    def known(part: str) -> str | None:
        if part in vocab:
            return part
        if part.endswith("s") and part[:-1] in vocab and len(part) > MIN_PART:
            return part[:-1]  # linking s: Bundestags|wahl
        return None

    @cache
    def split(word: str) -> tuple[str, ...]:
        if len(word) < MIN_WORD:
            return ()
        for cut in range(MIN_PART, len(word) - MIN_PART + 1):  # longest head first
            head, body = word[cut:], known(word[:cut])
            if head in vocab and body is not None:
                return (body, *split(body), head, *split(head))
        return ()

    return split


def parts_of(text: str, split: Splitter) -> list[str]:
    """The parts of every compound in ``text``, in order (repeats kept: they are tokens)."""
    return [part for word in _WORD.findall(text.lower()) for part in split(word)]


def decompounded(p: Paragraph, split: Splitter) -> Paragraph:
    """``p`` with its compounds' parts appended to its text and title (German only)."""
    if p.language != "de":
        return p
    text_parts, title_parts = parts_of(p.text, split), parts_of(p.title, split)
    return replace(
        p,
        text=p.text + ("\n" + " ".join(text_parts) if text_parts else ""),
        title=p.title + (" " + " ".join(title_parts) if title_parts else ""),
    )


def query_text(text: str, split: Splitter | None) -> str:
    """The plain query of a topic, each compound followed by its parts when ``split``."""
    words = plain_query(text).split()
    if split is None:
        return " ".join(words)
    out: list[str] = []
    for word in words:
        out.append(word)
        out.extend(split(word.lower()) if _WORD.fullmatch(word) else ())
    return plain_query(" ".join(out))


def load(smoke: bool) -> tuple[list[Paragraph], dict[str, str], dict[str, dict[str, int]]]:
    """gnad-xling's paragraphs (chunked by the product), German topics and judgments."""
    paragraphs: list[Paragraph] = []
    articles: set[str] = set()
    for article in read_paths([GNAD / "corpus.jsonl.gz"]):
        if smoke and len(articles) >= SMOKE_ARTICLES:
            break
        if article.language is None:
            language = detect_language(f"{article.title}\n{article.body}")
            article = article.model_copy(update={"language": language})
        articles.add(article.article_id)
        paragraphs.extend(chunk_article(article))
    qrels = {
        qid: docs
        for qid, docs in load_qrels(GNAD / "qrels" / "test.tsv").items()
        if any(doc in articles for doc in docs)
    }
    with (GNAD / "queries.de.jsonl").open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    queries = {str(r["_id"]): str(r["text"]) for r in records if str(r["_id"]) in qrels}
    return paragraphs, queries, qrels


def run(
    paragraphs: Sequence[Paragraph],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    index_split: Splitter | None,
    query_split: Splitter | None,
    workdir: Path,
) -> dict[str, Any]:
    """Index ``paragraphs`` (decompounded with ``index_split``), search every topic; figures."""
    started = time.perf_counter()
    backend = EmbeddedBackend(workdir)
    docs = [decompounded(p, index_split) for p in paragraphs] if index_split else paragraphs
    backend.upsert(list(docs))
    backend.commit()
    index_s = time.perf_counter() - started
    ranking: dict[str, list[str]] = {}
    for qid, text in queries.items():
        root = parse_query(query_text(text, query_split)).root
        hits = backend.search(root, Filters(), CANDIDATES) if root is not None else []
        ranking[qid] = [g.article_id for g in group_by_article(hits, "decay")][:LIMIT]
    backend.close()
    metrics = compute_metrics(qrels, ranking)
    scored = {q: {d: float(LIMIT - i) for i, d in enumerate(r)} for q, r in ranking.items() if r}
    recall = sum(m.value for m in ir_measures.iter_calc([ir_measures.R @ 10], qrels, scored))
    reciprocal = {
        m.query_id: float(m.value)
        for m in ir_measures.iter_calc([ir_measures.RR @ 10], qrels, scored)
    }
    return {
        "nDCG@10": round(metrics["nDCG@10"], 4),
        "MRR@10": round(metrics["MRR@10"], 4),
        "Recall@10": round(float(recall) / len(qrels), 4),
        "index_s": round(index_s, 2),
        "rr10": {qid: reciprocal.get(qid, 0.0) for qid in qrels},
    }


def versus(baseline: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """Topics whose RR@10 rose / fell against ``baseline``, and the two-sided sign-test p-value
    of that split (ties left out): how clear a difference of a few topics is."""
    pairs = [(baseline["rr10"][q], variant["rr10"][q]) for q in baseline["rr10"]]
    wins = sum(after > before for before, after in pairs)
    losses = sum(after < before for before, after in pairs)
    n, k = wins + losses, min(wins, losses)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return {"topics_better": wins, "topics_worse": losses, "sign_test_p": round(p, 4)}


def compound_stats(
    paragraphs: Sequence[Paragraph], queries: dict[str, str], split: Splitter
) -> dict[str, Any]:
    """How much a splitter splits: share of German word tokens and of topics with a compound,
    and a few examples from the topics."""
    words = [w for p in paragraphs if p.language == "de" for w in _WORD.findall(p.text.lower())]
    split_words = [w for w in words if split(w)]
    topic_words = [w for t in queries.values() for w in _WORD.findall(t.lower())]
    examples = sorted({w: split(w) for w in topic_words if split(w)}.items())[:12]
    return {
        "split_token_share": round(len(split_words) / max(len(words), 1), 4),
        "topics_with_a_compound": sum(
            any(split(w) for w in _WORD.findall(t.lower())) for t in queries.values()
        ),
        "examples": {w: "+".join(parts) for w, parts in examples},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="seconds-long run, no figures")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    paragraphs, queries, qrels = load(args.smoke)
    german = [p for p in paragraphs if p.language == "de"]
    splitters: dict[str, Splitter | str] = {
        "charsplit": charsplit_splitter(),
        "vocabulary": vocabulary_splitter(f"{p.title}\n{p.text}" for p in german),
    }
    result: dict[str, Any] = {
        "benchmark": "decompound",
        "smoke": args.smoke,
        "machine": machine(),
        "data": "gnad-xling test, queries.de (de -> de), mode bm25 (embedded backend)",
        "articles": len({p.article_id for p in paragraphs}),
        "paragraphs": len(paragraphs),
        "german_paragraphs": len(german),
        "topics": len(queries),
        "settings": {
            "min_word": MIN_WORD,
            "charsplit_min_score": MIN_SCORE,
            "min_part": MIN_PART,
            "vocabulary_min_count": MIN_COUNT,
            "candidates": CANDIDATES,
            "aggregate": "decay",
        },
    }
    with tempfile.TemporaryDirectory(prefix="decompound-") as tmp:
        result["baseline"] = run(paragraphs, queries, qrels, None, None, Path(tmp) / "base")
        for name, split in splitters.items():
            if isinstance(split, str):
                result[name] = {"skipped": split}
                continue
            sides: dict[str, tuple[Splitter | None, Splitter | None]] = {
                "index": (split, None),
                "query": (None, split),
                "both": (split, split),
            }
            figures: dict[str, Any] = {"compounds": compound_stats(paragraphs, queries, split)}
            for variant in VARIANTS:
                index_split, query_split = sides[variant]
                figures[variant] = run(
                    paragraphs, queries, qrels, index_split, query_split, Path(tmp) / name / variant
                )
            for variant in VARIANTS:
                figures[variant]["vs_baseline"] = versus(result["baseline"], figures[variant])
            result[name] = figures
    for figures in (result["baseline"], *(result[n] for n in splitters)):
        for row in (figures, *(figures.get(v, {}) for v in VARIANTS)):
            row.pop("rr10", None)
    emit(result, args.out)


if __name__ == "__main__":
    main()
