"""Relevance evaluation on BEIR-format data sets: ``newssearch eval`` and the fusion sweep.

A BEIR data set is a directory with ``corpus.jsonl[.gz]`` (``_id``, ``title``, ``text``,
``metadata``), ``queries.jsonl[.gz]`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (header row,
then ``query-id  corpus-id  score``).

Contracts:
- The corpus goes through the normal pipeline (:func:`indexer.stores.open_stores` +
  :func:`indexer.pipeline.ingest`) into the given index; ingest is idempotent, so an index that
  already holds the corpus is reused (unchanged articles are skipped, nothing is re-embedded).
- The evaluated queries of a split are those with at least one judgment ``score > 0`` in
  ``qrels/<split>.tsv`` (trec_eval also ignores queries without a relevant document). A judged
  query missing from ``queries.jsonl`` is an :class:`EvaluationError`.
- Query text is searched as plain words (:func:`plain_query`): debate sentences carry quotes,
  ``AND``/``OR``/``NOT`` and ``word:`` tokens, which the query language would read as syntax.
  Only the first :data:`MAX_QUERY_WORDS` words are kept (the parser's clause limit).
- Every query runs through :class:`~search_api.engine.SearchEngine` with ``limit`` (default
  100) articles; article ids are the BEIR corpus ids. The ranking handed to the metrics is the
  engine's order exactly (scores are replaced by ``n - rank``, so trec_eval's tie-breaking on
  document ids never reorders it).
- Metrics (ir-measures): ``nDCG@10``, ``MAP`` (= ``AP@100``: average precision over the top
  100, normalised by all relevant documents of the query; identical to full MAP over the
  retrieved list, which is never longer than 100), ``MRR@10`` (``RR@10``), ``Recall@100``
  (``R@100``). Each is the mean over *all* evaluated queries; a query with no results counts 0.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ir_measures
from ir_measures import Measure

from indexer.errors import NewsSearchError
from indexer.query import MAX_CLAUSES, MAX_QUERY_CHARS, words
from indexer.settings import Settings
from search_api.schemas import SearchRequest

#: Report keys and the ir-measures measure behind each.
MEASURES: dict[str, Measure] = {
    "nDCG@10": ir_measures.parse_measure("nDCG@10"),
    "MAP": ir_measures.parse_measure("AP@100"),
    "MRR@10": ir_measures.parse_measure("RR@10"),
    "Recall@100": ir_measures.parse_measure("R@100"),
}
DEFAULT_MODES = ("bm25", "dense", "hybrid")
#: Articles retrieved per query (the deepest cut-off of :data:`MEASURES`).
DEFAULT_LIMIT = 100
#: Words kept of a query: the query parser accepts at most this many clauses.
MAX_QUERY_WORDS = MAX_CLAUSES
#: Words that are operators when written in capitals (``AND``/``OR``/``NOT``).
_OPERATORS = {"AND", "OR", "NOT"}

Qrels = dict[str, dict[str, int]]
Run = Mapping[str, Sequence[str]]
ProgressFn = Callable[[str, int, int], None]


class EvaluationError(NewsSearchError):
    """The data set is unusable (missing files, judged queries without text) or a run failed."""


@dataclass(frozen=True)
class BeirDataset:
    """One split of a BEIR data set: the evaluated queries (id -> text) and their judgments."""

    root: Path
    name: str
    split: str
    corpus: Path
    queries: dict[str, str]
    qrels: Qrels


@dataclass
class EvalReport:
    """Metrics per variant (``bm25``, ``dense``, ``hybrid``, extra variants) for one split,
    rounded to 4 decimals; ``index`` and ``ingest`` (the ingest summary) are informational."""

    dataset: str
    split: str
    queries: int
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    index: str | None = None
    ingest: dict[str, object] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` output: ``{"dataset", "split", "queries", "results"}`` exactly."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "queries": self.queries,
            "results": self.results,
        }


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _first_existing(root: Path, names: Iterable[str]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def load_qrels(path: Path) -> Qrels:
    """``query-id -> corpus-id -> score`` from a BEIR qrels TSV (header row skipped).

    Raises :class:`EvaluationError` for a missing file or a malformed row (file and line named).
    """
    if not path.is_file():
        raise EvaluationError(f"qrels file {path} not found")
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for line, row in enumerate(rows, start=1):
            if not row or (line == 1 and not _is_int(row[-1])):
                continue  # the header ("query-id corpus-id score") or a blank line
            if len(row) < 3 or not _is_int(row[2]):
                raise EvaluationError(f"{path}:{line}: expected 'query-id corpus-id score'")
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    return qrels


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def load_beir(root: Path, split: str = "dev") -> BeirDataset:
    """Read a BEIR data set's ``split``: queries judged relevant at least once, and their qrels.

    Raises :class:`EvaluationError` when the corpus, queries or qrels file is missing, or a
    judged query has no text in ``queries.jsonl``.
    """
    root = root.expanduser()
    corpus = _first_existing(root, ("corpus.jsonl", "corpus.jsonl.gz"))
    if corpus is None:
        raise EvaluationError(f"{root} has no corpus.jsonl or corpus.jsonl.gz")
    queries_path = _first_existing(root, ("queries.jsonl", "queries.jsonl.gz"))
    if queries_path is None:
        raise EvaluationError(f"{root} has no queries.jsonl")
    qrels = {
        qid: docs
        for qid, docs in load_qrels(root / "qrels" / f"{split}.tsv").items()
        if any(score > 0 for score in docs.values())
    }
    texts: dict[str, str] = {}
    with _open_text(queries_path) as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                qid, text = str(record["_id"]), str(record["text"])
            except (ValueError, KeyError, TypeError) as exc:
                raise EvaluationError(f"{queries_path}:{line}: not a BEIR query ({exc})") from exc
            if qid in qrels:
                texts[qid] = text
    missing = sorted(set(qrels) - set(texts))
    if missing:
        raise EvaluationError(
            f"{len(missing)} judged queries have no text in {queries_path.name}: "
            + ", ".join(missing[:5])
        )
    return BeirDataset(root, root.resolve().name, split, corpus, texts, qrels)


def plain_query(text: str, max_words: int = MAX_QUERY_WORDS) -> str:
    """``text`` as a plain bag of words the query parser cannot misread.

    Keeps the word tokens of :func:`indexer.query.words` (so quotes, brackets, ``+``/``-``
    prefixes and ``field:`` colons disappear), lower-cases the operator words ``AND``, ``OR``,
    ``NOT`` (the analyzers lower-case anyway, so BM25 scores do not change, and MiniLM is
    uncased), and keeps the first ``max_words`` words within ``MAX_QUERY_CHARS`` characters.
    The result always parses as a plain query (``ParsedQuery.is_plain``) or is empty.
    """
    kept: list[str] = []
    size = 0
    for word in words(text):
        if len(kept) >= max_words:
            break
        token = word.lower() if word in _OPERATORS else word
        if size + len(token) + (1 if kept else 0) > MAX_QUERY_CHARS:
            break
        size += len(token) + (1 if kept else 0)
        kept.append(token)
    return " ".join(kept)


def compute_metrics(qrels: Mapping[str, Mapping[str, int]], run: Run) -> dict[str, float]:
    """Mean of each of :data:`MEASURES` over every query of ``qrels`` for ranked ``run`` lists.

    ``run`` maps a query id to article ids, best first (duplicates after the first are
    ignored). Queries absent from ``run`` or with an empty list score 0 on every measure.
    """
    return aggregate(per_query_metrics(qrels, run), qrels)


def per_query_metrics(
    qrels: Mapping[str, Mapping[str, int]], run: Run
) -> dict[str, dict[str, float]]:
    """``query id -> measure key -> value`` for the queries of ``qrels`` that ``run`` answered."""
    scored: dict[str, dict[str, float]] = {}
    for qid, ranking in run.items():
        if qid not in qrels:
            continue
        docs: dict[str, float] = {}
        for doc in ranking:
            if doc not in docs:
                docs[doc] = float(len(ranking) - len(docs))
        if docs:
            scored[qid] = docs
    names = {str(m): key for key, m in MEASURES.items()}
    out: dict[str, dict[str, float]] = {}
    if not scored:
        return out
    judged = {qid: dict(docs) for qid, docs in qrels.items()}
    for metric in ir_measures.iter_calc(list(MEASURES.values()), judged, scored):
        out.setdefault(metric.query_id, {})[names[str(metric.measure)]] = float(metric.value)
    return out


def aggregate(
    per_query: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Means over all queries of ``qrels`` (missing per-query values count 0)."""
    n = len(qrels)
    result: dict[str, float] = {}
    for key in MEASURES:
        total = math.fsum(per_query.get(qid, {}).get(key, 0.0) for qid in qrels)
        result[key] = total / n if n else 0.0
    return result


