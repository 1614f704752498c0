"""Text analysis of the lexical backends: tantivy's analysers, one per analyser language.

Every lexical backend indexes and queries the tokens these analysers give, so a word matches
the same paragraphs on each: the embedded backend registers them with its tantivy index;
Elasticsearch receives their tokens already analysed (:mod:`indexer.lexical.elasticsearch`).

Contracts:

- :func:`analyzer` of an analyser key (:func:`~indexer.lexical.base.analyzer_language`:
  ``de``, ``en``, ``ru`` or ``std``): tantivy's simple tokenizer (a token is a maximal run of
  alphanumeric characters), tokens of ``MAX_TOKEN_CHARS`` UTF-8 bytes or more dropped (their
  position left empty), lowercase, and for German, English and Russian the Snowball stemmer
  of :data:`indexer.languages.SNOWBALL`. No stop-word removal: phrases match exactly.
- :func:`clauses` of a query leaf: per analyser language the tokens it must match, at their
  positions relative to the first (a plain query's stop word skipped in the languages where it
  is one). One token is a term; several a phrase at those positions.
- :func:`highlight_spans`: the character spans of a text's tokens that match a positive
  ``text`` leaf of a query, a phrase only where its tokens stand at their relative positions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tantivy

from indexer.languages import SNOWBALL, STEMMED_LANGUAGES
from indexer.lexical.base import analyzer_language
from indexer.models import Paragraph
from indexer.query import SEARCH_FIELDS, Bool, Node, Phrase, Term

ANALYZER_LANGS = (*STEMMED_LANGUAGES, "std")
#: Tokens of this many UTF-8 *bytes* or more are dropped (tantivy's ``remove_long`` counts
#: bytes: 39 ASCII letters are kept, 20 Cyrillic ones are not), a guard against junk tokens.
MAX_TOKEN_CHARS = 40

#: A token pattern: ``(position relative to the first token, token text)`` per token.
Pattern = list[tuple[int, str]]


def build_analyzer(lang: str) -> tantivy.TextAnalyzer:
    """A new analyser for the analyser key ``lang`` (see the module docstring)."""
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
    )
    if lang in SNOWBALL:
        builder = builder.filter(tantivy.Filter.stemmer(SNOWBALL[lang]))
    return builder.build()


@functools.cache
def analyzer(lang: str) -> tantivy.TextAnalyzer:
    """The shared analyser of the analyser key ``lang``."""
    return build_analyzer(lang)


def tokens(text: str, lang: str) -> list[Any]:
    """``text`` analysed by ``lang``'s analyser: tantivy tokens (``text``, ``position``,
    ``char_offset_from``, ``char_offset_to``) in order."""
    return list(analyzer(lang).pre_tokenize(text).tokens)


def words_of(text: str) -> list[str]:
    """The distinct tokens of ``text`` before stemming, in order: the simple tokenizer's
    alphanumeric runs, long ones dropped, lowercased (``COVID-19`` -> ``covid``, ``19``). Each
    analyses alone to what it is inside ``text`` in every analyser language."""
    return list(dict.fromkeys(t.text for t in tokens(text, "std")))


def leaf_text(leaf: Term | Phrase) -> str:
    """The text a leaf's analysis starts from (a phrase's words joined by spaces)."""
    return leaf.text if isinstance(leaf, Term) else " ".join(leaf.words)


def check_leaf(leaf: object) -> None:
    """Raise ``ValueError`` unless ``leaf`` is a Term or Phrase on a searchable field."""
    if not isinstance(leaf, Term | Phrase) or leaf.field not in SEARCH_FIELDS:
        raise ValueError(f"a leaf must be a Term or Phrase on {SEARCH_FIELDS}, not {leaf!r}")


def clauses(leaf: Term | Phrase) -> list[tuple[str, Pattern]]:
    """The per-field clauses a leaf is OR-ed from: ``(field, pattern)`` per analyser language
    whose analysis of the leaf is not empty (a plain query's stop word skipped in the
    languages where it is one); the pattern's positions keep the gaps dropped long tokens
    leave, as indexed."""
    text = leaf_text(leaf)
    skip = leaf.stop_in if isinstance(leaf, Term) else ()
    out = []
    for lang in ANALYZER_LANGS:
        if lang in skip:
            continue
        found = tokens(text, lang)
        if found:
            first = found[0].position
            out.append((f"{leaf.field}_{lang}", [(t.position - first, t.text) for t in found]))
    return out


def positive_text_leaves(node: Node) -> list[Term | Phrase]:
    """The leaves on field ``text`` outside any ``must_not``: what highlighting marks."""
    if isinstance(node, Term | Phrase):
        return [node] if node.field == "text" else []
    assert isinstance(node, Bool)
    return [leaf for part in (*node.must, *node.should) for leaf in positive_text_leaves(part)]


def patterns(node: Node, lang: str) -> list[Pattern]:
    """Per positive ``text`` leaf of ``node``, its analysed tokens in ``lang`` as a pattern
    (leaves skipped in ``lang``, as in the query, and leaves analysing to nothing left out)."""
    out = []
    for leaf in positive_text_leaves(node):
        if isinstance(leaf, Term) and lang in leaf.stop_in:
            continue  # skipped in this language, as in the query
        found = tokens(leaf_text(leaf), lang)
        if found:
            first = found[0].position
            out.append([(t.position - first, t.text) for t in found])
    return out


def marked(found: Sequence[Any], pats: list[Pattern]) -> list[tuple[int, int]]:
    """Character spans of the tokens ``found`` that match a pattern: a single token anywhere,
    several only where each stands at its relative position from the first (a phrase)."""
    at = {t.position: t for t in found}
    by_text: dict[str, list[Any]] = {}
    for t in found:
        by_text.setdefault(t.text, []).append(t)
    hit: set[int] = set()
    for pattern in pats:
        for t in by_text.get(pattern[0][1], ()):
            spots = [(t.position + rel, text) for rel, text in pattern]
            if all(pos in at and at[pos].text == text for pos, text in spots):
                hit.update(pos for pos, _ in spots)
    return [(at[p].char_offset_from, at[p].char_offset_to) for p in sorted(hit)]


def highlight_spans(text: str, lang: str, pats: list[Pattern]) -> list[tuple[int, int]]:
    """Character spans in ``text`` (analysed in ``lang``) of the tokens matching ``pats``
    (:func:`patterns` of the query in ``lang``), in text order."""
    return marked(tokens(text, lang), pats)


def highlight_paragraphs(
    query: Node, paragraphs: Mapping[str, Paragraph]
) -> dict[str, list[tuple[int, int]]]:
    """Per paragraph id, the spans of :func:`highlight_spans` for ``query``'s positive
    ``text`` leaves in that paragraph's text, analysed in its language."""
    pats: dict[str, list[Pattern]] = {}
    out: dict[str, list[tuple[int, int]]] = {}
    for pid, p in paragraphs.items():
        lang = analyzer_language(p.language)
        if lang not in pats:
            pats[lang] = patterns(query, lang)
        out[pid] = highlight_spans(p.text, lang, pats[lang]) if pats[lang] else []
    return out


