"""Relevance evaluation: metric wiring checked against hand-computed values, BEIR loading,
plain-word queries, and one end-to-end run through the real pipeline on a tiny BEIR set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.embedder import Embedder
from indexer.models import Hit
from indexer.query import MAX_CLAUSES, MAX_QUERY_CHARS, parse_query
from search_api.evaluation import (
    MEASURES,
    EvaluationError,
    compute_metrics,
    evaluate,
    load_beir,
    per_query_metrics,
    plain_query,
)
from search_api.grouping import Aggregation, group_by_article

KEYS = ["nDCG@10", "MAP", "MRR@10", "Recall@100"]

# Four short articles on clearly different topics (4 paragraphs to embed in all).
DOCS = [
    {
        "_id": "doc-wind",
        "title": "Offshore wind farm opens",
        "text": "A new offshore wind farm with sixty turbines started delivering electricity "
        "to the coast on Monday.",
        "metadata": {"date": "2021-03-01", "url": "https://example.org/wind"},
    },
    {
        "_id": "doc-tax",
        "title": "Senate passes tax bill",
        "text": "The Senate passed a bill that cuts income taxes for middle-income families "
        "and raises the corporate tax rate.",
        "metadata": {"date": "2021-03-02"},
    },
    {
        "_id": "doc-vaccine",
        "title": "Vaccination campaign expands",
        "text": "Health officials expanded the measles vaccination campaign to every primary "
        "school in the state.",
        "metadata": {},
    },
    {
        "_id": "doc-football",
        "title": "Cup final",
        "text": "The football club won the cup final after a penalty shoot-out in the stadium.",
        "metadata": {},
    },
]
QUERIES = [
    # Debate-style text: quotes, an operator word, a colon, brackets.
    {"_id": "q-tax", "text": 'He said: "We will cut taxes" AND raise the corporate (tax) rate.'},
    {"_id": "q-wind", "text": "NOT one offshore wind turbine was built -- not one!"},
    # 70 words: longer than the query parser's clause limit; truncated, never an error.
    {"_id": "q-vaccine", "text": "measles vaccination campaign in schools " + "really " * 65},
    {"_id": "q-train-only", "text": "football cup final"},
]
QRELS_DEV = "query-id\tcorpus-id\tscore\nq-tax\tdoc-tax\t1\nq-wind\tdoc-wind\t1\n" + (
    "q-vaccine\tdoc-vaccine\t1\nq-unjudged\tdoc-football\t0\n"
)
QRELS_TRAIN = "query-id\tcorpus-id\tscore\nq-train-only\tdoc-football\t1\n"


def write_beir(root: Path) -> Path:
    """The tiny BEIR data set above, in BEIR layout under ``root``."""
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS), "utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), "utf-8")
    (root / "qrels" / "dev.tsv").write_text(QRELS_DEV, "utf-8")
    (root / "qrels" / "train.tsv").write_text(QRELS_TRAIN, "utf-8")
    return root


# --- metric wiring: values computed by hand -------------------------------------------------

QRELS = {
    "q1": {"a": 1, "c": 1},  # two relevant documents
    "q2": {"d": 1},
    "q3": {"x": 1},  # relevant document found only at rank 11
    "q4": {"b": 1},  # no results at all
}
RUN = {
    "q1": ["b", "a", "c", "d"],
    "q2": ["d", "a"],
    "q3": [f"n{i}" for i in range(1, 11)] + ["x"],
    "q4": [],
}


def test_metrics_per_query_match_hand_computation() -> None:
    per = per_query_metrics(QRELS, RUN)
    # q1: relevant at ranks 2 and 3.
    #   DCG@10 = 1/log2(2+1) + 1/log2(3+1) = 0.630930 + 0.5 = 1.130930
    #   IDCG@10 = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930 -> nDCG@10 = 0.693426
    #   AP = (P@2 + P@3) / 2 = (1/2 + 2/3) / 2 = 0.583333; RR@10 = 1/2; R@100 = 2/2 = 1
    assert per["q1"] == pytest.approx(
        {"nDCG@10": 0.693426, "MAP": 0.583333, "MRR@10": 0.5, "Recall@100": 1.0}, abs=1e-6
    )
    # q2: the one relevant document at rank 1: every measure is 1.
    assert per["q2"] == pytest.approx({k: 1.0 for k in KEYS})
    # q3: relevant at rank 11: outside both @10 cut-offs (nDCG@10 = RR@10 = 0), but
    #   AP = P@11 / 1 = 1/11 = 0.090909 and R@100 = 1.
    assert per["q3"] == pytest.approx(
        {"nDCG@10": 0.0, "MAP": 1 / 11, "MRR@10": 0.0, "Recall@100": 1.0}, abs=1e-6
    )
    assert "q4" not in per or all(v == 0.0 for v in per["q4"].values())


def test_means_count_unanswered_queries_as_zero() -> None:
    # Means over all four judged queries (q4 contributes 0 everywhere):
    #   nDCG@10    = (0.693426 + 1 + 0 + 0) / 4 = 0.423357
    #   MAP        = (0.583333 + 1 + 0.090909 + 0) / 4 = 0.418561
    #   MRR@10     = (0.5 + 1 + 0 + 0) / 4 = 0.375
    #   Recall@100 = (1 + 1 + 1 + 0) / 4 = 0.75
    assert compute_metrics(QRELS, RUN) == pytest.approx(
        {"nDCG@10": 0.423357, "MAP": 0.418561, "MRR@10": 0.375, "Recall@100": 0.75}, abs=1e-6
    )
    without_q4 = {k: v for k, v in RUN.items() if k != "q4"}
    assert compute_metrics(QRELS, without_q4) == compute_metrics(QRELS, RUN)


def test_ranking_order_is_kept_and_duplicates_ignored() -> None:
    # With equal scores trec_eval would order "z" before "a" (doc id descending) and give
    # RR = 1; the engine's order puts "z" second, so RR@10 must be 1/2.
    assert compute_metrics({"q": {"z": 1}}, {"q": ["a", "z"]})["MRR@10"] == 0.5
    # A repeated id does not occupy a second rank: "z" is at rank 2, not 3.
    assert compute_metrics({"q": {"z": 1}}, {"q": ["a", "a", "z"]})["MRR@10"] == 0.5


def test_graded_judgments_use_linear_gain() -> None:
    # qrels: a=2, b=1; ranking b, a. DCG = 1/log2(2) + 2/log2(3) = 1 + 1.261860 = 2.261860;
    # IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.630930 = 2.630930 -> nDCG@10 = 0.859719.
    got = compute_metrics({"q": {"a": 2, "b": 1}}, {"q": ["b", "a"]})
    assert got["nDCG@10"] == pytest.approx(0.859719, abs=1e-6)


def test_measures_are_the_documented_ones() -> None:
    assert [str(m) for m in MEASURES.values()] == ["nDCG@10", "AP@100", "RR@10", "R@100"]


def test_article_aggregations_by_hand() -> None:
    # Article c: one paragraph scoring 1.0; article d: three paragraphs scoring 0.6 each.
    hits = [Hit("c:0", 1.0), Hit("d:0", 0.6), Hit("d:1", 0.6), Hit("d:2", 0.6)]
    expected: dict[Aggregation, dict[str, float]] = {
        "max": {"c": 1.0, "d": 0.6},  # best paragraph
        "top2": {"c": 1.0, "d": 1.2},  # 0.6 + 0.6
        "top3": {"c": 1.0, "d": 1.8},  # 0.6 + 0.6 + 0.6
        "decay": {"c": 1.0, "d": 1.05},  # 0.6 + 0.6 * 0.5 + 0.6 * 0.25
    }
    for aggregate, scores in expected.items():
        groups = group_by_article(hits, aggregate)
        assert {g.article_id: g.score for g in groups} == pytest.approx(scores), aggregate
        assert [g.article_id for g in groups] == sorted(scores, key=lambda a: -scores[a])
        assert [h.paragraph_id for h in groups[-1 if aggregate == "max" else 0].hits] == [
            "d:0",
            "d:1",
            "d:2",
        ]
    assert group_by_article(hits) == group_by_article(hits, "max")


# --- data set loading and query text -----------------------------------------------------------


def test_load_beir_reads_split_and_skips_header_and_unjudged(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "tiny"), "dev")
    assert (data.name, data.split, data.corpus.name) == ("tiny", "dev", "corpus.jsonl")
    # q-unjudged has only a score-0 judgment: not evaluated (and needs no query text).
    assert sorted(data.queries) == ["q-tax", "q-vaccine", "q-wind"]
    assert data.qrels["q-tax"] == {"doc-tax": 1}
    assert sorted(load_beir(tmp_path / "tiny", "train").queries) == ["q-train-only"]


def test_load_beir_errors_name_the_problem(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "tiny")
    with pytest.raises(EvaluationError, match=r"test\.tsv"):
        load_beir(root, "test")
    (root / "qrels" / "dev.tsv").write_text(QRELS_DEV + "q-missing\tdoc-tax\t1\n", "utf-8")
    with pytest.raises(EvaluationError, match="q-missing"):
        load_beir(root, "dev")
    (root / "qrels" / "dev.tsv").write_text(QRELS_DEV + "q-tax\tdoc-wind\n", "utf-8")
    with pytest.raises(EvaluationError, match=r"dev\.tsv:6"):
        load_beir(root, "dev")
    (root / "corpus.jsonl").unlink()
    with pytest.raises(EvaluationError, match="no corpus"):
        load_beir(root, "dev")


def test_plain_query_drops_syntax_and_keeps_words() -> None:
    text = 'He said "NOT true" AND (x OR y): -5% +3 source:cnn title:z 10:30'
    assert plain_query(text) == "He said not true and x or y 5 3 source cnn title z 10 30"
    parsed = parse_query(plain_query(text))
    assert parsed.is_plain and not parsed.filters
    assert plain_query('"" -- ()') == ""


def test_plain_query_truncates_to_the_parser_limits() -> None:
    long = " ".join(f"w{i}" for i in range(100))
    assert plain_query(long).split() == [f"w{i}" for i in range(MAX_CLAUSES)]
    huge = " ".join(["x" * 40] * 60)
    assert len(plain_query(huge)) <= MAX_QUERY_CHARS
    parse_query(plain_query(long))
    parse_query(plain_query(huge))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_plain_query_always_parses_as_plain_words(text: str) -> None:
    q = plain_query(text)
    parsed = parse_query(q)
    assert parsed.is_plain and not parsed.filters
    assert len(q.split()) <= MAX_CLAUSES


# --- end to end through the real pipeline --------------------------------------------------


def test_evaluate_end_to_end_on_a_tiny_beir_set(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    root = write_beir(tmp_path / "tiny")
    # Short texts score low: a low semantic threshold lets dense mode's set hold them.
    settings = settings_for(tmp_path / "index", min_similarity=0.2)
    report = evaluate(root, settings, split="dev", embedder=embedder)
    assert report.as_dict().keys() == {"dataset", "split", "queries", "results"}
    assert (report.dataset, report.split, report.queries) == ("tiny", "dev", 3)
    assert list(report.results) == ["bm25", "dense", "hybrid"]
    assert report.ingest is not None and report.ingest["articles"] == 4
    # Four unmistakable topics: every mode ranks each query's article first.
    for mode, scores in report.results.items():
        assert list(scores) == KEYS
        assert scores == {k: 1.0 for k in KEYS}, mode
    # Reuse: a second run embeds nothing. (It should also skip all 4 articles as unchanged,
    # but articles without a given language are re-written today: the stored content hash
    # includes the detected language, the compared one does not; see docs/evaluation.md.)
    again = evaluate(
        root,
        settings,
        modes=("hybrid",),
        variants={"hybrid-convex": {"mode": "hybrid", "fusion": "convex", "alpha": 0.3}},
        embedder=embedder,
    )
    assert again.ingest is not None
    assert again.ingest["embedded"] == 0
    assert (again.ingest["unchanged"], again.ingest["written"]) in ((4, 0), (0, 4))
    assert list(again.results) == ["hybrid", "hybrid-convex"]
    with pytest.raises(EvaluationError, match="unknown mode"):
        evaluate(root, settings, modes=("sparse",), embedder=embedder, ingest_corpus=False)


def test_eval_command_json(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    root = write_beir(tmp_path / "tiny")
    cmd = [sys.executable, "-m", "search_api", "eval", str(root), "--index", str(tmp_path / "i")]
    proc = subprocess.run(
        [*cmd, "--modes", "bm25,hybrid", "--json"],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out.keys() == {"dataset", "split", "queries", "results"}
    assert (out["dataset"], out["split"], out["queries"]) == ("tiny", "dev", 3)
    assert list(out["results"]) == ["bm25", "hybrid"]
    assert list(out["results"]["bm25"]) == KEYS
    bad = subprocess.run(
        [*cmd, "--modes", "sparse"], env=subprocess_env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--modes" in bad.stderr
