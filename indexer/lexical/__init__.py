"""Lexical (BM25) backends behind one Protocol."""

from indexer.lexical.base import (
    STEMMED_LANGUAGES,
    LexicalBackend,
    LexicalIndexOutdated,
    analyzer_language,
)

__all__ = ["STEMMED_LANGUAGES", "LexicalBackend", "LexicalIndexOutdated", "analyzer_language"]
