"""``newssearch tune``: the sweep's figures are ``newssearch eval``'s, the winner is stored in
the index and becomes its default, and the precedence request > explicit setting > tuned >
built-in default holds (search_api/tune.py, search_api/search/tuned.py).

One small real BEIR set: claims and fact-checks of checkthat2021-politifact-1k (its first
train and dev queries with their judged articles, plus unjudged ones, each article cut to its
first paragraphs: ~100 articles, a few hundred paragraphs), ingested once; every test that
writes works on its own copy of that index.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from indexer.embedder import Embedder
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.app import create_app
from search_api.engine import SearchEngine
from search_api.evaluation import compute_metrics, load_beir, search_run
from search_api.schemas import SearchRequest, TunedFusion
from search_api.search.tuned import META_KEY, effective_fusion, read_tuned, write_tuned
from search_api.tune import FusionPoint, TuneResult, grid, tune
from tests.conftest import SHARED_DATA, ingested_index, require_shared_data

PF1K = SHARED_DATA / "relevance" / "checkthat2021-politifact-1k"
TRAIN_QUERIES, DEV_QUERIES, DISTRACTORS = 40, 12, 40
#: Characters kept of each article (whole lines): two or three paragraphs.
KEEP_CHARS = 900


def _qrels(split: str) -> list[list[str]]:
    lines = (PF1K / "qrels" / f"{split}.tsv").read_text("utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line.strip()]


def _first_queries(rows: list[list[str]], n: int) -> list[list[str]]:
    wanted = list(dict.fromkeys(r[0] for r in rows))[:n]
    return [r for r in rows if r[0] in wanted]


def _cut(text: str) -> str:
    kept: list[str] = []
    for line in text.splitlines():
        if sum(len(k) for k in kept) >= KEEP_CHARS:
            break
        kept.append(line)
    return "\n".join(kept)


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small PolitiFact BEIR set (train and dev splits) described above."""
    require_shared_data()
    root = tmp_path_factory.mktemp("beir") / "pf-small"
    (root / "qrels").mkdir(parents=True)
    splits = {
        "train": _first_queries(_qrels("train"), TRAIN_QUERIES),
        "dev": _first_queries(_qrels("dev"), DEV_QUERIES),
    }
    judged = {r[1] for rows in splits.values() for r in rows}
    with gzip.open(PF1K / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    others = [d for d in corpus if d["_id"] not in judged][:DISTRACTORS]
    docs = [{**d, "text": _cut(d["text"])} for d in corpus if d["_id"] in judged] + [
        {**d, "text": _cut(d["text"])} for d in others
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), "utf-8")
    qids = {r[0] for rows in splits.values() for r in rows}
    queries = [
        line
        for line in (PF1K / "queries.jsonl").read_text("utf-8").splitlines()
        if line.strip() and json.loads(line)["_id"] in qids
    ]
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", "utf-8")
    for split, rows in splits.items():
        body = "".join("\t".join(r) + "\n" for r in rows)
        (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + body)
    return root


@pytest.fixture(scope="module")
def built(
    beir: Path, tmp_path_factory: pytest.TempPathFactory, settings_for: Any, embedder: Embedder
) -> Settings:
    """The set's corpus ingested once (read-only: tests copy it)."""
    settings: Settings = settings_for(tmp_path_factory.mktemp("tune-index") / "pf")
    return ingested_index(settings, embedder, beir)


@pytest.fixture
def index(built: Settings, tmp_path: Path) -> Path:
    """A writable copy of the built index."""
    target = tmp_path / "pf"
    shutil.copytree(built.index, target)
    return target


@pytest.fixture
def open_copy(index: Path, settings_for: Any, embedder: Embedder) -> Iterator[Stores]:
    stores = open_stores(settings_for(index), embedder)
    yield stores
    stores.close()


@pytest.fixture(scope="module")
def swept(beir: Path, built: Settings, embedder: Embedder) -> TuneResult:
    """One sweep on train over the built index (nothing written)."""
    stores = open_stores(built, embedder)
    try:
        before = stores.catalog.get_meta(META_KEY)
        result = tune(stores, beir, split="train")
        assert stores.catalog.get_meta(META_KEY) == before is None  # tune() writes nothing
        return result
    finally:
        stores.close()


def _eval(stores: Stores, beir: Path, split: str, request: dict[str, Any]) -> dict[str, float]:
    """What ``newssearch eval`` computes for one variant (search_run + compute_metrics)."""
    data = load_beir(beir, split)
    engine = SearchEngine(stores)
    try:
        return compute_metrics(data.qrels, search_run(engine, data.queries, request))
    finally:
        engine.close()


