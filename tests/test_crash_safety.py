"""Crash safety: SIGKILL an ingest at random points, resume, and prove the stores agree.

Each run kills a real ``newssearch ingest`` subprocess with SIGKILL at a random moment of its
run (seeded, so CI is reproducible); the next run resumes. After the last, a complete ingest
must leave catalog, lexical backend and FAISS holding exactly the paragraphs of a clean ingest.
Small batches and frequent commits make many commit points to land between.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from indexer.embedder import Embedder
from indexer.pipeline import check
from indexer.settings import Settings
from indexer.stores import open_stores
from tests.plugins.es_node import ES_NODE, _free_port

KILLS = 10
CLI = [sys.executable, "-m", "search_api"]


def ingest_cmd(corpus: Path, index: Path, backend: str) -> list[str]:
    return [*CLI, "ingest", str(corpus), "--index", str(index), "--backend", backend, "--json"]


def crash_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    return {**base, "NEWSSEARCH_INGEST_BATCH": "4", "NEWSSEARCH_COMMIT_EVERY": "24", **extra}


def counts(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    stores = open_stores(settings, embedder)
    try:
        div = check(stores)
        return {
            "ok": div.ok,
            "divergence": div.as_dict(),
            "catalog": stores.catalog.counts(),
            "lexical": stores.lexical.count(),
            "vectors": len(stores.vectors),
            "paragraph_ids": sorted(p for p, _ in stores.catalog.iter_paragraph_ids()),
        }
    finally:
        stores.close()


@pytest.mark.parametrize(
    "backend", ["embedded", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)]
)
def test_sigkill_at_random_points_then_resume(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    german_corpus: Path,
    built_index: Settings,
    settings_for: Any,
    embedder: Embedder,
    subprocess_env: dict[str, str],
) -> None:
    extra: dict[str, str] = {}
    if backend == "elasticsearch":
        extra = {
            "ES_URL": request.getfixturevalue("es_url"),
            "NEWSSEARCH_ES_INDEX_PREFIX": f"crash{tmp_path.name[-8:].lower()}",
        }
    env = crash_env(subprocess_env, extra)
    clean = counts(built_index, embedder)
    assert clean["ok"]

    # How long one resumable run takes here, so kills land anywhere inside a run. Probe and
    # kill runs start from empty embedding caches of their own: the paragraphs really go
    # through the model, as in a first ingest (with the session's warm cache a run is mostly
    # process start-up, and kills would rarely land inside one).
    probe = tmp_path / "probe"
    started = time.monotonic()
    subprocess.run(
        ingest_cmd(german_corpus, probe, backend),
        env={**env, "NEWSSEARCH_EMBEDDING_CACHE": str(tmp_path / "probe-cache.sqlite")},
        check=True,
        capture_output=True,
        timeout=900,
    )
    duration = time.monotonic() - started
    env["NEWSSEARCH_EMBEDDING_CACHE"] = str(tmp_path / "cache.sqlite")

    index = tmp_path / "idx"
    rng = random.Random(20261125)
    killed_mid_run = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(
            ingest_cmd(german_corpus, index, backend),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # Within the first half of a full run's time: each run resumes the last one, so
            # kills spread over the whole corpus and most runs die before finishing.
            proc.wait(timeout=rng.uniform(0.5, duration / 2))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_mid_run += 1
        assert proc.returncode in (0, -signal.SIGKILL)
    assert killed_mid_run >= KILLS // 2  # most kills really interrupted a run

    final = subprocess.run(
        ingest_cmd(german_corpus, index, backend),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert summary["skipped"] == 0

    got = counts(settings_for(index, lexical=backend, **_es_kwargs(extra)), embedder)
    assert got["ok"], got["divergence"]
    assert got["catalog"] == clean["catalog"]
    assert got["lexical"] == got["vectors"] == clean["catalog"]["paragraphs"]
    assert got["paragraph_ids"] == clean["paragraph_ids"]

    check_cli = subprocess.run(
        [*CLI, "check", "--index", str(index), "--backend", backend],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check_cli.returncode == 0, check_cli.stdout + check_cli.stderr
    assert json.loads(check_cli.stdout)["ok"] is True


def _es_kwargs(extra: dict[str, str]) -> dict[str, str]:
    if not extra:
        return {}
    return {"es_url": extra["ES_URL"], "es_index_prefix": extra["NEWSSEARCH_ES_INDEX_PREFIX"]}


@pytest.mark.elasticsearch
def test_ingest_with_the_node_down_fails_clearly_and_resumes(
    tmp_path: Path,
    german_corpus: Path,
    embedder: Embedder,
    settings_for: Any,
    subprocess_env: dict[str, str],
) -> None:
    """ES unreachable: ingest retries, then exits 2 with a message; the catalog stays usable and
    the next ingest, with the node back, converges."""
    port, data = _free_port(), tmp_path / "node"
    url = f"http://127.0.0.1:{port}"
    env = {**subprocess_env, "ES_URL": url, "NEWSSEARCH_ES_INDEX_PREFIX": "outage"}
    index = tmp_path / "idx"
    seed = german_corpus / "bbabo-2022-putin-tokajew.de.txt"
    down = subprocess.run(
        ingest_cmd(seed, index, "elasticsearch"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert down.returncode == 2, down.stdout + down.stderr
    assert "Elasticsearch" in down.stderr and "Traceback" not in down.stderr
    node = subprocess.run(
        [str(ES_NODE), "start", "--port", str(port), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert node.returncode == 0, node.stdout + node.stderr
    try:
        up = subprocess.run(
            ingest_cmd(seed, index, "elasticsearch"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert up.returncode == 0, up.stderr
        settings = settings_for(
            index, lexical="elasticsearch", es_url=url, es_index_prefix="outage"
        )
        got = counts(settings, embedder)
        assert got["ok"], got["divergence"]
        assert got["catalog"]["articles"] == 1 and got["lexical"] == got["vectors"] > 20
    finally:
        subprocess.run(
            [str(ES_NODE), "stop", "--data", str(data)], capture_output=True, check=False
        )
