"""Shared fixtures: real data subsets, one embedding model per session, real indexes on disk.

Embedding is the slow part (~26 paragraphs/s here), so the model is loaded once per session,
every test shares one on-disk embedding cache (no text is embedded twice), and the corpora are
small subsets of the real data in ../shared/data.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from indexer.embedder import Embedder, SentenceTransformerEmbedder
from indexer.settings import Settings
from indexer.stores import Stores, make_embedder, open_stores

pytest_plugins = ["tests.plugins.es_node"]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SEED = SHARED_DATA / "seed" / "bbabo-2022-putin-tokajew.de.txt"
SEED_TITLE = "Weltraum, Waffen und Proteste: Worüber Putin und Tokajew sprachen"


#: Suites that must really execute under CI: a skipped test of one fails the run.
MUST_RUN_IN_CI = ("elasticsearch", "browser", "multilingual", "native")
_skipped: dict[str, list[str]] = {marker: [] for marker in MUST_RUN_IN_CI}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember skipped tests of the must-run suites (see ``pytest_sessionfinish``)."""
    # An expected failure ran (pytest reports it as skipped with ``wasxfail``): not a skip.
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    for marker in MUST_RUN_IN_CI:
        if marker in report.keywords:
            _skipped[marker].append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped Elasticsearch, browser, multilingual or native test fails the run:
    those suites must really execute (``.ci/run`` installs Java for the node and Chromium for
    the browser; scripts/setup installs the ``multilingual`` extra with ``test`` and builds
    ``newssearch_native`` with cargo)."""
    if not os.environ.get("CI") or exitstatus != 0:
        return
    for marker, nodeids in _skipped.items():
        if nodeids:
            print(f"\nCI: {len(nodeids)} {marker} tests were skipped, failing the run:")
            for nodeid in nodeids[:20]:
                print(f"  {nodeid}")
            session.exitstatus = 1


def require_shared_data() -> None:
    """Skip (with the reason) where ../shared/data is absent; it is present here and in CI."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")


def jsonl_head(path: Path, n: int, keep: Any = None) -> list[dict[str, Any]]:
    """The first ``n`` records of a (gzipped) JSONL file that pass ``keep``."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[dict[str, Any]] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if keep is None or keep(rec):
                out.append(rec)
                if len(out) >= n:
                    break
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def es_settings(settings_for: Any, index: Path, es_url: str, **kw: Any) -> Settings:
    """Settings for an index directory on the Elasticsearch backend at ``es_url``, under an
    index prefix of its own (tests never share an Elasticsearch index)."""
    settings: Settings = settings_for(
        index, lexical="elasticsearch", es_url=es_url, es_index_prefix=f"t{uuid4().hex[:10]}", **kw
    )
    return settings


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the session (``NEWSSEARCH_TEST_EMBEDDING_CACHE`` to keep it)."""
    env = os.environ.get("NEWSSEARCH_TEST_EMBEDDING_CACHE")
    return Path(env) if env else tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (bundled MiniLM) on the default backend, loaded once."""
    return make_embedder(Settings(model_threads=2))


@pytest.fixture(scope="session")
def torch_embedder() -> SentenceTransformerEmbedder:
    """The same model as published: sentence-transformers on torch, fp32."""
    return SentenceTransformerEmbedder(threads=2)


@pytest.fixture(scope="session")
def settings_for(embedding_cache: Path) -> Any:
    """Factory: Settings for an index directory, sharing the session's embedding cache."""

    def make(index: Path, **overrides: Any) -> Settings:
        return Settings(**{"index": index, "embedding_cache": embedding_cache, **overrides})

    return make


@pytest.fixture(scope="session")
def subprocess_env(embedding_cache: Path) -> dict[str, str]:
    """Environment for ``newssearch`` subprocesses: same cache, offline model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSEARCH_")}
    env.update({"NEWSSEARCH_EMBEDDING_CACHE": str(embedding_cache), "HF_HUB_OFFLINE": "1"})
    return env


@pytest.fixture(scope="session")
def german_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed article plus small real German subsets (politics sections) as input files."""
    require_shared_data()
    root = tmp_path_factory.mktemp("corpus-de")
    (root / SEED.name).write_bytes(SEED.read_bytes())
    corpora = SHARED_DATA / "corpora"
    gnad = jsonl_head(
        corpora / "gnad10k_test.de.jsonl", 40, lambda r: r["label"] in ("Inland", "International")
    )
    write_jsonl(root / "gnad10k_subset.de.jsonl", gnad)
    zeit = jsonl_head(corpora / "zeitgeist_tagesschau_zeit.de.jsonl", 30)
    write_jsonl(root / "zeitgeist_subset.de.jsonl", zeit)
    return root


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """The seed article and four real German articles (gnad10k Inland) as input files."""
    require_shared_data()
    root = tmp_path / "in"
    root.mkdir()
    (root / SEED.name).write_bytes(SEED.read_bytes())
    recs = jsonl_head(
        SHARED_DATA / "corpora" / "gnad10k_test.de.jsonl", 4, lambda r: r["label"] == "Inland"
    )
    write_jsonl(root / "gnad.de.jsonl", recs)
    return root


