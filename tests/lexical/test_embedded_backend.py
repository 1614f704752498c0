"""The embedded (tantivy) backend against the shared lexical contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy

from indexer.catalog import vec_id
from indexer.lexical.embedded import EmbeddedBackend
from indexer.models import Filters
from indexer.query import parse_query
from tests.contract.lexical_contract import CORPUS, Factory, LexicalBackendContract, para


class TestEmbeddedContract(LexicalBackendContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Iterator[Factory]:
        opened: list[EmbeddedBackend] = []

        def factory() -> EmbeddedBackend:
            b = EmbeddedBackend(tmp_path / "lexical")
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


def test_index_without_vec_id_column_still_opens_and_answers(tmp_path: Path) -> None:
    _legacy_index(tmp_path / "lexical")
    backend = EmbeddedBackend(tmp_path / "lexical")
    assert not backend.has_vec_ids
    root = parse_query('"war of the worlds"').root
    assert root is not None
    assert backend.search_vec_ids(root, Filters(), 10) is None
    assert [h.paragraph_id for h in backend.search(root, Filters(), 10)] == ["old:0"]
    # Writes keep working in the old schema.
    backend.upsert([para("new:0", "Worlds at war again.")])
    backend.commit()
    war = parse_query("war").root
    assert war is not None
    assert {h.paragraph_id for h in backend.search(war, Filters(), 10)} == {"old:0", "new:0"}


def test_reset_turns_an_old_index_into_the_current_schema(tmp_path: Path) -> None:
    _legacy_index(tmp_path / "lexical")
    backend = EmbeddedBackend(tmp_path / "lexical")
    assert not backend.has_vec_ids
    backend.reset()
    backend.upsert([para("new:0", "Worlds at war again.")])
    backend.commit()
    backend.close()
    again = EmbeddedBackend(tmp_path / "lexical")
    assert again.has_vec_ids
    war = parse_query("war").root
    assert war is not None
    assert again.search_vec_ids(war, Filters(), 10) == [
        (vec_id("new:0"), pytest.approx(again.search(war, Filters(), 10)[0].score))
    ]