def search_run(
    engine: Any,
    queries: Mapping[str, str],
    request: Mapping[str, Any],
    *,
    limit: int = DEFAULT_LIMIT,
    on_query: Callable[[int], None] | None = None,
) -> dict[str, list[str]]:
    """Ranked article ids per query from ``engine.search`` with ``request`` fields.

    ``request`` holds :class:`SearchRequest` fields other than ``q``/``limit`` (``mode``,
    ``fusion``, ``rrf_k``, ``alpha``, ``candidates`` ...). Runs are unfolded (``fold=false``)
    unless ``request`` says otherwise: judgments are per article, and a judged copy must not
    be hidden behind its story's representative. Raises :class:`EvaluationError` when
    a response is degraded (a retriever failed, so the mode is not what it claims).
    """
    run: dict[str, list[str]] = {}
    for done, (qid, text) in enumerate(queries.items(), start=1):
        q = plain_query(text)
        if q:
            req = SearchRequest(q=q, limit=limit, passages=1, **{"fold": False, **request})
            response = engine.search(req)
            if response.degraded:
                raise EvaluationError(
                    f"query {qid}: {', '.join(response.degraded)} unavailable, "
                    f"results would not be {req.mode}"
                )
            run[qid] = [r.article_id for r in response.results]
        else:
            run[qid] = []
        if on_query is not None:
            on_query(done)
    return run


