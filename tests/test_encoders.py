"""Several encoders in one index (indexer/spaces.py, search_api/search/dense.py): the default
configuration (MiniLM + the multilingual USE) on the real German corpus, written to disk and
read back; an index that refuses other extras than its own; adding and dropping an encoder;
and the fusion of N lists with per-paragraph applicability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from indexer.embedder import Embedder
from indexer.models import Hit
from indexer.pipeline import check, ingest
from indexer.spaces import ExtrasMismatch, add_space, drop_space, space_file
from indexer.stores import Stores, open_stores
from search_api.cli import app
from search_api.engine import SearchEngine
from search_api.fusion import convex, convex_many
from search_api.schemas import SearchRequest
from search_api.search.dense import union_max
from tests.conftest import SEED_TITLE

pytestmark = pytest.mark.multilingual

MINILM, USE = "all-MiniLM-L6-v2", "use-multilingual-v3"
#: The seed article's story asked for in English and in Russian (no shared words with it).
CROSS_LINGUAL = (
    "Putin and Tokayev discuss the future of Kazakhstan",
    "Путин и Токаев обсудили отношения России и Казахстана",
)


def top_titles(stores: Stores, q: str, **kw: Any) -> list[str]:
    resp = SearchEngine(stores).search(SearchRequest(q=q, **kw))
    assert resp.degraded == []
    return [r.title for r in resp.results]


def test_the_default_index_has_both_encoders_with_every_paragraph(stores: Stores) -> None:
    assert [s.name for s in stores.spaces] == [MINILM, USE]
    committed = sum(1 for _ in stores.catalog.iter_paragraph_ids())
    assert [len(s.vectors) for s in stores.spaces] == [committed, committed]
    assert [s.vectors.dim for s in stores.spaces] == [384, 512]
    assert check(stores).ok


@pytest.mark.parametrize("q", CROSS_LINGUAL)
def test_cross_lingual_queries_find_the_seed_by_meaning_with_the_defaults(
    stores: Stores, q: str
) -> None:
    """Dense mode, no parameter but the query: an English and a Russian query find the German
    seed article among the first three."""
    assert SEED_TITLE in top_titles(stores, q, mode="dense")[:3]
    assert SEED_TITLE in top_titles(stores, q)[:3]  # and in the default hybrid mode


def test_an_english_encoder_neither_ranks_nor_admits_german_paragraphs(stores: Stores) -> None:
    engine = SearchEngine(stores)
    german = engine.result_set(SearchRequest(q="Putin Tokajew Gespräche", mode="dense"))
    assert [d.name for d in german.dense_lists] == [USE]  # a German query: USE alone
    english = engine.result_set(SearchRequest(q=CROSS_LINGUAL[0], mode="dense"))
    assert [d.name for d in english.dense_lists] == [MINILM, USE]
    minilm = english.dense_lists[0]
    assert minilm.hits == [] and minilm.ids.size == 0  # every article here is German
    assert english.dense_lists[1].hits


def test_explanations_name_each_encoder(stores: Stores) -> None:
    resp = SearchEngine(stores).search(SearchRequest(q=CROSS_LINGUAL[0], explain=True, limit=3))
    passage = resp.results[0].passages[0]
    assert passage.explanation is not None
    assert [e.encoder for e in passage.explanation.encoders] == [MINILM, USE]
    explanation = resp.results[0].explanation
    assert explanation is not None and USE in explanation.fusion


def test_an_index_refuses_extras_other_than_its_own(
    built_index: Any, embedder: Embedder, settings_for: Any
) -> None:
    settings = settings_for(built_index.index, extra_models=[])
    with pytest.raises(ExtrasMismatch, match=r"reembed --drop use-multilingual-v3"):
        open_stores(settings, embedder)
    # Its own extra under another of USE's names is the same encoder: opened, not refused.
    open_stores(settings_for(built_index.index, extra_models=["usem3"]), embedder).close()


def test_adding_and_dropping_an_encoder_keeps_check_clean(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    index = tmp_path / "idx"
    stores = open_stores(settings_for(index, extra_models=[]), embedder)
    ingest(stores, [small_corpus])
    assert [s.name for s in stores.spaces] == [MINILM]
    # Alone, the English encoder still ranks the German articles (no other encoder reads them).
    assert SEED_TITLE in top_titles(stores, "Putin Tokajew Gespräche", mode="dense")[:3]
    stores.close()
    result = CliRunner().invoke(
        app, ["reembed", "--add", USE, "--index", str(index)], env=_env(settings_for, index)
    )
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout)["added"][USE]
    stores = open_stores(settings_for(index), embedder)  # follows what the index records
    assert [s.name for s in stores.spaces] == [MINILM, USE]
    assert added["paragraphs"] == len(stores.spaces[1].vectors) > 0
    assert check(stores).ok
    assert SEED_TITLE in top_titles(stores, CROSS_LINGUAL[1], mode="dense")[:3]
    stores.close()
    result = CliRunner().invoke(  # the primary cannot become an encoder the index has as extra
        app, ["reembed", "--model", USE, "--index", str(index)], env=_env(settings_for, index)
    )
    assert result.exit_code == 2 and "drop it first" in result.output
    result = CliRunner().invoke(
        app, ["reembed", "--drop", USE, "--index", str(index)], env=_env(settings_for, index)
    )
    assert result.exit_code == 0, result.output
    assert not space_file(index, USE).exists()
    stores = open_stores(settings_for(index), embedder)
    assert [s.name for s in stores.spaces] == [MINILM] and check(stores).ok
    assert not drop_space(stores.catalog, index, USE)  # nothing left to drop
    with pytest.raises(ValueError, match="already has"):
        add_space(stores.catalog, index, MINILM, stores.embedder)
    stores.close()


def test_an_encoder_that_cannot_be_loaded_is_an_error_and_leaves_the_index_as_it_was(
    tmp_path: Path, small_corpus: Path, settings_for: Any, embedder: Embedder
) -> None:
    index = tmp_path / "idx"
    stores = open_stores(settings_for(index), embedder)
    ingest(stores, [small_corpus])
    stores.close()
    env = {**_env(settings_for, index), "HF_HUB_OFFLINE": "1"}
    result = CliRunner().invoke(
        app, ["reembed", "--add", "no-such-model", "--index", str(index)], env=env
    )
    assert result.exit_code == 2 and "cannot load the encoder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    stores = open_stores(settings_for(index), embedder)
    assert [s.name for s in stores.spaces] == [MINILM, USE] and check(stores).ok
    stores.close()


def test_reembed_without_an_action_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["reembed", "--index", str(tmp_path)])
    assert result.exit_code == 2 and "--add" in result.output


def _env(settings_for: Any, index: Path) -> dict[str, str]:
    cache = settings_for(index).embedding_cache
    return {"NEWSSEARCH_EMBEDDING_CACHE": str(cache), "COLUMNS": "200"}


# -- fusion of N lists ---------------------------------------------------------------------
def hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(p, s) for p, s in pairs]


def test_convex_many_reduces_to_convex_for_two_lists() -> None:
    lex = hits(("a", 3.0), ("b", 2.0), ("c", 1.0))
    den = hits(("b", 0.9), ("d", 0.5), ("a", 0.2))
    for method in ("minmax", "zscore"):
        two = convex(lex, den, alpha=0.3, method=method)
        many = convex_many([lex, den], [0.3, 0.7], method=method)
        assert [h.paragraph_id for h in two] == [h.paragraph_id for h in many]
        assert np.allclose([h.score for h in two], [h.score for h in many])


def test_a_list_that_does_not_apply_neither_helps_nor_penalises() -> None:
    lex = hits(("en", 2.0), ("de", 2.0), ("x", 0.0))
    english_only = hits(("en", 0.9), ("x", 0.1))  # an English encoder: it never sees "de"
    fused = convex_many(
        [lex, english_only], [0.5, 0.5], method="minmax", applies=[None, lambda p: p != "de"]
    )
    scores = {h.paragraph_id: h.score for h in fused}
    assert scores["de"] == pytest.approx(1.0)  # its BM25 alone, not BM25 + the list's floor
    assert scores["en"] == pytest.approx(1.0)
    # Without the predicate the English list's floor drags the German paragraph down.
    plain = {h.paragraph_id: h.score for h in convex_many([lex, english_only], [0.5, 0.5])}
    assert plain["de"] == pytest.approx(0.5)
    # Grouped: BM25 keeps its weight and the dense weight goes to the encoders that apply.
    multilingual = hits(("de", 0.8), ("en", 0.4), ("x", 0.0))
    grouped = convex_many(
        [lex, english_only, multilingual],
        [0.3, 0.6, 0.1],
        method="minmax",
        applies=[None, lambda p: p != "de", None],
        groups=["bm25", "dense", "dense"],
    )
    got = {h.paragraph_id: h.score for h in grouped}
    assert got["de"] == pytest.approx(0.3 * 1.0 + 0.7 * 1.0)  # USE carries all of 0.7
    assert got["en"] == pytest.approx(0.3 * 1.0 + 0.6 * 1.0 + 0.1 * 0.5)
    with pytest.raises(ValueError):
        convex_many([lex], [0.5], groups=["a", "b"])
    with pytest.raises(ValueError):
        convex_many([lex], [0.5, 0.5])
    with pytest.raises(ValueError):
        convex_many([lex], [-1.0])


def test_union_keeps_each_paragraph_once_with_its_best_similarity() -> None:
    ids, sims = union_max(
        [np.array([3, 1], np.int64), np.array([1, 2], np.int64)],
        [np.array([0.5, 0.4], np.float32), np.array([0.7, 0.6], np.float32)],
    )
    assert dict(zip(ids.tolist(), sims.tolist(), strict=True)) == pytest.approx(
        {1: 0.7, 2: 0.6, 3: 0.5}
    )
