"""Search keeps answering while another process ingests into the same index, and readers only
ever see committed, self-consistent state."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from indexer.embedder import Embedder
from indexer.pipeline import check, ingest
from indexer.stores import open_stores
from search_api.api import deps as app_module
from search_api.app import create_app
from tests.conftest import SEED_TITLE


def test_search_during_ingest_in_another_process(
    tmp_path: Path,
    german_corpus: Path,
    settings_for: Any,
    embedder: Embedder,
    subprocess_env: dict[str, str],
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(app_module, "REFRESH_INTERVAL", 0.0)  # look for new commits every time
    settings = settings_for(tmp_path / "idx")
    stores = open_stores(settings, embedder)
    ingest(stores, [german_corpus / "bbabo-2022-putin-tokajew.de.txt"])
    env = {**subprocess_env, "NEWSSEARCH_INGEST_BATCH": "4", "NEWSSEARCH_COMMIT_EVERY": "24"}
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "search_api",
            "ingest",
            str(german_corpus),
            "--index",
            str(settings.index),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered, totals = 0, []
    with TestClient(create_app(settings, stores), raise_server_exceptions=False) as client:
        while writer.poll() is None:
            for mode in ("hybrid", "bm25", "dense"):
                params = {"q": "Putin Russland Regierung", "mode": mode, "match": "any"}
                resp = client.get("/search", params=params)
                assert resp.status_code == 200, resp.text
                body = resp.json()
                assert body["degraded"] == []
                for result in body["results"]:
                    assert result["passages"], result  # no dangling paragraph ids
                    for p in result["passages"]:
                        assert p["paragraph_id"].startswith(result["article_id"] + ":")
                        assert p["text"]
                if mode == "hybrid":
                    totals.append(body["total"])
                answered += 1
            time.sleep(0.05)
        _, err = writer.communicate()
        assert writer.returncode == 0, err
        time.sleep(0.01)
        final = client.get("/search", params={"q": "Putin Tokajew Gespräche"}).json()
    assert answered >= 10
    assert totals[-1] > totals[0]  # the new articles became visible while serving
    assert final["results"][0]["title"] == SEED_TITLE
    assert check(stores).ok
    stores.close()
