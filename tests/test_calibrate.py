"""``newssearch calibrate`` on a real index of a small PolitiFact-1k subset: both rules
(precision for long queries, known items kept for short ones), every encoder of the index,
and where ``--write`` stores the value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from indexer.catalog import vec_id
from indexer.embedder import Embedder
from indexer.pipeline import ingest
from indexer.settings import Settings
from indexer.stores import Stores, open_stores
from search_api.calibrate import GRID, Calibration, UnknownEncoder, calibrate
from search_api.evaluation import load_beir, plain_query
from search_api.search.calibration import meta_key, semantic_threshold
from tests.beir import tiny_beir
from tests.conftest import require_shared_data


@pytest.fixture(scope="module")
def beir_index(
    tmp_path_factory: pytest.TempPathFactory, settings_for: Any, embedder: Embedder
) -> Iterator[tuple[Path, Settings, Stores]]:
    """12 train claims, their judged articles and 20 other articles, ingested with the
    default encoders (MiniLM and the multilingual USE)."""
    require_shared_data()
    root = tmp_path_factory.mktemp("calibrate")
    dataset = tiny_beir(root / "beir", per_split=12, distractors=20)
    settings: Settings = settings_for(root / "index")
    stores = open_stores(settings, embedder)
    report = ingest(stores, [dataset / "corpus.jsonl"])
    assert report.skipped == 0 and report.written > 0
    yield dataset, settings, stores
    stores.close()


def known_item_best(stores: Stores, dataset: Path, encoder: int) -> np.ndarray:
    """Independently of calibrate: per train query, the best cosine of a paragraph of one of
    its judged articles, from the stored vectors (-inf when none is stored)."""
    space = stores.spaces[encoder]
    data = load_beir(dataset, "train")
    out = []
    for qid, text in sorted(data.queries.items()):
        judged = [doc for doc, score in data.qrels[qid].items() if score > 0]
        paragraphs = stores.catalog.paragraphs_of(judged)
        if not paragraphs:
            out.append(-np.inf)
            continue
        vectors = space.vectors.reconstruct([vec_id(p.paragraph_id) for p in paragraphs])
        query = np.asarray(space.embedder.embed_query(plain_query(text)), dtype=np.float32)
        out.append(float((vectors @ query.reshape(-1)).max()))
    return np.asarray(out)


def check_curve(result: Calibration) -> None:
    """The curve has every grid point, and what it counts only falls as the threshold rises."""
    assert [p["threshold"] for p in result.curve] == list(GRID)
    for key in ("members_per_query", "recall", "known_items"):
        values = [p[key] for p in result.curve]
        assert values == sorted(values, reverse=True), key
    assert result.threshold in GRID


@pytest.mark.parametrize("encoder", [0, 1])
def test_short_threshold_keeps_the_share_of_known_items_asked_for(
    beir_index: tuple[Path, Settings, Stores], encoder: int
) -> None:
    dataset, _, stores = beir_index
    name = stores.spaces[encoder].name
    result = calibrate(stores, dataset, short=True, recall=0.75, encoder=name)
    check_curve(result)
    assert (result.encoder, result.short, result.recall, result.queries) == (name, True, 0.75, 12)
    best = known_item_best(stores, dataset, encoder)
    kept = float(np.mean(best >= result.threshold - 1e-6))
    assert kept >= 0.75
    if result.threshold < GRID[-1]:  # the highest such threshold: one step up keeps fewer
        assert float(np.mean(best >= result.threshold + 0.01 - 1e-6)) < 0.75
    at = {p["threshold"]: p["known_items"] for p in result.curve}
    assert at[result.threshold] == pytest.approx(kept, abs=1e-3)
    # Asking to keep every known item lowers the threshold (or keeps it).
    everything = calibrate(stores, dataset, short=True, recall=1.0, encoder=name)
    assert everything.threshold <= result.threshold
    assert float(np.mean(best >= everything.threshold - 1e-6)) == 1.0 or (
        everything.threshold == GRID[0]
    )


def test_long_threshold_is_the_lowest_with_the_precision_asked_for(
    beir_index: tuple[Path, Settings, Stores],
) -> None:
    dataset, _, stores = beir_index
    result = calibrate(stores, dataset, precision=0.5)
    check_curve(result)
    assert (result.encoder, result.short, result.recall) == (stores.spaces[0].name, False, None)
    precisions = [p["precision"] for p in result.curve]
    chosen = list(GRID).index(result.threshold)
    assert precisions[chosen] >= 0.5 or chosen == len(GRID) - 1
    assert all(p < 0.5 for p in precisions[:chosen])
    # A stricter precision never lowers the threshold.
    assert calibrate(stores, dataset, precision=0.9).threshold >= result.threshold


def test_unknown_encoder_and_bad_shares_are_refused(
    beir_index: tuple[Path, Settings, Stores],
) -> None:
    dataset, _, stores = beir_index
    with pytest.raises(UnknownEncoder, match=r"no encoder 'nope'.*all-MiniLM-L6-v2"):
        calibrate(stores, dataset, encoder="nope")
    for bad in ({"precision": 0.0}, {"recall": 1.5}):
        with pytest.raises(ValueError, match="must be in"):
            calibrate(stores, dataset, **bad)


def test_cli_writes_each_encoders_threshold_where_searches_read_it(
    beir_index: tuple[Path, Settings, Stores], subprocess_env: dict[str, str]
) -> None:
    from search_api.cli import app

    dataset, settings, stores = beir_index
    extra = stores.spaces[1].name
    env = {**subprocess_env, "COLUMNS": "200"}
    base = ["calibrate", str(dataset), "--index", str(settings.index)]
    for args, encoder, short in (
        (["--write"], None, False),
        (["--short", "--encoder", extra, "--write"], extra, True),
    ):
        result = CliRunner().invoke(app, [*base, *args], env=env)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        key = meta_key(stores, encoder, short=short)
        assert summary["key"] == key and summary["written"] is True
        assert stores.catalog.get_meta(key) == str(summary["threshold"])
        assert semantic_threshold(stores, space=encoder, short=short) == summary["threshold"]
    assert meta_key(stores, extra, short=True).endswith(f"@{extra}")
    refused = CliRunner().invoke(app, [*base, "--encoder", "nope"], env=env)
    assert refused.exit_code == 2 and "no encoder 'nope'" in refused.output