def _ranking(stores: Stores, **request: Any) -> list[tuple[str, float]]:
    engine = SearchEngine(stores)
    try:
        req = SearchRequest(q="health insurance coverage", limit=20, fold=False, **request)
        return [(r.article_id, r.score) for r in engine.search(req).results]
    finally:
        engine.close()


def test_the_grid_is_the_documented_one() -> None:
    points = grid()
    convex = [p for p in points if p.fusion == "convex"]
    assert sorted({p.alpha for p in convex if p.alpha is not None}) == [
        round(0.1 * i, 1) for i in range(11)
    ]
    assert {p.normalisation for p in convex} == {"minmax", "zscore"} and len(convex) == 22
    assert [p.rrf_k for p in points if p.fusion == "rrf"] == [10, 30, 60, 100]
    assert len(set(points)) == len(points) == 26


def test_sweep_figures_are_evals_figures(
    swept: TuneResult, beir: Path, built: Settings, embedder: Embedder
) -> None:
    """Each grid point's figure (re-fused from candidates retrieved once) is exactly what a full
    search per query with those parameters gives, and the single retrievers are eval's."""
    assert swept.queries == TRAIN_QUERIES and swept.missing_judged == 0
    assert swept.full_searches == 0  # every figure re-fused, none searched in full
    by_point = {s.point: s.metrics for s in swept.ranked}
    assert set(by_point) == set(grid())  # the built-in default is on the grid
    winner = swept.winner.point
    others = [p for p in grid() if p.fusion == "convex" and p.alpha in (0.0, 1.0)]
    checked = {winner, FusionPoint("rrf", rrf_k=10), swept.ranked[-1].point, *others[:2]}
    stores = open_stores(built, embedder)
    try:
        for point in checked:
            assert (
                _eval(stores, beir, "train", {"mode": "hybrid", **point.request()})
                == (by_point[point])
            ), point.label
        assert _eval(stores, beir, "train", {"mode": "hybrid"}) == swept.current.metrics
        assert _eval(stores, beir, "train", {"mode": "bm25"}) == swept.bm25
        assert _eval(stores, beir, "train", {"mode": "dense"}) == swept.dense
    finally:
        stores.close()
    # The sweep is not degenerate: the weights change the figure.
    assert len({round(m["nDCG@10"], 6) for m in by_point.values()}) > 3


def test_winner_is_the_best_mean_with_ties_to_the_current_default(swept: TuneResult) -> None:
    best = max(s.metrics["nDCG@10"] for s in swept.ranked)
    assert swept.winner.metrics["nDCG@10"] == best == swept.ranked[0].metrics["nDCG@10"]
    values = [s.metrics["nDCG@10"] for s in swept.ranked]
    assert values[1:] == sorted(values[1:], reverse=True)
    if swept.current.metrics["nDCG@10"] == best:
        assert swept.winner.point == swept.current.point
    record = swept.record
    assert (record.metric, record.value, record.split, record.queries) == (
        "nDCG@10",
        best,
        "train",
        TRAIN_QUERIES,
    )
    assert record.dataset == "pf-small" and record.grid["rrf"]["rrf_k"] == [10, 30, 60, 100]
    assert record.measured_with["aggregate"] == "decay"
    # The best parameters of each method are recorded (the winner's method among them).
    by_point = {sc.point: sc.metrics["nDCG@10"] for sc in swept.ranked}
    for method, point in (
        ("convex", FusionPoint("convex", alpha=record.alpha, normalisation=record.normalisation)),
        ("rrf", FusionPoint("rrf", rrf_k=record.rrf_k)),
    ):
        assert by_point[point] == max(v for p, v in by_point.items() if p.fusion == method)
    assert record.fusion == swept.winner.point.fusion
    assert swept.margin == pytest.approx(best - max(swept.bm25["nDCG@10"], swept.dense["nDCG@10"]))


def test_after_tune_eval_reports_the_tuned_figure(
    swept: TuneResult, beir: Path, open_copy: Stores
) -> None:
    generation = open_copy.catalog.generation()
    write_tuned(open_copy.catalog, swept.record)
    assert open_copy.catalog.generation() == generation + 1  # cursors of the old order refused
    assert read_tuned(open_copy.catalog) == swept.record
    assert _eval(open_copy, beir, "train", {"mode": "hybrid"}) == swept.winner.metrics


