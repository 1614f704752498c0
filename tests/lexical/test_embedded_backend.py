"""The embedded (tantivy) backend against the shared lexical contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy

from indexer.catalog import vec_id
from indexer.lexical.base import LexicalIndexOutdated
from indexer.lexical.embedded import SCHEMA_VERSION, VERSION_FILE, EmbeddedBackend
from indexer.models import Filters
from indexer.query import Term, parse_query
from tests.contract.lexical_contract import CORPUS, Factory, LexicalBackendContract, para
from tests.native import NATIVE


class TestEmbeddedContract(LexicalBackendContract):
    """The contract with word matches listed by tantivy-py and by ``newssearch_native``."""

    @pytest.fixture(params=NATIVE)
    def make_backend(self, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Factory]:
        opened: list[EmbeddedBackend] = []
        native: bool = request.param

        def factory() -> EmbeddedBackend:
            b = EmbeddedBackend(tmp_path / "lexical", native=native)
            assert b.native == native
            opened.append(b)
            return b

        yield factory
        for b in opened:
            b.close()


def test_search_vec_ids_reads_the_fast_field(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "lexical")
    backend.upsert(CORPUS)
    backend.commit()
    root = parse_query("talks Putin budget").root
    assert root is not None
    hits = backend.search(root, Filters(), 10)
    pairs = backend.search_vec_ids(root, Filters(), 10)
    assert pairs is not None and len(pairs) == len(hits) > 3
    by_vec = {vec_id(h.paragraph_id): h.score for h in hits}
    assert {i: s for i, s in pairs} == pytest.approx(by_vec)
    assert [s for _, s in pairs] == sorted((s for _, s in pairs), reverse=True)
    # Reopened from disk: same answer.
    backend.close()
    again = EmbeddedBackend(tmp_path / "lexical")
    assert again.search_vec_ids(root, Filters(), 10) == pairs


def _legacy_index(path: Path) -> None:
    """An index in the schema of the first release: no ``vec_id`` column, no stop words."""
    sb = tantivy.SchemaBuilder()
    for key in ("paragraph_id", "article_id", "source", "language", "section", "authors"):
        sb.add_text_field(key, stored=True, tokenizer_name="raw", index_option="basic")
    for lang in ("de", "en", "ru", "std"):
        sb.add_text_field(f"text_{lang}", stored=True, tokenizer_name="en_stem")
        sb.add_text_field(f"title_{lang}", stored=True, tokenizer_name="en_stem")
    sb.add_date_field("published_at", stored=True, indexed=True, fast=True)
    for key in ("position", "start", "end"):
        sb.add_integer_field(key, stored=True)
    path.mkdir(parents=True)
    index = tantivy.Index(sb.build(), path=str(path))
    writer = index.writer(15_000_000, 1)
    doc = tantivy.Document()
    doc.add_text("paragraph_id", "old:0")
    doc.add_text("article_id", "old")
    doc.add_text("language", "en")
    doc.add_text("text_en", "The war of the worlds began at night.")
    doc.add_text("title_en", "Radio")
    for key in ("position", "start", "end"):
        doc.add_integer(key, 0)
    writer.add_document(doc)
    writer.commit()
    writer.wait_merging_threads()


def _previous_release_index(path: Path) -> None:
    """An index as the previous release left it on disk: this tantivy schema (``vec_id``
    included) and no version file (its analysers dropped stop words; the text is immaterial)."""
    backend = EmbeddedBackend(path)
    backend.upsert([para("old:0", "The war of the worlds began at night.")])
    backend.commit()
    backend.close()
    (path / VERSION_FILE).unlink()


def _assert_outdated(backend: EmbeddedBackend) -> None:
    root = parse_query("war").root
    assert root is not None
    advice = r"newssearch repair --lexical"
    for call in (
        lambda: backend.search(root, Filters(), 10),
        lambda: backend.search_vec_ids(root, Filters(), 10),
        lambda: backend.matching_vec_ids([Term("war")]),
        lambda: backend.highlight(root, ["old:0"]),
        lambda: backend.upsert([para("new:0", "Worlds at war again.")]),
    ):
        with pytest.raises(LexicalIndexOutdated, match=advice):
            call()


@pytest.mark.parametrize("make_old", [_legacy_index, _previous_release_index])
def test_an_old_index_refuses_to_answer_until_rebuilt(tmp_path: Path, make_old: object) -> None:
    path = tmp_path / "lexical"
    make_old(path)  # type: ignore[operator]
    backend = EmbeddedBackend(path)
    assert backend.outdated is not None and "older NewsSearch" in backend.outdated
    _assert_outdated(backend)
    # What check / repair need still works: counting, listing, fetching, deleting.
    assert backend.count() == 1
    assert list(backend.paragraph_ids()) == ["old:0"]
    assert set(backend.fetch(["old:0"])) == {"old:0"}
    # reset (the start of `newssearch repair --lexical`) turns it into a current index.
    backend.reset()
    assert backend.outdated is None and backend.count() == 0
    backend.upsert([para("new:0", "Worlds at war again.")])
    backend.commit()
    backend.close()
    again = EmbeddedBackend(path)
    assert again.outdated is None
    assert json.loads((path / VERSION_FILE).read_text())["schema"] == SCHEMA_VERSION
    war = parse_query("war").root
    assert war is not None
    assert again.search_vec_ids(war, Filters(), 10) == [
        (vec_id("new:0"), pytest.approx(again.search(war, Filters(), 10)[0].score))
    ]


def test_an_index_from_a_newer_version_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "lexical"
    EmbeddedBackend(path).close()
    (path / VERSION_FILE).write_text(json.dumps({"schema": SCHEMA_VERSION + 1}))
    backend = EmbeddedBackend(path)
    assert backend.outdated is not None and "newer" in backend.outdated
    with pytest.raises(LexicalIndexOutdated, match="repair --lexical"):
        backend.search(Term("war"), Filters(), 10)


def test_a_serving_process_picks_up_the_rebuilt_index_on_refresh(tmp_path: Path) -> None:
    path = tmp_path / "lexical"
    _previous_release_index(path)
    serving = EmbeddedBackend(path)
    assert serving.outdated is not None
    serving.refresh()  # nothing changed: still outdated
    assert serving.outdated is not None
    repairing = EmbeddedBackend(path)
    repairing.reset()
    repairing.upsert([para("new:0", "Worlds at war again.")])
    repairing.commit()
    serving.refresh()
    assert serving.outdated is None
    assert [h.paragraph_id for h in serving.search(Term("war"), Filters(), 10)] == ["new:0"]


def test_a_new_index_records_its_version(tmp_path: Path) -> None:
    path = tmp_path / "lexical"
    EmbeddedBackend(path).close()
    assert json.loads((path / VERSION_FILE).read_text())["schema"] == SCHEMA_VERSION
    assert EmbeddedBackend(path).outdated is None


def test_index_keeps_stop_words_and_stems(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "lexical")
    tokens = {lang: backend._analyzers[lang].analyze("Die Gespräche nur") for lang in ("de", "std")}
    assert tokens == {"de": ["die", "gesprach", "nur"], "std": ["die", "gespräche", "nur"]}
    assert backend._analyzers["en"].analyze("The running dogs") == ["the", "run", "dog"]
