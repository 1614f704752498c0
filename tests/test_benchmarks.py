"""Every benchmark script in ``benchmarks/`` runs against the current code: a smoke run each.

Each script runs as a subprocess at its tiny ``--smoke`` size (see docs/benchmarks.md) and must
exit 0 and print its JSON result (or, for ``tune_fusion.py``, its Markdown tables). No figure is
asserted: at these sizes they mean nothing. The runs share one bench directory
(``NEWSSEARCH_BENCH_DIR``) and the session's embedding cache (``subprocess_env``), so the few
real paragraph and query vectors the FAISS and latency scripts need are embedded once. What is
timed embedding is embedded on purpose: ``indexing.py``'s ~60 paragraphs (into a fresh cache:
that is what it measures), ``embedding_backends.py``'s texts and the queries inside
``query_latency.py``'s timings. The order matters for speed only: ``faiss_recall.py`` caches the
vectors that ``query_latency.py`` then reuses. ``slow`` marks the runs that take over ~10 s on
two busy cores (loading torch, or bulk-indexing into Elasticsearch); they run in the default
suite too.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from elasticsearch import Elasticsearch

from indexer.embedder import Embedder
from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import open_stores
from tests.beir import tiny_beir
from tests.conftest import REPO, require_shared_data
from tests.native import INSTALLED as NATIVE_INSTALLED
from tests.native import REASON as NATIVE_REASON

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture(scope="session")
def bench_env(
    subprocess_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """``subprocess_env`` plus one bench directory shared by every smoke run."""
    require_shared_data()
    return {**subprocess_env, "NEWSSEARCH_BENCH_DIR": str(tmp_path_factory.mktemp("bench"))}


def run_bench(script: str, args: list[str], env: dict[str, str]) -> str:
    """Run ``benchmarks/<script> args``; fail with its stderr unless it exits 0. Its stdout."""
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-40:])
        raise AssertionError(f"{script} {' '.join(args)} exited {proc.returncode}:\n{tail}")
    return proc.stdout


def json_result(stdout: str, out: Path) -> dict[str, Any]:
    """The JSON a script printed, which must also be what it wrote to ``--out``."""
    result: dict[str, Any] = json.loads(stdout)
    assert json.loads(out.read_text()) == result
    assert result["smoke"] is True
    assert {"cpu", "cores", "load_avg_1_5_15"} <= set(result["machine"])
    return result


def test_lexical_engines_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "lexical.json"
    result = json_result(
        run_bench("lexical_engines.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    assert result["paragraphs"] == 2500
    for engine in ("tantivy", "fts5"):
        assert {"index_s", "size_mb", "query", "update_1000_s"} <= set(result[engine])
    assert "bm25s" in result  # measured, or skipped with the reason when not installed


@pytest.mark.slow
def test_faiss_recall_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "faiss.json"
    result = json_result(
        run_bench("faiss_recall.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    assert set(result["sizes"]) == {"1000", "5000"}
    assert {"real", "synthetic"} <= set(result["realism"])
    for row in result["sizes"].values():
        assert set(row["ef"]) == {"32", "96"} and "recall@10" in row["ef"]["96"]
        assert set(row["filtered"]) == {"0.01", "0.1", "0.5"}


def test_query_latency_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    result = json_result(
        run_bench("query_latency.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    row = result["sizes"]["2000"]
    assert row["build"]["paragraphs"] == 2000 and row["index_kind"] == "flat"
    for mode in ("query_embedding_only", "bm25", "dense", "hybrid", "hybrid_cpu"):
        assert {"p50_ms", "p95_ms", "p99_ms", "qps"} <= set(row[mode])


def test_result_set_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "result-set.json"
    result = json_result(run_bench("result_set.py", ["--smoke", "--out", str(out)], bench_env), out)
    row = result["sizes"]["2000"]
    assert row["build"]["paragraphs"] == 2000 and row["deep_page"] == 5
    for name in ("short", "claims"):
        figures = row[name]
        assert figures["queries"] == 20 and figures["words"]["min"] >= 2
        stages = ("first_page", "reshaped", "facets_timeline", "facets_timeline_cached", "filtered")
        for stage in stages:
            assert {"p50_ms", "p99_ms"} <= set(figures[stage])
        assert {"median", "max"} <= set(figures["total"]) | set(figures["total_paragraphs"])
        assert figures["deep_page_cache_hits"] == figures["deep_page_queries"]
    assert row["short"]["words"]["max"] <= 4
    assert row["filter"]["source"] and 0 < row["filter"]["article_share"] <= 1
    assert row["claims"]["deep_page_queries"] > 0  # page 5 of a claim's set is reached
    assert {"p50_ms", "p99_ms"} <= set(row["claims"]["page_deep_uncached"])
    empty = row["export"][0]
    assert empty["q"] == "" and empty["articles"] == row["articles"] > 0
    assert {"articles_per_s", "rss_growth_mb"} <= set(empty)


@pytest.mark.native
@pytest.mark.skipif(not NATIVE_INSTALLED, reason=NATIVE_REASON)
def test_word_matches_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "word-matches.json"
    result = json_result(
        run_bench("word_matches.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    row = result["sizes"]["2000"]
    assert row["paragraphs"] == 2000
    for name in ("short", "claims"):
        assert row[name]["queries"] > 0 and row[name]["matches_per_query"] > 0
        for way in ("tantivy_py", "native_vec_ids", "native_positions"):
            assert {"p50_ms", "p99_ms", "ns_per_match"} <= set(row[name][way])


def test_indexing_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "indexing.json"
    result = json_result(run_bench("indexing.py", ["--smoke", "--out", str(out)], bench_env), out)
    assert result["backend"] == "embedded" and result["paragraphs"] >= 60
    assert result["ingest"]["paragraphs"] == result["paragraphs"]
    assert {"before", "after", "mean"} <= set(result["raw_encode_paragraphs_per_s"])
    assert "ratio" in result


@pytest.mark.slow
def test_embedding_backends_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    """Loads torch and the int8 model (reusing the product's ONNX cache): the slowest smoke."""
    out = tmp_path / "embedding.json"
    result = json_result(
        run_bench("embedding_backends.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    assert result["texts"]["paragraphs"] == 32 and result["texts"]["queries"] == 12
    assert {"torch_fp32", "onnx_int8", "speedup"} <= set(result["passages_2_threads"])
    assert {"torch_fp32", "onnx_int8"} <= set(result["query_1_thread"])
    assert "paragraph_cosine_mean" in result["quality"]


def test_tune_fusion_smoke(
    bench_env: dict[str, str], tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    """The sweep over an index of a tiny real BEIR set (built here with the session model)."""
    dataset = tiny_beir(tmp_path / "beir")
    settings: Settings = settings_for(tmp_path / "index")
    stores = open_stores(settings, embedder)
    try:
        report = ingest(stores, [dataset / "corpus.jsonl"])
        assert report.skipped == 0 and report.written > 0
    finally:
        stores.close()
    out = tmp_path / "sweep.json"
    args = [str(dataset), "--index", str(settings.index), "--top", "3", "--json-out", str(out)]
    stdout = run_bench("tune_fusion.py", args, bench_env)
    assert stdout.startswith("## beir: tune on train (3 queries), report on dev (3 queries)")
    assert "### Best configurations by tuning nDCG@10" in stdout
    assert "\nchosen: " in stdout
    assert {"config", "train", "dev"} <= set(json.loads(out.read_text())[0])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(
    shutil.which("wrk") is None,
    reason="wrk is not installed (Debian: apt-get install wrk); benchmarks/load.sh needs it",
)
def test_load_script_smoke(
    bench_env: dict[str, str], built_index: Settings, tmp_path: Path
) -> None:
    """``load.sh`` (and ``load_queries.lua``) for one short hybrid pass on a copy of the session
    index. Both need ``wrk`` (a C program from Debian, which ``.ci/run`` installs): without it
    this test skips with that reason."""
    index = tmp_path / "index"
    shutil.copytree(built_index.index, index)
    env = {
        **bench_env,
        "PORT": str(_free_port()),
        "DURATION": "2s",
        "CONNECTIONS": "2",
        "THREADS": "1",
        "PASSES": "hybrid",
        "TMPDIR": str(tmp_path),
    }
    proc = subprocess.run(
        ["bash", str(BENCHMARKS / "load.sh"), str(index)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "== pass: hybrid" in proc.stdout and "== OK: no errors" in proc.stdout


@pytest.fixture
def es_prefix(es_client: Elasticsearch) -> Iterator[str]:
    """A unique Elasticsearch index prefix for one benchmark run; its indices go afterwards."""
    prefix = f"newssearch-test-{uuid4().hex[:12]}"
    yield prefix
    for name in es_client.indices.get(index=f"{prefix}-*", allow_no_indices=True):
        es_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.mark.elasticsearch
@pytest.mark.slow
def test_query_latency_elasticsearch_smoke(
    bench_env: dict[str, str], es_url: str, es_prefix: str, tmp_path: Path
) -> None:
    env = {**bench_env, "NEWSSEARCH_ES_INDEX_PREFIX": es_prefix}
    out = tmp_path / "latency-es.json"
    args = ["--smoke", "--backend", "elasticsearch", "--es-url", es_url, "--out", str(out)]
    result = json_result(run_bench("query_latency.py", args, env), out)
    assert result["backend"] == "elasticsearch"
    row = result["sizes"]["2000"]
    assert row["build"]["paragraphs"] == 2000
    for mode in ("bm25", "dense", "hybrid"):
        assert {"p50_ms", "p99_ms"} <= set(row[mode])


@pytest.mark.elasticsearch
@pytest.mark.slow
def test_indexing_elasticsearch_smoke(
    bench_env: dict[str, str], es_url: str, es_prefix: str, tmp_path: Path
) -> None:
    env = {**bench_env, "NEWSSEARCH_ES_INDEX_PREFIX": es_prefix}
    out = tmp_path / "indexing-es.json"
    args = ["--smoke", "--backend", "elasticsearch", "--es-url", es_url, "--out", str(out)]
    result = json_result(run_bench("indexing.py", args, env), out)
    assert result["backend"] == "elasticsearch"
    assert result["ingest"]["paragraphs"] == result["paragraphs"]


def test_client_overhead_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "client.json"
    result = json_result(
        run_bench("client_overhead.py", ["--smoke", "--out", str(out)], bench_env), out
    )
    assert result["articles"] == 20 and result["reps"] == 10
    for case in ("search_10", "search_100", "search_bm25_100", "iter_all", "export_csv"):
        assert {"p50_ms", "p99_ms"} <= set(result[case]["raw"]) & set(result[case]["client"])
        assert "overhead_ms" in result[case]
    assert result["iter_all"]["articles"] == 20 and result["search_100"]["results"] == 20
    assert result["client_cpu_only"]["response_bytes"] > 0


def test_similar_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "similar.json"
    result = json_result(run_bench("similar.py", ["--smoke", "--out", str(out)], bench_env), out)
    row = result["sizes"]["2000"]
    assert row["build"]["paragraphs"] == 2000 and row["index_kind"] == "flat"
    assert row["measured_articles"] == 20 and row["threshold"] == 0.64
    for stage in ("first_page", "first_page_cached", "filtered_by_date", "vector_and_range"):
        assert {"p50_ms", "p99_ms"} <= set(row[stage]) and row[stage]["n"] == 20
    assert {"median", "max"} <= set(row["total"]) and not row["refused_too_large"]


def test_stories_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "stories.json"
    result = json_result(run_bench("stories.py", ["--smoke", "--out", str(out)], bench_env), out)
    bbc = result["corpora"]["bbc"]
    assert bbc["articles"] == 300 and bbc["signature_ms_per_1k"] > 0
    row = bbc["thresholds"]["0.60"]
    # The first 300 BBC articles hold exact copies; every one lands in its original's story.
    assert bbc["exact_copies"] > 0 and row["exact_copies_found"] == bbc["exact_copies"]
    assert row["pairs"] >= row["stories_with_copies"] > 0


def test_decompound_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "decompound.json"
    result = json_result(run_bench("decompound.py", ["--smoke", "--out", str(out)], bench_env), out)
    assert result["articles"] == 100 and result["topics"] > 0
    assert {"nDCG@10", "MRR@10", "Recall@10"} <= set(result["baseline"])
    vocabulary = result["vocabulary"]  # needs no package: always measured
    assert vocabulary["compounds"]["split_token_share"] > 0
    for variant in ("index", "query", "both"):
        assert {"nDCG@10", "MRR@10", "Recall@10"} <= set(vocabulary[variant])
    assert "skipped" in result["charsplit"] or "both" in result["charsplit"]


@pytest.mark.multilingual
def test_encoders_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    from indexer.use_embedder import use_available

    if not use_available():
        pytest.skip("USE's graph (nanoranker) is not installed")
    out = tmp_path / "encoders.json"
    args = ["--encoder", "minilm+use", "--smoke", "--root", str(tmp_path / "root")]
    result = json_result(run_bench("encoders.py", [*args, "--out", str(out)], bench_env), out)
    assert result["encoder"] == "minilm+use" and 0.1 <= result["threshold"] <= 0.95
    directions = {(r["dataset"], r["split"], r["lang"]) for r in result["runs"]}
    assert ("gnad-xling", "test", "ru") in directions and len(directions) == 8
    for run in result["runs"]:
        assert set(run["results"]) == {"bm25", "dense", "hybrid", "dense-all", "hybrid-all"}
        assert "Recall@10" in run["results"]["hybrid"]
    assert result["speed"]["paragraphs_per_s"] > 0
    assert result["search"]["queries"] > 0 and result["search"]["hybrid_p50_ms"] > 0


@pytest.mark.multilingual
def test_title_context_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "title.json"
    args = ["--smoke", "--root", str(tmp_path / "root"), "--out", str(out)]
    result = json_result(run_bench("title_context.py", args, bench_env), out)
    assert set(result["reembed"]) == {"checkthat2021-politifact-1k", "gnad-xling", "bbc-xling"}
    for done in result["reembed"].values():  # each distinct text once per encoder (2)
        assert 0 < done["paragraphs"] < done["embedded"] <= 2 * done["paragraphs"]
    assert len(result["runs"]) == 8
    for run in result["runs"]:
        for variant in ("plain", "title"):
            assert set(run[variant]) == {"bm25", "dense", "hybrid"}


@pytest.mark.multilingual
def test_article_bm25_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "article.json"
    args = ["--smoke", "--root", str(tmp_path / "root"), "--out", str(out)]
    result = json_result(run_bench("article_bm25.py", args, bench_env), out)
    assert len(result["runs"]) == 8 and result["betas"][0] == 0.0
    for run in result["runs"]:
        assert {str(b) for b in result["betas"]} <= set(run)
        assert "nDCG@10" in run["0.0"]


@pytest.mark.multilingual
def test_fusion_simulation_smoke(bench_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    args = ["--smoke", "--root", str(tmp_path / "root"), "--out", str(out)]
    result = json_result(run_bench("fusion_simulation.py", args, bench_env), out)
    assert len(result["runs"]) == 8
    assert {"bm25", "minilm", "use", "routed", "adaptive-1.0"} <= set(result["summary"])
    for rule, figures in result["summary"].items():
        assert 0.0 <= figures["mean"] <= 1.0, rule
        if rule in ("bm25", "minilm", "use"):  # one list never beats the best single list
            assert figures["worst_margin"] <= 0.0, rule
