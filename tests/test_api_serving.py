"""Serving as a user starts it: the ONNX path never imports torch, the commands after the demo
find its index, and the server says whether writes are enabled."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from indexer.onnx_embedder import default_cache_dir
from indexer.settings import Settings

#: Serve the app in-process (lifespan included: stores opened from settings, model loaded),
#: answer every read endpoint, and report which heavy modules were imported or attempted.
SERVE_SCRIPT = r"""
import importlib.abc, json, sys

attempts = []

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "transformers", "sentence_transformers"):
            attempts.append(name)
        return None

sys.meta_path.insert(0, Watch())
from fastapi.testclient import TestClient
from indexer.settings import Settings
from search_api.app import create_app

with TestClient(create_app(Settings(index=sys.argv[1]))) as client:
    found = client.get("/search", params={"q": "Putin Tokajew"}).json()["results"][0]
    paths = ["/search?q=Regierung&mode=dense", "/facets?q=Krieg", "/timeline?q=Krieg",
             "/export?q=Krieg", "/health", "/stats", "/docs", "/",
             "/articles/" + found["article_id"], "/articles/" + found["article_id"] + "/similar"]
    statuses = {p: client.get(p).status_code for p in paths}
print(json.dumps({"statuses": statuses, "attempts": sorted(set(attempts)),
                  "loaded": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


def test_serving_on_the_onnx_backend_never_imports_torch(
    built_index: Settings, subprocess_env: dict[str, str]
) -> None:
    """App start imported torch only to set its thread count (seconds and ~300 MB)."""
    assert built_index.model_backend == "onnx-int8"
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(built_index.index)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report["statuses"].values()) == {200}, report["statuses"]
    assert report["attempts"] == [] and report["loaded"] == [], report


@pytest.fixture
def home(tmp_path: Path, subprocess_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A fresh HOME for ``newssearch`` (the exported model still found where it is)."""
    env = {
        **subprocess_env,
        "HOME": str(tmp_path),
        "NEWSSEARCH_MODEL_CACHE": str(default_cache_dir()),
    }
    return tmp_path, env


def newssearch(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "search_api", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_commands_after_the_demo_find_its_index(
    home: tuple[Path, dict[str, str]], built_index: Settings
) -> None:
    """``newssearch search ...`` right after ``scripts/demo`` failed with "no index at ..."."""
    root, env = home
    share = root / ".local" / "share" / "newssearch"
    shutil.copytree(built_index.index, share / "demo")
    found = newssearch(["search", "Putin Tokajew", "--json"], env)
    assert found.returncode == 0, found.stderr
    assert f"using the demo index at {share / 'demo'}" in found.stderr
    assert json.loads(found.stdout)["total"] > 0
    facets = newssearch(["facets", "Krieg", "--json"], env)
    assert facets.returncode == 0, facets.stderr
    # An index of one's own (default directory, --index or NEWSSEARCH_INDEX) always wins.
    shutil.copytree(built_index.index, share / "index")
    own = newssearch(["search", "Putin", "--json"], env)
    assert own.returncode == 0 and "using the demo index" not in own.stderr
    elsewhere = root / "elsewhere"
    missing = newssearch(["search", "Putin", "--index", str(elsewhere)], env)
    assert missing.returncode == 2 and f"no index at {elsewhere}" in "".join(
        missing.stderr.split("\n")  # rich wraps long paths
    )
    missing = newssearch(["search", "Putin"], {**env, "NEWSSEARCH_INDEX": str(elsewhere)})
    assert missing.returncode == 2 and "using the demo index" not in missing.stderr


def test_reading_settings_and_the_write_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from search_api.cli import demo_index, reading_settings, write_hint

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NEWSSEARCH_INDEX", raising=False)
    assert demo_index() == tmp_path / ".local" / "share" / "newssearch" / "demo"
    assert reading_settings(None, None).index == Settings().index  # no demo index yet
    (demo_index()).mkdir(parents=True)
    (demo_index() / "catalog.sqlite").touch()
    assert reading_settings(None, None, quiet=True).index == demo_index()
    assert reading_settings(None, "elasticsearch").index == Settings().index
    assert reading_settings(tmp_path / "x", None).index == tmp_path / "x"
    disabled = write_hint(Settings())
    assert "disabled" in disabled and "NEWSSEARCH_API_KEY" in disabled
    assert "X-API-Key" in write_hint(Settings(api_key="k")) and "disabled" not in write_hint(
        Settings(api_key="k")
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_says_how_to_enable_writes_and_answers(
    home: tuple[Path, dict[str, str]], built_index: Settings
) -> None:
    """``newssearch demo`` (which ends in ``serve``) served with writes disabled and did not
    say so; ``serve`` now prints the index and the write hint before it starts."""
    _, env = home
    port = _free_port()
    cmd = [sys.executable, "-m", "search_api", "serve", "--index", str(built_index.index)]
    server = subprocess.Popen(
        [*cmd, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        assert server.stderr is not None
        while time.monotonic() < deadline:
            line = server.stderr.readline()
            lines.append(line)
            if "Uvicorn running" in line or server.poll() is not None:
                break
        text = " ".join("".join(lines).split())
        assert f"index {built_index.index} (embedded)" in text, text
        assert "are disabled: start with NEWSSEARCH_API_KEY=" in text, text
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        docs = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=30)
        assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    finally:
        server.terminate()
        server.communicate(timeout=30)