def highlight_with_fetch(
    query: Node,
    paragraph_ids: Sequence[str],
    known: Mapping[str, Paragraph] | None,
    fetch: Callable[[Sequence[str]], Mapping[str, Paragraph]],
) -> dict[str, list[tuple[int, int]]]:
    """A backend's ``highlight``: :func:`highlight_paragraphs` of ``paragraph_ids``, read from
    ``known`` where it holds them and from ``fetch`` (the backend's) otherwise; ``[]`` for an
    id neither has."""
    given = {pid: known[pid] for pid in paragraph_ids if known and pid in known}
    missing = [pid for pid in paragraph_ids if pid not in given]
    out = highlight_paragraphs(query, {**given, **(fetch(missing) if missing else {})})
    return {pid: out.get(pid, []) for pid in paragraph_ids}


def token_stream(pairs: Sequence[tuple[int, str]], gap: str) -> str:
    """``(position, token)`` pairs in ascending position as one string: each token at its
    position, ``gap`` at every position none holds (from 0), joined by spaces. A token never
    holds a space (it is alphanumeric), so splitting on spaces and dropping ``gap`` gives the
    same tokens at the same positions."""
    out: list[str] = []
    for position, text in pairs:
        out.extend([gap] * (position - len(out)))
        out.append(text)
    return " ".join(out)


def positions(text: str, lang: str) -> list[tuple[int, str]]:
    """``text`` analysed in ``lang`` as ``(position, token)`` pairs."""
    return [(t.position, t.text) for t in tokens(text, lang)]