def _rrf_record(k: int = 10) -> TunedFusion:
    return TunedFusion.model_validate(
        {
            "fusion": "rrf",
            "alpha": 0.9,
            "normalisation": "minmax",
            "rrf_k": k,
            "metric": "nDCG@10",
            "value": 0.5,
            "dataset": "d",
            "split": "train",
            "queries": 3,
            "date": "2026-12-02T00:00:00Z",
        }
    )


def test_precedence_request_then_explicit_setting_then_tuned_then_default(
    open_copy: Stores,
    index: Path,
    settings_for: Any,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builtin = _ranking(open_copy)  # convex 0.3 zscore: the built-in default
    assert builtin == _ranking(open_copy, fusion="convex", alpha=0.3, normalisation="zscore")
    rrf10 = _ranking(open_copy, fusion="rrf", rrf_k=10)
    assert rrf10 != builtin
    write_tuned(open_copy.catalog, _rrf_record(10))
    # A later search of the index uses the tuned value as its default ...
    assert _ranking(open_copy) == rrf10
    # ... a request's own parameters win over it (tuned parameters fill what it leaves out:
    # fusion=convex gets the tuned alpha 0.9 and minmax) ...
    builtin_again = _ranking(open_copy, fusion="convex", alpha=0.3, normalisation="zscore")
    assert builtin_again == builtin
    assert _ranking(open_copy, fusion="convex") == _ranking(
        open_copy, fusion="convex", alpha=0.9, normalisation="minmax"
    )
    # ... and so does a setting the operator set explicitly (environment or argument).
    for key, value in (("FUSION", "convex"), ("ALPHA", "0.3"), ("NORMALISATION", "zscore")):
        monkeypatch.setenv(f"NEWSSEARCH_{key}", value)
    explicit = Settings(index=index, embedding_cache=open_copy.settings.embedding_cache)
    defaults = effective_fusion(explicit, read_tuned(open_copy.catalog))
    assert defaults.origin == {
        "fusion": "setting",
        "alpha": "setting",
        "normalisation": "setting",
        "rrf_k": "tuned",
    }
    stores = open_stores(explicit, embedder)
    try:
        assert _ranking(stores) == builtin
    finally:
        stores.close()
    monkeypatch.delenv("NEWSSEARCH_FUSION")
    partly = open_stores(Settings(index=index, embedding_cache=explicit.embedding_cache), embedder)
    try:  # only alpha / normalisation explicit: the tuned method (rrf) applies
        assert _ranking(partly) == rrf10
    finally:
        partly.close()


def test_a_serving_process_picks_up_tune_and_reset(open_copy: Stores) -> None:
    """/stats shows the fusion in effect; a tune or reset by another process (the catalog's
    meta changes, the generation moves) is used by the next request without a restart."""
    from search_api.search.tuned import reset_tuned

    app = create_app(open_copy.settings, open_copy)
    with TestClient(app) as client:
        stats = client.get("/stats").json()
        assert stats["fusion"]["tuned"] is None
        assert (stats["fusion"]["fusion"], stats["fusion"]["alpha"]) == ("convex", 0.3)
        assert set(stats["fusion"]["origin"].values()) == {"default"}
        params = {"q": "health insurance coverage", "fold": "false", "explain": "true"}
        first = client.get("/search", params=params).json()
        assert first["results"][0]["explanation"]["fusion"].startswith("convex: 0.3 x zscore")
        write_tuned(open_copy.catalog, _rrf_record(30))
        stats = client.get("/stats").json()
        assert stats["fusion"]["fusion"] == "rrf" and stats["fusion"]["rrf_k"] == 30
        assert stats["fusion"]["origin"]["rrf_k"] == "tuned"
        assert stats["fusion"]["tuned"]["dataset"] == "d"
        tuned = client.get("/search", params=params).json()
        # every encoder of the default index (MiniLM + USE) with its weight
        assert tuned["results"][0]["explanation"]["fusion"].startswith("rrf: sum of ")
        assert "(30 + rank)" in tuned["results"][0]["explanation"]["fusion"]
        expected = client.get("/search", params={**params, "fusion": "rrf", "rrf_k": 30}).json()
        assert [r["score"] for r in tuned["results"]] == [r["score"] for r in expected["results"]]
        assert reset_tuned(open_copy.catalog) is not None
        assert client.get("/stats").json()["fusion"]["tuned"] is None
        again = client.get("/search", params=params).json()
        assert [r["article_id"] for r in again["results"]] == [
            r["article_id"] for r in first["results"]
        ]


def test_an_unreadable_stored_value_is_ignored(open_copy: Stores) -> None:
    open_copy.catalog.set_meta(META_KEY, '{"fusion": "magic"}')
    assert read_tuned(open_copy.catalog) is None
    assert _ranking(open_copy) == _ranking(
        open_copy, fusion="convex", alpha=0.3, normalisation="zscore"
    )


# --- the command ------------------------------------------------------------------------


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "search_api", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_tune_command_writes_eval_agrees_reset_removes(
    beir: Path, index: Path, subprocess_env: dict[str, str]
) -> None:
    where = ["--index", str(index)]
    dry = _run(subprocess_env, "tune", str(beir), *where, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["written"] is False
    stats = json.loads(_run(subprocess_env, "stats", *where, "--json").stdout)
    assert stats["fusion"]["tuned"] is None  # --dry-run wrote nothing

    done = _run(subprocess_env, "tune", str(beir), *where, "--split", "train", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["written"] is True and out["metric"] == "nDCG@10"
    assert out["results"][0] == out["winner"] and len(out["results"]) == 26
    assert {"bm25", "dense", "margin", "better_single", "current_default"} <= out.keys()
    stats = json.loads(_run(subprocess_env, "stats", *where, "--json").stdout)
    assert stats["fusion"]["tuned"]["value"] == out["winner"]["metrics"]["nDCG@10"]
    assert stats["fusion"]["fusion"] == out["winner"]["fusion"]
    table = _run(subprocess_env, "stats", *where)
    assert "tuned on pf-small train" in table.stdout

    ev = _run(
        subprocess_env,
        *("eval", str(beir), *where, "--no-ingest", "--split", "train", "--modes", "hybrid"),
        "--json",
    )
    assert ev.returncode == 0, ev.stderr
    hybrid = json.loads(ev.stdout)["results"]["hybrid"]
    assert hybrid == {k: round(v, 4) for k, v in out["winner"]["metrics"].items()}

    # The human table: top configurations, the current default, the single retrievers.
    shown = _run(subprocess_env, "tune", str(beir), *where, "--dry-run", "--top", "3")
    assert shown.returncode == 0, shown.stderr
    assert "winner" in shown.stdout and "current default" in shown.stdout
    assert "bm25 alone" in shown.stdout and "margin over" in shown.stdout
    assert "dry run: nothing written" in shown.stdout

    reset = _run(subprocess_env, "tune", "--reset", *where, "--json")
    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout)["removed"] is True
    stats = json.loads(_run(subprocess_env, "stats", *where, "--json").stdout)
    assert stats["fusion"]["tuned"] is None
    assert set(stats["fusion"]["origin"].values()) == {"default"}
    again = _run(subprocess_env, "tune", "--reset", *where)
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_tune_command_refuses_bad_input_with_a_message(
    beir: Path, index: Path, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    where = ["--index", str(index)]
    cases = [
        (["tune", str(tmp_path / "nowhere"), *where], "not a directory"),
        (["tune", str(beir), *where, "--split", "test"], "test.tsv"),
        (["tune", str(beir), *where, "--metric", "P@5"], "--metric"),
        (["tune", str(beir), *where, "--objective", "worst-margin"], "No such option"),
        (["tune", *where], "DATASET"),
        (["tune", str(beir), "--reset", *where], "--reset"),
        (["tune", str(beir), "--index", str(tmp_path / "empty")], "no index at"),
        (["tune", "--reset", "--index", str(tmp_path / "empty")], "no index at"),
    ]
    for args, message in cases:
        proc = _run(subprocess_env, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in " ".join(proc.stderr.split()), (args, proc.stderr)
        assert "Traceback" not in proc.stderr, args
    # An index that holds another corpus: none of the judged articles is in it.
    other = tmp_path / "other"
    (other / "qrels").mkdir(parents=True)
    (other / "corpus.jsonl").write_text('{"_id": "x", "title": "t", "text": "w"}\n', "utf-8")
    (other / "queries.jsonl").write_text('{"_id": "q", "text": "words"}\n', "utf-8")
    (other / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq\tx\t1\n", "utf-8")
    proc = _run(subprocess_env, "tune", str(other), *where)
    assert proc.returncode == 2
    assert "ingest the data set's corpus first" in " ".join(proc.stderr.split())
    assert not (tmp_path / "empty").exists()  # a refusal creates no index
