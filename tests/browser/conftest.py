"""Fixtures of the browser suite: a real server over a small real index, and Chromium.

The index is built once per session from :mod:`tests.browser.corpus`; ``newssearch serve``
runs on loopback over it (:mod:`tests.live_server`). Playwright drives Debian's Chromium
(``/usr/bin/chromium``: Playwright's own browser download is not used). Without Chromium or the
``playwright`` package these tests skip locally, saying why; under CI a skip fails the run
(``tests/conftest.py``), and ``.ci/run`` installs Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.embedder import Embedder
from indexer.settings import Settings
from indexer.stores import open_stores
from tests.browser.corpus import write_corpus
from tests.live_server import running_server

CHROMIUM = Path(os.environ.get("NEWSSEARCH_CHROMIUM", "/usr/bin/chromium"))
#: Where the tests write screenshots and the render figure (kept after the run).
ARTIFACTS = Path(os.environ.get("NEWSSEARCH_UI_ARTIFACTS", "/tmp/newssearch-ui"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is a ``browser`` test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def ui_index(
    tmp_path_factory: pytest.TempPathFactory, settings_for: Any, embedder: Embedder
) -> Path:
    """The suite's index on disk (built once, read-only for the servers)."""
    from indexer.pipeline import ingest
    from tests.conftest import require_shared_data

    require_shared_data()
    corpus = write_corpus(tmp_path_factory.mktemp("ui-corpus"))
    settings: Settings = settings_for(tmp_path_factory.mktemp("ui-index") / "index")
    stores = open_stores(settings, embedder)
    try:
        report = ingest(stores, [corpus])
        assert report.skipped == 0 and report.written == report.articles, report
    finally:
        stores.close()
    return settings.index


@pytest.fixture(scope="session")
def base_url(
    ui_index: Path, subprocess_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``newssearch serve`` over the suite's index."""
    log = tmp_path_factory.mktemp("ui-server") / "server.log"
    with running_server(ui_index, subprocess_env, log) as url:
        yield url


@pytest.fixture(scope="session")
def demo_url(
    settings_for: Any,
    embedder: Embedder,
    subprocess_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """``newssearch serve`` over the bundled demo sample (data/sample, as ``scripts/demo``
    serves it): the corpus the UI's render time is measured on."""
    from indexer.pipeline import ingest
    from tests.conftest import REPO

    root = tmp_path_factory.mktemp("ui-demo")
    settings: Settings = settings_for(root / "index")
    stores = open_stores(settings, embedder)
    try:
        ingest(stores, [REPO / "data" / "sample"])
    finally:
        stores.close()
    with running_server(settings.index, subprocess_env, root / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def degraded_url(
    ui_index: Path, subprocess_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A server over a copy of the index whose lexical backend (Elasticsearch on a loopback
    port nothing listens on) does not answer: search is dense-only and says so."""
    from tests.live_server import free_port

    root = tmp_path_factory.mktemp("ui-degraded")
    index = root / "index"
    shutil.copytree(ui_index, index)
    env = {
        **subprocess_env,
        "NEWSSEARCH_LEXICAL": "elasticsearch",
        "ES_URL": f"http://127.0.0.1:{free_port()}",
    }
    with running_server(index, env, root / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def api(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client on the server: the tests' expectations come from the API itself."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh page (own context: no shared history or storage) at 1280x900; uncaught errors of
    the page's own scripts fail the test."""
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder screenshots and measurements go to."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
