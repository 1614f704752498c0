"""The embedded (tantivy) backend against the shared lexical contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.lexical.embedded import EmbeddedBackend
from tests.contract.lexical_contract import Factory, LexicalBackendContract


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