def default_eval_index(dataset_root: Path, settings: Settings) -> Path:
    """``eval-<data set directory name>`` next to the configured index directory."""
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in dataset_root.resolve().name)
    return settings.index.parent / f"eval-{name}"


def variants_for(modes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{"bm25": {"mode": "bm25"}, ...}`` for the given mode names (unknown ones rejected)."""
    out: dict[str, dict[str, Any]] = {}
    for mode in modes:
        if mode not in DEFAULT_MODES:
            raise EvaluationError(f"unknown mode {mode!r} (use {', '.join(DEFAULT_MODES)})")
        out[mode] = {"mode": mode}
    return out


def evaluate(
    dataset_dir: Path,
    settings: Settings,
    *,
    split: str = "dev",
    modes: Sequence[str] = DEFAULT_MODES,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    limit: int = DEFAULT_LIMIT,
    embedder: Any = None,
    ingest_corpus: bool = True,
    on_progress: ProgressFn | None = None,
) -> EvalReport:
    """Ingest the corpus of ``dataset_dir`` into ``settings.index``, run ``split``, score it.

    ``modes`` become variants named after the mode; ``variants`` adds named request settings
    (e.g. ``{"hybrid-convex": {"mode": "hybrid", "fusion": "convex", "alpha": 0.3}}``).
    ``embedder`` overrides the model built from ``settings`` (tests share one). With
    ``ingest_corpus=False`` the index is used as it is. ``on_progress(variant, done, total)``
    is called after every query. Raises :class:`EvaluationError` (data set, degraded search),
    :class:`~indexer.errors.IngestError` (a store failed) or ``ValueError`` (index built with
    another model).
    """
    from indexer.pipeline import ingest
    from indexer.stores import open_stores
    from search_api.engine import SearchEngine

    dataset = load_beir(dataset_dir, split)
    plan = variants_for(modes)
    plan.update({name: dict(req) for name, req in (variants or {}).items()})
    report = EvalReport(dataset.name, split, len(dataset.queries), index=str(settings.index))
    stores = open_stores(settings, embedder)
    try:
        if ingest_corpus:
            done = ingest(stores, [dataset.root])
            report.ingest = done.as_dict()
            if done.problems:
                report.ingest["problems"] = [str(p) for p in done.problems[:20]]
        engine = SearchEngine(stores)
        total = len(dataset.queries)
        for name, request in plan.items():

            def tick(n: int, name: str = name) -> None:
                if on_progress is not None:
                    on_progress(name, n, total)

            run = search_run(engine, dataset.queries, request, limit=limit, on_query=tick)
            scores = compute_metrics(dataset.qrels, run)
            report.results[name] = {key: round(value, 4) for key, value in scores.items()}
    finally:
        stores.close()
    return report