def ingested_index(settings: Settings, embedder: Embedder, corpus: Path) -> Settings:
    """``corpus`` ingested into the index of ``settings`` (every record written); the stores
    closed again."""
    from indexer.pipeline import ingest

    stores = open_stores(settings, embedder)
    try:
        report = ingest(stores, [corpus])
        assert report.skipped == 0 and report.written == report.articles
    finally:
        stores.close()
    return settings


@contextmanager
def ingested_es_stores(
    settings_for: Any, index: Path, es_url: str, es: Any, embedder: Embedder, corpus: Path
) -> Iterator[Stores]:
    """Open stores over ``corpus`` ingested on the Elasticsearch node at ``es_url`` (an index
    prefix of its own); the stores are closed and the Elasticsearch index deleted after."""
    from indexer.pipeline import ingest

    settings = es_settings(settings_for, index, es_url)
    stores = open_stores(settings, embedder)
    try:
        assert ingest(stores, [corpus]).skipped == 0
        yield stores
    finally:
        stores.close()
        for name in (settings.es_index, settings.es_index + "-articles"):
            es.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="session")
def built_index(
    tmp_path_factory: pytest.TempPathFactory,
    german_corpus: Path,
    settings_for: Any,
    embedder: Embedder,
) -> Settings:
    """A real embedded index of ``german_corpus`` on disk (built once; treat as read-only)."""
    settings: Settings = settings_for(tmp_path_factory.mktemp("index") / "de")
    return ingested_index(settings, embedder, german_corpus)


@pytest.fixture
def stores(built_index: Settings, embedder: Embedder) -> Iterator[Stores]:
    """Open handles on the session index."""
    opened = open_stores(built_index, embedder)
    yield opened
    opened.close()


#: BBC politics articles whose body is copied under another id (exact duplicates) or rewritten
#: lightly (``politics/312`` retells ``politics/069``; ``politics/354`` is a longer version of
#: ``politics/077``), and zeitgeist URLs gathered on several days with the same text.
BBC_STORY_IDS = (
    *("politics/004", "politics/330", "politics/005", "politics/359", "politics/007"),
    *("politics/351", "politics/069", "politics/311", "politics/312", "politics/077"),
    "politics/354",
)


@pytest.fixture(scope="session")
def stories_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real near-duplicates: BBC copies (:data:`BBC_STORY_IDS`, undated) and 8 other BBC
    politics articles; 4 zeitgeist items each gathered on two days with the same text, kept
    as one record per day (id = url + gathered date, as an archive of daily crawls keeps
    them), and 12 other zeitgeist items. About 150 paragraphs."""
    require_shared_data()
    root = tmp_path_factory.mktemp("corpus-stories")
    corpora = SHARED_DATA / "corpora"
    bbc_copies = {r["id"]: r for r in jsonl_head(corpora / "bbc_news.en.jsonl", 3000)}
    copies = [bbc_copies[i] for i in BBC_STORY_IDS]
    others = [
        r
        for i, r in sorted(bbc_copies.items())
        if i.startswith("politics/") and i not in BBC_STORY_IDS
    ]
    texts = {r["text"].strip() for r in copies}
    singles = [r for r in others if r["text"].strip() not in texts][:8]
    write_jsonl(root / "bbc_stories.en.jsonl", [{**r, "source": "BBC"} for r in copies + singles])
    by_url: dict[str, list[dict[str, Any]]] = {}
    for rec in jsonl_head(corpora / "zeitgeist_tagesschau_zeit.de.jsonl", 5000):
        by_url.setdefault(rec["url"], []).append(rec)
    repeated: list[dict[str, Any]] = []
    single: list[dict[str, Any]] = []
    for group in by_url.values():
        days = {r["gathered_date"]: r for r in group}
        if len(days) >= 2 and len({r["content"] for r in days.values()}) == 1:
            if len(repeated) < 8:
                repeated.extend(list(days.values())[:2])
        elif len(group) == 1 and len(single) < 12 and len(group[0]["content"]) > 200:
            single.append(group[0])
    records = [{**r, "id": f"{r['url']}|{r['gathered_date']}"} for r in repeated + single]
    write_jsonl(root / "zeitgeist_daily.de.jsonl", records)
    return root


@pytest.fixture(scope="session")
def stories_index(
    tmp_path_factory: pytest.TempPathFactory,
    stories_corpus: Path,
    settings_for: Any,
    embedder: Embedder,
) -> Settings:
    """A real embedded index of ``stories_corpus`` on disk (built once; treat as read-only,
    copy it to change it)."""
    settings: Settings = settings_for(tmp_path_factory.mktemp("index") / "stories")
    return ingested_index(settings, embedder, stories_corpus)
